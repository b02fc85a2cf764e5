# Shared by the edge-verify suites (70-verify, 72-delta-verify). Load after
# test_helper.

TOOL="$TOP/tests/fixtures/bundle-tool.py"

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
