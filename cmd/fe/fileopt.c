#include "fileopt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"

void cli_need_input(const char *opt, const char *path, int code)
{
	struct edge_err err = {0};

	if (path == NULL || strcmp(path, "-") == 0 || access(path, R_OK) == 0)
		return;
	edge_err_errno(&err, "%s: %s", opt, path);
	err.code = code;
	exit(cli_finish(cli_report(&err)));
}
