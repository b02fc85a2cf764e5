/*
 * Helpers shared by the libFuzzer targets in tests/fuzz/. Most of edge's
 * parsers read files (bundles, keys, credential files), so a target writes
 * its input into a private temporary directory and hands the library a
 * path, as a tool would.
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a fuzzer (make fuzz); built with replay.c it is a
 * plain program that runs the committed corpus once (make test), so every
 * crash found stays a regression test also where clang is missing.
 */
#ifndef EDGE_FUZZUTIL_H
#define EDGE_FUZZUTIL_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The target's temporary directory, made on first use (under $TMPDIR, else
 * /tmp) and removed at exit. */
static char fz_dirbuf[256];
static char fz_paths[16][512];
static int fz_npaths;

__attribute__((unused)) static void fz_cleanup(void)
{
	int i;

	for (i = 0; i < fz_npaths; i++)
		unlink(fz_paths[i]);
	if (fz_dirbuf[0])
		rmdir(fz_dirbuf);
}

__attribute__((unused)) static const char *fz_dir(void)
{
	if (fz_dirbuf[0] == '\0') {
		const char *t = getenv("TMPDIR");
		snprintf(fz_dirbuf, sizeof(fz_dirbuf), "%s/edge-fuzz-XXXXXX", t && *t ? t : "/tmp");
		if (mkdtemp(fz_dirbuf) == NULL) {
			perror("mkdtemp");
			abort();
		}
		edge_log_init("edge-fuzz");
		edge_log_set_verbosity(-2); /* the library's warnings are noise here */
		atexit(fz_cleanup);
	}
	return fz_dirbuf;
}

/* Writes n bytes to DIR/name (replacing it) and returns the path, valid
 * until the next call with another name... the paths are kept per name. */
__attribute__((unused)) static const char *fz_write(const char *name, const void *data, size_t n)
{
	char path[512];
	int fd, i;
	size_t done = 0;

	snprintf(path, sizeof(path), "%s/%s", fz_dir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (done < n) {
		ssize_t w = write(fd, (const char *)data + done, n - done);
		if (w <= 0) {
			perror(path);
			abort();
		}
		done += (size_t)w;
	}
	close(fd);
	for (i = 0; i < fz_npaths; i++)
		if (strcmp(fz_paths[i], path) == 0)
			return fz_paths[i];
	if (fz_npaths == (int)(sizeof(fz_paths) / sizeof(fz_paths[0])))
		abort();
	snprintf(fz_paths[fz_npaths], sizeof(fz_paths[0]), "%s", path);
	return fz_paths[fz_npaths++];
}

/* With $EDGE_FUZZ_DEBUG set, says what a step gave (to see how far an
 * input gets: tests/fuzz/README). */
__attribute__((unused)) static void fz_debug(const char *step, int rc, const char *msg)
{
	if (getenv("EDGE_FUZZ_DEBUG") != NULL)
		fprintf(stderr, "  %s: %s%s\n", step, rc == 0 ? "ok" : "error: ", rc == 0 ? "" : msg);
}

/* A NUL-terminated copy of the input (the fuzzer's buffer has none). */
__attribute__((unused)) static char *fz_strndup(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

#endif
