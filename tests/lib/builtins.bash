# shellcheck shell=bash
# tests/run.sh exports BASH_ENV as this file, so every bash a suite starts
# (bats's per-test bats-exec-test, the tests' bash -c) reads it first: the
# file commands the suites and bats run thousands of times become bash's
# loadable builtins (Debian's bash-builtins, which make deps installs), run
# inside the shell instead of a fork and an exec. On a machine where a
# process costs some 5 ms of CPU (page faults at about 30 us each), that is
# ten seconds of make check. Only builtins that take the options the suites
# and bats use, with the same output (mkdir -p -m, rm -rf, ln -sf, cut -d
# -f -c, basename, dirname, mkfifo, rmdir); head, stat, seq, mktemp and
# sleep differ from coreutils' (head has no -c, stat prints other fields)
# and stay files. Without the package nothing changes.
if [ -r /usr/lib/bash/mkdir ]; then
	for _b in mkdir rm ln cut basename dirname mkfifo rmdir; do
		enable -f "/usr/lib/bash/$_b" "$_b" 2>/dev/null
	done
	unset _b
fi
