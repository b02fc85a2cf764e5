/*
 * The Go-template subset of tmpl.h. Each action is scanned to its closing
 * "}}" (skipping quoted strings), split into tokens, and evaluated as one
 * pipeline of string values. Nested templates recurse through
 * expand_text() with a depth counter, so the C stack stays bounded by
 * TMPL_MAX_DEPTH whatever the input.
 */
#include "tmpl.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

/* Most bytes of an action's text quoted in an error message. */
#define SHOW_MAX 80

struct state {
	tmpl_lookup_fn lookup;
	void *ctx;
	struct edge_err *err;
	struct tmpl_run *run; /* flags, the budget shared by calls, missing */
	const char *at;       /* the variable being expanded, for messages */
};

enum tok_kind { TOK_PIPE, TOK_STR, TOK_INT, TOK_VAR, TOK_FUNC, TOK_BOOL };

struct tok {
	enum tok_kind kind;
	char *s;     /* STR: decoded text; VAR: path without the dot; FUNC: name;
	                INT: decimal text; PIPE: NULL */
	long long i; /* INT only */
};

/* One action: its text between the delimiters (trim markers and outer
 * whitespace removed) and its tokens. */
struct action {
	const char *text;
	size_t len;
	struct tok *toks;
	size_t ntoks, cap;
};

/* A value: always a malloc'd string; integers remember their number so that
 * default treats 0 as empty and substr takes it as an index. */
struct val {
	char *s;      /* the text, as Go would print the value */
	int is_int;
	long long i;
	int is_bool;  /* from contains, hasPrefix, empty, …: s is "true"/"false" */
	char **list;  /* from split, splitList: the items (s is Go's %v) */
	size_t nlist;
	int is_list;
};

struct func {
	const char *name;
	size_t min, max; /* argument counts, piped value included */
	int (*call)(struct state *st, const struct action *a, struct val *args,
	            size_t n, struct val *res);
};

static int expand_text(struct state *st, const char *in, unsigned depth,
                       char **out);
static int val_bool(struct state *st, int b, struct val *res);

/* MiB for messages: limits are whole MiB, or bytes when smaller. */
static int too_large(struct state *st, const char *what, size_t limit, const char *in_all)
{
	char n[48];

	if (limit >= (1u << 20) && limit % (1u << 20) == 0)
		snprintf(n, sizeof(n), "%zu MiB", limit >> 20);
	else
		snprintf(n, sizeof(n), "%zu bytes", limit);
	if (st->at != NULL)
		return edge_errf(st->err, EDGE_EINPUT, "template %s too large at %s (more than %s%s)",
		                 what, st->at, n, in_all);
	return edge_errf(st->err, EDGE_EINPUT, "template %s too large (more than %s%s)", what, n,
	                 in_all);
}

/* Go's template whitespace, the set that trim markers remove. */
static int is_tspace(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Every byte any expansion produces goes through here: the one place that
 * bounds a value (TMPL_MAX_VALUE) and the work of all the calls that share
 * a tmpl_run (bytes_left), so that fan-out cannot grow without end. */
static int buf_add(struct state *st, struct strbuf *b, const char *s, size_t n)
{
	if (n > TMPL_MAX_VALUE - b->len)
		return too_large(st, "value", TMPL_MAX_VALUE, "");
	if (n > st->run->bytes_left)
		return too_large(st, "expansion", st->run->bytes_max, " in all");
	st->run->bytes_left -= n;
	strbuf_add(b, s, n);
	return 0;
}

static int buf_addc(struct state *st, struct strbuf *b, char c)
{
	return buf_add(st, b, &c, 1);
}

/* Hands the buffer's string to the caller ("" when nothing was added). */
static int buf_take(struct state *st, struct strbuf *b, char **out)
{
	(void)st;
	*out = strbuf_take(b);
	return 0;
}

static void val_free(struct val *v)
{
	free(v->s);
	for (size_t k = 0; k < v->nlist; k++)
		free(v->list[k]);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

/* Moves from into to (to must hold nothing); from is left empty. */
static void val_move(struct val *to, struct val *from)
{
	*to = *from;
	memset(from, 0, sizeof(*from));
}

static int val_str(struct state *st, const char *s, size_t n, struct val *v)
{
	(void)st;
	memset(v, 0, sizeof(*v));
	v->s = xmalloc(n + 1);
	memcpy(v->s, s, n);
	v->s[n] = '\0';
	return 0;
}

static int val_dup(struct state *st, const struct val *from, struct val *v)
{
	if (val_str(st, from->s, strlen(from->s), v) < 0)
		return -1;
	v->is_int = from->is_int;
	v->i = from->i;
	v->is_bool = from->is_bool;
	v->is_list = from->is_list;
	if (from->nlist > 0) {
		v->list = xcalloc(from->nlist, sizeof(*v->list));
		for (v->nlist = 0; v->nlist < from->nlist; v->nlist++)
			v->list[v->nlist] = xstrdup(from->list[v->nlist]);
	}
	return 0;
}

/* Strict decimal integer with an optional sign. Returns 0 or -1. */
static int parse_int(const char *s, size_t n, long long *out)
{
	char tmp[32];
	char *end;
	size_t k = 0;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	if (s[0] == '-' || s[0] == '+')
		k = 1;
	if (k == n)
		return -1;
	for (size_t j = k; j < n; j++)
		if (!is_digit((unsigned char)s[j]))
			return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*out = strtoll(tmp, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return 0;
}

/* ---- errors naming the action ---- */

static int shown_len(const struct action *a)
{
	return a->len > SHOW_MAX ? SHOW_MAX : (int)a->len;
}

static const char *shown_more(const struct action *a)
{
	return a->len > SHOW_MAX ? "..." : "";
}

static int act_unsupported(struct state *st, const struct action *a)
{
	return edge_errf(st->err, EDGE_EINPUT,
	                 "unsupported template action \"%.*s%s\"",
	                 shown_len(a), a->text, shown_more(a));
}

static int act_err(struct state *st, const struct action *a, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));

static int act_err(struct state *st, const struct action *a, const char *fmt,
                   ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return edge_errf(st->err, EDGE_EINPUT,
	                 "bad template action \"%.*s%s\": %s", shown_len(a),
	                 a->text, shown_more(a), why);
}

/* A byte for an error message: itself when printable, else \xNN. */
static const char *show_char(char c, char tmp[8])
{
	unsigned char u = (unsigned char)c;

	if (u >= 0x20 && u < 0x7f)
		snprintf(tmp, 8, "%c", c);
	else
		snprintf(tmp, 8, "\\x%02x", u);
	return tmp;
}

/* ---- tokens ---- */

static void action_free(struct action *a)
{
	for (size_t k = 0; k < a->ntoks; k++)
		free(a->toks[k].s);
	free(a->toks);
	a->toks = NULL;
	a->ntoks = a->cap = 0;
}

/* Appends a token; takes ownership of s. */
static int tok_push(struct state *st, struct action *a, enum tok_kind kind,
                    char *s, long long i)
{
	(void)st;
	if (a->ntoks == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->toks = xrealloc(a->toks, a->cap * sizeof(*a->toks));
	}
	a->toks[a->ntoks].kind = kind;
	a->toks[a->ntoks].s = s;
	a->toks[a->ntoks].i = i;
	a->ntoks++;
	return 0;
}

/* Decodes the string literal at text[*ip] (a '"' or '`'); advances *ip past
 * it. */
static int lex_string(struct state *st, struct action *a, size_t *ip)
{
	const char *b = a->text;
	size_t n = a->len, i = *ip;
	struct strbuf s = {0};
	char q = b[i++], c, tmp[8];

	if (q == '`') {
		const char *e = memchr(b + i, '`', n - i);

		if (e == NULL)
			return act_err(st, a, "unterminated raw quoted string");
		if (buf_add(st, &s, b + i, (size_t)(e - (b + i))) < 0)
			goto fail;
		i = (size_t)(e - b) + 1;
		goto done;
	}
	for (;;) {
		if (i >= n || b[i] == '\n' ||
		    (b[i] == '\\' && (i + 1 >= n || b[i + 1] == '\n'))) {
			strbuf_free(&s);
			return edge_errf(st->err, EDGE_EINPUT,
			                 "unterminated quoted string in template "
			                 "action \"%.*s%s\"",
			                 shown_len(a), a->text, shown_more(a));
		}
		c = b[i];
		if (c == '"') {
			i++;
			break;
		}
		if (c == '\\') {
			switch (b[i + 1]) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			default:
				strbuf_free(&s);
				return act_err(st, a,
				               "bad escape \\%s in string",
				               show_char(b[i + 1], tmp));
			}
			i += 2;
		} else {
			i++;
		}
		if (buf_addc(st, &s, c) < 0)
			goto fail;
	}
done:
	*ip = i;
	return tok_push(st, a, TOK_STR, strbuf_take(&s), 0);
fail:
	strbuf_free(&s);
	return -1;
}

static int is_keyword(const char *s, size_t n)
{
	static const char *const kw[] = {
		"block", "break", "continue", "define", "else", "end", "false",
		"if", "nil", "range", "template", "true", "with", NULL,
	};

	for (size_t k = 0; kw[k] != NULL; k++)
		if (strlen(kw[k]) == n && memcmp(kw[k], s, n) == 0)
			return 1;
	return 0;
}

/* Checks a variable path (without its dot): no empty segment, printable
 * bytes only, none that ends or changes the syntax. Returns 0, 1 when it
 * uses unsupported syntax, -1 when it is malformed. */
static int check_path(const char *p, size_t n)
{
	if (n == 0)
		return 1; /* "." alone: the whole context */
	if (p[0] == '.' || p[n - 1] == '.')
		return -1;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)p[k];

		if (c == '(' || c == ')' || c == '$')
			return 1;
		if (c <= 0x20 || c == 0x7f || c == '"' || c == '`' ||
		    c == '\'' || c == '{' || c == '}' || c == ',')
			return -1;
		if (c == '.' && p[k + 1] == '.')
			return -1;
	}
	return 0;
}

/* Splits a->text into tokens. */
static int lex_action(struct state *st, struct action *a)
{
	const char *b = a->text;
	size_t n = a->len, i = 0, j;
	char tmp[8];
	long long num;
	int rc;

	while (i < n) {
		unsigned char c = (unsigned char)b[i];

		if (is_tspace(c)) {
			i++;
			continue;
		}
		if (c == '|') {
			if (tok_push(st, a, TOK_PIPE, NULL, 0) < 0)
				return -1;
			i++;
			continue;
		}
		if (c == '"' || c == '`') {
			if (lex_string(st, a, &i) < 0)
				return -1;
		} else if (c == '.') {
			for (j = i + 1; j < n && !is_tspace(b[j]) && b[j] != '|';
			     j++)
				;
			rc = check_path(b + i + 1, j - i - 1);
			if (rc > 0)
				return act_unsupported(st, a);
			if (rc < 0)
				return act_err(st, a, "bad variable \"%.*s\"",
				               (int)(j - i), b + i);
			if (tok_push(st, a, TOK_VAR,
			             xstrndup(b + i + 1, j - i - 1), 0) < 0)
				return -1;
			i = j;
			continue;
		} else if (is_digit(c) || ((c == '-' || c == '+') && i + 1 < n &&
		                           is_digit((unsigned char)b[i + 1]))) {
			for (j = i + 1; j < n && !is_tspace(b[j]) && b[j] != '|';
			     j++)
				;
			if (parse_int(b + i, j - i, &num) < 0)
				return act_err(st, a, "bad number \"%.*s\"",
				               (int)(j - i), b + i);
			if (tok_push(st, a, TOK_INT, NULL, num) < 0)
				return -1;
			i = j;
			continue;
		} else if (is_alpha(c)) {
			for (j = i + 1; j < n && (is_alpha((unsigned char)b[j]) ||
			                          is_digit((unsigned char)b[j]));
			     j++)
				;
			if ((j - i == 4 && memcmp(b + i, "true", 4) == 0) ||
			    (j - i == 5 && memcmp(b + i, "false", 5) == 0)) {
				if (tok_push(st, a, TOK_BOOL, NULL, j - i == 4) < 0)
					return -1;
				i = j;
				continue;
			}
			if (is_keyword(b + i, j - i))
				return act_unsupported(st, a);
			if (tok_push(st, a, TOK_FUNC, xstrndup(b + i, j - i), 0) < 0)
				return -1;
			i = j;
		} else if (c == '$' || c == '(' || c == ')') {
			return act_unsupported(st, a);
		} else {
			return act_err(st, a, "unexpected \"%s\"",
			               show_char((char)c, tmp));
		}
		/* Go wants a space (or '|' or the end) after an operand. */
		if (i < n && !is_tspace(b[i]) && b[i] != '|') {
			if (b[i] == '(' || b[i] == '$')
				return act_unsupported(st, a);
			return act_err(st, a, "unexpected \"%s\" after operand",
			               show_char(b[i], tmp));
		}
	}
	return 0;
}

/* ---- evaluation ---- */

/* Looks up path and expands the value when it is itself a template. shown
 * is the variable as written, for messages. */
static int resolve_var(struct state *st, const char *path, const char *shown,
                       unsigned depth, int allow_missing, struct val *res)
{
	char *v = NULL, *x = NULL;
	int rc;

	rc = st->lookup(st->ctx, path, &v, st->err);
	if (rc == 1) {
		if (!allow_missing && !(st->run->flags & TMPL_MISSING_EMPTY))
			return edge_errf(st->err, EDGE_EINPUT,
			                 "unknown template variable %s", shown);
		if (!allow_missing) {
			if (st->run->missing == NULL)
				st->run->missing = xstrdup(shown);
			st->run->nmissing++;
		}
		return val_str(st, "", 0, res);
	}
	if (rc != 0) {
		free(v);
		if (rc > 0 || st->err->code == 0)
			return edge_errf(st->err, EDGE_EINPUT,
			                 "template variable %s: lookup failed",
			                 shown);
		return -1;
	}
	if (v == NULL)
		return val_str(st, "", 0, res);
	if (tmpl_has_action(v)) {
		if (depth >= TMPL_MAX_DEPTH) {
			free(v);
			return edge_errf(st->err, EDGE_EINPUT,
			                 "template nesting too deep (cycle?) at %s",
			                 shown);
		}
		if (st->run->nested_left == 0) {
			free(v);
			return edge_errf(st->err, EDGE_EINPUT,
			                 "template expansion too large at %s",
			                 shown);
		}
		st->run->nested_left--;
		{
			const char *outer = st->at;

			st->at = shown;
			rc = expand_text(st, v, depth + 1, &x);
			st->at = outer;
		}
		free(v);
		if (rc < 0)
			return -1;
		v = x;
	}
	memset(res, 0, sizeof(*res));
	res->s = v;
	return 0;
}

static int eval_operand(struct state *st, const struct action *a,
                        const struct tok *t, unsigned depth, int allow_missing,
                        struct val *res)
{
	char *shown;
	char num[32];
	int rc;

	switch (t->kind) {
	case TOK_STR:
		return val_str(st, t->s, strlen(t->s), res);
	case TOK_INT:
		snprintf(num, sizeof(num), "%lld", t->i);
		if (val_str(st, num, strlen(num), res) < 0)
			return -1;
		res->is_int = 1;
		res->i = t->i;
		return 0;
	case TOK_VAR:
		shown = xasprintf(".%s", t->s);
		rc = resolve_var(st, t->s, shown, depth, allow_missing, res);
		free(shown);
		return rc;
	case TOK_BOOL:
		return val_bool(st, (int)t->i, res);
	case TOK_FUNC: /* a niladic call as an argument */
	case TOK_PIPE:
		break;
	}
	return act_unsupported(st, a);
}

/* An integer argument: an integer, or a string holding one. */
static int arg_int(struct state *st, const struct action *a, const char *fn,
                   const struct val *v, long long *out)
{
	if (v->is_int) {
		*out = v->i;
		return 0;
	}
	if (parse_int(v->s, strlen(v->s), out) < 0)
		return act_err(st, a, "%s: bad integer \"%s\"", fn, v->s);
	return 0;
}

/* Sprig's empty: "", 0, false and an empty list. */
static int val_empty(const struct val *v)
{
	if (v->is_list)
		return v->nlist == 0;
	if (v->is_int)
		return v->i == 0;
	if (v->is_bool)
		return strcmp(v->s, "true") != 0;
	return v->s[0] == '\0';
}

static int val_bool(struct state *st, int b, struct val *res)
{
	if (val_str(st, b ? "true" : "false", b ? 4 : 5, res) < 0)
		return -1;
	res->is_bool = 1;
	return 0;
}

static int fn_default(struct state *st, const struct action *a,
                      struct val *args, size_t n, struct val *res)
{
	const struct val *v = &args[0];

	(void)a;
	if (n == 2 && !val_empty(&args[1]))
		v = &args[1];
	return val_dup(st, v, res);
}

static int fn_empty(struct state *st, const struct action *a,
                    struct val *args, size_t n, struct val *res)
{
	(void)a;
	(void)n;
	return val_bool(st, val_empty(&args[0]), res);
}

static int fn_coalesce(struct state *st, const struct action *a,
                       struct val *args, size_t n, struct val *res)
{
	(void)a;
	for (size_t k = 0; k < n; k++)
		if (!val_empty(&args[k]))
			return val_dup(st, &args[k], res);
	return val_str(st, "", 0, res);
}

/* ternary A B C: A when C is true, else B (C a boolean, or the text
 * "true" or "false"). */
static int fn_ternary(struct state *st, const struct action *a,
                      struct val *args, size_t n, struct val *res)
{
	(void)n;
	if (strcmp(args[2].s, "true") != 0 && strcmp(args[2].s, "false") != 0)
		return act_err(st, a, "ternary: want a boolean, got \"%s\"",
		               args[2].s);
	return val_dup(st, &args[strcmp(args[2].s, "true") == 0 ? 0 : 1], res);
}

static int fn_contains(struct state *st, const struct action *a,
                       struct val *args, size_t n, struct val *res)
{
	(void)a;
	(void)n;
	return val_bool(st, strstr(args[1].s, args[0].s) != NULL, res);
}

static int fn_hasprefix(struct state *st, const struct action *a,
                        struct val *args, size_t n, struct val *res)
{
	(void)a;
	(void)n;
	return val_bool(st, strncmp(args[1].s, args[0].s, strlen(args[0].s)) == 0,
	                res);
}

static int fn_hassuffix(struct state *st, const struct action *a,
                        struct val *args, size_t n, struct val *res)
{
	size_t sl = strlen(args[1].s), pl = strlen(args[0].s);

	(void)a;
	(void)n;
	return val_bool(st, sl >= pl && strcmp(args[1].s + sl - pl, args[0].s) == 0,
	                res);
}

static int fn_trimprefix(struct state *st, const struct action *a,
                         struct val *args, size_t n, struct val *res)
{
	const char *s = args[1].s;
	size_t pl = strlen(args[0].s);

	(void)a;
	(void)n;
	if (strncmp(s, args[0].s, pl) == 0)
		s += pl;
	return val_str(st, s, strlen(s), res);
}

static int fn_trimsuffix(struct state *st, const struct action *a,
                         struct val *args, size_t n, struct val *res)
{
	size_t sl = strlen(args[1].s), pl = strlen(args[0].s);

	(void)a;
	(void)n;
	if (sl >= pl && strcmp(args[1].s + sl - pl, args[0].s) == 0)
		sl -= pl;
	return val_str(st, args[1].s, sl, res);
}

/* trunc N S: the first N bytes of S, or with N < 0 the last -N (Sprig). */
static int fn_trunc(struct state *st, const struct action *a,
                    struct val *args, size_t n, struct val *res)
{
	long long c, len = (long long)strlen(args[1].s);

	(void)n;
	if (arg_int(st, a, "trunc", &args[0], &c) < 0)
		return -1;
	if (c < 0) {
		if (c < -len)
			c = -len;
		return val_str(st, args[1].s + len + c, (size_t)-c, res);
	}
	return val_str(st, args[1].s, (size_t)(c < len ? c : len), res);
}

/* split SEP S and splitList SEP S: the pieces of S. Go prints split's map
 * as map[_0:a _1:b] and splitList's list as [a b]; join takes either. */
static int split_common(struct state *st, const struct action *a,
                        struct val *args, int as_map, struct val *res)
{
	const char *sep = args[0].s, *s = args[1].s, *hit;
	size_t sepl = strlen(sep);
	struct strbuf b = {0};
	char key[40];

	if (sepl == 0)
		return act_err(st, a, "split: empty separator");
	memset(res, 0, sizeof(*res));
	res->is_list = 1;
	for (;;) {
		hit = strstr(s, sep);
		res->list = xrealloc(res->list, (res->nlist + 1) * sizeof(*res->list));
		res->list[res->nlist++] = xstrndup(s, hit ? (size_t)(hit - s) : strlen(s));
		if (hit == NULL)
			break;
		s = hit + sepl;
	}
	if (buf_add(st, &b, as_map ? "map[" : "[", as_map ? 4 : 1) < 0)
		goto fail;
	for (size_t k = 0; k < res->nlist; k++) {
		snprintf(key, sizeof(key), "%s_%zu:", k ? " " : "", k);
		if ((as_map && buf_add(st, &b, key, strlen(key)) < 0) ||
		    (!as_map && k > 0 && buf_addc(st, &b, ' ') < 0) ||
		    buf_add(st, &b, res->list[k], strlen(res->list[k])) < 0)
			goto fail;
	}
	if (buf_addc(st, &b, ']') < 0)
		goto fail;
	return buf_take(st, &b, &res->s);
fail:
	strbuf_free(&b);
	val_free(res);
	return -1;
}

static int fn_split(struct state *st, const struct action *a,
                    struct val *args, size_t n, struct val *res)
{
	(void)n;
	return split_common(st, a, args, 1, res);
}

static int fn_splitlist(struct state *st, const struct action *a,
                        struct val *args, size_t n, struct val *res)
{
	(void)n;
	return split_common(st, a, args, 0, res);
}

/* join SEP LIST: the items joined by SEP (a plain string is itself). */
static int fn_join(struct state *st, const struct action *a,
                   struct val *args, size_t n, struct val *res)
{
	struct strbuf b = {0};

	(void)a;
	(void)n;
	if (!args[1].is_list)
		return val_dup(st, &args[1], res);
	for (size_t k = 0; k < args[1].nlist; k++)
		if ((k > 0 && buf_add(st, &b, args[0].s, strlen(args[0].s)) < 0) ||
		    buf_add(st, &b, args[1].list[k], strlen(args[1].list[k])) < 0) {
			strbuf_free(&b);
			return -1;
		}
	memset(res, 0, sizeof(*res));
	return buf_take(st, &b, &res->s);
}

static int fn_case(struct state *st, const struct val *arg, int upper,
                   struct val *res)
{
	if (val_str(st, arg->s, strlen(arg->s), res) < 0)
		return -1;
	for (char *p = res->s; *p != '\0'; p++) {
		if (upper && *p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		else if (!upper && *p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return 0;
}

static int fn_lower(struct state *st, const struct action *a,
                    struct val *args, size_t n, struct val *res)
{
	(void)a;
	(void)n;
	return fn_case(st, &args[0], 0, res);
}

static int fn_upper(struct state *st, const struct action *a,
                    struct val *args, size_t n, struct val *res)
{
	(void)a;
	(void)n;
	return fn_case(st, &args[0], 1, res);
}

static int fn_trim(struct state *st, const struct action *a, struct val *args,
                   size_t n, struct val *res)
{
	const char *s = args[0].s, *e = s + strlen(s);

	(void)a;
	(void)n;
	while (s < e && strchr(" \t\n\v\f\r", *s) != NULL)
		s++;
	while (e > s && strchr(" \t\n\v\f\r", e[-1]) != NULL)
		e--;
	return val_str(st, s, (size_t)(e - s), res);
}

static int fn_replace(struct state *st, const struct action *a,
                      struct val *args, size_t n, struct val *res)
{
	const char *old = args[0].s, *new = args[1].s, *s = args[2].s, *hit;
	size_t olen = strlen(old), nlen = strlen(new);
	struct strbuf b = {0};

	(void)a;
	(void)n;
	if (olen == 0) {
		/* Go: NEW before every byte (rune, in Go) and at the end. */
		for (; *s != '\0'; s++)
			if (buf_add(st, &b, new, nlen) < 0 ||
			    buf_addc(st, &b, *s) < 0)
				goto fail;
		if (buf_add(st, &b, new, nlen) < 0)
			goto fail;
	} else {
		while ((hit = strstr(s, old)) != NULL) {
			if (buf_add(st, &b, s, (size_t)(hit - s)) < 0 ||
			    buf_add(st, &b, new, nlen) < 0)
				goto fail;
			s = hit + olen;
		}
		if (buf_add(st, &b, s, strlen(s)) < 0)
			goto fail;
	}
	memset(res, 0, sizeof(*res));
	return buf_take(st, &b, &res->s);
fail:
	strbuf_free(&b);
	return -1;
}

static int fn_substr(struct state *st, const struct action *a,
                     struct val *args, size_t n, struct val *res)
{
	long long start, end, len = (long long)strlen(args[2].s);

	(void)n;
	if (arg_int(st, a, "substr", &args[0], &start) < 0 ||
	    arg_int(st, a, "substr", &args[1], &end) < 0)
		return -1;
	/* Sprig's substr, clamped where Go would panic. */
	if (start < 0)
		start = 0;
	if (end < 0 || end > len)
		end = len;
	if (start > end)
		start = end;
	return val_str(st, args[2].s + start, (size_t)(end - start), res);
}

/* Go's %q for a byte string (bytes >= 0x80 kept as they are). */
static int quote_one(struct state *st, struct strbuf *b, const char *s)
{
	char tmp[8];
	const char *e;

	if (buf_addc(st, b, '"') < 0)
		return -1;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		e = NULL;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\a': e = "\\a"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		case '\v': e = "\\v"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\x%02x", c);
				e = tmp;
			}
		}
		if (e != NULL ? buf_add(st, b, e, strlen(e)) < 0
		              : buf_addc(st, b, (char)c) < 0)
			return -1;
	}
	return buf_addc(st, b, '"');
}

/* printf FMT ARGS...: Go's fmt.Sprintf for the verbs %s %v %d %q and %%. */
static int fn_printf(struct state *st, const struct action *a,
                     struct val *args, size_t n, struct val *res)
{
	const char *f = args[0].s;
	struct strbuf b = {0};
	size_t next = 1;
	long long num;
	char tmp[8];

	for (; *f != '\0'; f++) {
		if (*f != '%') {
			if (buf_addc(st, &b, *f) < 0)
				goto fail;
			continue;
		}
		f++;
		if (*f == '%') {
			if (buf_addc(st, &b, '%') < 0)
				goto fail;
			continue;
		}
		if (*f != 's' && *f != 'v' && *f != 'd' && *f != 'q') {
			act_err(st, a, "printf: unsupported verb %%%s",
			        *f ? show_char(*f, tmp) : "");
			goto fail;
		}
		if (next >= n) {
			act_err(st, a, "printf: missing argument for %%%c", *f);
			goto fail;
		}
		if (*f == 'd') {
			char d[32];

			if (arg_int(st, a, "printf", &args[next], &num) < 0)
				goto fail;
			snprintf(d, sizeof(d), "%lld", num);
			if (buf_add(st, &b, d, strlen(d)) < 0)
				goto fail;
		} else if (*f == 'q') {
			if (quote_one(st, &b, args[next].s) < 0)
				goto fail;
		} else if (buf_add(st, &b, args[next].s, strlen(args[next].s)) < 0) {
			goto fail;
		}
		next++;
	}
	if (next < n) {
		act_err(st, a, "printf: %zu arguments left over", n - next);
		goto fail;
	}
	memset(res, 0, sizeof(*res));
	return buf_take(st, &b, &res->s);
fail:
	strbuf_free(&b);
	return -1;
}

static int fn_quote(struct state *st, const struct action *a,
                    struct val *args, size_t n, struct val *res)
{
	struct strbuf b = {0};

	(void)a;
	for (size_t k = 0; k < n; k++)
		if ((k > 0 && buf_addc(st, &b, ' ') < 0) ||
		    quote_one(st, &b, args[k].s) < 0) {
			strbuf_free(&b);
			return -1;
		}
	memset(res, 0, sizeof(*res));
	return buf_take(st, &b, &res->s);
}

static const struct func funcs[] = {
	{"coalesce", 1, (size_t)-1, fn_coalesce},
	{"contains", 2, 2, fn_contains},
	{"default", 1, 2, fn_default},
	{"empty", 1, 1, fn_empty},
	{"hasPrefix", 2, 2, fn_hasprefix},
	{"hasSuffix", 2, 2, fn_hassuffix},
	{"index", 1, (size_t)-1, NULL}, /* special: see call_index() */
	{"join", 2, 2, fn_join},
	{"lower", 1, 1, fn_lower},
	{"printf", 1, (size_t)-1, fn_printf},
	{"quote", 0, (size_t)-1, fn_quote},
	{"replace", 3, 3, fn_replace},
	{"split", 2, 2, fn_split},
	{"splitList", 2, 2, fn_splitlist},
	{"substr", 3, 3, fn_substr},
	{"ternary", 3, 3, fn_ternary},
	{"trim", 1, 1, fn_trim},
	{"trimPrefix", 2, 2, fn_trimprefix},
	{"trimSuffix", 2, 2, fn_trimsuffix},
	{"trunc", 2, 2, fn_trunc},
	{"upper", 1, 1, fn_upper},
};

static const struct func *func_find(const char *name)
{
	for (size_t k = 0; k < sizeof(funcs) / sizeof(funcs[0]); k++)
		if (strcmp(funcs[k].name, name) == 0)
			return &funcs[k];
	return NULL;
}

static int check_nargs(struct state *st, const struct action *a,
                       const struct func *f, size_t n)
{
	if (n >= f->min && n <= f->max)
		return 0;
	if (f->min == f->max)
		return act_err(st, a,
		               "wrong number of arguments for %s: want %zu, "
		               "got %zu", f->name, f->min, n);
	if (f->max == (size_t)-1)
		return act_err(st, a,
		               "wrong number of arguments for %s: want at "
		               "least %zu, got %zu", f->name, f->min, n);
	return act_err(st, a,
	               "wrong number of arguments for %s: want %zu to %zu, "
	               "got %zu", f->name, f->min, f->max, n);
}

/* index .PATH K...: one lookup of PATH "\x1f" K "\x1f" K..., keys being
 * the evaluated arguments after the path (the piped value last). */
static int call_index(struct state *st, const struct action *a,
                      const struct tok *args, size_t nargs, struct val *prev,
                      unsigned depth, int allow_missing, struct val *res)
{
	struct strbuf path = {0}, shown = {0};
	struct val key = {0};
	size_t nkeys = nargs - 1 + (prev != NULL);
	int rc = -1;

	if (nargs == 0 || args[0].kind != TOK_VAR) {
		rc = act_err(st, a,
		             "index wants a variable as its first argument");
		goto out;
	}
	if (buf_add(st, &path, args[0].s, strlen(args[0].s)) < 0 ||
	    buf_addc(st, &shown, '.') < 0 ||
	    buf_add(st, &shown, args[0].s, strlen(args[0].s)) < 0)
		goto out;
	for (size_t k = 0; k < nkeys; k++) {
		if (k + 1 < nargs) {
			if (eval_operand(st, a, &args[k + 1], depth,
			                 allow_missing, &key) < 0)
				goto out;
		} else if (val_dup(st, prev, &key) < 0) {
			goto out;
		}
		if (strchr(key.s, TMPL_KEY_SEP) != NULL) {
			rc = act_err(st, a, "index key contains byte 0x1f");
			goto out;
		}
		if (buf_addc(st, &path, TMPL_KEY_SEP) < 0 ||
		    buf_add(st, &path, key.s, strlen(key.s)) < 0 ||
		    buf_add(st, &shown, "[\"", 2) < 0 ||
		    buf_add(st, &shown, key.s, strlen(key.s)) < 0 ||
		    buf_add(st, &shown, "\"]", 2) < 0)
			goto out;
		val_free(&key);
	}
	rc = resolve_var(st, path.p, shown.p, depth, allow_missing, res);
out:
	val_free(&key);
	strbuf_free(&path);
	strbuf_free(&shown);
	return rc;
}

/* Calls the function named by toks[0] with toks[1..n) and, when prev is
 * not NULL, the piped value as the last argument. */
static int call_func(struct state *st, const struct action *a,
                     const struct tok *toks, size_t n, struct val *prev,
                     unsigned depth, int allow_missing, struct val *res)
{
	const struct func *f = func_find(toks[0].s);
	struct val *args = NULL;
	size_t nargs = n - 1 + (prev != NULL), k;
	int rc = -1;

	if (f == NULL)
		return edge_errf(st->err, EDGE_EINPUT,
		                 "unknown template function \"%s\"", toks[0].s);
	if (check_nargs(st, a, f, nargs) < 0)
		return -1;
	if (f->call == NULL)
		return call_index(st, a, toks + 1, n - 1, prev, depth,
		                  allow_missing, res);
	args = xcalloc(nargs ? nargs : 1, sizeof(*args));
	for (k = 0; k + 1 < n; k++)
		if (eval_operand(st, a, &toks[k + 1], depth, allow_missing,
		                 &args[k]) < 0)
			goto out;
	if (prev != NULL) {
		/* Move, not copy: the pipeline no longer needs it. */
		val_move(&args[k], prev);
	}
	rc = f->call(st, a, args, nargs, res);
out:
	for (k = 0; k < nargs; k++)
		val_free(&args[k]);
	free(args);
	return rc;
}

/* Evaluates the pipeline of a lexed action and appends its value to out. */
static int eval_action(struct state *st, const struct action *a,
                       unsigned depth, struct strbuf *out)
{
	const struct tok *t = a->toks;
	struct val cur = {0}, next = {0};
	int have = 0, allow_missing = 0, rc = -1;
	size_t i = 0, start;

	if (a->ntoks == 0)
		return edge_errf(st->err, EDGE_EINPUT, "empty template action");
	/* An unknown variable is "" wherever default, coalesce or empty may
	 * deal with it. */
	for (size_t k = 0; k < a->ntoks; k++)
		if (t[k].kind == TOK_FUNC && (strcmp(t[k].s, "default") == 0 ||
		                              strcmp(t[k].s, "coalesce") == 0 ||
		                              strcmp(t[k].s, "empty") == 0))
			allow_missing = 1;
	for (;;) {
		start = i;
		while (i < a->ntoks && t[i].kind != TOK_PIPE)
			i++;
		if (start == i) {
			rc = act_err(st, a, "missing command in pipeline");
			goto out;
		}
		if (t[start].kind == TOK_FUNC) {
			if (call_func(st, a, t + start, i - start,
			              have ? &cur : NULL, depth, allow_missing,
			              &next) < 0)
				goto out;
		} else if (have) {
			rc = act_err(st, a, "only a function can follow \"|\"");
			goto out;
		} else if (i - start > 1) {
			rc = act_err(st, a, "a value takes no arguments");
			goto out;
		} else if (eval_operand(st, a, &t[start], depth, allow_missing,
		                        &next) < 0) {
			goto out;
		}
		val_free(&cur);
		val_move(&cur, &next);
		have = 1;
		if (i == a->ntoks)
			break;
		i++; /* the '|' */
	}
	/* every function sets its result: the analyzer cannot see through f->call */
	assert(cur.s != NULL);
	rc = buf_add(st, out, cur.s, strlen(cur.s));
out:
	val_free(&cur);
	val_free(&next);
	return rc;
}

/* Finds the "}}" that closes the action whose text starts at p, skipping
 * quoted strings (Go's lexer lets a string hold "}}"). NULL with err set
 * when there is none. */
static const char *find_close(struct state *st, const char *p)
{
	const char *e;

	for (;;) {
		switch (*p) {
		case '\0':
			edge_errf(st->err, EDGE_EINPUT,
			          "unterminated template action");
			return NULL;
		case '"':
			for (p++; *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0' && p[1] != '\n')
					p++;
				else if (*p == '\0' || *p == '\n' || *p == '\\') {
					edge_errf(st->err, EDGE_EINPUT,
					          "unterminated quoted string in "
					          "template action");
					return NULL;
				}
			}
			break;
		case '`':
			e = strchr(p + 1, '`');
			if (e == NULL) {
				edge_errf(st->err, EDGE_EINPUT,
				          "unterminated raw quoted string in "
				          "template action");
				return NULL;
			}
			p = e;
			break;
		case '}':
			if (p[1] == '}')
				return p;
			break;
		}
		p++;
	}
}

/* Expands in (nesting level depth) into a malloc'd *out. */
static int expand_text(struct state *st, const char *in, unsigned depth,
                       char **out)
{
	struct strbuf b = {0};
	struct action a = {0};
	const char *p = in, *q, *te, *body, *close, *e;
	int trim_next = 0, ltrim, rtrim;

	*out = NULL;
	for (;;) {
		q = strstr(p, "{{");
		te = q != NULL ? q : p + strlen(p);
		ltrim = q != NULL && q[2] == '-' && is_tspace(q[3]);
		if (trim_next)
			while (p < te && is_tspace(*p))
				p++;
		if (ltrim)
			while (te > p && is_tspace(te[-1]))
				te--;
		if (buf_add(st, &b, p, (size_t)(te - p)) < 0)
			goto fail;
		if (q == NULL)
			break;
		body = q + 2 + (ltrim ? 2 : 0);

		if (body[0] == '/' && body[1] == '*') {
			e = strstr(body + 2, "*/");
			if (e == NULL) {
				edge_errf(st->err, EDGE_EINPUT,
				          "unclosed template comment");
				goto fail;
			}
			e += 2;
			rtrim = is_tspace(e[0]) && e[1] == '-' && e[2] == '}' &&
			        e[3] == '}';
			if (rtrim)
				e += 2;
			if (e[0] != '}' || e[1] != '}') {
				edge_errf(st->err, EDGE_EINPUT,
				          "template comment ends before closing "
				          "delimiter");
				goto fail;
			}
			p = e + 2;
			trim_next = rtrim;
			continue;
		}

		close = find_close(st, body);
		if (close == NULL)
			goto fail;
		e = close;
		rtrim = e - body >= 2 && e[-1] == '-' && is_tspace(e[-2]);
		if (rtrim)
			e -= 2;
		while (body < e && is_tspace(*body))
			body++;
		while (e > body && is_tspace(e[-1]))
			e--;
		a.text = body;
		a.len = (size_t)(e - body);
		if (lex_action(st, &a) < 0 || eval_action(st, &a, depth, &b) < 0)
			goto fail;
		action_free(&a);
		p = close + 2;
		trim_next = rtrim;
	}
	return buf_take(st, &b, out);
fail:
	action_free(&a);
	strbuf_free(&b);
	return -1;
}

void tmpl_run_init(struct tmpl_run *run, unsigned flags, size_t bytes_max)
{
	memset(run, 0, sizeof(*run));
	run->flags = flags;
	run->bytes_max = run->bytes_left = bytes_max;
	run->nested_left = TMPL_MAX_NESTED;
}

void tmpl_run_free(struct tmpl_run *run)
{
	free(run->missing);
	run->missing = NULL;
	run->nmissing = 0;
}

int tmpl_expand_run(const char *in, tmpl_lookup_fn lookup, void *ctx,
                    struct tmpl_run *run, char **out, struct edge_err *err)
{
	struct edge_err local = {0};
	struct state st;

	st.lookup = lookup;
	st.ctx = ctx;
	st.err = err != NULL ? err : &local;
	st.run = run;
	st.at = NULL;
	*out = NULL;
	return expand_text(&st, in, 0, out);
}

int tmpl_expand(const char *in, tmpl_lookup_fn lookup, void *ctx, char **out,
                struct edge_err *err)
{
	struct tmpl_run run;
	int rc;

	tmpl_run_init(&run, 0, TMPL_MAX_BYTES);
	rc = tmpl_expand_run(in, lookup, ctx, &run, out, err);
	tmpl_run_free(&run);
	return rc;
}

int tmpl_has_action(const char *s)
{
	return s != NULL && strstr(s, "{{") != NULL;
}
