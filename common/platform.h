/* Platforms "os/arch[/variant]" as in OCI image indexes, normalised the way
 * containerd does (x86_64 → amd64, aarch64 → arm64, arm64 variant v8 implied). */
#ifndef EDGE_PLATFORM_H
#define EDGE_PLATFORM_H

#include <stddef.h>
#include "err.h"

struct platform {
	char os[32];
	char arch[32];
	char variant[32]; /* "" when none */
};

/* Parses and normalises; EDGE_EINPUT with a message naming s on error. */
int platform_parse(const char *s, struct platform *p, struct edge_err *err);
/* "os/arch[/variant]" into buf (at least 100 bytes). */
void platform_format(const struct platform *p, char *buf, size_t len);
/* Does an index entry (os, arch, variant as found in the descriptor; variant
 * may be NULL) satisfy the wanted platform? A wanted platform without a
 * variant matches any variant; arm64 without a variant equals arm64/v8. */
int platform_match(const struct platform *want, const char *os, const char *arch,
		   const char *variant);

/* Adds the platforms of a comma-separated list ("linux/amd64, linux/arm64")
 * to *v (realloc'd), normalised, skipping ones already there. */
int platform_list_add(struct platform **v, size_t *n, const char *list, struct edge_err *err);

#endif
