/*
 * Progress of an engine's work (pack, pull, push), as numbers: the engine
 * calls its caller's callback after each item and once more at the end;
 * the front end decides whether, how often and how to show it. The library
 * never formats progress text.
 */
#ifndef EDGE_PROGRESS_H
#define EDGE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress_info {
	size_t items_done;
	size_t items_total;
	uint64_t bytes_done;
	uint64_t bytes_total; /* 0: not known ahead */
	const char *label;    /* what the items are: "blobs" */
	const char *verb;     /* NULL, or what happened to the bytes: "uploaded" */
	int final;            /* 1 on the last call: the work is over */
};

/* Called from one thread at a time (the engine serialises its calls); ctx
 * is the caller's. A NULL callback: the engine reports nothing. */
typedef void (*progress_fn)(void *ctx, const struct progress_info *pi);

#endif
