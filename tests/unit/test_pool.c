/* Unit tests for the worker pool (common/pool.c): every item once, order
 * of taking, first-error capture and cancel, keep-going, jobs that submit
 * jobs, gates, worker setup and its failure, many threads. Run under
 * ThreadSanitizer by make test SANITIZE=thread. TAP output. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "tap.h"


static void nap_ms(long ms)
{
	struct timespec ts = {0, ms * 1000 * 1000};

	nanosleep(&ts, NULL);
}

#define N 5000

struct work {
	pthread_mutex_t mu;
	int seen[N];
	size_t order[N], norder;
	int fail_at;        /* -1: none */
	int running, max_running;
	struct pool *p;
	struct pool_gate gate;
	size_t ran;
};

static int count(void *arg, size_t i, void *w, struct edge_err *err)
{
	struct work *k = arg;

	(void)w;
	pthread_mutex_lock(&k->mu);
	k->seen[i]++;
	k->order[k->norder++] = i;
	k->ran++;
	pthread_mutex_unlock(&k->mu);
	if ((int)i == k->fail_at)
		return edge_errf(err, EDGE_EREMOTE, "item %zu failed", i);
	return 0;
}

static void work_init(struct work *k)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->mu, NULL);
	k->fail_at = -1;
}

static int all_once(const struct work *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (k->seen[i] != 1)
			return 0;
	return 1;
}

static void test_run(void)
{
	static struct work k;
	struct edge_err e = {0};
	size_t i;
	int inorder = 1, rc;

	work_init(&k);
	rc = pool_run(8, count, &k, N, NULL, &e);
	okf(rc == 0 && e.code == 0 && all_once(&k, N), "pool_run, 8 threads: every item once");
	work_init(&k);
	rc = pool_run(1, count, &k, N, NULL, &e);
	for (i = 0; i < N; i++)
		if (k.order[i] != i)
			inorder = 0;
	okf(rc == 0 && inorder, "one thread takes the items in order");
	okf(pool_run(4, count, &k, 0, NULL, &e) == 0, "no items: nothing to do");
}

static int slow_count(void *arg, size_t i, void *w, struct edge_err *err)
{
	if (i < 4)
		nap_ms(5);
	return count(arg, i, w, err);
}

static void test_first_error(void)
{
	static struct work k;
	struct edge_err e = {0};
	struct pool_opts o = {0};
	int rc;

	work_init(&k);
	k.fail_at = 10;
	rc = pool_run(4, slow_count, &k, N, NULL, &e);
	okf(rc == -1 && e.code == EDGE_EREMOTE && strcmp(e.msg, "item 10 failed") == 0,
	   "the first error comes back with its class and message");
	okf(k.ran < N, "the first error cancels what is still queued");
	work_init(&k);
	k.fail_at = 10;
	o.keep_going = 1;
	rc = pool_run(4, count, &k, N, &o, &e);
	okf(rc == -1 && strcmp(e.msg, "item 10 failed") == 0 && all_once(&k, N),
	   "keep_going: every item runs, the first error still comes back");
}

static int fail_all(void *arg, size_t i, void *w, struct edge_err *err)
{
	(void)arg;
	(void)w;
	return edge_errf(err, i == 0 ? EDGE_EAUTH : EDGE_EIO, "item %zu failed", i);
}

static int spawn(void *arg, size_t i, void *w, struct edge_err *err)
{
	struct work *k = arg;

	if (i < N / 2 && pool_submit(k->p, spawn, k, i + N / 2, NULL) != 0)
		return edge_errf(err, EDGE_EIO, "submit");
	return count(arg, i, w, err);
}

static void test_submit_from_job(void)
{
	static struct work k;
	struct edge_err e = {0};
	size_t i;
	int rc;

	work_init(&k);
	k.p = pool_new(6, NULL, &e);
	for (i = 0; i < N / 2; i++)
		pool_submit(k.p, spawn, &k, i, NULL);
	rc = pool_wait(k.p, &e);
	okf(rc == 0 && all_once(&k, N), "jobs that submit jobs: pool_wait waits for them all");
	okf(pool_cancelled(k.p) == 0, "not cancelled");
	pool_cancel(k.p, NULL);
	okf(pool_cancelled(k.p) == 1 && pool_submit(k.p, count, &k, 0, NULL) == -1, "a cancelled pool takes no job");
	pool_free(k.p);

	rc = pool_run(1, fail_all, NULL, 5, NULL, &e);
	okf(rc == -1 && e.code == EDGE_EAUTH && strcmp(e.msg, "item 0 failed") == 0,
	   "one thread: the first error is the first item's");
}

static int gated(void *arg, size_t i, void *w, struct edge_err *err)
{
	struct work *k = arg;

	(void)w;
	(void)err;
	pthread_mutex_lock(&k->mu);
	k->seen[i]++;
	if (i % 2 == 0) {
		k->running++;
		if (k->running > k->max_running)
			k->max_running = k->running;
	}
	pthread_mutex_unlock(&k->mu);
	nap_ms(1);
	pthread_mutex_lock(&k->mu);
	if (i % 2 == 0)
		k->running--;
	pthread_mutex_unlock(&k->mu);
	return 0;
}

static void test_gate(void)
{
	static struct work k;
	struct edge_err e = {0};
	struct pool *p;
	size_t i;
	int rc;

	work_init(&k);
	k.gate.cap = 2;
	p = pool_new(8, NULL, &e);
	for (i = 0; i < 200; i++)
		pool_submit(p, gated, &k, i, i % 2 == 0 ? &k.gate : NULL);
	rc = pool_wait(p, &e);
	pool_free(p);
	okf(rc == 0 && all_once(&k, 200) && k.max_running <= 2 && k.max_running >= 1 && k.gate.busy == 0,
	   "a gate of 2: at most two of its jobs at once, the others pass it");
}

struct setup {
	pthread_mutex_t mu;
	int made, freed, fail;
};

static int w_init(void *ctx, void **w, struct edge_err *err)
{
	struct setup *s = ctx;
	int n;

	pthread_mutex_lock(&s->mu);
	n = ++s->made;
	pthread_mutex_unlock(&s->mu);
	if (s->fail && n == 2)
		return edge_errf(err, EDGE_EIO, "no client");
	*w = malloc(sizeof(int));
	*(int *)*w = n;
	return 0;
}

static void w_fini(void *ctx, void *w)
{
	struct setup *s = ctx;

	pthread_mutex_lock(&s->mu);
	s->freed++;
	pthread_mutex_unlock(&s->mu);
	free(w);
}

static int uses_worker(void *arg, size_t i, void *w, struct edge_err *err)
{
	if (w == NULL || *(int *)w < 1)
		return edge_errf(err, EDGE_EIO, "item %zu: no worker state", i);
	nap_ms(1);
	return count(arg, i, w, err);
}

static void test_worker_state(void)
{
	static struct work k;
	struct setup s;
	struct pool_opts o = {0};
	struct edge_err e = {0};
	int rc;

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.mu, NULL);
	o.worker_init = w_init;
	o.worker_fini = w_fini;
	o.ctx = &s;
	work_init(&k);
	rc = pool_run(4, uses_worker, &k, 100, &o, &e);
	okf(rc == 0 && all_once(&k, 100) && s.made == 4 && s.freed == 4, "each worker has its state, made and freed once");
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.mu, NULL);
	s.fail = 1;
	o.keep_going = 1;
	work_init(&k);
	rc = pool_run(4, uses_worker, &k, 1000, &o, &e);
	okf(rc == -1 && strcmp(e.msg, "no client") == 0 && k.ran < 1000 && s.freed == 3,
	   "a failed worker setup cancels the pool, even with keep_going");
}

static void test_many_threads(void)
{
	static struct work k;
	struct edge_err e = {0};
	int rc;

	work_init(&k);
	rc = pool_run(64, count, &k, N, NULL, &e);
	okf(rc == 0 && all_once(&k, N), "64 threads: every item once");
	work_init(&k);
	rc = pool_run(64, count, &k, 3, NULL, &e);
	okf(rc == 0 && all_once(&k, 3) && k.ran == 3, "more threads than items");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	plan(15);
	test_run();
	test_first_error();
	test_submit_from_job();
	test_gate();
	test_worker_state();
	test_many_threads();
	return done_testing();
}
