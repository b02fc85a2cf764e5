/*
 * JSON from outside, parsed within a memory budget. jansson builds a tree
 * of small allocations: the JSON edge reads takes 3 to 9 times its size
 * in memory, but text made to be dense takes far more ("[{},{},...]" 80
 * times, "[0,0,...]" 25 times), and a bundle, a definition .tgz or a
 * registry can send 64 MiB of it in a few KB of gzip or zstd. Every
 * document from a bundle, store, registry, profile or file is parsed
 * here: the parse stops (NULL, an error in je) once its allocations pass
 * JSON_PARSE_FACTOR times the text plus JSON_PARSE_SLACK, or
 * JSON_PARSE_MAX. YAML converted to JSON has the same budget (real YAML
 * takes 5 to 11 times its size).
 */
#ifndef EDGE_JSONLOAD_H
#define EDGE_JSONLOAD_H

#include <jansson.h>
#include <stddef.h>

#define JSON_PARSE_FACTOR 20u           /* real JSON measured: at most 16 */
#define JSON_PARSE_SLACK (1u << 20)
/* and never more than this, whatever the text: the largest texts edge
 * takes (a Helm index of 256 MiB) would otherwise get 5 GiB. Real ones
 * fit: a 50 MB index, among the largest public ones, takes about 400 MB. */
#define JSON_PARSE_MAX (1ull << 30)

/* Routes jansson's allocations through the accounting (once; any thread,
 * but before the threads that parse JSON start, for ThreadSanitizer's
 * sake: the tools call it from cli_init). The functions are malloc and
 * free with a count, so memory allocated before or after is the same. */
void json_limits_init(void);

/* json_loadb within the budget; je may be NULL. Over it, NULL and je's
 * text says so ("denser than edge reads: ..."), line and column 0. */
json_t *json_loadb_bounded(const char *buf, size_t len, size_t flags, json_error_t *je);

/* The same budget around other code that builds jansson values from
 * outside text (yaml_to_json): begin with json_budget_limit(its length),
 * end says whether it was passed (1), in which case what was built must
 * be dropped. Not nested. */
size_t json_budget_limit(size_t len);
/* The slack every budget starts with (JSON_PARSE_SLACK); tests and the
 * fuzzers set 0, so that small documents reach the budget too. */
void json_budget_set_slack(size_t slack);
void json_budget_begin(size_t limit);
int json_budget_end(void);
/* 1 while a budget on this thread has been passed: jansson's NULLs are
 * then its refusals, not a want of memory. */
int json_budget_over(void);

/* ":LINE:COLUMN" of a parse error, in buf, or "" for one with no place
 * (line 0: a budget's): errors read "FILE:LINE:COLUMN: TEXT" or "FILE: TEXT". */
const char *json_error_place(const json_error_t *je, char *buf, size_t n);

#endif
