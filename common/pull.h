/*
 * edge-pull's engine: every image, chart and the cluster definition of a
 * manifest into a store, concurrently (a pool of --jobs workers, at most
 * per_host transfers per registry host, one download per digest, large
 * blobs in parallel ranges), with
 * platform selection, verified blobs, and keep-going error collection.
 */
#ifndef EDGE_PULL_H
#define EDGE_PULL_H

#include <jansson.h>
#include "creds.h"
#include "err.h"
#include "http.h"
#include "platform.h"
#include "progress.h"
#include "store.h"

/* Pull REGISTRY's repositories from MIRROR (HOST[:PORT][/PATH]) instead;
 * the names in the store and the manifest stay the registry's. */
struct pull_mirror {
	char *registry;
	char *mirror;
};

/* What a run did, for its closing line (pull_opts.stats). */
struct pull_stats {
	size_t images, charts;  /* entries pulled */
	uint64_t bytes_fetched; /* blob bytes downloaded */
	uint64_t bytes_present; /* blob bytes the store had */
};

struct pull_opts {
	struct platform *platforms; /* wanted platforms (at least one unless all_platforms) */
	size_t nplatforms;
	int all_platforms;
	int jobs;          /* workers, default 8 */
	int per_host;      /* concurrent transfers per registry host (<= 0: --jobs) */
	int parts;         /* a blob of part_min bytes or more comes in this many
	                      ranges on connections of their own (<= 1: one stream) */
	int64_t part_min;
	int keep_going;
	int offline;       /* use the store alone */
	int plain_http;
	struct http_opts http;
	struct cred_store *creds;
	progress_fn progress; /* NULL, or called as blobs arrive (bytes in flight too) and at the end */
	void *progress_ctx;
	struct pull_stats *stats; /* NULL, or filled by pull_run */
	struct pull_mirror *mirrors;
	size_t nmirrors;
};

/* Pulls everything the manifest names into s and fills, per entry, digest,
 * mediaType, size, platforms (and sourceDigest, error). Returns 0 when all
 * succeeded. Otherwise -1 with err: the first failure's code and message, or
 * with keep_going, EDGE_EREMOTE "N of M entries failed" after trying all. */
int pull_run(json_t *manifest, struct store *s, const struct pull_opts *o, struct edge_err *err);

/* The store name of the cluster definition artifact. malloc'd. */
char *pull_definition_ref(const char *name, const char *digest);

#endif
