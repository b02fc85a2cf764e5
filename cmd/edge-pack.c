/* edge-pack: pack a manifest's images, charts and definition into a bundle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "cli.h"
#include "delta.h"
#include "fileopt.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "meter.h"
#include "store.h"

static const char synopsis[] =
	"edge-pack [--name NAME] [-o FILE] [--level N] [--threads N] [--split SIZE] [--store DIR] [--trust-store] [--base FILE]... [MANIFEST]";

static const char help[] =
	"usage: edge-pack [options] [MANIFEST]\n"
	"\n"
	"Pack the images, charts and cluster definition of the manifest (a file, or\n"
	"stdin) from its store into one reproducible, seekable content bundle\n"
	"core-NAME-HEX.tar.zst (a zstd-compressed pax tar holding an OCI image\n"
	"layout), and print the manifest with \"bundle\".\n"
	"\n"
	"Options:\n"
	"      --name NAME           bundle name (default: the manifest's name, else edge)\n"
	"  -o, --output FILE         write exactly FILE (default: core-NAME-HEX12.tar.zst,\n"
	"                            HEX12 the start of the bundle's sha256)\n"
	"      --store DIR           the store (default: the manifest's \"store\")\n"
	"      --trust-store         UNSAFE: do not re-hash the store's blobs (a blob\n"
	"                            that rotted or was edited is then packed and\n"
	"                            signed, and found only at the site)\n"
	"      --level N             zstd compression level 1-19 (default 3)\n"
	"      --threads N           compression threads (default: all cores)\n"
	"      --split SIZE          write parts of at most SIZE bytes (e.g. 3G) and a\n"
	"                            descriptor FILE.parts.json\n"
	"      --base FILE           make a delta bundle core-NAME-HEX12.delta.tar.zst\n"
	"                            that leaves out the layers FILE lists: what the\n"
	"                            site holds (an earlier bundle or parts descriptor,\n"
	"                            or a pulled, packed or verified manifest);\n"
	"                            repeatable\n"
	CLI_PROGRESS_HELP
	CLI_COMMON_HELP("print more detail")
	"\n"
	"Every store blob is re-hashed as it is read (on another core): one that does\n"
	"not match its digest or size stops the pack, and nothing is written.\n"
	"\n"
	"Environment: SOURCE_DATE_EPOCH sets the entries' time (default 0).\n"
	"Exit status: 0 success, 1 a corrupt store blob (digest or size), 2 usage,\n"
	"3 invalid input, 6 local I/O error (missing store or blob, disk full).\n";

enum {
	OPT_NAME = CLI_OPT_FIRST_TOOL,
	OPT_STORE,
	OPT_LEVEL,
	OPT_THREADS,
	OPT_SPLIT,
	OPT_TRUST_STORE,
	OPT_BASE,
};

static const struct option longopts[] = {
	{"base", required_argument, NULL, OPT_BASE},
	{"level", required_argument, NULL, OPT_LEVEL},
	{"name", required_argument, NULL, OPT_NAME},
	{"output", required_argument, NULL, 'o'},
	{"split", required_argument, NULL, OPT_SPLIT},
	{"store", required_argument, NULL, OPT_STORE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"trust-store", no_argument, NULL, OPT_TRUST_STORE},
	CLI_PROGRESS_LONGOPT,
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	struct bundle_opts o;
	struct edge_err err = {0};
	struct meter meter;
	struct store store;
	const char **bases = NULL;
	size_t nbases = 0;
	const char *name = NULL, *store_dir = NULL, *input = NULL, *sde;
	json_t *m = NULL, *bundle = NULL;
	int c, rc = EDGE_OK, opened = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	cli_init(argv[0], synopsis, help);
	memset(&o, 0, sizeof(o));
	o.level = 3;
	o.threads = ncpu > 0 ? (int)ncpu : 1;
	while ((c = getopt_long(argc, argv, "o:" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg))
			continue;
		switch (c) {
		case OPT_NAME: name = optarg; break;
		case 'o': o.output = optarg; break;
		case OPT_STORE: store_dir = optarg; break;
		case OPT_LEVEL: o.level = (int)cli_parse_long("--level", optarg, 1, 19); break;
		case OPT_THREADS: o.threads = (int)cli_parse_long("--threads", optarg, 1, 256); break;
		case OPT_TRUST_STORE: o.trust_store = 1; break;
		case OPT_BASE:
			cli_need_input("--base", optarg, EDGE_EINPUT);
			bases = xrealloc(bases, (nbases + 1) * sizeof(*bases));
			bases[nbases++] = optarg;
			break;
		case OPT_SPLIT:
			o.split = (uint64_t)cli_parse_size("--split", optarg);
			if (o.split < (1u << 20))
				cli_usage_error("--split: parts must be at least 1M, got '%s'", optarg);
			break;
		default: cli_usage_error(NULL);
		}
	}
	input = cli_one_argument(argc, argv);
	if (o.output != NULL && (strcmp(o.output, "-") == 0 || o.output[0] == '\0'))
		cli_usage_error("-o: a file name is needed (stdout carries the manifest)");
	if ((sde = getenv("SOURCE_DATE_EPOCH")) != NULL && sde[0] != '\0') {
		char *end;
		unsigned long long v;
		errno = 0;
		v = strtoull(sde, &end, 10);
		if (*end != '\0' || errno != 0 || v > 077777777777ULL)
			cli_usage_error("SOURCE_DATE_EPOCH: expected seconds since 1970, got '%s'", sde);
		o.mtime = v;
	}
	o.progress = meter_start(&meter);
	o.progress_ctx = &meter;
	if ((m = cli_load_manifest(input, &err)) == NULL)
		goto fail;
	if (name != NULL) {
		manifest_set_name(m, name);
		if (manifest_validate(m, NULL, &err) != 0)
			cli_usage_error("--name: %s", err.msg);
	}
	if (store_dir == NULL)
		store_dir = manifest_store(m);
	if (store_dir == NULL) {
		edge_errf(&err, EDGE_EINPUT, "the manifest has no \"store\": run edge-pull first, or give --store DIR");
		goto fail;
	}
	if (store_open(&store, store_dir, 0, 0, &err) != 0)
		goto fail;
	opened = 1;
	o.bases = bases;
	o.nbases = nbases;
	if (bundle_pack(m, &store, &o, &bundle, &err) != 0)
		goto fail;
	manifest_set_bundle(m, bundle);
	rc = cli_print_manifest(m);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	if (opened)
		store_close(&store);
	json_decref(m);
	free(bases);
	return cli_finish(rc);
}
