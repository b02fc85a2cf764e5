/* edge-push: push a bundle's (or a store's) images and charts to a registry. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "cli.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "meter.h"
#include "push.h"
#include "regcli.h"
#include "store.h"

#define DEFAULT_JOBS 4

static const char synopsis[] =
	"edge-push --registry HOST[:PORT][/PATH] [--mapping SRC=DST] [--chunk-size SIZE] [BUNDLE | MANIFEST]";

static const char help[] =
	"usage: edge-push --registry HOST[:PORT][/PATH] [options] [BUNDLE | MANIFEST]\n"
	"\n"
	"Push every image and chart of a content bundle (or of the manifest's bundle\n"
	"or store; the manifest on stdin when no argument) to a registry: blobs the\n"
	"registry has are skipped, blobs this run pushed elsewhere are mounted, big\n"
	"blobs go in chunks; manifests follow their blobs, tags come last. Each blob's\n"
	"sha256 is checked as it is read. Prints the manifest with \"pushed\".\n"
	"A delta bundle's left-out blobs must be in the registry, or be mounted\n"
	"there from its base's repositories: else nothing is pushed (exit 1).\n"
	"BUNDLE is as for edge-verify: a bundle, a parts descriptor, or a glob of one.\n"
	"\n"
	"Options:\n"
	"      --registry TARGET     HOST[:PORT][/PATH]: an image keeps its full name\n"
	"                            under it (quay.io/a/b:1 -> TARGET/quay.io/a/b:1)\n"
	"      --mapping SRC=DST     replace the ref prefix SRC by DST instead\n"
	"                            (repeatable; the longest match wins)\n"
	"      --chunk-size SIZE     upload blobs larger than SIZE in chunks of SIZE\n"
	"                            (default 64M)\n"
	"      --dry-run             upload nothing: print where each image and chart\n"
	"                            would go (SOURCE -> TARGET) and which the registry\n"
	"                            already has (HEAD requests only), on stderr; of a\n"
	"                            delta bundle, also whether each blob it left out\n"
	"                            is there, mountable or missing (exit 1)\n"
	REGCLI_HELP
	CLI_PROGRESS_HELP
	CLI_COMMON_HELP("print more detail (-vv: HTTP headers, redacted)")
	"\n"
	"Exit status: 0 success, 1 a corrupt blob in the bundle or a blob a delta left\n"
	"out missing from the registry, 2 usage, 3 invalid input, 4 registry or network\n"
	"error, 5 access refused, 6 local I/O error.\n";

enum {
	OPT_CHUNK = CLI_OPT_FIRST_TOOL,
	OPT_DRY_RUN,
};

static const struct option longopts[] = {
	{"chunk-size", required_argument, NULL, OPT_CHUNK},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	REGCLI_TARGET_LONGOPTS,
	REGCLI_LONGOPTS,
	CLI_PROGRESS_LONGOPT,
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

static int is_bundle_file(const char *path)
{
	unsigned char m[4];
	int fd, n;

	if (bundle_is_parts_path(path))
		return 1;
	/* not one (also a FIFO): what reads it next says what is wrong */
	if ((fd = open_input(path, NULL, NULL)) < 0)
		return 0;
	n = (int)read(fd, m, 4);
	close(fd);
	return n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd;
}

/* bundle.json of a bundle, as its manifest (without "blobs", nor a
 * delta's "base": what the bundle holds, not what it names). */
static json_t *bundle_manifest(struct bundle_reader *r, struct edge_err *err)
{
	char *buf;
	size_t len;
	json_t *m;

	if (bundle_read_entry(r, "bundle.json", MANIFEST_MAX_BYTES, &buf, &len, err) != 0)
		return NULL;
	m = manifest_parse(buf, len, r->path, err);
	free(buf);
	if (m != NULL) {
		json_object_del(m, "blobs");
		json_object_del(m, "base");
		manifest_set_bundle(m, manifest_file_new(r->path, NULL, -1));
	}
	return m;
}

/* --dry-run of a delta: one line for each blob it left out and each
 * repository that needs it; n[] counts the blobs by their worst state
 * (0 there, 1 mountable, 2 missing); *missing_base is a base to push
 * first when one is missing. */
static void dry_run_base(json_t *base_plan, size_t n[3], const char **missing_base)
{
	json_t *e, *worst = json_object(), *v;
	size_t i;
	const char *k;

	json_array_foreach(base_plan, i, e) {
		const char *state = manifest_str(e, "state"), *d = manifest_str(e, "digest");
		int w = strcmp(state, "missing") == 0 ? 2 : strcmp(state, "mountable") == 0 ? 1 : 0;
		fprintf(stderr, "blob %s (left out of the delta, for %s) -> %s: ", d, manifest_str(e, "ref"),
			manifest_str(e, "repository"));
		if (w == 0)
			fprintf(stderr, "already there\n");
		else if (w == 1)
			fprintf(stderr, "mountable from %s\n", manifest_str(e, "from"));
		else
			fprintf(stderr, "missing: push %s first\n", manifest_str(e, "base"));
		if (w == 2 && *missing_base == NULL)
			*missing_base = manifest_str(e, "base");
		if ((v = json_object_get(worst, d)) == NULL || json_integer_value(v) < w)
			json_object_set_new(worst, d, json_integer(w));
	}
	json_object_foreach(worst, k, v)
		n[json_integer_value(v)]++;
	json_decref(worst);
}

/* --dry-run: the plan on stderr, one line an entry (and, of a delta, one
 * for each blob it left out and each repository that needs it), counts,
 * and the manifest unchanged on stdout. A delta's blob that is missing
 * from the registry fails it: the push would stop (exit 1, nothing on
 * stdout). Returns the exit code. */
static int dry_run_report(json_t *m, struct push_source *src, const struct push_opts *o)
{
	struct edge_err err = {0};
	json_t *plan = NULL, *base_plan = NULL, *e;
	size_t i, present = 0, n[3] = {0, 0, 0}, nb;
	const char *missing_base = NULL;
	int rc = EDGE_OK;

	if (push_plan(m, src, o, &plan, &base_plan, &err) != 0)
		return cli_report(&err);
	json_array_foreach(plan, i, e) {
		int there = json_is_true(json_object_get(e, "present"));
		present += there;
		fprintf(stderr, "%s -> %s: %s\n", manifest_str(e, "ref"), manifest_str(e, "target"),
			there ? "already there" : "to push");
	}
	if (base_plan != NULL)
		dry_run_base(base_plan, n, &missing_base);
	fprintf(stderr, "%s: dry run: %zu of %zu entries to push, %zu already there\n", edge_progname(),
		json_array_size(plan) - present, json_array_size(plan), present);
	nb = n[0] + n[1] + n[2];
	if (base_plan != NULL)
		fprintf(stderr, "%s: dry run: %zu blob%s left out of the delta: %zu already there, %zu mountable, %zu missing\n",
			edge_progname(), nb, nb == 1 ? "" : "s", n[0], n[1], n[2]);
	if (n[2] > 0) {
		edge_errf(&err, EDGE_EVERIFY, "dry run: %zu blob%s left out of the delta %s not in the registry: "
			  "the push would stop (push %s first)", n[2], n[2] == 1 ? "" : "s", n[2] == 1 ? "is" : "are",
			  missing_base);
		rc = cli_report(&err);
	}
	json_decref(plan);
	json_decref(base_plan);
	return rc == EDGE_OK ? cli_print_manifest(m) : rc;
}

/* The closing line on a terminal: what went where, how much. */
static void push_summary(const struct meter *meter, const struct push_opts *o, const struct push_stats *st)
{
	char sent[32], there[32];

	meter_summary(meter, "%zu image%s, %zu chart%s \u2192 %s (%s sent, %s already there)", st->images,
		      st->images == 1 ? "" : "s", st->charts, st->charts == 1 ? "" : "s",
		      o->registry ? o->registry : "the --mapping targets", meter_size(sent, sizeof(sent), st->bytes_sent),
		      meter_size(there, sizeof(there), st->bytes_present));
}

int main(int argc, char **argv)
{
	static char help_text[4096];
	struct regcli rco;
	struct push_opts o;
	struct edge_err err = {0};
	struct meter meter;
	struct bundle_reader br;
	struct store st;
	struct push_source src = {NULL, NULL};
	const char *input = NULL;
	json_t *m = NULL, *pushed = NULL;
	char *host = NULL, *found = NULL;
	struct push_stats stats;
	int c, rc = EDGE_OK, have_bundle = 0, have_store = 0, dry_run = 0;

	snprintf(help_text, sizeof(help_text), help, DEFAULT_JOBS);
	cli_init(argv[0], synopsis, help_text);
	cli_protect_secrets(); /* registry passwords and tokens */
	memset(&o, 0, sizeof(o));
	o.chunk_size = 64u << 20;
	regcli_init(&rco, DEFAULT_JOBS);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg) || regcli_option(&rco, c, optarg) ||
		    regcli_target_option(&o, c, optarg))
			continue;
		switch (c) {
		case OPT_CHUNK:
			o.chunk_size = (uint64_t)cli_parse_size("--chunk-size", optarg);
			if (o.chunk_size < 4096)
				cli_usage_error("--chunk-size: at least 4K, got '%s'", optarg);
			break;
		case OPT_DRY_RUN: dry_run = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	input = cli_one_argument(argc, argv);
	if (o.registry == NULL && o.nmappings == 0)
		cli_usage_error("--registry is required (or --mapping rules covering every image)");
	if (o.registry != NULL) {
		size_t l = strlen(o.registry);
		while (l > 0 && o.registry[l - 1] == '/')
			((char *)o.registry)[--l] = '\0';
		if (l == 0 || strstr(o.registry, "://") != NULL)
			cli_usage_error("--registry: expected HOST[:PORT][/PATH], got '%s'", o.registry);
	}
	if (rco.password_stdin && (input == NULL || strcmp(input, "-") == 0))
		cli_usage_error("--password-stdin needs the bundle or manifest as a file argument");
	host = push_creds_host(&o);
	if ((o.creds = regcli_creds(&rco, host, &err)) == NULL)
		goto fail;
	regcli_http_opts(&rco, &o.http);
	o.plain_http = rco.plain_http;
	o.jobs = rco.jobs;
	o.progress = meter_start(&meter);
	o.progress_ctx = &meter;
	o.stats = &stats;

	if (input != NULL && strcmp(input, "-") != 0) {
		/* a bundle, a parts descriptor, a manifest, or a glob of one */
		if ((found = bundle_find(input, &err)) == NULL)
			goto fail;
		input = found;
	}
	if (input != NULL && strcmp(input, "-") != 0 && is_bundle_file(input)) {
		if (bundle_reader_open(&br, input, &err) != 0)
			goto fail;
		have_bundle = 1;
		if ((m = bundle_manifest(&br, &err)) == NULL)
			goto fail;
	} else {
		const char *bp, *sp;
		if ((m = cli_load_manifest(input, &err)) == NULL) {
			if (err.code == EDGE_EUSAGE)
				edge_errf(&err, EDGE_EUSAGE, "no input: give a bundle, or a manifest (file or stdin)");
			goto fail;
		}
		bp = manifest_file_path(manifest_bundle(m));
		sp = manifest_store(m);
		/* the manifest names the file that is missing, not only the file */
		if (bp != NULL) {
			if (bundle_reader_open(&br, bp, &err) != 0) {
				edge_err_prefix(&err, "%s: bundle.path", input && strcmp(input, "-") ? input : "stdin");
				goto fail;
			}
			have_bundle = 1;
		} else if (sp != NULL) {
			if (store_open(&st, sp, 0, 0, &err) != 0) {
				edge_err_prefix(&err, "%s", input && strcmp(input, "-") ? input : "stdin");
				goto fail;
			}
			have_store = 1;
		} else {
			edge_errf(&err, EDGE_EINPUT, "the manifest has neither \"bundle\" nor \"store\": nothing to push from");
			goto fail;
		}
	}
	if (have_bundle)
		src.bundle = &br;
	else
		src.store = &st;
	if (dry_run) {
		rc = dry_run_report(m, &src, &o);
		goto out;
	}
	if (push_run(m, &src, &o, &pushed, &err) != 0) {
		rc = cli_report(&err); /* an image no rule covers: no usage lines */
		goto out;
	}
	manifest_set_pushed(m, pushed);
	pushed = NULL;
	rc = cli_print_manifest(m);
	if (rc == EDGE_OK)
		push_summary(&meter, &o, &stats);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	if (have_bundle)
		bundle_reader_close(&br);
	if (have_store)
		store_close(&st);
	push_opts_free(&o);
	free(host);
	free(found);
	json_decref(pushed);
	json_decref(m);
	return cli_finish(rc);
}
