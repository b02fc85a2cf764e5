#!/bin/sh
# Runs every suite (C unit tests, then BATS), keeps their TAP output under
# build/tap/, and ends with one plain line "N passed, N failed" that CI reads.
# In CI (CI=true) a skipped test counts as failed.
# Usage: tests/run.sh UNIT_BINARY...   (BATS files: $BATS_FILES or tests/*.bats;
# $TEST_JOBS suites at a time, default one more than the cores; fuzz targets:
# $FUZZ_RUN, see below)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
tapdir=build/tap
rm -rf "$tapdir"
mkdir -p "$tapdir"
status=0

for t in "$@"; do
	name=$(basename "$t")
	echo "== $name"
	"./$t" > "$tapdir/$name.tap" 2> "$tapdir/$name.err"
	rc=$?
	grep -E '^(not )?ok ' "$tapdir/$name.tap" | grep -v '^ok ' || true
	if [ $rc -ne 0 ]; then
		status=1
		# a crash or a plan mismatch is a failure even if no line said so
		if ! grep -q '^not ok ' "$tapdir/$name.tap"; then
			echo "not ok 1 - $name exited with status $rc" >> "$tapdir/$name.tap"
		fi
		sed 's/^/# /' "$tapdir/$name.err" | tail -20
	fi
done

# the libFuzzer targets, briefly: FUZZ_RUN="SECONDS TARGET..." (make test);
# when they could not be built, build/fuzz-reason says why and each target
# counts as skipped
if [ -n "${FUZZ_RUN:-}" ] && [ "${FUZZ_RUN%% *}" != 0 ]; then
	echo "== fuzz"
	reason=$(head -1 build/fuzz-reason 2>/dev/null)
	# shellcheck disable=SC2086
	FUZZ_SKIP="$reason" sh tests/fuzz/run.sh $FUZZ_RUN > "$tapdir/fuzz.tap" 2> "$tapdir/fuzz.err"
	[ $? -eq 0 ] || status=1
	grep -E '^not ok |^# ' "$tapdir/fuzz.tap" | head -60
	[ -n "$reason" ] && echo "fuzz targets skipped: $reason"
fi

files=${BATS_FILES:-$(ls tests/*.bats 2>/dev/null)}
if [ -n "$files" ]; then
	jobs=${TEST_JOBS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}
	echo "== bats ($jobs suites at a time)"
	# Each suite runs in its own bats process (its own servers and temp
	# dirs), so they can run side by side; each writes its own TAP file.
	# shellcheck disable=SC2086
	# Each prints one line as it finishes (its counts and seconds), so a
	# long run is never silent; the five slowest are named at the end.
	printf '%s\n' $files | xargs -P "$jobs" -I{} sh -c '
		f={}; n=$(basename "$f" .bats); d="'"$tapdir"'"; t0=$(date +%s)
		bats --tap "$f" > "$d/bats-$n.tap" 2>&1 || echo "$f" >> "$d/failed-suites"
		t=$(( $(date +%s) - t0 ))
		p=$(grep -c "^ok " "$d/bats-$n.tap"); x=$(grep -c "^not ok " "$d/bats-$n.tap")
		echo "$t $n" >> "$d/suite-times"
		echo "   $n: $p passed, $x failed (${t}s)"'
	[ -f "$tapdir/failed-suites" ] && status=1
	echo "slowest suites: $(sort -rn "$tapdir/suite-times" | head -5 | awk '{printf "%s%s %ss", (NR > 1 ? ", " : ""), $2, $1}')"
	for f in "$tapdir"/bats-*.tap; do
		grep -E '^not ok ' -A 12 "$f" | sed "s|^|$(basename "$f" .tap): |" | head -100
	done
fi

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
