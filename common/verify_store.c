/* edge-verify on a store: every blob the manifest names is there with its
 * size and digest, and nothing under blobs/sha256 is unexpected. Problems
 * are logged one by one (log_error), and counted in the error. */
#include "verify.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "sha256.h"


struct sv {
	struct store *s;
	int quick;
	size_t problems;
	json_t *checked; /* digests already checked */
};

static void problem(struct sv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct sv *v, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("store %s: %s", v->s->dir, msg);
	v->problems++;
}

static int sv_blob(struct sv *v, json_t *desc, const char *owner)
{
	const char *d;
	json_t *sz = json_object_get(desc, "size");
	char *p;
	struct stat st;
	struct oci_desc od;
	struct edge_err e;

	if (oci_desc_read(desc, &od, EDGE_EVERIFY, owner, &e) != 0) {
		problem(v, "%s", e.msg);
		return -1;
	}
	d = od.digest;
	if (json_object_get(v->checked, d) != NULL)
		return 0;
	json_object_set_new(v->checked, d, json_true());
	p = store_blob_path(v->s, d);
	if (stat(p, &st) != 0) {
		problem(v, "%s: blob %s is missing", owner, d);
		free(p);
		return -1;
	}
	free(p);
	if (json_is_integer(sz) && (int64_t)st.st_size != (int64_t)json_integer_value(sz)) {
		problem(v, "%s: blob %s has %lld bytes, its descriptor says %lld", owner, d, (long long)st.st_size,
			(long long)json_integer_value(sz));
		return -1;
	}
	return 0;
}

static void sv_tree(struct sv *v, json_t *desc, const char *owner, int depth)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	size_t i;
	json_t *doc, *x;
	struct edge_err e = {0};
	int kind;

	if (sv_blob(v, desc, owner) != 0)
		return;
	if ((doc = store_read_json(v->s, d, &e)) == NULL) {
		problem(v, "%s: %s", owner, e.msg);
		return;
	}
	{
		/* every digest, media type and size in it, before any is used */
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "%s: manifest %s", owner, d);
		if ((kind = oci_doc_check(doc, NULL, EDGE_EVERIFY, what, &e)) < 0) {
			problem(v, "%s", e.msg);
			json_decref(doc);
			return;
		}
	}
	if (kind == OCI_KIND_INDEX && depth == 0) {
		json_array_foreach(json_object_get(doc, "manifests"), i, x)
			sv_tree(v, x, owner, depth + 1);
	} else {
		sv_blob(v, json_object_get(doc, "config"), owner);
		json_array_foreach(json_object_get(doc, "layers"), i, x) {
			if (json_object_get(x, "urls") != NULL && !store_has_blob(v->s, json_string_value(json_object_get(x, "digest")), -1))
				continue;
			sv_blob(v, x, owner);
		}
	}
	json_decref(doc);
}

int verify_store(struct store *s, json_t *manifest, int quick, struct edge_err *err)
{
	struct sv v = {s, quick, 0, json_object()};
	struct manifest_iter it;
	json_t *e;
	size_t i, nblobs = 0;

	json_array_foreach(json_object_get(s->index, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"), ANNOT_REF_NAME));
		sv_tree(&v, e, ref ? ref : "index.json", 0);
	}
	for (manifest_iter_init(&it, manifest); manifest_iter_next(&it);) {
		const char *ref = manifest_entry_ref(it.entry), *digest = manifest_entry_digest(it.entry);
		const char *have;
		json_t *d;
		if (ref == NULL || digest == NULL)
			continue;
		d = store_index_find(s, ref);
		have = json_string_value(json_object_get(d, "digest"));
		if (d == NULL)
			problem(&v, "%s is not in index.json", ref);
		else if (strcmp(have ? have : "", digest) != 0)
			problem(&v, "%s is %s in index.json, the manifest says %s", ref, have, digest);
	}
	if (!quick) {
		/* every blob file, referenced or not, has the digest of its name */
		char *dir = path_join(s->dir, "blobs/sha256");
		DIR *dh = opendir(dir);
		struct dirent *de;
		if (dh == NULL) {
			problem(&v, "cannot read %s: %s", dir, strerror(errno));
		} else {
			while ((de = readdir(dh)) != NULL) {
				char want[72], got[72], *p;
				struct edge_err e2;
				if (de->d_name[0] == '.')
					continue;
				if (!oci_hex64_valid(de->d_name)) {
					problem(&v, "unexpected file blobs/sha256/%s", de->d_name);
					continue;
				}
				snprintf(want, sizeof(want), "sha256:%.64s", de->d_name);
				p = path_join(dir, de->d_name);
				if (sha256_digest_file(p, got, NULL, &e2) != 0)
					problem(&v, "%s", e2.msg);
				else if (strcmp(got, want) != 0)
					problem(&v, "blob %s is corrupt (content has %s)", want, got);
				free(p);
				nblobs++;
			}
			closedir(dh);
		}
		free(dir);
	}
	json_decref(v.checked);
	if (v.problems > 0)
		return edge_errf(err, EDGE_EVERIFY, "store %s: %zu problem%s found", s->dir, v.problems,
				 v.problems == 1 ? "" : "s");
	log_verbose("store %s: %zu index entries%s, all sound", s->dir, json_array_size(json_object_get(s->index, "manifests")),
		    quick ? " (sizes only)" : "");
	(void)nblobs;
	return 0;
}
