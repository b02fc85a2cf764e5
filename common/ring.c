/*
 * The bounded ring (ring.h). One mutex; a condition variable per stage
 * (its threads wait there for a slot) and one for the producer (and
 * ring_drain) waiting for room. A change wakes only those it lets go on:
 * a commit wakes one thread of each stage that follows the producer, a
 * release the stages that follow that stage, and the producer only once
 * the slot is free (every stage released it). Slots can be small (a bundle
 * entry of a few hundred bytes is a frame of its own), and one broadcast
 * per change woke all six threads of a pack for each: a delta pack of ten
 * images made twice the context switches.
 *
 * Counts are sequence numbers since the start: produced (committed by the
 * producer), and for each stage taken (handed out) and done (every slot
 * below it released). Stage k may take slot taken[k] once the stage it
 * follows has done it; the producer may fill slot produced once every
 * stage has done produced - nslots.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ring.h"

struct ring {
	pthread_mutex_t mu;
	pthread_cond_t room;                      /* the producer, ring_drain */
	pthread_cond_t ready[RING_MAX_STAGES];    /* stage k's threads */
	unsigned char *slots;
	size_t nslots, slot_size;
	int nstages;
	int after[RING_MAX_STAGES];
	uint64_t produced;
	uint64_t taken[RING_MAX_STAGES], done[RING_MAX_STAGES];
	unsigned char *released; /* nstages * nslots: released out of order, not yet counted in done */
	int closed, aborted;
	struct edge_err err;
};

struct ring *ring_new(size_t nslots, size_t slot_size, int nstages, const int *after, struct edge_err *err)
{
	struct ring *r;
	int k;

	if (nslots == 0 || slot_size == 0 || nstages < 1 || nstages > RING_MAX_STAGES) {
		edge_errf(err, EDGE_EIO, "ring: %zu slots of %zu bytes, %d stages: not a ring", nslots, slot_size, nstages);
		return NULL;
	}
	for (k = 0; k < nstages; k++)
		if (after != NULL && (after[k] < -1 || after[k] >= k)) {
			edge_errf(err, EDGE_EIO, "ring: stage %d follows stage %d", k, after[k]);
			return NULL;
		}
	r = xcalloc(1, sizeof(*r));
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r);
		edge_errf(err, EDGE_EIO, "ring: cannot make a mutex");
		return NULL;
	}
	if (pthread_cond_init(&r->room, NULL) != 0) {
		pthread_mutex_destroy(&r->mu);
		free(r);
		edge_errf(err, EDGE_EIO, "ring: cannot make a condition variable");
		return NULL;
	}
	for (k = 0; k < nstages; k++)
		if (pthread_cond_init(&r->ready[k], NULL) != 0) {
			while (k-- > 0)
				pthread_cond_destroy(&r->ready[k]);
			pthread_cond_destroy(&r->room);
			pthread_mutex_destroy(&r->mu);
			free(r);
			edge_errf(err, EDGE_EIO, "ring: cannot make a condition variable");
			return NULL;
		}
	r->nslots = nslots;
	r->slot_size = slot_size;
	r->nstages = nstages;
	for (k = 0; k < nstages; k++)
		r->after[k] = after != NULL ? after[k] : -1;
	r->slots = xcalloc(nslots, slot_size);
	r->released = xcalloc((size_t)nstages, nslots);
	return r;
}

void ring_free(struct ring *r)
{
	int k;

	if (r == NULL)
		return;
	for (k = 0; k < r->nstages; k++)
		pthread_cond_destroy(&r->ready[k]);
	pthread_cond_destroy(&r->room);
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r->released);
	free(r);
}

void *ring_slot(struct ring *r, size_t i)
{
	return r->slots + (i % r->nslots) * r->slot_size;
}

size_t ring_nslots(const struct ring *r)
{
	return r->nslots;
}

/* Wakes the stages that follow src (-1: the producer), which has n more
 * slots for them (r->mu held). One slot is for one thread: a stage run by
 * several wakes one of them, not all to find it taken. */
static void wake_followers(struct ring *r, int src, uint64_t n)
{
	int k;

	for (k = 0; k < r->nstages; k++)
		if (r->after[k] == src) {
			if (n == 1)
				pthread_cond_signal(&r->ready[k]);
			else
				pthread_cond_broadcast(&r->ready[k]);
		}
}

/* Wakes every thread on the ring: it was closed or aborted (r->mu held). */
static void wake_all(struct ring *r)
{
	int k;

	for (k = 0; k < r->nstages; k++)
		pthread_cond_broadcast(&r->ready[k]);
	pthread_cond_broadcast(&r->room);
}

/* The oldest slot some stage has not done (r->mu held). */
static uint64_t oldest(const struct ring *r)
{
	uint64_t m = r->done[0];
	int k;

	for (k = 1; k < r->nstages; k++)
		if (r->done[k] < m)
			m = r->done[k];
	return m;
}

void *ring_put_begin(struct ring *r)
{
	void *s = NULL;

	pthread_mutex_lock(&r->mu);
	while (!r->aborted && !r->closed && r->produced - oldest(r) >= r->nslots)
		pthread_cond_wait(&r->room, &r->mu);
	if (!r->aborted && !r->closed)
		s = ring_slot(r, (size_t)(r->produced % r->nslots));
	pthread_mutex_unlock(&r->mu);
	return s;
}

void ring_put_commit(struct ring *r)
{
	pthread_mutex_lock(&r->mu);
	r->produced++;
	wake_followers(r, -1, 1);
	pthread_mutex_unlock(&r->mu);
}

void ring_close(struct ring *r)
{
	pthread_mutex_lock(&r->mu);
	r->closed = 1;
	wake_all(r);
	pthread_mutex_unlock(&r->mu);
}

/* How far the source of stage k has gone (r->mu held). */
static uint64_t source_done(const struct ring *r, int stage)
{
	return r->after[stage] < 0 ? r->produced : r->done[r->after[stage]];
}

void *ring_get(struct ring *r, int stage)
{
	void *s = NULL;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (r->aborted)
			break;
		if (r->taken[stage] < source_done(r, stage)) {
			s = ring_slot(r, (size_t)(r->taken[stage] % r->nslots));
			r->taken[stage]++;
			break;
		}
		if (r->closed && r->taken[stage] == r->produced)
			break;
		pthread_cond_wait(&r->ready[stage], &r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return s;
}

void ring_release(struct ring *r, int stage, void *s)
{
	size_t i = (size_t)((unsigned char *)s - r->slots) / r->slot_size;
	unsigned char *rel = r->released + (size_t)stage * r->nslots;
	uint64_t was, was_oldest;

	pthread_mutex_lock(&r->mu);
	rel[i] = 1;
	was = r->done[stage];
	was_oldest = oldest(r);
	/* done counts only a run of released slots: a stage run by several
	 * threads releases out of order */
	while (r->done[stage] < r->taken[stage] && rel[r->done[stage] % r->nslots]) {
		rel[r->done[stage] % r->nslots] = 0;
		r->done[stage]++;
	}
	if (r->done[stage] != was) {
		wake_followers(r, stage, r->done[stage] - was);
		/* the producer waits for the slowest stage: only its release makes room */
		if (oldest(r) != was_oldest)
			pthread_cond_broadcast(&r->room);
	}
	pthread_mutex_unlock(&r->mu);
}

void ring_abort(struct ring *r, const struct edge_err *err)
{
	pthread_mutex_lock(&r->mu);
	if (err != NULL && err->code != 0 && r->err.code == 0)
		r->err = *err;
	r->aborted = 1;
	wake_all(r);
	pthread_mutex_unlock(&r->mu);
}

/* The abort's error into err (r->mu held). */
static int abort_error(const struct ring *r, struct edge_err *err)
{
	if (err == NULL)
		return -1;
	if (r->err.code != 0)
		*err = r->err;
	else
		edge_errf(err, EDGE_EIO, "stopped");
	return -1;
}

int ring_drain(struct ring *r, struct edge_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	while (!r->aborted && oldest(r) < r->produced)
		pthread_cond_wait(&r->room, &r->mu);
	if (r->aborted)
		rc = abort_error(r, err);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int ring_aborted(struct ring *r, struct edge_err *err)
{
	int a;

	pthread_mutex_lock(&r->mu);
	a = r->aborted;
	if (a && err != NULL && r->err.code != 0)
		*err = r->err;
	pthread_mutex_unlock(&r->mu);
	return a;
}
