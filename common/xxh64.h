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

#endif
