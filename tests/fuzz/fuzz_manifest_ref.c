/*
 * The manifest reader (SPEC §3: manifest_parse and its schema checks) and
 * the image reference parser (ref_parse, ref_normalize).
 *
 * First byte, low bit: 0 = the rest is a manifest, 1 = a reference.
 * Invariants besides "no crash, no leak":
 *  - a failure sets an exit class and a one-line message;
 *  - a manifest that parses still parses after a dump and reload;
 *  - a reference that parses normalises to a fixed point, and its parts
 *    pass the module's own validators.
 */
#include <jansson.h>

#include "fuzzutil.h"
#include "manifest.h"
#include "ref.h"

static void check_err(const struct edge_err *err)
{
	if (err->code == 0 || err->msg[0] == '\0' || strpbrk(err->msg, "\r\n") != NULL) {
		fprintf(stderr, "bad error: code %d, message \"%s\"\n", err->code, err->msg);
		abort();
	}
}

/* manifest_parse_sniffed (edge-pack --base): a manifest, or no manifest
 * and no error; what it takes for a manifest, manifest_parse gives alike. */
static void fuzz_sniffed(const uint8_t *data, size_t size, json_t *parsed)
{
	struct edge_err err = {0};
	int is = -1;
	json_t *m = manifest_parse_sniffed((const char *)data, size, "fuzz.json", &is, &err);

	if (is != 0 && is != 1)
		abort();
	if (!is && (m != NULL || err.code != 0)) {
		fprintf(stderr, "not a manifest, yet a result or an error: %s\n", err.msg);
		abort();
	}
	if (is && m == NULL)
		check_err(&err);
	if (m != NULL && (parsed == NULL || !json_equal(m, parsed))) {
		fprintf(stderr, "manifest_parse_sniffed took what manifest_parse refused or read otherwise\n");
		abort();
	}
	if (parsed != NULL && json_is_string(json_object_get(parsed, "apiVersion")) &&
	    strcmp(json_string_value(json_object_get(parsed, "apiVersion")), MANIFEST_API_VERSION) == 0 && m == NULL) {
		fprintf(stderr, "manifest_parse_sniffed missed a manifest manifest_parse took\n");
		abort();
	}
	json_decref(m);
}

static void fuzz_manifest(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	json_t *m = manifest_parse((const char *)data, size, "fuzz.json", &err), *again;
	char *text;

	fuzz_sniffed(data, size, m);
	if (m == NULL) {
		check_err(&err);
		return;
	}
	text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		abort();
	again = manifest_parse(text, strlen(text), "fuzz.json", &err);
	if (again == NULL || !json_equal(m, again)) {
		fprintf(stderr, "a valid manifest does not survive a dump and reload: %s\n", err.msg);
		abort();
	}
	json_decref(again);
	free(text);
	json_decref(m);
}

static void fuzz_ref(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	struct edge_ref r = {0};
	char *s = fz_strndup(data, size), *norm = NULL, *norm2 = NULL, *repo;

	if (ref_parse(s, &r, &err) != 0) {
		check_err(&err);
		if (r.domain || r.path || r.tag || r.digest)
			abort(); /* documented: all NULL on failure */
		free(s);
		return;
	}
	if (!ref_valid_path(r.path) || (r.tag && !ref_valid_tag(r.tag)) || (r.digest && !ref_valid_digest(r.digest)) ||
	    (r.tag == NULL && r.digest == NULL))
		abort();
	norm = ref_string(&r);
	repo = ref_repository(&r);
	if (norm == NULL || repo == NULL || strncmp(norm, repo, strlen(repo)) != 0 || ref_api_host(&r) == NULL)
		abort();
	if (ref_normalize(norm, &norm2, &err) != 0 || strcmp(norm, norm2) != 0) {
		fprintf(stderr, "\"%s\" normalises to \"%s\", which normalises to \"%s\" (%s)\n", s, norm,
			norm2 ? norm2 : "(error)", err.msg);
		abort();
	}
	free(norm);
	free(norm2);
	free(repo);
	ref_free(&r);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fz_dir();
	if (data[0] & 1)
		fuzz_ref(data + 1, size - 1);
	else
		fuzz_manifest(data + 1, size - 1);
	return 0;
}
