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
	REG_OPT_PLAIN_HTTP,
	REG_OPT_RETRIES,
	REG_OPT_JOBS,
	REG_OPT_MAPPING,
	REG_OPT_REGISTRY,
};

#define REGCLI_LONGOPTS                                                            \
	{"ca-file", required_argument, NULL, REG_OPT_CA_FILE},                     \
	{"cred-file", required_argument, NULL, REG_OPT_CRED_FILE},                 \
	{"insecure", no_argument, NULL, REG_OPT_INSECURE},                         \
	{"jobs", required_argument, NULL, REG_OPT_JOBS},                           \
	{"password-file", required_argument, NULL, REG_OPT_PASSWORD_FILE},         \
	{"password-stdin", no_argument, NULL, REG_OPT_PASSWORD_STDIN},             \
	{"plain-http", no_argument, NULL, REG_OPT_PLAIN_HTTP},                     \
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
	"      --plain-http          talk plain HTTP to registries (no TLS at all)\n"
#define REGCLI_HELP_RETRIES                                                                  \
	"      --retries N           retries on network errors, 429 and 5xx (default 5)\n"      \
	CLI_TIMEOUT_HELP
#define REGCLI_HELP                                                                          \
	REGCLI_HELP_ACCESS                                                                   \
	"      --jobs N              concurrent transfers (default %d)\n"                        \
	REGCLI_HELP_RETRIES

struct regcli {
	const char *username;
	int password_stdin;
	const char *password_file;
	const char *cred_file;
	const char *ca_file;
	int insecure;
	int plain_http;
	int retries;
	int jobs;
	struct http_opts timeouts; /* --timeout, --stall-timeout, --connect-timeout */
};

/* Sets defaults (jobs as given). */
void regcli_init(struct regcli *r, int default_jobs);
/* Handles one option; 1 when it was a registry option. */
int regcli_option(struct regcli *r, int c, const char *arg);
/* Credentials: --username with its password for host (may be NULL: then
 * --username is a usage error), --cred-file, $REGISTRY_AUTH_FILE and the
 * docker config. NULL with err on a bad file. */
struct cred_store *regcli_creds(const struct regcli *r, const char *host, struct edge_err *err);
void regcli_http_opts(const struct regcli *r, struct http_opts *o);
/* Handles --registry and --mapping into o (a usage error on a bad
 * mapping); 1 when c was one of them. */
int regcli_target_option(struct push_opts *o, int c, const char *arg);

#endif
