/*
 * Unit test for the request parsing of common/serve.c: Range headers
 * against a blob's size, Accept headers against a media type, and htpasswd
 * files (bcrypt entries only; the right password of the right user).
 * Output is TAP.
 */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

struct range_case {
	const char *h;
	uint64_t size;
	int want;
	uint64_t first, last;
};

static const struct range_case ranges[] = {
	{"bytes=0-99", 1000, 1, 0, 99},
	{"bytes=10-", 1000, 1, 10, 999},
	{"bytes=990-5000", 1000, 1, 990, 999},
	{"bytes=-100", 1000, 1, 900, 999},
	{"bytes=-5000", 1000, 1, 0, 999},
	{"bytes=999-999", 1000, 1, 999, 999},
	{"bytes=1000-", 1000, -1, 0, 0},
	{"bytes=1000-2000", 1000, -1, 0, 0},
	{"bytes=-0", 1000, -1, 0, 0},
	{"bytes=0-", 0, -1, 0, 0},
	{"bytes=5-1", 1000, 0, 0, 0},
	{"bytes=0-1,5-6", 1000, 0, 0, 0},
	{"items=0-1", 1000, 0, 0, 0},
	{"bytes=a-b", 1000, 0, 0, 0},
	{"bytes=-", 1000, 0, 0, 0},
	{"bytes=99999999999999999999-", 1000, 0, 0, 0},
	{"bytes=9999999999999999999-", 1000, -1, 0, 0},
	{NULL, 1000, 0, 0, 0},
};

struct accept_case {
	const char *accept, *mt;
	int want;
};

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"

static const struct accept_case accepts[] = {
	{NULL, OCI_INDEX, 1},
	{OCI_INDEX, OCI_INDEX, 1},
	{DOCKER_V2 ", " OCI_INDEX, OCI_INDEX, 1},
	{DOCKER_V2 ";q=0.9,application/json", OCI_INDEX, 0},
	{DOCKER_V2, OCI_INDEX, 0},
	{"*/*", OCI_INDEX, 1},
	{"application/*", OCI_INDEX, 1},
	{"text/*", OCI_INDEX, 0},
	{" " OCI_INDEX " ; q=1 ", OCI_INDEX, 1},
	{"application/vnd.oci.image.index.v1+json2", OCI_INDEX, 0},
	{"", OCI_INDEX, 0},
};

/* bcrypt of "secret", cost 5, made by htpasswd -B -C 5 */
#define HASH "$2y$05$T7qkn0t9n7cWUcGrQcWhAeT9l6Dd2r9lP2V9MYY7GvZ9k9lKyu9Xa"

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/test_serve.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

int main(void)
{
	size_t i;
	char desc[256];
	struct edge_err err = {0};
	struct serve_htpasswd *h = NULL;
	char *p;
	FILE *f;
	char hash[128] = "";

	for (i = 0; i < sizeof(ranges) / sizeof(*ranges); i++) {
		uint64_t a = 0, b = 0;
		int got = serve_parse_range(ranges[i].h, ranges[i].size, &a, &b);
		snprintf(desc, sizeof(desc), "range '%s' of %llu bytes", ranges[i].h ? ranges[i].h : "(none)",
			 (unsigned long long)ranges[i].size);
		okf(got == ranges[i].want && (got != 1 || (a == ranges[i].first && b == ranges[i].last)), "%s", desc);
	}
	for (i = 0; i < sizeof(accepts) / sizeof(*accepts); i++) {
		snprintf(desc, sizeof(desc), "accept '%s' %s %s", accepts[i].accept ? accepts[i].accept : "(none)",
			 accepts[i].want ? "takes" : "does not take", accepts[i].mt);
		okf(serve_accepts(accepts[i].accept, accepts[i].mt) == accepts[i].want, "%s", desc);
	}

	/* a real bcrypt entry, from htpasswd when it is there */
	f = popen("htpasswd -nbB -C 5 edgeuser 'pa:ss word' 2>/dev/null", "r");
	if (f != NULL) {
		if (fgets(hash, sizeof(hash), f) == NULL)
			hash[0] = '\0';
		pclose(f);
	}
	okf(strncmp(hash, "edgeuser:$2y$05$", 16) == 0, "htpasswd -B makes a $2y$ entry");
	{
		char *text = NULL;
		if (asprintf(&text, "# users\n\n%s", hash) < 0)
			abort();
		p = write_tmp(text);
		free(text);
	}
	okf(serve_htpasswd_load(p, &h, &err) == 0, "a bcrypt htpasswd file loads");
	if (h != NULL) {
		okf(serve_htpasswd_check(h, "edgeuser", "pa:ss word") == 1, "the right password");
		okf(serve_htpasswd_check(h, "edgeuser", "pa:ss word") == 1, "the right password, remembered");
		okf(serve_htpasswd_check(h, "edgeuser", "pa:ss wordx") == 0, "a longer password");
		okf(serve_htpasswd_check(h, "edgeuser", "") == 0, "an empty password");
		okf(serve_htpasswd_check(h, "other", "pa:ss word") == 0, "an unknown user with the password");
		okf(serve_htpasswd_check(h, "edgeuse", "pa:ss word") == 0, "a prefix of the user");
		serve_htpasswd_free(h);
		h = NULL;
	}
	unlink(p);
	free(p);

	p = write_tmp("edgeuser:$apr1$abcdefgh$0123456789012345678901\n");
	okf(serve_htpasswd_load(p, &h, &err) == -1 && err.code == EDGE_EINPUT && strstr(err.msg, ":1: user edgeuser: not a bcrypt hash") != NULL,
	    "an MD5 entry is refused");
	unlink(p);
	free(p);
	p = write_tmp("edgeuser:$2b$31$abcdefghijklmnopqrstuu7fDJURyPSIuSK9hmvro9aM170h8ioTG\n");
	okf(serve_htpasswd_load(p, &h, &err) == -1 && err.code == EDGE_EINPUT &&
		    strstr(err.msg, ":1: user edgeuser: bcrypt cost 31, not 4 to 17 (htpasswd -B -C)") != NULL,
	    "a bcrypt cost of 31 (hours a check) is refused at load: %s", err.msg);
	unlink(p);
	free(p);
	p = write_tmp("edgeuser:$2b$03$abcdefghijklmnopqrstuu7fDJURyPSIuSK9hmvro9aM170h8ioTG\n");
	okf(serve_htpasswd_load(p, &h, &err) == -1 && strstr(err.msg, "bcrypt cost 3, not 4 to 17") != NULL,
	    "and so is 3, below what crypt takes");
	unlink(p);
	free(p);
	p = write_tmp("edgeuser:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
	okf(serve_htpasswd_load(p, &h, &err) == -1 && err.code == EDGE_EINPUT, "a SHA entry is refused");
	unlink(p);
	free(p);
	p = write_tmp("# nobody\n");
	okf(serve_htpasswd_load(p, &h, &err) == -1 && strstr(err.msg, ": no user") != NULL, "a file without users is refused");
	unlink(p);
	free(p);
	p = write_tmp("no-colon-here\n");
	okf(serve_htpasswd_load(p, &h, &err) == -1 && strstr(err.msg, ":1: expected USER:HASH") != NULL, "a line without ':' is refused");
	unlink(p);
	free(p);
	p = write_tmp("u:" HASH "x\n");
	okf(serve_htpasswd_load(p, &h, &err) == -1, "a bcrypt hash of the wrong length is refused");
	unlink(p);
	free(p);

	return done_testing();
}
