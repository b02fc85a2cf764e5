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

/* Converts the first document of text into a new JSON value (null for an
 * empty document). Aliases are resolved (bounded: at most 10000 alias uses,
 * nesting at most 256 deep); merge keys "<<" are applied. Errors are
 * EDGE_EINPUT "line L, column C: reason". */
json_t *yaml_to_json(const char *text, size_t len, int flags, struct edge_err *err);

#endif
