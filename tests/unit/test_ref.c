/*
 * Unit test for common/ref.c: a table of references, each either
 * normalised to an expected string or rejected with EDGE_EINPUT (and, for
 * some, an exact message). Output is TAP.
 */
#include "ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* Long literals built by the preprocessor so the table stays readable. */
#define H16 "0123456789abcdef"
#define H64 H16 H16 H16 H16
#define H128 H64 H64
#define UH64 "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define A10 "aaaaaaaaaa"
#define A100 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10
#define A238 A100 A100 A10 A10 A10 "aaaaaaaa"
#define A247 A100 A100 A10 A10 A10 A10 "aaaaaaa"
#define T128 A100 A10 A10 "tttttttt"
#define T129 T128 "x"

#define FMT "invalid reference format"

struct ref_case {
	const char *desc;
	const char *in;
	const char *want; /* normalised string, or NULL when it must fail */
	const char *msg;  /* when failing: exact message, or NULL not to pin */
};

static const struct ref_case cases[] = {
	/* Docker Hub normalisation */
	{"bare name", "nginx", "docker.io/library/nginx:latest", NULL},
	{"bare name with tag", "nginx:1.25", "docker.io/library/nginx:1.25", NULL},
	{"library path", "library/nginx", "docker.io/library/nginx:latest", NULL},
	{"docker.io single component", "docker.io/nginx",
	 "docker.io/library/nginx:latest", NULL},
	{"legacy index domain", "index.docker.io/library/nginx",
	 "docker.io/library/nginx:latest", NULL},
	{"legacy index domain single component", "index.docker.io/nginx:1",
	 "docker.io/library/nginx:1", NULL},
	{"docker hub user repo", "bitnami/redis:7.2",
	 "docker.io/bitnami/redis:7.2", NULL},
	{"already normalised", "docker.io/library/nginx:latest",
	 "docker.io/library/nginx:latest", NULL},
	{"nested docker hub path", "a/b/c/d", "docker.io/a/b/c/d:latest", NULL},
	{"digit-only components", "0/1", "docker.io/0/1:latest", NULL},
	{"bare localhost is a name", "localhost",
	 "docker.io/library/localhost:latest", NULL},
	{"bare localhost:5000 is name and tag", "localhost:5000",
	 "docker.io/library/localhost:5000", NULL},

	/* other registries */
	{"quay with tag", "quay.io/kairos/core:v1.25.2-rke2r1",
	 "quay.io/kairos/core:v1.25.2-rke2r1", NULL},
	{"localhost domain", "localhost/foo", "localhost/foo:latest", NULL},
	{"localhost with port", "localhost:5000/foo/bar:tag",
	 "localhost:5000/foo/bar:tag", NULL},
	{"ipv4 with port", "127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", NULL},
	{"ipv6 with port", "[::1]:5000/x:y", "[::1]:5000/x:y", NULL},
	{"ipv6 without port", "[2001:db8::1]/x", "[2001:db8::1]/x:latest", NULL},
	{"host with port, no dot", "example:5000/foo", "example:5000/foo:latest",
	 NULL},
	{"artifact registry",
	 "us-docker.pkg.dev/palette-images/edge/stylus-linux-amd64:v4.5.8",
	 "us-docker.pkg.dev/palette-images/edge/stylus-linux-amd64:v4.5.8", NULL},
	{"port 443 and dotted tag", "registry.example.com:443/team/app:2024.01-rc.1",
	 "registry.example.com:443/team/app:2024.01-rc.1", NULL},
	{"uppercase domain kept", "Quay.IO/kairos/core:v1", "Quay.IO/kairos/core:v1",
	 NULL},
	{"uppercase first component is a domain", "Registry/foo",
	 "Registry/foo:latest", NULL},

	/* path separators */
	{"double underscore", "a__b", "docker.io/library/a__b:latest", NULL},
	{"double hyphen", "a--b", "docker.io/library/a--b:latest", NULL},
	{"all separators", "foo/a.b_c---d", "docker.io/foo/a.b_c---d:latest", NULL},

	/* tags and digests */
	{"tag with caps, underscore, dot", "nginx:_tag.With-Caps",
	 "docker.io/library/nginx:_tag.With-Caps", NULL},
	{"128-char tag", "nginx:" T128, "docker.io/library/nginx:" T128, NULL},
	{"digest only keeps no tag", "nginx@sha256:" H64,
	 "docker.io/library/nginx@sha256:" H64, NULL},
	{"tag and digest both kept", "quay.io/a/b:1.0@sha256:" H64,
	 "quay.io/a/b:1.0@sha256:" H64, NULL},
	{"sha512 pin refused: it could not be checked", "quay.io/a/b@sha512:" H128, NULL,
	 "invalid reference \"quay.io/a/b@sha512:" H128 "\": sha512 digests cannot be "
	 "checked (pin the image by its sha256 digest)"},
	{"sha512 pin with a tag refused", "quay.io/a/b:1@sha512:" H128, NULL, NULL},

	/* length */
	{"255-char name", "quay.io/" A247, "quay.io/" A247 ":latest", NULL},
	{"256-char name", "quay.io/a" A247, NULL,
	 "invalid reference \"quay.io/a" A247 "\": repository name must not be "
	 "more than 255 characters"},
	{"256-char name after library prefix", A238, NULL,
	 "invalid reference \"" A238 "\": repository name must not be more "
	 "than 255 characters"},

	/* case */
	{"uppercase name", "Nginx", NULL,
	 "invalid reference \"Nginx\": repository name must be lowercase"},
	{"uppercase name with tag", "NGINX:latest", NULL, NULL},
	{"uppercase path on other registry", "quay.io/Kairos/core", NULL,
	 "invalid reference \"quay.io/Kairos/core\": repository name must be "
	 "lowercase"},

	/* format */
	{"empty", "", NULL, "invalid reference \"\": invalid reference format: empty"},
	{"empty tag", "nginx:", NULL, "invalid reference \"nginx:\": " FMT},
	{"tag without name", ":tag", NULL, NULL},
	{"tag starting with hyphen", "nginx:-bad", NULL, NULL},
	{"129-char tag", "nginx:" T129, NULL, NULL},
	{"tag with colon", "nginx:1:2", NULL, NULL},
	{"empty component", "a//b", NULL, "invalid reference \"a//b\": " FMT},
	{"trailing slash", "foo/", NULL, NULL},
	{"leading slash", "/foo", NULL, NULL},
	{"double dot", "a..b", NULL, NULL},
	{"triple underscore", "a___b", NULL, NULL},
	{"dot then underscore", "a._b", NULL, NULL},
	{"trailing hyphen", "a-", NULL, NULL},
	{"leading hyphen", "-a", NULL, NULL},
	{"underscore in domain", "a.b_c-d/e", NULL, NULL},
	{"domain component ends in hyphen", "quay-.io/foo", NULL, NULL},
	{"domain component starts with hyphen", "-quay.io/foo", NULL, NULL},
	{"non-numeric port", "quay.io:abc/foo", NULL, NULL},
	{"empty port", "quay.io:/foo", NULL, NULL},
	{"unclosed ipv6", "[::1/foo", NULL, NULL},
	{"empty ipv6", "[]:5000/foo", NULL, NULL},
	{"leading space", " nginx", NULL, NULL},
	{"inner space", "ngi nx", NULL, NULL},
	{"tab escaped in message", "nginx\t", NULL,
	 "invalid reference \"nginx\\x09\": " FMT},
	{"newline after tag", "nginx:1.0\n", NULL, NULL},
	{"bare image id", H64, NULL,
	 "invalid reference \"" H64 "\": cannot specify 64-byte hexadecimal "
	 "strings"},

	/* digests */
	{"short sha256", "nginx@sha256:" H16 H16 H16 "0123456789abcde", NULL,
	 "invalid reference \"nginx@sha256:" H16 H16 H16 "0123456789abcde\": "
	 "invalid digest"},
	{"uppercase hex", "nginx@sha256:" UH64, NULL, NULL},
	{"unknown algorithm", "nginx@md5:" H16 H16, NULL, NULL},
	{"sha512 with 64 hex", "nginx@sha512:" H64, NULL, NULL},
	{"empty digest", "nginx@", NULL, NULL},
	{"empty hex", "quay.io/a/b:t@sha256:", NULL, NULL},
	{"two digests", "nginx@sha256:" H64 "@sha256:" H64, NULL, NULL},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static int streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* ---- checks ---- */

static void check_case(const struct ref_case *c)
{
	struct edge_err err = {0, ""};
	char *got = NULL;
	int rc = ref_normalize(c->in, &got, &err);

	if (c->want != NULL) {
		ok(rc == 0 && streq(got, c->want), c->desc,
		   rc == 0 ? got : err.msg, c->want);
	} else if (rc == 0) {
		ok(0, c->desc, got, "failure");
	} else if (err.code != EDGE_EINPUT) {
		char buf[64];

		snprintf(buf, sizeof(buf), "code %d", err.code);
		ok(0, c->desc, buf, "code EDGE_EINPUT");
	} else if (c->msg != NULL) {
		ok(streq(err.msg, c->msg) && got == NULL, c->desc, err.msg,
		   c->msg);
	} else {
		/* every message names the input and stays on one line */
		ok(strncmp(err.msg, "invalid reference \"", 19) == 0 &&
			   strchr(err.msg, '\n') == NULL && got == NULL,
		   c->desc, err.msg, "invalid reference \"…\": …");
	}
	free(got);
}

/* The parts of a parse, not just its string. */
static void check_parts(void)
{
	struct edge_err err = {0, ""};
	struct edge_ref r;
	char *repo = NULL;
	int rc;

	rc = ref_parse("nginx@sha256:" H64, &r, &err);
	ok(rc == 0 && streq(r.domain, "docker.io") &&
		   streq(r.path, "library/nginx") && r.tag == NULL &&
		   streq(r.digest, "sha256:" H64),
	   "digest-only parse has no tag", rc == 0 ? r.path : err.msg,
	   "library/nginx, tag NULL");
	ok(rc == 0 && streq(ref_api_host(&r), "registry-1.docker.io"),
	   "api host for docker.io", rc == 0 ? ref_api_host(&r) : err.msg,
	   "registry-1.docker.io");
	repo = rc == 0 ? ref_repository(&r) : NULL;
	ok(streq(repo, "docker.io/library/nginx"), "repository of docker ref",
	   repo, "docker.io/library/nginx");
	free(repo);
	ref_free(&r);

	rc = ref_parse("localhost:5000/foo/bar:tag", &r, &err);
	ok(rc == 0 && streq(ref_api_host(&r), "localhost:5000"),
	   "api host for other registry", rc == 0 ? ref_api_host(&r) : err.msg,
	   "localhost:5000");
	ref_free(&r);
	ref_free(&r); /* idempotent */

	memset(&r, 0xff, sizeof(r));
	rc = ref_parse("a//b", &r, &err);
	ok(rc == -1 && err.code == EDGE_EINPUT && r.domain == NULL &&
		   r.path == NULL && r.tag == NULL && r.digest == NULL,
	   "failed parse leaves the ref empty", err.msg, "all NULL");
	ref_free(&r);

	{
		/* a huge input is elided so the reason survives */
		static const char tail[] =
			"...\": repository name must not be more than 255 characters";
		char *big = malloc(3001);
		size_t ml;

		if (big == NULL)
			abort();
		memset(big, 'a', 3000);
		big[3000] = '\0';
		rc = ref_parse(big, &r, &err);
		ml = strlen(err.msg);
		ok(rc == -1 && ml > sizeof(tail) &&
			   strcmp(err.msg + ml - (sizeof(tail) - 1), tail) == 0,
		   "long input elided in message", err.msg, tail);
		free(big);
	}

	ok(ref_valid_tag("v1.0_rc-1") && !ref_valid_tag(".x") &&
		   !ref_valid_tag("") && ref_valid_tag(T128) &&
		   !ref_valid_tag(T129),
	   "ref_valid_tag", "mismatch", "tag grammar");
	ok(ref_valid_path("library/nginx") && ref_valid_path("a__b/c--d") &&
		   !ref_valid_path("a/") && !ref_valid_path("A") &&
		   !ref_valid_path("a___b") && !ref_valid_path(""),
	   "ref_valid_path", "mismatch", "path grammar");
	ok(ref_valid_digest("sha256:" H64) && !ref_valid_digest("sha512:" H128) &&
		   !ref_valid_digest("sha256:" UH64) &&
		   !ref_valid_digest("sha384:" H64),
	   "ref_valid_digest", "mismatch", "digest grammar");
}

#define NPARTS 9

int main(void)
{
	size_t i;

	plan((int)(NCASES + NPARTS));
	for (i = 0; i < NCASES; i++)
		check_case(&cases[i]);
	check_parts();
	return done_testing();
}
