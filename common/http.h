/*
 * The one HTTP client of edge, over libcurl (STYLE.md §2).
 *
 * A struct http_client owns one CURL easy handle: requests made through it
 * reuse its connections (HTTP/2 over TLS when the server offers it). It is
 * NOT thread-safe: give each thread its own client. Clients of several
 * threads may share a struct http_share (DNS cache and TLS sessions; libcurl
 * does not support sharing the connection cache between concurrent threads).
 *
 * http_do() retries transient failures (connection errors, 429, 500, 502,
 * 503, 504) with exponential backoff and Retry-After, follows redirects
 * itself so that credentials never leave the original origin, resumes
 * interrupted downloads with Range when the caller's sink can, and never
 * prints or exits: failures come back in a struct edge_err with EDGE_EREMOTE
 * (network, TLS, HTTP), EDGE_EIO (the caller's sink or body reader failed) or
 * EDGE_EINPUT (malformed URL, unreadable CA file). Deciding what a 401 or
 * 404 means is the caller's job: every HTTP status comes back as a response.
 *
 * Logging: -v prints one line per attempt and per retry, -vv the request and
 * response headers with secrets redacted (http_redact_header). Bodies are
 * never logged.
 */
#ifndef EDGE_HTTP_H
#define EDGE_HTTP_H

#include <stddef.h>

#include "err.h"

struct http_client;
struct http_share;

/* Transport settings of some hosts, each "HOST" or "HOST:PORT" in lower
 * case (a HOST without a port stands for every port of it). Owned by the
 * caller, who keeps it alive as long as the clients and registries that
 * point at it. */
struct http_hosts {
	char **plain;    /* plain HTTP to these registries (see registry_new) */
	size_t nplain;
	char **tls;      /* TLS to these, even with plain HTTP for all */
	size_t ntls;
	char **insecure; /* no TLS verification for these */
	size_t ninsecure;
};

/* Whether hostport ("HOST[:PORT]", any case) is in list. */
int http_hosts_match(char *const *list, size_t n, const char *hostport);

/* Why the last failed http_do of a client failed, when it was one of the
 * mistakes a user can fix (a caller may hint at the option that fixes it). */
enum http_cause {
	HTTP_CAUSE_NONE = 0,
	HTTP_CAUSE_NOT_TLS,   /* an https URL, and the server answered in plain HTTP */
	HTTP_CAUSE_TLS_CERT,  /* the server's certificate did not verify */
};
enum http_cause http_last_cause(const struct http_client *c);

struct http_opts {
	const char *ca_file;      /* extra CA bundle (CURLOPT_CAINFO; the system CA
	                             directory stays trusted), NULL = system */
	int insecure;             /* skip TLS verification */
	const struct http_hosts *hosts; /* per-host settings (borrowed), may be NULL:
	                             the client reads hosts->insecure */
	int retries;              /* retries after the first attempt (default 5 when <0) */
	long connect_timeout_ms;  /* TCP and TLS set-up of one connection; default
	                             HTTP_DEFAULT_CONNECT_TIMEOUT_S when 0 */
	long low_speed_time_s;    /* the stall timeout: abort an attempt that moves
	                             fewer than low_speed_bytes per second (sent
	                             and received, headers waited for included)
	                             for this many seconds; default
	                             HTTP_DEFAULT_STALL_TIMEOUT_S when 0 */
	long low_speed_bytes;     /* default HTTP_STALL_MIN_RATE when 0 */
	long timeout_ms;          /* limit for one attempt of a request, all its
	                             redirect hops together, 0 = none */
	const char *user_agent;   /* default "edge/VERSION" */
};

/* Timeouts (SPEC §9). Each one ends an attempt as a network error does: it
 * is retried, and the request fails (EDGE_EREMOTE) once retries run out. The
 * stall timeout, not a limit on the whole request, is what ends a transfer
 * from a server that dribbles bytes: a multi-GB blob on a slow link may take
 * hours, but never moves under 1 KiB/s for a whole minute. */
#define HTTP_DEFAULT_CONNECT_TIMEOUT_S 30
#define HTTP_DEFAULT_STALL_TIMEOUT_S 60
#define HTTP_STALL_MIN_RATE 1024 /* bytes per second */

/* Environment: EDGE_RETRY_BASE_MS overrides the 500 ms backoff base (read
 * when a client is created; the tests use 10). */
#define HTTP_DEFAULT_RETRIES 5
#define HTTP_DEFAULT_MAX_BODY (4u << 20)  /* buffered 2xx bodies */
#define HTTP_ERROR_BODY_MAX (64u << 10)   /* buffered non-2xx bodies */
#define HTTP_MAX_REDIRECTS 10
/* libcurl's receive buffer for downloads into a sink (CURLOPT_BUFFERSIZE):
 * one 2 GiB layer in 16 KiB pieces was 131,000 write and recvfrom calls */
#define HTTP_SINK_BUFFER (512u << 10)


/* A share of DNS cache and TLS sessions between clients used by several
 * threads (pthread mutexes inside). Free it after every client using it.
 * Returns NULL, with err set, when libcurl cannot be set up. */
struct http_share *http_share_new(struct edge_err *err);
void http_share_free(struct http_share *share);

/* Creates a client. The options are copied (o may be NULL for defaults);
 * share may be NULL. Initialises libcurl once per process (cleaned up at
 * exit). Returns NULL with err set on failure. Free with http_client_free. */
struct http_client *http_client_new(const struct http_opts *o,
                                    struct http_share *share,
                                    struct edge_err *err);
void http_client_free(struct http_client *c);

struct http_header {
	char *name;
	char *value;
};

/* A response. Everything in it is owned by the struct: release it with
 * http_resp_free (which leaves it zeroed, ready for reuse). */
struct http_resp {
	long status;          /* final status; 206 after a resumed download */
	char *body;           /* NUL-terminated (not counted in body_len);
	                         NULL when a sink took the body */
	size_t body_len;
	struct http_header *headers; /* headers of the FINAL response (after redirects) */
	size_t nheaders;
	char *effective_url;  /* URL of the final response */
	int attempts;         /* attempts made (1 = no retry) */
};

/* Value of the last header called name (case-insensitive), or NULL. */
const char *http_resp_header(const struct http_resp *r, const char *name);
void http_resp_free(struct http_resp *r);

/* Returned by http_req.body_read on failure (after http_sink_error). */
#define HTTP_READ_ERROR ((size_t)-1)

struct http_req {
	const char *method;            /* "GET", "HEAD", "POST", "PUT", "PATCH",
	                                  "DELETE"; NULL = "GET" */
	const char *url;
	const char *const *headers;    /* NULL-terminated "Name: value" strings, may
	                                  be NULL; "Name:" removes a default header */

	/* Request body from memory (body may be NULL with body_len 0: an empty
	 * body, sent with Content-Length: 0 for POST/PUT/PATCH), or: */
	const void *body;
	size_t body_len;
	/* a streamed request body: body_read fills buf with up to len bytes and
	 * returns how many, 0 at the end, HTTP_READ_ERROR on failure (→ -1,
	 * EDGE_EIO). body_rewind (may be NULL: then no retry once bytes were
	 * read) goes back to the start, 0 on success. body_size is the length,
	 * or -1 when unknown (chunked transfer encoding). */
	size_t (*body_read)(char *buf, size_t len, void *ctx);
	int (*body_rewind)(void *ctx);
	void *body_ctx;
	long long body_size;

	/* Response body sink: called with the data of 2xx responses only, in
	 * order. Returns len, or anything else to abort (→ -1, EDGE_EIO, with
	 * the reason given by http_sink_error, else "write failed"). When NULL
	 * the 2xx body is buffered in resp->body up to max_body (0 = 4 MiB;
	 * more → -1 EDGE_EREMOTE "response too large"). Non-2xx bodies are
	 * always buffered, truncated at 64 KiB, so callers can read registry
	 * error JSON. */
	size_t (*sink)(const void *data, size_t len, void *ctx);
	void *sink_ctx;
	/* Resuming (optional, needs sink). Before each retry, called with
	 * from_zero = 0: set *resume_offset to the number of bytes the sink
	 * already holds (the next attempt sends "Range: bytes=N-" and the sink
	 * receives the rest), or to 0 after discarding them (start over).
	 * Called with from_zero = 1 (and *resume_offset = 0) when a server
	 * refuses the range (416, or a Content-Range that starts elsewhere),
	 * and with from_zero = 2 when it answers a Range request with the
	 * whole body (200, which then goes to the sink): the sink must
	 * discard everything it holds (truncate to 0), or return -1.
	 * Returns 0, or -1 to abort (→ -1 EDGE_EIO, reason via
	 * http_sink_error). Without sink_reset, a request whose sink already
	 * received bytes is not retried. */
	int (*sink_reset)(void *ctx, long long *resume_offset, int from_zero);
	/* Bytes the sink already holds before the first attempt (e.g. from an
	 * interrupted run): the first attempt already sends Range. Needs
	 * sink_reset. 0 = none. */
	long long resume_from;
	/* A part of the resource (needs sink and sink_reset): range_end > 0
	 * asks for bytes range_start..range_end (inclusive); every attempt
	 * asks for what the sink still lacks, "Range: bytes=START+HELD-END",
	 * and the sink receives bytes from range_start on. A 200 in reply
	 * calls sink_reset with from_zero = 2: a sink that cannot take the
	 * whole body returns -1 there. */
	long long range_start, range_end;
	size_t max_body;

	int follow_redirects;          /* follow 301/302/303/307/308 (at most 10).
	                                  303, and 301/302 after POST, continue
	                                  as GET (HEAD stays HEAD) without body.
	                                  0: 3xx responses are returned. */
	/* Authorization, Proxy-Authorization, Cookie, ApiKey and X-*-Token
	 * headers are sent only to the origin (scheme, host, port) of
	 * cred_origin, or of req->url when it is NULL: never to another origin,
	 * be it req->url itself (an upload Location a registry named) or a
	 * redirect. */
	const char *cred_origin;
	int no_retry;                  /* a single attempt */
};

/*
 * Performs the request, with retries: on connection errors (cannot connect,
 * timeouts, send/receive errors, partial bodies, empty replies, HTTP/2
 * stream errors, DNS failures other than "no such name") and on HTTP 429,
 * 500, 502, 503, 504 it waits and tries again, up to opts.retries times:
 * exponential backoff from 500 ms doubling, capped at 30 s, full jitter; a
 * Retry-After header (seconds or HTTP date) overrides it (capped at 120 s).
 * TLS verification failures, unknown host names and other statuses are not
 * retried. Each attempt starts again from req->url.
 *
 * resp is overwritten (not freed first): pass a zeroed or freed struct.
 * Returns 0 when a response arrived, whatever its status (after exhausting
 * retries on 429/5xx the last response is returned), and -1 with err set
 * and resp empty when none could be obtained, e.g.
 * "POST https://host/path: connection refused (after 6 attempts)".
 */
int http_do(struct http_client *c, const struct http_req *req,
            struct http_resp *resp, struct edge_err *err);

/* For callers that retry by themselves (e.g. resumable uploads): waits as
 * http_do would before retry number retry (1, 2, …): the response's
 * Retry-After when resp has one, else exponential backoff with jitter. */
void http_retry_wait(struct http_client *c, const struct http_resp *resp, int retry);

/* Lets a sink, sink_reset or body_read report why it failed (e.g. a write
 * error): the message and code are copied into the client and http_do
 * returns them (prefixed with the method and URL). */
void http_sink_error(struct http_client *c, const struct edge_err *why);

/* Do two absolute URLs have the same origin: scheme, host and port (the
 * scheme's default port when none is given)? 0 when either is malformed. */
int http_same_origin(const char *a, const char *b);

/* Copy of one header line (trailing CR/LF removed) fit for logs: the values
 * of Authorization, Proxy-Authorization, ApiKey, Cookie, Set-Cookie and
 * X-*-Token become "<redacted>"; URLs in Location and in a request line
 * lose their userinfo and the values of query parameters that look like
 * credentials (token, signature, credential, password, secret). malloc'd
 * (NULL only for a NULL line). */
char *http_redact_header(const char *line);

/* Copy of a URL fit for logs (userinfo and credential query values
 * replaced by "<redacted>"). malloc'd (NULL only for a NULL url). */
char *http_redact_url(const char *url);

/* Copy of a URL fit for error messages: scheme, host and path, without
 * userinfo, query string or fragment (an upload URL's query holds a long
 * state token that tells the user nothing). malloc'd (NULL only for a
 * NULL url). */
char *http_message_url(const char *url);

#endif
