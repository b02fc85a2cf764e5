/*
 * edge-serve's engine: bundles (and parts descriptors, and stores) served
 * read-only as an OCI distribution registry, straight from the compressed
 * bundle. Names follow edge-push's prefix rule under --prefix. Blobs are
 * read through the seek table: raw-block frames (already-compressed
 * layers) by pread at the block's place in the file, compressed frames
 * decompressed whole into a cache bounded by cache_size. Manifests are
 * read, hashed and kept in memory at start-up; blobs are hashed before
 * their first byte is served (verify quick) or all before the port opens
 * (verify full), so a corrupt blob is refused (500), never sent.
 * The HTTP server is libmicrohttpd with its thread pool (TLS through its
 * GnuTLS support); basic auth checks bcrypt htpasswd entries with crypt_r.
 */
#ifndef EDGE_SERVE_H
#define EDGE_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define SERVE_DEFAULT_LISTEN "0.0.0.0:5000"
#define SERVE_DEFAULT_CACHE (64ull << 20)
#define SERVE_FRAME_MAX (32u << 20)      /* largest frame served (SPEC §5) */
#define SERVE_HTPASSWD_MAX (1u << 20)    /* bytes of an htpasswd file */
#define SERVE_TLS_FILE_MAX (1u << 20)    /* bytes of a certificate or key file */
#define SERVE_TIMEOUT_S 60               /* idle connection timeout */

struct serve_source {
	const char *path;  /* a bundle, a parts descriptor, or a store directory */
	int is_store;
};

struct serve_opts {
	const char *listen;        /* ADDR:PORT, [V6]:PORT or :PORT */
	const char *prefix;        /* repository path prefix, or NULL */
	const char *tls_cert, *tls_key;
	const char *htpasswd;
	const char *pubkey;        /* check each bundle's signature with it, or NULL */
	int verify_full;           /* hash every blob before the port opens */
	int threads;               /* HTTP thread pool (and full-verify hashers) */
	uint64_t cache_size;       /* bytes of decompressed frames kept */
	const struct serve_source *sources;
	size_t nsources;
};

struct serve;

/* Loads every source (signature, structure, manifests; blobs with verify
 * full), then opens the port. On success *out is the running server; the
 * listening port (useful with port 0) in *port. Errors: EDGE_EVERIFY (a
 * signature, a digest, a blob missing from every source), EDGE_EINPUT (a
 * malformed bundle, store, htpasswd file, certificate), EDGE_EIO (files,
 * the address in use), EDGE_EUSAGE (a bad --listen). Free with
 * serve_stop. */
int serve_start(const struct serve_opts *o, struct serve **out, unsigned *port, struct edge_err *err);

/* Re-reads every source and the htpasswd file and swaps them in; requests
 * under way finish with what they started with. On failure the server goes
 * on with what it had, and err says why. */
int serve_reload(struct serve *s, struct edge_err *err);

/* What is being served: images and charts, repositories, blobs. */
void serve_counts(struct serve *s, size_t *images, size_t *charts, size_t *repos, size_t *blobs);

/* Stops accepting, ends the connections and frees everything. s may be
 * NULL. */
void serve_stop(struct serve *s);

/* --- exposed for the unit tests ------------------------------------------- */

/* Parses a Range header value against a blob of size bytes: 1 with
 * [*first, *last] for one satisfiable range, 0 when the header is to be
 * ignored (not bytes=, several ranges, malformed), -1 when unsatisfiable
 * (416). */
int serve_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last);

/* Does an Accept header value (comma-separated, with parameters) accept
 * media type mt? NULL (no header) accepts everything; an empty value
 * names no type, so accepts none. */
int serve_accepts(const char *accept, const char *mt);

/* A loaded htpasswd file (bcrypt entries only, of a cost htpasswd -C
 * makes). */
#define SERVE_BCRYPT_COST_MIN 4
#define SERVE_BCRYPT_COST_MAX 17
struct serve_htpasswd;
int serve_htpasswd_load(const char *path, struct serve_htpasswd **out, struct edge_err *err);
/* 1 when user and password match an entry, else 0 (constant work for an
 * unknown user). */
int serve_htpasswd_check(struct serve_htpasswd *h, const char *user, const char *password);
void serve_htpasswd_free(struct serve_htpasswd *h);

#endif
