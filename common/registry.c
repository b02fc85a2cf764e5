#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "oci.h"
#include "pool.h"
#include "ref.h"
#include "sha256.h"

#define MANIFEST_ACCEPT                                                                      \
	"Accept: " MT_OCI_INDEX ", " MT_OCI_MANIFEST ", " MT_DOCKER_LIST ", " MT_DOCKER_MANIFEST \
	", " MT_DOCKER_SCHEMA1_SIGNED ";q=0.1, " MT_DOCKER_SCHEMA1 ";q=0.1"

struct registry *registry_new(const char *domain, const struct registry_opts *o)
{
	struct registry *r = xcalloc(1, sizeof(*r));
	const char *host = ref_domain_api_host(domain);
	const struct http_hosts *hs = o->hosts ? o->hosts : o->http_opts ? o->http_opts->hosts : NULL;
	int plain = o->plain_http;

	if (hs != NULL) {
		if (http_hosts_match(hs->tls, hs->ntls, domain) || http_hosts_match(hs->tls, hs->ntls, host))
			plain = 0;
		else if (http_hosts_match(hs->plain, hs->nplain, domain) ||
			 http_hosts_match(hs->plain, hs->nplain, host))
			plain = 1;
	}
	r->domain = xstrdup(domain);
	r->opts = *o;
	r->base = xasprintf("%s://%s", plain ? "http" : "https", host);
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->token_mu, NULL);
	return r;
}

void registry_free(struct registry *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->ntokens; i++) {
		free(r->tokens[i].scope);
		if (r->tokens[i].value) {
			explicit_bzero(r->tokens[i].value, strlen(r->tokens[i].value));
			free(r->tokens[i].value);
		}
	}
	free(r->tokens);
	if (r->basic) {
		explicit_bzero(r->basic, strlen(r->basic));
		free(r->basic);
	}
	free(r->realm);
	free(r->service);
	free(r->user);
	free(r->cred_from);
	free(r->domain);
	free(r->base);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->token_mu);
	free(r);
}

struct registry *registry_set_get(struct registry_set *s, const char *domain)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->regs[i]->domain, domain) == 0)
			return s->regs[i];
	s->regs = xrealloc(s->regs, (s->n + 1) * sizeof(*s->regs));
	s->regs[s->n] = registry_new(domain, &s->opts);
	return s->regs[s->n++];
}

void registry_set_free(struct registry_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		registry_free(s->regs[i]);
	free(s->regs);
	s->regs = NULL;
	s->n = 0;
}

char *registry_url(const struct registry *r, const char *repo, const char *suffix)
{
	return xasprintf("%s/v2/%s/%s", r->base, repo, suffix);
}

void registry_error_text(const struct http_resp *resp, char *buf, size_t len)
{
	json_t *j = NULL, *e;
	const char *code = NULL, *msg = NULL;

	if (resp->body != NULL && resp->body_len > 0)
		j = json_loadb_bounded(resp->body, resp->body_len, 0, NULL);
	e = json_array_get(json_object_get(j, "errors"), 0);
	if (json_is_object(e)) {
		code = json_string_value(json_object_get(e, "code"));
		msg = json_string_value(json_object_get(e, "message"));
	}
	snprintf(buf, len, "HTTP %ld%s%s%s%s", resp->status, code ? " " : "", code ? code : "", msg ? ": " : "",
		 msg ? msg : "");
	json_decref(j);
}

/* Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
static int parse_challenge(const char *h, int *bearer, char **realm, char **service)
{
	const char *p = h;

	*realm = *service = NULL;
	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "Bearer", 6) == 0 && (p[6] == ' ' || p[6] == '\0'))
		*bearer = 1;
	else if (strncasecmp(p, "Basic", 5) == 0 && (p[5] == ' ' || p[5] == '\0'))
		*bearer = 0;
	else
		return -1;
	p += *bearer ? 6 : 5;
	while (*p) {
		char key[32], *val;
		size_t kl = 0, vl = 0, cap;
		while (*p == ' ' || *p == ',')
			p++;
		while (*p && *p != '=' && kl < sizeof(key) - 1)
			key[kl++] = (char)tolower((unsigned char)*p++);
		key[kl] = '\0';
		if (*p != '=')
			break;
		p++;
		cap = strlen(p) + 1;
		val = xmalloc(cap);
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				val[vl++] = *p++;
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',')
				val[vl++] = *p++;
		}
		val[vl] = '\0';
		if (strcmp(key, "realm") == 0 && *realm == NULL)
			*realm = val;
		else if (strcmp(key, "service") == 0 && *service == NULL)
			*service = val;
		else
			free(val);
	}
	return 0;
}

static char *url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '/') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Looks up credentials once per registry (under r->mu). */
static int ensure_basic(struct registry *r, struct edge_err *err)
{
	struct cred c = {NULL, NULL};
	char from[512];
	int st;

	if (r->creds_looked_up || r->opts.creds == NULL)
		return 0;
	r->creds_looked_up = 1;
	st = cred_store_lookup_from(r->opts.creds, CRED_IMAGE, r->domain, &c, from, sizeof(from), err);
	if (st < 0)
		return -1;
	if (st == 0) {
		char *tok = cred_basic_token(&c);
		r->basic = xasprintf("Basic %s", tok);
		explicit_bzero(tok, strlen(tok));
		free(tok);
		r->user = xstrdup(c.username ? c.username : "");
		r->cred_from = xstrdup(from);
		log_verbose("%s: using credentials for user %s", r->domain, c.username);
	}
	cred_free(&c);
	return 0;
}

/* " of user U (from SOURCE)" when credentials were found, else "";
 * malloc'd. */
static char *cred_desc(struct registry *r)
{
	char *d;

	pthread_mutex_lock(&r->mu);
	d = r->user != NULL ? xasprintf(" of user %s (from %s)", r->user, r->cred_from ? r->cred_from : "?")
			    : xstrdup("");
	pthread_mutex_unlock(&r->mu);
	return d;
}

/* After a failed request: the option that mends a mistake http_do
 * recognised, added to err's message. */
static void hint_cause(struct registry *r, struct http_client *http, struct edge_err *err)
{
	char msg[EDGE_ERR_MAX];

	if (err == NULL)
		return;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	switch (http_last_cause(http)) {
	case HTTP_CAUSE_NOT_TLS:
		edge_errf(err, EDGE_EREMOTE,
			  "%.700s (for a plain-HTTP registry: --plain-http-host %s, or --plain-http for all)", msg,
			  r->domain);
		break;
	case HTTP_CAUSE_TLS_CERT:
		edge_errf(err, EDGE_EREMOTE,
			  "%.700s (trust the registry's CA with --ca-file FILE, or skip the check with --insecure-host %s)",
			  msg, r->domain);
		break;
	default:
		break;
	}
}

/* Zeroes the token fields of a token server's parsed reply before it is
 * freed (the raw body is wiped by the caller). */
static void wipe_token_fields(json_t *j)
{
	static const char *const fields[] = {"token", "access_token", "refresh_token"};
	size_t i;

	for (i = 0; j != NULL && i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(j, fields[i]);
		if (json_is_string(v))
			explicit_bzero((char *)json_string_value(v), json_string_length(v));
	}
}

int registry_parse_token(const char *body, size_t len, char **token, long long *ttl_s)
{
	json_t *j = json_loadb_bounded(body, len, 0, NULL);
	const char *tok = json_string_value(json_object_get(j, "token")), *p;
	int rc = -1;

	*token = NULL;
	*ttl_s = 60;
	if (tok == NULL || tok[0] == '\0')
		tok = json_string_value(json_object_get(j, "access_token"));
	if (tok == NULL || tok[0] == '\0')
		goto out;
	/* it goes into an Authorization header: visible ASCII only (RFC 6750's
	 * b64token is a subset), so a reply cannot add lines to a request */
	for (p = tok; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			goto out;
	if (json_is_integer(json_object_get(j, "expires_in")) && json_integer_value(json_object_get(j, "expires_in")) > 0)
		*ttl_s = json_integer_value(json_object_get(j, "expires_in"));
	if (*ttl_s > REGISTRY_TOKEN_TTL_MAX)
		*ttl_s = REGISTRY_TOKEN_TTL_MAX; /* and no overflow of the expiry time */
	*token = xstrdup(tok);
	rc = 0;
out:
	wipe_token_fields(j);
	json_decref(j);
	return rc;
}

/* A token for scope from the cache or the token server; malloc'd header
 * value "Bearer …" in *out. Called without r->mu held. */
static int bearer_for(struct registry *r, struct http_client *http, const char *scope, char **out,
		      struct edge_err *err)
{
	struct http_resp resp = {0};
	struct http_req req = {0};
	const char *headers[3] = {"Accept: application/json", NULL, NULL};
	char *realm = NULL, *url = NULL, *esc_service = NULL, *esc_scope = NULL, *basic = NULL;
	char *tok = NULL;
	long long t = mono_ms(), ttl = 60;
	size_t i;
	int rc = -1;

	*out = NULL;
	/* one token request at a time per registry: threads that wanted the
	 * same scope find it cached when their turn comes */
	pthread_mutex_lock(&r->token_mu);
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->ntokens; i++) {
		if (strcmp(r->tokens[i].scope, scope) == 0 && r->tokens[i].expires > t) {
			*out = xasprintf("Bearer %s", r->tokens[i].value);
			pthread_mutex_unlock(&r->mu);
			pthread_mutex_unlock(&r->token_mu);
			return 0;
		}
	}
	realm = r->realm ? xstrdup(r->realm) : NULL;
	esc_service = url_escape(r->service ? r->service : "");
	basic = r->basic ? xasprintf("Authorization: %s", r->basic) : NULL;
	pthread_mutex_unlock(&r->mu);
	if (realm == NULL) {
		edge_errf(err, EDGE_EREMOTE, "%s: token auth without a realm", r->domain);
		goto out;
	}
	{
		/* several scopes (space-separated) go as one scope= parameter each */
		char *copy = xstrdup(scope), *save = NULL, *one;
		size_t cap = strlen(scope) * 3 + 64, n = 0;
		esc_scope = xmalloc(cap);
		esc_scope[0] = '\0';
		for (one = strtok_r(copy, " ", &save); one != NULL; one = strtok_r(NULL, " ", &save)) {
			char *e = url_escape(one);
			n += (size_t)snprintf(esc_scope + n, cap - n, "%sscope=%s", n ? "&" : "", e);
			free(e);
		}
		free(copy);
	}
	url = xasprintf("%s%cservice=%s&%s", realm, strchr(realm, '?') ? '&' : '?', esc_service, esc_scope);
	headers[1] = basic;
	req.method = "GET";
	req.url = url;
	req.headers = headers;
	req.follow_redirects = 1;
	if (http_do(http, &req, &resp, err) != 0) {
		hint_cause(r, http, err);
		goto out;
	}
	if (resp.status == 401 || resp.status == 403) {
		char *who = cred_desc(r);
		edge_errf(err, EDGE_EAUTH, "%s: the token server %s refused %s%s (HTTP %ld)", r->domain, realm,
			  basic ? "the credentials" : "anonymous access", basic ? who : "", resp.status);
		free(who);
		goto out;
	}
	if (resp.status != 200) {
		edge_errf(err, EDGE_EREMOTE, "%s: token server %s: HTTP %ld", r->domain, realm, resp.status);
		goto out;
	}
	if (registry_parse_token(resp.body ? resp.body : "", resp.body_len, &tok, &ttl) != 0) {
		edge_errf(err, EDGE_EREMOTE, "%s: token server %s sent no token", r->domain, realm);
		goto out;
	}
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->ntokens; i++)
		if (strcmp(r->tokens[i].scope, scope) == 0)
			break;
	if (i == r->ntokens) {
		r->tokens = xrealloc(r->tokens, (r->ntokens + 1) * sizeof(*r->tokens));
		r->tokens[i].scope = xstrdup(scope);
		r->tokens[i].value = NULL;
		r->ntokens++;
	}
	free(r->tokens[i].value);
	r->tokens[i].value = xstrdup(tok);
	/* renew a little early; a very short lifetime still serves this request */
	r->tokens[i].expires = t + (ttl > 20 ? ttl - 10 : ttl) * 1000;
	pthread_mutex_unlock(&r->mu);
	*out = xasprintf("Bearer %s", tok);
	rc = 0;
out:
	if (tok != NULL) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	if (resp.body != NULL)
		explicit_bzero(resp.body, resp.body_len);
	http_resp_free(&resp);
	if (basic) {
		explicit_bzero(basic, strlen(basic));
		free(basic);
	}
	free(realm);
	free(url);
	free(esc_service);
	free(esc_scope);
	pthread_mutex_unlock(&r->token_mu);
	return rc;
}

static void drop_token(struct registry *r, const char *scope)
{
	size_t i;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->ntokens; i++)
		if (strcmp(r->tokens[i].scope, scope) == 0)
			r->tokens[i].expires = 0;
	pthread_mutex_unlock(&r->mu);
}

/* A 400 that a TLS server gives a plain-HTTP request: Go's servers answer
 * "Client sent an HTTP request to an HTTPS server." with no header at all,
 * nginx "The plain HTTP request was sent to HTTPS port". 1 with err set
 * when resp is one. */
static int tls_server_refused_plain(const struct registry *r, const struct http_req *req,
				    const struct http_resp *resp, struct edge_err *err)
{
	char *u;

	if (resp->status != 400 || strncmp(r->base, "http://", 7) != 0)
		return 0;
	if ((resp->body == NULL || (strstr(resp->body, "HTTP request to an HTTPS server") == NULL &&
				    strstr(resp->body, "plain HTTP request was sent to HTTPS") == NULL)) &&
	    resp->nheaders != 0)
		return 0;
	u = http_message_url(req->url);
	edge_errf(err, EDGE_EREMOTE, "%s %s: HTTP 400: the server speaks TLS, not plain HTTP (drop --plain-http for %s)",
		  req->method ? req->method : "GET", u ? u : "<url>", r->domain);
	free(u);
	return 1;
}

/* A 401 from another origin than the registry's (1 with err set): a
 * challenge from elsewhere is not the registry's to learn, answering it
 * would hand that host the credentials. */
static int foreign_challenge(const struct registry *r, const struct http_req *req, const struct http_resp *resp,
			     struct edge_err *err)
{
	char *red;

	if (resp->status != 401 || http_same_origin(req->cred_origin, resp->effective_url))
		return 0;
	red = http_message_url(resp->effective_url);
	edge_errf(err, EDGE_EAUTH,
		  "%s %s: HTTP 401 from another origin than the registry's (%s): its credentials are not sent there",
		  req->method ? req->method : "GET", red ? red : "<url>", r->base);
	free(red);
	return 1;
}

/* The error of a 401 or 403 that remains: a 401 to Basic credentials
 * means a wrong password, said with whose it was and where it came from. */
static void refused(struct registry *r, const char *repo, const struct http_resp *resp, struct edge_err *err)
{
	char why[512], *who = cred_desc(r);
	int basic_sent;

	registry_error_text(resp, why, sizeof(why));
	pthread_mutex_lock(&r->mu);
	basic_sent = r->scheme_known && !r->bearer && r->basic != NULL;
	pthread_mutex_unlock(&r->mu);
	if (resp->status == 401 && basic_sent)
		edge_errf(err, EDGE_EAUTH, "%s: access to %s refused (%s): the credentials%s were not accepted",
			  r->domain, repo, why, who);
	else
		edge_errf(err, EDGE_EAUTH, "%s: access to %s refused (%s)%s%s", r->domain, repo, why,
			  who[0] ? " to the credentials" : "", who);
	free(who);
}

int registry_do(struct registry *r, struct http_client *http, const char *repo, const char *actions,
		struct http_req *req, struct http_resp *resp, struct edge_err *err)
{
	return registry_do_scopes(r, http, repo, actions, NULL, req, resp, err);
}

int registry_do_scopes(struct registry *r, struct http_client *http, const char *repo, const char *actions,
		       const char *extra_scope, struct http_req *req, struct http_resp *resp, struct edge_err *err)
{
	const char *const *orig = req->headers;
	const char *orig_cred_origin = req->cred_origin;
	const char **headers;
	size_t n = 0, i;
	char *scope = extra_scope ? xasprintf("repository:%s:%s %s", repo, actions, extra_scope)
				  : xasprintf("repository:%s:%s", repo, actions);
	int attempt, rc = -1;

	while (orig && orig[n])
		n++;
	headers = xcalloc(n + 2, sizeof(*headers));
	for (i = 0; i < n; i++)
		headers[i] = orig[i];
	/* the registry's credentials and tokens go to its own origin only: not
	 * to an upload Location or a redirect that names another one */
	if (req->cred_origin == NULL)
		req->cred_origin = r->base;
	pthread_mutex_lock(&r->mu);
	rc = ensure_basic(r, err);
	pthread_mutex_unlock(&r->mu);
	if (rc != 0)
		goto out;
	rc = -1;
	for (attempt = 0; attempt < 2; attempt++) {
		char *auth = NULL, *authline = NULL;
		int known, bearer;
		pthread_mutex_lock(&r->mu);
		known = r->scheme_known;
		bearer = r->bearer;
		if (known && !bearer && r->basic)
			auth = xstrdup(r->basic);
		pthread_mutex_unlock(&r->mu);
		if (known && bearer && bearer_for(r, http, scope, &auth, err) != 0)
			goto out;
		if (auth) {
			authline = xasprintf("Authorization: %s", auth);
			explicit_bzero(auth, strlen(auth));
			free(auth);
		}
		headers[n] = authline;
		req->headers = headers;
		if (attempt > 0 && req->body_rewind != NULL && req->body_rewind(req->body_ctx) != 0) {
			edge_errf(err, EDGE_EIO, "%s: cannot rewind the request body", req->url);
			free(authline);
			goto out;
		}
		http_resp_free(resp);
		rc = http_do(http, req, resp, err);
		if (rc != 0)
			hint_cause(r, http, err);
		headers[n] = NULL;
		if (authline) {
			explicit_bzero(authline, strlen(authline));
			free(authline);
		}
		if (rc != 0)
			goto out;
		rc = -1;
		if (tls_server_refused_plain(r, req, resp, err) || foreign_challenge(r, req, resp, err))
			goto out;
		if (resp->status == 401 && attempt == 0) {
			const char *h = http_resp_header(resp, "WWW-Authenticate");
			char *realm = NULL, *service = NULL;
			int isbearer = 0;
			if (h == NULL || parse_challenge(h, &isbearer, &realm, &service) != 0) {
				char *u = http_message_url(req->url);
				edge_errf(err, EDGE_EAUTH, "%s %s: HTTP 401 without a usable WWW-Authenticate challenge",
					  req->method ? req->method : "GET", u ? u : "<url>");
				free(u);
				goto out;
			}
			pthread_mutex_lock(&r->mu);
			r->scheme_known = 1;
			r->bearer = isbearer;
			if (isbearer) {
				free(r->realm);
				free(r->service);
				r->realm = realm;
				r->service = service;
				realm = service = NULL;
			}
			if (!isbearer && r->basic == NULL) {
				pthread_mutex_unlock(&r->mu);
				free(realm);
				free(service);
				edge_errf(err, EDGE_EAUTH,
					  "%s: the registry asks for a user name and password; none given "
					  "(use --username, --cred-file or a docker config.json)", r->domain);
				goto out;
			}
			pthread_mutex_unlock(&r->mu);
			free(realm);
			free(service);
			if (isbearer)
				drop_token(r, scope);
			continue;
		}
		break;
	}
	if (resp->status == 401 || resp->status == 403) {
		refused(r, repo, resp, err);
		goto out;
	}
	rc = 0;
out:
	req->headers = orig;
	req->cred_origin = orig_cred_origin;
	free(headers);
	free(scope);
	return rc;
}

void reg_manifest_free(struct reg_manifest *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

static int is_schema1(const char *mt)
{
	return strncmp(mt, "application/vnd.docker.distribution.manifest.v1", 47) == 0;
}

static void strip_params(const char *in, char *out, size_t len)
{
	size_t n = strcspn(in, ";");

	while (n > 0 && isspace((unsigned char)in[n - 1]))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

/*
 * After a 404: is there a registry at all? A web server that is not one
 * answers every path with 404, which would read as "not found". Asks
 * GET /v2/ once per registry (a registry answers 200 or 401). Returns 0
 * when it is one or that cannot be told, -1 with err when it is not.
 */
static int check_is_registry(struct registry *r, struct http_client *http, struct edge_err *err)
{
	struct http_req req = {0};
	struct http_resp resp = {0};
	struct edge_err e = {0};
	char *url;
	int probed;

	pthread_mutex_lock(&r->mu);
	probed = r->probed;
	pthread_mutex_unlock(&r->mu);
	if (probed == 0) {
		url = xasprintf("%s/v2/", r->base);
		req.method = "GET";
		req.url = url;
		req.follow_redirects = 1;
		req.no_retry = 1;
		if (http_do(http, &req, &resp, &e) == 0 && resp.status != 0) {
			probed = resp.status == 404 && http_resp_header(&resp, "Docker-Distribution-API-Version") == NULL
					 ? -1
					 : 1;
			pthread_mutex_lock(&r->mu);
			r->probed = probed;
			pthread_mutex_unlock(&r->mu);
		}
		http_resp_free(&resp);
		free(url);
	}
	if (probed < 0)
		return edge_errf(err, EDGE_EREMOTE, "%s: not a registry (GET %s/v2/ answered HTTP 404)", r->domain,
				 r->base);
	return 0;
}

int registry_head_manifest(struct registry *r, struct http_client *http, const char *repo,
			   const char *reference, char digest[72], char media_type[128], int64_t *size,
			   struct edge_err *err)
{
	const char *headers[] = {MANIFEST_ACCEPT, NULL};
	char *suffix = xasprintf("manifests/%s", reference), *url = registry_url(r, repo, suffix);
	struct http_req req = {0};
	struct http_resp resp = {0};
	const char *h;
	int rc = -1;

	req.method = "HEAD";
	req.url = url;
	req.headers = headers;
	req.follow_redirects = 1;
	if (registry_do(r, http, repo, "pull", &req, &resp, err) != 0)
		goto out;
	if (resp.status == 404) {
		if (check_is_registry(r, http, err) != 0)
			goto out;
		edge_errf(err, EDGE_EREMOTE, "%s/%s:%s: not found", r->domain, repo, reference);
		rc = 1;
		goto out;
	}
	if (resp.status != 200) {
		edge_errf(err, EDGE_EREMOTE, "HEAD %s: HTTP %ld", url, resp.status);
		goto out;
	}
	h = http_resp_header(&resp, "Docker-Content-Digest");
	if (h == NULL || !sha256_digest_valid(h)) {
		digest[0] = '\0';
	} else {
		snprintf(digest, 72, "%s", h);
	}
	h = http_resp_header(&resp, "Content-Type");
	strip_params(h ? h : "", media_type, 128);
	h = http_resp_header(&resp, "Content-Length");
	if (size)
		*size = h ? strtoll(h, NULL, 10) : -1;
	rc = 0;
out:
	http_resp_free(&resp);
	free(suffix);
	free(url);
	return rc;
}

int registry_get_manifest(struct registry *r, struct http_client *http, const char *repo,
			  const char *reference, struct reg_manifest *m, struct edge_err *err)
{
	const char *headers[] = {MANIFEST_ACCEPT, NULL};
	char *suffix = xasprintf("manifests/%s", reference), *url = registry_url(r, repo, suffix);
	struct http_req req = {0};
	struct http_resp resp = {0};
	const char *h;
	json_t *doc = NULL;
	json_error_t je;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	req.method = "GET";
	req.url = url;
	req.headers = headers;
	req.follow_redirects = 1;
	req.max_body = STORE_MAX_MANIFEST;
	if (registry_do(r, http, repo, "pull", &req, &resp, err) != 0)
		goto out;
	if (resp.status == 404) {
		if (check_is_registry(r, http, err) != 0)
			goto out;
		edge_errf(err, EDGE_EREMOTE, "%s/%s%s%s: not found", r->domain, repo,
			  strncmp(reference, "sha256:", 7) == 0 ? "@" : ":", reference);
		rc = 1;
		goto out;
	}
	if (resp.status != 200) {
		char why[512];
		registry_error_text(&resp, why, sizeof(why));
		edge_errf(err, EDGE_EREMOTE, "GET %s: %s", url, why);
		goto out;
	}
	sha256_digest_buf(resp.body, resp.body_len, m->digest);
	if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, m->digest) != 0) {
		edge_errf(err, EDGE_EVERIFY, "%s/%s@%s: the registry sent content with digest %s", r->domain, repo,
			  reference, m->digest);
		goto out;
	}
	h = http_resp_header(&resp, "Docker-Content-Digest");
	if (h != NULL && strncmp(h, "sha256:", 7) == 0 && strcmp(h, m->digest) != 0) {
		edge_errf(err, EDGE_EVERIFY, "%s/%s:%s: Docker-Content-Digest %s does not match the content's %s",
			  r->domain, repo, reference, h, m->digest);
		goto out;
	}
	doc = json_loadb_bounded(resp.body, resp.body_len, 0, &je);
	if (!json_is_object(doc)) {
		/* je.text: a syntax error, or the memory budget's refusal (jsonload.h) */
		edge_errf(err, EDGE_EREMOTE, "%s/%s:%s: the manifest is not a JSON object: %s", r->domain, repo,
			  reference, doc ? "another JSON value" : je.text);
		goto out;
	}
	h = http_resp_header(&resp, "Content-Type");
	strip_params(h ? h : "", m->media_type, sizeof(m->media_type));
	{
		const char *body_mt = manifest_media_type(doc);
		if (is_schema1(body_mt) || is_schema1(m->media_type)) {
			edge_errf(err, EDGE_EREMOTE,
				  "%s/%s:%s: Docker schema 1 manifests are not supported (push the image again with a current client)",
				  r->domain, repo, reference);
			goto out;
		}
		/* every digest, media type and size in it, before any is used:
		 * the media type goes into headers and the store's index.json */
		char what[EDGE_ERR_MAX];
		int kind;
		snprintf(what, sizeof(what), "%s/%s%s%s", r->domain, repo, strncmp(reference, "sha256:", 7) == 0 ? "@" : ":",
			 reference);
		if ((kind = oci_doc_check(doc, &body_mt, EDGE_EREMOTE, what, err)) < 0)
			goto out;
		if (json_object_get(doc, "mediaType") != NULL ||
		    (kind == OCI_KIND_INDEX ? !media_type_is_index(m->media_type) : !media_type_is_manifest(m->media_type)))
			snprintf(m->media_type, sizeof(m->media_type), "%s", body_mt);
	}
	if (!media_type_is_index(m->media_type) && !media_type_is_manifest(m->media_type)) {
		edge_errf(err, EDGE_EREMOTE, "%s/%s:%s: unsupported manifest type \"%s\"", r->domain, repo, reference,
			  m->media_type);
		goto out;
	}
	m->data = resp.body;
	m->len = resp.body_len;
	resp.body = NULL;
	rc = 0;
out:
	json_decref(doc);
	http_resp_free(&resp);
	free(suffix);
	free(url);
	return rc;
}

/* --- blobs ---------------------------------------------------------------- */

/* One stream into a blob_writer, in REGISTRY_WRITE_BATCH pieces. */
struct blob_sink {
	struct blob_writer *w;
	struct http_client *http;
	const struct registry_opts *o; /* on_bytes */
	struct edge_err err;
	char *buf;
	size_t len, cap;
};

/* Starts the disk's writeback of what was just written: the fsync before
 * the rename then finds little left to do (a 1 GiB blob's fsync was most of
 * a second at the end of the download). */
static void start_writeback(int fd, int64_t at, size_t len)
{
	if (len >= REGISTRY_WRITE_BATCH)
		(void)sync_file_range(fd, (off64_t)at, (off64_t)len, SYNC_FILE_RANGE_WRITE);
}

static int blob_sink_flush(struct blob_sink *b)
{
	size_t n = b->len;
	int64_t at = b->w->offset;

	b->len = 0;
	if (n > 0 && blob_writer_write(b->w, b->buf, n, &b->err) != 0) {
		http_sink_error(b->http, &b->err);
		return -1;
	}
	start_writeback(b->w->fd, at, n);
	return 0;
}

static size_t blob_sink_write(const void *data, size_t len, void *ctx)
{
	struct blob_sink *b = ctx;

	if (b->len + len > b->cap && blob_sink_flush(b) != 0)
		return 0;
	if (b->o->on_bytes != NULL)
		b->o->on_bytes(b->o->on_bytes_ctx, len);
	if (len >= b->cap) {
		if (blob_writer_write(b->w, data, len, &b->err) != 0) {
			http_sink_error(b->http, &b->err);
			return 0;
		}
		return len;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	return len;
}

static int blob_sink_reset(void *ctx, long long *offset, int from_zero)
{
	struct blob_sink *b = ctx;

	if (from_zero) {
		b->len = 0;
		if (blob_writer_restart(b->w, &b->err) != 0) {
			http_sink_error(b->http, &b->err);
			return -1;
		}
	} else if (blob_sink_flush(b) != 0) {
		return -1;
	}
	*offset = b->w->offset;
	return 0;
}

/* One stream: 0, or -1 with err (the writer still open). */
static int get_blob_stream(struct registry *r, struct http_client *http, const char *repo, const char *url,
			   struct blob_writer *w, struct edge_err *err)
{
	struct blob_sink bs;
	struct http_req req = {0};
	struct http_resp resp = {0};
	int rc = -1;

	memset(&bs, 0, sizeof(bs));
	bs.w = w;
	bs.http = http;
	bs.o = &r->opts;
	/* a config or a small layer does not need the whole batch */
	bs.cap = w->expect > 0 && w->expect - w->offset < (int64_t)REGISTRY_WRITE_BATCH
			 ? (size_t)(w->expect - w->offset)
			 : REGISTRY_WRITE_BATCH;
	bs.buf = xmalloc(bs.cap > 0 ? bs.cap : 1);
	req.method = "GET";
	req.url = url;
	req.follow_redirects = 1;
	req.sink = blob_sink_write;
	req.sink_ctx = &bs;
	req.sink_reset = blob_sink_reset;
	req.resume_from = w->offset;
	if (registry_do(r, http, repo, "pull", &req, &resp, err) != 0) {
		blob_sink_flush(&bs); /* what arrived stays for a resume */
		goto out;
	}
	if (resp.status != 200 && resp.status != 206) {
		char why[512];
		registry_error_text(&resp, why, sizeof(why));
		edge_errf(err, EDGE_EREMOTE, "GET %s: %s", url, why);
		goto out;
	}
	if (blob_sink_flush(&bs) != 0) {
		*err = bs.err;
		goto out;
	}
	rc = 0;
out:
	http_resp_free(&resp);
	free(bs.buf);
	return rc;
}

/* A ranged download: parts written in place with pwrite by the jobs of a
 * pool, hashed in order by the thread that waits for them. */
struct ranged;

struct part {
	struct ranged *rg;
	int idx;
	int64_t start, end;      /* the bytes [start, end) of the blob */
	int64_t done;            /* of them on disk (rg->mu) */
	int state;               /* 0 running, 1 complete, -1 failed (rg->mu) */
	int started;
	char *buf;               /* the batch not yet written */
	size_t len;
	struct http_req req;
	struct http_client *http;
	int own_http;
	struct edge_err err;
};

struct ranged {
	struct registry *r;
	const char *repo, *url;
	struct blob_writer *w;
	int64_t size;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct part *parts;
	int nparts;
	int probe;               /* 0 unknown, 1 ranges work, 2 one stream (200) */
	int stop;                /* a part failed: the others give up */
	int64_t hashed;          /* bytes hashed, from 0 */
	struct edge_err first;   /* the first part's failure */
	int have_first;
};

static int pwrite_all(int fd, const char *buf, size_t len, int64_t at)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

static void part_fail(struct part *pt, int code, const char *why)
{
	edge_errf(&pt->err, code, "%s", why);
	http_sink_error(pt->http, &pt->err);
}

static int part_flush(struct part *pt)
{
	struct ranged *rg = pt->rg;

	if (pt->len == 0)
		return 0;
	if (pwrite_all(rg->w->fd, pt->buf, pt->len, pt->start + pt->done) != 0) {
		edge_err_errno(&pt->err, "write %s", rg->w->tmp);
		http_sink_error(pt->http, &pt->err);
		return -1;
	}
	start_writeback(rg->w->fd, pt->start + pt->done, pt->len);
	pthread_mutex_lock(&rg->mu);
	pt->done += (int64_t)pt->len;
	pthread_cond_broadcast(&rg->cv);
	pthread_mutex_unlock(&rg->mu);
	pt->len = 0;
	return 0;
}

static size_t part_write(const void *data, size_t len, void *ctx)
{
	struct part *pt = ctx;
	struct ranged *rg = pt->rg;
	const char *d = data;
	size_t left = len, n;
	int stop;

	pthread_mutex_lock(&rg->mu);
	stop = rg->stop;
	if (pt->idx == 0 && rg->probe == 0) {
		rg->probe = 1; /* 206: the other parts may start */
		pthread_cond_broadcast(&rg->cv);
	}
	pthread_mutex_unlock(&rg->mu);
	if (stop) {
		part_fail(pt, EDGE_EREMOTE, "stopped: another part failed");
		return 0;
	}
	if (pt->start + pt->done + (int64_t)(pt->len + len) > pt->end) {
		char why[256];
		snprintf(why, sizeof(why), "blob %s: more data than its size %lld", rg->w->digest, (long long)rg->size);
		part_fail(pt, EDGE_EVERIFY, why);
		return 0;
	}
	while (left > 0) {
		n = REGISTRY_WRITE_BATCH - pt->len < left ? REGISTRY_WRITE_BATCH - pt->len : left;
		memcpy(pt->buf + pt->len, d, n);
		pt->len += n;
		d += n;
		left -= n;
		if (pt->len == REGISTRY_WRITE_BATCH && part_flush(pt) != 0)
			return 0;
	}
	if (rg->r->opts.on_bytes != NULL)
		rg->r->opts.on_bytes(rg->r->opts.on_bytes_ctx, len);
	return len;
}

/* sink_reset of a part: resume where it is; a 200 to the first range
 * makes the first part the one stream; otherwise start the part over
 * unless its bytes were hashed already. */
static int part_reset(void *ctx, long long *offset, int from_zero)
{
	struct part *pt = ctx;
	struct ranged *rg = pt->rg;
	int ok = 1;

	if (from_zero == 0) {
		if (part_flush(pt) != 0)
			return -1;
		*offset = pt->done;
		return 0;
	}
	pt->len = 0;
	pthread_mutex_lock(&rg->mu);
	if (from_zero == 2 && pt->idx == 0 && rg->probe == 0) {
		/* the registry ignores Range: the whole blob comes, from byte 0
		 * (the hashing thread waits for the probe, the writer is ours) */
		ok = blob_writer_restart(rg->w, &pt->err) == 0;
		pt->start = 0;
		pt->end = rg->size;
		pt->done = 0;
		pt->req.range_start = 0;
		pt->req.range_end = 0; /* a resume asks "bytes=N-" */
		rg->hashed = 0;
		rg->probe = 2;
		pthread_cond_broadcast(&rg->cv);
	} else if (from_zero == 1 && rg->hashed <= pt->start) {
		pt->done = 0;
	} else {
		edge_errf(&pt->err, EDGE_EREMOTE, "the registry ignored Range for bytes %lld-%lld",
			  (long long)(pt->start + pt->done), (long long)(pt->end - 1));
		ok = 0;
	}
	pthread_mutex_unlock(&rg->mu);
	if (!ok) {
		http_sink_error(pt->http, &pt->err);
		return -1;
	}
	*offset = 0;
	return 0;
}

/* A part, as a job of the ranged download's pool (item idx of rg). */
static int part_job(void *arg, size_t idx, void *worker, struct edge_err *err)
{
	struct ranged *rg = arg;
	struct part *pt = &rg->parts[idx];
	struct http_resp resp = {0};
	struct edge_err e = {0};
	int rc = 0;

	(void)worker;
	if (pt->http == NULL) {
		pt->http = http_client_new(rg->r->opts.http_opts, rg->r->opts.share, &e);
		pt->own_http = pt->http != NULL;
		rc = pt->http != NULL ? 0 : -1;
	}
	pt->req.method = "GET";
	pt->req.url = rg->url;
	pt->req.follow_redirects = 1;
	pt->req.sink = part_write;
	pt->req.sink_ctx = pt;
	pt->req.sink_reset = part_reset;
	pt->req.range_start = pt->start;
	pt->req.range_end = pt->end - 1;
	if (rc == 0)
		rc = registry_do(rg->r, pt->http, rg->repo, "pull", &pt->req, &resp, &e);
	if (rc == 0 && resp.status != 200 && resp.status != 206) {
		char why[512];
		registry_error_text(&resp, why, sizeof(why));
		edge_errf(&e, EDGE_EREMOTE, "GET %s: %s", rg->url, why);
		rc = -1;
	}
	if (rc == 0 && part_flush(pt) != 0) {
		e = pt->err;
		rc = -1;
	}
	if (rc == 0 && pt->done != pt->end - pt->start) {
		edge_errf(&e, EDGE_EREMOTE, "GET %s: bytes %lld-%lld: %lld bytes came", rg->url, (long long)pt->start,
			  (long long)(pt->end - 1), (long long)pt->done);
		rc = -1;
	}
	http_resp_free(&resp);
	/* the first failure is kept here, not by the pool: a part that gives
	 * up because another failed may return before the one that failed */
	pthread_mutex_lock(&rg->mu);
	pt->state = rc == 0 ? 1 : -1;
	if (rc != 0 && !rg->stop) {
		rg->first = e;
		rg->have_first = 1;
	}
	if (rc != 0)
		rg->stop = 1;
	if (pt->idx == 0 && rg->probe == 0)
		rg->probe = rc == 0 ? 1 : 2;
	pthread_cond_broadcast(&rg->cv);
	pthread_mutex_unlock(&rg->mu);
	if (rc != 0)
		*err = e;
	return rc;
}

/* Queues part i (http: the caller's client for it, or NULL for one of its
 * own, made by the job). */
static int part_submit(struct ranged *rg, struct pool *p, int i, struct http_client *http)
{
	struct part *pt = &rg->parts[i];

	pt->http = http;
	pt->buf = xmalloc(REGISTRY_WRITE_BATCH);
	if (pool_submit(p, part_job, rg, (size_t)i, NULL) != 0)
		return -1;
	pt->started = 1;
	return 0;
}

/* Hashes the file in order as the parts fill it; returns the bytes hashed
 * (all of them, or up to where a part stopped). */
static int64_t ranged_hash(struct ranged *rg, char *hbuf)
{
	int64_t pos = rg->w->offset, avail;
	struct part *pt;
	int i;

	while (pos < rg->size) {
		pthread_mutex_lock(&rg->mu);
		for (;;) {
			pt = NULL;
			for (i = 0; i < rg->nparts; i++)
				if (rg->parts[i].started && pos >= rg->parts[i].start && pos < rg->parts[i].end)
					pt = &rg->parts[i];
			avail = pt ? pt->start + pt->done - pos : 0;
			if (avail > 0 || pt == NULL || pt->state != 0 || rg->stop)
				break;
			pthread_cond_wait(&rg->cv, &rg->mu);
		}
		pthread_mutex_unlock(&rg->mu);
		if (avail <= 0)
			break;
		if (avail > (int64_t)REGISTRY_WRITE_BATCH)
			avail = REGISTRY_WRITE_BATCH;
		if (pread(rg->w->fd, hbuf, (size_t)avail, (off_t)pos) != (ssize_t)avail)
			break;
		sha256_update(&rg->w->h, hbuf, (size_t)avail);
		pos += avail;
		pthread_mutex_lock(&rg->mu);
		rg->hashed = pos;
		pthread_mutex_unlock(&rg->mu);
	}
	return pos;
}

/* Splits what the writer lacks into parts and fetches them. 0 when every
 * byte is in and hashed (w->offset == size); else -1 with err, the file cut
 * to its hashed prefix. */
static int get_blob_ranged(struct registry *r, struct http_client *http, const char *repo, const char *url,
			   struct blob_writer *w, int64_t size, struct edge_err *err)
{
	struct ranged rg;
	struct pool *pool = NULL;
	int64_t span = size - w->offset, each, pos;
	char *hbuf = xmalloc(REGISTRY_WRITE_BATCH);
	int i, n = r->opts.parts, rc = -1;

	memset(&rg, 0, sizeof(rg));
	/* parts of at least part_min / parts bytes (and 1 KiB: none empty) */
	while (n > 1 && (span / n < r->opts.part_min / r->opts.parts || span < (int64_t)n * 1024))
		n--;
	rg.r = r;
	rg.repo = repo;
	rg.url = url;
	rg.w = w;
	rg.size = size;
	rg.hashed = w->offset;
	rg.nparts = n;
	rg.parts = xcalloc((size_t)n, sizeof(*rg.parts));
	pthread_mutex_init(&rg.mu, NULL);
	pthread_cond_init(&rg.cv, NULL);
	each = (span + n - 1) / n;
	for (i = 0; i < n; i++) {
		rg.parts[i].rg = &rg;
		rg.parts[i].idx = i;
		rg.parts[i].start = w->offset + each * i;
		rg.parts[i].end = i == n - 1 ? size : w->offset + each * (i + 1);
	}
	/* the parts are jobs of a pool of their own (they block on the
	 * network, not the CPU); this thread hashes. The first part asks
	 * first: a 200 to it means one stream. */
	pool = pool_new(n, NULL, err);
	if (pool == NULL)
		goto join;
	if (part_submit(&rg, pool, 0, http) != 0) {
		pool_wait(pool, err);
		goto join;
	}
	pthread_mutex_lock(&rg.mu);
	while (rg.probe == 0)
		pthread_cond_wait(&rg.cv, &rg.mu);
	pthread_mutex_unlock(&rg.mu);
	for (i = 1; i < n && rg.probe == 1; i++) {
		if (part_submit(&rg, pool, i, NULL) != 0) {
			pthread_mutex_lock(&rg.mu);
			rg.stop = 1;
			pthread_cond_broadcast(&rg.cv);
			pthread_mutex_unlock(&rg.mu);
			break;
		}
	}
	pos = ranged_hash(&rg, hbuf);
	w->offset = pos;
	rc = pos == size ? 0 : -1;
join:
	pool_free(pool); /* waits for the running parts */
	for (i = 0; i < n; i++) {
		if (rg.parts[i].own_http)
			http_client_free(rg.parts[i].http);
		free(rg.parts[i].buf);
	}
	if (rc != 0 && rg.have_first)
		*err = rg.first;
	else if (rc != 0 && w->offset < size && err->msg[0] == '\0')
		edge_errf(err, EDGE_EIO, "read %s: short read", w->tmp);
	if (rc != 0 && w->fd >= 0 && ftruncate(w->fd, (off_t)w->offset) != 0)
		w->offset = 0; /* cannot keep the prefix: a resume starts over */
	pthread_cond_destroy(&rg.cv);
	pthread_mutex_destroy(&rg.mu);
	free(rg.parts);
	free(hbuf);
	return rc;
}

int registry_get_blob(struct registry *r, struct http_client *http, const char *repo,
		      const char *digest, int64_t size, int resume, struct store *s,
		      struct edge_err *err)
{
	char *suffix = xasprintf("blobs/%s", digest), *url = registry_url(r, repo, suffix), *mark = NULL;
	int round, rc = -1, st, ranged;

	if (store_has_blob(s, digest, size)) {
		rc = 0;
		goto out;
	}
	/* a digest mismatch discards the data and starts once more from zero */
	ranged = r->opts.parts >= 1 && r->opts.http_opts != NULL && r->opts.part_min > 0 && size >= r->opts.part_min;
	mark = xasprintf("%s/%s.ranged", s->tmpdir, digest + 7);
	if (resume && access(mark, F_OK) == 0) {
		/* a ranged download was killed: its partial file has holes */
		char *partial = xasprintf("%s/%s.partial", s->tmpdir, digest + 7);
		unlink(partial);
		unlink(mark);
		free(partial);
	}
	for (round = 0; round < 2; round++) {
		struct blob_writer w;

		if (blob_writer_open(&w, s, digest, size, resume && round == 0, err) != 0)
			goto out;
		if (size >= 0 && w.offset == size && blob_writer_restart(&w, err) != 0) {
			blob_writer_abort(&w, 0);
			goto out;
		}
		if (w.offset > 0)
			log_verbose("%s/%s: resuming blob %.19s at byte %lld", r->domain, repo, digest,
				    (long long)w.offset);
		edge_err_clear(err);
		if (ranged) {
			/* until the file is cut back to its hashed prefix, it may
			 * have holes: the mark tells a later run not to resume it */
			int fd = resume && round == 0 ? open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
			if (fd >= 0)
				close(fd);
			st = get_blob_ranged(r, http, repo, url, &w, size, err);
			unlink(mark);
		} else {
			st = get_blob_stream(r, http, repo, url, &w, err);
		}
		if (st != 0) {
			/* keep what arrived: a later run resumes from it */
			blob_writer_abort(&w, resume && round == 0 && err->code != EDGE_EVERIFY);
			goto out;
		}
		if (blob_writer_commit(&w, err) == 0) {
			rc = 0;
			goto out;
		}
		if (err->code != EDGE_EVERIFY)
			goto out;
		if (round == 0)
			log_warn("%s/%s: %s; downloading it again", r->domain, repo, err->msg);
	}
out:
	free(mark);
	free(suffix);
	free(url);
	return rc;
}

int registry_parse_challenge(const char *h, int *bearer, char **realm, char **service)
{
	return parse_challenge(h, bearer, realm, service);
}
