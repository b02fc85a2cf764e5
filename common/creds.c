#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "ref.h"

extern char **environ;

#define CREDS_FILE_MAX ((size_t)4 << 20)
#define HELPER_REPLY_MAX ((size_t)1 << 20)
#define HELPER_TIMEOUT_MS 30000

/* Where an entry came from, highest priority first. */
enum cred_tier { TIER_EXPLICIT, TIER_PALETTE, TIER_AUTHFILE };
/* Docker's order inside one auth file. */
enum cred_rank { RANK_HELPER, RANK_STATIC, RANK_STORE };

struct cred_entry {
	enum cred_kind kind;
	int tier;
	unsigned seq;   /* load order within the tier: lower wins */
	int rank;
	char *endpoint; /* normalised (see norm_host, norm_url); NULL: any host (credsStore) */
	char *username; /* static credentials, NULL for a helper */
	char *password;
	char *helper;   /* NAME of docker-credential-NAME, or NULL */
	char *source;   /* file name, or "explicit credentials", for logs */
};

/* A helper's answer, kept so that it runs once per server. */
struct helper_result {
	char *helper;
	char *server;
	int found;
	struct cred cred;
};

struct cred_store {
	pthread_mutex_t lock;
	struct cred_entry *v; /* sorted by (tier, seq, rank), stable */
	size_t n, cap;
	struct helper_result *cache;
	size_t ncache, capcache;
	unsigned seq;
	int helper_timeout_ms;
};

static void wipe_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void cred_free(struct cred *c)
{
	if (c == NULL)
		return;
	wipe_free(c->username);
	wipe_free(c->password);
	c->username = NULL;
	c->password = NULL;
}

static void entry_free(struct cred_entry *e)
{
	free(e->endpoint);
	wipe_free(e->username);
	wipe_free(e->password);
	free(e->helper);
	free(e->source);
}

struct cred_store *cred_store_new(void)
{
	struct cred_store *s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	s->helper_timeout_ms = HELPER_TIMEOUT_MS;
	return s;
}

void cred_store_free(struct cred_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		entry_free(&s->v[i]);
	for (i = 0; i < s->ncache; i++) {
		free(s->cache[i].helper);
		free(s->cache[i].server);
		cred_free(&s->cache[i].cred);
	}
	free(s->v);
	free(s->cache);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void cred_store_set_helper_timeout(struct cred_store *s, int ms)
{
	pthread_mutex_lock(&s->lock);
	s->helper_timeout_ms = ms > 0 ? ms : HELPER_TIMEOUT_MS;
	pthread_mutex_unlock(&s->lock);
}

/* ---- names ---------------------------------------------------------- */

/*
 * The registry host of a key, endpoint or URL: scheme, userinfo, path,
 * query and fragment dropped, lowercased, Docker Hub's aliases folded into
 * "docker.io". *rest (when not NULL) points at what follows the host.
 * malloc'd; "" when there is no host.
 */
static char *norm_host(const char *s, const char **rest)
{
	const char *p = strstr(s, "://"), *end, *at;
	char *h;
	size_t n, i;

	if (p != NULL && strcspn(s, "/") > (size_t)(p - s))
		s = p + 3;
	end = s + strcspn(s, "/?#");
	for (at = end; at > s; at--)
		if (at[-1] == '@') {
			s = at;
			break;
		}
	n = (size_t)(end - s);
	h = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		h[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	h[n] = '\0';
	if (ref_is_docker_hub(h)) {
		free(h);
		h = xstrdup(ref_docker_hub_domain());
	}
	if (rest != NULL)
		*rest = end;
	return h;
}

/* A chart repository URL or helm endpoint as "host[:port][/path]": the host
 * as norm_host, the path kept (case-sensitive) without query, fragment or
 * trailing slashes. malloc'd; "" when there is no host. */
static char *norm_url(const char *s)
{
	const char *rest;
	char *h = norm_host(s, &rest), *u;
	size_t n;

	if (h[0] == '\0')
		return h;
	n = strcspn(rest, "?#");
	while (n > 0 && rest[n - 1] == '/')
		n--;
	u = xasprintf("%s%.*s", h, (int)n, rest);
	free(h);
	return u;
}

/* Whether endpoint (norm_url) covers url (norm_url): equal, or a prefix
 * ending at a path separator. */
static int helm_match(const char *endpoint, const char *url)
{
	size_t n = strlen(endpoint);

	return strncmp(endpoint, url, n) == 0 && (url[n] == '\0' || url[n] == '/');
}

/* NAME of docker-credential-NAME: run through a PATH search, so no '/'. */
static int helper_name_ok(const char *name)
{
	const char *p;

	if (name[0] == '\0')
		return 0;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

/* ---- base64 (RFC 4648, standard alphabet, padded): libsodium's ------- */

static char *b64_encode(const unsigned char *in, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *out = xmalloc(cap);

	return sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
}

/* The value of a base64 digit of the standard alphabet, or -1. */
static int b64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Go's decoder (docker's) ignores the bits of the last digit that padding
 * leaves unused; libsodium refuses them when set. Clears them in s (CR and
 * LF skipped), so both accept the same input. Such a digit is a multiple of
 * 4 below 64: a letter or a digit. */
static void b64_clear_unused_bits(char *s)
{
	size_t i = strlen(s);
	int pad = 0, v;

	while (i > 0 && (s[i - 1] == '=' || s[i - 1] == '\r' || s[i - 1] == '\n'))
		pad += s[--i] == '=';
	if (i == 0 || (pad != 1 && pad != 2) || (v = b64_digit(s[i - 1])) < 0)
		return;
	v &= pad == 1 ? ~0x03 : ~0x0f;
	s[i - 1] = (char)(v < 26 ? 'A' + v : v < 52 ? 'a' + v - 26 : '0' + v - 52);
}

/* Decodes padded base64; CR and LF are skipped (as Go's decoder, which
 * docker uses, does). Returns a malloc'd NUL-terminated buffer, or NULL
 * when the input is malformed, empty, or decodes to a NUL byte. */
static char *b64_decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in), cap = n / 4 * 3 + 3, o = 0;
	char *text = xstrdup(in);
	unsigned char *out = xmalloc(cap);
	int ok;

	b64_clear_unused_bits(text);
	ok = sodium_base642bin(out, cap - 1, text, n, "\r\n", &o, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	     o > 0 && memchr(out, '\0', o) == NULL;
	explicit_bzero(text, n);
	free(text);
	if (!ok) {
		explicit_bzero(out, cap);
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	return (char *)out;
}

char *cred_basic_token(const struct cred *c)
{
	char *plain, *tok;

	if (c == NULL)
		return NULL;
	plain = xasprintf("%s:%s", c->username ? c->username : "", c->password ? c->password : "");
	tok = b64_encode((const unsigned char *)plain, strlen(plain));
	wipe_free(plain);
	return tok;
}

/* ---- the entry table ----------------------------------------------- */

static int entry_cmp(const struct cred_entry *a, const struct cred_entry *b)
{
	if (a->tier != b->tier)
		return a->tier < b->tier ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return 0;
}

/* Takes ownership of e's strings; keeps the table sorted, and entries of
 * equal priority in insertion (file) order. Caller holds the lock. */
static void store_insert(struct cred_store *s, const struct cred_entry *e)
{
	size_t pos = s->n;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	while (pos > 0 && entry_cmp(&s->v[pos - 1], e) > 0)
		pos--;
	memmove(&s->v[pos + 1], &s->v[pos], (s->n - pos) * sizeof(*s->v));
	s->v[pos] = *e;
	s->n++;
}

/* Removes what one failed load added. Caller holds the lock. */
static void store_drop(struct cred_store *s, int tier, unsigned seq)
{
	size_t i, j = 0;

	for (i = 0; i < s->n; i++) {
		if (s->v[i].tier == tier && s->v[i].seq == seq)
			entry_free(&s->v[i]);
		else
			s->v[j++] = s->v[i];
	}
	s->n = j;
}

void cred_store_add(struct cred_store *s, enum cred_kind kind, const char *host,
		    const char *user, const char *pass)
{
	cred_store_add_named(s, kind, host, user, pass, NULL);
}

void cred_store_add_named(struct cred_store *s, enum cred_kind kind, const char *host,
			  const char *user, const char *pass, const char *source)
{
	struct cred_entry e = {0};
	size_t i;

	e.endpoint = norm_host(host ? host : "", NULL);
	if (e.endpoint[0] == '\0') {
		free(e.endpoint);
		return;
	}
	e.kind = kind;
	e.tier = TIER_EXPLICIT;
	e.rank = RANK_STATIC;
	e.username = xstrdup(user ? user : "");
	e.password = xstrdup(pass ? pass : "");
	e.source = xstrdup(source ? source : "explicit credentials");
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n; i++) {
		struct cred_entry *o = &s->v[i];
		if (o->tier == TIER_EXPLICIT && o->kind == kind && strcmp(o->endpoint, e.endpoint) == 0) {
			entry_free(o);
			*o = e;
			break;
		}
	}
	if (i == s->n)
		store_insert(s, &e);
	pthread_mutex_unlock(&s->lock);
}

/* ---- files ---------------------------------------------------------- */

/* Zeroes every string of a parsed document before it is freed: passwords
 * and auth strings live in jansson's nodes. */
static void json_wipe(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j))
		explicit_bzero((char *)json_string_value(j), json_string_length(j));
	else if (json_is_object(j))
		json_object_foreach(j, k, v) json_wipe(v);
	else if (json_is_array(j))
		json_array_foreach(j, i, v) json_wipe(v);
}

/* Reads and parses a credentials file. Parse errors carry file:line:col
 * but not jansson's "near '…'" excerpt, which could quote a secret. */
static json_t *creds_file_load(const char *path, size_t flags, struct edge_err *err)
{
	char *data = NULL;
	size_t len = 0;
	json_error_t je;
	char place[32];
	json_t *root = NULL;

	if (read_file_max(path, CREDS_FILE_MAX, &data, &len, err) != 0) {
		if (err != NULL && err->code == EDGE_EIO && (errno == ENOENT || errno == ENOTDIR))
			err->code = EDGE_EINPUT;
		return NULL;
	}
	if (strspn(data, " \t\r\n") == len) {
		edge_errf(err, EDGE_EINPUT, "%s: empty file", path);
		goto out;
	}
	root = json_loadb_bounded(data, len, flags, &je);
	if (root == NULL) {
		char *near = strstr(je.text, " near '");
		if (near != NULL)
			*near = '\0';
		edge_errf(err, EDGE_EINPUT, "%s%s: %s", path, json_error_place(&je, place, sizeof(place)), je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		edge_errf(err, EDGE_EINPUT, "%s: expected a JSON object", path);
		json_wipe(root);
		json_decref(root);
		root = NULL;
	}
out:
	explicit_bzero(data, len);
	free(data);
	return root;
}

static void warn_if_readable(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0004))
		log_warn("%s: credentials file is readable by others", path);
}

/* An optional string member: 0 with *out (NULL when absent or null), -1
 * when it has another type. */
static int opt_string(json_t *obj, const char *key, const char *path, const char *where,
		      const char **out, struct edge_err *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return edge_errf(err, EDGE_EINPUT, "%s: %s.%s: expected a string", path, where, key);
	*out = json_string_value(v);
	return 0;
}

static int req_string(json_t *obj, const char *key, const char *path, const char *where,
		      const char **out, struct edge_err *err)
{
	if (opt_string(obj, key, path, where, out, err) != 0)
		return -1;
	if (*out == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: %s.%s: missing", path, where, key);
	return 0;
}

/* Compact JSON text of a GCR service-account object, written straight into
 * our buffer (no growing copies of the private key left behind). */
static char *json_compact_text(json_t *v)
{
	size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
	char *t;

	if (n == 0)
		return NULL;
	t = xmalloc(n + 1);
	if (json_dumpb(v, t, n, JSON_COMPACT) != n) {
		free(t);
		return NULL;
	}
	t[n] = '\0';
	return t;
}

/* One {"endpoint","username","password"} item of Palette's file. */
static int palette_entry(struct cred_store *s, enum cred_kind kind, json_t *item, const char *path,
			 const char *where, unsigned seq, struct edge_err *err)
{
	struct cred_entry e = {0};
	const char *endpoint, *user;
	json_t *pw;

	if (!json_is_object(item))
		return edge_errf(err, EDGE_EINPUT, "%s: %s: expected an object", path, where);
	if (req_string(item, "endpoint", path, where, &endpoint, err) != 0 ||
	    req_string(item, "username", path, where, &user, err) != 0)
		return -1;
	if (endpoint[0] == '\0')
		return edge_errf(err, EDGE_EINPUT, "%s: %s.endpoint: empty", path, where);
	pw = json_object_get(item, "password");
	if (pw == NULL || json_is_null(pw))
		return edge_errf(err, EDGE_EINPUT, "%s: %s.password: missing", path, where);
	if (!json_is_string(pw) && !json_is_object(pw))
		return edge_errf(err, EDGE_EINPUT, "%s: %s.password: expected a string or an object",
				 path, where);
	e.endpoint = kind == CRED_HELM ? norm_url(endpoint) : norm_host(endpoint, NULL);
	if (e.endpoint[0] == '\0') {
		free(e.endpoint);
		return edge_errf(err, EDGE_EINPUT, "%s: %s.endpoint: no host in \"%s\"", path, where,
				 endpoint);
	}
	e.password = json_is_string(pw) ? xstrdup(json_string_value(pw)) : json_compact_text(pw);
	if (e.password == NULL) {
		free(e.endpoint);
		return edge_errf(err, EDGE_EINPUT, "%s: %s.password: cannot be serialised", path, where);
	}
	e.kind = kind;
	e.tier = TIER_PALETTE;
	e.seq = seq;
	e.rank = RANK_STATIC;
	e.username = xstrdup(user);
	e.source = xasprintf("--cred-file %s", path);
	store_insert(s, &e);
	return 0;
}

int cred_store_load_palette(struct cred_store *s, const char *path, struct edge_err *err)
{
	static const char *const sections[] = {"image", "helm"};
	static const enum cred_kind kinds[] = {CRED_IMAGE, CRED_HELM};
	json_t *root, *arr, *item;
	unsigned seq;
	size_t k, i, count = 0;
	int rc = -1;

	root = creds_file_load(path, JSON_REJECT_DUPLICATES, err);
	if (root == NULL)
		return -1;
	pthread_mutex_lock(&s->lock);
	seq = ++s->seq;
	for (k = 0; k < 2; k++) {
		arr = json_object_get(root, sections[k]);
		if (arr == NULL || json_is_null(arr))
			continue;
		if (!json_is_array(arr)) {
			edge_errf(err, EDGE_EINPUT, "%s: %s: expected an array", path, sections[k]);
			goto out;
		}
		json_array_foreach(arr, i, item) {
			char where[64];
			snprintf(where, sizeof(where), "%s[%zu]", sections[k], i);
			if (palette_entry(s, kinds[k], item, path, where, seq, err) != 0)
				goto out;
			count++;
		}
	}
	rc = 0;
out:
	if (rc != 0)
		store_drop(s, TIER_PALETTE, seq);
	pthread_mutex_unlock(&s->lock);
	json_wipe(root);
	json_decref(root);
	if (rc == 0) {
		if (count > 0)
			warn_if_readable(path);
		log_verbose("%s: %zu registry credentials loaded", path, count);
	}
	return rc;
}

/* One auths["KEY"] item: static credentials, or nothing (a docker login
 * with a credsStore leaves an empty {} marker). */
static int auths_entry(struct cred_store *s, const char *key, json_t *v, const char *path,
		       const char *source, unsigned seq, int *secrets, struct edge_err *err)
{
	struct cred_entry e = {0};
	const char *auth, *user, *pass, *tok;
	char *where = xasprintf("auths[\"%s\"]", key);
	int rc = -1;

	if (!json_is_object(v)) {
		edge_errf(err, EDGE_EINPUT, "%s: %s: expected an object", path, where);
		goto out;
	}
	if (opt_string(v, "auth", path, where, &auth, err) != 0 ||
	    opt_string(v, "username", path, where, &user, err) != 0 ||
	    opt_string(v, "password", path, where, &pass, err) != 0 ||
	    opt_string(v, "identitytoken", path, where, &tok, err) != 0)
		goto out;
	if (tok != NULL && tok[0] != '\0')
		log_verbose("%s: %s: identity tokens are not supported, ignored", path, where);
	if (auth != NULL && auth[0] != '\0') {
		size_t n;
		char *plain = b64_decode(auth, &n), *colon;
		if (plain == NULL) {
			edge_errf(err, EDGE_EINPUT, "%s: %s.auth: invalid base64", path, where);
			goto out;
		}
		colon = strchr(plain, ':');
		if (colon == NULL) {
			wipe_free(plain);
			edge_errf(err, EDGE_EINPUT, "%s: %s.auth: expected base64 of \"user:password\"",
				  path, where);
			goto out;
		}
		*colon = '\0';
		e.username = xstrdup(plain);
		e.password = xstrdup(colon + 1);
		*colon = ':';
		wipe_free(plain);
	} else if ((user != NULL && user[0] != '\0') || (pass != NULL && pass[0] != '\0')) {
		e.username = xstrdup(user ? user : "");
		e.password = xstrdup(pass ? pass : "");
	} else {
		rc = 0; /* nothing here: a marker for credsStore */
		goto out;
	}
	e.endpoint = norm_host(key, NULL);
	if (e.endpoint[0] == '\0') {
		entry_free(&e);
		edge_errf(err, EDGE_EINPUT, "%s: %s: not a registry host", path, where);
		goto out;
	}
	e.kind = CRED_IMAGE;
	e.tier = TIER_AUTHFILE;
	e.seq = seq;
	e.rank = RANK_STATIC;
	e.source = xstrdup(source);
	store_insert(s, &e);
	*secrets = 1;
	rc = 0;
out:
	free(where);
	return rc;
}

/* A credHelpers item (host given) or the credsStore (host NULL). */
static int helper_entry(struct cred_store *s, const char *host, const char *name, const char *path,
			const char *source, const char *where, unsigned seq, struct edge_err *err)
{
	struct cred_entry e = {0};

	if (!helper_name_ok(name))
		return edge_errf(err, EDGE_EINPUT, "%s: %s: invalid credential helper name \"%s\"",
				 path, where, name);
	if (host != NULL) {
		e.endpoint = norm_host(host, NULL);
		if (e.endpoint[0] == '\0') {
			free(e.endpoint);
			return edge_errf(err, EDGE_EINPUT, "%s: %s: not a registry host", path, where);
		}
	}
	e.kind = CRED_IMAGE;
	e.tier = TIER_AUTHFILE;
	e.seq = seq;
	e.rank = host ? RANK_HELPER : RANK_STORE;
	e.helper = xstrdup(name);
	e.source = xstrdup(source);
	store_insert(s, &e);
	return 0;
}

static int load_auth_file_as(struct cred_store *s, const char *path, const char *source,
			     struct edge_err *err)
{
	json_t *root, *auths, *helpers, *v;
	const char *key, *store;
	unsigned seq;
	int rc = -1, secrets = 0;

	root = creds_file_load(path, 0, err);
	if (root == NULL)
		return -1;
	pthread_mutex_lock(&s->lock);
	seq = ++s->seq;
	auths = json_object_get(root, "auths");
	if (auths != NULL && !json_is_null(auths)) {
		if (!json_is_object(auths)) {
			edge_errf(err, EDGE_EINPUT, "%s: auths: expected an object", path);
			goto out;
		}
		json_object_foreach(auths, key, v)
			if (auths_entry(s, key, v, path, source, seq, &secrets, err) != 0)
				goto out;
	}
	helpers = json_object_get(root, "credHelpers");
	if (helpers != NULL && !json_is_null(helpers)) {
		if (!json_is_object(helpers)) {
			edge_errf(err, EDGE_EINPUT, "%s: credHelpers: expected an object", path);
			goto out;
		}
		json_object_foreach(helpers, key, v) {
			char *where = xasprintf("credHelpers[\"%s\"]", key);
			int r = json_is_string(v)
					? helper_entry(s, key, json_string_value(v), path, source, where, seq, err)
					: edge_errf(err, EDGE_EINPUT, "%s: %s: expected a string", path, where);
			free(where);
			if (r != 0)
				goto out;
		}
	}
	v = json_object_get(root, "credsStore");
	if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
		edge_errf(err, EDGE_EINPUT, "%s: credsStore: expected a string", path);
		goto out;
	}
	store = json_string_value(v); /* NULL when absent */
	if (store != NULL && store[0] != '\0' &&
	    helper_entry(s, NULL, store, path, source, "credsStore", seq, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		store_drop(s, TIER_AUTHFILE, seq);
	pthread_mutex_unlock(&s->lock);
	json_wipe(root);
	json_decref(root);
	if (rc == 0) {
		if (secrets)
			warn_if_readable(path);
		log_verbose("%s: auth file loaded", path);
	}
	return rc;
}

/* Loads an auth file; label says what it is in messages ("docker config",
 * NULL: the bare path). */
static int load_auth_file(struct cred_store *s, const char *path, const char *label,
			  struct edge_err *err)
{
	char *source = label ? xasprintf("%s %s", label, path) : xstrdup(path);
	int rc = load_auth_file_as(s, path, source, err);

	free(source);
	return rc;
}

int cred_store_load_auth_file(struct cred_store *s, const char *path, struct edge_err *err)
{
	return load_auth_file(s, path, NULL, err);
}

/*
 * An auth file that may be absent (label: what it is, for messages).
 * must: a file the user named ($REGISTRY_AUTH_FILE), whose read errors are
 * errors; the others are only looked at in passing, so a file that cannot
 * be read is a warning and the run goes on without its credentials (the
 * registries may not need any). A malformed file is an error either way.
 */
static int load_optional_auth_file(struct cred_store *s, const char *path, const char *label,
				   int must, struct edge_err *err)
{
	struct stat st;
	struct edge_err e = {0};

	if (stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
		log_verbose("%s: not found, skipped", path);
		return 0;
	}
	if (load_auth_file(s, path, label, &e) == 0)
		return 0;
	if (!must && e.code == EDGE_EIO) {
		log_warn("%s: %s; going on without its credentials", label, e.msg);
		return 0;
	}
	if (err != NULL)
		*err = e;
	return -1;
}

/* "$base/rel" when base is set and not empty, else NULL. malloc'd. */
static char *env_path(const char *name, const char *rel)
{
	const char *base = getenv(name);

	return base != NULL && base[0] != '\0' ? path_join(base, rel) : NULL;
}

int cred_store_load_default(struct cred_store *s, struct edge_err *err)
{
	const char *raf = getenv("REGISTRY_AUTH_FILE");
	char *paths[3] = {NULL, NULL, NULL};
	static const char *const labels[3] = {"containers auth file", "containers auth file",
					      "docker config"};
	size_t i;
	int rc = 0;

	/* containers-auth.json(5): $REGISTRY_AUTH_FILE in place of the
	 * runtime directory's file and the user's own, then docker's */
	if (raf != NULL && raf[0] != '\0') {
		if (load_optional_auth_file(s, raf, "$REGISTRY_AUTH_FILE", 1, err) != 0)
			return -1;
	} else {
		paths[0] = env_path("XDG_RUNTIME_DIR", "containers/auth.json");
		paths[1] = env_path("XDG_CONFIG_HOME", "containers/auth.json");
		if (paths[1] == NULL)
			paths[1] = env_path("HOME", ".config/containers/auth.json");
	}
	paths[2] = env_path("DOCKER_CONFIG", "config.json");
	if (paths[2] == NULL)
		paths[2] = env_path("HOME", ".docker/config.json");
	for (i = 0; i < 3 && rc == 0; i++)
		if (paths[i] != NULL)
			rc = load_optional_auth_file(s, paths[i], labels[i], 0, err);
	for (i = 0; i < 3; i++)
		free(paths[i]);
	return rc;
}

/* ---- credential helpers -------------------------------------------- */

/* The helper's first stdout line, printable ASCII only and cut short: it
 * goes into an error message. */
static void reply_excerpt(const char *buf, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < len && buf[i] != '\n' && o + 1 < outsz && o < 200; i++)
		out[o++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* A helper's stdout as read so far: it holds a secret, so it is wiped
 * whenever it moves or is freed. */
struct helper_reply {
	char *buf; /* NUL-terminated once helper_run returns 0 */
	size_t len, cap;
	int status; /* waitpid's */
};

static void reply_free(struct helper_reply *r)
{
	if (r->buf != NULL) {
		explicit_bzero(r->buf, r->cap);
		free(r->buf);
	}
	r->buf = NULL;
	r->len = r->cap = 0;
}

/* Room for 4096 more bytes and a NUL. */
static void reply_reserve(struct helper_reply *r)
{
	size_t ncap;
	char *nbuf;

	if (r->len + 4096 + 1 <= r->cap)
		return;
	ncap = r->cap ? r->cap * 2 : 8192;
	nbuf = xmalloc(ncap);
	if (r->len > 0)
		memcpy(nbuf, r->buf, r->len);
	reply_free(r);
	r->buf = nbuf;
	r->cap = ncap;
}

/*
 * Starts `PROG get` with server on its stdin (written before it starts: it
 * fits in the pipe, so we never write to a helper that has already exited
 * and no SIGPIPE reaches us). The helper gets default signal handling and
 * an empty mask, whatever our threads ignore or block; stderr is ours.
 * Returns 0 with *pid and *out_fd (the read end of its stdout), or -1 with
 * err.
 */
static int helper_spawn(const char *prog, const char *server, pid_t *pid, int *out_fd,
			struct edge_err *err)
{
	char *argv[] = {(char *)prog, "get", NULL};
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fa_init = 0, attr_init = 0, rc = -1, e;
	size_t slen = strlen(server);
	sigset_t sigs;

	if (slen >= PIPE_BUF) {
		edge_errf(err, EDGE_EINPUT, "credential helper %s: server name too long", prog);
		goto out;
	}
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		edge_err_errno(err, "credential helper %s: pipe", prog);
		goto out;
	}
	if (write_all(in[1], server, slen) != 0) {
		edge_err_errno(err, "credential helper %s: write", prog);
		goto out;
	}
	close(in[1]);
	in[1] = -1;

	posix_spawn_file_actions_init(&fa);
	fa_init = 1;
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawnattr_init(&attr);
	attr_init = 1;
	sigemptyset(&sigs);
	posix_spawnattr_setsigmask(&attr, &sigs);
	sigaddset(&sigs, SIGPIPE);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	posix_spawnattr_setsigdefault(&attr, &sigs);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	e = posix_spawnp(pid, prog, &fa, &attr, argv, environ);
	if (e != 0) {
		if (e == ENOENT)
			edge_errf(err, EDGE_EINPUT, "credential helper %s: not found in PATH", prog);
		else
			edge_errf(err, EDGE_EINPUT, "credential helper %s: %s", prog, strerror(e));
		goto out;
	}
	*out_fd = out[0];
	out[0] = -1;
	rc = 0;
out:
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_init)
		posix_spawnattr_destroy(&attr);
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	return rc;
}

/* How reading a helper's stdout ended. */
enum reply_end { REPLY_EOF, REPLY_TIMEOUT, REPLY_TOO_BIG, REPLY_IOERR };

/* Reads fd into r until end of file, the deadline, HELPER_REPLY_MAX bytes
 * or an error (err is set for REPLY_IOERR only). */
static enum reply_end reply_read(const char *prog, int fd, long long deadline, struct helper_reply *r,
				 struct edge_err *err)
{
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		long long left = deadline - mono_ms();
		ssize_t n;

		if (left <= 0)
			return REPLY_TIMEOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return REPLY_TIMEOUT;
		if (n < 0) {
			edge_err_errno(err, "credential helper %s: poll", prog);
			return REPLY_IOERR;
		}
		reply_reserve(r);
		n = read(fd, r->buf + r->len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			edge_err_errno(err, "credential helper %s: read", prog);
			return REPLY_IOERR;
		}
		if (n == 0)
			return REPLY_EOF;
		r->len += (size_t)n;
		if (r->len > HELPER_REPLY_MAX)
			return REPLY_TOO_BIG;
	}
}

/* Reaps pid into *status. After end of file the helper should be exiting,
 * but it gets only until the deadline; otherwise, or when reading did not
 * end cleanly, it is killed. *end becomes REPLY_TIMEOUT when a helper that
 * closed its stdout outlives the deadline. Returns -1 with err only when
 * waitpid fails. */
static int helper_reap(const char *prog, pid_t pid, long long deadline, enum reply_end *end, int *status,
		       struct edge_err *err)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR) {
			edge_err_errno(err, "credential helper %s: wait", prog);
			return -1;
		}
		if (*end != REPLY_EOF || mono_ms() >= deadline) {
			if (*end == REPLY_EOF)
				*end = REPLY_TIMEOUT;
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return 0;
		}
		{
			struct timespec ts = {0, 5 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

/*
 * Runs `PROG get` with server on stdin, bounded in time (timeout_ms for the
 * whole run) and in reply size. Returns 0 with r holding the helper's
 * stdout (NUL-terminated) and exit status, or -1 with err (EDGE_EINPUT for
 * what the helper did, EDGE_EIO for our own system calls). r is the
 * caller's to free with reply_free either way.
 */
static int helper_run(const char *prog, const char *server, int timeout_ms, struct helper_reply *r,
		      struct edge_err *err)
{
	enum reply_end end;
	long long deadline;
	pid_t pid = -1;
	int fd = -1, rc;

	if (helper_spawn(prog, server, &pid, &fd, err) != 0)
		return -1;
	deadline = mono_ms() + timeout_ms;
	end = reply_read(prog, fd, deadline, r, err);
	close(fd);
	rc = helper_reap(prog, pid, deadline, &end, &r->status, err);
	if (rc != 0 || end == REPLY_IOERR)
		return -1;
	if (end == REPLY_TIMEOUT)
		return edge_errf(err, EDGE_EINPUT, "credential helper %s: get %s: no answer after %d s", prog,
				 server, (timeout_ms + 999) / 1000);
	if (end == REPLY_TOO_BIG)
		return edge_errf(err, EDGE_EINPUT, "credential helper %s: get %s: reply too large", prog,
				 server);
	if (r->buf == NULL) {
		r->buf = xmalloc(1);
		r->cap = 1;
	}
	r->buf[r->len] = '\0';
	return 0;
}

/*
 * Reads a finished helper's answer: its exit status, then its JSON reply
 * {"Username","Secret"}. Returns 0 with *c filled, 1 when the helper has no
 * credentials for the server, -1 with err. The reply is never quoted when it
 * parsed: it holds the secret.
 */
static int helper_parse_reply(const char *prog, const char *server, const struct helper_reply *r,
			      struct cred *c, struct edge_err *err)
{
	json_error_t je;
	json_t *reply, *u, *p;
	int rc = -1;

	if (WIFSIGNALED(r->status))
		return edge_errf(err, EDGE_EINPUT, "credential helper %s: get %s: killed by signal %d", prog,
				 server, WTERMSIG(r->status));
	if (WEXITSTATUS(r->status) != 0) {
		char why[256];
		if (strstr(r->buf, "credentials not found") != NULL)
			return 1;
		if (WEXITSTATUS(r->status) == 127 && r->len == 0)
			/* where posix_spawnp cannot report a failed exec */
			return edge_errf(err, EDGE_EINPUT, "credential helper %s: not found in PATH", prog);
		reply_excerpt(r->buf, r->len, why, sizeof(why));
		return edge_errf(err, EDGE_EINPUT, "credential helper %s: get %s: exit status %d%s%s", prog,
				 server, WEXITSTATUS(r->status), why[0] ? ": " : "", why);
	}
	reply = json_loadb_bounded(r->buf, r->len, 0, &je);
	if (reply == NULL || !json_is_object(reply) ||
	    ((u = json_object_get(reply, "Username")) != NULL && !json_is_string(u)) ||
	    !json_is_string(p = json_object_get(reply, "Secret"))) {
		edge_errf(err, EDGE_EINPUT,
			  "credential helper %s: get %s: invalid reply, expected {\"Username\",\"Secret\"}", prog,
			  server);
	} else if ((u == NULL || json_string_length(u) == 0) && json_string_length(p) == 0) {
		rc = 1;
	} else {
		c->username = xstrdup(u ? json_string_value(u) : "");
		c->password = xstrdup(json_string_value(p));
		rc = 0;
	}
	if (reply != NULL) {
		json_wipe(reply);
		json_decref(reply);
	}
	return rc;
}

/*
 * Runs `docker-credential-NAME get` with server on stdin and reads its
 * reply (bounded in size and time; stderr is the caller's). Returns 0 with
 * *c filled, 1 when the helper has none, -1 with err.
 */
static int helper_get(const char *name, const char *server, int timeout_ms, struct cred *c,
		      struct edge_err *err)
{
	char *prog = xasprintf("docker-credential-%s", name);
	struct helper_reply r = {NULL, 0, 0, 0};
	int rc = -1;

	if (helper_run(prog, server, timeout_ms, &r, err) == 0)
		rc = helper_parse_reply(prog, server, &r, c, err);
	reply_free(&r);
	free(prog);
	return rc;
}

/* helper_get through the store's cache. Caller holds the lock. */
static int helper_cached(struct cred_store *s, const char *helper, const char *host,
			 struct cred *c, struct edge_err *err)
{
	const char *server = ref_domain_helper_server(host);
	struct helper_result *h;
	struct cred got = {NULL, NULL};
	size_t i;
	int rc;

	for (i = 0; i < s->ncache; i++) {
		h = &s->cache[i];
		if (strcmp(h->helper, helper) == 0 && strcmp(h->server, server) == 0) {
			if (!h->found)
				return 1;
			c->username = xstrdup(h->cred.username);
			c->password = xstrdup(h->cred.password);
			return 0;
		}
	}
	rc = helper_get(helper, server, s->helper_timeout_ms, &got, err);
	if (rc < 0)
		return -1;
	if (s->ncache == s->capcache) {
		s->capcache = s->capcache ? s->capcache * 2 : 8;
		s->cache = xrealloc(s->cache, s->capcache * sizeof(*s->cache));
	}
	h = &s->cache[s->ncache++];
	h->helper = xstrdup(helper);
	h->server = xstrdup(server);
	h->found = rc == 0;
	h->cred = got;
	if (rc == 0) {
		c->username = xstrdup(got.username);
		c->password = xstrdup(got.password);
	}
	return rc;
}

/* ---- lookups -------------------------------------------------------- */

/* Caller holds the lock. host is norm_host'd. */
static int lookup_image(struct cred_store *s, const char *host, struct cred *out, char *from,
			size_t fromlen, struct edge_err *err)
{
	size_t i;
	int rc;

	if (host[0] == '\0')
		return 1;
	for (i = 0; i < s->n; i++) {
		const struct cred_entry *e = &s->v[i];
		if (e->kind != CRED_IMAGE || (e->endpoint != NULL && strcmp(e->endpoint, host) != 0))
			continue;
		if (e->helper == NULL) {
			out->username = xstrdup(e->username);
			out->password = xstrdup(e->password);
			log_verbose("%s: credentials from %s", host, e->source);
			if (from != NULL)
				snprintf(from, fromlen, "%s", e->source);
			return 0;
		}
		rc = helper_cached(s, e->helper, host, out, err);
		if (rc == 0) {
			log_verbose("%s: credentials from docker-credential-%s (%s)", host, e->helper,
				    e->source);
			if (from != NULL)
				snprintf(from, fromlen, "docker-credential-%s (%s)", e->helper, e->source);
		}
		if (rc != 1)
			return rc;
		log_verbose("%s: docker-credential-%s has no credentials", host, e->helper);
	}
	return 1;
}

/* Caller holds the lock. */
static int lookup_helm(struct cred_store *s, const char *url, struct cred *out, char *from,
		       size_t fromlen, struct edge_err *err)
{
	const struct cred_entry *best = NULL;
	char *u = norm_url(url), *host;
	size_t i;
	int rc = 1;

	if (u[0] == '\0')
		goto out;
	for (i = 0; i < s->n; i++) {
		const struct cred_entry *e = &s->v[i];
		if (e->kind != CRED_HELM)
			continue;
		if (best != NULL && e->tier != best->tier)
			break; /* a higher-priority source already matched */
		if (helm_match(e->endpoint, u) &&
		    (best == NULL || strlen(e->endpoint) > strlen(best->endpoint)))
			best = e;
	}
	if (best != NULL) {
		out->username = xstrdup(best->username);
		out->password = xstrdup(best->password);
		/* u, not url: no userinfo or query in logs */
		log_verbose("%s: credentials for %s from %s", u, best->endpoint, best->source);
		if (from != NULL)
			snprintf(from, fromlen, "%s", best->source);
		rc = 0;
	} else if (strncmp(url, "oci://", 6) == 0) {
		host = norm_host(url, NULL);
		rc = lookup_image(s, host, out, from, fromlen, err);
		free(host);
	}
out:
	free(u);
	return rc;
}

int cred_store_lookup(struct cred_store *s, enum cred_kind kind, const char *host_or_url,
		      struct cred *out, struct edge_err *err)
{
	return cred_store_lookup_from(s, kind, host_or_url, out, NULL, 0, err);
}

int cred_store_lookup_from(struct cred_store *s, enum cred_kind kind, const char *host_or_url,
			   struct cred *out, char *from, size_t fromlen, struct edge_err *err)
{
	char *host;
	int rc;

	out->username = NULL;
	out->password = NULL;
	if (from != NULL && fromlen > 0)
		from[0] = '\0';
	if (s == NULL || host_or_url == NULL)
		return 1;
	pthread_mutex_lock(&s->lock);
	if (kind == CRED_HELM) {
		rc = lookup_helm(s, host_or_url, out, from, fromlen, err);
	} else {
		host = norm_host(host_or_url, NULL);
		rc = lookup_image(s, host, out, from, fromlen, err);
		free(host);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
