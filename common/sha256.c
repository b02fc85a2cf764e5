#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci.h"
#include "fsutil.h"

int sha256_init(struct sha256 *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	h->md = c;
	if (c == NULL)
		return -1;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		h->md = NULL;
		return -1;
	}
	return 0;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (len > 0)
		EVP_DigestUpdate((EVP_MD_CTX *)h->md, data, len);
}

void sha256_final(struct sha256 *h, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_DigestFinal_ex((EVP_MD_CTX *)h->md, out, &n);
	EVP_MD_CTX_free((EVP_MD_CTX *)h->md);
	h->md = NULL;
}

void sha256_discard(struct sha256 *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h->md);
	h->md = NULL;
}

void sha256_hex(const unsigned char d[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
}

void sha256_digest_format(char out[72], const unsigned char md[32])
{
	memcpy(out, "sha256:", 7);
	sha256_hex(md, out + 7);
}

void sha256_digest_buf(const void *data, size_t len, char out[72])
{
	unsigned char d[32];
	unsigned int n = 32;

	EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
	sha256_digest_format(out, d);
}

int sha256_digest_file(const char *path, char out[72], uint64_t *size, struct edge_err *err)
{
	static const size_t bufsize = 1 << 20;
	struct sha256 h;
	unsigned char d[32];
	uint64_t total = 0;
	char *buf;
	int fd;

	if ((fd = open_input(path, NULL, err)) < 0)
		return -1;
	if (sha256_init(&h) != 0) {
		close(fd);
		return edge_errf(err, EDGE_EIO, "sha256: out of memory");
	}
	buf = malloc(bufsize);
	if (buf == NULL) {
		sha256_discard(&h);
		close(fd);
		return edge_errf(err, EDGE_EIO, "sha256: out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, buf, bufsize);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			edge_err_errno(err, "read %s", path);
			sha256_discard(&h);
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		sha256_update(&h, buf, (size_t)r);
		total += (uint64_t)r;
	}
	free(buf);
	close(fd);
	sha256_final(&h, d);
	sha256_digest_format(out, d);
	if (size)
		*size = total;
	return 0;
}

int sha256_digest_valid(const char *s)
{
	return oci_digest_valid(s);
}
