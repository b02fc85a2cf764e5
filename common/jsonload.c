/*
 * jansson's allocations, counted while a parse has a budget (jsonload.h).
 * The count is per thread: parses on other threads, and allocations
 * outside a parse, are not charged.
 */
#include "jsonload.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct budget {
	int active, over;
	size_t left;
};

static _Thread_local struct budget tl_budget;
static size_t g_slack = JSON_PARSE_SLACK;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* what malloc takes for n bytes: a header and 16-byte granules, 32 at least */
static size_t charge(size_t n)
{
	size_t c = (n + 8 + 15) & ~(size_t)15;

	return c < 32 ? 32 : c;
}

static void *counted_malloc(size_t n)
{
	struct budget *b = &tl_budget;

	if (b->active) {
		size_t c = charge(n);
		if (c > b->left) {
			/* and every allocation after it: a conversion that goes
			 * on (yaml_to_json) builds nothing more */
			b->over = 1;
			b->left = 0;
			return NULL; /* jansson fails the parse: out of memory */
		}
		b->left -= c;
	}
	return malloc(n);
}

static void counted_free(void *p)
{
	free(p);
}

static void install(void)
{
	json_set_alloc_funcs(counted_malloc, counted_free);
}

void json_limits_init(void)
{
	pthread_once(&once, install);
}

void json_budget_set_slack(size_t slack)
{
	g_slack = slack;
}

size_t json_budget_limit(size_t len)
{
	if (len > (JSON_PARSE_MAX - g_slack) / JSON_PARSE_FACTOR)
		return (size_t)JSON_PARSE_MAX;
	return len * JSON_PARSE_FACTOR + g_slack;
}

void json_budget_begin(size_t limit)
{
	struct budget *b = &tl_budget;

	json_limits_init();
	b->active = 1;
	b->over = 0;
	b->left = limit;
}

int json_budget_end(void)
{
	struct budget *b = &tl_budget;

	b->active = 0;
	return b->over;
}

int json_budget_over(void)
{
	return tl_budget.active && tl_budget.over;
}

json_t *json_loadb_bounded(const char *buf, size_t len, size_t flags, json_error_t *je)
{
	size_t limit = json_budget_limit(len);
	json_t *doc;

	json_budget_begin(limit);
	doc = json_loadb(buf, len, flags, je);
	if (json_budget_end()) {
		/* a parse that failed for memory has freed what it built */
		json_decref(doc);
		doc = NULL;
		if (je != NULL) {
			memset(je, 0, sizeof(*je));
			snprintf(je->text, sizeof(je->text),
				 "denser than edge reads: parsing these %zu bytes takes more than %zu MiB", len,
				 limit >> 20);
		}
	}
	return doc;
}

const char *json_error_place(const json_error_t *je, char *buf, size_t n)
{
	if (je->line <= 0)
		buf[0] = '\0';
	else
		snprintf(buf, n, ":%d:%d", je->line, je->column);
	return buf;
}
