/*
 * Templates: the subset of Go text/template and Sprig that Palette packs use
 * in their macros (SPEC §8, PALETTE-NOTES §3), e.g.
 *
 *   {{ .spectro.pack.edge-native-byoi.options.system.uri }}
 *   {{ .spectro.system.kubernetes.version | substr 0 4 }}
 *   {{- default "quay.io" .spectro.var.registry | lower -}}
 *   {{ index .spectro.pack.byoi.options "system.uri" }}
 *
 * This module only parses and evaluates; what a variable path means (profile
 * variables, other packs' values, --system keys) is the caller's lookup.
 *
 * Syntax accepted inside {{ }}:
 *   - a pipeline: commands separated by '|'; the first command is an operand
 *     or a function call, later ones are function calls and receive the
 *     previous value as their LAST argument (Sprig convention);
 *   - operands: variable paths ".a.b-c.d" (everything up to whitespace or '|'
 *     after the leading dot, passed to lookup as written, without the dot),
 *     "double-quoted" strings (escapes \" \\ \n \t \r), `raw` strings,
 *     integers (optional sign), true and false;
 *   - functions: default, lower, upper, trim, replace, substr, quote, index,
 *     and Sprig's trunc, printf, trimPrefix, trimSuffix, split, splitList,
 *     join, contains, hasPrefix, hasSuffix, empty, coalesce, ternary;
 *   - trim markers "{{- " and " -}}" (they trim the ASCII whitespace of the
 *     adjacent template text, as in Go);
 *   - comments: "{{" then '/' '*', a text, then '*' '/' and "}}" (only trim
 *     markers may come between a delimiter and the comment), produce nothing.
 * Anything else (if, range, with, define, $x, parentheses, nil)
 * is refused with `unsupported template action "..."`. Text outside actions
 * is copied verbatim; a lone '{' or '}' and a "}}" outside an action are text.
 *
 * Function semantics (byte-based, ASCII case mapping):
 *   default D [V]      V when it is non-empty (an integer 0 is empty), else D
 *   lower S, upper S   ASCII case mapping
 *   trim S             strip leading and trailing " \t\n\v\f\r"
 *   replace OLD NEW S  replace every OLD in S (empty OLD: NEW before each
 *                      byte and at the end, as Go's strings.Replace)
 *   substr A B S       Sprig's substr, clamped instead of panicking:
 *                      A < 0 means 0; B < 0 or B > len means len; empty when
 *                      A >= B. A and B are integers (or integer strings).
 *   quote S...         each argument as Go's %q, joined by one space
 *   index .PATH K...   looks up PATH + "\x1f" + K for each key (see below)
 *   trunc N S          the first N bytes of S; N < 0: the last -N
 *   printf F ARGS...   Go's Sprintf for %s %v %d %q and %%; other verbs,
 *                      missing or extra arguments are errors
 *   trimPrefix P S, trimSuffix X S   S without the prefix P / suffix X
 *   split SEP S        the pieces of S, printed as Go prints Sprig's map
 *                      (map[_0:a _1:b]); splitList: as a list ([a b])
 *   join SEP L         the items of a split list joined by SEP (a string: S)
 *   contains SUB S, hasPrefix P S, hasSuffix X S   "true" or "false"
 *   empty V            "true" when V is "", 0, false or an empty list
 *   coalesce V...      the first V that is not empty, else ""
 *   ternary A B C      A when C is true, B when false (C must be a boolean
 *                      or the text "true" or "false")
 *
 * Unknown variables: lookup returning 1 is the error
 * `unknown template variable .PATH`, except in a pipeline in which some
 * command calls default, coalesce or empty: there an unknown variable is
 * the empty string (and with TMPL_MISSING_EMPTY, everywhere), so
 * `{{ .spectro.var.x | default "d" }}` and `{{ default "d" .spectro.var.x }}`
 * give "d".
 *
 * Nested templates: a value returned by lookup that contains "{{" is itself
 * expanded (with the same lookup) before use, up to TMPL_MAX_DEPTH levels;
 * deeper is `template nesting too deep (cycle?) at .PATH`. Literal strings
 * and function results are never re-expanded.
 *
 * Bounds: templates that fan out at every level (ten references to a value
 * that holds ten references, five deep, …) would grow without end, so
 *   - no value produced (an expansion, a nested one, a function result) may
 *     pass TMPL_MAX_VALUE bytes: `template value too large at .PATH (more
 *     than 1 MiB)`, .PATH being the variable under expansion, if any;
 *   - all the calls that share a struct tmpl_run may produce at most
 *     bytes_max bytes in all, intermediate values included (`template
 *     expansion too large at .PATH (more than 4 MiB in all)`), and perform
 *     at most TMPL_MAX_NESTED nested expansions (`template expansion too
 *     large at .PATH`). tmpl_expand() gives each call its own TMPL_MAX_BYTES.
 * Memory: allocation failure aborts (the x* allocators of fsutil.h).
 */
#ifndef EDGE_TMPL_H
#define EDGE_TMPL_H

#include <stddef.h>

#include "err.h"

/* Most levels of nested templates expanded (values containing "{{"). */
#define TMPL_MAX_DEPTH 16
/* Most nested expansions performed by the calls sharing a tmpl_run. */
#define TMPL_MAX_NESTED 100000
/* Most bytes of any one value produced. */
#define TMPL_MAX_VALUE (1u << 20)
/* Most bytes produced by one tmpl_expand() call, intermediates included. */
#define TMPL_MAX_BYTES (4u << 20)

/* Separator in the path that `index` passes to lookup: the byte 0x1F (ASCII
 * unit separator) means "one literal key follows, dots and all". So
 * `{{ index .spectro.pack.p.options "system.uri" }}` calls lookup with
 * "spectro.pack.p.options\x1fsystem.uri", and `index .a "b" "c.d"` with
 * "a\x1fb\x1fc.d". Keys never contain 0x1F (refused); paths never contain
 * control characters. An integer key is passed as its decimal text. */
#define TMPL_KEY_SEP '\x1f'
#define TMPL_KEY_SEP_STR "\x1f"

/*
 * Looks up a variable path such as "spectro.var.registry" or
 * "spectro.pack.edge-native-byoi.options.system.uri": the text after the
 * leading '.', exactly as written in the template (possibly with
 * TMPL_KEY_SEP-separated literal keys, see above). Returns 0 and sets *out
 * to a malloc'd string (which tmpl_expand frees) when found; returns 1 when
 * the variable does not exist (err untouched); returns -1 with err set on
 * another error (the error is passed through unchanged).
 */
typedef int (*tmpl_lookup_fn)(void *ctx, const char *path, char **out,
                              struct edge_err *err);

/*
 * Expands every {{ ... }} action in in, calling lookup(ctx, ...) for each
 * variable, and sets *out to the malloc'd result, which the caller frees.
 * Returns 0, or -1 with *out NULL and err set: EDGE_EINPUT for a template
 * error (`unknown template variable .spectro.var.foo`,
 * `unterminated template action`, `unknown template function "foo"`,
 * `template nesting too deep (cycle?) at .a.b`, `template value too large
 * ...`), or whatever lookup set. err may be NULL.
 */
int tmpl_expand(const char *in, tmpl_lookup_fn lookup, void *ctx, char **out,
                struct edge_err *err);

/* Unknown variables expand to "" (Palette's rule for a macro without a
 * value) instead of being an error; the first is kept in missing. */
#define TMPL_MISSING_EMPTY 1u

/* Options and budget shared by several expansions (a whole resolver run). */
struct tmpl_run {
	unsigned flags;            /* TMPL_MISSING_EMPTY */
	size_t bytes_max;          /* the budget's size, for messages */
	size_t bytes_left;         /* bytes the calls may still produce */
	unsigned long nested_left; /* nested expansions they may still do */
	char *missing;             /* first unknown variable (".PATH") that
	                              expanded to "", malloc'd; NULL if none */
	unsigned long nmissing;    /* how many did */
};

/* Starts a run: flags, a budget of bytes_max bytes, TMPL_MAX_NESTED nested
 * expansions. */
void tmpl_run_init(struct tmpl_run *run, unsigned flags, size_t bytes_max);
/* Frees run->missing (and clears it and nmissing: the budget is kept). */
void tmpl_run_free(struct tmpl_run *run);

/* tmpl_expand() within run: uses its flags, spends its budget, records
 * unknown variables in it. */
int tmpl_expand_run(const char *in, tmpl_lookup_fn lookup, void *ctx,
                    struct tmpl_run *run, char **out, struct edge_err *err);

/* Returns 1 if s contains a template action "{{", else 0. s may be NULL. */
int tmpl_has_action(const char *s);

#endif
