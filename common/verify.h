/*
 * Verification of bundles (every entry, blob digest and size, the layout's
 * references, the entry index: blobs hashed in parallel through the seek
 * table, or in one streaming pass without one) and of stores (every blob
 * re-hashed, or sizes only).
 */
#ifndef EDGE_VERIFY_H
#define EDGE_VERIFY_H

#include <jansson.h>
#include <stdint.h>
#include "bundle.h"
#include "delta.h"
#include "err.h"
#include "progress.h"
#include "store.h"

#define VERIFY_MAX_JSON_ENTRY BUNDLE_MAX_JSON_ENTRY /* bundle.json, index.json, … */
#define VERIFY_MAX_KEPT (256u << 20)       /* small JSON blobs kept to check references */

/* Verifies the bundle (or parts descriptor) at path. On success *manifest
 * is the bundle's manifest (bundle.json without "blobs") with "bundle" set
 * to {path, size}, and "digest", the file's sha256, when want_digest or a
 * parts descriptor (whose part digests are checked) asked for it. Errors:
 * EDGE_EVERIFY (digest, size, truncation, missing blob), EDGE_EINPUT
 * (malformed: unexpected or unsafe entries), EDGE_EIO. max_size bounds the
 * decompressed size (0: no bound beyond what bundle.json declares); threads
 * hash the blobs (0: one per core).
 *
 * A delta (bundle.json has "base", checked with delta_base_check, EDGE_EINPUT
 * when malformed): a manifest's layer that is not in the bundle must be in
 * base.omitted with the descriptor's size, and every omitted blob must be
 * referenced and absent (EDGE_EVERIFY naming the blob otherwise). The
 * manifest then has no "base" but bundle.omitted = {count, bytes} and
 * bundle.base = base.bundles, as edge-pack prints them; and *omitted (when
 * not NULL) is a new array of base.omitted's entries, each with "image", the
 * first image that needs it. *omitted is NULL for a full bundle. */
int verify_bundle(const char *path, uint64_t max_size, int want_digest, int threads, json_t **manifest,
		  json_t **omitted, struct edge_err *err);

/* Checks the blobs a verified delta left out (*omitted of verify_bundle)
 * against what the bases given list (delta_base_add): each with its digest
 * and size, else EDGE_EVERIFY naming the blob, the image that needs it and
 * the base the delta names. bundles: the delta's base.bundles (its
 * manifest's bundle.base); a base given under one of those names with
 * another digest is a warning (log_warn), not an error. path names the
 * delta in messages. */
int verify_delta_bases(json_t *omitted, json_t *bundles, const struct delta_base *b, const char *path,
		       struct edge_err *err);

/* Progress of the bundle checks this thread makes from now on
 * (verify_bundle through a seek table): the blobs ("blobs"), their bytes as
 * they are hashed. fn NULL: none (the default). */
void verify_set_progress(progress_fn fn, void *ctx);

/* Verifies a store: every blob's sha256 (quick: sizes only) and that every
 * index.json entry has its manifests, configs and layers; with a manifest
 * (may be NULL), that each of its entries is in the index with its digest.
 * Reports each problem with log_error and returns -1 (EDGE_EVERIFY, count in
 * the message) when there was one. */
int verify_store(struct store *s, json_t *manifest, int quick, struct edge_err *err);

#endif
