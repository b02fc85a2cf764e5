#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "fsutil.h"
#include "ring.h"
#include "log.h"
#include "sha256.h"

/* minisign's byte layouts (minisign.h): offsets into the decoded blobs */
#define MS_PK_BYTES 42   /* "Ed" keynum[8] pk[32] */
#define MS_PK_KEYNUM 2
#define MS_PK_PK 10
#define MS_SK_BYTES 158  /* "Ed" kdf[2] "B2" salt[32] ops[8] mem[8] keynum[8] sk[64] chk[32] */
#define MS_SK_KDF 2
#define MS_SK_CHKALG 4
#define MS_SK_SALT 6
#define MS_SK_OPS 38
#define MS_SK_MEM 46
#define MS_SK_KEYNUM 54  /* from here to the end is what scrypt's stream covers */
#define MS_SK_SK 62
#define MS_SK_CHK 126
#define MS_SIG_BYTES 74  /* "ED" keynum[8] sig[64] */
#define MS_SIG_KEYNUM 2
#define MS_SIG_SIG 10
#define MS_KEYNUM_BYTES 8

#define MS_COMMENT_PREFIX "untrusted comment: "
#define MS_TRUSTED_PREFIX "trusted comment: "
#define MS_TRUSTED_MAX 8192 /* minisign's TRUSTEDCOMMENTMAXBYTES */
/* crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_SENSITIVE, as minisign -G */
#define MS_OPSLIMIT 33554432ull
#define MS_MEMLIMIT 1073741824ull
/* a key file cannot make us spend more than this on scrypt */
#define MS_OPSLIMIT_MAX (1ull << 33)
#define MS_MEMLIMIT_MAX (1ull << 31)

#define KEYFILE_MAX 65536
#define SIGFILE_MAX (MS_TRUSTED_MAX + 4096)
#define RSA_MIN_BITS 2048
#define HASH_BLOCK (1u << 20)
#define HASH_SLOTS 4

static int sodium_ready(struct edge_err *err)
{
	if (sodium_init() < 0)
		return edge_errf(err, EDGE_EIO, "libsodium: initialisation failed");
	return 0;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* minisign prints a key id as the 8 bytes read as a little-endian u64, in
 * hex without leading zeros. */
static void keyid_hex(const unsigned char keynum[MS_KEYNUM_BYTES], char out[17])
{
	snprintf(out, 17, "%" PRIX64, le64(keynum));
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* =====================================================================
 * BLAKE2b-512 (RFC 7693), from OpenSSL: measured on a 2 GiB file it runs in
 * about 0.6x libsodium's time on x86-64, and a signature tool's hashing
 * belongs in a crypto library rather than in our own compression function.
 * ===================================================================== */

struct b2 {
	EVP_MD_CTX *ctx; /* NULL until b2_init */
};

/* Out of memory is the only way these can fail with a built-in digest. */
static void b2_init(struct b2 *s)
{
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL || EVP_DigestInit_ex(s->ctx, EVP_blake2b512(), NULL) != 1)
		edge_oom();
}

static void b2_update(struct b2 *s, const unsigned char *in, size_t n)
{
	if (EVP_DigestUpdate(s->ctx, in, n) != 1)
		edge_oom();
}

static void b2_final(struct b2 *s, unsigned char out[64])
{
	unsigned int len = 64;

	if (EVP_DigestFinal_ex(s->ctx, out, &len) != 1)
		edge_oom();
}

static void b2_free(struct b2 *s)
{
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

/* =====================================================================
 * Reading a file once for its hashes. A reader thread fills 1 MiB slots
 * (and hashes SHA-256 when both hashes are wanted); the calling thread
 * hashes what is left. Memory: HASH_SLOTS MiB whatever the file size.
 * ===================================================================== */

/* A slot of the ring: a buffer and how much of it was read. */
struct hash_slot {
	unsigned char *buf;
	size_t len;
};

struct hash_pipe {
	struct ring *ring;           /* of HASH_SLOTS struct hash_slot */
	unsigned char *buf[HASH_SLOTS];
	int error;                   /* an errno from read (the reader's until joined) */
	int fd;
	struct sha256 *sha;          /* the reader hashes into it when not NULL */
};

static ssize_t read_full(int fd, unsigned char *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = read(fd, buf + n, len - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

/* Fills the slots in order and closes the ring after a short read (the
 * end); a read error aborts it. */
static void *hash_reader(void *arg)
{
	struct hash_pipe *p = arg;
	struct hash_slot *slot;

	while ((slot = ring_put_begin(p->ring)) != NULL) {
		ssize_t n = read_full(p->fd, slot->buf, HASH_BLOCK);

		if (n < 0) {
			p->error = errno ? errno : EIO;
			ring_abort(p->ring, NULL);
			return NULL;
		}
		if (n > 0 && p->sha != NULL)
			sha256_update(p->sha, slot->buf, (size_t)n);
		slot->len = (size_t)n;
		ring_put_commit(p->ring);
		if ((size_t)n < HASH_BLOCK)
			break;
	}
	ring_close(p->ring);
	return NULL;
}

static _Thread_local progress_fn hash_progress;
static _Thread_local void *hash_progress_ctx;

void sig_set_progress(progress_fn fn, void *ctx)
{
	hash_progress = fn;
	hash_progress_ctx = ctx;
}

/* Opens path for hashing: a regular file, read sequentially. */
static int open_regular(const char *path, uint64_t *size, struct edge_err *err)
{
	struct stat st;
	int fd = open_input(path, &st, err);

	if (fd < 0) {
		if (err != NULL && err->code == EDGE_EIO)
			edge_err_errno(err, "%s", path);
		return -1;
	}
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd;
}

int sig_hash_file(const char *path, unsigned flags, unsigned char b2[64], unsigned char sha[32],
		  uint64_t *size, struct edge_err *err)
{
	struct hash_pipe p;
	struct sha256 sh = {0};
	struct b2 bs = {0};
	struct progress prog;
	pthread_t th;
	uint64_t total = 0, fsize = 0;
	int want_b2 = (flags & SIG_HASH_BLAKE2B) != 0, want_sha = (flags & SIG_HASH_SHA256) != 0;
	int rc = -1, i;

	memset(&p, 0, sizeof(p));
	p.fd = -1;
	if (!want_b2 && !want_sha)
		return edge_errf(err, EDGE_EIO, "%s: no hash asked for", path);
	if ((p.fd = open_regular(path, &fsize, err)) < 0)
		return -1;
	progress_init(&prog, hash_progress, hash_progress_ctx, "files", "read");
	progress_add_total(&prog, 1, fsize);
	if (want_sha && sha256_init(&sh) != 0) {
		edge_errf(err, EDGE_EIO, "%s: sha256: out of memory", path);
		goto out;
	}
	if (want_b2)
		b2_init(&bs);
	/* with both hashes the reader takes SHA-256, the cheaper one */
	p.sha = want_b2 && want_sha ? &sh : NULL;
	for (i = 0; i < HASH_SLOTS; i++)
		p.buf[i] = xmalloc(HASH_BLOCK);
	if ((p.ring = ring_new(HASH_SLOTS, sizeof(struct hash_slot), 1, NULL, NULL)) == NULL)
		goto nothread;
	for (i = 0; i < HASH_SLOTS; i++)
		((struct hash_slot *)ring_slot(p.ring, (size_t)i))->buf = p.buf[i];
	if (pthread_create(&th, NULL, hash_reader, &p) != 0)
		goto nothread;
	/* from here every path joins the thread before leaving the loop */

	for (;;) {
		struct hash_slot *slot = ring_get(p.ring, 0);

		if (slot == NULL)
			break;
		if (want_b2)
			b2_update(&bs, slot->buf, slot->len);
		else
			sha256_update(&sh, slot->buf, slot->len);
		total += slot->len;
		progress_bytes(&prog, slot->len);
		ring_release(p.ring, 0, slot);
	}
	/* the reader may still wait for a slot */
	ring_abort(p.ring, NULL);
	pthread_join(th, NULL);
	if (p.error) {
		errno = p.error;
		edge_err_errno(err, "read %s", path);
		goto out;
	}
	goto done;

nothread:
	/* no thread: the same work, one block after the other */
	for (;;) {
		ssize_t n = read_full(p.fd, p.buf[0], HASH_BLOCK);
		if (n < 0) {
			edge_err_errno(err, "read %s", path);
			goto out;
		}
		if (want_b2)
			b2_update(&bs, p.buf[0], (size_t)n);
		if (want_sha)
			sha256_update(&sh, p.buf[0], (size_t)n);
		total += (uint64_t)n;
		progress_bytes(&prog, (uint64_t)n);
		if ((size_t)n < HASH_BLOCK)
			break;
	}
done:
	if (want_b2)
		b2_final(&bs, b2);
	if (want_sha)
		sha256_final(&sh, sha);
	if (size != NULL)
		*size = total;
	progress_item(&prog, 0);
	progress_end(&prog, total);
	rc = 0;
out:
	progress_fini(&prog);
	ring_free(p.ring);
	if (rc != 0 && sh.md != NULL)
		sha256_discard(&sh);
	b2_free(&bs);
	for (i = 0; i < HASH_SLOTS; i++)
		free(p.buf[i]);
	close(p.fd);
	return rc;
}

/* =====================================================================
 * Small files: keys and signatures.
 * ===================================================================== */

/* Reads a small file into buf (cap bytes, NUL-terminated: at most cap-1
 * bytes of content). A file that cannot be opened or read has the error
 * class code (that of this kind of file); one that is not a regular file,
 * or too large, is invalid input whatever its kind. */
static int read_small(const char *path, int code, unsigned char *buf, size_t cap, size_t *len,
		      mode_t *mode, struct edge_err *err)
{
	struct stat st;
	ssize_t n;
	int fd = open_input(path, &st, err);

	if (fd < 0) {
		if (err != NULL && err->code == EDGE_EIO) {
			edge_err_errno(err, "%s", path);
			err->code = code;
		}
		return -1;
	}
	if ((uint64_t)st.st_size > cap - 1) {
		close(fd);
		return edge_errf(err, EDGE_EINPUT, "%s: too large (%lld bytes) for a key or signature file", path,
				 (long long)st.st_size);
	}
	n = read_full(fd, buf, cap - 1);
	close(fd);
	if (n < 0) {
		edge_err_errno(err, "read %s", path);
		if (err != NULL)
			err->code = code;
		return -1;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	if (mode != NULL)
		*mode = st.st_mode;
	return 0;
}

/* The next line of text at *p: returned NUL-terminated (the newline and a
 * CR before it removed, nothing else: trusted comments are signed as they
 * are), *p moved past it. NULL at the end of the text. */
static char *next_line(char **p)
{
	char *s = *p, *nl;
	size_t n;

	if (s == NULL || *s == '\0')
		return NULL;
	nl = strchr(s, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = s + strlen(s);
	}
	n = strlen(s);
	while (n > 0 && s[n - 1] == '\r')
		s[--n] = '\0';
	return s;
}

/* Decodes base64 text (surrounding blanks ignored) of exactly want bytes. */
static int b64_exact(const char *text, unsigned char *out, size_t want)
{
	size_t len = strlen(text), got = 0;
	const char *end = NULL;

	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	if (sodium_base642bin(out, want, text, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	return got == want && end == text + len ? 0 : -1;
}

static char *b64_encode(const unsigned char *bin, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = xmalloc(cap);

	sodium_bin2base64(s, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

enum key_kind {
	KEY_UNKNOWN,
	KEY_MS_PUBLIC,
	KEY_MS_SECRET,
	KEY_MS_BAD,      /* starts like a minisign key but is not one */
	KEY_PEM_PUBLIC,
	KEY_PEM_PRIVATE,
	KEY_PEM_OTHER,   /* a certificate, parameters… */
};

static const char *kind_name(enum key_kind k)
{
	switch (k) {
	case KEY_MS_PUBLIC: return "a minisign public key";
	case KEY_MS_SECRET: return "a minisign secret key";
	case KEY_PEM_PUBLIC: return "a PEM public key";
	case KEY_PEM_PRIVATE: return "a PEM private key";
	default: return "not a key";
	}
}

/* What a key file holds, judged from its text; for minisign keys, blob
 * receives the decoded second line (MS_SK_BYTES room). */
static enum key_kind classify_key(const unsigned char *data, size_t len, unsigned char *blob)
{
	const char *text = (const char *)data, *b;
	char line[512];
	size_t n;

	if (len >= strlen("untrusted comment:") && strncmp(text, "untrusted comment:", 18) == 0) {
		b = strchr(text, '\n');
		if (b == NULL)
			return KEY_MS_BAD;
		b++;
		n = strcspn(b, "\n");
		if (n >= sizeof(line))
			return KEY_MS_BAD;
		memcpy(line, b, n);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (b64_exact(line, blob, MS_PK_BYTES) == 0)
			n = MS_PK_BYTES;
		else if (b64_exact(line, blob, MS_SK_BYTES) == 0)
			n = MS_SK_BYTES;
		else
			n = 0;
		sodium_memzero(line, sizeof(line));
		if (n == 0 || memcmp(blob, "Ed", 2) != 0)
			return KEY_MS_BAD;
		return n == MS_PK_BYTES ? KEY_MS_PUBLIC : KEY_MS_SECRET;
	}
	b = strstr(text, "-----BEGIN ");
	if (b == NULL)
		return KEY_UNKNOWN;
	b += strlen("-----BEGIN ");
	if (strncmp(b, "PUBLIC KEY-----", 15) == 0 || strncmp(b, "RSA PUBLIC KEY-----", 19) == 0)
		return KEY_PEM_PUBLIC;
	if (strncmp(b, "PRIVATE KEY-----", 16) == 0 || strncmp(b, "ENCRYPTED PRIVATE KEY-----", 26) == 0 ||
	    strstr(b, " PRIVATE KEY-----") != NULL)
		return KEY_PEM_PRIVATE;
	return KEY_PEM_OTHER;
}

/* The OpenSSL reason of the last error, for messages. Clears the queue. */
static const char *ossl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, len, "%s", r ? r : "unknown error");
	ERR_clear_error();
	return buf;
}

/* Checks that an EVP_PKEY is an RSA key we are willing to use. */
static int check_rsa(EVP_PKEY *pkey, const char *path, struct edge_err *err)
{
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		const char *t = EVP_PKEY_get0_type_name(pkey);
		return edge_errf(err, EDGE_EINPUT, "%s: the key type is %s: only RSA PEM keys (and minisign keys) are supported",
				 path, t ? t : "not RSA");
	}
	if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
		return edge_errf(err, EDGE_EINPUT, "%s: a %d-bit RSA key is too weak (at least %d bits)", path,
				 EVP_PKEY_get_bits(pkey), RSA_MIN_BITS);
	return 0;
}

static EVP_PKEY *load_rsa_public(const char *path, const unsigned char *data, size_t len, struct edge_err *err)
{
	EVP_PKEY *pkey = NULL;
	OSSL_DECODER_CTX *dctx;
	const unsigned char *p = data;
	size_t left = len;
	char why[256];

	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	if (dctx == NULL || OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL) {
		OSSL_DECODER_CTX_free(dctx);
		EVP_PKEY_free(pkey);
		edge_errf(err, EDGE_EINPUT, "%s: not a valid PEM RSA public key (%s)", path, ossl_reason(why, sizeof(why)));
		return NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	ERR_clear_error();
	if (check_rsa(pkey, path, err) != 0) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/* =====================================================================
 * Signing keys.
 * ===================================================================== */

struct sig_key {
	char *path;
	int rsa;
	char key_id[17];
	unsigned char *ms; /* sodium_malloc'd: keynum[8] sk[64] */
	EVP_PKEY *pkey;
};

struct pw_state {
	sig_password_fn fn;
	void *ctx;
	const char *path;
	struct edge_err *err;
	char *pw;   /* sodium_malloc'd once fetched */
	int failed; /* fn failed (err set) */
};

static const char *pw_get(struct pw_state *ps)
{
	if (ps->pw != NULL)
		return ps->pw;
	if (ps->failed)
		return NULL;
	if (ps->fn == NULL) {
		ps->failed = 1;
		edge_errf(ps->err, EDGE_EAUTH, "%s: the key is encrypted and no password was given", ps->path);
		return NULL;
	}
	if ((ps->pw = sodium_malloc(SIG_PASSWORD_MAX)) == NULL) {
		ps->failed = 1;
		edge_errf(ps->err, EDGE_EIO, "%s: out of memory for the password", ps->path);
		return NULL;
	}
	ps->pw[0] = '\0';
	if (ps->fn(ps->ctx, ps->path, ps->pw, SIG_PASSWORD_MAX, ps->err) != 0) {
		sodium_free(ps->pw);
		ps->pw = NULL;
		ps->failed = 1;
		return NULL;
	}
	ps->pw[SIG_PASSWORD_MAX - 1] = '\0';
	return ps->pw;
}

static void pw_done(struct pw_state *ps)
{
	if (ps->pw != NULL)
		sodium_free(ps->pw); /* sodium_free wipes */
	ps->pw = NULL;
}

static int key_password_cb(char *buf, int size, int rwflag, void *u)
{
	struct pw_state *ps = u;
	const char *pw = pw_get(ps);
	size_t n;

	(void)rwflag;
	if (pw == NULL || size <= 0)
		return -1;
	n = strlen(pw);
	if (n > (size_t)size)
		n = (size_t)size;
	memcpy(buf, pw, n);
	return (int)n;
}

/* BLAKE2b-256("Ed" | keynum | sk): minisign's secret key checksum. */
static void ms_checksum(const unsigned char *skb, unsigned char out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, skb, 2);
	crypto_generichash_update(&st, skb + MS_SK_KEYNUM, MS_KEYNUM_BYTES);
	crypto_generichash_update(&st, skb + MS_SK_SK, crypto_sign_SECRETKEYBYTES);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

static int load_ms_secret(struct sig_key *k, unsigned char *skb, struct pw_state *ps, struct edge_err *err)
{
	static const unsigned char zero[32];
	unsigned char chk[32], *stream = NULL, *pk = NULL, *sk2 = NULL;
	int rc = -1, encrypted;

	if (memcmp(skb + MS_SK_CHKALG, "B2", 2) != 0)
		return edge_errf(err, EDGE_EINPUT, "%s: unsupported checksum algorithm in the secret key", k->path);
	if (memcmp(skb + MS_SK_KDF, "Sc", 2) == 0)
		encrypted = 1;
	else if (skb[MS_SK_KDF] == 0 && skb[MS_SK_KDF + 1] == 0)
		encrypted = 0;
	else
		return edge_errf(err, EDGE_EINPUT, "%s: unsupported key derivation function in the secret key", k->path);

	if (encrypted) {
		uint64_t ops = le64(skb + MS_SK_OPS), mem = le64(skb + MS_SK_MEM);
		const char *pw;
		size_t i;

		if (ops > MS_OPSLIMIT_MAX || mem > MS_MEMLIMIT_MAX)
			return edge_errf(err, EDGE_EINPUT,
					 "%s: scrypt limits too large (opslimit %" PRIu64 ", memlimit %" PRIu64 ")",
					 k->path, ops, mem);
		if ((pw = pw_get(ps)) == NULL)
			return -1;
		if ((stream = sodium_malloc(MS_SK_BYTES - MS_SK_KEYNUM)) == NULL)
			return edge_errf(err, EDGE_EIO, "%s: out of memory", k->path);
		if (crypto_pwhash_scryptsalsa208sha256(stream, MS_SK_BYTES - MS_SK_KEYNUM, pw, strlen(pw),
						       skb + MS_SK_SALT, ops, (size_t)mem) != 0) {
			edge_errf(err, EDGE_EIO, "%s: scrypt failed (out of memory?)", k->path);
			goto out;
		}
		for (i = 0; i < MS_SK_BYTES - MS_SK_KEYNUM; i++)
			skb[MS_SK_KEYNUM + i] ^= stream[i];
		ms_checksum(skb, chk);
		if (sodium_memcmp(chk, skb + MS_SK_CHK, sizeof(chk)) != 0) {
			edge_errf(err, EDGE_EAUTH, "%s: wrong password", k->path);
			goto out;
		}
	} else {
		/* minisign 0.11 -W leaves the checksum zero; ours carry a real one */
		ms_checksum(skb, chk);
		if (sodium_memcmp(chk, skb + MS_SK_CHK, sizeof(chk)) != 0 &&
		    memcmp(skb + MS_SK_CHK, zero, sizeof(zero)) != 0) {
			edge_errf(err, EDGE_EINPUT, "%s: corrupt secret key (checksum mismatch)", k->path);
			goto out;
		}
	}
	/* the secret key embeds its public half: they must belong together */
	pk = sodium_malloc(crypto_sign_PUBLICKEYBYTES);
	sk2 = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (pk == NULL || sk2 == NULL) {
		edge_errf(err, EDGE_EIO, "%s: out of memory", k->path);
		goto out;
	}
	crypto_sign_seed_keypair(pk, sk2, skb + MS_SK_SK);
	if (sodium_memcmp(sk2, skb + MS_SK_SK, crypto_sign_SECRETKEYBYTES) != 0) {
		edge_errf(err, EDGE_EINPUT, "%s: corrupt secret key (its public half does not match)", k->path);
		goto out;
	}
	if ((k->ms = sodium_malloc(MS_KEYNUM_BYTES + crypto_sign_SECRETKEYBYTES)) == NULL) {
		edge_errf(err, EDGE_EIO, "%s: out of memory", k->path);
		goto out;
	}
	memcpy(k->ms, skb + MS_SK_KEYNUM, MS_KEYNUM_BYTES + crypto_sign_SECRETKEYBYTES);
	keyid_hex(k->ms, k->key_id);
	rc = 0;
out:
	sodium_memzero(chk, sizeof(chk));
	if (stream != NULL)
		sodium_free(stream);
	if (pk != NULL)
		sodium_free(pk);
	if (sk2 != NULL)
		sodium_free(sk2);
	return rc;
}

static int load_rsa_private(struct sig_key *k, const unsigned char *data, size_t len, struct pw_state *ps,
			    struct edge_err *err)
{
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	char why[256];

	if (bio == NULL)
		return edge_errf(err, EDGE_EIO, "%s: out of memory", k->path);
	k->pkey = PEM_read_bio_PrivateKey(bio, NULL, key_password_cb, ps);
	BIO_free(bio);
	if (k->pkey == NULL) {
		ossl_reason(why, sizeof(why));
		if (ps->failed)
			return -1; /* the password could not be had: err says why */
		if (ps->pw != NULL)
			return edge_errf(err, EDGE_EAUTH, "%s: wrong password", k->path);
		return edge_errf(err, EDGE_EINPUT, "%s: not a valid PEM private key (%s)", k->path, why);
	}
	ERR_clear_error();
	if (check_rsa(k->pkey, k->path, err) != 0)
		return -1;
	k->rsa = 1;
	return 0;
}

struct sig_key *sig_key_load(const char *path, sig_password_fn password, void *ctx, struct edge_err *err)
{
	struct sig_key *k = xcalloc(1, sizeof(*k));
	struct pw_state ps;
	unsigned char *data = NULL, *blob = NULL;
	size_t len = 0;
	enum key_kind kind;
	mode_t mode = 0;
	int rc = -1;

	memset(&ps, 0, sizeof(ps));
	ps.fn = password;
	ps.ctx = ctx;
	ps.path = path;
	ps.err = err;
	k->path = xstrdup(path);
	if (sodium_ready(err) != 0)
		goto out;
	data = sodium_malloc(KEYFILE_MAX);
	blob = sodium_malloc(MS_SK_BYTES);
	if (data == NULL || blob == NULL) {
		edge_errf(err, EDGE_EIO, "%s: out of memory", path);
		goto out;
	}
	if (read_small(path, EDGE_EINPUT, data, KEYFILE_MAX, &len, &mode, err) != 0)
		goto out;
	kind = classify_key(data, len, blob);
	/* as ssh does: a secret others may read is no longer only ours (checked
	 * before any password is asked for) */
	if ((kind == KEY_MS_SECRET || kind == KEY_PEM_PRIVATE) && (mode & 077) != 0) {
		edge_errf(err, EDGE_EINPUT, "%s: secret key is accessible by others (mode %04o): run chmod 600 %s", path,
			  (unsigned)(mode & 07777), path);
		goto out;
	}
	switch (kind) {
	case KEY_MS_SECRET:
		rc = load_ms_secret(k, blob, &ps, err);
		break;
	case KEY_PEM_PRIVATE:
		rc = load_rsa_private(k, data, len, &ps, err);
		break;
	case KEY_MS_PUBLIC:
	case KEY_PEM_PUBLIC:
		edge_errf(err, EDGE_EINPUT, "%s: %s, expected a secret key", path, kind_name(kind));
		break;
	case KEY_MS_BAD:
		edge_errf(err, EDGE_EINPUT, "%s: not a valid minisign key (bad base64 or length on line 2)", path);
		break;
	default:
		edge_errf(err, EDGE_EINPUT, "%s: not a minisign secret key or a PEM private key", path);
		break;
	}
out:
	pw_done(&ps);
	if (data != NULL)
		sodium_free(data);
	if (blob != NULL)
		sodium_free(blob);
	if (rc != 0) {
		sig_key_free(k);
		return NULL;
	}
	return k;
}

void sig_key_free(struct sig_key *k)
{
	if (k == NULL)
		return;
	if (k->ms != NULL)
		sodium_free(k->ms);
	EVP_PKEY_free(k->pkey);
	free(k->path);
	free(k);
}

const char *sig_key_algorithm(const struct sig_key *k)
{
	return k->rsa ? SIG_ALG_RSA : SIG_ALG_ED25519;
}

const char *sig_key_id(const struct sig_key *k)
{
	return k->key_id;
}

char *sig_sidecar_path(const struct sig_key *k, const char *file)
{
	return xasprintf("%s.%s", file, k->rsa ? "sig" : "minisig");
}

/* =====================================================================
 * Signing.
 * ===================================================================== */

static void fill_info(struct sig_info *info, const char *alg, const char *key_id, const char *sidecar,
		      const char *comment)
{
	if (info == NULL)
		return;
	snprintf(info->algorithm, sizeof(info->algorithm), "%s", alg ? alg : "");
	snprintf(info->key_id, sizeof(info->key_id), "%s", key_id ? key_id : "");
	snprintf(info->sidecar, sizeof(info->sidecar), "%s", sidecar ? sidecar : "");
	snprintf(info->trusted_comment, sizeof(info->trusted_comment), "%s", comment ? comment : "");
}

static int rsa_pkey_op(EVP_PKEY *pkey, int sign, unsigned char *sig, size_t *siglen, const unsigned char dgst[32])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = 0;

	if (ctx == NULL)
		return -1;
	if ((sign ? EVP_PKEY_sign_init(ctx) : EVP_PKEY_verify_init(ctx)) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1) {
		if (sign)
			ok = EVP_PKEY_sign(ctx, sig, siglen, dgst, 32) == 1;
		else
			ok = EVP_PKEY_verify(ctx, sig, *siglen, dgst, 32) == 1;
	}
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -1;
}

int sig_sign_file(const struct sig_key *k, const char *file, const char *extra_comment,
		  const char *expect_digest, char digest_out[72], struct sig_info *info,
		  struct edge_err *err)
{
	unsigned char b2[64], sha[32];
	char digest[72], *sidecar = NULL, *comment = NULL, *text = NULL;
	size_t text_len = 0;
	int rc = -1;

	if (extra_comment != NULL &&
	    (strlen(extra_comment) > SIG_COMMENT_MAX || strpbrk(extra_comment, "\r\n") != NULL))
		return edge_errf(err, EDGE_EINPUT, "trusted comment: at most %d bytes on one line", SIG_COMMENT_MAX);
	if (!k->rsa && strpbrk(base_name(file), "\r\n") != NULL)
		return edge_errf(err, EDGE_EINPUT, "%s: a file name with a line break cannot go in a trusted comment",
				 file);
	if (sig_hash_file(file, k->rsa ? SIG_HASH_SHA256 : SIG_HASH_BLAKE2B | SIG_HASH_SHA256, b2, sha, NULL,
			  err) != 0)
		return -1;
	sha256_digest_format(digest, sha);
	if (digest_out != NULL)
		memcpy(digest_out, digest, sizeof(digest));
	if (expect_digest != NULL && strcmp(expect_digest, digest) != 0)
		return edge_errf(err, EDGE_EVERIFY, "%s: the file is %s, the manifest says %s: not signed", file, digest,
				 expect_digest);
	sidecar = sig_sidecar_path(k, file);

	if (k->rsa) {
		size_t siglen = (size_t)EVP_PKEY_get_size(k->pkey);
		unsigned char *sig = xmalloc(siglen);
		if (rsa_pkey_op(k->pkey, 1, sig, &siglen, sha) != 0) {
			free(sig);
			edge_errf(err, EDGE_EIO, "%s: RSA signing failed", file);
			goto out;
		}
		text = (char *)sig;
		text_len = siglen;
	} else {
		unsigned char sigblob[MS_SIG_BYTES], global[crypto_sign_BYTES], *msg;
		char *b64sig, *b64global;
		size_t clen;

		memcpy(sigblob, "ED", 2);
		memcpy(sigblob + MS_SIG_KEYNUM, k->ms, MS_KEYNUM_BYTES);
		crypto_sign_detached(sigblob + MS_SIG_SIG, NULL, b2, sizeof(b2), k->ms + MS_KEYNUM_BYTES);
		comment = xasprintf("timestamp:%lld\tfile:%s\tsha256:%s\thashed%s%s", (long long)time(NULL),
				    base_name(file), digest + 7, extra_comment ? "\t" : "",
				    extra_comment ? extra_comment : "");
		clen = strlen(comment);
		msg = xmalloc(crypto_sign_BYTES + clen);
		memcpy(msg, sigblob + MS_SIG_SIG, crypto_sign_BYTES);
		memcpy(msg + crypto_sign_BYTES, comment, clen);
		crypto_sign_detached(global, NULL, msg, crypto_sign_BYTES + clen, k->ms + MS_KEYNUM_BYTES);
		free(msg);
		b64sig = b64_encode(sigblob, sizeof(sigblob));
		b64global = b64_encode(global, sizeof(global));
		text = xasprintf(MS_COMMENT_PREFIX "signature from edge-sign secret key\n%s\n" MS_TRUSTED_PREFIX
				 "%s\n%s\n", b64sig, comment, b64global);
		text_len = strlen(text);
		free(b64sig);
		free(b64global);
	}
	if (atomic_write_file(sidecar, text, text_len, 0644, err) != 0)
		goto out;
	fill_info(info, sig_key_algorithm(k), k->key_id, sidecar, comment);
	rc = 0;
out:
	free(text);
	free(comment);
	free(sidecar);
	return rc;
}

/* =====================================================================
 * Key generation.
 * ===================================================================== */

/* Puts a written temp file in place: rename with force, else link, which
 * fails when the name exists, so an existing key is never replaced. */
static int place_file(struct atomic_file *af, int force, struct edge_err *err)
{
	if (force)
		return atomic_commit(af, err);
	if (fsync(af->fd) != 0 || close(af->fd) != 0) {
		af->fd = -1;
		edge_err_errno(err, "write %s", af->path);
		atomic_abort(af);
		return -1;
	}
	af->fd = -1;
	if (link(af->tmp_path, af->path) != 0) {
		int e = errno;
		if (e == EEXIST) {
			edge_errf(err, EDGE_EIO, "%s: already exists (--force replaces it)", af->path);
		} else if (e == EPERM || e == EOPNOTSUPP || e == ENOSYS || e == EXDEV) {
			/* no hard links here: check, then rename */
			struct stat st;
			if (lstat(af->path, &st) == 0) {
				edge_errf(err, EDGE_EIO, "%s: already exists (--force replaces it)", af->path);
			} else if (rename(af->tmp_path, af->path) != 0) {
				edge_err_errno(err, "rename to %s", af->path);
			} else {
				free(af->tmp_path);
				af->tmp_path = NULL; /* nothing left to remove */
				atomic_abort(af);
				return 0;
			}
		} else {
			errno = e;
			edge_err_errno(err, "link %s", af->path);
		}
		atomic_abort(af);
		return -1;
	}
	atomic_abort(af); /* removes the temp name; the data stays under the final one */
	return 0;
}

static int write_temp(struct atomic_file *af, const char *path, mode_t mode, const char *text, struct edge_err *err)
{
	if (atomic_open(af, path, mode, err) != 0)
		return -1;
	if (write_all(af->fd, text, strlen(text)) != 0) {
		edge_err_errno(err, "write %s", path);
		atomic_abort(af);
		return -1;
	}
	return 0;
}

int sig_keygen(const char *seckey_path, const char *pubkey_path, const char *password, int force,
	       char key_id[17], struct edge_err *err)
{
	struct atomic_file sec_af = {.fd = -1, .slot = -1}, pub_af = {.fd = -1, .slot = -1};
	unsigned char *skb = NULL, *stream = NULL, pkb[MS_PK_BYTES];
	char *sec_b64 = NULL, *sec_text = NULL, *pub_b64 = NULL, *pub_text = NULL;
	struct stat st;
	int rc = -1, sec_open = 0, pub_open = 0;
	size_t i;

	if (sodium_ready(err) != 0)
		return -1;
	if (strcmp(seckey_path, pubkey_path) == 0)
		return edge_errf(err, EDGE_EINPUT, "%s: the secret and public keys cannot be the same file", seckey_path);
	if (!force) {
		if (lstat(seckey_path, &st) == 0)
			return edge_errf(err, EDGE_EIO, "%s: already exists (--force replaces it)", seckey_path);
		if (lstat(pubkey_path, &st) == 0)
			return edge_errf(err, EDGE_EIO, "%s: already exists (--force replaces it)", pubkey_path);
	}
	if ((skb = sodium_malloc(MS_SK_BYTES)) == NULL)
		return edge_errf(err, EDGE_EIO, "%s: out of memory", seckey_path);
	memset(skb, 0, MS_SK_BYTES);
	memcpy(skb, "Ed", 2);
	memcpy(skb + MS_SK_CHKALG, "B2", 2);
	randombytes_buf(skb + MS_SK_KEYNUM, MS_KEYNUM_BYTES);
	crypto_sign_keypair(pkb + MS_PK_PK, skb + MS_SK_SK);
	memcpy(pkb, "Ed", 2);
	memcpy(pkb + MS_PK_KEYNUM, skb + MS_SK_KEYNUM, MS_KEYNUM_BYTES);
	ms_checksum(skb, skb + MS_SK_CHK);
	keyid_hex(skb + MS_SK_KEYNUM, key_id);
	if (password != NULL) {
		memcpy(skb + MS_SK_KDF, "Sc", 2);
		randombytes_buf(skb + MS_SK_SALT, crypto_pwhash_scryptsalsa208sha256_SALTBYTES);
		put_le64(skb + MS_SK_OPS, MS_OPSLIMIT);
		put_le64(skb + MS_SK_MEM, MS_MEMLIMIT);
		if ((stream = sodium_malloc(MS_SK_BYTES - MS_SK_KEYNUM)) == NULL) {
			edge_errf(err, EDGE_EIO, "%s: out of memory", seckey_path);
			goto out;
		}
		if (crypto_pwhash_scryptsalsa208sha256(stream, MS_SK_BYTES - MS_SK_KEYNUM, password, strlen(password),
						       skb + MS_SK_SALT, MS_OPSLIMIT, (size_t)MS_MEMLIMIT) != 0) {
			edge_errf(err, EDGE_EIO, "%s: scrypt failed (out of memory?)", seckey_path);
			goto out;
		}
		for (i = 0; i < MS_SK_BYTES - MS_SK_KEYNUM; i++)
			skb[MS_SK_KEYNUM + i] ^= stream[i];
	}
	sec_b64 = b64_encode(skb, MS_SK_BYTES);
	sec_text = xasprintf(MS_COMMENT_PREFIX "edge-sign %ssecret key\n%s\n", password ? "encrypted " : "", sec_b64);
	pub_b64 = b64_encode(pkb, sizeof(pkb));
	pub_text = xasprintf(MS_COMMENT_PREFIX "minisign public key %s\n%s\n", key_id, pub_b64);

	if (write_temp(&sec_af, seckey_path, 0600, sec_text, err) != 0)
		goto out;
	sec_open = 1;
	if (write_temp(&pub_af, pubkey_path, 0644, pub_text, err) != 0)
		goto out;
	pub_open = 1;
	sec_open = 0;
	if (place_file(&sec_af, force, err) != 0)
		goto out;
	pub_open = 0;
	if (place_file(&pub_af, force, err) != 0) {
		unlink(seckey_path); /* no secret key without its public key */
		goto out;
	}
	rc = 0;
out:
	if (sec_open)
		atomic_abort(&sec_af);
	if (pub_open)
		atomic_abort(&pub_af);
	if (rc != 0)
		key_id[0] = '\0';
	if (sec_b64 != NULL)
		sodium_memzero(sec_b64, strlen(sec_b64));
	if (sec_text != NULL)
		sodium_memzero(sec_text, strlen(sec_text));
	free(sec_b64);
	free(sec_text);
	free(pub_b64);
	free(pub_text);
	if (stream != NULL)
		sodium_free(stream);
	sodium_free(skb);
	return rc;
}

/* =====================================================================
 * Verification.
 * ===================================================================== */

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

char *sig_find_sidecar(const char *file)
{
	char *p = xasprintf("%s.minisig", file);

	if (exists(p))
		return p;
	free(p);
	p = xasprintf("%s.sig", file);
	if (exists(p))
		return p;
	free(p);
	return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Verifies a raw-file ("Ed") signature: the file is mapped, not read into
 * memory, and must be at most SIG_LEGACY_MAX bytes. */
static int verify_legacy(const char *file, const unsigned char *sig, const unsigned char *pk, int *valid,
			 struct edge_err *err)
{
	uint64_t size = 0;
	void *map = NULL;
	int fd = open_regular(file, &size, err);

	if (fd < 0)
		return -1;
	if (size > SIG_LEGACY_MAX) {
		close(fd);
		return edge_errf(err, EDGE_EINPUT,
				 "%s: a legacy (not prehashed) signature covers at most 1 GiB, the file has %" PRIu64
				 " bytes", file, size);
	}
	if (size > 0) {
		map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			edge_err_errno(err, "read %s", file);
			close(fd);
			return -1;
		}
	}
	close(fd);
	*valid = crypto_sign_verify_detached(sig, size > 0 ? map : (const void *)"", size, pk) == 0;
	if (map != NULL)
		munmap(map, (size_t)size);
	return 0;
}

static int verify_minisign(const char *file, const char *sidecar, const char *keypath, const unsigned char *pkb,
			   struct sig_info *info, struct edge_err *err)
{
	unsigned char *data = xmalloc(SIGFILE_MAX), sigblob[MS_SIG_BYTES], global[crypto_sign_BYTES], b2[64];
	unsigned char *msg = NULL;
	char *p, *l1, *l2, *l3, *l4, sig_id[17], key_id[17];
	const unsigned char *pk = pkb + MS_PK_PK;
	size_t len, clen;
	int rc = -1, valid = 0, hashed;

	keyid_hex(pkb + MS_PK_KEYNUM, key_id);
	fill_info(info, SIG_ALG_ED25519, key_id, sidecar, NULL);
	if (read_small(sidecar, EDGE_EIO, data, SIGFILE_MAX, &len, NULL, err) != 0)
		goto out;
	if (memchr(data, '\0', len) != NULL) {
		edge_errf(err, EDGE_EINPUT, "%s: not a minisign signature (binary data)", sidecar);
		goto out;
	}
	p = (char *)data;
	l1 = next_line(&p);
	l2 = next_line(&p);
	l3 = next_line(&p);
	l4 = next_line(&p);
	if (l1 == NULL || strncmp(l1, MS_COMMENT_PREFIX, strlen(MS_COMMENT_PREFIX)) != 0) {
		edge_errf(err, EDGE_EINPUT, "%s: not a minisign signature (line 1 is not an untrusted comment)", sidecar);
		goto out;
	}
	if (l2 == NULL || b64_exact(l2, sigblob, sizeof(sigblob)) != 0) {
		edge_errf(err, EDGE_EINPUT, "%s: malformed signature (bad base64 or length on line 2)", sidecar);
		goto out;
	}
	if (l3 == NULL || strncmp(l3, MS_TRUSTED_PREFIX, strlen(MS_TRUSTED_PREFIX)) != 0) {
		edge_errf(err, EDGE_EINPUT, "%s: malformed signature (line 3 is not a trusted comment)", sidecar);
		goto out;
	}
	l3 += strlen(MS_TRUSTED_PREFIX);
	if (strlen(l3) >= MS_TRUSTED_MAX) {
		edge_errf(err, EDGE_EINPUT, "%s: malformed signature (trusted comment over %d bytes)", sidecar,
			  MS_TRUSTED_MAX);
		goto out;
	}
	if (l4 == NULL || b64_exact(l4, global, sizeof(global)) != 0) {
		edge_errf(err, EDGE_EINPUT, "%s: malformed signature (bad base64 or length on line 4)", sidecar);
		goto out;
	}
	if (memcmp(sigblob, "ED", 2) == 0) {
		hashed = 1;
	} else if (memcmp(sigblob, "Ed", 2) == 0) {
		hashed = 0;
	} else {
		edge_errf(err, EDGE_EINPUT, "%s: unsupported signature algorithm '%c%c'", sidecar,
			  sigblob[0] >= 0x20 && sigblob[0] < 0x7f ? sigblob[0] : '?',
			  sigblob[1] >= 0x20 && sigblob[1] < 0x7f ? sigblob[1] : '?');
		goto out;
	}
	if (info != NULL)
		snprintf(info->trusted_comment, sizeof(info->trusted_comment), "%s", l3);
	keyid_hex(sigblob + MS_SIG_KEYNUM, sig_id);
	if (memcmp(sigblob + MS_SIG_KEYNUM, pkb + MS_PK_KEYNUM, MS_KEYNUM_BYTES) != 0) {
		edge_errf(err, EDGE_EVERIFY, "%s: signed by key ID %s, not by key ID %s", file, sig_id, key_id);
		goto out;
	}
	if (hashed) {
		if (sig_hash_file(file, SIG_HASH_BLAKE2B, b2, NULL, NULL, err) != 0)
			goto out;
		valid = crypto_sign_verify_detached(sigblob + MS_SIG_SIG, b2, sizeof(b2), pk) == 0;
	} else if (verify_legacy(file, sigblob + MS_SIG_SIG, pk, &valid, err) != 0) {
		goto out;
	}
	if (!valid) {
		edge_errf(err, EDGE_EVERIFY, "%s: signature does not verify with %s", file, keypath);
		goto out;
	}
	clen = strlen(l3);
	msg = xmalloc(crypto_sign_BYTES + clen);
	memcpy(msg, sigblob + MS_SIG_SIG, crypto_sign_BYTES);
	memcpy(msg + crypto_sign_BYTES, l3, clen);
	if (crypto_sign_verify_detached(global, msg, crypto_sign_BYTES + clen, pk) != 0) {
		edge_errf(err, EDGE_EVERIFY, "%s: signature does not verify with %s (the trusted comment was altered)",
			  file, keypath);
		goto out;
	}
	rc = 0;
out:
	free(msg);
	free(data);
	return rc;
}

static int verify_rsa(const char *file, const char *sidecar, const char *keypath, EVP_PKEY *pkey,
		      struct sig_info *info, struct edge_err *err)
{
	size_t want = (size_t)EVP_PKEY_get_size(pkey), len = 0;
	unsigned char *sig = xmalloc(KEYFILE_MAX), sha[32];
	int rc = -1;

	fill_info(info, SIG_ALG_RSA, "", sidecar, NULL);
	if (read_small(sidecar, EDGE_EIO, sig, KEYFILE_MAX, &len, NULL, err) != 0)
		goto out;
	if (len != want) {
		edge_errf(err, EDGE_EVERIFY,
			  "%s: signature does not verify with %s (%s has %zu bytes, the %d-bit key signs %zu)", file,
			  keypath, sidecar, len, EVP_PKEY_get_bits(pkey), want);
		goto out;
	}
	if (sig_hash_file(file, SIG_HASH_SHA256, NULL, sha, NULL, err) != 0)
		goto out;
	if (rsa_pkey_op(pkey, 0, sig, &len, sha) != 0) {
		edge_errf(err, EDGE_EVERIFY, "%s: signature does not verify with %s", file, keypath);
		goto out;
	}
	rc = 0;
out:
	free(sig);
	return rc;
}

int sig_verify_file(const char *file, const char *pubkey_path, struct sig_info *info, struct edge_err *err)
{
	unsigned char *data = xmalloc(KEYFILE_MAX), blob[MS_SK_BYTES];
	char *sidecar = NULL, *pref;
	EVP_PKEY *pkey = NULL;
	enum key_kind kind;
	size_t len;
	int rc = -1, rsa;

	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (sodium_ready(err) != 0)
		goto out;
	if (read_small(pubkey_path, EDGE_EINPUT, data, KEYFILE_MAX, &len, NULL, err) != 0)
		goto out;
	kind = classify_key(data, len, blob);
	switch (kind) {
	case KEY_MS_PUBLIC:
		rsa = 0;
		break;
	case KEY_PEM_PUBLIC:
		rsa = 1;
		if ((pkey = load_rsa_public(pubkey_path, data, len, err)) == NULL)
			goto out;
		break;
	case KEY_MS_SECRET:
	case KEY_PEM_PRIVATE:
		edge_errf(err, EDGE_EINPUT, "%s: %s, expected a public key", pubkey_path, kind_name(kind));
		goto out;
	case KEY_MS_BAD:
		edge_errf(err, EDGE_EINPUT, "%s: not a valid minisign public key (bad base64 or length on line 2)",
			  pubkey_path);
		goto out;
	default:
		edge_errf(err, EDGE_EINPUT, "%s: not a minisign public key or a PEM RSA public key", pubkey_path);
		goto out;
	}

	/* the sidecar that fits the key when there are both, else the first */
	pref = xasprintf("%s.%s", file, rsa ? "sig" : "minisig");
	if (exists(pref)) {
		sidecar = pref;
	} else {
		free(pref);
		sidecar = sig_find_sidecar(file);
	}
	if (sidecar == NULL) {
		if (!exists(file))
			edge_err_errno(err, "%s", file);
		else
			edge_errf(err, EDGE_EVERIFY, "%s: no signature (%s.minisig or %s.sig)", file, file, file);
		goto out;
	}
	if (rsa && ends_with(sidecar, ".minisig")) {
		edge_errf(err, EDGE_EINPUT, "%s is a minisign signature but %s is an RSA public key", sidecar, pubkey_path);
		goto out;
	}
	if (!rsa && !ends_with(sidecar, ".minisig")) {
		edge_errf(err, EDGE_EINPUT, "%s is an RSA signature but %s is a minisign public key", sidecar, pubkey_path);
		goto out;
	}
	if (rsa)
		rc = verify_rsa(file, sidecar, pubkey_path, pkey, info, err);
	else
		rc = verify_minisign(file, sidecar, pubkey_path, blob, info, err);
out:
	EVP_PKEY_free(pkey);
	free(sidecar);
	sodium_memzero(blob, sizeof(blob)); /* in case a secret key was given */
	sodium_memzero(data, KEYFILE_MAX);
	free(data);
	return rc;
}
