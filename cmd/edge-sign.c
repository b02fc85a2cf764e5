/* edge-sign: sign bundles and definitions (minisign Ed25519 or RSA), make key pairs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "fileopt.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "meter.h"
#include "sha256.h"
#include "sign.h"

static const char synopsis[] =
	"edge-sign -k KEY [-t TEXT] [--password-file FILE] [FILE... | --manifest FILE]\n"
	"       edge-sign -G -k KEY [-p PUBKEY] [-W | --password-file FILE] [--force]";

static const char help[] =
	"usage: edge-sign -k KEY [options] [FILE...]\n"
	"       edge-sign -G -k KEY [-p PUBKEY] [-W] [--force]\n"
	"\n"
	"Sign files with a minisign secret key (Ed25519, prehashed: FILE.minisig) or\n"
	"an RSA PEM private key (RSA-SHA256: FILE.sig), or make a minisign key pair.\n"
	"\n"
	"With FILE arguments each FILE is signed. Without, a manifest is read from\n"
	"--manifest FILE or stdin (also '-'): its bundle.path and definition.path are\n"
	"signed and the manifest is printed with \"signatures\". A manifest given\n"
	"alone as FILE is read as a manifest too.\n"
	"\n"
	"The password of an encrypted key comes from --password-file, else\n"
	"$EDGE_SIGN_PASSWORD, else the terminal. A secret key file that group or\n"
	"others may access is refused, as ssh does (chmod 600 KEY).\n"
	"\n"
	"Options:\n"
	"  -k, --key FILE            the secret key: minisign or RSA PEM (required)\n"
	"  -t, --trusted-comment TEXT\n"
	"                            add TEXT to the signed comment (minisign keys)\n"
	"      --manifest FILE       read the manifest from FILE instead of stdin\n"
	"      --password-file FILE  read the key's password from FILE (first line)\n"
	"  -G, --generate            make a minisign key pair: -k KEY and -p PUBKEY\n"
	"  -p, --pubkey FILE         with -G: the public key file (default KEY.pub)\n"
	"  -W, --no-password         with -G: do not encrypt the secret key\n"
	"      --force               with -G: replace existing key files\n"
	CLI_PROGRESS_HELP
	CLI_COMMON_HELP("print each signature written")
	"\n"
	"Exit status: 0 success, 1 the file's digest differs from the manifest's,\n"
	"2 usage, 3 invalid input (key, key permissions, manifest, nothing to sign),\n"
	"5 wrong password, 6 local I/O error (unreadable file, a key file that exists).\n";

enum {
	OPT_FORCE = CLI_OPT_FIRST_TOOL,
	OPT_MANIFEST,
	OPT_PASSWORD_FILE,
};

static const struct option longopts[] = {
	{"force", no_argument, NULL, OPT_FORCE},
	{"generate", no_argument, NULL, 'G'},
	{"key", required_argument, NULL, 'k'},
	{"manifest", required_argument, NULL, OPT_MANIFEST},
	{"no-password", no_argument, NULL, 'W'},
	{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	{"pubkey", required_argument, NULL, 'p'},
	{"trusted-comment", required_argument, NULL, 't'},
	CLI_PROGRESS_LONGOPT,
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* --- the terminal ---------------------------------------------------------
 * Echo is off while a password is typed; a signal in the meantime puts the
 * terminal back before the program dies. */

static int g_tty_fd = -1;
static struct termios g_tty_saved;

static void tty_on_signal(int sig)
{
	if (g_tty_fd >= 0)
		tcsetattr(g_tty_fd, TCSANOW, &g_tty_saved);
	cleanup_run();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from the terminal without echo. 0, or -1 with err. */
static int tty_password(const char *prompt, char *buf, size_t size, struct edge_err *err)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa, old[4];
	struct termios quiet;
	size_t n = 0, i;
	int fd, rc = -1, overflow = 0;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || tcgetattr(fd, &g_tty_saved) != 0) {
		if (fd >= 0)
			close(fd);
		return edge_errf(err, EDGE_EAUTH, "no password: use --password-file FILE or $EDGE_SIGN_PASSWORD "
				 "(there is no terminal to ask)");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	quiet = g_tty_saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	g_tty_fd = fd;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		edge_err_errno(err, "/dev/tty");
		goto out;
	}
	if (write_all(fd, prompt, strlen(prompt)) != 0) {
		edge_err_errno(err, "/dev/tty");
		goto out;
	}
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			edge_err_errno(err, "read /dev/tty");
			goto out;
		}
		if (r == 0 || c == '\n' || c == '\r')
			break;
		if (n + 1 < size)
			buf[n++] = c;
		else
			overflow = 1;
	}
	buf[n] = '\0';
	if (overflow) {
		explicit_bzero(buf, size);
		edge_errf(err, EDGE_EINPUT, "the password is longer than %zu bytes", size - 1);
		goto out;
	}
	rc = 0;
out:
	tcsetattr(fd, TCSAFLUSH, &g_tty_saved);
	g_tty_fd = -1;
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	close(fd);
	return rc;
}

/* --- passwords ------------------------------------------------------------ */

struct password_source {
	char *from_file; /* --password-file, read up front (warns when others can read it) */
};

static int copy_password(const char *pw, char *buf, size_t size, struct edge_err *err)
{
	size_t n = strlen(pw);

	if (n + 1 > size)
		return edge_errf(err, EDGE_EINPUT, "the password is longer than %zu bytes", size - 1);
	memcpy(buf, pw, n + 1);
	return 0;
}

/* sig_password_fn: --password-file, $EDGE_SIGN_PASSWORD, then the terminal. */
static int key_password(void *ctx, const char *key_path, char *buf, size_t size, struct edge_err *err)
{
	struct password_source *src = ctx;
	const char *env = getenv("EDGE_SIGN_PASSWORD");
	char *prompt;
	int rc;

	if (src->from_file != NULL)
		return copy_password(src->from_file, buf, size, err);
	if (env != NULL)
		return copy_password(env, buf, size, err);
	prompt = xasprintf("Password for %s: ", key_path);
	rc = tty_password(prompt, buf, size, err);
	free(prompt);
	if (rc != 0 && err->code == EDGE_EAUTH)
		edge_errf(err, EDGE_EAUTH, "%s: the key is encrypted and there is no password: use --password-file FILE "
			  "or $EDGE_SIGN_PASSWORD", key_path);
	return rc;
}

/* The password for a new key: file, environment, or typed twice. */
static int new_key_password(struct password_source *src, const char *key_path, char *buf, size_t size,
			    struct edge_err *err)
{
	char *again = NULL, *prompt = NULL;
	int rc = -1;

	if (src->from_file != NULL || getenv("EDGE_SIGN_PASSWORD") != NULL) {
		if (key_password(src, key_path, buf, size, err) != 0)
			return -1;
	} else {
		prompt = xasprintf("Password for the new key %s: ", key_path);
		if (tty_password(prompt, buf, size, err) != 0) {
			if (err->code == EDGE_EAUTH)
				edge_errf(err, EDGE_EUSAGE, "no password for the new key: use --password-file FILE, "
					  "$EDGE_SIGN_PASSWORD, a terminal, or -W for an unencrypted key");
			goto out;
		}
		again = xmalloc(size);
		if (tty_password("Password (again): ", again, size, err) != 0)
			goto out;
		if (strcmp(buf, again) != 0) {
			edge_errf(err, EDGE_EAUTH, "the passwords do not match");
			goto out;
		}
	}
	if (buf[0] == '\0') {
		edge_errf(err, EDGE_EINPUT, "the password is empty: use -W for an unencrypted key");
		goto out;
	}
	rc = 0;
out:
	if (again != NULL) {
		explicit_bzero(again, size);
		free(again);
	}
	free(prompt);
	return rc;
}

/* --- manifest mode ---------------------------------------------------------- */

/* Sets the signatures entry for sidecar, replacing one with the same path. */
static void put_signature(json_t *m, const struct sig_info *info, const char *what)
{
	manifest_put_signature(m, info->sidecar, what, info->algorithm, info->key_id[0] != '\0' ? info->key_id : NULL);
}

/* Signs the manifest's bundle and definition files. */
static int sign_manifest(json_t *m, const char *source, struct sig_key *key, const char *comment,
			 struct edge_err *err)
{
	static const char *const what[] = {"bundle", "definition"}; /* signatures[].for */
	json_t *const files[] = {manifest_bundle(m), manifest_definition(m)};
	int i, n = 0;

	for (i = 0; i < 2; i++) {
		json_t *obj = files[i];
		const char *path = manifest_file_path(obj), *digest = manifest_file_digest(obj);
		struct sig_info info;

		if (path == NULL)
			continue;
		/* a split bundle's path is its parts descriptor; the digest is the joined parts' */
		if (manifest_file_parts(obj) != NULL || (digest != NULL && !sha256_digest_valid(digest)))
			digest = NULL;
		if (sig_sign_file(key, path, comment, digest, NULL, &info, err) != 0)
			return -1;
		log_verbose("signed %s %s: %s (%s%s%s)", what[i], path, info.sidecar, info.algorithm,
			    info.key_id[0] ? ", key ID " : "", info.key_id);
		put_signature(m, &info, what[i]);
		n++;
	}
	if (n == 0)
		return edge_errf(err, EDGE_EINPUT, "%s: nothing to sign (no bundle.path or definition.path)", source);
	return 0;
}

int main(int argc, char **argv)
{
	const char *keypath = NULL, *pubpath = NULL, *comment = NULL, *manifest_path = NULL, *pwfile = NULL;
	struct password_source pwsrc = {0};
	struct edge_err err = {0};
	struct sig_key *key = NULL;
	json_t *m = NULL;
	char *pw = NULL, *defpub = NULL, key_id[17];
	int c, rc = EDGE_OK, generate = 0, nopass = 0, force = 0, files, i;
	struct meter meter;

	cli_init(argv[0], synopsis, help);
	cli_protect_secrets(); /* the secret key and its password */
	while ((c = getopt_long(argc, argv, "Gk:p:t:W" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg))
			continue;
		switch (c) {
		case 'G': generate = 1; break;
		case 'k': keypath = optarg; break;
		case 'p': pubpath = optarg; break;
		case 't': comment = optarg; break;
		case 'W': nopass = 1; break;
		case OPT_FORCE: force = 1; break;
		case OPT_MANIFEST: manifest_path = optarg; break;
		case OPT_PASSWORD_FILE: pwfile = optarg; break;
		default: cli_usage_error(NULL);
		}
	}
	if (keypath == NULL)
		cli_usage_error("-k KEY is required");
	if (generate) {
		if (optind < argc)
			cli_usage_error("-G makes a key pair and signs nothing: unexpected argument '%s'", argv[optind]);
		if (manifest_path != NULL || comment != NULL)
			cli_usage_error("%s cannot be used with -G", manifest_path ? "--manifest" : "-t");
		if (nopass && pwfile != NULL)
			cli_usage_error("-W and --password-file cannot be combined");
	} else {
		if (nopass || pubpath != NULL || force)
			cli_usage_error("%s is only for -G (making a key pair)", nopass ? "-W" : pubpath ? "-p" : "--force");
		if (comment != NULL && (strlen(comment) > SIG_COMMENT_MAX || strpbrk(comment, "\r\n") != NULL))
			cli_usage_error("-t: the trusted comment must be one line of at most %d bytes", SIG_COMMENT_MAX);
	}
	/* positional arguments are files to sign; none, or '-', means a manifest */
	files = optind < argc && !(argc - optind == 1 && strcmp(argv[optind], "-") == 0);
	if (files && manifest_path != NULL)
		cli_usage_error("--manifest and FILE arguments cannot be combined");
	for (i = optind; files && i < argc; i++)
		if (strcmp(argv[i], "-") == 0)
			cli_usage_error("'-' (a manifest on stdin) cannot be combined with FILE arguments");
	/* a manifest given as FILE is read as one, as every other tool does:
	 * signing its JSON text would leave the bundle unsigned */
	for (i = optind; files && !generate && i < argc; i++) {
		if (!manifest_file_sniff(argv[i]))
			continue;
		if (argc - optind > 1)
			cli_usage_error("%s is a manifest: give it alone (or with --manifest), not with other files",
					argv[i]);
		manifest_path = argv[optind];
		files = 0;
	}
	if (!generate) {
		cli_need_input("-k", keypath, EDGE_EINPUT);
		cli_need_input("--manifest", manifest_path, EDGE_EINPUT);
	}
	cli_need_input("--password-file", pwfile, EDGE_EINPUT);

	if (pwfile != NULL && (pwsrc.from_file = cli_read_secret_file(pwfile, &err)) == NULL) {
		if (err.code == EDGE_EIO)
			err.code = EDGE_EINPUT;
		goto fail;
	}

	if (generate) {
		if (pubpath == NULL)
			pubpath = defpub = xasprintf("%s.pub", keypath);
		if (strcmp(pubpath, keypath) == 0)
			cli_usage_error("-p: the public key cannot be the secret key file");
		if (!nopass) {
			pw = xmalloc(SIG_PASSWORD_MAX);
			if (new_key_password(&pwsrc, keypath, pw, SIG_PASSWORD_MAX, &err) != 0)
				goto fail;
		}
		if (sig_keygen(keypath, pubpath, pw, force, key_id, &err) != 0)
			goto fail;
		log_info("wrote %s and %s (key ID %s)%s", keypath, pubpath, key_id,
			 nopass ? "; the secret key is not encrypted" : "");
		goto out;
	}

	/* the input first: a terminal on stdin is refused before any password prompt */
	if (!files && (m = cli_load_manifest(manifest_path, &err)) == NULL)
		goto fail;
	if ((key = sig_key_load(keypath, key_password, &pwsrc, &err)) == NULL)
		goto fail;
	/* after the password prompt: the files are read now */
	sig_set_progress(meter_start(&meter), &meter);

	if (files) {
		for (i = optind; i < argc; i++) {
			struct sig_info info;
			/* stop at the first failure: a half-signed set must be noticed */
			if (sig_sign_file(key, argv[i], comment, NULL, NULL, &info, &err) != 0)
				goto fail;
			log_verbose("signed %s: %s (%s%s%s)", argv[i], info.sidecar, info.algorithm,
				    info.key_id[0] ? ", key ID " : "", info.key_id);
		}
		meter_summary(&meter, "%d file%s signed (%s)", argc - optind, argc - optind == 1 ? "" : "s",
			      sig_key_algorithm(key));
		goto out;
	}
	if (sign_manifest(m, manifest_path && strcmp(manifest_path, "-") != 0 ? manifest_path : "stdin", key, comment,
			  &err) != 0)
		goto fail;
	rc = cli_print_manifest(m);
	if (rc == EDGE_OK)
		meter_summary(&meter, "the manifest's bundle and definition signed (%s)", sig_key_algorithm(key));
	goto out;
fail:
	rc = cli_report(&err); /* past the options: no usage lines */
out:
	sig_key_free(key);
	json_decref(m);
	if (pw != NULL) {
		explicit_bzero(pw, SIG_PASSWORD_MAX);
		free(pw);
	}
	cli_secret_free(pwsrc.from_file);
	free(defpub);
	return cli_finish(rc);
}
