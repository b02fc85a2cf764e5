#include "regcli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "log.h"

void regcli_init(struct regcli *r, int default_jobs)
{
	memset(r, 0, sizeof(*r));
	r->retries = -1;
	r->jobs = default_jobs;
}

int regcli_option(struct regcli *r, int c, const char *arg)
{
	switch (c) {
	case REG_OPT_USERNAME: r->username = arg; return 1;
	case REG_OPT_PASSWORD_STDIN: r->password_stdin = 1; return 1;
	case REG_OPT_PASSWORD_FILE: r->password_file = arg; return 1;
	case REG_OPT_CRED_FILE: r->cred_file = arg; return 1;
	case REG_OPT_CA_FILE: r->ca_file = arg; return 1;
	case REG_OPT_INSECURE: r->insecure = 1; return 1;
	case REG_OPT_PLAIN_HTTP: r->plain_http = 1; return 1;
	case REG_OPT_RETRIES: r->retries = (int)cli_parse_long("--retries", arg, 0, 100); return 1;
	case REG_OPT_JOBS: r->jobs = (int)cli_parse_long("--jobs", arg, 1, 256); return 1;
	default: return cli_timeout_option(c, arg, &r->timeouts);
	}
}

static char *read_password(const struct regcli *r, struct edge_err *err)
{
	if (r->password_stdin) {
		char *data;
		size_t len;
		if (isatty(0))
			log_info("password for %s: (reading stdin)", r->username);
		if (read_fd_max(0, "stdin", 1 << 16, &data, &len, err) != 0)
			return NULL;
		data[strcspn(data, "\r\n")] = '\0';
		return data;
	}
	if (r->password_file != NULL) {
		char *p = cli_read_secret_file(r->password_file, err);
		if (p == NULL && err->code == EDGE_EIO)
			err->code = EDGE_EINPUT;
		return p;
	}
	if (getenv("EDGE_REGISTRY_PASSWORD") != NULL)
		return cli_take_secret_env("EDGE_REGISTRY_PASSWORD");
	edge_errf(err, EDGE_EUSAGE,
		  "--username needs a password: --password-stdin, --password-file or $EDGE_REGISTRY_PASSWORD");
	return NULL;
}

struct cred_store *regcli_creds(const struct regcli *r, const char *host, struct edge_err *err)
{
	struct cred_store *s = cred_store_new();

	if ((r->password_stdin || r->password_file) && r->username == NULL) {
		edge_errf(err, EDGE_EUSAGE, "--password-stdin and --password-file need --username");
		goto fail;
	}
	if (r->password_stdin && r->password_file) {
		edge_errf(err, EDGE_EUSAGE, "--password-stdin and --password-file exclude each other");
		goto fail;
	}
	if (r->username != NULL) {
		char *pw;
		if (host == NULL) {
			edge_errf(err, EDGE_EUSAGE, "--username needs --registry HOST to say which registry it is for");
			goto fail;
		}
		if ((pw = read_password(r, err)) == NULL)
			goto fail;
		cred_store_add(s, CRED_IMAGE, host, r->username, pw);
		cred_store_add(s, CRED_HELM, host, r->username, pw);
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	if (r->cred_file != NULL && cred_store_load_palette(s, r->cred_file, err) != 0)
		goto fail;
	if (cred_store_load_default(s, err) != 0)
		goto fail;
	return s;
fail:
	cred_store_free(s);
	return NULL;
}

int regcli_target_option(struct push_opts *o, int c, const char *arg)
{
	struct edge_err err;

	switch (c) {
	case REG_OPT_REGISTRY:
		o->registry = arg;
		return 1;
	case REG_OPT_MAPPING:
		if (push_add_mapping(o, arg, &err) != 0)
			cli_usage_error("%s", err.msg);
		return 1;
	default:
		return 0;
	}
}

void regcli_http_opts(const struct regcli *r, struct http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ca_file = r->ca_file;
	o->insecure = r->insecure;
	o->retries = r->retries;
	o->timeout_ms = r->timeouts.timeout_ms;
	o->low_speed_time_s = r->timeouts.low_speed_time_s;
	o->connect_timeout_ms = r->timeouts.connect_timeout_ms;
}
