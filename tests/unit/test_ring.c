/* Unit tests for the bounded ring (common/ring.c): order, blocking on full
 * and empty, close and abort from either side, stages that follow stages,
 * a stage run by several threads, drain. Run under ThreadSanitizer by
 * make test SANITIZE=thread. TAP output. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "tap.h"


static void nap(void)
{
	struct timespec ts = {0, 20 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

struct item {
	uint64_t v;
	uint64_t sum; /* written by stage 0, read by stage 1 */
};

#define N 20000

struct prod {
	struct ring *r;
	uint64_t n;       /* items to put */
	uint64_t put;     /* put before the end */
	int fail_at;      /* >= 0: abort with an error there */
};

static void *producer(void *arg)
{
	struct prod *p = arg;
	uint64_t i;

	for (i = 0; i < p->n; i++) {
		struct item *s;
		if (p->fail_at >= 0 && i == (uint64_t)p->fail_at) {
			struct edge_err e = {0};
			edge_errf(&e, EDGE_EIO, "producer failed at %llu", (unsigned long long)i);
			ring_abort(p->r, &e);
			return NULL;
		}
		if ((s = ring_put_begin(p->r)) == NULL)
			break;
		s->v = i;
		ring_put_commit(p->r);
		p->put++;
	}
	ring_close(p->r);
	return NULL;
}

struct cons {
	struct ring *r;
	int stage;
	uint64_t got, next, bad;
	uint64_t stop_at; /* abort after this many (0: never) */
	int check_sum;
	int unordered;
	pthread_mutex_t *mu; /* for several threads of one stage */
};

static void *consumer(void *arg)
{
	struct cons *c = arg;
	struct item *s;

	while ((s = ring_get(c->r, c->stage)) != NULL) {
		if (c->mu)
			pthread_mutex_lock(c->mu);
		if (!c->unordered && s->v != c->next)
			c->bad++;
		if (c->check_sum && s->sum != s->v * 3)
			c->bad++;
		c->next = s->v + 1;
		__atomic_add_fetch(&c->got, 1, __ATOMIC_SEQ_CST); /* read while it runs */
		if (c->mu)
			pthread_mutex_unlock(c->mu);
		if (c->stage == 0)
			s->sum = s->v * 3;
		ring_release(c->r, c->stage, s);
		if (c->stop_at && c->got == c->stop_at) {
			ring_abort(c->r, NULL);
			break;
		}
	}
	return NULL;
}

static void test_order(void)
{
	struct ring *r = ring_new(4, sizeof(struct item), 1, NULL, NULL);
	struct prod p = {r, N, 0, -1};
	struct cons c;
	pthread_t a, b;

	memset(&c, 0, sizeof(c));
	c.r = r;
	pthread_create(&a, NULL, producer, &p);
	pthread_create(&b, NULL, consumer, &c);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	okf(c.got == N && c.bad == 0, "one producer, one consumer: every item, in order");
	okf(ring_aborted(r, NULL) == 0, "closed, not aborted");
	ring_free(r);
}

static void test_blocking(void)
{
	struct ring *r = ring_new(3, sizeof(struct item), 1, NULL, NULL);
	struct prod p = {r, 10, 0, -1};
	struct cons c;
	pthread_t a, b;
	struct item *s;

	memset(&c, 0, sizeof(c));
	c.r = r;
	pthread_create(&a, NULL, producer, &p);
	nap();
	nap();
	/* the producer has filled the three slots and waits: stop it */
	ring_abort(r, NULL);
	pthread_join(a, NULL);
	okf(p.put == 3, "a full ring blocks the producer (3 of 10 put)");
	ring_free(r);

	r = ring_new(2, sizeof(struct item), 1, NULL, NULL);
	c.r = r;
	pthread_create(&b, NULL, consumer, &c);
	nap();
	okf(__atomic_load_n(&c.got, __ATOMIC_SEQ_CST) == 0, "an empty ring blocks the consumer");
	s = ring_put_begin(r);
	s->v = 0;
	ring_put_commit(r);
	ring_close(r);
	pthread_join(b, NULL);
	okf(c.got == 1 && c.bad == 0, "close after one item: the consumer takes it, then ends");
	ring_free(r);
}

static void test_abort_consumer(void)
{
	struct ring *r = ring_new(4, sizeof(struct item), 1, NULL, NULL);
	struct prod p = {r, N, 0, -1};
	struct cons c;
	pthread_t a, b;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.stop_at = 100;
	pthread_create(&a, NULL, producer, &p);
	pthread_create(&b, NULL, consumer, &c);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	okf(c.got == 100 && p.put < N && p.put <= 104, "the consumer aborts: the blocked producer stops");
	okf(ring_aborted(r, NULL) == 1, "ring_aborted says so");
	ring_free(r);
}

static void test_abort_producer(void)
{
	struct ring *r = ring_new(4, sizeof(struct item), 2, NULL, NULL);
	struct prod p = {r, N, 0, 500};
	struct cons c0, c1;
	struct edge_err e = {0};
	pthread_t a, b0, b1;

	memset(&c0, 0, sizeof(c0));
	memset(&c1, 0, sizeof(c1));
	c0.r = c1.r = r;
	c1.stage = 1;
	c1.unordered = 1; /* it sees what stage 0 writes only with after */
	pthread_create(&a, NULL, producer, &p);
	pthread_create(&b0, NULL, consumer, &c0);
	pthread_create(&b1, NULL, consumer, &c1);
	pthread_join(a, NULL);
	pthread_join(b0, NULL);
	pthread_join(b1, NULL);
	okf(c0.got <= 500 && c1.got <= 500 && c0.bad == 0, "the producer aborts: both blocked stages end");
	okf(ring_drain(r, &e) == -1 && strcmp(e.msg, "producer failed at 500") == 0 && e.code == EDGE_EIO,
	   "ring_drain returns the producer's error");
	ring_free(r);
}

static void test_stages(void)
{
	int after[3] = {-1, 0, -1};
	struct ring *r = ring_new(5, sizeof(struct item), 3, after, NULL);
	struct prod p = {r, N, 0, -1};
	struct cons c[3];
	pthread_t a, b[3];
	int k;

	memset(c, 0, sizeof(c));
	for (k = 0; k < 3; k++) {
		c[k].r = r;
		c[k].stage = k;
	}
	c[1].check_sum = 1; /* stage 1 follows stage 0 and sees what it wrote */
	pthread_create(&a, NULL, producer, &p);
	for (k = 0; k < 3; k++)
		pthread_create(&b[k], NULL, consumer, &c[k]);
	pthread_join(a, NULL);
	for (k = 0; k < 3; k++)
		pthread_join(b[k], NULL);
	okf(c[0].got == N && c[1].got == N && c[2].got == N && c[0].bad + c[1].bad + c[2].bad == 0,
	   "three stages, one after another: each sees every item in order, after its source");
	ring_free(r);
}

static void test_workers(void)
{
	struct ring *r = ring_new(8, sizeof(struct item), 2, (const int[]){-1, 0}, NULL);
	struct prod p = {r, N, 0, -1};
	struct cons w[4], in_order;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_t a, b[4], d;
	uint64_t got = 0;
	int k;

	memset(w, 0, sizeof(w));
	memset(&in_order, 0, sizeof(in_order));
	for (k = 0; k < 4; k++) {
		w[k].r = r;
		w[k].unordered = 1;
		w[k].mu = &mu;
	}
	in_order.r = r;
	in_order.stage = 1;
	in_order.check_sum = 1;
	pthread_create(&a, NULL, producer, &p);
	for (k = 0; k < 4; k++)
		pthread_create(&b[k], NULL, consumer, &w[k]);
	pthread_create(&d, NULL, consumer, &in_order);
	pthread_join(a, NULL);
	for (k = 0; k < 4; k++) {
		pthread_join(b[k], NULL);
		got += w[k].got;
	}
	pthread_join(d, NULL);
	okf(got == N && in_order.got == N && in_order.bad == 0,
	   "a stage of four threads, then one in order: every item once, the next stage in order");
	ring_free(r);
}

static void test_drain(void)
{
	struct ring *r = ring_new(4, sizeof(struct item), 1, NULL, NULL);
	struct cons c;
	struct edge_err e = {0};
	pthread_t b;
	int i, rc;

	memset(&c, 0, sizeof(c));
	c.r = r;
	pthread_create(&b, NULL, consumer, &c);
	for (i = 0; i < 3; i++) {
		struct item *s = ring_put_begin(r);
		s->v = (uint64_t)i;
		ring_put_commit(r);
	}
	rc = ring_drain(r, &e);
	okf(rc == 0 && c.got == 3, "ring_drain waits until the consumer released every item");
	ring_close(r);
	pthread_join(b, NULL);
	ring_free(r);
	okf(ring_new(0, 8, 1, NULL, &e) == NULL && e.code == EDGE_EIO, "no slots: an error");
	okf(ring_new(2, 8, 2, (const int[]){-1, 1}, &e) == NULL, "a stage that follows itself: an error");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	plan(14);
	test_order();
	test_blocking();
	test_abort_consumer();
	test_abort_producer();
	test_stages();
	test_workers();
	test_drain();
	return done_testing();
}
