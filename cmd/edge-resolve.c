/* edge-resolve: list every image and chart a cluster definition needs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fileopt.h"
#include "definition.h"
#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "platform.h"
#include "resolve.h"
#include "split.h"

static const char synopsis[] =
	"edge-resolve [--images FILE] [--charts FILE] [--platform P] [--var N=V] [--system K=V] [--macro N=V] [INPUT...]";

static const char help[] =
	"usage: edge-resolve [options] [INPUT...]\n"
	"\n"
	"List every container image and Helm chart the cluster profiles need and\n"
	"print the manifest with images, charts and platforms. INPUT is a cluster\n"
	"definition .tgz, a cluster profile .json, or a manifest; without INPUT the\n"
	"manifest is read from stdin (as edge-fetchdef prints it).\n"
	"\n"
	"Options:\n"
	"  --images FILE        add images listed in FILE: one reference a line\n"
	"                       ('#' comments), a YAML list, or the skopeo-sync shape\n"
	"                       REGISTRY: {images: {REPO: [TAGS]}} (repeatable)\n"
	"  --charts FILE        add charts listed in FILE: lines \"REPO NAME VERSION\",\n"
	"                       or YAML [{repo, name, version}] (repeatable)\n"
	"  --platform LIST      os/arch[/variant], repeatable or comma-separated\n"
	"                       (default: the manifest's, else linux/amd64)\n"
	"  --var NAME=VALUE     value of profile variable {{.spectro.var.NAME}}\n"
	"                       (repeatable; overrides the profile's default)\n"
	"  --system KEY=VALUE   value of {{.spectro.system.KEY}} (repeatable;\n"
	"                       kubernetes.version defaults to the k8s pack's\n"
	"                       version, else its tag when that is a full version)\n"
	"  --macro NAME=VALUE   value of user macro {{.spectro.macro.NAME}} (repeatable)\n"
	"  --name NAME          manifest name (replaces the input's; default: the\n"
	"                       input's, else the definition's file name without .tgz)\n"
	"  -q, --quiet          print errors only\n"
	"  -v, --verbose        print more detail (files read, files skipped)\n"
	"  -h, --help           print this help and exit\n"
	"      --version        print the version and exit\n"
	"\n"
	"Exit status: 0 success, 2 usage, 3 invalid input, 1 definition digest\n"
	"mismatch, 6 local I/O error.\n";

enum {
	OPT_IMAGES = CLI_OPT_FIRST_TOOL,
	OPT_CHARTS,
	OPT_PLATFORM,
	OPT_VAR,
	OPT_SYSTEM,
	OPT_NAME,
	OPT_MACRO,
};

static const struct option longopts[] = {
	{"charts", required_argument, NULL, OPT_CHARTS},
	{"images", required_argument, NULL, OPT_IMAGES},
	{"macro", required_argument, NULL, OPT_MACRO},
	{"name", required_argument, NULL, OPT_NAME},
	{"platform", required_argument, NULL, OPT_PLATFORM},
	{"system", required_argument, NULL, OPT_SYSTEM},
	{"var", required_argument, NULL, OPT_VAR},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct strv {
	char **v;
	size_t n;
};

static void strv_add(struct strv *s, const char *x)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = xstrdup(x);
}

static void strv_free(struct strv *s)
{
	split_list_free(s->v, s->n);
	s->v = NULL;
	s->n = 0;
}

static int is_gzip(const char *path, struct edge_err *err)
{
	unsigned char m[2];
	int fd = open_input(path, NULL, err);
	ssize_t n;

	if (fd < 0) {
		if (err->code == EDGE_EIO && (errno == ENOENT || errno == EACCES))
			err->code = EDGE_EINPUT;
		return -1;
	}
	n = read(fd, m, 2);
	close(fd);
	return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

static char *basename_noext(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = xstrdup(b ? b + 1 : path);
	size_t n = strlen(s);

	if (n > 4 && strcmp(s + n - 4, ".tgz") == 0)
		s[n - 4] = '\0';
	else if (n > 7 && strcmp(s + n - 7, ".tar.gz") == 0)
		s[n - 7] = '\0';
	return s;
}

/* Adds every profile of the definition at path; fills *summary. */
static int add_definition(struct resolver *r, const char *path, json_t *defobj, struct edge_err *err)
{
	struct definition d;
	size_t i, added = 0;
	const char *want;

	if (definition_read(path, &d, err) != 0)
		return -1;
	want = manifest_file_digest(defobj);
	if (want != NULL && strcmp(want, d.digest) != 0) {
		edge_errf(err, EDGE_EVERIFY, "%s: digest %s does not match the manifest's %s", path, d.digest, want);
		definition_free(&d);
		return -1;
	}
	/* path may point into defobj's own "path": manifest_file_set knows */
	manifest_file_set(defobj, path, d.digest, (json_int_t)d.size);
	for (i = 0; i < d.nother; i++)
		log_verbose("%s: %s: skipped (not a .json file)", path, d.other[i]);
	for (i = 0; i < d.nfiles; i++) {
		json_error_t je;
		char place[32];
		char *src = xasprintf("%s: %s", path, d.files[i].name);
		json_t *doc = json_loadb_bounded(d.files[i].data, d.files[i].len, 0, &je);
		int rc;
		if (doc == NULL) {
			edge_errf(err, EDGE_EINPUT, "%s%s: %s", src, json_error_place(&je, place, sizeof(place)), je.text);
			free(src);
			definition_free(&d);
			return -1;
		}
		rc = resolver_add_profile(r, doc, src, err);
		json_decref(doc);
		if (rc < 0) {
			edge_err_prefix(err, "%s", path);
			free(src);
			definition_free(&d);
			return -1;
		}
		if (rc == 1)
			log_verbose("%s: skipped (not a cluster profile)", src);
		else
			added++;
		free(src);
	}
	definition_free(&d);
	if (added == 0)
		return edge_errf(err, EDGE_EINPUT, "%s: no cluster profile found in the archive", path);
	return 0;
}

/* A JSON input: a manifest (returned in *manifest) or a profile (added). */
static int add_json_input(struct resolver *r, const char *path, json_t **manifest, struct edge_err *err)
{
	char *data;
	size_t len;
	json_t *doc;
	json_error_t je;
	char place[32];
	int rc;

	if (read_file_max(path, MANIFEST_MAX_BYTES, &data, &len, err) != 0) {
		if (err->code == EDGE_EIO && errno != ENOSPC)
			err->code = EDGE_EINPUT;
		return -1;
	}
	doc = json_loadb_bounded(data, len, 0, &je);
	if (doc == NULL) {
		int empty = strspn(data, " \t\r\n") == len;
		free(data);
		if (empty)
			return edge_errf(err, EDGE_EINPUT, "%s: empty file", path);
		return edge_errf(err, EDGE_EINPUT, "%s%s: %s", path, json_error_place(&je, place, sizeof(place)), je.text);
	}
	if (manifest_has_api_version(doc)) {
		json_decref(doc);
		if (*manifest != NULL) {
			free(data);
			return edge_errf(err, EDGE_EUSAGE, "%s: only one manifest may be given", path);
		}
		*manifest = manifest_parse(data, len, path, err);
		free(data);
		if (*manifest == NULL)
			return -1;
		manifest_rebase_paths(*manifest, path); /* its paths are relative to its directory */
		return 0;
	}
	free(data);
	rc = resolver_add_profile(r, doc, path, err);
	json_decref(doc);
	if (rc == 1)
		return edge_errf(err, EDGE_EINPUT,
				 "%s: neither a manifest nor a cluster profile (no spec.template.packs)", path);
	return rc;
}

static json_t *platforms_json(struct strv *opt, json_t *manifest, struct edge_err *err)
{
	struct platform *v = NULL;
	size_t n = 0, i;
	json_t *out, *have;

	for (i = 0; i < opt->n; i++) {
		if (platform_list_add(&v, &n, opt->v[i], err) != 0) {
			free(v);
			err->code = EDGE_EUSAGE;
			return NULL;
		}
	}
	out = json_array();
	for (i = 0; i < n; i++) {
		char buf[128];
		platform_format(&v[i], buf, sizeof(buf));
		json_array_append_new(out, json_string(buf));
	}
	free(v);
	if (json_array_size(out) > 0)
		return out;
	have = manifest_platforms(manifest);
	if (json_array_size(have) > 0) {
		json_decref(out);
		return json_deep_copy(have);
	}
	json_array_append_new(out, json_string("linux/amd64"));
	return out;
}

/* Warns about profiles edge-fetchdef asked for that the definition lacks. */
static void check_requested(json_t *requested, json_t *found)
{
	size_t i, j;
	json_t *p, *q;

	json_array_foreach(requested, i, p) {
		const char *uid = manifest_profile_uid(p);
		int hit = 0;
		if (uid == NULL)
			continue;
		json_array_foreach(found, j, q) {
			const char *u = manifest_profile_uid(q);
			hit |= u != NULL && strcmp(u, uid) == 0;
		}
		if (!hit)
			log_warn("profile %s was requested but is not in the cluster definition", uid);
	}
}

/* The number of entries of list whose ref none of old has. */
static size_t count_new(json_t *old, json_t *list)
{
	json_t *seen = json_object(), *e;
	size_t i, n = 0;

	json_array_foreach(old, i, e)
		if (manifest_entry_ref(e) != NULL)
			json_object_set_new(seen, manifest_entry_ref(e), json_true());
	json_array_foreach(list, i, e)
		if (manifest_entry_ref(e) == NULL || json_object_get(seen, manifest_entry_ref(e)) == NULL)
			n++;
	json_decref(seen);
	return n;
}

/* A manifest that gained entries: its bundle, signatures and pushed no
 * longer cover them and go, with a note (edge.7: a later manifest); the
 * store stays, as edge-pull adds what it lacks. */
static void drop_stale(json_t *manifest, json_t *old_images, json_t *old_charts)
{
	size_t n = count_new(old_images, manifest_images(manifest)) + count_new(old_charts, manifest_charts(manifest));
	char what[64];

	if (n > 0 && manifest_drop_outputs(manifest, what, sizeof(what)) > 0)
		log_warn("dropped %s: the manifest gained %zu %s they do not hold (run edge-pull and edge-pack again)",
			 what, n, n == 1 ? "entry" : "entries");
}

int main(int argc, char **argv)
{
	struct strv images = {0}, charts = {0}, platforms = {0}, vars = {0}, system = {0}, macros = {0};
	struct edge_err err = {0};
	struct resolver *r = NULL;
	json_t *manifest = NULL, *imgs = NULL, *chs = NULL, *profs = NULL, *plats = NULL, *def = NULL;
	json_t *old_images = NULL, *old_charts = NULL;
	const char *name = NULL, *defpath = NULL;
	char *defname = NULL;
	int c, i, rc = EDGE_OK;

	cli_init(argv[0], synopsis, help);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg))
			continue;
		switch (c) {
		case OPT_IMAGES: cli_need_input("--images", optarg, EDGE_EINPUT); strv_add(&images, optarg); break;
		case OPT_CHARTS: cli_need_input("--charts", optarg, EDGE_EINPUT); strv_add(&charts, optarg); break;
		case OPT_PLATFORM: strv_add(&platforms, optarg); break;
		case OPT_VAR: strv_add(&vars, optarg); break;
		case OPT_SYSTEM: strv_add(&system, optarg); break;
		case OPT_MACRO: strv_add(&macros, optarg); break;
		case OPT_NAME: name = optarg; break;
		default: cli_usage_error(NULL);
		}
	}
	r = resolver_new(vars.v, vars.n, system.v, system.n, macros.v, macros.n, &err);
	if (r == NULL)
		goto fail;
	if (name != NULL) {
		json_t *probe = manifest_new(name);
		if (manifest_validate(probe, NULL, &err) != 0) {
			json_decref(probe);
			cli_usage_error("--name: %s", err.msg);
		}
		json_decref(probe);
	}
	for (i = optind; i < argc; i++) {
		const char *path = argv[i];
		int gz;
		if (strcmp(path, "-") == 0) {
			if (manifest != NULL)
				cli_usage_error("only one manifest may be given");
			if ((manifest = cli_load_manifest(NULL, &err)) == NULL) {
				rc = cli_report(&err); /* a terminal on stdin: one line */
				goto out;
			}
			continue;
		}
		gz = is_gzip(path, &err);
		if (gz < 0)
			goto fail;
		if (gz) {
			if (defpath != NULL)
				cli_usage_error("only one cluster definition may be given (%s and %s)", defpath, path);
			defpath = path;
			continue;
		}
		if (add_json_input(r, path, &manifest, &err) != 0)
			goto fail;
	}
	if (optind == argc) {
		/* stdin carries the manifest; with only --images/--charts an
		 * empty or terminal stdin starts a new one */
		char *data = NULL;
		size_t len = 0;
		if (isatty(0)) {
			if (!images.n && !charts.n)
				cli_usage_error("no input: give a cluster definition, a profile, --images, or a manifest on stdin");
		} else {
			if (read_fd_max(0, "stdin", MANIFEST_MAX_BYTES, &data, &len, &err) != 0)
				goto fail;
			if (strspn(data, " \t\r\n") != len || (!images.n && !charts.n))
				manifest = manifest_parse(data, len, "stdin", &err);
			else
				manifest = manifest_new(NULL);
			free(data);
			if (manifest == NULL)
				goto fail;
		}
	}
	if (manifest == NULL)
		manifest = manifest_new(NULL);

	/* name first, so that a new manifest reads apiVersion, name, … */
	if (name != NULL) {
		manifest_set_name(manifest, name);
	} else if (manifest_name(manifest) == NULL) {
		const char *from = defpath ? defpath : manifest_file_path(manifest_definition(manifest));
		defname = from ? basename_noext(from) : xstrdup("edge");
		manifest_set_name(manifest, defname);
	}

	/* the definition: given as INPUT, or named by the manifest */
	def = manifest_definition(manifest);
	if (defpath != NULL) {
		if (def != NULL && manifest_file_path(def) && strcmp(manifest_file_path(def), defpath) != 0)
			cli_usage_error("the manifest already names definition %s; drop %s or the manifest's definition",
					manifest_file_path(def), defpath);
		if (def == NULL) {
			def = json_object();
			manifest_set_definition(manifest, def);
		}
	} else if (def != NULL) {
		defpath = manifest_file_path(def);
	}
	if (defpath != NULL) {
		json_t *requested = json_deep_copy(manifest_definition_profiles(def));
		if (add_definition(r, defpath, def, &err) != 0) {
			json_decref(requested);
			goto fail;
		}
		if (requested != NULL) {
			/* compared after resolving, below */
			manifest_definition_set_profiles(def, requested);
		}
	}
	/* a later manifest's entries are carried through, never dropped */
	if (resolver_add_entries(r, manifest_images(manifest), manifest_charts(manifest), &err) != 0) {
		edge_err_prefix(&err, "manifest");
		goto fail;
	}
	old_images = json_incref(manifest_images(manifest));
	old_charts = json_incref(manifest_charts(manifest));
	for (size_t k = 0; k < images.n; k++)
		if (resolver_add_image_list(r, images.v[k], &err) != 0)
			goto fail;
	for (size_t k = 0; k < charts.n; k++)
		if (resolver_add_chart_list(r, charts.v[k], &err) != 0)
			goto fail;
	if (resolver_run(r, &imgs, &chs, &profs, &err) != 0)
		goto fail;
	if ((plats = platforms_json(&platforms, manifest, &err)) == NULL)
		cli_usage_error("--platform: %s", err.msg);
	if (def != NULL) {
		json_t *requested = manifest_definition_profiles(def);
		if (json_is_array(requested))
			check_requested(requested, profs);
		manifest_definition_set_profiles(def, json_incref(profs));
	}
	manifest_set_platforms(manifest, plats);
	manifest_set_entries(manifest, imgs, chs);
	imgs = chs = NULL;
	drop_stale(manifest, old_images, old_charts);
	if (manifest_validate(manifest, "result", &err) != 0)
		goto fail;
	log_verbose("%zu profiles, %zu images, %zu charts", resolver_profile_count(r),
		    json_array_size(manifest_images(manifest)),
		    json_array_size(manifest_charts(manifest)));
	rc = cli_print_manifest(manifest);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	json_decref(profs);
	json_decref(old_images);
	json_decref(old_charts);
	json_decref(imgs);
	json_decref(chs);
	json_decref(manifest);
	resolver_free(r);
	free(defname);
	strv_free(&images);
	strv_free(&charts);
	strv_free(&platforms);
	strv_free(&vars);
	strv_free(&system);
	strv_free(&macros);
	return cli_finish(rc);
}
