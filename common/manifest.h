/*
 * The edge.manifest/v1 document (SPEC §3): the only code that knows the
 * schema. A manifest is a jansson object; unknown fields are kept because
 * tools only ever set the fields they own.
 */
#ifndef EDGE_MANIFEST_H
#define EDGE_MANIFEST_H

#include <jansson.h>
#include <stddef.h>
#include "err.h"

#define MANIFEST_API_VERSION "edge.manifest/v1"
#define MANIFEST_MAX_BYTES (256u << 20)

/* A new manifest {"apiVersion": …, "name": name} (name may be NULL). */
json_t *manifest_new(const char *name);

/* Parses and validates JSON text; source names it in errors ("stdin",
 * a path). Errors: EDGE_EINPUT "SOURCE:LINE:COL: reason" for bad JSON,
 * "SOURCE: images[3].ref: reason" for schema errors. New reference. */
json_t *manifest_parse(const char *data, size_t len, const char *source, struct edge_err *err);

/* Reads path, or stdin when path is NULL or "-", then manifest_parse. */
json_t *manifest_load(const char *path, struct edge_err *err);

/* Checks apiVersion and the shape of every known field. source may be NULL. */
int manifest_validate(json_t *m, const char *source, struct edge_err *err);

/* The manifest as pretty JSON (2-space indent, newline-terminated), *len
 * bytes; malloc'd, the caller frees it. NULL with err when it cannot be
 * serialised. Where it goes (stdout) is the front end's choice. */
char *manifest_text(json_t *m, size_t *len, struct edge_err *err);

/* Writes manifest_text atomically to path. */
int manifest_write(json_t *m, const char *path, struct edge_err *err);

/* Convenience getters: NULL when absent or not a string. */
const char *manifest_str(json_t *obj, const char *key);

#endif
