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
	struct kv *vars, *system, *macros;
	size_t nvars, nsystem, nmacros;
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
			      char **macros, size_t nmacros, struct edge_err *err)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->images = json_object();
	r->charts = json_object();
	/* Palette: a macro with no value and no default is "" */
	tmpl_run_init(&r->tmpl, TMPL_MISSING_EMPTY, EXPAND_MAX_BYTES);
	r->nvars = nvars;
	r->nsystem = nsystem;
	r->nmacros = nmacros;
	if (parse_kvs(vars, nvars, &r->vars, "--var", err) != 0 ||
	    parse_kvs(system, nsystem, &r->system, "--system", err) != 0 ||
	    parse_kvs(macros, nmacros, &r->macros, "--macro", err) != 0) {
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
	free_kvs(r->macros, r->nmacros);
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
 * ("image: {{ .x }}" reads as a flow mapping). Each {{ … }} is swapped for a
 * plain-scalar-safe placeholder before parsing and put back into every
 * string afterwards. A macro may span lines (formatters wrap long ones, as
 * the docs' own BYOOS system.uri): its closing "}}" may come up to
 * TMPL_SPAN_LINES lines and TMPL_SPAN_BYTES bytes later, with no "{{" in
 * between; a "{{" with no such close is left as it is (YAML text).
 */
#define TMPL_SPAN_LINES 8
#define TMPL_SPAN_BYTES 2048
struct tmpl_slots {
	char **text;
	size_t n;
};

/* The next "{{" from p, or NULL. (A loop, not strstr: sanitizers check
 * strstr's whole haystack, which made a call per "{{" quadratic.) */
static const char *find_open(const char *p)
{
	for (; *p != '\0'; p++)
		if (p[0] == '{' && p[1] == '{')
			return p;
	return NULL;
}

static char *protect_templates(const char *in, struct tmpl_slots *s)
{
	struct strbuf out = {0};
	const char *p = in;

	while (*p) {
		const char *open = find_open(p), *close = NULL, *q;
		while (open != NULL) {
			/* the scan stops at the next "{{", so the input is read
			 * about once however many "{{" it holds */
			size_t lines = 0;
			for (q = open + 2; *q != '\0'; q++) {
				if (q[0] == '}' && q[1] == '}') {
					close = q;
					break;
				}
				if (*q == '\n')
					lines++;
				if ((q[0] == '{' && q[1] == '{') || lines > TMPL_SPAN_LINES ||
				    (size_t)(q - open) > TMPL_SPAN_BYTES)
					break;
			}
			if (close != NULL)
				break;
			/* not a macro: look for the next "{{" */
			open = find_open(open + 2);
		}
		if (open == NULL || close == NULL) {
			strbuf_adds(&out, p);
			break;
		} else {
			char tag[48];
			size_t pre = (size_t)(open - p), tl;
			close += 2;
			s->text = xrealloc(s->text, (s->n + 1) * sizeof(*s->text));
			s->text[s->n] = xstrndup(open, (size_t)(close - open));
			tl = (size_t)snprintf(tag, sizeof(tag), PLACEHOLDER "%zuX", s->n);
			s->n++;
			strbuf_add(&out, p, pre);
			strbuf_add(&out, tag, tl);
			p = close;
		}
	}
	return strbuf_take(&out);
}

/* Puts the original macro text back in place of every placeholder. A macro
 * written inside a double-quoted YAML string had its quotes escaped: undo. */
static char *restore_templates(const char *s, const struct tmpl_slots *slots)
{
	struct strbuf out = {0};

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
		strbuf_add(&out, s, pre);
		if (hit == NULL)
			break;
		idx = strtoul(hit + strlen(PLACEHOLDER), &end, 10);
		if (end == hit + strlen(PLACEHOLDER) || *end != 'X' || idx >= slots->n) {
			strbuf_addc(&out, *hit);
			s = hit + 1;
			continue;
		}
		{
			const char *t = slots->text[idx];
			size_t tl = strlen(t), i;
			for (i = 0; i < tl; i++) {
				if (t[i] == '\\' && (t[i + 1] == '"' || t[i + 1] == '\\'))
					i++;
				strbuf_addc(&out, t[i]);
			}
		}
		s = end + 1;
	}
	return strbuf_take(&out);
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

static json_t *parse_values(const char *text, int *more, struct edge_err *err)
{
	struct tmpl_slots slots = {NULL, 0};
	char *safe = protect_templates(text, &slots);
	json_t *v;
	size_t i;

	v = yaml_to_json_first(safe, strlen(safe), YAML_SCALARS_AS_STRINGS, more, err);
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
		p->npacks++; /* from here resolver_free frees what it holds */
		k->name = jstr_dup(pk, "name");
		if (k->name == NULL || k->name[0] == '\0')
			return edge_errf(err, EDGE_EINPUT, "profile %s: packs[%zu]: pack without a name", p->name, i);
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
			int more = 0;
			k->values = parse_values(json_string_value(values), &more, err);
			if (k->values == NULL)
				return edge_err_prefix(err, "profile %s: pack %s: values", p->name, k->name);
			if (more)
				log_warn("profile %s: pack %s: values hold several YAML documents (---): "
					 "only the first is read", p->name, k->name);
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

/* A full Kubernetes version: [v]MAJOR.MINOR.PATCH, then optionally '-' or
 * '+' and more ("1.27.2", "v1.29.5+k3s1"); not "1.27.x" or "1.27". */
static int is_full_version(const char *s)
{
	int i;

	if (*s == 'v')
		s++;
	for (i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
		if (i < 2 && *s++ != '.')
			return 0;
	}
	return *s == '\0' || *s == '-' || *s == '+';
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
	if (strncmp(path, "spectro.macro.", 14) == 0) {
		if ((s = kv_get(r->macros, r->nmacros, path + 14)) == NULL)
			return 1;
		*out = xstrdup(s);
		return 0;
	}
	if (strncmp(path, "spectro.system.", 15) == 0) {
		const char *key = path + 15;
		if ((s = kv_get(r->system, r->nsystem, key)) != NULL) {
			*out = xstrdup(s);
			return 0;
		}
		if (strcmp(key, "kubernetes.version") == 0) {
			/* exports say "tag": "1.27.x", "version": "1.27.2": the
			 * provider image is named after the full version */
			const struct pack *k8s = find_layer(r, "k8s");
			if (k8s == NULL)
				return 1;
			if (k8s->version != NULL && is_full_version(k8s->version)) {
				*out = xstrdup(k8s->version);
				return 0;
			}
			if (k8s->tag != NULL && is_full_version(k8s->tag)) {
				*out = xstrdup(k8s->tag);
				return 0;
			}
			return edge_errf(err, EDGE_EINPUT,
					 "{{.spectro.system.kubernetes.version}}: pack %s (layer k8s) has version \"%s\" "
					 "and tag \"%s\", neither a full version: set it with --system kubernetes.version=VERSION",
					 k8s->name, k8s->version ? k8s->version : "", k8s->tag ? k8s->tag : "");
		}
		return 1;
	}
	if (strncmp(path, "spectro.pack.", 13) == 0)
		return lookup_pack(r, path, path + 13, out, err);
	return 1;
}

/* --- collecting images and charts -------------------------------------- */

static void add_image(struct resolver *r, const char *ref, json_t *from)
{
	json_t *e = json_object_get(r->images, ref);

	if (e == NULL) {
		e = manifest_image_new(ref);
		json_object_set_new(r->images, ref, e);
	}
	manifest_entry_add_from(e, from);
}

/* Puts a copy of entry e under ref in map, or merges its from[] into the
 * entry already there. */
static void carry_entry(json_t *map, const char *ref, json_t *e)
{
	json_t *have = json_object_get(map, ref), *f;
	size_t i;

	if (have == NULL) {
		json_t *c = json_deep_copy(e);
		manifest_entry_set_ref(c, ref);
		json_object_set_new(map, ref, c);
		return;
	}
	json_array_foreach(json_object_get(e, "from"), i, f)
		manifest_entry_add_from(have, json_deep_copy(f));
}

int resolver_add_entries(struct resolver *r, json_t *images, json_t *charts, struct edge_err *err)
{
	json_t *e;
	size_t i;

	json_array_foreach(images, i, e)
		if (json_is_object(e) && manifest_entry_ref(e) != NULL)
			carry_entry(r->images, manifest_entry_ref(e), e);
	json_array_foreach(charts, i, e) {
		const char *ref = json_is_object(e) ? manifest_entry_ref(e) : NULL;
		char *made = NULL;
		if (!json_is_object(e))
			continue;
		if (ref == NULL) {
			if (manifest_entry_repo(e) == NULL || manifest_entry_name(e) == NULL ||
			    manifest_entry_version(e) == NULL)
				return edge_errf(err, EDGE_EINPUT, "charts[%zu]: neither ref nor repo, name and version", i);
			if ((made = resolve_chart_ref(manifest_entry_repo(e), manifest_entry_name(e),
						      manifest_entry_version(e), err)) == NULL)
				return edge_err_prefix(err, "charts[%zu]", i);
			ref = made;
		}
		carry_entry(r->charts, ref, e);
		free(made);
	}
	return 0;
}

/* ctx names the chart's place in warnings ("profile P: pack K: …"). */
static int add_chart(struct resolver *r, const char *ctx, const char *repo, const char *name,
		     const char *version, json_t *from, struct edge_err *err)
{
	char *ref, *fixed = NULL;
	json_t *e;

	if (strstr(repo, "://") == NULL) {
		/* pack-central's coder 2.23.3: "repo: helm.coder.com/v2" */
		fixed = xasprintf("https://%s", repo);
		log_warn("%s: chart repository \"%s\" has no scheme: assuming %s", ctx, repo, fixed);
		repo = fixed;
	}
	ref = resolve_chart_ref(repo, name, version, err);
	if (ref == NULL) {
		json_decref(from);
		free(fixed);
		return -1;
	}
	e = json_object_get(r->charts, ref);
	if (e == NULL) {
		e = manifest_chart_new(name, version, repo, ref);
		json_object_set_new(r->charts, ref, e);
	}
	manifest_entry_add_from(e, from);
	free(ref);
	free(fixed);
	return 0;
}

static json_t *pack_from(const struct pack *k, const char *field)
{
	return manifest_from_pack(k->profile->name, k->name, field);
}

/* Expands macros in s for pack k, strips "container://", trims. A macro
 * with no value is "" (Palette's rule): *missing (when not NULL) is then
 * set to the first such macro, malloc'd, for the caller to decide whether
 * the value it got is still usable. */
static char *expand(struct resolver *r, struct pack *k, const char *s, char **missing,
		    struct edge_err *err)
{
	struct lookup_ctx ctx = {r, k};
	char *out = NULL, *p, *q;

	tmpl_run_free(&r->tmpl); /* forget the last call's missing macros */
	if (missing != NULL)
		*missing = NULL;
	if (tmpl_expand_run(s, lookup, &ctx, &r->tmpl, &out, err) != 0)
		return NULL;
	if (r->tmpl.missing != NULL && missing != NULL)
		*missing = xstrdup(r->tmpl.missing);
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
		char *raw, *ref = NULL, *missing = NULL;
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
		raw = expand(r, k, json_string_value(v), &missing, err);
		if (raw == NULL)
			return edge_err_prefix(err, "pack.content.images[%zu].image", i);
		/* an empty macro is fine in text, not in a reference that then
		 * names the wrong image or none */
		if (raw[0] == '\0' || ref_normalize(raw, &ref, err) != 0) {
			if (missing != NULL)
				edge_errf(err, EDGE_EINPUT, "unknown template variable %s", missing);
			else if (raw[0] == '\0')
				edge_errf(err, EDGE_EINPUT, "\"%s\" expands to nothing", json_string_value(v));
			free(raw);
			free(missing);
			return edge_err_prefix(err, "pack.content.images[%zu].image", i);
		}
		if (missing != NULL)
			log_verbose("profile %s: pack %s: pack.content.images[%zu].image: macro %s has no value: "
				    "expanded to \"\"", k->profile->name, k->name, i, missing);
		free(missing);
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
		char *val[3] = {NULL, NULL, NULL}, *missing[3] = {NULL, NULL, NULL};
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
			val[j] = expand(r, k, json_string_value(v), &missing[j], err);
			if (val[j] == NULL) {
				rc = edge_err_prefix(err, "pack.content.charts[%zu].%s", i, keys[j]);
			} else if (val[j][0] == '\0') {
				if (missing[j] != NULL)
					edge_errf(err, EDGE_EINPUT, "unknown template variable %s", missing[j]);
				else
					edge_errf(err, EDGE_EINPUT, "\"%s\" expands to nothing", json_string_value(v));
				rc = edge_err_prefix(err, "pack.content.charts[%zu].%s", i, keys[j]);
			}
		}
		if (rc == 0) {
			char *ctx = xasprintf("profile %s: pack %s: pack.content.charts[%zu]", k->profile->name,
					      k->name, i);
			if (add_chart(r, ctx, val[0], val[1], val[2], pack_from(k, "pack.content.charts"), err) != 0) {
				for (j = 0; j < 3 && missing[j] == NULL; j++)
					;
				if (j < 3)
					edge_errf(err, EDGE_EINPUT, "%s: unknown template variable %s", keys[j],
						  missing[j]);
				rc = edge_err_prefix(err, "pack.content.charts[%zu]", i);
			} else {
				for (j = 0; j < 3; j++)
					if (missing[j] != NULL)
						log_verbose("%s.%s: macro %s has no value: expanded to \"\"", ctx,
							    keys[j], missing[j]);
			}
			free(ctx);
		}
		for (j = 0; j < 3; j++) {
			free(val[j]);
			free(missing[j]);
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/*
 * AlwaysPullImages makes every pod pull from the registry each time, which
 * breaks sites that are served from a content bundle or external registry.
 * The flags live in many shapes: a kubeadm map (extraArgs:
 * {enable-admission-plugins: "A,B"}), or K3s/RKE2 text inside cluster.config
 * ("kube-apiserver-arg:\n  - enable-admission-plugins=A,B"). Each list
 * found is parsed; the plugin is on when an enable list names it and no
 * disable list does (kube-apiserver refuses a plugin in both anyway).
 */
struct admission {
	int enabled, disabled;
};

/* Reads a comma list starting at s (up to a space, quote, bracket or
 * newline) and notes AlwaysPullImages in it. */
static void admission_list(const char *s, int *hit)
{
	size_t n = strcspn(s, " \t\r\n\"']}");

	while (n > 0) {
		size_t item = strcspn(s, ",");
		if (item > n)
			item = n;
		if (item == strlen("AlwaysPullImages") && strncmp(s, "AlwaysPullImages", item) == 0)
			*hit = 1;
		if (item >= n)
			break;
		s += item + 1;
		n -= item + 1;
	}
}

/* Finds "enable-admission-plugins" / "disable-admission-plugins" followed
 * by '=' or ':' in text, and reads the list after it. */
static void admission_text(const char *text, struct admission *a)
{
	static const char *const names[] = {"enable-admission-plugins", "disable-admission-plugins"};
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *p = text;
		while ((p = strstr(p, names[i])) != NULL) {
			p += strlen(names[i]);
			while (*p == '"' || *p == '\'' || *p == ' ' || *p == '\t')
				p++;
			if (*p != '=' && *p != ':')
				continue;
			p++;
			while (*p == '"' || *p == '\'' || *p == ' ' || *p == '\t')
				p++;
			admission_list(p, i == 0 ? &a->enabled : &a->disabled);
		}
	}
}

static void admission_scan(json_t *v, const char *key, struct admission *a)
{
	const char *k;
	json_t *item;
	size_t i;
	int *list = NULL;

	if (key != NULL && strcmp(key, "enable-admission-plugins") == 0)
		list = &a->enabled;
	else if (key != NULL && strcmp(key, "disable-admission-plugins") == 0)
		list = &a->disabled;
	if (json_is_string(v)) {
		if (list != NULL)
			admission_list(json_string_value(v), list);
		else
			admission_text(json_string_value(v), a);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			admission_scan(item, key, a);
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, item)
			admission_scan(item, k, a);
	}
}

/*
 * A pack whose content is not listed is silently left out of the bundle:
 * Palette's helm packs (the API exports only the registry's name, no chart
 * URL, and their values often list nothing) and infrastructure packs other
 * than the OS (a BYO CNI, a CSI). Say so.
 */
static void warn_unlisted(const struct pack *k, json_t *content)
{
	size_t n = json_array_size(json_object_get(content, "images")) +
		   json_array_size(json_object_get(content, "charts"));

	if (n > 0)
		return;
	if (k->type != NULL && strcmp(k->type, "helm") == 0)
		log_warn("profile %s: pack %s: a helm pack that lists no pack.content.images or charts: "
			 "list them in its values, or give them with --images and --charts",
			 k->profile->name, k->name);
	else if (k->layer != NULL && strcmp(k->layer, "addon") != 0 && strcmp(k->layer, "os") != 0)
		log_warn("profile %s: pack %s: a %s pack that lists no pack.content.images or charts: "
			 "list them in its values, or give them with --images and --charts",
			 k->profile->name, k->name, k->layer);
}

/*
 * An airgapped Edge host also needs the Palette agent (stylusPackage) and
 * the provider image (options.system.uri) of its OS pack; the Edge CLI adds
 * them with --include-palette-content, edge only when they are listed. A
 * value that does not expand to a valid reference is no image of ours to
 * check (it is noted with -v).
 */
static void check_agent_images(struct resolver *r, struct pack *k)
{
	static const char *const fields[] = {"stylusPackage", "options.system.uri"};
	size_t i;

	if (k->layer == NULL || strcmp(k->layer, "os") != 0)
		return;
	for (i = 0; i < 2; i++) {
		json_t *v = i == 0 ? json_object_get(k->values, fields[0])
				   : json_object_get(json_object_get(k->values, "options"), "system.uri");
		struct edge_err e = {0, ""};
		char *raw, *ref = NULL, *missing = NULL;

		if (!json_is_string(v) || json_string_length(v) == 0)
			continue;
		raw = expand(r, k, json_string_value(v), &missing, &e);
		if (raw == NULL || raw[0] == '\0' || ref_normalize(raw, &ref, &e) != 0) {
			log_verbose("profile %s: pack %s: %s: not checked against pack.content.images: %s",
				    k->profile->name, k->name, fields[i], e.msg[0] ? e.msg : "no image reference");
		} else if (json_object_get(r->images, ref) == NULL) {
			log_warn("profile %s: pack %s: %s image %s is not in pack.content.images, and an airgapped "
				 "host needs it: add \"- image: %s\" there, or give it with --images",
				 k->profile->name, k->name, fields[i], ref, raw);
		}
		free(raw);
		free(ref);
		free(missing);
	}
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
			struct admission adm = {0, 0};
			if (k->layer && strcmp(k->layer, "k8s") == 0) {
				admission_scan(k->values, NULL, &adm);
				if (adm.enabled && !adm.disabled)
					log_warn("profile %s: pack %s: enable-admission-plugins includes AlwaysPullImages, "
						 "which breaks sites served from a content bundle or external registry",
						 p->name, k->name);
			}
			if (content != NULL && !json_is_null(content) && !json_is_object(content))
				return edge_errf(err, EDGE_EINPUT, "profile %s: pack %s: pack.content: expected a map",
						 p->name, k->name);
			if (json_is_object(content) &&
			    (pack_images(r, k, content, err) != 0 || pack_charts(r, k, content, err) != 0))
				return edge_err_prefix(err, "profile %s: pack %s", p->name, k->name);
			warn_unlisted(k, content);
		}
	}
	for (i = 0; i < r->nprofiles; i++)
		for (j = 0; j < r->profiles[i]->npacks; j++)
			check_agent_images(r, &r->profiles[i]->packs[j]);
	*images = sorted_values(r->images);
	*charts = sorted_values(r->charts);
	*profiles = json_array();
	for (i = 0; i < r->nprofiles; i++) {
		struct profile *p = r->profiles[i];
		json_array_append_new(*profiles, manifest_profile_new(p->uid, p->name, p->version, p->type));
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
	int oci = 0;

	if (strncmp(p, "oci://", 6) == 0) {
		p += 6;
		oci = 1;
	} else if (strncmp(p, "https://", 8) == 0)
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
	/* Helm pulls oci://REPO/NAME, but some packs write the chart's own
	 * path as repo: spegel's oci://ghcr.io/spegel-org/helm-charts/spegel is
	 * the chart, not its parent. kai-scheduler's oci://ghcr.io/nvidia/
	 * kai-scheduler is a parent that holds kai-scheduler/kai-scheduler. So
	 * a path that ends in /NAME is the chart itself when it has at least
	 * three segments (ORG/…/NAME); an ORG/NAME path is a project's
	 * repository and gets the name appended. */
	{
		const char *last = strrchr(base, '/'), *c;
		size_t segs = 0;
		for (c = strchr(base, '/'); c != NULL; c = strchr(c + 1, '/'))
			segs++;
		if (oci && segs >= 3 && strcasecmp(last + 1, name) == 0)
			ref = xasprintf("%s:%s", base, tag);
		else
			ref = xasprintf("%s/%s:%s", base, name, tag);
	}
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
	return manifest_from_list(path, line);
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
	{
		char *ctx = xasprintf("%s:%zu", c->path, lineno);
		int rc = add_chart(c->r, ctx, f[0], f[1], f[2], list_from(c->path, lineno), err);
		free(ctx);
		if (rc != 0)
			return edge_err_prefix(err, "%s:%zu", c->path, lineno);
	}
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

int resolver_add_image(struct resolver *r, const char *source, const char *s, struct edge_err *err)
{
	char *ref = NULL;

	if (ref_normalize(s, &ref, err) != 0)
		return -1; /* the message names the reference */
	add_image(r, ref, manifest_from_list(source, 0));
	free(ref);
	return 0;
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
			{
				char *ctx = xasprintf("%s: [%zu]", path, i);
				rc = add_chart(r, ctx, repo, name, version, list_from(path, 0), err);
				free(ctx);
			}
			if (rc != 0) {
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
