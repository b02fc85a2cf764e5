#include "verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "bundle.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "registry.h"
#include "sha256.h"
#include "xxh64.h"

#define CHUNK (1u << 20)
#define NBUF 4
#define KEEP_MAX (4u << 20) /* blobs up to this size are kept if they look like JSON */
#define SEEK_CHECK_MISMATCH "its content does not match the seek table's checksum"

/* --- the file's own digest ------------------------------------------------
 * The sha256 of the bundle file as it is read from start to end and, with a
 * parts descriptor, each part's, checked against the descriptor as each part
 * ends. Reads must not cross a part's end: file_sum_room says how far. */

struct file_sum {
	struct bundle_reader *r;
	struct sha256 h, ph;
	uint64_t off;
	size_t part;
	int have_ph;
};

static void file_sum_init(struct file_sum *s, struct bundle_reader *r)
{
	memset(s, 0, sizeof(*s));
	s->r = r;
	sha256_init(&s->h);
}

static size_t file_sum_room(struct file_sum *s, size_t want)
{
	uint64_t end = s->r->parts != NULL ? s->r->part_off[s->part] + s->r->part_size[s->part] : s->r->size;

	return want > end - s->off ? (size_t)(end - s->off) : want;
}

/* Adds the n bytes read at s->off; -1 when a part ends with another digest
 * than the descriptor gives. */
static int file_sum_add(struct file_sum *s, const unsigned char *buf, size_t n, struct edge_err *err)
{
	struct bundle_reader *r = s->r;

	if (r->parts != NULL && !s->have_ph) {
		sha256_init(&s->ph);
		s->have_ph = 1;
	}
	sha256_update(&s->h, buf, n);
	if (s->have_ph)
		sha256_update(&s->ph, buf, n);
	s->off += n;
	if (s->have_ph && s->off == r->part_off[s->part] + r->part_size[s->part]) {
		json_t *pe = json_array_get(r->parts, s->part);
		const char *want = json_string_value(json_object_get(pe, "digest"));
		unsigned char raw[32];
		char pd[72];
		sha256_final(&s->ph, raw);
		s->have_ph = 0;
		sha256_digest_format(pd, raw);
		if (want == NULL || strcmp(want, pd) != 0)
			return edge_errf(err, EDGE_EVERIFY, "%s: part %s has digest %s, the descriptor says %s", r->path,
					 json_string_value(json_object_get(pe, "name")), pd, want ? want : "none");
		s->part++;
	}
	return 0;
}

/* Reads and adds the rest of the current part (after damage elsewhere, the
 * part's digest says more than zstd does). */
static int file_sum_part_rest(struct file_sum *s, unsigned char *buf, size_t cap, struct edge_err *err)
{
	size_t part = s->part;

	while (s->have_ph && s->part == part) {
		int64_t g = bundle_pread(s->r, buf, file_sum_room(s, cap), s->off, err);
		if (g <= 0)
			return 0;
		if (file_sum_add(s, buf, (size_t)g, err) != 0)
			return -1;
	}
	return 0;
}

static void file_sum_final(struct file_sum *s, char digest[72])
{
	unsigned char raw[32];

	sha256_final(&s->h, raw);
	sha256_digest_format(digest, raw);
}

static void file_sum_discard(struct file_sum *s)
{
	if (s->h.md)
		sha256_discard(&s->h);
	if (s->have_ph)
		sha256_discard(&s->ph);
	s->have_ph = 0;
}

/* --- the decompressing producer ------------------------------------------- */

struct chunk {
	unsigned char *data;
	size_t len;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk bufs[NBUF];
	int full[NBUF];     /* filled, waiting for the consumer */
	size_t head, tail;  /* next to fill / next to consume */
	int done;           /* producer finished (ok or error) */
	int stop;           /* consumer gave up */
	struct edge_err err;
	int failed;
	/* producer's view */
	struct bundle_reader *r;
	char digest[72];
	uint64_t decompressed;
	uint64_t limit;     /* 0: none */
	uint64_t fail_coff; /* compressed offset of a zstd error (+1; 0: none) */
};

/* The next chunk to fill, once the consumer has freed it; NULL when the
 * consumer gave up. */
static struct chunk *pipe_free_chunk(struct pipe *p)
{
	struct chunk *c = NULL;

	pthread_mutex_lock(&p->mu);
	while (p->full[p->head] && !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	if (!p->stop)
		c = &p->bufs[p->head];
	pthread_mutex_unlock(&p->mu);
	return c;
}

/* Hands the chunk being filled (len bytes) to the consumer. */
static void pipe_hand_over(struct pipe *p, size_t len)
{
	pthread_mutex_lock(&p->mu);
	p->bufs[p->head].len = len;
	p->full[p->head] = 1;
	p->head = (p->head + 1) % NBUF;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* A bundle that decompresses to more than it may (EDGE_EINPUT). */
static int too_large(struct edge_err *err, const char *path, uint64_t limit)
{
	return edge_errf(err, EDGE_EINPUT, "%s: decompresses to more than %llu bytes (a decompression bomb?)", path,
			 (unsigned long long)limit);
}

/* The seek table's frame checksums on the one-pass path: the tar stream is
 * cut where the table says each frame ends (a table that says otherwise
 * than the frames fails here or in final_checks). */
struct frame_sums {
	struct bundle_reader *r;
	size_t f;            /* the frame being summed */
	uint64_t pos;        /* tar offset reached */
	struct xxh64_state x;
};

/* Adds the next n bytes of the tar stream; -1 (fail_coff set) when a frame
 * ends with another checksum than the table's. */
static int frame_sums_add(struct frame_sums *s, struct pipe *p, const unsigned char *d, size_t n)
{
	struct bundle_reader *r = s->r;

	while (r->checks && s->f < r->nframes) {
		const struct bundle_frame *fr = &r->frames[s->f];
		uint64_t left = fr->doff + fr->dsize - s->pos;
		size_t k = n < left ? n : (size_t)left;
		xxh64_update(&s->x, d, k);
		s->pos += k;
		d += k;
		n -= k;
		if (s->pos < fr->doff + fr->dsize)
			break;
		if (!bundle_frame_check_ok(r, s->f, xxh64_final(&s->x))) {
			p->fail_coff = fr->coff + 1;
			return edge_errf(&p->err, EDGE_EVERIFY, "%s: corrupt zstd data in the frame at byte %llu: %s", r->path,
					 (unsigned long long)fr->coff, SEEK_CHECK_MISMATCH);
		}
		s->f++;
		xxh64_init(&s->x, 0);
	}
	return 0;
}

static void *produce(void *arg)
{
	struct pipe *p = arg;
	struct bundle_reader *r = p->r;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	unsigned char *in = xmalloc(CHUNK);
	struct file_sum fs;
	struct frame_sums sums;
	size_t ret = 0;
	int ok = 0;

	memset(&sums, 0, sizeof(sums));
	sums.r = r;
	xxh64_init(&sums.x, 0);
	file_sum_init(&fs, r);
	while (fs.off < r->size) {
		uint64_t off;
		int64_t got = bundle_pread(r, in, file_sum_room(&fs, CHUNK), fs.off, &p->err);
		ZSTD_inBuffer ib;

		if (got <= 0) {
			if (got == 0)
				edge_errf(&p->err, EDGE_EVERIFY, "%s: truncated", r->path);
			goto out;
		}
		if (file_sum_add(&fs, in, (size_t)got, &p->err) != 0)
			goto out;
		off = fs.off;
		ib.src = in;
		ib.size = (size_t)got;
		ib.pos = 0;
		while (ib.pos < ib.size) {
			struct chunk *c = pipe_free_chunk(p);
			ZSTD_outBuffer ob;
			if (c == NULL)
				goto out;
			ob.dst = c->data;
			ob.size = CHUNK;
			ob.pos = 0;
			while (ob.pos < ob.size && ib.pos < ib.size) {
				ret = ZSTD_decompressStream(d, &ob, &ib);
				if (ZSTD_isError(ret)) {
					edge_errf(&p->err, EDGE_EVERIFY, "%s: corrupt zstd data near byte %llu: %s", r->path,
						  (unsigned long long)(off - (uint64_t)got + ib.pos), ZSTD_getErrorName(ret));
					p->fail_coff = off - (uint64_t)got + ib.pos + 1;
					/* a damaged part says so better than zstd does */
					if (file_sum_part_rest(&fs, in, CHUNK, &p->err) != 0)
						p->fail_coff = 0;
					/* hand over what was decoded, so the checker is in the
					 * entry the damage is in when the error is reported */
					if (ob.pos > 0)
						pipe_hand_over(p, ob.pos);
					goto out;
				}
			}
			if (ob.pos == 0)
				continue;
			p->decompressed += ob.pos;
			if (p->limit && p->decompressed > p->limit) {
				too_large(&p->err, r->path, p->limit);
				goto out;
			}
			if (frame_sums_add(&sums, p, c->data, ob.pos) != 0)
				goto out;
			pipe_hand_over(p, ob.pos);
		}
	}
	/* drain what zstd still holds */
	for (;;) {
		struct chunk *c = pipe_free_chunk(p);
		ZSTD_inBuffer ib = {NULL, 0, 0};
		ZSTD_outBuffer ob;
		if (c == NULL)
			goto out;
		ob.dst = c->data;
		ob.size = CHUNK;
		ob.pos = 0;
		{
			/* with no input left, a hint for the next frame is no error */
			size_t more = ZSTD_decompressStream(d, &ob, &ib);
			if (ZSTD_isError(more)) {
				edge_errf(&p->err, EDGE_EVERIFY, "%s: corrupt zstd data: %s", r->path, ZSTD_getErrorName(more));
				goto out;
			}
			if (ob.pos == 0)
				break;
			ret = more;
		}
		p->decompressed += ob.pos;
		if (frame_sums_add(&sums, p, c->data, ob.pos) != 0)
			goto out;
		pipe_hand_over(p, ob.pos);
	}
	if (ret != 0) {
		edge_errf(&p->err, EDGE_EVERIFY, "%s: truncated (the last zstd frame is incomplete)", r->path);
		goto out;
	}
	file_sum_final(&fs, p->digest);
	ok = 1;
out:
	file_sum_discard(&fs);
	ZSTD_freeDCtx(d);
	free(in);
	pthread_mutex_lock(&p->mu);
	p->done = 1;
	p->failed = !ok;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* --- the tar consumer ------------------------------------------------------- */

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
	size_t blen;
	int keep;
	/* what was seen */
	json_t *seen;        /* name -> [offset, size] */
	size_t nentries;
	char last[512];
	json_t *bundle;      /* bundle.json */
	json_t *expect;      /* digest -> size (from bundle.json) */
	json_t *index, *docker, *bindex, *layout;
	struct kept *kept;
	size_t nkept, kept_bytes;
	uint64_t limit;
	int defer;           /* hand blob data to jobs instead of hashing it here, */
	uint64_t defer_after;/* for blobs that go on past this tar offset */
};

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

static uint64_t parse_octal(const unsigned char *p, size_t n, int *ok)
{
	uint64_t v = 0;
	size_t i = 0;

	*ok = 1;
	if (n > 0 && (p[0] & 0x80)) {
		*ok = 0; /* base-256: we never write it */
		return 0;
	}
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(p[i] - '0');
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			*ok = 0;
	return v;
}

static int header_checksum_ok(const unsigned char *h)
{
	unsigned sum = 0;
	int ok;
	size_t i;
	uint64_t want = parse_octal(h + 148, 8, &ok);

	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return ok && want == sum;
}

static int parse_pax(struct tarv *t, struct edge_err *err)
{
	char *p = t->pax_buf, *end = t->pax_buf + t->pax_len;

	while (p < end) {
		char *sp, *eq, *rec_end;
		long len = strtol(p, &sp, 10);
		if (sp == p || *sp != ' ' || len <= 0 || p + len > end || p[len - 1] != '\n')
			return edge_errf(err, EDGE_EINPUT, "%s: malformed pax header at tar offset %llu", t->path,
					 (unsigned long long)t->pos);
		rec_end = p + len - 1;
		eq = memchr(sp + 1, '=', (size_t)(rec_end - sp - 1));
		if (eq == NULL)
			return edge_errf(err, EDGE_EINPUT, "%s: malformed pax record", t->path);
		if ((size_t)(eq - sp - 1) == 4 && strncmp(sp + 1, "path", 4) == 0) {
			free(t->pax_path);
			t->pax_path = strndup(eq + 1, (size_t)(rec_end - eq - 1));
		} else if ((size_t)(eq - sp - 1) == 4 && strncmp(sp + 1, "size", 4) == 0) {
			char *e;
			t->pax_size = strtoll(eq + 1, &e, 10);
			if (e != rec_end || t->pax_size < 0)
				return edge_errf(err, EDGE_EINPUT, "%s: malformed pax size", t->path);
		}
		p += len;
	}
	return 0;
}

static const char *type_text(char type)
{
	switch (type) {
	case '1': return "a hard link";
	case '2': return "a symbolic link";
	case '3': return "a character device";
	case '4': return "a block device";
	case '5': return "a directory";
	case '6': return "a FIFO";
	default: return "not a regular file";
	}
}

static int name_safe(const char *n)
{
	const char *s = n;

	if (n[0] == '\0' || n[0] == '/')
		return 0;
	while (*s) {
		size_t l = strcspn(s, "/");
		if ((l == 2 && s[0] == '.' && s[1] == '.') || (l == 1 && s[0] == '.') || l == 0)
			return 0;
		s += l;
		if (*s == '/')
			s++;
	}
	return 1;
}

static int begin_entry(struct tarv *t, struct edge_err *err)
{
	const unsigned char *h = t->hdr;
	char type = (char)h[156];
	int ok;
	uint64_t size = parse_octal(h + 124, 12, &ok);
	char name[512];

	if (!header_checksum_ok(h))
		return edge_errf(err, EDGE_EINPUT, "%s: damaged tar header at offset %llu", t->path,
				 (unsigned long long)t->pos - 512);
	if (!ok)
		return edge_errf(err, EDGE_EINPUT, "%s: bad size in the tar header at offset %llu", t->path,
				 (unsigned long long)t->pos - 512);
	if (memcmp(h + 345, "\0", 1) != 0 && memcmp(h + 257, "ustar", 5) == 0)
		snprintf(name, sizeof(name), "%.155s/%.100s", (const char *)h + 345, (const char *)h + 0);
	else
		snprintf(name, sizeof(name), "%.100s", (const char *)h);
	if (type == 'x') {
		if (size > 65536)
			return edge_errf(err, EDGE_EINPUT, "%s: pax header of %llu bytes", t->path, (unsigned long long)size);
		t->in_pax = 1;
		t->pax_want = (size_t)size;
		t->pax_len = 0;
		t->pax_buf = xrealloc(t->pax_buf, size + 1);
		t->left = size;
		t->pad = (512 - size % 512) % 512;
		return 0;
	}
	if (t->pax_path) {
		snprintf(name, sizeof(name), "%s", t->pax_path);
		free(t->pax_path);
		t->pax_path = NULL;
	}
	if (t->pax_size >= 0) {
		size = (uint64_t)t->pax_size;
		t->pax_size = -1;
	}
	if (!name_safe(name))
		return edge_errf(err, EDGE_EINPUT, "%s: unsafe entry name \"%s\"", t->path, name);
	if (type != '0' && type != '\0')
		return edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" is %s", t->path, name, type_text(type));
	if (json_object_get(t->seen, name) != NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" appears twice", t->path, name);
	if (t->nentries == 0 && strcmp(name, "bundle.json") != 0)
		return edge_errf(err, EDGE_EINPUT, "%s: the first entry is \"%s\", expected bundle.json", t->path, name);
	if (strcmp(t->last, "bundle.index.json") == 0)
		return edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" after bundle.index.json", t->path, name);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->size = t->left = size;
	t->pad = (512 - size % 512) % 512;
	t->data_off = t->pos;
	t->blen = 0;
	t->keep = 0;
	if (strncmp(name, "blobs/sha256/", 13) == 0 && is_hex64(name + 13)) {
		char digest[72];
		json_t *want;
		snprintf(digest, sizeof(digest), "sha256:%.64s", name + 13);
		want = json_object_get(t->expect, digest);
		if (want == NULL)
			return edge_errf(err, EDGE_EINPUT, "%s: blob %s is not listed in bundle.json", t->path, digest);
		if ((uint64_t)json_integer_value(want) != size)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s has %llu bytes, bundle.json says %lld", t->path, digest,
					 (unsigned long long)size, (long long)json_integer_value(want));
		t->kind = 1;
		sha256_init(&t->h);
		t->keep = size <= KEEP_MAX;
		if (t->keep)
			t->buf = xrealloc(t->buf, size + 1);
	} else if (!strcmp(name, "bundle.json") || !strcmp(name, "oci-layout") || !strcmp(name, "index.json") ||
		   !strcmp(name, "manifest.json") || !strcmp(name, "bundle.index.json")) {
		if (size > VERIFY_MAX_JSON_ENTRY)
			return edge_errf(err, EDGE_EINPUT, "%s: %s is %llu bytes, larger than allowed", t->path, name,
					 (unsigned long long)size);
		if (t->expect == NULL && strcmp(name, "bundle.json") != 0)
			return edge_errf(err, EDGE_EINPUT, "%s: %s before bundle.json", t->path, name);
		t->kind = 0;
		t->buf = xrealloc(t->buf, size + 1);
	} else {
		return edge_errf(err, EDGE_EINPUT, "%s: unexpected entry \"%s\"", t->path, name);
	}
	json_object_set_new(t->seen, name, json_pack("[I, I]", (json_int_t)t->data_off, (json_int_t)size));
	t->nentries++;
	snprintf(t->last, sizeof(t->last), "%s", name);
	return 0;
}

static json_t *parse_entry_json(struct tarv *t, struct edge_err *err)
{
	json_error_t je;
	json_t *j = json_loadb(t->buf, t->blen, JSON_REJECT_DUPLICATES, &je);

	if (j == NULL)
		edge_errf(err, EDGE_EINPUT, "%s: %s:%d:%d: %s", t->path, t->name, je.line, je.column, je.text);
	return j;
}

static int end_entry(struct tarv *t, struct edge_err *err)
{
	if (t->kind == 1) {
		unsigned char raw[32];
		char got[72];
		sha256_final(&t->h, raw);
		sha256_digest_format(got, raw);
		if (strcmp(got + 7, t->name + 13) != 0)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob sha256:%s: digest mismatch (content has %s)", t->path,
					 t->name + 13, got);
		if (t->keep && t->blen > 0 && t->buf[0] == '{' && t->kept_bytes + t->blen <= VERIFY_MAX_KEPT) {
			struct kept *k;
			t->kept = xrealloc(t->kept, (t->nkept + 1) * sizeof(*t->kept));
			k = &t->kept[t->nkept++];
			snprintf(k->digest, sizeof(k->digest), "%s", got);
			k->data = xmalloc(t->blen);
			memcpy(k->data, t->buf, t->blen);
			k->len = t->blen;
			t->kept_bytes += t->blen;
		}
		return 0;
	}
	if (strcmp(t->name, "bundle.json") == 0) {
		json_t *b, *bl;
		size_t i;
		struct edge_err e = {0};
		uint64_t total = 0;
		if ((t->bundle = parse_entry_json(t, err)) == NULL)
			return -1;
		b = json_deep_copy(t->bundle);
		json_object_del(b, "blobs");
		if (manifest_validate(b, "bundle.json", &e) != 0) {
			json_decref(b);
			return edge_errf(err, EDGE_EINPUT, "%s: %s", t->path, e.msg);
		}
		json_decref(b);
		t->expect = json_object();
		json_array_foreach(json_object_get(t->bundle, "blobs"), i, bl) {
			struct oci_desc od;
			char what[EDGE_ERR_MAX];
			snprintf(what, sizeof(what), "%s: bundle.json: blobs[%zu]", t->path, i);
			if (oci_desc_read(bl, &od, EDGE_EINPUT, what, err) != 0)
				return -1;
			if (json_object_get(t->expect, od.digest) != NULL)
				return edge_errf(err, EDGE_EINPUT, "%s: bundle.json: blob %s listed twice", t->path, od.digest);
			json_object_set(t->expect, od.digest, json_object_get(bl, "size"));
			total += (uint64_t)od.size + 1024;
		}
		if (!json_is_array(json_object_get(t->bundle, "blobs")))
			return edge_errf(err, EDGE_EINPUT, "%s: bundle.json has no blobs list", t->path);
		/* the whole stream is bounded by what bundle.json declares */
		t->limit = total + 5 * (uint64_t)VERIFY_MAX_JSON_ENTRY + (1u << 20);
		return 0;
	}
	{
		json_t **slot = !strcmp(t->name, "index.json") ? &t->index
				: !strcmp(t->name, "manifest.json") ? &t->docker
				: !strcmp(t->name, "bundle.index.json") ? &t->bindex : &t->layout;
		if ((*slot = parse_entry_json(t, err)) == NULL)
			return -1;
	}
	return 0;
}

/* Feeds decompressed bytes to the tar state machine. Returns 1 when, with
 * t->defer, a blob's header was read: the rest of the input is not used. */
static int tar_feed(struct tarv *t, const unsigned char *d, size_t n, struct edge_err *err)
{
	while (n > 0) {
		if (t->ended) {
			size_t i;
			for (i = 0; i < n; i++)
				if (d[i] != 0)
					return edge_errf(err, EDGE_EINPUT, "%s: data after the end of the archive", t->path);
			t->trailing += n;
			if (t->trailing > (1u << 20))
				return edge_errf(err, EDGE_EINPUT, "%s: over 1 MiB of padding after the archive", t->path);
			t->pos += n;
			return 0;
		}
		if (t->left > 0) {
			size_t m = n < t->left ? n : (size_t)t->left;
			if (t->in_pax) {
				memcpy(t->pax_buf + t->pax_len, d, m);
				t->pax_len += m;
			} else if (t->kind == 1) {
				sha256_update(&t->h, d, m);
				if (t->keep)
					memcpy(t->buf + t->blen, d, m);
				t->blen += t->keep ? m : 0;
			} else {
				memcpy(t->buf + t->blen, d, m);
				t->blen += m;
			}
			t->left -= m;
			t->pos += m;
			d += m;
			n -= m;
			if (t->left == 0 && !t->in_pax && end_entry(t, err) != 0)
				return -1;
			if (t->left == 0 && t->in_pax && parse_pax(t, err) != 0)
				return -1;
			continue;
		}
		if (t->pad > 0) {
			size_t m = n < t->pad ? n : (size_t)t->pad;
			t->pad -= m;
			t->pos += m;
			d += m;
			n -= m;
			if (t->pad == 0)
				t->in_pax = 0;
			continue;
		}
		if (t->in_pax) {
			/* a pax header without data padding */
			t->in_pax = 0;
		}
		{
			size_t m = 512 - t->hlen;
			if (m > n)
				m = n;
			memcpy(t->hdr + t->hlen, d, m);
			t->hlen += m;
			t->pos += m;
			d += m;
			n -= m;
			if (t->hlen < 512)
				continue;
			t->hlen = 0;
			{
				static const unsigned char zero[512];
				if (memcmp(t->hdr, zero, 512) == 0) {
					if (++t->zero_blocks == 2)
						t->ended = 1;
					continue;
				}
				if (t->zero_blocks > 0)
					return edge_errf(err, EDGE_EINPUT, "%s: a lone zero block inside the archive", t->path);
			}
			if (begin_entry(t, err) != 0)
				return -1;
			if (t->defer && t->kind == 1 && t->left > 0 && !t->in_pax && t->pos + t->left > t->defer_after) {
				/* a blob's data: its job hashes it */
				sha256_discard(&t->h);
				return 1;
			}
			if (t->left == 0 && !t->in_pax && end_entry(t, err) != 0)
				return -1;
		}
	}
	return 0;
}

static struct kept *find_kept(struct tarv *t, const char *digest)
{
	size_t i;

	for (i = 0; i < t->nkept; i++)
		if (strcmp(t->kept[i].digest, digest) == 0)
			return &t->kept[i];
	return NULL;
}

/* A descriptor's blob is in the bundle with the size it says. */
static int check_desc(struct tarv *t, json_t *desc, const char *owner, struct edge_err *err)
{
	struct oci_desc od;
	json_t *have;
	char name[100], what[EDGE_ERR_MAX];

	/* the documents holding desc were checked (oci_doc_check): this
	 * only keeps a descriptor from anywhere else from being used unchecked */
	snprintf(what, sizeof(what), "%s: %s", t->path, owner);
	if (oci_desc_read(desc, &od, EDGE_EINPUT, what, err) != 0)
		return -1;
	snprintf(name, sizeof(name), "blobs/sha256/%s", od.digest + 7);
	have = json_object_get(t->seen, name);
	if (have == NULL)
		return edge_errf(err, EDGE_EVERIFY, "%s: %s: blob %s is missing", t->path, owner, od.digest);
	if (od.size != json_integer_value(json_array_get(have, 1)))
		return edge_errf(err, EDGE_EVERIFY, "%s: %s: blob %s has %lld bytes, its descriptor says %lld", t->path,
				 owner, od.digest, (long long)json_integer_value(json_array_get(have, 1)),
				 (long long)od.size);
	return 0;
}

static int check_manifest_tree(struct tarv *t, json_t *desc, const char *owner, int depth, struct edge_err *err)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	struct kept *k;
	json_t *doc, *x;
	size_t i;
	int rc = -1, kind;

	if (check_desc(t, desc, owner, err) != 0)
		return -1;
	if ((k = find_kept(t, d)) == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: %s: manifest %s is not JSON or too large", t->path, owner, d);
	doc = json_loadb(k->data, k->len, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return edge_errf(err, EDGE_EINPUT, "%s: %s: manifest %s is not JSON", t->path, owner, d);
	}
	{
		/* every digest, media type and size in it, before any is used */
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "%s: %s: manifest %s", t->path, owner, d);
		if ((kind = oci_doc_check(doc, NULL, EDGE_EVERIFY, what, err)) < 0)
			goto out;
	}
	if (kind == OCI_KIND_INDEX) {
		if (depth > 0) {
			edge_errf(err, EDGE_EINPUT, "%s: %s: nested index %s", t->path, owner, d);
			goto out;
		}
		json_array_foreach(json_object_get(doc, "manifests"), i, x)
			if (check_manifest_tree(t, x, owner, depth + 1, err) != 0)
				goto out;
	} else {
		if (check_desc(t, json_object_get(doc, "config"), owner, err) != 0)
			goto out;
		json_array_foreach(json_object_get(doc, "layers"), i, x) {
			const char *ld = json_string_value(json_object_get(x, "digest"));
			char name[100];
			if (json_object_get(x, "urls") != NULL) {
				snprintf(name, sizeof(name), "blobs/sha256/%s", ld + 7);
				if (json_object_get(t->seen, name) == NULL)
					continue; /* a foreign layer */
			}
			if (check_desc(t, x, owner, err) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* "blobs/sha256/<64 hex>" */
static int blob_path_valid(const char *s)
{
	char d[80];

	if (s == NULL || strncmp(s, "blobs/sha256/", 13) != 0 || strlen(s) > 13 + 64)
		return 0;
	snprintf(d, sizeof(d), "sha256:%s", s + 13);
	return oci_digest_valid(d);
}

/* docker-archive's manifest.json: [{Config, RepoTags, Layers}], the paths
 * those of blobs (whether each is there is checked later). */
static int check_docker_json(struct tarv *t, struct edge_err *err)
{
	json_t *e, *v, *x;
	size_t i, j;

	if (!json_is_array(t->docker))
		return edge_errf(err, EDGE_EINPUT, "%s: manifest.json: expected an array of {Config, RepoTags, Layers}", t->path);
	json_array_foreach(t->docker, i, e) {
		const char *cfg = manifest_str(e, "Config");
		if (!json_is_object(e))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: expected {Config, RepoTags, Layers}", t->path, i);
		if (!blob_path_valid(cfg))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: Config: expected a blob path", t->path, i);
		v = json_object_get(e, "RepoTags");
		if (!json_is_array(v))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: RepoTags: expected an array of strings", t->path, i);
		json_array_foreach(v, j, x)
			if (!json_is_string(x))
				return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: RepoTags: expected an array of strings",
						 t->path, i);
		v = json_object_get(e, "Layers");
		if (!json_is_array(v))
			return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: Layers: expected an array of blob paths", t->path, i);
		json_array_foreach(v, j, x) {
			const char *l = json_string_value(x);
			if (!blob_path_valid(l))
				return edge_errf(err, EDGE_EINPUT, "%s: manifest.json[%zu]: Layers: expected an array of blob paths",
						 t->path, i);
		}
	}
	return 0;
}

/* The bundle's own JSON files against their schemas, before anything in
 * them is used: index.json an OCI image index (every descriptor checked),
 * manifest.json, bundle.index.json (oci-layout and bundle.json have their
 * own checks). */
static int check_bundle_files(struct tarv *t, struct edge_err *err)
{
	const char *imt = manifest_str(t->index, "mediaType");
	char what[EDGE_ERR_MAX], q[128];

	snprintf(what, sizeof(what), "%s: index.json", t->path);
	if (imt != NULL && strcmp(imt, MT_OCI_INDEX) != 0) {
		oci_quote(q, sizeof(q), imt);
		return edge_errf(err, EDGE_EINPUT, "%s: expected an image index, not %s", what, q);
	}
	if (!json_is_array(json_object_get(t->index, "manifests")))
		return edge_errf(err, EDGE_EINPUT, "%s: index.json has no manifests list", t->path);
	if (oci_doc_check(t->index, NULL, EDGE_EINPUT, what, err) < 0)
		return -1;
	if (check_docker_json(t, err) != 0)
		return -1;
	snprintf(what, sizeof(what), "%s: bundle.index.json", t->path);
	return bundle_index_check(t->bindex, what, err);
}

static int final_checks(struct tarv *t, struct bundle_reader *r, uint64_t decompressed, struct edge_err *err)
{
	static const char *const lists[] = {"images", "charts"};
	const char *key;
	json_t *v, *e;
	size_t i, k;

	if (!t->ended || t->left > 0 || t->hlen > 0)
		return edge_errf(err, EDGE_EVERIFY, "%s: truncated (the archive does not end)", t->path);
	if (t->bundle == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: no bundle.json", t->path);
	if (strcmp(t->last, "bundle.index.json") != 0)
		return edge_errf(err, EDGE_EINPUT, "%s: the last entry is \"%s\", expected bundle.index.json", t->path, t->last);
	if (t->index == NULL || t->layout == NULL || t->docker == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: %s is missing", t->path,
				 t->index == NULL ? "index.json" : t->layout == NULL ? "oci-layout" : "manifest.json");
	if (check_bundle_files(t, err) != 0)
		return -1;
	json_object_foreach(t->expect, key, v) {
		char name[100];
		snprintf(name, sizeof(name), "blobs/sha256/%s", key + 7);
		if (json_object_get(t->seen, name) == NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s listed in bundle.json is missing", t->path, key);
	}
	if (strcmp(manifest_str(t->layout, "imageLayoutVersion") ? manifest_str(t->layout, "imageLayoutVersion") : "",
		   "1.0.0") != 0)
		return edge_errf(err, EDGE_EINPUT, "%s: oci-layout: expected imageLayoutVersion 1.0.0", t->path);
	json_array_foreach(json_object_get(t->index, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"), ANNOT_REF_NAME));
		char owner[600];
		snprintf(owner, sizeof(owner), "index.json: %s", ref ? ref : "(unnamed)");
		if (check_manifest_tree(t, e, owner, 0, err) != 0)
			return -1;
	}
	/* every pulled entry of the manifest is in the layout with its digest */
	for (k = 0; k < 2; k++) {
		json_array_foreach(json_object_get(t->bundle, lists[k]), i, e) {
			const char *ref = manifest_str(e, "ref"), *digest = manifest_str(e, "digest");
			json_t *d;
			size_t j;
			int found = 0;
			if (ref == NULL || digest == NULL)
				continue;
			json_array_foreach(json_object_get(t->index, "manifests"), j, d) {
				const char *n = json_string_value(json_object_get(json_object_get(d, "annotations"), ANNOT_REF_NAME));
				if (n && strcmp(n, ref) == 0 && strcmp(manifest_str(d, "digest") ? manifest_str(d, "digest") : "", digest) == 0)
					found = 1;
			}
			if (!found)
				return edge_errf(err, EDGE_EVERIFY, "%s: %s %s (%s) is not in index.json", t->path, lists[k], ref, digest);
		}
	}
	json_array_foreach(t->docker, i, e) {
		json_t *l;
		size_t j;
		const char *cfg = manifest_str(e, "Config");
		if (cfg == NULL || json_object_get(t->seen, cfg) == NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: manifest.json[%zu]: config %s is missing", t->path, i, cfg ? cfg : "?");
		json_array_foreach(json_object_get(e, "Layers"), j, l)
			if (!json_is_string(l) || json_object_get(t->seen, json_string_value(l)) == NULL)
				return edge_errf(err, EDGE_EVERIFY, "%s: manifest.json[%zu]: layer %s is missing", t->path, i,
						 json_is_string(l) ? json_string_value(l) : "?");
	}
	/* the entry index says where every other entry's data is */
	{
		json_t *entries = json_object_get(t->bindex, "entries");
		size_t n = 0;
		json_array_foreach(entries, i, e) {
			const char *name = manifest_str(e, "name");
			json_t *have = name ? json_object_get(t->seen, name) : NULL;
			if (have == NULL || json_integer_value(json_object_get(e, "offset")) != json_integer_value(json_array_get(have, 0)) ||
			    json_integer_value(json_object_get(e, "size")) != json_integer_value(json_array_get(have, 1)))
				return edge_errf(err, EDGE_EVERIFY, "%s: bundle.index.json: entry %s does not match the archive", t->path,
						 name ? name : "?");
			n++;
		}
		if (n + 1 != json_object_size(t->seen))
			return edge_errf(err, EDGE_EVERIFY, "%s: bundle.index.json lists %zu entries, the archive has %zu", t->path,
					 n, json_object_size(t->seen) - 1);
	}
	if (r->frames != NULL && r->tar_size != decompressed)
		return edge_errf(err, EDGE_EVERIFY, "%s: the seek table covers %llu bytes, the bundle holds %llu", t->path,
				 (unsigned long long)r->tar_size, (unsigned long long)decompressed);
	return 0;
}

/* bundle.json without its blob list, and "bundle": {path, [digest,] size}. */
static json_t *verified_manifest(struct tarv *t, const char *path, const char *digest, uint64_t size)
{
	json_t *m = json_deep_copy(t->bundle), *b = json_object();

	json_object_del(m, "blobs");
	json_object_set_new(b, "path", json_string(path));
	if (digest != NULL)
		json_object_set_new(b, "digest", json_string(digest));
	json_object_set_new(b, "size", json_integer((json_int_t)size));
	json_object_set_new(m, "bundle", b);
	return m;
}

/* The end of both paths, once everything else checked out: a parts
 * descriptor's whole digest matches the file's (computed whenever there
 * are parts), and the verified manifest. digest: the file's sha256, or
 * NULL when it was not wanted. */
static int verified_end(struct tarv *t, struct bundle_reader *r, const char *path, const char *digest,
			json_t **manifest, struct edge_err *err)
{
	if (digest != NULL && r->digest[0] && strcmp(r->digest, digest) != 0)
		return edge_errf(err, EDGE_EVERIFY, "%s: the parts have digest %s, the descriptor says %s", path, digest,
				 r->digest);
	*manifest = verified_manifest(t, path, digest, r->size);
	return 0;
}

static void tarv_free(struct tarv *t)
{
	size_t i;

	if (t->kind == 1 && t->h.md)
		sha256_discard(&t->h);
	for (i = 0; i < t->nkept; i++)
		free(t->kept[i].data);
	free(t->kept);
	free(t->buf);
	free(t->pax_buf);
	free(t->pax_path);
	json_decref(t->seen);
	json_decref(t->bundle);
	json_decref(t->expect);
	json_decref(t->index);
	json_decref(t->docker);
	json_decref(t->bindex);
	json_decref(t->layout);
}

/* The one-pass path, for bundles without a usable seek table: one thread
 * decompresses (and hashes the file), this one walks the tar and hashes the
 * blobs. */
static int verify_stream(struct bundle_reader *r, const char *path, uint64_t max_size, int want_digest,
			 json_t **manifest, struct edge_err *err)
{
	struct pipe p;
	struct tarv t;
	pthread_t th;
	size_t i;
	int rc = -1, started = 0;

	memset(&p, 0, sizeof(p));
	memset(&t, 0, sizeof(t));
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	for (i = 0; i < NBUF; i++)
		p.bufs[i].data = xmalloc(CHUNK);
	p.r = r;
	/* until bundle.json is read, only it may come */
	p.limit = max_size ? max_size : (uint64_t)VERIFY_MAX_JSON_ENTRY + 4096;
	t.path = path;
	t.pax_size = -1;
	t.seen = json_object();
	if (pthread_create(&th, NULL, produce, &p) != 0) {
		edge_errf(err, EDGE_EIO, "cannot start a thread");
		goto out;
	}
	started = 1;
	for (;;) {
		struct chunk *c;
		int failed = 0;
		pthread_mutex_lock(&p.mu);
		while (!p.full[p.tail] && !p.done)
			pthread_cond_wait(&p.cv, &p.mu);
		if (!p.full[p.tail]) {
			pthread_mutex_unlock(&p.mu);
			break;
		}
		c = &p.bufs[p.tail];
		pthread_mutex_unlock(&p.mu);
		if (tar_feed(&t, c->data, c->len, err) != 0)
			failed = 1;
		pthread_mutex_lock(&p.mu);
		if (t.limit && !max_size)
			p.limit = t.limit;
		else if (t.limit && max_size && t.limit < max_size)
			p.limit = t.limit;
		p.full[p.tail] = 0;
		p.tail = (p.tail + 1) % NBUF;
		if (failed)
			p.stop = 1;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
		if (failed)
			goto out;
	}
	pthread_join(th, NULL);
	started = 0;
	if (p.failed) {
		*err = p.err;
		/* name the entry the damage is in */
		if (strncmp(err->msg, path, strlen(path)) == 0 && strncmp(err->msg + strlen(path), ": ", 2) == 0) {
			char rest[EDGE_ERR_MAX];
			const char *where = NULL;
			snprintf(rest, sizeof(rest), "%s", err->msg + strlen(path) + 2);
			if (p.fail_coff > 0 && r->frames != NULL) {
				/* the seek table and the entry index say which entry */
				size_t f;
				for (f = 0; f < r->nframes; f++)
					if (p.fail_coff - 1 < r->frames[f].coff + r->frames[f].csize)
						break;
				if (f < r->nframes)
					where = bundle_entry_at(r, r->frames[f].doff);
			}
			if (where != NULL)
				edge_errf(err, err->code, "%s: in entry %s: %s", path, where, rest);
			else if (t.nentries > 0 && !t.ended)
				edge_errf(err, err->code, "%s: %s %s: %s", path, t.left > 0 ? "in entry" : "after entry", t.name,
					  rest);
		}
		goto out;
	}
	if (final_checks(&t, r, p.decompressed, err) != 0 ||
	    verified_end(&t, r, path, want_digest ? p.digest : NULL, manifest, err) != 0)
		goto out;
	rc = 0;
out:
	if (started) {
		pthread_mutex_lock(&p.mu);
		p.stop = 1;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
		pthread_join(th, NULL);
	}
	for (i = 0; i < NBUF; i++)
		free(p.bufs[i].data);
	tarv_free(&t);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	return rc;
}

/* --- the parallel path, over the seek table ----------------------------------
 *
 * This thread walks the tar stream frame by frame, reading every header, the
 * JSON entries and the blobs that end in the frame they start in; a blob
 * that goes on is left to a job, which decompresses the frames it spans on
 * its own and hashes it, and the walk goes on at the frame holding the next
 * header. Jobs run on every core, largest first, the
 * bundle file's own digest (when wanted) being one of them. Every frame is
 * decompressed in full, and checked against the seek table, by the walk or
 * by the job that spans it. This needs the seek table edge-pack writes; a
 * bundle without one takes the one-pass path.
 */

#define PAR_FRAME_MAX (32u << 20) /* SPEC: at most 32 MiB of input a frame */
#define ZBLOCK_LIMIT (128u << 10) /* zstd's largest block */
#define WALK_STEP (16u << 10)     /* the walk's first read of a frame */

struct vjob {
	int file;                /* the whole file's digest (and its parts') */
	size_t first, last;      /* frames spanned */
	uint64_t data_off, size; /* the blob's data in the tar stream */
	char name[80];           /* blobs/sha256/HEX */
	int keep;
	/* results */
	int failed;
	struct edge_err err;
	char got[72];
	char *kept;
	size_t kept_len;
};

struct vpool {
	struct bundle_reader *r;
	const char *path;
	struct vjob **order;     /* largest first */
	size_t njobs, next;
	size_t kept_bytes;       /* JSON-looking blobs kept, all jobs (at most VERIFY_MAX_KEPT) */
	pthread_mutex_t mu;
};

/* The frame holding tar offset off (the last one whose start is at or before it). */
static size_t frame_at(const struct bundle_reader *r, uint64_t off)
{
	size_t lo = 0, hi = r->nframes;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->frames[mid].doff <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int corrupt_frame(const char *path, struct bundle_reader *r, size_t f, const char *entry,
			 const char *why, struct edge_err *err)
{
	if (entry == NULL)
		entry = bundle_entry_at(r, r->frames[f].doff);
	if (entry != NULL)
		return edge_errf(err, EDGE_EVERIFY, "%s: in entry %s: corrupt zstd data in the frame at byte %llu: %s", path,
				 entry, (unsigned long long)r->frames[f].coff, why);
	return edge_errf(err, EDGE_EVERIFY, "%s: corrupt zstd data in the frame at byte %llu: %s", path,
			 (unsigned long long)r->frames[f].coff, why);
}

/* Reads frame f into in, checking it is one frame of the seek table's size. */
static const unsigned char *read_frame(struct bundle_reader *r, const char *path, size_t f, unsigned char **in,
				       size_t *incap, const char *entry, struct edge_err *err)
{
	const struct bundle_frame *fr = &r->frames[f];
	int64_t got;
	size_t c;

	if (*incap < fr->csize) {
		*incap = (size_t)fr->csize;
		*in = xrealloc(*in, *incap);
	}
	got = bundle_pread(r, *in, (size_t)fr->csize, fr->coff, err);
	if (got < 0)
		return NULL;
	if ((uint64_t)got != fr->csize) {
		edge_errf(err, EDGE_EVERIFY, "%s: truncated (the last zstd frame is incomplete)", path);
		return NULL;
	}
	c = ZSTD_findFrameCompressedSize(*in, (size_t)fr->csize);
	if (ZSTD_isError(c) || c != fr->csize) {
		corrupt_frame(path, r, f, entry,
			      ZSTD_isError(c) ? ZSTD_getErrorName(c) : "the frame is not the size the seek table gives", err);
		return NULL;
	}
	return *in;
}

static uint32_t le24(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/*
 * A frame of raw blocks only (what edge-pack writes for data that does not
 * compress) needs no decompressing: its content is the blocks' bytes, in
 * place. raw_frame_check reads the frame header and block headers as zstd
 * would; 1 means the frame is of another kind (or something zstd itself
 * should judge), and the caller decompresses it. On 0, *hdr is where the
 * first block header is and *check says whether a checksum follows.
 */
static int raw_frame_check(const unsigned char *p, size_t n, uint64_t dsize, size_t *hdr, int *check)
{
	unsigned fhd, fcs_len;
	uint64_t window = 0, fcs = 0, content = 0, bmax;
	size_t pos = 5, i;
	int single;

	if (n < 8 || (uint32_t)(le24(p) | (uint32_t)p[3] << 24) != 0xFD2FB528u)
		return 1;
	fhd = p[4];
	single = (fhd >> 5) & 1;
	if ((fhd & 0x0b) != 0) /* reserved bit, or a dictionary */
		return 1;
	if (!single) {
		unsigned wd = p[pos++], wlog = 10 + (wd >> 3);
		if (wlog > 27) /* beyond what decoders take by default: zstd says so */
			return 1;
		window = (1ull << wlog) + ((1ull << wlog) / 8) * (wd & 7);
	}
	fcs_len = (fhd >> 6) == 0 ? (unsigned)single : 1u << (fhd >> 6);
	if (pos + fcs_len > n)
		return 1;
	for (i = 0; i < fcs_len; i++)
		fcs |= (uint64_t)p[pos + i] << (8 * i);
	if (fcs_len == 2)
		fcs += 256;
	pos += fcs_len;
	if (single)
		window = fcs;
	bmax = window < ZBLOCK_LIMIT ? window : ZBLOCK_LIMIT;
	*hdr = pos;
	*check = (fhd >> 2) & 1;
	for (;;) {
		uint32_t h;
		if (pos + 3 > n)
			return 1;
		h = le24(p + pos);
		pos += 3;
		if (((h >> 1) & 3) != 0 || (h >> 3) > bmax || pos + (h >> 3) > n)
			return 1;
		pos += h >> 3;
		content += h >> 3;
		if (h & 1)
			break;
	}
	if (*check)
		pos += 4;
	if (pos != n || (fcs_len > 0 && fcs != content) || content != dsize)
		return 1;
	return 0;
}

/* The part of the n bytes at tar offset dpos that is the job's blob:
 * hashed, and kept when the job keeps it. */
static void job_take(struct vjob *j, struct sha256 *h, const unsigned char *p, uint64_t dpos, size_t n)
{
	uint64_t end = j->data_off + j->size;
	uint64_t a = dpos > j->data_off ? dpos : j->data_off, b = dpos + n < end ? dpos + n : end;

	if (a >= b)
		return;
	sha256_update(h, p + (a - dpos), (size_t)(b - a));
	if (j->keep) {
		memcpy(j->kept + j->kept_len, p + (a - dpos), (size_t)(b - a));
		j->kept_len += (size_t)(b - a);
	}
}

/* Hands the content of frame f, decompressed or in place, to the job:
 * the part of it in [a_off, b_off) of the tar stream is hashed (and kept). */
static int frame_content(struct vpool *pl, struct vjob *j, size_t f, struct sha256 *h, ZSTD_DCtx *d,
			 unsigned char **in, size_t *incap, unsigned char **out, size_t *outcap)
{
	struct bundle_reader *r = pl->r;
	const struct bundle_frame *fr = &r->frames[f];
	uint64_t dpos = fr->doff;
	size_t hdr, n;
	int check, rc = 0;
	const unsigned char *src = read_frame(r, pl->path, f, in, incap, j->name, &j->err);

	if (src == NULL)
		return -1;
	if (raw_frame_check(src, (size_t)fr->csize, fr->dsize, &hdr, &check) == 0) {
		struct xxh64_state x;
		const unsigned char *p = src + hdr;
		int sum = check || r->checks;
		xxh64_init(&x, 0);
		for (;;) {
			uint32_t bh = le24(p);
			size_t bn = bh >> 3;
			p += 3;
			/* SHA-256 first: at its pace the prefetcher keeps up with
			 * memory, and XXH64 then finds the block in cache */
			job_take(j, h, p, dpos, bn);
			if (sum)
				xxh64_update(&x, p, bn);
			p += bn;
			dpos += bn;
			if (bh & 1)
				break;
		}
		if (check && (uint32_t)xxh64_final(&x) != (uint32_t)(le24(p) | (uint32_t)p[3] << 24))
			rc = corrupt_frame(pl->path, r, f, j->name, "Restored data doesn't match checksum", &j->err);
		else if (!bundle_frame_check_ok(r, f, xxh64_final(&x)))
			rc = corrupt_frame(pl->path, r, f, j->name, SEEK_CHECK_MISMATCH, &j->err);
		return rc;
	}
	if (*outcap < fr->dsize) {
		*outcap = (size_t)fr->dsize;
		*out = xrealloc(*out, *outcap ? *outcap : 1);
	}
	n = ZSTD_decompressDCtx(d, *out, (size_t)fr->dsize, src, (size_t)fr->csize);
	if (ZSTD_isError(n))
		return corrupt_frame(pl->path, r, f, j->name, ZSTD_getErrorName(n), &j->err);
	if (n != fr->dsize)
		return corrupt_frame(pl->path, r, f, j->name, "the frame holds fewer bytes than the seek table says", &j->err);
	if (r->checks && !bundle_frame_check_ok(r, f, xxh64(*out, (size_t)fr->dsize, 0)))
		return corrupt_frame(pl->path, r, f, j->name, SEEK_CHECK_MISMATCH, &j->err);
	job_take(j, h, *out, fr->doff, (size_t)fr->dsize);
	return 0;
}

static void run_blob_job(struct vpool *pl, struct vjob *j, ZSTD_DCtx *d, unsigned char **in, size_t *incap,
			 unsigned char **out, size_t *outcap)
{
	struct sha256 h;
	unsigned char raw[32];
	size_t f;

	sha256_init(&h);
	if (j->keep)
		j->kept = xmalloc(j->size ? (size_t)j->size : 1);
	for (f = j->first; f <= j->last; f++) {
		if (frame_content(pl, j, f, &h, d, in, incap, out, outcap) != 0) {
			j->failed = 1;
			sha256_discard(&h);
			return;
		}
	}
	sha256_final(&h, raw);
	sha256_digest_format(j->got, raw);
	/* only JSON is wanted later (manifests), within the bound of all kept */
	if (j->kept != NULL) {
		int keep = j->kept_len > 0 && j->kept[0] == '{';
		pthread_mutex_lock(&pl->mu);
		if (keep && pl->kept_bytes + j->kept_len <= VERIFY_MAX_KEPT)
			pl->kept_bytes += j->kept_len;
		else
			keep = 0;
		pthread_mutex_unlock(&pl->mu);
		if (!keep) {
			free(j->kept);
			j->kept = NULL;
			j->kept_len = 0;
		}
	}
}

/* The file's sha256 (and each part's, against the descriptor). */
static void run_file_job(struct vpool *pl, struct vjob *j, unsigned char *buf, size_t cap)
{
	struct file_sum fs;

	file_sum_init(&fs, pl->r);
	while (fs.off < pl->r->size) {
		int64_t got = bundle_pread(pl->r, buf, file_sum_room(&fs, cap), fs.off, &j->err);
		if (got <= 0) {
			if (got == 0)
				edge_errf(&j->err, EDGE_EVERIFY, "%s: truncated", pl->path);
			j->failed = 1;
			break;
		}
		if (file_sum_add(&fs, buf, (size_t)got, &j->err) != 0) {
			j->failed = 1;
			break;
		}
	}
	if (!j->failed)
		file_sum_final(&fs, j->got);
	file_sum_discard(&fs);
}

static void *pool_run(void *arg)
{
	struct vpool *pl = arg;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	unsigned char *in = NULL, *out = NULL;
	size_t incap = 0, outcap = 0;

	for (;;) {
		struct vjob *j;
		pthread_mutex_lock(&pl->mu);
		j = pl->next < pl->njobs ? pl->order[pl->next++] : NULL;
		pthread_mutex_unlock(&pl->mu);
		if (j == NULL)
			break;
		if (j->file) {
			if (incap < CHUNK) {
				incap = CHUNK;
				in = xrealloc(in, incap);
			}
			run_file_job(pl, j, in, incap);
		} else {
			run_blob_job(pl, j, d, &in, &incap, &out, &outcap);
		}
	}
	free(in);
	free(out);
	ZSTD_freeDCtx(d);
	return NULL;
}

static int by_size_desc(const void *a, const void *b)
{
	const struct vjob *x = *(struct vjob *const *)a, *y = *(struct vjob *const *)b;
	uint64_t sx = x->file ? UINT64_MAX : x->size, sy = y->file ? UINT64_MAX : y->size;

	return sx < sy ? 1 : sx > sy ? -1 : 0;
}

/* Feeds frame f to the tar walk from tar offset from (earlier bytes are
 * dropped). 0: the frame is done and checked; 1: a blob's header was read
 * (the rest of the frame is the blob job's); -1: error. */
static int walk_frame(struct tarv *t, struct bundle_reader *r, size_t f, uint64_t from, ZSTD_DCtx *d,
		      unsigned char *in, unsigned char *out, struct edge_err *err)
{
	const struct bundle_frame *fr = &r->frames[f];
	uint64_t coff = fr->coff, cend = fr->coff + fr->csize, dpos = fr->doff;
	size_t ret = 1;
	struct xxh64_state x;

	/* small steps first: a blob's header is all the walk wants of its frame */
	size_t step = WALK_STEP;

	xxh64_init(&x, 0);
	/* a blob that ends in this frame is hashed here: a job would decompress
	 * the frame again (for each such blob, were there many) */
	t->defer_after = fr->doff + fr->dsize;
	ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
	while (coff < cend) {
		size_t want = cend - coff < step ? (size_t)(cend - coff) : step;
		int64_t got = bundle_pread(r, in, want, coff, err);
		ZSTD_inBuffer ib;
		if (got < 0)
			return -1;
		if ((uint64_t)got != want)
			return edge_errf(err, EDGE_EVERIFY, "%s: truncated (the last zstd frame is incomplete)", t->path);
		ib.src = in;
		ib.size = want;
		ib.pos = 0;
		for (;;) {
			ZSTD_outBuffer ob = {out, step, 0};
			uint64_t skip;
			if (ret == 0 && ib.pos < ib.size)
				return corrupt_frame(t->path, r, f, NULL, "data after the end of the frame", err);
			ret = ZSTD_decompressStream(d, &ob, &ib);
			if (ZSTD_isError(ret))
				return corrupt_frame(t->path, r, f, NULL, ZSTD_getErrorName(ret), err);
			if (dpos + ob.pos > fr->doff + fr->dsize)
				return corrupt_frame(t->path, r, f, NULL, "the frame holds more bytes than the seek table says", err);
			if (r->checks)
				xxh64_update(&x, out, ob.pos);
			skip = from > dpos ? from - dpos : 0;
			if (skip < ob.pos) {
				int rc = tar_feed(t, out + skip, ob.pos - (size_t)skip, err);
				if (rc != 0)
					return rc;
			}
			dpos += ob.pos;
			if (ib.pos == ib.size && ob.pos < ob.size)
				break;
		}
		coff += want;
		step = CHUNK;
	}
	if (ret != 0)
		return corrupt_frame(t->path, r, f, NULL, "the frame is incomplete", err);
	if (dpos != fr->doff + fr->dsize)
		return corrupt_frame(t->path, r, f, NULL, "the frame holds fewer bytes than the seek table says", err);
	if (!bundle_frame_check_ok(r, f, xxh64_final(&x)))
		return corrupt_frame(t->path, r, f, NULL, SEEK_CHECK_MISMATCH, err);
	return 0;
}

/* The seek table is one this path can use: frames of at most 32 MiB each
 * way, covering a tar stream. */
static int parallel_usable(const struct bundle_reader *r)
{
	size_t f;

	if (r->frames == NULL || r->nframes == 0)
		return 0;
	for (f = 0; f < r->nframes; f++)
		if (r->frames[f].dsize > PAR_FRAME_MAX || r->frames[f].csize > ZSTD_compressBound(PAR_FRAME_MAX))
			return 0;
	return 1;
}

static int verify_parallel(struct bundle_reader *r, const char *path, uint64_t max_size, int want_digest,
			   int threads, json_t **manifest, struct edge_err *err)
{
	struct tarv t;
	struct vpool pl;
	struct vjob *jobs = NULL, fjob;
	size_t njobs = 0, cap = 0, f = 0, i, nth = 0;
	uint64_t from = 0;
	unsigned char *in = xmalloc(CHUNK), *out = xmalloc(CHUNK);
	ZSTD_DCtx *d = ZSTD_createDCtx();
	pthread_t th[63];
	long ncpu = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
	int rc = -1, walk_rc = 0;
	struct edge_err walk_err = {0};

	memset(&t, 0, sizeof(t));
	memset(&pl, 0, sizeof(pl));
	memset(&fjob, 0, sizeof(fjob));
	t.path = path;
	t.pax_size = -1;
	t.seen = json_object();
	t.defer = 1;
	if (max_size && r->tar_size > max_size) {
		too_large(err, path, max_size);
		goto out;
	}
	/* the walk: headers and JSON entries here, blobs to jobs */
	while (f < r->nframes) {
		int w = walk_frame(&t, r, f, from, d, in, out, &walk_err);
		uint64_t end;
		struct vjob *j;
		if (w < 0) {
			walk_rc = -1;
			break;
		}
		if (w == 0) {
			f++;
			from = f < r->nframes ? r->frames[f].doff : r->tar_size;
			continue;
		}
		end = t.pos + t.size + t.pad;
		if (end > r->tar_size) {
			edge_errf(&walk_err, EDGE_EVERIFY, "%s: truncated (the archive does not end)", path);
			walk_rc = -1;
			break;
		}
		if (njobs == cap) {
			cap = cap ? cap * 2 : 64;
			jobs = xrealloc(jobs, cap * sizeof(*jobs));
		}
		j = &jobs[njobs++];
		memset(j, 0, sizeof(*j));
		j->first = f;
		j->last = frame_at(r, end - 1);
		j->data_off = t.pos;
		j->size = t.size;
		j->keep = t.keep;
		snprintf(j->name, sizeof(j->name), "%.79s", t.name);
		/* on after the blob and its padding */
		t.pos = end;
		t.left = 0;
		t.pad = 0;
		from = end;
		f = end < r->tar_size ? frame_at(r, end) : r->nframes;
	}
	if (walk_rc == 0 && t.limit && r->tar_size > t.limit) {
		too_large(&walk_err, path, t.limit);
		walk_rc = -1;
	}
	/* the jobs, largest first, on every core */
	pl.r = r;
	pl.path = path;
	pl.order = xcalloc(njobs + 1, sizeof(*pl.order));
	if (want_digest && walk_rc == 0) {
		fjob.file = 1;
		pl.order[pl.njobs++] = &fjob;
	}
	for (i = 0; i < njobs; i++)
		pl.order[pl.njobs++] = &jobs[i];
	qsort(pl.order, pl.njobs, sizeof(*pl.order), by_size_desc);
	pthread_mutex_init(&pl.mu, NULL);
	for (nth = 0; (long)nth + 1 < ncpu && nth < sizeof(th) / sizeof(th[0]) && nth + 1 < pl.njobs; nth++)
		if (pthread_create(&th[nth], NULL, pool_run, &pl) != 0)
			break;
	pool_run(&pl);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&pl.mu);
	/* what the jobs found, in the order of the archive: a damaged part first */
	if (fjob.failed) {
		*err = fjob.err;
		goto out;
	}
	for (i = 0; i < njobs; i++) {
		struct vjob *j = &jobs[i];
		if (j->failed) {
			*err = j->err;
			goto out;
		}
		if (strcmp(j->got + 7, j->name + 13) != 0) {
			edge_errf(err, EDGE_EVERIFY, "%s: blob sha256:%s: digest mismatch (content has %s)", path, j->name + 13,
				  j->got);
			goto out;
		}
		if (j->kept != NULL && t.kept_bytes + j->kept_len <= VERIFY_MAX_KEPT) {
			struct kept *k;
			t.kept = xrealloc(t.kept, (t.nkept + 1) * sizeof(*t.kept));
			k = &t.kept[t.nkept++];
			snprintf(k->digest, sizeof(k->digest), "%s", j->got);
			k->data = j->kept;
			k->len = j->kept_len;
			t.kept_bytes += j->kept_len;
			j->kept = NULL;
		}
	}
	if (walk_rc != 0) {
		*err = walk_err;
		goto out;
	}
	if (final_checks(&t, r, r->tar_size, err) != 0 ||
	    verified_end(&t, r, path, want_digest ? fjob.got : NULL, manifest, err) != 0)
		goto out;
	rc = 0;
out:
	for (i = 0; i < njobs; i++)
		free(jobs[i].kept);
	free(jobs);
	free(pl.order);
	free(in);
	free(out);
	ZSTD_freeDCtx(d);
	tarv_free(&t);
	return rc;
}

int verify_bundle(const char *path, uint64_t max_size, int want_digest, int threads, json_t **manifest,
		  struct edge_err *err)
{
	struct bundle_reader r;
	int rc;

	*manifest = NULL;
	if (bundle_reader_open(&r, path, err) != 0)
		return -1;
	/* a descriptor's part digests are checked as the file is hashed */
	want_digest = want_digest || r.parts != NULL;
	if (parallel_usable(&r))
		rc = verify_parallel(&r, path, max_size, want_digest, threads, manifest, err);
	else
		rc = verify_stream(&r, path, max_size, want_digest, manifest, err);
	bundle_reader_close(&r);
	return rc;
}

/* --- stores ------------------------------------------------------------------- */

struct sv {
	struct store *s;
	int quick;
	size_t problems;
	json_t *checked; /* digests already checked */
};

static void problem(struct sv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct sv *v, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("store %s: %s", v->s->dir, msg);
	v->problems++;
}

static int sv_blob(struct sv *v, json_t *desc, const char *owner)
{
	const char *d;
	json_t *sz = json_object_get(desc, "size");
	char *p;
	struct stat st;
	struct oci_desc od;
	struct edge_err e;

	if (oci_desc_read(desc, &od, EDGE_EVERIFY, owner, &e) != 0) {
		problem(v, "%s", e.msg);
		return -1;
	}
	d = od.digest;
	if (json_object_get(v->checked, d) != NULL)
		return 0;
	json_object_set_new(v->checked, d, json_true());
	p = store_blob_path(v->s, d);
	if (stat(p, &st) != 0) {
		problem(v, "%s: blob %s is missing", owner, d);
		free(p);
		return -1;
	}
	free(p);
	if (json_is_integer(sz) && (int64_t)st.st_size != (int64_t)json_integer_value(sz)) {
		problem(v, "%s: blob %s has %lld bytes, its descriptor says %lld", owner, d, (long long)st.st_size,
			(long long)json_integer_value(sz));
		return -1;
	}
	return 0;
}

static void sv_tree(struct sv *v, json_t *desc, const char *owner, int depth)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	char *data = NULL;
	size_t len, i;
	json_t *doc, *x;
	struct edge_err e;
	int kind;

	if (sv_blob(v, desc, owner) != 0)
		return;
	if (store_read_blob(v->s, d, STORE_MAX_MANIFEST, &data, &len, &e) != 0) {
		problem(v, "%s: %s", owner, e.msg);
		return;
	}
	doc = json_loadb(data, len, 0, NULL);
	free(data);
	if (!json_is_object(doc)) {
		problem(v, "%s: manifest %s is not JSON", owner, d);
		json_decref(doc);
		return;
	}
	{
		/* every digest, media type and size in it, before any is used */
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "%s: manifest %s", owner, d);
		if ((kind = oci_doc_check(doc, NULL, EDGE_EVERIFY, what, &e)) < 0) {
			problem(v, "%s", e.msg);
			json_decref(doc);
			return;
		}
	}
	if (kind == OCI_KIND_INDEX && depth == 0) {
		json_array_foreach(json_object_get(doc, "manifests"), i, x)
			sv_tree(v, x, owner, depth + 1);
	} else {
		sv_blob(v, json_object_get(doc, "config"), owner);
		json_array_foreach(json_object_get(doc, "layers"), i, x) {
			if (json_object_get(x, "urls") != NULL && !store_has_blob(v->s, json_string_value(json_object_get(x, "digest")), -1))
				continue;
			sv_blob(v, x, owner);
		}
	}
	json_decref(doc);
}

int verify_store(struct store *s, json_t *manifest, int quick, struct edge_err *err)
{
	static const char *const lists[] = {"images", "charts"};
	struct sv v = {s, quick, 0, json_object()};
	json_t *e;
	size_t i, k, nblobs = 0;

	json_array_foreach(json_object_get(s->index, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"), ANNOT_REF_NAME));
		sv_tree(&v, e, ref ? ref : "index.json", 0);
	}
	for (k = 0; manifest != NULL && k < 2; k++) {
		json_array_foreach(json_object_get(manifest, lists[k]), i, e) {
			const char *ref = manifest_str(e, "ref"), *digest = manifest_str(e, "digest");
			json_t *d;
			if (ref == NULL || digest == NULL)
				continue;
			d = store_index_find(s, ref);
			if (d == NULL)
				problem(&v, "%s is not in index.json", ref);
			else if (strcmp(manifest_str(d, "digest") ? manifest_str(d, "digest") : "", digest) != 0)
				problem(&v, "%s is %s in index.json, the manifest says %s", ref, manifest_str(d, "digest"), digest);
		}
	}
	if (!quick) {
		/* every blob file, referenced or not, has the digest of its name */
		char *dir = path_join(s->dir, "blobs/sha256");
		DIR *dh = opendir(dir);
		struct dirent *de;
		if (dh == NULL) {
			problem(&v, "cannot read %s: %s", dir, strerror(errno));
		} else {
			while ((de = readdir(dh)) != NULL) {
				char want[72], got[72], *p;
				struct edge_err e2;
				if (de->d_name[0] == '.')
					continue;
				if (!is_hex64(de->d_name)) {
					problem(&v, "unexpected file blobs/sha256/%s", de->d_name);
					continue;
				}
				snprintf(want, sizeof(want), "sha256:%.64s", de->d_name);
				p = path_join(dir, de->d_name);
				if (sha256_digest_file(p, got, NULL, &e2) != 0)
					problem(&v, "%s", e2.msg);
				else if (strcmp(got, want) != 0)
					problem(&v, "blob %s is corrupt (content has %s)", want, got);
				free(p);
				nblobs++;
			}
			closedir(dh);
		}
		free(dir);
	}
	json_decref(v.checked);
	if (v.problems > 0)
		return edge_errf(err, EDGE_EVERIFY, "store %s: %zu problem%s found", s->dir, v.problems,
				 v.problems == 1 ? "" : "s");
	log_verbose("store %s: %zu index entries%s, all sound", s->dir, json_array_size(json_object_get(s->index, "manifests")),
		    quick ? " (sizes only)" : "");
	(void)nblobs;
	return 0;
}
