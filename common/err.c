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

int edge_errf(struct edge_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
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
