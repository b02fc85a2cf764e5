/*
 * Unit test for common/creds.c: Palette's cred file, docker/containers auth
 * files, priorities, docker credential helpers (fake ones written to a temp
 * directory put first on PATH), helm URL matching and base64. Output is TAP.
 */
#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "tap.h"

#define PLAN 95

static char *tmp; /* the test's temp directory */

/* Writes tmp/name (directories created) with the given mode; returns the
 * malloc'd path. */
static char *put_file(const char *name, const char *text, mode_t mode)
{
	char *path = path_join(tmp, name), *dir = xstrdup(path);
	struct edge_err err = {0};
	int fd;

	*strrchr(dir, '/') = '\0';
	if (mkdir_p(dir, 0700, &err) != 0) {
		fprintf(stderr, "mkdir %s: %s\n", dir, err.msg);
		exit(99);
	}
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write_all(fd, text, strlen(text)) != 0 || fchmod(fd, mode) != 0 ||
	    close(fd) != 0) {
		perror(path);
		exit(99);
	}
	return path;
}

static char *slurp(const char *path)
{
	struct edge_err err = {0};
	char *data = NULL;
	size_t len;

	if (read_file_max(path, 1 << 20, &data, &len, &err) != 0)
		return xstrdup("");
	return data;
}

/* Captures what is written to fd 2 (our logs and helpers' stderr). */
static int saved_stderr = -1;
static char *capture_path;

static void stderr_begin(void)
{
	int fd;

	fflush(stderr);
	capture_path = path_join(tmp, "stderr.txt");
	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved_stderr = dup(2);
	if (fd < 0 || saved_stderr < 0 || dup2(fd, 2) < 0) {
		perror("capture stderr");
		exit(99);
	}
	close(fd);
}

static char *stderr_end(void)
{
	char *text;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
	text = slurp(capture_path);
	free(capture_path);
	return text;
}

/* Looks up and compares with want_user/want_pass (both NULL: expect 1). */
static void check_lookup(struct cred_store *s, enum cred_kind kind, const char *q,
			 const char *want_user, const char *want_pass, const char *desc)
{
	struct edge_err err = {0};
	struct cred c = {NULL, NULL};
	int rc = cred_store_lookup(s, kind, q, &c, &err);

	if (want_user == NULL) {
		okf(rc == 1 && c.username == NULL && c.password == NULL, "%s", desc);
		if (rc != 1)
			printf("#   rc %d, user %s, err %s\n", rc, c.username ? c.username : "-", err.msg);
	} else {
		int good = rc == 0 && c.username && c.password && strcmp(c.username, want_user) == 0 &&
			   strcmp(c.password, want_pass) == 0;
		okf(good, "%s", desc);
		if (!good)
			printf("#   rc %d, user %s, pass %s, err %s\n", rc, c.username ? c.username : "-",
			       c.password ? c.password : "-", err.msg);
	}
	cred_free(&c);
}

/* Expects lookup to fail with EDGE_EINPUT and exactly msg (or msg as a
 * prefix when prefix is set). */
static void check_lookup_err(struct cred_store *s, const char *q, const char *msg, int prefix,
			     const char *desc)
{
	struct edge_err err = {0};
	struct cred c = {NULL, NULL};
	int rc = cred_store_lookup(s, CRED_IMAGE, q, &c, &err);
	int good = rc == -1 && err.code == EDGE_EINPUT && c.username == NULL &&
		   (prefix ? strncmp(err.msg, msg, strlen(msg)) == 0 : strcmp(err.msg, msg) == 0);

	okf(good, "%s", desc);
	if (!good) {
		diag("  rc %d code %d", rc, err.code);
		diag("  got: %s", err.msg);
		diag("  want: %s", msg);
	}
	cred_free(&c);
}

/* Loads a file with loader and expects EDGE_EINPUT with message
 * "PATH" + suffix. */
static void check_load_err(int (*loader)(struct cred_store *, const char *, struct edge_err *),
			   const char *name, const char *text, const char *suffix, const char *desc)
{
	struct cred_store *s = cred_store_new();
	struct edge_err err = {0};
	char *path = put_file(name, text, 0600);
	char *want = xasprintf("%s%s", path, suffix);
	int rc = loader(s, path, &err);
	int good = rc == -1 && err.code == EDGE_EINPUT && strcmp(err.msg, want) == 0;

	okf(good, "%s", desc);
	if (!good) {
		diag("  rc %d code %d", rc, err.code);
		diag("  got: %s", err.msg);
		diag("  want: %s", want);
	}
	free(want);
	free(path);
	cred_store_free(s);
}

static char *palette_path, *helper_log;

static const char palette_json[] =
	"{\n"
	"  \"image\": [\n"
	"    {\"endpoint\": \"quay.io\", \"username\": \"quser\", \"password\": \"qpass\"},\n"
	"    {\"endpoint\": \"https://gcr.io/my-project/\", \"username\": \"_json_key\",\n"
	"     \"password\": {\"type\": \"service_account\", \"project_id\": \"p1\",\n"
	"                  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n\",\n"
	"                  \"client_email\": \"sa@p1.iam.gserviceaccount.com\"}},\n"
	"    {\"endpoint\": \"docker.io\", \"username\": \"paluser\", \"password\": \"palpass\"},\n"
	"    {\"endpoint\": \"10.10.254.254:8000/spectro-images\", \"username\": \"edge\", \"password\": \"e:d:g:e\"}\n"
	"  ],\n"
	"  \"helm\": [\n"
	"    {\"endpoint\": \"charts.example.com\", \"username\": \"h1\", \"password\": \"p1\"},\n"
	"    {\"endpoint\": \"https://charts.example.com/helm/\", \"username\": \"h2\", \"password\": \"p2\"},\n"
	"    {\"endpoint\": \"https://charts.example.com/helm/private\", \"username\": \"h3\", \"password\": \"p3\"},\n"
	"    {\"endpoint\": \"harbor.example.com:8443\", \"username\": \"h4\", \"password\": \"p4\"}\n"
	"  ]\n"
	"}\n";

static const char gcr_compact[] =
	"{\"type\":\"service_account\",\"project_id\":\"p1\","
	"\"private_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n\","
	"\"client_email\":\"sa@p1.iam.gserviceaccount.com\"}";

static void test_palette(void)
{
	struct cred_store *s = cred_store_new();
	struct edge_err err = {0};
	char *warn;
	int rc;

	palette_path = put_file("creds.json", palette_json, 0600);
	stderr_begin();
	rc = cred_store_load_palette(s, palette_path, &err);
	warn = stderr_end();
	okf(rc == 0, "palette: cred file with image and helm entries loads");
	if (rc != 0)
		diag("  err: %s", err.msg);
	okf(warn[0] == '\0', "palette: no warning for a 0600 file");
	free(warn);

	check_lookup(s, CRED_IMAGE, "quay.io", "quser", "qpass", "palette: image entry by host");
	check_lookup(s, CRED_IMAGE, "gcr.io", "_json_key", gcr_compact,
		     "palette: GCR _json_key object password is its compact JSON text");
	check_lookup(s, CRED_IMAGE, "https://GCR.io/my-project/app:v1", "_json_key", gcr_compact,
		     "palette: scheme, path and case ignored for image hosts");
	check_lookup(s, CRED_IMAGE, "docker.io", "paluser", "palpass", "palette: docker.io");
	check_lookup(s, CRED_IMAGE, "registry-1.docker.io", "paluser", "palpass",
		     "palette: registry-1.docker.io is docker.io");
	check_lookup(s, CRED_IMAGE, "10.10.254.254:8000", "edge", "e:d:g:e",
		     "palette: endpoint with port and path matches host:port");
	check_lookup(s, CRED_IMAGE, "10.10.254.254", NULL, NULL,
		     "palette: host without the port does not match");

	check_lookup(s, CRED_HELM, "https://charts.example.com/helm", "h2", "p2",
		     "helm: exact URL (trailing slash of the endpoint ignored)");
	check_lookup(s, CRED_HELM, "https://charts.example.com/helm/private/sub/index.yaml", "h3", "p3",
		     "helm: longest endpoint prefix wins");
	check_lookup(s, CRED_HELM, "https://charts.example.com/helmx/index.yaml", "h1", "p1",
		     "helm: prefix only at a path boundary, host endpoint otherwise");
	check_lookup(s, CRED_HELM, "http://Charts.Example.com/other?x=1", "h1", "p1",
		     "helm: scheme, host case and query ignored");
	check_lookup(s, CRED_HELM, "https://harbor.example.com:8443/chartrepo/lib", "h4", "p4",
		     "helm: endpoint with a port");
	check_lookup(s, CRED_HELM, "https://harbor.example.com/chartrepo/lib", NULL, NULL,
		     "helm: another port does not match");
	check_lookup(s, CRED_HELM, "oci://quay.io/charts", "quser", "qpass",
		     "helm: oci:// URL falls back to the image credentials of its host");
	check_lookup(s, CRED_HELM, "https://quay.io/charts", NULL, NULL,
		     "helm: https URL does not use image credentials");
	check_lookup(s, CRED_IMAGE, "ghcr.io", NULL, NULL, "no match returns 1");
	check_lookup(s, CRED_IMAGE, "charts.example.com", NULL, NULL,
		     "helm endpoints are not image credentials");

	cred_store_add(s, CRED_HELM, "https://charts.example.com/anything", "x1", "y1");
	check_lookup(s, CRED_HELM, "https://charts.example.com/helm/private", "x1", "y1",
		     "helm: explicit host beats a longer Palette endpoint");
	cred_store_free(s);

	/* readable by others: a warning, still loaded */
	s = cred_store_new();
	chmod(palette_path, 0644);
	stderr_begin();
	rc = cred_store_load_palette(s, palette_path, &err);
	warn = stderr_end();
	okf(rc == 0 && strstr(warn, "credentials file is readable by others") != NULL &&
		    strstr(warn, palette_path) != NULL,
	    "palette: warns when the file is readable by others");
	if (strstr(warn, "readable") == NULL)
		diag("  stderr: %s", warn);
	free(warn);
	chmod(palette_path, 0600);
	cred_store_free(s);
}

static void test_palette_errors(void)
{
	struct cred_store *s;
	struct edge_err err = {0};
	char *path, *want;
	int rc;

	check_load_err(cred_store_load_palette, "bad1.json",
		       "{\n  \"image\": [\n    {\"endpoint\": \"quay.io\",}\n  ]\n}\n",
		       ":3:28: string or '}' expected",
		       "palette: bad JSON names file:line:col");
	check_load_err(cred_store_load_palette, "bad2.json",
		       "{\"image\": [{\"endpoint\": \"quay.io\", \"username\": \"u\", \"password\": hunter2}]}",
		       ":1:70: invalid token",
		       "palette: parse error does not quote the input (no secret in messages)");
	check_load_err(cred_store_load_palette, "bad3.json",
		       "{\"image\": [{\"endpoint\": \"quay.io\", \"username\": \"u\", \"password\": \"p\"},\n"
		       "            {\"username\": \"u\", \"password\": \"p\"}]}",
		       ": image[1].endpoint: missing", "palette: missing endpoint names the JSON path");
	check_load_err(cred_store_load_palette, "bad4.json",
		       "{\"helm\": [{\"endpoint\": \"h\", \"username\": \"u\", \"password\": [1]}]}",
		       ": helm[0].password: expected a string or an object",
		       "palette: password of a wrong type");
	check_load_err(cred_store_load_palette, "bad5.json", "{\"image\": {}}",
		       ": image: expected an array", "palette: image must be an array");
	check_load_err(cred_store_load_palette, "bad6.json", "  \n", ": empty file",
		       "palette: empty file");
	check_load_err(cred_store_load_palette, "bad7.json",
		       "{\"image\": [{\"endpoint\": \"quay.io\", \"endpoint\": \"x\", \"username\": \"u\", \"password\": \"p\"}]}",
		       ":1:45: duplicate object key", "palette: duplicate keys rejected");

	/* a failed load leaves nothing behind */
	s = cred_store_new();
	path = path_join(tmp, "bad3.json");
	rc = cred_store_load_palette(s, path, &err);
	check_lookup(s, CRED_IMAGE, "quay.io", NULL, NULL,
		     "palette: entries before the error are dropped");
	free(path);

	/* a missing file is invalid input and is named */
	edge_err_clear(&err);
	path = path_join(tmp, "nosuch.json");
	want = xasprintf("open %s: No such file or directory", path);
	rc = cred_store_load_palette(s, path, &err);
	okf(rc == -1 && err.code == EDGE_EINPUT && strcmp(err.msg, want) == 0,
	    "palette: missing file is EDGE_EINPUT naming it");
	free(want);
	free(path);
	cred_store_free(s);
}

static char *b64(const char *user, const char *pass)
{
	struct cred c = {(char *)user, (char *)pass};

	return cred_basic_token(&c);
}

static void test_auth_files(void)
{
	struct cred_store *s = cred_store_new();
	struct edge_err err = {0};
	char *a1 = b64("hubuser", "hub:pass:word"), *a2 = b64("cfguser", "cfgpass");
	char *text, *path;
	int rc;

	text = xasprintf("{\"auths\": {\n"
			 "  \"https://index.docker.io/v1/\": {\"auth\": \"%s\"},\n"
			 "  \"http://127.0.0.1:5000/v2/\": {\"username\": \"reguser\", \"password\": \"regpass\"},\n"
			 "  \"registry.example.com\": {\"auth\": \"%s\", \"email\": \"x@example.com\"},\n"
			 "  \"marker.example.com\": {}\n"
			 "}}\n",
			 a1, a2);
	path = put_file("auth/auth.json", text, 0600);
	rc = cred_store_load_auth_file(s, path, &err);
	okf(rc == 0, "auth file: loads");
	if (rc != 0)
		diag("  err: %s", err.msg);
	check_lookup(s, CRED_IMAGE, "docker.io", "hubuser", "hub:pass:word",
		     "auth file: \"auth\" base64, split at the first ':'");
	check_lookup(s, CRED_IMAGE, "index.docker.io", "hubuser", "hub:pass:word",
		     "auth file: index.docker.io is https://index.docker.io/v1/");
	check_lookup(s, CRED_IMAGE, "127.0.0.1:5000", "reguser", "regpass",
		     "auth file: username/password, key with scheme and path");
	check_lookup(s, CRED_IMAGE, "127.0.0.1:5001", NULL, NULL, "auth file: other port, no match");
	check_lookup(s, CRED_IMAGE, "registry.example.com/team/app", "cfguser", "cfgpass",
		     "auth file: lookup with a repository path");
	check_lookup(s, CRED_IMAGE, "marker.example.com", NULL, NULL,
		     "auth file: empty entry is no credentials");
	free(text);
	free(path);
	cred_store_free(s);

	check_load_err(cred_store_load_auth_file, "auth/b64bad.json",
		       "{\"auths\": {\"bad.example.com\": {\"auth\": \"!!!notbase64\"}}}",
		       ": auths[\"bad.example.com\"].auth: invalid base64",
		       "auth file: invalid base64 is an error naming the entry");
	check_load_err(cred_store_load_auth_file, "auth/b64pad.json",
		       "{\"auths\": {\"bad.example.com\": {\"auth\": \"dXNlcjpwYXNz=\"}}}",
		       ": auths[\"bad.example.com\"].auth: invalid base64",
		       "auth file: base64 with a wrong length is rejected");
	check_load_err(cred_store_load_auth_file, "auth/b64mid.json",
		       "{\"auths\": {\"bad.example.com\": {\"auth\": \"dQ==dXNl\"}}}",
		       ": auths[\"bad.example.com\"].auth: invalid base64",
		       "auth file: padding inside base64 is rejected");
	check_load_err(cred_store_load_auth_file, "auth/b64nocolon.json",
		       "{\"auths\": {\"bad.example.com\": {\"auth\": \"dXNlcg==\"}}}",
		       ": auths[\"bad.example.com\"].auth: expected base64 of \"user:password\"",
		       "auth file: base64 without ':' is rejected");
	check_load_err(cred_store_load_auth_file, "auth/badtype.json",
		       "{\"auths\": {\"x.example.com\": {\"username\": 1}}}",
		       ": auths[\"x.example.com\"].username: expected a string",
		       "auth file: wrong member type names the path");
	check_load_err(cred_store_load_auth_file, "auth/badhelper.json",
		       "{\"credHelpers\": {\"x.example.com\": \"../evil\"}}",
		       ": credHelpers[\"x.example.com\"]: invalid credential helper name \"../evil\"",
		       "auth file: helper names cannot hold a path");
	check_load_err(cred_store_load_auth_file, "auth/notobj.json", "[]",
		       ": expected a JSON object", "auth file: must be an object");

	/* base64 without padding bits to spare: 1, 2 and 3 trailing bytes */
	{
		const char *users[] = {"a", "ab", "abc"};
		int i, good = 1;
		s = cred_store_new();
		for (i = 0; i < 3; i++) {
			char *tok = b64(users[i], "pw");
			char *t = xasprintf("{\"auths\": {\"r%d.example.com\": {\"auth\": \"%s\"}}}", i, tok);
			char *name = xasprintf("auth/len%d.json", i);
			char *p = put_file(name, t, 0600);
			char *host = xasprintf("r%d.example.com", i);
			struct cred c = {NULL, NULL};
			if (cred_store_load_auth_file(s, p, &err) != 0 ||
			    cred_store_lookup(s, CRED_IMAGE, host, &c, &err) != 0 ||
			    strcmp(c.username, users[i]) != 0 || strcmp(c.password, "pw") != 0)
				good = 0;
			cred_free(&c);
			free(tok);
			free(t);
			free(name);
			free(p);
			free(host);
		}
		okf(good, "base64 round trip for every padding length");
		cred_store_free(s);
	}
	/* as Go's decoder (docker's): CR/LF skipped, unused bits of the last
	 * digit ignored ("a:bc" is YTpiYw==, "a:b" YTpi, "a:bcd" YTpiY2Q=) */
	{
		char *p;
		s = cred_store_new();
		p = put_file("auth/lax.json",
			     "{\"auths\": {\"l1.example.com\": {\"auth\": \"YTpiYx==\"},\n"
			     "  \"l2.example.com\": {\"auth\": \"YTpiY2R=\"},\n"
			     "  \"l3.example.com\": {\"auth\": \"YTpi\\r\\nYw=\\n=\"}}}",
			     0600);
		okf(cred_store_load_auth_file(s, p, &err) == 0, "auth file: lax base64 loads");
		check_lookup(s, CRED_IMAGE, "l1.example.com", "a", "bc", "base64: unused bits before == ignored");
		check_lookup(s, CRED_IMAGE, "l2.example.com", "a", "bcd", "base64: unused bits before = ignored");
		check_lookup(s, CRED_IMAGE, "l3.example.com", "a", "bc", "base64: CR and LF skipped, even in padding");
		free(p);
		cred_store_free(s);
	}
	check_load_err(cred_store_load_auth_file, "auth/b64nl.json",
		       "{\"auths\": {\"bad.example.com\": {\"auth\": \"\\r\\n\"}}}",
		       ": auths[\"bad.example.com\"].auth: invalid base64",
		       "auth file: base64 of nothing is rejected");
	free(a1);
	free(a2);
}

static void test_basic_token(void)
{
	struct cred c = {"Aladdin", "open sesame"};
	char *t = cred_basic_token(&c);

	okf(t && strcmp(t, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == 0, "cred_basic_token (RFC 7617 example)");
	free(t);
}

static void test_default_and_priority(void)
{
	struct cred_store *s;
	struct edge_err err = {0};
	char *raf, *dcdir, *home, *tok_raf = b64("rafuser", "rafpass"), *tok_dc = b64("dcuser", "dcpass");
	char *t;
	int rc;

	t = xasprintf("{\"auths\": {\"quay.io\": {\"auth\": \"%s\"}}}", tok_raf);
	raf = put_file("raf/auth.json", t, 0600);
	free(t);
	t = xasprintf("{\"auths\": {\"quay.io\": {\"auth\": \"%s\"}, \"other.example.com\": {\"auth\": \"%s\"},"
		      " \"docker.io\": {\"auth\": \"%s\"}}}",
		      tok_dc, tok_dc, tok_dc);
	free(put_file("dc/config.json", t, 0600));
	free(t);
	dcdir = path_join(tmp, "dc");

	setenv("REGISTRY_AUTH_FILE", raf, 1);
	setenv("DOCKER_CONFIG", dcdir, 1);
	s = cred_store_new();
	rc = cred_store_load_default(s, &err);
	okf(rc == 0, "default: REGISTRY_AUTH_FILE and DOCKER_CONFIG load");
	check_lookup(s, CRED_IMAGE, "quay.io", "rafuser", "rafpass",
		     "default: REGISTRY_AUTH_FILE wins over DOCKER_CONFIG");
	check_lookup(s, CRED_IMAGE, "other.example.com", "dcuser", "dcpass",
		     "default: DOCKER_CONFIG used for other hosts");

	/* Palette loaded after the auth files still wins; explicit beats all */
	rc = cred_store_load_palette(s, palette_path, &err);
	check_lookup(s, CRED_IMAGE, "quay.io", "quser", "qpass",
		     "priority: Palette cred file over auth files");
	cred_store_add(s, CRED_IMAGE, "https://quay.io/some/path", "cli", "clipass");
	check_lookup(s, CRED_IMAGE, "quay.io", "cli", "clipass", "priority: explicit over everything");
	cred_store_add(s, CRED_IMAGE, "quay.io", "cli2", "clipass2");
	check_lookup(s, CRED_IMAGE, "quay.io", "cli2", "clipass2",
		     "explicit: a second add for the host replaces the first");
	check_lookup(s, CRED_IMAGE, "index.docker.io", "paluser", "palpass",
		     "priority: Palette docker.io over config's docker.io");
	cred_store_free(s);

	/* both missing: fine, nothing found */
	{
		char *nofile = path_join(tmp, "nope/auth.json"), *nodir = path_join(tmp, "nope");
		setenv("REGISTRY_AUTH_FILE", nofile, 1);
		setenv("DOCKER_CONFIG", nodir, 1);
		s = cred_store_new();
		rc = cred_store_load_default(s, &err);
		okf(rc == 0, "default: missing files are skipped");
		check_lookup(s, CRED_IMAGE, "quay.io", NULL, NULL, "default: nothing loaded, none found");
		cred_store_free(s);
		free(nofile);
		free(nodir);
	}

	/* malformed config.json is an error */
	{
		char *bad = put_file("dcbad/config.json", "{\"auths\": {", 0600), *dir = path_join(tmp, "dcbad");
		char *want = xasprintf("%s:1:11: string or '}' expected near end of file", bad);
		unsetenv("REGISTRY_AUTH_FILE");
		setenv("DOCKER_CONFIG", dir, 1);
		s = cred_store_new();
		edge_err_clear(&err);
		rc = cred_store_load_default(s, &err);
		okf(rc == -1 && err.code == EDGE_EINPUT && strcmp(err.msg, want) == 0,
		    "default: malformed DOCKER_CONFIG/config.json is an error");
		if (strcmp(err.msg, want) != 0)
			diag("  got: %s", err.msg);
		cred_store_free(s);
		free(bad);
		free(dir);
		free(want);
	}

	/* ~/.docker/config.json when DOCKER_CONFIG is unset */
	home = path_join(tmp, "home");
	t = xasprintf("{\"auths\": {\"home.example.com\": {\"username\": \"hu\", \"password\": \"hp\"}}}");
	free(put_file("home/.docker/config.json", t, 0600));
	free(t);
	unsetenv("DOCKER_CONFIG");
	setenv("HOME", home, 1);
	s = cred_store_new();
	rc = cred_store_load_default(s, &err);
	check_lookup(s, CRED_IMAGE, "home.example.com", "hu", "hp",
		     "default: ~/.docker/config.json without DOCKER_CONFIG");
	cred_store_free(s);

	free(home);
	free(raf);
	free(dcdir);
	free(tok_raf);
	free(tok_dc);
}

/* containers-auth.json(5)'s order: $REGISTRY_AUTH_FILE, else the runtime
 * directory's auth.json, then the user's; docker's config.json last. A
 * default file that cannot be read is skipped; where credentials came from
 * is told. */
static void test_containers_auth(void)
{
	struct cred_store *s;
	struct edge_err err = {0};
	struct cred c = {NULL, NULL};
	char from[512], *run = path_join(tmp, "xrun"), *cfg = path_join(tmp, "xcfg"), *dc = path_join(tmp, "xdc");
	char *raf, *want, *loop;
	int rc;

	free(put_file("xrun/containers/auth.json",
		      "{\"auths\": {\"a.example.com\": {\"username\": \"run\", \"password\": \"p1\"}}}", 0600));
	free(put_file("xcfg/containers/auth.json",
		      "{\"auths\": {\"a.example.com\": {\"username\": \"cfg\", \"password\": \"p2\"},"
		      " \"b.example.com\": {\"username\": \"cfg\", \"password\": \"p2\"}}}", 0600));
	free(put_file("xdc/config.json",
		      "{\"auths\": {\"b.example.com\": {\"username\": \"dock\", \"password\": \"p3\"},"
		      " \"c.example.com\": {\"username\": \"dock\", \"password\": \"p3\"}}}", 0600));
	raf = put_file("xraf.json", "{\"auths\": {\"c.example.com\": {\"username\": \"raf\", \"password\": \"p4\"}}}",
		       0600);
	unsetenv("REGISTRY_AUTH_FILE");
	setenv("XDG_RUNTIME_DIR", run, 1);
	setenv("XDG_CONFIG_HOME", cfg, 1);
	setenv("DOCKER_CONFIG", dc, 1);
	s = cred_store_new();
	rc = cred_store_load_default(s, &err);
	okf(rc == 0, "containers: the three files load");
	check_lookup(s, CRED_IMAGE, "a.example.com", "run", "p1", "containers: $XDG_RUNTIME_DIR's auth.json first");
	check_lookup(s, CRED_IMAGE, "b.example.com", "cfg", "p2", "containers: the user's auth.json before docker's");
	check_lookup(s, CRED_IMAGE, "c.example.com", "dock", "p3", "containers: docker's config.json last");
	rc = cred_store_lookup_from(s, CRED_IMAGE, "b.example.com", &c, from, sizeof(from), &err);
	want = xasprintf("containers auth file %s/containers/auth.json", cfg);
	okf(rc == 0 && strcmp(from, want) == 0, "containers: lookup_from names the file");
	if (strcmp(from, want) != 0)
		diag("  got: %s", from);
	free(want);
	cred_free(&c);
	cred_store_free(s);

	/* $REGISTRY_AUTH_FILE replaces both containers files */
	setenv("REGISTRY_AUTH_FILE", raf, 1);
	s = cred_store_new();
	rc = cred_store_load_default(s, &err);
	check_lookup(s, CRED_IMAGE, "a.example.com", NULL, NULL, "containers: not read with $REGISTRY_AUTH_FILE");
	check_lookup(s, CRED_IMAGE, "c.example.com", "raf", "p4", "containers: $REGISTRY_AUTH_FILE before docker's");
	cred_store_free(s);
	unsetenv("REGISTRY_AUTH_FILE");

	/* a docker config that cannot be read (a symlink loop: root reads
	 * every mode) is skipped, the others still count */
	loop = path_join(dc, "config.json");
	unlink(loop);
	okf(symlink("config.json", loop) == 0, "containers: a symlink loop made");
	s = cred_store_new();
	edge_err_clear(&err);
	rc = cred_store_load_default(s, &err);
	okf(rc == 0 && err.code == 0, "containers: an unreadable docker config is not an error");
	check_lookup(s, CRED_IMAGE, "a.example.com", "run", "p1", "containers: the other files still read");
	cred_store_free(s);

	cred_store_add_named(s = cred_store_new(), CRED_IMAGE, "d.example.com", "u", "p", "--password-file pw");
	rc = cred_store_lookup_from(s, CRED_IMAGE, "d.example.com", &c, from, sizeof(from), &err);
	okf(rc == 0 && strcmp(from, "--password-file pw") == 0, "explicit: lookup_from names the source");
	cred_free(&c);
	cred_store_free(s);

	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("DOCKER_CONFIG");
	free(loop);
	free(raf);
	free(run);
	free(cfg);
	free(dc);
}

static const char helper_script[] =
	"#!/bin/sh\n"
	"[ \"$1\" = get ] || { echo \"unsupported action $1\"; exit 1; }\n"
	"server=$(cat)\n"
	"printf '%s\\n' \"$server\" >> \"$EDGETEST_LOG\"\n"
	"case \"$server\" in\n"
	"ok.example.com) printf '{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper:secret\"}\\n' \"$server\" ;;\n"
	"fail.example.com) echo 'edgetest: backend exploded' >&2; echo 'keychain locked'; exit 3 ;;\n"
	"slow.example.com) exec sleep 10 ;;\n"
	"garbage.example.com) echo 'not json secretvalue' ;;\n"
	"*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	"esac\n";

static const char store_script[] =
	"#!/bin/sh\n"
	"server=$(cat)\n"
	"case \"$server\" in\n"
	"none.example.com) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	"*) printf '{\"Username\":\"store-user\",\"Secret\":\"store:%s\"}' \"$server\" ;;\n"
	"esac\n";

static int count_lines(const char *path)
{
	char *t = slurp(path), *p;
	int n = 0;

	for (p = t; *p; p++)
		n += *p == '\n';
	free(t);
	return n;
}

struct thread_arg {
	struct cred_store *s;
	int bad;
};

static void *lookup_thread(void *p)
{
	struct thread_arg *a = p;
	int i;

	for (i = 0; i < 200; i++) {
		struct edge_err err = {0};
		struct cred c = {NULL, NULL};
		const char *host = i % 2 ? "ok.example.com" : "static.example.com";
		if (cred_store_lookup(a->s, CRED_IMAGE, host, &c, &err) != 0)
			a->bad++;
		cred_free(&c);
	}
	return NULL;
}

static void test_helpers(void)
{
	struct cred_store *s;
	struct edge_err err = {0};
	char *path, *warn, *tok = b64("static-user", "static-pass"), *t;
	int rc, before;

	free(put_file("bin/docker-credential-edgetest", helper_script, 0755));
	free(put_file("bin/docker-credential-edgestore", store_script, 0755));
	helper_log = path_join(tmp, "helper.log");
	setenv("EDGETEST_LOG", helper_log, 1);

	path = put_file("helpers/config.json",
			"{\"credHelpers\": {\"ok.example.com\": \"edgetest\", \"missing.example.com\": \"edgetest\",\n"
			"  \"fail.example.com\": \"edgetest\", \"slow.example.com\": \"edgetest\",\n"
			"  \"garbage.example.com\": \"edgetest\", \"gone.example.com\": \"nosuchhelper\"}}\n",
			0644);
	s = cred_store_new();
	stderr_begin();
	rc = cred_store_load_auth_file(s, path, &err);
	warn = stderr_end();
	okf(rc == 0 && warn[0] == '\0', "helpers: config without secrets loads, no permission warning");
	free(warn);
	free(path);

	check_lookup(s, CRED_IMAGE, "ok.example.com", "helper-user", "helper:secret",
		     "credHelpers: helper's Username/Secret");
	t = slurp(helper_log);
	okf(strcmp(t, "ok.example.com\n") == 0, "credHelpers: the host is given on stdin");
	free(t);
	check_lookup(s, CRED_IMAGE, "https://ok.example.com/v2/", "helper-user", "helper:secret",
		     "credHelpers: second lookup served");
	okf(count_lines(helper_log) == 1, "credHelpers: the helper ran once (cached)");
	check_lookup(s, CRED_IMAGE, "missing.example.com", NULL, NULL,
		     "credHelpers: \"credentials not found\" means none");

	stderr_begin();
	check_lookup_err(s, "fail.example.com",
			 "credential helper docker-credential-edgetest: get fail.example.com: exit status 3: keychain locked",
			 0, "credHelpers: failing helper is an error naming it");
	warn = stderr_end();
	okf(strstr(warn, "edgetest: backend exploded") != NULL, "credHelpers: helper's stderr passed through");
	free(warn);
	check_lookup_err(s, "garbage.example.com",
			 "credential helper docker-credential-edgetest: get garbage.example.com: invalid reply, expected {\"Username\",\"Secret\"}",
			 0, "credHelpers: bad reply is an error that does not quote it");
	check_lookup_err(s, "gone.example.com",
			 "credential helper docker-credential-nosuchhelper: not found in PATH", 0,
			 "credHelpers: helper missing from PATH is an error");
	{
		struct timespec a, b;
		long ms;
		cred_store_set_helper_timeout(s, 300);
		clock_gettime(CLOCK_MONOTONIC, &a);
		check_lookup_err(s, "slow.example.com",
				 "credential helper docker-credential-edgetest: get slow.example.com: no answer after 1 s",
				 0, "credHelpers: a hung helper is killed at the time limit");
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		okf(ms >= 250 && ms < 5000, "credHelpers: time limit honoured (%ld ms)", ms);
	}
	cred_store_free(s);

	/* credsStore: fallback after credHelpers and static auths */
	t = xasprintf("{\"auths\": {\"static.example.com\": {\"auth\": \"%s\"}, \"docker.io\": {}},\n"
		      " \"credHelpers\": {\"ok.example.com\": \"edgetest\", \"missing.example.com\": \"edgetest\"},\n"
		      " \"credsStore\": \"edgestore\"}\n",
		      tok);
	path = put_file("store/config.json", t, 0600);
	free(t);
	s = cred_store_new();
	rc = cred_store_load_auth_file(s, path, &err);
	okf(rc == 0, "credsStore: config loads");
	check_lookup(s, CRED_IMAGE, "anything.example.com:5000", "store-user", "store:anything.example.com:5000",
		     "credsStore: used for a host with no other entry");
	check_lookup(s, CRED_IMAGE, "static.example.com", "static-user", "static-pass",
		     "credsStore: static auths entry comes first");
	check_lookup(s, CRED_IMAGE, "ok.example.com", "helper-user", "helper:secret",
		     "credsStore: credHelpers entry comes first");
	check_lookup(s, CRED_IMAGE, "missing.example.com", "store-user", "store:missing.example.com",
		     "credsStore: fallback when the host's helper has none");
	check_lookup(s, CRED_IMAGE, "docker.io", "store-user", "store:https://index.docker.io/v1/",
		     "credsStore: Docker Hub asked as https://index.docker.io/v1/");
	check_lookup(s, CRED_IMAGE, "none.example.com", NULL, NULL, "credsStore: store has none → 1");

	/* several threads at once */
	{
		pthread_t th[8];
		struct thread_arg args[8];
		int i, bad = 0;
		for (i = 0; i < 8; i++) {
			args[i].s = s;
			args[i].bad = 0;
			pthread_create(&th[i], NULL, lookup_thread, &args[i]);
		}
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			bad += args[i].bad;
		}
		okf(bad == 0, "lookups from 8 threads at once");
	}
	before = count_lines(helper_log);
	check_lookup(s, CRED_IMAGE, "ok.example.com", "helper-user", "helper:secret",
		     "credsStore: cached helper answers");
	okf(count_lines(helper_log) == before, "credHelpers: no new helper run for a cached host");
	cred_store_free(s);
	free(path);
	free(tok);
}

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(cmd);
}

int main(void)
{
	char tmpl[] = "/tmp/edge-test-creds-XXXXXX";
	const char *oldpath = getenv("PATH"), *oldhome = getenv("HOME");
	char *savedhome = oldhome ? xstrdup(oldhome) : NULL, *newpath, *bindir;

	tmp = mkdtemp(tmpl);
	if (tmp == NULL) {
		perror("mkdtemp");
		return 99;
	}
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("DOCKER_CONFIG");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_CONFIG_HOME");
	bindir = path_join(tmp, "bin");
	newpath = xasprintf("%s:%s", bindir, oldpath ? oldpath : "/usr/bin:/bin");
	setenv("PATH", newpath, 1);

	plan(PLAN);
	test_palette();
	test_palette_errors();
	test_auth_files();
	test_basic_token();
	test_default_and_priority();
	test_containers_auth();
	test_helpers();

	if (savedhome)
		setenv("HOME", savedhome, 1);
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("DOCKER_CONFIG");
	rm_rf(tmp);
	free(savedhome);
	free(newpath);
	free(bindir);
	free(palette_path);
	free(helper_log);
	return done_testing();
}
