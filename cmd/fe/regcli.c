#include "regcli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "fileopt.h"
#include "fsutil.h"
#include "log.h"
#include "ref.h"
#include "split.h"

void regcli_init(struct regcli *r, int default_jobs)
{
	memset(r, 0, sizeof(*r));
	r->retries = -1;
	r->jobs = default_jobs;
	r->hosts.plain = r->plain_v;
	r->hosts.tls = r->tls_v;
	r->hosts.insecure = r->insecure_v;
}

/* Adds "HOST[:PORT]" (len bytes of host) to a list of r->hosts, and Docker
 * Hub's API host with docker.io. opt names the option in usage errors. */
static void add_host(struct regcli *r, char **list, size_t *n, const char *opt, const char *host, size_t len)
{
	const char *api;
	char *h;
	size_t i;

	if (len == 0 || len >= sizeof(r->hostbuf[0]) || memchr(host, '/', len) != NULL ||
	    memchr(host, '@', len) != NULL)
		cli_usage_error("%s: expected HOST[:PORT], got '%.*s'", opt, (int)len, host);
	if (*n + 2 > REGCLI_MAX_HOSTS || r->nhostbuf + 1 > sizeof(r->hostbuf) / sizeof(r->hostbuf[0]))
		cli_usage_error("%s: more than %d hosts", opt, REGCLI_MAX_HOSTS - 1);
	h = r->hostbuf[r->nhostbuf++];
	for (i = 0; i < len; i++)
		h[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] - 'A' + 'a' : host[i]);
	h[len] = '\0';
	list[(*n)++] = h;
	api = ref_domain_api_host(h);
	if (api != h)
		list[(*n)++] = (char *)api; /* a string of ref.c's: static */
}

/* The scheme-less host of an option's argument: a scheme is refused (the
 * option itself says plain or TLS). */
static void add_host_option(struct regcli *r, char **list, size_t *n, const char *opt, const char *arg)
{
	if (strstr(arg, "://") != NULL)
		cli_usage_error("%s: expected HOST[:PORT] without a scheme, got '%s'", opt, arg);
	add_host(r, list, n, opt, arg, strlen(arg));
}

void regcli_mirror(struct regcli *r, const char *arg, char **reg, char **mirror)
{
	const char *m, *rest;
	char *left = NULL, *right = NULL;
	size_t hl;

	if (split_pair(arg, &left, &right) != 0 || strchr(left, '/') != NULL || right[0] == '\0')
		cli_usage_error("--mirror: expected REGISTRY=[http://|https://]HOST[:PORT][/PATH], got '%s'", arg);
	m = right;
	rest = strstr(m, "://");
	if (rest != NULL) {
		size_t sl = (size_t)(rest - m);
		rest += 3;
		hl = strcspn(rest, "/");
		if (sl == 4 && strncasecmp(m, "http", 4) == 0)
			add_host(r, r->plain_v, &r->hosts.nplain, "--mirror", rest, hl);
		else if (sl == 5 && strncasecmp(m, "https", 5) == 0)
			add_host(r, r->tls_v, &r->hosts.ntls, "--mirror", rest, hl);
		else
			cli_usage_error("--mirror: %s: the scheme must be http:// or https://", arg);
		m = rest;
	}
	hl = strcspn(m, "/");
	if (hl == 0 || memchr(m, '@', hl) != NULL || strchr(m, '?') != NULL || strchr(m, '#') != NULL)
		cli_usage_error("--mirror: expected REGISTRY=[http://|https://]HOST[:PORT][/PATH], got '%s'", arg);
	*reg = left;
	*mirror = xstrdup(m);
	free(right);
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
	case REG_OPT_INSECURE_HOST:
		add_host_option(r, r->insecure_v, &r->hosts.ninsecure, "--insecure-host", arg);
		return 1;
	case REG_OPT_PLAIN_HTTP: r->plain_http = 1; return 1;
	case REG_OPT_PLAIN_HTTP_HOST:
		add_host_option(r, r->plain_v, &r->hosts.nplain, "--plain-http-host", arg);
		return 1;
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
		if (p == NULL) {
			if (err->code == EDGE_EIO)
				err->code = EDGE_EINPUT;
			edge_err_prefix(err, "--password-file");
		}
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
	char *source;

	if ((r->password_stdin || r->password_file) && r->username == NULL) {
		edge_errf(err, EDGE_EUSAGE, "--password-stdin and --password-file need --username");
		goto fail;
	}
	if (r->password_stdin && r->password_file) {
		edge_errf(err, EDGE_EUSAGE, "--password-stdin and --password-file exclude each other");
		goto fail;
	}
	if (r->username != NULL && host == NULL) {
		edge_errf(err, EDGE_EUSAGE, "--username needs --registry HOST to say which registry it is for");
		goto fail;
	}
	/* the files, after the usage errors */
	cli_need_input("--password-file", r->password_file, EDGE_EINPUT);
	cli_need_input("--cred-file", r->cred_file, EDGE_EINPUT);
	cli_need_input("--ca-file", r->ca_file, EDGE_EINPUT);
	if (r->username != NULL) {
		char *pw;
		if ((pw = read_password(r, err)) == NULL)
			goto fail;
		source = r->password_stdin  ? xstrdup("--password-stdin")
			 : r->password_file ? xasprintf("--password-file %s", r->password_file)
					    : xstrdup("$EDGE_REGISTRY_PASSWORD");
		cred_store_add_named(s, CRED_IMAGE, host, r->username, pw, source);
		cred_store_add_named(s, CRED_HELM, host, r->username, pw, source);
		free(source);
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	if (r->cred_file != NULL && cred_store_load_palette(s, r->cred_file, err) != 0) {
		edge_err_prefix(err, "--cred-file");
		goto fail;
	}
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
	o->hosts = &r->hosts;
	o->retries = r->retries;
	o->timeout_ms = r->timeouts.timeout_ms;
	o->low_speed_time_s = r->timeouts.low_speed_time_s;
	o->connect_timeout_ms = r->timeouts.connect_timeout_ms;
}
