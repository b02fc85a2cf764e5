#!/bin/sh
# Runs each libFuzzer target for SECONDS, one after the other, from its
# committed seed corpus tests/fuzz/corpus/T (read only) and a work corpus
# build/fuzz/corpus/T (where new inputs go), with its dictionary T.dict.
# Crashes, leaks and timeouts are saved as build/fuzz/crashes/T-*; one TAP
# line per target goes to stdout, with the execs/s and coverage reached.
# Usage: tests/fuzz/run.sh SECONDS TARGET...
# $FUZZ_SKIP: when set, every target is reported as skipped for that reason.
# $FUZZ_ARGS: extra libFuzzer options.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
secs=$1
shift
echo "1..$#"
n=0
status=0
for t in "$@"; do
	n=$((n + 1))
	if [ -n "${FUZZ_SKIP:-}" ]; then
		echo "ok $n - $t # SKIP $FUZZ_SKIP"
		continue
	fi
	mkdir -p "build/fuzz/corpus/$t" build/fuzz/crashes build/fuzz/log
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	log="build/fuzz/log/$t.log"
	# shellcheck disable=SC2086
	"build/fuzz/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -max_len=131072 \
		-print_final_stats=1 -artifact_prefix="build/fuzz/crashes/$t-" $dict ${FUZZ_ARGS:-} \
		"build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	what="$t: ${runs:-?} runs in ${secs} s, ${eps:-?} execs/s, cov ${cov:-?}, ft ${ft:-?}"
	if [ $rc -eq 0 ]; then
		echo "ok $n - $what"
	else
		status=1
		echo "not ok $n - $what: exit $rc (log $log)"
		# the report, the frames in edge's own code, where the input went
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written|[a-z].*(abort|error|would|lifetime|changed|survive|normalises))|^    #[0-9]+ .* in [a-z_]+ /' "$log" |
			grep -v -E 'compiler-rt|/usr/' | head -30 | sed 's/^/# /'
	fi
done
exit $status
