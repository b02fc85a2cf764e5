/* edge-serve: serve bundles (or stores) read-only as an OCI registry. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fileopt.h"
#include "fsutil.h"
#include "log.h"
#include "ref.h"
#include "serve.h"

static const char synopsis[] =
	"edge-serve [--listen ADDR:PORT] [--prefix PATH] [--tls-cert FILE --tls-key FILE] [--htpasswd FILE]\n"
	"           [-p KEY [--require-signature]] [--verify full|quick] [--threads N] [-q] [-v]\n"
	"           BUNDLE|PARTS.json|--store DIR ...";

static const char help[] =
	"usage: edge-serve [options] BUNDLE|PARTS.json|--store DIR ...\n"
	"\n"
	"Serve content bundles (or parts descriptors, or stores) read-only as an OCI\n"
	"distribution registry, straight from the compressed bundle: no extraction,\n"
	"no extra disk. Images and charts keep edge-push's names under PREFIX\n"
	"(quay.io/a/b:1 -> PREFIX/quay.io/a/b:1, a port written '_'). Several bundles\n"
	"(a delta with its base) are served as one registry. Runs until SIGINT or\n"
	"SIGTERM; SIGHUP re-reads the bundles and the htpasswd file.\n"
	"\n"
	"Options:\n"
	"      --listen ADDR:PORT    address to listen on (default %s;\n"
	"                            [ADDR]:PORT for IPv6, port 0: any free port)\n"
	"      --port-file FILE      write the port listened on to FILE once serving\n"
	"      --prefix PATH         repository path the names go under (default none)\n"
	"      --store DIR           also serve the store DIR (repeatable)\n"
	"      --tls-cert FILE       serve HTTPS with this PEM certificate (chain)\n"
	"      --tls-key FILE        the certificate's PEM private key\n"
	"      --htpasswd FILE       require basic auth: bcrypt entries (htpasswd -B)\n"
	"  -p, --public-key KEY      check each bundle's signature with KEY first\n"
	"      --require-signature   refuse to serve anything unsigned (needs -p;\n"
	"                            no --store)\n"
	"      --verify MODE         quick (default): check structure at start-up, hash\n"
	"                            each blob before it is first served; full: hash\n"
	"                            every blob before listening\n"
	"      --threads N           HTTP threads, and hashing threads (default: cores)\n"
	"      --cache-size SIZE     memory for decompressed frames (default 64M)\n"
	CLI_COMMON_HELP("log each request: method, path, status, bytes, ms")
	"\n"
	"Exit status: 0 stopped by a signal, 1 a signature or digest does not verify\n"
	"or a blob is missing, 2 usage, 3 malformed bundle, store, htpasswd file or\n"
	"certificate, 6 local I/O error (a file, the address in use).\n";

enum {
	OPT_LISTEN = CLI_OPT_FIRST_TOOL,
	OPT_PORT_FILE,
	OPT_PREFIX,
	OPT_STORE,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_HTPASSWD,
	OPT_REQUIRE,
	OPT_VERIFY,
	OPT_THREADS,
	OPT_CACHE,
};

static const struct option longopts[] = {
	{"cache-size", required_argument, NULL, OPT_CACHE},
	{"htpasswd", required_argument, NULL, OPT_HTPASSWD},
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"port-file", required_argument, NULL, OPT_PORT_FILE},
	{"prefix", required_argument, NULL, OPT_PREFIX},
	{"public-key", required_argument, NULL, 'p'},
	{"require-signature", no_argument, NULL, OPT_REQUIRE},
	{"store", required_argument, NULL, OPT_STORE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"verify", required_argument, NULL, OPT_VERIFY},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

static volatile sig_atomic_t g_stop, g_reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		g_reload = 1;
	else
		g_stop = sig;
}

int main(int argc, char **argv)
{
	static char help_text[4096];
	struct serve_opts o;
	struct serve_source *src = NULL;
	struct serve *sv = NULL;
	struct edge_err err = {0};
	const char *port_file = NULL;
	char *prefix = NULL;
	size_t nsrc = 0, images, charts, repos, blobs;
	unsigned port = 0;
	int c, rc = EDGE_OK, require = 0, nstores = 0, i;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	sigset_t block, wait_mask;

	snprintf(help_text, sizeof(help_text), help, SERVE_DEFAULT_LISTEN);
	cli_init(argv[0], synopsis, help_text);
	memset(&o, 0, sizeof(o));
	o.threads = ncpu > 1 ? (int)(ncpu > 64 ? 64 : ncpu) : 2;
	o.cache_size = SERVE_DEFAULT_CACHE;
	src = xcalloc((size_t)argc + 1, sizeof(*src));
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "p:", longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg))
			continue;
		switch (c) {
		case OPT_LISTEN: o.listen = optarg; break;
		case OPT_PORT_FILE: port_file = optarg; break;
		case OPT_PREFIX: o.prefix = optarg; break;
		case OPT_STORE:
			src[nsrc].path = optarg;
			src[nsrc++].is_store = 1;
			nstores++;
			break;
		case OPT_TLS_CERT: o.tls_cert = optarg; break;
		case OPT_TLS_KEY: o.tls_key = optarg; break;
		case OPT_HTPASSWD: o.htpasswd = optarg; break;
		case 'p': o.pubkey = optarg; break;
		case OPT_REQUIRE: require = 1; break;
		case OPT_VERIFY:
			if (strcmp(optarg, "full") == 0)
				o.verify_full = 1;
			else if (strcmp(optarg, "quick") == 0)
				o.verify_full = 0;
			else
				cli_usage_error("--verify: expected full or quick, got '%s'", optarg);
			break;
		case OPT_THREADS: o.threads = (int)cli_parse_long("--threads", optarg, 1, 64); break;
		case OPT_CACHE: o.cache_size = (uint64_t)cli_parse_size("--cache-size", optarg); break;
		default: cli_usage_error(NULL);
		}
	}
	for (i = optind; i < argc; i++) {
		src[nsrc].path = argv[i];
		src[nsrc++].is_store = 0;
	}
	if (nsrc == 0)
		cli_usage_error("nothing to serve: give a bundle, a parts descriptor or --store DIR");
	if ((o.tls_cert == NULL) != (o.tls_key == NULL))
		cli_usage_error("--tls-cert and --tls-key go together");
	if (require && o.pubkey == NULL)
		cli_usage_error("--require-signature needs -p KEY");
	if (require && nstores > 0)
		cli_usage_error("--require-signature: a store (--store) carries no signature");
	if (o.pubkey != NULL && (size_t)nstores == nsrc)
		cli_usage_error("-p checks bundles' signatures: no bundle given");
	if (o.prefix != NULL) {
		size_t l;
		prefix = xstrdup(o.prefix);
		while (prefix[0] == '/')
			memmove(prefix, prefix + 1, strlen(prefix));
		l = strlen(prefix);
		while (l > 0 && prefix[l - 1] == '/')
			prefix[--l] = '\0';
		if (l > 0 && !ref_valid_path(prefix))
			cli_usage_error("--prefix: not a repository path: '%s'", o.prefix);
		o.prefix = prefix;
	}
	o.sources = src;
	o.nsources = nsrc;
	cli_need_input("--tls-cert", o.tls_cert, EDGE_EIO);
	cli_need_input("--tls-key", o.tls_key, EDGE_EIO);
	cli_need_input("--htpasswd", o.htpasswd, EDGE_EIO);
	cli_need_input("-p", o.pubkey, EDGE_EINPUT);

	if (serve_start(&o, &sv, &port, &err) != 0)
		goto fail;
	/* until now a signal ends the program (cli_init); from here on it
	 * sets a flag for the loop below, blocked except while waiting */
	cli_on_signals(on_signal);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGHUP);

	serve_counts(sv, &images, &charts, &repos, &blobs);
	log_info("serving %zu images and %zu charts (%zu repositories, %zu blobs) on %s port %u%s", images, charts,
		 repos, blobs, o.tls_cert ? "https" : "http", port, o.htpasswd ? ", basic auth" : "");
	if (port_file != NULL) {
		char buf[16];
		int n = snprintf(buf, sizeof(buf), "%u\n", port);
		if (atomic_write_file(port_file, buf, (size_t)n, 0644, &err) != 0)
			goto fail;
	}
	while (!g_stop) {
		sigsuspend(&wait_mask);
		if (g_reload && !g_stop) {
			g_reload = 0;
			if (serve_reload(sv, &err) != 0) {
				log_error("reload: %s (still serving what was loaded before)", err.msg);
				edge_err_clear(&err);
			} else {
				serve_counts(sv, &images, &charts, &repos, &blobs);
				log_info("reloaded: %zu images and %zu charts (%zu repositories, %zu blobs)", images, charts,
					 repos, blobs);
			}
		}
	}
	log_verbose("stopping (signal %d)", (int)g_stop);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	serve_stop(sv);
	free(prefix);
	free(src);
	return cli_finish(rc);
}
