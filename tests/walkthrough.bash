# The README's walkthrough blocks, for the suites that run them as written
# (92-walkthrough, 93-monthly). Load after test_helper.

# block NAME: the README's walkthrough block NAME ("connected side", "site
# side", "monthly update, connected side", ...), between
# <!-- walkthrough: NAME … --> and <!-- /walkthrough -->, without the fences.
block() {
	awk -v want="<!-- walkthrough: $1 " '
		index($0, want) == 1 { on = 1; next }
		on && /^<!-- \/walkthrough -->$/ { exit }
		on && !/^```/ { print }' "$TOP/README.md"
}

# replace TEXT FROM TO: TEXT with FROM replaced by TO; fails when TEXT has no
# FROM (the README changed: the test must change with it).
replace() {
	case $1 in
	*"$2"*) printf '%s\n' "${1//"$2"/"$3"}" ;;
	*)
		echo "the walkthrough no longer has '$2'" >&2
		return 1
		;;
	esac
}
