/*
 * What edge-serve parses itself (libmicrohttpd parses the HTTP): the
 * Range and Accept header values a client sends, and the --htpasswd file.
 *
 * First byte:
 *   bits 0-1  0: the rest is a Range header value, against blob sizes
 *                0, 1, 1000, the rest's length and 2^63;
 *             1: the rest is an Accept header value, asked about every
 *                media type edge-serve serves;
 *             2: the rest is an htpasswd file; a user of it (the second
 *                line's, when there is one) is checked with a wrong
 *                password;
 *             3: as 0, with a "bytes=" prefix put before the rest.
 * Invariants: a range taken lies inside the blob (first <= last < size);
 * no header, the range of all types and a header that names the type
 * itself accept it; a failed load has an exit class and a one-line
 * message; a wrong password never passes.
 */
#include <stdint.h>

#include "fuzzutil.h"
#include "oci.h"
#include "serve.h"

static void fuzz_range(const char *h)
{
	uint64_t sizes[] = {0, 1, 1000, strlen(h), UINT64_C(1) << 63}, first, last;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int rc = serve_parse_range(h, sizes[i], &first, &last);
		if (rc < -1 || rc > 1 || (rc == 1 && (first > last || last >= sizes[i]))) {
			fprintf(stderr, "range \"%s\" of %llu bytes: %d [%llu, %llu]\n", h, (unsigned long long)sizes[i], rc,
				(unsigned long long)first, (unsigned long long)last);
			abort();
		}
	}
}

static void fuzz_accept(const char *h)
{
	static const char *const types[] = {MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST,
					    "application/octet-stream", "application/json"};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int rc = serve_accepts(h, types[i]);
		if (rc != 0 && rc != 1)
			abort();
		if (rc == 0 && (strcmp(h, "*/*") == 0 || strcmp(h, types[i]) == 0)) {
			fprintf(stderr, "\"%s\" does not accept %s\n", h, types[i]);
			abort();
		}
	}
	if (serve_accepts(NULL, types[0]) != 1)
		abort();
}

static void fuzz_htpasswd(const uint8_t *data, size_t size)
{
	struct edge_err err = {0};
	struct serve_htpasswd *h = NULL;
	char *text, *line, *save = NULL, *data0;
	int checked = 0;

	if (serve_htpasswd_load(fz_write("htpasswd", data, size), &h, &err) != 0) {
		if (h != NULL || err.code == 0 || err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
			abort();
		return;
	}
	/* its users, with a wrong password; bcrypt's work is 2^cost rounds,
	 * so only users whose entry (the first with the name: the one the
	 * check uses) has cost 04, the least, are checked */
	text = fz_strndup(data, size);
	data0 = fz_strndup(data, size);
	for (line = strtok_r(text, "\n", &save); line != NULL && checked < 4; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *before;
		int first = 1;
		if (colon == NULL || strncmp(colon + 1, "$2", 2) != 0 || strncmp(colon + 4, "$04$", 4) != 0)
			continue;
		*colon = '\0';
		/* an earlier line for the same user? (the text before this line, unsplit) */
		for (before = strstr(data0, line); before != NULL && before < data0 + (line - text); before = strstr(before + 1, line))
			if ((before == data0 || before[-1] == '\n') && before[strlen(line)] == ':')
				first = 0;
		if (!first)
			continue;
		if (serve_htpasswd_check(h, line, "not the password") != 0) {
			fprintf(stderr, "user %s passed with a wrong password\n", line);
			abort();
		}
		checked++;
	}
	free(text);
	free(data0);
	serve_htpasswd_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	fz_dir();
	switch (data[0] & 3) {
	case 0:
		s = fz_strndup(data + 1, size - 1);
		fuzz_range(s);
		free(s);
		break;
	case 1:
		s = fz_strndup(data + 1, size - 1);
		fuzz_accept(s);
		free(s);
		break;
	case 2:
		fuzz_htpasswd(data + 1, size - 1);
		break;
	default:
		s = malloc(size + 6);
		if (s == NULL)
			abort();
		memcpy(s, "bytes=", 6);
		memcpy(s + 6, data + 1, size - 1);
		s[size + 5] = '\0';
		fuzz_range(s);
		free(s);
		break;
	}
	return 0;
}
