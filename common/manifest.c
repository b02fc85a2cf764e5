#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonload.h"
#include "oci.h"
#include "platform.h"
#include "ref.h"
#include "sha256.h"

json_t *manifest_new(const char *name)
{
	json_t *m = json_object();

	json_object_set_new(m, "apiVersion", json_string(MANIFEST_API_VERSION));
	if (name != NULL)
		manifest_set_name(m, name);
	return m;
}

const char *manifest_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int manifest_has_api_version(json_t *doc)
{
	return json_is_object(doc) && json_object_get(doc, "apiVersion") != NULL;
}

static json_t *obj_get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_object(v) ? v : NULL;
}

static void restore_paths(json_t *m);

static json_t *array_get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_array(v) ? v : NULL;
}

static void set_str(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, json_string(value));
}

const char *manifest_name(json_t *m)
{
	return manifest_str(m, "name");
}

void manifest_set_name(json_t *m, const char *name)
{
	set_str(m, "name", name);
}

const char *manifest_store(json_t *m)
{
	return manifest_str(m, "store");
}

void manifest_set_store(json_t *m, const char *dir)
{
	set_str(m, "store", dir);
}

json_t *manifest_platforms(json_t *m)
{
	return array_get(m, "platforms");
}

void manifest_set_platforms(json_t *m, json_t *platforms)
{
	json_object_set_new(m, "platforms", platforms);
}

json_t *manifest_images(json_t *m)
{
	return array_get(m, "images");
}

json_t *manifest_charts(json_t *m)
{
	return array_get(m, "charts");
}

void manifest_set_pushed(json_t *m, json_t *pushed)
{
	json_object_set_new(m, "pushed", pushed);
}

json_t *manifest_definition(json_t *m)
{
	return obj_get(m, "definition");
}

void manifest_set_definition(json_t *m, json_t *def)
{
	json_object_set_new(m, "definition", def);
}

json_t *manifest_bundle(json_t *m)
{
	return obj_get(m, "bundle");
}

void manifest_set_bundle(json_t *m, json_t *bundle)
{
	json_object_set_new(m, "bundle", bundle);
}

const char *manifest_file_path(json_t *file)
{
	return manifest_str(file, "path");
}

const char *manifest_file_digest(json_t *file)
{
	return manifest_str(file, "digest");
}

json_t *manifest_file_parts(json_t *file)
{
	return json_object_get(file, "parts");
}

void manifest_file_set_parts(json_t *file, json_t *parts)
{
	json_object_set_new(file, "parts", parts);
}

const char *manifest_definition_ref(json_t *def)
{
	return manifest_str(def, "ref");
}

json_t *manifest_definition_profiles(json_t *def)
{
	return json_object_get(def, "profiles");
}

void manifest_definition_set_profiles(json_t *def, json_t *profiles)
{
	json_object_set_new(def, "profiles", profiles);
}

const char *manifest_profile_uid(json_t *profile)
{
	return manifest_str(profile, "uid");
}

void manifest_set_entries(json_t *m, json_t *images, json_t *charts)
{
	json_object_set_new(m, "images", images);
	json_object_set_new(m, "charts", charts);
}

void manifest_drop_local(json_t *m)
{
	restore_paths(m); /* bundle.json: the paths as the manifest gave them */
	json_object_del(m, "store");
	json_object_del(m, "bundle");
	json_object_del(m, "signatures");
	json_object_del(m, "pushed");
}

size_t manifest_drop_outputs(json_t *m, char *names, size_t cap)
{
	static const char *const outputs[] = {"bundle", "signatures", "pushed"};
	size_t k, n = 0;

	if (cap > 0)
		names[0] = '\0';
	for (k = 0; k < sizeof(outputs) / sizeof(outputs[0]); k++) {
		size_t l = cap > 0 ? strlen(names) : 0;
		if (json_object_get(m, outputs[k]) == NULL)
			continue;
		if (cap > l)
			snprintf(names + l, cap - l, "%s%s", n ? ", " : "", outputs[k]);
		json_object_del(m, outputs[k]);
		n++;
	}
	return n;
}

json_t *manifest_file_new(const char *path, const char *digest, json_int_t size)
{
	json_t *f = json_object();

	set_str(f, "path", path);
	if (digest != NULL)
		set_str(f, "digest", digest);
	if (size >= 0)
		json_object_set_new(f, "size", json_integer(size));
	return f;
}

void manifest_file_set(json_t *file, const char *path, const char *digest, json_int_t size)
{
	const char *have = manifest_file_path(file);

	if (have == NULL || strcmp(have, path) != 0)
		set_str(file, "path", path);
	set_str(file, "digest", digest);
	json_object_set_new(file, "size", json_integer(size));
}

json_t *manifest_profile_new(const char *uid, const char *name, const char *version, const char *type)
{
	json_t *o = json_object();

	if (uid != NULL)
		set_str(o, "uid", uid);
	if (name != NULL)
		set_str(o, "name", name);
	if (version != NULL)
		set_str(o, "version", version);
	if (type != NULL)
		set_str(o, "type", type);
	return o;
}

void manifest_put_signature(json_t *m, const char *path, const char *what, const char *algorithm,
			    const char *key_id)
{
	json_t *sigs = array_get(m, "signatures"), *e, *old;
	size_t i;

	if (sigs == NULL) {
		sigs = json_array();
		json_object_set_new(m, "signatures", sigs);
	}
	e = json_pack("{s:s, s:s, s:s}", "path", path, "for", what, "algorithm", algorithm);
	if (key_id != NULL)
		set_str(e, "keyId", key_id);
	json_array_foreach(sigs, i, old) {
		const char *p = manifest_str(old, "path");
		if (p != NULL && strcmp(p, path) == 0) {
			json_array_set_new(sigs, i, e);
			return;
		}
	}
	json_array_append_new(sigs, e);
}

void manifest_clear_signatures(json_t *m)
{
	json_object_set_new(m, "signatures", json_array());
}

json_t *manifest_pushed_new(const char *ref, const char *target, const char *digest)
{
	return json_pack("{s:s, s:s, s:s}", "ref", ref, "target", target, "digest", digest);
}

/* --- entries --------------------------------------------------------------- */

static const char *const entry_lists[] = {"images", "charts"};

void manifest_iter_init(struct manifest_iter *it, json_t *m)
{
	memset(it, 0, sizeof(*it));
	it->m_ = m;
	it->kind = MANIFEST_IMAGE;
	it->list = entry_lists[MANIFEST_IMAGE];
}

int manifest_iter_next(struct manifest_iter *it)
{
	for (;;) {
		json_t *list = json_object_get(it->m_, it->list), *e;
		while (it->next_ < json_array_size(list)) {
			it->index = it->next_++;
			e = json_array_get(list, it->index);
			if (json_is_object(e)) {
				it->entry = e;
				return 1;
			}
		}
		if (it->kind == MANIFEST_CHART) {
			it->entry = NULL;
			return 0;
		}
		it->kind = MANIFEST_CHART;
		it->list = entry_lists[MANIFEST_CHART];
		it->next_ = 0;
	}
}

int manifest_foreach_entry(json_t *m, int (*fn)(const struct manifest_iter *it, void *ctx), void *ctx)
{
	struct manifest_iter it;
	int r;

	for (manifest_iter_init(&it, m); manifest_iter_next(&it);)
		if ((r = fn(&it, ctx)) != 0)
			return r;
	return 0;
}

size_t manifest_entry_count(json_t *m)
{
	return json_array_size(manifest_images(m)) + json_array_size(manifest_charts(m));
}

const char *manifest_entry_ref(json_t *e)
{
	return manifest_str(e, "ref");
}

const char *manifest_entry_digest(json_t *e)
{
	return manifest_str(e, "digest");
}

const char *manifest_entry_source_digest(json_t *e)
{
	return manifest_str(e, "sourceDigest");
}

const char *manifest_entry_media_type(json_t *e)
{
	return manifest_str(e, "mediaType");
}

json_t *manifest_entry_platforms(json_t *e)
{
	return array_get(e, "platforms");
}

const char *manifest_entry_name(json_t *e)
{
	return manifest_str(e, "name");
}

const char *manifest_entry_version(json_t *e)
{
	return manifest_str(e, "version");
}

const char *manifest_entry_repo(json_t *e)
{
	return manifest_str(e, "repo");
}

const char *manifest_entry_error(json_t *e)
{
	return manifest_str(e, "error");
}

void manifest_entry_set_ref(json_t *e, const char *ref)
{
	set_str(e, "ref", ref);
}

json_t *manifest_image_new(const char *ref)
{
	json_t *e = json_object();

	set_str(e, "ref", ref);
	json_object_set_new(e, "from", json_array());
	return e;
}

json_t *manifest_chart_new(const char *name, const char *version, const char *repo, const char *ref)
{
	json_t *e = json_object();

	set_str(e, "name", name);
	set_str(e, "version", version);
	set_str(e, "repo", repo);
	set_str(e, "ref", ref);
	json_object_set_new(e, "from", json_array());
	return e;
}

json_t *manifest_from_pack(const char *profile, const char *pack, const char *field)
{
	return json_pack("{s:s, s:s, s:s}", "profile", profile, "pack", pack, "field", field);
}

json_t *manifest_from_list(const char *path, size_t line)
{
	if (line > 0)
		return json_pack("{s:s, s:I}", "list", path, "line", (json_int_t)line);
	return json_pack("{s:s}", "list", path);
}

void manifest_entry_add_from(json_t *e, json_t *from)
{
	json_t *list = array_get(e, "from"), *f;
	size_t i;

	if (list == NULL) {
		list = json_array();
		json_object_set_new(e, "from", list);
	}
	json_array_foreach(list, i, f) {
		if (json_equal(f, from)) {
			json_decref(from);
			return;
		}
	}
	json_array_append_new(list, from);
}

void manifest_entry_set_error(json_t *e, const char *msg)
{
	if (msg != NULL)
		set_str(e, "error", msg);
	else
		json_object_del(e, "error");
}

void manifest_entry_set_pulled(json_t *e, const char *digest, const char *source_digest, const char *media_type,
			       json_int_t size, json_t *platforms)
{
	set_str(e, "digest", digest);
	if (source_digest != NULL && source_digest[0] != '\0')
		set_str(e, "sourceDigest", source_digest);
	else
		json_object_del(e, "sourceDigest");
	set_str(e, "mediaType", media_type);
	json_object_set_new(e, "size", json_integer(size));
	if (json_array_size(platforms) > 0)
		json_object_set(e, "platforms", platforms);
}

static int bad(struct edge_err *err, const char *path, const char *fmt, const char *detail)
{
	char reason[EDGE_ERR_MAX];

	snprintf(reason, sizeof(reason), fmt, detail ? detail : "");
	return edge_errf(err, EDGE_EINPUT, "%s: %s", path, reason);
}

static int check_string(json_t *obj, const char *key, const char *path, int required,
			struct edge_err *err)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", key);
	if (v == NULL)
		return required ? bad(err, p, "missing%s", NULL) : 0;
	if (!json_is_string(v))
		return bad(err, p, "expected a string%s", NULL);
	if (required && json_string_length(v) == 0)
		return bad(err, p, "empty string%s", NULL);
	return 0;
}

static int check_digest(json_t *obj, const char *key, const char *path, struct edge_err *err)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	if (v == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (!oci_digest_valid(json_string_value(v)))
		return bad(err, p, "expected \"sha256:\" and 64 lower-case hex digits%s", NULL);
	return 0;
}

static int check_size(json_t *obj, const char *key, const char *path, struct edge_err *err)
{
	json_t *v = json_object_get(obj, key);
	char p[256];

	if (v == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(err, p, "expected a non-negative integer%s", NULL);
	if (!oci_size_valid(v))
		return bad(err, p, "larger than any blob can be (4 TiB)%s", NULL);
	return 0;
}

static int check_media_type(json_t *obj, const char *key, const char *path, struct edge_err *err)
{
	json_t *v = json_object_get(obj, key);
	char p[256], q[128];

	if (v == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (!json_is_string(v))
		return bad(err, p, "expected a string%s", NULL);
	if (!oci_media_type_valid(json_string_value(v))) {
		oci_quote(q, sizeof(q), json_string_value(v));
		return bad(err, p, "\"%s\" is not a media type (RFC 6838 type/subtype)", q);
	}
	return 0;
}

static int check_array(json_t *m, const char *key, struct edge_err *err)
{
	json_t *v = json_object_get(m, key);

	if (v != NULL && !json_is_array(v))
		return bad(err, key, "expected an array%s", NULL);
	return 0;
}

static int check_platforms(json_t *v, const char *path, struct edge_err *err)
{
	size_t i;
	json_t *p;
	char pp[256];

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return bad(err, path, "expected an array%s", NULL);
	json_array_foreach(v, i, p) {
		struct platform pl;
		struct edge_err e;
		snprintf(pp, sizeof(pp), "%s[%zu]", path, i);
		if (!json_is_string(p))
			return bad(err, pp, "expected a string%s", NULL);
		if (platform_parse(json_string_value(p), &pl, &e) != 0)
			return bad(err, pp, "%s", e.msg);
	}
	return 0;
}

static int check_images(json_t *m, struct edge_err *err)
{
	json_t *arr = json_object_get(m, "images"), *im;
	size_t i;
	char path[64];

	if (arr == NULL)
		return 0;
	json_array_foreach(arr, i, im) {
		struct edge_ref r;
		struct edge_err e;
		snprintf(path, sizeof(path), "images[%zu]", i);
		if (!json_is_object(im))
			return bad(err, path, "expected an object%s", NULL);
		if (check_string(im, "ref", path, 1, err) != 0)
			return -1;
		if (ref_parse(json_string_value(json_object_get(im, "ref")), &r, &e) != 0) {
			char p[80];
			snprintf(p, sizeof(p), "%s.ref", path);
			return bad(err, p, "%s", e.msg);
		}
		ref_free(&r);
		if (check_digest(im, "digest", path, err) || check_digest(im, "sourceDigest", path, err) ||
		    check_size(im, "size", path, err) || check_media_type(im, "mediaType", path, err))
			return -1;
		if (json_object_get(im, "from") && !json_is_array(json_object_get(im, "from"))) {
			char p[80];
			snprintf(p, sizeof(p), "%s.from", path);
			return bad(err, p, "expected an array%s", NULL);
		}
		{
			char p[80];
			snprintf(p, sizeof(p), "%s.platforms", path);
			if (check_platforms(json_object_get(im, "platforms"), p, err) != 0)
				return -1;
		}
	}
	return 0;
}

static int check_charts(json_t *m, struct edge_err *err)
{
	json_t *arr = json_object_get(m, "charts"), *ch;
	size_t i;
	char path[64];

	if (arr == NULL)
		return 0;
	json_array_foreach(arr, i, ch) {
		snprintf(path, sizeof(path), "charts[%zu]", i);
		if (!json_is_object(ch))
			return bad(err, path, "expected an object%s", NULL);
		if (check_string(ch, "name", path, 1, err) || check_string(ch, "version", path, 1, err) ||
		    check_string(ch, "repo", path, 0, err) || check_string(ch, "ref", path, 0, err) ||
		    check_digest(ch, "digest", path, err) || check_size(ch, "size", path, err))
			return -1;
		if (json_object_get(ch, "ref") != NULL) {
			struct edge_ref r;
			struct edge_err e;
			if (ref_parse(json_string_value(json_object_get(ch, "ref")), &r, &e) != 0) {
				char p[80];
				snprintf(p, sizeof(p), "%s.ref", path);
				return bad(err, p, "%s", e.msg);
			}
			ref_free(&r);
		}
	}
	return 0;
}

static int check_file_obj(json_t *m, const char *key, struct edge_err *err)
{
	json_t *o = json_object_get(m, key);

	if (o == NULL)
		return 0;
	if (!json_is_object(o))
		return bad(err, key, "expected an object%s", NULL);
	if (check_string(o, "path", key, 1, err) || check_digest(o, "digest", key, err) ||
	    check_size(o, "size", key, err))
		return -1;
	return 0;
}

static int check_definition(json_t *m, struct edge_err *err)
{
	json_t *d = json_object_get(m, "definition"), *profiles, *p;
	size_t i;
	char path[64];

	if (d == NULL)
		return 0;
	if (check_file_obj(m, "definition", err) != 0)
		return -1;
	profiles = json_object_get(d, "profiles");
	if (profiles == NULL)
		return 0;
	if (!json_is_array(profiles))
		return bad(err, "definition.profiles", "expected an array%s", NULL);
	json_array_foreach(profiles, i, p) {
		snprintf(path, sizeof(path), "definition.profiles[%zu]", i);
		if (!json_is_object(p))
			return bad(err, path, "expected an object%s", NULL);
		if (check_string(p, "uid", path, 0, err) || check_string(p, "name", path, 0, err))
			return -1;
	}
	return 0;
}

static int validate(json_t *m, struct edge_err *err)
{
	json_t *api, *name;

	if (!json_is_object(m))
		return edge_errf(err, EDGE_EINPUT, "expected a JSON object");
	api = json_object_get(m, "apiVersion");
	if (api == NULL)
		return bad(err, "apiVersion", "missing (expected \"%s\")", MANIFEST_API_VERSION);
	if (!json_is_string(api) || strcmp(json_string_value(api), MANIFEST_API_VERSION) != 0)
		return edge_errf(err, EDGE_EINPUT, "apiVersion: expected \"%s\", got %s",
				 MANIFEST_API_VERSION,
				 json_is_string(api) ? json_string_value(api) : "a non-string");
	name = json_object_get(m, "name");
	if (name != NULL) {
		const char *s;
		if (!json_is_string(name))
			return bad(err, "name", "expected a string%s", NULL);
		s = json_string_value(name);
		if (s[0] == '\0' || strchr(s, '/') != NULL || s[0] == '.' || strlen(s) > 128)
			return bad(err, "name", "\"%s\" is not a valid name (no '/', no leading '.', at most 128 characters)", s);
	}
	if (check_platforms(json_object_get(m, "platforms"), "platforms", err) ||
	    check_array(m, "images", err) || check_array(m, "charts", err) ||
	    check_array(m, "signatures", err) || check_array(m, "pushed", err) ||
	    check_definition(m, err) || check_images(m, err) || check_charts(m, err) ||
	    check_string(m, "store", "", 0, err) || check_file_obj(m, "bundle", err))
		return -1;
	return 0;
}

int manifest_validate(json_t *m, const char *source, struct edge_err *err)
{
	if (validate(m, err) != 0) {
		if (source != NULL)
			edge_err_prefix(err, "%s", source);
		return -1;
	}
	return 0;
}

json_t *manifest_parse(const char *data, size_t len, const char *source, struct edge_err *err)
{
	json_error_t je;
	char place[32];
	json_t *m;
	size_t i;

	for (i = 0; i < len; i++)
		if (data[i] != ' ' && data[i] != '\n' && data[i] != '\t' && data[i] != '\r')
			break;
	if (i == len) {
		edge_errf(err, EDGE_EINPUT, "%s: empty input, expected a manifest", source);
		return NULL;
	}
	m = json_loadb_bounded(data, len, JSON_REJECT_DUPLICATES, &je);
	if (m == NULL) {
		edge_errf(err, EDGE_EINPUT, "%s%s: %s", source, json_error_place(&je, place, sizeof(place)), je.text);
		return NULL;
	}
	if (manifest_validate(m, source, err) != 0) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* dir + p for a relative, non-empty p; NULL otherwise. */
static char *rebased(const char *dir, const char *p)
{
	if (p == NULL || p[0] == '\0' || p[0] == '/')
		return NULL;
	if (strncmp(p, "./", 2) == 0)
		p += 2;
	return path_join(dir, p);
}

/* Every rebase this process made, so that what it prints (and what
 * edge-pack keeps in bundle.json) says what the manifest said: the
 * rewritten paths are for opening files. Kept until exit (a tool reads a
 * manifest or two). */
static struct rebase_rec {
	char *orig, *rebased;
} *g_rebased;
static size_t g_nrebased;

static void rebase_field(json_t *obj, const char *key, const char *dir)
{
	const char *orig = manifest_str(obj, key);
	char *p = rebased(dir, orig);

	if (p == NULL)
		return;
	g_rebased = xrealloc(g_rebased, (g_nrebased + 1) * sizeof(*g_rebased));
	g_rebased[g_nrebased].orig = xstrdup(orig);
	g_rebased[g_nrebased++].rebased = xstrdup(p);
	set_str(obj, key, p);
	free(p);
}

/* A rebased path, or one made from it (BUNDLE.minisig), as the manifest
 * gave it. */
static void restore_field(json_t *obj, const char *key)
{
	const char *v = manifest_str(obj, key);
	size_t i, l;

	for (i = 0; v != NULL && i < g_nrebased; i++) {
		l = strlen(g_rebased[i].rebased);
		if (strncmp(v, g_rebased[i].rebased, l) == 0 && (v[l] == '\0' || v[l] == '.')) {
			char *o = xasprintf("%s%s", g_rebased[i].orig, v + l);
			set_str(obj, key, o);
			free(o);
			return;
		}
	}
}

/* Undoes manifest_rebase_paths on m's path fields. */
static void restore_paths(json_t *m)
{
	json_t *x;
	size_t i;

	if (g_nrebased == 0)
		return;
	restore_field(m, "store");
	restore_field(manifest_definition(m), "path");
	restore_field(manifest_bundle(m), "path");
	json_array_foreach(manifest_file_parts(manifest_bundle(m)), i, x)
		restore_field(x, "path");
	json_array_foreach(array_get(m, "signatures"), i, x)
		restore_field(x, "path");
}

void manifest_rebase_paths(json_t *m, const char *manifest_path)
{
	const char *slash = manifest_path ? strrchr(manifest_path, '/') : NULL;
	json_t *parts, *x;
	char *dir;
	size_t i;

	if (slash == NULL)
		return; /* in the current directory: nothing changes */
	dir = slash == manifest_path ? xstrdup("/") : xstrndup(manifest_path, (size_t)(slash - manifest_path));
	rebase_field(m, "store", dir);
	rebase_field(manifest_definition(m), "path", dir);
	rebase_field(manifest_bundle(m), "path", dir);
	parts = manifest_file_parts(manifest_bundle(m));
	json_array_foreach(parts, i, x)
		rebase_field(x, "path", dir);
	json_array_foreach(array_get(m, "signatures"), i, x)
		rebase_field(x, "path", dir);
	free(dir);
}

int manifest_file_is_json(const char *path)
{
	/* a bundle of gigabytes is not read to find out: its first bytes are
	 * not "{" */
	char head[512];
	ssize_t n;
	size_t i;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0; /* a FIFO is not read from here: the tool reads it once */
	}
	n = read(fd, head, sizeof(head));
	close(fd);
	for (i = 0; n > 0 && i < (size_t)n && strchr(" \t\r\n", head[i]) != NULL; i++)
		;
	return n > 0 && i < (size_t)n && head[i] == '{';
}

static int is_edge_manifest(json_t *doc)
{
	return manifest_has_api_version(doc) && json_is_string(json_object_get(doc, "apiVersion")) &&
	       strcmp(manifest_str(doc, "apiVersion"), MANIFEST_API_VERSION) == 0;
}

/* path's text (NULL when it is not JSON-looking or cannot be read). */
static char *sniff_text(const char *path, size_t *len)
{
	struct edge_err e = {0};
	char *text = NULL;

	if (!manifest_file_is_json(path) || read_file_max(path, MANIFEST_MAX_BYTES, &text, len, &e) != 0)
		return NULL;
	return text;
}

int manifest_file_sniff(const char *path)
{
	size_t len;
	char *text = sniff_text(path, &len);
	json_t *doc = text ? json_loadb_bounded(text, len, 0, NULL) : NULL;
	int yes = is_edge_manifest(doc);

	free(text);
	json_decref(doc);
	return yes;
}

json_t *manifest_parse_sniffed(const char *text, size_t len, const char *source, int *is_manifest,
			       struct edge_err *err)
{
	json_t *doc = json_loadb_bounded(text, len, JSON_REJECT_DUPLICATES, NULL);

	*is_manifest = is_edge_manifest(doc);
	if (*is_manifest) {
		if (manifest_validate(doc, source, err) != 0) {
			json_decref(doc);
			doc = NULL;
		}
		return doc;
	}
	if (doc != NULL) {
		json_decref(doc); /* JSON, not a manifest */
		return NULL;
	}
	/* it did not parse: a manifest with a key twice gets manifest_parse's error */
	doc = json_loadb_bounded(text, len, 0, NULL);
	*is_manifest = is_edge_manifest(doc);
	json_decref(doc);
	return *is_manifest ? manifest_parse(text, len, source, err) : NULL;
}

json_t *manifest_load_sniffed(const char *path, int *is_manifest, struct edge_err *err)
{
	size_t len;
	char *text = sniff_text(path, &len);
	json_t *doc;

	*is_manifest = 0;
	if (text == NULL)
		return NULL;
	doc = manifest_parse_sniffed(text, len, path, is_manifest, err);
	free(text);
	if (doc != NULL)
		manifest_rebase_paths(doc, path);
	return doc;
}

json_t *manifest_load(const char *path, struct edge_err *err)
{
	char *data = NULL;
	size_t len = 0;
	json_t *m;

	if (path == NULL || strcmp(path, "-") == 0) {
		if (read_fd_max(0, "stdin", MANIFEST_MAX_BYTES, &data, &len, err) != 0)
			return NULL;
		path = "stdin";
	} else if (read_file_max(path, MANIFEST_MAX_BYTES, &data, &len, err) != 0) {
		if (err->code == EDGE_EIO)
			err->code = EDGE_EINPUT;
		return NULL;
	}
	m = manifest_parse(data, len, path, err);
	free(data);
	if (m != NULL && strcmp(path, "stdin") != 0)
		manifest_rebase_paths(m, path);
	return m;
}

char *manifest_text(json_t *m, size_t *len, struct edge_err *err)
{
	json_t *out = json_deep_copy(m);
	char *text;

	restore_paths(out); /* the paths as the manifest gave them */
	text = json_dumps(out, JSON_INDENT(2));
	json_decref(out);

	if (text == NULL) {
		edge_errf(err, EDGE_EIO, "manifest: cannot serialise");
		return NULL;
	}
	*len = strlen(text);
	text = xrealloc(text, *len + 2);
	text[(*len)++] = '\n';
	text[*len] = '\0';
	return text;
}

int manifest_write(json_t *m, const char *path, struct edge_err *err)
{
	size_t len;
	char *text = manifest_text(m, &len, err);
	int rc;

	if (text == NULL)
		return -1;
	rc = atomic_write_file(path, text, len, 0644, err);
	free(text);
	return rc;
}
