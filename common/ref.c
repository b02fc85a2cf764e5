/*
 * Image references, after github.com/distribution/reference: the domain is
 * split off the way splitDockerDomain does it, then every part is checked
 * against the reference grammar (regexp.go). The checks are hand-written
 * scanners rather than regexes so the grammar reads as code and no regex
 * engine is needed.
 */
#include "ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fsutil.h"
#include "oci.h"

/* Docker Hub's names, in one place. */
static const struct {
	const char *domain;        /* what references normalise to */
	const char *legacy;        /* a domain the reference grammar folds into it */
	const char *api;           /* the host that answers /v2/ */
	const char *helper_server; /* docker's and its credential helpers' server name */
} docker_hub = {"docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"};

#define DEFAULT_DOMAIN (docker_hub.domain)
#define LEGACY_DOMAIN (docker_hub.legacy)
#define OFFICIAL_PREFIX "library/"
#define DEFAULT_TAG "latest"

/* Room for the quoted input in an error message: the message buffer less
 * the fixed text and the longest reason, so a long input is elided with
 * "..." and the reason is never cut off. Any reference short enough to be
 * valid fits whole. */
#define QUOTE_SIZE (EDGE_ERR_MAX - 96)

/* ASCII classes: the grammar is ASCII and must not depend on the locale. */
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_alnum(int c) { return is_digit(c) || is_lower(c) || is_upper(c); }
static int is_lower_alnum(int c) { return is_digit(c) || is_lower(c); }
static int is_lower_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
static int is_hex(int c) { return is_lower_hex(c) || (c >= 'A' && c <= 'F'); }
static int is_word(int c) { return is_alnum(c) || c == '_'; }

/* Copies s into buf (QUOTE_SIZE bytes) for an error message: quotes and
 * backslashes escaped, control and non-ASCII bytes as \xNN, so the message
 * stays on one line and shows exactly what was wrong (a stray tab, a
 * trailing newline). */
static void quote_input(char *buf, const char *s)
{
	oci_quote(buf, QUOTE_SIZE, s);
}

static int bad_ref(struct edge_err *err, const char *s, const char *reason)
{
	char q[QUOTE_SIZE];

	quote_input(q, s);
	return edge_errf(err, EDGE_EINPUT, "invalid reference \"%s\": %s", q,
			 reason);
}

/* pathComponent: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* over p[0..n). */
static int valid_path_component(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum((unsigned char)p[0]))
		return 0;
	for (;;) {
		while (i < n && is_lower_alnum((unsigned char)p[i]))
			i++;
		if (i == n)
			return 1;
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return 0;
		}
		/* a separator must be followed by an alphanumeric run */
		if (i == n || !is_lower_alnum((unsigned char)p[i]))
			return 0;
	}
}

int ref_valid_path(const char *s)
{
	const char *slash;

	if (s == NULL)
		return 0;
	for (;;) {
		slash = strchr(s, '/');
		if (slash == NULL)
			return valid_path_component(s, strlen(s));
		if (!valid_path_component(s, (size_t)(slash - s)))
			return 0;
		s = slash + 1;
	}
}

int ref_valid_tag(const char *s)
{
	size_t i;

	if (s == NULL || !is_word((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= REF_TAG_MAX)
			return 0;
		if (!is_word(c) && c != '.' && c != '-')
			return 0;
	}
	return 1;
}

int ref_valid_digest(const char *s)
{
	return oci_digest_valid(s);
}

/* domainNameComponent: [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9] */
static int valid_domain_component(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || !is_alnum((unsigned char)p[0]) ||
	    !is_alnum((unsigned char)p[n - 1]))
		return 0;
	for (i = 1; i + 1 < n; i++)
		if (!is_alnum((unsigned char)p[i]) && p[i] != '-')
			return 0;
	return 1;
}

/* domainAndPort: (domainName | "[" [A-Fa-f0-9:]+ "]") (":" [0-9]+)?
 * over p[0..n). */
static int valid_domain(const char *p, size_t n)
{
	size_t i = 0, start;

	if (n > 0 && p[0] == '[') {
		for (i = 1; i < n && (is_hex((unsigned char)p[i]) || p[i] == ':'); i++)
			;
		if (i == 1 || i == n || p[i] != ']')
			return 0;
		i++;
	} else {
		start = 0;
		for (;;) {
			while (i < n && p[i] != '.' && p[i] != ':')
				i++;
			if (!valid_domain_component(p + start, i - start))
				return 0;
			if (i == n || p[i] == ':')
				break;
			start = ++i;
		}
	}
	if (i == n)
		return 1;
	if (p[i] != ':' || ++i == n)
		return 0;
	for (; i < n; i++)
		if (!is_digit((unsigned char)p[i]))
			return 0;
	return 1;
}

/* anchoredIdentifierRegexp: a bare image ID, which must not be taken for a
 * repository name. */
static int is_identifier(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!is_lower_hex((unsigned char)s[i]))
			return 0;
	return i == 64;
}

int ref_parse(const char *s, struct edge_ref *out, struct edge_err *err)
{
	struct edge_ref r = {NULL, NULL, NULL, NULL};
	const char *dom = DEFAULT_DOMAIN, *rest, *slash, *at, *name_end, *colon;
	size_t domlen = strlen(DEFAULT_DOMAIN), firstlen, pathlen, i;
	int from_input = 0, library, rc = -1;

	memset(out, 0, sizeof(*out));
	if (s == NULL || s[0] == '\0')
		return bad_ref(err, s, "invalid reference format: empty");
	if (is_identifier(s))
		return bad_ref(err, s, "cannot specify 64-byte hexadecimal strings");

	/* splitDockerDomain: the first component is a domain when it looks
	 * like a host (a '.' or ':'), is "localhost", or has uppercase
	 * letters (which a path never may); a lone name stays on Docker Hub. */
	rest = s;
	slash = strchr(s, '/');
	if (slash != NULL) {
		firstlen = (size_t)(slash - s);
		if (firstlen == strlen(LEGACY_DOMAIN) &&
		    strncmp(s, LEGACY_DOMAIN, firstlen) == 0) {
			rest = slash + 1;
		} else {
			int looks_host = (firstlen == strlen("localhost") &&
					  strncmp(s, "localhost", firstlen) == 0);

			for (i = 0; i < firstlen && !looks_host; i++)
				if (s[i] == '.' || s[i] == ':' ||
				    is_upper((unsigned char)s[i]))
					looks_host = 1;
			if (looks_host) {
				dom = s;
				domlen = firstlen;
				rest = slash + 1;
				from_input = 1;
			}
		}
	}
	library = domlen == strlen(DEFAULT_DOMAIN) &&
		  strncmp(dom, DEFAULT_DOMAIN, domlen) == 0 &&
		  strchr(rest, '/') == NULL;

	/* rest is path[:tag][@digest]; a path has no ':' or '@', a tag no '@' */
	at = strchr(rest, '@');
	name_end = at != NULL ? at : rest + strlen(rest);
	colon = memchr(rest, ':', (size_t)(name_end - rest));
	pathlen = (size_t)((colon != NULL ? colon : name_end) - rest);

	if (library)
		r.path = xasprintf("%s%.*s", OFFICIAL_PREFIX, (int)pathlen, rest);
	else
		r.path = xstrndup(rest, pathlen);
	r.domain = xstrndup(dom, domlen);
	if (colon != NULL)
		r.tag = xstrndup(colon + 1, (size_t)(name_end - colon - 1));
	if (at != NULL)
		r.digest = xstrdup(at + 1);

	/* distribution checks case before the grammar, so "Nginx" gets the
	 * helpful message rather than "invalid reference format" */
	for (i = 0; r.path[i] != '\0'; i++)
		if (is_upper((unsigned char)r.path[i])) {
			bad_ref(err, s, "repository name must be lowercase");
			goto out;
		}
	if ((from_input && !valid_domain(r.domain, domlen)) ||
	    !ref_valid_path(r.path) ||
	    (r.tag != NULL && !ref_valid_tag(r.tag))) {
		bad_ref(err, s, "invalid reference format");
		goto out;
	}
	if (domlen + 1 + strlen(r.path) > REF_NAME_MAX) {
		bad_ref(err, s,
			"repository name must not be more than 255 characters");
		goto out;
	}
	if (r.digest != NULL && !ref_valid_digest(r.digest)) {
		/* distribution's grammar allows other algorithms (sha512:…);
		 * edge checks what a registry sends against sha256 only, and a
		 * pin that is not checked is no pin: refuse it */
		size_t alg = strcspn(r.digest, ":");
		if (r.digest[alg] == ':' && alg > 0 && alg <= 16 && strncmp(r.digest, "sha256", alg) != 0 &&
		    strspn(r.digest, "abcdefghijklmnopqrstuvwxyz0123456789") == alg) {
			char why[96];
			snprintf(why, sizeof(why), "%.*s digests cannot be checked (pin the image by its sha256 digest)",
				 (int)alg, r.digest);
			bad_ref(err, s, why);
		} else {
			bad_ref(err, s, "invalid digest");
		}
		goto out;
	}
	if (r.tag == NULL && r.digest == NULL)
		r.tag = xstrdup(DEFAULT_TAG);
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
out:
	ref_free(&r);
	return rc;
}

void ref_free(struct edge_ref *r)
{
	if (r == NULL)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	r->domain = r->path = r->tag = r->digest = NULL;
}

char *ref_repository(const struct edge_ref *r)
{
	if (r == NULL || r->domain == NULL || r->path == NULL)
		return NULL;
	return xasprintf("%s/%s", r->domain, r->path);
}

char *ref_string(const struct edge_ref *r)
{
	if (r == NULL || r->domain == NULL || r->path == NULL)
		return NULL;
	return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag != NULL ? ":" : "",
			 r->tag != NULL ? r->tag : "", r->digest != NULL ? "@" : "",
			 r->digest != NULL ? r->digest : "");
}

const char *ref_api_host(const struct edge_ref *r)
{
	if (r == NULL || r->domain == NULL)
		return NULL;
	return ref_domain_api_host(r->domain);
}

int ref_is_docker_hub(const char *host)
{
	return strcasecmp(host, docker_hub.domain) == 0 || strcasecmp(host, docker_hub.legacy) == 0 ||
	       strcasecmp(host, docker_hub.api) == 0;
}

const char *ref_docker_hub_domain(void)
{
	return docker_hub.domain;
}

const char *ref_domain_api_host(const char *domain)
{
	return strcmp(domain, docker_hub.domain) == 0 ? docker_hub.api : domain;
}

const char *ref_domain_helper_server(const char *domain)
{
	return strcmp(domain, docker_hub.domain) == 0 ? docker_hub.helper_server : domain;
}

int ref_normalize(const char *s, char **out, struct edge_err *err)
{
	struct edge_ref r;
	int rc = -1;

	*out = NULL;
	if (ref_parse(s, &r, err) < 0)
		goto out;
	*out = ref_string(&r);
	rc = 0;
out:
	ref_free(&r);
	return rc;
}
