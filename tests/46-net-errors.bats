#!/usr/bin/env bats
# Network and credential mistakes a user makes (issue 10, items 5, 6, 8, 10,
# 12, 13): each ends at once with one line that says the fix, and the
# options that mend them (per-registry plain HTTP and TLS checks, mirrors
# with a scheme, the containers auth files) work.

load test_helper
load registry

setup_file() {
	registry_start tls tlsreg
	seed_images "$REGISTRY" base
	registry_start plain plainreg
	seed_images "$REGISTRY" app1
	registry_start basic basicreg
	seed_images "$REGISTRY" base
	export TLS="$TLSREG_REGISTRY" TLS_CA="$TLSREG_REGISTRY_CA"
	export PLAIN="$PLAINREG_REGISTRY"
	export BASIC="$BASICREG_REGISTRY" BASIC_USER="$BASICREG_REGISTRY_USER" BASIC_PASS="$BASICREG_REGISTRY_PASS"
	test_images
}

teardown_file() {
	stop_servers
}

# manifest REF...: m.json naming the images
manifest() {
	printf '%s\n' "$@" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
}

# no_line ERE: no line of stdin matches ERE
no_line() {
	if grep -E -- "$1"; then
		echo "unexpected line(s) matching: $1" >&2
		return 1
	fi
}

# attempts: the number of HTTP attempts edge-pull -v logged ("-> " lines)
attempts() {
	grep -c -- ' -> ' <<< "$stderr"
}

# --- item 5: plain HTTP and TLS per registry, mirrors with a scheme -------

@test "net: --mirror REG=http://HOST/PATH pulls from a plain-HTTP mirror while another registry is TLS" {
	mkdir -p mirror-data
	manifest "docker.io/test/app1:1" "$TLS/test/base:1"
	# the plain registry serves the mirror's repositories at its root: no path
	run --separate-stderr edge-pull --ca-file "$TLS_CA" --mirror "docker.io=http://$PLAIN" m.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.images[] | select(.ref == "docker.io/test/app1:1") | .digest')" = "$(test_image_digest test/app1:1)" ]
	[ "$(echo "$output" | jq -r --arg r "$TLS/test/base:1" '.images[] | select(.ref == $r) | .digest')" = "$(test_image_digest test/base:1)" ]
	# https:// is TLS even with --plain-http for the others
	manifest "docker.io/test/base:1" "$PLAIN/test/app1:1"
	run --separate-stderr edge-pull --plain-http --ca-file "$TLS_CA" --mirror "docker.io=https://$TLS" --store s2 m.json
	assert_success
	assert_stderr_empty
}

@test "net: --mirror with another scheme or a bad form is a usage error" {
	manifest "docker.io/test/app1:1"
	run --separate-stderr edge-pull --mirror "docker.io=ftp://$PLAIN" m.json
	assert_failure 2
	assert_stderr_contains "edge-pull: --mirror: docker.io=ftp://$PLAIN: the scheme must be http:// or https://"
	run --separate-stderr edge-pull --mirror "docker.io=http://" m.json
	assert_failure 2
	assert_stderr_contains "edge-pull: --mirror: expected HOST[:PORT], got ''"
	run --separate-stderr edge-pull --plain-http-host "http://$PLAIN" m.json
	assert_failure 2
	assert_stderr_contains "edge-pull: --plain-http-host: expected HOST[:PORT] without a scheme, got 'http://$PLAIN'"
}

@test "net: --plain-http-host HOST and --insecure-host HOST mix plain HTTP, TLS and unverified TLS" {
	manifest "$PLAIN/test/app1:1" "$TLS/test/base:1"
	run --separate-stderr edge-pull --plain-http-host "$PLAIN" --ca-file "$TLS_CA" m.json
	assert_success
	assert_stderr_empty
	run --separate-stderr edge-pull --plain-http-host "$PLAIN" --insecure-host "$TLS" --store s2 m.json
	assert_success
	assert_stderr_empty
	# --insecure-host is for that host only
	run --separate-stderr edge-pull --plain-http-host "$PLAIN" --insecure-host 127.0.0.1:1 --store s3 m.json
	assert_failure 4
	assert_stderr_contains "TLS certificate verification failed"
	# edge-push and edge-verify --registry take them too
	run --separate-stderr edge-push --plain-http-host "$TLS" --help
	assert_success
	run --separate-stderr edge-verify --insecure-host "$TLS" --help
	assert_success
}

# --- item 6: mismatches found on the first attempt, with the fix ----------

@test "net: TLS against a plain-HTTP registry fails at once and hints at --plain-http" {
	manifest "$PLAIN/test/app1:1"
	EDGE_RETRY_BASE_MS=2000 run --separate-stderr edge-pull -v m.json
	assert_failure 4
	assert_stderr_contains "edge-pull: $PLAIN/test/app1:1: GET https://$PLAIN/v2/test/app1/manifests/1: the server answered in plain HTTP, not TLS (for a plain-HTTP registry: --plain-http-host $PLAIN, or --plain-http for all)"
	[ "$(attempts)" = 1 ]
	no_line 'retrying' <<< "$stderr"
	no_line 'wrong version number' <<< "$stderr"
}

@test "net: --plain-http against a TLS registry fails at once and says to drop it" {
	manifest "$TLS/test/base:1"
	run --separate-stderr edge-pull -v --plain-http m.json
	assert_failure 4
	assert_stderr_contains "edge-pull: $TLS/test/base:1: GET http://$TLS/v2/test/base/manifests/1: HTTP 400: the server speaks TLS, not plain HTTP (drop --plain-http for $TLS)"
	[ "$(attempts)" = 1 ]
}

@test "net: a certificate that does not verify fails at once and hints at --ca-file" {
	manifest "$TLS/test/base:1"
	run --separate-stderr edge-pull -v m.json
	assert_failure 4
	assert_stderr_contains "(trust the registry's CA with --ca-file FILE, or skip the check with --insecure-host $TLS)"
	assert_stderr_contains "TLS certificate verification failed"
	[ "$(attempts)" = 1 ]
}

@test "net: a plain web server is not a registry" {
	mkdir www
	start_server www www.port python3 -c '
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory="www")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()' www.port
	manifest "127.0.0.1:$PORT/test/app1:1"
	run --separate-stderr edge-pull --plain-http m.json
	assert_failure 4
	assert_stderr_is "edge-pull: 127.0.0.1:$PORT/test/app1:1: 127.0.0.1:$PORT: not a registry (GET http://127.0.0.1:$PORT/v2/ answered HTTP 404)"
	run --separate-stderr edge-verify --plain-http --registry "127.0.0.1:$PORT/site" m.json
	assert_failure 4
	assert_stderr_contains "127.0.0.1:$PORT: not a registry"
}

# wrong_password_from WHERE ARGS...: edge-pull with a wrong password from
# WHERE fails (exit 5) naming the user and WHERE.
pull_refused() {
	local where=$1
	shift
	run --separate-stderr "$@"
	assert_failure 5
	assert_stderr_contains "edge-pull: $BASIC/test/base:1: $BASIC: access to test/base refused (HTTP 401"
	assert_stderr_contains "the credentials of user $BASIC_USER (from $where) were not accepted"
}

@test "net: a wrong password names the user and where it came from" {
	manifest "$BASIC/test/base:1"
	echo wrong > pw
	chmod 600 pw
	pull_refused "--password-file pw" edge-pull --plain-http --registry "$BASIC" --username "$BASIC_USER" --password-file pw m.json
	EDGE_REGISTRY_PASSWORD=wrong pull_refused '$EDGE_REGISTRY_PASSWORD' edge-pull --plain-http --registry "$BASIC" --username "$BASIC_USER" m.json
	jq -n --arg h "$BASIC" --arg u "$BASIC_USER" '{image: [{endpoint: $h, username: $u, password: "wrong"}]}' > creds.json
	chmod 600 creds.json
	pull_refused "--cred-file creds.json" edge-pull --plain-http --cred-file creds.json m.json
	mkdir dock run
	auth=$(printf '%s:wrong' "$BASIC_USER" | base64 -w0)
	jq -n --arg h "$BASIC" --arg a "$auth" '{auths: {($h): {auth: $a}}}' > dock/config.json
	chmod 600 dock/config.json
	DOCKER_CONFIG=$PWD/dock pull_refused "docker config $PWD/dock/config.json" edge-pull --plain-http m.json
	mkdir -p run/containers
	cp dock/config.json run/containers/auth.json
	XDG_RUNTIME_DIR=$PWD/run pull_refused "containers auth file $PWD/run/containers/auth.json" edge-pull --plain-http m.json
}

# --- item 13: skopeo login / podman login --------------------------------

@test "net: credentials from containers auth.json (XDG_RUNTIME_DIR, then ~/.config), before docker's" {
	manifest "$BASIC/test/base:1"
	mkdir -p run/containers home/.config/containers dock
	good=$(printf '%s:%s' "$BASIC_USER" "$BASIC_PASS" | base64 -w0)
	bad=$(printf '%s:wrong' "$BASIC_USER" | base64 -w0)
	jq -n --arg h "$BASIC" --arg a "$good" '{auths: {($h): {auth: $a}}}' > run/containers/auth.json
	jq -n --arg h "$BASIC" --arg a "$bad" '{auths: {($h): {auth: $a}}}' > dock/config.json
	chmod 600 run/containers/auth.json dock/config.json
	XDG_RUNTIME_DIR=$PWD/run DOCKER_CONFIG=$PWD/dock run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	# the user's own file, found through HOME
	mv run/containers/auth.json home/.config/containers/auth.json
	HOME=$PWD/home DOCKER_CONFIG=$PWD/dock run --separate-stderr edge-pull --plain-http --store s2 m.json
	assert_success
	assert_stderr_empty
	# the runtime directory's file comes first
	jq -n --arg h "$BASIC" --arg a "$bad" '{auths: {($h): {auth: $a}}}' > run/containers/auth.json
	chmod 600 run/containers/auth.json
	HOME=$PWD/home XDG_RUNTIME_DIR=$PWD/run run --separate-stderr edge-pull --plain-http --store s3 m.json
	assert_failure 5
	assert_stderr_contains "(from containers auth file $PWD/run/containers/auth.json)"
}

# --- item 12: an unreadable docker config --------------------------------

@test "net: an unreadable docker config.json is a warning when no credentials are needed" {
	manifest "$PLAIN/test/app1:1"
	mkdir dock
	ln -s config.json dock/config.json # a loop: unreadable, even for root
	DOCKER_CONFIG=$PWD/dock run --separate-stderr edge-pull --plain-http m.json
	assert_success
	[ "$(wc -l <<< "$stderr")" = 1 ]
	assert_stderr_contains "edge-pull: warning: docker config: open $PWD/dock/config.json: "
	assert_stderr_contains "; going on without its credentials"
	# a file named by $REGISTRY_AUTH_FILE must be readable
	REGISTRY_AUTH_FILE=$PWD/dock/config.json run --separate-stderr edge-pull --plain-http --store s2 m.json
	assert_failure 6
}

# --- item 8: every file option is named in its error ---------------------

@test "net: a missing file names the option that gave it, in every tool" {
	local opt cmd n=0
	manifest "$PLAIN/test/app1:1"
	echo key > key
	chmod 600 key
	# OPT, then the command (F: the missing file)
	while IFS='|' read -r opt cmd; do
		[ -n "$opt" ] || continue
		cmd=${cmd//F//nonexistent/file}
		# shellcheck disable=SC2086 # cmd: words
		run --separate-stderr $cmd < /dev/null
		[ "$status" -ge 3 ] || { echo "$cmd: exit $status" >&2; return 1; }
		[ "$(wc -l <<< "$stderr")" = 1 ] || { echo "$cmd: more than one line: $stderr" >&2; return 1; }
		grep -q -- "^edge-[a-z]*: $opt: /nonexistent/file: No such file or directory$" <<< "$stderr" ||
			{ echo "$cmd: the message does not name $opt: $stderr" >&2; return 1; }
		n=$((n + 1))
	done <<-EOF
		--password-file|edge-pull --registry $PLAIN --username u --password-file F m.json
		--cred-file|edge-pull --cred-file F m.json
		--ca-file|edge-pull --ca-file F m.json
		--password-file|edge-push --registry $PLAIN --username u --password-file F m.json
		--cred-file|edge-push --registry $PLAIN --cred-file F m.json
		--ca-file|edge-push --registry $PLAIN --ca-file F m.json
		--password-file|edge-verify --registry $PLAIN --username u --password-file F m.json
		--cred-file|edge-verify --registry $PLAIN --cred-file F m.json
		--ca-file|edge-verify --registry $PLAIN --ca-file F m.json
		--api-key-file|edge-fetchdef --project-id p --profile-ids a --api-key-file F
		--ca-file|edge-fetchdef --project-id p --profile-ids a --api-key-file key --ca-file F
		--images|edge-resolve --images F
		--charts|edge-resolve --charts F
		-k|edge-sign -k F m.json
		--manifest|edge-sign -k key --manifest F
		--password-file|edge-sign -k key --password-file F m.json
		-p|edge-verify -p F m.json
		-p|edge-serve -p F m.json
		--tls-cert|edge-serve --tls-cert F --tls-key key m.json
		--tls-key|edge-serve --tls-cert key --tls-key F m.json
		--htpasswd|edge-serve --htpasswd F m.json
	EOF
	[ "$n" = 21 ]
}

# --- item 10: URLs in messages lose their query ---------------------------

@test "net: a failed upload's message names the URL without its query string" {
	local b size
	manifest "$PLAIN/test/app1:1"
	edge-pull -q --plain-http m.json > pulled.json
	edge-pack -q --name t pulled.json > packed.json
	b=$(jq -r .bundle.path packed.json)
	size=$(stat -c %s "$b")
	# a corrupt frame in the middle of a blob: its upload fails half-way
	printf '\377\377\377\377' | dd of="$b" bs=1 seek=$((size / 2)) conv=notrunc status=none
	run --separate-stderr edge-push --plain-http --registry "$PLAIN/q" "$b"
	assert_failure 1
	grep -qE "^edge-push: $PLAIN/test/app1:1: blob sha256:[0-9a-f]{64}: PUT http://$PLAIN/v2/q/[^ ?]*/blobs/uploads/[0-9a-f-]+: $b: corrupt zstd data" <<< "$stderr"
	no_line '_state|\?' <<< "$stderr"
}

# --- libcurl is loaded when a tool first needs the network ------------------

@test "net: libcurl is loaded only for the network: without it a pull says so (exit 4), a bundle still verifies" {
	local b
	# no tool links it (common/curl_lazy.c)
	for b in "$TOP"/bin/edge-*; do
		run ldd "$b"
		assert_success
		refute_output --partial libcurl
	done
	manifest "$PLAIN/test/app1:1"
	edge-pull -q --plain-http --store store m.json > pulled.json
	edge-pack -q -o b.tar.zst pulled.json > /dev/null
	# a libcurl.so.4 that is not a library, first on the loader's path
	mkdir fake
	printf 'not a library\n' > fake/libcurl.so.4
	LD_LIBRARY_PATH=$PWD/fake run --separate-stderr edge-pull -q --plain-http --store store2 m.json
	assert_failure 4
	assert_output ""
	assert_stderr_is "edge-pull: cannot load libcurl: $PWD/fake/libcurl.so.4: file too short"
	assert_no_file store2/index.json
	LD_LIBRARY_PATH=$PWD/fake run --separate-stderr edge-verify b.tar.zst
	assert_success
	assert_stderr_empty
	# and with it, the same pull goes through
	run edge-pull -q --plain-http --store store2 m.json
	assert_success
}
