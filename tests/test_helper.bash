# Shared set-up for the BATS suites. Load with `load test_helper`.
bats_require_minimum_version 1.5.0
# bats-support and bats-assert: their files sourced here, as their load.bash
# does, but without its dirname per file (fifteen processes for every test)
for _f in /usr/lib/bats/bats-support/src/*.bash /usr/lib/bats/bats-assert/src/*.bash; do
	# shellcheck disable=SC1090
	source "$_f"
done
unset _f
# bats's run without its mktemp process (lib/run.bash says more)
# shellcheck source=tests/lib/run.bash
source "$BATS_TEST_DIRNAME/lib/run.bash"

# bats makes $BATS_TEST_DIRNAME absolute and clean (tests/), so TOP is its
# parent without a subshell: the helper loads once per test, and on this
# machine a fork of bash costs milliseconds (page table copies)
TOP="${BATS_TEST_DIRNAME%/*}"
PATH="$TOP/bin:$PATH"
EXAMPLES="$TOP/share/examples"
DEFINITION="$EXAMPLES/cluster-definition.tgz"
# python3 is Debian's when there is one: pyenv's shim is a bash script that
# runs pyenv before python (a tenth of a second a start, more under load),
# and the suites start python hundreds of times. A link first on PATH, so
# that what env, timeout and the servers start finds it too.
if [ -x /usr/bin/python3 ] && [ -n "${BATS_RUN_TMPDIR:-}" ]; then
	if [ ! -e "$BATS_RUN_TMPDIR/python-bin/python3" ]; then
		mkdir -p "$BATS_RUN_TMPDIR/python-bin" &&
			ln -sf /usr/bin/python3 "$BATS_RUN_TMPDIR/python-bin/python3"
	fi
	PATH="$BATS_RUN_TMPDIR/python-bin:$PATH"
fi
export TOP PATH EXAMPLES DEFINITION
# retries in tests wait milliseconds, not seconds
export EDGE_RETRY_BASE_MS=10
unset EDGE_API_KEY EDGE_PALETTE_ENDPOINT EDGE_REGISTRY_PASSWORD REGISTRY_AUTH_FILE XDG_RUNTIME_DIR XDG_CONFIG_HOME

# bats 1.8 times every test, with or without --timing, by
# $(date +%s%N): a fork and an exec, twice a test under --timing (run.sh's
# TAP files keep each test's time). bash's own clock gives the same
# milliseconds with the fork only. Defined only where bats defines it (in
# the process that runs one test), so a newer bats is left alone.
if [ -n "${EPOCHREALTIME:-}" ] && declare -F get_mills_since_epoch >/dev/null; then
	get_mills_since_epoch() {
		local t=${EPOCHREALTIME/[.,]/}
		printf '%d\n' "$((t / 1000))"
	}
fi

setup() {
	# lib/ is test machinery, as bats's own library is: a failing test's
	# stack trace ends in the test's line (tracing starts before setup)
	bats_add_debug_exclude_path "$BATS_TEST_DIRNAME/lib"
	cd "$BATS_TEST_TMPDIR" || return 1
	if declare -F per_test_setup >/dev/null; then per_test_setup; fi
}

teardown() {
	if declare -F per_test_teardown >/dev/null; then per_test_teardown; fi
	stop_servers
}

# assert_stderr_empty: on success a tool prints nothing to stderr.
assert_stderr_empty() {
	if [ -n "${stderr:-}" ]; then
		echo "expected empty stderr, got:" >&2
		echo "$stderr" >&2
		return 1
	fi
}

# assert_stderr_line TEXT: stderr is exactly TEXT (one line).
assert_stderr_is() {
	if [ "${stderr:-}" != "$1" ]; then
		printf 'stderr differs\nexpected: %s\nactual:   %s\n' "$1" "${stderr:-}" >&2
		return 1
	fi
}

# assert_stderr_contains TEXT
assert_stderr_contains() {
	case "${stderr:-}" in
	*"$1"*) return 0 ;;
	esac
	printf 'stderr does not contain: %s\nstderr: %s\n' "$1" "${stderr:-}" >&2
	return 1
}

# assert_no_file PATH...: nothing was left behind, not even a temp file.
assert_no_file() {
	local f
	for f in "$@"; do
		if [ -e "$f" ]; then
			echo "unexpected file: $f" >&2
			return 1
		fi
	done
	# a glob, not ls | grep (two processes a call)
	local left=""
	for f in * .*; do
		case $f in
		*.tmp-*) left+="${left:+$'\n'}$f" ;;
		esac
	done
	if [ -n "$left" ]; then
		echo "temp file left behind: $left" >&2
		return 1
	fi
}

# --- background servers -------------------------------------------------
# A server chooses its own port (it listens on port 0) and reports it: a
# port picked first and handed over may be taken by then.
#
# start_server NAME PORTFILE CMD...: runs CMD in the background (fd 3
# closed, so BATS does not wait for it), waits up to 10 s for its port and
# sets PORT. PORTFILE is the file CMD writes its port to once it listens;
# the word "log" instead takes the port from CMD's own output, its first
# "listening on 127.0.0.1:PORT" line (docker-registry). CMD's output goes
# to NAME.log in the test's temp directory (the file's, in setup_file), or
# to NAME.log itself when NAME is a path. Works in setup_file too. Servers
# are killed by stop_servers (teardown).
SERVER_PIDS=()
start_server() {
	local name=$1 portfile=$2 log pid
	shift 2
	case $name in
	*/*) log="$name.log" ;;
	*) log="${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:?no bats temp dir}}/$name.log" ;;
	esac
	[ "$portfile" = log ] || rm -f "$portfile"
	"$@" >"$log" 2>&1 3>&- &
	pid=$!
	SERVER_PIDS+=("$pid")
	PORT=""
	# the poll runs no process (no seq, cat, sed or sleep): a server that
	# takes a second to start would otherwise cost some sixty
	local i line
	for ((i = 0; i < 200; i++)); do
		if [ "$portfile" = log ]; then
			while IFS= read -r line; do
				if [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then
					PORT=${BASH_REMATCH[1]}
					break
				fi
			done < "$log"
		elif [ -s "$portfile" ]; then
			read -r PORT < "$portfile" || true
		fi
		[ -n "$PORT" ] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "${name##*/} exited early:" >&2
			cat "$log" >&2
			return 1
		fi
		nap 0.05
	done
	echo "${name##*/} did not start within 10 s" >&2
	cat "$log" >&2
	return 1
}

# nap SECONDS: sleep(1) without starting a process: read -t from a FIFO
# that nobody writes to, opened read-write (so the open does not wait for
# a writer) for the read alone. A builtin's redirection forks nothing.
nap() {
	local fifo="${BATS_RUN_TMPDIR:-${BATS_FILE_TMPDIR:-/tmp}}/nap.fifo"
	if [ ! -p "$fifo" ] && ! mkfifo "$fifo" 2>/dev/null && [ ! -p "$fifo" ]; then
		sleep "$1"
		return 0
	fi
	read -r -t "$1" _ <> "$fifo" || true
}

stop_servers() {
	local pid
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${SERVER_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	SERVER_PIDS=()
}

# Builds a cluster definition .tgz from JSON files: mkdef OUT.tgz FILE...
mkdef() {
	local out=$1 d
	shift
	d=$(mktemp -d "$BATS_TEST_TMPDIR/def.XXXXXX")
	cp "$@" "$d/"
	sh "$TOP/share/scripts/make-definition.sh" "$d" "$out"
}

# A minimal profile: profile NAME TYPE PACKNAME LAYER VALUES-YAML [VARIABLES-JSON]
profile() {
	jq -n --arg name "$1" --arg type "$2" --arg pack "$3" --arg layer "$4" \
		--arg values "$5" --argjson vars "${6:-[]}" \
		'{metadata: {name: $name, uid: ("uid-" + $name)},
		  spec: {version: "1.0.0", variables: $vars,
		         template: {type: $type, cloudType: "edge-native",
		                    packs: [{name: $pack, type: "spectro", layer: $layer,
		                             tag: "1.0.0", version: "1.0.0", values: $values}]}}}'
}
