/* edge-verify: verify a bundle (signature and every entry) or a store. */
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
#include "push.h"
#include "regcli.h"
#include "sign.h"
#include "store.h"
#include "verify.h"

static const char synopsis[] =
	"edge-verify [-p KEY] [--require-signature] [--digest] [--base FILE]... BUNDLE | --list [--json] BUNDLE | --store DIR [--quick] [MANIFEST] | --registry R [--mapping SRC=DST] [MANIFEST]";

static const char help[] =
	"usage: edge-verify [options] [--base FILE]... [BUNDLE]\n"
	"       edge-verify --list [--json] BUNDLE\n"
	"       edge-verify --store DIR [--quick] [MANIFEST]\n"
	"       edge-verify --registry HOST[:PORT][/PATH] [--mapping SRC=DST] [MANIFEST]\n"
	"\n"
	"Verify a content bundle: its signature (FILE.minisig or FILE.sig beside it)\n"
	"when a public key is given, then every entry: names, types, each blob's\n"
	"size and sha256 (blobs hashed in parallel through the seek table), the OCI\n"
	"layout's references and the entry index. Prints the verified manifest with\n"
	"\"bundle\" (path, size, and digest when it was computed), so that\n"
	"'edge-verify -p KEY BUNDLE | edge-push …' works. BUNDLE may be a parts\n"
	"descriptor (FILE.parts.json, which FILE also finds) or a glob pattern the\n"
	"shell matched to nothing, matched again to one bundle or descriptor;\n"
	"without BUNDLE, the manifest on stdin names it.\n"
	"A delta bundle (edge-pack --base) is verified likewise, and the layers it\n"
	"leaves out must be the ones its bundle.json lists as omitted; with --base,\n"
	"each must also be listed in the bases given, else they are only expected\n"
	"at the site (a warning; -v lists them).\n"
	"With --store, re-hash every blob of a store and check its index instead.\n"
	"With --registry, check that the registry holds every image and chart of the\n"
	"manifest under its target name (as edge-push names it) with its digest.\n"
	"With --list, print the bundle's images and charts (size, platforms) from\n"
	"bundle.json and the seek table, without checking or hashing anything.\n"
	"\n"
	"Options:\n"
	"  -p, --public-key KEY      minisign public key or PEM RSA public key to check\n"
	"                            the bundle's signature with\n"
	"      --require-signature   fail unless a signature is checked (needs -p)\n"
	"      --base FILE           with a delta bundle: what the site holds (a bundle,\n"
	"                            parts descriptor or edge manifest; repeatable):\n"
	"                            every blob the delta leaves out must be listed there\n"
	"      --digest              also compute the bundle file's sha256 (bundle.digest);\n"
	"                            done anyway for a parts descriptor or a manifest on\n"
	"                            stdin that gives bundle.digest, which it must match\n"
	"      --max-size SIZE       refuse bundles that decompress to more than SIZE\n"
	"                            (default: what bundle.json declares)\n"
	"      --store DIR           verify the store DIR instead of a bundle\n"
	"      --quick               with --store: check sizes only, do not re-hash\n"
	"      --registry TARGET     verify a registry: HOST[:PORT][/PATH] as for edge-push\n"
	"      --mapping SRC=DST     with --registry: the ref prefix rules edge-push used\n"
	"      --jobs N              threads hashing a bundle's blobs (default: all cores)\n"
	"      --list                list the bundle's images and charts on stdout, and\n"
	"                            the blobs a delta leaves out (no verification)\n"
	"      --json                with --list: the list as one JSON document\n"
	REGCLI_HELP_ACCESS
	REGCLI_HELP_RETRIES
	CLI_PROGRESS_HELP
	CLI_COMMON_HELP("print more detail")
	"\n"
	"Exit status: 0 verified, 1 verification failed (signature, digest, size,\n"
	"missing blob, truncation, an image missing from the registry), 2 usage,\n"
	"3 malformed bundle, key or manifest, 4 registry or network error, 5 access\n"
	"refused, 6 local I/O error.\n";

enum {
	OPT_REQUIRE = CLI_OPT_FIRST_TOOL,
	OPT_BASE,
	OPT_MAXSIZE,
	OPT_STORE,
	OPT_QUICK,
	OPT_DIGEST,
	OPT_LIST,
	OPT_JSON,
};

static const struct option longopts[] = {
	{"base", required_argument, NULL, OPT_BASE},
	{"digest", no_argument, NULL, OPT_DIGEST},
	{"json", no_argument, NULL, OPT_JSON},
	{"list", no_argument, NULL, OPT_LIST},
	{"max-size", required_argument, NULL, OPT_MAXSIZE},
	{"public-key", required_argument, NULL, 'p'},
	{"quick", no_argument, NULL, OPT_QUICK},
	{"require-signature", no_argument, NULL, OPT_REQUIRE},
	REGCLI_TARGET_LONGOPTS,
	{"store", required_argument, NULL, OPT_STORE},
	REGCLI_LONGOPTS,
	CLI_PROGRESS_LONGOPT,
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* Returns the exit code, the error already reported. */
static int verify_store_mode(const char *dir, const char *input, int quick, struct edge_err *err)
{
	struct store s;
	json_t *m = NULL;
	int rc;

	if (input != NULL || !isatty(0)) {
		if (input == NULL) {
			/* a manifest on stdin is optional here: an empty stdin is none */
			char *data;
			size_t len;
			if (read_fd_max(0, "stdin", MANIFEST_MAX_BYTES, &data, &len, err) != 0)
				return cli_fail(err);
			if (strspn(data, " \t\r\n") != len && (m = manifest_parse(data, len, "stdin", err)) == NULL) {
				free(data);
				return cli_fail(err);
			}
			free(data);
		} else if ((m = manifest_load(input, err)) == NULL) {
			return cli_fail(err);
		}
	}
	if (store_open(&s, dir, 0, 0, err) != 0) {
		json_decref(m);
		return cli_fail(err);
	}
	rc = verify_store(&s, m, quick, err) != 0 ? cli_fail(err) : EDGE_OK;
	store_close(&s);
	if (rc == EDGE_OK && m != NULL)
		rc = cli_print_manifest(m);
	json_decref(m);
	return rc;
}

/* Returns the exit code, the error already reported. */
static int verify_registry_mode(struct push_opts *o, const struct regcli *rco, const char *input, struct edge_err *err)
{
	json_t *m;
	char *host;
	int rc;

	host = push_creds_host(o);
	o->creds = regcli_creds(rco, host, err);
	free(host);
	if (o->creds == NULL)
		return cli_fail(err);
	regcli_http_opts(rco, &o->http);
	o->plain_http = rco->plain_http;
	if ((m = cli_load_manifest(input, err)) == NULL)
		return cli_fail(err);
	/* an image no --mapping rule covers: no usage lines */
	rc = push_check_registry(m, o, err) != 0 ? cli_report(err) : cli_print_manifest(m);
	json_decref(m);
	return rc;
}

/* The closing line on a terminal. */
static void verify_summary(const struct meter *meter, const char *path, json_t *m, int signed_too)
{
	char size[32];
	json_t *b = manifest_bundle(m);
	json_int_t n = json_integer_value(json_object_get(b, "size"));

	size_t ni = json_array_size(manifest_images(m)), nc = json_array_size(manifest_charts(m));

	meter_summary(meter, "%s verified%s: %zu image%s, %zu chart%s, %s", path,
		      signed_too ? " with its signature" : "", ni, ni == 1 ? "" : "s", nc, nc == 1 ? "" : "s",
		      meter_size(size, sizeof(size), n > 0 ? (uint64_t)n : 0));
}

/* One --list row: kind, size, platforms, ref. */
static void list_row(const char *kind, json_t *e, const char *ref)
{
	json_t *pl = manifest_entry_platforms(e), *v;
	char size[32], plats[256] = "";
	size_t i, n = 0;

	json_array_foreach(pl, i, v)
		if (n < sizeof(plats))
			n += (size_t)snprintf(plats + n, sizeof(plats) - n, "%s%s", n ? "," : "", json_string_value(v));
	if (json_integer_value(json_object_get(e, "size")) > 0)
		meter_size(size, sizeof(size), (uint64_t)json_integer_value(json_object_get(e, "size")));
	else
		snprintf(size, sizeof(size), "-");
	printf("%-5s  %10s  %-24s  %s\n", kind, size, plats[0] ? plats : "-", ref ? ref : "?");
}

/* The total of a delta's omitted blobs: ", N omitted (SIZE)". */
static const char *omitted_text(json_t *base, char *buf, size_t cap)
{
	json_t *o;
	size_t i;
	uint64_t bytes = 0;
	char size[32];

	json_array_foreach(json_object_get(base, "omitted"), i, o)
		bytes += (uint64_t)json_integer_value(json_object_get(o, "size"));
	snprintf(buf, cap, ", %zu omitted (%s)", json_array_size(json_object_get(base, "omitted")),
		 meter_size(size, sizeof(size), bytes));
	return buf;
}

/* --list of a delta: one "omit" row per blob it leaves out (size, the base
 * that holds it, digest and repository). */
static void list_omitted(json_t *base)
{
	json_t *o;
	size_t i;
	char size[32];

	json_array_foreach(json_object_get(base, "omitted"), i, o) {
		const char *repo = manifest_str(o, "repository"); /* optional */
		meter_size(size, sizeof(size), (uint64_t)json_integer_value(json_object_get(o, "size")));
		printf("%-5s  %10s  %-24s  %s (%s%sin %s)\n", "omit", size, "-", manifest_str(o, "digest"), repo ? repo : "",
		       repo ? ", " : "", manifest_str(o, "base"));
	}
}

/* --list: the images and charts of a bundle from bundle.json and the seek
 * table alone (nothing hashed: a damaged blob does not show here). Returns
 * the exit code. */
static int list_bundle(const char *path, int as_json, struct edge_err *err)
{
	struct bundle_reader r;
	struct manifest_iter it;
	char *buf = NULL, size[32], csize[32], omit[96];
	size_t len;
	json_t *bj = NULL, *out = NULL, *base = NULL;
	int rc;

	if (bundle_reader_open(&r, path, err) != 0)
		return cli_fail(err);
	if (bundle_read_entry(&r, "bundle.json", MANIFEST_MAX_BYTES, &buf, &len, err) != 0 ||
	    (bj = manifest_parse(buf, len, path, err)) == NULL) {
		rc = cli_fail(err);
		goto out;
	}
	base = json_object_get(bj, "base");
	if (base != NULL) {
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "%s: bundle.json", path);
		if (delta_base_check(base, what, err) != 0) {
			rc = cli_fail(err);
			goto out;
		}
	}
	if (as_json) {
		json_t *imgs = json_array(), *chs = json_array();
		out = json_pack("{s:s, s:o, s:I, s:I, s:O, s:o, s:o, s:I}", "bundle", path, "name",
				manifest_name(bj) ? json_string(manifest_name(bj)) : json_null(), "size", (json_int_t)r.size,
				"contentSize", (json_int_t)r.tar_size, "platforms", manifest_platforms(bj) ? manifest_platforms(bj) : json_null(),
				"images", imgs, "charts", chs, "blobs", (json_int_t)json_array_size(json_object_get(bj, "blobs")));
		for (manifest_iter_init(&it, bj); manifest_iter_next(&it);) {
			json_t *e = json_deep_copy(it.entry);
			json_object_del(e, "from");
			json_array_append_new(it.kind == MANIFEST_IMAGE ? imgs : chs, e);
		}
		if (base != NULL) {
			/* a delta: what it leaves out, and the bases it leaves it to */
			json_object_set(out, "base", json_object_get(base, "bundles"));
			json_object_set(out, "omitted", json_object_get(base, "omitted"));
		}
		rc = cli_print_manifest(out); /* pretty JSON, as a manifest is printed */
		goto out;
	}
	printf("%s: %s, %zu images, %zu charts, %zu blobs%s, %s (%s compressed)\n", path,
	       manifest_name(bj) ? manifest_name(bj) : "-", json_array_size(manifest_images(bj)),
	       json_array_size(manifest_charts(bj)), json_array_size(json_object_get(bj, "blobs")),
	       base != NULL ? omitted_text(base, omit, sizeof(omit)) : "",
	       meter_size(size, sizeof(size), r.tar_size), meter_size(csize, sizeof(csize), r.size));
	for (manifest_iter_init(&it, bj); manifest_iter_next(&it);)
		list_row(it.kind == MANIFEST_IMAGE ? "image" : "chart", it.entry, manifest_entry_ref(it.entry));
	list_omitted(base);
	rc = EDGE_OK;
out:
	bundle_reader_close(&r);
	free(buf);
	json_decref(bj);
	json_decref(out);
	return rc;
}

/* A verified delta's omitted blobs (NULL: not a delta): checked against
 * the bases given, or with none, one warning that they were not (-v: each
 * one). 0, or -1 with err. */
static int check_omitted(const char *path, json_t *m, json_t *omitted, char **bases, size_t nbases,
			 struct edge_err *err)
{
	struct delta_base b;
	json_t *o;
	size_t i, n = json_array_size(omitted);
	uint64_t bytes = 0;
	char size[32];
	int rc = 0;

	if (omitted == NULL) {
		if (nbases > 0)
			log_warn("%s: not a delta bundle: --base is not used", path);
		return 0;
	}
	if (nbases == 0) {
		json_array_foreach(omitted, i, o)
			bytes += (uint64_t)json_integer_value(json_object_get(o, "size"));
		if (n > 0)
			log_warn("%s: %zu blob%s (%s) left out of this delta %s expected at the site and %s not checked: give --base",
				 path, n, n == 1 ? "" : "s", meter_size(size, sizeof(size), bytes), n == 1 ? "is" : "are",
				 n == 1 ? "was" : "were");
		json_array_foreach(omitted, i, o)
			log_verbose("%s: expected at the site: %s (%s), for %s, from %s", path, manifest_str(o, "digest"),
				    meter_size(size, sizeof(size), (uint64_t)json_integer_value(json_object_get(o, "size"))),
				    manifest_str(o, "image"), manifest_str(o, "base"));
		return 0;
	}
	delta_base_init(&b);
	for (i = 0; i < nbases && rc == 0; i++)
		rc = delta_base_add(&b, bases[i], NULL, err);
	if (rc == 0)
		rc = verify_delta_bases(omitted, json_object_get(manifest_bundle(m), "base"), &b, path, err);
	delta_base_free(&b);
	return rc;
}

int main(int argc, char **argv)
{
	const char *key = NULL, *store_dir = NULL, *input = NULL;
	int c, rc = EDGE_OK, require = 0, quick = 0, want_digest = 0, list = 0, as_json = 0;
	struct meter meter;
	uint64_t max_size = 0;
	struct edge_err err = {0};
	json_t *m = NULL, *from = NULL, *omitted = NULL;
	char *sidecar = NULL, *bundle_path = NULL, **bases = NULL;
	size_t nbases = 0;
	struct regcli rco;
	struct push_opts po;

	cli_init(argv[0], synopsis, help);
	cli_protect_secrets(); /* registry passwords and tokens (--registry) */
	regcli_init(&rco, 0); /* --jobs: 0, every core */
	memset(&po, 0, sizeof(po));
	while ((c = getopt_long(argc, argv, "p:" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg) || regcli_option(&rco, c, optarg) ||
		    regcli_target_option(&po, c, optarg))
			continue;
		switch (c) {
		case 'p': key = optarg; break;
		case OPT_BASE:
			bases = xrealloc(bases, (nbases + 1) * sizeof(*bases));
			bases[nbases++] = optarg;
			break;
		case OPT_REQUIRE: require = 1; break;
		case OPT_DIGEST: want_digest = 1; break;
		case OPT_MAXSIZE: max_size = (uint64_t)cli_parse_size("--max-size", optarg); break;
		case OPT_STORE: store_dir = optarg; break;
		case OPT_QUICK: quick = 1; break;
		case OPT_LIST: list = 1; break;
		case OPT_JSON: as_json = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	input = cli_one_argument(argc, argv);
	if (as_json && !list)
		cli_usage_error("--json goes with --list");
	if (nbases > 0 && (list || store_dir || po.registry != NULL || po.nmappings > 0))
		cli_usage_error("--base checks a delta bundle: --list, --store and --registry do not take it");
	if (list && (po.registry != NULL || po.nmappings > 0 || store_dir || key || require || max_size || quick ||
		     want_digest))
		cli_usage_error("--list reads a bundle's own list: -p, --require-signature, --digest, --max-size, --store, --registry and --quick do not apply");
	if (list && (input == NULL || strcmp(input, "-") == 0))
		cli_usage_error("--list needs BUNDLE");
	sig_set_progress(meter_start(&meter), &meter);
	verify_set_progress(meter_start(&meter), &meter);
	if (po.registry != NULL || po.nmappings > 0) {
		if (store_dir || key || require || max_size || quick || want_digest)
			cli_usage_error("--registry checks a registry: --store, -p, --require-signature, --max-size, --digest and --quick do not apply");
		rc = verify_registry_mode(&po, &rco, input, &err);
		goto out;
	}
	if (store_dir != NULL) {
		if (key || require || max_size || want_digest)
			cli_usage_error("--store checks a store: -p, --require-signature, --max-size and --digest are for bundles");
		rc = verify_store_mode(store_dir, input, quick, &err);
		goto out;
	}
	if (quick)
		cli_usage_error("--quick goes with --store");
	if (require && key == NULL)
		cli_usage_error("--require-signature needs -p KEY");
	cli_need_input("-p", key, EDGE_EINPUT);
	if (input == NULL) {
		/* the manifest on stdin names the bundle */
		if ((from = cli_load_manifest(NULL, &err)) == NULL) {
			if (err.code == EDGE_EUSAGE)
				edge_errf(&err, EDGE_EUSAGE, "no bundle: give BUNDLE, or a manifest with \"bundle\" on stdin");
			goto fail;
		}
		if (manifest_file_path(manifest_bundle(from)) == NULL) {
			edge_errf(&err, EDGE_EINPUT, "stdin: the manifest has no bundle.path: give BUNDLE");
			goto fail;
		}
		bundle_path = xstrdup(manifest_file_path(manifest_bundle(from)));
		/* the manifest's digest is checked: compute ours */
		if (manifest_file_digest(manifest_bundle(from)) != NULL)
			want_digest = 1;
		if (access(bundle_path, F_OK) != 0) {
			edge_err_errno(&err, "stdin: bundle.path: open %s", bundle_path);
			goto fail;
		}
	} else if ((bundle_path = bundle_find(input, &err)) == NULL) {
		/* a bundle, a parts descriptor, or a glob of one */
		goto fail;
	}
	if (list) {
		rc = list_bundle(bundle_path, as_json, &err);
		goto out;
	}
	sidecar = sig_find_sidecar(bundle_path);
	if (key != NULL) {
		struct sig_info info;
		if (sidecar == NULL) {
			edge_errf(&err, EDGE_EVERIFY, "%s: no signature (%s.minisig or %s.sig)", bundle_path, bundle_path,
				  bundle_path);
			goto fail;
		}
		if (sig_verify_file(bundle_path, key, &info, &err) != 0)
			goto fail;
		log_verbose("%s: good %s signature%s%s", bundle_path, info.algorithm, info.key_id[0] ? " by key " : "",
			    info.key_id);
		if (verify_bundle(bundle_path, max_size, want_digest, rco.jobs, &m, &omitted, &err) != 0)
			goto fail;
		manifest_clear_signatures(m);
		manifest_put_signature(m, info.sidecar, "bundle", info.algorithm, info.key_id);
	} else {
		if (sidecar != NULL)
			log_warn("%s: signature %s not checked: no public key (-p)", bundle_path, sidecar);
		if (verify_bundle(bundle_path, max_size, want_digest, rco.jobs, &m, &omitted, &err) != 0)
			goto fail;
	}
	if (from != NULL) {
		/* the manifest on stdin names the bundle it expects */
		const char *want = manifest_file_digest(manifest_bundle(from));
		const char *got = manifest_file_digest(manifest_bundle(m));
		if (want != NULL && got != NULL && strcmp(want, got) != 0) {
			edge_errf(&err, EDGE_EVERIFY, "%s: digest %s, the manifest's bundle.digest is %s", bundle_path, got,
				  want);
			goto fail;
		}
	}
	if (check_omitted(bundle_path, m, omitted, bases, nbases, &err) != 0)
		goto fail;
	rc = cli_print_manifest(m);
	if (rc == EDGE_OK)
		verify_summary(&meter, bundle_path, m, key != NULL);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	push_opts_free(&po);
	free(sidecar);
	free(bundle_path);
	free(bases);
	json_decref(omitted);
	json_decref(m);
	json_decref(from);
	return cli_finish(rc);
}
