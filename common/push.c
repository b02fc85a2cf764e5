#include "push.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delta.h"
#include "split.h"
#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "pool.h"
#include "ref.h"
#include "registry.h"
#include "sha256.h"

#define READ_BUF (1u << 20)

/* --- target names ------------------------------------------------------------- */

int push_add_mapping(struct push_opts *o, const char *arg, struct edge_err *err)
{
	char *src, *dst;

	if (split_pair(arg, &src, &dst) != 0)
		return edge_errf(err, EDGE_EUSAGE, "--mapping: expected SRC=DST, got '%s'", arg);
	o->mappings = xrealloc(o->mappings, (o->nmappings + 1) * sizeof(*o->mappings));
	o->mappings[o->nmappings].src = src;
	o->mappings[o->nmappings].dst = dst;
	o->nmappings++;
	return 0;
}

char *push_creds_host(const struct push_opts *o)
{
	const char *t = o->registry ? o->registry : o->nmappings ? o->mappings[0].dst : NULL;

	return t ? xstrndup(t, strcspn(t, "/")) : NULL;
}

void push_opts_free(struct push_opts *o)
{
	size_t i;

	for (i = 0; i < o->nmappings; i++) {
		free(o->mappings[i].src);
		free(o->mappings[i].dst);
	}
	free(o->mappings);
	cred_store_free(o->creds);
	o->mappings = NULL;
	o->nmappings = 0;
	o->creds = NULL;
}

char *push_target(const struct push_opts *o, const char *ref, struct edge_err *err)
{
	const struct push_mapping *best = NULL;
	size_t i, bl = 0;
	char *t, *norm = NULL;

	for (i = 0; i < o->nmappings; i++) {
		size_t l = strlen(o->mappings[i].src);
		char next;
		if (strncmp(ref, o->mappings[i].src, l) != 0)
			continue;
		next = ref[l];
		if ((next == '/' || next == ':' || next == '@' || next == '\0' || o->mappings[i].src[l - 1] == '/') &&
		    l > bl) {
			best = &o->mappings[i];
			bl = l;
		}
	}
	if (best != NULL)
		t = xasprintf("%s%s", best->dst, ref + bl);
	else if (o->registry != NULL) {
		/* the source host becomes a path component: lower case, and a
		 * port's ':' (not allowed in paths) becomes '_' */
		size_t hl = strcspn(ref, "/");
		char *host = xstrndup(ref, hl);
		for (i = 0; host[i]; i++)
			host[i] = host[i] == ':' ? '_' : (char)tolower((unsigned char)host[i]);
		t = xasprintf("%s/%s%s", o->registry, host, ref + hl);
		free(host);
	}
	else {
		edge_errf(err, EDGE_EUSAGE, "%s: no --registry and no --mapping for it", ref);
		return NULL;
	}
	if (ref_normalize(t, &norm, err) != 0) {
		edge_err_prefix(err, "target of %s", ref);
		free(t);
		return NULL;
	}
	free(t);
	return norm;
}

/* --- reading blobs from the source ---------------------------------------------- */

struct blob_in {
	int fd;                    /* store */
	struct bundle_stream bs;   /* bundle */
	int is_bundle;
	uint64_t size, pos;
	char digest[72];
	struct sha256 h;
	uint64_t hashed;           /* bytes hashed so far (from 0) */
	struct edge_err err;
	struct http_client *http;
	uint64_t limit;            /* read at most this position (chunk end) */
	struct progress *prog;     /* NULL, or where the bytes read are counted */
};

static int blob_in_open(struct blob_in *b, struct push_source *src, const char *digest, uint64_t size,
			struct edge_err *err)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->size = size;
	b->limit = size;
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	if (src->bundle != NULL) {
		char name[100];
		uint64_t off, sz;
		snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
		if (bundle_entry(src->bundle, name, &off, &sz, err) != 0)
			return -1;
		if (sz != size)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s has %llu bytes, its descriptor says %llu",
					 src->bundle->path, digest, (unsigned long long)sz, (unsigned long long)size);
		if (bundle_stream_open(&b->bs, src->bundle, off, sz, err) != 0)
			return -1;
		b->is_bundle = 1;
	} else {
		char *p = store_blob_path(src->store, digest);
		b->fd = p ? open_input(p, NULL, err) : -1;
		if (b->fd < 0) {
			if (p == NULL || err->code == EDGE_EIO)
				edge_err_errno(err, "store %s: blob %s", src->store->dir, digest);
			else
				edge_err_prefix(err, "store %s: blob %s", src->store->dir, digest);
			free(p);
			return -1;
		}
		free(p);
	}
	sha256_init(&b->h);
	return 0;
}

static void blob_in_close(struct blob_in *b)
{
	if (b->is_bundle)
		bundle_stream_close(&b->bs);
	if (b->fd >= 0)
		close(b->fd);
	if (b->h.md)
		sha256_discard(&b->h);
	b->fd = -1;
}

static int blob_in_seek(struct blob_in *b, uint64_t pos, struct edge_err *err)
{
	if (b->is_bundle) {
		if (bundle_stream_seek(&b->bs, pos, err) != 0)
			return -1;
	} else if (lseek(b->fd, (off_t)pos, SEEK_SET) < 0) {
		return edge_err_errno(err, "seek");
	}
	b->pos = pos;
	return 0;
}

/* Reads the next bytes; hashes those not hashed yet (the hash runs from 0
 * to the end exactly once, whatever the resumes). */
static int64_t blob_in_read(struct blob_in *b, void *buf, size_t n, struct edge_err *err)
{
	int64_t got;

	if (n > b->limit - b->pos)
		n = (size_t)(b->limit - b->pos);
	if (n == 0)
		return 0;
	if (b->is_bundle) {
		got = bundle_stream_read(&b->bs, buf, n, err);
	} else {
		do
			got = read(b->fd, buf, n);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return edge_err_errno(err, "read blob %s", b->digest);
	}
	if (got <= 0)
		return got < 0 ? -1 : edge_errf(err, EDGE_EVERIFY, "blob %s ends early", b->digest);
	if (b->pos + (uint64_t)got > b->hashed) {
		uint64_t skip = b->hashed > b->pos ? b->hashed - b->pos : 0;
		sha256_update(&b->h, (char *)buf + skip, (size_t)((uint64_t)got - skip));
		b->hashed = b->pos + (uint64_t)got;
		if (b->prog != NULL)
			progress_bytes(b->prog, (uint64_t)got - skip);
	}
	b->pos += (uint64_t)got;
	return got;
}

/* The digest check once every byte was read. */
static int blob_in_check(struct blob_in *b, struct edge_err *err)
{
	unsigned char raw[32];
	char got[72];

	if (b->hashed != b->size)
		return edge_errf(err, EDGE_EVERIFY, "blob %s: read %llu of %llu bytes", b->digest,
				 (unsigned long long)b->hashed, (unsigned long long)b->size);
	sha256_final(&b->h, raw);
	b->h.md = NULL;
	sha256_digest_format(got, raw);
	if (strcmp(got, b->digest) != 0)
		return edge_errf(err, EDGE_EVERIFY, "blob %s is corrupt (content has %s)", b->digest, got);
	return 0;
}

static size_t body_read(char *buf, size_t len, void *ctx)
{
	struct blob_in *b = ctx;
	int64_t n = blob_in_read(b, buf, len, &b->err);

	if (n < 0) {
		http_sink_error(b->http, &b->err);
		return HTTP_READ_ERROR;
	}
	return (size_t)n;
}

static int read_small(struct push_source *src, const char *digest, char **data, size_t *len, struct edge_err *err)
{
	char name[100], got[72];

	if (!oci_digest_valid(digest))
		return edge_errf(err, EDGE_EINPUT, "not a sha256 digest");
	if (src->store != NULL)
		return store_read_blob(src->store, digest, STORE_MAX_MANIFEST, data, len, err);
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	if (bundle_read_entry(src->bundle, name, STORE_MAX_MANIFEST, data, len, err) != 0)
		return -1;
	sha256_digest_buf(*data, *len, got);
	if (strcmp(got, digest) != 0) {
		free(*data);
		*data = NULL;
		return edge_errf(err, EDGE_EVERIFY, "blob %s is corrupt (content has %s)", digest, got);
	}
	return 0;
}

/* --- uploads ----------------------------------------------------------------------- */

static char *abs_location(struct registry *reg, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return xstrdup(loc);
	return xasprintf("%s%s%s", reg->base, loc[0] == '/' ? "" : "/", loc);
}

static char *with_digest(const char *loc, const char *digest)
{
	return xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest);
}

static int reg_error(struct http_resp *resp, const char *what, struct edge_err *err)
{
	char why[512];

	registry_error_text(resp, why, sizeof(why));
	return edge_errf(err, EDGE_EREMOTE, "%s: %s", what, why);
}

/* POSTs a cross-repository mount of digest into repo from the repository
 * from, with a token for push on repo and pull on from. The reply is in
 * *resp and the URL in *url, for the caller to free. */
static int post_mount(struct registry *reg, struct http_client *http, const char *repo, const char *digest,
		      const char *from, char **url, struct http_resp *resp, struct edge_err *err)
{
	char *suffix = xasprintf("blobs/uploads/?mount=%s&from=%s", digest, from);
	char *from_scope = xasprintf("repository:%s:pull", from);
	struct http_req req = {0};
	int rc;

	*url = registry_url(reg, repo, suffix);
	req.method = "POST";
	req.url = *url;
	rc = registry_do_scopes(reg, http, repo, "pull,push", from_scope, &req, resp, err);
	free(from_scope);
	free(suffix);
	return rc;
}

/* POST an upload (or a mount); *location is the session, or NULL when the
 * mount succeeded. */
static int start_upload(struct registry *reg, struct http_client *http, const char *repo, const char *digest,
			const char *mount_from, char **location, struct edge_err *err)
{
	char *url = NULL;
	struct http_req req = {0};
	struct http_resp resp = {0};
	const char *loc;
	int rc = -1;

	*location = NULL;
	if (mount_from) {
		int st = post_mount(reg, http, repo, digest, mount_from, &url, &resp, err);
		if (st != 0 || (resp.status != 201 && resp.status != 202)) {
			/* no mount (not allowed, not supported): a plain upload */
			log_verbose("%s: mount of %s from %s refused, uploading it", repo, digest, mount_from);
			http_resp_free(&resp);
			edge_err_clear(err);
			free(url);
			return start_upload(reg, http, repo, digest, NULL, location, err);
		}
	} else {
		url = registry_url(reg, repo, "blobs/uploads/");
		req.method = "POST";
		req.url = url;
		if (registry_do(reg, http, repo, "pull,push", &req, &resp, err) != 0)
			goto out;
	}
	if (resp.status == 201 && mount_from) {
		rc = 0;
		goto out;
	}
	if (resp.status != 202) {
		reg_error(&resp, url, err);
		goto out;
	}
	loc = http_resp_header(&resp, "Location");
	if (loc == NULL) {
		edge_errf(err, EDGE_EREMOTE, "POST %s: no Location for the upload", url);
		goto out;
	}
	*location = abs_location(reg, loc);
	rc = 0;
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

/* HEAD of a blob in repo, asking for actions ("pull,push" where it goes,
 * "pull" where it would be mounted from): 1 there, 0 not, -1 on error. */
static int blob_exists(struct registry *reg, struct http_client *http, const char *repo, const char *actions,
		       const char *digest, struct edge_err *err)
{
	char *suffix = xasprintf("blobs/%s", digest), *url = registry_url(reg, repo, suffix);
	struct http_req req = {0};
	struct http_resp resp = {0};
	int rc;

	req.method = "HEAD";
	req.url = url;
	rc = registry_do(reg, http, repo, actions, &req, &resp, err);
	if (rc == 0)
		rc = resp.status == 200 ? 1 : 0;
	http_resp_free(&resp);
	free(suffix);
	free(url);
	return rc;
}

/* Mounts digest into repo from the repository from of the same registry,
 * with a token for both (pull,push on repo, pull on from): 1 mounted; 0
 * not, the registry answering anything else, such as 202, an upload
 * session it opened instead (cancelled here: nothing is to be uploaded);
 * -1 with err when the request failed (EDGE_EAUTH: refused). */
static int mount_blob(struct registry *reg, struct http_client *http, const char *repo, const char *digest,
		      const char *from, struct edge_err *err)
{
	char *url = NULL;
	struct http_resp resp = {0};
	const char *loc;
	int rc = -1;

	if (post_mount(reg, http, repo, digest, from, &url, &resp, err) != 0)
		goto out;
	rc = resp.status == 201;
	if (resp.status == 202 && (loc = http_resp_header(&resp, "Location")) != NULL) {
		struct http_req del = {0};
		struct http_resp dresp = {0};
		struct edge_err e2 = {0};
		char *durl = abs_location(reg, loc);
		del.method = "DELETE";
		del.url = durl;
		if (registry_do(reg, http, repo, "pull,push", &del, &dresp, &e2) != 0 ||
		    (dresp.status != 204 && dresp.status != 200 && dresp.status != 404))
			log_verbose("%s: cancel the upload the mount of %s opened: %s", repo, digest,
				    e2.code ? e2.msg : "refused");
		http_resp_free(&dresp);
		free(durl);
	}
	if (rc == 0)
		log_verbose("%s: no mount of %s from %s (HTTP %ld)", repo, digest, from, (long)resp.status);
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

static int put_monolithic(struct registry *reg, struct http_client *http, const char *repo, const char *loc,
			  struct blob_in *b, struct edge_err *err)
{
	char *url = with_digest(loc, b->digest);
	const char *headers[] = {"Content-Type: application/octet-stream", NULL, NULL};
	struct http_req req = {0};
	struct http_resp resp = {0};
	int rc = -1;

	req.method = "PUT";
	req.url = url;
	req.headers = headers;
	req.body_read = body_read;
	req.body_rewind = NULL; /* a failed PUT ends the session: the caller starts a new one */
	req.body_ctx = b;
	req.body_size = (long long)b->size;
	req.no_retry = 1;
	b->http = http;
	if (blob_in_seek(b, 0, err) != 0)
		goto out;
	if (registry_do(reg, http, repo, "pull,push", &req, &resp, err) != 0)
		goto out;
	if (resp.status != 201) {
		if (b->hashed == b->size && blob_in_check(b, err) != 0)
			goto out;
		reg_error(&resp, "PUT blob", err);
		goto out;
	}
	rc = blob_in_check(b, err);
out:
	http_resp_free(&resp);
	free(url);
	return rc;
}

/* PATCH chunks, resuming from the registry's Range after a failure. */
static int put_chunked(struct registry *reg, struct http_client *http, const char *repo, char **loc,
		       struct blob_in *b, uint64_t chunk, int retries, struct edge_err *err)
{
	uint64_t off = 0;
	int failures = 0;

	b->http = http;
	while (off < b->size) {
		uint64_t n = b->size - off < chunk ? b->size - off : chunk;
		char range[96], *url = xstrdup(*loc);
		const char *headers[] = {"Content-Type: application/octet-stream", range, NULL};
		struct http_req req = {0};
		struct http_resp resp = {0};
		int ok = 0;

		snprintf(range, sizeof(range), "Content-Range: %llu-%llu", (unsigned long long)off,
			 (unsigned long long)(off + n - 1));
		if (blob_in_seek(b, off, err) != 0) {
			free(url);
			return -1;
		}
		b->limit = off + n;
		req.method = "PATCH";
		req.url = url;
		req.headers = headers;
		req.body_read = body_read;
		req.body_ctx = b;
		req.body_size = (long long)n;
		req.no_retry = 1;
		if (registry_do(reg, http, repo, "pull,push", &req, &resp, err) == 0 && resp.status == 202) {
			const char *l = http_resp_header(&resp, "Location");
			if (l != NULL) {
				free(*loc);
				*loc = abs_location(reg, l);
			}
			off += n;
			ok = 1;
		} else if (err->code == EDGE_EVERIFY || err->code == EDGE_EIO || err->code == EDGE_EAUTH) {
			http_resp_free(&resp);
			free(url);
			return -1;
		}
		if (!ok)
			http_retry_wait(http, resp.status ? &resp : NULL, failures + 1);
		http_resp_free(&resp);
		free(url);
		b->limit = b->size;
		if (ok) {
			failures = 0; /* a long upload may meet many faults, one at a time */
			continue;
		}
		if (++failures > retries)
			return edge_errf(err, EDGE_EREMOTE, "upload of %s failed %d times: %s", b->digest, failures, err->msg);
		log_verbose("upload of %s interrupted at %llu: asking the registry where it stands", b->digest,
			    (unsigned long long)off);
		{
			/* GET the session: Range 0-N is what the registry holds */
			struct http_req sreq = {0};
			struct http_resp sresp = {0};
			const char *rg, *l;
			sreq.method = "GET";
			sreq.url = *loc;
			if (registry_do(reg, http, repo, "pull,push", &sreq, &sresp, err) != 0 || sresp.status != 204) {
				if (sresp.status != 0)
					reg_error(&sresp, "upload status", err);
				http_resp_free(&sresp);
				return -1;
			}
			rg = http_resp_header(&sresp, "Range");
			if (rg != NULL) {
				const char *dash = strchr(rg, '-');
				off = dash ? strtoull(dash + 1, NULL, 10) + 1 : 0;
				if (strncmp(rg, "bytes=", 6) != 0 && rg[0] == '0' && dash && strtoull(dash + 1, NULL, 10) == 0 &&
				    off == 1)
					off = 0; /* "0-0": nothing yet */
			} else {
				off = 0;
			}
			if (off > b->size)
				off = b->size;
			l = http_resp_header(&sresp, "Location");
			if (l != NULL) {
				free(*loc);
				*loc = abs_location(reg, l);
			}
			http_resp_free(&sresp);
		}
	}
	/* every byte read: the digest must hold before the upload is committed */
	if (blob_in_check(b, err) != 0)
		return -1;
	{
		char *url = with_digest(*loc, b->digest);
		struct http_req req = {0};
		struct http_resp resp = {0};
		int rc = 0;
		req.method = "PUT";
		req.url = url;
		req.body = "";
		req.body_len = 0;
		if (registry_do(reg, http, repo, "pull,push", &req, &resp, err) != 0)
			rc = -1;
		else if (resp.status != 201)
			rc = reg_error(&resp, "PUT blob", err);
		http_resp_free(&resp);
		free(url);
		return rc;
	}
}

/* --- the run ------------------------------------------------------------------------- */

struct target {
	char *ref;            /* source */
	char *target;
	struct edge_ref t;
	struct registry *reg;
	char digest[72];
	char *top;            /* top manifest bytes */
	size_t toplen;
	char top_mt[128];
	json_t *children;     /* [{digest, mediaType, data}] for an index */
	int is_chart;
	int failed;
	char *error;
	int error_code;
};

struct bjob {
	char digest[72];
	uint64_t size;
	size_t *targets;      /* target indices needing it */
	size_t ntargets;
	int failed;
	char *error;
	int error_code;
	uint64_t quick_bytes; /* size, when its first repository had it or mounted it */
	json_t *omitted;      /* its entry in a delta's base.omitted (borrowed): never uploaded */
	int *state;           /* omitted: per target, a BASE_* state (run_base_job) */
	char **from;          /* omitted: per target, where it was (or can be) mounted from */
};

/* Where a blob a delta left out stands in a repository that needs it. */
enum { BASE_MISSING, BASE_PRESENT, BASE_MOUNTED /* or, in a plan, mountable */ };

struct push {
	pthread_mutex_t mu;
	struct target *t;
	size_t nt;
	struct bjob *jobs;
	size_t njobs, next;
	json_t *job_index;
	struct registry_set regs;
	struct push_source *src;
	const struct push_opts *o;
	struct http_share *share;
	json_t *base;         /* a delta bundle's checked bundle.json "base", else NULL */
	size_t nomitted;      /* jobs of blobs the delta left out */
	size_t *run, nrun;    /* the jobs of the current pool run (push_blobs) */
	int dry;              /* push_plan: look where a mount would come from, mount nothing */
	size_t uploaded, skipped, mounted;
	uint64_t bytes, bytes_skipped, bytes_mounted;
	struct progress prog;
	struct edge_err first;
	int have_first;
};

static struct registry *reg_for(struct push *p, const char *domain)
{
	p->regs.opts.plain_http = p->o->plain_http;
	p->regs.opts.hosts = p->o->http.hosts;
	p->regs.opts.creds = p->o->creds;
	return registry_set_get(&p->regs, domain);
}

static void need_blob(struct push *p, size_t ti, const char *digest, uint64_t size)
{
	json_t *hit = json_object_get(p->job_index, digest);
	struct bjob *j;
	size_t k;

	if (hit == NULL) {
		p->jobs = xrealloc(p->jobs, (p->njobs + 1) * sizeof(*p->jobs));
		j = &p->jobs[p->njobs];
		memset(j, 0, sizeof(*j));
		snprintf(j->digest, sizeof(j->digest), "%s", digest);
		j->size = size;
		if (p->base != NULL && (j->omitted = delta_omitted_find(p->base, digest)) != NULL)
			p->nomitted++;
		json_object_set_new(p->job_index, digest, json_integer((json_int_t)p->njobs));
		p->njobs++;
	} else {
		j = &p->jobs[json_integer_value(hit)];
	}
	for (k = 0; k < j->ntargets; k++)
		if (strcmp(p->t[j->targets[k]].t.path, p->t[ti].t.path) == 0 &&
		    p->t[j->targets[k]].reg == p->t[ti].reg)
			return;
	j->targets = xrealloc(j->targets, (j->ntargets + 1) * sizeof(*j->targets));
	j->targets[j->ntargets++] = ti;
}

/* An image manifest's blobs (doc passed parse_doc): its config and layers. */
static void add_manifest_blobs(struct push *p, size_t ti, json_t *doc)
{
	json_t *c = json_object_get(doc, "config"), *l;
	size_t i;

	need_blob(p, ti, json_string_value(json_object_get(c, "digest")),
		  (uint64_t)json_integer_value(json_object_get(c, "size")));
	json_array_foreach(json_object_get(doc, "layers"), i, l) {
		const char *d = json_string_value(json_object_get(l, "digest"));
		if (json_object_get(l, "urls") != NULL && p->src->store && !store_has_blob(p->src->store, d, -1))
			continue;
		need_blob(p, ti, d, (uint64_t)json_integer_value(json_object_get(l, "size")));
	}
}

/* Parses a manifest or index read from the source and checks every
 * digest, media type and size in it (oci_doc_check) before any is used:
 * its media type goes into a Content-Type header, its digests into entry
 * names and URLs. Returns the document and its kind and type, or NULL. */
static json_t *parse_doc(struct push *p, size_t ti, const char *digest, const char *data, size_t len, int *kind,
			 const char **mt, struct edge_err *err)
{
	json_t *doc = json_loadb_bounded(data, len, 0, NULL);
	char what[EDGE_ERR_MAX];

	snprintf(what, sizeof(what), "%s: manifest %s", p->t[ti].ref, digest);
	if (!json_is_object(doc)) {
		json_decref(doc);
		edge_errf(err, EDGE_EINPUT, "%s is not JSON", what);
		return NULL;
	}
	if ((*kind = oci_doc_check(doc, mt, EDGE_EINPUT, what, err)) < 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int prepare_target(struct push *p, size_t ti, json_t *entry, struct edge_err *err)
{
	struct target *t = &p->t[ti];
	json_t *doc;
	const char *mt;
	size_t i;
	int kind;

	t->ref = xstrdup(manifest_entry_ref(entry));
	snprintf(t->digest, sizeof(t->digest), "%s", manifest_entry_digest(entry));
	if ((t->target = push_target(p->o, t->ref, err)) == NULL)
		return -1;
	if (ref_parse(t->target, &t->t, err) != 0)
		return -1;
	if (t->t.tag == NULL && t->t.digest != NULL && strcmp(t->t.digest, t->digest) != 0) {
		/* a ref by digest whose index was trimmed: the registry gets the
		 * stored index, which has its own digest */
		char *repo = ref_repository(&t->t);
		log_warn("%s: the stored index holds only the pulled platforms: it is pushed as %s@%s", t->ref, repo,
			 t->digest);
		free(t->target);
		t->target = xasprintf("%s@%s", repo, t->digest);
		free(repo);
		free(t->t.digest);
		t->t.digest = xstrdup(t->digest);
	}
	t->reg = reg_for(p, t->t.domain);
	if (!oci_digest_valid(t->digest))
		return edge_errf(err, EDGE_EINPUT, "%s: digest: expected \"sha256:\" and 64 lower-case hex digits", t->ref);
	if (read_small(p->src, t->digest, &t->top, &t->toplen, err) != 0)
		return edge_err_prefix(err, "%s", t->ref);
	if ((doc = parse_doc(p, ti, t->digest, t->top, t->toplen, &kind, &mt, err)) == NULL)
		return -1;
	snprintf(t->top_mt, sizeof(t->top_mt), "%s", mt);
	t->children = json_array();
	if (kind == OCI_KIND_INDEX) {
		json_t *d;
		json_array_foreach(json_object_get(doc, "manifests"), i, d) {
			const char *cd = json_string_value(json_object_get(d, "digest"));
			char *data;
			size_t len;
			json_t *cdoc;
			const char *cmt;
			int ckind;
			if (read_small(p->src, cd, &data, &len, err) != 0) {
				json_decref(doc);
				return edge_err_prefix(err, "%s", t->ref);
			}
			if ((cdoc = parse_doc(p, ti, cd, data, len, &ckind, &cmt, err)) == NULL) {
				free(data);
				json_decref(doc);
				return -1;
			}
			if (ckind != OCI_KIND_MANIFEST) {
				json_decref(cdoc);
				free(data);
				json_decref(doc);
				return edge_errf(err, EDGE_EINPUT, "%s: manifest %s: nested image indexes are not supported", t->ref, cd);
			}
			json_array_append_new(t->children, json_pack("{s:s, s:s, s:s%}", "digest", cd, "mediaType", cmt, "data",
								     data, len));
			add_manifest_blobs(p, ti, cdoc);
			json_decref(cdoc);
			free(data);
		}
	} else {
		add_manifest_blobs(p, ti, doc);
	}
	json_decref(doc);
	return 0;
}

static void fail_job(struct push *p, struct bjob *j, const struct edge_err *e)
{
	pthread_mutex_lock(&p->mu);
	j->failed = 1;
	j->error = xstrdup(e->msg);
	j->error_code = e->code;
	pthread_mutex_unlock(&p->mu);
}

/* One blob into every repository that needs it: HEAD, else mount from a
 * repository it already went to on the same registry, else upload.
 * Returns -1 with the job's error in err. */
static int run_job(struct push *p, struct bjob *j, struct http_client *http, struct edge_err *err)
{
	const char *done_repo[64];
	struct registry *done_reg[64];
	size_t ndone = 0, k;
	struct edge_err e = {0};

	for (k = 0; k < j->ntargets; k++) {
		struct target *t = &p->t[j->targets[k]];
		const char *from = NULL;
		char *loc = NULL;
		size_t d;
		int st, attempt;

		st = blob_exists(t->reg, http, t->t.path, "pull,push", j->digest, &e);
		if (st < 0)
			goto fail;
		if (st == 1) {
			pthread_mutex_lock(&p->mu);
			p->skipped++;
			p->bytes_skipped += k == 0 ? j->size : 0;
			j->quick_bytes = k == 0 ? j->size : 0;
			pthread_mutex_unlock(&p->mu);
			goto done;
		}
		for (d = 0; d < ndone; d++)
			if (done_reg[d] == t->reg)
				from = done_repo[d];
		for (attempt = 0;; attempt++) {
			struct blob_in b;
			int rc;
			/* after a failed PUT, PATCH: a cut chunk resumes from what the registry holds */
			if (start_upload(t->reg, http, t->t.path, j->digest, from, &loc, &e) != 0)
				goto fail;
			if (loc == NULL) {
				pthread_mutex_lock(&p->mu);
				p->mounted++;
				p->bytes_mounted += k == 0 ? j->size : 0;
				j->quick_bytes = k == 0 ? j->size : 0;
				pthread_mutex_unlock(&p->mu);
				break;
			}
			if (blob_in_open(&b, p->src, j->digest, j->size, &e) != 0) {
				free(loc);
				goto fail;
			}
			b.prog = k == 0 ? &p->prog : NULL; /* the first repository's bytes are the blob's */
			if (j->size > p->o->chunk_size || attempt > 0)
				rc = put_chunked(t->reg, http, t->t.path, &loc, &b, p->o->chunk_size,
						 p->o->http.retries < 0 ? 5 : p->o->http.retries, &e);
			else
				rc = put_monolithic(t->reg, http, t->t.path, loc, &b, &e);
			blob_in_close(&b);
			free(loc);
			loc = NULL;
			if (rc == 0) {
				pthread_mutex_lock(&p->mu);
				p->uploaded++;
				p->bytes += j->size;
				pthread_mutex_unlock(&p->mu);
				break;
			}
			/* a PUT that failed without a response: try again on a new session */
			if (e.code != EDGE_EREMOTE || attempt >= (p->o->http.retries < 0 ? 5 : p->o->http.retries))
				goto fail;
			log_verbose("%s: upload of %s failed (%s), starting again", t->target, j->digest, e.msg);
			http_retry_wait(http, NULL, attempt + 1);
			from = NULL;
		}
done:
		if (ndone < 64) {
			done_repo[ndone] = t->t.path;
			done_reg[ndone] = t->reg;
			ndone++;
		}
		continue;
fail:
		if (strstr(e.msg, j->digest) == NULL) {
			char msg[EDGE_ERR_MAX];
			snprintf(msg, sizeof(msg), "%s", e.msg);
			edge_errf(&e, e.code, "blob %s: %s", j->digest, msg);
		}
		fail_job(p, j, &e);
		*err = e;
		return -1;
	}
	return 0;
}

/* The target repository (domain and path) of the repository a delta's
 * base put an omitted blob in, by the rules of the images' targets; 0, or
 * -1 when no rule names one (then there is no such mount source). */
static int base_source(const struct push *p, const struct bjob *j, struct edge_ref *r)
{
	struct edge_err e = {0};
	char *target = push_target(p->o, manifest_str(j->omitted, "repository"), &e);
	int rc = target != NULL && ref_parse(target, r, &e) == 0 ? 0 : -1;

	free(target);
	return rc;
}

/* Where target k of j can get the blob from, the holders of this run
 * (c > 0: target c - 1) after the base's repository (c == 0); NULL for
 * none. */
static const char *mount_source(const struct push *p, const struct bjob *j, size_t k, size_t c,
				const struct edge_ref *base)
{
	const struct target *t = &p->t[j->targets[k]], *h;
	const char *from = NULL;

	if (base != NULL && strcmp(base->domain, t->t.domain) != 0)
		base = NULL; /* a mount is within one registry */
	if (c == 0)
		from = base ? base->path : NULL;
	else if (j->state[c - 1] != BASE_MISSING && (h = &p->t[j->targets[c - 1]])->reg == t->reg)
		from = h->t.path;
	if (from == NULL || strcmp(from, t->t.path) == 0 || (c > 0 && base && strcmp(from, base->path) == 0))
		return NULL; /* its own repository was asked first; the base's, once */
	return from;
}

/* The count of a base job that went through: its per-target states into
 * the run's (a blob there or mounted is not uploaded). */
static void count_base_job(struct push *p, struct bjob *j)
{
	size_t k;

	pthread_mutex_lock(&p->mu);
	for (k = 0; k < j->ntargets; k++) {
		p->skipped += j->state[k] == BASE_PRESENT;
		p->mounted += j->state[k] == BASE_MOUNTED;
	}
	if (j->state[0] == BASE_PRESENT)
		p->bytes_skipped += j->size;
	else
		p->bytes_mounted += j->size;
	j->quick_bytes = j->size;
	pthread_mutex_unlock(&p->mu);
}

/* A blob the delta left out, for every repository that needs it (never
 * uploaded: the bundle does not hold it): HEAD there; else a mount from
 * the target of the repository its base put it in, or from a repository
 * of this push that holds it (p->dry: a HEAD in that repository instead).
 * A repository that gets it neither way fails the job (not p->dry):
 * EDGE_EVERIFY naming the blob, the image and the base to push first, or
 * the refusal of a mount (EDGE_EAUTH). Returns -1 with that in err. */
static int run_base_job(struct push *p, struct bjob *j, struct http_client *http, struct edge_err *err)
{
	struct edge_err e = {0}, refused = {0};
	struct edge_ref base;
	int have_base = base_source(p, j, &base) == 0, st;
	size_t k, c;

	j->state = xcalloc(j->ntargets, sizeof(*j->state));
	j->from = xcalloc(j->ntargets, sizeof(*j->from));
	for (k = 0; k < j->ntargets; k++) {
		struct target *t = &p->t[j->targets[k]];
		if ((st = blob_exists(t->reg, http, t->t.path, "pull,push", j->digest, &e)) < 0)
			goto fail;
		j->state[k] = st == 1 ? BASE_PRESENT : BASE_MISSING;
	}
	for (k = 0; k < j->ntargets; k++) {
		struct target *t = &p->t[j->targets[k]];
		for (c = 0; c <= j->ntargets && j->state[k] == BASE_MISSING; c++) {
			const char *from = mount_source(p, j, k, c, have_base ? &base : NULL);
			if (from == NULL)
				continue;
			st = p->dry ? blob_exists(t->reg, http, from, "pull", j->digest, &e)
				    : mount_blob(t->reg, http, t->t.path, j->digest, from, &e);
			if (st < 0 && e.code != EDGE_EAUTH)
				goto fail;
			if (st < 0 && refused.code == 0)
				refused = e;
			if (st == 1) {
				j->state[k] = BASE_MOUNTED;
				j->from[k] = xasprintf("%s/%s", t->t.domain, from);
			}
		}
		if (j->state[k] != BASE_MISSING || p->dry)
			continue;
		if (refused.code != 0)
			e = refused;
		else
			edge_errf(&e, EDGE_EVERIFY, "%s: blob %s, left out of the delta, is not in %s/%s: push %s first",
				  t->ref, j->digest, t->t.domain, t->t.path, manifest_str(j->omitted, "base"));
		goto fail;
	}
	if (!p->dry)
		count_base_job(p, j);
	if (have_base)
		ref_free(&base);
	return 0;
fail:
	if (have_base)
		ref_free(&base);
	fail_job(p, j, &e);
	*err = e;
	return -1;
}

/* Each worker's HTTP client (pool_opts.worker_init). */
static int push_worker_init(void *ctx, void **worker, struct edge_err *err)
{
	struct push *p = ctx;

	*worker = http_client_new(&p->o->http, p->share, err);
	return *worker != NULL ? 0 : -1;
}

static void push_worker_fini(void *ctx, void *worker)
{
	(void)ctx;
	http_client_free(worker);
}

/* Blob job i of the current run (a pool_fn). */
static int push_blob_job(void *arg, size_t i, void *worker, struct edge_err *err)
{
	struct push *p = arg;
	struct bjob *j = &p->jobs[p->run[i]];
	int rc = j->omitted ? run_base_job(p, j, worker, err) : run_job(p, j, worker, err);

	/* a blob already there or mounted counts as done in one step; an
	 * upload's bytes were counted as they were read */
	progress_item(&p->prog, j->quick_bytes);
	return rc;
}

/* Every blob the delta left out (omitted), or every other blob, --jobs at
 * a time (never more threads than blobs). A failed blob fails its targets
 * but not the others: the pool keeps going, and keeps the first error. */
static void push_blobs(struct push *p, int omitted)
{
	struct pool_opts po = {0};
	struct edge_err e = {0};
	int nth = p->o->jobs > 0 ? p->o->jobs : 4;
	size_t i;

	free(p->run);
	p->run = xcalloc(p->njobs ? p->njobs : 1, sizeof(*p->run));
	p->nrun = 0;
	for (i = 0; i < p->njobs; i++)
		if ((p->jobs[i].omitted != NULL) == omitted)
			p->run[p->nrun++] = i;
	po.keep_going = 1;
	po.worker_init = push_worker_init;
	po.worker_fini = push_worker_fini;
	po.ctx = p;
	if (pool_run(nth, push_blob_job, p, p->nrun, &po, &e) != 0 && !p->have_first) {
		p->first = e;
		p->have_first = 1;
	}
}

static int put_manifest(struct registry *reg, struct http_client *http, const char *repo, const char *reference,
			const char *mt, const char *data, size_t len, struct edge_err *err)
{
	char *suffix = xasprintf("manifests/%s", reference), *url = registry_url(reg, repo, suffix);
	char ct[200];
	const char *headers[] = {ct, NULL};
	struct http_req req = {0};
	struct http_resp resp = {0};
	int rc = -1;

	snprintf(ct, sizeof(ct), "Content-Type: %s", mt);
	req.method = "PUT";
	req.url = url;
	req.headers = headers;
	req.body = data;
	req.body_len = len;
	if (registry_do(reg, http, repo, "pull,push", &req, &resp, err) != 0)
		goto out;
	if (resp.status != 201 && resp.status != 200) {
		reg_error(&resp, url, err);
		goto out;
	}
	rc = 0;
out:
	http_resp_free(&resp);
	free(suffix);
	free(url);
	return rc;
}

/* A delta bundle's "base" member, from its bundle.json (untrusted: it is
 * checked) into p->base; nothing for a full bundle or a store. */
static int load_base(struct push *p, struct edge_err *err)
{
	struct bundle_reader *r = p->src->bundle;
	char *data = NULL, what[EDGE_ERR_MAX];
	size_t len;
	json_t *doc, *base;
	json_error_t je;
	char place[32];
	int rc = -1;

	if (r == NULL)
		return 0;
	if (bundle_read_entry(r, "bundle.json", BUNDLE_MAX_JSON_ENTRY, &data, &len, err) != 0)
		return -1;
	snprintf(what, sizeof(what), "%s: bundle.json", r->path);
	if ((doc = json_loadb_bounded(data, len, 0, &je)) == NULL) {
		free(data);
		return edge_errf(err, EDGE_EINPUT, "%s%s: %s", what, json_error_place(&je, place, sizeof(place)), je.text);
	}
	free(data);
	base = json_object_get(doc, "base");
	if (base != NULL && delta_base_check(base, what, err) != 0)
		goto out;
	p->base = json_incref(base);
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* The targets: every image and chart of the manifest, read from the
 * source and checked, and the blobs they need (a delta's: after its base
 * member, which says which of them it left out). */
static int push_prepare(struct push *p, json_t *manifest, struct edge_err *err)
{
	struct manifest_iter it;
	size_t n = manifest_entry_count(manifest);

	if (load_base(p, err) != 0)
		return -1;

	p->t = xcalloc(n ? n : 1, sizeof(*p->t));
	for (manifest_iter_init(&it, manifest); manifest_iter_next(&it);) {
		json_t *e = it.entry;
		if (manifest_entry_digest(e) == NULL)
			return edge_errf(err, EDGE_EINPUT, "%s[%zu]: %s has no digest: it was not pulled", it.list, it.index,
					 manifest_entry_ref(e) ? manifest_entry_ref(e) : "?");
		p->nt++;
		p->t[p->nt - 1].is_chart = it.kind != MANIFEST_IMAGE;
		if (prepare_target(p, p->nt - 1, e, err) != 0)
			return -1;
	}
	if (p->nt == 0)
		return edge_errf(err, EDGE_EINPUT, "the manifest names no image or chart to push");
	return 0;
}

/* A failed blob fails every target that needs it. */
static void fail_targets(struct push *p)
{
	size_t i, k;

	for (i = 0; i < p->njobs; i++) {
		if (!p->jobs[i].failed)
			continue;
		for (k = 0; k < p->jobs[i].ntargets; k++) {
			struct target *t = &p->t[p->jobs[i].targets[k]];
			if (!t->failed) {
				t->failed = 1;
				t->error = xasprintf("%s: %s", t->ref, p->jobs[i].error);
				t->error_code = p->jobs[i].error_code;
			}
		}
	}
}

/* Target t's manifests: an index's children first, then the top manifest
 * by tag, or by its digest as stored (a trimmed index has its own digest,
 * not the one a digest ref names). Returns 0, or -1 with err set. */
static int push_manifests(const struct target *t, struct http_client *http, struct edge_err *err)
{
	json_t *c;
	size_t j;

	json_array_foreach(t->children, j, c) {
		json_t *data = json_object_get(c, "data");
		if (put_manifest(t->reg, http, t->t.path, manifest_str(c, "digest"), manifest_str(c, "mediaType"),
				 json_string_value(data), json_string_length(data), err) != 0)
			return -1;
	}
	return put_manifest(t->reg, http, t->t.path, t->t.tag ? t->t.tag : t->digest, t->top_mt, t->top, t->toplen,
			    err);
}

/* The manifests of every target whose every blob arrived, each added to
 * pushed; returns how many targets failed. */
static size_t push_targets(struct push *p, struct http_client *http, json_t *pushed)
{
	size_t i, failed = 0;

	for (i = 0; i < p->nt; i++) {
		struct target *t = &p->t[i];
		struct edge_err e2 = {0};
		if (t->failed) {
			failed++;
			continue;
		}
		if (push_manifests(t, http, &e2) != 0 || e2.code != 0) {
			edge_err_prefix(&e2, "%s", t->ref);
			t->failed = 1;
			t->error = xstrdup(e2.msg);
			t->error_code = e2.code;
			if (!p->have_first) {
				p->first = e2;
				p->have_first = 1;
			}
			failed++;
			continue;
		}
		json_array_append_new(pushed, manifest_pushed_new(t->ref, t->target, t->digest));
	}
	return failed;
}

/* The error of a run where failed of the targets were not pushed: that
 * target's own with one, else a count (each logged). Returns -1. */
static int push_failed(const struct push *p, size_t failed, struct edge_err *err)
{
	size_t i;

	for (i = 0; i < p->nt; i++)
		if (p->t[i].failed && failed > 1)
			log_error("%s", p->t[i].error);
	if (failed > 1)
		return edge_errf(err, p->first.code ? p->first.code : EDGE_EREMOTE, "%zu of %zu entries were not pushed",
				 failed, p->nt);
	for (i = 0; i < p->nt; i++)
		if (p->t[i].failed)
			edge_errf(err, p->t[i].error_code ? p->t[i].error_code : p->first.code, "%s", p->t[i].error);
	return -1;
}

static void push_free(struct push *p)
{
	size_t i;

	for (i = 0; i < p->nt; i++) {
		free(p->t[i].ref);
		free(p->t[i].target);
		free(p->t[i].top);
		free(p->t[i].error);
		json_decref(p->t[i].children);
		ref_free(&p->t[i].t);
	}
	for (i = 0; i < p->njobs; i++) {
		size_t k;
		for (k = 0; p->jobs[i].from != NULL && k < p->jobs[i].ntargets; k++)
			free(p->jobs[i].from[k]);
		free(p->jobs[i].from);
		free(p->jobs[i].state);
		free(p->jobs[i].targets);
		free(p->jobs[i].error);
	}
	free(p->run);
	json_decref(p->base);
	registry_set_free(&p->regs);
	free(p->t);
	free(p->jobs);
	json_decref(p->job_index);
	http_share_free(p->share);
	progress_fini(&p->prog);
	pthread_mutex_destroy(&p->mu);
}

/* After the blobs a delta left out were looked for: 0 when every
 * repository has them now; else -1 with err: a failure other than a
 * missing blob as it came, one missing blob's own error, or (each logged
 * first, up to PUSH_BASE_LOGGED) how many are missing and the bases to
 * push first. */
#define PUSH_BASE_LOGGED 10
static int push_base_failed(const struct push *p, struct edge_err *err)
{
	const struct bjob *j, *one = NULL;
	json_t *seen;
	size_t i, missing = 0, l;
	char names[EDGE_ERR_MAX / 2] = "";

	for (i = 0; i < p->njobs; i++) {
		j = &p->jobs[i];
		if (!j->omitted || !j->failed)
			continue;
		if (j->error_code != EDGE_EVERIFY)
			return edge_errf(err, j->error_code, "%s", j->error);
		one = j;
		missing++;
	}
	if (one == NULL && p->have_first) { /* the pool could not run them */
		*err = p->first;
		return -1;
	}
	if (missing <= 1) /* its own error only */
		return one ? edge_errf(err, one->error_code, "%s", one->error) : 0;
	seen = json_object();
	for (i = 0, missing = 0; i < p->njobs; i++) {
		const char *b;
		j = &p->jobs[i];
		if (!j->omitted || !j->failed)
			continue;
		if (++missing <= PUSH_BASE_LOGGED)
			log_error("%s", j->error);
		b = manifest_str(j->omitted, "base");
		if (json_object_get(seen, b) == NULL && (l = strlen(names)) < sizeof(names) - 1) {
			json_object_set_new(seen, b, json_true());
			snprintf(names + l, sizeof(names) - l, "%s%s", l ? ", " : "", b);
		}
	}
	json_decref(seen);
	if (missing > PUSH_BASE_LOGGED)
		log_error("... and %zu more", missing - PUSH_BASE_LOGGED);
	return edge_errf(err, EDGE_EVERIFY, "%zu blobs left out of the delta are not in the registry: push %s first",
			 missing, names);
}

/* The stats of a run, for o->stats (after push_targets: a target not
 * failed was pushed). */
static void push_fill_stats(const struct push *p)
{
	struct push_stats *st = p->o->stats;
	size_t i;

	if (st == NULL)
		return;
	memset(st, 0, sizeof(*st));
	for (i = 0; i < p->nt; i++) {
		if (p->t[i].failed)
			continue;
		if (p->t[i].is_chart)
			st->charts++;
		else
			st->images++;
	}
	st->blobs_uploaded = p->uploaded;
	st->blobs_present = p->skipped;
	st->blobs_mounted = p->mounted;
	st->bytes_sent = p->bytes;
	st->bytes_present = p->bytes_skipped + p->bytes_mounted;
}

/* A push (or a plan of one) from src with o, before push_prepare; freed by
 * push_free. */
static void push_init(struct push *p, struct push_source *src, const struct push_opts *o)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->src = src;
	p->o = o;
	p->job_index = json_object();
}

int push_run(json_t *manifest, struct push_source *src, const struct push_opts *o, json_t **pushed,
	     struct edge_err *err)
{
	struct push p;
	struct http_client *http = NULL;
	size_t failed;
	int rc = -1;

	push_init(&p, src, o);
	progress_init(&p.prog, o->progress, o->progress_ctx, "blobs", "uploaded");
	*pushed = json_array();
	if (push_prepare(&p, manifest, err) != 0)
		goto out;
	{
		size_t i;
		uint64_t total = 0;
		for (i = 0; i < p.njobs; i++)
			total += p.jobs[i].size;
		progress_add_total(&p.prog, p.njobs, total);
	}
	if ((p.share = http_share_new(err)) == NULL)
		goto out;
	/* a delta: every blob it left out must be in the registry (or be
	 * mounted there) before anything is uploaded */
	if (p.nomitted > 0) {
		push_blobs(&p, 1);
		if (push_base_failed(&p, err) != 0) {
			progress_end(&p.prog, UINT64_MAX);
			goto out;
		}
	}
	push_blobs(&p, 0);
	progress_end(&p.prog, UINT64_MAX);
	/* manifests: only for entries whose every blob arrived; children first */
	if ((http = http_client_new(&o->http, p.share, err)) == NULL)
		goto out;
	fail_targets(&p);
	failed = push_targets(&p, http, *pushed);
	push_fill_stats(&p);
	log_verbose("%zu blobs uploaded (%.1f MiB), %zu mounted, %zu already there; %zu of %zu entries pushed",
		    p.uploaded, (double)p.bytes / (1 << 20), p.mounted, p.skipped, p.nt - failed, p.nt);
	if (failed > 0) {
		push_failed(&p, failed, err);
		goto out;
	}
	rc = 0;
out:
	http_client_free(http);
	push_free(&p);
	if (rc != 0 && json_array_size(*pushed) == 0) {
		json_decref(*pushed);
		*pushed = NULL;
	}
	return rc;
}

/* A plan's base list: where each blob a delta left out stands in each
 * repository that needs it (after push_blobs(p, 1) with p->dry). */
static json_t *plan_base(const struct push *p)
{
	static const char *const states[] = {"missing", "present", "mountable"};
	json_t *out = json_array();
	size_t i, k;

	for (i = 0; i < p->njobs; i++) {
		const struct bjob *j = &p->jobs[i];
		for (k = 0; j->omitted && k < j->ntargets; k++) {
			const struct target *t = &p->t[j->targets[k]];
			json_t *e = json_pack("{s:s, s:I, s:s, s:s, s:s++, s:s}", "digest", j->digest, "size",
					      (json_int_t)j->size, "base", manifest_str(j->omitted, "base"), "ref", t->ref,
					      "repository", t->t.domain, "/", t->t.path, "state", states[j->state[k]]);
			if (j->from[k] != NULL)
				json_object_set_new(e, "from", json_string(j->from[k]));
			json_array_append_new(out, e);
		}
	}
	return out;
}

int push_plan(json_t *manifest, struct push_source *src, const struct push_opts *o, json_t **plan,
	      json_t **base_plan, struct edge_err *err)
{
	struct push p;
	struct http_client *http = NULL;
	size_t i;
	int rc = -1;

	push_init(&p, src, o);
	*plan = json_array();
	*base_plan = NULL;
	if (push_prepare(&p, manifest, err) != 0)
		goto out;
	if ((http = http_client_new(&o->http, NULL, err)) == NULL)
		goto out;
	for (i = 0; i < p.nt; i++) {
		struct target *t = &p.t[i];
		char digest[72] = "", mt[128];
		int st = registry_head_manifest(t->reg, http, t->t.path, t->t.tag ? t->t.tag : t->digest, digest, mt,
						NULL, err);
		if (st < 0) {
			edge_err_prefix(err, "%s", t->target);
			goto out;
		}
		json_array_append_new(*plan, json_pack("{s:s, s:s, s:s, s:b}", "ref", t->ref, "target", t->target, "digest",
						       t->digest, "present", st == 0 && strcmp(digest, t->digest) == 0));
	}
	if (p.nomitted > 0) {
		p.dry = 1;
		push_blobs(&p, 1);
		if (p.have_first) { /* a registry that cannot be asked */
			*err = p.first;
			goto out;
		}
		*base_plan = plan_base(&p);
	}
	rc = 0;
out:
	http_client_free(http);
	push_free(&p);
	if (rc != 0) {
		json_decref(*plan);
		*plan = NULL;
	}
	return rc;
}

int push_check_registry(json_t *manifest, const struct push_opts *o, struct edge_err *err)
{
	struct manifest_iter it;
	struct push p;
	struct http_client *http;
	size_t bad = 0, total = 0;

	memset(&p, 0, sizeof(p));
	p.o = o;
	if ((http = http_client_new(&o->http, NULL, err)) == NULL)
		return -1;
	for (manifest_iter_init(&it, manifest); manifest_iter_next(&it);) {
		const char *ref = manifest_entry_ref(it.entry), *want = manifest_entry_digest(it.entry);
		char *target, digest[72] = "", mt[128];
		struct edge_ref t;
		struct edge_err e2 = {0};
		int st;
		if (ref == NULL)
			continue;
		total++;
		if ((target = push_target(o, ref, &e2)) == NULL || ref_parse(target, &t, &e2) != 0) {
			log_error("%s", e2.msg);
			free(target);
			bad++;
			continue;
		}
		st = registry_head_manifest(reg_for(&p, t.domain), http, t.path,
					    t.tag ? t.tag : (want ? want : t.digest), digest, mt, NULL, &e2);
		if (st == 1) {
			log_error("%s: missing (%s)", target, ref);
			bad++;
		} else if (st < 0) {
			if (e2.code == EDGE_EAUTH || e2.code == EDGE_EREMOTE) {
				*err = e2;
				free(target);
				ref_free(&t);
				goto fail;
			}
			log_error("%s: %s", target, e2.msg);
			bad++;
		} else if (want != NULL && strcmp(digest, want) != 0) {
			log_error("%s: digest %s, expected %s (%s)", target, digest[0] ? digest : "unknown", want, ref);
			bad++;
		} else {
			log_verbose("%s: %s", target, digest);
		}
		free(target);
		ref_free(&t);
	}
	http_client_free(http);
	registry_set_free(&p.regs);
	if (bad > 0)
		return edge_errf(err, EDGE_EVERIFY, "%zu of %zu entries missing or different in the registry", bad, total);
	return 0;
fail:
	http_client_free(http);
	registry_set_free(&p.regs);
	return -1;
}
