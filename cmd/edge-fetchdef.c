/* edge-fetchdef: download a cluster definition from the Palette API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "definition.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "sha256.h"
#include "split.h"
#include "yamljson.h"

#define DEFAULT_ENDPOINT "https://api.spectrocloud.com"

static const char synopsis[] =
	"edge-fetchdef --project-id ID --profile-ids A,B [--name NAME] [-o FILE] [--endpoint URL] [--values [UID:]PACK=FILE]";

static const char help[] =
	"usage: edge-fetchdef --project-id ID --profile-ids A,B [options]\n"
	"\n"
	"Download a cluster definition (a .tgz of cluster profiles) from the Palette\n"
	"API, check that it is a gzip tar, write it atomically and print a manifest\n"
	"naming it. The API key comes from $EDGE_API_KEY or --api-key-file.\n"
	"\n"
	"Options:\n"
	"      --project-id ID       Palette project UID (required)\n"
	"      --profile-ids LIST    comma-separated cluster profile UIDs (required)\n"
	"      --name NAME           cluster definition name (default: cluster-definition)\n"
	"      --values [UID:]PACK=FILE\n"
	"                            send FILE's YAML as the values of pack PACK of\n"
	"                            profile UID (UID may be left out with one profile);\n"
	"                            repeatable\n"
	"  -o, --output FILE         where to write the .tgz (default: NAME.tgz)\n"
	"      --endpoint URL        Palette API endpoint (default: $EDGE_PALETTE_ENDPOINT,\n"
	"                            else " DEFAULT_ENDPOINT ")\n"
	"      --api-key-file FILE   read the API key from FILE (first line)\n"
	"      --api-key KEY         the API key on the command line (visible to other\n"
	"                            users: prefer $EDGE_API_KEY or --api-key-file)\n"
	"      --ca-file FILE        trust the CA certificates in FILE as well\n"
	"      --insecure            do not verify the server's TLS certificate\n"
	"      --retries N           retries on network errors, 429 and 5xx (default 5)\n"
	CLI_TIMEOUT_HELP
	"  -q, --quiet               print errors only\n"
	"  -v, --verbose             print each request (-vv: headers, secrets redacted)\n"
	"  -h, --help                print this help and exit\n"
	"      --version             print the version and exit\n"
	"\n"
	"Exit status: 0 success, 2 usage, 3 invalid input, 4 Palette API or network\n"
	"error, 5 API key refused, 6 local I/O error.\n";

enum {
	OPT_PROJECT = CLI_OPT_FIRST_TOOL,
	OPT_PROFILES,
	OPT_NAME,
	OPT_ENDPOINT,
	OPT_KEYFILE,
	OPT_KEY,
	OPT_CAFILE,
	OPT_INSECURE,
	OPT_RETRIES,
	OPT_VALUES,
};

static const struct option longopts[] = {
	{"api-key", required_argument, NULL, OPT_KEY},
	{"api-key-file", required_argument, NULL, OPT_KEYFILE},
	{"ca-file", required_argument, NULL, OPT_CAFILE},
	{"endpoint", required_argument, NULL, OPT_ENDPOINT},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"name", required_argument, NULL, OPT_NAME},
	{"output", required_argument, NULL, 'o'},
	{"profile-ids", required_argument, NULL, OPT_PROFILES},
	{"project-id", required_argument, NULL, OPT_PROJECT},
	{"retries", required_argument, NULL, OPT_RETRIES},
	CLI_TIMEOUT_LONGOPTS,
	{"values", required_argument, NULL, OPT_VALUES},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

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
	j = json_loadb(resp->body, resp->body_len, 0, NULL);
	m = manifest_str(j, "message");
	if (m != NULL)
		snprintf(buf, len, ": %s", m);
	json_decref(j);
	return buf;
}

/* A pack's values override (--values [UID:]PACK=FILE): the API's
 * v1PackValuesEntity {name, values} in the profile's "packs". */
struct override {
	char *uid;  /* NULL: the only profile */
	char *pack;
	char *path;
};

#define VALUES_MAX_BYTES (4u << 20)

/* Reads an override's file: a regular file of at most 4 MiB of UTF-8 text
 * that parses as YAML, so that Palette gets what edge-resolve would read.
 * *text is malloc'd. */
static int read_values(const struct override *o, char **text, struct edge_err *err)
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

static int valid_uid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return i > 0 && i <= 128;
}

int main(int argc, char **argv)
{
	const char *project = NULL, *profiles_arg = NULL, *name = "cluster-definition";
	const char *output = NULL, *endpoint = NULL, *keyfile = NULL, *keyarg = NULL;
	struct http_opts hopts = {0};
	struct edge_err err = {0};
	struct http_resp resp = {0};
	struct download d;
	char **profiles = NULL, *key = NULL, *url = NULL, *body = NULL, *outpath = NULL;
	const char *envkey;
	char *h_project = NULL, *h_key = NULL;
	size_t nprofiles = 0, i, j, noverrides = 0;
	struct override *overrides = NULL;
	int c, rc = EDGE_OK, opened = 0;
	json_t *req = NULL, *plist, *m = NULL, *def, *mprof;
	struct definition check;
	char digest[72], msg[512];

	memset(&d, 0, sizeof(d));
	d.af.fd = -1;
	hopts.retries = -1;
	cli_init(argv[0], synopsis, help);
	cli_protect_secrets(); /* the API key */
	while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg) || cli_timeout_option(c, optarg, &hopts))
			continue;
		switch (c) {
		case OPT_PROJECT: project = optarg; break;
		case OPT_PROFILES: profiles_arg = optarg; break;
		case OPT_NAME: name = optarg; break;
		case 'o': output = optarg; break;
		case OPT_ENDPOINT: endpoint = optarg; break;
		case OPT_KEYFILE: keyfile = optarg; break;
		case OPT_KEY: keyarg = optarg; break;
		case OPT_CAFILE: hopts.ca_file = optarg; break;
		case OPT_INSECURE: hopts.insecure = 1; break;
		case OPT_RETRIES: hopts.retries = (int)cli_parse_long("--retries", optarg, 0, 100); break;
		case OPT_VALUES: {
			const char *eq = strchr(optarg, '='), *colon = strchr(optarg, ':');
			struct override *o;
			if (eq == NULL || eq == optarg || eq[1] == '\0')
				cli_usage_error("--values: expected [UID:]PACK=FILE, got '%s'", optarg);
			if (colon != NULL && colon > eq)
				colon = NULL;
			overrides = xrealloc(overrides, (noverrides + 1) * sizeof(*overrides));
			o = &overrides[noverrides++];
			o->uid = colon ? xstrndup(optarg, (size_t)(colon - optarg)) : NULL;
			o->pack = colon ? xstrndup(colon + 1, (size_t)(eq - colon - 1))
					: xstrndup(optarg, (size_t)(eq - optarg));
			o->path = xstrdup(eq + 1);
			if (o->pack[0] == '\0' || (o->uid != NULL && !valid_uid(o->uid)))
				cli_usage_error("--values: expected [UID:]PACK=FILE, got '%s'", optarg);
			break;
		}
		default: cli_usage_error(NULL);
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (project == NULL)
		cli_usage_error("--project-id is required");
	if (profiles_arg == NULL)
		cli_usage_error("--profile-ids is required");
	if (!valid_uid(project))
		cli_usage_error("--project-id: '%s' is not a Palette UID", project);
	profiles = split_list(profiles_arg, &nprofiles);
	for (i = 0; i < nprofiles; i++) {
		if (profiles[i][0] == '\0')
			cli_usage_error("--profile-ids: empty profile ID in '%s'", profiles_arg);
		if (!valid_uid(profiles[i]))
			cli_usage_error("--profile-ids: '%s' is not a Palette UID", profiles[i]);
		for (j = 0; j < i; j++)
			if (strcmp(profiles[i], profiles[j]) == 0)
				cli_usage_error("--profile-ids: profile %s is given twice", profiles[i]);
	}
	for (i = 0; i < noverrides; i++) {
		struct override *o = &overrides[i];
		if (o->uid == NULL) {
			if (nprofiles > 1)
				cli_usage_error("--values %s: say which profile: --values UID:%s=%s", o->pack,
						o->pack, o->path);
			o->uid = xstrdup(profiles[0]);
		}
		for (j = 0; j < nprofiles && strcmp(profiles[j], o->uid) != 0; j++)
			;
		if (j == nprofiles)
			cli_usage_error("--values: profile %s is not in --profile-ids", o->uid);
		for (j = 0; j < i; j++)
			if (strcmp(overrides[j].uid, o->uid) == 0 && strcmp(overrides[j].pack, o->pack) == 0)
				cli_usage_error("--values: pack %s of profile %s is given twice", o->pack, o->uid);
	}
	{
		json_t *probe = manifest_new(name);
		if (manifest_validate(probe, NULL, &err) != 0)
			cli_usage_error("--name: %s", err.msg);
		json_decref(probe);
	}
	if (endpoint == NULL)
		endpoint = getenv("EDGE_PALETTE_ENDPOINT");
	if (endpoint == NULL || endpoint[0] == '\0')
		endpoint = DEFAULT_ENDPOINT;
	if (strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0)
		cli_usage_error("--endpoint: expected an http:// or https:// URL, got '%s'", endpoint);
	outpath = output ? xstrdup(output) : xasprintf("%s.tgz", name);
	if (strcmp(outpath, "-") == 0)
		cli_usage_error("-o: the definition cannot go to stdout (stdout carries the manifest)");

	/* the API key: a file, the environment, or (warned) argv */
	envkey = getenv("EDGE_API_KEY");
	if (keyfile != NULL) {
		if ((key = cli_read_secret_file(keyfile, &err)) == NULL) {
			if (err.code == EDGE_EIO)
				err.code = EDGE_EINPUT;
			goto fail;
		}
	} else if (envkey != NULL && envkey[0] != '\0') {
		key = cli_take_secret_env("EDGE_API_KEY");
	} else if (keyarg != NULL) {
		log_warn("--api-key exposes the key to other users of this machine: use $EDGE_API_KEY or --api-key-file");
		key = xstrdup(keyarg);
	} else {
		cli_usage_error("no API key: set $EDGE_API_KEY or use --api-key-file FILE");
	}
	if (key[0] == '\0' || strpbrk(key, "\r\n") != NULL) {
		edge_errf(&err, EDGE_EINPUT, "the API key is empty or holds a line break");
		goto fail;
	}

	/* the request exactly as SPEC §8 */
	plist = json_array();
	for (i = 0; i < nprofiles; i++)
		json_array_append_new(plist, json_pack("{s:s}", "uid", profiles[i]));
	for (i = 0; i < noverrides; i++) {
		json_t *prof = NULL, *packs;
		char *text = NULL;
		for (j = 0; j < nprofiles; j++)
			if (strcmp(profiles[j], overrides[i].uid) == 0)
				prof = json_array_get(plist, j);
		if (read_values(&overrides[i], &text, &err) != 0) {
			json_decref(plist);
			goto fail;
		}
		if ((packs = json_object_get(prof, "packs")) == NULL) {
			packs = json_array();
			json_object_set_new(prof, "packs", packs);
		}
		json_array_append_new(packs, json_pack("{s:s, s:s}", "name", overrides[i].pack, "values", text));
		free(text);
	}
	req = json_pack("{s:{s:s}, s:{s:s, s:o}}", "metadata", "name", name, "spec", "cloudType", "edge-native",
			"profiles", plist);
	body = json_dumps(req, JSON_COMPACT);
	{
		size_t el = strlen(endpoint);
		while (el > 0 && endpoint[el - 1] == '/')
			el--;
		url = xasprintf("%.*s/v1/spectroclusters/spc/download", (int)el, endpoint);
	}
	h_project = xasprintf("ProjectUid: %s", project);
	h_key = xasprintf("ApiKey: %s", key);

	if ((d.http = http_client_new(&hopts, NULL, &err)) == NULL)
		goto fail;
	if (atomic_open(&d.af, outpath, 0644, &err) != 0)
		goto fail;
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
		log_verbose("requesting cluster definition %s for project %s, profiles %s", name, project, profiles_arg);
		if (http_do(d.http, &hr, &resp, &err) != 0)
			goto fail;
	}
	if (resp.status == 401 || resp.status == 403) {
		edge_errf(&err, EDGE_EAUTH, "POST %s: %ld: the API key was refused%s", url, resp.status,
			  api_message(&resp, msg, sizeof(msg)));
		goto fail;
	}
	if (resp.status == 404) {
		edge_errf(&err, EDGE_EREMOTE, "POST %s: 404: project %s or profiles %s not found%s", url, project,
			  profiles_arg, api_message(&resp, msg, sizeof(msg)));
		goto fail;
	}
	if (resp.status < 200 || resp.status > 299) {
		edge_errf(&err, EDGE_EREMOTE, "POST %s: HTTP %ld%s%s", url, resp.status,
			  api_message(&resp, msg, sizeof(msg)),
			  resp.attempts > 1 ? " (after retries)" : "");
		goto fail;
	}
	{
		unsigned char raw[32];
		sha256_final(&d.hash, raw);
		memcpy(digest, "sha256:", 7);
		sha256_hex(raw, digest + 7);
	}
	if (d.size == 0) {
		edge_errf(&err, EDGE_EREMOTE, "POST %s: the reply is empty, expected a gzip tar", url);
		goto fail;
	}
	if (definition_read(d.af.tmp_path, &check, &err) != 0) {
		/* the message names the temp file: name the URL instead */
		char why[EDGE_ERR_MAX];
		const char *colon = strstr(err.msg, ": ");
		snprintf(why, sizeof(why), "%s", colon ? colon : "");
		edge_errf(&err, EDGE_EREMOTE, "POST %s: the reply is not a cluster definition%s", url, why);
		goto fail;
	}
	definition_free(&check);
	if (atomic_commit(&d.af, &err) != 0) {
		opened = 0;
		goto fail;
	}
	opened = 0;
	log_verbose("wrote %s (%llu bytes, %s)", outpath, d.size, digest);

	m = manifest_new(name);
	mprof = json_array();
	for (i = 0; i < nprofiles; i++)
		json_array_append_new(mprof, json_pack("{s:s}", "uid", profiles[i]));
	def = json_pack("{s:s, s:s, s:I, s:o}", "path", outpath, "digest", digest, "size",
			(json_int_t)d.size, "profiles", mprof);
	json_object_set_new(m, "definition", def);
	if (cli_write_manifest(m, &err) != 0)
		goto fail;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	if (opened)
		atomic_abort(&d.af);
	if (d.hash.md != NULL)
		sha256_discard(&d.hash);
	http_resp_free(&resp);
	http_client_free(d.http);
	json_decref(req);
	json_decref(m);
	free(body);
	free(url);
	free(outpath);
	free(h_project);
	if (h_key != NULL) {
		explicit_bzero(h_key, strlen(h_key));
		free(h_key);
	}
	cli_secret_free(key);
	split_list_free(profiles, nprofiles);
	for (i = 0; i < noverrides; i++) {
		free(overrides[i].uid);
		free(overrides[i].pack);
		free(overrides[i].path);
	}
	free(overrides);
	return cli_finish(rc);
}
