/*
 * edge-resolve's engine on hostile input: cluster profiles (what the
 * Palette API or a definition hands over: packs, their values YAML,
 * registries, macros and variables), the cluster definition .tgz reader,
 * and the image and chart list files; then resolver_run, which expands
 * every pack's values and templates and lists the images and charts.
 *
 * First byte:
 *   bits 0-1  0: the rest is one or more profile JSON documents, split at
 *                NUL bytes, each added as edge-resolve adds a .json input;
 *             1: the rest is a definition .tgz (definition_read), each of
 *                its JSON members added as a profile;
 *             2: the rest is an image list file;
 *             3: the rest is a chart list file;
 *   bit 2     the resolver gets --var, --system and --macro values (some
 *             of them templates themselves), as a user's command line.
 *   bit 3     JSON and YAML get their memory budget without its slack (20
 *             times the text: jsonload.h), so that small documents are
 *             refused memory mid-parse too.
 * Invariants: every failure has an exit class and a one-line message; what
 * resolver_run lists is sorted by ref, each ref once, and every image ref
 * is a normalised reference (ref_normalize gives it back unchanged).
 */
#include <jansson.h>

#include "definition.h"
#include "fuzzutil.h"
#include "jsonload.h"
#include "ref.h"
#include "resolve.h"

static void check_err(const struct edge_err *err, const char *what)
{
	if (err->code == 0 || err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL) {
		fprintf(stderr, "%s: failure without a one-line message (code %d): \"%s\"\n", what, err->code,
			err->msg);
		abort();
	}
}

/* Sorted by ref, each ref once; image refs normalised. */
static void check_list(json_t *list, int images)
{
	const char *prev = NULL;
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *ref = json_string_value(json_object_get(e, "ref"));
		if (ref == NULL) {
			fprintf(stderr, "entry %zu has no ref\n", i);
			abort();
		}
		if (prev != NULL && strcmp(prev, ref) >= 0) {
			fprintf(stderr, "not sorted, or twice: \"%s\" then \"%s\"\n", prev, ref);
			abort();
		}
		if (images) {
			struct edge_err err = {0};
			char *norm = NULL;
			if (ref_normalize(ref, &norm, &err) != 0 || strcmp(norm, ref) != 0) {
				fprintf(stderr, "image ref \"%s\" is not normalised (\"%s\", %s)\n", ref,
					norm ? norm : "-", err.msg);
				abort();
			}
			free(norm);
		}
		prev = ref;
	}
}

static int add_profiles(struct resolver *r, const char *text, size_t len, const char *source,
			struct edge_err *err)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));
		json_error_t je;
		json_t *doc = json_loadb(p, n, 0, &je);
		if (doc != NULL) {
			int rc = resolver_add_profile(r, doc, source, err);
			json_decref(doc);
			if (rc < 0)
				return -1;
		}
		p += n + 1;
	}
	return 0;
}

static int add_definition(struct resolver *r, const uint8_t *data, size_t size, struct edge_err *err)
{
	const char *path = fz_write("def.tgz", data, size);
	struct definition d;
	size_t i;
	int rc = 0;

	if (definition_read(path, &d, err) != 0)
		return -1;
	for (i = 0; i < d.nfiles && rc == 0; i++) {
		if (d.files[i].data[d.files[i].len] != '\0') {
			fprintf(stderr, "definition member %s is not NUL-terminated\n", d.files[i].name);
			abort();
		}
		rc = add_profiles(r, d.files[i].data, d.files[i].len, d.files[i].name, err);
	}
	definition_free(&d);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *vars[] = {"registry={{ .spectro.system.cluster.name }}.example.com", "tag=1.2.3",
			       "empty="};
	static char *sys[] = {"cluster.name=edge-01", "kubernetes.version=1.29.5"};
	static char *macros[] = {"mirror=quay.io/mirror", "loop={{ .spectro.macro.loop }}"};
	struct edge_err err = {0};
	struct resolver *r;
	json_t *images = NULL, *charts = NULL, *profiles = NULL;
	char *text;
	int rc = 0, with = size > 0 && (data[0] & 4);

	if (size == 0)
		return 0;
	fz_dir();
	json_budget_set_slack((data[0] & 8) ? 0 : JSON_PARSE_SLACK);
	r = resolver_new(with ? vars : NULL, with ? 3 : 0, with ? sys : NULL, with ? 2 : 0, with ? macros : NULL,
			 with ? 2 : 0, &err);
	if (r == NULL) {
		check_err(&err, "resolver_new");
		json_budget_set_slack(JSON_PARSE_SLACK);
		return 0;
	}
	switch (data[0] & 3) {
	case 0:
		text = fz_strndup(data + 1, size - 1);
		rc = add_profiles(r, text, size - 1, "profile.json", &err);
		free(text);
		break;
	case 1:
		rc = add_definition(r, data + 1, size - 1, &err);
		break;
	case 2:
		rc = resolver_add_image_list(r, fz_write("images.txt", data + 1, size - 1), &err);
		break;
	default:
		rc = resolver_add_chart_list(r, fz_write("charts.txt", data + 1, size - 1), &err);
		break;
	}
	if (rc < 0) {
		check_err(&err, "adding the input");
	} else if (resolver_run(r, &images, &charts, &profiles, &err) != 0) {
		check_err(&err, "resolver_run");
	} else {
		check_list(images, 1);
		check_list(charts, 0);
	}
	json_decref(images);
	json_decref(charts);
	json_decref(profiles);
	resolver_free(r);
	json_budget_set_slack(JSON_PARSE_SLACK);
	return 0;
}
