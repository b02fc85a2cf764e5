# Shared by the edge-verify suites (70-verify, 72-delta-verify). Load after
# test_helper.

TOOL="$TOP/tests/fixtures/bundle-tool.py"
# bundle-tool keeps the zstd frames it makes here, one cache per file: the
# bad bundles of a suite are the good tar with an entry or two changed, and
# only what changed is compressed again
if [ -n "${BATS_FILE_TMPDIR:-}" ]; then
	export BUNDLE_TOOL_CACHE="$BATS_FILE_TMPDIR/bundle-tool-cache"
fi

# tool_server_start (in setup_file): from here on, tool() hands its commands
# to one bundle-tool process (bundle-tool.py serve), which forks a child for
# each: a suite calls it a hundred times, and starting python each time cost
# more than the work. stop_servers (teardown_file) ends it; so does the end
# of the file's process.
tool_server_start() {
	local d="$BATS_FILE_TMPDIR/bundle-tool-server"
	mkdir -p "$d" && mkfifo "$d/req" || return 1
	python3 -S "$TOOL" serve "$d" "$$" > "$d/log" 2>&1 3>&- &
	SERVER_PIDS+=("$!")
	export BUNDLE_TOOL_SERVER=$d BUNDLE_TOOL_SERVER_PID=$!
}

# tool ARGS...: tests/fixtures/bundle-tool.py ARGS..., in this directory,
# with its stdout, stderr and exit status; through the server when there is
# one (the exchange is described at the top of bundle-tool.py).
tool() {
	local d=${BUNDLE_TOOL_SERVER:-} me rc="" rcfd reqfd
	if [ -z "$d" ] || ! kill -0 "${BUNDLE_TOOL_SERVER_PID:-}" 2> /dev/null; then
		python3 -S "$TOOL" "$@"
		return
	fi
	me="$d/$BASHPID"
	[ -p "$me.rc" ] || mkfifo "$me.rc" || return 1
	printf '%s\0' "$PWD" "$@" > "$me.args"
	# read-write: neither open waits for the other side
	exec {rcfd}<> "$me.rc" {reqfd}<> "$d/req"
	echo "$BASHPID" >&"$reqfd"
	read -r -t 300 rc <&"$rcfd"
	exec {rcfd}<&- {reqfd}<&-
	if [ -z "$rc" ]; then
		echo "tool: no answer from bundle-tool serve ($d/log)" >&2
		return 1
	fi
	[ -s "$me.out" ] && cat "$me.out"
	[ -s "$me.err" ] && cat "$me.err" >&2
	return "$rc"
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
