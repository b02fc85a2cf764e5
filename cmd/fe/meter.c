#include "meter.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "log.h"

const char *meter_size(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

/* "1:05:03", "4:07": seconds as a clock. */
static void clock_text(char *buf, size_t len, long long s)
{
	if (s >= 3600)
		snprintf(buf, len, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len, "%lld:%02lld", s / 60, s % 60);
}

/* "3/12 blobs, 41.0 MiB of 341.0 MiB uploaded, 20.5 MiB/s, 0:15 left" */
static void meter_line(const struct meter *m, const struct progress_info *pi, long long t, char *line, size_t len)
{
	char done[32], total[32], rate[32], eta[32];
	long long ms = t - m->first;
	double bps = ms > 0 ? (double)pi->bytes_done * 1000.0 / (double)ms : 0;
	size_t n;

	snprintf(line, len, "%zu/%zu %s, %s", pi->items_done, pi->items_total, pi->label,
		 meter_size(done, sizeof(done), pi->bytes_done));
	n = strlen(line);
	if (pi->bytes_total > 0 && n < len)
		n += (size_t)snprintf(line + n, len - n, " of %s", meter_size(total, sizeof(total), pi->bytes_total));
	if (pi->verb != NULL && n < len)
		n += (size_t)snprintf(line + n, len - n, " %s", pi->verb);
	if (ms >= 500 && bps >= 1 && n < len) {
		n += (size_t)snprintf(line + n, len - n, ", %s/s", meter_size(rate, sizeof(rate), (uint64_t)bps));
		if (!pi->final && pi->bytes_total > pi->bytes_done && n < len) {
			clock_text(eta, sizeof(eta), (long long)((double)(pi->bytes_total - pi->bytes_done) / bps + 0.999));
			snprintf(line + n, len - n, ", %s left", eta);
		}
	}
}

static void meter_draw(void *ctx, const struct progress_info *pi)
{
	struct meter *m = ctx;
	long long t = m->now();
	char line[256];

	if (!m->started) {
		m->started = 1;
		m->shown = 0;
		m->first = t;
		m->last = t - (m->mode > 0 ? METER_REDRAW_MS : 0);
	}
	if (pi->final ? m->mode == 0 : t - m->last < (m->mode > 0 ? METER_REDRAW_MS : METER_PLAIN_MS))
		goto end;
	if (m->mode > 0 && !m->shown && t - m->first < m->delay)
		goto end;
	m->last = t;
	m->shown = 1;
	meter_line(m, pi, t, line, sizeof(line));
	if (m->mode > 0) {
		fprintf(stderr, "\r%s: %s\033[K%s", edge_progname(), line, pi->final ? "\n" : "");
		m->drawn = !pi->final;
		edge_log_line_open(m->drawn);
	} else {
		log_info("%s", line);
	}
end:
	if (pi->final)
		m->started = 0; /* a next report is new work (edge-verify: signature, then blobs) */
}

progress_fn meter_start(struct meter *m)
{
	/* -q wins over --progress=always */
	m->mode = edge_log_verbosity() < 0 ? -1 : cli_progress_tty();
	m->started = 0;
	m->drawn = 0;
	m->shown = 0;
	m->delay = isatty(2) ? METER_DELAY_MS : 0;
	m->now = mono_ms;
	m->begin = m->now();
	m->first = 0;
	m->last = 0;
	return m->mode < 0 ? NULL : meter_draw;
}

void meter_summary(const struct meter *m, const char *fmt, ...)
{
	char what[512], took[32];
	long long ms = m->now() - m->begin;
	va_list ap;

	if (edge_log_verbosity() < 0 || !isatty(2))
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ms < 10000)
		snprintf(took, sizeof(took), "%.1f s", (double)ms / 1000);
	else if (ms < 60000)
		snprintf(took, sizeof(took), "%lld s", ms / 1000);
	else
		clock_text(took, sizeof(took), ms / 1000);
	fprintf(stderr, "%s%s: %s in %s\n", m->drawn ? "\r\033[K" : "", edge_progname(), what, took);
}
