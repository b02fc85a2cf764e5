/* HTTP Helm repositories for edge-pull: index.yaml and chart downloads
 * (pull.c keeps the registry pull engine). */
#include "helm.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "sha256.h"
#include "yamljson.h"

void helm_repos_init(struct helm_repos *h, struct cred_store *creds)
{
	h->creds = creds;
	pthread_mutex_init(&h->mu, NULL);
	h->indexes = json_object();
}

void helm_repos_free(struct helm_repos *h)
{
	json_decref(h->indexes);
	pthread_mutex_destroy(&h->mu);
	h->indexes = NULL;
}

static char *repo_base(const char *repo)
{
	size_t n = strlen(repo);

	while (n > 0 && repo[n - 1] == '/')
		n--;
	return xstrndup(repo, n);
}

static char *helm_auth_header(struct helm_repos *hr, const char *url, struct edge_err *err, int *st)
{
	struct cred c = {NULL, NULL};
	char *tok, *h;

	*st = hr->creds ? cred_store_lookup(hr->creds, CRED_HELM, url, &c, err) : 1;
	if (*st != 0)
		return NULL;
	tok = cred_basic_token(&c);
	h = xasprintf("Authorization: Basic %s", tok);
	explicit_bzero(tok, strlen(tok));
	free(tok);
	cred_free(&c);
	return h;
}

static int http_get_buffer(struct helm_repos *h, struct http_client *http, const char *url, const char *auth_for,
			   size_t max, struct http_resp *resp, struct edge_err *err)
{
	const char *headers[2] = {NULL, NULL};
	struct http_req req = {0};
	char *auth;
	int st, rc;

	if (http_same_origin(url, auth_for)) {
		auth = helm_auth_header(h, auth_for, err, &st);
		if (st < 0)
			return -1;
	} else {
		/* a chart hosted elsewhere never gets the repository's credentials */
		auth = NULL;
	}
	headers[0] = auth;
	req.method = "GET";
	req.url = url;
	req.headers = headers;
	req.cred_origin = auth_for;
	req.follow_redirects = 1;
	req.max_body = max;
	rc = http_do(http, &req, resp, err);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (rc != 0)
		return -1;
	if (resp->status == 401 || resp->status == 403)
		return edge_errf(err, EDGE_EAUTH, "GET %s: HTTP %ld: access refused", url, resp->status);
	if (resp->status != 200)
		return edge_errf(err, EDGE_EREMOTE, "GET %s: HTTP %ld", url, resp->status);
	return 0;
}

static json_t *helm_index(struct helm_repos *h, struct http_client *http, const char *repo, struct edge_err *err)
{
	char *base = repo_base(repo), *url = xasprintf("%s/index.yaml", base);
	struct http_resp resp = {0};
	json_t *doc;

	pthread_mutex_lock(&h->mu);
	doc = json_object_get(h->indexes, url);
	pthread_mutex_unlock(&h->mu);
	if (doc != NULL)
		goto out;
	if (http_get_buffer(h, http, url, repo, 256u << 20, &resp, err) != 0)
		goto out;
	doc = yaml_to_json(resp.body, resp.body_len, YAML_SCALARS_AS_STRINGS, err);
	if (doc == NULL) {
		/* a bad index is the repository's fault, not the manifest's */
		err->code = EDGE_EREMOTE;
		edge_err_prefix(err, "%s", url);
		goto out;
	}
	if (!json_is_object(json_object_get(doc, "entries"))) {
		json_decref(doc);
		doc = NULL;
		edge_errf(err, EDGE_EREMOTE, "%s: not a Helm repository index (no entries)", url);
		goto out;
	}
	pthread_mutex_lock(&h->mu);
	json_object_set_new(h->indexes, url, doc);
	pthread_mutex_unlock(&h->mu);
out:
	http_resp_free(&resp);
	free(base);
	free(url);
	return doc;
}

/* Chart.yaml of a chart .tgz as JSON (the Helm OCI config). */
static json_t *chart_yaml(const char *data, size_t len, struct edge_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	json_t *out = NULL;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		edge_errf(err, EDGE_EREMOTE, "chart archive: %s", archive_error_string(a));
		goto out;
	}
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e), *slash = name ? strchr(name, '/') : NULL;
		int64_t size = archive_entry_size(e), at = archive_read_header_position(a);
		char *buf;
		/* entries before Chart.yaml are decompressed to be skipped: a few
		 * KB of gzip can stand for gigabytes */
		if (size < 0 || at < 0 || (uint64_t)at + (uint64_t)size > HELM_CHART_MAX_UNPACKED) {
			edge_errf(err, EDGE_EREMOTE, "chart archive: more than %u MiB once unpacked before its Chart.yaml",
				  HELM_CHART_MAX_UNPACKED >> 20);
			goto out;
		}
		if (slash == NULL || strcmp(slash + 1, "Chart.yaml") != 0 || size <= 0 || size > (1 << 20))
			continue;
		buf = xmalloc((size_t)size + 1);
		if (archive_read_data(a, buf, (size_t)size) != size) {
			free(buf);
			edge_errf(err, EDGE_EREMOTE, "chart archive: cannot read %s", name);
			goto out;
		}
		buf[size] = '\0';
		out = yaml_to_json(buf, (size_t)size, 0, err);
		free(buf);
		if (out == NULL) {
			err->code = EDGE_EREMOTE;
			edge_err_prefix(err, "chart archive: %s", name);
		} else if (!json_is_object(out)) {
			json_decref(out);
			out = NULL;
			edge_errf(err, EDGE_EREMOTE, "chart archive: %s is not a map", name);
		}
		goto out;
	}
	edge_errf(err, EDGE_EREMOTE, "chart archive: no Chart.yaml");
out:
	archive_read_free(a);
	return out;
}

/* The index's entry for name at version; NULL (EDGE_EREMOTE) when absent. */
static json_t *index_version(json_t *index, const char *repo, const char *name, const char *version,
			     struct edge_err *err)
{
	json_t *versions = json_object_get(json_object_get(index, "entries"), name), *v;
	size_t i;

	json_array_foreach(versions, i, v) {
		const char *ver = json_string_value(json_object_get(v, "version"));
		if (ver && strcmp(ver, version) == 0)
			return v;
	}
	edge_errf(err, EDGE_EREMOTE, "%s: chart %s version %s is not in the repository index", repo, name, version);
	return NULL;
}

int helm_chart_fetch(struct helm_repos *h, struct http_client *http, const char *repo, const char *name,
		     const char *version, struct helm_chart *c, struct edge_err *err)
{
	json_t *index, *chosen;
	const char *u, *want, *cname;
	char *base;

	memset(c, 0, sizeof(*c));
	if ((index = helm_index(h, http, repo, err)) == NULL)
		return -1;
	if ((chosen = index_version(index, repo, name, version, err)) == NULL)
		return -1;
	u = json_string_value(json_array_get(json_object_get(chosen, "urls"), 0));
	if (u == NULL)
		return edge_errf(err, EDGE_EREMOTE, "%s: chart %s %s has no download URL", repo, name, version);
	base = repo_base(repo);
	c->url = strstr(u, "://") ? xstrdup(u) : xasprintf("%s/%s", base, u[0] == '/' ? u + 1 : u);
	free(base);
	if (http_get_buffer(h, http, c->url, repo, HELM_CHART_MAX, &c->resp, err) != 0)
		return -1;
	sha256_digest_buf(c->resp.body, c->resp.body_len, c->digest);
	want = json_string_value(json_object_get(chosen, "digest"));
	if (want != NULL && want[0] && strcmp(want, c->digest + 7) != 0)
		return edge_errf(err, EDGE_EVERIFY, "%s: chart %s %s: digest %s does not match the index's sha256:%s",
				 c->url, name, version, c->digest, want);
	if ((c->config = chart_yaml(c->resp.body, c->resp.body_len, err)) == NULL) {
		edge_err_prefix(err, "%s", c->url);
		return -1;
	}
	cname = json_string_value(json_object_get(c->config, "name"));
	if (cname == NULL || strcmp(cname, name) != 0)
		return edge_errf(err, EDGE_EREMOTE, "%s: the archive holds chart \"%s\", not %s", c->url,
				 cname ? cname : "", name);
	return 0;
}

void helm_chart_free(struct helm_chart *c)
{
	json_decref(c->config);
	http_resp_free(&c->resp);
	free(c->url);
	memset(c, 0, sizeof(*c));
}
