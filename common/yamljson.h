/* YAML (libyaml) to JSON (jansson): pack values, Helm repo indexes, Chart.yaml. */
#ifndef EDGE_YAMLJSON_H
#define EDGE_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>
#include "err.h"

enum {
	/* Every scalar becomes a JSON string with its source text (no typing),
	 * except an explicit null (~, null, empty). Keeps "1.20" as "1.20". */
	YAML_SCALARS_AS_STRINGS = 1,
};

/* Most nodes (scalars, lists, maps) that aliases may add to a document,
 * counting each alias as the whole tree it stands for. */
#define YAML_MAX_ALIAS_NODES 1000000

/* Longest text of a mapping key (a key that is a mapping or a list is
 * serialised to JSON text): "a mapping key longer than 65536 bytes". */
#define YAML_MAX_KEY_TEXT 65536
#define YAML_MAX_KEY_TEXT_STR "65536"

/* Converts the first document of text into a new JSON value (null for an
 * empty document). Aliases are resolved: they share the anchored value, and
 * are bounded (at most 10000 alias uses, expanding to at most
 * YAML_MAX_ALIAS_NODES nodes in all: "aliases expand to more than 1000000
 * nodes"); nesting is at most 256 deep; merge keys "<<" are applied. Errors
 * are EDGE_EINPUT "line L, column C: reason". */
json_t *yaml_to_json(const char *text, size_t len, int flags, struct edge_err *err);

/* yaml_to_json(), and *more set to 1 when another document follows the
 * first ("---"), else 0. */
json_t *yaml_to_json_first(const char *text, size_t len, int flags, int *more,
			   struct edge_err *err);

#endif
