/* Unit tests for the error module: messages stay on one line whatever
 * their arguments hold (fuzz_bundle found entry names with newlines in
 * edge-verify's messages), and edge_errf returns -1. TAP output. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "tap.h"

int main(void)
{
	struct edge_err err = {0};
	char big[2 * EDGE_ERR_MAX];
	int rc;

	plan(6);
	rc = edge_errf(&err, EDGE_EINPUT, "b.tar.zst: unexpected entry \"%s\"", "x\ny\r\x1b[31mz\x7f");
	ok(rc == -1 && err.code == EDGE_EINPUT &&
		   strcmp(err.msg, "b.tar.zst: unexpected entry \"x\\x0ay\\x0d\\x1b[31mz\\x7f\"") == 0,
	   "edge_errf: control characters of the arguments become \\xNN", err.msg,
	   "b.tar.zst: unexpected entry \"x\\x0ay\\x0d\\x1b[31mz\\x7f\"");
	edge_errf(&err, EDGE_EVERIFY, "caf\xc3\xa9: tab\there");
	ok(strcmp(err.msg, "caf\xc3\xa9: tab\\x09here") == 0, "edge_errf: UTF-8 kept, a tab escaped", err.msg,
	   "caf\xc3\xa9: tab\\x09here");
	edge_errf(&err, EDGE_EINPUT, "name \"%s\"", "a\nb");
	edge_err_prefix(&err, "open %s", "dir\nx");
	ok(strcmp(err.msg, "open dir\\x0ax: name \"a\\x0ab\"") == 0 && err.code == EDGE_EINPUT,
	   "edge_err_prefix: one line", err.msg, "open dir\\x0ax: name \"a\\x0ab\"");
	errno = ENOENT;
	edge_err_errno(&err, "open %s", "new\nline");
	ok(strcmp(err.msg, "open new\\x0aline: No such file or directory") == 0 && err.code == EDGE_EIO,
	   "edge_err_errno: one line", err.msg, "open new\\x0aline: No such file or directory");
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	edge_errf(&err, EDGE_EINPUT, "%s", big);
	ok(strlen(err.msg) < EDGE_ERR_MAX && strlen(err.msg) % 4 == 0 && strchr(err.msg, '\n') == NULL,
	   "edge_errf: a long message of control characters is cut at a whole \\xNN", "", "");
	ok(edge_errf(NULL, EDGE_EIO, "x") == -1, "edge_errf: err may be NULL", "", "");
	return done_testing();
}
