/*
 * Errors: library functions never print and never exit. They return -1 (or
 * NULL) and fill a caller-owned struct edge_err with an exit class from
 * exit.h and a one-line, lowercase message. The tool prefixes its own name
 * and decides what to do (STYLE.md §1, §4).
 */
#ifndef EDGE_ERR_H
#define EDGE_ERR_H

#include <stdarg.h>
#include "exit.h"

#define EDGE_ERR_MAX 1024

struct edge_err {
	int code;               /* an enum edge_exit value; 0 while no error */
	char msg[EDGE_ERR_MAX]; /* "context: reason", no program name, no newline */
};

/* Sets code and message (vprintf-style). Control characters that came in
 * through the arguments (an entry name, a header, a file's text) are
 * written as \xNN, so a message is always one line and cannot drive a
 * terminal. err may be NULL. */
void edge_err_vset(struct edge_err *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* The same, printf-style. */
void edge_err_set(struct edge_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets code and message (printf-style) as edge_err_set, and is -1, so
 * callers can write `return edge_errf(err, EDGE_EINPUT, "...")`. err may be
 * NULL. A macro (a GNU statement expression), so that static analyzers see
 * the -1 on every path: they do not follow variadic functions. */
#define edge_errf(err, code, ...) __extension__({ edge_err_set((err), (code), __VA_ARGS__); -1; })

/* Prepends "context: " to the existing message, keeping the code.
 * Returns -1. err may be NULL. Control characters as for edge_err_vset. */
int edge_err_prefix(struct edge_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sets the message from errno: "context: strerror(errno)"; the code is
 * EDGE_EIO. Returns -1. */
int edge_err_errno(struct edge_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Clears an error. */
void edge_err_clear(struct edge_err *err);

#endif
