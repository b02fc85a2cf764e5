/*
 * The content store (SPEC §4): an OCI image layout directory. Blobs are only
 * ever created by a verified rename, so a blob file that exists is complete
 * and correct; partial downloads live in STORE/.tmp/ and can be resumed.
 * index.json is rewritten atomically, once per run, under an exclusive lock.
 */
#ifndef EDGE_STORE_H
#define EDGE_STORE_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include "err.h"
#include "oci.h" /* the MT_ media types */
#include "sha256.h"

#define ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOT_CONTAINERD_NAME "io.containerd.image.name"
#define ANNOT_SPC_TYPE "io.image.ref.spectrocloud.type"

#define STORE_MAX_MANIFEST (8u << 20) /* manifests, indexes, configs */
#define STORE_MAX_INDEX (256u << 20)   /* index.json */

struct store {
	char *dir;
	char *tmpdir;
	int lockfd;
	json_t *index; /* index.json, loaded by store_open */
	int index_dirty; /* store_index_set changed it since: index.json is rewritten */
	json_t *docs;   /* digest -> parsed document (store_read_json), when caching */
	pthread_mutex_t mu;
};

/* Opens dir as a store. create: make it (and oci-layout, index.json) when
 * missing; else a missing store is EDGE_EIO "store DIR: no such store".
 * lock: 1 exclusive (waits for another writer, saying so), 0 none. */
int store_open(struct store *s, const char *dir, int create, int lock, struct edge_err *err);
void store_close(struct store *s);

/* Path of a blob (malloc'd); NULL when digest is not sha256:<64 hex>. */
char *store_blob_path(const struct store *s, const char *digest);
/* 1 when the blob exists (and has size bytes, unless size < 0). */
int store_has_blob(const struct store *s, const char *digest, int64_t size);

/* Writes a blob of known digest and size (-1: unknown) through a temp file
 * in STORE/.tmp/. With resume the temp file is HEX.partial: an existing
 * one is kept and hashed, and offset tells how many bytes it holds (only one
 * writer per digest may resume at a time). Without, a unique temp file. */
struct blob_writer {
	struct store *s;
	char digest[72];
	int64_t expect;
	int64_t offset;
	int fd;
	char *tmp;
	int slot;
	int full;      /* a write failed for want of space: the partial file goes */
	struct sha256 h;
};
int blob_writer_open(struct blob_writer *w, struct store *s, const char *digest, int64_t size,
		     int resume, struct edge_err *err);
int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct edge_err *err);
/* Discards what was written (start again from zero). */
int blob_writer_restart(struct blob_writer *w, struct edge_err *err);
/* Checks size and sha256, fsyncs and renames into place. On a mismatch the
 * temp file is removed and the error is EDGE_EVERIFY. Always closes w. */
int blob_writer_commit(struct blob_writer *w, struct edge_err *err);
/* Closes w; keep: leave the partial file for a later resume. */
void blob_writer_abort(struct blob_writer *w, int keep);

/* Stores a small blob from memory; computes its digest into out (72 bytes)
 * and checks it against want when want is not NULL. */
int store_put_blob(struct store *s, const void *data, size_t len, const char *want, char out[72],
		   struct edge_err *err);
/* Reads a small blob (at most max bytes) and checks its digest. */
int store_read_blob(const struct store *s, const char *digest, size_t max, char **data, size_t *len,
		    struct edge_err *err);
/* A manifest or index (at most STORE_MAX_MANIFEST bytes, digest checked)
 * as a JSON object: a new reference, or NULL (EDGE_EINPUT "manifest D is
 * not JSON" when it is not an object). With store_cache_docs(s, 1) each
 * digest is read and parsed once, until store_cache_docs(s, 0) drops the
 * cache: for a walk that meets the same manifests twice (edge-pack's
 * content and its bases). Callers must not change a returned object. */
json_t *store_read_json(struct store *s, const char *digest, struct edge_err *err);
void store_cache_docs(struct store *s, int on);

/* index.json: the descriptor whose ref.name annotation is ref (borrowed),
 * or NULL. */
json_t *store_index_find(struct store *s, const char *ref);
/* Sets (replaces) the entry for ref; desc is stolen. Thread-safe. */
void store_index_set(struct store *s, const char *ref, json_t *desc);
/* Writes index.json atomically (entries sorted by ref name), when
 * store_index_set changed it (or store_open made it); else leaves it. */
int store_index_write(struct store *s, struct edge_err *err);

/* The canonical JSON text tools write for manifests they make (compact,
 * keys in insertion order). malloc'd. */
char *store_json_text(json_t *j, size_t *len);

#endif
