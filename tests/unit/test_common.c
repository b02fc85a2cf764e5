/* Unit tests for the small common/ modules: YAML to JSON, manifest checks,
 * platforms, atomic files, SHA-256, XXH64, list splitting. TAP output. */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "manifest.h"
#include "platform.h"
#include "sha256.h"
#include "split.h"
#include "xxh64.h"
#include "yamljson.h"
#include "tap.h"

static void yaml_case(const char *desc, const char *yaml, int flags, const char *want_json)
{
	struct edge_err err = {0};
	json_t *j = yaml_to_json(yaml, strlen(yaml), flags, &err);
	char *got = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	ok(got != NULL && strcmp(got, want_json) == 0, desc, got ? got : err.msg, want_json);
	free(got);
	json_decref(j);
}

static void yaml_error(const char *desc, const char *yaml, const char *want_prefix)
{
	struct edge_err err = {0};
	json_t *j = yaml_to_json(yaml, strlen(yaml), 0, &err);

	ok(j == NULL && err.code == EDGE_EINPUT && strncmp(err.msg, want_prefix, strlen(want_prefix)) == 0, desc,
	   j ? "(parsed)" : err.msg, want_prefix);
	json_decref(j);
}

static void manifest_case(const char *desc, const char *text, const char *want_err)
{
	struct edge_err err = {0};
	json_t *m = manifest_parse(text, strlen(text), "t.json", &err);

	if (want_err == NULL)
		ok(m != NULL, desc, err.msg, "(valid)");
	else
		ok(m == NULL && err.code == EDGE_EINPUT && strcmp(err.msg, want_err) == 0, desc, m ? "(valid)" : err.msg,
		   want_err);
	json_decref(m);
}

static void platform_case(const char *in, const char *want)
{
	struct platform p;
	struct edge_err err = {0};
	char buf[128], desc[160];
	int rc = platform_parse(in, &p, &err);

	if (rc == 0)
		platform_format(&p, buf, sizeof(buf));
	snprintf(desc, sizeof(desc), "platform \"%s\"", in);
	if (want == NULL)
		ok(rc != 0, desc, buf, "(error)");
	else
		ok(rc == 0 && strcmp(buf, want) == 0, desc, rc == 0 ? buf : err.msg, want);
}

/* --- a signal's sweep while other threads create temp files -------------
 * A child whose three threads create and remove temp files (the way
 * edge-pack's writer opens bundle parts) is killed by SIGTERM,
 * whose handler is the tools' (cleanup_run, then the default action). No
 * temp file may be left. Before cleanup_run kept other threads from
 * creating files during and after its sweep, one was left now and then
 * (seen in edge-pack --split under load). */

static void *churn(void *arg)
{
	const char *target = arg;

	for (;;) {
		struct atomic_file af;
		struct edge_err err = {0};
		if (atomic_open(&af, target, 0644, &err) == 0) {
			(void)write_all(af.fd, "x", 1);
			atomic_abort(&af);
		}
	}
	return NULL;
}

static void die_on_signal(int sig)
{
	cleanup_run();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void sweep_race(void)
{
	char tdir[] = "/tmp/edge-test-sweep-XXXXXX";
	char *target;
	int i, left = 0, runs = 0, killed = 0;

	if (mkdtemp(tdir) == NULL) {
		ok(0, "sweep race: a temp directory", strerror(errno), NULL);
		return;
	}
	target = xasprintf("%s/f", tdir);
	for (i = 0; i < 150; i++) {
		int status;
		pid_t pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			struct sigaction sa;
			pthread_t t[2];
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = die_on_signal;
			sigaction(SIGTERM, &sa, NULL);
			pthread_create(&t[0], NULL, churn, target);
			pthread_create(&t[1], NULL, churn, target);
			churn(target);
			_exit(0);
		}
		{
			struct timespec ts = {0, (long)(200000 + (i % 10) * 150000)};
			nanosleep(&ts, NULL);
		}
		kill(pid, SIGTERM);
		if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
			killed++;
		runs++;
		if (entries(tdir) != 0) {
			left++;
			{
				DIR *d = opendir(tdir);
				struct dirent *e;
				while (d != NULL && (e = readdir(d)) != NULL) {
					char *q = path_join(tdir, e->d_name);
					if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
						unlink(q);
					free(q);
				}
				if (d != NULL)
					closedir(d);
			}
		}
	}
	okf(runs == 150 && killed == runs && left == 0,
	    "a SIGTERM while three threads create temp files: nothing left, %d of %d runs (killed %d)", runs - left,
	    runs, killed);
	rmdir(tdir);
	free(target);
}

int main(void)
{
	struct edge_err err = {0};
	char dir[] = "/tmp/edge-test-common-XXXXXX";

	plan(61);
	/* XXH64: the vectors xxhsum -H64 prints (every tail length path) */
	{
		static const struct {
			const char *in;
			unsigned long long want;
		} xv[] = {
			{"", 0xef46db3751d8e999ull},
			{"a", 0xd24ec4f1a98c6e5bull},
			{"abc", 0x44bc2cf5ad770999ull},
			{"Nobody inspects the spammish repetition", 0xfbcea83c8a378bf1ull},
			{"0123456789abcdef0123456789abcdef0123456789", 0xa76190c3acf08a1cull},
		};
		for (size_t i = 0; i < sizeof(xv) / sizeof(xv[0]); i++) {
			char got[32], want[32], desc[96];
			snprintf(got, sizeof(got), "%016llx", (unsigned long long)xxh64(xv[i].in, strlen(xv[i].in), 0));
			snprintf(want, sizeof(want), "%016llx", xv[i].want);
			snprintf(desc, sizeof(desc), "xxh64: %zu bytes", strlen(xv[i].in));
			ok(strcmp(got, want) == 0, desc, got, want);
		}
	}
	{
		/* in pieces, as verify feeds it block by block */
		unsigned char buf[1000];
		struct xxh64_state st;
		size_t i, n;
		char got[32], want[32];
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)(i * 31 + 7);
		xxh64_init(&st, 0);
		for (i = 0; i < sizeof(buf); i += n) {
			n = 1 + i % 37;
			if (n > sizeof(buf) - i)
				n = sizeof(buf) - i;
			xxh64_update(&st, buf + i, n);
		}
		snprintf(got, sizeof(got), "%016llx", (unsigned long long)xxh64_final(&st));
		snprintf(want, sizeof(want), "%016llx", (unsigned long long)xxh64(buf, sizeof(buf), 0));
		ok(strcmp(got, want) == 0, "xxh64: in pieces as in one", got, want);
	}
	/* YAML */
	yaml_case("yaml: typed scalars", "a: 1\nb: true\nc: 1.5\nd: ~\ne: text\nf: '1'\n", 0,
		  "{\"a\":1,\"b\":true,\"c\":1.5,\"d\":null,\"e\":\"text\",\"f\":\"1\"}");
	yaml_case("yaml: scalars as strings keep 1.20", "v: 1.20\nn: 007\nb: yes\nz:\n", YAML_SCALARS_AS_STRINGS,
		  "{\"v\":\"1.20\",\"n\":\"007\",\"b\":\"yes\",\"z\":null}");
	yaml_case("yaml: nested lists and maps", "pack:\n  content:\n    images:\n      - image: a\n      - image: b\n", 0,
		  "{\"pack\":{\"content\":{\"images\":[{\"image\":\"a\"},{\"image\":\"b\"}]}}}");
	yaml_case("yaml: dotted keys stay literal", "options:\n  system.uri: x\n", 0, "{\"options\":{\"system.uri\":\"x\"}}");
	yaml_case("yaml: anchors and aliases", "a: &x {k: v}\nb: *x\n", 0, "{\"a\":{\"k\":\"v\"},\"b\":{\"k\":\"v\"}}");
	yaml_case("yaml: merge keys", "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n", 0,
		  "{\"base\":{\"x\":1,\"y\":2},\"d\":{\"x\":1,\"y\":3}}");
	yaml_case("yaml: empty document is null", "", 0, "null");
	yaml_case("yaml: only the first document", "a: 1\n---\nb: 2\n", 0, "{\"a\":1}");
	yaml_case("yaml: block scalar", "s: |\n  line1\n  line2\n", 0, "{\"s\":\"line1\\nline2\\n\"}");
	yaml_case("yaml: explicit !!str tag", "v: !!str 12\n", 0, "{\"v\":\"12\"}");
	yaml_case("yaml: hex integer", "v: 0x1f\n", 0, "{\"v\":31}");
	yaml_case("yaml: plain scalar list", "- a\n- 2\n", YAML_SCALARS_AS_STRINGS, "[\"a\",\"2\"]");
	yaml_error("yaml: unclosed flow sequence", "a: [1, 2\n", "line ");
	yaml_error("yaml: unknown alias", "a: *nope\n", "line 1");
	yaml_error("yaml: tab indentation", "a:\n\t- b\n", "line ");
	{
		/* many aliases of aliases: bounded, never exponential */
		char big[4096] = "a: &a [x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n";
		char line[64];
		for (int i = 0; i < 20; i++) {
			snprintf(line, sizeof(line), "c%d: &c%d [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n", i, i);
			strcat(big, line);
		}
		json_t *j = yaml_to_json(big, strlen(big), 0, &err);
		ok(j != NULL, "yaml: aliases share nodes (no blow-up)", err.msg, "(parsed)");
		json_decref(j);
	}
	{
		/* each level doubles: 2^40 nodes for every reader that walks
		 * the tree; refused once aliases have produced a million */
		char bomb[4096] = "l0: &l0 [x, x]\n";
		char line[64];
		json_t *j;
		for (int i = 1; i <= 40; i++) {
			snprintf(line, sizeof(line), "l%d: &l%d [*l%d, *l%d]\n", i, i, i - 1, i - 1);
			strcat(bomb, line);
		}
		edge_err_clear(&err);
		j = yaml_to_json(bomb, strlen(bomb), 0, &err);
		ok(j == NULL && err.code == EDGE_EINPUT &&
			   strcmp(err.msg, "line 18, column 18: aliases expand to more than 1000000 nodes") == 0,
		   "yaml: an alias bomb is refused by the nodes it expands to", err.msg,
		   "line 18, column 18: aliases expand to more than 1000000 nodes");
		/* 2^18 nodes: parsed, the levels shared */
		*strstr(bomb, "l17:") = '\0';
		edge_err_clear(&err);
		j = yaml_to_json(bomb, strlen(bomb), 0, &err);
		ok(j != NULL && json_array_get(json_object_get(j, "l16"), 1) == json_object_get(j, "l15"),
		   "yaml: aliases below the bound share nodes", err.msg, "(parsed)");
		json_decref(j);
	}
	{
		/* mappings as keys of mappings: each level serialises the one
		 * below and escapes its quotes again, doubling the text; found
		 * by fuzz_yaml_tmpl (it ran out of time at 120 levels) */
		char deep[1024];
		size_t i, n = 0;
		json_t *j;
		struct edge_err err = {0};
		for (i = 0; i < 120; i++)
			deep[n++] = '{';
		for (i = 0; i < 120; i++)
			deep[n++] = '}';
		deep[n] = '\0';
		j = yaml_to_json(deep, n, 0, &err);
		ok(j == NULL && err.code == EDGE_EINPUT && strstr(err.msg, "a mapping key longer than 65536 bytes") != NULL,
		   "yaml: nested mapping keys are bounded", err.msg, "... a mapping key longer than 65536 bytes");
		json_decref(j);
		edge_err_clear(&err);
		j = yaml_to_json("{{a: 1}: x}", 11, 0, &err);
		ok(j != NULL && json_is_string(json_object_get(j, "{\"a\":1}")), "yaml: a short mapping key is serialised",
		   err.msg, "(parsed)");
		json_decref(j);
	}
	/* manifests */
	manifest_case("manifest: minimal", "{\"apiVersion\":\"edge.manifest/v1\"}", NULL);
	manifest_case("manifest: not an object", "[1]", "t.json: expected a JSON object");
	manifest_case("manifest: missing apiVersion", "{}", "t.json: apiVersion: missing (expected \"edge.manifest/v1\")");
	manifest_case("manifest: bad JSON names line and column", "{\"a\":}",
		      "t.json:1:6: unexpected token near '}'");
	manifest_case("manifest: duplicate keys refused", "{\"apiVersion\":\"edge.manifest/v1\",\"name\":\"a\",\"name\":\"b\"}",
		      "t.json:1:50: duplicate object key near '\"name\"'");
	manifest_case("manifest: images must be an array", "{\"apiVersion\":\"edge.manifest/v1\",\"images\":{}}",
		      "t.json: images: expected an array");
	manifest_case("manifest: image without ref", "{\"apiVersion\":\"edge.manifest/v1\",\"images\":[{}]}",
		      "t.json: images[0].ref: missing");
	manifest_case("manifest: bad digest",
		      "{\"apiVersion\":\"edge.manifest/v1\",\"images\":[{\"ref\":\"a\",\"digest\":\"sha256:AB\"}]}",
		      "t.json: images[0].digest: expected \"sha256:\" and 64 lower-case hex digits");
	manifest_case("manifest: negative size",
		      "{\"apiVersion\":\"edge.manifest/v1\",\"images\":[{\"ref\":\"a\",\"size\":-1}]}",
		      "t.json: images[0].size: expected a non-negative integer");
	manifest_case("manifest: chart without version",
		      "{\"apiVersion\":\"edge.manifest/v1\",\"charts\":[{\"name\":\"x\"}]}", "t.json: charts[0].version: missing");
	manifest_case("manifest: bad platform", "{\"apiVersion\":\"edge.manifest/v1\",\"platforms\":[\"linux\"]}",
		      "t.json: platforms[0]: invalid platform \"linux\": expected os/arch[/variant] such as linux/amd64");
	manifest_case("manifest: name with a slash", "{\"apiVersion\":\"edge.manifest/v1\",\"name\":\"a/b\"}",
		      "t.json: name: \"a/b\" is not a valid name (no '/', no leading '.', at most 128 characters)");
	manifest_case("manifest: definition without path", "{\"apiVersion\":\"edge.manifest/v1\",\"definition\":{}}",
		      "t.json: definition.path: missing");
	manifest_case("manifest: empty input", "  \n", "t.json: empty input, expected a manifest");
	/* platforms */
	platform_case("linux/amd64", "linux/amd64");
	platform_case("linux/x86_64", "linux/amd64");
	platform_case("linux/aarch64", "linux/arm64");
	platform_case("linux/arm64/v8", "linux/arm64");
	platform_case("linux/arm/v7", "linux/arm/v7");
	platform_case("linux", NULL);
	platform_case("linux/amd64/v2/x", NULL);
	platform_case("Linux/AMD64", NULL);
	/* atomic files and sha256 */
	if (mkdtemp(dir) == NULL)
		return 1;
	{
		char *p = path_join(dir, "f.txt"), digest[72];
		uint64_t size = 0;
		struct stat st;
		int rc = atomic_write_file(p, "hello\n", 6, 0600, &err);
		ok(rc == 0 && stat(p, &st) == 0 && st.st_size == 6 && (st.st_mode & 0777) == 0600,
		   "atomic_write_file writes with the mode", err.msg, "6 bytes, 0600");
		rc = sha256_digest_file(p, digest, &size, &err);
		ok(rc == 0 && size == 6 &&
			   strcmp(digest, "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03") == 0,
		   "sha256 of a file", digest, "sha256:5891b5b5…");
		{
			struct atomic_file af;
			char *q = path_join(dir, "g.txt");
			atomic_open(&af, q, 0644, &err);
			write_all(af.fd, "x", 1);
			atomic_abort(&af);
			ok(access(q, F_OK) != 0, "atomic_abort leaves no file", "exists", "absent");
			free(q);
		}
		unlink(p);
		free(p);
		rmdir(dir);
	}
	{
		size_t n;
		char **v = split_list(" a , b,,c ", &n);
		ok(n == 4 && strcmp(v[0], "a") == 0 && strcmp(v[1], "b") == 0 && v[2][0] == '\0' && strcmp(v[3], "c") == 0,
		   "split list trims and keeps empty items", v[0], "a|b||c");
		split_list_free(v, n);
	}
	ok(sha256_digest_valid("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03") &&
		   !sha256_digest_valid("sha256:5891") && !sha256_digest_valid("sha512:00"),
	   "digest validation", "", "");
	/* the one path-safety check (definition archives, bundle entries) */
	ok(path_safe_relative("a/b", 0) && path_safe_relative("./a", 0) && path_safe_relative("a//b/", 0) &&
		   path_safe_relative("a..b/..c", 0) && !path_safe_relative("", 0) && !path_safe_relative("/a", 0) &&
		   !path_safe_relative("a/../b", 0) && !path_safe_relative("..", 0),
	   "path_safe_relative: relative, no \"..\"", NULL, NULL);
	ok(path_safe_relative("blobs/sha256/x", 1) && path_safe_relative("a/", 1) && !path_safe_relative("./a", 1) &&
		   !path_safe_relative("a//b", 1) && !path_safe_relative("a/./b", 1) && !path_safe_relative("a/..", 1),
	   "path_safe_relative canonical: no \".\" nor empty segment", NULL, NULL);
	{
		/* stream buffers: 2 MiB-aligned from 2 MiB on, plain below; a
		 * regrow keeps a buffer that is large enough, else gives a new
		 * one of whole huge pages */
		unsigned char *big = xmalloc_stream(4u << 20), *small = xmalloc_stream(1000), *p;
		size_t cap = 0;
		memset(big, 0xab, 4u << 20);
		memset(small, 0xcd, 1000);
		ok(((uintptr_t)big & ((2u << 20) - 1)) == 0 && big[(4u << 20) - 1] == 0xab && small[999] == 0xcd,
		   "xmalloc_stream: a 4 MiB buffer is 2 MiB-aligned and all usable; 1000 bytes are plain", NULL, NULL);
		p = xregrow_stream(NULL, &cap, 100);
		ok(p != NULL && cap == 100 && xregrow_stream(p, &cap, 50) == p && cap == 100,
		   "xregrow_stream: small needs get exact buffers, a smaller need keeps the buffer", NULL, NULL);
		p = xregrow_stream(p, &cap, (3u << 20) + 1);
		p[(3u << 20)] = 1;
		ok(cap == (4u << 20) && ((uintptr_t)p & ((2u << 20) - 1)) == 0 && xregrow_stream(p, &cap, 4u << 20) == p,
		   "xregrow_stream: 3 MiB + 1 grows to 4 MiB (two huge pages), and 4 MiB then fits", NULL, NULL);
		free(p);
		free(big);
		free(small);
	}
	{
		/* a temp file's name is registered before the file exists:
		 * cleanup_run (what a signal runs) removes it */
		char tdir[] = "/tmp/edge-test-cleanup-XXXXXX", *prefix, *path = NULL;
		struct stat st;
		int slot = -1, fd, good, st2 = 0;
		if (mkdtemp(tdir) == NULL)
			return 1;
		prefix = xasprintf("%s/.f.tmp-", tdir);
		fd = cleanup_create(prefix, &path, &slot);
		good = fd >= 0 && path != NULL && strncmp(path, prefix, strlen(prefix)) == 0 &&
		       strlen(path) == strlen(prefix) + 12 && strspn(path + strlen(prefix), "0123456789abcdef") == 12 &&
		       slot >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600;
		{
			char *mprefix = xasprintf("%s/missing/.f.tmp-", tdir), *mpath = NULL;
			int mslot = -1, mfd = cleanup_create(mprefix, &mpath, &mslot);
			ok(mfd < 0 && errno == ENOENT && mpath == NULL && mslot == -1,
			   "cleanup_create in a missing directory: -1, ENOENT, nothing registered", NULL, NULL);
			free(mprefix);
		}
		/* in a child: cleanup_run ends what can still create files */
		{
			pid_t pid = fork();
			if (pid == 0) {
				char *p2 = NULL;
				int s2 = -1, fd2, e2;
				cleanup_run();
				fd2 = cleanup_create(prefix, &p2, &s2);
				e2 = errno;
				_exit(access(path, F_OK) != 0 && fd2 < 0 && e2 == EINTR && p2 == NULL ? 0 : 1);
			}
			ok(pid > 0 && waitpid(pid, &st2, 0) == pid && WIFEXITED(st2) && WEXITSTATUS(st2) == 0,
			   "cleanup_create: PREFIX + 12 hex digits, mode 0600, removed by cleanup_run; none after it (EINTR)",
			   good ? NULL : path, NULL);
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
		cleanup_unregister(slot);
		free(path);
		free(prefix);
		rmdir(tdir);
	}
	sweep_race();
	return done_testing();
}
