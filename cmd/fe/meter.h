/*
 * The one progress renderer: turns an engine's progress callbacks
 * (common/progress.h) into a line on stderr. On a terminal (or with
 * --progress=always) a line redrawn with '\r' at most every 250 ms and at
 * the end; otherwise a plain line at most every 5 s; nothing with
 * --progress=never or -q.
 */
#ifndef EDGE_METER_H
#define EDGE_METER_H

#include "progress.h"

struct meter {
	int mode;       /* cli_progress_tty(): 1 redrawn, 0 plain lines, -1 none */
	int started;    /* the first report came */
	long long last; /* when the last line was drawn, or the first report came (mono_ms) */
};

/* Sets m up for one run of an engine; its clock starts with the engine's
 * first report (the first item done), so that setting up is not counted.
 * Returns the callback to hand the engine, with m as its context, or NULL
 * when no progress is shown. */
progress_fn meter_start(struct meter *m);

#endif
