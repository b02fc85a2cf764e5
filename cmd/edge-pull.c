/* edge-pull: pull a manifest's images and charts into an OCI layout store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "meter.h"
#include "platform.h"
#include "pull.h"
#include "regcli.h"
#include "resolve.h"
#include "split.h"
#include "store.h"

static const char synopsis[] =
	"edge-pull [--store DIR] [--platform P] [--all-platforms] [--jobs N] [--keep-going] [MANIFEST | REF...]";

#define DEFAULT_JOBS 8
#define DEFAULT_JOBS_PER_REGISTRY 16
/* Blobs of PART_MIN bytes or more come in PARTS ranges at once (the
 * environment's EDGE_PULL_PART_MIN and EDGE_PULL_PARTS override them). */
#define DEFAULT_PARTS 4
#define DEFAULT_PART_MIN (64LL << 20)

static const char help[] =
	"usage: edge-pull [options] [MANIFEST]\n"
	"       edge-pull [options] REF...\n"
	"\n"
	"Pull every image and chart of the manifest (a file, or stdin) and its\n"
	"cluster definition into an OCI image layout store, and print the manifest\n"
	"with store, digest, mediaType, size and platforms. Blobs are verified\n"
	"before they get their final name; a rerun downloads only what is missing.\n"
	"Image references instead of a manifest (several arguments, or one that is\n"
	"no file and not *.json or *.yaml) are pulled as 'edge-resolve --images'\n"
	"would list them.\n"
	"\n"
	"Options:\n"
	"      --store DIR           the store (default: ./store)\n"
	"      --platform LIST       os/arch[/variant], repeatable or comma-separated\n"
	"                            (default: the manifest's platforms, else linux/amd64)\n"
	"      --all-platforms       keep image indexes whole\n"
	"      --jobs-per-registry N at most N of the transfers to one registry\n"
	"                            (default %d)\n"
	"      --keep-going          pull the rest after a failure; mark failed entries\n"
	"                            with \"error\" and exit 4 at the end\n"
	"      --offline             use the store alone (no network): checks that\n"
	"                            everything is there\n"
	"      --mirror REG=MIRROR   pull REG's images from MIRROR (HOST[:PORT][/PATH]),\n"
	"                            keeping their names (repeatable); http://MIRROR\n"
	"                            for plain HTTP to it alone, https:// for TLS\n"
	"      --registry HOST       the registry --username is for\n"
	REGCLI_HELP
	CLI_PROGRESS_HELP
	CLI_COMMON_HELP("print more detail (-vv: HTTP headers, redacted)")
	"\n"
	"Exit status: 0 success, 1 a digest or size mismatch, 2 usage, 3 invalid\n"
	"input, 4 registry or network error, 5 access refused, 6 local I/O error.\n";

enum {
	OPT_STORE = CLI_OPT_FIRST_TOOL,
	OPT_PLATFORM,
	OPT_ALL_PLATFORMS,
	OPT_KEEP_GOING,
	OPT_OFFLINE,
	OPT_REGISTRY,
	OPT_MIRROR,
	OPT_JOBS_PER_REGISTRY,
};

static const struct option longopts[] = {
	{"all-platforms", no_argument, NULL, OPT_ALL_PLATFORMS},
	{"jobs-per-registry", required_argument, NULL, OPT_JOBS_PER_REGISTRY},
	{"keep-going", no_argument, NULL, OPT_KEEP_GOING},
	{"mirror", required_argument, NULL, OPT_MIRROR},
	{"offline", no_argument, NULL, OPT_OFFLINE},
	{"platform", required_argument, NULL, OPT_PLATFORM},
	{"registry", required_argument, NULL, OPT_REGISTRY},
	{"store", required_argument, NULL, OPT_STORE},
	REGCLI_LONGOPTS,
	CLI_PROGRESS_LONGOPT,
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* A knob from the environment, when it holds a number in [min, max]. */
static long long env_long(const char *name, long long def, long long min, long long max)
{
	const char *s = getenv(name);
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return def;
	v = strtoll(s, &end, 10);
	return *end == '\0' && v >= min && v <= max ? v : def;
}

static void add_platforms(struct pull_opts *o, const char *list)
{
	struct edge_err err;

	if (platform_list_add(&o->platforms, &o->nplatforms, list, &err) != 0)
		cli_usage_error("--platform: %s", err.msg);
}

/* Is the one argument a manifest (else an image reference)? "-", a file,
 * or a name a manifest has: a typo there says "no such file", it does not
 * become a pull from Docker Hub. */
static int is_manifest_arg(const char *a)
{
	size_t l = strlen(a);

	return strcmp(a, "-") == 0 || access(a, F_OK) == 0 || (l > 5 && strcmp(a + l - 5, ".json") == 0) ||
	       (l > 5 && strcmp(a + l - 5, ".yaml") == 0) || (l > 4 && strcmp(a + l - 4, ".yml") == 0);
}

/* edge-pull REF...: the manifest 'edge-resolve --images LIST' makes of the
 * references (name "edge", platforms linux/amd64, images sorted, each
 * from {"list": "command line"}). NULL with err on a bad reference. */
static json_t *refs_manifest(char **refs, int n, struct edge_err *err)
{
	struct resolver *r = resolver_new(NULL, 0, NULL, 0, NULL, 0, err);
	json_t *m = NULL, *imgs = NULL, *chs = NULL, *profs = NULL;
	int i;

	if (r == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (resolver_add_image(r, "command line", refs[i], err) != 0)
			goto out;
	if (resolver_run(r, &imgs, &chs, &profs, err) != 0)
		goto out;
	m = manifest_new(NULL);
	manifest_set_name(m, "edge");
	manifest_set_platforms(m, json_pack("[s]", "linux/amd64"));
	manifest_set_entries(m, imgs, chs);
	imgs = chs = NULL;
out:
	json_decref(imgs);
	json_decref(chs);
	json_decref(profs);
	resolver_free(r);
	return m;
}

/* The closing line on a terminal. */
static void pull_summary(const struct meter *meter, const char *store_dir, const struct pull_stats *st)
{
	char got[32], there[32];

	meter_summary(meter, "%zu image%s, %zu chart%s \u2192 %s (%s downloaded, %s already there)", st->images,
		      st->images == 1 ? "" : "s", st->charts, st->charts == 1 ? "" : "s", store_dir,
		      meter_size(got, sizeof(got), st->bytes_fetched), meter_size(there, sizeof(there), st->bytes_present));
}

int main(int argc, char **argv)
{
	static char help_text[4096];
	struct regcli rc_opts;
	struct pull_opts o;
	struct edge_err err = {0};
	struct meter meter;
	struct pull_stats stats;
	struct store store;
	const char *store_dir = "store", *registry = NULL, *input = NULL;
	json_t *m = NULL;
	int c, rc = EDGE_OK, wrc, opened = 0, cli_platforms = 0, nrefs = 0;

	snprintf(help_text, sizeof(help_text), help, DEFAULT_JOBS_PER_REGISTRY, DEFAULT_JOBS);
	cli_init(argv[0], synopsis, help_text);
	cli_protect_secrets(); /* registry passwords and tokens */
	memset(&o, 0, sizeof(o));
	o.per_host = DEFAULT_JOBS_PER_REGISTRY;
	regcli_init(&rc_opts, DEFAULT_JOBS);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg) || regcli_option(&rc_opts, c, optarg))
			continue;
		switch (c) {
		case OPT_STORE: store_dir = optarg; break;
		case OPT_PLATFORM: add_platforms(&o, optarg); cli_platforms = 1; break;
		case OPT_ALL_PLATFORMS: o.all_platforms = 1; break;
		case OPT_JOBS_PER_REGISTRY:
			o.per_host = (int)cli_parse_long("--jobs-per-registry", optarg, 1, 256);
			break;
		case OPT_KEEP_GOING: o.keep_going = 1; break;
		case OPT_OFFLINE: o.offline = 1; break;
		case OPT_REGISTRY: registry = optarg; break;
		case OPT_MIRROR:
			o.mirrors = xrealloc(o.mirrors, (o.nmirrors + 1) * sizeof(*o.mirrors));
			regcli_mirror(&rc_opts, optarg, &o.mirrors[o.nmirrors].registry, &o.mirrors[o.nmirrors].mirror);
			o.nmirrors++;
			break;
		default: cli_usage_error(NULL);
		}
	}
	if (argc - optind > 1 || (argc - optind == 1 && !is_manifest_arg(argv[optind])))
		nrefs = argc - optind; /* REF... */
	else
		input = cli_one_argument(argc, argv);
	if (o.all_platforms && cli_platforms)
		cli_usage_error("--platform and --all-platforms exclude each other");
	if (rc_opts.password_stdin && nrefs == 0 && (input == NULL || strcmp(input, "-") == 0))
		cli_usage_error("--password-stdin needs the manifest as a file argument (stdin carries the password)");
	if (store_dir[0] == '\0')
		cli_usage_error("--store: empty directory name");

	if (nrefs > 0)
		m = refs_manifest(argv + optind, nrefs, &err);
	else
		m = cli_load_manifest(input, &err);
	if (m == NULL)
		goto fail;
	if (!o.all_platforms && o.nplatforms == 0) {
		json_t *pl = manifest_platforms(m), *v;
		size_t i;
		json_array_foreach(pl, i, v)
			add_platforms(&o, json_string_value(v));
		if (o.nplatforms == 0)
			add_platforms(&o, "linux/amd64");
	}
	if ((o.creds = regcli_creds(&rc_opts, registry, &err)) == NULL)
		goto fail;
	regcli_http_opts(&rc_opts, &o.http);
	o.plain_http = rc_opts.plain_http;
	o.jobs = rc_opts.jobs;
	o.parts = (int)env_long("EDGE_PULL_PARTS", DEFAULT_PARTS, 1, 16);
	o.part_min = env_long("EDGE_PULL_PART_MIN", DEFAULT_PART_MIN, 1, 1LL << 40);
	o.progress = meter_start(&meter);
	o.progress_ctx = &meter;
	o.stats = &stats;

	if (store_open(&store, store_dir, !o.offline, 1, &err) != 0)
		goto fail;
	opened = 1;
	if (pull_run(m, &store, &o, &err) != 0) {
		if (!o.keep_going)
			goto fail;
		rc = cli_fail(&err);
	}
	manifest_set_store(m, store_dir);
	if (cli_platforms) {
		json_t *pl = json_array();
		size_t i;
		for (i = 0; i < o.nplatforms; i++) {
			char buf[128];
			platform_format(&o.platforms[i], buf, sizeof(buf));
			json_array_append_new(pl, json_string(buf));
		}
		manifest_set_platforms(m, pl);
	}
	wrc = cli_print_manifest(m);
	rc = wrc != EDGE_OK ? wrc : rc;
	if (rc == EDGE_OK)
		pull_summary(&meter, store_dir, &stats);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	if (opened)
		store_close(&store);
	cred_store_free(o.creds);
	for (size_t k = 0; k < o.nmirrors; k++) {
		free(o.mirrors[k].registry);
		free(o.mirrors[k].mirror);
	}
	free(o.mirrors);
	free(o.platforms);
	json_decref(m);
	return cli_finish(rc);
}
