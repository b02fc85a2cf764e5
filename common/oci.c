#include "oci.h"

#include <stdio.h>
#include <string.h>


#define QUOTE_MAX 100

void oci_quote(char *buf, size_t len, const char *s)
{
	char piece[8];
	size_t o = 0, n, i;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (s == NULL)
		return;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			n = (size_t)snprintf(piece, sizeof(piece), "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", c);
		else
			n = (size_t)snprintf(piece, sizeof(piece), "%c", c);
		/* keep room for "..." and the NUL */
		if (o + n + 4 > len) {
			if (o + 4 <= len)
				memcpy(buf + o, "...", 4);
			return;
		}
		memcpy(buf + o, piece, n);
		o += n;
	}
	buf[o] = '\0';
}

int oci_hex64_valid(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

int oci_digest_valid(const char *s)
{
	return s != NULL && strncmp(s, "sha256:", 7) == 0 && oci_hex64_valid(s + 7);
}

/* RFC 6838 §4.2 restricted-name: a letter or digit, then up to 126 of
 * letters, digits and ! # $ & - ^ _ . + ; the length of the name at s, or
 * 0 when it is not one. */
static size_t restricted_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (i == 0 ? !alnum : !alnum && strchr("!#$&-^_.+", c) == NULL)
			break;
	}
	return i <= OCI_NAME_MAX ? i : 0;
}

int oci_media_type_valid(const char *s)
{
	size_t t, st;

	if (s == NULL || (t = restricted_name(s)) == 0 || s[t] != '/')
		return 0;
	st = restricted_name(s + t + 1);
	return st > 0 && s[t + 1 + st] == '\0';
}

int oci_size_valid(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= OCI_SIZE_MAX;
}

static int fail(struct edge_err *err, int code, const char *what, const char *field, const char *fmt, const char *value)
{
	char q[QUOTE_MAX], reason[256];

	oci_quote(q, sizeof(q), value);
	snprintf(reason, sizeof(reason), fmt, q);
	return edge_errf(err, code, "%s%s%s%s%s", what ? what : "", what && what[0] ? ": " : "", field ? field : "",
			 field ? ": " : "", reason);
}

/* A JSON value as short text for a message. */
static const char *show(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return json_is_null(v) ? "null" : json_is_object(v) ? "an object" : json_is_array(v) ? "an array" : "not an integer";
}

/* The descriptor check, with field naming the descriptor within what. */
static int desc_read(json_t *desc, struct oci_desc *out, int code, const char *what, const char *field,
		     struct edge_err *err)
{
	json_t *d, *mt, *sz, *v, *x;
	char buf[32];
	size_t i;

	if (!json_is_object(desc))
		return fail(err, code, what, field, "expected a descriptor (an object)%s", NULL);
	d = json_object_get(desc, "digest");
	if (d == NULL)
		return fail(err, code, what, field, "no digest%s", NULL);
	if (!oci_digest_valid(json_string_value(d)))
		return fail(err, code, what, field, "digest \"%s\": expected \"sha256:\" and 64 lower-case hex digits",
			    json_is_string(d) ? json_string_value(d) : "(not a string)");
	mt = json_object_get(desc, "mediaType");
	if (mt != NULL && !oci_media_type_valid(json_string_value(mt)))
		return fail(err, code, what, field, "media type \"%s\" is not a type/subtype (RFC 6838)",
			    json_is_string(mt) ? json_string_value(mt) : "(not a string)");
	sz = json_object_get(desc, "size");
	if (sz == NULL)
		return fail(err, code, what, field, "no size%s", NULL);
	if (!oci_size_valid(sz))
		return fail(err, code, what, field, "size %s is not a byte count", show(sz, buf, sizeof(buf)));
	if ((v = json_object_get(desc, "urls")) != NULL) {
		if (!json_is_array(v))
			return fail(err, code, what, field, "urls: expected an array%s", NULL);
		json_array_foreach(v, i, x)
			if (!json_is_string(x))
				return fail(err, code, what, field, "urls: expected strings%s", NULL);
	}
	if ((v = json_object_get(desc, "platform")) != NULL && !json_is_object(v))
		return fail(err, code, what, field, "platform: expected an object%s", NULL);
	if ((v = json_object_get(desc, "annotations")) != NULL) {
		const char *k;
		if (!json_is_object(v))
			return fail(err, code, what, field, "annotations: expected an object%s", NULL);
		json_object_foreach(v, k, x)
			if (!json_is_string(x))
				return fail(err, code, what, field, "annotation \"%s\": expected a string", k);
	}
	if (out != NULL) {
		out->digest = json_string_value(d);
		out->media_type = json_string_value(mt);
		out->size = (int64_t)json_integer_value(sz);
	}
	return 0;
}

int oci_desc_read(json_t *desc, struct oci_desc *out, int code, const char *what, struct edge_err *err)
{
	return desc_read(desc, out, code, what, NULL, err);
}

static const char *const manifest_types[] = {MT_OCI_MANIFEST, MT_DOCKER_MANIFEST};
static const char *const index_types[] = {MT_OCI_INDEX, MT_DOCKER_LIST};

static const char *known(const char *mt, const char *const *list)
{
	return strcmp(mt, list[0]) == 0 ? list[0] : strcmp(mt, list[1]) == 0 ? list[1] : NULL;
}

int oci_doc_check(json_t *doc, const char **mt, int code, const char *what, struct edge_err *err)
{
	json_t *v, *x, *list;
	const char *type = NULL;
	char field[48], buf[32];
	size_t i;
	int kind;

	if (!json_is_object(doc))
		return fail(err, code, what, NULL, "expected a JSON object%s", NULL);
	v = json_object_get(doc, "schemaVersion");
	if (!json_is_integer(v) || json_integer_value(v) != 2)
		return fail(err, code, what, NULL, "schemaVersion %s: expected 2", v ? show(v, buf, sizeof(buf)) : "missing");
	v = json_object_get(doc, "mediaType");
	if (v != NULL) {
		const char *s = json_string_value(v);
		if (!oci_media_type_valid(s))
			return fail(err, code, what, NULL, "media type \"%s\" is not a type/subtype (RFC 6838)",
				    s ? s : "(not a string)");
		if ((type = known(s, manifest_types)) != NULL)
			kind = OCI_KIND_MANIFEST;
		else if ((type = known(s, index_types)) != NULL)
			kind = OCI_KIND_INDEX;
		else
			return fail(err, code, what, NULL, "unsupported manifest type \"%s\"", s);
	} else if (json_object_get(doc, "manifests") != NULL) {
		/* OCI allows mediaType to be absent: tell by the shape */
		type = MT_OCI_INDEX;
		kind = OCI_KIND_INDEX;
	} else if (json_object_get(doc, "config") != NULL) {
		type = MT_OCI_MANIFEST;
		kind = OCI_KIND_MANIFEST;
	} else {
		return fail(err, code, what, NULL, "neither an image manifest nor an index%s", NULL);
	}
	v = json_object_get(doc, "artifactType");
	if (v != NULL && !oci_media_type_valid(json_string_value(v)))
		return fail(err, code, what, NULL, "artifactType \"%s\" is not a type/subtype (RFC 6838)",
			    json_is_string(v) ? json_string_value(v) : "(not a string)");
	if ((v = json_object_get(doc, "subject")) != NULL && desc_read(v, NULL, code, what, "subject", err) != 0)
		return -1;
	if ((v = json_object_get(doc, "annotations")) != NULL) {
		const char *k;
		if (!json_is_object(v))
			return fail(err, code, what, NULL, "annotations: expected an object%s", NULL);
		json_object_foreach(v, k, x)
			if (!json_is_string(x))
				return fail(err, code, what, NULL, "annotation \"%s\": expected a string", k);
	}
	if (kind == OCI_KIND_INDEX) {
		list = json_object_get(doc, "manifests");
		if (!json_is_array(list))
			return fail(err, code, what, NULL, "manifests: expected an array%s", NULL);
		json_array_foreach(list, i, x) {
			snprintf(field, sizeof(field), "manifests[%zu]", i);
			if (desc_read(x, NULL, code, what, field, err) != 0)
				return -1;
		}
	} else {
		if (desc_read(json_object_get(doc, "config"), NULL, code, what, "config", err) != 0)
			return -1;
		list = json_object_get(doc, "layers");
		if (!json_is_array(list))
			return fail(err, code, what, NULL, "layers: expected an array%s", NULL);
		json_array_foreach(list, i, x) {
			snprintf(field, sizeof(field), "layers[%zu]", i);
			if (desc_read(x, NULL, code, what, field, err) != 0)
				return -1;
		}
	}
	if (mt != NULL)
		*mt = type;
	return kind;
}

const char *manifest_media_type(json_t *doc)
{
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));

	if (json_integer_value(json_object_get(doc, "schemaVersion")) == 1)
		return MT_DOCKER_SCHEMA1;
	if (mt != NULL)
		return mt;
	/* OCI allows mediaType to be absent: tell by the shape */
	if (json_is_array(json_object_get(doc, "manifests")))
		return MT_OCI_INDEX;
	if (json_is_object(json_object_get(doc, "config")))
		return MT_OCI_MANIFEST;
	return "";
}

int media_type_is_index(const char *mt)
{
	return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

int media_type_is_manifest(const char *mt)
{
	return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0;
}

int oci_is_image_config(json_t *man)
{
	const char *mt = json_string_value(json_object_get(json_object_get(man, "config"), "mediaType"));

	return mt == NULL || strcmp(mt, MT_OCI_CONFIG) == 0 ||
	       strcmp(mt, "application/vnd.docker.container.image.v1+json") == 0;
}
