/* The tar-entry checker of edge-verify: ustar and pax headers, header
 * checksums, the entry state machine over the decompressed tar stream, and
 * the checks of bundle.json, index.json and the docker files once the
 * stream has ended. verify.c feeds it. */
#include "verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "delta.h"
#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "sha256.h"
#include "verify_int.h"

#define KEEP_MAX (4u << 20) /* blobs up to this size are kept if they look like JSON */

static int header_checksum_ok(const unsigned char *h)
{
	unsigned sum = 0;
	int ok;
	size_t i;
	uint64_t want = bundle_tar_octal(h + 148, 8, &ok);

	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return ok && want == sum;
}

static int parse_pax(struct tarv *t, struct edge_err *err)
{
	char *p = t->pax_buf, *end = t->pax_buf + t->pax_len;

	while (p < end) {
		char *sp, *eq, *rec_end;
		long len = strtol(p, &sp, 10);
		if (sp == p || *sp != ' ' || len <= 0 || p + len > end || p[len - 1] != '\n')
			return edge_errf(err, EDGE_EINPUT, "%s: malformed pax header at tar offset %llu", t->path,
					 (unsigned long long)t->pos);
		rec_end = p + len - 1;
		eq = memchr(sp + 1, '=', (size_t)(rec_end - sp - 1));
		if (eq == NULL)
			return edge_errf(err, EDGE_EINPUT, "%s: malformed pax record", t->path);
		if ((size_t)(eq - sp - 1) == 4 && strncmp(sp + 1, "path", 4) == 0) {
			free(t->pax_path);
			t->pax_path = strndup(eq + 1, (size_t)(rec_end - eq - 1));
		} else if ((size_t)(eq - sp - 1) == 4 && strncmp(sp + 1, "size", 4) == 0) {
			char *e;
			t->pax_size = strtoll(eq + 1, &e, 10);
			if (e != rec_end || t->pax_size < 0)
				return edge_errf(err, EDGE_EINPUT, "%s: malformed pax size", t->path);
		}
		p += len;
	}
	return 0;
}

static const char *type_text(char type)
{
	switch (type) {
	case '1': return "a hard link";
	case '2': return "a symbolic link";
	case '3': return "a character device";
	case '4': return "a block device";
	case '5': return "a directory";
	case '6': return "a FIFO";
	default: return "not a regular file";
	}
}

/* t->buf holds at least n bytes: it grows, never shrinks, so that one
 * allocation serves every entry after the largest. */
static void tarv_buf_room(struct tarv *t, uint64_t n)
{
	if (n > t->bcap) {
		t->buf = xrealloc(t->buf, (size_t)n);
		t->bcap = (size_t)n;
	}
}

static int begin_entry(struct tarv *t, struct edge_err *err)
{
	const unsigned char *h = t->hdr;
	char type = (char)h[156];
	int ok;
	uint64_t size = bundle_tar_octal(h + 124, 12, &ok);
	char name[512];

	if (!header_checksum_ok(h))
		return edge_errf(err, EDGE_EINPUT, "%s: damaged tar header at offset %llu", t->path,
				 (unsigned long long)t->pos - 512);
	if (!ok)
		return edge_errf(err, EDGE_EINPUT, "%s: bad size in the tar header at offset %llu", t->path,
				 (unsigned long long)t->pos - 512);
	if (memcmp(h + 345, "\0", 1) != 0 && memcmp(h + 257, "ustar", 5) == 0)
		snprintf(name, sizeof(name), "%.155s/%.100s", (const char *)h + 345, (const char *)h + 0);
	else
		snprintf(name, sizeof(name), "%.100s", (const char *)h);
	if (type == 'x') {
		if (size > 65536)
			return edge_errf(err, EDGE_EINPUT, "%s: pax header of %llu bytes", t->path, (unsigned long long)size);
		t->in_pax = 1;
		t->pax_want = (size_t)size;
		t->pax_len = 0;
		t->pax_buf = xrealloc(t->pax_buf, size + 1);
		t->left = size;
		t->pad = (512 - size % 512) % 512;
		return 0;
	}
	if (t->pax_path) {
		snprintf(name, sizeof(name), "%s", t->pax_path);
		free(t->pax_path);
		t->pax_path = NULL;
	}
	if (t->pax_size >= 0) {
		size = (uint64_t)t->pax_size;
		t->pax_size = -1;
	}
	if (!path_safe_relative(name, 1))
		return edge_errf(err, EDGE_EINPUT, "%s: unsafe entry name \"%s\"", t->path, name);
	if (type != '0' && type != '\0')
		return edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" is %s", t->path, name, type_text(type));
	if (json_object_get(t->seen, name) != NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" appears twice", t->path, name);
	if (t->nentries == 0 && strcmp(name, "bundle.json") != 0)
		return edge_errf(err, EDGE_EINPUT, "%s: the first entry is \"%s\", expected bundle.json", t->path, name);
	if (strcmp(t->last, "bundle.index.json") == 0)
		return edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" after bundle.index.json", t->path, name);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->size = t->left = size;
	t->pad = (512 - size % 512) % 512;
	t->data_off = t->pos;
	t->blen = 0;
	t->keep = 0;
	if (strncmp(name, "blobs/sha256/", 13) == 0 && oci_hex64_valid(name + 13)) {
		char digest[72];
		json_t *want;
		snprintf(digest, sizeof(digest), "sha256:%.64s", name + 13);
		want = json_object_get(t->expect, digest);
		if (want == NULL)
			return edge_errf(err, EDGE_EINPUT, "%s: blob %s is not listed in bundle.json", t->path, digest);
		if ((uint64_t)json_integer_value(want) != size)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s has %llu bytes, bundle.json says %lld", t->path, digest,
					 (unsigned long long)size, (long long)json_integer_value(want));
		t->kind = 1;
		sha256_init(&t->h);
		/* the first data byte decides (tarv_feed): only JSON is copied */
		t->keep = size <= KEEP_MAX;
	} else if (!strcmp(name, "bundle.json") || !strcmp(name, "oci-layout") || !strcmp(name, "index.json") ||
		   !strcmp(name, "manifest.json") || !strcmp(name, "bundle.index.json")) {
		if (size > VERIFY_MAX_JSON_ENTRY)
			return edge_errf(err, EDGE_EINPUT, "%s: %s is %llu bytes, larger than allowed", t->path, name,
					 (unsigned long long)size);
		if (t->expect == NULL && strcmp(name, "bundle.json") != 0)
			return edge_errf(err, EDGE_EINPUT, "%s: %s before bundle.json", t->path, name);
		t->kind = 0;
		tarv_buf_room(t, size + 1);
	} else {
		return edge_errf(err, EDGE_EINPUT, "%s: unexpected entry \"%s\"", t->path, name);
	}
	json_object_set_new(t->seen, name, json_pack("[I, I]", (json_int_t)t->data_off, (json_int_t)size));
	t->nentries++;
	snprintf(t->last, sizeof(t->last), "%s", name);
	return 0;
}

/* A delta's "base" member, before anything in it is used: its shape
 * (malformed: EDGE_EINPUT, as the rest of bundle.json), then no blob both
 * held and omitted (a tampered list: EDGE_EVERIFY). */
static int check_base(struct tarv *t, struct edge_err *err)
{
	char what[EDGE_ERR_MAX];
	json_t *o;
	size_t i;

	if ((t->base = json_object_get(t->bundle, "base")) == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s: bundle.json", t->path);
	if (delta_base_check(t->base, what, err) != 0)
		return -1;
	json_array_foreach(json_object_get(t->base, "omitted"), i, o) {
		const char *d = manifest_str(o, "digest");
		if (json_object_get(t->expect, d) != NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: bundle.json: blob %s is in the bundle and in base.omitted", t->path,
					 d);
	}
	t->omit_used = json_object();
	return 0;
}

/* bundle.json without its blob list (the bulk of it): a shallow copy, the
 * rest shared with bundle. */
static json_t *without_blobs(json_t *bundle)
{
	json_t *b = json_copy(bundle);

	json_object_del(b, "blobs");
	return b;
}

static json_t *parse_entry_json(struct tarv *t, struct edge_err *err)
{
	json_error_t je;
	char place[32];
	json_t *j = json_loadb_bounded(t->buf, t->blen, JSON_REJECT_DUPLICATES, &je);

	if (j == NULL)
		edge_errf(err, EDGE_EINPUT, "%s: %s%s: %s", t->path, t->name, json_error_place(&je, place, sizeof(place)), je.text);
	return j;
}

static int end_entry(struct tarv *t, struct edge_err *err)
{
	if (t->kind == 1) {
		unsigned char raw[32];
		char got[72];
		sha256_final(&t->h, raw);
		sha256_digest_format(got, raw);
		if (strcmp(got + 7, t->name + 13) != 0)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob sha256:%s: digest mismatch (content has %s)", t->path,
					 t->name + 13, got);
		if (t->keep && t->blen > 0 && t->buf[0] == '{' && t->kept_bytes + t->blen <= VERIFY_MAX_KEPT) {
			struct kept *k;
			t->kept = xrealloc(t->kept, (t->nkept + 1) * sizeof(*t->kept));
			k = &t->kept[t->nkept++];
			snprintf(k->digest, sizeof(k->digest), "%s", got);
			k->data = xmalloc(t->blen);
			memcpy(k->data, t->buf, t->blen);
			k->len = t->blen;
			t->kept_bytes += t->blen;
		}
		return 0;
	}
	if (strcmp(t->name, "bundle.json") == 0) {
		json_t *b, *bl;
		size_t i;
		struct edge_err e = {0};
		uint64_t total = 0;
		if ((t->bundle = parse_entry_json(t, err)) == NULL)
			return -1;
		b = without_blobs(t->bundle);
		if (manifest_validate(b, "bundle.json", &e) != 0) {
			json_decref(b);
			return edge_errf(err, EDGE_EINPUT, "%s: %s", t->path, e.msg);
		}
		json_decref(b);
		t->expect = json_object();
		json_array_foreach(json_object_get(t->bundle, "blobs"), i, bl) {
			struct oci_desc od;
			char what[EDGE_ERR_MAX];
			snprintf(what, sizeof(what), "%s: bundle.json: blobs[%zu]", t->path, i);
			if (oci_desc_read(bl, &od, EDGE_EINPUT, what, err) != 0)
				return -1;
			if (json_object_get(t->expect, od.digest) != NULL)
				return edge_errf(err, EDGE_EINPUT, "%s: bundle.json: blob %s listed twice", t->path, od.digest);
			json_object_set(t->expect, od.digest, json_object_get(bl, "size"));
			total += (uint64_t)od.size + 1024;
		}
		if (!json_is_array(json_object_get(t->bundle, "blobs")))
			return edge_errf(err, EDGE_EINPUT, "%s: bundle.json has no blobs list", t->path);
		if (check_base(t, err) != 0)
			return -1;
		/* the whole stream is bounded by what bundle.json declares */
		t->limit = total + 5 * (uint64_t)VERIFY_MAX_JSON_ENTRY + (1u << 20);
		return 0;
	}
	{
		json_t **slot = !strcmp(t->name, "index.json") ? &t->index
				: !strcmp(t->name, "manifest.json") ? &t->docker
				: !strcmp(t->name, "bundle.index.json") ? &t->bindex : &t->layout;
		if ((*slot = parse_entry_json(t, err)) == NULL)
			return -1;
	}
	return 0;
}

/* Feeds decompressed bytes to the tar state machine. Returns 1 when, with
 * t->defer, a blob's header was read: the rest of the input is not used. */
int tarv_feed(struct tarv *t, const unsigned char *d, size_t n, struct edge_err *err)
{
	while (n > 0) {
		if (t->ended) {
			size_t i;
			for (i = 0; i < n; i++)
				if (d[i] != 0)
					return edge_errf(err, EDGE_EINPUT, "%s: data after the end of the archive", t->path);
			t->trailing += n;
			if (t->trailing > (1u << 20))
				return edge_errf(err, EDGE_EINPUT, "%s: over 1 MiB of padding after the archive", t->path);
			t->pos += n;
			return 0;
		}
		if (t->left > 0) {
			size_t m = n < t->left ? n : (size_t)t->left;
			if (t->in_pax) {
				memcpy(t->pax_buf + t->pax_len, d, m);
				t->pax_len += m;
			} else if (t->kind == 1) {
				sha256_update(&t->h, d, m);
				if (t->keep && t->blen == 0) {
					/* a blob that does not start as JSON is not kept */
					t->keep = d[0] == '{';
					if (t->keep)
						tarv_buf_room(t, t->size + 1);
				}
				if (t->keep)
					memcpy(t->buf + t->blen, d, m);
				t->blen += t->keep ? m : 0;
			} else {
				memcpy(t->buf + t->blen, d, m);
				t->blen += m;
			}
			t->left -= m;
			t->pos += m;
			d += m;
			n -= m;
			if (t->left == 0 && !t->in_pax && end_entry(t, err) != 0)
				return -1;
			if (t->left == 0 && t->in_pax && parse_pax(t, err) != 0)
				return -1;
			continue;
		}
		if (t->pad > 0) {
			size_t m = n < t->pad ? n : (size_t)t->pad;
			t->pad -= m;
			t->pos += m;
			d += m;
			n -= m;
			if (t->pad == 0)
				t->in_pax = 0;
			continue;
		}
		if (t->in_pax) {
			/* a pax header without data padding */
			t->in_pax = 0;
		}
		{
			size_t m = 512 - t->hlen;
			if (m > n)
				m = n;
			memcpy(t->hdr + t->hlen, d, m);
			t->hlen += m;
			t->pos += m;
			d += m;
			n -= m;
			if (t->hlen < 512)
				continue;
			t->hlen = 0;
			{
				static const unsigned char zero[512];
				if (memcmp(t->hdr, zero, 512) == 0) {
					if (++t->zero_blocks == 2)
						t->ended = 1;
					continue;
				}
				if (t->zero_blocks > 0)
					return edge_errf(err, EDGE_EINPUT, "%s: a lone zero block inside the archive", t->path);
			}
			if (begin_entry(t, err) != 0)
				return -1;
			if (t->defer && t->kind == 1 && t->left > 0 && !t->in_pax && t->pos + t->left > t->defer_after) {
				/* a blob's data: its job hashes it */
				sha256_discard(&t->h);
				return 1;
			}
			if (t->left == 0 && !t->in_pax && end_entry(t, err) != 0)
				return -1;
		}
	}
	return 0;
}

static struct kept *find_kept(struct tarv *t, const char *digest)
{
	size_t i;

	for (i = 0; i < t->nkept; i++)
		if (strcmp(t->kept[i].digest, digest) == 0)
			return &t->kept[i];
	return NULL;
}

/* A layer of a delta that the bundle does not hold: base.omitted lists it
 * with the descriptor's size (may_omit: a layer, not a manifest or config,
 * which a delta always holds). Remembers the first image that needs it. */
static int check_omitted(struct tarv *t, const struct oci_desc *od, const char *owner, int may_omit,
			 struct edge_err *err)
{
	json_t *o = t->base != NULL ? delta_omitted_find(t->base, od->digest) : NULL;
	json_int_t size;

	if (o == NULL)
		return edge_errf(err, EDGE_EVERIFY, "%s: %s: blob %s is missing", t->path, owner, od->digest);
	if (!may_omit)
		return edge_errf(err, EDGE_EVERIFY, "%s: %s: blob %s is missing (base.omitted lists it, but a delta holds every manifest and config)",
				 t->path, owner, od->digest);
	size = json_integer_value(json_object_get(o, "size"));
	if (size != od->size)
		return edge_errf(err, EDGE_EVERIFY, "%s: %s: blob %s has %lld bytes in base.omitted, its descriptor says %lld",
				 t->path, owner, od->digest, (long long)size, (long long)od->size);
	if (json_object_get(t->omit_used, od->digest) == NULL)
		json_object_set_new(t->omit_used, od->digest, json_string(t->cur_ref ? t->cur_ref : "?"));
	return 0;
}

/* A descriptor's blob is in the bundle with the size it says, or (may_omit,
 * a delta) omitted with that size. */
static int check_desc(struct tarv *t, json_t *desc, const char *owner, int may_omit, struct edge_err *err)
{
	struct oci_desc od;
	json_t *have;
	char name[100], what[EDGE_ERR_MAX];

	/* the documents holding desc were checked (oci_doc_check): this
	 * only keeps a descriptor from anywhere else from being used unchecked */
	snprintf(what, sizeof(what), "%s: %s", t->path, owner);
	if (oci_desc_read(desc, &od, EDGE_EINPUT, what, err) != 0)
		return -1;
	snprintf(name, sizeof(name), "blobs/sha256/%s", od.digest + 7);
	have = json_object_get(t->seen, name);
	if (have == NULL)
		return check_omitted(t, &od, owner, may_omit, err);
	if (od.size != json_integer_value(json_array_get(have, 1)))
		return edge_errf(err, EDGE_EVERIFY, "%s: %s: blob %s has %lld bytes, its descriptor says %lld", t->path,
				 owner, od.digest, (long long)json_integer_value(json_array_get(have, 1)),
				 (long long)od.size);
	return 0;
}

static int check_manifest_tree(struct tarv *t, json_t *desc, const char *owner, int depth, struct edge_err *err)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	struct kept *k;
	json_t *doc, *x;
	size_t i;
	int rc = -1, kind;

	if (check_desc(t, desc, owner, 0, err) != 0)
		return -1;
	if ((k = find_kept(t, d)) == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: %s: manifest %s is not JSON or too large", t->path, owner, d);
	doc = json_loadb_bounded(k->data, k->len, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return edge_errf(err, EDGE_EINPUT, "%s: %s: manifest %s is not JSON", t->path, owner, d);
	}
	{
		/* every digest, media type and size in it, before any is used */
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "%s: %s: manifest %s", t->path, owner, d);
		if ((kind = oci_doc_check(doc, NULL, EDGE_EVERIFY, what, err)) < 0)
			goto out;
	}
	if (kind == OCI_KIND_INDEX) {
		if (depth > 0) {
			edge_errf(err, EDGE_EINPUT, "%s: %s: nested index %s", t->path, owner, d);
			goto out;
		}
		json_array_foreach(json_object_get(doc, "manifests"), i, x)
			if (check_manifest_tree(t, x, owner, depth + 1, err) != 0)
				goto out;
	} else {
		if (check_desc(t, json_object_get(doc, "config"), owner, 0, err) != 0)
			goto out;
		json_array_foreach(json_object_get(doc, "layers"), i, x) {
			const char *ld = json_string_value(json_object_get(x, "digest"));
			char name[100];
			if (json_object_get(x, "urls") != NULL) {
				snprintf(name, sizeof(name), "blobs/sha256/%s", ld + 7);
				if (json_object_get(t->seen, name) == NULL &&
				    (t->base == NULL || delta_omitted_find(t->base, ld) == NULL))
					continue; /* a foreign layer */
			}
			if (check_desc(t, x, owner, 1, err) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* "blobs/sha256/<64 hex>" */
static int blob_path_valid(const char *s)
{
	char d[80];

	if (s == NULL || strncmp(s, "blobs/sha256/", 13) != 0 || strlen(s) > 13 + 64)
		return 0;
	snprintf(d, sizeof(d), "sha256:%s", s + 13);
	return oci_digest_valid(d);
}

/* docker-archive's manifest.json: [{Config, RepoTags, Layers}], the paths
 * those of blobs (whether each is there is checked later). */
static int check_docker_json(struct tarv *t, struct edge_err *err)
{
	json_t *e, *v, *x;
	size_t i, j;

	if (!json_is_array(t->docker))
		return edge_errf(err, EDGE_EINPUT, "%s: manifest.json: expected an array of {Config, RepoTags, Layers}", t->path);
	json_array_foreach(t->docker, i, e) {
		const char *cfg = manifest_str(e, "Config");
		if (!json_is_object(e))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: expected {Config, RepoTags, Layers}", t->path, i);
		if (!blob_path_valid(cfg))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: Config: expected a blob path", t->path, i);
		v = json_object_get(e, "RepoTags");
		if (!json_is_array(v))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: RepoTags: expected an array of strings", t->path, i);
		json_array_foreach(v, j, x)
			if (!json_is_string(x))
				return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: RepoTags: expected an array of strings",
						 t->path, i);
		v = json_object_get(e, "Layers");
		if (!json_is_array(v))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: Layers: expected an array of blob paths", t->path, i);
		json_array_foreach(v, j, x) {
			const char *l = json_string_value(x);
			if (!blob_path_valid(l))
				return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: Layers: expected an array of blob paths",
						 t->path, i);
		}
	}
	return 0;
}

/* The bundle's own JSON files against their schemas, before anything in
 * them is used: index.json an OCI image index (every descriptor checked),
 * manifest.json, bundle.index.json (oci-layout and bundle.json have their
 * own checks). */
static int check_bundle_files(struct tarv *t, struct edge_err *err)
{
	const char *imt = manifest_str(t->index, "mediaType");
	char what[EDGE_ERR_MAX], q[128];

	snprintf(what, sizeof(what), "%s: index.json", t->path);
	if (imt != NULL && strcmp(imt, MT_OCI_INDEX) != 0) {
		oci_quote(q, sizeof(q), imt);
		return edge_errf(err, EDGE_EINPUT, "%s: expected an image index, not %s", what, q);
	}
	if (!json_is_array(json_object_get(t->index, "manifests")))
		return edge_errf(err, EDGE_EINPUT, "%s: index.json has no manifests list", t->path);
	if (oci_doc_check(t->index, NULL, EDGE_EINPUT, what, err) < 0)
		return -1;
	if (check_docker_json(t, err) != 0)
		return -1;
	snprintf(what, sizeof(what), "%s: bundle.index.json", t->path);
	return bundle_index_check(t->bindex, what, err);
}

/* A blob path (blobs/sha256/HEX) a delta's manifests need and omit. */
static int omitted_path(struct tarv *t, const char *p)
{
	char d[80];

	if (t->omit_used == NULL || strncmp(p, "blobs/sha256/", 13) != 0)
		return 0;
	snprintf(d, sizeof(d), "sha256:%.70s", p + 13);
	return json_object_get(t->omit_used, d) != NULL;
}

int tarv_final_checks(struct tarv *t, struct bundle_reader *r, uint64_t decompressed, struct edge_err *err)
{
	struct manifest_iter it;
	const char *key;
	json_t *v, *e;
	size_t i;

	if (!t->ended || t->left > 0 || t->hlen > 0)
		return edge_errf(err, EDGE_EVERIFY, "%s: truncated (the archive does not end)", t->path);
	if (t->bundle == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: no bundle.json", t->path);
	if (strcmp(t->last, "bundle.index.json") != 0)
		return edge_errf(err, EDGE_EINPUT, "%s: the last entry is \"%s\", expected bundle.index.json", t->path, t->last);
	if (t->index == NULL || t->layout == NULL || t->docker == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: %s is missing", t->path,
				 t->index == NULL ? "index.json" : t->layout == NULL ? "oci-layout" : "manifest.json");
	if (check_bundle_files(t, err) != 0)
		return -1;
	json_object_foreach(t->expect, key, v) {
		char name[100];
		snprintf(name, sizeof(name), "blobs/sha256/%s", key + 7);
		if (json_object_get(t->seen, name) == NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s listed in bundle.json is missing", t->path, key);
	}
	if (strcmp(manifest_str(t->layout, "imageLayoutVersion") ? manifest_str(t->layout, "imageLayoutVersion") : "",
		   "1.0.0") != 0)
		return edge_errf(err, EDGE_EINPUT, "%s: oci-layout: expected imageLayoutVersion 1.0.0", t->path);
	json_array_foreach(json_object_get(t->index, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"), ANNOT_REF_NAME));
		char owner[600];
		snprintf(owner, sizeof(owner), "index.json: %s", ref ? ref : "(unnamed)");
		t->cur_ref = ref ? ref : "(unnamed)";
		if (check_manifest_tree(t, e, owner, 0, err) != 0)
			return -1;
	}
	t->cur_ref = NULL;
	/* what a delta leaves out is what its manifests need and it lacks */
	json_array_foreach(json_object_get(t->base, "omitted"), i, e)
		if (json_object_get(t->omit_used, manifest_str(e, "digest")) == NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: bundle.json: base.omitted lists blob %s, which no manifest references",
					 t->path, manifest_str(e, "digest"));
	/* every pulled entry of the manifest is in the layout with its digest */
	for (manifest_iter_init(&it, t->bundle); manifest_iter_next(&it);) {
		const char *ref = manifest_entry_ref(it.entry), *digest = manifest_entry_digest(it.entry);
		json_t *d;
		size_t j;
		int found = 0;
		if (ref == NULL || digest == NULL)
			continue;
		json_array_foreach(json_object_get(t->index, "manifests"), j, d) {
			const char *n = json_string_value(json_object_get(json_object_get(d, "annotations"), ANNOT_REF_NAME));
			const char *dd = json_string_value(json_object_get(d, "digest"));
			if (n && strcmp(n, ref) == 0 && strcmp(dd ? dd : "", digest) == 0)
				found = 1;
		}
		if (!found)
			return edge_errf(err, EDGE_EVERIFY, "%s: %s %s (%s) is not in index.json", t->path, it.list, ref, digest);
	}
	json_array_foreach(t->docker, i, e) {
		json_t *l;
		size_t j;
		const char *cfg = manifest_str(e, "Config");
		if (cfg == NULL || json_object_get(t->seen, cfg) == NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: manifest.json[%zu]: config %s is missing", t->path, i, cfg ? cfg : "?");
		json_array_foreach(json_object_get(e, "Layers"), j, l)
			if (!json_is_string(l) || (json_object_get(t->seen, json_string_value(l)) == NULL &&
						   !omitted_path(t, json_string_value(l))))
				return edge_errf(err, EDGE_EVERIFY, "%s: manifest.json[%zu]: layer %s is missing", t->path, i,
						 json_is_string(l) ? json_string_value(l) : "?");
	}
	/* the entry index says where every other entry's data is */
	{
		json_t *entries = json_object_get(t->bindex, "entries");
		size_t n = 0;
		json_array_foreach(entries, i, e) {
			const char *name = manifest_str(e, "name");
			json_t *have = name ? json_object_get(t->seen, name) : NULL;
			if (have == NULL || json_integer_value(json_object_get(e, "offset")) != json_integer_value(json_array_get(have, 0)) ||
			    json_integer_value(json_object_get(e, "size")) != json_integer_value(json_array_get(have, 1)))
				return edge_errf(err, EDGE_EVERIFY, "%s: bundle.index.json: entry %s does not match the archive", t->path,
						 name ? name : "?");
			n++;
		}
		if (n + 1 != json_object_size(t->seen))
			return edge_errf(err, EDGE_EVERIFY, "%s: bundle.index.json lists %zu entries, the archive has %zu", t->path,
					 n, json_object_size(t->seen) - 1);
	}
	if (r->frames != NULL && r->tar_size != decompressed)
		return edge_errf(err, EDGE_EVERIFY, "%s: the seek table covers %llu bytes, the bundle holds %llu", t->path,
				 (unsigned long long)r->tar_size, (unsigned long long)decompressed);
	return 0;
}

/* bundle.json without its blob list, and "bundle": {path, [digest,] size};
 * a delta's base member becomes bundle.omitted {count, bytes} and
 * bundle.base, as edge-pack prints them. */
static json_t *verified_manifest(struct tarv *t, const char *path, const char *digest, uint64_t size)
{
	json_t *top = without_blobs(t->bundle), *m = json_deep_copy(top);
	json_t *b = manifest_file_new(path, digest, (json_int_t)size), *o;
	json_int_t bytes = 0;
	size_t i;

	json_decref(top);
	if (t->base != NULL) {
		json_object_del(m, "base");
		json_array_foreach(json_object_get(t->base, "omitted"), i, o)
			bytes += json_integer_value(json_object_get(o, "size"));
		json_object_set_new(b, "omitted", json_pack("{s:I, s:I}", "count",
							    (json_int_t)json_array_size(json_object_get(t->base, "omitted")),
							    "bytes", bytes));
		json_object_set_new(b, "base", json_deep_copy(json_object_get(t->base, "bundles")));
	}
	manifest_set_bundle(m, b);
	return m;
}

/* base.omitted, each entry with "image": the first image that needs it. */
static json_t *omitted_list(struct tarv *t)
{
	json_t *out = json_array(), *o;
	size_t i;

	json_array_foreach(json_object_get(t->base, "omitted"), i, o) {
		json_t *e = json_deep_copy(o);
		json_object_set(e, "image", json_object_get(t->omit_used, manifest_str(o, "digest")));
		json_array_append_new(out, e);
	}
	return out;
}

/* The end of both paths, once everything else checked out: a parts
 * descriptor's whole digest matches the file's (computed whenever there
 * are parts), and the verified manifest. digest: the file's sha256, or
 * NULL when it was not wanted. */
int tarv_verified_end(struct tarv *t, struct bundle_reader *r, const char *path, const char *digest,
			json_t **manifest, json_t **omitted, struct edge_err *err)
{
	if (digest != NULL && r->digest[0] && strcmp(r->digest, digest) != 0)
		return edge_errf(err, EDGE_EVERIFY, "%s: the parts have digest %s, the descriptor says %s", path, digest,
				 r->digest);
	*manifest = verified_manifest(t, path, digest, r->size);
	if (omitted != NULL && t->base != NULL)
		*omitted = omitted_list(t);
	return 0;
}

void tarv_free(struct tarv *t)
{
	size_t i;

	if (t->kind == 1 && t->h.md)
		sha256_discard(&t->h);
	for (i = 0; i < t->nkept; i++)
		free(t->kept[i].data);
	free(t->kept);
	free(t->buf);
	free(t->pax_buf);
	free(t->pax_path);
	json_decref(t->seen);
	json_decref(t->bundle);
	json_decref(t->expect);
	json_decref(t->index);
	json_decref(t->docker);
	json_decref(t->bindex);
	json_decref(t->layout);
	json_decref(t->omit_used);
}
