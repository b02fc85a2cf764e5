/* Unit tests for common/oci.c: digests, media types, sizes, descriptors and
 * the shape of manifests and indexes, as read from hostile JSON. TAP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"
#include "store.h"
#include "tap.h"

#define H16 "0123456789abcdef"
#define H64 H16 H16 H16 H16
#define D64 "sha256:" H64

static void desc_case(const char *desc, const char *json, const char *want_err)
{
	json_error_t je;
	json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
	struct edge_err err = {0};
	struct oci_desc d;
	int rc;

	if (j == NULL) {
		ok(0, desc, je.text, "valid test JSON");
		return;
	}
	rc = oci_desc_read(j, &d, EDGE_EVERIFY, "t", &err);
	if (want_err == NULL)
		ok(rc == 0 && strcmp(d.digest, D64) == 0 && d.size >= 0, desc, err.msg, "(valid)");
	else
		ok(rc == -1 && err.code == EDGE_EVERIFY && strcmp(err.msg, want_err) == 0, desc,
		   rc == 0 ? "(valid)" : err.msg, want_err);
	json_decref(j);
}

static void doc_case(const char *desc, const char *json, int want_kind, const char *want_mt, const char *want_err)
{
	json_error_t je;
	json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
	struct edge_err err = {0};
	const char *mt = NULL;
	int kind;

	if (j == NULL) {
		ok(0, desc, je.text, "valid test JSON");
		return;
	}
	kind = oci_doc_check(j, &mt, EDGE_EREMOTE, "m", &err);
	if (want_err == NULL)
		ok(kind == want_kind && mt != NULL && strcmp(mt, want_mt) == 0, desc, kind < 0 ? err.msg : mt, want_mt);
	else
		ok(kind == -1 && err.code == EDGE_EREMOTE && strcmp(err.msg, want_err) == 0, desc,
		   kind >= 0 ? "(valid)" : err.msg, want_err);
	json_decref(j);
}

/* store_read_json: the digest checked, objects only, and with the cache
 * on, one read and parse per digest. */
static void test_read_json(void)
{
	char dir[] = "/tmp/edge-test-oci-XXXXXX", d1[72], d2[72], bad[72], *p, cmd[64];
	const char *man = "{\"schemaVersion\":2}";
	struct edge_err err = {0};
	struct store s;
	json_t *a, *b, *c;
	FILE *f;

	if (mkdtemp(dir) == NULL || store_open(&s, dir, 1, 0, &err) != 0 ||
	    store_put_blob(&s, man, strlen(man), NULL, d1, &err) != 0 ||
	    store_put_blob(&s, "[1]", 3, NULL, d2, &err) != 0 ||
	    store_put_blob(&s, "{}", 2, NULL, bad, &err) != 0) {
		ok(0, "store_read_json: a test store", err.msg, NULL);
		return;
	}
	a = store_read_json(&s, d1, &err);
	b = store_read_json(&s, d1, &err);
	ok(a != NULL && b != NULL && a != b && json_equal(a, b), "store_read_json: without the cache, each read parses",
	   err.msg, NULL);
	json_decref(a);
	json_decref(b);
	store_cache_docs(&s, 1);
	a = store_read_json(&s, d1, &err);
	b = store_read_json(&s, d1, &err);
	ok(a != NULL && a == b, "store_read_json: with the cache, one document per digest", NULL, NULL);
	json_decref(b);
	store_cache_docs(&s, 0);
	c = store_read_json(&s, d1, &err);
	ok(c != NULL && c != a && json_integer_value(json_object_get(a, "schemaVersion")) == 2,
	   "store_cache_docs(0) drops the cache; documents given out stay valid", NULL, NULL);
	json_decref(a);
	json_decref(c);
	edge_err_clear(&err);
	a = store_read_json(&s, d2, &err);
	okf(a == NULL && err.code == EDGE_EINPUT && strstr(err.msg, "is not JSON") != NULL,
	    "store_read_json: an array is not a manifest (%s)", err.msg);
	/* a blob edited by hand: refused, also when the cache is on */
	p = store_blob_path(&s, bad);
	f = fopen(p, "w");
	if (f != NULL) {
		fputs("{\"x\"}", f);
		fclose(f);
	}
	free(p);
	store_cache_docs(&s, 1);
	edge_err_clear(&err);
	a = store_read_json(&s, bad, &err);
	okf(a == NULL && err.code == EDGE_EVERIFY, "store_read_json: a corrupt blob is refused (%s)", err.msg);
	store_close(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

#define LAYER "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D64 "\",\"size\":3}"
#define CONFIG "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D64 "\",\"size\":2}"

int main(void)
{
	char q[16], big[300];

	plan(51);
	test_read_json();
	/* digests */
	ok(oci_digest_valid(D64), "sha256 digest", NULL, NULL);
	ok(!oci_digest_valid(NULL), "no digest", NULL, NULL);
	ok(!oci_digest_valid("x"), "a short digest is not read past its end", NULL, NULL);
	ok(!oci_digest_valid("sha256:"), "empty hex", NULL, NULL);
	ok(!oci_digest_valid("sha256:" H16), "short hex", NULL, NULL);
	ok(!oci_digest_valid(D64 "0"), "long hex", NULL, NULL);
	ok(!oci_digest_valid("sha256:0123456789ABCDEF" H16 H16 H16), "upper-case hex", NULL, NULL);
	ok(!oci_digest_valid("sha512:" H64 H64), "sha512 is refused, never trusted", NULL, NULL);
	ok(!oci_digest_valid("SHA256:" H64), "upper-case algorithm", NULL, NULL);
	/* media types (RFC 6838) */
	ok(oci_media_type_valid(MT_OCI_MANIFEST) && oci_media_type_valid(MT_HELM_CHART) &&
		   oci_media_type_valid("application/vnd.docker.image.rootfs.diff.tar.gzip") &&
		   oci_media_type_valid("a/b") && oci_media_type_valid("x-Type/s!#$&^_.+-"),
	   "media types of the registries and RFC 6838 names", NULL, NULL);
	ok(!oci_media_type_valid(MT_OCI_MANIFEST "\r\nX-Injected: yes"), "CR LF refused", NULL, NULL);
	ok(!oci_media_type_valid(MT_OCI_MANIFEST "\n"), "a trailing LF refused", NULL, NULL);
	ok(!oci_media_type_valid("application/json; charset=utf-8"), "parameters refused", NULL, NULL);
	ok(!oci_media_type_valid("application") && !oci_media_type_valid("/json") && !oci_media_type_valid("application/") &&
		   !oci_media_type_valid("a/b/c") && !oci_media_type_valid("") && !oci_media_type_valid(NULL),
	   "no type, no subtype, two slashes, empty, NULL", NULL, NULL);
	ok(!oci_media_type_valid(".a/b") && !oci_media_type_valid("a/+b") && !oci_media_type_valid("a b/c") &&
		   !oci_media_type_valid("a/b\x7f") && !oci_media_type_valid("a/\xc3\xa9"),
	   "a name starts with a letter or digit; no space, DEL or UTF-8", NULL, NULL);
	memset(big, 'a', 127);
	strcpy(big + 127, "/b");
	ok(oci_media_type_valid(big), "a 127-character type", NULL, NULL);
	memset(big, 'a', 128);
	strcpy(big + 128, "/b");
	ok(!oci_media_type_valid(big), "a 128-character type refused", NULL, NULL);
	/* sizes */
	{
		json_t *a = json_integer(0), *b = json_integer(OCI_SIZE_MAX), *c = json_integer(-1),
		       *d = json_integer(OCI_SIZE_MAX + 1), *e = json_real(1.0), *f = json_string("1");
		ok(oci_size_valid(a) && oci_size_valid(b), "sizes 0 and the bound", NULL, NULL);
		ok(!oci_size_valid(c) && !oci_size_valid(d) && !oci_size_valid(e) && !oci_size_valid(f) &&
			   !oci_size_valid(NULL),
		   "negative, too large, real, string, absent", NULL, NULL);
		json_decref(a), json_decref(b), json_decref(c), json_decref(d), json_decref(e), json_decref(f);
	}
	/* descriptors */
	desc_case("a layer descriptor", LAYER, NULL);
	desc_case("no mediaType is allowed", "{\"digest\":\"" D64 "\",\"size\":0}", NULL);
	desc_case("not an object", "[1]", "t: expected a descriptor (an object)");
	desc_case("no digest", "{\"size\":1,\"urls\":[\"http://x/y\"]}", "t: no digest");
	desc_case("a short digest", "{\"digest\":\"x\",\"size\":1}",
		  "t: digest \"x\": expected \"sha256:\" and 64 lower-case hex digits");
	desc_case("a digest that is not a string", "{\"digest\":7,\"size\":1}",
		  "t: digest \"(not a string)\": expected \"sha256:\" and 64 lower-case hex digits");
	desc_case("a CR LF media type, escaped in the message",
		  "{\"mediaType\":\"a/b\\r\\nX: y\",\"digest\":\"" D64 "\",\"size\":1}",
		  "t: media type \"a/b\\x0d\\x0aX: y\" is not a type/subtype (RFC 6838)");
	desc_case("no size", "{\"digest\":\"" D64 "\"}", "t: no size");
	desc_case("a negative size", "{\"digest\":\"" D64 "\",\"size\":-1}", "t: size -1 is not a byte count");
	desc_case("a size of 8 EiB", "{\"digest\":\"" D64 "\",\"size\":9223372036854775807}",
		  "t: size 9223372036854775807 is not a byte count");
	desc_case("a size that is a string", "{\"digest\":\"" D64 "\",\"size\":\"1\"}", "t: size 1 is not a byte count");
	desc_case("urls not strings", "{\"digest\":\"" D64 "\",\"size\":1,\"urls\":[1]}", "t: urls: expected strings");
	desc_case("an annotation that is not a string", "{\"digest\":\"" D64 "\",\"size\":1,\"annotations\":{\"k\":1}}",
		  "t: annotation \"k\": expected a string");
	/* documents */
	doc_case("an OCI manifest", "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":" CONFIG
				    ",\"layers\":[" LAYER "]}",
		 OCI_KIND_MANIFEST, MT_OCI_MANIFEST, NULL);
	doc_case("a Docker list", "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":[" LAYER "]}",
		 OCI_KIND_INDEX, MT_DOCKER_LIST, NULL);
	doc_case("an index told by its shape", "{\"schemaVersion\":2,\"manifests\":[]}", OCI_KIND_INDEX, MT_OCI_INDEX, NULL);
	doc_case("a child manifest with a CR LF media type",
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\\r\\nX-Injected: yes\",\"config\":" CONFIG
		 ",\"layers\":[]}",
		 0, NULL, "m: media type \"" MT_OCI_MANIFEST "\\x0d\\x0aX-Injected: yes\" is not a type/subtype (RFC 6838)");
	doc_case("a foreign layer with a short digest",
		 "{\"schemaVersion\":2,\"config\":" CONFIG ",\"layers\":[" LAYER
		 ",{\"digest\":\"x\",\"size\":1,\"urls\":[\"http://x/y\"]}]}",
		 0, NULL, "m: layers[1]: digest \"x\": expected \"sha256:\" and 64 lower-case hex digits");
	doc_case("an index child without a digest", "{\"schemaVersion\":2,\"manifests\":[{\"size\":1}]}", 0, NULL,
		 "m: manifests[0]: no digest");
	doc_case("an unknown manifest type", "{\"schemaVersion\":2,\"mediaType\":\"application/json\",\"config\":" CONFIG
					     ",\"layers\":[]}",
		 0, NULL, "m: unsupported manifest type \"application/json\"");
	doc_case("schema 1", "{\"schemaVersion\":1,\"fsLayers\":[]}", 0, NULL, "m: schemaVersion 1: expected 2");
	doc_case("layers not an array", "{\"schemaVersion\":2,\"config\":" CONFIG ",\"layers\":{}}", 0, NULL,
		 "m: layers: expected an array");
	/* messages stay one line and short */
	oci_quote(q, sizeof(q), "ab\r\ncdefghijkl");
	ok(strcmp(q, "ab\\x0d\\x0acd...") == 0, "quote: escaped and cut", q, "ab\\x0d\\x0acd...");
	/* media types and the image-config test (moved here from registry.c
	 * and bundle.c), the blob file-name check */
	ok(oci_hex64_valid(H64) && !oci_hex64_valid(H64 "0") && !oci_hex64_valid("0123") &&
		   !oci_hex64_valid("0123456789ABCDEF" H16 H16 H16),
	   "hex64: exactly 64 lower-case hex digits", NULL, NULL);
	{
		json_t *a = json_loads("{\"schemaVersion\":1}", 0, NULL), *b = json_loads("{\"manifests\":[]}", 0, NULL);
		json_t *c = json_loads("{\"config\":{}}", 0, NULL), *d = json_loads("{}", 0, NULL);
		json_t *h = json_loads("{\"config\":{\"mediaType\":\"" MT_HELM_CONFIG "\"}}", 0, NULL);
		json_t *o = json_loads("{\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\"}}", 0, NULL);
		ok(strcmp(manifest_media_type(a), MT_DOCKER_SCHEMA1) == 0 && strcmp(manifest_media_type(b), MT_OCI_INDEX) == 0 &&
			   strcmp(manifest_media_type(c), MT_OCI_MANIFEST) == 0 && strcmp(manifest_media_type(d), "") == 0,
		   "manifest_media_type: schema 1, and OCI's by shape", NULL, NULL);
		ok(media_type_is_index(MT_DOCKER_LIST) && media_type_is_index(MT_OCI_INDEX) &&
			   !media_type_is_index(MT_OCI_MANIFEST) && media_type_is_manifest(MT_DOCKER_MANIFEST) &&
			   media_type_is_manifest(MT_OCI_MANIFEST) && !media_type_is_manifest(MT_DOCKER_SCHEMA1),
		   "media_type_is_index, media_type_is_manifest", NULL, NULL);
		ok(oci_is_image_config(c) && oci_is_image_config(o) && !oci_is_image_config(h),
		   "oci_is_image_config: an image, not a Helm chart", NULL, NULL);
		json_decref(a);
		json_decref(b);
		json_decref(c);
		json_decref(d);
		json_decref(h);
		json_decref(o);
	}
	return done_testing();
}
