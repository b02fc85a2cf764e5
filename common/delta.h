/*
 * Delta bundles (SPEC §5): a bundle that leaves out the layer and chart
 * blobs a site already holds. What the site holds is named by one or more
 * bases: edge manifests with digests, or earlier bundles.
 *
 * A delta's bundle.json has, beside "blobs" (the blobs it holds):
 *
 *   "base": {
 *     "bundles": [{"name": "core-site-1a2b3c4d5e6f.tar.zst", "digest": "sha256:…"}],
 *     "omitted": [{"digest": "sha256:…", "size": 123,
 *                  "base": "core-site-1a2b3c4d5e6f.tar.zst",
 *                  "repository": "quay.io/kairos/core"}]
 *   }
 *
 * bundles: each base's name (its file name) and digest (a bundle's sha256,
 * or a manifest's bundle digest, else the manifest file's own sha256).
 * omitted: every blob left out, sorted by digest: its size, the base that
 * lists it (one of bundles[].name) and a repository (a normalised name
 * without tag or digest) where that base's images hold it, for
 * edge-push's cross-repository mount. A delta's manifest on stdout has
 * bundle.omitted = {"count": N, "bytes": N} and bundle.base = bundles.
 */
#ifndef EDGE_DELTA_H
#define EDGE_DELTA_H

#include <jansson.h>
#include <stdint.h>
#include "err.h"
#include "store.h"

#define DELTA_MAX_OMITTED 1000000 /* entries in a delta's base.omitted */

/* What the bases list, together. */
struct delta_base {
	json_t *bundles; /* [{name, digest}], in the order given */
	json_t *blobs;   /* digest -> {"size": N, "base": NAME, "repository": REPO} (the first base that lists it) */
};

void delta_base_init(struct delta_base *b);
void delta_base_free(struct delta_base *b);

/* Adds the blobs one base lists. path is:
 *  - a bundle or parts descriptor: its bundle.json (and, to find each
 *    layer's repository, index.json and the manifests), read through the
 *    seek table; a delta used as a base also passes on what it omitted;
 *  - an edge manifest whose images have digests: the trees under its
 *    digests, read from cur (the store being packed; NULL for none) when
 *    it holds them all, else from its "bundle" when that file exists, else
 *    its "store" when that exists (the trees are content-addressed: the
 *    same from each). Its name is its bundle's file name when that file
 *    exists, else its own; its digest its bundle's when it names one,
 *    else its own sha256. Read through store_read_json: with cur's cache
 *    on, the manifests edge-pack read are not read again.
 * EDGE_EINPUT names path and what is wrong (no digests, a manifest found
 * nowhere), EDGE_EIO when the file cannot be read. */
int delta_base_add(struct delta_base *b, const char *path, struct store *cur, struct edge_err *err);

/* The size the bases list for digest, or -1. *base and *repo (may be
 * NULL) point into b. */
int64_t delta_base_lookup(const struct delta_base *b, const char *digest, const char **base, const char **repo);

/* Checks a bundle.json "base" member as read from an untrusted bundle:
 * the shape above, every digest valid, sizes byte counts, omitted sorted
 * and unique, each omitted[].base one of bundles[].name, repositories
 * valid names, at most DELTA_MAX_OMITTED entries. what names it in errors
 * (EDGE_EINPUT "WHAT: base: reason"). */
int delta_base_check(json_t *base, const char *what, struct edge_err *err);

/* The omitted entry for digest in a checked "base" member, or NULL
 * (binary search: omitted is sorted). */
json_t *delta_omitted_find(json_t *base, const char *digest);

#endif
