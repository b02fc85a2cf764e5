#include "yamljson.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fsutil.h"
#include "jsonload.h"
#include "log.h"

#define MAX_DEPTH 256
#define MAX_ALIASES 10000

/*
 * An alias shares the anchored JSON value instead of copying it, so the
 * document in memory stays small, but every reader that walks it (template
 * restore, a JSON dump of Chart.yaml, a lookup) sees the expanded tree: a
 * "billion laughs" of 2 KB is 2^30 nodes to them. So each anchor remembers
 * how many nodes its value stands for, and each alias adds that many to the
 * document's count. What aliases add may not pass YAML_MAX_ALIAS_NODES (as
 * libyaml's users and Go's yaml.v3 bound decoding by nodes produced, not by
 * aliases seen); what the text itself holds is bounded by its size.
 */
struct anchor {
	char *name;
	json_t *value;
	size_t nodes; /* nodes the value stands for, aliases expanded */
};

struct yconv {
	yaml_parser_t parser;
	int flags;
	struct anchor *anchors;
	size_t nanchors;
	size_t aliases;
	size_t nodes;       /* nodes produced so far, aliases expanded */
	size_t alias_nodes; /* the part of nodes that aliases produced */
	struct edge_err *err;
};

static int conv_error(struct yconv *c, const yaml_mark_t *mark, const char *reason)
{
	return edge_errf(c->err, EDGE_EINPUT, "line %zu, column %zu: %s",
			 mark->line + 1, mark->column + 1, reason);
}

static void anchor_set(struct yconv *c, const char *name, json_t *v, size_t nodes)
{
	size_t i;

	for (i = 0; i < c->nanchors; i++) {
		if (strcmp(c->anchors[i].name, name) == 0) {
			json_decref(c->anchors[i].value);
			c->anchors[i].value = json_incref(v);
			c->anchors[i].nodes = nodes;
			return;
		}
	}
	c->anchors = xrealloc(c->anchors, (c->nanchors + 1) * sizeof(*c->anchors));
	c->anchors[c->nanchors].name = xstrdup(name);
	c->anchors[c->nanchors].value = json_incref(v);
	c->anchors[c->nanchors].nodes = nodes;
	c->nanchors++;
}

static const struct anchor *anchor_get(struct yconv *c, const char *name)
{
	size_t i;

	for (i = c->nanchors; i > 0; i--)
		if (strcmp(c->anchors[i - 1].name, name) == 0)
			return &c->anchors[i - 1];
	return NULL;
}

static int is_null_text(const char *s)
{
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static json_t *typed_scalar(const char *s, size_t len)
{
	char *end;

	if (is_null_text(s))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (len > 0 && strspn(s, "+-0123456789") == len && strchr("+-0123456789", s[0])) {
		long long v;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (*end == '\0' && errno == 0 && end != s)
			return json_integer(v);
	}
	if (len > 2 && s[0] == '0' && s[1] == 'x') {
		long long v;
		errno = 0;
		v = strtoll(s + 2, &end, 16);
		if (*end == '\0' && errno == 0)
			return json_integer(v);
	}
	if (len > 0 && strspn(s, "+-0123456789.eE") == len && strchr(s, '.') != NULL) {
		double d;
		errno = 0;
		d = strtod(s, &end);
		if (*end == '\0' && errno == 0 && isfinite(d))
			return json_real(d);
	}
	return json_stringn(s, len);
}

static json_t *parse_node(struct yconv *c, yaml_event_t *ev, int depth);

static void merge_into(json_t *obj, json_t *src)
{
	const char *k;
	json_t *v;

	if (!json_is_object(src))
		return;
	json_object_foreach(src, k, v) {
		if (json_object_get(obj, k) == NULL)
			json_object_set(obj, k, v);
	}
}

/* Text for a mapping key: scalars as written, anything else serialised;
 * NULL when the memory budget (jsonload.h) refused it. */
static char *key_text(json_t *k)
{
	char *t;

	if (json_is_string(k))
		return xstrdup(json_string_value(k));
	if (json_is_null(k))
		return xstrdup("null");
	t = json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT);
	if (t == NULL && !json_budget_over())
		edge_oom(); /* the key's strings are valid UTF-8: memory is the only failure */
	return t;
}

static json_t *parse_mapping(struct yconv *c, int depth, const yaml_mark_t *start)
{
	json_t *obj = json_object();
	yaml_event_t ev;

	for (;;) {
		json_t *key, *val;
		char *ktext;
		int is_merge;
		yaml_mark_t kmark;

		if (!yaml_parser_parse(&c->parser, &ev))
			goto parse_fail;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return obj;
		}
		is_merge = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.plain_implicit &&
			   strcmp((const char *)ev.data.scalar.value, "<<") == 0;
		kmark = ev.start_mark;
		key = parse_node(c, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (key == NULL)
			goto fail;
		if (!yaml_parser_parse(&c->parser, &ev)) {
			json_decref(key);
			goto parse_fail;
		}
		val = parse_node(c, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (val == NULL) {
			json_decref(key);
			goto fail;
		}
		if (is_merge) {
			size_t i;
			json_t *item;
			if (json_is_array(val)) {
				json_array_foreach(val, i, item)
					merge_into(obj, item);
			} else {
				merge_into(obj, val);
			}
			json_decref(key);
			json_decref(val);
			continue;
		}
		ktext = key_text(key);
		json_decref(key);
		if (ktext == NULL) {
			json_decref(val);
			goto fail; /* the budget's: yaml_to_json_first says so */
		}
		/* a key that is itself a mapping is serialised, and its quotes are
		 * escaped again at every level: bound it, or a few hundred bytes of
		 * nested {{{…}}} keys grow past any memory */
		if (strlen(ktext) > YAML_MAX_KEY_TEXT) {
			free(ktext);
			json_decref(val);
			conv_error(c, &kmark, "a mapping key longer than " YAML_MAX_KEY_TEXT_STR " bytes");
			goto fail;
		}
		json_object_set_new(obj, ktext, val);
		free(ktext);
	}
parse_fail:
	conv_error(c, &c->parser.problem_mark, c->parser.problem ? c->parser.problem : "parse error");
fail:
	(void)start;
	json_decref(obj);
	return NULL;
}

static json_t *parse_sequence(struct yconv *c, int depth)
{
	json_t *arr = json_array();
	yaml_event_t ev;

	for (;;) {
		json_t *v;
		if (!yaml_parser_parse(&c->parser, &ev)) {
			conv_error(c, &c->parser.problem_mark,
				   c->parser.problem ? c->parser.problem : "parse error");
			json_decref(arr);
			return NULL;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return arr;
		}
		v = parse_node(c, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (v == NULL) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, v);
	}
}

static json_t *parse_node(struct yconv *c, yaml_event_t *ev, int depth)
{
	json_t *v = NULL;
	const char *anchor = NULL;
	const struct anchor *an;
	size_t start = c->nodes;

	if (depth > MAX_DEPTH) {
		conv_error(c, &ev->start_mark, "nesting too deep");
		return NULL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		if (++c->aliases > MAX_ALIASES) {
			conv_error(c, &ev->start_mark, "too many aliases");
			return NULL;
		}
		an = anchor_get(c, (const char *)ev->data.alias.anchor);
		if (an == NULL) {
			conv_error(c, &ev->start_mark, "unknown alias");
			return NULL;
		}
		if (an->nodes > YAML_MAX_ALIAS_NODES - c->alias_nodes) {
			char why[96];
			snprintf(why, sizeof(why), "aliases expand to more than %d nodes",
				 YAML_MAX_ALIAS_NODES);
			conv_error(c, &ev->start_mark, why);
			return NULL;
		}
		c->alias_nodes += an->nodes;
		c->nodes += an->nodes;
		return json_incref(an->value);
	case YAML_SCALAR_EVENT: {
		const char *s = (const char *)ev->data.scalar.value;
		c->nodes++;
		size_t len = ev->data.scalar.length;
		const char *tag = (const char *)ev->data.scalar.tag;
		int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		anchor = (const char *)ev->data.scalar.anchor;
		if (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0)
			v = json_stringn(s, len);
		else if (!plain)
			v = json_stringn(s, len);
		else if (c->flags & YAML_SCALARS_AS_STRINGS)
			v = is_null_text(s) ? json_null() : json_stringn(s, len);
		else
			v = typed_scalar(s, len);
		if (v == NULL) /* invalid UTF-8 */
			v = json_string("");
		break;
	}
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		c->nodes++;
		v = parse_sequence(c, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		c->nodes++;
		v = parse_mapping(c, depth, &ev->start_mark);
		break;
	default:
		conv_error(c, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
	if (v != NULL && anchor != NULL)
		anchor_set(c, anchor, v, c->nodes - start);
	return v;
}

json_t *yaml_to_json(const char *text, size_t len, int flags, struct edge_err *err)
{
	return yaml_to_json_first(text, len, flags, NULL, err);
}

json_t *yaml_to_json_first(const char *text, size_t len, int flags, int *more, struct edge_err *err)
{
	struct yconv c;
	yaml_event_t ev;
	json_t *root = NULL;
	size_t i, limit = json_budget_limit(len);
	int done = 0;

	memset(&c, 0, sizeof(c));
	c.flags = flags;
	c.err = err;
	if (!yaml_parser_initialize(&c.parser)) {
		edge_errf(err, EDGE_EIO, "yaml: out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
	json_budget_begin(limit);
	while (!done) {
		if (!yaml_parser_parse(&c.parser, &ev)) {
			conv_error(&c, &c.parser.problem_mark,
				   c.parser.problem ? c.parser.problem : "parse error");
			json_decref(root);
			root = NULL;
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		default:
			if (root == NULL) {
				root = parse_node(&c, &ev, 0);
				if (root == NULL) {
					yaml_event_delete(&ev);
					goto out;
				}
			}
			/* only the first document is used */
			done = 1;
			break;
		}
		yaml_event_delete(&ev);
	}
	if (more != NULL) {
		/* is another document next? (a parse error there is not ours:
		 * the first document is all we read) */
		*more = 0;
		while (root != NULL && yaml_parser_parse(&c.parser, &ev)) {
			yaml_event_type_t t = ev.type;
			yaml_event_delete(&ev);
			if (t == YAML_DOCUMENT_START_EVENT)
				*more = 1;
			if (t != YAML_DOCUMENT_END_EVENT)
				break;
		}
	}
	if (root == NULL)
		root = json_null();
out:
	for (i = 0; i < c.nanchors; i++) {
		free(c.anchors[i].name);
		json_decref(c.anchors[i].value);
	}
	free(c.anchors);
	yaml_parser_delete(&c.parser);
	if (json_budget_end()) {
		/* jansson was refused memory: what was built is partial */
		json_decref(root);
		root = NULL;
		edge_errf(err, EDGE_EINPUT, "denser than edge reads: converting these %zu bytes takes more than %zu MiB",
			  len, limit >> 20);
	}
	return root;
}
