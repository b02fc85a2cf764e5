/*
 * Unit test of the front end (cmd/fe/): the progress renderer (meter.c) and
 * how cli.c reports errors (cli_fail's usage lines, cli_report without
 * them). stderr is captured in a temp file. Output is TAP.
 */
#include "cli.h"
#include "meter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static FILE *g_cap;
static int g_saved = -1;

static void capture_start(void)
{
	fflush(stderr);
	g_cap = tmpfile();
	g_saved = dup(2);
	dup2(fileno(g_cap), 2);
}

/* What went to stderr since capture_start (static buffer). */
static const char *capture_end(void)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	dup2(g_saved, 2);
	close(g_saved);
	rewind(g_cap);
	n = fread(buf, 1, sizeof(buf) - 1, g_cap);
	buf[n] = '\0';
	fclose(g_cap);
	return buf;
}

/* The meter's clock in these tests: time moves only when a test says so,
 * so a loaded machine cannot change what is drawn. */
static long long g_now_ms = 1000000;

static long long fake_now(void)
{
	return g_now_ms;
}

static progress_fn start_fake(struct meter *m)
{
	progress_fn fn = meter_start(m);

	m->now = fake_now;
	m->begin = g_now_ms;
	return fn;
}

static void test_meter(void)
{
	struct meter m;
	progress_fn fn;
	struct progress_info pack = { 1, 2, 1u << 20, 2u << 20, "blobs", NULL, 0 };
	struct progress_info push = { 3, 3, 3u << 19, 0, "blobs", "uploaded", 1 };
	const char *out;

	cli_common_option(CLI_OPT_PROGRESS, "always");
	capture_start();
	fn = start_fake(&m);
	fn(&m, &pack); /* the first report is drawn at once; it starts the rate's clock */
	g_now_ms += METER_REDRAW_MS - 1;
	fn(&m, &pack); /* within METER_REDRAW_MS: not drawn */
	pack.items_done = 2;
	pack.bytes_done = 2u << 20;
	pack.final = 1;
	fn(&m, &pack);
	out = capture_end();
	okf(strcmp(out, "\rtest_fe: 1/2 blobs, 1.0 MiB of 2.0 MiB\033[K"
			"\rtest_fe: 2/2 blobs, 2.0 MiB of 2.0 MiB\033[K\n") == 0,
	   "--progress always: drawn, throttled, then the final line redrawn with a newline");

	capture_start();
	fn = start_fake(&m);
	pack = (struct progress_info){ 1, 2, 1u << 20, 2u << 20, "blobs", NULL, 0 };
	fn(&m, &pack);
	g_now_ms += 10000; /* 1 MiB in 10 s */
	fn(&m, &pack);
	out = capture_end();
	okf(strcmp(out, "\rtest_fe: 1/2 blobs, 1.0 MiB of 2.0 MiB\033[K"
			"\rtest_fe: 1/2 blobs, 1.0 MiB of 2.0 MiB, 102.4 KiB/s, 0:10 left\033[K") == 0,
	   "the rate and the time left, once half a second went by");

	capture_start();
	fn = start_fake(&m);
	fn(&m, &push);
	out = capture_end();
	okf(strcmp(out, "\rtest_fe: 3/3 blobs, 1.5 MiB uploaded\033[K\n") == 0,
	   "no total: bytes alone, and the verb after them");

	cli_common_option(CLI_OPT_PROGRESS, "auto"); /* stderr is a file: plain lines */
	capture_start();
	fn = start_fake(&m);
	pack = (struct progress_info){ 2, 2, 2u << 20, 2u << 20, "blobs", NULL, 0 };
	fn(&m, &pack); /* the clock starts */
	g_now_ms += METER_PLAIN_MS;
	fn(&m, &pack);
	g_now_ms += METER_PLAIN_MS - 1;
	fn(&m, &pack); /* within 5 s of the last line */
	push.final = 1;
	fn(&m, &push); /* the end draws nothing in plain mode */
	out = capture_end();
	okf(strcmp(out, "test_fe: 2/2 blobs, 2.0 MiB of 2.0 MiB, 409.6 KiB/s\n") == 0,
	   "not a terminal: a plain line every 5 s");

	cli_common_option(CLI_OPT_PROGRESS, "never");
	okf(meter_start(&m) == NULL, "--progress never: no callback");
	cli_common_option(CLI_OPT_PROGRESS, "always");
	cli_common_option('q', NULL);
	okf(meter_start(&m) == NULL, "-q: no callback, even with --progress always");
	edge_log_set_verbosity(0);
}

static void test_fail(void)
{
	struct edge_err err = {0};
	const char *out;
	int rc;

	edge_errf(&err, EDGE_EUSAGE, "stdin is a terminal, expected a manifest");
	capture_start();
	rc = cli_fail(&err);
	out = capture_end();
	okf(rc == EDGE_EUSAGE && strcmp(out, "test_fe: stdin is a terminal, expected a manifest\n"
					  "usage: test_fe [-x] [FILE]\ntry 'test_fe --help'\n") == 0,
	   "cli_fail: a usage error gets the synopsis and the try line, exit 2");
	capture_start();
	rc = cli_report(&err);
	out = capture_end();
	okf(rc == EDGE_EUSAGE && strcmp(out, "test_fe: stdin is a terminal, expected a manifest\n") == 0,
	   "cli_report: one line, exit 2");
	edge_errf(&err, EDGE_EREMOTE, "quay.io/a/b:1: not found");
	capture_start();
	rc = cli_fail(&err);
	out = capture_end();
	okf(rc == EDGE_EREMOTE && strcmp(out, "test_fe: quay.io/a/b:1: not found\n") == 0,
	   "cli_fail: other errors, one line and their code");
}

int main(void)
{
	cli_init("test_fe", "test_fe [-x] [FILE]", "usage: test_fe [-x] [FILE]\n");
	plan(9);
	test_meter();
	test_fail();
	return done_testing();
}
