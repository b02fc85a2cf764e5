/* Unit tests for common/delta.c: a delta bundle's base member as read from
 * a hostile bundle.json (delta_base_check), and the omitted list's lookup.
 * TAP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "tap.h"

#define H16 "0123456789abcdef"
#define DA "sha256:" H16 H16 H16 "0123456789abcdea"
#define DB "sha256:" H16 H16 H16 "0123456789abcdeb"
#define DC "sha256:" H16 H16 H16 "0123456789abcdec"
#define BUNDLES "\"bundles\":[{\"name\":\"core-v1-0a1b2c3d4e5f.tar.zst\",\"digest\":\"" DA "\"}]"
#define OM(d, extra) "{\"digest\":\"" d "\",\"size\":10,\"base\":\"core-v1-0a1b2c3d4e5f.tar.zst\"" extra "}"

static void check_case(const char *desc, const char *json, const char *want_err)
{
	json_error_t je;
	json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
	struct edge_err err = {0};
	int rc;

	if (j == NULL) {
		ok(0, desc, je.text, "valid test JSON");
		return;
	}
	rc = delta_base_check(j, "d.tar.zst: bundle.json", &err);
	if (want_err == NULL)
		ok(rc == 0, desc, err.msg, "(valid)");
	else
		ok(rc == -1 && err.code == EDGE_EINPUT && strstr(err.msg, want_err) != NULL, desc,
		   rc == 0 ? "(valid)" : err.msg, want_err);
	json_decref(j);
}

int main(void)
{
	check_case("a base with two omitted blobs",
		   "{" BUNDLES ",\"omitted\":[" OM(DA, ",\"repository\":\"quay.io/kairos/core\"") "," OM(DB, "") "]}", NULL);
	check_case("nothing omitted", "{" BUNDLES ",\"omitted\":[]}", NULL);
	check_case("not an object", "[]", "d.tar.zst: bundle.json: base: expected an object");
	check_case("no bundles", "{\"omitted\":[]}", "base: bundles: expected an array of 1 to 1024 bases");
	check_case("empty bundles", "{\"bundles\":[],\"omitted\":[]}", "bundles: expected an array of 1 to 1024");
	check_case("a base name with a slash",
		   "{\"bundles\":[{\"name\":\"../x.tar.zst\",\"digest\":\"" DA "\"}],\"omitted\":[]}",
		   "bundles[0]: expected a file name and a sha256 digest");
	check_case("a base name with a control character",
		   "{\"bundles\":[{\"name\":\"x\\u001b[2J\",\"digest\":\"" DA "\"}],\"omitted\":[]}",
		   "bundles[0]: expected a file name");
	check_case("a base without digest", "{\"bundles\":[{\"name\":\"x\"}],\"omitted\":[]}",
		   "bundles[0]: expected a file name and a sha256 digest");
	check_case("omitted missing", "{" BUNDLES "}", "base: omitted: expected an array");
	check_case("omitted not sorted", "{" BUNDLES ",\"omitted\":[" OM(DB, "") "," OM(DA, "") "]}",
		   "omitted[1]: not sorted by digest, or listed twice");
	check_case("omitted twice", "{" BUNDLES ",\"omitted\":[" OM(DA, "") "," OM(DA, "") "]}",
		   "omitted[1]: not sorted by digest, or listed twice");
	check_case("a bad digest",
		   "{" BUNDLES ",\"omitted\":[{\"digest\":\"sha256:ABC\",\"size\":1,\"base\":\"core-v1-0a1b2c3d4e5f.tar.zst\"}]}",
		   "omitted[0]: expected a sha256 digest and a size");
	check_case("a negative size",
		   "{" BUNDLES ",\"omitted\":[{\"digest\":\"" DA "\",\"size\":-1,\"base\":\"core-v1-0a1b2c3d4e5f.tar.zst\"}]}",
		   "omitted[0]: expected a sha256 digest and a size");
	check_case("a base that bundles does not name",
		   "{" BUNDLES ",\"omitted\":[{\"digest\":\"" DA "\",\"size\":1,\"base\":\"other.tar.zst\"}]}",
		   "omitted[0]: its base is not one of base.bundles");
	check_case("a repository with a tag", "{" BUNDLES ",\"omitted\":[" OM(DA, ",\"repository\":\"quay.io/a/b:1\"") "]}",
		   "omitted[0]: repository is not a repository name");
	check_case("a repository not normalised", "{" BUNDLES ",\"omitted\":[" OM(DA, ",\"repository\":\"nginx\"") "]}",
		   "omitted[0]: repository is not a repository name");
	check_case("a repository not a string", "{" BUNDLES ",\"omitted\":[" OM(DA, ",\"repository\":7") "]}",
		   "omitted[0]: repository: expected a string");
	check_case("an omitted entry not an object", "{" BUNDLES ",\"omitted\":[7]}",
		   "omitted[0]: expected a sha256 digest and a size");
	{
		json_t *b = json_loads("{" BUNDLES ",\"omitted\":[" OM(DA, "") "," OM(DC, "") "]}", 0, NULL);
		json_t *a = delta_omitted_find(b, DA), *c = delta_omitted_find(b, DC);
		ok(a != NULL && c != NULL && delta_omitted_find(b, DB) == NULL &&
			   strcmp(json_string_value(json_object_get(c, "digest")), DC) == 0,
		   "delta_omitted_find: the listed ones, not another", NULL, NULL);
		json_decref(b);
	}
	{
		struct delta_base b;
		const char *base = NULL, *repo = NULL;
		delta_base_init(&b);
		ok(delta_base_lookup(&b, DA, &base, &repo) == -1, "delta_base_lookup: an empty base lists nothing", NULL,
		   NULL);
		delta_base_free(&b);
	}
	return done_testing();
}
