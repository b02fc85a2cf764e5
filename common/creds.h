/*
 * Registry credentials (SPEC §2, §8 "Shared registry options"): explicit
 * --username/--password-*, Palette's --cred-file, $REGISTRY_AUTH_FILE and
 * docker's config.json, with docker credential helpers. Secrets are copied
 * out of parsed files and wiped (explicit_bzero) when freed; nothing here
 * logs a password, a token or a helper's reply.
 *
 * Priority, highest first: explicit > Palette cred file > auth files in the
 * order loaded (cred_store_load_default: $REGISTRY_AUTH_FILE, else
 * $XDG_RUNTIME_DIR/containers/auth.json and ~/.config/containers/auth.json,
 * then docker's config.json). Within one auth file: credHelpers[HOST], then a static
 * auths[HOST] entry, then credsStore. A helper that has no credentials for
 * the host lets the search go on to the next source.
 */
#ifndef EDGE_CREDS_H
#define EDGE_CREDS_H

#include <stddef.h>

#include "err.h"

/* Both malloc'd. password may be a JSON text (GCR "_json_key"). */
struct cred {
	char *username;
	char *password;
};

enum cred_kind { CRED_IMAGE = 0, CRED_HELM = 1 };

/* Lookups are thread-safe (one mutex); loading is done before the threads. */
struct cred_store;

/* Never returns NULL (aborts on out-of-memory like xmalloc). */
struct cred_store *cred_store_new(void);
/* Wipes every secret, frees the store. NULL is fine. */
void cred_store_free(struct cred_store *s);

/* Explicit credentials (--username + --password-*) for one registry host
 * "HOST[:PORT]"; a scheme and a path after the host are ignored. Highest
 * priority; a second call for the same kind and host replaces the first.
 * user and pass are copied (NULL is taken as ""). */
void cred_store_add(struct cred_store *s, enum cred_kind kind, const char *host,
		    const char *user, const char *pass);

/* The same, with source saying where they came from in messages
 * ("--password-file FILE"; NULL: "explicit credentials"). */
void cred_store_add_named(struct cred_store *s, enum cred_kind kind, const char *host,
			  const char *user, const char *pass, const char *source);

/* Loads Palette's --cred-file:
 *   {"image":[{"endpoint","username","password"}…],"helm":[…]}
 * password may be a JSON object (GCR service account, username
 * "_json_key"): it is kept as its compact JSON text. Errors are EDGE_EINPUT
 * and name the file and the JSON path ("creds.json: image[2].endpoint:
 * missing", "creds.json:3:14: <jansson reason>"); a missing file is
 * EDGE_EINPUT too, other read errors EDGE_EIO. Warns when the file is
 * readable by others. Returns 0 or -1. */
int cred_store_load_palette(struct cred_store *s, const char *path, struct edge_err *err);

/* Loads a docker / containers auth file:
 *   {"auths":{"HOST":{"auth":"base64(user:pass)"} or {"username","password"}},
 *    "credHelpers":{"HOST":"NAME"}, "credsStore":"NAME"}
 * Keys may carry a scheme and a path ("https://index.docker.io/v1/").
 * Errors as for cred_store_load_palette (bad base64 included). */
int cred_store_load_auth_file(struct cred_store *s, const char *path, struct edge_err *err);

/* Loads the auth files in the order of containers-auth.json(5):
 * $REGISTRY_AUTH_FILE when set and not empty, else
 * $XDG_RUNTIME_DIR/containers/auth.json and then
 * $XDG_CONFIG_HOME/containers/auth.json (~/.config/containers/auth.json);
 * then $DOCKER_CONFIG/config.json (~/.docker/config.json when DOCKER_CONFIG
 * is unset). Missing files are skipped; a malformed one is an error. A file
 * other than $REGISTRY_AUTH_FILE that cannot be read is a warning (logged)
 * and skipped: the registries may need no credentials. */
int cred_store_load_default(struct cred_store *s, struct edge_err *err);

/* Finds credentials.
 * CRED_IMAGE: host_or_url is a registry host ("quay.io", "127.0.0.1:5000",
 * "docker.io"; a scheme or path is ignored). docker.io, index.docker.io,
 * registry-1.docker.io and "https://index.docker.io/v1/" are one registry.
 * CRED_HELM: host_or_url is a chart repository URL; an endpoint matches when
 * it equals the URL (scheme, query and trailing slashes ignored) or is a
 * prefix of it ending at a '/'; the longest match of the highest-priority
 * source wins. When no helm endpoint matches an "oci://" URL, the image
 * credentials of its host are used (helm's own registry login works so).
 * Credential helpers run as `docker-credential-NAME get` (PATH search, the
 * server on stdin, {"Username","Secret"} on stdout, 30 s limit, stderr
 * passed through); results are cached in the store for its lifetime.
 * Returns 0 and fills *out (free with cred_free), 1 when there are none, -1
 * with err (EDGE_EINPUT, naming the helper) when a helper fails. */
int cred_store_lookup(struct cred_store *s, enum cred_kind kind, const char *host_or_url,
		      struct cred *out, struct edge_err *err);

/* cred_store_lookup that also says, when it returns 0, where the
 * credentials came from ("--cred-file creds.json", "docker config
 * /home/u/.docker/config.json", "docker-credential-pass (docker config …)")
 * into from (fromlen bytes, cut short to fit; "" otherwise). */
int cred_store_lookup_from(struct cred_store *s, enum cred_kind kind, const char *host_or_url,
			   struct cred *out, char *from, size_t fromlen, struct edge_err *err);

/* Changes the helper time limit (default 30000 ms); for tests. */
void cred_store_set_helper_timeout(struct cred_store *s, int ms);

/* Wipes and frees both strings and sets them to NULL. NULL is fine. */
void cred_free(struct cred *c);

/* base64("user:pass") for a Basic Authorization header; malloc'd, the
 * caller wipes and frees it. */
char *cred_basic_token(const struct cred *c);

#endif
