/* edge-fetchdef: download a cluster definition from the Palette API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fileopt.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "palette.h"
#include "split.h"

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
	CLI_COMMON_HELP("print each request (-vv: headers, secrets redacted)")
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

/* Checks the profiles and the --values overrides against each other
 * (usage errors), and gives an override without UID the only profile. */
static void check_profiles(const char *profiles_arg, char **profiles, size_t nprofiles,
			   struct palette_values *overrides, size_t noverrides)
{
	size_t i, j;

	for (i = 0; i < nprofiles; i++) {
		if (profiles[i][0] == '\0')
			cli_usage_error("--profile-ids: empty profile ID in '%s'", profiles_arg);
		if (!palette_valid_uid(profiles[i]))
			cli_usage_error("--profile-ids: '%s' is not a Palette UID", profiles[i]);
		for (j = 0; j < i; j++)
			if (strcmp(profiles[i], profiles[j]) == 0)
				cli_usage_error("--profile-ids: profile %s is given twice", profiles[i]);
	}
	for (i = 0; i < noverrides; i++) {
		struct palette_values *o = &overrides[i];
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
}

/* --values [UID:]PACK=FILE, appended to *v. */
static void add_values(struct palette_values **v, size_t *n, const char *arg)
{
	const char *eq = strchr(arg, '='), *colon = strchr(arg, ':');
	struct palette_values *o;

	if (eq == NULL || eq == arg || eq[1] == '\0')
		cli_usage_error("--values: expected [UID:]PACK=FILE, got '%s'", arg);
	if (colon != NULL && colon > eq)
		colon = NULL;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	o = &(*v)[(*n)++];
	o->uid = colon ? xstrndup(arg, (size_t)(colon - arg)) : NULL;
	o->pack = colon ? xstrndup(colon + 1, (size_t)(eq - colon - 1)) : xstrndup(arg, (size_t)(eq - arg));
	o->path = xstrdup(eq + 1);
	if (o->pack[0] == '\0' || (o->uid != NULL && !palette_valid_uid(o->uid)))
		cli_usage_error("--values: expected [UID:]PACK=FILE, got '%s'", arg);
}

/* The API key: a file, the environment, or (warned) argv. NULL with err. */
static char *api_key(const char *keyfile, const char *keyarg, struct edge_err *err)
{
	const char *envkey = getenv("EDGE_API_KEY");
	char *key;

	if (keyfile != NULL) {
		if ((key = cli_read_secret_file(keyfile, err)) == NULL) {
			if (err->code == EDGE_EIO)
				err->code = EDGE_EINPUT;
			return NULL;
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
		cli_secret_free(key);
		edge_errf(err, EDGE_EINPUT, "the API key is empty or holds a line break");
		return NULL;
	}
	return key;
}

int main(int argc, char **argv)
{
	const char *project = NULL, *profiles_arg = NULL, *name = "cluster-definition";
	const char *output = NULL, *endpoint = NULL, *keyfile = NULL, *keyarg = NULL;
	struct http_opts hopts = {0};
	struct palette_request rq;
	struct edge_err err = {0};
	char **profiles = NULL, *key = NULL, *outpath = NULL, digest[72];
	size_t nprofiles = 0, i, noverrides = 0;
	struct palette_values *overrides = NULL;
	uint64_t size = 0;
	int c, rc = EDGE_OK;
	json_t *m = NULL, *mprof, *def;

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
		case OPT_KEYFILE: cli_need_input("--api-key-file", keyfile = optarg, EDGE_EINPUT); break;
		case OPT_KEY: keyarg = optarg; break;
		case OPT_CAFILE: cli_need_input("--ca-file", hopts.ca_file = optarg, EDGE_EINPUT); break;
		case OPT_INSECURE: hopts.insecure = 1; break;
		case OPT_RETRIES: hopts.retries = (int)cli_parse_long("--retries", optarg, 0, 100); break;
		case OPT_VALUES: add_values(&overrides, &noverrides, optarg); break;
		default: cli_usage_error(NULL);
		}
	}
	if (optind < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (project == NULL)
		cli_usage_error("--project-id is required");
	if (profiles_arg == NULL)
		cli_usage_error("--profile-ids is required");
	if (!palette_valid_uid(project))
		cli_usage_error("--project-id: '%s' is not a Palette UID", project);
	profiles = split_list(profiles_arg, &nprofiles);
	check_profiles(profiles_arg, profiles, nprofiles, overrides, noverrides);
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
	if ((key = api_key(keyfile, keyarg, &err)) == NULL)
		goto fail;

	rq = (struct palette_request){ endpoint, project, key, name, profiles, nprofiles, profiles_arg,
				       overrides, noverrides, &hopts };
	if (palette_fetch_definition(&rq, outpath, digest, &size, &err) != 0)
		goto fail;
	log_verbose("wrote %s (%llu bytes, %s)", outpath, (unsigned long long)size, digest);

	m = manifest_new(name);
	mprof = json_array();
	for (i = 0; i < nprofiles; i++)
		json_array_append_new(mprof, manifest_profile_new(profiles[i], NULL, NULL, NULL));
	def = manifest_file_new(outpath, digest, (json_int_t)size);
	manifest_definition_set_profiles(def, mprof);
	manifest_set_definition(m, def);
	rc = cli_print_manifest(m);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	json_decref(m);
	free(outpath);
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
