#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "version.h"


static const char *g_synopsis = "";
static const char *g_help = "";
static int g_verbosity;
static enum cli_progress g_progress = CLI_PROGRESS_AUTO;

static void on_signal(int sig)
{
	cleanup_run();
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_on_signals(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void cli_init(const char *progname, const char *synopsis, const char *help)
{
	edge_log_init(progname);
	json_limits_init(); /* before any thread: jansson's allocations are counted */
	g_synopsis = synopsis;
	g_help = help;
	cli_on_signals(on_signal);
}

int cli_common_option(int c, const char *arg)
{
	switch (c) {
	case 'h':
		fputs(g_help, stdout);
		exit(cli_finish(0));
	case 'q':
		g_verbosity = -1;
		edge_log_set_verbosity(g_verbosity);
		return 1;
	case 'v':
		if (g_verbosity < 0)
			g_verbosity = 0;
		g_verbosity++;
		edge_log_set_verbosity(g_verbosity);
		return 1;
	case CLI_OPT_VERSION:
		printf("%s %s\n", edge_progname(), edge_version);
		exit(cli_finish(0));
	case CLI_OPT_PROGRESS:
		if (strcmp(arg, "auto") == 0)
			g_progress = CLI_PROGRESS_AUTO;
		else if (strcmp(arg, "always") == 0)
			g_progress = CLI_PROGRESS_ALWAYS;
		else if (strcmp(arg, "never") == 0)
			g_progress = CLI_PROGRESS_NEVER;
		else
			cli_usage_error("--progress: expected auto, always or never, got '%s'", arg);
		return 1;
	case '?':
		/* getopt_long already printed what was wrong */
		cli_usage_error(NULL);
	case ':':
		cli_usage_error(NULL);
	default:
		return 0;
	}
}

static void usage_hint(void)
{
	fprintf(stderr, "usage: %s\ntry '%s --help'\n", g_synopsis, edge_progname());
}

void cli_usage_error(const char *fmt, ...)
{
	if (fmt != NULL) {
		char msg[1024];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		fprintf(stderr, "%s: %s\n", edge_progname(), msg);
	}
	usage_hint();
	exit(EDGE_EUSAGE);
}

long cli_parse_long(const char *opt, const char *s, long min, long max)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		cli_usage_error("%s: expected a whole number from %ld to %ld, got '%s'", opt, min, max, s);
	return v;
}

long long cli_parse_size(const char *opt, const char *s)
{
	char *end = NULL;
	unsigned long long v, mul = 1;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		cli_usage_error("%s: expected a size such as 64M or 4G, got '%s'", opt, s);
	v = strtoull(s, &end, 10);
	if (errno != 0)
		cli_usage_error("%s: expected a size such as 64M or 4G, got '%s'", opt, s);
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	default:
		cli_usage_error("%s: expected a size such as 64M or 4G, got '%s'", opt, s);
	}
	if ((*end == 'i' || *end == 'I') && mul > 1)
		end++;
	if ((*end == 'b' || *end == 'B'))
		end++;
	if (*end != '\0' || v == 0 || v > (unsigned long long)(1LL << 62) / mul)
		cli_usage_error("%s: expected a size such as 64M or 4G, got '%s'", opt, s);
	return (long long)(v * mul);
}

int cli_timeout_option(int c, const char *arg, struct http_opts *o)
{
	switch (c) {
	case CLI_OPT_TIMEOUT:
		o->timeout_ms = cli_parse_long("--timeout", arg, 0, 7 * 86400) * 1000;
		return 1;
	case CLI_OPT_STALL_TIMEOUT:
		o->low_speed_time_s = cli_parse_long("--stall-timeout", arg, 1, 86400);
		return 1;
	case CLI_OPT_CONNECT_TIMEOUT:
		o->connect_timeout_ms = cli_parse_long("--connect-timeout", arg, 1, 3600) * 1000;
		return 1;
	default:
		return 0;
	}
}

void cli_protect_secrets(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		log_warn("cannot turn core dumps off: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("cannot make the process undumpable: %s", strerror(errno));
}

int cli_progress_tty(void)
{
	if (g_progress == CLI_PROGRESS_ALWAYS)
		return 1;
	if (g_progress == CLI_PROGRESS_NEVER || g_verbosity < 0)
		return -1;
	return isatty(2) ? 1 : 0;
}

int cli_report(const struct edge_err *err)
{
	log_error("%s", err->msg[0] ? err->msg : "unknown error");
	return err->code ? err->code : EDGE_EIO;
}

int cli_fail(const struct edge_err *err)
{
	int rc = cli_report(err);

	if (rc == EDGE_EUSAGE)
		usage_hint();
	return rc;
}

json_t *cli_load_manifest(const char *path, struct edge_err *err)
{
	if ((path == NULL || strcmp(path, "-") == 0) && isatty(0)) {
		edge_errf(err, EDGE_EUSAGE, "stdin is a terminal, expected a manifest");
		return NULL;
	}
	return manifest_load(path, err);
}

int cli_print_manifest(json_t *m)
{
	struct edge_err err = {0};
	size_t len;
	char *text = manifest_text(m, &len, &err);
	int rc;

	if (text == NULL)
		return cli_report(&err);
	rc = fwrite(text, 1, len, stdout) == len ? EDGE_OK : edge_err_errno(&err, "write error on stdout");
	free(text);
	return rc == EDGE_OK ? EDGE_OK : cli_report(&err);
}

int cli_finish(int rc)
{
	int bad = 0;

	if (fflush(stdout) != 0 || ferror(stdout))
		bad = 1;
	if (fclose(stdout) != 0 && errno != EBADF)
		bad = 1;
	if (bad) {
		/* a failure already reported (e.g. the manifest's write) is enough */
		if (rc == 0)
			log_error("write error on stdout: %s", strerror(errno ? errno : EIO));
		return rc ? rc : EDGE_EIO;
	}
	return rc;
}

char *cli_read_secret_file(const char *path, struct edge_err *err)
{
	struct stat st;
	size_t len;
	char *data;

	if (read_file_max(path, 1 << 20, &data, &len, err) != 0)
		return NULL;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0004))
		log_warn("%s: secret file is readable by others", path);
	if (memchr(data, '\0', len) != NULL) {
		cli_secret_free(data);
		edge_errf(err, EDGE_EINPUT, "%s: secret file holds a NUL byte", path);
		return NULL;
	}
	data[strcspn(data, "\r\n")] = '\0';
	return data;
}

void cli_secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

char *cli_take_secret_env(const char *name)
{
	char *v = getenv(name), *copy;

	if (v == NULL)
		return NULL;
	copy = xstrdup(v);
	explicit_bzero(v, strlen(v));
	unsetenv(name);
	return copy;
}

const char *cli_one_argument(int argc, char **argv)
{
	const char *arg = NULL;

	if (optind < argc)
		arg = argv[optind++];
	if (optind < argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	return arg;
}
