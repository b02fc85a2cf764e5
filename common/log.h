/*
 * Logging to stderr: "edge-NAME: message" on one line. One verbosity
 * counter for the whole program (STYLE.md §10): -1 = quiet (errors only),
 * 0 = normal, 1 = verbose (-v), 2 = very verbose (-vv, e.g. HTTP headers,
 * secrets redacted). Safe to call from several threads (one fputs per line).
 */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H

/* Sets the program name used as prefix, e.g. "edge-resolve". */
void edge_log_init(const char *progname);
const char *edge_progname(void);

void edge_log_set_verbosity(int level);
int edge_log_verbosity(void);
/* The front end's progress renderer says whether its redrawn line is on
 * stderr without a newline; while it is, a log line clears it first, so a
 * warning or an error never lands at the end of a half-drawn line. */
void edge_log_line_open(int open);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "edge-NAME: warning: …"; hidden by -q */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* normal informational line; hidden by -q */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* only with -v */
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* only with -vv */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The out-of-memory policy of every tool: writes "edge: out of memory" to
 * stderr and aborts (a tool cannot go on). The x* allocators (fsutil.h) and
 * any library call whose only failure is memory end here; this module is
 * the one place in libedge.a that writes or ends the process. */
void edge_oom(void) __attribute__((noreturn));

#endif
