#!/usr/bin/env bats
# The registry test infrastructure proves itself before the tools use it:
# real registries in every mode, the token server, the fault proxy.

load test_helper
load registry

# the registry behind the fault proxy in the proxy tests that only read it
# or upload under a name of their own (one registry for the file: each
# started, and seeded, per test cost more than the test)
setup_file() {
	registry_start plain proxied || return 1
	seed_images "$REGISTRY" big base
}

teardown_file() {
	stop_servers
}

# inspect_multi: the platforms of test/multi:1 in $REGISTRY, one per line.
inspect_multi() {
	local -a args
	mapfile -t args < <(registry_skopeo_args "$REGISTRY")
	run --separate-stderr skopeo inspect --raw "${args[@]}" "docker://$REGISTRY/test/multi:1"
	assert_success
	assert_stderr_empty
	echo "$output" | jq -r '.manifests[].platform | [.os, .architecture, .variant // empty] | join("/")'
}

# blob_url REF: the URL of a blob of the test images through $PROXY.
blob_url() {
	local ref=$1 repo=${1%%:*}
	echo "http://$PROXY/v2/$repo/blobs/$(test_image_digest "$ref")"
}

@test "registry infra: the test images are made once, reproducibly" {
	test_images
	[ -f "$TEST_LAYOUT/oci-layout" ]
	run --separate-stderr jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' \
		"$TEST_LAYOUT/index.json"
	assert_success
	assert_output "$(printf '%s\n' base app1 app2 multi big chart)"
	# the layout's manifests are the ones refs.txt names
	[ "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "multi") | .digest' \
		"$TEST_LAYOUT/index.json")" = "$(test_image_digest test/multi:1)" ]
	# app1 and app2 share base's layers, not their own
	[ "$(test_image_digest test/app1:1#layer0)" = "$(test_image_digest test/base:1#layer0)" ]
	[ "$(test_image_digest test/app2:1#layer1)" = "$(test_image_digest test/base:1#layer1)" ]
	[ "$(test_image_digest test/app1:1#layer2)" != "$(test_image_digest test/app2:1#layer2)" ]
	# every blob in the layout has the digest it is named by (one sha256sum
	# for all: three processes a blob cost a second)
	local -a blobs=("$TEST_LAYOUT"/blobs/sha256/*)
	[ -f "${blobs[0]}" ]
	sha256sum "${blobs[@]}" | awk -v n=${#blobs[@]} '{ f = $2; sub(/.*\//, "", f) }
		$1 != f { print "blob " $2 " has sha256:" $1 > "/dev/stderr"; bad = 1 }
		END { if (NR != n) bad = 1; exit bad }'
	# the same script makes the same bytes
	BIG_LAYER_MB=1 python3 "$TOP/tests/fixtures/make-images.py" --refs refs1 out1
	BIG_LAYER_MB=1 python3 "$TOP/tests/fixtures/make-images.py" --refs refs2 out2
	cmp refs1 refs2
	cmp out1/index.json out2/index.json
	grep -q "^blob test/big:1#layer0 sha256:[0-9a-f]* 10[0-9][0-9][0-9][0-9][0-9] " refs1
	grep -q '^blob test/charts/demo:0.1.0#config .* application/vnd.cncf.helm.config.v1+json$' refs1
	grep -q '^manifest test/v2s2:1 .* application/vnd.docker.distribution.manifest.v2+json$' "$TEST_REFS"
}

# seed_images copies a storage root skopeo seeded once (per machine): the
# registry must serve the copy, to skopeo and to curl, as pushed
@test "registry infra: plain registry holds every seeded image with the expected digest" {
	registry_start plain
	[[ $REGISTRY == 127.0.0.1:* ]]
	[ "$REGISTRY_URL" = "http://$REGISTRY" ]
	seed_images "$REGISTRY"
	[ -d "$REGISTRY_STORAGE/docker/registry/v2/repositories/test/charts/demo/_manifests" ]
	run inspect_multi
	assert_success
	assert_output "$(printf '%s\n' linux/amd64 linux/arm64/v8 linux/arm/v7)"
	for ref in test/base:1 test/app1:1 test/app2:1 test/multi:1 test/big:1 \
		test/charts/demo:0.1.0 test/v2s2:1 test/multi:1@linux/arm/v7; do
		want=$(test_image_digest "$ref")
		[ -n "$want" ]
		if [[ $ref == *@* ]]; then
			url="http://$REGISTRY/v2/test/multi/manifests/$want"
		else
			repo=${ref%:*}
			url="http://$REGISTRY/v2/$repo/manifests/${ref##*:}"
		fi
		got=$(curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
			"$url" | sha256sum | cut -d' ' -f1)
		[ "sha256:$got" = "$want" ] || {
			echo "$ref: got sha256:$got, want $want" >&2
			return 1
		}
	done
	# the chart keeps its Helm media types
	curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$REGISTRY/v2/test/charts/demo/manifests/0.1.0" |
		jq -e '.config.mediaType == "application/vnd.cncf.helm.config.v1+json" and
			.layers[0].mediaType == "application/vnd.cncf.helm.chart.content.v1.tar+gzip"'
}

@test "registry infra: basic-auth registry wants edgeuser" {
	registry_start basic src
	[ "$SRC_REGISTRY" = "$REGISTRY" ]
	[ "$REGISTRY_USER" = edgeuser ]
	[ -n "$REGISTRY_PASS" ]
	# skopeo pushes the index through basic auth (the other images are
	# copied into other registries' storage, in any mode)
	SEED_SKOPEO=1 seed_images "$REGISTRY" multi
	run inspect_multi
	assert_success
	assert_output "$(printf '%s\n' linux/amd64 linux/arm64/v8 linux/arm/v7)"
	run curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/test/multi/manifests/1"
	assert_output 401
	run curl -s -o /dev/null -w '%{http_code}' -u "edgeuser:wrong" "http://$REGISTRY/v2/"
	assert_output 401
	run curl -s -o /dev/null -w '%{http_code}' -u "edgeuser:$REGISTRY_PASS" "http://$REGISTRY/v2/"
	assert_output 200
}

@test "registry infra: TLS registry is trusted with its CA only" {
	registry_start tls
	[ "$REGISTRY_URL" = "https://$REGISTRY" ]
	[ -f "$REGISTRY_CA" ]
	cmp "$REGISTRY_CA" "$REGISTRY_CERT_DIR/ca.crt"
	# skopeo pushes the index through TLS (the other images are
	# copied into other registries' storage, in any mode)
	SEED_SKOPEO=1 seed_images "$REGISTRY" multi
	run inspect_multi
	assert_success
	assert_output "$(printf '%s\n' linux/amd64 linux/arm64/v8 linux/arm/v7)"
	run curl -s -o /dev/null -w '%{http_code}' "https://$REGISTRY/v2/"
	assert_output 000
	run curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" "https://$REGISTRY/v2/"
	assert_output 200
	run curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" "https://localhost:${REGISTRY##*:}/v2/"
	assert_output 200
}

@test "registry infra: token registry refuses anonymous and accepts edgeuser" {
	registry_start token
	[ -n "$TOKEN_SERVER" ]
	# skopeo pushes every image through the token flow
	SEED_SKOPEO=1 seed_images "$REGISTRY"
	run inspect_multi
	assert_success
	assert_output "$(printf '%s\n' linux/amd64 linux/arm64/v8 linux/arm/v7)"
	# anonymous: a token without rights, then 401 from the registry
	run --separate-stderr skopeo inspect --raw --tls-verify=false --no-creds \
		"docker://$REGISTRY/test/multi:1"
	assert_failure
	assert_stderr_contains "authentication required"
	run curl -s -D - -o /dev/null "http://$REGISTRY/v2/"
	assert_line --partial "Www-Authenticate: Bearer realm=\"$TOKEN_REALM\",service=\"edge-test-registry\""
	# wrong password: the token server says 401
	run curl -s -o /dev/null -w '%{http_code}' -u edgeuser:wrong "$TOKEN_REALM?service=edge-test-registry"
	assert_output 401
	# a token of edgeuser works with curl
	token=$(registry_token repository:test/multi:pull)
	run curl -sf -H "Authorization: Bearer $token" \
		-H 'Accept: application/vnd.oci.image.index.v1+json' \
		"http://$REGISTRY/v2/test/multi/manifests/1"
	assert_success
	[ "sha256:$(printf '%s' "$output" | sha256sum | cut -d' ' -f1)" = "$(test_image_digest test/multi:1)" ]
	# ...for what it grants only
	run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
		"http://$REGISTRY/v2/test/base/manifests/1"
	assert_output 401
	# the log: one line per request, never a password
	grep -q '"user": "edgeuser"' "$TOKEN_LOG"
	grep -q '"user": null' "$TOKEN_LOG"
	run ! grep -q "$REGISTRY_PASS" "$TOKEN_LOG"
	run curl -sf "http://$TOKEN_SERVER/stats"
	assert_success
	echo "$output" | jq -e '.authenticated > 0 and .anonymous > 0 and .denied == 1'
}

@test "registry infra: token server lets anonymous pull under TOKEN_ANON_PULL only" {
	TOKEN_ANON_PULL=test/multi registry_start token
	seed_images "$REGISTRY" multi chart
	run --separate-stderr skopeo inspect --raw --tls-verify=false --no-creds \
		"docker://$REGISTRY/test/multi:1"
	assert_success
	run --separate-stderr skopeo inspect --raw --tls-verify=false --no-creds \
		"docker://$REGISTRY/test/charts/demo:0.1.0"
	assert_failure
	# anonymous push is never granted
	run --separate-stderr skopeo copy --dest-tls-verify=false --dest-no-creds \
		--policy "$TEST_IMAGES_ROOT/policy.json" "oci:$TEST_LAYOUT:chart" "docker://$REGISTRY/test/multi:2"
	assert_failure
}

@test "registry infra: fault proxy cut mode drops the first GET of a blob halfway" {
	REGISTRY=$PROXIED_REGISTRY
	fault_proxy_start cut
	url=$(blob_url test/big:1#layer0)
	size=$(test_image_size test/big:1#layer0)
	run curl -s -o blob "$url"
	assert_failure 18 # partial file
	[ "$(stat -c %s blob)" -eq $((size / 2)) ]
	run curl -s -C - -o blob -w '%{http_code}' "$url"
	assert_success
	assert_output 206
	[ "sha256:$(sha256sum <blob | cut -d' ' -f1)" = "$(test_image_digest test/big:1#layer0)" ]
	# later whole GETs pass; small blobs are never cut
	run curl -sf -o blob2 "$url"
	assert_success
	cmp blob blob2
	run curl -sf -o config "$(blob_url test/big:1#config)"
	assert_success
	grep -q '"fault": "cut"' "$PROXY_LOG"
}

@test "registry infra: fault proxy flip mode corrupts every blob GET the same way" {
	REGISTRY=$PROXIED_REGISTRY
	fault_proxy_start flip
	url=$(blob_url test/base:1#layer1)
	curl -sf -o a "$url"
	curl -sf -o b "$url"
	[ "$(stat -c %s a)" -eq "$(test_image_size test/base:1#layer1)" ]
	[ "sha256:$(sha256sum <a | cut -d' ' -f1)" != "$(test_image_digest test/base:1#layer1)" ]
	cmp a b
	# a range that covers the flipped byte is flipped too
	half=$(($(stat -c %s a) / 2))
	curl -sf -r "$((half - 10))-" -o tail "$url"
	tail -c +$((half - 9)) a | cmp - tail
	# manifests pass untouched
	got=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$PROXY/v2/test/base/manifests/1" | sha256sum | cut -d' ' -f1)
	[ "sha256:$got" = "$(test_image_digest test/base:1)" ]
}

@test "registry infra: fault proxy 503 and 429 every Nth request, then passes through" {
	REGISTRY=$PROXIED_REGISTRY
	fault_proxy_start 503,429 --every 2
	codes=""
	for _ in 1 2 3 4 5 6; do
		codes+=" $(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/v2/")"
	done
	[ "$codes" = " 200 503 200 429 200 503" ]
	run curl -s -D - -o /dev/null "http://$PROXY/v2/"
	run curl -s -D - -o /dev/null "http://$PROXY/v2/"
	assert_line --partial "HTTP/1.1 429"
	assert_line --partial "Retry-After: 1"
	# --spare-retries: the request after a fault, the same again, passes
	# uncounted; another path is counted
	fault_proxy_start 503,429 --every 2 --spare-retries
	codes=""
	for p in v2/ v2/ v2/ v2/ v2/ v2/ v2/_catalog v2/; do
		codes+=" $(curl -s -o /dev/null -w '%{http_code}' "http://$PROXY/$p")"
	done
	[ "$codes" = " 200 503 200 200 429 200 200 503" ]
}

@test "registry infra: fault proxy cut-upload drops the first upload body, rewrites Location" {
	REGISTRY=$PROXIED_REGISTRY
	fault_proxy_start cut-upload
	head -c 200000 /dev/urandom >data
	digest="sha256:$(sha256sum <data | cut -d' ' -f1)"
	run curl -s -D - -o /dev/null -X POST "http://$PROXY/v2/test/up/blobs/uploads/"
	assert_line --partial "HTTP/1.1 202"
	location=$(echo "$output" | tr -d '\r' | sed -n 's/^Location: //p')
	[[ $location == "http://$PROXY/v2/test/up/blobs/uploads/"* ]]
	run curl -s -X PATCH -H 'Content-Type: application/octet-stream' --data-binary @data "$location"
	assert_failure
	# the upload is as it was: the same URL takes the body again (chunked)
	run curl -s -D - -o /dev/null -X PATCH -H 'Transfer-Encoding: chunked' \
		-H 'Content-Type: application/octet-stream' --data-binary @data "$location"
	assert_line --partial "HTTP/1.1 202"
	assert_line --partial "Range: 0-199999"
	location=$(echo "$output" | tr -d '\r' | sed -n 's/^Location: //p')
	[[ $location == "http://$PROXY/v2/test/up/blobs/uploads/"* ]]
	run curl -s -o /dev/null -w '%{http_code}' -X PUT "$location&digest=$digest"
	assert_output 201
	curl -sf "http://$PROXY/v2/test/up/blobs/$digest" | cmp - data
	grep -q '"fault": "cut-upload"' "$PROXY_LOG"
	grep '"method": "PATCH"' "$PROXY_LOG" | grep -q '"chunked": true'
}

@test "registry infra: fault proxy without faults is transparent to skopeo push and pull" {
	registry_start plain
	fault_proxy_start none
	# skopeo pushes (POST, PATCH, PUT) through it, following rewritten Locations
	seed_images "$PROXY" app1 multi
	run --separate-stderr skopeo --policy "$TEST_IMAGES_ROOT/policy.json" copy -q --all \
		--src-tls-verify=false "docker://$PROXY/test/multi:1" "oci:out:multi"
	assert_success
	assert_stderr_empty
	[ "$(jq -r '.manifests[0].digest' out/index.json)" = "$(test_image_digest test/multi:1)" ]
	run curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$REGISTRY/v2/test/app1/manifests/1"
	[ "sha256:$(printf '%s' "$output" | sha256sum | cut -d' ' -f1)" = "$(test_image_digest test/app1:1)" ]
	run ! grep -v '"fault": null' "$PROXY_LOG"
	grep -q '"method": "PATCH"' "$PROXY_LOG"
}

@test "registry infra: an idle registry's supervisor starts no process; stopping it stops the registry, removes its tmpfs storage" {
	# issue 10 item 23: it ran sleep 0.2 in a loop, five processes a second
	# per registry for the whole suite
	registry_start plain
	local sup=${SERVER_PIDS[-1]} i kids reg
	for i in $(seq 1 10); do
		kids=$(ps --ppid "$sup" -o comm= | LC_ALL=C sort | tr '\n' ' ')
		[ "$kids" = "docker-registry timeout " ] || { echo "the supervisor's children: $kids" >&2; return 1; }
		sleep 0.1
	done
	reg=$(ps --ppid "$sup" -o pid=,comm= | awk '$2 == "docker-registry" {print $1}')
	[ -n "$reg" ]
	stop_servers
	run kill -0 "$reg"
	assert_failure
	# a storage root on tmpfs went with it
	case $REGISTRY_STORAGE in
	/dev/shm/*) [ ! -e "$REGISTRY_STORAGE" ] ;;
	esac
}
