/* tap.h: the TAP output of the C unit tests, in one place (tests/run.sh
 * counts the "ok" and "not ok" lines and checks the exit status).
 *
 *	plan(3);                    or nothing, and done_testing() prints 1..N
 *	ok(strcmp(a, b) == 0, "same text", a, b);   got a, expected b
 *	okf(rc == 0, "loads %s", path);
 *	return done_testing();      1 when a test failed or the count is off
 *
 * Each unit test is one program, so the state is static here. */
#ifndef EDGE_TAP_H
#define EDGE_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_run, tap_failed, tap_planned = -1;

/* Prints the plan, 1..n, before the first test. */
static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* A "# " comment line. */
static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* One test: "ok N - desc" or "not ok N - desc"; desc is a printf format.
 * Returns cond. stdout is flushed, as some tests fork. */
static inline int okf(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int okf(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/* One test that says what it got and what it expected when it fails. The
 * condition is the caller's; got and want (NULL allowed) only explain it. */
static inline int ok(int cond, const char *desc, const char *got, const char *want)
{
	if (!okf(cond, "%s", desc))
		diag("got      %s\n# expected %s", got ? got : "(null)", want ? want : "(null)");
	return cond;
}

/* The end: prints the plan when plan() was not called. Returns the exit
 * status, 1 when a test failed or the number run is not the plan. */
static inline int done_testing(void)
{
	if (tap_planned < 0) {
		printf("1..%d\n", tap_run);
	} else if (tap_run != tap_planned) {
		diag("ran %d tests, planned %d", tap_run, tap_planned);
		return 1;
	}
	fflush(stdout);
	return tap_failed != 0;
}

#endif
