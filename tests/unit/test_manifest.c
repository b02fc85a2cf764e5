/* Unit tests for common/manifest.c: the entry iterator (images[] then
 * charts[]), manifest_foreach_entry, and the accessors and setters the
 * tools use instead of field names. TAP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "tap.h"

#define H16 "0123456789abcdef"
#define D64 "sha256:" H16 H16 H16 H16
#define D64B "sha256:" H16 H16 H16 "fedcba9876543210"

static json_t *parse(const char *text)
{
	struct edge_err err = {0};
	json_t *m = manifest_parse(text, strlen(text), "t", &err);

	if (m == NULL)
		diag("parse: %s", err.msg);
	return m;
}

/* "kind:list[index]=ref" for every entry, joined by spaces. */
static void walk(json_t *m, char *out, size_t cap)
{
	struct manifest_iter it;
	size_t n = 0;

	out[0] = '\0';
	for (manifest_iter_init(&it, m); manifest_iter_next(&it);)
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%c:%s[%zu]=%s", n ? " " : "",
				      it.kind == MANIFEST_IMAGE ? 'i' : 'c', it.list, it.index,
				      manifest_entry_ref(it.entry) ? manifest_entry_ref(it.entry) : "-");
}

struct count {
	int calls, stop_at;
};

static int count_fn(const struct manifest_iter *it, void *ctx)
{
	struct count *c = ctx;

	(void)it;
	c->calls++;
	return c->calls == c->stop_at ? 7 : 0;
}

/* A manifest as text, key order included. */
static int text_is(json_t *m, const char *want)
{
	char *got = json_dumps(m, JSON_COMPACT);
	int same = got != NULL && strcmp(got, want) == 0;

	if (!same)
		diag("got  %s\n# want %s", got ? got : "(null)", want);
	free(got);
	return same;
}

static void test_iter(void)
{
	char buf[512];
	struct count c = {0, 0};
	json_t *m = parse("{\"apiVersion\":\"edge.manifest/v1\","
			  "\"charts\":[{\"name\":\"a\",\"version\":\"1\",\"ref\":\"r.io/c/a:1\"}],"
			  "\"images\":[{\"ref\":\"docker.io/library/x:1\"},{\"ref\":\"docker.io/library/y:2\"}]}");
	json_t *empty = manifest_new("e");
	json_t *charts_only = parse("{\"apiVersion\":\"edge.manifest/v1\",\"images\":[],"
				    "\"charts\":[{\"name\":\"a\",\"version\":\"1\"}]}");

	walk(m, buf, sizeof(buf));
	ok(strcmp(buf, "i:images[0]=docker.io/library/x:1 i:images[1]=docker.io/library/y:2 "
		       "c:charts[0]=r.io/c/a:1") == 0,
	   "images first, then charts, whatever the key order", buf, NULL);
	ok(manifest_entry_count(m) == 3, "manifest_entry_count", NULL, NULL);
	walk(empty, buf, sizeof(buf));
	ok(buf[0] == '\0' && manifest_entry_count(empty) == 0, "no lists: no entries", buf, "");
	walk(NULL, buf, sizeof(buf));
	ok(buf[0] == '\0', "a NULL manifest has no entries", buf, "");
	walk(charts_only, buf, sizeof(buf));
	ok(strcmp(buf, "c:charts[0]=-") == 0, "an empty images[] goes straight to charts", buf, "c:charts[0]=-");
	{
		json_t *odd = json_pack("{s:[i, {s:s}, s]}", "images", 1, "ref", "docker.io/library/z:1", "x");
		walk(odd, buf, sizeof(buf));
		ok(strcmp(buf, "i:images[1]=docker.io/library/z:1") == 0,
		   "entries that are not objects are skipped, the index still counts them", buf, NULL);
		json_decref(odd);
	}
	{
		struct manifest_iter it;
		manifest_iter_init(&it, m);
		while (manifest_iter_next(&it))
			;
		ok(!manifest_iter_next(&it) && it.entry == NULL, "the iterator stays at its end", NULL, NULL);
	}
	okf(manifest_foreach_entry(m, count_fn, &c) == 0 && c.calls == 3, "manifest_foreach_entry visits all 3");
	c = (struct count){0, 2};
	okf(manifest_foreach_entry(m, count_fn, &c) == 7 && c.calls == 2,
	    "manifest_foreach_entry stops at the callback's first non-zero result and returns it");
	json_decref(m);
	json_decref(empty);
	json_decref(charts_only);
}

static void test_entry_fields(void)
{
	json_t *m = parse("{\"apiVersion\":\"edge.manifest/v1\",\"images\":[{\"ref\":\"docker.io/library/x:1\","
			  "\"digest\":\"" D64 "\",\"sourceDigest\":\"" D64B "\",\"mediaType\":\"a/b\","
			  "\"platforms\":[\"linux/amd64\"]}],"
			  "\"charts\":[{\"name\":\"n\",\"version\":\"1.0\",\"repo\":\"https://c.io\"}]}");
	json_t *im = json_array_get(manifest_images(m), 0), *ch = json_array_get(manifest_charts(m), 0);

	ok(strcmp(manifest_entry_ref(im), "docker.io/library/x:1") == 0, "entry ref", manifest_entry_ref(im), NULL);
	ok(strcmp(manifest_entry_digest(im), D64) == 0, "entry digest", NULL, NULL);
	ok(strcmp(manifest_entry_source_digest(im), D64B) == 0, "entry sourceDigest", NULL, NULL);
	ok(strcmp(manifest_entry_media_type(im), "a/b") == 0, "entry mediaType", NULL, NULL);
	ok(json_array_size(manifest_entry_platforms(im)) == 1, "entry platforms", NULL, NULL);
	ok(manifest_entry_ref(ch) == NULL && manifest_entry_digest(ch) == NULL, "absent fields are NULL", NULL, NULL);
	ok(strcmp(manifest_entry_name(ch), "n") == 0 && strcmp(manifest_entry_version(ch), "1.0") == 0 &&
		   strcmp(manifest_entry_repo(ch), "https://c.io") == 0,
	   "chart name, version, repo", NULL, NULL);

	manifest_entry_set_ref(ch, "c.io/n:1.0");
	ok(strcmp(manifest_entry_ref(ch), "c.io/n:1.0") == 0, "manifest_entry_set_ref", NULL, NULL);
	manifest_entry_set_error(ch, "blob x: gone");
	ok(strcmp(manifest_entry_error(ch), "blob x: gone") == 0, "manifest_entry_set_error", NULL, NULL);
	manifest_entry_set_error(ch, NULL);
	ok(manifest_entry_error(ch) == NULL, "manifest_entry_set_error(NULL) deletes it", NULL, NULL);

	{
		json_t *pl = json_pack("[s]", "linux/arm64");
		manifest_entry_set_pulled(im, D64B, "", "c/d", 42, pl);
		ok(text_is(im, "{\"ref\":\"docker.io/library/x:1\",\"digest\":\"" D64B "\",\"mediaType\":\"c/d\","
			       "\"platforms\":[\"linux/arm64\"],\"size\":42}"),
		   "set_pulled: sourceDigest \"\" deleted, fields kept in place, size added", NULL, NULL);
		manifest_entry_set_pulled(ch, D64, D64B, "e/f", 7, NULL);
		ok(text_is(ch, "{\"name\":\"n\",\"version\":\"1.0\",\"repo\":\"https://c.io\",\"ref\":\"c.io/n:1.0\","
			       "\"digest\":\"" D64 "\",\"sourceDigest\":\"" D64B "\",\"mediaType\":\"e/f\",\"size\":7}"),
		   "set_pulled: no platforms, none set", NULL, NULL);
		json_decref(pl);
	}
	{
		struct edge_err err = {0};
		okf(manifest_validate(m, NULL, &err) == 0, "what the setters made still validates (%s)", err.msg);
	}
	json_decref(m);
}

static void test_new_entries(void)
{
	json_t *im = manifest_image_new("docker.io/library/x:1");
	json_t *ch = manifest_chart_new("n", "1", "https://c.io", "c.io/n:1");

	manifest_entry_add_from(im, manifest_from_pack("infra", "nginx", "pack.content.images"));
	manifest_entry_add_from(im, manifest_from_pack("infra", "nginx", "pack.content.images"));
	manifest_entry_add_from(im, manifest_from_list("images.txt", 3));
	ok(text_is(im, "{\"ref\":\"docker.io/library/x:1\",\"from\":[{\"profile\":\"infra\",\"pack\":\"nginx\","
		       "\"field\":\"pack.content.images\"},{\"list\":\"images.txt\",\"line\":3}]}"),
	   "an image, from[] without duplicates", NULL, NULL);
	manifest_entry_add_from(ch, manifest_from_list("charts.txt", 0));
	ok(text_is(ch, "{\"name\":\"n\",\"version\":\"1\",\"repo\":\"https://c.io\",\"ref\":\"c.io/n:1\","
		       "\"from\":[{\"list\":\"charts.txt\"}]}"),
	   "a chart; from a list without a line", NULL, NULL);
	json_decref(im);
	json_decref(ch);
}

static void test_top_level(void)
{
	json_t *m = manifest_new("site"), *def, *b, *p;
	struct edge_err err = {0};

	ok(strcmp(manifest_name(m), "site") == 0, "manifest_name", NULL, NULL);
	ok(manifest_store(m) == NULL && manifest_bundle(m) == NULL && manifest_definition(m) == NULL &&
		   manifest_platforms(m) == NULL,
	   "absent fields are NULL", NULL, NULL);
	okf(manifest_has_api_version(m) && !manifest_has_api_version(json_array_get(NULL, 0)),
	    "manifest_has_api_version");

	def = manifest_file_new("site.tgz", D64, 1234);
	p = json_array();
	json_array_append_new(p, manifest_profile_new("u1", NULL, NULL, NULL));
	manifest_definition_set_profiles(def, p);
	manifest_set_definition(m, def);
	ok(strcmp(manifest_file_path(manifest_definition(m)), "site.tgz") == 0 &&
		   strcmp(manifest_file_digest(manifest_definition(m)), D64) == 0,
	   "definition path and digest", NULL, NULL);
	ok(strcmp(manifest_profile_uid(json_array_get(manifest_definition_profiles(def), 0)), "u1") == 0,
	   "definition profiles", NULL, NULL);
	/* the path given may be the object's own */
	manifest_file_set(def, manifest_file_path(def), D64B, 99);
	ok(text_is(def, "{\"path\":\"site.tgz\",\"digest\":\"" D64B "\",\"size\":99,\"profiles\":[{\"uid\":\"u1\"}]}"),
	   "manifest_file_set with the object's own path", NULL, NULL);
	manifest_file_set(def, "other.tgz", D64, 1);
	ok(strcmp(manifest_file_path(def), "other.tgz") == 0, "manifest_file_set, a new path", NULL, NULL);

	manifest_set_name(m, "site2");
	manifest_set_store(m, "store");
	manifest_set_platforms(m, json_pack("[s]", "linux/amd64"));
	manifest_set_entries(m, json_pack("[o]", manifest_image_new("docker.io/library/x:1")), json_array());
	b = manifest_file_new("core-site.tar.zst", NULL, -1);
	ok(text_is(b, "{\"path\":\"core-site.tar.zst\"}"), "manifest_file_new without digest and size", NULL, NULL);
	manifest_file_set_parts(b, json_pack("[o]", manifest_file_new("core-site.tar.zst.000", D64, 5)));
	manifest_set_bundle(m, b);
	ok(strcmp(manifest_file_path(manifest_bundle(m)), "core-site.tar.zst") == 0 &&
		   json_array_size(manifest_file_parts(manifest_bundle(m))) == 1,
	   "bundle path and parts", NULL, NULL);
	manifest_put_signature(m, "core-site.tar.zst.minisig", "bundle", "ed25519", NULL);
	manifest_put_signature(m, "site.tgz.minisig", "definition", "ed25519", "ABCD");
	manifest_put_signature(m, "core-site.tar.zst.minisig", "bundle", "ed25519", "EF01");
	manifest_set_pushed(m, json_pack("[o]", manifest_pushed_new("docker.io/library/x:1", "r:5000/x:1", D64)));
	ok(strcmp(manifest_name(m), "site2") == 0 && strcmp(manifest_store(m), "store") == 0 &&
		   json_array_size(manifest_platforms(m)) == 1 && json_array_size(manifest_images(m)) == 1 &&
		   json_array_size(manifest_charts(m)) == 0,
	   "name, store, platforms, images, charts", NULL, NULL);
	ok(text_is(json_object_get(m, "signatures"),
		   "[{\"path\":\"core-site.tar.zst.minisig\",\"for\":\"bundle\",\"algorithm\":\"ed25519\",\"keyId\":\"EF01\"},"
		   "{\"path\":\"site.tgz.minisig\",\"for\":\"definition\",\"algorithm\":\"ed25519\",\"keyId\":\"ABCD\"}]"),
	   "signatures: one per sidecar, replaced in place", NULL, NULL);
	okf(manifest_validate(m, NULL, &err) == 0, "the built manifest validates (%s)", err.msg);
	manifest_clear_signatures(m);
	ok(json_array_size(json_object_get(m, "signatures")) == 0, "manifest_clear_signatures", NULL, NULL);
	manifest_drop_local(m);
	ok(text_is(m, "{\"apiVersion\":\"edge.manifest/v1\",\"name\":\"site2\",\"definition\":{\"path\":\"other.tgz\","
		      "\"digest\":\"" D64 "\",\"size\":1,\"profiles\":[{\"uid\":\"u1\"}]},\"platforms\":[\"linux/amd64\"],"
		      "\"images\":[{\"ref\":\"docker.io/library/x:1\",\"from\":[]}],\"charts\":[]}"),
	   "manifest_drop_local: no store, bundle, signatures, pushed", NULL, NULL);
	{
		json_t *pr = manifest_profile_new("u", "edge-infra", "1.0.0", "cluster");
		ok(text_is(pr, "{\"uid\":\"u\",\"name\":\"edge-infra\",\"version\":\"1.0.0\",\"type\":\"cluster\"}"),
		   "a full profile", NULL, NULL);
		json_decref(pr);
	}
	json_decref(m);
}

/* manifest_load_sniffed on a file holding text: what it says, and err's code. */
static json_t *sniffed(const char *dir, const char *text, int *is, struct edge_err *err)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/f.json", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return NULL;
	fputs(text, f);
	fclose(f);
	memset(err, 0, sizeof(*err));
	return manifest_load_sniffed(path, is, err);
}

static void test_load_sniffed(void)
{
	char dir[] = "/tmp/edge-test-manifest-XXXXXX", cmd[64];
	struct edge_err err;
	json_t *m;
	int is = -1;

	if (mkdtemp(dir) == NULL) {
		ok(0, "manifest_load_sniffed: a temp dir", NULL, NULL);
		return;
	}
	m = sniffed(dir, " {\"apiVersion\":\"edge.manifest/v1\",\"store\":\"s\",\"images\":[]}", &is, &err);
	ok(m != NULL && is == 1 && strcmp(manifest_store(m), "s") != 0 && strstr(manifest_store(m), "/s") != NULL,
	   "manifest_load_sniffed: a manifest, its paths rebased as manifest_load does", err.msg, NULL);
	json_decref(m);
	m = sniffed(dir, "{\"name\":\"b.tar.zst\",\"parts\":[]}", &is, &err);
	ok(m == NULL && is == 0 && err.code == 0, "manifest_load_sniffed: other JSON (a parts descriptor) is no manifest",
	   err.msg, NULL);
	m = sniffed(dir, "(\xb5/\xfd binary", &is, &err);
	ok(m == NULL && is == 0 && err.code == 0, "manifest_load_sniffed: a bundle is no manifest", err.msg, NULL);
	m = sniffed(dir, "{\"apiVersion\":\"edge.manifest/v1\",\"images\":[],\"images\":[]}", &is, &err);
	okf(m == NULL && is == 1 && err.code == EDGE_EINPUT && strstr(err.msg, "duplicate") != NULL,
	    "manifest_load_sniffed: a manifest with a key twice is one, refused as manifest_load refuses it (%s)",
	    err.msg);
	m = sniffed(dir, "{\"apiVersion\":\"edge.manifest/v1\",\"images\":7}", &is, &err);
	okf(m == NULL && is == 1 && err.code == EDGE_EINPUT, "manifest_load_sniffed: an invalid manifest is refused (%s)",
	    err.msg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

int main(void)
{
	test_iter();
	test_entry_fields();
	test_new_entries();
	test_top_level();
	test_load_sniffed();
	return done_testing();
}
