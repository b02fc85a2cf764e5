/*
 * Unit test of cli_protect_secrets (cmd/fe/cli.c): after it, the process
 * writes no core file (RLIMIT_CORE 0) and is not dumpable (PR_GET_DUMPABLE
 * 0), whatever it started with; and of cli_timeout_option. Output is TAP.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "log.h"
#include "tap.h"

int main(void)
{
	struct rlimit rl;
	struct http_opts o;

	edge_log_init("test_secrets");
	plan(8);

	/* start dumpable, with core files allowed up to the hard limit */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_CORE, &rl);
	}
	okf(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1, "dumpable before");

	cli_protect_secrets();
	okf(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "not dumpable after cli_protect_secrets");
	okf(getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0 && rl.rlim_max == 0,
	    "RLIMIT_CORE 0 (soft and hard) after cli_protect_secrets");

	memset(&o, 0, sizeof(o));
	okf(cli_timeout_option(CLI_OPT_TIMEOUT, "90", &o) == 1 && o.timeout_ms == 90000,
	    "--timeout 90: 90000 ms");
	okf(cli_timeout_option(CLI_OPT_STALL_TIMEOUT, "5", &o) == 1 && o.low_speed_time_s == 5 &&
	    cli_timeout_option(CLI_OPT_CONNECT_TIMEOUT, "7", &o) == 1 && o.connect_timeout_ms == 7000,
	    "--stall-timeout 5, --connect-timeout 7");
	okf(cli_timeout_option('v', NULL, &o) == 0, "other options are not timeouts");

	{
		char *orig, *copy;

		setenv("EDGE_TEST_SECRET", "s3cret", 1);
		orig = getenv("EDGE_TEST_SECRET");
		copy = cli_take_secret_env("EDGE_TEST_SECRET");
		okf(copy != NULL && strcmp(copy, "s3cret") == 0 && getenv("EDGE_TEST_SECRET") == NULL,
		    "cli_take_secret_env: the value, and the variable gone");
		/* glibc keeps setenv's strings: the old one must hold zeros now */
		okf(orig != NULL && orig[0] == '\0' && memcmp(orig, "\0\0\0\0\0\0", 6) == 0,
		    "cli_take_secret_env: the environment's copy wiped");
		cli_secret_free(copy);
	}
	return done_testing();
}
