/*
 * Unit tests for common/tmpl.c: a table of templates expanded against a
 * small fixed variable table. Prints TAP; exits 1 when a case fails.
 */
#include "tmpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

struct var {
	const char *path;
	const char *value;
};

static const struct var vars[] = {
	{"spectro.var.registry", "quay.io"},
	{"spectro.var.name", "  Edge-Host  "},
	{"spectro.system.kubernetes.version", "1.29.5"},
	{"spectro.pack.byoi.options.system.registry", "ttl.sh"},
	{"spectro.pack.byoi.options.system.repo", "ubuntu"},
	/* a dotted literal key whose value is itself a template */
	{"spectro.pack.byoi.options.system.uri",
	 "{{ .spectro.pack.byoi.options.system.registry }}/"
	 "{{ .spectro.pack.byoi.options.system.repo }}:k3s-"
	 "{{ .spectro.system.kubernetes.version }}"},
	/* the same keys in the form that index asks for */
	{"spectro.pack.byoi.options\x1fsystem.uri",
	 "{{ .spectro.pack.byoi.options.system.registry }}/"
	 "{{ .spectro.pack.byoi.options.system.repo }}:k3s-"
	 "{{ .spectro.system.kubernetes.version }}"},
	{"spectro.pack.byoi.options\x1fsystem.repo", "ubuntu"},
	{"m\x1f" "a\x1f" "b.c", "deep"},
	/* two levels of nesting */
	{"two", "<{{ .one }}>"},
	{"one", "[{{.spectro.var.registry}}]"},
	/* cycles */
	{"self", "x{{ .self }}"},
	{"ping", "{{ .pong }}"},
	{"pong", "{{ .ping }}"},
	{"empty", ""},
	{"bad", "a{{ .spectro.var.nope }}"},
	{"count", "3"},
	{NULL, NULL},
};

/* vars, plus generated chains: "chain.N" -> "{{.chain.N+1}}" up to
 * chain.17 -> "end"; "fan.N" -> ten references to fan.N+1 up to
 * fan.16 -> "x" (10^16 expansions); "fail" -> an I/O error. ctx counts
 * the calls. */
static int lookup(void *ctx, const char *path, char **out,
                  struct edge_err *err)
{
	int n;
	char tmp[64];

	(*(int *)ctx)++;
	if (strcmp(path, "fail") == 0)
		return edge_errf(err, EDGE_EIO, "lookup exploded");
	if (sscanf(path, "chain.%d", &n) == 1) {
		if (n >= 17)
			snprintf(tmp, sizeof(tmp), "end");
		else
			snprintf(tmp, sizeof(tmp), "{{.chain.%d}}", n + 1);
		*out = strdup(tmp);
		return *out != NULL ? 0 : -1;
	}
	if (sscanf(path, "big.%d", &n) == 1) {
		/* big.0 and big.1: ten references to the next; big.2: 200 KB */
		size_t len = n >= 2 ? 200000 : 10 * 16;
		char *s = malloc(len + 1);

		if (s == NULL)
			return -1;
		if (n >= 2) {
			memset(s, 'x', len);
			s[len] = '\0';
		} else {
			s[0] = '\0';
			for (int k = 0; k < 10; k++) {
				snprintf(tmp, sizeof(tmp), "{{.big.%d}}", n + 1);
				strcat(s, tmp);
			}
		}
		*out = s;
		return 0;
	}
	if (sscanf(path, "fan.%d", &n) == 1 && n >= 16) {
		*out = strdup("x");
		return *out != NULL ? 0 : -1;
	}
	if (sscanf(path, "fan.%d", &n) == 1) {
		char *s = malloc(200);

		if (s == NULL)
			return -1;
		s[0] = '\0';
		for (int k = 0; k < 10; k++) {
			snprintf(tmp, sizeof(tmp), "{{.fan.%d}}", n + 1);
			strcat(s, tmp);
		}
		*out = s;
		return 0;
	}
	for (const struct var *v = vars; v->path != NULL; v++)
		if (strcmp(v->path, path) == 0) {
			*out = strdup(v->value);
			return *out != NULL ? 0 : -1;
		}
	return 1;
}

struct tcase {
	const char *desc;
	const char *in;
	const char *want; /* NULL: an error is expected */
	const char *msg;  /* the expected error message */
	int code;         /* the expected error code (0 means EDGE_EINPUT) */
};

static const struct tcase cases[] = {
	{"plain text", "hello, world", "hello, world", NULL, 0},
	{"empty input", "", "", NULL, 0},
	{"variable", "{{.spectro.var.registry}}/x", "quay.io/x", NULL, 0},
	{"variable with spaces", "a {{ .spectro.var.registry }} b",
	 "a quay.io b", NULL, 0},
	{"trim markers", "a  \n{{- .spectro.var.registry -}} \t\n b",
	 "aquay.iob", NULL, 0},
	{"left trim only", "a \n{{- \"x\" }} b", "ax b", NULL, 0},
	{"right trim only", "a {{ \"x\" -}}\n b", "a xb", NULL, 0},
	{"dash without space is a number", "{{-3}}", "-3", NULL, 0},
	{"trim touches text only", "{{ .spectro.var.name }}{{- \"!\" }}",
	 "  Edge-Host  !", NULL, 0},
	{"lower", "{{ .spectro.var.name | lower }}", "  edge-host  ", NULL, 0},
	{"upper direct", "{{ upper .spectro.var.registry }}", "QUAY.IO",
	 NULL, 0},
	{"trim", "[{{ .spectro.var.name | trim }}]", "[Edge-Host]", NULL, 0},
	{"chained pipes", "{{ .spectro.var.name | trim | lower }}",
	 "edge-host", NULL, 0},
	{"substr piped", "{{ .spectro.system.kubernetes.version | substr 0 4 }}",
	 "1.29", NULL, 0},
	{"substr end < 0", "{{ substr 2 -1 .spectro.system.kubernetes.version }}",
	 "29.5", NULL, 0},
	{"substr clamps", "{{ substr -5 100 \"abc\" }}", "abc", NULL, 0},
	{"substr start > end", "{{ substr 2 1 \"abc\" }}", "", NULL, 0},
	{"substr index from a variable", "{{ substr 0 .count \"abcdef\" }}",
	 "abc", NULL, 0},
	{"replace", "{{ .spectro.system.kubernetes.version | replace \".\" \"-\" }}",
	 "1-29-5", NULL, 0},
	{"replace empty old", "{{ replace \"\" \"-\" \"ab\" }}", "-a-b-",
	 NULL, 0},
	{"quote", "{{ .spectro.var.registry | quote }}", "\"quay.io\"", NULL, 0},
	{"quote escapes", "{{ quote \"a\\\"b\\\\c\\n\\t\" }}",
	 "\"a\\\"b\\\\c\\n\\t\"", NULL, 0},
	{"quote several", "{{ quote \"a\" 1 }}", "\"a\" \"1\"", NULL, 0},
	{"default on unknown variable", "{{ .spectro.var.nope | default \"dflt\" }}",
	 "dflt", NULL, 0},
	{"default on empty value", "{{ .empty | default \"dflt\" }}", "dflt",
	 NULL, 0},
	{"default keeps a value", "{{ .spectro.var.registry | default \"d\" }}",
	 "quay.io", NULL, 0},
	{"default called directly", "{{ default \"x\" .spectro.var.nope }}", "x",
	 NULL, 0},
	{"default then lower", "{{ .spectro.var.nope | default \"ABC\" | lower }}",
	 "abc", NULL, 0},
	{"default on integer 0", "{{ 0 | default \"z\" }}", "z", NULL, 0},
	{"dotted literal key, nested template",
	 "{{ .spectro.pack.byoi.options.system.uri }}",
	 "ttl.sh/ubuntu:k3s-1.29.5", NULL, 0},
	{"index with a dotted key",
	 "{{ index .spectro.pack.byoi.options \"system.uri\" }}",
	 "ttl.sh/ubuntu:k3s-1.29.5", NULL, 0},
	{"index with a piped key",
	 "{{ \"system.repo\" | index .spectro.pack.byoi.options }}", "ubuntu",
	 NULL, 0},
	{"index with two keys", "{{ index .m \"a\" `b.c` }}", "deep", NULL, 0},
	{"two levels of nesting", "{{ .two }}", "<[quay.io]>", NULL, 0},
	{"sixteen levels of nesting", "{{.chain.1}}", "end", NULL, 0},
	{"comment", "a{{/* x }} y */}}b", "ab", NULL, 0},
	{"comment with trim markers", "a \n{{- /* c */ -}}\n b", "ab", NULL, 0},
	{"raw string", "{{ `a\\n\"b` }}", "a\\n\"b", NULL, 0},
	{"string holding }}", "{{ \"}}\" }}", "}}", NULL, 0},
	{"lone braces are text", "{ } }} {x} {", "{ } }} {x} {", NULL, 0},
	{"literal integer", "{{ -42 }}", "-42", NULL, 0},
	{"literals are not re-expanded", "{{ \"{{.self}}\" }}", "{{.self}}",
	 NULL, 0},

	/* Sprig's string functions, as Palette allows them */
	{"trunc", "{{ .spectro.var.registry | trunc 4 }}", "quay", NULL, 0},
	{"trunc from the end", "{{ trunc -2 \"1.29.5\" }}", ".5", NULL, 0},
	{"trunc past the end", "{{ trunc 99 \"ab\" }}{{ trunc -99 \"cd\" }}",
	 "abcd", NULL, 0},
	{"printf", "{{ printf \"%s/%s:%d%%\" .spectro.var.registry \"x\" 3 }}",
	 "quay.io/x:3%", NULL, 0},
	{"printf %q and %v", "{{ printf \"%q-%v\" \"a\" .count }}", "\"a\"-3",
	 NULL, 0},
	{"trimPrefix", "{{ \"container://ttl.sh/x:1\" | trimPrefix \"container://\" }}",
	 "ttl.sh/x:1", NULL, 0},
	{"trimSuffix", "{{ trimSuffix \"-demo\" \"k3s-1.29-demo\" }}", "k3s-1.29",
	 NULL, 0},
	{"split and join", "{{ .spectro.system.kubernetes.version | split \".\" | join \"-\" }}",
	 "1-29-5", NULL, 0},
	{"split prints as a map", "{{ split \".\" \"a.b\" }}", "map[_0:a _1:b]",
	 NULL, 0},
	{"splitList prints as a list", "{{ splitList \".\" \"a.b\" }}", "[a b]",
	 NULL, 0},
	{"join of a string", "{{ join \",\" \"ab\" }}", "ab", NULL, 0},
	{"contains", "{{ contains \"29\" .spectro.system.kubernetes.version }}",
	 "true", NULL, 0},
	{"hasPrefix and hasSuffix",
	 "{{ hasPrefix \"1.\" \"1.29\" }} {{ hasSuffix \"9\" \"1.29\" }} {{ hasPrefix \"2\" \"1\" }}",
	 "true true false", NULL, 0},
	{"replace", "{{ replace \"-\" \"_\" \"a-b-c\" }}", "a_b_c", NULL, 0},
	{"empty", "{{ empty .empty }} {{ empty .spectro.var.registry }} {{ empty .spectro.var.nope }}",
	 "true false true", NULL, 0},
	{"coalesce", "{{ coalesce .empty .spectro.var.nope \"\" .spectro.var.registry \"z\" }}",
	 "quay.io", NULL, 0},
	{"ternary", "{{ ternary \"a\" \"b\" true }}{{ ternary \"a\" \"b\" false }}", "ab",
	 NULL, 0},
	{"ternary on a piped boolean",
	 "{{ .spectro.system.kubernetes.version | hasPrefix \"1.29\" | ternary \"new\" \"old\" }}",
	 "new", NULL, 0},
	{"ternary on empty", "{{ .empty | empty | ternary \"none\" \"some\" }}", "none",
	 NULL, 0},
	{"ternary wants a boolean", "{{ ternary \"a\" \"b\" \"yes\" }}", NULL,
	 "bad template action \"ternary \"a\" \"b\" \"yes\"\": ternary: want a "
	 "boolean, got \"yes\"", 0},
	{"default on false", "{{ contains \"x\" \"y\" | default \"d\" }}", "d", NULL, 0},
	{"printf with an unsupported verb", "{{ printf \"%x\" 1 }}", NULL,
	 "bad template action \"printf \"%x\" 1\": printf: unsupported verb %x", 0},
	{"printf with too few arguments", "{{ printf \"%s%s\" \"a\" }}", NULL,
	 "bad template action \"printf \"%s%s\" \"a\"\": printf: missing argument for %s", 0},

	{"unknown variable", "x {{ .spectro.var.foo }}", NULL,
	 "unknown template variable .spectro.var.foo", 0},
	{"unknown variable in a pipeline", "{{ .spectro.var.foo | lower }}", NULL,
	 "unknown template variable .spectro.var.foo", 0},
	{"unknown variable in a nested template", "{{ .bad }}", NULL,
	 "unknown template variable .spectro.var.nope", 0},
	{"unknown index key", "{{ index .spectro.pack.byoi.options \"nope\" }}",
	 NULL, "unknown template variable .spectro.pack.byoi.options[\"nope\"]",
	 0},
	{"unknown function", "{{ .spectro.var.registry | foo }}", NULL,
	 "unknown template function \"foo\"", 0},
	{"unterminated action", "a {{ .spectro.var.registry", NULL,
	 "unterminated template action", 0},
	{"self-referential cycle", "{{ .self }}", NULL,
	 "template nesting too deep (cycle?) at .self", 0},
	{"mutual cycle", "{{.ping}}", NULL,
	 "template nesting too deep (cycle?) at .ping", 0},
	{"seventeen levels of nesting", "{{.chain.0}}", NULL,
	 "template nesting too deep (cycle?) at .chain.16", 0},
	{"fan-out is bounded", "{{.fan.0}}", NULL,
	 "template expansion too large at .fan.10 (more than 4 MiB in all)", 0},
	{"a large value is bounded", "{{.big.0}}", NULL,
	 "template value too large at .big.1 (more than 1 MiB)", 0},
	{"unterminated quote", "{{ \"abc }}", NULL,
	 "unterminated quoted string in template action", 0},
	{"unterminated raw string", "{{ `abc }}", NULL,
	 "unterminated raw quoted string in template action", 0},
	{"bad escape", "{{ \"a\\qb\" }}", NULL,
	 "bad template action \"\"a\\qb\"\": bad escape \\q in string", 0},
	{"if is unsupported", "{{ if .x }}y{{ end }}", NULL,
	 "unsupported template action \"if .x\"", 0},
	{"variables are unsupported", "{{ $x := 1 }}", NULL,
	 "unsupported template action \"$x := 1\"", 0},
	{"parentheses are unsupported", "{{ lower (upper \"a\") }}", NULL,
	 "unsupported template action \"lower (upper \"a\")\"", 0},
	{"wrong argument count", "{{ lower }}", NULL,
	 "bad template action \"lower\": wrong number of arguments for "
	 "lower: want 1, got 0", 0},
	{"substr wants integers", "{{ substr \"a\" 2 \"abc\" }}", NULL,
	 "bad template action \"substr \"a\" 2 \"abc\"\": substr: bad "
	 "integer \"a\"", 0},
	{"value after a pipe", "{{ .spectro.var.registry | \"x\" }}", NULL,
	 "bad template action \".spectro.var.registry | \"x\"\": only a "
	 "function can follow \"|\"", 0},
	{"trailing pipe", "{{ .spectro.var.registry | }}", NULL,
	 "bad template action \".spectro.var.registry |\": missing command "
	 "in pipeline", 0},
	{"empty action", "{{ }}", NULL, "empty template action", 0},
	{"bad variable", "{{ .a..b }}", NULL,
	 "bad template action \".a..b\": bad variable \".a..b\"", 0},
	{"unclosed comment", "{{/* x }}", NULL, "unclosed template comment", 0},
	{"comment before delimiter", "{{/* x */ y}}", NULL,
	 "template comment ends before closing delimiter", 0},
	{"lookup errors pass through", "{{ .fail | default \"x\" }}", NULL,
	 "lookup exploded", EDGE_EIO},
};

static void run_case(const struct tcase *t)
{
	struct edge_err err = {0};
	char *out = (char *)1;
	int calls = 0, rc, ok;
	int code = t->code ? t->code : EDGE_EINPUT;

	rc = tmpl_expand(t->in, lookup, &calls, &out, &err);
	if (t->want != NULL) {
		ok = rc == 0 && out != NULL && strcmp(out, t->want) == 0;
		okf(ok, "%s", t->desc);
		if (!ok)
			printf("# got rc=%d \"%s\" (%s) expected \"%s\"\n", rc,
			       rc == 0 && out ? out : "", err.msg, t->want);
	} else {
		ok = rc == -1 && out == NULL && err.code == code &&
		     strcmp(err.msg, t->msg) == 0;
		okf(ok, "%s", t->desc);
		if (!ok)
			printf("# got rc=%d code=%d \"%s\" expected code=%d "
			       "\"%s\"\n", rc, err.code, err.msg, code, t->msg);
	}
	if (rc == 0)
		free(out);
}

/* A large input: no fixed limits on the size of the text or the number of
 * actions. */
static void test_large(void)
{
	size_t n = 100000, unit = strlen("{{.spectro.var.registry}} ");
	char *in = malloc(n * unit + 1), *out = NULL, *p;
	struct edge_err err = {0};
	int calls = 0, ok;

	if (in == NULL)
		abort();
	for (p = in, n = 0; n < 100000; n++, p += unit)
		memcpy(p, "{{.spectro.var.registry}} ", unit);
	*p = '\0';
	ok = tmpl_expand(in, lookup, &calls, &out, &err) == 0 &&
	     strlen(out) == 100000 * strlen("quay.io ") && calls == 100000 &&
	     strncmp(out, "quay.io quay.io ", 16) == 0;
	okf(ok, "100000 actions in one input");
	if (!ok)
		printf("# got %d lookups, %zu bytes (%s) expected 100000, "
		       "800000\n", calls, out ? strlen(out) : 0, err.msg);
	free(out);
	free(in);
}

/* A tmpl_run: a budget shared by calls, and unknown variables as "". */
static void test_runs(void)
{
	struct tmpl_run run;
	struct edge_err err = {0};
	char *out = NULL;
	int calls = 0, rc[3], ok;

	tmpl_run_init(&run, 0, 20);
	for (int k = 0; k < 3; k++) {
		rc[k] = tmpl_expand_run("{{ .spectro.var.registry }}", lookup,
		                        &calls, &run, &out, &err);
		free(out);
		out = NULL;
	}
	okf(rc[0] == 0 && rc[1] == 0 && rc[2] == -1 &&
	    strcmp(err.msg, "template expansion too large (more than 20 "
	           "bytes in all)") == 0,
	    "a budget shared by calls: 7 + 7 bytes, then refused");
	if (rc[2] != -1)
		printf("# third call succeeded\n");
	tmpl_run_free(&run);

	tmpl_run_init(&run, TMPL_MISSING_EMPTY, TMPL_MAX_BYTES);
	rc[0] = tmpl_expand_run("a{{ .nope }}b{{ .bad }}{{ .x | default \"c\" }}",
	                        lookup, &calls, &run, &out, &err);
	ok = rc[0] == 0 && strcmp(out, "abac") == 0 && run.nmissing == 2 &&
	     strcmp(run.missing, ".nope") == 0;
	okf(ok, "TMPL_MISSING_EMPTY: unknown variables are empty, counted");
	if (!ok && rc[0] == 0)
		printf("# got \"%s\", %lu missing, first %s\n", out, run.nmissing,
		       run.missing ? run.missing : "(none)");
	free(out);
	tmpl_run_free(&run);
	okf(run.missing == NULL && run.nmissing == 0,
	    "tmpl_run_free clears the missing list");
}

int main(void)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	char *out = NULL;
	int calls = 0, rc;

	plan((int)ncases + 8);
	for (size_t k = 0; k < ncases; k++)
		run_case(&cases[k]);

	okf(tmpl_has_action("a {{ b") == 1, "tmpl_has_action finds {{");
	okf(tmpl_has_action("a { { } }") == 0 && tmpl_has_action(NULL) == 0,
	    "tmpl_has_action without {{");

	rc = tmpl_expand("{{ .nope }}", lookup, &calls, &out, NULL);
	okf(rc == -1 && out == NULL, "a NULL err is allowed");

	calls = 0;
	rc = tmpl_expand("{{ .spectro.var.registry }}{{/* */}}", lookup,
	                 &calls, &out, NULL);
	okf(rc == 0 && calls == 1 && strcmp(out, "quay.io") == 0,
	    "one lookup per variable");
	if (rc == 0)
		free(out);

	test_large();
	test_runs();
	return done_testing();
}
