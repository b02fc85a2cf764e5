/* Unit tests for common/sign.c: BLAKE2b (AVX-512 and portable) and SHA-256
 * of files, minisign key pairs, signing and sig_verify_file (minisign "ED"
 * and legacy "Ed", RSA), and every verification error. TAP output.
 *
 * `test_sign verify FILE PUBKEY` runs sig_verify_file alone for the BATS
 * suite (signatures made by minisign and openssl): it prints the
 * sig_info on stdout, or the error on stderr and exits with its code. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "fsutil.h"
#include "sha256.h"
#include "sign.h"
#include "tap.h"

static char dir[] = "/tmp/test_sign.XXXXXX";

/* ok() for an expected failure: the code and the exact message. */
static void fails(int rc, const struct edge_err *err, int code, const char *msg, const char *desc)
{
	char got[EDGE_ERR_MAX + 16];

	snprintf(got, sizeof(got), "rc %d, %d: %s", rc, err->code, err->msg);
	ok(rc != 0 && err->code == code && strcmp(err->msg, msg) == 0, desc, got, msg);
}

static char *tmp(const char *name)
{
	return path_join(dir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
	struct edge_err err = {0};
	if (atomic_write_file(path, data, len, 0644, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(2);
	}
}

static char *read_text(const char *path)
{
	struct edge_err err = {0};
	char *data = NULL;
	size_t len;
	if (read_file_max(path, 1 << 20, &data, &len, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(2);
	}
	return data;
}

/* --- hashing --------------------------------------------------------------- */

static void hash_case(size_t len)
{
	unsigned char *data = xmalloc(len ? len : 1), want_b2[64], want_sha[32], b2[64], sha[32], b2b[64];
	char *p = tmp("h.bin"), desc[128];
	struct edge_err err = {0};
	uint64_t size = 0;
	int rc, rc2;

	randombytes_buf(data, len);
	write_file(p, data, len);
	crypto_generichash(want_b2, 64, data, len, NULL, 0);
	{
		struct sha256 h;
		sha256_init(&h);
		sha256_update(&h, data, len);
		sha256_final(&h, want_sha);
	}
	rc = sig_hash_file(p, SIG_HASH_BLAKE2B | SIG_HASH_SHA256, b2, sha, &size, &err);
	rc2 = sig_hash_file(p, SIG_HASH_BLAKE2B, b2b, NULL, NULL, &err);
	snprintf(desc, sizeof(desc), "BLAKE2b-512 and SHA-256 of %zu bytes", len);
	ok(rc == 0 && rc2 == 0 && size == len && memcmp(b2, want_b2, 64) == 0 && memcmp(b2b, want_b2, 64) == 0 &&
		   memcmp(sha, want_sha, 32) == 0,
	   desc, err.msg, "libsodium's and OpenSSL's digests");
	unlink(p);
	free(p);
	free(data);
}

static void hashing(void)
{
	static const size_t sizes[] = {0, 1, 127, 128, 129, 255, 256, 257, 1000, (1 << 20) - 1, 1 << 20, (1 << 20) + 1,
				       (9 << 20) + 77};
	struct edge_err err = {0};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		hash_case(sizes[i]);
	{
		unsigned char b2[64];
		char msg[EDGE_ERR_MAX];
		snprintf(msg, sizeof(msg), "%s: is a directory", dir);
		fails(sig_hash_file(dir, SIG_HASH_BLAKE2B, b2, NULL, NULL, &err), &err, EDGE_EINPUT, msg,
		      "a directory is refused");
	}
}

/* --- minisign -------------------------------------------------------------- */

/* The key id in a public key file's comment. */
static void pub_key_id(const char *pub, char id[17])
{
	char *t = read_text(pub), *s = strstr(t, "public key ");
	/* minisign writes the id in hex without leading zeros: up to the newline */
	snprintf(id, 17, "%.*s", s ? (int)strcspn(s + strlen("public key "), "\n") : 0,
		 s ? s + strlen("public key ") : "");
	free(t);
}

static void minisign_cases(void)
{
	struct edge_err err = {0};
	struct sig_info info;
	struct sig_key *k, *k2;
	char *key = tmp("a.key"), *pub = tmp("a.pub"), *key2 = tmp("b.key"), *pub2 = tmp("b.pub");
	char *file = tmp("site.tar.zst"), *sidecar = tmp("site.tar.zst.minisig"), id[17], id2[17], fid[17];
	char msg[EDGE_ERR_MAX], digest[72], *t;
	struct stat st;
	int rc;

	rc = sig_keygen(key, pub, NULL, 0, id, &err);
	ok(rc == 0 && strlen(id) >= 1 && strlen(id) <= 16 && strspn(id, "0123456789ABCDEF") == strlen(id) && id[0] != '0' &&
	   stat(key, &st) == 0 && (st.st_mode & 0777) == 0600, "keygen -W: key 0600",
	   err.msg, "0600");
	ok(stat(pub, &st) == 0 && (st.st_mode & 0777) == 0644, "keygen: public key 0644", "", "0644");
	pub_key_id(pub, fid);
	ok(strcmp(fid, id) == 0, "the public key comment names the key id", fid, id);
	t = read_text(key);
	ok(strncmp(t, "untrusted comment: ", 19) == 0 && strlen(strchr(t, '\n') + 1) == 213, "secret key file shape",
	   t, "comment, 212 base64 characters");
	free(t);

	snprintf(msg, sizeof(msg), "%s: already exists (--force replaces it)", key);
	fails(sig_keygen(key, pub2, NULL, 0, id2, &err), &err, EDGE_EIO, msg, "keygen refuses an existing key");
	ok(access(pub2, F_OK) != 0, "keygen refused: nothing written", "exists", "absent");
	snprintf(msg, sizeof(msg), "%s: already exists (--force replaces it)", pub);
	fails(sig_keygen(key2, pub, NULL, 0, id2, &err), &err, EDGE_EIO, msg, "keygen refuses an existing public key");
	ok(access(key2, F_OK) != 0, "keygen refused: no secret key either", "exists", "absent");
	rc = sig_keygen(key2, pub2, NULL, 0, id2, &err);
	ok(rc == 0 && strcmp(id, id2) != 0, "a second key pair", err.msg, "a new key id");

	k = sig_key_load(key, NULL, NULL, &err);
	ok(k != NULL && strcmp(sig_key_algorithm(k), "ed25519") == 0 && strcmp(sig_key_id(k), id) == 0,
	   "load the key", k ? sig_key_id(k) : err.msg, id);
	if (k == NULL)
		return;
	write_file(file, "bundle bytes\n", 13);
	rc = sig_sign_file(k, file, "site=edge-1", NULL, digest, &info, &err);
	ok(rc == 0 && strcmp(info.sidecar, sidecar) == 0 && strcmp(info.algorithm, "ed25519") == 0 &&
		   strcmp(info.key_id, id) == 0,
	   "sign a file", rc ? err.msg : info.sidecar, sidecar);
	{
		char want[72];
		sha256_digest_buf("bundle bytes\n", 13, want);
		ok(strcmp(digest, want) == 0, "sign reports the sha256", digest, want);
	}
	{
		char want[256];
		snprintf(want, sizeof(want), "\tfile:site.tar.zst\tsha256:%s\thashed\tsite=edge-1", digest + 7);
		ok(strncmp(info.trusted_comment, "timestamp:", 10) == 0 && strstr(info.trusted_comment, want) != NULL,
		   "the trusted comment: time, name, sha256, hashed, the addition", info.trusted_comment, want);
	}
	memset(&info, 0, sizeof(info));
	rc = sig_verify_file(file, pub, &info, &err);
	ok(rc == 0 && strcmp(info.sidecar, sidecar) == 0 && strcmp(info.key_id, id) == 0 &&
		   strstr(info.trusted_comment, "\thashed\tsite=edge-1") != NULL,
	   "verify", rc ? err.msg : info.trusted_comment, "valid");
	ok(sig_verify_file(file, pub, NULL, &err) == 0, "verify without info", err.msg, "valid");

	/* expect_digest */
	unlink(sidecar);
	rc = sig_sign_file(k, file, NULL, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
			   NULL, NULL, &err);
	snprintf(msg, sizeof(msg), "%s: the file is %s, the manifest says %s: not signed", file, digest,
		 "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	fails(rc, &err, EDGE_EVERIFY, msg, "a digest that differs from the manifest's: not signed");
	ok(access(sidecar, F_OK) != 0, "no signature written", "exists", "absent");
	snprintf(msg, sizeof(msg), "%s: no signature (%s.minisig or %s.sig)", file, file, file);
	fails(sig_verify_file(file, pub, NULL, &err), &err, EDGE_EVERIFY, msg, "no sidecar");
	ok(sig_sign_file(k, file, NULL, digest, NULL, NULL, &err) == 0, "sign with the right digest", err.msg, "ok");

	/* another key */
	snprintf(msg, sizeof(msg), "%s: signed by key ID %s, not by key ID %s", file, id, id2);
	fails(sig_verify_file(file, pub2, NULL, &err), &err, EDGE_EVERIFY, msg, "another key: the key ids");

	/* tampered file */
	write_file(file, "bundle bytes!\n", 14);
	snprintf(msg, sizeof(msg), "%s: signature does not verify with %s", file, pub);
	fails(sig_verify_file(file, pub, NULL, &err), &err, EDGE_EVERIFY, msg, "a tampered file");
	write_file(file, "bundle bytes\n", 13);
	ok(sig_verify_file(file, pub, NULL, &err) == 0, "restored file verifies", err.msg, "valid");

	/* tampered trusted comment */
	{
		char *s = read_text(sidecar), *p = strstr(s, "\thashed");
		p[1] = 'H';
		write_file(sidecar, s, strlen(s));
		snprintf(msg, sizeof(msg), "%s: signature does not verify with %s (the trusted comment was altered)", file,
			 pub);
		fails(sig_verify_file(file, pub, NULL, &err), &err, EDGE_EVERIFY, msg, "an altered trusted comment");
		free(s);
	}
	/* malformed signature files */
	{
		static const char *const bad[][2] = {
			{"junk\n", "not a minisign signature (line 1 is not an untrusted comment)"},
			{"untrusted comment: x\nRUQ=\ntrusted comment: x\nAAAA\n",
			 "malformed signature (bad base64 or length on line 2)"},
			{"untrusted comment: x\n", "malformed signature (bad base64 or length on line 2)"},
		};
		size_t i;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			write_file(sidecar, bad[i][0], strlen(bad[i][0]));
			snprintf(msg, sizeof(msg), "%s: %s", sidecar, bad[i][1]);
			fails(sig_verify_file(file, pub, NULL, &err), &err, EDGE_EINPUT, msg, bad[i][1]);
		}
		/* a good line 2, then no trusted comment */
		sig_sign_file(k, file, NULL, NULL, NULL, NULL, &err);
		{
			char *s = read_text(sidecar), *l3 = strchr(strchr(s, '\n') + 1, '\n') + 1;
			memcpy(l3, "trusted_comment", 15);
			write_file(sidecar, s, strlen(s));
			snprintf(msg, sizeof(msg), "%s: malformed signature (line 3 is not a trusted comment)", sidecar);
			fails(sig_verify_file(file, pub, NULL, &err), &err, EDGE_EINPUT, msg, "line 3 not a trusted comment");
			free(s);
		}
	}
	/* keys given the wrong way round */
	snprintf(msg, sizeof(msg), "%s: a minisign secret key, expected a public key", key);
	fails(sig_verify_file(file, key, NULL, &err), &err, EDGE_EINPUT, msg, "a secret key given to verify");
	snprintf(msg, sizeof(msg), "%s: a minisign public key, expected a secret key", pub);
	k2 = sig_key_load(pub, NULL, NULL, &err);
	fails(k2 == NULL, &err, EDGE_EINPUT, msg, "a public key given to sign");
	sig_key_free(k2);
	snprintf(msg, sizeof(msg), "%s: not a minisign public key or a PEM RSA public key", file);
	fails(sig_verify_file(file, file, NULL, &err), &err, EDGE_EINPUT, msg, "not a key at all");
	{
		char *nokey = tmp("missing.pub");
		snprintf(msg, sizeof(msg), "%s: No such file or directory", nokey);
		fails(sig_verify_file(file, nokey, NULL, &err), &err, EDGE_EINPUT, msg, "a missing public key");
		k2 = sig_key_load(nokey, NULL, NULL, &err);
		snprintf(msg, sizeof(msg), "%s: No such file or directory", nokey);
		fails(k2 == NULL, &err, EDGE_EINPUT, msg, "a missing secret key");
		free(nokey);
	}
	{
		char *gone = tmp("gone.bin");
		snprintf(msg, sizeof(msg), "%s: No such file or directory", gone);
		fails(sig_verify_file(gone, pub, NULL, &err), &err, EDGE_EIO, msg, "a missing file");
		fails(sig_sign_file(k, gone, NULL, NULL, NULL, NULL, &err), &err, EDGE_EIO, msg, "signing a missing file");
		free(gone);
	}
	/* a corrupted secret key */
	{
		char *s = read_text(key), *l2 = strchr(s, '\n') + 1, *bad = tmp("bad.key");
		l2[100] = l2[100] == 'A' ? 'B' : 'A';
		write_file(bad, s, strlen(s));
		chmod(bad, 0600);
		k2 = sig_key_load(bad, NULL, NULL, &err);
		ok(k2 == NULL && err.code == EDGE_EINPUT && strstr(err.msg, ": corrupt secret key") != NULL,
		   "a corrupted secret key", err.msg, "corrupt secret key");
		sig_key_free(k2);
		free(bad);
		free(s);
	}
	/* a secret key that group or others may access is refused, as ssh
	 * refuses one; only the owner's bits may be set */
	{
		char *s = read_text(key), *open_key = tmp("open.key");
		static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0660};
		size_t i;
		write_file(open_key, s, strlen(s));
		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
			char what[64];
			chmod(open_key, modes[i]);
			snprintf(msg, sizeof(msg), "%s: secret key is accessible by others (mode %04o): run chmod 600 %s",
				 open_key, (unsigned)modes[i], open_key);
			snprintf(what, sizeof(what), "a secret key of mode %04o is refused", (unsigned)modes[i]);
			k2 = sig_key_load(open_key, NULL, NULL, &err);
			fails(k2 == NULL, &err, EDGE_EINPUT, msg, what);
			sig_key_free(k2);
		}
		chmod(open_key, 0400);
		k2 = sig_key_load(open_key, NULL, NULL, &err);
		ok(k2 != NULL, "a secret key of mode 0400 loads", k2 ? "loaded" : err.msg, "loaded");
		sig_key_free(k2);
		free(open_key);
		free(s);
	}
	/* a trusted comment that cannot be one line */
	fails(sig_sign_file(k, file, "two\nlines", NULL, NULL, NULL, &err), &err, EDGE_EINPUT,
	      "trusted comment: at most 512 bytes on one line", "a comment with a line break");

	/* legacy "Ed" signatures: Ed25519 over the raw file */
	{
		unsigned char skb[158], sigblob[74], global[64], *msg2;
		char *s = read_text(key), *l2 = strchr(s, '\n') + 1, *b64sig, *b64g, *text, tc[] = "timestamp:1\tfile:site.tar.zst";
		size_t got;
		*strchr(l2, '\n') = '\0';
		sodium_base642bin(skb, sizeof(skb), l2, strlen(l2), NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL);
		memcpy(sigblob, "Ed", 2);
		memcpy(sigblob + 2, skb + 54, 8);
		crypto_sign_detached(sigblob + 10, NULL, (const unsigned char *)"bundle bytes\n", 13, skb + 62);
		msg2 = xmalloc(64 + sizeof(tc) - 1);
		memcpy(msg2, sigblob + 10, 64);
		memcpy(msg2 + 64, tc, sizeof(tc) - 1);
		crypto_sign_detached(global, NULL, msg2, 64 + sizeof(tc) - 1, skb + 62);
		b64sig = xmalloc(200);
		b64g = xmalloc(200);
		sodium_bin2base64(b64sig, 200, sigblob, sizeof(sigblob), sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(b64g, 200, global, sizeof(global), sodium_base64_VARIANT_ORIGINAL);
		text = xasprintf("untrusted comment: legacy\n%s\ntrusted comment: %s\n%s\n", b64sig, tc, b64g);
		write_file(sidecar, text, strlen(text));
		ok(sig_verify_file(file, pub, &info, &err) == 0 && strcmp(info.trusted_comment, tc) == 0,
		   "a legacy (not prehashed) signature", err.msg, "valid");
		write_file(file, "bundle bytez\n", 13);
		snprintf(msg, sizeof(msg), "%s: signature does not verify with %s", file, pub);
		fails(sig_verify_file(file, pub, NULL, &err), &err, EDGE_EVERIFY, msg, "a tampered file, legacy");
		/* over 1 GiB: refused before reading */
		{
			int fd = open(file, O_WRONLY | O_TRUNC);
			rc = ftruncate(fd, (off_t)(1ull << 30) + 1);
			close(fd);
			snprintf(msg, sizeof(msg),
				 "%s: a legacy (not prehashed) signature covers at most 1 GiB, the file has 1073741825 bytes",
				 file);
			fails(rc != 0 ? 0 : sig_verify_file(file, pub, NULL, &err), &err, EDGE_EINPUT, msg,
			      "a legacy signature over 1 GiB is refused");
		}
		/* an unknown algorithm */
		memcpy(sigblob, "XX", 2);
		sodium_bin2base64(b64sig, 200, sigblob, sizeof(sigblob), sodium_base64_VARIANT_ORIGINAL);
		free(text);
		text = xasprintf("untrusted comment: legacy\n%s\ntrusted comment: %s\n%s\n", b64sig, tc, b64g);
		write_file(sidecar, text, strlen(text));
		snprintf(msg, sizeof(msg), "%s: unsupported signature algorithm 'XX'", sidecar);
		fails(sig_verify_file(file, pub, NULL, &err), &err, EDGE_EINPUT, msg, "an unknown signature algorithm");
		sodium_memzero(skb, sizeof(skb));
		sodium_memzero(s, strlen(s));
		free(msg2);
		free(b64sig);
		free(b64g);
		free(text);
		free(s);
	}
	sig_key_free(k);
	unlink(file);
	unlink(sidecar);
	free(key);
	free(pub);
	free(key2);
	free(pub2);
	free(file);
	free(sidecar);
}

/* --- RSA ------------------------------------------------------------------- */

static int write_pem(const char *path, EVP_PKEY *pkey, int what, const char *password)
{
	BIO *b = BIO_new_file(path, "w");
	int rc = 0;

	if (b == NULL)
		return -1;
	switch (what) {
	case 0: /* PKCS#8, maybe encrypted */
		rc = PEM_write_bio_PKCS8PrivateKey(b, pkey, password ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
						   (void *)password);
		break;
	case 1: /* SubjectPublicKeyInfo */
		rc = PEM_write_bio_PUBKEY(b, pkey);
		break;
	case 2: { /* PKCS#1 public key */
		OSSL_ENCODER_CTX *e = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
		rc = e != NULL && OSSL_ENCODER_to_bio(e, b) == 1;
		OSSL_ENCODER_CTX_free(e);
		break;
	}
	}
	BIO_free(b);
	/* a private key only its owner may read, as edge-sign wants */
	if (what == 0 && chmod(path, 0600) != 0)
		return -1;
	return rc == 1 ? 0 : -1;
}

struct pw {
	const char *value;
	int calls;
};

static int give_password(void *ctx, const char *key_path, char *buf, size_t size, struct edge_err *err)
{
	struct pw *p = ctx;
	(void)key_path;
	(void)err;
	p->calls++;
	snprintf(buf, size, "%s", p->value);
	return 0;
}

static void rsa_cases(void)
{
	struct edge_err err = {0};
	struct sig_info info;
	struct sig_key *k;
	EVP_PKEY *pkey = EVP_RSA_gen(2048), *weak = EVP_RSA_gen(1024);
	char *key = tmp("r.pem"), *enc = tmp("r-enc.pem"), *spki = tmp("r.pub.pem"), *pkcs1 = tmp("r.pkcs1.pem");
	char *weakkey = tmp("weak.pem"), *file = tmp("def.tgz"), *sidecar = tmp("def.tgz.sig"), msg[EDGE_ERR_MAX];
	char *mskey = tmp("m.key"), *mspub = tmp("m.pub"), id[17];
	struct pw right = {"s3cret", 0}, wrong = {"nope", 0};
	int rc;

	ok(pkey != NULL && write_pem(key, pkey, 0, NULL) == 0 && write_pem(enc, pkey, 0, "s3cret") == 0 &&
		   write_pem(spki, pkey, 1, NULL) == 0 && write_pem(pkcs1, pkey, 2, NULL) == 0 &&
		   write_pem(weakkey, weak, 0, NULL) == 0,
	   "RSA test keys", "", "written");
	write_file(file, "definition\n", 11);
	k = sig_key_load(key, NULL, NULL, &err);
	ok(k != NULL && strcmp(sig_key_algorithm(k), "rsa-sha256") == 0 && sig_key_id(k)[0] == '\0', "load an RSA key",
	   err.msg, "rsa-sha256");
	if (k == NULL)
		return;
	rc = sig_sign_file(k, file, NULL, NULL, NULL, &info, &err);
	ok(rc == 0 && strcmp(info.sidecar, sidecar) == 0 && strcmp(info.algorithm, "rsa-sha256") == 0 &&
		   info.trusted_comment[0] == '\0',
	   "RSA sign", rc ? err.msg : info.sidecar, sidecar);
	{
		struct stat st;
		ok(stat(sidecar, &st) == 0 && st.st_size == 256, "a 2048-bit signature is 256 raw bytes", "", "256");
	}
	ok(sig_verify_file(file, spki, &info, &err) == 0 && strcmp(info.algorithm, "rsa-sha256") == 0,
	   "verify with a BEGIN PUBLIC KEY", err.msg, "valid");
	ok(sig_verify_file(file, pkcs1, NULL, &err) == 0, "verify with a BEGIN RSA PUBLIC KEY", err.msg, "valid");
	write_file(file, "definition?\n", 12);
	snprintf(msg, sizeof(msg), "%s: signature does not verify with %s", file, spki);
	fails(sig_verify_file(file, spki, NULL, &err), &err, EDGE_EVERIFY, msg, "RSA: a tampered file");
	write_file(file, "definition\n", 11);
	write_file(sidecar, "short", 5);
	snprintf(msg, sizeof(msg), "%s: signature does not verify with %s (%s has 5 bytes, the 2048-bit key signs 256)",
		 file, spki, sidecar);
	fails(sig_verify_file(file, spki, NULL, &err), &err, EDGE_EVERIFY, msg, "RSA: a signature of the wrong size");
	sig_key_free(k);

	/* encrypted PKCS#8 */
	k = sig_key_load(enc, give_password, &right, &err);
	ok(k != NULL && right.calls == 1, "an encrypted PKCS#8 key, password asked once", err.msg, "loaded");
	sig_key_free(k);
	snprintf(msg, sizeof(msg), "%s: wrong password", enc);
	k = sig_key_load(enc, give_password, &wrong, &err);
	fails(k == NULL, &err, EDGE_EAUTH, msg, "RSA: a wrong password");
	sig_key_free(k);
	snprintf(msg, sizeof(msg), "%s: the key is encrypted and no password was given", enc);
	k = sig_key_load(enc, NULL, NULL, &err);
	fails(k == NULL, &err, EDGE_EAUTH, msg, "RSA: an encrypted key without a password source");
	sig_key_free(k);
	k = sig_key_load(key, give_password, &wrong, &err);
	ok(k != NULL && wrong.calls == 1, "an unencrypted key never asks for a password", err.msg, "not asked");
	sig_key_free(k);

	snprintf(msg, sizeof(msg), "%s: a 1024-bit RSA key is too weak (at least 2048 bits)", weakkey);
	k = sig_key_load(weakkey, NULL, NULL, &err);
	fails(k == NULL, &err, EDGE_EINPUT, msg, "a 1024-bit RSA key is refused");
	sig_key_free(k);
	snprintf(msg, sizeof(msg), "%s: a PEM private key, expected a public key", key);
	fails(sig_verify_file(file, key, NULL, &err), &err, EDGE_EINPUT, msg, "an RSA private key given to verify");
	snprintf(msg, sizeof(msg), "%s: a PEM public key, expected a secret key", spki);
	k = sig_key_load(spki, NULL, NULL, &err);
	fails(k == NULL, &err, EDGE_EINPUT, msg, "an RSA public key given to sign");
	sig_key_free(k);

	/* a sidecar that does not fit the key */
	sig_keygen(mskey, mspub, NULL, 1, id, &err);
	{
		char *other = tmp("other.bin"), *osig = tmp("other.bin.minisig");
		write_file(other, "x", 1);
		k = sig_key_load(mskey, NULL, NULL, &err);
		sig_sign_file(k, other, NULL, NULL, NULL, NULL, &err);
		snprintf(msg, sizeof(msg), "%s is a minisign signature but %s is an RSA public key", osig, spki);
		fails(sig_verify_file(other, spki, NULL, &err), &err, EDGE_EINPUT, msg, "a .minisig with an RSA key");
		write_file(sidecar, "x", 1);
		snprintf(msg, sizeof(msg), "%s is an RSA signature but %s is a minisign public key", sidecar, mspub);
		fails(sig_verify_file(file, mspub, NULL, &err), &err, EDGE_EINPUT, msg, "a .sig with a minisign key");
		/* with both sidecars, each key finds its own */
		sig_sign_file(k, file, NULL, NULL, NULL, NULL, &err);
		ok(sig_verify_file(file, mspub, &info, &err) == 0 && strcmp(info.algorithm, "ed25519") == 0,
		   "both sidecars: the minisign key takes .minisig", err.msg, "valid");
		sig_key_free(k);
		k = sig_key_load(key, NULL, NULL, &err);
		sig_sign_file(k, file, NULL, NULL, NULL, NULL, &err);
		ok(sig_verify_file(file, spki, &info, &err) == 0 && strcmp(info.algorithm, "rsa-sha256") == 0,
		   "both sidecars: the RSA key takes .sig", err.msg, "valid");
		{
			char *found = sig_find_sidecar(file), *want = xasprintf("%s.minisig", file);
			ok(found != NULL && strcmp(found, want) == 0, "sig_find_sidecar prefers .minisig", found, want);
			free(found);
			free(want);
		}
		sig_key_free(k);
		unlink(other);
		unlink(osig);
		free(other);
		free(osig);
	}
	{
		char *none = tmp("none.bin");
		ok(sig_find_sidecar(none) == NULL, "sig_find_sidecar: none", "found", "NULL");
		free(none);
	}
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(weak);
	free(key);
	free(enc);
	free(spki);
	free(pkcs1);
	free(weakkey);
	free(file);
	free(sidecar);
	free(mskey);
	free(mspub);
}

/* `test_sign verify FILE PUBKEY` */
static int verify_command(const char *file, const char *pub)
{
	struct edge_err err = {0};
	struct sig_info info;

	if (sig_verify_file(file, pub, &info, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return err.code;
	}
	printf("algorithm: %s\nkey id: %s\nsidecar: %s\ntrusted comment: %s\n", info.algorithm, info.key_id,
	       info.sidecar, info.trusted_comment);
	return 0;
}

int main(int argc, char **argv)
{
	char cmd[64];

	if (argc == 4 && strcmp(argv[1], "verify") == 0)
		return verify_command(argv[2], argv[3]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_sign [verify FILE PUBKEY]\n");
		return 2;
	}
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	hashing();
	minisign_cases();
	rsa_cases();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return done_testing();
}
