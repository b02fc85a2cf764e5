#include "resolve.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "ref.h"
#include "tmpl.h"
#include "yamljson.h"

#define LIST_MAX_BYTES (64u << 20)
/* Most bytes all the template expansions of a run may produce, the
 * intermediate values of nested templates included (tmpl.h: any one value
 * is at most TMPL_MAX_VALUE). */
#define EXPAND_MAX_BYTES (8u << 20)
#define PLACEHOLDER "EDGETMPL"

struct kv {
	char *key;
	char *value;
};

struct profile;

struct pack {
	char *name, *layer, *type, *tag, *version;
	json_t *values; /* pack values as JSON (scalars as strings), never NULL */
	struct profile *profile;
};

struct profile {
	char *name, *uid, *version, *type, *source;
	json_t *variables; /* array or NULL (borrowed from doc) */
	json_t *doc;
	struct pack *packs;
	size_t npacks;
};

struct resolver {
	struct kv *vars, *system;
	size_t nvars, nsystem;
	struct profile **profiles; /* pointers: packs point back at them */
	size_t nprofiles;
	json_t *images; /* ref -> entry */
	json_t *charts; /* ref -> entry */
	struct tmpl_run tmpl; /* the expansion budget of the whole run */
};

struct lookup_ctx {
	struct resolver *r;
	struct pack *pack;
};

static int parse_kvs(char **in, size_t n, struct kv **out, const char *what, struct edge_err *err)
{
	size_t i;

	*out = xcalloc(n ? n : 1, sizeof(**out));
	for (i = 0; i < n; i++) {
		const char *eq = strchr(in[i], '=');
		if (eq == NULL || eq == in[i])
			return edge_errf(err, EDGE_EUSAGE, "%s: expected NAME=VALUE, got '%s'", what, in[i]);
		(*out)[i].key = xstrndup(in[i], (size_t)(eq - in[i]));
		(*out)[i].value = xstrdup(eq + 1);
	}
	return 0;
}

static void free_kvs(struct kv *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

struct resolver *resolver_new(char **vars, size_t nvars, char **system, size_t nsystem,
			      struct edge_err *err)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->images = json_object();
	r->charts = json_object();
	tmpl_run_init(&r->tmpl, 0, EXPAND_MAX_BYTES);
	r->nvars = nvars;
	r->nsystem = nsystem;
	if (parse_kvs(vars, nvars, &r->vars, "--var", err) != 0 ||
	    parse_kvs(system, nsystem, &r->system, "--system", err) != 0) {
		resolver_free(r);
		return NULL;
	}
	return r;
}

void resolver_free(struct resolver *r)
{
	size_t i, j;

	if (r == NULL)
		return;
	for (i = 0; i < r->nprofiles; i++) {
		struct profile *p = r->profiles[i];
		for (j = 0; j < p->npacks; j++) {
			struct pack *k = &p->packs[j];
			free(k->name);
			free(k->layer);
			free(k->type);
			free(k->tag);
			free(k->version);
			json_decref(k->values);
		}
		free(p->packs);
		free(p->name);
		free(p->uid);
		free(p->version);
		free(p->type);
		free(p->source);
		json_decref(p->doc);
		free(p);
	}
	free(r->profiles);
	free_kvs(r->vars, r->nvars);
	free_kvs(r->system, r->nsystem);
	json_decref(r->images);
	json_decref(r->charts);
	tmpl_run_free(&r->tmpl);
	free(r);
}

size_t resolver_profile_count(const struct resolver *r)
{
	return r->nprofiles;
}

static char *jstr_dup(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	return NULL;
}

/*
 * Pack values may hold macros where YAML does not allow them
 * ("image: {{ .x }}" reads as a flow mapping). Each {{ … }} on one line is
 * swapped for a plain-scalar-safe placeholder before parsing and put back
 * into every string afterwards.
 */
struct tmpl_slots {
	char **text;
	size_t n;
};

static char *protect_templates(const char *in, struct tmpl_slots *s)
{
	size_t cap = strlen(in) + 1, n = 0;
	char *out = xmalloc(cap);
	const char *p = in;

	while (*p) {
		const char *open = strstr(p, "{{"), *close = NULL, *nl;
		if (open != NULL) {
			close = strstr(open + 2, "}}");
			nl = strchr(open, '\n');
			if (close != NULL && nl != NULL && nl < close)
				close = NULL;
		}
		if (open == NULL || close == NULL) {
			size_t rest = strlen(p);
			if (n + rest + 1 > cap) {
				cap = n + rest + 1;
				out = xrealloc(out, cap);
			}
			memcpy(out + n, p, rest);
			n += rest;
			break;
		} else {
			char tag[48];
			size_t pre = (size_t)(open - p), tl;
			close += 2;
			s->text = xrealloc(s->text, (s->n + 1) * sizeof(*s->text));
			s->text[s->n] = xstrndup(open, (size_t)(close - open));
			tl = (size_t)snprintf(tag, sizeof(tag), PLACEHOLDER "%zuX", s->n);
			s->n++;
			if (n + pre + tl + 1 > cap) {
				cap = (n + pre + tl + 1) * 2;
				out = xrealloc(out, cap);
			}
			memcpy(out + n, p, pre);
			n += pre;
			memcpy(out + n, tag, tl);
			n += tl;
			p = close;
		}
	}
	out[n] = '\0';
	return out;
}

/* Puts the original macro text back in place of every placeholder. A macro
 * written inside a double-quoted YAML string had its quotes escaped: undo. */
static char *restore_templates(const char *s, const struct tmpl_slots *slots)
{
	size_t cap = strlen(s) + 64, n = 0;
	char *out = xmalloc(cap);

	while (*s) {
		const char *hit = strstr(s, PLACEHOLDER);
		size_t pre;
		char *end;
		unsigned long idx;

		if (hit == NULL) {
			pre = strlen(s);
		} else {
			pre = (size_t)(hit - s);
		}
		if (n + pre + 1 > cap) {
			cap = (n + pre + 1) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + n, s, pre);
		n += pre;
		if (hit == NULL)
			break;
		idx = strtoul(hit + strlen(PLACEHOLDER), &end, 10);
		if (end == hit + strlen(PLACEHOLDER) || *end != 'X' || idx >= slots->n) {
			out[n++] = *hit;
			s = hit + 1;
			continue;
		}
		{
			const char *t = slots->text[idx];
			size_t tl = strlen(t), i;
			if (n + tl + 1 > cap) {
				cap = (n + tl + 1) * 2;
				out = xrealloc(out, cap);
			}
			for (i = 0; i < tl; i++) {
				if (t[i] == '\\' && (t[i + 1] == '"' || t[i + 1] == '\\'))
					i++;
				out[n++] = t[i];
			}
		}
		s = end + 1;
	}
	out[n] = '\0';
	return out;
}

static void restore_tree(json_t *v, const struct tmpl_slots *slots)
{
	size_t i;
	json_t *item;
	const char *k;
	void *tmp;

	if (json_is_string(v)) {
		if (strstr(json_string_value(v), PLACEHOLDER) != NULL) {
			char *s = restore_templates(json_string_value(v), slots);
			json_string_set(v, s);
			free(s);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			restore_tree(item, slots);
	} else if (json_is_object(v)) {
		json_object_foreach_safe(v, tmp, k, item)
			restore_tree(item, slots);
	}
}

static json_t *parse_values(const char *text, struct edge_err *err)
{
	struct tmpl_slots slots = {NULL, 0};
	char *safe = protect_templates(text, &slots);
	json_t *v;
	size_t i;

	v = yaml_to_json(safe, strlen(safe), YAML_SCALARS_AS_STRINGS, err);
	if (v != NULL)
		restore_tree(v, &slots);
	for (i = 0; i < slots.n; i++)
		free(slots.text[i]);
	free(slots.text);
	free(safe);
	return v;
}

static json_t *find_packs(json_t *doc, json_t **holder)
{
	json_t *spec = json_object_get(doc, "spec"), *t;
	static const char *const where[] = {"template", "published", "draft"};
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		t = json_object_get(spec, where[i]);
		if (json_is_object(t) && json_is_array(json_object_get(t, "packs"))) {
			*holder = t;
			return json_object_get(t, "packs");
		}
	}
	if (json_is_array(json_object_get(spec, "packs"))) {
		*holder = spec;
		return json_object_get(spec, "packs");
	}
	return NULL;
}

int resolver_add_profile(struct resolver *r, json_t *doc, const char *source, struct edge_err *err)
{
	json_t *meta, *spec, *packs, *holder = NULL, *pk, *vars;
	struct profile *p;
	size_t i;

	if (!json_is_object(doc))
		return 1;
	meta = json_object_get(doc, "metadata");
	spec = json_object_get(doc, "spec");
	if (!json_is_object(meta) || !json_is_object(spec))
		return 1;
	packs = find_packs(doc, &holder);
	if (packs == NULL)
		return 1;
	p = xcalloc(1, sizeof(*p));
	r->profiles = xrealloc(r->profiles, (r->nprofiles + 1) * sizeof(*r->profiles));
	r->profiles[r->nprofiles++] = p;
	p->doc = json_incref(doc);
	p->source = xstrdup(source);
	p->name = jstr_dup(meta, "name");
	if (p->name == NULL || p->name[0] == '\0')
		return edge_errf(err, EDGE_EINPUT, "%s: profile without metadata.name", source);
	p->uid = jstr_dup(meta, "uid");
	p->version = jstr_dup(spec, "version");
	p->type = jstr_dup(holder, "type");
	if (p->type == NULL)
		p->type = jstr_dup(spec, "type");
	vars = json_object_get(spec, "variables");
	if (!json_is_array(vars))
		vars = json_object_get(holder, "variables");
	p->variables = json_is_array(vars) ? vars : NULL;
	p->packs = xcalloc(json_array_size(packs), sizeof(*p->packs));
	json_array_foreach(packs, i, pk) {
		struct pack *k = &p->packs[p->npacks];
		json_t *values;
		if (!json_is_object(pk))
			return edge_errf(err, EDGE_EINPUT, "profile %s: packs[%zu]: expected an object", p->name, i);
		k->profile = p;
		k->name = jstr_dup(pk, "name");
		if (k->name == NULL || k->name[0] == '\0')
			return edge_errf(err, EDGE_EINPUT, "profile %s: packs[%zu]: pack without a name", p->name, i);
		p->npacks++;
		k->layer = jstr_dup(pk, "layer");
		k->type = jstr_dup(pk, "type");
		k->tag = jstr_dup(pk, "tag");
		k->version = jstr_dup(pk, "version");
		values = json_object_get(pk, "values");
		if (values == NULL || json_is_null(values)) {
			k->values = json_object();
		} else if (!json_is_string(values)) {
			return edge_errf(err, EDGE_EINPUT, "profile %s: pack %s: values: expected YAML text",
					 p->name, k->name);
		} else {
			k->values = parse_values(json_string_value(values), err);
			if (k->values == NULL)
				return edge_err_prefix(err, "profile %s: pack %s: values", p->name, k->name);
			if (json_is_null(k->values)) {
				json_decref(k->values);
				k->values = json_object();
			}
		}
	}
	return 0;
}

/* --- macro lookups ------------------------------------------------------ */

static const char *kv_get(const struct kv *v, size_t n, const char *key)
{
	size_t i;

	for (i = n; i > 0; i--)
		if (strcmp(v[i - 1].key, key) == 0)
			return v[i - 1].value;
	return NULL;
}

static const struct pack *find_layer(const struct resolver *r, const char *layer)
{
	size_t i, j;

	for (i = 0; i < r->nprofiles; i++)
		for (j = 0; j < r->profiles[i]->npacks; j++)
			if (r->profiles[i]->packs[j].layer && strcmp(r->profiles[i]->packs[j].layer, layer) == 0)
				return &r->profiles[i]->packs[j];
	return NULL;
}

/* Returns 0 found, 1 declared without a value, 2 not declared. */
static int profile_var(const struct profile *p, const char *name, const char **out)
{
	json_t *v;
	size_t i;

	if (p->variables == NULL)
		return 2;
	json_array_foreach(p->variables, i, v) {
		json_t *d;
		if (!json_is_string(json_object_get(v, "name")) ||
		    strcmp(json_string_value(json_object_get(v, "name")), name) != 0)
			continue;
		d = json_object_get(v, "defaultValue");
		if (json_is_string(d)) {
			*out = json_string_value(d);
			return 0;
		}
		return 1;
	}
	return 2;
}

static int scalar_text(json_t *v, const char *path, char **out, struct edge_err *err)
{
	if (json_is_string(v))
		*out = xstrdup(json_string_value(v));
	else if (json_is_null(v))
		*out = xstrdup("");
	else if (json_is_true(v))
		*out = xstrdup("true");
	else if (json_is_false(v))
		*out = xstrdup("false");
	else if (json_is_integer(v))
		*out = xasprintf("%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		*out = xasprintf("%g", json_real_value(v));
	else
		return edge_errf(err, EDGE_EINPUT, "template variable .%s is a %s, not a value", path,
				 json_is_array(v) ? "list" : "map");
	return 0;
}

struct seg {
	const char *s;
	size_t len;
	int literal; /* from index "key": never joined with its neighbours */
};

/* Walks segs through v; at a map, the longest run of dotted segments that is
 * a literal key wins first ("system.uri" before "system" then "uri"). */
static json_t *walk(json_t *v, const struct seg *segs, size_t n)
{
	size_t k;

	if (n == 0)
		return v;
	if (json_is_object(v)) {
		for (k = n; k >= 1; k--) {
			char key[1024];
			size_t i, len = 0;
			int ok = 1;
			json_t *child, *hit;
			for (i = 0; i < k; i++) {
				if (k > 1 && segs[i].literal) {
					ok = 0;
					break;
				}
				if (len + segs[i].len + 2 > sizeof(key)) {
					ok = 0;
					break;
				}
				if (i > 0)
					key[len++] = '.';
				memcpy(key + len, segs[i].s, segs[i].len);
				len += segs[i].len;
			}
			if (!ok)
				continue;
			key[len] = '\0';
			child = json_object_get(v, key);
			if (child == NULL)
				continue;
			hit = walk(child, segs + k, n - k);
			if (hit != NULL)
				return hit;
		}
		return NULL;
	}
	if (json_is_array(v)) {
		char buf[32], *end;
		unsigned long idx;
		if (segs[0].len == 0 || segs[0].len >= sizeof(buf))
			return NULL;
		memcpy(buf, segs[0].s, segs[0].len);
		buf[segs[0].len] = '\0';
		idx = strtoul(buf, &end, 10);
		if (*end != '\0' || idx >= json_array_size(v))
			return NULL;
		return walk(json_array_get(v, idx), segs + 1, n - 1);
	}
	return NULL;
}

static size_t split_path(const char *path, struct seg *segs, size_t max)
{
	size_t n = 0;
	const char *p = path;
	int literal = 0;

	while (n < max) {
		size_t len = strcspn(p, literal ? "\x1f" : ".\x1f");
		segs[n].s = p;
		segs[n].len = len;
		segs[n].literal = literal;
		n++;
		p += len;
		if (*p == '\0')
			break;
		literal = *p == '\x1f';
		p++;
	}
	return n;
}

static int lookup_pack(struct resolver *r, const char *full, const char *rest, char **out,
		       struct edge_err *err)
{
	const struct pack *best = NULL;
	size_t i, j, bestlen = 0;
	struct seg segs[64];
	size_t n;
	json_t *v;

	for (i = 0; i < r->nprofiles; i++) {
		for (j = 0; j < r->profiles[i]->npacks; j++) {
			const struct pack *k = &r->profiles[i]->packs[j];
			size_t len = strlen(k->name);
			if (strncmp(rest, k->name, len) == 0 &&
			    (rest[len] == '.' || rest[len] == '\x1f' || rest[len] == '\0') && len > bestlen) {
				best = k;
				bestlen = len;
			}
		}
	}
	if (best == NULL)
		return 1;
	rest += bestlen;
	if (*rest == '\0')
		return edge_errf(err, EDGE_EINPUT, "template variable .%s names a pack, not a value", full);
	n = split_path(rest + 1, segs, 64);
	if (*rest == '\x1f')
		segs[0].literal = 1;
	v = walk(best->values, segs, n);
	if (v == NULL)
		return 1;
	return scalar_text(v, full, out, err) == 0 ? 0 : -1;
}

static int lookup(void *vctx, const char *path, char **out, struct edge_err *err)
{
	struct lookup_ctx *c = vctx;
	struct resolver *r = c->r;
	const char *s;

	if (strncmp(path, "spectro.var.", 12) == 0) {
		const char *name = path + 12, *val;
		size_t i;
		int st = 2;
		if ((s = kv_get(r->vars, r->nvars, name)) != NULL) {
			*out = xstrdup(s);
			return 0;
		}
		if (c->pack != NULL)
			st = profile_var(c->pack->profile, name, &val);
		for (i = 0; st == 2 && i < r->nprofiles; i++)
			st = profile_var(r->profiles[i], name, &val);
		if (st == 0) {
			*out = xstrdup(val);
			return 0;
		}
		if (st == 1)
			return edge_errf(err, EDGE_EINPUT,
					 "profile variable %s has no default value: set it with --var %s=VALUE",
					 name, name);
		return 1;
	}
	if (strncmp(path, "spectro.system.", 15) == 0) {
		const char *key = path + 15;
		if ((s = kv_get(r->system, r->nsystem, key)) != NULL) {
			*out = xstrdup(s);
			return 0;
		}
		if (strcmp(key, "kubernetes.version") == 0) {
			const struct pack *k8s = find_layer(r, "k8s");
			if (k8s != NULL && (k8s->tag || k8s->version)) {
				*out = xstrdup(k8s->tag ? k8s->tag : k8s->version);
				return 0;
			}
		}
		return 1;
	}
	if (strncmp(path, "spectro.pack.", 13) == 0)
		return lookup_pack(r, path, path + 13, out, err);
	return 1;
}

/* --- collecting images and charts -------------------------------------- */

static void add_from(json_t *entry, json_t *from)
{
	json_t *list = json_object_get(entry, "from"), *f;
	size_t i;

	json_array_foreach(list, i, f) {
		if (json_equal(f, from)) {
			json_decref(from);
			return;
		}
	}
	json_array_append_new(list, from);
}

static void add_image(struct resolver *r, const char *ref, json_t *from)
{
	json_t *e = json_object_get(r->images, ref);

	if (e == NULL) {
		e = json_object();
		json_object_set_new(e, "ref", json_string(ref));
		json_object_set_new(e, "from", json_array());
		json_object_set_new(r->images, ref, e);
	}
	add_from(e, from);
}

static int add_chart(struct resolver *r, const char *repo, const char *name, const char *version,
		     json_t *from, struct edge_err *err)
{
	char *ref = resolve_chart_ref(repo, name, version, err);
	json_t *e;

	if (ref == NULL) {
		json_decref(from);
		return -1;
	}
	e = json_object_get(r->charts, ref);
	if (e == NULL) {
		e = json_object();
		json_object_set_new(e, "name", json_string(name));
		json_object_set_new(e, "version", json_string(version));
		json_object_set_new(e, "repo", json_string(repo));
		json_object_set_new(e, "ref", json_string(ref));
		json_object_set_new(e, "from", json_array());
		json_object_set_new(r->charts, ref, e);
	}
	add_from(e, from);
	free(ref);
	return 0;
}

static json_t *pack_from(const struct pack *k, const char *field)
{
	return json_pack("{s:s, s:s, s:s}", "profile", k->profile->name, "pack", k->name, "field", field);
}

/* Expands macros in s for pack k, strips "container://", trims. */
static char *expand(struct resolver *r, struct pack *k, const char *s, struct edge_err *err)
{
	struct lookup_ctx ctx = {r, k};
	char *out = NULL, *p, *q;

	if (tmpl_expand_run(s, lookup, &ctx, &r->tmpl, &out, err) != 0)
		return NULL;
	p = out;
	while (isspace((unsigned char)*p))
		p++;
	q = p + strlen(p);
	while (q > p && isspace((unsigned char)q[-1]))
		*--q = '\0';
	if (strncmp(p, "container://", 12) == 0)
		p += 12;
	memmove(out, p, strlen(p) + 1);
	return out;
}

static int pack_images(struct resolver *r, struct pack *k, json_t *content, struct edge_err *err)
{
	json_t *images = json_object_get(content, "images"), *it;
	size_t i;

	if (images == NULL || json_is_null(images))
		return 0;
	if (!json_is_array(images))
		return edge_errf(err, EDGE_EINPUT, "pack.content.images: expected a list");
	json_array_foreach(images, i, it) {
		json_t *v = NULL;
		char *raw, *ref = NULL;
		if (json_is_string(it)) {
			v = it;
		} else if (json_is_object(it)) {
			v = json_object_get(it, "image");
			if (v == NULL && (v = json_object_get(it, "iamge")) != NULL)
				log_warn("profile %s: pack %s: pack.content.images[%zu]: key 'iamge' read as 'image'",
					 k->profile->name, k->name, i);
		}
		if (!json_is_string(v) || json_string_length(v) == 0)
			return edge_errf(err, EDGE_EINPUT, "pack.content.images[%zu].image: missing or empty", i);
		raw = expand(r, k, json_string_value(v), err);
		if (raw == NULL)
			return edge_err_prefix(err, "pack.content.images[%zu].image", i);
		if (raw[0] == '\0') {
			edge_errf(err, EDGE_EINPUT, "pack.content.images[%zu].image: \"%s\" expands to nothing", i,
				  json_string_value(v));
			free(raw);
			return -1;
		}
		if (ref_normalize(raw, &ref, err) != 0) {
			free(raw);
			return edge_err_prefix(err, "pack.content.images[%zu].image", i);
		}
		add_image(r, ref, pack_from(k, "pack.content.images"));
		free(ref);
		free(raw);
	}
	return 0;
}

static int pack_charts(struct resolver *r, struct pack *k, json_t *content, struct edge_err *err)
{
	json_t *charts = json_object_get(content, "charts"), *it;
	size_t i;

	if (charts == NULL || json_is_null(charts))
		return 0;
	if (!json_is_array(charts))
		return edge_errf(err, EDGE_EINPUT, "pack.content.charts: expected a list");
	json_array_foreach(charts, i, it) {
		static const char *const keys[] = {"repo", "name", "version"};
		char *val[3] = {NULL, NULL, NULL};
		int j, rc = 0;
		if (!json_is_object(it))
			return edge_errf(err, EDGE_EINPUT, "pack.content.charts[%zu]: expected a map", i);
		for (j = 0; j < 3 && rc == 0; j++) {
			json_t *v = json_object_get(it, keys[j]);
			if (v == NULL && j == 0 && (v = json_object_get(it, "repository")) != NULL)
				log_warn("profile %s: pack %s: pack.content.charts[%zu]: key 'repository' read as 'repo'",
					 k->profile->name, k->name, i);
			if (!json_is_string(v) || json_string_length(v) == 0) {
				rc = edge_errf(err, EDGE_EINPUT, "pack.content.charts[%zu].%s: missing or empty", i, keys[j]);
				break;
			}
			val[j] = expand(r, k, json_string_value(v), err);
			if (val[j] == NULL)
				rc = edge_err_prefix(err, "pack.content.charts[%zu].%s", i, keys[j]);
		}
		if (rc == 0 && add_chart(r, val[0], val[1], val[2], pack_from(k, "pack.content.charts"), err) != 0)
			rc = edge_err_prefix(err, "pack.content.charts[%zu]", i);
		for (j = 0; j < 3; j++)
			free(val[j]);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* AlwaysPullImages makes every pod pull from the registry each time, which
 * breaks sites that are served from a content bundle or external registry. */
static int mentions_always_pull(json_t *v, int under_plugins)
{
	const char *k;
	json_t *item;
	size_t i;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strstr(s, "AlwaysPullImages") == NULL)
			return 0;
		return under_plugins || strstr(s, "enable-admission-plugins") != NULL;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			if (mentions_always_pull(item, under_plugins))
				return 1;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, k, item)
			if (mentions_always_pull(item, under_plugins || strcmp(k, "enable-admission-plugins") == 0))
				return 1;
	}
	return 0;
}

static int is_infra(const struct profile *p)
{
	size_t i;

	if (p->type != NULL)
		return strcasecmp(p->type, "cluster") == 0 || strcasecmp(p->type, "infra") == 0;
	for (i = 0; i < p->npacks; i++) {
		const char *l = p->packs[i].layer;
		if (l != NULL && strcmp(l, "addon") != 0)
			return 1;
	}
	return 0;
}

static int check_rules(struct resolver *r, struct edge_err *err)
{
	size_t i, j, a, b;
	const struct profile *infra = NULL;

	for (i = 0; i < r->nprofiles; i++) {
		const struct profile *p = r->profiles[i];
		if (!is_infra(p))
			continue;
		if (infra != NULL)
			return edge_errf(err, EDGE_EINPUT,
					 "profiles %s and %s are both infrastructure profiles: a cluster definition takes at most one",
					 infra->name, p->name);
		infra = p;
	}
	for (i = 0; i < r->nprofiles; i++)
		for (a = 0; a < r->profiles[i]->npacks; a++)
			for (j = i; j < r->nprofiles; j++)
				for (b = (j == i ? a + 1 : 0); b < r->profiles[j]->npacks; b++)
					if (strcmp(r->profiles[i]->packs[a].name, r->profiles[j]->packs[b].name) == 0) {
						if (i == j)
							return edge_errf(err, EDGE_EINPUT, "profile %s: pack %s appears twice",
									 r->profiles[i]->name, r->profiles[i]->packs[a].name);
						return edge_errf(err, EDGE_EINPUT,
								 "pack %s is in profiles %s and %s: a pack may be in only one profile",
								 r->profiles[i]->packs[a].name, r->profiles[i]->name,
								 r->profiles[j]->name);
					}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *sorted_values(json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v, *arr = json_array();

	json_object_foreach(obj, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++)
		json_array_append(arr, json_object_get(obj, keys[i]));
	free(keys);
	return arr;
}

int resolver_run(struct resolver *r, json_t **images, json_t **charts, json_t **profiles,
		 struct edge_err *err)
{
	size_t i, j;

	*images = *charts = *profiles = NULL;
	if (check_rules(r, err) != 0)
		return -1;
	for (i = 0; i < r->nprofiles; i++) {
		struct profile *p = r->profiles[i];
		for (j = 0; j < p->npacks; j++) {
			struct pack *k = &p->packs[j];
			json_t *content = json_object_get(json_object_get(k->values, "pack"), "content");
			if (k->layer && strcmp(k->layer, "k8s") == 0 && mentions_always_pull(k->values, 0))
				log_warn("profile %s: pack %s: enable-admission-plugins includes AlwaysPullImages, "
					 "which breaks sites served from a content bundle or external registry",
					 p->name, k->name);
			if (content == NULL || json_is_null(content))
				continue;
			if (!json_is_object(content))
				return edge_errf(err, EDGE_EINPUT, "profile %s: pack %s: pack.content: expected a map",
						 p->name, k->name);
			if (pack_images(r, k, content, err) != 0 || pack_charts(r, k, content, err) != 0)
				return edge_err_prefix(err, "profile %s: pack %s", p->name, k->name);
		}
	}
	*images = sorted_values(r->images);
	*charts = sorted_values(r->charts);
	*profiles = json_array();
	for (i = 0; i < r->nprofiles; i++) {
		struct profile *p = r->profiles[i];
		json_t *o = json_object();
		if (p->uid)
			json_object_set_new(o, "uid", json_string(p->uid));
		json_object_set_new(o, "name", json_string(p->name));
		if (p->version)
			json_object_set_new(o, "version", json_string(p->version));
		if (p->type)
			json_object_set_new(o, "type", json_string(p->type));
		json_array_append_new(*profiles, o);
	}
	return 0;
}

/* --- chart refs --------------------------------------------------------- */

char *resolve_chart_ref(const char *repo, const char *name, const char *version,
			struct edge_err *err)
{
	const char *p = repo;
	char *base, *ref, *norm = NULL;
	size_t len, i;
	char *tag;

	if (strncmp(p, "oci://", 6) == 0)
		p += 6;
	else if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else {
		edge_errf(err, EDGE_EINPUT, "chart repository \"%s\": expected an https://, http:// or oci:// URL", repo);
		return NULL;
	}
	len = strcspn(p, "?#");
	while (len > 0 && p[len - 1] == '/')
		len--;
	if (len == 0) {
		edge_errf(err, EDGE_EINPUT, "chart repository \"%s\": no host", repo);
		return NULL;
	}
	base = xstrndup(p, len);
	if (strchr(base, '@') != NULL) {
		edge_errf(err, EDGE_EINPUT, "chart repository \"%s\": credentials in the URL are not allowed", repo);
		free(base);
		return NULL;
	}
	/* repository paths are lower-case in OCI names */
	for (i = 0; base[i]; i++)
		base[i] = (char)tolower((unsigned char)base[i]);
	/* OCI tags cannot hold '+': Helm stores 1.0.0+build as 1.0.0_build */
	tag = xstrdup(version);
	for (i = 0; tag[i]; i++)
		if (tag[i] == '+')
			tag[i] = '_';
	ref = xasprintf("%s/%s:%s", base, name, tag);
	free(base);
	free(tag);
	{
		/* the host must read as a registry host, never as a docker.io path */
		size_t hl = strcspn(ref, "/");
		if (memchr(ref, '.', hl) == NULL && memchr(ref, ':', hl) == NULL &&
		    !(hl == 9 && strncmp(ref, "localhost", 9) == 0)) {
			edge_errf(err, EDGE_EINPUT,
				  "chart repository \"%s\": host \"%.*s\" is not a fully qualified name",
				  repo, (int)hl, ref);
			free(ref);
			return NULL;
		}
	}
	if (ref_normalize(ref, &norm, err) != 0) {
		edge_err_prefix(err, "chart %s %s from %s", name, version, repo);
		free(ref);
		return NULL;
	}
	free(ref);
	return norm;
}

/* --- list files --------------------------------------------------------- */

static char *strip_comment(char *line)
{
	char *p;

	for (p = line; *p; p++) {
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	while (isspace((unsigned char)*line))
		line++;
	p = line + strlen(line);
	while (p > line && isspace((unsigned char)p[-1]))
		*--p = '\0';
	return line;
}

static json_t *list_from(const char *path, size_t line)
{
	if (line > 0)
		return json_pack("{s:s, s:I}", "list", path, "line", (json_int_t)line);
	return json_pack("{s:s}", "list", path);
}

static int add_list_image(struct resolver *r, const char *path, size_t line, const char *what,
			  const char *s, struct edge_err *err)
{
	char *ref = NULL;

	if (ref_normalize(s, &ref, err) != 0) {
		if (line > 0)
			return edge_err_prefix(err, "%s:%zu", path, line);
		return edge_err_prefix(err, "%s: %s", path, what);
	}
	add_image(r, ref, list_from(path, line));
	free(ref);
	return 0;
}

/* Calls fn for each non-empty, non-comment line. */
static int each_line(char *data, int (*fn)(void *, size_t, char *, struct edge_err *), void *ctx,
		     struct edge_err *err)
{
	size_t lineno = 0;
	char *line;

	/* strtok_r would merge empty lines and lose numbering: walk by hand */
	line = data;
	while (line != NULL) {
		char *nl = strchr(line, '\n'), *s;
		if (nl)
			*nl = '\0';
		lineno++;
		s = strip_comment(line);
		if (*s && fn(ctx, lineno, s, err) != 0)
			return -1;
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

struct list_ctx {
	struct resolver *r;
	const char *path;
};

static int image_line(void *vctx, size_t lineno, char *s, struct edge_err *err)
{
	struct list_ctx *c = vctx;

	if (strpbrk(s, " \t") != NULL)
		return edge_errf(err, EDGE_EINPUT, "%s:%zu: expected one image reference, got \"%s\"", c->path,
				 lineno, s);
	return add_list_image(c->r, c->path, lineno, NULL, s, err);
}

static int chart_line(void *vctx, size_t lineno, char *s, struct edge_err *err)
{
	struct list_ctx *c = vctx;
	char *f[4] = {NULL, NULL, NULL, NULL}, *save = NULL, *t;
	int n = 0;

	for (t = strtok_r(s, " \t", &save); t != NULL && n < 4; t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	if (n != 3)
		return edge_errf(err, EDGE_EINPUT, "%s:%zu: expected \"REPO NAME VERSION\"", c->path, lineno);
	if (add_chart(c->r, f[0], f[1], f[2], list_from(c->path, lineno), err) != 0)
		return edge_err_prefix(err, "%s:%zu", c->path, lineno);
	return 0;
}

static json_t *load_list(const char *path, char **data, struct edge_err *err)
{
	size_t len;
	json_t *doc;
	struct edge_err yerr;

	if (read_file_max(path, LIST_MAX_BYTES, data, &len, err) != 0) {
		if (err->code == EDGE_EIO)
			err->code = EDGE_EINPUT;
		return NULL;
	}
	if (memchr(*data, '\0', len) != NULL) {
		edge_errf(err, EDGE_EINPUT, "%s: binary data, expected a text list", path);
		free(*data);
		*data = NULL;
		return NULL;
	}
	doc = yaml_to_json(*data, len, YAML_SCALARS_AS_STRINGS, &yerr);
	if (doc == NULL)
		doc = json_null(); /* not YAML: a plain list of lines */
	return doc;
}

static int skopeo_sync(struct resolver *r, const char *path, json_t *doc, struct edge_err *err)
{
	const char *reg, *repo;
	json_t *cfg, *tags, *tag;
	size_t i;

	json_object_foreach(doc, reg, cfg) {
		json_t *images = json_object_get(cfg, "images");
		if (!json_is_object(cfg))
			return edge_errf(err, EDGE_EINPUT, "%s: %s: expected a map with \"images\"", path, reg);
		if (json_object_get(cfg, "images-by-tag-regex") || json_object_get(cfg, "images-by-semver"))
			return edge_errf(err, EDGE_EINPUT, "%s: %s: images-by-tag-regex and images-by-semver need a registry query; list the tags", path, reg);
		if (!json_is_object(images))
			return edge_errf(err, EDGE_EINPUT, "%s: %s.images: expected a map of repositories to tags", path, reg);
		json_object_foreach(images, repo, tags) {
			char what[512];
			if (json_is_null(tags) || (json_is_array(tags) && json_array_size(tags) == 0)) {
				/* skopeo sync copies all tags; we need them named */
				return edge_errf(err, EDGE_EINPUT, "%s: %s.images.%s: list the tags to copy", path, reg, repo);
			}
			if (!json_is_array(tags))
				return edge_errf(err, EDGE_EINPUT, "%s: %s.images.%s: expected a list of tags", path, reg, repo);
			json_array_foreach(tags, i, tag) {
				char *s;
				int rc;
				if (!json_is_string(tag))
					return edge_errf(err, EDGE_EINPUT, "%s: %s.images.%s[%zu]: expected a tag", path, reg, repo, i);
				if (strncmp(json_string_value(tag), "sha256:", 7) == 0)
					s = xasprintf("%s/%s@%s", reg, repo, json_string_value(tag));
				else
					s = xasprintf("%s/%s:%s", reg, repo, json_string_value(tag));
				snprintf(what, sizeof(what), "%s.images.%s[%zu]", reg, repo, i);
				rc = add_list_image(r, path, 0, what, s, err);
				free(s);
				if (rc != 0)
					return -1;
			}
		}
	}
	return 0;
}

int resolver_add_image_list(struct resolver *r, const char *path, struct edge_err *err)
{
	char *data = NULL;
	json_t *doc = load_list(path, &data, err), *it;
	struct list_ctx ctx = {r, path};
	size_t i;
	int rc = 0;

	if (doc == NULL)
		return -1;
	if (json_is_object(doc)) {
		rc = skopeo_sync(r, path, doc, err);
	} else if (json_is_array(doc)) {
		json_array_foreach(doc, i, it) {
			json_t *v = json_is_object(it) ? json_object_get(it, "image") : it;
			char what[64];
			snprintf(what, sizeof(what), "[%zu]", i);
			if (!json_is_string(v)) {
				rc = edge_errf(err, EDGE_EINPUT, "%s: [%zu]: expected an image reference", path, i);
				break;
			}
			if ((rc = add_list_image(r, path, 0, what, json_string_value(v), err)) != 0)
				break;
		}
	} else {
		rc = each_line(data, image_line, &ctx, err);
	}
	json_decref(doc);
	free(data);
	return rc;
}

int resolver_add_chart_list(struct resolver *r, const char *path, struct edge_err *err)
{
	char *data = NULL;
	json_t *doc = load_list(path, &data, err), *list, *it;
	struct list_ctx ctx = {r, path};
	size_t i;
	int rc = 0;

	if (doc == NULL)
		return -1;
	list = json_is_object(doc) ? json_object_get(doc, "charts") : doc;
	if (json_is_object(doc) && !json_is_array(list)) {
		rc = edge_errf(err, EDGE_EINPUT, "%s: expected \"charts:\" with a list of {repo, name, version}", path);
	} else if (json_is_array(list)) {
		json_array_foreach(list, i, it) {
			const char *repo = manifest_str(it, "repo");
			const char *name = manifest_str(it, "name");
			const char *version = manifest_str(it, "version");
			if (!repo || !name || !version) {
				rc = edge_errf(err, EDGE_EINPUT, "%s: [%zu]: expected repo, name and version", path, i);
				break;
			}
			if ((rc = add_chart(r, repo, name, version, list_from(path, 0), err)) != 0) {
				edge_err_prefix(err, "%s: [%zu]", path, i);
				break;
			}
		}
	} else {
		rc = each_line(data, chart_line, &ctx, err);
	}
	json_decref(doc);
	free(data);
	return rc;
}
