#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* out = a ": " b, cut to EDGE_ERR_MAX (b may be NULL). */
static void join(char out[EDGE_ERR_MAX], const char *a, const char *b)
{
	size_t n = strlen(a), m;

	if (n > EDGE_ERR_MAX - 1)
		n = EDGE_ERR_MAX - 1;
	memmove(out, a, n);
	if (b != NULL && n + 2 < EDGE_ERR_MAX) {
		out[n++] = ':';
		out[n++] = ' ';
		m = strlen(b);
		if (m > EDGE_ERR_MAX - 1 - n)
			m = EDGE_ERR_MAX - 1 - n;
		memcpy(out + n, b, m);
		n += m;
	}
	out[n] = '\0';
}

/* Rewrites control characters in msg (EDGE_ERR_MAX bytes) as \xNN, cutting
 * what no longer fits: a message is one line, whatever its arguments held. */
static void one_line(char *msg)
{
	char out[EDGE_ERR_MAX];
	size_t i, o = 0;

	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			break;
	if (msg[i] == '\0')
		return;
	for (i = 0; msg[i] != '\0' && o < EDGE_ERR_MAX - 1; i++) {
		unsigned char c = (unsigned char)msg[i];
		if (c < 0x20 || c == 0x7f) {
			if (o + 4 > EDGE_ERR_MAX - 1)
				break;
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	memcpy(msg, out, o + 1);
}

void edge_err_vset(struct edge_err *err, int code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	one_line(err->msg);
}

void edge_err_set(struct edge_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	edge_err_vset(err, code, fmt, ap);
	va_end(ap);
}

int edge_err_prefix(struct edge_err *err, const char *fmt, ...)
{
	char ctx[EDGE_ERR_MAX], old[EDGE_ERR_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	join(err->msg, ctx, old[0] ? old : NULL);
	one_line(err->msg);
	return -1;
}

int edge_err_errno(struct edge_err *err, const char *fmt, ...)
{
	char ctx[EDGE_ERR_MAX];
	int saved = errno;
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	err->code = EDGE_EIO;
	join(err->msg, ctx, strerror(saved));
	one_line(err->msg);
	errno = saved;
	return -1;
}

void edge_err_clear(struct edge_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
