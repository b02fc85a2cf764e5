/* Unit tests for what registry.c parses from a registry and its token
 * server: WWW-Authenticate challenges and token replies (cases found by
 * fuzz_auth: a token with a space or a newline went into the Authorization
 * header; a huge expires_in overflowed the expiry time). TAP output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "tap.h"

static void token_case(const char *desc, const char *body, int want_rc, const char *want_tok, long long want_ttl)
{
	char *tok = NULL, got[256];
	long long ttl = -1;
	int rc = registry_parse_token(body, strlen(body), &tok, &ttl);

	snprintf(got, sizeof(got), "rc %d, token %s, ttl %lld", rc, tok ? tok : "(none)", ttl);
	ok(rc == want_rc && (want_rc != 0 || (strcmp(tok, want_tok) == 0 && ttl == want_ttl)) &&
		   (want_rc == 0 || tok == NULL),
	   desc, got, want_tok ? want_tok : "(refused)");
	free(tok);
}

int main(void)
{
	char *realm = NULL, *service = NULL;
	int bearer = -1, rc;

	plan(10);
	token_case("token reply: token and expires_in", "{\"token\":\"abc.def\",\"expires_in\":300}", 0, "abc.def", 300);
	token_case("token reply: access_token, default lifetime", "{\"access_token\":\"x-y_z~+/=\"}", 0, "x-y_z~+/=", 60);
	token_case("token reply: an empty token falls back to access_token", "{\"token\":\"\",\"access_token\":\"t\"}",
		   0, "t", 60);
	token_case("token reply: a token with a space is refused", "{\"token\":\"eyJ.r reaig\"}", -1, NULL, 0);
	token_case("token reply: a token with CR LF is refused",
		   "{\"token\":\"a\\r\\nX-Injected: 1\"}", -1, NULL, 0);
	token_case("token reply: a huge expires_in is capped", "{\"token\":\"t\",\"expires_in\":9223372036854775807}", 0,
		   "t", REGISTRY_TOKEN_TTL_MAX);
	token_case("token reply: no token", "{\"expires_in\":5}", -1, NULL, 0);
	rc = registry_parse_challenge("Bearer realm=\"https://auth/token\",service=\"reg\",scope=\"x\"", &bearer, &realm,
				      &service);
	ok(rc == 0 && bearer == 1 && strcmp(realm, "https://auth/token") == 0 && strcmp(service, "reg") == 0,
	   "challenge: Bearer realm and service", realm, "https://auth/token");
	free(realm);
	free(service);
	rc = registry_parse_challenge("basic realm=x", &bearer, &realm, &service);
	ok(rc == 0 && bearer == 0 && realm && strcmp(realm, "x") == 0, "challenge: Basic, any case", realm, "x");
	free(realm);
	free(service);
	ok(registry_parse_challenge("Negotiate", &bearer, &realm, &service) == -1 && realm == NULL,
	   "challenge: another scheme is refused", "", "");
	return done_testing();
}
