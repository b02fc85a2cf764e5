/*
 * Progress of an engine's work (pack, pull, push, verify, sign), as
 * numbers: the engine reports items ("blobs": the distinct config and layer
 * blobs of the images and charts, counted the same way in pull, pack and
 * push) and bytes, also bytes of an item still in flight; the front end
 * decides whether, how often and how to show it. The library never formats
 * progress text.
 */
#ifndef EDGE_PROGRESS_H
#define EDGE_PROGRESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct progress_info {
	size_t items_done;
	size_t items_total;
	uint64_t bytes_done;  /* bytes moved or read, items in flight included */
	uint64_t bytes_total; /* 0: not known ahead */
	const char *label;    /* what the items are: "blobs" */
	const char *verb;     /* NULL, or what happened to the bytes: "uploaded" */
	int final;            /* 1 on the last call: the work is over */
};

/* Called from one thread at a time (the engine serialises its calls); ctx
 * is the caller's. A NULL callback: the engine reports nothing. */
typedef void (*progress_fn)(void *ctx, const struct progress_info *pi);

/* Bytes in flight are reported at most every PROGRESS_TICK_MS, so that the
 * callback stays cheap on a fast read or write path; a finished item and
 * the end are always reported. */
#define PROGRESS_TICK_MS 20

/* The one counter an engine feeds, safe from several threads. Every
 * function does nothing when fn is NULL (no lock taken). */
struct progress {
	progress_fn fn;
	void *ctx;
	pthread_mutex_t mu;
	struct progress_info pi;
	long long last; /* mono_ms of the last call */
};

void progress_init(struct progress *p, progress_fn fn, void *ctx, const char *label, const char *verb);
void progress_fini(struct progress *p);
/* More work found: items and bytes added to the totals. */
void progress_add_total(struct progress *p, size_t items, uint64_t bytes);
/* n more bytes done (an item in flight); throttled. */
void progress_bytes(struct progress *p, uint64_t n);
/* An item finished; bytes: its bytes not yet given to progress_bytes. */
void progress_item(struct progress *p, uint64_t bytes);
/* The last call: bytes_done is set to done when done is not UINT64_MAX
 * (what the item sums say, whatever retries counted twice). */
void progress_end(struct progress *p, uint64_t done);

#endif
