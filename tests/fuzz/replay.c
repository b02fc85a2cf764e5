/*
 * Runs a fuzz target once over each file of its committed corpus, without
 * libFuzzer: built by make test with the normal compiler (and sanitizers
 * under SANITIZE=1), so every crash input kept in tests/fuzz/corpus/ is a
 * regression test on every machine. TAP on stdout, one line per file.
 *
 * Built as: cc -DFUZZ_NAME='"fuzz_x"' -DFUZZ_SOURCE='"fuzz_x.c"' replay.c
 * Usage: replay_fuzz_x [FILE|DIR...]  (default tests/fuzz/corpus/fuzz_x)
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include FUZZ_SOURCE

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add(char ***v, size_t *n, const char *path)
{
	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (*v == NULL || ((*v)[*n] = strdup(path)) == NULL)
		abort();
	(*n)++;
}

static void collect(const char *path, char ***v, size_t *n)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char p[4096];

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		add(v, n, path);
		return;
	}
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		add(v, n, p);
	}
	closedir(d);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t len = 0, cap = 0, got;

	if (f == NULL)
		return -1;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((data = realloc(data, cap)) == NULL)
				abort();
		}
		got = fread(data + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	/* a copy of exactly len bytes, so reads past the end are caught */
	{
		unsigned char *exact = malloc(len ? len : 1);
		if (exact == NULL)
			abort();
		memcpy(exact, data, len);
		free(data);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char **files = NULL;
	size_t n = 0, i;
	int k, failed = 0;

	if (argc < 2)
		collect("tests/fuzz/corpus/" FUZZ_NAME, &files, &n);
	for (k = 1; k < argc; k++)
		collect(argv[k], &files, &n);
	qsort(files, n, sizeof(*files), cmp);
	printf("1..%zu\n", n);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		/* said before the run, so a crash names its input */
		fprintf(stderr, "%s: %s\n", FUZZ_NAME, files[i]);
		if (run_file(files[i]) != 0) {
			printf("not ok %zu - %s %s: %s\n", i + 1, FUZZ_NAME, files[i], strerror(errno));
			failed = 1;
		} else {
			printf("ok %zu - %s %s\n", i + 1, FUZZ_NAME, files[i]);
		}
		fflush(stdout);
		free(files[i]);
	}
	free(files);
	return failed;
}
