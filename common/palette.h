/*
 * The Palette API client (SPEC §8, edge-fetchdef): builds the cluster
 * definition download request (profiles, pack values overrides), sends it,
 * checks the reply and writes the definition atomically. The tool keeps
 * option parsing; this module knows the API.
 */
#ifndef EDGE_PALETTE_H
#define EDGE_PALETTE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "http.h"

/* A pack's values override (--values UID:PACK=FILE): the API's
 * v1PackValuesEntity {name, values} in the profile's "packs". */
struct palette_values {
	char *uid;  /* the profile; NULL until the tool fills in the only one */
	char *pack;
	char *path; /* YAML, at most 4 MiB of UTF-8 text */
};

struct palette_request {
	const char *endpoint;      /* http:// or https:// URL (trailing '/' ignored) */
	const char *project;       /* project UID */
	const char *api_key;       /* one line, not empty */
	const char *name;          /* the cluster definition's name */
	char **profiles;           /* profile UIDs */
	size_t nprofiles;
	const char *profiles_text; /* the profiles as the user wrote them, for messages */
	const struct palette_values *values;
	size_t nvalues;
	const struct http_opts *http;
};

/* 1 when s is a Palette UID: 1 to 128 of [A-Za-z0-9_-]. */
int palette_valid_uid(const char *s);

/* Downloads the cluster definition rq asks for to path (atomically; nothing
 * is left there on failure), checks that it is one (a gzip tar of profiles),
 * and returns its "sha256:HEX" digest (digest: 72 bytes) and size. Errors:
 * EDGE_EINPUT (a values file), EDGE_EAUTH (the key refused), EDGE_EREMOTE
 * (an HTTP error or a reply that is no definition), EDGE_EIO (local I/O),
 * and the HTTP client's classes. */
int palette_fetch_definition(const struct palette_request *rq, const char *path, char *digest, uint64_t *size,
			     struct edge_err *err);

#endif
