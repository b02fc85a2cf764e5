/*
 * The content bundle (SPEC §5): a pax tar compressed with zstd, a new frame
 * at every entry and at most BUNDLE_FRAME_MAX bytes of input per frame, and
 * a zstd seekable-format seek table at the end, so that readers can reach
 * any entry without decompressing what comes before it. Reproducible: the
 * same manifest and store give the same bytes.
 */
#ifndef EDGE_BUNDLE_H
#define EDGE_BUNDLE_H

#include <jansson.h>
#include <stdint.h>
#include "err.h"
#include "progress.h"
#include "store.h"

#define BUNDLE_FRAME_MAX (4u << 20)          /* input bytes per zstd frame (SPEC: at most 32 MiB) */
#define BUNDLE_SEEKABLE_MAGIC 0x8F92EAB1u
#define BUNDLE_SKIPPABLE_MAGIC 0x184D2A5Eu
#define BUNDLE_PARTS_VERSION "edge.parts/v1"
/* The largest JSON entry (bundle.json, index.json, ...) any tool reads from
 * a bundle: edge-verify refuses a bundle with a larger one, so edge-push,
 * edge-serve and a delta's base need read no more (parsed within 20 times
 * that: jsonload.h) */
#define BUNDLE_MAX_JSON_ENTRY (64u << 20)

struct bundle_opts {
	int level;           /* zstd level, default 3 */
	int threads;         /* compression threads, default: all cores */
	uint64_t split;      /* 0, or the largest part in bytes */
	uint64_t mtime;      /* entry times ($SOURCE_DATE_EPOCH or 0) */
	const char *output;  /* exact output path, or NULL: core-NAME-HEX12.tar.zst */
	int trust_store;     /* do not check store blobs against their digests (unsafe) */
	const char *const *bases; /* nbases > 0: a delta that leaves out the layers these files list */
	size_t nbases;           /* (delta_base_add; read while the manifest's trees are walked) */
	progress_fn progress; /* NULL, or called after each blob and at the end */
	void *progress_ctx;
};

/* Packs the manifest's images, charts and definition from the store into a
 * bundle. On success *bundle is the new manifest field {path, digest, size
 * [, parts]}: path is the bundle, or with split the parts descriptor. Every
 * store blob is checked against its size and (unless trust_store) its
 * digest as it is read, on another thread: a mismatch is EDGE_EVERIFY naming
 * the blob. Nothing is left under a final name on failure. */
int bundle_pack(json_t *manifest, struct store *s, const struct bundle_opts *o, json_t **bundle,
		struct edge_err *err);

/*
 * Reading. A bundle is one file or a parts descriptor (FILE.parts.json
 * listing FILE.part000…): the reader joins the parts.
 */
struct bundle_frame {
	uint64_t coff, csize; /* in the compressed file */
	uint64_t doff, dsize; /* in the tar stream */
	uint32_t check;       /* the seek table's checksum (with checks) */
};

struct bundle_reader {
	char *path;
	int *fds;
	uint64_t *part_off, *part_size;
	size_t nparts;
	uint64_t size;              /* compressed bytes (all parts) */
	struct bundle_frame *frames;/* from the seek table; NULL when there is none */
	size_t nframes;
	int checks;                 /* the seek table gives each frame a checksum: the
				     * low 32 bits of XXH64 of its content (edge-pack
				     * writes none; edge-verify checks them) */
	uint64_t tar_size;          /* decompressed bytes covered by the frames */
	char digest[72];            /* from a parts descriptor ("" otherwise) */
	json_t *parts;              /* the descriptor's parts list, or NULL */
	json_t *entries;            /* bundle.index.json: name -> [offset, size] */
	int truncated;              /* no seek table, and the last zstd frame is cut short */
	void *spare;                /* a closed stream's decoder and buffers, kept for the
				     * next stream (taken and given back atomically:
				     * streams may be opened on several threads) */
};

/* The bundle a command-line argument names (SPEC §5), for edge-verify and
 * edge-push: arg itself when it exists; else ARG.parts.json, the
 * descriptor edge-pack --split wrote for ARG; else, when arg is a glob
 * pattern the shell left as it was (it matched no file), the one bundle or
 * parts descriptor that the pattern, or the pattern followed by
 * ".parts.json", matches (signatures and .partNNN files are not
 * candidates). Returns a malloc'd path, or NULL with err: EDGE_EIO "open
 * ARG: reason" when nothing matches, EDGE_EUSAGE when several bundles do. */
char *bundle_find(const char *arg, struct edge_err *err);

/* 1 when path names a parts descriptor: it ends in ".parts.json" after a
 * name (bundle_reader_open reads it as one). */
int bundle_is_parts_path(const char *path);

/* Opens a bundle or parts descriptor; reads the seek table when there is
 * one (a bundle without is still readable sequentially). A file without a
 * seek table whose zstd frames stop in the middle of one sets truncated:
 * the errors that need the table then say "truncated". */
int bundle_reader_open(struct bundle_reader *r, const char *path, struct edge_err *err);
void bundle_reader_close(struct bundle_reader *r);
/* Whether XXH64 x of frame f's content agrees with the seek table (always
 * when the table has no checksums). */
int bundle_frame_check_ok(const struct bundle_reader *r, size_t f, uint64_t x);
/* The frame whose decompressed range holds tar offset off (the last frame
 * starting at or before off; 0 when there are no frames). Needs the seek
 * table. */
size_t bundle_frame_at(const struct bundle_reader *r, uint64_t off);
/* pread over the joined parts. Returns bytes read (short only at the end). */
int64_t bundle_pread(struct bundle_reader *r, void *buf, size_t len, uint64_t off, struct edge_err *err);
/* Streams the decompressed bytes [off, off+len) of the tar stream to cb,
 * starting at the frame that holds off (needs the seek table). cb returns 0
 * to go on, -1 to stop (its error in err). */
int bundle_read_range(struct bundle_reader *r, uint64_t off, uint64_t len,
		      int (*cb)(const void *data, size_t len, void *ctx, struct edge_err *err), void *ctx,
		      struct edge_err *err);

/* Pull-style reading of a range of the tar stream (an entry's data). */
struct bundle_stream {
	struct bundle_reader *r;
	void *d;                 /* ZSTD_DCtx * */
	unsigned char *in, *out;
	size_t incap, outcap, out_pos, out_len;
	uint64_t off, len;       /* the range */
	uint64_t pos;            /* decompressed position of out[out_len] */
	uint64_t delivered;
	size_t frame;
	uint64_t cpos, cend;     /* compressed: the next byte to read, the end of the
				  * frame that holds the range's last byte */
	void *holder;            /* d, in and out, given back to the reader's spare */
};
int bundle_stream_open(struct bundle_stream *s, struct bundle_reader *r, uint64_t off, uint64_t len,
		       struct edge_err *err);
/* Reads up to n bytes; 0 at the end of the range; -1 on error. */
int64_t bundle_stream_read(struct bundle_stream *s, void *buf, size_t n, struct edge_err *err);
/* Back to the start of the range. */
int bundle_stream_rewind(struct bundle_stream *s, struct edge_err *err);
/* Skips to offset k within the range (rewinding when needed). */
int bundle_stream_seek(struct bundle_stream *s, uint64_t k, struct edge_err *err);
void bundle_stream_close(struct bundle_stream *s);

/* The data offset and size of an entry, from bundle.index.json (read once
 * through the seek table and cached in the reader). */
int bundle_entry(struct bundle_reader *r, const char *name, uint64_t *off, uint64_t *size, struct edge_err *err);

/* Checks a parsed bundle.index.json: {"version": 1, "entries": [{name,
 * offset, size}]}, offsets and sizes byte counts (oci_size_valid). what
 * names it in errors (EDGE_EINPUT "WHAT: reason"). */
int bundle_index_check(json_t *doc, const char *what, struct edge_err *err);

/* Reads a whole entry of at most max bytes into a malloc'd, NUL-terminated
 * buffer (EDGE_EINPUT when larger). */
int bundle_read_entry(struct bundle_reader *r, const char *name, size_t max, char **data, size_t *len,
		      struct edge_err *err);

/* The entry whose header or data holds tar offset off (from
 * bundle.index.json); NULL when unknown. Points into the reader. */
const char *bundle_entry_at(struct bundle_reader *r, uint64_t off);

/* A tar header's octal number field of n bytes (leading spaces, octal
 * digits, then only spaces or NULs). *ok is 0 when the field is not that
 * (base-256 included). */
uint64_t bundle_tar_octal(const unsigned char *p, size_t n, int *ok);

#endif
