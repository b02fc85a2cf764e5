/*
 * One worker pool: n threads take jobs from one queue, in the order they
 * were submitted, and run them; a job may submit more jobs. The first
 * error (a job that returns -1, or a worker whose setup fails) is kept;
 * unless the pool keeps going, it cancels the pool: the jobs still queued
 * are dropped, the running ones finish, and pool_wait returns.
 *
 * For the common case, pool_run runs fn over items 0..n-1 and stops at
 * the first error:
 *
 *   static int hash_one(void *arg, size_t i, void *worker, struct edge_err *err);
 *   if (pool_run(jobs, hash_one, files, nfiles, NULL, err) != 0) ...
 *
 * Shared data a job touches stays the caller's to lock; the pool's lock
 * is never held while a job, a setup or a cleanup runs, so a job may hold
 * the caller's lock while it calls pool_submit.
 */
#ifndef EDGE_POOL_H
#define EDGE_POOL_H

#include <stddef.h>

#include "err.h"

/* A job: item idx of arg, run by a worker whose state is worker (NULL
 * without pool_opts.worker_init). Returns 0, or -1 with err set. */
typedef int (*pool_fn)(void *arg, size_t idx, void *worker, struct edge_err *err);

/* At most cap jobs of a gate run at once (a per-host transfer cap, say):
 * a job whose gate is full waits, and the jobs behind it that can run go
 * first. busy belongs to the pool while it runs. */
struct pool_gate {
	int busy, cap;
};

struct pool_opts {
	int keep_going; /* a failed job is recorded, the rest still run */
	/* Each worker's state, made in its thread before its first job and
	 * freed after its last (an HTTP client, a zstd context). A failed
	 * setup cancels the pool, keep_going or not. */
	int (*worker_init)(void *ctx, void **worker, struct edge_err *err);
	void (*worker_fini)(void *ctx, void *worker);
	void *ctx;
};

struct pool;

/* Starts nthreads workers (at least 1). Fewer may start when the system
 * refuses threads; none is an error (EDGE_EIO). o may be NULL: stop at the
 * first error, no worker state. Free it with pool_free. */
struct pool *pool_new(int nthreads, const struct pool_opts *o, struct edge_err *err);

/* How many workers started (pool_new may start fewer than asked): a
 * caller whose jobs wait for each other needs them all running. */
int pool_threads(const struct pool *p);

/* Queues fn(arg, idx) under gate (NULL: none). Returns -1 (and drops the
 * job) when the pool was cancelled. */
int pool_submit(struct pool *p, pool_fn fn, void *arg, size_t idx, struct pool_gate *gate);

/* Drops the queued jobs; the running ones finish. err (may be NULL) is
 * kept if it is the first error. */
void pool_cancel(struct pool *p, const struct edge_err *err);

/* Waits until no job is queued nor running. Returns 0, or -1 with the
 * first error in err (a job's, or a worker setup's). */
int pool_wait(struct pool *p, struct edge_err *err);

/* 1 when the pool was cancelled (a first error without keep_going, a
 * failed worker setup, or pool_cancel). */
int pool_cancelled(struct pool *p);

/* Waits for the running jobs, drops the queued ones, joins the threads and
 * frees the pool. p may be NULL. */
void pool_free(struct pool *p);

/* fn over items 0..nitems-1 of arg with up to n threads (never more than
 * items); o as for pool_new (NULL: stop at the first error). Returns 0, or
 * -1 with the first error. With no items, no thread starts. */
int pool_run(int n, pool_fn fn, void *arg, size_t nitems, const struct pool_opts *o, struct edge_err *err);

#endif
