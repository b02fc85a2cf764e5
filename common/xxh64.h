/*
 * XXH64 (seed 0 or any), the hash zstd frames carry as their content
 * checksum (the low 32 bits). Used by edge-pack when it writes a frame of
 * raw blocks itself.
 */
#ifndef EDGE_XXH64_H
#define EDGE_XXH64_H

#include <stddef.h>
#include <stdint.h>

uint64_t xxh64(const void *data, size_t len, uint64_t seed);

/* The same over pieces. */
struct xxh64_state {
	uint64_t v[4];
	uint64_t total;
	unsigned char buf[32];
	size_t buflen;
	uint64_t seed;
};
void xxh64_init(struct xxh64_state *s, uint64_t seed);
void xxh64_update(struct xxh64_state *s, const void *data, size_t len);
uint64_t xxh64_final(const struct xxh64_state *s);

#endif
