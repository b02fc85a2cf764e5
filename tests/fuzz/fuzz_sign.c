/*
 * Signature and key files, and parts descriptors: what crosses the air gap
 * next to a bundle.
 *
 * First byte modulo 4 selects:
 *   0  the rest is FILE.minisig, checked with a fixed minisign public key
 *      against a fixed payload (sig_verify_file);
 *   1  the rest is the public key file (minisign or PEM), checked against
 *      valid .minisig and .sig sidecars of the payload;
 *   2  the rest is a secret key file (sig_key_load; an encrypted key gets
 *      no password, so no scrypt runs with the file's limits);
 *   3  the rest is a parts descriptor FILE.parts.json beside two small
 *      part files (bundle_reader_open, then verify_bundle).
 * Invariants: every failure has an exit class and a one-line message; a
 * signature only verifies with the trusted comment it was made with.
 */
#include <jansson.h>

#include "bundle.h"
#include "fuzzutil.h"
#include "sign.h"
#include "verify.h"

#include "fuzz_sign_keys.h"

static const char *payload_path(void)
{
	static const char *p;

	if (p == NULL) {
		p = fz_write("payload", FUZZ_PAYLOAD, strlen(FUZZ_PAYLOAD));
		fz_write("site.tar.zst.part000", "(\xb5/\xfd part zero, not really a bundle\n", 36);
		fz_write("site.tar.zst.part001", "part one\n", 9);
	}
	return p;
}

static void check_err(int rc, const struct edge_err *err)
{
	fz_debug("sign", rc, err->msg);
	if (rc != 0 && (err->code == 0 || err->msg[0] == '\0' || strpbrk(err->msg, "\r\n") != NULL)) {
		fprintf(stderr, "bad error: code %d, message \"%s\"\n", err->code, err->msg);
		abort();
	}
}

/* The trusted comment of FUZZ_MINISIG: the only one that can verify. */
static int genuine_comment(const char *tc)
{
	const char *p = strstr(FUZZ_MINISIG, "\ntrusted comment: "), *e;

	p += strlen("\ntrusted comment: ");
	e = strchr(p, '\n');
	return strlen(tc) == (size_t)(e - p) && strncmp(tc, p, (size_t)(e - p)) == 0;
}

static void fuzz_minisig(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	struct sig_info info;
	const char *file = payload_path(), *pub = fz_write("ms.pub", FUZZ_MS_PUB, strlen(FUZZ_MS_PUB));
	int rc;

	fz_write("payload.minisig", data, size);
	rc = sig_verify_file(file, pub, &info, &err);
	check_err(rc, &err);
	if (rc == 0 && !genuine_comment(info.trusted_comment)) {
		fprintf(stderr, "a changed signature verified: trusted comment \"%s\"\n", info.trusted_comment);
		abort();
	}
}

static void fuzz_pubkey(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	const char *file = payload_path(), *pub = fz_write("key.pub", data, size);

	fz_write("payload.minisig", FUZZ_MINISIG, strlen(FUZZ_MINISIG));
	fz_write("payload.sig", FUZZ_RSA_SIG, sizeof(FUZZ_RSA_SIG));
	check_err(sig_verify_file(file, pub, NULL, &err), &err);
}

static int no_password(void *ctx, const char *key_path, char *buf, size_t size, struct edge_err *err)
{
	(void)ctx;
	(void)buf;
	(void)size;
	return edge_errf(err, EDGE_EAUTH, "%s: no password in the fuzzer", key_path);
}

static void fuzz_seckey(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	const char *path = fz_write("key", data, size);
	struct sig_key *k = sig_key_load(path, no_password, NULL, &err);

	check_err(k == NULL ? -1 : 0, &err);
	if (k != NULL && (sig_key_algorithm(k) == NULL || sig_key_id(k) == NULL))
		abort();
	sig_key_free(k);
}

static void fuzz_parts(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	struct bundle_reader r;
	const char *path;
	json_t *m = NULL;
	int rc;

	payload_path();
	path = fz_write("site.tar.zst.parts.json", data, size);
	rc = bundle_reader_open(&r, path, &err);
	check_err(rc, &err);
	if (rc != 0)
		return;
	{
		unsigned char buf[64];
		int64_t got = bundle_pread(&r, buf, sizeof(buf), r.size > 10 ? r.size - 10 : 0, &err);
		if (got < 0 || (uint64_t)got > r.size)
			abort();
	}
	bundle_reader_close(&r);
	err.code = 0;
	err.msg[0] = '\0';
	rc = verify_bundle(path, 1u << 20, 1, 1, &m, NULL, &err);
	check_err(rc, &err);
	json_decref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fz_dir();
	switch (data[0] % 4) {
	case 0: fuzz_minisig(data + 1, size - 1); break;
	case 1: fuzz_pubkey(data + 1, size - 1); break;
	case 2: fuzz_seckey(data + 1, size - 1); break;
	default: fuzz_parts(data + 1, size - 1); break;
	}
	return 0;
}
