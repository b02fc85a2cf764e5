/*
 * The HTTP client over libcurl. See http.h for the contract.
 *
 * Redirects are followed here, not by libcurl, so that every hop is a
 * separate transfer on the same handle (connections are still reused): we
 * decide which headers go to which origin, log each hop, and retry a whole
 * chain from the original URL (a pre-signed storage URL may have expired).
 */
#include "http.h"
#include "curl_lazy.h"
#include "fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "version.h"


#define DEFAULT_BASE_MS 500L
#define BACKOFF_CAP_MS 30000L
#define RETRY_AFTER_CAP_MS 120000L

/* ---- process-wide libcurl initialisation ---- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_cleanup(void)
{
	curl_global_cleanup();
}

static void global_init(void)
{
	g_init_rc = curl_global_init(CURL_GLOBAL_ALL);
	if (g_init_rc == CURLE_OK)
		atexit(global_cleanup);
}

static int ensure_global(struct edge_err *err)
{
	const char *why;

	pthread_once(&g_once, global_init);
	if (g_init_rc != CURLE_OK && (why = curl_lazy_error()) != NULL)
		return edge_errf(err, EDGE_EREMOTE, "cannot load libcurl: %s", why);
	if (g_init_rc != CURLE_OK)
		return edge_errf(err, EDGE_EREMOTE, "cannot initialise libcurl: %s",
		                 curl_easy_strerror(g_init_rc));
	return 0;
}

/* ---- share ---- */

/*
 * HTTP/2 multiplexing. libcurl multiplexes transfers only on one multi
 * handle, and a multi handle is driven by one thread, while edge's workers
 * each own an easy handle and block in http_do. So a share holds one multi
 * handle and the thread that drives it (started when first needed): once
 * an https origin has answered a request in HTTP/2, every later hop to it
 * from a client of the share is handed to that thread (mux_perform), which
 * adds the worker's easy handle to the multi handle (CURLPIPE_MULTIPLEX,
 * CURLOPT_PIPEWAIT: the transfers share one connection) and signals the
 * worker when its transfer is done. The worker waits on a condition
 * variable, so http_do stays blocking and everything around the transfer
 * (retries, redirects, resume, timeouts, error messages) is the same code.
 * The callbacks of those transfers (sinks writing and hashing a chunk,
 * body readers, progress) run on the driver thread: none of them waits for
 * another transfer. Origins that answered in HTTP/1.1, plain http, and the
 * parts of a ranged download (their point is separate connections) keep
 * curl_easy_perform on the worker's own connection.
 */
#define MUX_MAX_ORIGINS 64

/* A transfer that received and sent nothing for this long is nudged
 * (mux_nudge). */
#define MUX_NUDGE_MS 1000

struct mux_job {
	CURL *easy;
	CURLcode rc;
	int done;
	struct mux_job *next;
	/* the driver's own, while the transfer runs */
	struct mux_job *anext;
	curl_off_t moved;       /* bytes received and sent when last seen */
	long long still_since;  /* when they last changed (mono_ms) */
};

struct http_share {
	CURLSH *sh;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t mu;        /* what follows */
	pthread_cond_t done;       /* a job is done */
	char *h2[MUX_MAX_ORIGINS]; /* https "host[:port]" that answered in HTTP/2 */
	size_t nh2;
	CURLM *multi;
	pthread_t driver;
	int state;                 /* 0 not started, 1 running, -1 unavailable */
	int stop;
	struct mux_job *queue, **tail; /* submitted, not yet in the multi handle */
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access,
                       void *userp)
{
	struct http_share *s = userp;

	(void)h;
	(void)access;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&s->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct http_share *s = userp;

	(void)h;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&s->locks[data]);
}

struct http_share *http_share_new(struct edge_err *err)
{
	struct http_share *s = NULL;
	int i;

	if (ensure_global(err) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->locks[i], NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->done, NULL);
	s->tail = &s->queue;
	s->sh = curl_share_init();
	if (s->sh == NULL) {
		http_share_free(s);
		edge_errf(err, EDGE_EIO, "cannot make a libcurl share handle");
		return NULL;
	}
	curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s);
	/* Not CURL_LOCK_DATA_CONNECT: libcurl does not support sharing the
	 * connection cache between concurrent threads (CURLSHOPT_SHARE(3));
	 * the multi handle below is how connections are shared. */
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return s;
}

void http_share_free(struct http_share *s)
{
	size_t k;
	int i;

	if (s == NULL)
		return;
	if (s->state == 1) {
		/* every client is gone: the driver has nothing left to run */
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_mutex_unlock(&s->mu);
		curl_multi_wakeup(s->multi);
		pthread_join(s->driver, NULL);
	}
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	if (s->sh != NULL)
		curl_share_cleanup(s->sh);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->locks[i]);
	for (k = 0; k < s->nh2; k++)
		free(s->h2[k]);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->done);
	free(s);
}

static void mux_finish(struct http_share *s, struct mux_job *j, CURLcode rc)
{
	pthread_mutex_lock(&s->mu);
	j->rc = rc;
	j->done = 1;
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->mu);
}

/*
 * libcurl 7.88 can hold the end of a stream that it already read from the
 * socket: through nghttpx, a 1 MiB blob was sent whole (its access log),
 * 2,926 bytes of it never reached the sink, and with nothing more to read
 * on the socket no transfer looked at them again until the stall timeout
 * (then fetched again with Range). That happened in 3 to 5 of 60 pulls of
 * 50 images with 16 streams, never with a connection per worker.
 * Pausing the transfer's receiving and resuming it at once makes libcurl
 * check the connection for data already read (and send a WINDOW_UPDATE):
 * with that done to every transfer that moved no byte for MUX_NUDGE_MS,
 * 80 such pulls had no stall. Done from this thread, never in a callback;
 * a transfer merely waiting for the server loses nothing by it.
 */
static void mux_nudge(struct mux_job *active, long long now)
{
	struct mux_job *j;

	for (j = active; j != NULL; j = j->anext) {
		curl_off_t dl = 0, ul = 0;

		curl_easy_getinfo(j->easy, CURLINFO_SIZE_DOWNLOAD_T, &dl);
		curl_easy_getinfo(j->easy, CURLINFO_SIZE_UPLOAD_T, &ul);
		if (dl + ul != j->moved) {
			j->moved = dl + ul;
			j->still_since = now;
		} else if (now - j->still_since >= MUX_NUDGE_MS) {
			log_debug("a multiplexed transfer moved nothing for %lld ms: nudged",
			          now - j->still_since);
			curl_easy_pause(j->easy, CURLPAUSE_RECV);
			curl_easy_pause(j->easy, CURLPAUSE_CONT);
			j->still_since = now;
		}
	}
}

/* The driver thread: adds what the workers submitted, runs the transfers,
 * hands each finished one back. Bounded: a job per waiting worker. */
static void *mux_driver(void *arg)
{
	struct http_share *s = arg;
	struct mux_job *q, *j, *next, *active = NULL, **pp;
	CURLMsg *m;
	CURLMcode mc;
	int running = 0, left, stop;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		q = s->queue;
		s->queue = NULL;
		s->tail = &s->queue;
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop && q == NULL && active == NULL)
			break;
		for (j = q; j != NULL; j = next) {
			next = j->next;
			mc = curl_multi_add_handle(s->multi, j->easy);
			if (mc != CURLM_OK) {
				mux_finish(s, j, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
				                                           : CURLE_FAILED_INIT);
				continue;
			}
			j->moved = 0;
			j->still_since = mono_ms();
			j->anext = active;
			active = j;
		}
		curl_multi_perform(s->multi, &running);
		while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
			CURL *e = m->easy_handle;
			CURLcode rc = m->data.result;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_multi_remove_handle(s->multi, e); /* m is gone now */
			for (pp = &active; *pp != NULL && (*pp)->easy != e; pp = &(*pp)->anext)
				;
			if ((j = *pp) != NULL) {
				*pp = j->anext;
				mux_finish(s, j, rc); /* j is the worker's again */
			}
		}
		mux_nudge(active, mono_ms());
		/* returns when a socket is ready, when libcurl's next timeout is
		 * due (the stall and time limits are checked then), or at once
		 * when a worker called curl_multi_wakeup */
		curl_multi_poll(s->multi, NULL, 0, active != NULL ? MUX_NUDGE_MS / 4 : 1000, NULL);
	}
	return NULL;
}

/* Starts the multi handle and its thread (s->mu held): 1 when running. */
static int mux_start(struct http_share *s)
{
	if (s->state != 0)
		return s->state > 0;
	s->state = -1;
	if (!curl_lazy_has_multi() || (s->multi = curl_multi_init()) == NULL)
		return 0;
	curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (pthread_create(&s->driver, NULL, mux_driver, s) != 0) {
		curl_multi_cleanup(s->multi);
		s->multi = NULL;
		return 0;
	}
	s->state = 1;
	return 1;
}

/* Whether the share can multiplex (starts its driver thread the first
 * time): 0 when libcurl has no multi interface fit for it. */
static int mux_ready(struct http_share *s)
{
	int ok;

	pthread_mutex_lock(&s->mu);
	ok = mux_start(s);
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* Runs the transfer of easy (all options set) on the driver thread of a
 * share that mux_ready accepted, and waits for it: its result. */
static CURLcode mux_perform(struct http_share *s, CURL *easy)
{
	struct mux_job j;

	memset(&j, 0, sizeof(j));
	j.easy = easy;

	curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
	pthread_mutex_lock(&s->mu);
	*s->tail = &j;
	s->tail = &j.next;
	pthread_mutex_unlock(&s->mu);
	curl_multi_wakeup(s->multi);
	pthread_mutex_lock(&s->mu);
	while (!j.done)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	return j.rc;
}

static void url_hostport(const char *url, char *buf, size_t len);

/* Whether "host[:port]" hp is among the origins that answered in HTTP/2
 * (s->mu held). */
static int h2_known(const struct http_share *s, const char *hp)
{
	size_t k;

	for (k = 0; k < s->nh2; k++)
		if (strcmp(s->h2[k], hp) == 0)
			return 1;
	return 0;
}

/* Has the https origin of url answered in HTTP/2? */
static int share_h2(struct http_share *s, const char *url)
{
	char hp[512];
	int found;

	if (strncasecmp(url, "https://", 8) != 0)
		return 0;
	url_hostport(url, hp, sizeof(hp));
	if (hp[0] == '\0')
		return 0;
	pthread_mutex_lock(&s->mu);
	found = h2_known(s, hp);
	pthread_mutex_unlock(&s->mu);
	return found;
}

/* The https origin of url answered in HTTP/2. */
static void share_note_h2(struct http_share *s, const char *url)
{
	char hp[512];

	url_hostport(url, hp, sizeof(hp));
	if (hp[0] == '\0')
		return;
	pthread_mutex_lock(&s->mu);
	if (!h2_known(s, hp) && s->nh2 < MUX_MAX_ORIGINS)
		s->h2[s->nh2++] = xstrdup(hp);
	pthread_mutex_unlock(&s->mu);
}

/* ---- client ---- */

struct http_client {
	CURL *curl;
	struct http_share *share; /* may be NULL: no multiplexing */
	char *ca_file;
	char *user_agent;
	int insecure;
	const struct http_hosts *hosts;
	enum http_cause cause; /* of the last failed http_do */
	int retries;
	long connect_timeout_ms;
	long low_speed_time_s;
	long low_speed_bytes;
	long timeout_ms;
	long base_ms;
	uint64_t rng;
	char errbuf[CURL_ERROR_SIZE];
	int sink_err_set;
	struct edge_err sink_err;
};

static long env_base_ms(void)
{
	const char *s = getenv("EDGE_RETRY_BASE_MS");
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return DEFAULT_BASE_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > BACKOFF_CAP_MS)
		return DEFAULT_BASE_MS;
	return v;
}

struct http_client *http_client_new(const struct http_opts *o,
                                    struct http_share *share,
                                    struct edge_err *err)
{
	static const struct http_opts defaults = { .retries = -1 };
	struct http_client *c = NULL;
	uint64_t seed = 0;

	if (ensure_global(err) < 0)
		return NULL;
	if (o == NULL)
		o = &defaults;
	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		edge_errf(err, EDGE_EREMOTE, "cannot create a libcurl handle");
		goto fail;
	}
	if (o->ca_file != NULL)
		c->ca_file = xstrdup(o->ca_file);
	c->user_agent = o->user_agent ? xstrdup(o->user_agent) : xasprintf("edge/%s", edge_version);
	c->insecure = o->insecure;
	c->hosts = o->hosts;
	c->retries = o->retries < 0 ? HTTP_DEFAULT_RETRIES : o->retries;
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
	                                                  : HTTP_DEFAULT_CONNECT_TIMEOUT_S * 1000L;
	c->low_speed_time_s = o->low_speed_time_s > 0 ? o->low_speed_time_s
	                                              : HTTP_DEFAULT_STALL_TIMEOUT_S;
	c->low_speed_bytes = o->low_speed_bytes > 0 ? o->low_speed_bytes : HTTP_STALL_MIN_RATE;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 0;
	c->base_ms = env_base_ms();
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
	c->rng = seed | 1;
	/* The share survives curl_easy_reset(), which http_do calls per hop. */
	if (share != NULL)
		curl_easy_setopt(c->curl, CURLOPT_SHARE, share->sh);
	c->share = share;
	return c;
fail:
	http_client_free(c);
	return NULL;
}

void http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->ca_file);
	free(c->user_agent);
	free(c);
}

void http_sink_error(struct http_client *c, const struct edge_err *why)
{
	if (c == NULL || why == NULL)
		return;
	c->sink_err = *why;
	if (c->sink_err.code == 0)
		c->sink_err.code = EDGE_EIO;
	c->sink_err_set = 1;
}

/* ---- responses ---- */

static void free_headers(struct http_header *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

const char *http_resp_header(const struct http_resp *r, const char *name)
{
	size_t i;

	if (r == NULL || name == NULL)
		return NULL;
	for (i = r->nheaders; i > 0; i--)
		if (strcasecmp(r->headers[i - 1].name, name) == 0)
			return r->headers[i - 1].value;
	return NULL;
}

void http_resp_free(struct http_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free_headers(r->headers, r->nheaders);
	free(r->effective_url);
	memset(r, 0, sizeof(*r));
}

/* ---- redaction ---- */

static int ci_ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

/* Header names whose values are credentials. */
static int secret_header(const char *name, size_t n)
{
	static const char *const exact[] = {
		"authorization", "proxy-authorization", "apikey", "api-key",
		"cookie", "set-cookie",
	};
	size_t i;

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strlen(exact[i]) == n && strncasecmp(name, exact[i], n) == 0)
			return 1;
	if (n > 2 && strncasecmp(name, "x-", 2) == 0 &&
	    (ci_ends_with(name, n, "-token") || ci_ends_with(name, n, "-api-key") ||
	     ci_ends_with(name, n, "-apikey")))
		return 1;
	return 0;
}

/* Query parameter names whose values are credentials (pre-signed storage
 * URLs, tokens in URLs). Generous on purpose: this only affects logs. */
static int secret_param(const char *name, size_t n)
{
	static const char *const parts[] = {
		"token", "sig", "credential", "password", "passwd", "secret",
		"apikey", "api_key", "api-key", "auth", "session",
	};
	size_t i, j, m;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		m = strlen(parts[i]);
		for (j = 0; j + m <= n; j++)
			if (strncasecmp(name + j, parts[i], m) == 0)
				return 1;
	}
	return 0;
}

static void redact_url_into(struct strbuf *b, const char *url, size_t n)
{
	const char *end = url + n, *p = url, *auth, *aend, *at = NULL, *q, *frag;

	/* scheme://userinfo@host → scheme://<redacted>@host */
	auth = NULL;
	for (q = url; q + 2 < end; q++) {
		if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
			auth = q + 3;
			break;
		}
		if (!isalnum((unsigned char)*q) && *q != '+' && *q != '-' && *q != '.')
			break;
	}
	if (auth != NULL) {
		for (aend = auth; aend < end && *aend != '/' && *aend != '?' && *aend != '#'; aend++)
			if (*aend == '@')
				at = aend;
		if (at != NULL) {
			strbuf_add(b, url, (size_t)(auth - url));
			strbuf_adds(b, "<redacted>");
			p = at;
		}
	}
	q = memchr(p, '?', (size_t)(end - p));
	frag = memchr(p, '#', (size_t)(end - p));
	if (q == NULL || (frag != NULL && frag < q)) {
		strbuf_add(b, p, (size_t)(end - p));
		return;
	}
	strbuf_add(b, p, (size_t)(q + 1 - p));
	p = q + 1;
	if (frag == NULL)
		frag = end;
	while (p < frag) {
		const char *amp = memchr(p, '&', (size_t)(frag - p));
		const char *pend = amp ? amp : frag;
		const char *eq = memchr(p, '=', (size_t)(pend - p));

		if (eq != NULL && eq + 1 < pend && secret_param(p, (size_t)(eq - p))) {
			strbuf_add(b, p, (size_t)(eq + 1 - p));
			strbuf_adds(b, "<redacted>");
		} else {
			strbuf_add(b, p, (size_t)(pend - p));
		}
		if (amp == NULL)
			break;
		strbuf_add(b, "&", 1);
		p = amp + 1;
	}
	strbuf_add(b, frag, (size_t)(end - frag));
}

char *http_message_url(const char *url)
{
	struct strbuf b = { 0 };
	size_t n;

	if (url == NULL)
		return NULL;
	n = strcspn(url, "?#");
	redact_url_into(&b, url, n);
	return strbuf_take(&b);
}

/* "HOST[:PORT]" of an absolute URL into buf (userinfo dropped, lower
 * case); "" when there is none. */
static void url_hostport(const char *url, char *buf, size_t len)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t n, i;

	buf[0] = '\0';
	if (p == NULL || len == 0)
		return;
	p += 3;
	end = p + strcspn(p, "/?#");
	for (at = end; at > p; at--)
		if (at[-1] == '@') {
			p = at;
			break;
		}
	n = (size_t)(end - p);
	if (n >= len)
		return;
	for (i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)p[i]);
	buf[n] = '\0';
}

int http_hosts_match(char *const *list, size_t n, const char *hostport)
{
	size_t i, hl, pl = strlen(hostport);
	const char *colon = strrchr(hostport, ':');

	/* the host alone: without ":PORT" (an IPv6 literal keeps its brackets) */
	hl = colon != NULL && strchr(colon, ']') == NULL ? (size_t)(colon - hostport) : pl;
	for (i = 0; i < n; i++) {
		size_t el = strlen(list[i]);
		if ((el == pl && strncasecmp(list[i], hostport, pl) == 0) ||
		    (el == hl && strncasecmp(list[i], hostport, hl) == 0))
			return 1;
	}
	return 0;
}

enum http_cause http_last_cause(const struct http_client *c)
{
	return c != NULL ? c->cause : HTTP_CAUSE_NONE;
}

/* Whether TLS verification is off for url. */
static int insecure_for(const struct http_client *c, const char *url)
{
	char hp[512];

	if (c->insecure)
		return 1;
	if (c->hosts == NULL || c->hosts->ninsecure == 0)
		return 0;
	url_hostport(url, hp, sizeof(hp));
	return hp[0] != '\0' && http_hosts_match(c->hosts->insecure, c->hosts->ninsecure, hp);
}

char *http_redact_url(const char *url)
{
	struct strbuf b = { 0 };

	if (url == NULL)
		return NULL;
	redact_url_into(&b, url, strlen(url));
	return strbuf_take(&b);
}

/* "METHOD target HTTP/x": returns the target's bounds. */
static int request_line(const char *s, size_t n, size_t *ts, size_t *te)
{
	size_t i = 0, j;

	while (i < n && isupper((unsigned char)s[i]))
		i++;
	if (i == 0 || i >= n || s[i] != ' ')
		return 0;
	j = n;
	while (j > i && s[j - 1] != ' ')
		j--;
	if (j <= i + 1 || n - j < 5 || strncmp(s + j, "HTTP/", 5) != 0)
		return 0;
	*ts = i + 1;
	*te = j - 1;
	return 1;
}

char *http_redact_header(const char *line)
{
	struct strbuf b = { 0 };
	size_t n, ts, te, name_end, v;
	const char *colon;

	if (line == NULL)
		return NULL;
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (request_line(line, n, &ts, &te)) {
		strbuf_add(&b, line, ts);
		redact_url_into(&b, line + ts, te - ts);
		strbuf_add(&b, line + te, n - te);
		return strbuf_take(&b);
	}
	colon = memchr(line, ':', n);
	if (colon == NULL || colon == line) {
		strbuf_add(&b, line, n);
		return strbuf_take(&b);
	}
	name_end = (size_t)(colon - line);
	while (name_end > 0 && (line[name_end - 1] == ' ' || line[name_end - 1] == '\t'))
		name_end--;
	v = (size_t)(colon - line) + 1;
	while (v < n && (line[v] == ' ' || line[v] == '\t'))
		v++;
	if (secret_header(line, name_end)) {
		strbuf_add(&b, line, (size_t)(colon - line) + 1);
		strbuf_adds(&b, v < n ? " <redacted>" : "");
	} else if ((name_end == 8 && strncasecmp(line, "location", 8) == 0) ||
	           (name_end == 16 && strncasecmp(line, "content-location", 16) == 0)) {
		strbuf_add(&b, line, v);
		redact_url_into(&b, line + v, n - v);
	} else {
		strbuf_add(&b, line, n);
	}
	return strbuf_take(&b);
}

/* ---- one transfer (one hop of one attempt) ---- */

enum body_mode { BODY_DISCARD, BODY_SINK, BODY_BUFFER, BODY_ERRBUF };

struct upload {
	const struct http_req *req;
	size_t pos;          /* position in req->body */
	int used;            /* bytes were read since the last rewind */
	int read_failed;
};

struct hop {
	struct http_client *c;
	const struct http_req *req;
	long status;
	int headers_done;
	struct http_header *hdrs;
	size_t nhdrs, caphdrs;
	enum body_mode mode;
	struct strbuf body;
	size_t limit;
	long long range_offset;  /* bytes the sink held when this hop began */
	long long range_abs;     /* the first byte asked for, when range_sent */
	int range_sent;          /* this hop sent Range */
	int following;           /* a redirect we follow: discard the body */
	int too_large;
	int range_refused;       /* the server cannot resume: start over */
	int restarted;           /* 200 to a Range request: sink reset to 0 */
	int sink_failed;
	int oom;
	int muxed;               /* ran on the share's multi handle */
	long long sink_bytes;    /* bytes given to the sink by this hop */
};

static void hop_free(struct hop *h)
{
	free_headers(h->hdrs, h->nhdrs);
	strbuf_free(&h->body);
	memset(h, 0, sizeof(*h));
}

static const char *hop_header(const struct hop *h, const char *name)
{
	size_t i;

	for (i = h->nhdrs; i > 0; i--)
		if (strcasecmp(h->hdrs[i - 1].name, name) == 0)
			return h->hdrs[i - 1].value;
	return NULL;
}

static int is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	       status == 308;
}

/* "bytes START-END/TOTAL": does it start where we asked? */
static int content_range_starts_at(const char *v, long long off)
{
	char *end;
	long long start;

	if (v == NULL || strncasecmp(v, "bytes ", 6) != 0)
		return 0;
	errno = 0;
	start = strtoll(v + 6, &end, 10);
	return errno == 0 && end != v + 6 && *end == '-' && start == off;
}

/* The headers of a final (non-1xx) response are complete: choose what to do
 * with its body. Returns -1 to abort the transfer. */
static int hop_headers_done(struct hop *h)
{
	const struct http_req *req = h->req;
	long long zero = 0;

	h->headers_done = 1;
	if (req->follow_redirects && is_redirect(h->status) &&
	    hop_header(h, "Location") != NULL) {
		h->following = 1;
		h->mode = BODY_DISCARD;
		return 0;
	}
	if (h->status == 416 && h->range_sent) {
		h->range_refused = 1;
		return -1;
	}
	if (h->status < 200 || h->status > 299) {
		h->mode = BODY_ERRBUF;
		h->limit = HTTP_ERROR_BODY_MAX;
		return 0;
	}
	if (req->sink == NULL) {
		h->mode = BODY_BUFFER;
		h->limit = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
		return 0;
	}
	if (h->range_sent) {
		if (h->status == 206) {
			if (!content_range_starts_at(hop_header(h, "Content-Range"),
			                             h->range_abs)) {
				h->range_refused = 1;
				return -1;
			}
		} else {
			/* the whole body is coming: the sink starts over */
			if (edge_log_verbosity() >= 1) {
				char *red = http_redact_url(req->url);

				log_verbose("%s: server ignored the range, restarting from 0",
				            red ? red : "<url>");
				free(red);
			}
			if (req->sink_reset(req->sink_ctx, &zero, 2) != 0) {
				h->sink_failed = 1;
				return -1;
			}
			h->restarted = 1;
			h->range_offset = 0;
		}
	}
	h->mode = BODY_SINK;
	return 0;
}

static void hop_add_header(struct hop *h, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	size_t ne, vs, ve;
	struct http_header *nh;

	if (colon == NULL)
		return;
	ne = (size_t)(colon - line);
	while (ne > 0 && (line[ne - 1] == ' ' || line[ne - 1] == '\t'))
		ne--;
	vs = (size_t)(colon - line) + 1;
	ve = n;
	while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
		vs++;
	while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
		ve--;
	if (h->nhdrs == h->caphdrs) {
		h->caphdrs = h->caphdrs ? h->caphdrs * 2 : 16;
		h->hdrs = xrealloc(h->hdrs, h->caphdrs * sizeof(*h->hdrs));
	}
	nh = &h->hdrs[h->nhdrs];
	nh->name = xstrndup(line, ne);
	nh->value = xstrndup(line + vs, ve - vs);
	h->nhdrs++;
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userp)
{
	struct hop *h = userp;
	size_t n = size * nitems, len = n;

	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (1xx, or after a proxy's CONNECT): start over */
		const char *sp = memchr(data, ' ', len);

		free_headers(h->hdrs, h->nhdrs);
		h->hdrs = NULL;
		h->nhdrs = h->caphdrs = 0;
		h->headers_done = 0;
		h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	if (len == 0) {
		if (h->status >= 200 && !h->headers_done && hop_headers_done(h) < 0)
			return 0;
		return n;
	}
	if ((data[0] == ' ' || data[0] == '\t') || h->headers_done)
		return n; /* obsolete line folding, trailers: ignored */
	hop_add_header(h, data, len);
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct hop *h = userp;
	size_t n = size * nmemb, got;

	if (!h->headers_done && hop_headers_done(h) < 0)
		return 0;
	switch (h->mode) {
	case BODY_DISCARD:
		return n;
	case BODY_SINK:
		got = h->req->sink(data, n, h->req->sink_ctx);
		if (got != n) {
			h->sink_failed = 1;
			return 0;
		}
		h->sink_bytes += (long long)n;
		return n;
	case BODY_BUFFER:
		if (n > h->limit - h->body.len) {
			h->too_large = 1;
			return 0;
		}
		strbuf_add(&h->body, data, n);
		break;
	case BODY_ERRBUF:
		if (h->body.len < h->limit)
			strbuf_add(&h->body, data, n < h->limit - h->body.len ? n : h->limit - h->body.len);
		break;
	}
	return n;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userp)
{
	struct upload *u = userp;
	const struct http_req *req = u->req;
	size_t n = size * nitems, got;

	if (req->body_read != NULL) {
		got = req->body_read(buf, n, req->body_ctx);
		if (got == HTTP_READ_ERROR || got > n) {
			u->read_failed = 1;
			return CURL_READFUNC_ABORT;
		}
		if (got > 0)
			u->used = 1;
		return got;
	}
	if (req->body == NULL || u->pos >= req->body_len)
		return 0;
	got = req->body_len - u->pos;
	if (got > n)
		got = n;
	memcpy(buf, (const char *)req->body + u->pos, got);
	u->pos += got;
	return got;
}

static int upload_rewind(struct upload *u)
{
	const struct http_req *req = u->req;

	if (req->body_read == NULL) {
		u->pos = 0;
		return 0;
	}
	if (!u->used)
		return 0;
	if (req->body_rewind == NULL || req->body_rewind(req->body_ctx) != 0)
		return -1;
	u->used = 0;
	return 0;
}

/* libcurl rewinds on its own, e.g. when a reused connection turned out dead. */
static int seek_cb(void *userp, curl_off_t offset, int origin)
{
	struct upload *u = userp;

	if (offset != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	if (u->req->body_read != NULL && u->used && u->req->body_rewind == NULL)
		return CURL_SEEKFUNC_CANTSEEK;
	return upload_rewind(u) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

static void debug_lines(char prefix, const char *data, size_t n)
{
	const char *p = data, *end = data + n, *nl;
	char *line, *red;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		line = xstrndup(p, (size_t)(nl - p));
		if ((red = http_redact_header(line)) != NULL) {
			if (red[0] != '\0')
				log_debug("%c %s", prefix, red);
			free(red);
		}
		free(line);
		p = nl + 1;
	}
}

static int debug_cb(CURL *curl, curl_infotype type, char *data, size_t n, void *userp)
{
	(void)curl;
	(void)userp;
	switch (type) {
	case CURLINFO_HEADER_OUT:
		debug_lines('>', data, n);
		break;
	case CURLINFO_HEADER_IN:
		debug_lines('<', data, n);
		break;
	case CURLINFO_TEXT:
		if (edge_log_verbosity() >= 3)
			debug_lines('*', data, n);
		break;
	default:
		break; /* never bodies */
	}
	return 0;
}

static int header_named(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && (line[n] == ':' || line[n] == ';');
}

static int credential_header(const char *line)
{
	const char *colon = strchr(line, ':');
	size_t n;

	if (colon == NULL)
		colon = strchr(line, ';');
	if (colon == NULL)
		return 0;
	n = (size_t)(colon - line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	return secret_header(line, n);
}

static int method_is(const char *m, const char *name)
{
	return strcmp(m, name) == 0;
}

/* Frees a header list, its credentials wiped first. */
static void slist_wipe_free(struct curl_slist *list)
{
	struct curl_slist *l;

	for (l = list; l != NULL; l = l->next)
		if (l->data != NULL && credential_header(l->data))
			explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

struct hop_spec {
	const char *method;
	const char *url;
	int with_body;      /* send the request body */
	int strip_creds;    /* another origin than the credentials' */
	long long range;    /* resume offset, 0 = none */
	long timeout_ms;    /* what is left of the attempt's time, 0 = no limit */
};

/* Runs one transfer; h is filled with what came back. */
static CURLcode hop_perform(struct http_client *c, const struct http_req *req,
                            const struct hop_spec *s, struct upload *u,
                            struct hop *h)
{
	CURL *cu = c->curl;
	struct curl_slist *list = NULL, *tmp;
	const char *const *hp;
	char range[64];
	CURLcode rc;
	int mux;

	/* an https origin that answered in HTTP/2: multiplexed with the other
	 * transfers of the share; not the parts of a ranged download, whose
	 * point is a connection each */
	mux = c->share != NULL && req->range_end == 0 && share_h2(c->share, s->url) &&
	      mux_ready(c->share);
	memset(h, 0, sizeof(*h));
	h->c = c;
	h->req = req;
	h->range_offset = s->range;
	h->range_sent = s->range > 0 || req->range_end > 0;
	h->range_abs = req->range_start + s->range;
	c->errbuf[0] = '\0';

	curl_easy_reset(cu);
	curl_easy_setopt(cu, CURLOPT_URL, s->url);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, c->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(cu, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(cu, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, c->low_speed_bytes);
	curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, c->low_speed_time_s);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(cu, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(cu, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, c->user_agent);
	if (c->ca_file != NULL)
		curl_easy_setopt(cu, CURLOPT_CAINFO, c->ca_file);
	if (insecure_for(c, s->url)) {
		curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(cu, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, h);
	if (req->sink != NULL) {
		/* a download: few large reads instead of many 16 KiB ones */
		curl_easy_setopt(cu, CURLOPT_BUFFERSIZE, (long)HTTP_SINK_BUFFER);
	}
	if (edge_log_verbosity() >= 2) {
		curl_easy_setopt(cu, CURLOPT_DEBUGFUNCTION, debug_cb);
		curl_easy_setopt(cu, CURLOPT_VERBOSE, 1L);
	}

	if (method_is(s->method, "HEAD")) {
		curl_easy_setopt(cu, CURLOPT_NOBODY, 1L);
	} else if (!s->with_body) {
		curl_easy_setopt(cu, CURLOPT_HTTPGET, 1L);
		if (!method_is(s->method, "GET"))
			curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, s->method);
	} else {
		/* every method with a body goes as an "upload": no form defaults */
		curl_off_t size = req->body_read ? (curl_off_t)req->body_size
		                                 : (curl_off_t)req->body_len;

		if (req->body_read != NULL && req->body_size < 0)
			size = -1;
		curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(cu, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(cu, CURLOPT_READDATA, u);
		curl_easy_setopt(cu, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(cu, CURLOPT_SEEKDATA, u);
		curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, size);
		if (!method_is(s->method, "PUT"))
			curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, s->method);
	}

	for (hp = req->headers; hp != NULL && *hp != NULL; hp++) {
		if (s->strip_creds && credential_header(*hp))
			continue;
		if (!s->with_body &&
		    (header_named(*hp, "Content-Type") || header_named(*hp, "Content-Length") ||
		     header_named(*hp, "Content-Range") || header_named(*hp, "Content-Encoding")))
			continue;
		tmp = curl_slist_append(list, *hp);
		if (tmp == NULL)
			goto oom;
		list = tmp;
	}
	if (req->range_end > 0) {
		/* a part: what it still lacks of its range */
		snprintf(range, sizeof(range), "Range: bytes=%lld-%lld", h->range_abs, req->range_end);
	} else if (s->range > 0) {
		snprintf(range, sizeof(range), "Range: bytes=%lld-", s->range);
	}
	if (h->range_sent) {
		tmp = curl_slist_append(list, range);
		if (tmp == NULL)
			goto oom;
		list = tmp;
	}
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, list);

	h->muxed = mux;
	if (mux)
		rc = mux_perform(c->share, cu);
	else
		rc = curl_easy_perform(cu);
	if (rc == CURLE_OK && c->share != NULL && !h->muxed && strncasecmp(s->url, "https://", 8) == 0) {
		long ver = 0;

		curl_easy_getinfo(cu, CURLINFO_HTTP_VERSION, &ver);
		if (ver == CURL_HTTP_VERSION_2_0)
			share_note_h2(c->share, s->url);
	}
	/* the list must outlive the transfer only */
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
	slist_wipe_free(list);
	return rc;
oom:
	slist_wipe_free(list);
	h->oom = 1;
	return CURLE_OUT_OF_MEMORY;
}

/* ---- classification, backoff ---- */

static int retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* Does the host name exist? Only a definite "no" stops the retries. */
static int host_does_not_exist(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	struct addrinfo hints, *res = NULL;
	int rc, gone = 0;

	if (u == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc == 0)
			freeaddrinfo(res);
		gone = rc == EAI_NONAME || rc == EAI_FAIL
#ifdef EAI_NODATA
		       || rc == EAI_NODATA
#endif
			;
		curl_free(host);
	}
	curl_url_cleanup(u);
	return gone;
}

static void lower_first(char *s)
{
	if (s[0] != '\0' && isupper((unsigned char)s[0]) &&
	    (s[1] == '\0' || !isupper((unsigned char)s[1])))
		s[0] = (char)tolower((unsigned char)s[0]);
}

/* "30 s", or "1500 ms" when not whole seconds. */
static void fmt_duration(char *buf, size_t len, long ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%ld s", ms / 1000);
	else
		snprintf(buf, len, "%ld ms", ms);
}

/* Which of the three timeouts ended a transfer: the attempt's limit
 * (limit_ms left of it when the hop started, elapsed_ms spent in the hop),
 * the connect timeout (no TCP connection, or no TLS session, yet), else
 * the stall timeout. */
static void timeout_reason(struct http_client *c, const char *url, long limit_ms,
                           long long elapsed_ms, char *why, size_t whylen)
{
	curl_off_t conn = 0, app = 0, pre = 0;
	char d[32];

	curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &conn);
	curl_easy_getinfo(c->curl, CURLINFO_APPCONNECT_TIME_T, &app);
	/* a stream on a multiplexed connection that another transfer made
	 * has no connect times of its own, but was sent (pre-transfer) */
	curl_easy_getinfo(c->curl, CURLINFO_PRETRANSFER_TIME_T, &pre);
	if (limit_ms > 0 && elapsed_ms + 50 >= limit_ms) {
		fmt_duration(d, sizeof(d), c->timeout_ms);
		snprintf(why, whylen, "timed out: no complete response within %s", d);
	} else if (pre == 0 && (conn == 0 || (app == 0 && strncasecmp(url, "https:", 6) == 0))) {
		fmt_duration(d, sizeof(d), c->connect_timeout_ms);
		snprintf(why, whylen, "timed out: no connection within %s", d);
	} else {
		snprintf(why, whylen, "stalled: less than %ld bytes/s for %ld s", c->low_speed_bytes,
		         c->low_speed_time_s);
	}
}

/* Whether a TLS handshake failed because the server spoke plain HTTP: the
 * HTTP reply to the ClientHello reads as a record of an unknown version
 * (OpenSSL's "wrong version number"; GnuTLS's "unexpected TLS packet"). */
static int answered_plain_http(const char *detail)
{
	return strstr(detail, "wrong version number") != NULL ||
	       strstr(detail, "unexpected TLS packet") != NULL ||
	       strstr(detail, "http request") != NULL;
}

/* The reason a transfer failed, and whether trying again may help. */
static int classify(struct http_client *c, CURLcode rc, const char *url, long limit_ms,
                    long long elapsed_ms, char *why, size_t whylen, int *code)
{
	char detail[CURL_ERROR_SIZE];
	long oserr = 0;
	size_t n;

	snprintf(detail, sizeof(detail), "%s",
	         c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	n = strlen(detail);
	while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == '.'))
		detail[--n] = '\0';
	lower_first(detail);
	*code = EDGE_EREMOTE;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == ECONNREFUSED) {
			snprintf(why, whylen, "connection refused");
		} else if (oserr != 0) {
			snprintf(why, whylen, "cannot connect: %s", strerror((int)oserr));
			lower_first(why + strlen("cannot connect: "));
		} else {
			snprintf(why, whylen, "%s", detail);
		}
		return 1;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(why, whylen, "%s", detail);
		return !host_does_not_exist(url);
	case CURLE_OPERATION_TIMEDOUT:
		timeout_reason(c, url, limit_ms, elapsed_ms, why, whylen);
		return 1;
	case CURLE_SSL_CONNECT_ERROR:
		if (answered_plain_http(detail)) {
			/* a plain-HTTP server answered the TLS hello: no retry mends that */
			snprintf(why, whylen, "the server answered in plain HTTP, not TLS");
			c->cause = HTTP_CAUSE_NOT_TLS;
			return 0;
		}
		snprintf(why, whylen, "%s", detail);
		return 1;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(why, whylen, "%s", detail);
		return 1;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(why, whylen, "TLS certificate verification failed: %s", detail);
		c->cause = HTTP_CAUSE_TLS_CERT;
		return 0;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(why, whylen, "cannot use CA file %s: %s",
		         c->ca_file ? c->ca_file : "(system)", detail);
		*code = EDGE_EINPUT;
		return 0;
	case CURLE_URL_MALFORMAT:
		snprintf(why, whylen, "%s", detail);
		*code = EDGE_EINPUT;
		return 0;
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* a redirect to another scheme, or a reply that is not HTTP:
		 * the server's doing (the URLs we build are http or https) */
		snprintf(why, whylen, "%s", detail);
		return 0;
	default:
		snprintf(why, whylen, "%s", detail);
		return 0;
	}
}

static uint64_t rng_next(struct http_client *c)
{
	/* xorshift64*: jitter only, not a secret */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 2685821657736338717ULL;
}

/* Full jitter: uniform in [0, min(cap, base * 2^(retry-1))]. */
static long backoff_ms(struct http_client *c, int retry)
{
	long long ceil = c->base_ms;
	int i;

	for (i = 1; i < retry && ceil < BACKOFF_CAP_MS; i++)
		ceil *= 2;
	if (ceil > BACKOFF_CAP_MS)
		ceil = BACKOFF_CAP_MS;
	if (ceil <= 0)
		return 0;
	return (long)(rng_next(c) % (uint64_t)(ceil + 1));
}

/* Retry-After: delta-seconds or an HTTP date; -1 when absent or unreadable. */
static long retry_after_ms(const char *v)
{
	struct tm tm;
	const char *p;
	char *end;
	long long secs;
	time_t when, now;

	if (v == NULL)
		return -1;
	while (*v == ' ')
		v++;
	if (isdigit((unsigned char)*v)) {
		errno = 0;
		secs = strtoll(v, &end, 10);
		while (*end == ' ')
			end++;
		if (errno != 0 || *end != '\0')
			return errno == ERANGE ? RETRY_AFTER_CAP_MS : -1;
	} else {
		memset(&tm, 0, sizeof(tm));
		p = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (p == NULL)
			return -1;
		when = timegm(&tm);
		now = time(NULL);
		secs = when > now ? (long long)(when - now) : 0;
	}
	if (secs < 0)
		secs = 0;
	if (secs * 1000 > RETRY_AFTER_CAP_MS)
		return RETRY_AFTER_CAP_MS;
	return (long)(secs * 1000);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void http_retry_wait(struct http_client *c, const struct http_resp *resp, int retry)
{
	long wait = resp != NULL ? retry_after_ms(http_resp_header(resp, "Retry-After")) : -1;

	if (wait < 0)
		wait = backoff_ms(c, retry);
	if (wait > 0)
		sleep_ms(wait);
}

/* Same scheme, host and port as the origin of the request? */
struct origin {
	char *scheme, *host, *port;
};

static void origin_free(struct origin *o)
{
	curl_free(o->scheme);
	curl_free(o->host);
	curl_free(o->port);
	memset(o, 0, sizeof(*o));
}

static int origin_of(const char *url, struct origin *o)
{
	CURLU *u = curl_url();
	int rc = -1;

	memset(o, 0, sizeof(*o));
	if (u == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &o->host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &o->port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		rc = 0;
	curl_url_cleanup(u);
	if (rc < 0)
		origin_free(o);
	return rc;
}

static int same_origin(const struct origin *a, const char *url)
{
	struct origin b;
	int same;

	if (origin_of(url, &b) < 0)
		return 0;
	same = strcasecmp(a->scheme, b.scheme) == 0 && strcasecmp(a->host, b.host) == 0 &&
	       strcmp(a->port, b.port) == 0;
	origin_free(&b);
	return same;
}

int http_same_origin(const char *a, const char *b)
{
	struct origin o;
	int same;

	if (a == NULL || b == NULL || origin_of(a, &o) < 0)
		return 0;
	same = same_origin(&o, b);
	origin_free(&o);
	return same;
}

/* ---- the request ---- */

enum outcome {
	OUT_RESPONSE,   /* a final response is in the hop */
	OUT_TRANSIENT,  /* failed, may be retried */
	OUT_FATAL,      /* failed for good, err set */
	OUT_RESTART,    /* the server cannot resume: retry from 0 */
};

struct attempt {
	struct hop hop;         /* the final hop, on OUT_RESPONSE */
	char *url;              /* URL of the final hop */
	char why[EDGE_ERR_MAX]; /* reason, on OUT_TRANSIENT/OUT_FATAL */
	int code;               /* exit class, on OUT_FATAL */
	long long sink_bytes;   /* bytes given to the sink during the attempt */
};

static int has_body(const struct http_req *req, const char *method)
{
	return req->body_read != NULL || req->body != NULL || req->body_len > 0 ||
	       method_is(method, "POST") || method_is(method, "PUT") ||
	       method_is(method, "PATCH");
}

static void log_hop(const char *method, const char *url, const struct hop *h,
                    CURLcode rc, const char *why, long long ms, CURL *cu)
{
	curl_off_t dl = 0;
	long ver = 0, port = 0;
	char *red;

	if (edge_log_verbosity() < 1)
		return;
	red = http_redact_url(url);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(cu, CURLINFO_SIZE_DOWNLOAD_T, &dl);
		curl_easy_getinfo(cu, CURLINFO_HTTP_VERSION, &ver);
		curl_easy_getinfo(cu, CURLINFO_LOCAL_PORT, &port);
		/* the version and the connection (its local port): which
		 * transfers shared one */
		log_verbose("%s %s -> %ld (%lld bytes, %lld ms, %s, local port %ld%s)", method,
		            red ? red : "<url>", h->status, (long long)dl, ms,
		            ver == CURL_HTTP_VERSION_2_0 ? "HTTP/2"
		            : ver == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0" : "HTTP/1.1",
		            port, h->muxed ? ", multiplexed" : "");
	} else {
		log_verbose("%s %s -> failed: %s (%lld ms)", method, red ? red : "<url>", why, ms);
	}
	free(red);
}

/* After one hop of an attempt: 1 when it failed (a->why, a->code and *out
 * set: OUT_FATAL unless said otherwise), 0 when it brought a response. */
static int hop_failed(struct http_client *c, const struct upload *up, const struct hop *h,
                      const struct hop_spec *s, int hops, CURLcode rc, long long t0,
                      struct attempt *a, enum outcome *out)
{
	int retry;

	if (h->oom) {
		snprintf(a->why, sizeof(a->why), "out of memory");
		a->code = EDGE_EIO;
		return 1;
	}
	if (c->sink_err_set || h->sink_failed || up->read_failed) {
		if (c->sink_err_set)
			snprintf(a->why, sizeof(a->why), "%s", c->sink_err.msg);
		else
			snprintf(a->why, sizeof(a->why), "%s",
			         up->read_failed ? "cannot read the request body"
			                         : "write failed");
		a->code = c->sink_err_set ? c->sink_err.code : EDGE_EIO;
		return 1;
	}
	if (h->too_large) {
		snprintf(a->why, sizeof(a->why), "response too large (more than %zu bytes)",
		         h->limit);
		a->code = EDGE_EREMOTE;
		return 1;
	}
	if (h->range_refused) {
		log_hop(s->method, s->url, h, CURLE_OK, NULL, mono_ms() - t0, c->curl);
		*out = OUT_RESTART;
		return 1;
	}
	if (rc != CURLE_OK) {
		retry = classify(c, rc, s->url, s->timeout_ms, mono_ms() - t0, a->why,
		                 sizeof(a->why), &a->code);
		log_hop(s->method, s->url, h, rc, a->why, mono_ms() - t0, c->curl);
		if (hops > 0) {
			/* name the hop that failed: it is not the URL the caller knows */
			char *red = http_message_url(s->url);
			char tmp[EDGE_ERR_MAX];

			memcpy(tmp, a->why, sizeof(tmp));
			snprintf(a->why, sizeof(a->why), "after redirect to %.400s: %.500s",
			         red ? red : "<url>", tmp);
			free(red);
		}
		*out = retry ? OUT_TRANSIENT : OUT_FATAL;
		return 1;
	}
	return 0;
}

static enum outcome run_attempt(struct http_client *c, const struct http_req *req,
                                const struct origin *orig, long long offset,
                                struct upload *up, struct attempt *a)
{
	struct hop_spec s;
	struct hop h;
	char *url = NULL, *next;
	const char *loc;
	int hops, with_body;
	enum outcome out = OUT_FATAL;
	long long t0, deadline = 0;
	CURLcode rc;

	memset(&h, 0, sizeof(h));
	s.method = req->method ? req->method : "GET";
	with_body = has_body(req, s.method);
	url = xstrdup(req->url);
	if (c->timeout_ms > 0)
		deadline = mono_ms() + c->timeout_ms;
	for (hops = 0;; hops++) {
		s.url = url;
		s.with_body = with_body;
		s.strip_creds = !same_origin(orig, url);
		s.range = offset;
		s.timeout_ms = 0;
		if (deadline > 0) {
			long long left = deadline - mono_ms();
			char d[32];

			if (left <= 0) {
				/* the time ran out between two hops */
				fmt_duration(d, sizeof(d), c->timeout_ms);
				snprintf(a->why, sizeof(a->why), "timed out: no complete response within %s", d);
				out = OUT_TRANSIENT;
				goto out;
			}
			s.timeout_ms = (long)left;
		}
		if (with_body && upload_rewind(up) < 0) {
			snprintf(a->why, sizeof(a->why), "cannot rewind the request body");
			a->code = EDGE_EIO;
			goto out;
		}
		t0 = mono_ms();
		rc = hop_perform(c, req, &s, up, &h);
		a->sink_bytes += h.sink_bytes;
		if (hop_failed(c, up, &h, &s, hops, rc, t0, a, &out))
			goto out;
		log_hop(s.method, url, &h, rc, NULL, mono_ms() - t0, c->curl);
		if (h.restarted)
			offset = 0;
		if (!h.following)
			break;
		if (hops + 1 > HTTP_MAX_REDIRECTS) {
			snprintf(a->why, sizeof(a->why), "too many redirects (more than %d)",
			         HTTP_MAX_REDIRECTS);
			a->code = EDGE_EREMOTE;
			goto out;
		}
		loc = NULL;
		curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &loc);
		if (loc == NULL)
			break; /* nothing libcurl can follow: return the 3xx */
		next = xstrdup(loc);
		if ((h.status == 303 && !method_is(s.method, "HEAD")) ||
		    ((h.status == 301 || h.status == 302) && method_is(s.method, "POST"))) {
			s.method = "GET";
			with_body = 0;
		}
		free(url);
		url = next;
		hop_free(&h);
	}
	a->hop = h;
	memset(&h, 0, sizeof(h));
	a->url = url;
	url = NULL;
	out = OUT_RESPONSE;
out:
	hop_free(&h);
	free(url);
	return out;
}

static void fill_resp(struct http_resp *resp, struct attempt *a, int attempts)
{
	struct hop *h = &a->hop;

	resp->status = h->status;
	if (h->mode != BODY_SINK) {
		resp->body_len = h->body.len;
		resp->body = strbuf_take(&h->body);
	}
	resp->headers = h->hdrs;
	resp->nheaders = h->nhdrs;
	h->hdrs = NULL;
	h->nhdrs = 0;
	resp->effective_url = a->url;
	a->url = NULL;
	resp->attempts = attempts;
}

static void attempt_clear(struct attempt *a)
{
	hop_free(&a->hop);
	free(a->url);
	memset(a, 0, sizeof(*a));
}

/* Checks a request before its first attempt and parses the origin its
 * credentials belong to (cred_origin, else the URL's) into *orig, which the
 * caller frees with origin_free either way. red: the redacted URL, for
 * messages. */
static int request_check(const struct http_client *c, const struct http_req *req, const char *method, const char *red,
                         struct origin *orig, struct edge_err *err)
{
	if (req->url == NULL || c == NULL)
		return edge_errf(err, EDGE_EINPUT, "http request without a URL");
	if (req->resume_from > 0 && (req->sink == NULL || req->sink_reset == NULL))
		return edge_errf(err, EDGE_EINPUT, "%s %s: resume_from needs sink and sink_reset",
		                 method, red ? red : req->url);
	if (req->range_end > 0 && (req->sink == NULL || req->sink_reset == NULL ||
	                           req->range_start < 0 || req->range_start > req->range_end))
		return edge_errf(err, EDGE_EINPUT, "%s %s: a range needs sink and sink_reset",
		                 method, red ? red : req->url);
	if (origin_of(req->url, orig) < 0)
		return edge_errf(err, EDGE_EINPUT, "%s %s: malformed URL", method,
		                 red ? red : req->url);
	if (req->cred_origin != NULL) {
		/* credentials belong to another origin than the URL's, maybe */
		origin_free(orig);
		if (origin_of(req->cred_origin, orig) < 0)
			return edge_errf(err, EDGE_EINPUT, "%s %s: malformed credentials origin", method,
			                 red ? red : req->url);
	}
	return 0;
}

int http_do(struct http_client *c, const struct http_req *req,
            struct http_resp *resp, struct edge_err *err)
{
	struct attempt a;
	struct origin orig;
	struct upload up;
	const char *method;
	char *red = NULL;
	char why[EDGE_ERR_MAX];
	long long offset, sink_total = 0;
	long wait;
	int attempt, max_attempts, code = EDGE_EREMOTE, rc = -1, network = 1;
	enum outcome out;

	memset(&a, 0, sizeof(a));
	memset(&orig, 0, sizeof(orig));
	memset(resp, 0, sizeof(*resp));
	method = req->method ? req->method : "GET";
	red = http_message_url(req->url ? req->url : "");
	if (c != NULL)
		c->cause = HTTP_CAUSE_NONE;
	if (request_check(c, req, method, red, &orig, err) != 0)
		goto out;
	memset(&up, 0, sizeof(up));
	up.req = req;
	c->sink_err_set = 0;
	edge_err_clear(&c->sink_err);
	offset = req->resume_from > 0 ? req->resume_from : 0;
	max_attempts = req->no_retry ? 1 : c->retries + 1;

	for (attempt = 1;; attempt++) {
		attempt_clear(&a);
		out = run_attempt(c, req, &orig, offset, &up, &a);
		sink_total += a.sink_bytes;
		if (out == OUT_FATAL) {
			snprintf(why, sizeof(why), "%s", a.why);
			code = a.code;
			break;
		}
		if (out == OUT_RESPONSE && !retryable_status(a.hop.status)) {
			fill_resp(resp, &a, attempt);
			rc = 0;
			goto out;
		}
		if (out == OUT_RESPONSE)
			snprintf(why, sizeof(why), "HTTP %ld", a.hop.status);
		else if (out == OUT_RESTART)
			snprintf(why, sizeof(why), "server cannot resume at byte %lld", offset);
		else
			snprintf(why, sizeof(why), "%s", a.why);
		code = EDGE_EREMOTE;

		/* Can we go again? Not when a streamed body cannot be sent twice,
		 * nor when a sink holds bytes it cannot resume from. */
		if (attempt >= max_attempts ||
		    (req->body_read != NULL && up.used && req->body_rewind == NULL) ||
		    (req->sink != NULL && req->sink_reset == NULL && sink_total > 0)) {
			if (out == OUT_RESPONSE) {
				/* the caller reports the status */
				fill_resp(resp, &a, attempt);
				rc = 0;
				goto out;
			}
			break;
		}

		wait = -1;
		if (out == OUT_RESPONSE)
			wait = retry_after_ms(hop_header(&a.hop, "Retry-After"));
		if (out == OUT_RESTART)
			wait = 0;
		if (wait < 0)
			wait = backoff_ms(c, attempt);
		log_verbose("%s %s: %s, retrying in %ld ms (retry %d of %d)", method,
		            red ? red : "<url>", why, wait, attempt, max_attempts - 1);
		if (wait > 0)
			sleep_ms(wait);

		if (req->sink_reset != NULL) {
			long long held = out == OUT_RESTART ? 0 : offset;
			int r = req->sink_reset(req->sink_ctx, &held, out == OUT_RESTART);

			if (r != 0) {
				snprintf(why, sizeof(why), "%s",
				         c->sink_err_set ? c->sink_err.msg : "cannot resume the download");
				code = c->sink_err_set ? c->sink_err.code : EDGE_EIO;
				network = 0;
				break;
			}
			offset = held > 0 ? held : 0;
		}
	}
	if (network && attempt > 1 && code == EDGE_EREMOTE)
		edge_errf(err, code, "%s %s: %s (after %d attempts)", method,
		          red ? red : "<url>", why, attempt);
	else
		edge_errf(err, code, "%s %s: %s", method, red ? red : "<url>", why);
out:
	attempt_clear(&a);
	origin_free(&orig);
	free(red);
	return rc;
}
