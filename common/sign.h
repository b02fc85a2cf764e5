/*
 * Signatures (SPEC §6): minisign Ed25519 key pairs and signatures
 * (prehashed "ED", BLAKE2b-512; legacy "Ed" accepted when verifying), and
 * RSA-SHA256 PKCS#1 v1.5 signatures with PEM keys, as `openssl dgst
 * -sha256 -sign` makes them. Files are read once, in 1 MiB blocks, hashing
 * BLAKE2b-512 and SHA-256 on two threads; memory stays bounded whatever the
 * file's size.
 *
 * Formats (REFERENCE.md, minisign 0.11):
 *   KEY.pub     "untrusted comment: minisign public key KEYID" /
 *               base64("Ed" | key_id[8] | ed25519_pk[32])
 *   KEY         "untrusted comment: ..." / base64("Ed" | "Sc" or 0,0 | "B2" |
 *               salt[32] | opslimit[8] | memlimit[8] | key_id[8] | sk[64] |
 *               chk[32]); with "Sc" the last 104 bytes are XORed with
 *               scrypt(password, salt, opslimit, memlimit)
 *   FILE.minisig  untrusted comment / base64("ED" | key_id | sig[64]) /
 *               "trusted comment: timestamp:T\tfile:NAME\tsha256:HEX\thashed" /
 *               base64(Ed25519(sig | trusted comment))
 *   FILE.sig    the raw RSA signature bytes
 */
#ifndef EDGE_SIGN_H
#define EDGE_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "progress.h"

#define SIG_ALG_ED25519 "ed25519"
#define SIG_ALG_RSA "rsa-sha256"
#define SIG_PASSWORD_MAX 1024            /* bytes, with the NUL */
#define SIG_COMMENT_MAX 512              /* bytes of a -t trusted comment addition */
#define SIG_LEGACY_MAX (1ull << 30)      /* largest file a legacy "Ed" signature may cover */

struct sig_info {
	char algorithm[16];        /* "ed25519" or "rsa-sha256" */
	char key_id[17];           /* minisign key id, 16 upper-case hex (as minisign prints it); "" for RSA */
	char sidecar[4096];        /* the signature file checked (or written) */
	char trusted_comment[1024];/* minisign trusted comment; "" for RSA */
};

/* --- verification ------------------------------------------------------ */

/* Path of FILE's sidecar signature: FILE.minisig if it exists, else FILE.sig
 * if it exists, else NULL. malloc'd: the caller frees it. */
char *sig_find_sidecar(const char *file);

/* Verifies file against its sidecar (sig_find_sidecar) with the public key
 * at pubkey_path: a minisign public key file, or a PEM RSA public key
 * ("BEGIN PUBLIC KEY" or "BEGIN RSA PUBLIC KEY"). The key kind must fit the
 * sidecar (.minisig with a minisign key, .sig with an RSA key), else
 * EDGE_EINPUT naming both. The file is streamed (BLAKE2b-512 for "ED",
 * SHA-256 for RSA); a legacy "Ed" signature covers the raw file, which is
 * mapped, so it is refused over SIG_LEGACY_MAX. The trusted comment's global
 * signature is checked too. Returns 0 when valid; else -1 with err:
 * EDGE_EVERIFY "FILE: signature does not verify with KEY",
 * "FILE: signed by key ID X, not by key ID Y",
 * "FILE: no signature (FILE.minisig or FILE.sig)"; EDGE_EINPUT for a
 * missing, unreadable or malformed key, a malformed signature file (naming
 * it and what is wrong), a key that does not fit the sidecar; EDGE_EIO for
 * an unreadable FILE or sidecar. When FILE has both sidecars, the one that
 * fits the key is checked. info may be NULL; when given it is filled as far
 * as the check got. */
int sig_verify_file(const char *file, const char *pubkey_path, struct sig_info *info, struct edge_err *err);

/* --- signing ----------------------------------------------------------- */

/* Supplies the password of an encrypted key: writes it NUL-terminated into
 * buf (size bytes, SIG_PASSWORD_MAX) and returns 0, or returns -1 with err
 * set. Called at most once per key, only when the key is encrypted. */
typedef int (*sig_password_fn)(void *ctx, const char *key_path, char *buf, size_t size,
			       struct edge_err *err);

/* A loaded signing key: a minisign secret key (decrypted) or an RSA private
 * key. Opaque; secret parts live in guarded memory, wiped by sig_key_free. */
struct sig_key;

/* Loads a minisign secret key (edge-sign -G or minisign -G, encrypted or
 * not) or a PEM RSA private key (PKCS#1 or PKCS#8, encrypted or not).
 * password is asked for only when the key is encrypted (it may be NULL:
 * an encrypted key is then refused). Errors: EDGE_EINPUT for a missing,
 * unreadable or malformed key (also a public key given as the secret one),
 * for a secret key file that group or others may access (any of mode 077,
 * as ssh refuses it: "KEY: secret key is accessible by others (mode 0644):
 * run chmod 600 KEY"), checked before any password is asked for,
 * EDGE_EAUTH "KEY: wrong password". New object: sig_key_free. */
struct sig_key *sig_key_load(const char *path, sig_password_fn password, void *ctx, struct edge_err *err);
void sig_key_free(struct sig_key *k);

/* SIG_ALG_ED25519 or SIG_ALG_RSA. */
const char *sig_key_algorithm(const struct sig_key *k);
/* The minisign key id (16 upper-case hex), "" for RSA. */
const char *sig_key_id(const struct sig_key *k);
/* Where sig_sign_file writes FILE's signature: FILE.minisig for a minisign
 * key, FILE.sig for RSA. malloc'd. */
char *sig_sidecar_path(const struct sig_key *k, const char *file);

/* Signs file and writes its sidecar (sig_sidecar_path) atomically. With a
 * minisign key the trusted comment is "timestamp:T\tfile:BASENAME\t
 * sha256:HEX\thashed", then "\t" extra_comment when extra_comment is not
 * NULL (one line, at most SIG_COMMENT_MAX bytes). When expect_digest is not
 * NULL ("sha256:HEX") the file must have that digest, else EDGE_EVERIFY and
 * nothing is written. digest_out (may be NULL, 72 bytes) receives the file's
 * "sha256:HEX". info (may be NULL) is filled on success. Errors: EDGE_EIO
 * (unreadable file, write failure), EDGE_EINPUT (not a regular file, a
 * name or comment that cannot go in a trusted comment). */
int sig_sign_file(const struct sig_key *k, const char *file, const char *extra_comment,
		  const char *expect_digest, char digest_out[72], struct sig_info *info,
		  struct edge_err *err);

/* Makes a minisign key pair: the secret key at seckey_path (mode 0600) and
 * the public key at pubkey_path (0644). With a password the secret key is
 * encrypted as minisign does (scrypt, opslimit 2^25, memlimit 1 GiB); with
 * password NULL it is stored unencrypted (minisign -W). Neither file may
 * exist unless force (EDGE_EIO "PATH: already exists"); each is written to
 * a temporary file then linked into place, so a key that appeared meanwhile
 * is never replaced, and a failure leaves neither. key_id receives the new
 * key id. */
int sig_keygen(const char *seckey_path, const char *pubkey_path, const char *password, int force,
	       char key_id[17], struct edge_err *err);

/* Progress of the file hashing this thread does from now on
 * (sig_hash_file, so sig_sign_file and sig_verify_file): one item per
 * file ("files"), its bytes as they are read. fn NULL: none (the default).
 * Per thread, so that a server's other threads are not reported. */
void sig_set_progress(progress_fn fn, void *ctx);

/* --- hashing (exposed for the tests and the benchmark) -------------------- */

#define SIG_HASH_BLAKE2B 1u
#define SIG_HASH_SHA256 2u

/* Reads path once and computes the hashes asked for in flags: BLAKE2b-512
 * into b2 and SHA-256 into sha (either may be NULL when not asked for). With
 * both, they run on two threads. size (may be NULL) receives the byte count.
 * Errors name the file: EDGE_EIO, EDGE_EINPUT (not a regular file). */
int sig_hash_file(const char *path, unsigned flags, unsigned char b2[64], unsigned char sha[32],
		  uint64_t *size, struct edge_err *err);

#endif
