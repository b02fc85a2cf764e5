/* Delta bundles: what the bases list (see delta.h). */
#include "delta.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "ref.h"
#include "sha256.h"

#define DELTA_MAX_DEPTH 4          /* index -> manifest; deeper nesting is refused */
#define DELTA_NAME_MAX 255

void delta_base_init(struct delta_base *b)
{
	b->bundles = json_array();
	b->blobs = json_object();
}

void delta_base_free(struct delta_base *b)
{
	json_decref(b->bundles);
	json_decref(b->blobs);
	b->bundles = b->blobs = NULL;
}

int64_t delta_base_lookup(const struct delta_base *b, const char *digest, const char **base, const char **repo)
{
	json_t *e = json_object_get(b->blobs, digest);

	if (e == NULL)
		return -1;
	if (base != NULL)
		*base = json_string_value(json_object_get(e, "base"));
	if (repo != NULL)
		*repo = json_string_value(json_object_get(e, "repository"));
	return (int64_t)json_integer_value(json_object_get(e, "size"));
}

/* The first base to list a blob keeps it; repo may be NULL (not known yet:
 * a later walk fills it in). */
static void base_put(struct delta_base *b, const char *digest, json_int_t size, const char *name, const char *repo)
{
	json_t *e = json_object_get(b->blobs, digest);

	if (e == NULL) {
		e = json_pack("{s:I, s:s}", "size", size, "base", name);
		json_object_set_new(b->blobs, digest, e);
	}
	if (repo != NULL && json_object_get(e, "repository") == NULL &&
	    strcmp(json_string_value(json_object_get(e, "base")), name) == 0)
		json_object_set_new(e, "repository", json_string(repo));
}

/* --- walking a base's trees ---------------------------------------------- */

/* Where a base's manifests are read from: a store or a bundle. */
struct src {
	struct store *store;
	struct bundle_reader *br;
	const char *what; /* the base, for errors */
};

static json_t *src_json(struct src *s, const char *ref, const char *digest, struct edge_err *err)
{
	char *data = NULL, name[96];
	size_t len = 0;
	json_t *doc;

	if (!oci_digest_valid(digest)) {
		edge_errf(err, EDGE_EINPUT, "base %s: %s: invalid digest", s->what, ref);
		return NULL;
	}
	if (s->store != NULL) {
		if (!store_has_blob(s->store, digest, -1)) {
			edge_errf(err, EDGE_EINPUT,
				  "base %s: %s: its manifest %s is in no bundle or store here (give the base's bundle, or a manifest whose store or bundle holds it)",
				  s->what, ref, digest);
			return NULL;
		}
		/* through the store's cache: edge-pack has read most of them */
		if ((doc = store_read_json(s->store, digest, err)) == NULL)
			edge_err_prefix(err, "base %s: %s", s->what, ref);
		return doc;
	}
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	if (bundle_read_entry(s->br, name, STORE_MAX_MANIFEST, &data, &len, err) != 0) {
		edge_err_prefix(err, "base %s: %s", s->what, ref);
		return NULL;
	}
	doc = json_loadb_bounded(data, len, 0, NULL);
	free(data);
	if (!json_is_object(doc)) {
		json_decref(doc);
		edge_errf(err, EDGE_EINPUT, "base %s: %s: manifest %s is not JSON", s->what, ref, digest);
		return NULL;
	}
	return doc;
}

/* The layers of the tree under digest get repo (the ref's repository);
 * their sizes come from the descriptors unless the base listed them. */
static int walk_tree(struct delta_base *b, struct src *s, const char *name, const char *ref, const char *repo,
		     const char *digest, int depth, struct edge_err *err)
{
	json_t *doc, *d;
	size_t i;
	int rc = 0;

	if (depth > DELTA_MAX_DEPTH)
		return edge_errf(err, EDGE_EINPUT, "base %s: %s: manifests nested too deep", s->what, ref);
	if ((doc = src_json(s, ref, digest, err)) == NULL)
		return -1;
	if (oci_doc_check(doc, NULL, EDGE_EINPUT, s->what, err) < 0) {
		json_decref(doc);
		return -1;
	}
	json_array_foreach(json_object_get(doc, "manifests"), i, d) {
		if ((rc = walk_tree(b, s, name, ref, repo, json_string_value(json_object_get(d, "digest")), depth + 1,
				    err)) != 0)
			break;
	}
	json_array_foreach(json_object_get(doc, "layers"), i, d) {
		const char *ld = json_string_value(json_object_get(d, "digest"));
		/* a foreign layer never pulled is in no bundle: nothing to list */
		if (json_object_get(d, "urls") != NULL && s->store != NULL && !store_has_blob(s->store, ld, -1))
			continue;
		if (s->store != NULL)
			base_put(b, ld, json_integer_value(json_object_get(d, "size")), name, repo);
		else if (json_object_get(b->blobs, ld) != NULL)
			base_put(b, ld, 0, name, repo); /* the size is bundle.json's */
	}
	json_decref(doc);
	return rc;
}

/* Walks the tree of one ref (from a manifest entry or an index.json
 * annotation). */
static int walk_ref(struct delta_base *b, struct src *s, const char *name, const char *ref, const char *digest,
		    struct edge_err *err)
{
	struct edge_ref r;
	char *repo;
	int rc;

	if (ref_parse(ref, &r, err) != 0) {
		edge_err_prefix(err, "base %s", s->what);
		return -1;
	}
	repo = ref_repository(&r);
	ref_free(&r);
	rc = walk_tree(b, s, name, ref, repo, digest, 0, err);
	free(repo);
	return rc;
}

/* --- a bundle as base ------------------------------------------------------ */

/* Its bundle.json's blobs and (a delta's) omitted ones, then the
 * repositories from index.json's trees. digest (may be NULL) gets the
 * digest a parts descriptor carries, else "". */
static int add_bundle(struct delta_base *b, const char *path, const char *name, char digest[72],
		      struct edge_err *err)
{
	struct bundle_reader r;
	struct src s = {NULL, &r, path};
	char *data = NULL;
	size_t len = 0, i;
	json_t *bj = NULL, *ix = NULL, *e;
	int rc = -1;

	if (bundle_reader_open(&r, path, err) != 0) {
		edge_err_prefix(err, "base");
		return -1;
	}
	if (digest != NULL)
		snprintf(digest, 72, "%s", r.digest);
	if (bundle_read_entry(&r, "bundle.json", BUNDLE_MAX_JSON_ENTRY, &data, &len, err) != 0) {
		edge_err_prefix(err, "base"); /* the reader's errors name the file */
		goto out;
	}
	bj = json_loadb_bounded(data, len, 0, NULL);
	free(data);
	data = NULL;
	if (!json_is_object(bj) || !json_is_array(json_object_get(bj, "blobs"))) {
		edge_errf(err, EDGE_EINPUT, "base %s: bundle.json has no blobs list", path);
		goto out;
	}
	json_array_foreach(json_object_get(bj, "blobs"), i, e) {
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "base %s: bundle.json: blobs[%zu]", path, i);
		if (oci_desc_read(e, NULL, EDGE_EINPUT, what, err) != 0)
			goto out;
		base_put(b, json_string_value(json_object_get(e, "digest")), json_integer_value(json_object_get(e, "size")),
			 name, NULL);
	}
	if (json_object_get(bj, "base") != NULL) {
		/* a delta as base: the site that holds it holds what it left out */
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "base %s: bundle.json", path);
		if (delta_base_check(json_object_get(bj, "base"), what, err) != 0)
			goto out;
		json_array_foreach(json_object_get(json_object_get(bj, "base"), "omitted"), i, e)
			base_put(b, json_string_value(json_object_get(e, "digest")),
				 json_integer_value(json_object_get(e, "size")), name,
				 json_string_value(json_object_get(e, "repository")));
	}
	if (bundle_read_entry(&r, "index.json", BUNDLE_MAX_JSON_ENTRY, &data, &len, err) != 0) {
		edge_err_prefix(err, "base"); /* the reader's errors name the file */
		goto out;
	}
	ix = json_loadb_bounded(data, len, 0, NULL);
	if (!json_is_object(ix)) {
		edge_errf(err, EDGE_EINPUT, "base %s: index.json is not JSON", path);
		goto out;
	}
	json_array_foreach(json_object_get(ix, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"), ANNOT_REF_NAME));
		if (ref != NULL && walk_ref(b, &s, name, ref, json_string_value(json_object_get(e, "digest")), err) != 0)
			goto out;
	}
	rc = 0;
out:
	free(data);
	json_decref(bj);
	json_decref(ix);
	bundle_reader_close(&r);
	return rc;
}

/* --- a manifest as base ---------------------------------------------------- */

struct tree_ref {
	const char *ref, *digest;
};

static int cmp_tree_ref(const void *a, const void *b)
{
	return strcmp(((const struct tree_ref *)a)->ref, ((const struct tree_ref *)b)->ref);
}

/* The trees of m's entries, walked in the order of their names, as a
 * bundle's index.json has them: a layer several repositories share gets
 * the same one from the manifest as from its bundle. */
static int add_manifest_trees(struct delta_base *b, json_t *m, struct store *st, const char *path, const char *name,
			      struct edge_err *err)
{
	struct src s = {st, NULL, path};
	struct manifest_iter it;
	struct tree_ref *refs = xcalloc(manifest_entry_count(m) + 1, sizeof(*refs));
	size_t n = 0, i;
	int rc = 0;

	for (manifest_iter_init(&it, m); manifest_iter_next(&it);) {
		const char *ref = manifest_entry_ref(it.entry), *digest = manifest_entry_digest(it.entry);
		if (ref == NULL || digest == NULL) {
			free(refs);
			return edge_errf(err, EDGE_EINPUT,
					 "base %s: %s[%zu] (%s) has no digest: give a pulled or packed manifest, or the bundle",
					 path, it.list, it.index, ref ? ref : "?");
		}
		refs[n].ref = ref;
		refs[n++].digest = digest;
	}
	if (n > 1)
		qsort(refs, n, sizeof(*refs), cmp_tree_ref);
	for (i = 0; i < n && rc == 0; i++)
		rc = walk_ref(b, &s, name, refs[i].ref, refs[i].digest, err);
	free(refs);
	return rc;
}

static char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *n = xstrdup(slash ? slash + 1 : path);

	if (bundle_is_parts_path(n))
		n[strlen(n) - 11] = '\0';
	return n;
}

static int is_dir(const char *p)
{
	struct stat st;

	return p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The trees of m's entries, read from st, into a scratch list merged
 * into b only when every one was found: a store that lacks some leaves b
 * as it was, for the next source to try. */
static int trees_from_store(struct delta_base *b, json_t *m, struct store *st, const char *path, const char *name,
			    struct edge_err *err)
{
	struct delta_base t;
	const char *d;
	json_t *e;
	int rc;

	delta_base_init(&t);
	rc = add_manifest_trees(&t, m, st, path, name, err);
	if (rc == 0)
		json_object_foreach(t.blobs, d, e)
			base_put(b, d, json_integer_value(json_object_get(e, "size")), name,
				 json_string_value(json_object_get(e, "repository")));
	delta_base_free(&t);
	return rc;
}

/*
 * A manifest's trees are content-addressed: the store being packed, the
 * base's bundle and the base's store give the same ones wherever they are
 * found. The store being packed comes first, as it usually holds them (the
 * next release was pulled into the same store) and edge-pack has just
 * read most of them (store_read_json's cache): listing a base of ten
 * images then costs about one manifest read, where its bundle costs a
 * decompression of bundle.json and of every manifest. Whatever the trees
 * are read from, the base's name is its bundle's file name when that file
 * is here (else the manifest's), its digest the bundle's when the manifest
 * gives one (else the manifest file's).
 */
static int add_manifest(struct delta_base *b, json_t *m, const char *path, struct store *cur, struct edge_err *err)
{
	json_t *bf;
	const char *bpath, *store_dir;
	char *name = NULL, digest[72];
	int rc = -1, tried = 0, have_bundle;

	bf = manifest_bundle(m);
	bpath = manifest_file_path(bf);
	have_bundle = bpath != NULL && access(bpath, R_OK) == 0;
	name = base_name(have_bundle ? bpath : path);
	if (manifest_file_digest(bf) != NULL) {
		snprintf(digest, sizeof(digest), "%s", manifest_file_digest(bf));
	} else {
		uint64_t size;
		if (sha256_digest_file(path, digest, &size, err) != 0)
			goto out;
	}
	if (cur != NULL) {
		tried = 1;
		if (trees_from_store(b, m, cur, path, name, err) == 0) {
			log_verbose("base %s: its images' trees read from the store %s", path, cur->dir);
			goto found;
		}
		log_verbose("base %s: some of its trees are not in the store %s", path, cur->dir);
	}
	if (have_bundle) {
		edge_err_clear(err);
		tried = 1;
		if (add_bundle(b, bpath, name, NULL, err) == 0) {
			log_verbose("base %s: its images' trees read from its bundle %s", path, bpath);
			goto found;
		}
	}
	store_dir = manifest_store(m);
	if (is_dir(store_dir) && (cur == NULL || strcmp(store_dir, cur->dir) != 0)) {
		struct store st;
		edge_err_clear(err);
		tried = 1;
		if (store_open(&st, store_dir, 0, 0, err) == 0) {
			int r2 = trees_from_store(b, m, &st, path, name, err);
			store_close(&st);
			if (r2 == 0) {
				log_verbose("base %s: its images' trees read from its store %s", path, store_dir);
				goto found;
			}
		}
	}
	if (!tried)
		edge_errf(err, EDGE_EINPUT,
			  "base %s: neither its bundle nor its store is here, so its blobs cannot be listed (give the base's bundle)",
			  path);
	goto out;
found:
	json_array_append_new(b->bundles, json_pack("{s:s, s:s}", "name", name, "digest", digest));
	rc = 0;
out:
	free(name);
	json_decref(m);
	return rc;
}

/* A base that is no bundle is named for what it is, not for a missing
 * seek table: an empty file, or JSON that is not a manifest (nor a parts
 * descriptor, which the bundle reader takes by its name). */
static void not_a_bundle(const char *path, struct edge_err *err)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
		edge_errf(err, EDGE_EINPUT, "base %s: empty file: give the manifest or the bundle of a release the site holds",
			  path);
	else if (!bundle_is_parts_path(path) && manifest_file_is_json(path))
		edge_errf(err, EDGE_EINPUT, "base %s: JSON, but not an edge manifest (apiVersion %s): give the manifest "
			  "edge-pull, edge-pack or edge-verify --registry printed, or the bundle",
			  path, MANIFEST_API_VERSION);
}

int delta_base_add(struct delta_base *b, const char *path, struct store *cur, struct edge_err *err)
{
	char *name, digest[72];
	uint64_t size;
	int rc, is_manifest;
	json_t *m = manifest_load_sniffed(path, &is_manifest, err);

	if (is_manifest)
		return m == NULL ? -1 : add_manifest(b, m, path, cur, err);
	/* a bundle, or its parts descriptor (which carries the digest); the
	 * file is looked at again only when it is neither */
	name = base_name(path);
	rc = add_bundle(b, path, name, digest, err);
	if (rc != 0)
		not_a_bundle(path, err);
	if (rc == 0 && digest[0] == '\0')
		rc = sha256_digest_file(path, digest, &size, err);
	if (rc == 0)
		json_array_append_new(b->bundles, json_pack("{s:s, s:s}", "name", name, "digest", digest));
	free(name);
	return rc;
}

/* --- a delta's base member ------------------------------------------------- */

static int bad_base(struct edge_err *err, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad_base(struct edge_err *err, const char *what, const char *fmt, ...)
{
	char msg[EDGE_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return edge_errf(err, EDGE_EINPUT, "%s: base: %s", what, msg);
}

static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > DELTA_NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int check_omitted(json_t *o, json_t *names, const char *what, struct edge_err *err)
{
	const char *prev = NULL;
	json_t *e;
	size_t i;

	if (!json_is_array(o))
		return bad_base(err, what, "omitted: expected an array");
	if (json_array_size(o) > DELTA_MAX_OMITTED)
		return bad_base(err, what, "omitted: more than %d entries", DELTA_MAX_OMITTED);
	json_array_foreach(o, i, e) {
		const char *d = json_string_value(json_object_get(e, "digest"));
		const char *bn = json_string_value(json_object_get(e, "base"));
		const char *repo = json_string_value(json_object_get(e, "repository"));
		if (!json_is_object(e) || !oci_digest_valid(d) || !oci_size_valid(json_object_get(e, "size")))
			return bad_base(err, what, "omitted[%zu]: expected a sha256 digest and a size", i);
		if (prev != NULL && strcmp(prev, d) >= 0)
			return bad_base(err, what, "omitted[%zu]: not sorted by digest, or listed twice", i);
		if (bn == NULL || json_object_get(names, bn) == NULL)
			return bad_base(err, what, "omitted[%zu]: its base is not one of base.bundles", i);
		if (repo != NULL) {
			struct edge_ref r;
			struct edge_err e2 = {0};
			char *norm = NULL;
			int ok = strlen(repo) <= REF_NAME_MAX && ref_parse(repo, &r, &e2) == 0 &&
				 (norm = ref_repository(&r)) != NULL && strcmp(norm, repo) == 0;
			free(norm);
			ref_free(&r);
			if (!ok)
				return bad_base(err, what, "omitted[%zu]: repository is not a repository name", i);
		} else if (json_object_get(e, "repository") != NULL) {
			return bad_base(err, what, "omitted[%zu]: repository: expected a string", i);
		}
		prev = d;
	}
	return 0;
}

int delta_base_check(json_t *base, const char *what, struct edge_err *err)
{
	json_t *bundles, *o, *names;
	size_t i;
	int rc;

	if (!json_is_object(base))
		return bad_base(err, what, "expected an object");
	bundles = json_object_get(base, "bundles");
	if (!json_is_array(bundles) || json_array_size(bundles) == 0 || json_array_size(bundles) > 1024)
		return bad_base(err, what, "bundles: expected an array of 1 to 1024 bases");
	names = json_object();
	json_array_foreach(bundles, i, o) {
		const char *n = json_string_value(json_object_get(o, "name"));
		if (!json_is_object(o) || n == NULL || !name_ok(n) ||
		    !oci_digest_valid(json_string_value(json_object_get(o, "digest")))) {
			json_decref(names);
			return bad_base(err, what, "bundles[%zu]: expected a file name and a sha256 digest", i);
		}
		json_object_set_new(names, n, json_true());
	}
	rc = check_omitted(json_object_get(base, "omitted"), names, what, err);
	json_decref(names);
	return rc;
}

json_t *delta_omitted_find(json_t *base, const char *digest)
{
	json_t *o = json_object_get(base, "omitted");
	size_t lo = 0, hi = json_array_size(o);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		json_t *e = json_array_get(o, mid);
		int c = strcmp(json_string_value(json_object_get(e, "digest")), digest);
		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
