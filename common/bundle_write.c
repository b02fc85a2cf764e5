#include "bundle.h"
#include "bundle_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_initStaticCCtx, ZSTD_estimateCCtxSize_usingCParams, ZSTD_getCParams */
#include <zstd.h>

#include "delta.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "pool.h"
#include "ring.h"
#include "sha256.h"
#include "xxh64.h"

#define WRITEBACK_STEP (8u << 20) /* start writing back every 8 MiB */

/* --- output: one file or parts ------------------------------------------
 * Writing (out_put) and hashing (out_hash) are separate so that two threads
 * can do them side by side; each sees the same bytes in the same order. */

struct part {
	struct atomic_file af;
	uint64_t size;
	uint64_t kicked;     /* bytes handed to writeback so far */
	int open;
};

struct out {
	char *base;          /* provisional final path (renamed at the end) */
	uint64_t split;
	struct part *parts;  /* out_put's */
	size_t nparts;
	uint64_t total;      /* bytes written */
	struct sha256 h;     /* out_hash's: of everything */
	struct sha256 *ph;   /* and of each part, with split */
	size_t nph;
	uint64_t hashed;
};

/* Part i of the bundle at path: PATH.partNNN (malloc'd). */
static char *part_path(const char *path, size_t i)
{
	return xasprintf("%s.part%03zu", path, i);
}

static int out_new_part(struct out *o, struct edge_err *err)
{
	struct part *p;
	char *name = o->split ? part_path(o->base, o->nparts) : xstrdup(o->base);
	int rc;

	o->parts = xrealloc(o->parts, (o->nparts + 1) * sizeof(*o->parts));
	p = &o->parts[o->nparts];
	memset(p, 0, sizeof(*p));
	rc = atomic_open(&p->af, name, 0644, err);
	free(name);
	if (rc != 0)
		return -1;
	p->open = 1;
	o->nparts++;
	return 0;
}

static void out_hash(struct out *o, const void *data, size_t len)
{
	const char *d = data;

	sha256_update(&o->h, data, len);
	while (o->split && len > 0) {
		/* a part's own digest matters only when there are parts */
		size_t k = (size_t)(o->hashed / o->split), n = len;
		uint64_t left = (uint64_t)(k + 1) * o->split - o->hashed;
		if (k == o->nph) {
			o->ph = xrealloc(o->ph, (o->nph + 1) * sizeof(*o->ph));
			memset(&o->ph[o->nph], 0, sizeof(*o->ph));
			sha256_init(&o->ph[o->nph]);
			o->nph++;
		}
		if (n > left)
			n = (size_t)left;
		sha256_update(&o->ph[k], d, n);
		o->hashed += n;
		d += n;
		len -= n;
	}
	if (!o->split)
		o->hashed += len;
}

static int out_put(struct out *o, const void *data, size_t len, struct edge_err *err)
{
	const char *d = data;

	o->total += len;
	while (len > 0) {
		struct part *p;
		size_t n = len;
		if (o->nparts == 0 || (o->split && o->parts[o->nparts - 1].size == o->split))
			if (out_new_part(o, err) != 0)
				return -1;
		p = &o->parts[o->nparts - 1];
		if (o->split && p->size + n > o->split)
			n = (size_t)(o->split - p->size);
		if (write_all(p->af.fd, d, n) != 0)
			return edge_err_errno(err, "write %s", p->af.path);
		p->size += n;
		/* the final fsync then finds little left to write */
		if (p->size - p->kicked >= WRITEBACK_STEP) {
			(void)sync_file_range(p->af.fd, (off64_t)p->kicked, (off64_t)(p->size - p->kicked),
					      SYNC_FILE_RANGE_WRITE);
			p->kicked = p->size;
		}
		d += n;
		len -= n;
	}
	return 0;
}

static int out_write(struct out *o, const void *data, size_t len, struct edge_err *err)
{
	out_hash(o, data, len);
	return out_put(o, data, len, err);
}

static void out_abort(struct out *o)
{
	size_t i;

	for (i = 0; i < o->nparts; i++)
		if (o->parts[i].open)
			atomic_abort(&o->parts[i].af);
	for (i = 0; i < o->nph; i++)
		if (o->ph[i].md)
			sha256_discard(&o->ph[i]);
	if (o->h.md)
		sha256_discard(&o->h);
	free(o->parts);
	free(o->ph);
	free(o->base);
	memset(o, 0, sizeof(*o));
}

/* --- zstd frames and the seek table --------------------------------------- */

/*
 * Frames are compressed in parallel, each on its own (one-shot, single-
 * threaded): the bytes depend only on the data and the level, never on the
 * number of threads. The calling thread fills frames, the compressors
 * take them in any order, and a writer and a hasher take them in order (the
 * file and its digest), so reading, compressing, writing and hashing
 * overlap. They are the stages of one ring (ring.h) of threads+3 frame
 * slots, which bounds the memory, run by one pool (pool.h).
 *
 * Store blobs are checked against their digests on the way (SPEC §4): the
 * reader marks which bytes of each frame are a blob's, and a checker thread
 * hashes them from the frame's input as soon as it is queued, so the reader
 * never waits for SHA-256. A mismatch fails the pack before anything is
 * committed. --trust-store (opts.trust_store) leaves the checker out.
 *
 * Frames whose data does not compress (gzip'd layers: most of a bundle) are
 * not run through the compressor: when samples spread over the frame do
 * not shrink, the worker writes the frame as raw zstd blocks itself, which
 * is what zstd would end up with, at the cost of a copy. The choice depends
 * only on the data and the level, so bundles stay reproducible.
 */
#define RAW_MIN (256u << 10)      /* smaller frames are always compressed */
#define RAW_SAMPLE (32u << 10)    /* bytes per sample */
#define RAW_SAMPLES 4
#define ZBLOCK_MAX (128u << 10)   /* zstd's largest block */

/* A ring slot: one frame. in and out are set up once (zw_init); the rest
 * is the filling thread's until committed, then read by the stages. */
struct zjob {
	unsigned char *in, *out;
	size_t inlen, outcap, outlen;
	/* in[boff, boff+blen) is part of store blob bdigest: its first part
	 * (bfirst), its last (blast), or both */
	int has_blob, bfirst, blast;
	size_t boff, blen;
	char bdigest[72];
	int raw;   /* out holds only the frame header; the blocks are in */
	size_t hdrlen;
	uint32_t check;
};

/* The ring's stages: the compressors (several threads, any order) follow
 * the reader; the writer and the hasher follow the compressors, in order;
 * the checker needs only a frame's input, so it follows the reader. */
enum { ZS_COMPRESS, ZS_WRITE, ZS_HASH, ZS_CHECK };

struct zw {
	struct out *out;
	int level;
	int ncompress;                /* compressing threads */
	struct ring *ring;
	struct pool *pool;
	struct zjob *fill;            /* the slot being filled (the reader's), or NULL */
	int check;                    /* store blobs are checked against their digests */
	const char *store_dir;        /* for the checker's errors */
	/* the reader's side: the store blob being read into the filling frame */
	int fill_blob, fill_first, fill_ended;
	size_t fill_boff, fill_bend;
	char fill_digest[72];
	uint64_t frame_in, tar_off;
	/* the writer's: the seek table's sizes (read once the pool is idle) */
	uint32_t *fc, *fd;
	size_t nframes, fcap;
	uint64_t raw_frames;
};

static void le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* The frame is worth compressing: one of the samples shrinks by 1/32 or more. */
static int worth_compressing(ZSTD_CCtx *c, const struct zjob *j)
{
	size_t k;

	if (j->inlen < RAW_MIN)
		return 1;
	for (k = 0; k < RAW_SAMPLES; k++) {
		size_t off = (j->inlen - RAW_SAMPLE) / (RAW_SAMPLES - 1) * k;
		size_t n = ZSTD_compress2(c, j->out, j->outcap, j->in + off, RAW_SAMPLE);
		ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
		if (ZSTD_isError(n) || n < RAW_SAMPLE - RAW_SAMPLE / 32)
			return 1;
	}
	return 0;
}

/* A single-segment frame of raw blocks: its header goes in out, the blocks
 * are written from in by the writer, then the checksum. */
static void raw_frame(struct zjob *j)
{
	size_t nblocks = (j->inlen + ZBLOCK_MAX - 1) / ZBLOCK_MAX;

	le32(j->out, 0xFD2FB528u);
	j->out[4] = 0xA4; /* 4-byte content size, single segment, checksum */
	le32(j->out + 5, (uint32_t)j->inlen);
	j->hdrlen = 9;
	j->check = (uint32_t)xxh64(j->in, j->inlen, 0);
	j->outlen = j->hdrlen + 3 * nblocks + j->inlen + 4;
	j->raw = 1;
}

/* Hands a done frame's bytes to put, in order: the compressed frame, or
 * the raw frame's header, blocks and checksum. */
static int emit_frame(const struct zjob *j, int (*put)(struct out *, const void *, size_t, struct edge_err *),
		      struct out *o, struct edge_err *err)
{
	size_t pos = 0;
	unsigned char bh[4];

	if (!j->raw)
		return put(o, j->out, j->outlen, err);
	if (put(o, j->out, j->hdrlen, err) != 0)
		return -1;
	while (pos < j->inlen) {
		size_t n = j->inlen - pos < ZBLOCK_MAX ? j->inlen - pos : ZBLOCK_MAX;
		uint32_t v = (uint32_t)(n << 3) | (pos + n == j->inlen ? 1u : 0u); /* raw block, last flag */
		bh[0] = (unsigned char)v;
		bh[1] = (unsigned char)(v >> 8);
		bh[2] = (unsigned char)(v >> 16);
		if (put(o, bh, 3, err) != 0 || put(o, j->in + pos, n, err) != 0)
			return -1;
		pos += n;
	}
	le32(bh, j->check);
	return put(o, bh, 4, err);
}

static int hash_put(struct out *o, const void *data, size_t len, struct edge_err *err)
{
	(void)err;
	out_hash(o, data, len);
	return 0;
}

/* The checker's running hash of the blob it is in. */
struct blob_check {
	struct sha256 h;
	int open;
};

/* Hashes the store blob bytes of frame j; at a blob's last bytes, compares
 * its digest with the one it is stored under. */
static int check_frame(struct zw *z, const struct zjob *j, struct blob_check *bc, struct edge_err *err)
{
	unsigned char raw[32];
	char got[72];

	if (!j->has_blob)
		return 0;
	if (j->bfirst) {
		if (bc->open)
			sha256_discard(&bc->h);
		if (sha256_init(&bc->h) != 0)
			return edge_errf(err, EDGE_EIO, "sha256: out of memory");
		bc->open = 1;
	}
	if (!bc->open)
		return edge_errf(err, EDGE_EIO, "store %s: blob %s: checked out of order", z->store_dir, j->bdigest);
	sha256_update(&bc->h, j->in + j->boff, j->blen);
	if (!j->blast)
		return 0;
	sha256_final(&bc->h, raw);
	bc->h.md = NULL;
	bc->open = 0;
	sha256_digest_format(got, raw);
	if (strcmp(got, j->bdigest) != 0)
		return edge_errf(err, EDGE_EVERIFY,
				 "store %s: blob %s is corrupt: its content has digest %s (remove it and run edge-pull again)",
				 z->store_dir, j->bdigest, got);
	return 0;
}

/* A compressor: frames in any order, each on its own. */
static int zw_compress(struct zw *z, struct edge_err *err)
{
	/* one workspace for the thread's whole run, sized once for the
	 * largest frame (BUNDLE_FRAME_MAX) at this level, which smaller frames
	 * fit in: a context that grows with its frames reallocated, and
	 * faulted in fresh pages, when small frames came before a large one,
	 * as a bundle's configs and layers do (a delta of 10 images: 65 page
	 * faults fewer, its time against a pack of its new blob alone 1.085
	 * -> 1.069). 1.2 MiB at the default level 3, 49 MiB at 19. A frame
	 * that did not fit would fail the pack ("zstd: Allocation error"). */
	size_t wsize = ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(z->level, BUNDLE_FRAME_MAX, 0));
	void *ws = malloc(wsize);
	ZSTD_CCtx *c = ws ? ZSTD_initStaticCCtx(ws, wsize) : NULL;
	struct zjob *j;
	int rc = 0;

	if (c == NULL) {
		free(ws);
		edge_errf(err, EDGE_EIO, "zstd: out of memory");
		ring_abort(z->ring, err);
		return -1;
	}
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, z->level);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	while ((j = ring_get(z->ring, ZS_COMPRESS)) != NULL) {
		j->raw = 0;
		if (worth_compressing(c, j)) {
			j->outlen = ZSTD_compress2(c, j->out, j->outcap, j->in, j->inlen);
			ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
		} else {
			raw_frame(j);
		}
		if (ZSTD_isError(j->outlen)) {
			edge_errf(err, EDGE_EIO, "zstd: %s", ZSTD_getErrorName(j->outlen));
			ring_abort(z->ring, err);
			rc = -1;
			break;
		}
		ring_release(z->ring, ZS_COMPRESS, j);
	}
	free(ws);
	return rc;
}

/* The writer: frames in order, into the output, and the seek table's
 * sizes. */
static void zw_wrote(struct zw *z, const struct zjob *j)
{
	if (z->nframes == z->fcap) {
		z->fcap = z->fcap ? z->fcap * 2 : 1024;
		z->fc = xrealloc(z->fc, z->fcap * sizeof(*z->fc));
		z->fd = xrealloc(z->fd, z->fcap * sizeof(*z->fd));
	}
	z->fc[z->nframes] = (uint32_t)j->outlen;
	z->fd[z->nframes] = (uint32_t)j->inlen;
	z->nframes++;
	z->raw_frames += (uint64_t)j->raw;
}

/* The writer, the hasher or the checker: one stage, frames in order. The
 * first to fail stops the others (ring_abort). */
static int zw_serial(struct zw *z, int stage, struct edge_err *err)
{
	struct blob_check bc;
	struct zjob *j;
	int rc = 0;

	memset(&bc, 0, sizeof(bc));
	while ((j = ring_get(z->ring, stage)) != NULL) {
		if (stage == ZS_CHECK)
			rc = check_frame(z, j, &bc, err);
		else
			rc = emit_frame(j, stage == ZS_HASH ? hash_put : out_put, z->out, err);
		if (rc != 0) {
			ring_abort(z->ring, err);
			break;
		}
		if (stage == ZS_WRITE)
			zw_wrote(z, j);
		ring_release(z->ring, stage, j);
	}
	if (bc.open)
		sha256_discard(&bc.h);
	return rc;
}

/* A pool job: item idx is a stage's thread (see zw_init). */
static int zw_stage(void *arg, size_t idx, void *worker, struct edge_err *err)
{
	struct zw *z = arg;

	(void)worker;
	if (idx < (size_t)z->ncompress)
		return zw_compress(z, err);
	return zw_serial(z, ZS_WRITE + (int)(idx - (size_t)z->ncompress), err);
}

/* The ring's error, once it was aborted. */
static int zw_failed(struct zw *z, struct edge_err *err)
{
	edge_err_clear(err);
	ring_aborted(z->ring, err);
	if (err->code == 0)
		edge_errf(err, EDGE_EIO, "packing stopped");
	return -1;
}

/* The reader's next slot to fill, once every stage is done with it. */
static int zw_next(struct zw *z, struct edge_err *err)
{
	if ((z->fill = ring_put_begin(z->ring)) == NULL)
		return zw_failed(z, err);
	z->fill->inlen = 0;
	z->fill->has_blob = 0;
	z->fill->raw = 0;
	return 0;
}

/* With check, store blobs marked by zw_blob_begin/zw_blob_end are checked
 * against their digests (errors name store_dir). On failure the caller
 * still calls zw_free. */
static int zw_init(struct zw *z, struct out *out, int level, int threads, int check, const char *store_dir,
		   struct edge_err *err)
{
	int nserial = check ? 3 : 2, nstages = 1 + nserial, started, i;
	static const int after[] = {-1, ZS_COMPRESS, ZS_COMPRESS, -1};
	size_t nslots, k;

	memset(z, 0, sizeof(*z));
	z->out = out;
	z->check = check;
	z->store_dir = store_dir;
	z->level = level;
	z->ncompress = threads > 0 ? threads : 1;
	nslots = (size_t)z->ncompress + 3;
	if ((z->ring = ring_new(nslots, sizeof(struct zjob), nstages, after, err)) == NULL)
		return -1;
	for (k = 0; k < nslots; k++) {
		struct zjob *j = ring_slot(z->ring, k);
		j->in = xmalloc_stream(BUNDLE_FRAME_MAX);
		j->outcap = ZSTD_compressBound(BUNDLE_FRAME_MAX);
		j->out = xmalloc(j->outcap); /* mostly a raw frame's header: small pages */
	}
	if ((z->pool = pool_new(z->ncompress + nserial, NULL, err)) == NULL)
		return -1;
	/* every serial stage needs its thread, and one compressor at least */
	started = pool_threads(z->pool);
	if (started < nserial + 1)
		return edge_errf(err, EDGE_EIO, "cannot start compression threads");
	z->ncompress = started - nserial;
	for (i = 0; i < z->ncompress + nserial; i++)
		if (pool_submit(z->pool, zw_stage, z, (size_t)i, NULL) != 0)
			return zw_failed(z, err);
	return zw_next(z, err);
}

/* Stops the stages at once (on failure nothing more is written), joins
 * them and frees the ring. Call it before the output is freed: until
 * joined, the writer and the hasher use it. */
static void zw_free(struct zw *z)
{
	size_t k;

	/* after a flush the stages are gone already */
	if (z->ring != NULL)
		ring_abort(z->ring, NULL);
	pool_free(z->pool);
	if (z->ring != NULL) {
		for (k = 0; k < ring_nslots(z->ring); k++) {
			struct zjob *j = ring_slot(z->ring, k);
			free(j->in);
			free(j->out);
		}
		ring_free(z->ring);
	}
	free(z->fc);
	free(z->fd);
	memset(z, 0, sizeof(*z));
}

/* The store blob digest is read into the frames from here on (the reader's
 * side: entry_blob, after its header). */
static void zw_blob_begin(struct zw *z, const char *digest)
{
	if (!z->check)
		return;
	z->fill_blob = 1;
	z->fill_first = 1;
	z->fill_ended = 0;
	z->fill_boff = (size_t)z->frame_in;
	snprintf(z->fill_digest, sizeof(z->fill_digest), "%s", digest);
}

/* The blob's last byte has been committed. */
static void zw_blob_end(struct zw *z)
{
	if (!z->fill_blob)
		return;
	z->fill_ended = 1;
	z->fill_bend = (size_t)z->frame_in;
}

/* Closes the frame being filled and hands it to the stages; waits for a
 * free slot to fill next. */
static int zw_end_frame(struct zw *z, struct edge_err *err)
{
	struct zjob *j = z->fill;

	if (z->frame_in == 0)
		return 0;
	j->has_blob = z->fill_blob;
	if (z->fill_blob) {
		j->bfirst = z->fill_first;
		j->blast = z->fill_ended;
		j->boff = z->fill_boff;
		j->blen = (z->fill_ended ? z->fill_bend : (size_t)z->frame_in) - z->fill_boff;
		memcpy(j->bdigest, z->fill_digest, sizeof(j->bdigest));
		/* a blob that goes on starts the next frame */
		z->fill_blob = !z->fill_ended;
		z->fill_first = 0;
		z->fill_boff = 0;
	}
	j->inlen = (size_t)z->frame_in;
	ring_put_commit(z->ring);
	z->fill = NULL;
	z->frame_in = 0;
	return zw_next(z, err);
}

/* Writes every frame still in flight and stops the stages; the seek table
 * is then the reader's to write. */
static int zw_flush(struct zw *z, struct edge_err *err)
{
	struct edge_err e = {0};

	if (zw_end_frame(z, err) != 0)
		return -1;
	z->fill = NULL;
	ring_close(z->ring);
	if (pool_wait(z->pool, &e) != 0 || ring_aborted(z->ring, NULL))
		return zw_failed(z, err);
	pool_free(z->pool);
	z->pool = NULL;
	return 0;
}

/* Room in the frame being filled: at least 1 byte (a full frame is closed
 * first). The caller puts n bytes there and calls zw_commit. */
static int zw_room(struct zw *z, unsigned char **dst, size_t *room, struct edge_err *err)
{
	if (z->frame_in == BUNDLE_FRAME_MAX && zw_end_frame(z, err) != 0)
		return -1;
	*dst = z->fill->in + z->frame_in;
	*room = (size_t)(BUNDLE_FRAME_MAX - z->frame_in);
	return 0;
}

static void zw_commit(struct zw *z, size_t n)
{
	z->frame_in += n;
	z->tar_off += n;
}

static int zw_write(struct zw *z, const void *data, size_t len, struct edge_err *err)
{
	const char *p = data;

	while (len > 0) {
		unsigned char *dst;
		size_t n;
		if (zw_room(z, &dst, &n, err) != 0)
			return -1;
		if (n > len)
			n = len;
		memcpy(dst, p, n);
		zw_commit(z, n);
		p += n;
		len -= n;
	}
	return 0;
}

static int zw_seek_table(struct zw *z, struct edge_err *err)
{
	size_t n = z->nframes, len = 8 + n * 8 + 9, i;
	unsigned char *t = xmalloc(len);
	int rc;

	le32(t, BUNDLE_SKIPPABLE_MAGIC);
	le32(t + 4, (uint32_t)(len - 8));
	for (i = 0; i < n; i++) {
		le32(t + 8 + i * 8, z->fc[i]);
		le32(t + 12 + i * 8, z->fd[i]);
	}
	le32(t + 8 + n * 8, (uint32_t)n);
	t[12 + n * 8] = 0; /* no per-frame checksums: frames carry their own (readers check a table's) */
	le32(t + 13 + n * 8, BUNDLE_SEEKABLE_MAGIC);
	rc = out_write(z->out, t, len, err);
	free(t);
	return rc;
}

/* --- tar ---------------------------------------------------------------- */

static void octal(char *dst, size_t width, uint64_t v)
{
	/* width includes the terminating NUL */
	size_t i = width - 1;

	dst[i] = '\0';
	while (i > 0) {
		dst[--i] = (char)('0' + (v & 7));
		v >>= 3;
	}
}

static void ustar(unsigned char h[512], const char *name, uint64_t size, uint64_t mtime, char type)
{
	unsigned sum = 0;
	size_t i;

	memset(h, 0, 512);
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	octal((char *)h + 100, 8, 0644);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	octal((char *)h + 124, 12, size < (1ull << 33) ? size : 0);
	octal((char *)h + 136, 12, mtime);
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (i = 0; i < 512; i++)
		sum += h[i];
	octal((char *)h + 148, 7, sum);
	h[155] = ' ';
}

struct packer {
	struct zw z;
	uint64_t mtime;
	json_t *index; /* bundle.index.json entries */
	struct progress *prog; /* the blob being copied counts (NULL: it does not) */
};

/* Starts an entry (a new frame); the data follows with zw_write. */
static int entry_begin(struct packer *pk, const char *name, uint64_t size, struct edge_err *err)
{
	unsigned char h[512];

	if (zw_end_frame(&pk->z, err) != 0)
		return -1;
	if (size >= (1ull << 33)) {
		/* pax extended header for sizes ustar cannot hold */
		char rec[64], pname[100];
		int n = snprintf(rec, sizeof(rec), "00 size=%llu\n", (unsigned long long)size);
		int len = n;
		/* the record length counts its own digits */
		for (;;) {
			int m = snprintf(rec, sizeof(rec), "%d size=%llu\n", len, (unsigned long long)size);
			if (m == len)
				break;
			len = m;
		}
		snprintf(pname, sizeof(pname), "PaxHeaders/%.80s", name);
		ustar(h, pname, (uint64_t)len, pk->mtime, 'x');
		if (zw_write(&pk->z, h, 512, err) != 0)
			return -1;
		memset(h, 0, 512);
		memcpy(h, rec, (size_t)len);
		if (zw_write(&pk->z, h, 512, err) != 0)
			return -1;
	}
	ustar(h, name, size, pk->mtime, '0');
	if (zw_write(&pk->z, h, 512, err) != 0)
		return -1;
	json_array_append_new(pk->index, json_pack("{s:s, s:I, s:I}", "name", name, "offset",
						   (json_int_t)pk->z.tar_off, "size", (json_int_t)size));
	return 0;
}

static int entry_end(struct packer *pk, uint64_t size, struct edge_err *err)
{
	static const unsigned char zero[512];
	size_t pad = (size_t)((512 - size % 512) % 512);

	return pad ? zw_write(&pk->z, zero, pad, err) : 0;
}

static int entry_mem(struct packer *pk, const char *name, const char *data, size_t len, struct edge_err *err)
{
	if (entry_begin(pk, name, len, err) != 0 || zw_write(&pk->z, data, len, err) != 0)
		return -1;
	return entry_end(pk, len, err);
}

static int entry_json(struct packer *pk, const char *name, json_t *j, struct edge_err *err)
{
	char *t = json_dumps(j, JSON_INDENT(2));
	size_t l = strlen(t);
	int rc;

	t = xrealloc(t, l + 2);
	t[l++] = '\n';
	t[l] = '\0';
	rc = entry_mem(pk, name, t, l, err);
	free(t);
	return rc;
}

/* Copies a store blob into the bundle, read straight into the frame being
 * filled. Its size is checked here, as a blob that shrank or grew would
 * shift the archive; its digest by the checker thread (zw_blob_begin), as a
 * store can rot or be edited by hand (SPEC §4), unless the store is
 * trusted. */
static int entry_blob(struct packer *pk, struct store *s, const char *digest, uint64_t size, struct edge_err *err)
{
	char name[100], *path = store_blob_path(s, digest);
	struct stat st;
	uint64_t done = 0;
	int fd, rc = -1;

	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	fd = open_input(path, &st, err);
	if (fd < 0) {
		if (err->code == EDGE_EIO)
			edge_err_errno(err, "store %s: blob %s", s->dir, digest);
		else
			edge_err_prefix(err, "store %s: blob %s", s->dir, digest);
		free(path);
		return -1;
	}
	/* a blob that shrank or grew would shift the archive: refused before
	 * a byte of it goes in (one that changes while it is read is the
	 * checker's: exactly size bytes are read and hashed) */
	if ((uint64_t)st.st_size != size) {
		edge_errf(err, EDGE_EVERIFY, "store %s: blob %s is corrupt (%s bytes than its %llu)", s->dir, digest,
			  (uint64_t)st.st_size < size ? "fewer" : "more", (unsigned long long)size);
		goto out;
	}
	if (size >= (1u << 20)) /* small ones fit the default readahead */
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (entry_begin(pk, name, size, err) != 0)
		goto out;
	zw_blob_begin(&pk->z, digest);
	while (done < size) {
		unsigned char *dst;
		size_t room;
		ssize_t n;
		if (zw_room(&pk->z, &dst, &room, err) != 0)
			goto out;
		if (room > size - done)
			room = (size_t)(size - done);
		n = read(fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			edge_err_errno(err, "read %s", path);
			goto out;
		}
		if (n == 0)
			break;
		zw_commit(&pk->z, (size_t)n);
		done += (uint64_t)n;
		if (pk->prog != NULL)
			progress_bytes(pk->prog, (uint64_t)n);
	}
	if (done != size) {
		edge_errf(err, EDGE_EVERIFY, "store %s: blob %s is corrupt (fewer bytes than its %llu)", s->dir, digest,
			  (unsigned long long)size);
		goto out;
	}
	zw_blob_end(&pk->z);
	rc = entry_end(pk, size, err);
out:
	close(fd);
	free(path);
	return rc;
}

/* --- what goes in --------------------------------------------------------- */

struct content {
	json_t *blobs;     /* digest -> size */
	json_t *index;     /* the bundle's index.json */
	json_t *docker;    /* manifest.json entries */
	json_t *counted;   /* digest -> true: the config and layer blobs of the
	                      images and charts, what progress counts (as pull
	                      and push count them) */
	int counting;      /* walking an image or chart, not the definition */
	json_t *layers;    /* digest -> true: layer blobs (a delta may leave them out) */
	json_t *meta;      /* digest -> true: manifests, indexes and configs (always in) */
};

static int add_blob(struct store *s, json_t *blobs, json_t *desc, const char *owner, struct edge_err *err)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	json_t *sz = json_object_get(desc, "size"), *had;

	if (oci_desc_read(desc, NULL, EDGE_EINPUT, owner, err) != 0)
		return -1;
	/* a layer many images share is looked up once */
	had = json_object_get(blobs, d);
	if (had != NULL && json_integer_value(had) == json_integer_value(sz))
		return 0;
	if (!store_has_blob(s, d, (int64_t)json_integer_value(sz))) {
		if (store_has_blob(s, d, -1))
			return edge_errf(err, EDGE_EVERIFY, "store %s: %s: blob %s is corrupt (not the %lld bytes its descriptor says)",
					 s->dir, owner, d, (long long)json_integer_value(sz));
		return edge_errf(err, EDGE_EIO, "store %s: %s: blob %s is missing (run edge-pull)", s->dir, owner, d);
	}
	json_object_set_new(blobs, d, json_integer(json_integer_value(sz)));
	return 0;
}

static json_t *read_json_blob(struct store *s, const char *digest, const char *owner, struct edge_err *err)
{
	json_t *j = store_read_json(s, digest, err);

	if (j == NULL) {
		edge_err_prefix(err, "%s", owner);
		return NULL;
	}
	{
		/* a store can be edited by hand: every digest, media type and
		 * size in the manifest, before any goes into the bundle */
		char what[EDGE_ERR_MAX];
		snprintf(what, sizeof(what), "%s: manifest %s", owner, digest);
		if (oci_doc_check(j, NULL, EDGE_EINPUT, what, err) < 0) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

/* A manifest: its config and layers. */
static int walk_manifest(struct store *s, struct content *c, json_t *man, const char *owner, struct edge_err *err)
{
	json_t *l;
	size_t i;

	if (add_blob(s, c->blobs, json_object_get(man, "config"), owner, err) != 0)
		return -1;
	json_object_set_new(c->meta, json_string_value(json_object_get(json_object_get(man, "config"), "digest")),
			    json_true());
	if (c->counting)
		json_object_set_new(c->counted, json_string_value(json_object_get(json_object_get(man, "config"), "digest")),
				    json_true());
	json_array_foreach(json_object_get(man, "layers"), i, l) {
		const char *d = json_string_value(json_object_get(l, "digest"));
		/* foreign layers were never pulled: they stay out of the bundle too */
		if (json_object_get(l, "urls") != NULL && d && !store_has_blob(s, d, -1))
			continue;
		if (add_blob(s, c->blobs, l, owner, err) != 0)
			return -1;
		json_object_set_new(c->layers, d, json_true());
		if (c->counting)
			json_object_set_new(c->counted, d, json_true());
	}
	return 0;
}

static void docker_entry(struct content *c, json_t *man, const char *ref)
{
	json_t *layers = json_array(), *l, *tags = json_array();
	size_t i;
	const char *cfg = json_string_value(json_object_get(json_object_get(man, "config"), "digest"));

	json_array_foreach(json_object_get(man, "layers"), i, l) {
		const char *d = json_string_value(json_object_get(l, "digest"));
		json_array_append_new(layers, json_sprintf("blobs/sha256/%s", d + 7));
	}
	if (strchr(ref, '@') == NULL)
		json_array_append_new(tags, json_string(ref));
	json_array_append_new(c->docker, json_pack("{s:o, s:o, s:o}", "Config",
						   json_sprintf("blobs/sha256/%s", cfg + 7), "RepoTags", tags,
						   "Layers", layers));
}

/* An entry of the manifest: its top descriptor and everything below. */
static int walk_entry(struct store *s, struct content *c, const char *ref, const char *digest,
		      const struct platform *want, int is_image, struct edge_err *err)
{
	json_t *top, *sdesc = store_index_find(s, ref), *desc;
	const char *mt;
	int rc = -1;

	if ((top = read_json_blob(s, digest, ref, err)) == NULL)
		return -1;
	mt = manifest_media_type(top);
	if (sdesc != NULL && strcmp(json_string_value(json_object_get(sdesc, "digest")), digest) == 0) {
		desc = json_deep_copy(sdesc);
	} else {
		char *p = store_blob_path(s, digest);
		struct stat st;
		stat(p, &st);
		free(p);
		desc = json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType", mt, "digest", digest, "size",
				 (json_int_t)st.st_size, "annotations", ANNOT_REF_NAME, ref, ANNOT_CONTAINERD_NAME, ref);
	}
	json_array_append_new(json_object_get(c->index, "manifests"), desc);
	{
		json_t *d = json_pack("{s:s, s:I}", "digest", digest, "size", json_integer_value(json_object_get(desc, "size")));
		if (add_blob(s, c->blobs, d, ref, err) != 0) {
			json_decref(d);
			goto out;
		}
		json_decref(d);
		json_object_set_new(c->meta, digest, json_true());
	}
	if (media_type_is_index(mt)) {
		json_t *m, *chosen = NULL;
		size_t i;
		json_array_foreach(json_object_get(top, "manifests"), i, m) {
			json_t *child, *plat = json_object_get(m, "platform");
			const char *cd = json_string_value(json_object_get(m, "digest"));
			if (add_blob(s, c->blobs, m, ref, err) != 0)
				goto out;
			json_object_set_new(c->meta, cd, json_true());
			if ((child = read_json_blob(s, cd, ref, err)) == NULL)
				goto out;
			if (walk_manifest(s, c, child, ref, err) != 0) {
				json_decref(child);
				goto out;
			}
			if (chosen == NULL && is_image && oci_is_image_config(child) &&
			    (want == NULL || platform_match(want, json_string_value(json_object_get(plat, "os")),
							    json_string_value(json_object_get(plat, "architecture")),
							    json_string_value(json_object_get(plat, "variant")))))
				chosen = json_incref(child);
			json_decref(child);
		}
		if (chosen != NULL) {
			docker_entry(c, chosen, ref);
			json_decref(chosen);
		}
	} else {
		if (walk_manifest(s, c, top, ref, err) != 0)
			goto out;
		if (is_image && oci_is_image_config(top))
			docker_entry(c, top, ref);
	}
	rc = 0;
out:
	json_decref(top);
	return rc;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int collect(json_t *m, struct store *s, struct content *c, json_t **blobs_sorted, struct edge_err *err)
{
	struct platform want, *wantp = NULL;
	struct manifest_iter it;
	json_t *def;
	size_t i;
	const char *p0 = json_string_value(json_array_get(manifest_platforms(m), 0));

	if (p0 != NULL && platform_parse(p0, &want, err) == 0)
		wantp = &want;
	json_t *done = json_object();
	for (manifest_iter_init(&it, m); manifest_iter_next(&it);) {
		json_t *e = it.entry;
		const char *ref = manifest_entry_ref(e), *digest = manifest_entry_digest(e);
		if (ref != NULL && json_object_get(done, ref) != NULL)
			continue; /* listed twice: packed once */
		if (ref != NULL)
			json_object_set_new(done, ref, json_true());
		if (manifest_entry_error(e) != NULL) {
			json_decref(done);
			return edge_errf(err, EDGE_EINPUT, "%s[%zu]: %s failed to pull: %s", it.list, it.index,
					 ref ? ref : "?", manifest_entry_error(e));
		}
		if (ref == NULL || digest == NULL) {
			json_decref(done);
			return edge_errf(err, EDGE_EINPUT, "%s[%zu]: %s has no digest: run edge-pull first", it.list, it.index,
					 ref ? ref : manifest_entry_name(e) ? manifest_entry_name(e) : "?");
		}
		if (walk_entry(s, c, ref, digest, wantp, it.kind == MANIFEST_IMAGE, err) != 0) {
			json_decref(done);
			return -1;
		}
	}
	json_decref(done);
	def = manifest_definition(m);
	c->counting = 0; /* edge-push does not push the definition: no blob of it counts */
	if (def != NULL && manifest_definition_ref(def) != NULL) {
		json_t *d = store_index_find(s, manifest_definition_ref(def));
		if (d == NULL)
			return edge_errf(err, EDGE_EIO, "store %s: the cluster definition %s is missing (run edge-pull)",
					 s->dir, manifest_definition_ref(def));
		if (walk_entry(s, c, manifest_definition_ref(def), json_string_value(json_object_get(d, "digest")), NULL, 0,
			       err) != 0)
			return -1;
	}
	{
		/* sorted lists: the same inputs always give the same bytes */
		const char *key;
		json_t *v;
		size_t n = json_object_size(c->blobs), j = 0;
		const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
		json_object_foreach(c->blobs, key, v)
			keys[j++] = key;
		qsort(keys, n, sizeof(*keys), cmp_strp);
		*blobs_sorted = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(*blobs_sorted, json_pack("{s:s, s:O}", "digest", keys[i], "size",
								       json_object_get(c->blobs, keys[i])));
		free(keys);
	}
	{
		/* index.json entries sorted by name, duplicates (same ref) once */
		json_t *list = json_object_get(c->index, "manifests");
		size_t n = json_array_size(list), a, b;
		for (a = 1; a < n; a++)
			for (b = a; b > 0; b--) {
				json_t *x = json_array_get(list, b - 1), *y = json_array_get(list, b);
				const char *nx = json_string_value(json_object_get(json_object_get(x, "annotations"), ANNOT_REF_NAME));
				const char *ny = json_string_value(json_object_get(json_object_get(y, "annotations"), ANNOT_REF_NAME));
				if (strcmp(nx ? nx : "", ny ? ny : "") <= 0)
					break;
				json_incref(x);
				json_array_set(list, b - 1, y);
				json_array_set_new(list, b, x);
			}
	}
	return 0;
}

/* --- pack ------------------------------------------------------------------ */

char *bundle_dir_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? strndup(path, (size_t)(s - path + 1)) : xstrdup("");
}

/* bundle.json: the manifest without what is local to this site (store,
 * bundle, signatures, pushed), with the list of blobs, and a delta's base
 * member (NULL for a full bundle). */
static json_t *bundle_json(json_t *manifest, json_t *blobs, json_t *base)
{
	json_t *bj = json_deep_copy(manifest);

	manifest_drop_local(bj);
	json_object_set(bj, "blobs", blobs);
	if (base != NULL)
		json_object_set(bj, "base", base);
	return bj;
}

/* A delta (delta.h): the layer blobs the bases list with the same size
 * leave *blobs (sorted, so the kept ones stay sorted) for the base
 * member's omitted list, sorted too. Manifests, indexes and configs always
 * stay. */
static json_t *delta_split(const struct delta_base *b, const struct content *c, json_t **blobs, uint64_t *obytes)
{
	json_t *kept = json_array(), *omitted = json_array(), *bl;
	size_t i;

	*obytes = 0;
	json_array_foreach(*blobs, i, bl) {
		const char *d = json_string_value(json_object_get(bl, "digest")), *from = NULL, *repo = NULL;
		json_int_t size = json_integer_value(json_object_get(bl, "size"));
		if (json_object_get(c->layers, d) != NULL && json_object_get(c->meta, d) == NULL &&
		    delta_base_lookup(b, d, &from, &repo) == (int64_t)size) {
			json_t *e = json_pack("{s:s, s:I, s:s}", "digest", d, "size", size, "base", from);
			if (repo != NULL)
				json_object_set_new(e, "repository", json_string(repo));
			json_array_append_new(omitted, e);
			*obytes += (uint64_t)size;
		} else {
			json_array_append(kept, bl);
		}
	}
	json_decref(*blobs);
	*blobs = kept;
	return json_pack("{s:O, s:o}", "bundles", b->bundles, "omitted", omitted);
}

/* After a commit: what out still holds. */
static void out_release(struct out *out)
{
	size_t i;

	for (i = 0; i < out->nph; i++)
		if (out->ph[i].md)
			sha256_discard(&out->ph[i]);
	free(out->ph);
	free(out->parts);
	free(out->base);
}

/* A split bundle's commit: each part under its final name FINAL.partNNN,
 * then the parts descriptor FINAL.parts.json; *bundle is its manifest
 * field. The caller aborts what is left on failure. */
static int commit_parts(struct out *out, const char *final, const char *digest, json_t **bundle,
			struct edge_err *err)
{
	unsigned char raw[32];
	size_t i, ndone = 0;
	json_t *plist = json_array(), *desc;
	char *dpath = xasprintf("%s.parts.json", final);
	char *text;
	const char *slash;
	/* the final names are registered for a signal's cleanup as they are
	 * committed, and dropped as one once the descriptor is there: an
	 * interrupted or failed commit leaves no part without its descriptor */
	int *slots = xmalloc((out->nparts + 1) * sizeof(*slots));

	if (out->nph != out->nparts) {
		edge_errf(err, EDGE_EIO, "%s: %zu parts written, %zu hashed", final, out->nparts, out->nph);
		json_decref(plist);
		free(dpath);
		free(slots);
		return -1;
	}
	for (i = 0; i < out->nparts; i++) {
		char pd[72], *pname = part_path(final, i);
		sha256_final(&out->ph[i], raw);
		out->ph[i].md = NULL;
		sha256_digest_format(pd, raw);
		free(out->parts[i].af.path);
		out->parts[i].af.path = pname;
		slash = strrchr(pname, '/');
		json_array_append_new(plist, json_pack("{s:s, s:I, s:s}", "name", slash ? slash + 1 : pname, "size",
						       (json_int_t)out->parts[i].size, "digest", pd));
		out->parts[i].open = 0;
		slots[i] = cleanup_register(pname);
		if (atomic_commit(&out->parts[i].af, err) != 0) {
			cleanup_unregister(slots[i]);
			goto fail;
		}
		ndone++;
	}
	slash = strrchr(final, '/');
	desc = json_pack("{s:s, s:s, s:s, s:I, s:O}", "apiVersion", BUNDLE_PARTS_VERSION, "bundle",
			 slash ? slash + 1 : final, "digest", digest, "size", (json_int_t)out->total, "parts", plist);
	text = json_dumps(desc, JSON_INDENT(2));
	json_decref(desc);
	{
		size_t l = strlen(text);
		text = xrealloc(text, l + 2);
		text[l] = '\n';
		text[l + 1] = '\0';
	}
	slots[ndone] = cleanup_register(dpath);
	if (atomic_write_file(dpath, text, strlen(text), 0644, err) != 0) {
		cleanup_unregister(slots[ndone]);
		free(text);
		goto fail;
	}
	free(text);
	if (cleanup_hold() != 0) {
		/* a signal's cleanup has begun: it removes them all */
		edge_errf(err, EDGE_EIO, "%s: interrupted", dpath);
		json_decref(plist);
		free(dpath);
		free(slots);
		return -1;
	}
	for (i = 0; i <= ndone; i++)
		cleanup_unregister(slots[i]);
	cleanup_release();
	free(slots);
	{
		json_t *mparts = json_array(), *pp;
		char *dir = bundle_dir_of(final);
		size_t k;
		json_array_foreach(plist, k, pp) {
			char *ppath = xasprintf("%s%s", dir, json_string_value(json_object_get(pp, "name")));
			json_array_append_new(mparts, manifest_file_new(ppath, json_string_value(json_object_get(pp, "digest")),
									json_integer_value(json_object_get(pp, "size"))));
			free(ppath);
		}
		free(dir);
		json_decref(plist);
		*bundle = manifest_file_new(dpath, digest, (json_int_t)out->total);
		manifest_file_set_parts(*bundle, mparts);
	}
	free(dpath);
	return 0;
fail:
	for (i = 0; i < ndone; i++) {
		char *pname = part_path(final, i);
		(void)unlink(pname);
		free(pname);
		cleanup_unregister(slots[i]);
	}
	json_decref(plist);
	free(dpath);
	free(slots);
	return -1;
}

/* The entries after the blobs: manifest.json, then bundle.index.json
 * (where every other entry's data starts), the tar's end and the seek
 * table. */
static int pack_tail(struct packer *pk, struct content *c, struct edge_err *err)
{
	static const unsigned char zero[1024];
	json_t *docker = c->docker, *ix;
	int r;

	c->docker = NULL;
	r = entry_json(pk, "manifest.json", docker, err);
	json_decref(docker);
	if (r != 0)
		return -1;
	ix = json_pack("{s:i, s:O}", "version", 1, "entries", pk->index);
	r = entry_json(pk, "bundle.index.json", ix, err);
	json_decref(ix);
	if (r != 0 || zw_write(&pk->z, zero, sizeof(zero), err) != 0 || zw_flush(&pk->z, err) != 0 ||
	    zw_seek_table(&pk->z, err) != 0)
		return -1;
	return 0;
}

/* The bases of a delta, read on a thread of their own while collect walks
 * the manifest's trees (both only read the store). */
struct base_load {
	const char *const *paths;
	size_t n;
	struct store *s;
	struct delta_base b;
};

static int load_bases(void *arg, size_t idx, void *worker, struct edge_err *err)
{
	struct base_load *bl = arg;
	size_t i;

	(void)idx;
	(void)worker;
	for (i = 0; i < bl->n; i++)
		if (delta_base_add(&bl->b, bl->paths[i], bl->s, err) != 0)
			return -1;
	return 0;
}

/* collect, with the bases read beside it; a base's error comes first. */
static int collect_with_bases(json_t *m, struct store *s, struct content *c, json_t **blobs, struct base_load *bl,
			      struct edge_err *err)
{
	struct edge_err berr = {0};
	struct pool *p = NULL;
	size_t i;
	int rc, brc = 0, bundles = 0;

	/* A base that is a manifest is listed from the store being packed
	 * (delta.c), after collect, from the manifests collect parsed: a
	 * thread would only race it for them. A bundle's bundle.json and
	 * trees are decompressed beside collect (a parts descriptor, JSON,
	 * is read after it). */
	for (i = 0; i < bl->n; i++)
		if (!manifest_file_is_json(bl->paths[i]))
			bundles = 1;
	if (bundles && ((p = pool_new(1, NULL, err)) == NULL || pool_submit(p, load_bases, bl, 0, NULL) != 0)) {
		pool_free(p);
		return -1;
	}
	rc = collect(m, s, c, blobs, err);
	if (p != NULL) {
		brc = pool_wait(p, &berr);
		pool_free(p);
	} else if (bl->n > 0 && rc == 0) {
		return load_bases(bl, 0, NULL, err);
	}
	if (brc != 0) {
		*err = berr;
		return -1;
	}
	return rc;
}

int bundle_pack(json_t *manifest, struct store *s, const struct bundle_opts *o, json_t **bundle,
		struct edge_err *err)
{
	struct base_load bl = {o->bases, o->nbases, s, {NULL, NULL}};
	struct content c = {json_object(), NULL, json_array(), json_object(), 1, json_object(), json_object()};
	struct progress prog;
	struct packer pk;
	struct out out;
	json_t *blobs = NULL, *bj = NULL, *base = NULL;
	const char *name = manifest_name(manifest), *ext = o->nbases > 0 ? "delta.tar.zst" : "tar.zst";
	uint64_t obytes = 0;
	char *final = NULL, digest[72];
	unsigned char raw[32];
	size_t i;
	int rc = -1, zw_started = 0;

	memset(&pk, 0, sizeof(pk));
	memset(&out, 0, sizeof(out));
	progress_init(&prog, o->progress, o->progress_ctx, "blobs", "packed");
	*bundle = NULL;
	c.index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests");
	delta_base_init(&bl.b);
	if (o->nbases > 0)
		store_cache_docs(s, 1); /* collect and the bases meet the same manifests */
	if (collect_with_bases(manifest, s, &c, &blobs, &bl, err) != 0)
		goto out;
	if (json_array_size(json_object_get(c.index, "manifests")) == 0) {
		edge_errf(err, EDGE_EINPUT, "the manifest names no pulled image, chart or definition: nothing to pack");
		goto out;
	}
	if (o->nbases > 0)
		base = delta_split(&bl.b, &c, &blobs, &obytes);
	bj = bundle_json(manifest, blobs, base);

	/* output: the exact -o name, or a provisional one renamed once the hash is known */
	out.split = o->split;
	out.base = o->output ? xstrdup(o->output) : xasprintf("core-%s-packing.%s", name ? name : "edge", ext);
	sha256_init(&out.h);
	pk.mtime = o->mtime;
	pk.index = json_array();
	if (zw_init(&pk.z, &out, o->level, o->threads, !o->trust_store, s->dir, err) != 0) {
		zw_started = 1;
		goto out;
	}
	zw_started = 1;
	if (entry_json(&pk, "bundle.json", bj, err) != 0 ||
	    entry_mem(&pk, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, err) != 0 ||
	    entry_json(&pk, "index.json", c.index, err) != 0)
		goto out;
	{
		json_t *bl;
		json_array_foreach(blobs, i, bl)
			if (json_object_get(c.counted, json_string_value(json_object_get(bl, "digest"))) != NULL)
				progress_add_total(&prog, 1, (uint64_t)json_integer_value(json_object_get(bl, "size")));
		json_array_foreach(blobs, i, bl) {
			const char *d = json_string_value(json_object_get(bl, "digest"));
			uint64_t sz = (uint64_t)json_integer_value(json_object_get(bl, "size"));
			pk.prog = json_object_get(c.counted, d) != NULL ? &prog : NULL;
			if (entry_blob(&pk, s, d, sz, err) != 0)
				goto out;
			if (pk.prog != NULL)
				progress_item(&prog, 0); /* its bytes were counted as they were read */
		}
		pk.prog = NULL;
		progress_end(&prog, UINT64_MAX);
	}
	if (pack_tail(&pk, &c, err) != 0)
		goto out;
	sha256_final(&out.h, raw);
	out.h.md = NULL;
	sha256_digest_format(digest, raw);
	if (o->output) {
		final = xstrdup(o->output);
	} else {
		char *dir = bundle_dir_of(out.base);
		final = xasprintf("%score-%s-%.12s.%s", dir, name ? name : "edge", digest + 7, ext);
		free(dir);
	}
	/* commit: parts (or the file) under their final names, then the descriptor */
	if (!o->split) {
		free(out.parts[0].af.path);
		out.parts[0].af.path = xstrdup(final);
		out.parts[0].open = 0;
		if (atomic_commit(&out.parts[0].af, err) != 0)
			goto out;
		*bundle = manifest_file_new(final, digest, (json_int_t)out.total);
	} else if (commit_parts(&out, final, digest, bundle, err) != 0) {
		goto out;
	}
	if (base != NULL) {
		size_t n = json_array_size(json_object_get(base, "omitted"));
		json_object_set_new(*bundle, "omitted", json_pack("{s:I, s:I}", "count", (json_int_t)n, "bytes",
								   (json_int_t)obytes));
		json_object_set(*bundle, "base", json_object_get(base, "bundles"));
		log_verbose("%s: a delta: %zu blobs (%llu bytes) left out, held by the base", final, n,
			    (unsigned long long)obytes);
	}
	log_verbose("%s: %zu entries, %zu blobs, %llu bytes (%zu frames, %llu of them raw blocks)", final,
		    json_array_size(pk.index), json_array_size(blobs), (unsigned long long)out.total, pk.z.nframes,
		    (unsigned long long)pk.z.raw_frames);
	rc = 0;
out:
	/* the threads first: the writer and the hasher may still be at work
	 * on out when another thread failed */
	if (zw_started)
		zw_free(&pk.z);
	if (rc != 0) {
		/* committed parts of a failed split would be half a bundle */
		out_abort(&out);
	} else {
		out_release(&out);
	}
	progress_fini(&prog);
	json_decref(pk.index);
	json_decref(c.counted);
	json_decref(c.blobs);
	json_decref(c.index);
	json_decref(c.docker);
	json_decref(c.layers);
	json_decref(c.meta);
	json_decref(base);
	delta_base_free(&bl.b);
	store_cache_docs(s, 0);
	json_decref(blobs);
	json_decref(bj);
	free(final);
	return rc;
}
