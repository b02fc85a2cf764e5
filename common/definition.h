/*
 * The cluster definition .tgz (SPEC §8): a gzip tar whose *.json files are
 * cluster profiles. Read safely: every entry must be a regular file or a
 * directory whose path stays inside the archive, and sizes are bounded.
 */
#ifndef EDGE_DEFINITION_H
#define EDGE_DEFINITION_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define DEFINITION_MAX_JSON (16u << 20)        /* one JSON member (real profiles: KBs to a few MB) */
#define DEFINITION_MAX_JSON_TOTAL (64u << 20)  /* the JSON members, kept in memory */
#define DEFINITION_MAX_TOTAL (1ull << 30)      /* all members, decompressed */
#define DEFINITION_MAX_ENTRIES 100000

struct def_file {
	char *name; /* entry path as stored, e.g. "spc/edge-infra.json" */
	char *data; /* NUL-terminated */
	size_t len;
};

struct definition {
	struct def_file *files; /* the *.json members, in archive order */
	size_t nfiles;
	char **other;           /* names of members that are not *.json */
	size_t nother;
	char digest[72];        /* sha256 of the .tgz file */
	uint64_t size;
};

/* Reads and checks path. EDGE_EINPUT "PATH: reason" when it is not a gzip
 * tar, holds an unsafe or oversized entry, or is empty; EDGE_EIO when it
 * cannot be read. The caller frees d with definition_free. */
int definition_read(const char *path, struct definition *d, struct edge_err *err);
void definition_free(struct definition *d);

#endif
