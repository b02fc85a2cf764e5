#!/usr/bin/env bats
# edge-fetchdef against a fake Palette API that checks the request exactly.

load test_helper

PROJECT=5f1a2b3c4d5e6f7a8b9c0d1e
PROFILES=65c90a1b2c3d4e5f60718293,65c90a1b2c3d4e5f607182a4
KEY=s3cr3t-api-key-value

# palette MODE [NAME]: start the fake API, set ENDPOINT
palette() {
	start_server palette "$BATS_TEST_TMPDIR/palette.port" \
		python3 "$TOP/tests/servers/fake-palette.py" --port-file "$BATS_TEST_TMPDIR/palette.port" \
		--definition "$DEFINITION" --api-key "$KEY" --project-id "$PROJECT" \
		--profile-ids "$PROFILES" --name "${2:-site}" --mode "$1" --log "$BATS_TEST_TMPDIR/palette.log"
	ENDPOINT="http://127.0.0.1:$PORT"
}

fetch() {
	run --separate-stderr edge-fetchdef --endpoint "$ENDPOINT" --project-id "$PROJECT" \
		--profile-ids "$PROFILES" --name site "$@"
}

@test "fetchdef: downloads the definition and prints its manifest" {
	palette ok
	export EDGE_API_KEY=$KEY
	fetch
	assert_success
	assert_stderr_empty
	cmp site.tgz "$DEFINITION"
	[ "$(echo "$output" | jq -r .apiVersion)" = edge.manifest/v1 ]
	[ "$(echo "$output" | jq -r .name)" = site ]
	[ "$(echo "$output" | jq -r .definition.path)" = site.tgz ]
	[ "$(echo "$output" | jq -r .definition.digest)" = "sha256:$(sha256sum site.tgz | cut -d' ' -f1)" ]
	[ "$(echo "$output" | jq -r .definition.size)" = "$(stat -c %s site.tgz)" ]
	[ "$(echo "$output" | jq -c '[.definition.profiles[].uid]')" = '["65c90a1b2c3d4e5f60718293","65c90a1b2c3d4e5f607182a4"]' ]
	# the fake API saw exactly one request and rejected nothing
	[ "$(grep -c '"event": "reject"' palette.log || true)" = 0 ]
	! grep -q "$KEY" palette.log || false
}

@test "fetchdef: edge-fetchdef | edge-resolve" {
	palette ok
	export EDGE_API_KEY=$KEY
	edge-fetchdef --endpoint "$ENDPOINT" --project-id "$PROJECT" --profile-ids "$PROFILES" --name site \
		| edge-resolve > out.json 2> err.txt
	[ ! -s err.txt ]
	diff <(jq -r '.images[].ref' out.json) "$EXAMPLES/expected-refs.txt"
	[ "$(jq -r '.definition.profiles[] | select(.uid == "65c90a1b2c3d4e5f60718293") | .name' out.json)" = edge-infra ]
}

@test "fetchdef: profile IDs are trimmed; -o and \$EDGE_PALETTE_ENDPOINT" {
	palette ok
	export EDGE_API_KEY=$KEY EDGE_PALETTE_ENDPOINT=$ENDPOINT/
	run --separate-stderr edge-fetchdef --project-id "$PROJECT" \
		--profile-ids " 65c90a1b2c3d4e5f60718293 , 65c90a1b2c3d4e5f607182a4 " --name site -o out/def.tgz
	assert_failure 6
	assert_stderr_contains "edge-fetchdef: create out/def.tgz: No such file or directory"
	mkdir out
	run --separate-stderr edge-fetchdef --project-id "$PROJECT" \
		--profile-ids " 65c90a1b2c3d4e5f60718293 , 65c90a1b2c3d4e5f607182a4 " --name site -o out/def.tgz
	assert_success
	cmp out/def.tgz "$DEFINITION"
	[ "$(echo "$output" | jq -r .definition.path)" = out/def.tgz ]
}

@test "fetchdef: the API key from --api-key-file; --api-key warns" {
	palette ok
	printf '%s\n' "$KEY" > key.txt
	chmod 600 key.txt
	fetch --api-key-file key.txt
	assert_success
	assert_stderr_empty
	rm site.tgz
	fetch --api-key "$KEY"
	assert_success
	assert_stderr_contains "edge-fetchdef: warning: --api-key exposes the key"
	chmod 644 key.txt
	rm site.tgz
	fetch --api-key-file key.txt
	assert_success
	assert_stderr_is "edge-fetchdef: warning: key.txt: secret file is readable by others"
}

@test "fetchdef: 401 is exit 5, the key refused, no file" {
	palette 401
	export EDGE_API_KEY=$KEY
	fetch
	assert_failure 5
	assert_output ""
	assert_stderr_contains "edge-fetchdef: POST $ENDPOINT/v1/spectroclusters/spc/download: 401: the API key was refused"
	assert_no_file site.tgz
}

@test "fetchdef: a wrong key is refused by the API (403 too)" {
	palette ok
	export EDGE_API_KEY=wrong-key
	fetch
	assert_failure 5
	assert_no_file site.tgz
	stop_servers
	palette 403
	export EDGE_API_KEY=$KEY
	fetch
	assert_failure 5
	assert_stderr_contains ": 403: the API key was refused"
}

@test "fetchdef: 404 is exit 4 naming project and profiles" {
	palette 404
	export EDGE_API_KEY=$KEY
	fetch
	assert_failure 4
	assert_output ""
	assert_stderr_contains "404: project $PROJECT or profiles $PROFILES not found"
	assert_no_file site.tgz
}

@test "fetchdef: a 500 then 200 is retried" {
	palette 500-then-ok
	export EDGE_API_KEY=$KEY
	fetch
	assert_success
	assert_stderr_empty
	cmp site.tgz "$DEFINITION"
	[ "$(grep -c '"event": "request"' palette.log)" = 2 ]
}

@test "fetchdef: 500 forever is exit 4 after the retries" {
	palette 500
	export EDGE_API_KEY=$KEY
	fetch --retries 2
	assert_failure 4
	assert_stderr_contains "HTTP 500"
	[ "$(grep -c '"event": "request"' palette.log)" = 3 ]
	assert_no_file site.tgz
}

@test "fetchdef: a reply that is not a gzip tar is exit 4, no file" {
	palette garbage
	export EDGE_API_KEY=$KEY
	fetch
	assert_failure 4
	assert_output ""
	assert_stderr_contains "the reply is not a cluster definition: not a gzip-compressed tar archive"
	assert_no_file site.tgz
}

@test "fetchdef: an empty reply is exit 4, no file" {
	palette empty
	export EDGE_API_KEY=$KEY
	fetch
	assert_failure 4
	assert_stderr_contains "the reply is empty, expected a gzip tar"
	assert_no_file site.tgz
}

@test "fetchdef: an existing file is replaced only by a good download" {
	palette garbage
	export EDGE_API_KEY=$KEY
	echo precious > site.tgz
	fetch
	assert_failure 4
	[ "$(cat site.tgz)" = precious ]
}

@test "fetchdef: a slow reply still completes" {
	palette slow
	export EDGE_API_KEY=$KEY
	fetch
	assert_success
	cmp site.tgz "$DEFINITION"
}

@test "fetchdef: a refused connection is exit 4" {
	export EDGE_API_KEY=$KEY
	# a port nobody listens on: a privileged one (a port bound and freed
	# here could be taken by a server of a suite running beside this one)
	port=1
	run --separate-stderr edge-fetchdef --endpoint "http://127.0.0.1:$port" --project-id "$PROJECT" \
		--profile-ids "$PROFILES" --retries 1
	assert_failure 4
	assert_stderr_contains "edge-fetchdef: POST http://127.0.0.1:$port/v1/spectroclusters/spc/download:"
	assert_no_file cluster-definition.tgz
}

@test "fetchdef: -vv logs headers with the API key redacted" {
	palette ok
	export EDGE_API_KEY=$KEY
	fetch -vv
	assert_success
	assert_stderr_contains "ApiKey: <redacted>"
	assert_stderr_contains "ProjectUid: $PROJECT"
	[[ "$stderr" != *"$KEY"* ]]
}

@test "fetchdef: usage errors" {
	export EDGE_API_KEY=$KEY
	run --separate-stderr edge-fetchdef --profile-ids a
	assert_failure 2
	assert_stderr_contains "edge-fetchdef: --project-id is required"
	run --separate-stderr edge-fetchdef --project-id p
	assert_failure 2
	assert_stderr_contains "edge-fetchdef: --profile-ids is required"
	run --separate-stderr edge-fetchdef --project-id p --profile-ids a,,b
	assert_failure 2
	assert_stderr_contains "edge-fetchdef: --profile-ids: empty profile ID in 'a,,b'"
	run --separate-stderr edge-fetchdef --project-id p --profile-ids 'a, b,a'
	assert_failure 2
	assert_stderr_contains "edge-fetchdef: --profile-ids: profile a is given twice"
	run --separate-stderr edge-fetchdef --project-id p --profile-ids a --retries x
	assert_failure 2
	assert_stderr_contains "--retries: expected a whole number from 0 to 100, got 'x'"
	run --separate-stderr edge-fetchdef --project-id p --profile-ids a --endpoint ftp://x
	assert_failure 2
	run --separate-stderr edge-fetchdef --project-id p --profile-ids a --name ../x
	assert_failure 2
	unset EDGE_API_KEY
	run --separate-stderr edge-fetchdef --project-id p --profile-ids a
	assert_failure 2
	assert_stderr_contains "no API key: set \$EDGE_API_KEY or use --api-key-file FILE"
	assert_no_file cluster-definition.tgz
}

@test "fetchdef: a missing API key file is invalid input" {
	run --separate-stderr edge-fetchdef --project-id p --profile-ids a --api-key-file nosuch
	assert_failure 3
	assert_stderr_is "edge-fetchdef: --api-key-file: nosuch: No such file or directory"
}

# palette_values MODE ARGS...: the fake API, expecting pack values overrides
palette_values() {
	local mode=$1
	shift
	start_server palette "$BATS_TEST_TMPDIR/palette.port" \
		python3 "$TOP/tests/servers/fake-palette.py" --port-file "$BATS_TEST_TMPDIR/palette.port" \
		--definition "$DEFINITION" --api-key "$KEY" --project-id "$PROJECT" \
		--profile-ids "$PROFILES" --name site --mode "$mode" --log "$BATS_TEST_TMPDIR/palette.log" "$@"
	ENDPOINT="http://127.0.0.1:$PORT"
}

@test "fetchdef: --values sends a pack's values override in its profile (v1PackValuesEntity)" {
	printf 'options:\n  system.uri: "{{ .spectro.pack.edge-native-byoi.options.system.registry }}/ubuntu:k3s"\n  system.registry: 10.10.254.254:8000\n' > os.yaml
	printf 'pack:\n  content:\n    images:\n      - image: busybox:1.36\n' > app.yaml
	p1=${PROFILES%%,*} p2=${PROFILES##*,}
	palette_values ok --pack-values "$p1:edge-native-byoi=os.yaml" --pack-values "$p2:hello-universe=app.yaml"
	export EDGE_API_KEY=$KEY
	fetch --values "$p1:edge-native-byoi=os.yaml" --values "$p2:hello-universe=app.yaml"
	assert_success
	assert_stderr_empty
	cmp site.tgz "$DEFINITION"
	[ "$(grep -c '"event": "reject"' palette.log || true)" = 0 ]
	# with one profile the UID may be left out
	stop_servers
	rm -f site.tgz
	start_server palette "$BATS_TEST_TMPDIR/palette.port" \
		python3 "$TOP/tests/servers/fake-palette.py" --port-file "$BATS_TEST_TMPDIR/palette.port" \
		--definition "$DEFINITION" --api-key "$KEY" --project-id "$PROJECT" \
		--profile-ids "$p1" --name site --pack-values "$p1:edge-native-byoi=os.yaml"
	run --separate-stderr edge-fetchdef --endpoint "http://127.0.0.1:$PORT" --project-id "$PROJECT" \
		--profile-ids "$p1" --name site --values edge-native-byoi=os.yaml
	assert_success
	cmp site.tgz "$DEFINITION"
}

@test "fetchdef: bad --values are refused before any request" {
	export EDGE_API_KEY=$KEY
	ENDPOINT=http://127.0.0.1:9
	printf 'a: [unclosed\n' > bad.yaml
	printf 'a: 1\n' > ok.yaml
	fetch --values app=ok.yaml
	assert_failure 2
	assert_stderr_contains "edge-fetchdef: --values app: say which profile: --values UID:app=ok.yaml"
	fetch --values nope
	assert_failure 2
	assert_stderr_contains "edge-fetchdef: --values: expected [UID:]PACK=FILE, got 'nope'"
	fetch --values "0123:app=ok.yaml"
	assert_failure 2
	assert_stderr_contains "edge-fetchdef: --values: profile 0123 is not in --profile-ids"
	fetch --values "${PROFILES%%,*}:app=ok.yaml" --values "${PROFILES%%,*}:app=ok.yaml"
	assert_failure 2
	assert_stderr_contains "is given twice"
	fetch --values "${PROFILES%%,*}:app=bad.yaml"
	assert_failure 3
	assert_output ""
	assert_stderr_contains "edge-fetchdef: --values app: bad.yaml: line "
	fetch --values "${PROFILES%%,*}:app=missing.yaml"
	assert_failure 3
	assert_stderr_contains "edge-fetchdef: --values app: "
	printf 'a: \xff\n' > latin.yaml
	fetch --values "${PROFILES%%,*}:app=latin.yaml"
	assert_failure 3
	assert_stderr_is "edge-fetchdef: --values app: latin.yaml: not UTF-8 text"
	assert_no_file site.tgz
}
