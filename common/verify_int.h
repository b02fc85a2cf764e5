/* Internals shared by verify.c and verify_tar.c (not for other modules). */
#ifndef EDGE_VERIFY_INT_H
#define EDGE_VERIFY_INT_H

#include <jansson.h>
#include <stdint.h>
#include "bundle.h"
#include "err.h"
#include "sha256.h"

struct kept {
	char digest[72];
	char *data;
	size_t len;
};

struct tarv {
	const char *path;
	uint64_t pos;        /* offset in the tar stream */
	unsigned char hdr[512];
	size_t hlen;
	int zero_blocks;
	int ended;
	uint64_t trailing;
	/* pending pax overrides */
	char *pax_path;
	int64_t pax_size;
	char *pax_buf;       /* collecting a pax header's data */
	size_t pax_len, pax_want;
	int in_pax;
	/* the current entry */
	char name[512];
	uint64_t size, left, pad;
	uint64_t data_off;
	int kind;            /* 0 json file, 1 blob */
	struct sha256 h;
	char *buf;           /* JSON entry or kept blob */
	size_t blen, bcap;
	int keep;
	/* what was seen */
	json_t *seen;        /* name -> [offset, size] */
	size_t nentries;
	char last[512];
	json_t *bundle;      /* bundle.json */
	json_t *expect;      /* digest -> size (from bundle.json) */
	json_t *index, *docker, *bindex, *layout;
	/* a delta (bundle.json has "base"): that member, checked (borrowed
	 * from bundle), and each omitted blob a manifest references -> the
	 * first image that needs it */
	json_t *base;
	json_t *omit_used;
	const char *cur_ref; /* the index.json entry being checked */
	struct kept *kept;
	size_t nkept, kept_bytes;
	uint64_t limit;
	int defer;           /* hand blob data to jobs instead of hashing it here, */
	uint64_t defer_after;/* for blobs that go on past this tar offset */
};

/* Feeds decompressed bytes to the tar state machine. Returns 1 when, with
 * t->defer, a blob's header was read: the rest of the input is not used. */
int tarv_feed(struct tarv *t, const unsigned char *d, size_t n, struct edge_err *err);
/* The checks once the tar stream has ended (decompressed: its length). */
int tarv_final_checks(struct tarv *t, struct bundle_reader *r, uint64_t decompressed, struct edge_err *err);
/* The end of both paths, once everything else checked out: a parts
 * descriptor's whole digest matches the file's (computed whenever there
 * are parts), and the verified manifest. digest: the file's sha256, or
 * NULL when it was not wanted. omitted (may be NULL): as verify_bundle. */
int tarv_verified_end(struct tarv *t, struct bundle_reader *r, const char *path, const char *digest,
		      json_t **manifest, json_t **omitted, struct edge_err *err);
/* Frees what t holds (not t). */
void tarv_free(struct tarv *t);

#endif
