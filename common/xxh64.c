#include "xxh64.h"

#include <string.h>

/* The algorithm as its specification (xxhash.com, "XXH64") describes it. */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* little-endian loads (x86-64 and arm64 are; memcpy keeps it alignment-safe) */
static uint64_t ld64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static uint32_t ld32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static uint64_t round64(uint64_t acc, uint64_t lane)
{
	acc += lane * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static uint64_t merge(uint64_t acc, uint64_t v)
{
	acc ^= round64(0, v);
	return acc * P1 + P4;
}

/* The tail and the avalanche, once the 32-byte stripes are done. */
static uint64_t finish(uint64_t h, const unsigned char *p, const unsigned char *end)
{
	while (end - p >= 8) {
		h ^= round64(0, ld64(p));
		h = rotl(h, 27) * P1 + P4;
		p += 8;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)ld32(p) * P1;
		h = rotl(h, 23) * P2 + P3;
		p += 4;
	}
	while (p < end) {
		h ^= (uint64_t)*p * P5;
		h = rotl(h, 11) * P1;
		p++;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

static uint64_t converge(const uint64_t v[4])
{
	uint64_t h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);

	h = merge(h, v[0]);
	h = merge(h, v[1]);
	h = merge(h, v[2]);
	return merge(h, v[3]);
}

/* Whole stripes of p (n a multiple of 32). */
static void stripes(uint64_t v[4], const unsigned char *p, size_t n)
{
	uint64_t v1 = v[0], v2 = v[1], v3 = v[2], v4 = v[3];
	const unsigned char *end = p + n;

	while (p < end) {
		v1 = round64(v1, ld64(p));
		v2 = round64(v2, ld64(p + 8));
		v3 = round64(v3, ld64(p + 16));
		v4 = round64(v4, ld64(p + 24));
		p += 32;
	}
	v[0] = v1;
	v[1] = v2;
	v[2] = v3;
	v[3] = v4;
}

uint64_t xxh64(const void *data, size_t len, uint64_t seed)
{
	struct xxh64_state s;

	xxh64_init(&s, seed);
	xxh64_update(&s, data, len);
	return xxh64_final(&s);
}

void xxh64_init(struct xxh64_state *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->v[0] = seed + P1 + P2;
	s->v[1] = seed + P2;
	s->v[2] = seed;
	s->v[3] = seed - P1;
}

void xxh64_update(struct xxh64_state *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t whole;

	s->total += len;
	if (s->buflen > 0) {
		size_t n = 32 - s->buflen < len ? 32 - s->buflen : len;
		memcpy(s->buf + s->buflen, p, n);
		s->buflen += n;
		p += n;
		len -= n;
		if (s->buflen < 32)
			return;
		stripes(s->v, s->buf, 32);
		s->buflen = 0;
	}
	whole = len & ~(size_t)31;
	stripes(s->v, p, whole);
	memcpy(s->buf, p + whole, len - whole);
	s->buflen = len - whole;
}

uint64_t xxh64_final(const struct xxh64_state *s)
{
	uint64_t h = s->total >= 32 ? converge(s->v) : s->seed + P5;

	return finish(h + s->total, s->buf, s->buf + s->buflen);
}
