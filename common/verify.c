#include "verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

#include "bundle.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "pool.h"
#include "ring.h"
#include "sha256.h"
#include "verify_int.h"
#include "xxh64.h"

#define CHUNK (1u << 20)
#define NBUF 4
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

/* The producer (one pool job) and the tar walk (the calling thread) share
 * a ring of NBUF chunks. The producer closes the ring when it ends, well or
 * not, so that the walk sees what was decoded before the damage; the walk
 * aborts it when it gives up. The producer's results are read once its
 * job is joined. */
struct pipe {
	struct ring *ring;
	struct edge_err err;
	int failed;
	/* producer's view */
	struct bundle_reader *r;
	char digest[72];
	uint64_t decompressed;
	_Atomic uint64_t limit; /* 0: none; the walk lowers it once bundle.json is read */
	uint64_t fail_coff; /* compressed offset of a zstd error (+1; 0: none) */
};

/* The next chunk to fill, once the walk has released it; NULL when the walk
 * gave up. */
static struct chunk *pipe_free_chunk(struct pipe *p)
{
	return ring_put_begin(p->ring);
}

/* Hands chunk c (len bytes) to the walk. */
static void pipe_hand_over(struct pipe *p, struct chunk *c, size_t len)
{
	c->len = len;
	ring_put_commit(p->ring);
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

/* The producer: reads, hashes and decompresses the file into the ring. A
 * pool job; its failure is in p->failed and p->err, not the pool's. */
static int produce(void *arg, size_t idx, void *worker, struct edge_err *unused)
{
	struct pipe *p = arg;
	struct bundle_reader *r = p->r;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	unsigned char *in = xmalloc(CHUNK);
	struct file_sum fs;
	struct frame_sums sums;
	uint64_t limit;
	size_t ret = 0;
	int ok = 0;

	(void)idx;
	(void)worker;
	(void)unused;

	memset(&sums, 0, sizeof(sums));
	sums.r = r;
	xxh64_init(&sums.x, 0);
	file_sum_init(&fs, r);
	if (d == NULL) {
		edge_errf(&p->err, EDGE_EIO, "zstd: out of memory");
		goto out;
	}
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
						pipe_hand_over(p, c, ob.pos);
					goto out;
				}
			}
			if (ob.pos == 0)
				continue;
			p->decompressed += ob.pos;
			limit = atomic_load(&p->limit);
			if (limit && p->decompressed > limit) {
				too_large(&p->err, r->path, limit);
				goto out;
			}
			if (frame_sums_add(&sums, p, c->data, ob.pos) != 0)
				goto out;
			pipe_hand_over(p, c, ob.pos);
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
		pipe_hand_over(p, c, ob.pos);
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
	p->failed = !ok;
	ring_close(p->ring);
	return 0;
}

/* The one-pass path, for bundles without a usable seek table: one thread
 * decompresses (and hashes the file), this one walks the tar and hashes the
 * blobs. */
static int verify_stream(struct bundle_reader *r, const char *path, uint64_t max_size, int want_digest,
			 json_t **manifest, json_t **omitted, struct edge_err *err)
{
	struct pipe p;
	struct tarv t;
	struct pool *pool = NULL;
	struct chunk *c;
	size_t i;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	memset(&t, 0, sizeof(t));
	p.r = r;
	/* until bundle.json is read, only it may come */
	atomic_init(&p.limit, max_size ? max_size : (uint64_t)VERIFY_MAX_JSON_ENTRY + 4096);
	t.path = path;
	t.pax_size = -1;
	t.seen = json_object();
	if ((p.ring = ring_new(NBUF, sizeof(struct chunk), 1, NULL, err)) == NULL)
		goto out;
	for (i = 0; i < NBUF; i++)
		((struct chunk *)ring_slot(p.ring, i))->data = xmalloc(CHUNK);
	if ((pool = pool_new(1, NULL, err)) == NULL || pool_submit(pool, produce, &p, 0, NULL) != 0)
		goto out;
	while ((c = ring_get(p.ring, 0)) != NULL) {
		int failed = tarv_feed(&t, c->data, c->len, err) != 0;
		if (t.limit && (!max_size || t.limit < max_size))
			atomic_store(&p.limit, t.limit);
		ring_release(p.ring, 0, c);
		if (failed)
			goto out;
	}
	/* the producer is done: its results are ours */
	pool_free(pool);
	pool = NULL;
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
	if (tarv_final_checks(&t, r, p.decompressed, err) != 0 ||
	    tarv_verified_end(&t, r, path, want_digest ? p.digest : NULL, manifest, omitted, err) != 0)
		goto out;
	rc = 0;
out:
	if (pool != NULL) {
		/* the producer may wait for a chunk */
		ring_abort(p.ring, NULL);
		pool_free(pool);
	}
	if (p.ring != NULL) {
		for (i = 0; i < NBUF; i++)
			free(((struct chunk *)ring_slot(p.ring, i))->data);
		ring_free(p.ring);
	}
	tarv_free(&t);
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

struct vpool;

struct vjob {
	struct vpool *pl;
	int file;                /* the whole file's digest (and its parts') */
	size_t first, last;      /* frames spanned */
	uint64_t data_off, size; /* the blob's data in the tar stream */
	char name[80];           /* blobs/sha256/HEX */
	int keep;                /* keep it if it is JSON (its first byte says) */
	/* results */
	int failed;
	struct edge_err err;
	char got[72];
	char *kept;
	size_t kept_len;
};

/* Jobs are kept in blocks, so that they stay where they are while the
 * walk adds more and the pool runs those it was given. */
#define JOB_BLOCK 64
#define BATCH_BYTES (2u << 20) /* small blobs go to the pool in batches of this much */

struct vblock {
	struct vjob jobs[JOB_BLOCK];
	size_t n;
	struct vblock *next;
};

struct vpool {
	struct bundle_reader *r;
	const char *path;
	struct pool *pool;
	struct vblock *head, *tail;
	size_t batch;            /* tail->jobs[batch..n) are not yet submitted */
	uint64_t batch_bytes;
	size_t kept_bytes;       /* JSON-looking blobs kept, all jobs (at most VERIFY_MAX_KEPT) */
	pthread_mutex_t mu;      /* kept_bytes */
	struct progress prog;    /* the blobs, as the jobs hash them */
};

static _Thread_local progress_fn verify_progress;
static _Thread_local void *verify_progress_ctx;

void verify_set_progress(progress_fn fn, void *ctx)
{
	verify_progress = fn;
	verify_progress_ctx = ctx;
}

/* A worker's decompression context and buffers. */
struct vworker {
	ZSTD_DCtx *d;
	unsigned char *in, *out;
	size_t incap, outcap;
};

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

	*in = xregrow_stream(*in, incap, (size_t)fr->csize);
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
	ZSTD_frameHeader fh;
	uint64_t content = 0, bmax;
	size_t pos;

	if (n < 8 || ZSTD_getFrameHeader(&fh, p, n) != 0 || fh.frameType != ZSTD_frame)
		return 1;
	/* a dictionary ID field, even of 0; a window beyond what decoders take
	 * by default (a window log over 27): zstd judges those */
	if ((p[4] & 0x03) != 0 || fh.dictID != 0 || fh.windowSize >= (1ull << 28))
		return 1;
	bmax = fh.blockSizeMax < ZBLOCK_LIMIT ? fh.blockSizeMax : ZBLOCK_LIMIT;
	pos = fh.headerSize;
	*hdr = pos;
	*check = fh.checksumFlag != 0;
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
	if (pos != n || (fh.frameContentSize != ZSTD_CONTENTSIZE_UNKNOWN && fh.frameContentSize != content) ||
	    content != dsize)
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
	if (j->keep && j->kept == NULL) {
		/* only JSON is wanted later (manifests): a blob that does not
		 * start as JSON is not copied at all */
		if (p[a - dpos] != '{')
			j->keep = 0;
		else
			j->kept = xmalloc(j->size ? (size_t)j->size : 1);
	}
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
	*out = xregrow_stream(*out, outcap, (size_t)fr->dsize ? (size_t)fr->dsize : 1);
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
	for (f = j->first; f <= j->last; f++) {
		const struct bundle_frame *fr = &pl->r->frames[f];
		uint64_t a = fr->doff > j->data_off ? fr->doff : j->data_off;
		uint64_t b = fr->doff + fr->dsize < j->data_off + j->size ? fr->doff + fr->dsize : j->data_off + j->size;
		if (frame_content(pl, j, f, &h, d, in, incap, out, outcap) != 0) {
			j->failed = 1;
			sha256_discard(&h);
			progress_item(&pl->prog, 0);
			return;
		}
		if (b > a)
			progress_bytes(&pl->prog, b - a);
	}
	progress_item(&pl->prog, 0);
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

static int vworker_init(void *ctx, void **worker, struct edge_err *err)
{
	struct vworker *w = xcalloc(1, sizeof(*w));

	(void)ctx;
	if ((w->d = ZSTD_createDCtx()) == NULL) {
		free(w);
		return edge_errf(err, EDGE_EIO, "zstd: out of memory");
	}
	*worker = w;
	return 0;
}

static void vworker_fini(void *ctx, void *worker)
{
	struct vworker *w = worker;

	(void)ctx;
	if (w == NULL)
		return;
	ZSTD_freeDCtx(w->d);
	free(w->in);
	free(w->out);
	free(w);
}

/* A pool job: the n jobs from arg on (a batch of blobs, or one). Each
 * job's failure is its own (reported in the order of the archive). */
static int run_batch(void *arg, size_t n, void *worker, struct edge_err *err)
{
	struct vjob *j = arg;
	struct vworker *w = worker;
	size_t i;

	(void)err;
	for (i = 0; i < n; i++, j++) {
		if (j->file) {
			w->in = xregrow_stream(w->in, &w->incap, CHUNK);
			run_file_job(j->pl, j, w->in, w->incap);
		} else {
			run_blob_job(j->pl, j, w->d, &w->in, &w->incap, &w->out, &w->outcap);
		}
	}
	return 0;
}

/* Hands the jobs added since the last batch to the pool. */
static void vpool_submit(struct vpool *pl)
{
	struct vblock *b = pl->tail;

	if (b != NULL && pl->batch < b->n)
		pool_submit(pl->pool, run_batch, &b->jobs[pl->batch], b->n - pl->batch, NULL);
	if (b != NULL)
		pl->batch = b->n;
	pl->batch_bytes = 0;
}

/* A new job, zeroed, in the current batch. */
static struct vjob *vpool_add(struct vpool *pl)
{
	struct vjob *j;

	if (pl->tail == NULL || pl->tail->n == JOB_BLOCK) {
		struct vblock *b;
		vpool_submit(pl);
		b = xcalloc(1, sizeof(*b));
		if (pl->tail != NULL)
			pl->tail->next = b;
		else
			pl->head = b;
		pl->tail = b;
		pl->batch = 0;
	}
	j = &pl->tail->jobs[pl->tail->n++];
	memset(j, 0, sizeof(*j));
	j->pl = pl;
	return j;
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
	/* the first blob of a frame goes to a job, wherever it ends: the walk
	 * then reads no more of the frame than the blob's header. Later blobs
	 * of the frame are hashed here when they end in it, so that no frame is
	 * decompressed again for each of many small blobs. */
	t->defer_after = from > fr->doff ? fr->doff + fr->dsize : fr->doff;
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
				int rc = tarv_feed(t, out + skip, ob.pos - (size_t)skip, err);
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

/* Walks the tar over the seek table: headers and JSON entries are checked
 * here, and each blob becomes a job for the frames that hold it, handed to
 * the pool in batches as the walk goes. 0, or -1 with the walk's error in
 * walk_err. */
static int walk_jobs(struct tarv *t, struct vpool *pl, ZSTD_DCtx *d, unsigned char *in, unsigned char *out,
		     struct edge_err *walk_err)
{
	struct bundle_reader *r = pl->r;
	size_t f = 0;
	uint64_t from = 0;

	while (f < r->nframes) {
		int w = walk_frame(t, r, f, from, d, in, out, walk_err);
		uint64_t end;
		struct vjob *j;
		if (w < 0)
			return -1;
		if (w == 0) {
			f++;
			from = f < r->nframes ? r->frames[f].doff : r->tar_size;
			continue;
		}
		end = t->pos + t->size + t->pad;
		if (end > r->tar_size)
			return edge_errf(walk_err, EDGE_EVERIFY, "%s: truncated (the archive does not end)", pl->path);
		j = vpool_add(pl);
		j->first = f;
		j->last = bundle_frame_at(r, end - 1);
		j->data_off = t->pos;
		j->size = t->size;
		j->keep = t->keep;
		progress_add_total(&pl->prog, 1, t->size);
		snprintf(j->name, sizeof(j->name), "%.79s", t->name);
		pl->batch_bytes += t->size;
		if (pl->batch_bytes >= BATCH_BYTES)
			vpool_submit(pl);
		/* on after the blob and its padding */
		t->pos = end;
		t->left = 0;
		t->pad = 0;
		from = end;
		f = end < r->tar_size ? bundle_frame_at(r, end) : r->nframes;
	}
	return 0;
}

/* What the jobs found, in the order of the archive; the blobs that are
 * JSON go to t->kept. */
static int vpool_results(struct vpool *pl, struct tarv *t, struct edge_err *err)
{
	struct vblock *b;
	size_t i;

	for (b = pl->head; b != NULL; b = b->next)
		for (i = 0; i < b->n; i++) {
			struct vjob *j = &b->jobs[i];
			if (j->failed) {
				*err = j->err;
				return -1;
			}
			if (strcmp(j->got + 7, j->name + 13) != 0)
				return edge_errf(err, EDGE_EVERIFY, "%s: blob sha256:%s: digest mismatch (content has %s)",
						 pl->path, j->name + 13, j->got);
			if (j->kept != NULL && t->kept_bytes + j->kept_len <= VERIFY_MAX_KEPT) {
				struct kept *k;
				t->kept = xrealloc(t->kept, (t->nkept + 1) * sizeof(*t->kept));
				k = &t->kept[t->nkept++];
				snprintf(k->digest, sizeof(k->digest), "%s", j->got);
				k->data = j->kept;
				k->len = j->kept_len;
				t->kept_bytes += j->kept_len;
				j->kept = NULL;
			}
		}
	return 0;
}

static void vpool_free(struct vpool *pl)
{
	struct vblock *b, *next;
	size_t i;

	for (b = pl->head; b != NULL; b = next) {
		next = b->next;
		for (i = 0; i < b->n; i++)
			free(b->jobs[i].kept);
		free(b);
	}
	pthread_mutex_destroy(&pl->mu);
}

static int verify_parallel(struct bundle_reader *r, const char *path, uint64_t max_size, int want_digest,
			   int threads, json_t **manifest, json_t **omitted, struct edge_err *err)
{
	struct tarv t;
	struct vpool pl;
	struct vjob fjob;
	unsigned char *in = xmalloc(CHUNK), *out = xmalloc(CHUNK);
	ZSTD_DCtx *d = ZSTD_createDCtx();
	long ncpu = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
	struct pool_opts po = {0, vworker_init, vworker_fini, NULL};
	int rc = -1, walk_rc = 0, pool_rc;
	struct edge_err walk_err = {0}, pool_err = {0};

	memset(&t, 0, sizeof(t));
	memset(&pl, 0, sizeof(pl));
	memset(&fjob, 0, sizeof(fjob));
	pthread_mutex_init(&pl.mu, NULL);
	progress_init(&pl.prog, verify_progress, verify_progress_ctx, "blobs", "checked");
	t.path = path;
	t.pax_size = -1;
	t.seen = json_object();
	t.defer = 1;
	pl.r = r;
	pl.path = path;
	if (d == NULL) {
		edge_errf(err, EDGE_EIO, "zstd: out of memory");
		goto out;
	}
	if (max_size && r->tar_size > max_size) {
		too_large(err, path, max_size);
		goto out;
	}
	/* the jobs run on every core while this thread walks the headers; the
	 * file's own digest, the longest, goes first */
	if ((pl.pool = pool_new(ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu, &po, err)) == NULL)
		goto out;
	if (want_digest) {
		fjob.pl = &pl;
		fjob.file = 1;
		pool_submit(pl.pool, run_batch, &fjob, 1, NULL);
	}
	walk_rc = walk_jobs(&t, &pl, d, in, out, &walk_err);
	if (walk_rc == 0 && t.limit && r->tar_size > t.limit) {
		too_large(&walk_err, path, t.limit);
		walk_rc = -1;
	}
	vpool_submit(&pl);
	pool_rc = pool_wait(pl.pool, &pool_err);
	if (pool_rc == 0)
		progress_end(&pl.prog, UINT64_MAX);
	if (pool_rc != 0) {
		/* a worker could not be set up: some jobs did not run */
		*err = pool_err;
		goto out;
	}
	/* a damaged part first, then what the blobs' jobs found, then the walk */
	if (walk_rc == 0 && fjob.failed) {
		*err = fjob.err;
		goto out;
	}
	if (vpool_results(&pl, &t, err) != 0)
		goto out;
	if (walk_rc != 0) {
		*err = walk_err;
		goto out;
	}
	if (tarv_final_checks(&t, r, r->tar_size, err) != 0 ||
	    tarv_verified_end(&t, r, path, want_digest ? fjob.got : NULL, manifest, omitted, err) != 0)
		goto out;
	rc = 0;
out:
	pool_free(pl.pool);
	vpool_free(&pl);
	progress_fini(&pl.prog);
	free(in);
	free(out);
	ZSTD_freeDCtx(d);
	tarv_free(&t);
	return rc;
}

int verify_bundle(const char *path, uint64_t max_size, int want_digest, int threads, json_t **manifest,
		  json_t **omitted, struct edge_err *err)
{
	struct bundle_reader r;
	int rc;

	*manifest = NULL;
	if (omitted != NULL)
		*omitted = NULL;
	if (bundle_reader_open(&r, path, err) != 0)
		return -1;
	/* a descriptor's part digests are checked as the file is hashed */
	want_digest = want_digest || r.parts != NULL;
	if (parallel_usable(&r))
		rc = verify_parallel(&r, path, max_size, want_digest, threads, manifest, omitted, err);
	else
		rc = verify_stream(&r, path, max_size, want_digest, manifest, omitted, err);
	bundle_reader_close(&r);
	return rc;
}
