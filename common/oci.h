/*
 * OCI descriptors, digests and media types as read from JSON (SPEC §9): the
 * one validator for each digest, media type and size that comes from a
 * bundle, a store, a registry or a manifest, and the shape of the image
 * manifests and indexes that hold them. Nothing read from JSON is used (in
 * a path, a header, an offset) before it went through here.
 *
 *   digest      "sha256:" and 64 lower-case hex digits; edge checks sha256
 *               only, so any other algorithm is refused, never trusted
 *   media type  RFC 6838 type "/" subtype (restricted-name characters,
 *               1 to 127 each, no parameters): no space, no CR or LF
 *   size        an integer from 0 to OCI_SIZE_MAX
 */
#ifndef EDGE_OCI_H
#define EDGE_OCI_H

#include <jansson.h>
#include <stdint.h>
#include "err.h"
#include "platform.h"

/* Media types edge reads and writes. */
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_HELM_CONFIG "application/vnd.cncf.helm.config.v1+json"
#define MT_HELM_CHART "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
#define MT_SPC_ARTIFACT "application/vnd.spectrocloud.spc.v1+tar+gzip"

#define OCI_SIZE_MAX ((int64_t)1 << 42) /* 4 TiB: larger than any real blob */
#define OCI_NAME_MAX 127                /* RFC 6838 §4.2: type and subtype */

/* 1 when s (may be NULL) is "sha256:" + 64 lower-case hex digits. */
int oci_digest_valid(const char *s);
/* 1 when s is exactly 64 lower-case hex digits (a blob's file name). */
int oci_hex64_valid(const char *s);

/* 1 when s (may be NULL) is an RFC 6838 "type/subtype" media type. */
int oci_media_type_valid(const char *s);

/* 1 when v is a JSON integer from 0 to OCI_SIZE_MAX. */
int oci_size_valid(json_t *v);

/* A descriptor's fields, borrowed from its JSON object. */
struct oci_desc {
	const char *digest;     /* valid */
	const char *media_type; /* valid, or NULL when absent */
	int64_t size;           /* valid */
};

/* Checks the descriptor desc ({mediaType, digest, size, urls, platform,
 * annotations}): digest and size are required, mediaType is checked when
 * present, urls must be an array of strings, platform and annotations
 * objects. On success fills *out (may be NULL) and returns 0. Else returns
 * -1 with err set to code and "WHAT: REASON", bad values quoted and escaped
 * (what may be NULL). */
int oci_desc_read(json_t *desc, struct oci_desc *out, int code, const char *what, struct edge_err *err);

enum oci_kind {
	OCI_KIND_MANIFEST = 1, /* an image manifest (OCI or Docker schema 2) */
	OCI_KIND_INDEX = 2,    /* an image index or Docker manifest list */
};

/* Checks an image manifest or index document: an object with
 * schemaVersion 2, a valid mediaType when present (one of the manifest or
 * index types edge handles), and every descriptor in it (config and layers,
 * or manifests) as oci_desc_read has it. *mt (may be NULL) is set to its
 * media type (a static string). Returns the kind, or -1 with err set to code
 * and "WHAT: REASON". */
int oci_doc_check(json_t *doc, const char **mt, int code, const char *what, struct edge_err *err);

/* Copies s into buf (len bytes) for an error message: quotes, backslashes,
 * control and non-ASCII bytes escaped (\xNN), cut with "..." when long, so
 * that a hostile value never breaks the one-line message. */
void oci_quote(char *buf, size_t len, const char *s);

/* The media type of a manifest or index document (its mediaType field;
 * schemaVersion 1 is schema 1; without a mediaType, OCI's by shape).
 * Returns "" when unknown. */
const char *manifest_media_type(json_t *doc);
/* An OCI index or a Docker manifest list. */
int media_type_is_index(const char *mt);
/* An OCI image manifest or a Docker schema 2 manifest. */
int media_type_is_manifest(const char *mt);
/* Whether image manifest man's config is a container image config (OCI or
 * Docker, or no config media type): not a Helm chart or another artifact. */
int oci_is_image_config(json_t *man);

#endif
