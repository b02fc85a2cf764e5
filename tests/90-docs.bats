#!/usr/bin/env bats
# Documentation cannot drift from the code: man pages are lint-clean; each
# tool's options are the same in --help, its man page's OPTIONS and both
# shell completions; the manifest schema accepts what the tools print; the
# README starts with the set-up commands and has a section per tool.

load test_helper

SCHEMA="$TOP/share/edge-manifest.schema.json"
README="$TOP/README.md"
BASH_COMP="$TOP/completions/edge.bash"
ZSH_COMP="$TOP/completions/_edge"

# help_opts TOOL: the options edge-TOOL --help lists, one a line, sorted.
# Only lines that start with white space then '-' count, and only their
# option part (before the description, which starts after 2+ spaces).
help_opts() {
	"$TOP/bin/edge-$1" --help | grep -E '^[[:space:]]+-' |
		sed -E 's/^[[:space:]]+//; s/[[:space:]]{2,}.*//' |
		grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' | sed -E 's/^[ ,]//' | LC_ALL=C sort -u
}

# man_opts TOOL: the options of the .It Fl lines of the OPTIONS section of
# man/edge-TOOL.1 (".It Fl o , Fl -output Ar FILE" gives -o and --output).
man_opts() {
	awk '/^\.Sh /{on = ($2 == "OPTIONS")} on && /^\.It Fl /' "$TOP/man/edge-$1.1" |
		grep -oE 'Fl -?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^Fl /-/' | LC_ALL=C sort -u
}

# bash_opts TOOL: the words of _edge_opts_TOOL in completions/edge.bash.
bash_opts() {
	bash -c 'source "$1" && v=_edge_opts_$2 && printf "%s\n" ${!v}' _ "$BASH_COMP" "$1" |
		LC_ALL=C sort -u
}

# zsh_opts TOOL: the options named in the edge_TOOL_opts array of
# completions/_edge: each spec without its [description] and :action.
zsh_opts() {
	awk -v start="^local -a edge_$1_opts=\\\\($" '$0 ~ start {on = 1; next} on && /^\)$/ {on = 0} on' "$ZSH_COMP" |
		sed -E 's/\\[][]//g; s/\[[^]]*\]//g; s/:.*//' |
		grep -oE -- "(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z0-9-]*" | sed -E 's/^[^-]//' | LC_ALL=C sort -u
}

# same_list WHAT EXPECTED ACTUAL: fails with a diff when the lists differ.
same_list() {
	if [ "$2" != "$3" ]; then
		echo "$1 differs from --help (< --help, > $1):" >&2
		diff <(echo "$2") <(echo "$3") >&2
		return 1
	fi
}

# check_tool TOOL: --help, the man page and both completions list the same
# options.
check_tool() {
	local t=$1 want
	[ -x "$TOP/bin/edge-$t" ]
	"$TOP/bin/edge-$t" --help >/dev/null
	want=$(help_opts "$t")
	[ -n "$want" ]
	[ -f "$TOP/man/edge-$t.1" ] || { echo "man/edge-$t.1: missing" >&2; return 1; }
	same_list "man/edge-$t.1 OPTIONS" "$want" "$(man_opts "$t")"
	same_list "completions/edge.bash _edge_opts_$t" "$want" "$(bash_opts "$t")"
	same_list "completions/_edge edge_${t}_opts" "$want" "$(zsh_opts "$t")"
}

# validate FILE: checks a manifest against the schema (draft 2020-12).
validate() {
	python3 -c '
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python3-jsonschema is missing: apt-get install python3-jsonschema")
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errors:
    print("/".join(str(p) for p in e.absolute_path) + ": " + e.message, file=sys.stderr)
sys.exit(1 if errors else 0)
' "$SCHEMA" "$1"
}

# --- man pages ---------------------------------------------------------

@test "docs: every man page is mandoc -Tlint clean" {
	local f n=0
	for f in "$TOP"/man/*.[17]; do
		run mandoc -Tlint -W warning "$f"
		assert_success
		assert_output ""
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
}

@test "docs: man pages have the sections STYLE.md asks for" {
	local f s
	for f in "$TOP"/man/*.1; do
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
			grep -qx "\.Sh $s" "$f" || { echo "$f: no $s section" >&2; return 1; }
		done
	done
}

@test "docs: edge.7 has a SECURITY CONSIDERATIONS section: trust, checks, bounds, timeouts, secrets" {
	local s
	grep -qx '\.Sh SECURITY CONSIDERATIONS' "$TOP/man/edge.7"
	for s in "What is trusted" "What is verified where" Bounds Timeouts Secrets Fuzzing; do
		grep -qx "\.Ss $s" "$TOP/man/edge.7" || { echo "edge.7: no $s subsection" >&2; return 1; }
	done
	# the bounds it states are the ones the code enforces
	grep -q 'YAML_MAX_ALIAS_NODES 1000000' "$TOP/common/yamljson.h" "$TOP/common/yamljson.c"
	grep -q 'at most 1000000 nodes' "$TOP/man/edge.7"
}

@test "docs: edge.7 and the README list every exit code of common/exit.h" {
	local codes c
	codes=$(sed -nE 's/^[[:space:]]*EDGE_[A-Z]+ = ([0-9]+),.*/\1/p' "$TOP/common/exit.h")
	[ "$(echo "$codes" | wc -l)" -eq 7 ]
	for c in $codes; do
		awk '/^\.Sh /{on = ($2 == "EXIT")} on' "$TOP/man/edge.7" | grep -qx "\.It $c" ||
			{ echo "man/edge.7: exit $c missing" >&2; return 1; }
		grep -qE "^\| $c \|" "$README" || { echo "README.md: exit $c missing" >&2; return 1; }
	done
}

@test "docs: edge.7's ENVIRONMENT names every environment variable the code reads" {
	# issue 10 item 24: EDGE_SIGN_PASSWORD was read but not documented
	local vars v env
	vars=$(cat "$TOP"/cmd/*.c "$TOP"/cmd/fe/*.c "$TOP"/common/*.c |
		grep -oE '(getenv|secure_getenv|cli_take_secret_env|env_long)\("[A-Z_][A-Z0-9_]*"' |
		sed -E 's/.*\("//; s/"$//' | LC_ALL=C sort -u)
	[ "$(echo "$vars" | grep -c .)" -ge 8 ]
	echo "$vars" | grep -qx EDGE_SIGN_PASSWORD
	env=$(awk '/^\.Sh /{on = ($2 == "ENVIRONMENT")} on && /^\.It Ev /' "$TOP/man/edge.7" | grep -oE 'Ev [A-Z_][A-Z0-9_]*' | sed 's/^Ev //')
	for v in $vars; do
		echo "$env" | grep -qx "$v" || { echo "man/edge.7: ENVIRONMENT lacks $v" >&2; return 1; }
	done
}

@test "docs: edge.7 and the README do not call implemented tools unimplemented" {
	! grep -niE 'not (yet )?implemented' "$TOP/man/edge.7" || false
	! grep -niE 'are not implemented' "$README" || false
}

@test "docs: the README's synopses name the options its walkthrough uses" {
	# issue 10 item 24: --mirror, and edge-verify --registry's credentials
	local pull verify
	pull=$(awk '/^## edge-pull$/ {on = 1; next} on && /^```$/ {n++; if (n == 2) exit; next} on && n == 1' "$README")
	verify=$(awk '/^## edge-verify$/ {on = 1; next} on && /^```$/ {n++; if (n == 2) exit; next} on && n == 1' "$README")
	echo "$pull" | grep -q -- '--mirror'
	for o in --registry --username --password-file --ca-file --plain-http; do
		echo "$verify" | grep -q -- "$o" || { echo "README.md: the edge-verify synopsis lacks $o" >&2; return 1; }
	done
}

# --- options: --help = man page = completions ---------------------------

@test "docs: edge-fetchdef options agree in --help, man page and completions" {
	check_tool fetchdef
}

@test "docs: edge-resolve options agree in --help, man page and completions" {
	check_tool resolve
}

@test "docs: edge-pull options agree in --help, man page and completions" {
	check_tool pull
}

@test "docs: edge-pack options agree in --help, man page and completions" {
	check_tool pack
}

@test "docs: edge-sign options agree in --help, man page and completions" {
	check_tool sign
}

@test "docs: edge-verify options agree in --help, man page and completions" {
	check_tool verify
}

@test "docs: edge-push options agree in --help, man page and completions" {
	check_tool push
}

@test "docs: edge-serve options agree in --help, man page and completions" {
	check_tool serve
}

@test "docs: the option parsers see what they should" {
	# guards the parsers above: a broken one would compare empty lists
	help_opts resolve | grep -qx -- --images
	help_opts fetchdef | grep -qx -- -o
	help_opts fetchdef | grep -qx -- --output
	! help_opts fetchdef | grep -qx -- -vv || false
	man_opts resolve | grep -qx -- --var
	man_opts fetchdef | grep -qx -- -o
	bash_opts resolve | grep -qx -- --platform
	zsh_opts fetchdef | grep -qx -- --output
	zsh_opts resolve | grep -qx -- --platform
	! zsh_opts resolve | grep -qx -- -a || false
}

# --- completions -------------------------------------------------------

@test "docs: bash completion registers all eight tools and completes values" {
	run bash -c '
		source "$1"
		for t in fetchdef resolve pull pack sign verify push serve; do complete -p edge-$t; done
		c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _edge "$1"; echo "${COMPREPLY[*]}"; }
		c edge-resolve --pl
		c edge-resolve --platform ""
		c edge-resolve --platform linux/amd64,linux/arm
		c edge-pull --progress a
		c edge-fetchdef --pro
		c edge-resolve --name ""
	' _ "$BASH_COMP"
	assert_success
	assert_line --index 0 "complete -F _edge edge-fetchdef"
	assert_line --index 6 "complete -F _edge edge-push"
	assert_line --index 7 "complete -F _edge edge-serve"
	assert_line --index 8 "--platform"
	assert_line --index 9 "linux/amd64 linux/arm64 linux/arm/v7"
	assert_line --index 10 "linux/amd64,linux/arm64 linux/amd64,linux/arm/v7"
	assert_line --index 11 "auto always"
	assert_line --index 12 "--project-id --profile-ids"
	[ "${#lines[@]}" -eq 13 ] # nothing offered for a free-text --name
}

@test "docs: bash completion offers files for FILE options" {
	touch images.txt site.tgz
	run bash -c '
		source "$1"
		c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _edge "$1"; echo "${COMPREPLY[*]}"; }
		c edge-resolve --images im
		c edge-fetchdef -o si
		c edge-resolve si
	' _ "$BASH_COMP"
	assert_success
	assert_output $'images.txt\nsite.tgz\nsite.tgz'
}

@test "docs: the zsh completion names all eight tools" {
	[ "$(head -1 "$ZSH_COMP")" = "#compdef edge-fetchdef edge-resolve edge-pull edge-pack edge-sign edge-verify edge-push edge-serve" ]
	local t
	for t in fetchdef resolve pull pack sign verify push serve; do
		grep -qx "local -a edge_${t}_opts=(" "$ZSH_COMP"
	done
}

# --- the manifest schema -----------------------------------------------

@test "docs: the schema accepts what edge-resolve prints for the example" {
	edge-resolve "$DEFINITION" > m.json
	run --separate-stderr validate m.json
	assert_success
	assert_stderr_empty
}

@test "docs: the schema accepts a manifest with every field" {
	local d=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	jq -n --arg d "$d" '{
	  apiVersion: "edge.manifest/v1", name: "site", platforms: ["linux/amd64", "linux/arm/v7"],
	  definition: {path: "site.tgz", digest: $d, size: 1234, ref: "localhost/edge/spc/site:0123456789ab",
	               profiles: [{uid: "65c90a1b2c3d4e5f60718293", name: "edge-infra", version: "1.0.0", type: "cluster"}]},
	  images: [{ref: "docker.io/library/nginx:1.25",
	            from: [{profile: "edge-infra", pack: "nginx", field: "pack.content.images"},
	                   {list: "images.txt", line: 2}, {list: "sync.yaml"}],
	            digest: $d, sourceDigest: $d, mediaType: "application/vnd.oci.image.index.v1+json",
	            size: 31457280, platforms: ["linux/amd64"]},
	           {ref: "quay.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	            from: [{list: "l.txt", line: 1}], error: "manifest unknown", kept: {any: "thing"}}],
	  charts: [{name: "cert-manager", version: "1.11.0", repo: "https://charts.jetstack.io",
	            ref: "charts.jetstack.io/cert-manager:1.11.0",
	            from: [{profile: "edge-apps", pack: "cert-manager", field: "pack.content.charts"}],
	            digest: $d, size: 20480, mediaType: "application/vnd.oci.image.manifest.v1+json"}],
	  store: "store",
	  bundle: {path: "core-site-1a2b3c4d5e6f.tar.zst", digest: $d, size: 123,
	           parts: [{path: "core-site-1a2b3c4d5e6f.tar.zst.000", digest: $d, size: 100}],
	           omitted: {count: 4, bytes: 2098504}, base: [{name: "core-site-0a1b2c3d4e5f.tar.zst", digest: $d}]},
	  signatures: [{path: "core-site-1a2b3c4d5e6f.tar.zst.minisig", for: "bundle", algorithm: "ed25519", keyId: "E1B2C3D4"}],
	  pushed: [{ref: "docker.io/library/nginx:1.25",
	            target: "10.10.254.254:8000/spectro-images/docker.io/library/nginx:1.25", digest: $d}],
	  x_unknown: [1, 2, 3]}' > full.json
	run --separate-stderr validate full.json
	assert_success
	assert_stderr_empty
}

@test "docs: the schema rejects bad digests, sizes, apiVersions and from entries" {
	edge-resolve "$DEFINITION" > m.json
	jq '.images[0].digest = "sha256:ABC"' m.json > bad1.json
	jq '.definition.size = -1' m.json > bad2.json
	jq '.apiVersion = "edge.manifest/v2"' m.json > bad3.json
	jq '.images[0].from = [{pack: "x"}]' m.json > bad4.json
	jq 'del(.charts[0].version)' m.json > bad5.json
	jq '.platforms = ["linux"]' m.json > bad6.json
	local f
	for f in bad1 bad2 bad3 bad4 bad5 bad6; do
		run --separate-stderr validate "$f.json"
		assert_failure 1
		[ -n "$stderr" ]
	done
}

# --- README ------------------------------------------------------------

@test "docs: the README starts with make check and make demo" {
	# the first fenced block holds exactly the two commands, before any section
	run awk '/^```/ {if (on) exit; on = 1; next} on {print} /^## / && !on {print "section before the commands"; exit}' "$README"
	assert_success
	assert_output $'make check\nmake demo'
	[ "$(grep -c . <(sed -n '1,/^```/p' "$README" | grep -v '^#' | grep -v '^```'))" -eq 1 ] # one line of description
}

@test "docs: the README's Status lists exactly the tools not implemented yet" {
	local status t
	status=$(awk '/^## /{on = ($2 == "Status")} on' "$README")
	[ -n "$status" ]
	for t in fetchdef resolve pull pack sign verify push serve; do
		grep -q "^## edge-$t\$" "$README" || { echo "README.md: no section for edge-$t" >&2; return 1; }
		! echo "$status" | grep -qE "^- \`edge-$t\`" || { echo "README.md: edge-$t is implemented but listed as not" >&2; return 1; }
	done
}
