#!/bin/sh
# Runs every suite (the C unit tests, the fuzz replays and short fuzz runs,
# the BATS files) side by side, keeps their TAP output under build/tap/, and
# ends with one plain line "N passed, N failed" that CI reads. In CI
# (CI=true) a skipped test counts as failed.
# Usage: tests/run.sh UNIT_BINARY...   (BATS files: $BATS_FILES or tests/*.bats;
# $TEST_JOBS suites at a time, default the cores, and one more slot for the
# suites that mostly wait; fuzz targets: $FUZZ_RUN, see below)
#
# The suites are CPU-bound, so they go longest first (by the seconds each
# took the last time it ran here, build/suite-times, else in a reference run
# from a clean clone, tests/suite-times, where the fuzz slot includes its
# build; one timed in neither goes first): the long ones start at
# once and the short ones fill the slots at the end. One suite a core: on
# the 2-core VM this was tuned on, a third CPU-bound suite beside two made
# every suite slower (CPU time of the whole run +20 %: the cost of switching
# between processes there) and the run longer. The suites that spent less
# than three fifths of their time on CPU the last time (a fault proxy's
# timeouts, retry back-offs, a progress line every 5 s) run in their own
# extra slot, beside the others: in the CPU slots they left a core idle
# (with a third as the line, 47-progress and 20-fetchdef stayed there and
# clean-clone runs took 233 and 268 s; with three fifths, 236 and 227). Each
# suite prints one line as it finishes (its counts and seconds), so a long
# run is never silent; the five slowest are named at the end.
#
# The BATS suites run under eatmydata when it is installed (make deps
# installs it) and the build has no sanitizer: the tools fsync every file
# they commit, which on a test run's throw-away files costs disk time and
# nothing else. The tests that need an fsync to happen check the order of
# operations, not the disk.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
tapdir=build/tap

# tests/run.sh --job KIND ARG: one suite, run by the pool below.
#   unit BINARY   a C unit test or fuzz replay (TAP on stdout)
#   fuzz -        the libFuzzer targets, briefly (FUZZ_RUN)
#   bats FILE     a BATS file
if [ "${1:-}" = --job ]; then
	kind=$2 arg=$3
	t0=$(date +%s)
	case $kind in
	unit)
		name=$(basename "$arg")
		tap="$tapdir/$name.tap"
		"./$arg" > "$tap" 2> "$tapdir/$name.err"
		rc=$?
		if [ $rc -ne 0 ]; then
			: > "$tapdir/failed-$name"
			# a crash or a plan mismatch is a failure even if no line said so
			if ! grep -q '^not ok ' "$tap"; then
				echo "not ok 1 - $name exited with status $rc" >> "$tap"
			fi
		fi
		;;
	fuzz)
		# the libFuzzer targets, briefly: FUZZ_RUN="SECONDS TARGET..."
		# (make test), built here with FUZZ_CC (clang) beside the other
		# suites; when they cannot be built, build/fuzz-reason says why
		# and each target counts as skipped
		name=fuzz
		tap="$tapdir/fuzz.tap"
		# one compiler at a time (-j1, not make check's jobserver): this
		# slot is one suite's, beside the others'
		if sh tests/fuzz/have-fuzzer.sh "${FUZZ_CC:-clang}" > build/fuzz-reason 2>&1; then
			${MAKE:-make} -j1 --no-print-directory fuzz-build > "$tapdir/fuzz-build.log" 2>&1 ||
				echo "could not build the fuzz targets (build/tap/fuzz-build.log)" > build/fuzz-reason
		fi
		reason=$(head -1 build/fuzz-reason 2>/dev/null)
		# shellcheck disable=SC2086
		FUZZ_SKIP="$reason" sh tests/fuzz/run.sh $FUZZ_RUN > "$tap" 2> "$tapdir/fuzz.err" ||
			: > "$tapdir/failed-fuzz"
		;;
	bats)
		name=$(basename "$arg" .bats)
		tap="$tapdir/bats-$name.tap"
		$EDGE_TEST_WRAP bats --tap --timing "$arg" > "$tap" 2>&1 || : > "$tapdir/failed-$name"
		;;
	esac
	t=$(( $(date +%s) - t0 ))
	# the CPU seconds of the suite's processes: times' second line, the
	# children's user and system time ("1m2.5s 0m3.25s"), from this shell
	# (in a pipeline's subshell they would start from nothing)
	times > "$tapdir/.times.$$"
	cpu=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%d", s + 0.5 }' "$tapdir/.times.$$")
	rm -f "$tapdir/.times.$$"
	p=$(grep -c "^ok " "$tap")
	x=$(grep -c "^not ok " "$tap")
	echo "$t $kind $arg ${cpu:-$t}" >> "$tapdir/suite-times"
	echo "   $name: $p passed, $x failed (${t}s)"
	if [ "$kind" = unit ] && [ -f "$tapdir/failed-$name" ]; then
		grep '^not ok ' "$tap"
		sed 's/^/# /' "$tapdir/$name.err" | tail -20
	fi
	if [ "$kind" = fuzz ]; then
		grep -E '^not ok |^# ' "$tap" | head -60
		[ -n "$reason" ] && echo "fuzz targets skipped: $reason"
	fi
	exit 0
fi

rm -rf "$tapdir"
mkdir -p "$tapdir"
status=0

EDGE_TEST_WRAP=""
if command -v eatmydata > /dev/null 2>&1 && ! grep -q -- -fsanitize build/cflags 2> /dev/null; then
	EDGE_TEST_WRAP=eatmydata
fi
# every bash the suites start reads tests/lib/builtins.bash first: mkdir,
# rm and a few more run as bash's loadable builtins (that file says why)
BASH_ENV="$top/tests/lib/builtins.bash"
export EDGE_TEST_WRAP BASH_ENV FUZZ_RUN="${FUZZ_RUN:-}"

# one line per suite, "KIND ARG"; longest first by the last run's times,
# those not timed yet first
files=${BATS_FILES:-$(ls tests/*.bats 2>/dev/null)}
{
	for f in $files; do echo "bats $f"; done
	for t in "$@"; do echo "unit $t"; done
	if [ -n "$FUZZ_RUN" ] && [ "${FUZZ_RUN%% *}" != 0 ]; then echo "fuzz -"; fi
} > "$tapdir/suites"
times=build/suite-times
[ -s "$times" ] || times=tests/suite-times
# a line of suite-times: "SECONDS KIND ARG CPU-SECONDS"; "waits" when the
# suite took 5 s or more and less than three fifths of it on CPU
awk 'NR == FNR { if (NF >= 3) { t[$2 " " $3] = $1; w[$2 " " $3] = (NF >= 4 && $1 >= 5 && $4 * 5 < $1 * 3) } next }
	{ print (($0 in t) ? t[$0] : 1000000), NR, (($0 in w) && w[$0]) ? "waits" : "cpu", $0 }' \
	"$times" "$tapdir/suites" 2> /dev/null | sort -k1,1nr -k2,2n > "$tapdir/sorted"
awk '$3 == "cpu"' "$tapdir/sorted" | cut -d' ' -f4- > "$tapdir/order"
awk '$3 == "waits"' "$tapdir/sorted" | cut -d' ' -f4- > "$tapdir/order-waits"
[ -s "$tapdir/order" ] || [ -s "$tapdir/order-waits" ] || cp "$tapdir/suites" "$tapdir/order"

jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
echo "== $(cat "$tapdir/order" "$tapdir/order-waits" | wc -l) suites, $jobs at a time$([ -s "$tapdir/order-waits" ] &&
	echo " and $(wc -l < "$tapdir/order-waits") that mostly wait in one more slot")${EDGE_TEST_WRAP:+ (under $EDGE_TEST_WRAP)}"
# Each suite runs in its own process (BATS files: their own servers and
# temp dirs), so they can run side by side; each writes its own TAP file.
# (-r: an empty list runs nothing, where xargs would run the job once bare)
xargs -r -P 1 -L 1 sh tests/run.sh --job < "$tapdir/order-waits" &
waits=$!
xargs -r -P "$jobs" -L 1 sh tests/run.sh --job < "$tapdir/order"
wait $waits
ls "$tapdir"/failed-* > /dev/null 2>&1 && status=1
# this run's times replace those of the same suites
cat build/suite-times "$tapdir/suite-times" 2> /dev/null |
	awk 'NF >= 3 { t[$2 " " $3] = $0 } END { for (k in t) print t[k] }' > build/suite-times.new &&
	mv build/suite-times.new build/suite-times
echo "slowest suites: $(sort -rn "$tapdir/suite-times" | head -5 |
	awk '{ n = ($3 == "-") ? $2 : $3; sub(/.*\//, "", n); sub(/\.bats$/, "", n); printf "%s%s %ss", (NR > 1 ? ", " : ""), n, $1 }')"
for f in "$tapdir"/bats-*.tap; do
	[ -f "$f" ] || continue
	grep -E '^not ok ' -A 12 "$f" | sed "s|^|$(basename "$f" .tap): |" | head -100
done

passed=0
failed=0
for f in "$tapdir"/*.tap; do
	[ -f "$f" ] || continue
	p=$(grep -E '^ok ' "$f" | grep -vci '# skip' || true)
	s=$(grep -E '^ok ' "$f" | grep -ci '# skip' || true)
	n=$(grep -cE '^not ok ' "$f" || true)
	passed=$((passed + p))
	failed=$((failed + n))
	if [ "$s" -gt 0 ]; then
		if [ "${CI:-}" = "true" ]; then
			failed=$((failed + s))
			status=1
		else
			echo "($s skipped in $(basename "$f"))"
		fi
	fi
done
[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
