/*
 * The front end (cmd/fe/, libedge_fe.a): what every tool's main() shares:
 * program name, common options (-h -q -v --version --progress), usage
 * errors (exit 2), reading the manifest from a file or stdin, writing it to
 * stdout, and checking stdout's close. common/ never prints (but through
 * log.c) nor exits; this is where a tool does.
 */
#ifndef EDGE_CLI_H
#define EDGE_CLI_H

#include <getopt.h>
#include <jansson.h>
#include "err.h"
#include "http.h"

enum {
	CLI_OPT_VERSION = 0x1000,
	CLI_OPT_PROGRESS,
	CLI_OPT_TIMEOUT,
	CLI_OPT_STALL_TIMEOUT,
	CLI_OPT_CONNECT_TIMEOUT,
	CLI_OPT_FIRST_TOOL = 0x1100, /* tools number their long-only options from here */
};

/* Long options every tool accepts; put CLI_COMMON_LONGOPTS in each table. */
#define CLI_COMMON_LONGOPTS                                            \
	{"help", no_argument, NULL, 'h'},                              \
	{"quiet", no_argument, NULL, 'q'},                             \
	{"verbose", no_argument, NULL, 'v'},                           \
	{"version", no_argument, NULL, CLI_OPT_VERSION}
#define CLI_PROGRESS_LONGOPT {"progress", required_argument, NULL, CLI_OPT_PROGRESS}
#define CLI_COMMON_SHORTOPTS "hqv"

/* Their --help lines: CLI_COMMON_HELP("what -v prints") ends the options. */
#define CLI_PROGRESS_HELP                                                             \
	"      --progress WHEN       progress line: auto (on a terminal), always, never\n"
#define CLI_COMMON_HELP(verbose)                                                      \
	"  -q, --quiet               print errors only\n"                                \
	"  -v, --verbose             " verbose "\n"                                      \
	"  -h, --help                print this help and exit\n"                         \
	"      --version             print the version and exit\n"

/* The time limits of every networked tool (SPEC §9): put
 * CLI_TIMEOUT_LONGOPTS in its table and CLI_TIMEOUT_HELP in its --help. */
#define CLI_TIMEOUT_LONGOPTS                                                 \
	{"connect-timeout", required_argument, NULL, CLI_OPT_CONNECT_TIMEOUT}, \
	{"stall-timeout", required_argument, NULL, CLI_OPT_STALL_TIMEOUT},     \
	{"timeout", required_argument, NULL, CLI_OPT_TIMEOUT}
#define CLI_TIMEOUT_STR_(x) #x
#define CLI_TIMEOUT_STR(x) CLI_TIMEOUT_STR_(x)
#define CLI_TIMEOUT_HELP                                                                     \
	"      --timeout SECONDS     give up one attempt of a request after SECONDS, and\n"     \
	"                            retry it (default 0: no limit)\n"                          \
	"      --stall-timeout SECONDS\n"                                                      \
	"                            give up an attempt that moves less than 1 KiB/s for\n"    \
	"                            SECONDS, and retry it (default "                           \
	CLI_TIMEOUT_STR(HTTP_DEFAULT_STALL_TIMEOUT_S) ")\n"                                     \
	"      --connect-timeout SECONDS\n"                                                    \
	"                            give up a connection not made within SECONDS, and\n"      \
	"                            retry (default " CLI_TIMEOUT_STR(HTTP_DEFAULT_CONNECT_TIMEOUT_S) ")\n"

/* Handles --timeout, --stall-timeout and --connect-timeout into o (usage
 * error on a bad value). Returns 1 when c was one of them, else 0. */
int cli_timeout_option(int c, const char *arg, struct http_opts *o);

/* Core dumps off for the rest of the run (RLIMIT_CORE 0, and
 * PR_SET_DUMPABLE 0, which also keeps other users' debuggers out): call it
 * first in every tool that will hold a secret (a password, a token, an API
 * key, a secret key), so that a crash never writes one to disk. Warns when
 * the system refuses. */
void cli_protect_secrets(void);

enum cli_progress { CLI_PROGRESS_AUTO, CLI_PROGRESS_ALWAYS, CLI_PROGRESS_NEVER };

/* Sets the program name, the one-line synopsis shown on usage errors, the
 * full --help text, and signal handlers that remove temp files on SIGINT,
 * SIGTERM and SIGHUP. */
void cli_init(const char *progname, const char *synopsis, const char *help);

/* Installs handler for SIGINT, SIGTERM and SIGHUP (cli_init's removes the
 * temp files and ends the program; a server may want a flag instead). */
void cli_on_signals(void (*handler)(int));

/* Handles -h, -q, -v, --version, --progress. Returns 1 when c was one of
 * them (and may exit for -h/--version), 0 otherwise. */
int cli_common_option(int c, const char *arg);

/* Reports an unknown option or bad argument: message, synopsis and
 * "try 'edge-X --help'" on stderr, exit 2. fmt may be NULL. */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number parsing for option values; usage error when out of range. */
long cli_parse_long(const char *opt, const char *s, long min, long max);
/* Parses sizes like 64M, 4G, 512K, 1000 (binary units). Usage error on bad input. */
long long cli_parse_size(const char *opt, const char *s);

/* How to show progress: 1 a redrawn bar (stderr a terminal, or
 * --progress=always), 0 a plain line at most every 5 s, -1 nothing
 * (--progress=never, -q). */
int cli_progress_tty(void);

/* Prints the error (edge-X: msg) and returns its exit code (never 0). A
 * usage error (EDGE_EUSAGE: a bad option value, a missing input, stdin a
 * terminal) is followed by the synopsis and "try 'edge-X --help'". */
int cli_fail(const struct edge_err *err);
/* The same without the usage lines, whatever the class: for the errors of
 * a run the command line has already started (an image no --mapping rule
 * covers, a key that needs a password), which more options would not fix. */
int cli_report(const struct edge_err *err);

/* Loads the manifest from path, or stdin when path is NULL or "-". Refuses a
 * terminal on stdin. Validates it (manifest_validate). */
json_t *cli_load_manifest(const char *path, struct edge_err *err);

/* Writes the manifest to stdout (pretty, newline-terminated). Returns
 * EDGE_OK, or reports the failure and returns its exit code: a tool ends
 * with `rc = cli_print_manifest(m);`. */
int cli_print_manifest(json_t *m);

/* Flushes and closes stdout; on failure prints an error and returns
 * EDGE_EIO, else returns rc. Call as `return cli_finish(rc);`. */
int cli_finish(int rc);

/* Reads a secret (first line, trailing newline removed) from a file; warns
 * when the file is readable by others. malloc'd; wipe with cli_secret_free. */
char *cli_read_secret_file(const char *path, struct edge_err *err);
void cli_secret_free(char *s);

/* A secret from the environment (NULL when unset): a malloc'd copy; the
 * variable's value is wiped and the variable removed, so that neither
 * /proc/PID/environ nor a child process (a credential helper) sees it.
 * Wipe the copy with cli_secret_free. */
char *cli_take_secret_env(const char *name);

/* The one optional positional argument after the options (NULL when none);
 * more than one is a usage error. Call after getopt_long. */
const char *cli_one_argument(int argc, char **argv);

#endif
