#include "progress.h"

#include <string.h>

#include "fsutil.h"

void progress_init(struct progress *p, progress_fn fn, void *ctx, const char *label, const char *verb)
{
	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->ctx = ctx;
	p->pi.label = label;
	p->pi.verb = verb;
	if (fn != NULL)
		pthread_mutex_init(&p->mu, NULL);
}

void progress_fini(struct progress *p)
{
	if (p->fn != NULL)
		pthread_mutex_destroy(&p->mu);
	p->fn = NULL;
}

void progress_add_total(struct progress *p, size_t items, uint64_t bytes)
{
	if (p->fn == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->pi.items_total += items;
	p->pi.bytes_total += bytes;
	pthread_mutex_unlock(&p->mu);
}

/* Under p->mu: calls the callback with what is known now. */
static void progress_call(struct progress *p, long long now)
{
	struct progress_info pi = p->pi;

	/* a retry may count bytes twice: never past the total */
	if (pi.bytes_total > 0 && pi.bytes_done > pi.bytes_total)
		pi.bytes_done = pi.bytes_total;
	p->last = now;
	p->fn(p->ctx, &pi);
}

void progress_bytes(struct progress *p, uint64_t n)
{
	long long now;

	if (p->fn == NULL || n == 0)
		return;
	pthread_mutex_lock(&p->mu);
	p->pi.bytes_done += n;
	now = mono_ms();
	if (now - p->last >= PROGRESS_TICK_MS)
		progress_call(p, now);
	pthread_mutex_unlock(&p->mu);
}

void progress_item(struct progress *p, uint64_t bytes)
{
	if (p->fn == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->pi.items_done++;
	p->pi.bytes_done += bytes;
	progress_call(p, mono_ms());
	pthread_mutex_unlock(&p->mu);
}

void progress_end(struct progress *p, uint64_t done)
{
	if (p->fn == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if (done != UINT64_MAX)
		p->pi.bytes_done = done;
	p->pi.final = 1;
	progress_call(p, mono_ms());
	pthread_mutex_unlock(&p->mu);
}
