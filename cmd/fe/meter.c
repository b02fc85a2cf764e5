#include "meter.h"

#include <stdio.h>

#include "cli.h"
#include "fsutil.h"
#include "log.h"

#define MIB(b) ((double)(b) / (1 << 20))

static void meter_draw(void *ctx, const struct progress_info *pi)
{
	struct meter *m = ctx;
	long long t = mono_ms();
	char line[256];
	int n;

	if (!m->started) {
		m->started = 1;
		m->last = t;
	}
	if (pi->final ? m->mode == 0 : t - m->last < (m->mode > 0 ? 250 : 5000))
		return;
	m->last = t;
	n = snprintf(line, sizeof(line), "%zu/%zu %s, %.1f", pi->items_done, pi->items_total, pi->label,
		     MIB(pi->bytes_done));
	if (n > 0 && (size_t)n < sizeof(line) && pi->bytes_total > 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " of %.1f", MIB(pi->bytes_total));
	if (n > 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, " MiB%s%s", pi->verb ? " " : "", pi->verb ? pi->verb : "");
	if (m->mode > 0)
		fprintf(stderr, "\r%s: %s\033[K%s", edge_progname(), line, pi->final ? "\n" : "");
	else
		log_info("%s", line);
}

progress_fn meter_start(struct meter *m)
{
	/* -q wins over --progress=always */
	m->mode = edge_log_verbosity() < 0 ? -1 : cli_progress_tty();
	m->started = 0;
	m->last = 0;
	return m->mode < 0 ? NULL : meter_draw;
}
