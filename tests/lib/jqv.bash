# Load after test_helper (load lib/jqv).
# shellcheck shell=bash

# jqv JSON FILTER... / jqv -f FILE FILTER...: for each FILTER, what
# $(jq -r -c FILTER) prints over the JSON text JSON (or the file FILE):
# each result on a line, strings raw, other values as compact JSON. One jq
# process for them all (a test's checks of one document used to start one
# each, 40-50 ms of CPU apiece here); J[0] holds the first FILTER's, J[1]
# the next. jq's failure (bad JSON, a FILTER that errs) is jqv's.
jqv() {
	local file="" prog="" f out="${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:?}}.jqv.$BASHPID"
	if [ "$1" = -f ]; then
		file=$2
		shift 2
	else
		printf '%s\n' "$1" > "$out.in" || return 1
		file=$out.in
		shift
	fi
	for f in "$@"; do
		prog+="([($f) | if type == \"string\" then . else tojson end] | join(\"\\n\")), \"\\u0000\", "
	done
	J=()
	jq -j "${prog%, }" "$file" > "$out" || return 1
	mapfile -d '' -t J < "$out"
	[ "${#J[@]}" -eq $# ]
}
