/*
 * The registry options edge-pull, edge-push and edge-verify share (SPEC §8
 * "Shared registry options"): parsing, and turning them into credentials
 * and HTTP settings, and edge-push's --registry and --mapping. Part of the
 * front end: may print usage errors.
 */
#ifndef EDGE_REGCLI_H
#define EDGE_REGCLI_H

#include <getopt.h>
#include "cli.h"
#include "creds.h"
#include "err.h"
#include "http.h"
#include "push.h"

enum {
	REG_OPT_USERNAME = 0x1200,
	REG_OPT_PASSWORD_STDIN,
	REG_OPT_PASSWORD_FILE,
	REG_OPT_CRED_FILE,
	REG_OPT_CA_FILE,
	REG_OPT_INSECURE,
	REG_OPT_INSECURE_HOST,
	REG_OPT_PLAIN_HTTP,
	REG_OPT_PLAIN_HTTP_HOST,
	REG_OPT_RETRIES,
	REG_OPT_JOBS,
	REG_OPT_MAPPING,
	REG_OPT_REGISTRY,
};

#define REGCLI_LONGOPTS                                                            \
	{"ca-file", required_argument, NULL, REG_OPT_CA_FILE},                     \
	{"cred-file", required_argument, NULL, REG_OPT_CRED_FILE},                 \
	{"insecure", no_argument, NULL, REG_OPT_INSECURE},                         \
	{"insecure-host", required_argument, NULL, REG_OPT_INSECURE_HOST},         \
	{"jobs", required_argument, NULL, REG_OPT_JOBS},                           \
	{"password-file", required_argument, NULL, REG_OPT_PASSWORD_FILE},         \
	{"password-stdin", no_argument, NULL, REG_OPT_PASSWORD_STDIN},             \
	{"plain-http", no_argument, NULL, REG_OPT_PLAIN_HTTP},                     \
	{"plain-http-host", required_argument, NULL, REG_OPT_PLAIN_HTTP_HOST},     \
	{"retries", required_argument, NULL, REG_OPT_RETRIES},                     \
	{"username", required_argument, NULL, REG_OPT_USERNAME},                   \
	CLI_TIMEOUT_LONGOPTS

/* Where edge-push (and edge-verify --registry) send images: --mapping and
 * --registry into a struct push_opts, by regcli_target_option. */
#define REGCLI_TARGET_LONGOPTS                                                     \
	{"mapping", required_argument, NULL, REG_OPT_MAPPING},                     \
	{"registry", required_argument, NULL, REG_OPT_REGISTRY}

/* The --help lines for these options (REGCLI_HELP: all of them). */
#define REGCLI_HELP_ACCESS                                                                   \
	"      --username USER       user name for the registry named by --registry\n"          \
	"      --password-stdin      read that user's password from stdin\n"                     \
	"      --password-file FILE  read that user's password from FILE\n"                      \
	"                            (else $EDGE_REGISTRY_PASSWORD)\n"                           \
	"      --cred-file FILE      Palette credentials file {\"image\":[…],\"helm\":[…]}\n"    \
	"      --ca-file FILE        trust the CA certificates in FILE as well\n"                \
	"      --insecure            do not verify registries' TLS certificates\n"               \
	"      --insecure-host HOST  do not verify HOST[:PORT]'s certificate (repeatable)\n"    \
	"      --plain-http          talk plain HTTP to registries (no TLS at all)\n"          \
	"      --plain-http-host HOST\n"                                                        \
	"                            talk plain HTTP to HOST[:PORT] only (repeatable)\n"
#define REGCLI_HELP_RETRIES                                                                  \
	"      --retries N           retries on network errors, 429 and 5xx (default 5)\n"      \
	CLI_TIMEOUT_HELP
#define REGCLI_HELP                                                                          \
	REGCLI_HELP_ACCESS                                                                   \
	"      --jobs N              concurrent transfers (default %d)\n"                        \
	REGCLI_HELP_RETRIES

#define REGCLI_MAX_HOSTS 32

struct regcli {
	const char *username;
	int password_stdin;
	const char *password_file;
	const char *cred_file;
	const char *ca_file;
	int insecure;
	int plain_http;
	/* --plain-http-host, --insecure-host and --mirror's schemes: hosts
	 * points into the arrays below (no allocation: it lives as long as
	 * the struct) */
	struct http_hosts hosts;
	char *plain_v[REGCLI_MAX_HOSTS], *tls_v[REGCLI_MAX_HOSTS], *insecure_v[REGCLI_MAX_HOSTS];
	char hostbuf[3 * REGCLI_MAX_HOSTS][256];
	size_t nhostbuf;
	int retries;
	int jobs;
	struct http_opts timeouts; /* --timeout, --stall-timeout, --connect-timeout */
};

/* Sets defaults (jobs as given). The struct must not move afterwards
 * (hosts points into it). */
void regcli_init(struct regcli *r, int default_jobs);
/* Handles one option; 1 when it was a registry option. */
int regcli_option(struct regcli *r, int c, const char *arg);
/* Credentials (after the usage errors: exits when a file option names a
 * file that cannot be read): --username with its password for host (may be NULL: then
 * --username is a usage error), --cred-file, $REGISTRY_AUTH_FILE and the
 * docker config. NULL with err on a bad file. */
struct cred_store *regcli_creds(const struct regcli *r, const char *host, struct edge_err *err);
/* Fills o from the options; o->hosts points into r. */
void regcli_http_opts(const struct regcli *r, struct http_opts *o);
/* Parses edge-pull's --mirror REG=[http://|https://]HOST[:PORT][/PATH]
 * into *reg and *mirror (malloc'd; the mirror without its scheme): http://
 * means plain HTTP for that mirror alone, https:// TLS even with
 * --plain-http. A usage error (exit 2) for another scheme or a bad form. */
void regcli_mirror(struct regcli *r, const char *arg, char **reg, char **mirror);
/* Handles --registry and --mapping into o (a usage error on a bad
 * mapping); 1 when c was one of them. */
int regcli_target_option(struct push_opts *o, int c, const char *arg);

#endif
