/*
 * The worker pool (pool.h). The queue is a growable array, not the bounded
 * ring: a job may submit jobs from a worker, and a bounded queue would then
 * deadlock once every worker waits to submit. It is taken from its head;
 * only a job behind a full gate makes a worker look further.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "pool.h"

struct pool_job {
	pool_fn fn;
	void *arg;
	size_t idx;
	struct pool_gate *gate;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work, idle; /* a job to take or stop; a job finished */
	struct pool_job *q;
	size_t head, len, cap;     /* queued jobs: q[head .. head+len) */
	int running;               /* jobs being run */
	int starting;              /* workers not yet through their setup */
	int cancelled, stop;
	struct edge_err first;
	struct pool_opts o;
	pthread_t *th;
	int nthreads;
};

static void record(struct pool *p, const struct edge_err *e, int cancel)
{
	if (e != NULL && p->first.code == 0) {
		p->first = *e;
		if (p->first.code == 0)
			p->first.code = EDGE_EIO;
	}
	if (cancel) {
		p->cancelled = 1;
		p->len = 0;
		p->head = 0;
	}
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->idle);
}

/* The first queued job whose gate has room, taken off the queue (p->mu
 * held); 0 when none. */
static int take(struct pool *p, struct pool_job *out)
{
	size_t i;

	for (i = 0; i < p->len; i++) {
		struct pool_job *j = &p->q[p->head + i];
		if (j->gate != NULL && j->gate->cap > 0 && j->gate->busy >= j->gate->cap)
			continue;
		*out = *j;
		if (i == 0) {
			p->head++;
		} else {
			memmove(j, j + 1, (p->len - i - 1) * sizeof(*j));
		}
		p->len--;
		if (p->len == 0)
			p->head = 0;
		if (out->gate != NULL)
			out->gate->busy++;
		return 1;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	void *w = NULL;
	struct edge_err e = {0};

	if (p->o.worker_init != NULL && p->o.worker_init(p->o.ctx, &w, &e) != 0) {
		pthread_mutex_lock(&p->mu);
		p->starting--;
		if (e.code == 0)
			edge_errf(&e, EDGE_EIO, "cannot set up a worker");
		record(p, &e, 1);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	pthread_mutex_lock(&p->mu);
	p->starting--;
	pthread_cond_broadcast(&p->idle);
	for (;;) {
		struct pool_job j;
		int rc;
		if (p->stop && (p->len == 0 || p->cancelled))
			break;
		if (p->cancelled || !take(p, &j)) {
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		p->running++;
		pthread_mutex_unlock(&p->mu);
		edge_err_clear(&e);
		rc = j.fn(j.arg, j.idx, w, &e);
		pthread_mutex_lock(&p->mu);
		if (j.gate != NULL)
			j.gate->busy--;
		p->running--;
		if (rc != 0) {
			if (e.code == 0)
				edge_errf(&e, EDGE_EIO, "a job failed");
			record(p, &e, !p->o.keep_going);
		}
		/* a gate freed may let a waiting job run */
		pthread_cond_broadcast(&p->work);
		pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	if (p->o.worker_fini != NULL)
		p->o.worker_fini(p->o.ctx, w);
	return NULL;
}

struct pool *pool_new(int nthreads, const struct pool_opts *o, struct edge_err *err)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	int i;

	if (nthreads < 1)
		nthreads = 1;
	if (o != NULL)
		p->o = *o;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		edge_errf(err, EDGE_EIO, "cannot make a mutex");
		return NULL;
	}
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->th = xcalloc((size_t)nthreads, sizeof(*p->th));
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < nthreads; i++) {
		p->starting++;
		if (pthread_create(&p->th[i], NULL, worker, p) != 0) {
			p->starting--;
			break;
		}
	}
	p->nthreads = i;
	pthread_mutex_unlock(&p->mu);
	if (p->nthreads == 0) {
		pool_free(p);
		edge_errf(err, EDGE_EIO, "cannot start worker threads");
		return NULL;
	}
	return p;
}

int pool_threads(const struct pool *p)
{
	return p->nthreads;
}

int pool_submit(struct pool *p, pool_fn fn, void *arg, size_t idx, struct pool_gate *gate)
{
	int rc = -1;

	pthread_mutex_lock(&p->mu);
	if (!p->cancelled) {
		if (p->head + p->len == p->cap) {
			if (p->head > 0) {
				memmove(p->q, p->q + p->head, p->len * sizeof(*p->q));
				p->head = 0;
			}
			if (p->len == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 64;
				p->q = xrealloc(p->q, p->cap * sizeof(*p->q));
			}
		}
		p->q[p->head + p->len].fn = fn;
		p->q[p->head + p->len].arg = arg;
		p->q[p->head + p->len].idx = idx;
		p->q[p->head + p->len].gate = gate;
		p->len++;
		pthread_cond_signal(&p->work);
		rc = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void pool_cancel(struct pool *p, const struct edge_err *err)
{
	pthread_mutex_lock(&p->mu);
	record(p, err != NULL && err->code != 0 ? err : NULL, 1);
	pthread_mutex_unlock(&p->mu);
}

int pool_wait(struct pool *p, struct edge_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	/* a worker still in its setup may yet fail and cancel */
	while (p->starting > 0 || p->running > 0 || (p->len > 0 && !p->cancelled))
		pthread_cond_wait(&p->idle, &p->mu);
	if (p->first.code != 0) {
		if (err != NULL)
			*err = p->first;
		rc = -1;
	} else if (p->cancelled) {
		if (err != NULL)
			edge_errf(err, EDGE_EIO, "cancelled");
		rc = -1;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int pool_cancelled(struct pool *p)
{
	int c;

	pthread_mutex_lock(&p->mu);
	c = p->cancelled;
	pthread_mutex_unlock(&p->mu);
	return c;
}

void pool_free(struct pool *p)
{
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	p->cancelled = 1;
	p->len = 0;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p->q);
	free(p);
}

int pool_run(int n, pool_fn fn, void *arg, size_t nitems, const struct pool_opts *o, struct edge_err *err)
{
	struct pool *p;
	size_t i;
	int rc;

	if (nitems == 0)
		return 0;
	if (n < 1)
		n = 1;
	if ((size_t)n > nitems)
		n = (int)nitems;
	if ((p = pool_new(n, o, err)) == NULL)
		return -1;
	for (i = 0; i < nitems; i++)
		if (pool_submit(p, fn, arg, i, NULL) != 0)
			break;
	rc = pool_wait(p, err);
	pool_free(p);
	return rc;
}
