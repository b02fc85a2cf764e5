/*
 * One bounded ring: a fixed number of fixed-size slots that one producer
 * fills in order and one or more stages consume. Every stage sees every
 * slot; a stage follows the producer or an earlier stage (its "after"),
 * and takes a slot only once that one is done with it. A stage may be run
 * by one thread (it then sees the slots in order) or by several (each
 * takes the next slot not yet taken; they finish in any order). A slot is
 * filled again only when every stage has released it, so memory is
 * nslots * slot_size whatever the length of the stream.
 *
 *   producer:  s = ring_put_begin(r); fill s; ring_put_commit(r);  ... ring_close(r)
 *   stage k:   while ((s = ring_get(r, k)) != NULL) { use s; ring_release(r, k, s); }
 *
 * Either side stops the other with ring_abort (a failed consumer, a failed
 * producer, or a consumer that wants no more): every blocked call returns
 * at once, ring_put_begin and ring_get return NULL from then on, and the
 * first error given is kept. ring_close ends the stream normally: the
 * stages drain what was committed, then ring_get returns NULL.
 *
 * The slots are in place: nothing is copied. A slot's bytes are the
 * producer's between ring_put_begin and ring_put_commit, and a stage's
 * thread's between ring_get and ring_release; the ring's lock orders them.
 * Slots start zeroed; the caller may set them up before any thread runs
 * (buffers the slot points to, say) through ring_slot.
 */
#ifndef EDGE_RING_H
#define EDGE_RING_H

#include <stddef.h>

#include "err.h"

#define RING_MAX_STAGES 8

struct ring;

/* A ring of nslots slots of slot_size bytes, with nstages stages; after[k]
 * is the stage that stage k follows (-1: the producer; else an index
 * below k). after NULL: every stage follows the producer. Returns NULL
 * with err set when a mutex cannot be made or the shape is wrong. The
 * caller frees it with ring_free once every thread using it is joined. */
struct ring *ring_new(size_t nslots, size_t slot_size, int nstages, const int *after, struct edge_err *err);
void ring_free(struct ring *r);

/* Slot i (0 <= i < nslots), for setting up before the threads start. */
void *ring_slot(struct ring *r, size_t i);
size_t ring_nslots(const struct ring *r);

/* Producer: the next slot to fill, once every stage has released it;
 * NULL when the ring was aborted (or closed). */
void *ring_put_begin(struct ring *r);
/* Producer: hands the slot from ring_put_begin to the stages. */
void ring_put_commit(struct ring *r);
/* Producer: no more slots. The stages drain the ring, then get NULL. */
void ring_close(struct ring *r);

/* Stage k: the next slot for it, once the stage it follows is done with
 * it; NULL at the end (closed and drained) or when aborted. */
void *ring_get(struct ring *r, int stage);
/* Stage k: done with slot s (from ring_get on the same stage). */
void ring_release(struct ring *r, int stage, void *s);

/* Either side: stop. Blocked calls return; err (may be NULL) is kept if
 * it is the first error given. */
void ring_abort(struct ring *r, const struct edge_err *err);
/* Waits until every slot committed is released by every stage, or the
 * ring is aborted. Returns 0, or -1 with the first error (or a generic one
 * when aborted without) in err. */
int ring_drain(struct ring *r, struct edge_err *err);
/* 1 when aborted; the first error, if any, is copied to err (may be NULL). */
int ring_aborted(struct ring *r, struct edge_err *err);

#endif
