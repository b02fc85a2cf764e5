/*
 * YAML to JSON (yaml_to_json: pack values, Helm indexes, Chart.yaml) and
 * template expansion (tmpl_expand: Palette's macros).
 *
 * First byte: bit 0 selects the parser (0 YAML, 1 template); for YAML,
 * bit 1 asks for YAML_SCALARS_AS_STRINGS, and bit 2 a memory budget
 * without its slack (20 times the text: jsonload.h), so that jansson is
 * refused memory in the middle of small documents too. For a template the rest is
 * TEMPLATE NUL NAME=VALUE NUL NAME=VALUE ...: the variables the lookup
 * knows (a VALUE may itself hold templates, which are expanded in turn); a
 * variable named "fail" makes the lookup fail, as a broken pack would.
 * Invariants: a failure sets an exit class and a message; an expansion
 * without actions is the text itself.
 */
#include <jansson.h>

#include "fuzzutil.h"
#include "jsonload.h"
#include "tmpl.h"
#include "yamljson.h"

struct vars {
	const char *text; /* NAME=VALUE NUL ... */
	size_t len;
};

static int lookup(void *ctx, const char *path, char **out, struct edge_err *err)
{
	const struct vars *v = ctx;
	const char *p = v->text, *end = v->text + v->len;
	size_t n = strlen(path);

	if (strcmp(path, "fail") == 0)
		return edge_errf(err, EDGE_EINPUT, "lookup of .fail refused");
	while (p < end) {
		size_t l = strnlen(p, (size_t)(end - p));
		if (l > n && strncmp(p, path, n) == 0 && p[n] == '=') {
			*out = strndup(p + n + 1, l - n - 1);
			if (*out == NULL)
				abort();
			return 0;
		}
		p += l + 1;
	}
	return 1;
}

static void fuzz_yaml(const uint8_t *data, size_t size, int flags)
{
	struct edge_err err = {0};
	json_t *j = yaml_to_json((const char *)data, size, flags, &err);

	if (j == NULL && (err.code == 0 || err.msg[0] == '\0'))
		abort();
	json_decref(j);
}

static void fuzz_tmpl(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	char *in = fz_strndup(data, size), *out = NULL;
	size_t tl = strlen(in);
	struct vars v;

	v.text = in + tl + 1 <= in + size ? in + tl + 1 : in + size;
	v.len = size > tl ? size - tl - 1 : 0;
	if (tmpl_expand(in, lookup, &v, &out, &err) != 0) {
		if (out != NULL || err.code == 0 || err.msg[0] == '\0')
			abort();
	} else if (!tmpl_has_action(in) && strcmp(in, out) != 0) {
		fprintf(stderr, "text without actions changed: \"%s\" -> \"%s\"\n", in, out);
		abort();
	}
	free(out);
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fz_dir();
	if (data[0] & 1)
		fuzz_tmpl(data + 1, size - 1);
	else {
		json_budget_set_slack((data[0] & 4) ? 0 : JSON_PARSE_SLACK);
		fuzz_yaml(data + 1, size - 1, (data[0] & 2) ? YAML_SCALARS_AS_STRINGS : 0);
		json_budget_set_slack(JSON_PARSE_SLACK);
	}
	return 0;
}
