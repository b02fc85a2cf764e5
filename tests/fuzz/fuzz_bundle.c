/*
 * The content bundle reader (SPEC §5) through the real verification path,
 * verify_bundle: the zstd stream, the seek table reader, the tar entry
 * reader and its pax parser, and the checks of bundle.json (a delta's base
 * member and omitted layers included), oci-layout, index.json, manifest.json
 * and bundle.index.json; then the seek-table readers edge-push and
 * edge-serve use (bundle_read_entry, bundle_entry).
 *
 * First byte:
 *   bits 0-1  0: the rest is the bundle file as it is;
 *             1: the rest is a tar stream, written as one zstd frame
 *                (the one-pass path);
 *             2: a tar stream cut into zstd frames, with a seek table
 *                (the parallel path);
 *             3: two bytes (big-endian) give the length of a tar stream
 *                that is framed as in 2; what follows it is XORed onto
 *                the seek table (its skippable frame header included),
 *                and what is longer than the table is appended to it;
 *   bit 2     fix the tar header checksums before compressing (so the
 *             fuzzer gets past them);
 *   bit 3     seek table entries carry checksums;
 *   bits 4-7  frames hold 512 << (bits 4-7) bytes of the tar stream (at
 *             most 16 MiB).
 * Invariants: every failure has an exit class and a one-line message; a
 * bundle that verifies has a "bundle" object in its manifest.
 */
#include <jansson.h>
#include <zstd.h>

#include "bundle.h"
#include "fuzzutil.h"
#include "verify.h"
#include "xxh64.h"

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
	put(b, x, 4);
}

static uint64_t octal(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n && p[i] == ' '; i++)
		;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(p[i] - '0');
	return v;
}

/* Rewrites every header's checksum where a reader that follows sizes
 * (and pax "size" records) would find the headers. */
static void fix_checksums(unsigned char *t, size_t n)
{
	static const unsigned char zero[512];
	size_t pos = 0;
	int64_t pax_size = -1;

	while (pos + 512 <= n) {
		unsigned char *h = t + pos;
		unsigned sum = 0;
		uint64_t size;
		size_t i;

		if (memcmp(h, zero, 512) == 0) {
			pos += 512;
			continue;
		}
		for (i = 0; i < 512; i++)
			sum += (i >= 148 && i < 156) ? ' ' : h[i];
		snprintf((char *)h + 148, 8, "%06o", sum);
		h[155] = ' ';
		size = octal(h + 124, 12);
		if (h[156] == 'x') {
			/* find a size record in the pax data */
			const char *d = (const char *)h + 512, *s;
			size_t avail = n - pos - 512 < size ? n - pos - 512 : (size_t)size;
			char *copy = fz_strndup((const uint8_t *)d, avail);
			if ((s = strstr(copy, " size=")) != NULL)
				pax_size = strtoll(s + 6, NULL, 10);
			free(copy);
		} else if (pax_size >= 0) {
			size = (uint64_t)pax_size;
			pax_size = -1;
		}
		if (size > n)
			break;
		pos += 512 + (size_t)((size + 511) / 512 * 512);
	}
}

/* Compresses tar in frames of fsize input bytes; then, with seek, the seek
 * table, XORed with mask (mask_len bytes; the excess is appended). */
static void frame(struct buf *out, const unsigned char *tar, size_t n, size_t fsize, int seek, int checks,
		  const unsigned char *mask, size_t mask_len)
{
	struct buf table = {0};
	size_t off = 0, nframes = 0;

	if (!seek)
		fsize = n ? n : 1;
	do {
		size_t in = n - off < fsize ? n - off : fsize, bound = ZSTD_compressBound(in), c;
		if (out->len + bound > out->cap) {
			out->cap = out->len + bound + 64;
			out->p = realloc(out->p, out->cap);
			if (out->p == NULL)
				abort();
		}
		c = ZSTD_compress(out->p + out->len, bound, tar + off, in, 1);
		if (ZSTD_isError(c))
			abort();
		out->len += c;
		put32(&table, (uint32_t)c);
		put32(&table, (uint32_t)in);
		if (checks)
			put32(&table, (uint32_t)xxh64(tar + off, in, 0));
		nframes++;
		off += in;
	} while (off < n);
	if (seek) {
		size_t start = out->len, i;
		put32(out, BUNDLE_SKIPPABLE_MAGIC);
		put32(out, (uint32_t)(table.len + 9));
		put(out, table.p, table.len);
		put32(out, (uint32_t)nframes);
		put(out, checks ? "\x80" : "\x00", 1);
		put32(out, BUNDLE_SEEKABLE_MAGIC);
		for (i = 0; i < mask_len && start + i < out->len; i++)
			out->p[start + i] ^= mask[i];
		if (i < mask_len)
			put(out, mask + i, mask_len - i);
	}
	free(table.p);
}

static void check_err(int rc, const struct edge_err *err)
{
	if (rc != 0 && (err->code == 0 || err->msg[0] == '\0' || strpbrk(err->msg, "\r\n") != NULL)) {
		fprintf(stderr, "bad error: code %d, message \"%s\"\n", err->code, err->msg);
		abort();
	}
}

/* A reader keeps one closed stream's decoder for the next (bundle_read.c):
 * an entry read while another stream is open (a fresh decoder) and read
 * again once it is closed (the kept one, then the other's) gives the same
 * bytes each time. */
static void nested_reads(struct bundle_reader *r)
{
	struct edge_err err = {0};
	struct bundle_stream s;
	char *a = NULL, *b = NULL, *c = NULL, buf[64];
	size_t la = 0, lb = 0, lc = 0;
	uint64_t off, size;
	int ra, rb, rc;

	if (bundle_entry(r, "index.json", &off, &size, &err) != 0 || bundle_stream_open(&s, r, off, size, &err) != 0)
		return;
	ra = bundle_read_entry(r, "bundle.json", 1u << 20, &a, &la, &err);
	if (bundle_stream_read(&s, buf, sizeof(buf), &err) < 0)
		check_err(-1, &err);
	rb = bundle_read_entry(r, "bundle.json", 1u << 20, &b, &lb, &err);
	bundle_stream_close(&s);
	rc = bundle_read_entry(r, "bundle.json", 1u << 20, &c, &lc, &err);
	if (ra != rb || rb != rc || (ra == 0 && (la != lb || lb != lc || memcmp(a, b, la) != 0 || memcmp(b, c, lb) != 0))) {
		fprintf(stderr, "bundle.json read three times: %d/%zu, %d/%zu, %d/%zu\n", ra, la, rb, lb, rc, lc);
		abort();
	}
	free(a);
	free(b);
	free(c);
}

/* What edge-push and edge-serve read through the seek table. */
static void read_entries(const char *path)
{
	struct edge_err err = {0};
	struct bundle_reader r;
	char *data = NULL;
	size_t len = 0;
	uint64_t off, size;
	static const char *const names[] = {"bundle.json", "index.json", "oci-layout"};
	size_t i;

	if (bundle_reader_open(&r, path, &err) != 0) {
		fz_debug("bundle_reader_open", -1, err.msg);
		check_err(-1, &err);
		return;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (bundle_read_entry(&r, names[i], 1u << 20, &data, &len, &err) == 0) {
			fz_debug("bundle_read_entry", 0, "");
			if (strlen(data) > len)
				abort();
			free(data);
		} else {
			check_err(-1, &err);
		}
	}
	if (bundle_entry(&r, "index.json", &off, &size, &err) == 0 && (off > r.tar_size || size > r.tar_size - off)) {
		fprintf(stderr, "index.json at %llu+%llu, past the end (%llu)\n", (unsigned long long)off,
			(unsigned long long)size, (unsigned long long)r.tar_size);
		abort();
	}
	nested_reads(&r);
	bundle_entry_at(&r, 0);
	bundle_reader_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	struct buf out = {0};
	json_t *m = NULL, *omitted = NULL;
	const char *path;
	int mode, rc;

	if (size == 0)
		return 0;
	fz_dir();
	mode = data[0] & 3;
	if (mode == 0) {
		path = fz_write("b.tar.zst", data + 1, size - 1);
	} else {
		size_t n = size - 1, fsize = (size_t)512 << (data[0] >> 4);
		const uint8_t *tail = NULL;
		size_t tail_len = 0;
		unsigned char *tar;
		if (mode == 3) {
			size_t l;
			if (size < 3)
				return 0;
			l = (size_t)data[1] << 8 | data[2];
			n = size - 3 < l ? size - 3 : l;
			tail = data + 3 + n;
			tail_len = size - 3 - n;
			tar = (unsigned char *)fz_strndup(data + 3, n);
		} else {
			tar = (unsigned char *)fz_strndup(data + 1, n);
		}
		if (data[0] & 4)
			fix_checksums(tar, n);
		frame(&out, tar, n, fsize, mode >= 2, (data[0] & 8) != 0, tail, tail_len);
		free(tar);
		path = fz_write("b.tar.zst", out.p, out.len);
		free(out.p);
	}
	rc = verify_bundle(path, 64u << 20, data[0] & 1, 1, &m, &omitted, &err);
	fz_debug("verify_bundle", rc, err.msg);
	check_err(rc, &err);
	if (rc == 0 && !json_is_object(json_object_get(m, "bundle")))
		abort();
	/* a delta that verifies: what its manifest says it left out is the
	 * list verify_bundle gives, every entry naming the image that needs it */
	if (rc == 0 && omitted != NULL) {
		json_t *o, *om = json_object_get(json_object_get(m, "bundle"), "omitted");
		size_t i;
		fz_debug("delta", 0, "");
		if ((size_t)json_integer_value(json_object_get(om, "count")) != json_array_size(omitted))
			abort();
		json_array_foreach(omitted, i, o)
			if (!json_is_string(json_object_get(o, "image")))
				abort();
	}
	json_decref(omitted);
	json_decref(m);
	read_entries(path);
	return 0;
}
