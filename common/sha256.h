/* Streaming SHA-256 through OpenSSL EVP (faster than libsodium here). */
#ifndef EDGE_SHA256_H
#define EDGE_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct sha256 {
	void *md; /* EVP_MD_CTX * */
};

/* Returns 0, or -1 only on allocation failure inside OpenSSL. */
int sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes 32 bytes to out and frees the context. */
void sha256_final(struct sha256 *h, unsigned char out[32]);
/* Frees a context that will not be finalised. */
void sha256_discard(struct sha256 *h);
/* Lower-case hex of a 32-byte digest into hex[65]. */
void sha256_hex(const unsigned char d[32], char hex[65]);
/* "sha256:" and the lower-case hex of a 32-byte digest into out[72]: the
 * one place that writes an OCI digest. */
void sha256_digest_format(char out[72], const unsigned char md[32]);
/* "sha256:<hex>" of a buffer into out[72]. */
void sha256_digest_buf(const void *data, size_t len, char out[72]);
/* Hashes a file: "sha256:<hex>" into out[72] and its size. */
int sha256_digest_file(const char *path, char out[72], uint64_t *size, struct edge_err *err);
/* Is s (may be NULL) "sha256:" followed by 64 lower-case hex digits?
 * The same check as oci_digest_valid, kept for the callers of this module. */
int sha256_digest_valid(const char *s);

#endif
