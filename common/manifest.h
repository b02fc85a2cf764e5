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

/* Reads path, or stdin when path is NULL or "-", then manifest_parse. A
 * manifest read from a file has its relative paths rebased onto the file's
 * directory (manifest_rebase_paths); from stdin they stay relative to the
 * current directory. */
json_t *manifest_load(const char *path, struct edge_err *err);

/* The paths of a manifest read from manifest_path are relative to that
 * file's directory: store, definition.path, bundle.path, bundle.parts[].path
 * and signatures[].path are rewritten as seen from the current directory
 * (absolute ones, and all of them for a manifest in ".", stay), so that
 * tools open the right files. manifest_text and manifest_drop_local put
 * them back as the manifest gave them (and paths made from them, such as
 * BUNDLE.minisig, alike): what a tool prints, and bundle.json, do not
 * depend on the directory it ran in. */
void manifest_rebase_paths(json_t *m, const char *manifest_path);

/* 1 when path is a readable JSON file whose apiVersion is
 * "edge.manifest/v1" (whatever else it holds), 0 otherwise: for tools that
 * take files of any kind and must not mistake a manifest for one. */
int manifest_file_sniff(const char *path);
/* The same test, and the manifest as manifest_load gives it (*is_manifest
 * 1; NULL with err when it is not a valid one), from one read of path. Not
 * a manifest: NULL, *is_manifest 0, err untouched. */
json_t *manifest_load_sniffed(const char *path, int *is_manifest, struct edge_err *err);
/* Its core, on text already read (source names it in errors; no path is
 * rebased). */
json_t *manifest_parse_sniffed(const char *text, size_t len, const char *source, int *is_manifest,
			       struct edge_err *err);
/* 1 when path is a regular file whose first non-blank byte is "{" (its
 * first 512 bytes are read): JSON, perhaps a manifest; not a bundle. */
int manifest_file_is_json(const char *path);

/* 1 when doc is an object with an apiVersion: meant as a manifest (valid
 * or not), rather than a cluster profile. */
int manifest_has_api_version(json_t *doc);

/* Checks apiVersion and the shape of every known field. source may be NULL. */
int manifest_validate(json_t *m, const char *source, struct edge_err *err);

/* The manifest as pretty JSON (2-space indent, newline-terminated), *len
 * bytes; malloc'd, the caller frees it. NULL with err when it cannot be
 * serialised. Where it goes (stdout) is the front end's choice. */
char *manifest_text(json_t *m, size_t *len, struct edge_err *err);

/* Writes manifest_text atomically to path. */
int manifest_write(json_t *m, const char *path, struct edge_err *err);

/* --- reading and setting fields ---------------------------------------------
 * Getters return borrowed values, NULL when the field is absent or of
 * another type (a validated manifest has the right types). Setters that
 * take a json_t * steal the reference, like json_object_set_new; string
 * arguments are copied. */

/* Convenience getters: NULL when absent or not a string. */
const char *manifest_str(json_t *obj, const char *key);

const char *manifest_name(json_t *m);
void manifest_set_name(json_t *m, const char *name);
/* The store directory edge-pull wrote (SPEC §4). */
const char *manifest_store(json_t *m);
void manifest_set_store(json_t *m, const char *dir);
/* platforms: an array of "os/arch[/variant]" strings. */
json_t *manifest_platforms(json_t *m);
void manifest_set_platforms(json_t *m, json_t *platforms);
/* images[] and charts[], set together by edge-resolve. */
json_t *manifest_images(json_t *m);
json_t *manifest_charts(json_t *m);
void manifest_set_entries(json_t *m, json_t *images, json_t *charts);
void manifest_set_pushed(json_t *m, json_t *pushed);
/* Deletes what is local to one site: store, bundle, signatures, pushed
 * (what bundle.json leaves out). */
void manifest_drop_local(json_t *m);

/* Deletes what edge-pack, edge-sign and edge-push added (bundle,
 * signatures, pushed), for a manifest whose entries changed since; names
 * gets those that were there, comma-separated. Returns how many. */
size_t manifest_drop_outputs(json_t *m, char *names, size_t cap);

/* The files the manifest names, "definition" and "bundle": objects
 * {path, digest, size, …}. */
json_t *manifest_definition(json_t *m);
void manifest_set_definition(json_t *m, json_t *def);
json_t *manifest_bundle(json_t *m);
void manifest_set_bundle(json_t *m, json_t *bundle);
/* A new {path, digest, size}: digest NULL and size < 0 are left out. */
json_t *manifest_file_new(const char *path, const char *digest, json_int_t size);
const char *manifest_file_path(json_t *file);
const char *manifest_file_digest(json_t *file);
/* Sets path (only when it differs, so path may point into file's own
 * "path"), digest and size, in that order. */
void manifest_file_set(json_t *file, const char *path, const char *digest, json_int_t size);
/* A split bundle's parts: [{path, digest, size}, …]. */
json_t *manifest_file_parts(json_t *file);
void manifest_file_set_parts(json_t *file, json_t *parts);
/* definition.ref: where edge-pull stored the definition (it is pulled like
 * an entry: manifest_entry_set_ref and _set_error work on it too). */
const char *manifest_definition_ref(json_t *def);
/* definition.profiles: [{uid, name, version, type}, …]. */
json_t *manifest_definition_profiles(json_t *def);
void manifest_definition_set_profiles(json_t *def, json_t *profiles);
/* A new profile {uid, name, version, type}; NULL fields are left out
 * (edge-fetchdef knows only the uid, edge-resolve the rest). */
json_t *manifest_profile_new(const char *uid, const char *name, const char *version, const char *type);
const char *manifest_profile_uid(json_t *profile);

/* Adds the signature of sidecar path to signatures[] (created when
 * missing), replacing an entry with the same path. what: "bundle" or
 * "definition"; key_id NULL is left out. */
void manifest_put_signature(json_t *m, const char *path, const char *what, const char *algorithm,
			    const char *key_id);
/* Replaces signatures[] with an empty list (kept in its place). */
void manifest_clear_signatures(json_t *m);
/* A new pushed[] entry {ref, target, digest}. */
json_t *manifest_pushed_new(const char *ref, const char *target, const char *digest);

/* --- entries: images[] then charts[] ----------------------------------------
 *
 *	struct manifest_iter it;
 *	for (manifest_iter_init(&it, m); manifest_iter_next(&it);)
 *		use(it.entry);   errors name it "%s[%zu]", it.list, it.index
 *
 * Entries that are not objects are skipped (a validated manifest has
 * none). The manifest must not gain or lose entries during the walk. */
enum manifest_kind { MANIFEST_IMAGE, MANIFEST_CHART };

struct manifest_iter {
	enum manifest_kind kind;
	const char *list;	/* "images" or "charts" */
	size_t index;		/* in that list */
	json_t *entry;		/* borrowed */
	json_t *m_;		/* private */
	size_t next_;
};

void manifest_iter_init(struct manifest_iter *it, json_t *m);
/* 1 with it->entry set, 0 after the last entry. */
int manifest_iter_next(struct manifest_iter *it);
/* Calls fn for every entry; stops at and returns fn's first non-zero
 * result, else 0. */
int manifest_foreach_entry(json_t *m, int (*fn)(const struct manifest_iter *it, void *ctx), void *ctx);
/* The number of entries (images and charts). */
size_t manifest_entry_count(json_t *m);

/* An entry's fields (SPEC §3): ref is set on every image and on charts
 * once resolved; digest, sourceDigest, mediaType, size and platforms by
 * edge-pull; name, version and repo on charts; error when pulling failed. */
const char *manifest_entry_ref(json_t *e);
const char *manifest_entry_digest(json_t *e);
const char *manifest_entry_source_digest(json_t *e);
const char *manifest_entry_media_type(json_t *e);
json_t *manifest_entry_platforms(json_t *e);
const char *manifest_entry_name(json_t *e);
const char *manifest_entry_version(json_t *e);
const char *manifest_entry_repo(json_t *e);
const char *manifest_entry_error(json_t *e);
/* A new image {ref, from: []}, and chart {name, version, repo, ref, from: []}. */
json_t *manifest_image_new(const char *ref);
json_t *manifest_chart_new(const char *name, const char *version, const char *repo, const char *ref);
/* A from[] entry: where an entry was found, a pack's field
 * {profile, pack, field}, or a list file {list, line} (line 0: left out). */
json_t *manifest_from_pack(const char *profile, const char *pack, const char *field);
json_t *manifest_from_list(const char *path, size_t line);
/* Appends from (stolen) to the entry's from[] unless an equal one is there. */
void manifest_entry_add_from(json_t *e, json_t *from);
void manifest_entry_set_ref(json_t *e, const char *ref);
/* Sets error, or deletes it when msg is NULL. */
void manifest_entry_set_error(json_t *e, const char *msg);
/* What edge-pull found: digest, sourceDigest (deleted when NULL or ""),
 * mediaType, size, and platforms when not empty (not stolen). */
void manifest_entry_set_pulled(json_t *e, const char *digest, const char *source_digest, const char *media_type,
			       json_int_t size, json_t *platforms);

#endif
