/*
 * edge-push's engine (SPEC §7): images and charts from a bundle (read
 * through its seek table, blobs checked as they are read) or a store, into
 * a registry under their target names; and the check that a registry holds
 * what a manifest names (edge-verify --registry).
 */
#ifndef EDGE_PUSH_H
#define EDGE_PUSH_H

#include <jansson.h>
#include <stdint.h>
#include "bundle.h"
#include "creds.h"
#include "err.h"
#include "http.h"
#include "progress.h"
#include "store.h"

struct push_mapping {
	char *src, *dst;
};

/* What a run did, for its closing line (push_opts.stats). */
struct push_stats {
	size_t images, charts;      /* entries pushed */
	size_t blobs_uploaded, blobs_present, blobs_mounted; /* a delta's left-out blobs: present or mounted */
	uint64_t bytes_sent;        /* blob bytes uploaded */
	uint64_t bytes_present;     /* blob bytes the registry had, or mounted */
};

struct push_opts {
	const char *registry;           /* HOST[:PORT][/PATH]: the prefix rule's target */
	struct push_mapping *mappings;  /* SRC=DST prefix replacements */
	size_t nmappings;
	int jobs;                       /* default 4 */
	uint64_t chunk_size;            /* PATCH chunks above this (default 64 MiB) */
	int plain_http;
	struct http_opts http;
	struct cred_store *creds;
	progress_fn progress; /* NULL, or called as blobs go (bytes in flight too) and at the end */
	void *progress_ctx;
	struct push_stats *stats;       /* NULL, or filled by push_run */
};

/* Where a blob comes from: a store or an open bundle. */
struct push_source {
	struct store *store;
	struct bundle_reader *bundle;
};

/* Adds a --mapping "SRC=DST"; -1 (EDGE_EUSAGE) when it is not that shape. */
int push_add_mapping(struct push_opts *o, const char *arg, struct edge_err *err);
/* The registry host credentials are for: --registry's, else the first
 * mapping's target host (malloc'd), or NULL. */
char *push_creds_host(const struct push_opts *o);
/* Frees the mappings and the credentials. */
void push_opts_free(struct push_opts *o);

/* The target name of ref (malloc'd), by the mapping rules, else the prefix
 * rule; NULL with err when the result is not a valid reference. */
char *push_target(const struct push_opts *o, const char *ref, struct edge_err *err);

/* Pushes every image and chart with a digest; fills *pushed with
 * [{ref, target, digest}]. Manifests go up only after all their blobs, and
 * an entry whose blob failed is not tagged. From a delta bundle (its
 * bundle.json has "base", delta.h), each blob it left out is first looked
 * for in each target repository that needs it, then mounted there from
 * the target of the repository its base put it in or from one of this
 * run's that has it; one that is nowhere stops the run before any upload
 * or manifest: EDGE_EVERIFY naming the blob, the image and the base to
 * push first (several: each logged, then a count). */
int push_run(json_t *manifest, struct push_source *src, const struct push_opts *o, json_t **pushed,
	     struct edge_err *err);

/* What push_run would do, without writing to the registry: every image
 * and chart is read from the source and checked as for a push, then its
 * target is asked for with HEAD only. Fills *plan with
 * [{ref, target, digest, "present": true|false}] ("present": the target
 * has that digest under that name). From a delta bundle, *base_plan gets
 * where each blob the delta left out stands in each target repository
 * that needs it, [{digest, size, base, ref, repository, state[, from]}]:
 * state "present" (HEAD there), "mountable" (HEAD in from, a repository
 * push_run would mount it from) or "missing" (push_run would stop); else
 * *base_plan is NULL. Returns 0, or -1 with err (a bad source, or a
 * registry that cannot be asked: EDGE_EREMOTE, EDGE_EAUTH). The caller
 * owns both arrays. */
int push_plan(json_t *manifest, struct push_source *src, const struct push_opts *o, json_t **plan,
	      json_t **base_plan, struct edge_err *err);

/* Checks that the registry has every image and chart of the manifest under
 * its target name with the expected digest; each problem is logged; -1 with
 * EDGE_EVERIFY "N of M missing or different" when any. */
int push_check_registry(json_t *manifest, const struct push_opts *o, struct edge_err *err);

#endif
