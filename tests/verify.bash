# Shared by the edge-verify suites (70-verify, 72-delta-verify). Load after
# test_helper.

TOOL="$TOP/tests/fixtures/bundle-tool.py"
# bundle-tool keeps the zstd frames it makes here, one cache per file: the
# bad bundles of a suite are the good tar with an entry or two changed, and
# only what changed is compressed again
if [ -n "${BATS_FILE_TMPDIR:-}" ]; then
	export BUNDLE_TOOL_CACHE="$BATS_FILE_TMPDIR/bundle-tool-cache"
fi

# tool ARGS...: tests/fixtures/bundle-tool.py
tool() {
	python3 "$TOOL" "$@"
}

# rejects CODE MESSAGE ARG...: edge-verify ARG... exits CODE, prints nothing
# on stdout and exactly "edge-verify: MESSAGE" on stderr.
rejects() {
	local code=$1 msg=$2
	shift 2
	run --separate-stderr edge-verify "$@"
	assert_failure "$code"
	assert_output ""
	assert_stderr_is "edge-verify: $msg"
}
