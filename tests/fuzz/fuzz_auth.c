/*
 * What a registry, a token server or a credentials file says about
 * authentication: WWW-Authenticate challenges (registry_parse_challenge),
 * token replies (registry_parse_token), docker/containers auth files
 * (cred_store_load_auth_file) and Palette's --cred-file
 * (cred_store_load_palette), each followed by lookups; and the log
 * redaction of headers and URLs a registry sends.
 *
 * First byte modulo 5 selects: 0 challenge, 1 token reply, 2 auth file,
 * 3 Palette creds file, 4 header/URL redaction.
 * Invariants: a token fit to go into an Authorization header (visible
 * ASCII, no spaces) and a lifetime that cannot overflow the expiry time;
 * a failed load sets an exit class and a message that does not quote the
 * file's secrets.
 */
#include "creds.h"
#include "fuzzutil.h"
#include "http.h"
#include "registry.h"

static const char *const image_hosts[] = {"docker.io", "quay.io", "127.0.0.1:5000", "[::1]:5000", "ghcr.io"};
static const char *const helm_urls[] = {"https://charts.example.com/stable", "oci://ghcr.io/org/charts",
					"http://127.0.0.1:8080/", "https://charts.example.com"};

static void fuzz_challenge(const uint8_t *data, size_t size)
{
	char *h = fz_strndup(data, size), *realm = NULL, *service = NULL;
	int bearer = -1;

	if (registry_parse_challenge(h, &bearer, &realm, &service) == 0 && bearer != 0 && bearer != 1)
		abort();
	free(realm);
	free(service);
	free(h);
}

static void fuzz_token(const uint8_t *data, size_t size)
{
	char *tok = NULL;
	long long ttl = 0;
	const char *p;

	if (registry_parse_token((const char *)data, size, &tok, &ttl) != 0) {
		if (tok != NULL)
			abort();
		return;
	}
	for (p = tok; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			fprintf(stderr, "token with byte 0x%02x would go into a header\n", (unsigned char)*p);
			abort();
		}
	if (tok[0] == '\0' || ttl <= 0 || ttl > (1LL << 40)) {
		fprintf(stderr, "token lifetime %lld s\n", ttl);
		abort();
	}
	free(tok);
}

static void lookups(struct cred_store *s)
{
	struct edge_err err = {0};
	struct cred c;
	size_t i;

	for (i = 0; i < sizeof(image_hosts) / sizeof(image_hosts[0]); i++) {
		if (cred_store_lookup(s, CRED_IMAGE, image_hosts[i], &c, &err) == 0) {
			char *b = cred_basic_token(&c);
			free(b);
		}
		cred_free(&c);
	}
	for (i = 0; i < sizeof(helm_urls) / sizeof(helm_urls[0]); i++) {
		cred_store_lookup(s, CRED_HELM, helm_urls[i], &c, &err);
		cred_free(&c);
	}
}

static void fuzz_creds(const uint8_t *data, size_t size, int palette)
{
	struct edge_err err = {0};
	struct cred_store *s = cred_store_new();
	const char *path = fz_write(palette ? "creds.json" : "config.json", data, size);
	int rc;

	cred_store_set_helper_timeout(s, 1000);
	rc = palette ? cred_store_load_palette(s, path, &err) : cred_store_load_auth_file(s, path, &err);
	if (rc != 0 && (err.code == 0 || err.msg[0] == '\0' || strpbrk(err.msg, "\r\n") != NULL)) {
		fprintf(stderr, "bad error: code %d, message \"%s\"\n", err.code, err.msg);
		abort();
	}
	if (rc == 0)
		lookups(s);
	cred_store_free(s);
}

static void fuzz_redact(const uint8_t *data, size_t size)
{
	char *s = fz_strndup(data, size), *a = http_redact_header(s), *b = http_redact_url(s);

	free(a);
	free(b);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (fz_dir() && getenv("EDGE_FUZZ_PATH_SET") == NULL) {
		/* no docker-credential-* helper may be found and run */
		setenv("PATH", fz_dir(), 1);
		setenv("EDGE_FUZZ_PATH_SET", "1", 1);
	}
	switch (data[0] % 5) {
	case 0: fuzz_challenge(data + 1, size - 1); break;
	case 1: fuzz_token(data + 1, size - 1); break;
	case 2: fuzz_creds(data + 1, size - 1, 0); break;
	case 3: fuzz_creds(data + 1, size - 1, 1); break;
	default: fuzz_redact(data + 1, size - 1); break;
	}
	return 0;
}
