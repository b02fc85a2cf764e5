#include "pull.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "helm.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "pool.h"
#include "ref.h"
#include "registry.h"
#include "resolve.h"
#include "sha256.h"
#include "yamljson.h"

#define EMPTY_JSON_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

enum item_kind { IT_IMAGE, IT_CHART_OCI, IT_CHART_HTTP, IT_DEFINITION };
enum blob_state { B_QUEUED, B_RUNNING, B_OK, B_FAILED };

struct item {
	json_t *entry;
	enum item_kind kind;
	char *ref;        /* the name in the store */
	struct edge_ref r;
	struct registry *reg;
	char *repo;       /* repository on reg: r.path, or under a mirror's prefix */
	char *error;
	int error_code;
	size_t *blobs;    /* indices into pull.blobs */
	size_t nblobs;
	/* results */
	char digest[72], source_digest[72], media_type[128];
	int64_t msize;    /* size of the top manifest or index */
	int64_t total;    /* bytes of every blob the item holds */
	json_t *platforms;
};

struct blob {
	char digest[72];
	int64_t size;
	struct registry *reg;
	char *repo;
	size_t first_item;
	enum blob_state state;
	char *error;
	int error_code;
};

/* The per-host transfer cap: one gate per registry. */
struct host_gate {
	struct registry *reg;
	struct pool_gate gate;
};

struct pull {
	pthread_mutex_t mu;   /* the tables below and the counts (the pool has its own lock) */
	struct pool *pool;
	struct host_gate *gates;
	size_t ngates;
	struct item *items;
	size_t nitems;
	struct blob *blobs;
	size_t nblobs, blobs_cap;
	json_t *blob_index; /* digest -> idx */
	json_t *fetched_inline; /* digest -> true: configs get_small_blob downloaded */
	struct registry_set regs;
	struct store *store;
	const struct pull_opts *o;
	struct http_share *share;
	struct helm_repos helm; /* HTTP chart repositories */
	size_t blobs_done, blobs_fetched;
	int64_t bytes_done, bytes_fetched;
	struct progress prog;
	struct edge_err first;
	int have_first;
};

/* --- jobs ------------------------------------------------------------- */

static int run_item(void *arg, size_t idx, void *worker, struct edge_err *err);
static int run_blob(void *arg, size_t idx, void *worker, struct edge_err *err);

/* The gate of reg's host (NULL: no cap); the table is set up before the
 * pool starts and only read after. */
static struct pool_gate *gate_for(struct pull *p, const struct registry *reg)
{
	size_t i;

	for (i = 0; reg != NULL && i < p->ngates; i++)
		if (p->gates[i].reg == reg)
			return &p->gates[i].gate;
	return NULL;
}

/* registry_opts.on_bytes: a download's bytes as they arrive. */
static void pull_on_bytes(void *ctx, uint64_t n)
{
	struct pull *p = ctx;

	progress_bytes(&p->prog, n);
}

static struct registry *registry_for(struct pull *p, const char *domain)
{
	p->regs.opts.plain_http = p->o->plain_http;
	p->regs.opts.creds = p->o->creds;
	p->regs.opts.parts = p->o->parts;
	p->regs.opts.part_min = p->o->part_min;
	p->regs.opts.http_opts = &p->o->http;
	p->regs.opts.share = p->share;
	p->regs.opts.on_bytes = p->o->progress != NULL ? pull_on_bytes : NULL;
	p->regs.opts.on_bytes_ctx = p;
	return registry_set_get(&p->regs, domain);
}

/* Records that item needs blob digest; queues one download per digest. */
static void want_blob(struct pull *p, size_t item, struct registry *reg, const char *repo,
		      const char *digest, int64_t size)
{
	json_t *hit;
	size_t idx;
	struct item *it;

	pthread_mutex_lock(&p->mu);
	hit = json_object_get(p->blob_index, digest);
	if (hit != NULL) {
		idx = (size_t)json_integer_value(hit);
	} else {
		struct blob *b;
		if (p->nblobs == p->blobs_cap) {
			p->blobs_cap = p->blobs_cap ? p->blobs_cap * 2 : 256;
			p->blobs = xrealloc(p->blobs, p->blobs_cap * sizeof(*p->blobs));
		}
		idx = p->nblobs++;
		b = &p->blobs[idx];
		memset(b, 0, sizeof(*b));
		snprintf(b->digest, sizeof(b->digest), "%s", digest);
		b->size = size;
		b->reg = reg;
		b->repo = repo ? xstrdup(repo) : NULL;
		b->first_item = item;
		json_object_set_new(p->blob_index, digest, json_integer((json_int_t)idx));
		progress_add_total(&p->prog, 1, size > 0 ? (uint64_t)size : 0);
		/* after a first error the pool takes no more: the blob stays queued */
		pool_submit(p->pool, run_blob, p, idx, gate_for(p, reg));
	}
	it = &p->items[item];
	it->blobs = xrealloc(it->blobs, (it->nblobs + 1) * sizeof(*it->blobs));
	it->blobs[it->nblobs++] = idx;
	pthread_mutex_unlock(&p->mu);
}


/* --- manifests --------------------------------------------------------- */

struct mf {
	char *data;
	size_t len;
	char digest[72];
	char media_type[128];
	json_t *doc;
};

static void mf_free(struct mf *m)
{
	free(m->data);
	json_decref(m->doc);
	memset(m, 0, sizeof(*m));
}

static int mf_parse(struct mf *m, const char *what, struct edge_err *err)
{
	json_error_t je;

	const char *mt;
	char owner[EDGE_ERR_MAX];

	m->doc = json_loadb_bounded(m->data, m->len, 0, &je);
	if (!json_is_object(m->doc))
		return edge_errf(err, EDGE_EREMOTE, "%s: manifest %s is not JSON", what, m->digest);
	/* from the registry (registry_get_manifest checked it too) or the
	 * store, which can be edited by hand: every digest, media type and
	 * size, before any is used */
	snprintf(owner, sizeof(owner), "%s: manifest %s", what, m->digest);
	if (oci_doc_check(m->doc, &mt, EDGE_EREMOTE, owner, err) < 0)
		return -1;
	if (m->media_type[0] == '\0')
		snprintf(m->media_type, sizeof(m->media_type), "%s", mt);
	return 0;
}

/* A manifest by tag or digest: from the store when it is there (by digest,
 * or by the digest a HEAD names), else from the registry (then stored). A
 * HEAD is made only when the store may hold the manifest (an earlier run
 * stored this ref): on a cold store it would only add a round trip before
 * the GET, which names the digest too. */
static int get_manifest(struct pull *p, struct item *it, struct http_client *http, const char *reference,
			struct mf *m, struct edge_err *err)
{
	char digest[72] = "", mt[128] = "";
	const char *repo = it->repo;

	memset(m, 0, sizeof(*m));
	if (strncmp(reference, "sha256:", 7) == 0) {
		snprintf(digest, sizeof(digest), "%s", reference);
	} else if (p->o->offline) {
		json_t *d = store_index_find(p->store, it->ref);
		if (d == NULL)
			return edge_errf(err, EDGE_EIO, "%s: not in the store (--offline)", it->ref);
		snprintf(digest, sizeof(digest), "%s", json_string_value(json_object_get(d, "digest")));
	} else if (store_index_find(p->store, it->ref) != NULL) {
		int st = registry_head_manifest(it->reg, http, repo, reference, digest, mt, NULL, err);
		if (st != 0)
			return -1;
	}
	if (digest[0] && store_has_blob(p->store, digest, -1)) {
		size_t len;
		if (store_read_blob(p->store, digest, STORE_MAX_MANIFEST, &m->data, &len, err) != 0)
			return -1;
		m->len = len;
		snprintf(m->digest, sizeof(m->digest), "%s", digest);
		return mf_parse(m, it->ref, err);
	}
	if (p->o->offline)
		return edge_errf(err, EDGE_EIO, "%s: manifest %s is not in the store (--offline)", it->ref, digest);
	{
		struct reg_manifest rm;
		if (registry_get_manifest(it->reg, http, repo, digest[0] ? digest : reference, &rm, err) != 0)
			return -1;
		m->data = rm.data;
		m->len = rm.len;
		snprintf(m->digest, sizeof(m->digest), "%s", rm.digest);
		snprintf(m->media_type, sizeof(m->media_type), "%s", rm.media_type);
	}
	if (mf_parse(m, it->ref, err) != 0)
		return -1;
	return store_put_blob(p->store, m->data, m->len, m->digest, NULL, err);
}

/* A small blob (a config) fetched now, read back, digest checked. */
static int get_small_blob(struct pull *p, struct item *it, struct http_client *http, const char *digest,
			  int64_t size, char **data, size_t *len, struct edge_err *err)
{
	if (!store_has_blob(p->store, digest, size)) {
		/* fetched by this run: its blob job counts it so (run_blob) */
		pthread_mutex_lock(&p->mu);
		json_object_set_new(p->fetched_inline, digest, json_true());
		pthread_mutex_unlock(&p->mu);
		if (p->o->offline)
			return edge_errf(err, EDGE_EIO, "%s: blob %s is not in the store (--offline)", it->ref, digest);
		if (size > (int64_t)STORE_MAX_MANIFEST)
			return edge_errf(err, EDGE_EREMOTE, "%s: config %s is too large (%lld bytes)", it->ref, digest,
					 (long long)size);
		if (registry_get_blob(it->reg, http, it->repo, digest, size, 0, p->store, err) != 0)
			return -1;
	}
	return store_read_blob(p->store, digest, STORE_MAX_MANIFEST, data, len, err);
}

static const char *desc_digest(json_t *d)
{
	const char *s = json_string_value(json_object_get(d, "digest"));

	return s ? s : "";
}

static int64_t desc_size(json_t *d)
{
	json_t *v = json_object_get(d, "size");

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static void platform_text(json_t *plat, char *buf, size_t len)
{
	const char *os = json_string_value(json_object_get(plat, "os"));
	const char *arch = json_string_value(json_object_get(plat, "architecture"));
	const char *var = json_string_value(json_object_get(plat, "variant"));

	snprintf(buf, len, "%s/%s%s%s", os ? os : "unknown", arch ? arch : "unknown", var && var[0] ? "/" : "",
		 var && var[0] ? var : "");
}

static void add_platform(struct item *it, const char *raw)
{
	struct platform pl;
	struct edge_err e;
	char text[128];
	size_t i;
	json_t *v;

	if (platform_parse(raw, &pl, &e) == 0)
		platform_format(&pl, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", raw);

	json_array_foreach(it->platforms, i, v)
		if (strcmp(json_string_value(v), text) == 0)
			return;
	json_array_append_new(it->platforms, json_string(text));
}

/* An image manifest: its config now (platform check), its layers queued. */
static int do_image_manifest(struct pull *p, size_t idx, struct http_client *http, struct mf *m,
			     int check_platform, struct edge_err *err)
{
	struct item *it = &p->items[idx];
	json_t *config = json_object_get(m->doc, "config"), *layers = json_object_get(m->doc, "layers"), *l;
	char *cdata = NULL;
	size_t clen, i;

	if (!json_is_object(config) || !oci_digest_valid(desc_digest(config)))
		return edge_errf(err, EDGE_EREMOTE, "%s: manifest %s has no valid config", it->ref, m->digest);
	if (get_small_blob(p, it, http, desc_digest(config), desc_size(config), &cdata, &clen, err) != 0)
		return -1;
	it->total += (int64_t)m->len + (int64_t)clen;
	/* a blob of the item like its layers (counted the same way as in
	 * edge-pack and edge-push): its job finds it in the store */
	want_blob(p, idx, it->reg, it->repo, desc_digest(config), (int64_t)clen);
	if (oci_is_image_config(m->doc)) {
		json_t *c = json_loadb_bounded(cdata, clen, 0, NULL);
		char text[128];
		platform_text(c, text, sizeof(text));
		json_decref(c);
		if (check_platform && !p->o->all_platforms) {
			struct platform have;
			struct edge_err e;
			size_t k;
			int ok = 0;
			if (platform_parse(text, &have, &e) == 0)
				for (k = 0; k < p->o->nplatforms && !ok; k++)
					ok = platform_match(&p->o->platforms[k], have.os, have.arch, have.variant);
			if (!ok) {
				char want[128];
				platform_format(&p->o->platforms[0], want, sizeof(want));
				free(cdata);
				return edge_errf(err, EDGE_EINPUT, "%s: no %s image: it is single-platform %s", it->ref,
						 want, text);
			}
		}
		if (check_platform)
			add_platform(it, text);
	}
	free(cdata);
	json_array_foreach(layers, i, l) {
		if (!oci_digest_valid(desc_digest(l)))
			return edge_errf(err, EDGE_EREMOTE, "%s: layer %zu has an unsupported digest", it->ref, i);
		if (json_object_get(l, "urls") != NULL && !store_has_blob(p->store, desc_digest(l), -1)) {
			/* foreign (non-distributable) layers stay where they are */
			log_verbose("%s: skipping foreign layer %s", it->ref, desc_digest(l));
			continue;
		}
		it->total += desc_size(l) > 0 ? desc_size(l) : 0;
		want_blob(p, idx, it->reg, it->repo, desc_digest(l), desc_size(l));
	}
	return 0;
}

static int do_oci_item(struct pull *p, size_t idx, struct http_client *http, struct edge_err *err)
{
	struct item *it = &p->items[idx];
	const char *reference = it->r.digest ? it->r.digest : it->r.tag;
	struct mf top;
	int rc = -1;

	if (get_manifest(p, it, http, reference, &top, err) != 0)
		return -1;
	snprintf(it->digest, sizeof(it->digest), "%s", top.digest);
	snprintf(it->media_type, sizeof(it->media_type), "%s", top.media_type);
	it->msize = (int64_t)top.len;
	if (media_type_is_manifest(top.media_type)) {
		int is_chart = it->kind == IT_CHART_OCI ||
			       (json_string_value(json_object_get(json_object_get(top.doc, "config"), "mediaType")) &&
				strcmp(json_string_value(json_object_get(json_object_get(top.doc, "config"), "mediaType")),
				       MT_HELM_CONFIG) == 0);
		rc = do_image_manifest(p, idx, http, &top, !is_chart, err);
		goto out;
	}
	if (media_type_is_index(top.media_type)) {
		json_t *list = json_object_get(top.doc, "manifests"), *d, *chosen = json_array();
		size_t i, k;
		char avail[512] = "";

		json_array_foreach(list, i, d) {
			json_t *plat = json_object_get(d, "platform");
			char text[128];
			int take = p->o->all_platforms;
			platform_text(plat, text, sizeof(text));
			if (plat != NULL && strstr(avail, text) == NULL && strlen(avail) + strlen(text) + 3 < sizeof(avail))
				snprintf(avail + strlen(avail), sizeof(avail) - strlen(avail), "%s%s", avail[0] ? ", " : "", text);
			for (k = 0; !take && k < p->o->nplatforms; k++)
				take = platform_match(&p->o->platforms[k],
						      json_string_value(json_object_get(plat, "os")),
						      json_string_value(json_object_get(plat, "architecture")),
						      json_string_value(json_object_get(plat, "variant")));
			if (take)
				json_array_append(chosen, d);
		}
		if (!p->o->all_platforms) {
			/* every wanted platform must be there */
			for (k = 0; k < p->o->nplatforms; k++) {
				int found = 0;
				json_array_foreach(chosen, i, d) {
					json_t *plat = json_object_get(d, "platform");
					found |= platform_match(&p->o->platforms[k],
								json_string_value(json_object_get(plat, "os")),
								json_string_value(json_object_get(plat, "architecture")),
								json_string_value(json_object_get(plat, "variant")));
				}
				if (!found) {
					char want[128];
					platform_format(&p->o->platforms[k], want, sizeof(want));
					edge_errf(err, EDGE_EINPUT, "%s: no %s image (it has %s)", it->ref, want,
						  avail[0] ? avail : "no platforms");
					json_decref(chosen);
					goto out;
				}
			}
		}
		json_array_foreach(chosen, i, d) {
			struct mf child;
			char text[128];
			if (!oci_digest_valid(desc_digest(d))) {
				edge_errf(err, EDGE_EREMOTE, "%s: index entry %zu has an unsupported digest", it->ref, i);
				json_decref(chosen);
				goto out;
			}
			if (get_manifest(p, it, http, desc_digest(d), &child, err) != 0) {
				json_decref(chosen);
				goto out;
			}
			platform_text(json_object_get(d, "platform"), text, sizeof(text));
			if (json_object_get(d, "platform") != NULL)
				add_platform(it, text);
			if (media_type_is_index(child.media_type)) {
				edge_errf(err, EDGE_EREMOTE, "%s: nested image indexes are not supported", it->ref);
				mf_free(&child);
				json_decref(chosen);
				goto out;
			}
			if (do_image_manifest(p, idx, http, &child, 0, err) != 0) {
				mf_free(&child);
				json_decref(chosen);
				goto out;
			}
			mf_free(&child);
		}
		it->total += (int64_t)top.len;
		if (json_array_size(chosen) < json_array_size(list)) {
			/* the stored index holds only the chosen platforms */
			json_t *trim = json_deep_copy(top.doc);
			size_t len;
			char *text;
			json_object_set(trim, "manifests", chosen);
			text = store_json_text(trim, &len);
			json_decref(trim);
			snprintf(it->source_digest, sizeof(it->source_digest), "%s", top.digest);
			if (store_put_blob(p->store, text, len, NULL, it->digest, err) != 0) {
				free(text);
				json_decref(chosen);
				goto out;
			}
			it->total += (int64_t)len - (int64_t)top.len;
			it->msize = (int64_t)len;
			free(text);
		}
		json_decref(chosen);
		rc = 0;
		goto out;
	}
	edge_errf(err, EDGE_EREMOTE, "%s: unsupported manifest type \"%s\"", it->ref, top.media_type);
out:
	mf_free(&top);
	return rc;
}

/* Stores an OCI manifest made of config and layers; fills it->digest. */
static int store_artifact(struct pull *p, struct item *it, json_t *man, struct edge_err *err)
{
	size_t len;
	char *text = store_json_text(man, &len);
	int rc = store_put_blob(p->store, text, len, NULL, it->digest, err);

	free(text);
	snprintf(it->media_type, sizeof(it->media_type), "%s", MT_OCI_MANIFEST);
	it->msize = (int64_t)len;
	it->total += (int64_t)len;
	return rc;
}

static int do_http_chart(struct pull *p, size_t idx, struct http_client *http, struct edge_err *err)
{
	struct item *it = &p->items[idx];
	const char *repo = manifest_entry_repo(it->entry), *name = manifest_entry_name(it->entry);
	const char *version = manifest_entry_version(it->entry);
	json_t *man = NULL;
	struct helm_chart ch = {0};
	char *cfgtext = NULL;
	char cfg_digest[72];
	size_t cfglen;
	int rc = -1;

	json_t *existing = store_index_find(p->store, it->ref);
	if (existing != NULL && oci_digest_valid(desc_digest(existing)) &&
	    store_has_blob(p->store, desc_digest(existing), -1)) {
		/* the chart was stored by an earlier run */
		struct mf m;
		if (get_manifest(p, it, http, desc_digest(existing), &m, err) != 0)
			return -1;
		snprintf(it->digest, sizeof(it->digest), "%s", m.digest);
		snprintf(it->media_type, sizeof(it->media_type), "%s", m.media_type);
		it->msize = (int64_t)m.len;
		rc = do_image_manifest(p, idx, http, &m, 0, err);
		mf_free(&m);
		return rc;
	}
	if (p->o->offline)
		return edge_errf(err, EDGE_EIO, "%s: not in the store (--offline)", it->ref);
	if (helm_chart_fetch(&p->helm, http, repo, name, version, &ch, err) != 0)
		goto out;
	if (store_put_blob(p->store, ch.resp.body, ch.resp.body_len, ch.digest, NULL, err) != 0)
		goto out;
	cfgtext = store_json_text(ch.config, &cfglen);
	if (store_put_blob(p->store, cfgtext, cfglen, NULL, cfg_digest, err) != 0)
		goto out;
	man = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}], s:{s:s, s:s}}", "schemaVersion", 2,
			"mediaType", MT_OCI_MANIFEST, "config", "mediaType", MT_HELM_CONFIG, "digest", cfg_digest, "size",
			(json_int_t)cfglen, "layers", "mediaType", MT_HELM_CHART, "digest", ch.digest, "size",
			(json_int_t)ch.resp.body_len, "annotations", "org.opencontainers.image.title", name,
			"org.opencontainers.image.version", version);
	it->total += (int64_t)cfglen + (int64_t)ch.resp.body_len;
	/* its config and layer, counted as an OCI chart's are */
	progress_add_total(&p->prog, 2, (uint64_t)cfglen + ch.resp.body_len);
	progress_item(&p->prog, ch.resp.body_len);
	progress_item(&p->prog, (uint64_t)cfglen);
	rc = store_artifact(p, it, man, err);
out:
	helm_chart_free(&ch);
	json_decref(man);
	free(cfgtext);
	return rc;
}

/* --- the cluster definition ----------------------------------------------- */

char *pull_definition_ref(const char *name, const char *digest)
{
	return xasprintf("localhost/edge/spc/%s:%.12s", name, digest + 7);
}

static int copy_file_blob(struct pull *p, const char *path, const char *digest, int64_t size, struct edge_err *err)
{
	struct blob_writer w;
	char buf[1 << 16];
	FILE *f;
	size_t n;
	int fd;

	if (store_has_blob(p->store, digest, size))
		return 0;
	if ((fd = open_input(path, NULL, err)) < 0)
		return -1;
	if ((f = fdopen(fd, "rb")) == NULL) {
		close(fd);
		return edge_err_errno(err, "open %s", path);
	}
	if (blob_writer_open(&w, p->store, digest, size, 0, err) != 0) {
		fclose(f);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (blob_writer_write(&w, buf, n, err) != 0) {
			blob_writer_abort(&w, 0);
			fclose(f);
			return -1;
		}
	}
	if (ferror(f)) {
		edge_err_errno(err, "read %s", path);
		blob_writer_abort(&w, 0);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (blob_writer_commit(&w, err) != 0)
		return edge_err_prefix(err, "%s changed while it was read", path);
	return 0;
}

static int do_definition(struct pull *p, size_t idx, struct edge_err *err)
{
	struct item *it = &p->items[idx];
	const char *path = manifest_file_path(it->entry), *want = manifest_file_digest(it->entry);
	const char *slash = strrchr(path, '/');
	char digest[72];
	uint64_t size;
	json_t *man;
	int rc;

	if (sha256_digest_file(path, digest, &size, err) != 0)
		return -1;
	if (want != NULL && strcmp(want, digest) != 0)
		return edge_errf(err, EDGE_EVERIFY, "%s: digest %s does not match the manifest's %s", path, digest, want);
	if (copy_file_blob(p, path, digest, (int64_t)size, err) != 0 ||
	    store_put_blob(p->store, "{}", 2, EMPTY_JSON_DIGEST, NULL, err) != 0)
		return -1;
	man = json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:i}, s:[{s:s, s:s, s:I, s:{s:s}}], s:{s:s}}", "schemaVersion", 2,
			"mediaType", MT_OCI_MANIFEST, "artifactType", MT_SPC_ARTIFACT, "config", "mediaType",
			MT_OCI_EMPTY, "digest", EMPTY_JSON_DIGEST, "size", 2, "layers", "mediaType",
			MT_OCI_LAYER_GZIP, "digest", digest, "size", (json_int_t)size, "annotations",
			"org.opencontainers.image.title", slash ? slash + 1 : path, "annotations", ANNOT_SPC_TYPE, "spc");
	it->total += 2 + (int64_t)size;
	rc = store_artifact(p, it, man, err);
	json_decref(man);
	return rc;
}

/* --- workers ------------------------------------------------------------ */

static void item_failed(struct pull *p, struct item *it, struct edge_err *e)
{
	pthread_mutex_lock(&p->mu);
	if (it->error == NULL) {
		it->error = xstrdup(e->msg);
		it->error_code = e->code;
	}
	pthread_mutex_unlock(&p->mu);
}

/* Item idx (a pool_fn): its manifests, or its chart or definition. */
static int run_item(void *arg, size_t idx, void *worker, struct edge_err *err)
{
	struct pull *p = arg;
	struct http_client *http = worker;
	struct item *it = &p->items[idx];
	struct edge_err e = {0};
	int rc;

	switch (it->kind) {
	case IT_DEFINITION: rc = do_definition(p, idx, &e); break;
	case IT_CHART_HTTP: rc = do_http_chart(p, idx, http, &e); break;
	default: rc = do_oci_item(p, idx, http, &e); break;
	}
	if (rc != 0) {
		/* name the entry when the message does not already */
		if (strstr(e.msg, it->ref) == NULL)
			edge_err_prefix(&e, "%s", it->ref);
		item_failed(p, it, &e);
		*err = e;
		return -1;
	}
	return 0;
}

/* Blob idx (a pool_fn): into the store, unless it is there already. */
static int run_blob(void *arg, size_t idx, void *worker, struct edge_err *err)
{
	struct pull *p = arg;
	struct http_client *http = worker;
	struct blob *b;
	struct edge_err e = {0};
	char digest[72], *repo;
	struct registry *reg;
	int64_t size;
	int rc;

	pthread_mutex_lock(&p->mu);
	b = &p->blobs[idx];
	b->state = B_RUNNING;
	snprintf(digest, sizeof(digest), "%s", b->digest);
	size = b->size;
	reg = b->reg;
	repo = b->repo ? xstrdup(b->repo) : NULL;
	pthread_mutex_unlock(&p->mu);

	if (store_has_blob(p->store, digest, size)) {
		int inline_fetch;
		rc = 0;
		size = size > 0 ? size : 0;
		pthread_mutex_lock(&p->mu);
		inline_fetch = json_object_get(p->fetched_inline, digest) != NULL;
		if (inline_fetch) {
			p->blobs_fetched++;
			p->bytes_fetched += size;
		}
		pthread_mutex_unlock(&p->mu);
		/* there already: done in one step; a config fetched by its item
		 * had its bytes counted as they came */
		progress_item(&p->prog, inline_fetch ? 0 : (uint64_t)size);
	} else if (p->o->offline || reg == NULL) {
		rc = edge_errf(&e, EDGE_EIO, "blob %s is not in the store%s", digest, p->o->offline ? " (--offline)" : "");
		progress_item(&p->prog, 0);
	} else {
		rc = registry_get_blob(reg, http, repo, digest, size, 1, p->store, &e);
		if (rc == 0) {
			pthread_mutex_lock(&p->mu);
			p->blobs_fetched++;
			p->bytes_fetched += size > 0 ? size : 0;
			pthread_mutex_unlock(&p->mu);
		}
		progress_item(&p->prog, 0); /* its bytes were counted as they came */
	}
	free(repo);
	pthread_mutex_lock(&p->mu);
	b = &p->blobs[idx];
	if (rc == 0) {
		b->state = B_OK;
		p->bytes_done += size > 0 ? size : 0;
	} else {
		struct edge_err named = e;
		b->state = B_FAILED;
		b->error = xstrdup(e.msg);
		b->error_code = e.code;
		if (strstr(e.msg, digest) != NULL)
			edge_errf(&named, e.code, "%s: %s", p->items[b->first_item].ref, e.msg);
		else
			edge_errf(&named, e.code, "%s: blob %s: %s", p->items[b->first_item].ref, digest, e.msg);
		*err = named;
	}
	p->blobs_done++;
	pthread_mutex_unlock(&p->mu);
	return rc == 0 ? 0 : -1;
}

/* Each worker's HTTP client (pool_opts.worker_init); none offline. */
static int pull_worker_init(void *ctx, void **worker, struct edge_err *err)
{
	struct pull *p = ctx;

	*worker = NULL;
	if (p->o->offline)
		return 0;
	*worker = http_client_new(&p->o->http, p->share, err);
	return *worker != NULL ? 0 : -1;
}

static void pull_worker_fini(void *ctx, void *worker)
{
	(void)ctx;
	http_client_free(worker);
}

/* One gate per registry the items name, at most per_host transfers each. */
static void make_gates(struct pull *p)
{
	size_t i;

	p->gates = xcalloc(p->nitems ? p->nitems : 1, sizeof(*p->gates));
	if (p->o->per_host <= 0 || (p->o->jobs > 0 && p->o->per_host >= p->o->jobs))
		return; /* the pool's size is the only cap */
	for (i = 0; i < p->nitems; i++) {
		struct registry *reg = p->items[i].reg;
		if (reg == NULL || gate_for(p, reg) != NULL)
			continue;
		p->gates[p->ngates].reg = reg;
		p->gates[p->ngates].gate.cap = p->o->per_host;
		p->ngates++;
	}
}

/* Every item, then the blobs they find, --jobs at a time. Returns -1 when
 * the pool cannot start; a failed item or blob is in p->first. */
static int pull_all(struct pull *p, int *stopped, struct edge_err *err)
{
	struct pool_opts po = {0};
	size_t i;

	po.keep_going = p->o->keep_going;
	po.worker_init = pull_worker_init;
	po.worker_fini = pull_worker_fini;
	po.ctx = p;
	make_gates(p);
	if ((p->pool = pool_new(p->o->jobs > 0 ? p->o->jobs : 8, &po, err)) == NULL)
		return -1;
	/* the items go first: the blobs they queue (under p->mu) come after */
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < p->nitems; i++)
		pool_submit(p->pool, run_item, p, i, gate_for(p, p->items[i].reg));
	pthread_mutex_unlock(&p->mu);
	p->have_first = pool_wait(p->pool, &p->first) != 0;
	*stopped = pool_cancelled(p->pool);
	pool_free(p->pool);
	p->pool = NULL;
	return 0;
}

/* --- setup and results ----------------------------------------------------- */

static int add_item(struct pull *p, json_t *entry, enum item_kind kind, const char *ref, struct edge_err *err)
{
	struct item *it = &p->items[p->nitems];

	memset(it, 0, sizeof(*it));
	it->entry = entry;
	it->kind = kind;
	it->ref = xstrdup(ref);
	it->platforms = json_array();
	p->nitems++;
	if (kind == IT_DEFINITION || kind == IT_CHART_HTTP)
		return 0;
	if (ref_parse(ref, &it->r, err) != 0)
		return -1;
	{
		/* a mirror serves the registry's repositories under its own name */
		const struct pull_mirror *m = NULL;
		size_t i;
		for (i = 0; i < p->o->nmirrors; i++)
			if (strcmp(p->o->mirrors[i].registry, it->r.domain) == 0)
				m = &p->o->mirrors[i];
		if (m != NULL) {
			size_t hl = strcspn(m->mirror, "/");
			char *host = xstrndup(m->mirror, hl);
			it->reg = registry_for(p, host);
			it->repo = m->mirror[hl] ? xasprintf("%s/%s", m->mirror + hl + 1, it->r.path) : xstrdup(it->r.path);
			free(host);
			return 0;
		}
	}
	it->reg = registry_for(p, it->r.domain);
	it->repo = xstrdup(it->r.path);
	return 0;
}

static void set_result(struct pull *p, struct item *it)
{
	json_t *e = it->entry;
	size_t i;

	if (it->error == NULL) {
		for (i = 0; i < it->nblobs; i++) {
			struct blob *b = &p->blobs[it->blobs[i]];
			if (b->state != B_OK) {
				it->error = xasprintf("blob %s: %s", b->digest, b->error ? b->error : "not fetched");
				it->error_code = b->error ? b->error_code : EDGE_EREMOTE;
				break;
			}
		}
	}
	manifest_entry_set_error(e, it->error);
	if (it->error != NULL)
		return;
	if (it->kind == IT_DEFINITION) {
		manifest_entry_set_ref(e, it->ref);
		return;
	}
	manifest_entry_set_pulled(e, it->digest, it->source_digest, it->media_type, (json_int_t)it->total,
				  it->platforms);
}

static void index_entry(struct pull *p, struct item *it)
{
	json_t *ann = json_pack("{s:s, s:s}", ANNOT_REF_NAME, it->ref, ANNOT_CONTAINERD_NAME, it->ref);

	if (it->kind == IT_DEFINITION)
		json_object_set_new(ann, ANNOT_SPC_TYPE, json_string("spc"));
	store_index_set(p->store, it->ref,
			json_pack("{s:s, s:s, s:I, s:o}", "mediaType", it->media_type, "digest", it->digest, "size",
				  (json_int_t)it->msize, "annotations", ann));
}

/* Each item's result into its entry, and into the store's index when it
 * succeeded (counted in o->stats). Returns how many failed. */
static size_t pull_results(struct pull *p, int stopped)
{
	struct pull_stats *st = p->o->stats;
	size_t i, failed = 0;

	for (i = 0; i < p->nitems; i++) {
		struct item *it = &p->items[i];
		if (stopped && it->error == NULL && it->digest[0] == '\0' && it->kind != IT_DEFINITION) {
			it->error = xstrdup("not pulled: stopped after an earlier error");
			it->error_code = EDGE_EREMOTE;
		}
		set_result(p, it);
		if (it->error != NULL) {
			failed++;
			continue;
		}
		index_entry(p, it);
		if (st != NULL && it->kind == IT_IMAGE)
			st->images++;
		else if (st != NULL && it->kind != IT_DEFINITION)
			st->charts++;
	}
	return failed;
}

int pull_run(json_t *manifest, struct store *s, const struct pull_opts *o, struct edge_err *err)
{
	json_t *def = manifest_definition(manifest), *e;
	struct manifest_iter mi;
	struct pull p;
	size_t i, n, failed = 0;
	int rc = -1, stopped = 0;

	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.mu, NULL);
	if (o->stats != NULL)
		memset(o->stats, 0, sizeof(*o->stats));
	p.store = s;
	p.o = o;
	p.blob_index = json_object();
	p.fetched_inline = json_object();
	progress_init(&p.prog, o->progress, o->progress_ctx, "blobs", NULL);
	helm_repos_init(&p.helm, o->creds);
	n = manifest_entry_count(manifest) + (def ? 1 : 0);
	p.items = xcalloc(n ? n : 1, sizeof(*p.items));
	/* before the items: their registries download blobs in parts with it */
	if (!o->offline && (p.share = http_share_new(err)) == NULL)
		goto out;
	for (manifest_iter_init(&mi, manifest); manifest_iter_next(&mi);) {
		const char *repo, *ref;
		char *made = NULL;
		int st;
		e = mi.entry;
		if (mi.kind == MANIFEST_IMAGE) {
			if (add_item(&p, e, IT_IMAGE, manifest_entry_ref(e), err) != 0)
				goto out;
			continue;
		}
		repo = manifest_entry_repo(e);
		ref = manifest_entry_ref(e);
		if (ref == NULL) {
			made = resolve_chart_ref(repo, manifest_entry_name(e), manifest_entry_version(e), err);
			if (made == NULL)
				goto out;
			manifest_entry_set_ref(e, made);
			ref = made;
		}
		if (repo != NULL && strncmp(repo, "oci://", 6) != 0 && strncmp(repo, "http", 4) == 0)
			st = add_item(&p, e, IT_CHART_HTTP, ref, err);
		else
			st = add_item(&p, e, IT_CHART_OCI, ref, err);
		free(made);
		if (st != 0)
			goto out;
	}
	if (def != NULL && manifest_file_path(def) != NULL) {
		char digest[72];
		uint64_t size;
		char *ref;
		const char *name = manifest_name(manifest);
		if (sha256_digest_file(manifest_file_path(def), digest, &size, err) != 0) {
			if (err->code == EDGE_EIO)
				err->code = EDGE_EINPUT;
			goto out;
		}
		ref = pull_definition_ref(name ? name : "cluster-definition", digest);
		add_item(&p, def, IT_DEFINITION, ref, err);
		free(ref);
	}
	if (pull_all(&p, &stopped, err) != 0)
		goto out;
	progress_end(&p.prog, UINT64_MAX);
	failed = pull_results(&p, stopped);
	/* index.json is written once, also after failures: what is complete stays usable */
	if (store_index_write(s, err) != 0) {
		/* a full disk fails a blob first: that is the failure to report */
		if (failed > 0 && p.have_first) {
			log_warn("%s", err->msg);
			*err = p.first;
		}
		goto out;
	}
	log_verbose("%zu entries, %zu blobs (%zu downloaded)", p.nitems, p.nblobs, p.blobs_fetched);
	if (o->stats != NULL) {
		o->stats->bytes_fetched = (uint64_t)p.bytes_fetched;
		o->stats->bytes_present = (uint64_t)(p.bytes_done - p.bytes_fetched);
	}
	if (failed > 0) {
		if (o->keep_going)
			edge_errf(err, EDGE_EREMOTE, "%zu of %zu entries failed (see their \"error\" fields); first: %s",
				  failed, p.nitems, p.have_first ? p.first.msg : "");
		else
			*err = p.first;
		if (!p.have_first)
			edge_errf(err, EDGE_EREMOTE, "%zu entries failed", failed);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < p.nitems; i++) {
		free(p.items[i].ref);
		free(p.items[i].repo);
		free(p.items[i].error);
		free(p.items[i].blobs);
		json_decref(p.items[i].platforms);
		ref_free(&p.items[i].r);
	}
	for (i = 0; i < p.nblobs; i++) {
		free(p.blobs[i].repo);
		free(p.blobs[i].error);
	}
	registry_set_free(&p.regs);
	free(p.items);
	free(p.blobs);
	free(p.gates);
	json_decref(p.blob_index);
	json_decref(p.fetched_inline);
	helm_repos_free(&p.helm);
	http_share_free(p.share);
	progress_fini(&p.prog);
	pthread_mutex_destroy(&p.mu);
	return rc;
}
