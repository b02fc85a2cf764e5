/* The bundle reader (SPEC §5): one file or the parts of a split bundle
 * joined, the seek table, decompression of a range of the tar stream
 * (bundle_stream, and bundle_read_range on it), and bundle.index.json. */
#include "bundle.h"
#include "bundle_int.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "fsutil.h"
#include "jsonload.h"
#include "manifest.h"
#include "oci.h"

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int open_parts(struct bundle_reader *r, const char *path, struct edge_err *err)
{
	char *data = NULL, *dir;
	size_t len, i;
	json_t *doc = NULL, *p;
	json_error_t je;
	int rc = -1;

	if (read_file_max(path, 16u << 20, &data, &len, err) != 0)
		return -1;
	doc = json_loadb_bounded(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "parts")) ||
	    json_array_size(json_object_get(doc, "parts")) == 0) {
		edge_errf(err, EDGE_EINPUT, "%s: not a parts descriptor%s%s", path, doc ? "" : ": ", doc ? "" : je.text);
		goto out;
	}
	if (json_object_get(doc, "digest") != NULL && !oci_digest_valid(manifest_str(doc, "digest"))) {
		edge_errf(err, EDGE_EINPUT, "%s: digest: expected \"sha256:\" and 64 lower-case hex digits", path);
		goto out;
	}
	json_array_foreach(json_object_get(doc, "parts"), i, p)
		if (json_object_get(p, "digest") != NULL && !oci_digest_valid(manifest_str(p, "digest"))) {
			edge_errf(err, EDGE_EINPUT, "%s: parts[%zu]: digest: expected \"sha256:\" and 64 lower-case hex digits",
				  path, i);
			goto out;
		}
	snprintf(r->digest, sizeof(r->digest), "%s", manifest_str(doc, "digest") ? manifest_str(doc, "digest") : "");
	dir = bundle_dir_of(path);
	r->nparts = json_array_size(json_object_get(doc, "parts"));
	r->fds = xcalloc(r->nparts, sizeof(*r->fds));
	r->part_off = xcalloc(r->nparts, sizeof(*r->part_off));
	r->part_size = xcalloc(r->nparts, sizeof(*r->part_size));
	for (i = 0; i < r->nparts; i++)
		r->fds[i] = -1;
	json_array_foreach(json_object_get(doc, "parts"), i, p) {
		const char *name = manifest_str(p, "name");
		char *pp;
		struct stat st;
		if (name == NULL || strchr(name, '/') != NULL || name[0] == '.' ||
		    !json_is_integer(json_object_get(p, "size"))) {
			edge_errf(err, EDGE_EINPUT, "%s: parts[%zu]: a part needs a plain file name and a size", path, i);
			free(dir);
			goto out;
		}
		pp = xasprintf("%s%s", dir, name);
		r->fds[i] = open_input(pp, &st, err);
		if (r->fds[i] < 0) {
			free(pp);
			free(dir);
			goto out;
		}
		if ((uint64_t)st.st_size != (uint64_t)json_integer_value(json_object_get(p, "size"))) {
			edge_errf(err, EDGE_EVERIFY, "%s: %lld bytes, the descriptor says %lld", pp, (long long)st.st_size,
				  (long long)json_integer_value(json_object_get(p, "size")));
			free(pp);
			free(dir);
			goto out;
		}
		free(pp);
		r->part_off[i] = r->size;
		r->part_size[i] = (uint64_t)st.st_size;
		r->size += (uint64_t)st.st_size;
	}
	free(dir);
	r->parts = json_incref(json_object_get(doc, "parts"));
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

int64_t bundle_pread(struct bundle_reader *r, void *buf, size_t len, uint64_t off, struct edge_err *err)
{
	size_t done = 0, i;

	for (i = 0; i < r->nparts && done < len; i++) {
		uint64_t a = r->part_off[i], b = a + r->part_size[i];
		if (off + done >= b)
			continue;
		while (done < len && off + done < b) {
			size_t want = len - done;
			ssize_t n;
			if (want > b - (off + done))
				want = (size_t)(b - (off + done));
			n = pread(r->fds[i], (char *)buf + done, want, (off_t)(off + done - a));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return edge_err_errno(err, "read %s", r->path);
			if (n == 0)
				return (int64_t)done;
			done += (size_t)n;
		}
	}
	return (int64_t)done;
}

/* Reads the seek table at the end, if there is one. */
static int read_seek_table(struct bundle_reader *r, struct edge_err *err)
{
	unsigned char foot[9], *t;
	uint32_t n, i;
	uint64_t tlen, coff = 0, doff = 0;

	if (r->size < 17)
		return 0;
	if (bundle_pread(r, foot, 9, r->size - 9, err) != 9)
		return -1;
	if (rd32(foot + 5) != BUNDLE_SEEKABLE_MAGIC)
		return 0;
	n = rd32(foot);
	if (foot[4] & 0x7c)
		return edge_errf(err, EDGE_EINPUT, "%s: seek table with reserved bits set", r->path);
	tlen = (uint64_t)n * ((foot[4] & 0x80) ? 12 : 8) + 9;
	if (tlen + 8 > r->size || n > (1u << 26))
		return edge_errf(err, EDGE_EINPUT, "%s: seek table larger than the file", r->path);
	t = xmalloc((size_t)tlen + 8);
	if (bundle_pread(r, t, (size_t)tlen + 8, r->size - tlen - 8, err) != (int64_t)(tlen + 8)) {
		free(t);
		return -1;
	}
	if (rd32(t) != BUNDLE_SKIPPABLE_MAGIC || rd32(t + 4) != tlen) {
		free(t);
		return edge_errf(err, EDGE_EINPUT, "%s: damaged seek table", r->path);
	}
	r->frames = xcalloc(n ? n : 1, sizeof(*r->frames));
	for (i = 0; i < n; i++) {
		const unsigned char *e = t + 8 + (size_t)i * ((foot[4] & 0x80) ? 12 : 8);
		r->frames[i].coff = coff;
		r->frames[i].csize = rd32(e);
		r->frames[i].doff = doff;
		r->frames[i].dsize = rd32(e + 4);
		if (foot[4] & 0x80)
			r->frames[i].check = rd32(e + 8);
		coff += rd32(e);
		doff += rd32(e + 4);
	}
	free(t);
	if (coff != r->size - tlen - 8) {
		free(r->frames);
		r->frames = NULL;
		return edge_errf(err, EDGE_EINPUT, "%s: the seek table does not match the file (truncated?)", r->path);
	}
	r->nframes = n;
	r->tar_size = doff;
	r->checks = (foot[4] & 0x80) != 0;
	return 0;
}

size_t bundle_frame_at(const struct bundle_reader *r, uint64_t off)
{
	size_t lo = 0, hi = r->nframes;

	/* binary search on doff */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->frames[mid].doff <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int bundle_frame_check_ok(const struct bundle_reader *r, size_t f, uint64_t x)
{
	return !r->checks || (uint32_t)x == r->frames[f].check;
}

/* Walks the zstd frames from the start of a file that has no seek table,
 * reading only frame and block headers: 1 when the last frame is cut short
 * (the file ends early), 0 when the frames end where the file does or the
 * bytes are no zstd frames at all (then it is no bundle, whole or not). */
static int frames_cut_short(struct bundle_reader *r)
{
	static const unsigned did_size[4] = {0, 1, 2, 4};
	unsigned char h[18]; /* the largest frame header */
	uint64_t off = 0;
	struct edge_err e = {0};

	while (off < r->size) {
		size_t have = r->size - off < sizeof(h) ? (size_t)(r->size - off) : sizeof(h), hs;
		uint32_t magic;
		int check;
		if (bundle_pread(r, h, have, off, &e) != (int64_t)have)
			return 0;
		if (have < 4)
			return 1;
		magic = rd32(h);
		if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
			/* a skippable frame (the seek table is one) */
			if (have < 8)
				return 1;
			off += 8 + (uint64_t)rd32(h + 4);
			if (off > r->size)
				return 1;
			continue;
		}
		if (magic != 0xFD2FB528u)
			return 0;
		if (have < 5)
			return 1;
		if (h[4] & 0x08)
			return 0; /* a reserved bit: no zstd frame */
		/* magic, descriptor, window (unless single segment), dictionary
		 * ID, content size (RFC 8878 3.1.1.1) */
		hs = 5 + !((h[4] >> 5) & 1) + did_size[h[4] & 3] +
		     ((h[4] >> 6) == 0 ? (size_t)((h[4] >> 5) & 1) : (size_t)1 << (h[4] >> 6));
		check = (h[4] >> 2) & 1;
		off += hs;
		for (;;) {
			unsigned char b[3];
			uint32_t bh, type;
			if (bundle_pread(r, b, 3, off, &e) != 3)
				return 1;
			bh = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
			type = (bh >> 1) & 3;
			if (type == 3)
				return 0;
			off += 3 + (type == 1 ? 1 : bh >> 3);
			if (off > r->size)
				return 1;
			if (bh & 1)
				break;
		}
		off += check ? 4 : 0;
		if (off > r->size)
			return 1;
	}
	return 0;
}

/* The error for a reader with no seek table. */
static int no_seek_table(struct bundle_reader *r, struct edge_err *err)
{
	if (r->truncated)
		return edge_errf(err, EDGE_EVERIFY, "%s: truncated (the file ends inside a zstd frame, before the seek table)",
				 r->path);
	return edge_errf(err, EDGE_EINPUT, "%s: no seek table: not a bundle made by edge-pack", r->path);
}

/* A name that is no bundle: a signature, or one part of a split bundle. */
static int is_bundle_sidecar(const char *name)
{
	size_t l = strlen(name), d = 0;

	if ((l > 8 && strcmp(name + l - 8, ".minisig") == 0) || (l > 4 && strcmp(name + l - 4, ".sig") == 0))
		return 1;
	while (d < l && name[l - 1 - d] >= '0' && name[l - 1 - d] <= '9')
		d++;
	return d > 0 && l - d > 5 && strncmp(name + l - d - 5, ".part", 5) == 0;
}

/* The matches of pattern that may be bundles, appended to *v. */
static size_t glob_bundles(const char *pattern, char ***v, size_t n)
{
	glob_t g;
	size_t i;

	if (glob(pattern, 0, NULL, &g) != 0)
		return n;
	for (i = 0; i < g.gl_pathc; i++) {
		if (is_bundle_sidecar(g.gl_pathv[i]))
			continue;
		*v = xrealloc(*v, (n + 1) * sizeof(**v));
		(*v)[n++] = xstrdup(g.gl_pathv[i]);
	}
	globfree(&g);
	return n;
}

char *bundle_find(const char *arg, struct edge_err *err)
{
	char *p, **v = NULL, *hit = NULL;
	size_t n = 0, i;
	int e;

	if (access(arg, F_OK) == 0)
		return xstrdup(arg);
	e = errno;
	p = xasprintf("%s.parts.json", arg);
	if (access(p, F_OK) == 0)
		return p;
	free(p);
	if (strpbrk(arg, "*?[") != NULL) {
		n = glob_bundles(arg, &v, 0);
		if (n == 0) {
			p = xasprintf("%s.parts.json", arg);
			n = glob_bundles(p, &v, 0);
			free(p);
		}
	}
	if (n == 1) {
		hit = v[0];
	} else if (n > 1) {
		edge_errf(err, EDGE_EUSAGE, "%s matches %zu bundles (%s, %s%s): name one", arg, n, v[0], v[1],
			  n > 2 ? ", …" : "");
	} else {
		errno = e;
		edge_err_errno(err, "open %s", arg);
	}
	for (i = 0; i < n; i++)
		if (v[i] != hit)
			free(v[i]);
	free(v);
	return hit;
}

/* A stream's decoder and buffers, between streams: a reader keeps one
 * (r->spare), so reading many small entries (a base's manifests, a push's
 * small blobs) makes a decoder and two buffers once, not per entry. */
struct stream_mem {
	void *d;
	unsigned char *in, *out;
};

/* Frees a decoder and its buffers (NULL: nothing). */
static void stream_mem_free(struct stream_mem *m)
{
	if (m == NULL)
		return;
	ZSTD_freeDCtx((ZSTD_DCtx *)m->d);
	free(m->in);
	free(m->out);
	free(m);
}

/* s's decoder and buffers: the reader's spare, else new ones. */
static void stream_mem_take(struct bundle_stream *s)
{
	struct stream_mem *m = __atomic_exchange_n(&s->r->spare, NULL, __ATOMIC_ACQ_REL);

	s->incap = ZSTD_DStreamInSize();
	s->outcap = ZSTD_DStreamOutSize();
	if (m == NULL) {
		m = xmalloc(sizeof(*m));
		m->d = ZSTD_createDCtx();
		m->in = xmalloc(s->incap);
		m->out = xmalloc(s->outcap);
	}
	s->d = m->d;
	s->in = m->in;
	s->out = m->out;
	s->holder = m;
}

/* Gives s's decoder back to its reader, or frees it when the reader holds
 * one already (another thread's). */
static void stream_mem_give(struct bundle_stream *s)
{
	void *none = NULL;

	if (!__atomic_compare_exchange_n(&s->r->spare, &none, s->holder, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		stream_mem_free(s->holder);
}

int bundle_is_parts_path(const char *path)
{
	size_t len = strlen(path);

	return len > 11 && strcmp(path + len - 11, ".parts.json") == 0;
}

int bundle_reader_open(struct bundle_reader *r, const char *path, struct edge_err *err)
{
	memset(r, 0, sizeof(*r));
	r->path = xstrdup(path);
	if (bundle_is_parts_path(path)) {
		if (open_parts(r, path, err) != 0)
			goto fail;
	} else {
		struct stat st;
		r->nparts = 1;
		r->fds = xcalloc(1, sizeof(*r->fds));
		r->part_off = xcalloc(1, sizeof(*r->part_off));
		r->part_size = xcalloc(1, sizeof(*r->part_size));
		r->fds[0] = open_input(path, &st, err);
		if (r->fds[0] < 0)
			goto fail;
		r->size = r->part_size[0] = (uint64_t)st.st_size;
	}
	if (read_seek_table(r, err) != 0)
		goto fail;
	if (r->frames == NULL)
		r->truncated = frames_cut_short(r);
	return 0;
fail:
	bundle_reader_close(r);
	return -1;
}

void bundle_reader_close(struct bundle_reader *r)
{
	size_t i;

	for (i = 0; r->fds && i < r->nparts; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	free(r->fds);
	free(r->part_off);
	free(r->part_size);
	free(r->frames);
	free(r->path);
	json_decref(r->parts);
	json_decref(r->entries);
	stream_mem_free(r->spare);
	memset(r, 0, sizeof(*r));
}

uint64_t bundle_tar_octal(const unsigned char *p, size_t n, int *ok)
{
	uint64_t v = 0;
	size_t i = 0;

	*ok = 1;
	if (n > 0 && (p[0] & 0x80)) {
		*ok = 0; /* base-256: edge-pack never writes it */
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
/* --- pull-style streams --------------------------------------------------- */

/* Restarts decoding at the frame that holds absolute tar offset abs. The
 * compressed bytes read stop at the end of the frame that holds the
 * range's last byte: a small entry reads its own frame, not a buffer's
 * worth of the frames after it. */
static void stream_start_at(struct bundle_stream *s, uint64_t abs)
{
	struct bundle_reader *r = s->r;
	size_t lo = bundle_frame_at(r, abs), hi = s->len > 0 ? bundle_frame_at(r, s->off + s->len - 1) : lo;

	s->frame = lo;
	s->cpos = r->frames[lo].coff;
	s->cend = r->frames[hi].coff + r->frames[hi].csize;
	s->pos = r->frames[lo].doff;
	s->out_pos = s->out_len = 0;
	s->delivered = abs - s->off;
	ZSTD_DCtx_reset((ZSTD_DCtx *)s->d, ZSTD_reset_session_only);
}

int bundle_stream_open(struct bundle_stream *s, struct bundle_reader *r, uint64_t off, uint64_t len,
		       struct edge_err *err)
{
	memset(s, 0, sizeof(*s));
	if (r->frames == NULL || r->nframes == 0)
		return no_seek_table(r, err);
	if (off + len > r->tar_size || off + len < off)
		return edge_errf(err, EDGE_EINPUT, "%s: range past the end of the bundle", r->path);
	s->r = r;
	s->off = off;
	s->len = len;
	stream_mem_take(s);
	stream_start_at(s, off);
	return 0;
}

void bundle_stream_close(struct bundle_stream *s)
{
	if (s->holder != NULL)
		stream_mem_give(s);
	memset(s, 0, sizeof(*s));
}

int bundle_stream_rewind(struct bundle_stream *s, struct edge_err *err)
{
	(void)err;
	stream_start_at(s, s->off);
	return 0;
}

int bundle_stream_seek(struct bundle_stream *s, uint64_t k, struct edge_err *err)
{
	if (k > s->len)
		return edge_errf(err, EDGE_EINPUT, "%s: seek past the end of an entry", s->r->path);
	stream_start_at(s, s->off + k);
	return 0;
}

/* Refills out[] with the next decompressed bytes. 0 ok, -1 error. */
static int stream_fill(struct bundle_stream *s, struct edge_err *err)
{
	ZSTD_outBuffer ob = {s->out, s->outcap, 0};

	s->pos += s->out_len;
	s->out_pos = s->out_len = 0;
	while (ob.pos == 0) {
		ZSTD_inBuffer ib;
		size_t want = s->incap, ret;
		int64_t got;
		if (s->cpos >= s->cend)
			return edge_errf(err, EDGE_EVERIFY, "%s: the bundle ends early", s->r->path);
		if (want > s->cend - s->cpos)
			want = (size_t)(s->cend - s->cpos);
		got = bundle_pread(s->r, s->in, want, s->cpos, err);
		if (got <= 0)
			return got == 0 ? edge_errf(err, EDGE_EVERIFY, "%s: truncated", s->r->path) : -1;
		ib.src = s->in;
		ib.size = (size_t)got;
		ib.pos = 0;
		ret = ZSTD_decompressStream((ZSTD_DCtx *)s->d, &ob, &ib);
		if (ZSTD_isError(ret))
			return edge_errf(err, EDGE_EVERIFY, "%s: corrupt zstd data: %s", s->r->path, ZSTD_getErrorName(ret));
		s->cpos += ib.pos;
	}
	s->out_len = ob.pos;
	return 0;
}

/* The next at most max bytes of the range, in place in s->out (*p, *n;
 * *n is 0 at the end of the range), taken as delivered. 0 ok, -1 error. */
static int stream_next(struct bundle_stream *s, size_t max, const unsigned char **p, size_t *n,
		       struct edge_err *err)
{
	*n = 0;
	while (s->delivered < s->len) {
		uint64_t abs, cur = s->off + s->delivered;
		size_t avail, m;
		if (s->out_pos >= s->out_len && stream_fill(s, err) != 0)
			return -1;
		abs = s->pos + s->out_pos;
		avail = s->out_len - s->out_pos;
		if (abs < cur) {
			uint64_t skip = cur - abs;
			s->out_pos += skip < avail ? (size_t)skip : avail;
			continue;
		}
		m = max < avail ? max : avail;
		if (m > s->len - s->delivered)
			m = (size_t)(s->len - s->delivered);
		*p = s->out + s->out_pos;
		*n = m;
		s->out_pos += m;
		s->delivered += m;
		break;
	}
	return 0;
}

int64_t bundle_stream_read(struct bundle_stream *s, void *buf, size_t n, struct edge_err *err)
{
	size_t done = 0;

	while (done < n) {
		const unsigned char *p;
		size_t m;
		if (stream_next(s, n - done, &p, &m, err) != 0)
			return -1;
		if (m == 0)
			break;
		memcpy((char *)buf + done, p, m);
		done += m;
	}
	return (int64_t)done;
}

/* Built on bundle_stream: the stream finds the frame and decodes. */
int bundle_read_range(struct bundle_reader *r, uint64_t off, uint64_t len,
		      int (*cb)(const void *data, size_t len, void *ctx, struct edge_err *err), void *ctx,
		      struct edge_err *err)
{
	struct bundle_stream s;
	uint64_t done = 0;
	int rc = -1;

	if (r->frames == NULL)
		return no_seek_table(r, err);
	if (off + len > r->tar_size || off + len < off)
		return edge_errf(err, EDGE_EINPUT, "%s: range %llu+%llu is past the end of the bundle", r->path,
				 (unsigned long long)off, (unsigned long long)len);
	if (len == 0)
		return 0;
	if (bundle_stream_open(&s, r, off, len, err) != 0)
		return -1;
	while (done < len) {
		const unsigned char *p;
		size_t n;
		if (stream_next(&s, SIZE_MAX, &p, &n, err) != 0)
			goto out;
		if (n == 0) {
			edge_errf(err, EDGE_EVERIFY, "%s: the bundle ends early", r->path);
			goto out;
		}
		if (cb(p, n, ctx, err) != 0)
			goto out;
		done += (uint64_t)n;
	}
	rc = 0;
out:
	bundle_stream_close(&s);
	return rc;
}

static int collect_cb(const void *data, size_t len, void *ctx, struct edge_err *err)
{
	struct { char *buf; size_t len, cap; } *c = ctx;

	(void)err;
	if (len == 0)
		return 0; /* c->buf may still be NULL: no memcpy to it */
	if (c->len + len > c->cap) {
		c->cap = (c->len + len) * 2;
		c->buf = xrealloc(c->buf, c->cap + 1);
	}
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	return 0;
}

int bundle_index_check(json_t *doc, const char *what, struct edge_err *err)
{
	json_t *v = json_object_get(doc, "version"), *x;
	size_t i;

	if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "entries")) ||
	    (v != NULL && (!json_is_integer(v) || json_integer_value(v) != 1)))
		return edge_errf(err, EDGE_EINPUT, "%s: expected {\"version\": 1, \"entries\": [...]}", what);
	json_array_foreach(json_object_get(doc, "entries"), i, x) {
		const char *name = manifest_str(x, "name");
		if (name == NULL || name[0] == '\0' || !oci_size_valid(json_object_get(x, "offset")) ||
		    !oci_size_valid(json_object_get(x, "size")))
			return edge_errf(err, EDGE_EINPUT, "%s: entries[%zu]: expected {name, offset, size} with a byte offset and size",
					 what, i);
	}
	return 0;
}

int bundle_entry(struct bundle_reader *r, const char *name, uint64_t *off, uint64_t *size, struct edge_err *err)
{
	json_t *e;

	if (r->entries == NULL) {
		/* bundle.index.json is the last entry: its header is in the last
		 * frames; find it by scanning back over the final frames */
		struct { char *buf; size_t len, cap; } c = {NULL, 0, 0};
		uint64_t start;
		size_t f, i;
		json_t *doc, *x;
		char *p;
		if (r->frames == NULL || r->nframes == 0)
			return no_seek_table(r, err);
		/* every entry starts a frame: the index is in the last frames; read
		 * as few as needed, so damage further up does not hide it */
		doc = NULL;
		for (f = r->nframes; f > 0 && r->nframes - f < 8 && doc == NULL; f--) {
			start = r->frames[f - 1].doff;
			if (r->tar_size - start > (64u << 20))
				break;
			c.len = 0;
			if (bundle_read_range(r, start, r->tar_size - start, collect_cb, &c, err) != 0)
				break;
			for (i = 0; i + 512 <= c.len; i += 512) {
				int ok;
				uint64_t sz;
				if (strncmp(c.buf + i, "bundle.index.json", 18) != 0)
					continue;
				sz = bundle_tar_octal((unsigned char *)c.buf + i + 124, 12, &ok);
				if (ok && i + 512 + sz <= c.len)
					doc = json_loadb_bounded(c.buf + i + 512, (size_t)sz, 0, NULL);
				break;
			}
		}
		free(c.buf);
		if (!json_is_array(json_object_get(doc, "entries"))) {
			json_decref(doc);
			return edge_errf(err, EDGE_EINPUT, "%s: bundle.index.json not found or damaged", r->path);
		}
		{
			char what[EDGE_ERR_MAX];
			snprintf(what, sizeof(what), "%s: bundle.index.json", r->path);
			if (bundle_index_check(doc, what, err) != 0) {
				json_decref(doc);
				return -1;
			}
		}
		r->entries = json_object();
		json_array_foreach(json_object_get(doc, "entries"), i, x) {
			p = (char *)json_string_value(json_object_get(x, "name"));
			if (p != NULL)
				json_object_set_new(r->entries, p, json_pack("[O, O]", json_object_get(x, "offset"),
									    json_object_get(x, "size")));
		}
		json_decref(doc);
	}
	e = json_object_get(r->entries, name);
	if (e == NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: no entry %s", r->path, name);
	*off = (uint64_t)json_integer_value(json_array_get(e, 0));
	*size = (uint64_t)json_integer_value(json_array_get(e, 1));
	if (*off > r->tar_size || *size > r->tar_size - *off) /* no wrap: both come from the bundle */
		return edge_errf(err, EDGE_EINPUT, "%s: entry %s lies past the end of the bundle", r->path, name);
	return 0;
}

const char *bundle_entry_at(struct bundle_reader *r, uint64_t off)
{
	struct edge_err e;
	uint64_t a, b, best_start = 0;
	const char *key, *best = NULL;
	json_t *v;

	if (r->entries == NULL && bundle_entry(r, "bundle.json", &a, &b, &e) != 0)
		return NULL;
	/* entries follow each other: the first one that ends after off holds it
	 * (in its data, or in its header blocks just before the data) */
	json_object_foreach(r->entries, key, v) {
		uint64_t start = (uint64_t)json_integer_value(json_array_get(v, 0));
		uint64_t size = (uint64_t)json_integer_value(json_array_get(v, 1));
		uint64_t end = start + (size + 511) / 512 * 512;
		if (off < end && (best == NULL || start < best_start)) {
			best = key;
			best_start = start;
		}
	}
	return best;
}

int bundle_read_entry(struct bundle_reader *r, const char *name, size_t max, char **data, size_t *len,
		      struct edge_err *err)
{
	struct bundle_stream s;
	uint64_t off, size;
	size_t got = 0;
	int64_t n = 0;
	char *buf;

	*data = NULL;
	if (bundle_entry(r, name, &off, &size, err) != 0)
		return -1;
	if (size > max)
		return edge_errf(err, EDGE_EINPUT, "%s: %s is larger than %zu bytes", r->path, name, max);
	if (bundle_stream_open(&s, r, off, size, err) != 0)
		return -1;
	buf = xmalloc((size_t)size + 1);
	while (got < size && (n = bundle_stream_read(&s, buf + got, (size_t)size - got, err)) > 0)
		got += (size_t)n;
	bundle_stream_close(&s);
	if (got != size) {
		free(buf);
		return n < 0 ? -1 : edge_errf(err, EDGE_EVERIFY, "%s: %s is truncated", r->path, name);
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}
