/*
 * Image references: parsing and normalisation by the grammar of
 * github.com/distribution/reference (ParseNormalizedNamed, then the default
 * tag "latest" when neither tag nor digest is given). This is the only
 * module that knows the reference grammar; everything else calls it.
 *
 *   nginx                         -> docker.io/library/nginx:latest
 *   index.docker.io/foo/bar:1     -> docker.io/foo/bar:1
 *   quay.io/a/b@sha256:<hex>      -> quay.io/a/b@sha256:<hex>
 *   quay.io/a/b:1.0@sha256:<hex>  -> quay.io/a/b:1.0@sha256:<hex>
 */
#ifndef EDGE_REF_H
#define EDGE_REF_H

#include "err.h"

struct edge_ref {
	char *domain; /* "docker.io", "quay.io", "localhost:5000", "[::1]:5000" */
	char *path;   /* "library/nginx", "kairos/core"; always lowercase */
	char *tag;    /* NULL when the ref has only a digest */
	char *digest; /* "sha256:<64 hex>" or NULL */
};

/* Longest "domain/path" accepted, as in distribution/reference. */
#define REF_NAME_MAX 255
/* Longest tag accepted. */
#define REF_TAG_MAX 128

/* Parses and normalises s. On success fills *out with malloc'd strings the
 * caller frees with ref_free() and returns 0. On failure returns -1, leaves
 * *out all NULL (ref_free() is still safe) and sets err: EDGE_EINPUT with
 * `invalid reference "<s>": <reason>` for a bad reference. */
int ref_parse(const char *s, struct edge_ref *out, struct edge_err *err);

/* Frees the strings of r (not r itself) and sets them to NULL. r may be
 * NULL. */
void ref_free(struct edge_ref *r);

/* The full normalised string "domain/path[:tag][@digest]". Returns a
 * malloc'd string the caller frees, or NULL when r has no domain or
 * path. */
char *ref_string(const struct edge_ref *r);

/* "domain/path", malloc'd (caller frees); NULL as for ref_string(). */
char *ref_repository(const struct edge_ref *r);

/* The host to contact for the registry API: "registry-1.docker.io" for
 * docker.io, else r->domain. Points into r or at a static string: do not
 * free, valid while r is. */
const char *ref_api_host(const struct edge_ref *r);

/* Docker Hub's names live in ref.c only; these answer for them. */

/* 1 when host (ASCII case ignored) is one of Docker Hub's names:
 * "docker.io", "index.docker.io" or "registry-1.docker.io". Else 0. */
int ref_is_docker_hub(const char *host);

/* "docker.io": the domain references on Docker Hub normalise to. */
const char *ref_docker_hub_domain(void);

/* The host to contact for domain's registry API: "registry-1.docker.io" for
 * "docker.io", else domain itself (not copied). */
const char *ref_domain_api_host(const char *domain);

/* The server name docker and its credential helpers store domain's
 * credentials under: "https://index.docker.io/v1/" for "docker.io", else
 * domain itself (not copied). */
const char *ref_domain_helper_server(const char *domain);

/* ref_parse() then ref_string(): *out is the malloc'd normalised string
 * (caller frees). Returns 0, or -1 with err set and *out NULL. */
int ref_normalize(const char *s, char **out, struct edge_err *err);

/* 1 when s is a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), else 0. */
int ref_valid_tag(const char *s);

/* 1 when s is a valid repository path: '/'-separated components of
 * [a-z0-9]+ joined by '.', '_', '__' or one or more '-'. Else 0. */
int ref_valid_path(const char *s);

/* 1 when s is a digest we accept: "sha256:" + 64 lowercase hex digits
 * (oci_digest_valid). Other algorithms, which the grammar allows, are
 * refused: edge checks what a registry sends against sha256 only, so a
 * sha512 pin would enforce nothing. Else 0. */
int ref_valid_digest(const char *s);

#endif
