#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_prog = "edge";
static int g_verbosity;
static _Atomic int g_line_open; /* a progress line without its newline is on stderr */

void edge_log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	g_prog = slash ? slash + 1 : progname;
}

const char *edge_progname(void)
{
	return g_prog;
}

void edge_log_set_verbosity(int level)
{
	g_verbosity = level;
}

int edge_log_verbosity(void)
{
	return g_verbosity;
}

void edge_log_line_open(int open)
{
	g_line_open = open;
}

static void vlog(const char *tag, const char *fmt, va_list ap)
{
	char line[4096];
	int n;

	/* over a progress line still being redrawn: clear it first (the
	 * meter draws it again at its next report) */
	n = snprintf(line, sizeof(line), "%s%s: %s", g_line_open ? "\r\033[K" : "", g_prog, tag);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* one write per line keeps lines whole when threads log at once */
	n = (int)strlen(line);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}

#define DEFINE_LOG(fn, minlevel, tag)                                          \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		if (g_verbosity < (minlevel))                                  \
			return;                                                \
		va_start(ap, fmt);                                             \
		vlog(tag, fmt, ap);                                            \
		va_end(ap);                                                    \
	}

DEFINE_LOG(log_error, -100, "")
DEFINE_LOG(log_warn, 0, "warning: ")
DEFINE_LOG(log_info, 0, "")
DEFINE_LOG(log_verbose, 1, "")
DEFINE_LOG(log_debug, 2, "")

void edge_oom(void)
{
	static const char msg[] = "edge: out of memory\n";
	/* write(2), not stdio: nothing here may need memory */
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	abort();
}
