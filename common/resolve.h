/*
 * edge-resolve's engine (SPEC §8 "edge-resolve rules"): reads cluster
 * profiles, expands Palette macros, checks the profile rules and lists every
 * image and chart the profiles need, each with the places it came from.
 */
#ifndef EDGE_RESOLVE_H
#define EDGE_RESOLVE_H

#include <jansson.h>
#include <stddef.h>
#include "err.h"

struct resolver;

/* vars: "NAME=VALUE" (--var), system: "KEY=VALUE" (--system), macros:
 * "NAME=VALUE" (--macro, {{.spectro.macro.NAME}}); copied. */
struct resolver *resolver_new(char **vars, size_t nvars, char **system, size_t nsystem,
			      char **macros, size_t nmacros,
			      struct edge_err *err);
void resolver_free(struct resolver *r);

/* Adds a profile document (borrowed reference is taken). source names it in
 * errors (a file or archive member). Returns 1 when doc is not a cluster
 * profile (nothing added), 0 when added, -1 on error (EDGE_EINPUT). */
int resolver_add_profile(struct resolver *r, json_t *doc, const char *source, struct edge_err *err);

/* Adds images from a list file: one ref a line with '#' comments, a YAML
 * list, or the skopeo-sync shape REGISTRY: {images: {REPO: [TAGS]}}. */
int resolver_add_image_list(struct resolver *r, const char *path, struct edge_err *err);
/* Adds one image reference (edge-pull REF...); its "from" is
 * {"list": source}. EDGE_EINPUT when it is not a valid reference. */
int resolver_add_image(struct resolver *r, const char *source, const char *ref, struct edge_err *err);
/* Adds charts from a list file: lines "REPO NAME VERSION" with '#'
 * comments, or YAML: a list of {repo, name, version} or {charts: [...]}. */
int resolver_add_chart_list(struct resolver *r, const char *path, struct edge_err *err);

/* Carries the entries of an earlier manifest (its images[] and charts[],
 * borrowed, copied) into the result: what the profiles and lists add is
 * merged into them (from[] grows), and nothing they hold is dropped. A
 * chart without ref gets the one its repo, name and version make.
 * EDGE_EINPUT when a chart has neither ref nor repo. */
int resolver_add_entries(struct resolver *r, json_t *images, json_t *charts, struct edge_err *err);

/* Number of profiles added. */
size_t resolver_profile_count(const struct resolver *r);

/* Checks the rules, expands every pack's images and charts and returns new
 * arrays sorted by ref (images, charts) and the profile summaries
 * [{uid,name,version,type}] in the order added. Warnings go to log_warn. */
int resolver_run(struct resolver *r, json_t **images, json_t **charts, json_t **profiles,
		 struct edge_err *err);

/* Where a chart lives as an OCI artifact: "HOST[/PATH]/NAME:VERSION" from an
 * http(s):// or oci:// repo. malloc'd; NULL with err on a bad repo. */
char *resolve_chart_ref(const char *repo, const char *name, const char *version,
			struct edge_err *err);

#endif
