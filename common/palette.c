#include "palette.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "definition.h"
#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "sha256.h"
#include "yamljson.h"

#define VALUES_MAX_BYTES (4u << 20)

struct download {
	struct atomic_file af;
	struct sha256 hash;
	unsigned long long size;
	struct http_client *http;
};

static size_t sink(const void *data, size_t len, void *ctx)
{
	struct download *d = ctx;

	if (write_all(d->af.fd, data, len) != 0) {
		struct edge_err e;
		edge_err_errno(&e, "write %s", d->af.path);
		http_sink_error(d->http, &e);
		return 0;
	}
	sha256_update(&d->hash, data, len);
	d->size += len;
	return len;
}

/* A POST cannot resume: every retry starts the file again. */
static int sink_reset(void *ctx, long long *offset, int from_zero)
{
	struct download *d = ctx;

	(void)from_zero;
	*offset = 0;
	if (ftruncate(d->af.fd, 0) != 0 || lseek(d->af.fd, 0, SEEK_SET) != 0) {
		struct edge_err e;
		edge_err_errno(&e, "truncate %s", d->af.path);
		http_sink_error(d->http, &e);
		return -1;
	}
	sha256_discard(&d->hash);
	sha256_init(&d->hash);
	d->size = 0;
	return 0;
}

/* The message of a Palette error body {"code":…, "message":…}, if any. */
static const char *api_message(const struct http_resp *resp, char *buf, size_t len)
{
	json_t *j;
	const char *m;

	buf[0] = '\0';
	if (resp->body == NULL || resp->body_len == 0)
		return buf;
	j = json_loadb_bounded(resp->body, resp->body_len, 0, NULL);
	m = manifest_str(j, "message");
	if (m != NULL)
		snprintf(buf, len, ": %s", m);
	json_decref(j);
	return buf;
}

/* Reads an override's file: a regular file of at most 4 MiB of UTF-8 text
 * that parses as YAML, so that Palette gets what edge-resolve would read.
 * *text is malloc'd. */
static int read_values(const struct palette_values *o, char **text, struct edge_err *err)
{
	size_t len;
	json_t *doc, *s;

	if (read_file_max(o->path, VALUES_MAX_BYTES, text, &len, err) != 0) {
		if (err->code == EDGE_EIO)
			err->code = EDGE_EINPUT;
		return edge_err_prefix(err, "--values %s", o->pack);
	}
	if (memchr(*text, '\0', len) != NULL || (s = json_stringn(*text, len)) == NULL) {
		free(*text);
		*text = NULL;
		return edge_errf(err, EDGE_EINPUT, "--values %s: %s: not UTF-8 text", o->pack, o->path);
	}
	json_decref(s);
	if ((doc = yaml_to_json(*text, len, YAML_SCALARS_AS_STRINGS, err)) == NULL) {
		free(*text);
		*text = NULL;
		return edge_err_prefix(err, "--values %s: %s", o->pack, o->path);
	}
	json_decref(doc);
	return 0;
}

int palette_valid_uid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return i > 0 && i <= 128;
}

/* The request body exactly as SPEC §8, compact JSON (malloc'd). */
static char *request_body(const struct palette_request *rq, struct edge_err *err)
{
	json_t *plist = json_array(), *req;
	char *body;
	size_t i, j;

	for (i = 0; i < rq->nprofiles; i++)
		json_array_append_new(plist, json_pack("{s:s}", "uid", rq->profiles[i]));
	for (i = 0; i < rq->nvalues; i++) {
		json_t *prof = NULL, *packs;
		char *text = NULL;
		for (j = 0; j < rq->nprofiles; j++)
			if (strcmp(rq->profiles[j], rq->values[i].uid) == 0)
				prof = json_array_get(plist, j);
		if (read_values(&rq->values[i], &text, err) != 0) {
			json_decref(plist);
			return NULL;
		}
		if ((packs = json_object_get(prof, "packs")) == NULL) {
			packs = json_array();
			json_object_set_new(prof, "packs", packs);
		}
		json_array_append_new(packs, json_pack("{s:s, s:s}", "name", rq->values[i].pack, "values", text));
		free(text);
	}
	req = json_pack("{s:{s:s}, s:{s:s, s:o}}", "metadata", "name", rq->name, "spec", "cloudType", "edge-native",
			"profiles", plist);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return body;
}

/* The reply's status, as the API means it. */
static int check_status(const struct palette_request *rq, const char *url, const struct http_resp *resp,
			struct edge_err *err)
{
	char msg[512];

	if (resp->status == 401 || resp->status == 403)
		return edge_errf(err, EDGE_EAUTH, "POST %s: %ld: the API key was refused%s", url, resp->status,
				 api_message(resp, msg, sizeof(msg)));
	if (resp->status == 404)
		return edge_errf(err, EDGE_EREMOTE, "POST %s: 404: project %s or profiles %s not found%s", url,
				 rq->project, rq->profiles_text, api_message(resp, msg, sizeof(msg)));
	if (resp->status < 200 || resp->status > 299)
		return edge_errf(err, EDGE_EREMOTE, "POST %s: HTTP %ld%s%s", url, resp->status,
				 api_message(resp, msg, sizeof(msg)), resp->attempts > 1 ? " (after retries)" : "");
	return 0;
}

/* The downloaded file is a cluster definition. */
static int check_definition(const char *url, const struct download *d, struct edge_err *err)
{
	struct definition check;

	if (d->size == 0)
		return edge_errf(err, EDGE_EREMOTE, "POST %s: the reply is empty, expected a gzip tar", url);
	if (definition_read(d->af.tmp_path, &check, err) != 0) {
		/* the message names the temp file: name the URL instead */
		char why[EDGE_ERR_MAX];
		const char *colon = strstr(err->msg, ": ");
		snprintf(why, sizeof(why), "%s", colon ? colon : "");
		return edge_errf(err, EDGE_EREMOTE, "POST %s: the reply is not a cluster definition%s", url, why);
	}
	definition_free(&check);
	return 0;
}

int palette_fetch_definition(const struct palette_request *rq, const char *path, char *digest, uint64_t *size,
			     struct edge_err *err)
{
	struct http_resp resp = {0};
	struct download d;
	char *url = NULL, *body = NULL, *h_project = NULL, *h_key = NULL;
	size_t el = strlen(rq->endpoint);
	int rc = -1, opened = 0;

	memset(&d, 0, sizeof(d));
	d.af.fd = -1;
	if ((body = request_body(rq, err)) == NULL)
		goto out;
	while (el > 0 && rq->endpoint[el - 1] == '/')
		el--;
	url = xasprintf("%.*s/v1/spectroclusters/spc/download", (int)el, rq->endpoint);
	h_project = xasprintf("ProjectUid: %s", rq->project);
	h_key = xasprintf("ApiKey: %s", rq->api_key);
	if ((d.http = http_client_new(rq->http, NULL, err)) == NULL)
		goto out;
	if (atomic_open(&d.af, path, 0644, err) != 0)
		goto out;
	opened = 1;
	sha256_init(&d.hash);
	{
		const char *headers[] = {h_project, h_key, "Content-Type: application/json",
					 "Accept: application/octet-stream, application/json", NULL};
		struct http_req hr = {0};
		hr.method = "POST";
		hr.url = url;
		hr.headers = headers;
		hr.body = body;
		hr.body_len = strlen(body);
		hr.sink = sink;
		hr.sink_ctx = &d;
		hr.sink_reset = sink_reset;
		hr.follow_redirects = 1;
		log_verbose("requesting cluster definition %s for project %s, profiles %s", rq->name, rq->project,
			    rq->profiles_text);
		if (http_do(d.http, &hr, &resp, err) != 0)
			goto out;
	}
	if (check_status(rq, url, &resp, err) != 0)
		goto out;
	{
		unsigned char raw[32];
		sha256_final(&d.hash, raw);
		sha256_digest_format(digest, raw);
	}
	if (check_definition(url, &d, err) != 0)
		goto out;
	opened = 0;
	if (atomic_commit(&d.af, err) != 0)
		goto out;
	*size = d.size;
	rc = 0;
out:
	if (opened)
		atomic_abort(&d.af);
	if (d.hash.md != NULL)
		sha256_discard(&d.hash);
	http_resp_free(&resp);
	http_client_free(d.http);
	free(body);
	free(url);
	free(h_project);
	if (h_key != NULL) {
		explicit_bzero(h_key, strlen(h_key));
		free(h_key);
	}
	return rc;
}
