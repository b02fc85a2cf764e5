# Loaded by test_helper.bash. bats leaves the frames of this directory out
# of a failing test's stack trace (test_helper's setup names it), as it does
# its own library's: a failed `run -N` points at the test's line, as with
# bats's run.
# shellcheck shell=bash disable=SC2034

# run [!|-N] [--keep-empty-lines] [--separate-stderr] [--] CMD...: bats's
# run, the same flags and results (status, output, lines; stderr and
# stderr_lines with --separate-stderr; BATS_RUN_COMMAND; -N and ! fail the
# test on another status; the warning on status 127), written here for one
# reason: bats 1.8 names the file that takes CMD's stderr with
# $(mktemp ...), a fork and an exec (some 35 ms of CPU on this machine) for
# each of the suites' 500 run --separate-stderr. Here the file is named
# without a process: one for each shell that calls run ($BASHPID), beside
# the test's directory rather than in it, and emptied by each run.
# Defined only over a bats whose run is the one described (1.5 to 1.8), so a
# newer bats keeps its own.
if declare -F bats_separate_lines >/dev/null && declare -F bats_merge_stdout_and_stderr >/dev/null &&
	[[ ${BATS_VERSION:-} == 1.[5-8].* ]]; then
	run() {
		trap bats_interrupt_trap_in_run INT
		local expected_rc="" keep_empty_lines="" separate="" bats_run_separate_stderr_file=""
		while [[ $# -gt 0 ]] && [[ $1 == -* || $1 == '!' ]]; do
			case $1 in
			'!') expected_rc=-1 ;;
			-[0-9]*)
				expected_rc=${1#-}
				if [[ $expected_rc =~ [^0-9] ]]; then
					printf "Usage error: run: '-NNN' requires numeric NNN (got: %s)\n" "$expected_rc" >&2
					return 1
				elif [[ $expected_rc -gt 255 ]]; then
					printf "Usage error: run: '-NNN': NNN must be <= 255 (got: %d)\n" "$expected_rc" >&2
					return 1
				fi
				;;
			--keep-empty-lines) keep_empty_lines=1 ;;
			--separate-stderr) separate=1 ;;
			--)
				shift
				break
				;;
			*)
				printf "Usage error: unknown flag '%s'" "$1" >&2
				return 1
				;;
			esac
			shift
		done
		local pre_command=bats_merge_stdout_and_stderr
		if [[ -n $separate ]]; then
			bats_run_separate_stderr_file="${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-/tmp}}.run-stderr.$BASHPID"
			: > "$bats_run_separate_stderr_file" || return 1
			pre_command=bats_redirect_stderr_into_file
		fi
		local origFlags="$-"
		set +eET
		if [[ -n $keep_empty_lines ]]; then
			output="$(
				"$pre_command" "$@"
				status=$?
				printf .
				exit $status
			)" && status=0 || status=$?
			output="${output%.}"
		else
			output="$("$pre_command" "$@")" && status=0 || status=$?
		fi
		bats_separate_lines lines output
		if [[ -n $separate ]]; then
			read -d '' -r stderr < "$bats_run_separate_stderr_file" || true
			bats_separate_lines stderr_lines stderr
		fi
		BATS_RUN_COMMAND="${*}"
		set "-$origFlags"
		if [[ ${BATS_VERBOSE_RUN:-} ]]; then
			printf "%s\n" "$output"
		fi
		if [[ -n $expected_rc ]]; then
			if [[ $expected_rc = "-1" ]]; then
				if [[ $status -eq 0 ]]; then
					BATS_ERROR_SUFFIX=", expected nonzero exit code!"
					return 1
				fi
			elif [ "$status" -ne "$expected_rc" ]; then
				BATS_ERROR_SUFFIX=", expected exit code $expected_rc, got $status"
				return 1
			fi
		elif [[ $status -eq 127 ]]; then
			bats_generate_warning 1 "$BATS_RUN_COMMAND"
		fi
		trap bats_interrupt_trap INT
	}
fi
