/*
 * The one progress renderer: turns an engine's progress callbacks
 * (common/progress.h) into a line on stderr. On a terminal (or with
 * --progress=always) one line redrawn with '\r' (and a clear to the end of
 * the line) about every METER_REDRAW_MS: items, bytes done and the total,
 * the rate and the time left; otherwise a plain line at most every 5 s;
 * nothing with --progress=never or -q. And the one closing line a run
 * prints on a terminal (meter_summary).
 */
#ifndef EDGE_METER_H
#define EDGE_METER_H

#include <stddef.h>
#include <stdint.h>

#include "progress.h"

#define METER_REDRAW_MS 180 /* engines report every PROGRESS_TICK_MS: a redraw at least every 200 ms */
#define METER_PLAIN_MS 5000
/* On a terminal, nothing is drawn for work that ends this soon (git's
 * delayed progress): a quick run shows no line to blink past. */
#define METER_DELAY_MS 500

struct meter {
	int mode;        /* cli_progress_tty(): 1 redrawn, 0 plain lines, -1 none */
	int started;     /* the first report came */
	int drawn;       /* a redrawn line is on the screen */
	int shown;       /* something was drawn since the first report */
	int delay;       /* ms from the first report before the first line */
	long long begin; /* meter_start (mono_ms): the run's time, for meter_summary */
	long long first; /* the first report: the rate's clock */
	long long last;  /* when the last line was drawn */
	long long (*now)(void); /* the clock, in ms: mono_ms; a test sets its own */
};

/* Sets m up for one run of an engine; the rate's clock starts with the
 * engine's first report, so that setting up is not counted. Returns the
 * callback to hand the engine, with m as its context, or NULL when no
 * progress is shown. */
progress_fn meter_start(struct meter *m);

/* "341.0 MiB": bytes in binary units, into buf. Returns buf. */
const char *meter_size(char *buf, size_t len, uint64_t bytes);

/* The closing line of a run: "edge-X: WHAT in 14 s" on stderr, only when
 * stderr is a terminal and not with -q; stdout stays the manifest. The
 * time is m's since meter_start. */
void meter_summary(const struct meter *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
