/*
 * OCI distribution client (SPEC §9, REFERENCE.md): manifests and blobs,
 * anonymous, basic and token auth with a per-scope token cache, Docker Hub
 * naming. One struct registry per host, shared by threads; each thread
 * brings its own http_client.
 */
#ifndef EDGE_REGISTRY_H
#define EDGE_REGISTRY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "creds.h"
#include "err.h"
#include "http.h"
#include "oci.h" /* manifest_media_type, media_type_is_* */
#include "store.h"

struct registry_opts {
	int plain_http;           /* http:// instead of https:// */
	/* per-host schemes (borrowed, may be NULL): a registry whose domain,
	 * or API host, is in hosts->tls speaks https, else in hosts->plain
	 * http, else as plain_http says. NULL: http_opts->hosts, if any. */
	const struct http_hosts *hosts;
	struct cred_store *creds; /* may be NULL */
	/* Ranged blob downloads (registry_get_blob): a blob of part_min bytes
	 * or more comes as up to `parts` Range requests on connections of
	 * their own, clients made with http_opts and share (borrowed; parts
	 * <= 1 or http_opts NULL: one stream). */
	int parts;
	int64_t part_min;
	const struct http_opts *http_opts;
	struct http_share *share;
	/* NULL, or told of the blob bytes registry_get_blob receives, from
	 * any thread, as they come (progress of a download in flight) */
	void (*on_bytes)(void *ctx, uint64_t n);
	void *on_bytes_ctx;
};

struct token {
	char *scope;
	char *value;
	long long expires; /* monotonic ms */
};

struct registry {
	char *domain;     /* as in refs: "docker.io", "127.0.0.1:5000" */
	char *base;       /* "https://registry-1.docker.io" */
	struct registry_opts opts;
	pthread_mutex_t mu;
	pthread_mutex_t token_mu; /* serialises token requests */
	int scheme_known; /* the auth scheme was learned from a 401 */
	int bearer;       /* 1 Bearer, 0 Basic */
	char *realm, *service;
	char *basic;      /* "Basic …" header value when credentials are known */
	char *user;       /* their user name, and where they came from (messages) */
	char *cred_from;
	int creds_looked_up;
	int probed;       /* GET /v2/ was asked after a 404: 1 a registry, -1 not */
	struct token *tokens;
	size_t ntokens;
};

/* A registry client for domain ("docker.io", "127.0.0.1:5000"). The
 * scheme: see registry_opts.hosts. */
struct registry *registry_new(const char *domain, const struct registry_opts *o);
void registry_free(struct registry *r);

/* The registries of one run, one per domain, made on first use with opts. */
struct registry_set {
	struct registry_opts opts;
	struct registry **regs;
	size_t n;
};
/* The set's registry for domain (created when new). Not thread-safe. */
struct registry *registry_set_get(struct registry_set *s, const char *domain);
void registry_set_free(struct registry_set *s);

/* Performs req against the registry for repository repo with the given
 * actions ("pull", "pull,push"): adds the Authorization the registry asks
 * for (fetching and caching a token, or Basic), and on a 401 learns the
 * challenge and tries once more. A 401/403 that remains is EDGE_EAUTH.
 * req->url must be absolute (see registry_url). */
int registry_do(struct registry *r, struct http_client *http, const char *repo, const char *actions,
		struct http_req *req, struct http_resp *resp, struct edge_err *err);

/* The same, asking the token server for an extra scope too (such as
 * "repository:OTHER:pull" for a cross-repository mount). */
int registry_do_scopes(struct registry *r, struct http_client *http, const char *repo, const char *actions,
		       const char *extra_scope, struct http_req *req, struct http_resp *resp, struct edge_err *err);

/* "HTTP 404 CODE: message" from a registry error body, or "HTTP 404". */
void registry_error_text(const struct http_resp *resp, char *buf, size_t len);

/* Parses a WWW-Authenticate challenge, `Bearer realm="…",service="…"` or
 * `Basic realm="…"`: *bearer 1 or 0, *realm and *service malloc'd or NULL
 * (the caller frees them). Returns 0, or -1 for another scheme. */
int registry_parse_challenge(const char *h, int *bearer, char **realm, char **service);

/* Parses a token server's reply {"token"|"access_token", "expires_in"}:
 * *token malloc'd (the caller wipes and frees it), *ttl_s its lifetime in
 * seconds (60 when not given, at most REGISTRY_TOKEN_TTL_MAX). Returns 0,
 * or -1 when there is no token or it holds a byte that cannot go in a
 * header (only visible ASCII can). */
#define REGISTRY_TOKEN_TTL_MAX 86400
int registry_parse_token(const char *body, size_t len, char **token, long long *ttl_s);

/* "BASE/v2/REPO/SUFFIX" (malloc'd). */
char *registry_url(const struct registry *r, const char *repo, const char *suffix);

/* A manifest as fetched: its bytes, media type and sha256 digest. */
struct reg_manifest {
	char *data;
	size_t len;
	char media_type[128];
	char digest[72];
};
void reg_manifest_free(struct reg_manifest *m);

/* HEAD of a manifest: its digest (from Docker-Content-Digest) and media
 * type, without the body. Returns 0, 1 when not found, -1 on error. */
int registry_head_manifest(struct registry *r, struct http_client *http, const char *repo,
			   const char *reference, char digest[72], char media_type[128], int64_t *size,
			   struct edge_err *err);
/* GET a manifest by tag or digest. Checks the digest (against reference
 * when it is one, and against Docker-Content-Digest), refuses schema 1.
 * Returns 0, 1 when not found (err set), -1 on error. */
int registry_get_manifest(struct registry *r, struct http_client *http, const char *repo,
			  const char *reference, struct reg_manifest *m, struct edge_err *err);
/* GET a blob into the store (Range on retries, checked size and digest,
 * verified rename). resume: continue the digest's partial file of an
 * earlier attempt (the caller ensures one downloader per digest). Bytes
 * reach the disk in REGISTRY_WRITE_BATCH pieces. A blob of opts.part_min
 * bytes or more comes in opts.parts ranges on separate connections,
 * written in place into the one partial file while the calling thread
 * hashes it in order; a registry that answers the first range with 200
 * gets one stream. On failure the partial file keeps its complete prefix,
 * for a later resume. */
#define REGISTRY_WRITE_BATCH (1u << 20)
int registry_get_blob(struct registry *r, struct http_client *http, const char *repo,
		      const char *digest, int64_t size, int resume, struct store *s,
		      struct edge_err *err);

#endif
