/*
 * Unit and integration test of common/http.c against tests/servers/flaky-http.py
 * (started here on 127.0.0.1, port 0). TAP output; exit 1 on any failure.
 * Run from the repository root (make test does).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "http.h"
#include "log.h"
#include "tap.h"

static pid_t g_server = -1;
static char g_dir[PATH_MAX];
static char g_port_file[PATH_MAX + 16];
static char g_cert[PATH_MAX + 16], g_key_file[PATH_MAX + 16];
static int g_port;
static int g_tls_port;       /* 0 when openssl could not make a certificate */
static char g_base[64];      /* http://127.0.0.1:PORT */
static char g_base_alt[64];  /* http://localhost:PORT: another host name */
static int g_key;

/* ---- server lifetime ---- */

static void stop_server(void)
{
	if (g_server > 0) {
		kill(g_server, SIGTERM);
		waitpid(g_server, NULL, 0);
		g_server = -1;
	}
	if (g_port_file[0] != '\0') {
		unlink(g_port_file);
		g_port_file[0] = '\0';
	}
	if (g_cert[0] != '\0') {
		unlink(g_cert);
		unlink(g_key_file);
		g_cert[0] = '\0';
	}
	if (g_dir[0] != '\0') {
		rmdir(g_dir);
		g_dir[0] = '\0';
	}
}

static void on_signal(int sig)
{
	/* stop_server() with async-signal-safe calls only */
	if (g_server > 0) {
		kill(g_server, SIGTERM);
		waitpid(g_server, NULL, 0);
	}
	if (g_port_file[0] != '\0')
		unlink(g_port_file);
	if (g_cert[0] != '\0') {
		unlink(g_cert);
		unlink(g_key_file);
	}
	if (g_dir[0] != '\0')
		rmdir(g_dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const char *server_script(char *buf, size_t len)
{
	static const char rel[] = "tests/servers/flaky-http.py";
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (access(rel, R_OK) == 0)
		return rel;
	/* build/tests/test_http → ../../tests/servers/… */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return rel;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return rel;
	*slash = '\0';
	snprintf(buf, len, "%s/../../%s", exe, rel);
	return buf;
}

/* A self-signed certificate for 127.0.0.1 and localhost, by openssl(1). */
static int make_cert(void)
{
	pid_t pid;
	int status, fd;

	snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", g_dir);
	snprintf(g_key_file, sizeof(g_key_file), "%s/key.pem", g_dir);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("openssl", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
		       "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
		       "/CN=edge-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
		       "-keyout", g_key_file, "-out", g_cert, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || access(g_cert, R_OK) != 0)
		return -1;
	return 0;
}

static int start_server(void)
{
	const char *tmp = getenv("TMPDIR");
	char script_buf[PATH_MAX * 2];
	const char *script;
	pid_t parent = getpid();
	int i, status;
	FILE *f;

	snprintf(g_dir, sizeof(g_dir), "%s/edge-test-http.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(g_dir) == NULL) {
		g_dir[0] = '\0';
		return -1;
	}
	snprintf(g_port_file, sizeof(g_port_file), "%s/port", g_dir);
	script = server_script(script_buf, sizeof(script_buf));
	if (make_cert() < 0) {
		diag("openssl cannot make a test certificate: TLS cases skipped");
		unlink(g_cert);
		unlink(g_key_file);
		g_cert[0] = '\0';
	}
	g_server = fork();
	if (g_server < 0)
		return -1;
	if (g_server == 0) {
		/* die with the test, whatever way it ends */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (g_cert[0] != '\0')
			execlp("python3", "python3", script, "--port-file", g_port_file,
			       "--idle", "60", "--tls-cert", g_cert, "--tls-key", g_key_file,
			       (char *)NULL);
		else
			execlp("python3", "python3", script, "--port-file", g_port_file,
			       "--idle", "60", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 1200; i++) { /* at most 60 s: python starts slowly on a loaded machine */
		f = fopen(g_port_file, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%d %d", &g_port, &g_tls_port) >= 1;

			fclose(f);
			if (ok && g_port > 0)
				break;
		}
		if (waitpid(g_server, &status, WNOHANG) == g_server) {
			g_server = -1;
			return -1;
		}
		usleep(50000);
	}
	if (g_port <= 0)
		return -1;
	snprintf(g_base, sizeof(g_base), "http://127.0.0.1:%d", g_port);
	snprintf(g_base_alt, sizeof(g_base_alt), "http://localhost:%d", g_port);
	return 0;
}

/* ---- helpers ---- */

#define CHECK(cond)                                                                \
	do {                                                                       \
		if (!(cond)) {                                                     \
			diag("%s:%d: check failed: %s", __FILE__, __LINE__, #cond); \
			goto fail;                                                 \
		}                                                                  \
	} while (0)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* url: g_base followed by fmt, in buf. */
static const char *vurl(char *buf, size_t len, const char *fmt, va_list ap)
{
	int n = snprintf(buf, len, "%s", g_base);

	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	return buf;
}

static const char *url(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vurl(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

static struct http_client *client(int retries)
{
	struct http_opts o = { .retries = retries, .connect_timeout_ms = 5000,
	                       .low_speed_time_s = 10 };
	struct edge_err err = { 0 };
	struct http_client *c = http_client_new(&o, NULL, &err);

	if (c == NULL)
		diag("http_client_new: %s", err.msg);
	return c;
}

/* fetch: one request with a new client of `retries` retries, to g_base
 * followed by fmt, its body buffered; the response in *r (the caller frees
 * it) and the wall time of http_do in *ms. Returns http_do's result, or -1
 * without a client. */
static int fetch(const char *method, int retries, struct http_resp *r, struct edge_err *err, long long *ms,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fetch(const char *method, int retries, struct http_resp *r, struct edge_err *err, long long *ms,
		 const char *fmt, ...)
{
	struct http_client *c = client(retries);
	struct http_req req = { .method = method };
	char u[256];
	long long t0;
	va_list ap;
	int rc;

	if (c == NULL)
		return -1;
	va_start(ap, fmt);
	req.url = vurl(u, sizeof(u), fmt, ap);
	va_end(ap);
	t0 = now_ms();
	rc = http_do(c, &req, r, err);
	*ms = now_ms() - t0;
	http_client_free(c);
	return rc;
}

static unsigned char pat(size_t i)
{
	return (unsigned char)(((i * 131) + (i >> 8)) & 0xff);
}

static int is_pattern(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != pat(i)) {
			diag("byte %zu differs", i);
			return 0;
		}
	return 1;
}

/* A sink in memory that can resume. */
struct msink {
	struct http_client *c;
	unsigned char *p;
	size_t len, cap;
	int resets, zero_resets;
	long long last_offset; /* what the last reset answered */
	long long fail_after;  /* > 0: fail once this many bytes are held */
};

static size_t msink_write(const void *data, size_t len, void *ctx)
{
	struct msink *s = ctx;

	if (s->fail_after > 0 && (long long)(s->len + len) > s->fail_after) {
		struct edge_err why = { 0 };

		edge_errf(&why, EDGE_EIO, "write blob.tmp: No space left on device");
		http_sink_error(s->c, &why);
		return 0;
	}
	if (s->len + len > s->cap) {
		size_t ncap = s->cap ? s->cap : 4096;
		unsigned char *np;

		while (ncap < s->len + len)
			ncap *= 2;
		np = realloc(s->p, ncap);
		if (np == NULL)
			return 0;
		s->p = np;
		s->cap = ncap;
	}
	memcpy(s->p + s->len, data, len);
	s->len += len;
	return len;
}

static int msink_reset(void *ctx, long long *offset, int from_zero)
{
	struct msink *s = ctx;

	s->resets++;
	if (from_zero) {
		s->zero_resets++;
		s->len = 0;
	}
	*offset = (long long)s->len;
	s->last_offset = *offset;
	return 0;
}

/* ---- the tests ---- */

static int t_get_buffered(void)
{
	struct http_client *c = client(0);
	struct http_req req = { .method = "GET" };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/hello");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200);
	CHECK(r.body_len == 12 && strcmp(r.body, "hello world\n") == 0);
	CHECK(http_resp_header(&r, "content-length") != NULL);
	CHECK(strcmp(http_resp_header(&r, "CONTENT-TYPE"), "text/plain") == 0);
	CHECK(http_resp_header(&r, "X-Nope") == NULL);
	CHECK(r.attempts == 1);
	CHECK(r.effective_url != NULL && strcmp(r.effective_url, u) == 0);
	/* a second request reuses the handle */
	http_resp_free(&r);
	CHECK(http_do(c, &req, &r, &err) == 0 && r.status == 200);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static int t_head(void)
{
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	long long dt;
	int ok = 0;

	CHECK(fetch("HEAD", 0, &r, &err, &dt, "/blob?size=1000") == 0);
	CHECK(r.status == 200 && r.body_len == 0);
	CHECK(strcmp(http_resp_header(&r, "Content-Length"), "1000") == 0);
	ok = 1;
fail:
	http_resp_free(&r);
	return ok;
}

static int t_get_sink(void)
{
	struct http_client *c = client(0);
	struct msink s = { 0 };
	struct http_req req = { .method = "GET", .sink = msink_write, .sink_ctx = &s };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/blob?size=300000");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200);
	CHECK(r.body == NULL);
	CHECK(s.len == 300000 && is_pattern(s.p, s.len));
	ok = 1;
fail:
	http_resp_free(&r);
	http_client_free(c);
	free(s.p);
	return ok;
}

static int t_503_retry_after(void)
{
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	long long dt;
	int ok = 0;

	CHECK(fetch("GET", 3, &r, &err, &dt, "/flaky?key=%d&fail=1&code=503&retry_after=1", ++g_key) == 0);
	CHECK(r.status == 200 && strcmp(r.body, "ok\n") == 0);
	CHECK(r.attempts == 2);
	CHECK(strcmp(http_resp_header(&r, "X-Attempt"), "2") == 0);
	CHECK(dt >= 900); /* Retry-After: 1 beat the 10 ms backoff */
	ok = 1;
fail:
	http_resp_free(&r);
	return ok;
}

static int t_429_retry_after_date(void)
{
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	long long dt;
	int ok = 0;

	/* Retry-After as an HTTP date 2 s ahead: at least 1 s once rounded */
	CHECK(fetch("GET", 3, &r, &err, &dt, "/flaky?key=%d&fail=1&code=429&retry_date=2", ++g_key) == 0);
	CHECK(r.status == 200 && r.attempts == 2);
	CHECK(dt >= 900 && dt < 5000);
	ok = 1;
fail:
	http_resp_free(&r);
	return ok;
}

static int t_500_forever(void)
{
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	long long dt;
	int ok = 0;

	CHECK(fetch("GET", 2, &r, &err, &dt, "/status?key=%d&code=500", ++g_key) == 0);
	CHECK(dt < 3000);
	CHECK(r.status == 500);
	CHECK(r.attempts == 3);
	CHECK(strcmp(http_resp_header(&r, "X-Attempt"), "3") == 0);
	CHECK(r.body != NULL && strstr(r.body, "\"UNAVAILABLE\"") != NULL);
	ok = 1;
fail:
	http_resp_free(&r);
	return ok;
}

static int t_404_not_retried(void)
{
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	long long dt;
	int ok = 0;

	CHECK(fetch("GET", 3, &r, &err, &dt, "/status?key=%d&code=404", ++g_key) == 0);
	CHECK(r.status == 404 && r.attempts == 1);
	CHECK(strcmp(http_resp_header(&r, "X-Attempt"), "1") == 0);
	CHECK(strstr(r.body, "errors") != NULL);
	ok = 1;
fail:
	http_resp_free(&r);
	return ok;
}

/* A drop halfway through a body, then the download resumes (or restarts). */
static int cut_case(const char *mode, long expect_status, int expect_zero_resets)
{
	struct http_client *c = client(3);
	struct msink s = { 0 };
	struct http_req req = { .method = "GET", .sink = msink_write,
	                        .sink_reset = msink_reset, .sink_ctx = &s };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/cut?key=%d&size=200000&cut=70000&range=%s", ++g_key, mode);
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == expect_status);
	CHECK(s.len == 200000 && is_pattern(s.p, s.len));
	CHECK(s.zero_resets == expect_zero_resets);
	CHECK(r.attempts == (strcmp(mode, "refuse") == 0 ? 3 : 2));
	if (strcmp(mode, "honour") == 0) {
		/* the sink held what arrived before the cut (70000 bytes, unless
		 * the kernel lost some) and got the rest from there */
		char want[64];

		CHECK(s.resets == 1);
		CHECK(s.last_offset > 0 && s.last_offset <= 70000);
		snprintf(want, sizeof(want), "bytes=%lld-", s.last_offset);
		CHECK(strcmp(http_resp_header(&r, "X-Seen-Range"), want) == 0);
	}
	if (strcmp(mode, "refuse") == 0)
		CHECK(strcmp(http_resp_header(&r, "X-Seen-Range"), "none") == 0);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s; status %ld, held %zu, resets %d/%d", err.msg, r.status, s.len,
		     s.resets, s.zero_resets);
	http_resp_free(&r);
	http_client_free(c);
	free(s.p);
	return ok;
}

static int t_cut_resume(void)
{
	return cut_case("honour", 206, 0);
}

static int t_cut_range_ignored(void)
{
	return cut_case("ignore", 200, 1);
}

static int t_cut_range_refused(void)
{
	return cut_case("refuse", 200, 1);
}

static int t_resume_from(void)
{
	struct http_client *c = client(0);
	struct msink s = { 0 };
	struct http_req req = { .method = "GET", .sink = msink_write,
	                        .sink_reset = msink_reset, .sink_ctx = &s };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	unsigned char head[1000];
	char u[256];
	size_t i;
	int ok = 0;

	CHECK(c != NULL);
	for (i = 0; i < sizeof(head); i++)
		head[i] = pat(i);
	CHECK(msink_write(head, sizeof(head), &s) == sizeof(head));
	req.resume_from = 1000;
	req.url = url(u, sizeof(u), "/blob?size=5000");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 206);
	CHECK(s.len == 5000 && is_pattern(s.p, s.len));
	CHECK(s.resets == 0);
	ok = 1;
fail:
	http_resp_free(&r);
	http_client_free(c);
	free(s.p);
	return ok;
}

/* A part: range_start..range_end asked for, the sink gets those bytes. */
static int t_range_part(void)
{
	struct http_client *c = client(0);
	struct msink s = { 0 };
	struct http_req req = { .method = "GET", .sink = msink_write,
	                        .sink_reset = msink_reset, .sink_ctx = &s };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	size_t i;
	int ok = 0;

	CHECK(c != NULL);
	req.range_start = 1000;
	req.range_end = 2999;
	req.url = url(u, sizeof(u), "/blob?size=5000");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 206);
	CHECK(strcmp(http_resp_header(&r, "X-Seen-Range"), "bytes=1000-2999") == 0);
	CHECK(s.len == 2000);
	for (i = 0; i < s.len; i++)
		CHECK(s.p[i] == pat(1000 + i));
	CHECK(s.resets == 0);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s; status %ld, held %zu", err.msg, r.status, s.len);
	http_resp_free(&r);
	http_client_free(c);
	free(s.p);
	return ok;
}

static int t_post_echo(void)
{
	static const char body[] = "{\"metadata\":{\"name\":\"site\"}}";
	const char *hdrs[] = { "Content-Type: application/json", "ProjectUid: p1", NULL };
	struct http_client *c = client(0);
	struct http_req req = { .method = "POST", .headers = hdrs, .body = body,
	                        .body_len = sizeof(body) - 1 };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/echo");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200);
	CHECK(r.body_len == sizeof(body) - 1 && memcmp(r.body, body, r.body_len) == 0);
	CHECK(strcmp(http_resp_header(&r, "X-Method"), "POST") == 0);
	CHECK(strcmp(http_resp_header(&r, "X-Content-Type"), "application/json") == 0);
	http_resp_free(&r);

	/* an empty POST still says Content-Length: 0 (registry upload start) */
	req.headers = NULL;
	req.body = NULL;
	req.body_len = 0;
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200 && r.body_len == 0);
	CHECK(strcmp(http_resp_header(&r, "X-Content-Length"), "0") == 0);
	CHECK(strcmp(http_resp_header(&r, "X-Content-Type"), "none") == 0);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

struct stream {
	const char *data;
	size_t len, pos;
	int rewinds;
};

static size_t stream_read(char *buf, size_t len, void *ctx)
{
	struct stream *st = ctx;
	size_t n = st->len - st->pos;

	if (n > len)
		n = len;
	if (n > 7)
		n = 7; /* small reads: many callbacks */
	memcpy(buf, st->data + st->pos, n);
	st->pos += n;
	return n;
}

static int stream_rewind(void *ctx)
{
	struct stream *st = ctx;

	st->rewinds++;
	st->pos = 0;
	return 0;
}

static int t_streamed_body_retry(void)
{
	static const char body[] = "streamed body of unknown length, sent chunked";
	struct stream st = { body, sizeof(body) - 1, 0, 0 };
	struct http_client *c = client(3);
	struct http_req req = { .method = "PATCH", .body_read = stream_read,
	                        .body_rewind = stream_rewind, .body_ctx = &st,
	                        .body_size = -1 };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/flaky?key=%d&fail=1&code=502", ++g_key);
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200 && r.attempts == 2);
	CHECK(r.body_len == st.len && memcmp(r.body, body, st.len) == 0);
	CHECK(st.rewinds == 1);
	http_resp_free(&r);

	/* known length: Content-Length, not chunked */
	st.pos = 0;
	req.method = "PUT";
	req.body_size = (long long)st.len;
	req.url = url(u, sizeof(u), "/echo");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200 && r.body_len == st.len);
	CHECK(strcmp(http_resp_header(&r, "X-Method"), "PUT") == 0);
	CHECK(strcmp(http_resp_header(&r, "X-Transfer-Encoding"), "none") == 0);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static const char *const auth_hdrs[] = {
	"Authorization: Bearer s3cret-token", "ApiKey: s3cret-key",
	"X-Registry-Token: s3cret-x", "X-Custom: visible", NULL,
};

static int t_redirect_other_host(void)
{
	struct http_client *c = client(0);
	struct http_req req = { .method = "GET", .headers = auth_hdrs, .follow_redirects = 1 };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[512];
	int ok = 0;

	CHECK(c != NULL);
	snprintf(u, sizeof(u), "%s/redirect?code=307&to=%s/headers", g_base, g_base_alt);
	req.url = u;
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200);
	CHECK(strncmp(r.effective_url, g_base_alt, strlen(g_base_alt)) == 0);
	CHECK(strstr(r.body, "X-Custom: visible") != NULL);
	CHECK(strstr(r.body, "s3cret") == NULL);
	CHECK(strstr(r.body, "Authorization") == NULL);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s; body: %s", err.msg, r.body ? r.body : "(none)");
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static int t_redirect_same_host(void)
{
	struct http_client *c = client(0);
	struct http_req req = { .method = "GET", .headers = auth_hdrs, .follow_redirects = 1 };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[512];
	int ok = 0;

	CHECK(c != NULL);
	/* relative Location, and an absolute one naming the same origin */
	req.url = url(u, sizeof(u), "/redirect?code=302&to=/headers");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200);
	CHECK(strstr(r.body, "Authorization: Bearer s3cret-token") != NULL);
	CHECK(strstr(r.body, "ApiKey: s3cret-key") != NULL);
	http_resp_free(&r);
	snprintf(u, sizeof(u), "%s/redirect?code=308&to=%s/headers", g_base, g_base);
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200);
	CHECK(strstr(r.body, "Authorization: Bearer s3cret-token") != NULL);
	ok = 1;
fail:
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

/* An upload Location on another origin: the request goes there, but the
 * credentials stay with the origin they belong to (cred_origin). */
static int t_cred_origin(void)
{
	struct http_client *c = client(0);
	struct http_req req = { .method = "GET", .headers = auth_hdrs };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[512];
	int ok = 0;

	CHECK(c != NULL);
	snprintf(u, sizeof(u), "%s/headers", g_base_alt);
	req.url = u;
	req.cred_origin = g_base;
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200);
	CHECK(strstr(r.body, "X-Custom: visible") != NULL);
	CHECK(strstr(r.body, "s3cret") == NULL);
	http_resp_free(&r);
	/* the same URL as the credentials' origin (another path) gets them */
	snprintf(u, sizeof(u), "%s/headers", g_base);
	req.cred_origin = g_base_alt;
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(strstr(r.body, "s3cret") == NULL);
	http_resp_free(&r);
	snprintf(u, sizeof(u), "%s/v2/x", g_base);
	req.cred_origin = u;
	snprintf(u + 256, sizeof(u) - 256, "%s/headers", g_base);
	req.url = u + 256;
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(strstr(r.body, "Authorization: Bearer s3cret-token") != NULL);
	/* origins: scheme, host (any case) and port (the default one too) */
	CHECK(http_same_origin("http://Reg.example/v2/", "http://reg.example:80/x?y=1"));
	CHECK(http_same_origin("https://reg.example/", "https://reg.example:443"));
	CHECK(http_same_origin("http://user@reg.example/", "http://reg.example/"));
	CHECK(!http_same_origin("https://reg.example/", "http://reg.example/"));
	CHECK(!http_same_origin("http://reg.example:5000/", "http://reg.example:5001/"));
	CHECK(!http_same_origin("http://reg.example/", "http://reg.example.evil/"));
	CHECK(!http_same_origin("http://reg.example/", "/v2/relative"));
	CHECK(!http_same_origin(NULL, "http://reg.example/"));
	ok = 1;
fail:
	if (!ok)
		diag("err: %s; body: %s", err.msg, r.body ? r.body : "(none)");
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static int t_redirect_not_followed_and_loop(void)
{
	struct http_client *c = client(2);
	struct http_req req = { .method = "GET" };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[512];
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/redirect?to=/headers");
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 302);
	CHECK(strcmp(http_resp_header(&r, "Location"), "/headers") == 0);
	http_resp_free(&r);

	req.follow_redirects = 1;
	req.url = url(u, sizeof(u), "/loop");
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strstr(err.msg, "too many redirects") != NULL);
	CHECK(r.body == NULL && r.status == 0);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int t_connection_refused(void)
{
	struct http_client *c = client(2);
	struct http_req req = { .method = "POST", .body = "x", .body_len = 1 };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256], want[400];
	long long t0;
	int port = free_port(), ok = 0;

	CHECK(c != NULL && port > 0);
	snprintf(u, sizeof(u), "http://user:pa55word@127.0.0.1:%d/v1/x", port);
	req.url = u;
	t0 = now_ms();
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(now_ms() - t0 < 2000);
	CHECK(err.code == EDGE_EREMOTE);
	snprintf(want, sizeof(want),
	         "POST http://<redacted>@127.0.0.1:%d/v1/x: connection refused (after 3 attempts)",
	         port);
	CHECK(strcmp(err.msg, want) == 0);
	CHECK(r.status == 0 && r.body == NULL);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_client_free(c);
	return ok;
}

static int t_sink_error(void)
{
	struct http_client *c = client(3);
	struct msink s = { 0 };
	struct http_req req = { .method = "GET", .sink = msink_write,
	                        .sink_reset = msink_reset, .sink_ctx = &s };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256], want[400];
	int ok = 0;

	CHECK(c != NULL);
	s.c = c;
	s.fail_after = 50000;
	req.url = url(u, sizeof(u), "/blob?size=300000");
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(err.code == EDGE_EIO);
	/* messages name the URL without its query string */
	snprintf(want, sizeof(want), "GET %.*s: write blob.tmp: No space left on device", (int)strcspn(u, "?"), u);
	CHECK(strcmp(err.msg, want) == 0);
	CHECK(s.resets == 0); /* a local failure is not retried */
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_client_free(c);
	free(s.p);
	return ok;
}

static int t_too_large(void)
{
	struct http_client *c = client(3);
	struct http_req req = { .method = "GET", .max_body = 1000 };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/blob?size=1001&key=%d", ++g_key);
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strstr(err.msg, "response too large") != NULL);
	req.url = url(u, sizeof(u), "/blob?size=1000");
	CHECK(http_do(c, &req, &r, &err) == 0 && r.body_len == 1000);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static int t_timeout(void)
{
	struct http_opts o = { .retries = 5, .timeout_ms = 300 };
	struct edge_err err = { 0 };
	struct http_client *c = http_client_new(&o, NULL, &err);
	struct http_req req = { .method = "GET", .no_retry = 1 };
	struct http_resp r = { 0 };
	char u[256];
	long long t0;
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/sleep?ms=2000");
	t0 = now_ms();
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(now_ms() - t0 < 1500);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strstr(err.msg, "timed out") != NULL);
	CHECK(strstr(err.msg, "attempts") == NULL);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_client_free(c);
	return ok;
}

static int redact_is(const char *in, const char *want)
{
	char *got = http_redact_header(in);
	int ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		diag("redact(\"%s\") = \"%s\", want \"%s\"", in, got ? got : "(null)", want);
	free(got);
	return ok;
}

static int t_redact(void)
{
	int ok = 1;
	char *u;

	ok &= redact_is("Authorization: Bearer abc.def\r\n", "Authorization: <redacted>");
	ok &= redact_is("authorization:Basic dXNlcjpwYXNz", "authorization: <redacted>");
	ok &= redact_is("Proxy-Authorization: Basic eA==", "Proxy-Authorization: <redacted>");
	ok &= redact_is("ApiKey: 123", "ApiKey: <redacted>");
	ok &= redact_is("Cookie: a=b; c=d", "Cookie: <redacted>");
	ok &= redact_is("Set-Cookie: sid=1; HttpOnly", "Set-Cookie: <redacted>");
	ok &= redact_is("X-Registry-Token: t", "X-Registry-Token: <redacted>");
	ok &= redact_is("x-auth-token: t", "x-auth-token: <redacted>");
	ok &= redact_is("Content-Type: application/json", "Content-Type: application/json");
	ok &= redact_is("X-Tokenizer: keep", "X-Tokenizer: keep");
	ok &= redact_is("Www-Authenticate: Bearer realm=\"https://auth/token\"",
	                "Www-Authenticate: Bearer realm=\"https://auth/token\"");
	ok &= redact_is("HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK");
	ok &= redact_is("Location: https://u:p@s3.example/b?X-Amz-Signature=abc&partNumber=1",
	                "Location: https://<redacted>@s3.example/b?X-Amz-Signature=<redacted>&partNumber=1");
	ok &= redact_is("GET /v2/x/blobs/sha256:ab?token=t0k&digest=sha256:cd HTTP/1.1",
	                "GET /v2/x/blobs/sha256:ab?token=<redacted>&digest=sha256:cd HTTP/1.1");
	ok &= redact_is("", "");
	u = http_redact_url("https://user:pw@host:5000/p?q=1#frag");
	ok &= u != NULL && strcmp(u, "https://<redacted>@host:5000/p?q=1#frag") == 0;
	if (u != NULL && !ok)
		diag("redact_url: %s", u);
	free(u);
	u = http_redact_url("http://host/a@b");
	ok &= u != NULL && strcmp(u, "http://host/a@b") == 0;
	free(u);
	return ok;
}

/* -vv: headers logged, secrets redacted; -v: one line per attempt. */
static int t_verbose_log_redacted(void)
{
	struct http_client *c = client(2);
	struct http_req req = { .method = "GET", .headers = auth_hdrs };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char path[PATH_MAX + 16], u[256], log[65536];
	int fd = -1, saved = -1, ok = 0;
	ssize_t n;

	CHECK(c != NULL);
	snprintf(path, sizeof(path), "%s/log", g_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	CHECK(saved >= 0 && dup2(fd, 2) == 2);
	edge_log_set_verbosity(2);
	req.url = url(u, sizeof(u), "/flaky?key=%d&fail=1&code=503&retry_after=0", ++g_key);
	CHECK(http_do(c, &req, &r, &err) == 0);
	edge_log_set_verbosity(0);
	fflush(stderr);
	dup2(saved, 2);
	n = pread(fd, log, sizeof(log) - 1, 0);
	CHECK(n > 0);
	log[n] = '\0';
	CHECK(strstr(log, "s3cret") == NULL);
	CHECK(strstr(log, "> Authorization: <redacted>") != NULL);
	CHECK(strstr(log, "> ApiKey: <redacted>") != NULL);
	CHECK(strstr(log, "> X-Custom: visible") != NULL);
	CHECK(strstr(log, "< HTTP/1.1 503") != NULL);
	CHECK(strstr(log, " -> 503 (") != NULL);
	CHECK(strstr(log, " -> 200 (3 bytes, ") != NULL);
	CHECK(strstr(log, "HTTP 503, retrying in 0 ms (retry 1 of 2)") != NULL);
	ok = 1;
fail:
	edge_log_set_verbosity(0);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (!ok && fd >= 0 && (n = pread(fd, log, sizeof(log) - 1, 0)) > 0) {
		log[n] = '\0';
		diag("log:\n%s", log);
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static int t_tls(void)
{
	struct http_opts o = { .retries = 3 };
	struct edge_err err = { 0 };
	struct http_client *c = NULL;
	struct http_req req = { .method = "GET" };
	struct http_resp r = { 0 };
	char u[256];
	int ok = 0;

	if (g_tls_port <= 0) {
		printf("# SKIP no test certificate\n");
		return 1;
	}
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/hello", g_tls_port);
	req.url = u;
	/* system CAs do not know the test certificate: no retry */
	c = http_client_new(&o, NULL, &err);
	CHECK(c != NULL);
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strncmp(err.msg, "GET https://127.0.0.1:", 22) == 0);
	CHECK(strstr(err.msg, ": TLS certificate verification failed: ") != NULL);
	/* one attempt: a retried failure says "after N attempts" */
	CHECK(strstr(err.msg, "attempts") == NULL);
	http_client_free(c);

	/* --ca-file: trusted */
	o.ca_file = g_cert;
	c = http_client_new(&o, NULL, &err);
	CHECK(c != NULL);
	CHECK(http_do(c, &req, &r, &err) == 0);
	CHECK(r.status == 200 && strcmp(r.body, "hello world\n") == 0);
	http_resp_free(&r);
	/* the certificate names localhost too */
	snprintf(u, sizeof(u), "https://localhost:%d/hello", g_tls_port);
	CHECK(http_do(c, &req, &r, &err) == 0 && r.status == 200);
	http_resp_free(&r);
	http_client_free(c);

	/* --insecure */
	o.ca_file = NULL;
	o.insecure = 1;
	c = http_client_new(&o, NULL, &err);
	CHECK(c != NULL);
	CHECK(http_do(c, &req, &r, &err) == 0 && r.status == 200);
	http_resp_free(&r);
	http_client_free(c);

	/* an unreadable CA file is the caller's input error */
	o.insecure = 0;
	o.ca_file = "/nonexistent/ca.pem";
	c = http_client_new(&o, NULL, &err);
	CHECK(c != NULL);
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(err.code == EDGE_EINPUT);
	CHECK(strstr(err.msg, "/nonexistent/ca.pem") != NULL);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

struct worker {
	struct http_share *share;
	int ok;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct http_opts o = { .retries = 2 };
	struct edge_err err = { 0 };
	struct http_client *c = http_client_new(&o, w->share, &err);
	struct http_req req = { .method = "GET" };
	struct http_resp r = { 0 };
	char u[256];
	int i;

	w->ok = c != NULL;
	req.url = url(u, sizeof(u), "/blob?size=20000");
	for (i = 0; w->ok && i < 10; i++) {
		w->ok = http_do(c, &req, &r, &err) == 0 && r.status == 200 &&
		        r.body_len == 20000 && is_pattern((unsigned char *)r.body, r.body_len);
		http_resp_free(&r);
	}
	http_client_free(c);
	return NULL;
}

static int t_threads_shared(void)
{
	struct http_share *sh = http_share_new(NULL);
	struct worker w[4];
	pthread_t th[4];
	int i, ok = sh != NULL;

	for (i = 0; ok && i < 4; i++) {
		w[i].share = sh;
		w[i].ok = 0;
		if (pthread_create(&th[i], NULL, worker_run, &w[i]) != 0)
			return 0;
	}
	for (i = 0; sh != NULL && i < 4; i++) {
		pthread_join(th[i], NULL);
		ok &= w[i].ok;
	}
	http_share_free(sh);
	return ok;
}

/* A server that dribbles (5 bytes/s, above libcurl's 1 byte/s floor) is
 * cut off by the stall timeout, each attempt, and the request fails as a
 * network error after its retries. */
static int stalled(const char *path)
{
	struct http_opts o = { .retries = 1, .low_speed_time_s = 1 };
	struct edge_err err = { 0 };
	struct http_client *c = http_client_new(&o, NULL, &err);
	struct http_req req = { .method = "GET" };
	struct http_resp r = { 0 };
	char u[256];
	long long t0, dt = -1;
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "%s?key=%s-%d", path, path, g_key++);
	t0 = now_ms();
	CHECK(http_do(c, &req, &r, &err) == -1);
	dt = now_ms() - t0;
	CHECK(dt < 8000);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strstr(err.msg, ": stalled: less than 1024 bytes/s for 1 s (after 2 attempts)") != NULL);
	ok = 1;
fail:
	if (!ok)
		diag("%s: %lld ms, err: %s", path, dt, err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

static int t_stall_headers(void)
{
	return stalled("/slow-headers");
}

static int t_stall_body(void)
{
	return stalled("/slow-body");
}

/* timeout_ms bounds an attempt, its redirects included: two hops of 500 ms
 * each fit a 800 ms limit one by one, not together. */
static int t_timeout_redirects(void)
{
	struct http_opts o = { .retries = 1, .timeout_ms = 800 };
	struct edge_err err = { 0 };
	struct http_client *c = http_client_new(&o, NULL, &err);
	struct http_req req = { .method = "GET", .follow_redirects = 1 };
	struct http_resp r = { 0 };
	char u[256];
	long long t0, dt = -1;
	int ok = 0;

	CHECK(c != NULL);
	req.url = url(u, sizeof(u), "/redirect?ms=500&to=/sleep%%3Fms%%3D500");
	t0 = now_ms();
	CHECK(http_do(c, &req, &r, &err) == -1);
	dt = now_ms() - t0;
	CHECK(dt < 3000);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strstr(err.msg, "timed out: no complete response within 800 ms (after 2 attempts)") != NULL);
	ok = 1;
fail:
	if (!ok)
		diag("%lld ms, err: %s", dt, err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

/* A listener whose accept queue is full drops new SYNs: connecting hangs
 * until the connect timeout, a retryable fault. */
static int t_connect_timeout(void)
{
	struct http_opts o = { .retries = 1, .connect_timeout_ms = 300 };
	struct edge_err err = { 0 };
	struct http_client *c = http_client_new(&o, NULL, &err);
	struct http_req req = { .method = "GET" };
	struct http_resp r = { 0 };
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd = -1, cfd[2] = { -1, -1 }, i, ok = 0;
	char u[128];
	long long t0, dt = -1;

	CHECK(c != NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 0) == 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	/* fill the accept queue (backlog 0 holds one) and then some */
	for (i = 0; i < 2; i++) {
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		CHECK(cfd[i] >= 0);
		connect(cfd[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	usleep(100000);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", ntohs(sa.sin_port));
	req.url = u;
	t0 = now_ms();
	CHECK(http_do(c, &req, &r, &err) == -1);
	dt = now_ms() - t0;
	CHECK(dt < 3000);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strstr(err.msg, "timed out: no connection within 300 ms (after 2 attempts)") != NULL);
	ok = 1;
fail:
	if (!ok)
		diag("%lld ms, err: %s", dt, err.msg);
	for (i = 0; i < 2; i++)
		if (cfd[i] >= 0)
			close(cfd[i]);
	if (lfd >= 0)
		close(lfd);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

/* Messages name a URL without userinfo, query or fragment; host lists
 * match HOST and HOST:PORT. */
static int t_message_url_hosts(void)
{
	char *list[] = { "quay.io", "127.0.0.1:5000", "[::1]:7000" };
	char *u = http_message_url("https://u:p@h:5000/v2/x/blobs/uploads/1?_state=abc&digest=sha256:00#f");
	int ok = u != NULL && strcmp(u, "https://<redacted>@h:5000/v2/x/blobs/uploads/1") == 0;

	if (!ok)
		diag("message_url: %s", u ? u : "(null)");
	free(u);
	ok &= http_hosts_match(list, 3, "quay.io");
	ok &= http_hosts_match(list, 3, "QUAY.io:443");
	ok &= http_hosts_match(list, 3, "127.0.0.1:5000");
	ok &= !http_hosts_match(list, 3, "127.0.0.1:5001");
	ok &= !http_hosts_match(list, 3, "127.0.0.1");
	ok &= http_hosts_match(list, 3, "[::1]:7000");
	ok &= !http_hosts_match(list, 3, "[::1]");
	ok &= !http_hosts_match(list, 0, "quay.io");
	return ok;
}

/* An https URL answered by a plain-HTTP server: one attempt, the reason
 * said plainly, the cause told. */
static int t_not_tls(void)
{
	struct http_client *c = client(3);
	struct http_req req = { .method = "GET" };
	struct http_resp r = { 0 };
	struct edge_err err = { 0 };
	char u[256];
	int ok = 0;

	CHECK(c != NULL);
	snprintf(u, sizeof(u), "https://%s/blob?size=10", g_base + strlen("http://"));
	req.url = u;
	CHECK(http_do(c, &req, &r, &err) == -1);
	CHECK(err.code == EDGE_EREMOTE);
	CHECK(strstr(err.msg, "the server answered in plain HTTP, not TLS") != NULL);
	CHECK(strstr(err.msg, "after") == NULL);
	CHECK(strstr(err.msg, "?size") == NULL);
	CHECK(http_last_cause(c) == HTTP_CAUSE_NOT_TLS);
	ok = 1;
fail:
	if (!ok)
		diag("err: %s", err.msg);
	http_resp_free(&r);
	http_client_free(c);
	return ok;
}

struct test {
	int (*fn)(void);
	const char *desc;
	int needs_server;
};

static const struct test tests[] = {
	{ t_redact, "http_redact_header/http_redact_url hide secrets", 0 },
	{ t_get_buffered, "plain GET, body buffered", 1 },
	{ t_head, "HEAD: headers, no body", 1 },
	{ t_get_sink, "GET into a sink", 1 },
	{ t_503_retry_after, "503 then 200, Retry-After: 1 honoured", 1 },
	{ t_429_retry_after_date, "429 then 200, Retry-After as an HTTP date", 1 },
	{ t_500_forever, "500 forever: last 500 returned after 2 retries", 1 },
	{ t_404_not_retried, "404 is not retried", 1 },
	{ t_cut_resume, "connection cut mid-body: resumed with Range, 206, every byte once", 1 },
	{ t_cut_range_ignored, "server answers 200 to Range: sink restarts from zero", 1 },
	{ t_cut_range_refused, "server answers 416 to Range: sink restarts from zero", 1 },
	{ t_resume_from, "resume_from: the first attempt already sends Range", 1 },
	{ t_range_part, "range_start/range_end: a part asks for bytes=A-B, 206, those bytes", 1 },
	{ t_post_echo, "POST body echoed back; empty POST sends Content-Length: 0", 1 },
	{ t_streamed_body_retry, "streamed PATCH body (chunked) rewound for a retry; PUT with length", 1 },
	{ t_redirect_other_host, "redirect to another host drops Authorization, ApiKey, X-*-Token", 1 },
	{ t_redirect_same_host, "redirect on the same host keeps Authorization", 1 },
	{ t_redirect_not_followed_and_loop, "3xx returned when not following; redirect loop fails", 1 },
	{ t_connection_refused, "connection refused: -1 EDGE_EREMOTE after bounded retries", 0 },
	{ t_sink_error, "sink failure: -1 EDGE_EIO with the sink's reason, no retry", 1 },
	{ t_too_large, "buffered body over max_body: response too large", 1 },
	{ t_timeout, "timeout_ms aborts a slow attempt", 1 },
	{ t_timeout_redirects, "timeout_ms bounds an attempt with its redirects together", 1 },
	{ t_stall_headers, "headers dribbled at 5 bytes/s: stalled, retried, EDGE_EREMOTE", 1 },
	{ t_stall_body, "a body dribbled at 5 bytes/s: stalled, retried, EDGE_EREMOTE", 1 },
	{ t_connect_timeout, "a connect that hangs: timed out, retried, EDGE_EREMOTE", 0 },
	{ t_cred_origin, "cred_origin: credentials only to their origin, not the URL's", 1 },
	{ t_verbose_log_redacted, "-vv logs headers redacted, -v one line per attempt and retry", 1 },
	{ t_tls, "TLS: unknown CA fails unretried; --ca-file and --insecure work", 1 },
	{ t_threads_shared, "four threads, one client each, one share", 1 },
	{ t_message_url_hosts, "http_message_url drops the query; http_hosts_match", 0 },
	{ t_not_tls, "https to a plain-HTTP server: not retried, said plainly", 1 },
};

int main(void)
{
	size_t i, n = sizeof(tests) / sizeof(tests[0]);
	int have_server;

	edge_log_init("test_http");
	setenv("EDGE_RETRY_BASE_MS", "10", 1);
	/* the server is local: no proxy from the environment */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	atexit(stop_server);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	have_server = start_server() == 0;
	plan((int)n);
	if (!have_server)
		diag("cannot start tests/servers/flaky-http.py");
	for (i = 0; i < n; i++)
		okf((!tests[i].needs_server || have_server) && tests[i].fn(), "%s", tests[i].desc);
	stop_server();
	return done_testing();
}
