/* Unit tests for common/jsonload.c: JSON parsed within a memory budget
 * (JSON_PARSE_FACTOR times its size, plus JSON_PARSE_SLACK). TAP. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonload.h"
#include "tap.h"
#include "yamljson.h"

/* "[" then n copies of item joined by ",", then "]" */
static char *repeat(const char *item, size_t n, size_t *len)
{
	size_t il = strlen(item), i, at = 0;
	char *s = malloc(n * (il + 1) + 3);

	if (s == NULL)
		abort();
	s[at++] = '[';
	for (i = 0; i < n; i++) {
		if (i > 0)
			s[at++] = ',';
		memcpy(s + at, item, il);
		at += il;
	}
	s[at++] = ']';
	s[at] = '\0';
	*len = at;
	return s;
}

static void dense_case(const char *item, size_t n)
{
	size_t len;
	char *text = repeat(item, n, &len);
	json_error_t je;
	json_t *doc = json_loadb_bounded(text, len, 0, &je);

	ok(doc == NULL && strstr(je.text, "denser than edge reads") != NULL, "a dense array is refused",
	   doc ? "parsed" : je.text, "denser than edge reads: ...");
	okf(je.line == 0 && je.column == 0, "  ... with no line or column (%s x %zu)", item, n);
	json_decref(doc);
	free(text);
}

/* The same parse on two threads at once: each has its own budget. */
static void *parse_thread(void *arg)
{
	const char *text = arg;
	json_t *doc = json_loadb_bounded(text, strlen(text), 0, NULL);
	int good = json_is_array(doc) && json_array_size(doc) == 20000;

	json_decref(doc);
	return good ? arg : NULL;
}

int main(void)
{
	/* a manifest's shape: what edge reads every day */
	static const char manifest[] =
		"{\"apiVersion\":\"edge.manifest/v1\",\"name\":\"site\",\"images\":[{\"ref\":\"docker.io/library/"
		"busybox:1.36\",\"digest\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
		"\"platforms\":[\"linux/amd64\"],\"from\":[{\"profile\":\"edge-infra\",\"pack\":\"ubuntu\"}]}],"
		"\"charts\":[]}";
	json_error_t je;
	json_t *doc;
	size_t len;
	char *text;
	pthread_t t[2];
	void *r0 = NULL, *r1 = NULL;

	json_limits_init();
	doc = json_loadb_bounded(manifest, strlen(manifest), JSON_REJECT_DUPLICATES, &je);
	ok(json_is_object(doc), "a manifest parses", doc ? "" : je.text, NULL);
	json_decref(doc);
	doc = json_loadb_bounded("{\"a\":1,\"a\":2}", 13, JSON_REJECT_DUPLICATES, &je);
	ok(doc == NULL && strstr(je.text, "duplicate") != NULL, "flags reach jansson (a duplicate key refused)", je.text,
	   "duplicate object key");
	json_decref(doc);
	doc = json_loadb_bounded("{\"a\":", 5, 0, &je);
	ok(doc == NULL && strstr(je.text, "denser") == NULL, "a syntax error is jansson's", je.text, "...");

	/* past the slack (1 MiB) only dense text reaches the factor */
	dense_case("{}", 200000);
	dense_case("[]", 200000);
	dense_case("0", 700000);
	dense_case("\"\"", 400000);

	/* the same count of values with room between them parses */
	text = repeat("{\"name\":\"blobs/sha256/0123456789abcdef\",\"offset\":123456789,\"size\":4096}", 20000, &len);
	doc = json_loadb_bounded(text, len, 0, &je);
	okf(json_is_array(doc) && json_array_size(doc) == 20000, "bundle.index.json's shape, %zu bytes, parses", len);
	json_decref(doc);

	/* after a refusal the next parse has its own budget */
	doc = json_loadb_bounded(manifest, strlen(manifest), 0, &je);
	ok(json_is_object(doc), "a parse after a refused one", doc ? "" : je.text, NULL);
	json_decref(doc);

	/* budgets are per thread */
	if (pthread_create(&t[0], NULL, parse_thread, text) != 0 || pthread_create(&t[1], NULL, parse_thread, text) != 0)
		abort();
	pthread_join(t[0], &r0);
	pthread_join(t[1], &r1);
	okf(r0 != NULL && r1 != NULL, "two threads parse at once, each within its budget");
	free(text);

	/* YAML converted to JSON: the same budget */
	{
		struct edge_err err = {0};
		static const char values[] = "pack:\n  content:\n    images:\n      - image: quay.io/kairos/core:v1\n"
					     "charts:\n  - repo: https://charts.example.com\n    name: demo\n";
		doc = yaml_to_json(values, strlen(values), YAML_SCALARS_AS_STRINGS, &err);
		ok(json_is_object(doc), "pack values convert", err.msg, NULL);
		json_decref(doc);
		text = repeat("{}", 600000, &len); /* flow style: [{},{},...] */
		doc = yaml_to_json(text, len, 0, &err);
		ok(doc == NULL && err.code == EDGE_EINPUT && strstr(err.msg, "denser than edge reads: converting") != NULL,
		   "dense flow YAML is refused", doc ? "converted" : err.msg, "denser than edge reads: converting ...");
		json_decref(doc);
		free(text);
		/* block style, a complex key serialised (json_dumps refused mid-way,
		 * with no slack: fuzz_resolve's crash-budget-complex-key) */
		json_budget_set_slack(0);
		memset(&err, 0, sizeof(err));
		doc = yaml_to_json("? {a: [1, 2, {b: c}]}\n: x\n", 26, 0, &err);
		ok(doc == NULL && strstr(err.msg, "denser than edge reads") != NULL,
		   "a complex key past the budget is an error, not an abort", doc ? "converted" : err.msg, "denser ...");
		json_decref(doc);
		json_budget_set_slack(JSON_PARSE_SLACK);
		memset(&err, 0, sizeof(err));
		doc = yaml_to_json("? {a: [1, 2, {b: c}]}\n: x\n", 26, 0, &err);
		ok(json_is_object(doc) && json_object_get(doc, "{\"a\":[1,2,{\"b\":\"c\"}]}") != NULL,
		   "  ... and within it, the key is its JSON text", err.msg, NULL);
		json_decref(doc);
	}

	/* a budget has a ceiling: a Helm index of 256 MiB gets 1 GiB, not 5 */
	okf(json_budget_limit(1000) == 1000 * JSON_PARSE_FACTOR + JSON_PARSE_SLACK &&
		    json_budget_limit((size_t)256 << 20) == (size_t)JSON_PARSE_MAX &&
		    json_budget_limit(SIZE_MAX) == (size_t)JSON_PARSE_MAX,
	    "the budget is 20 times the text plus 1 MiB, at most 1 GiB");

	/* outside a bounded parse nothing is refused */
	text = repeat("{}", 200000, &len);
	doc = json_loadb(text, len, 0, &je);
	okf(json_is_array(doc), "json_loadb itself is not bounded");
	json_decref(doc);
	free(text);
	return done_testing();
}
