#!/usr/bin/env bats
# edge-serve: a bundle served read-only as a registry, straight from the
# compressed file. Real clients read it: skopeo (into an OCI layout and into
# docker-registry), edge-pull, curl at the HTTP level (Range, errors, the
# chart artifact), containerd's ctr, 50 parallel pullers.

load test_helper
load registry
load serve

setup_file() {
	# every platform of test/multi:1, so the index is the source's
	site_setup_file --all-platforms
	# SRC's port, as the prefix rule writes it in a path
	export SRCP="${SRC/:/_}"
	# per_test_setup reads this table into DIGEST (not one jq a look-up)
	jq -r '(.images[], .charts[]) | [.ref, .digest] | @tsv' "$PULLED" > "$BATS_FILE_TMPDIR/digests.tsv"
	# the two layers the tests fetch by digest, looked up once
	per_test_setup || return 1
	BIG_LAYER0=$(layer_of big:1 0) && BASE_LAYER0=$(layer_of base:1 0) || return 1
	[[ $BIG_LAYER0 == sha256:* && $BASE_LAYER0 == sha256:* ]] || return 1
	export BIG_LAYER0 BASE_LAYER0
}

teardown_file() {
	stop_servers
}

# the tests read ${DIGEST["$SRC/REPO:TAG"]} (registry.bash's digest_of)
per_test_setup() {
	pulled_digest_table "$BATS_FILE_TMPDIR/digests.tsv" 7
}

# layer_of REPO:TAG N: the digest of layer N of a single-platform image in
# the store (setup_file exports big's and base's first: BIG_LAYER0, BASE_LAYER0)
layer_of() {
	local d
	d=${DIGEST["$SRC/test/$1"]}
	jq -r ".layers[$2].digest" "$STORE/blobs/sha256/${d#sha256:}"
}

# code: the HTTP status of curl "$@" (body to body.out, headers to head.out)
code() {
	curl -s -o body.out -D head.out -w '%{http_code}' "$@"
}

# header NAME: the value of a response header in head.out (the first one;
# bash alone: four processes a look-up added up)
header() {
	local line
	while IFS= read -r line; do
		line=${line//$'\r'/}
		if [[ ${line,,} == "${1,,}:"* ]]; then
			echo "${line#* }"
			return 0
		fi
	done < head.out
}

@test "serve: /v2/, the catalog and tag lists (n, last, Link) under the prefix" {
	serve --prefix site "$BUNDLE"
	[ "$(code "http://$SERVE/v2/")" = 200 ]
	[ "$(header Docker-Distribution-API-Version)" = registry/2.0 ]
	[ "$(code "http://$SERVE/v2/_catalog")" = 200 ]
	jq -e --arg p "site/$SRCP/test" '.repositories == [$p+"/app1", $p+"/app2", $p+"/base", $p+"/big", $p+"/charts/demo", $p+"/multi", $p+"/v2s2"]' body.out
	[ "$(code "http://$SERVE/v2/_catalog?n=2")" = 200 ]
	[ "$(jq -r '.repositories | length' body.out)" = 2 ]
	[ "$(header Link)" = "</v2/_catalog?n=2&last=site%2F$SRCP%2Ftest%2Fapp2>; rel=\"next\"" ]
	[ "$(code "http://$SERVE/v2/_catalog?n=2&last=site/$SRCP/test/app2")" = 200 ]
	jq -e --arg p "site/$SRCP/test" '.repositories == [$p+"/base", $p+"/big"]' body.out
	[ "$(code "http://$SERVE/v2/site/$SRCP/test/base/tags/list")" = 200 ]
	jq -e --arg n "site/$SRCP/test/base" '. == {name: $n, tags: ["1"]}' body.out
	[ "$(code "http://$SERVE/v2/site/$SRCP/test/base/tags/list?n=0")" = 200 ]
	jq -e '.tags == []' body.out
	[ "$(code "http://$SERVE/v2/site/$SRCP/test/base/tags/list?n=x")" = 400 ]
	jq -e '.errors[0].code == "PAGINATION_NUMBER_INVALID"' body.out
}

@test "serve: skopeo copies every image into an OCI layout and into docker-registry with the source's digests" {
	serve --prefix site "$BUNDLE"
	local t d got i=0 refs=(base:1 app1:1 app2:1 multi:1 big:1 v2s2:1 charts/demo:0.1.0)
	local -a copied layout
	for t in "${refs[@]}"; do
		skopeo copy -q --all --src-tls-verify=false "docker://$SERVE/site/$SRCP/test/$t" "oci:layout:${t%%:*}" ||
			{ echo "skopeo copy $t to an OCI layout failed" >&2; return 1; }
		skopeo copy -q --all --src-tls-verify=false --dest-tls-verify=false \
			"docker://$SERVE/site/$SRCP/test/$t" "docker://$DST/copied/test/$t" ||
			{ echo "skopeo copy $t to docker-registry failed" >&2; return 1; }
	done
	# what docker-registry serves (one registry_digests for the seven) and
	# what the layout's index names
	mapfile -t copied < <(registry_digests "$DST" "${refs[@]/#/$DST/copied/test/}")
	mapfile -t layout < <(jq -r --args '.manifests as $m | $ARGS.positional[] | sub(":.*"; "") as $t |
		[$m[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest] | join(" ")' \
		"${refs[@]}" < layout/index.json)
	for t in "${refs[@]}"; do
		d=${DIGEST["$SRC/test/$t"]}
		got=${copied[i]}
		[ "$got" = "$d" ] || { echo "$t: docker-registry has $got, the source $d" >&2; return 1; }
		got=${layout[i]}
		# skopeo converts a Docker schema 2 manifest to OCI for an OCI layout
		[ "$t" = v2s2:1 ] || [ "$got" = "$d" ] || { echo "$t: the OCI layout has $got, the source $d" >&2; return 1; }
		i=$((i + 1))
	done
	# the multi-arch index is whole, as the source registry has it
	[ "${DIGEST["$SRC/test/multi:1"]}" = "$(test_image_digest test/multi:1)" ]
	got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$SERVE/site/$SRCP/test/base:1")
	[ "$got" = "${DIGEST["$SRC/test/base:1"]}" ]
	run --separate-stderr skopeo list-tags --tls-verify=false "docker://$SERVE/site/$SRCP/test/app1"
	assert_success
	[ "$(echo "$output" | jq -c .Tags)" = '["1"]' ]
}

@test "serve: edge-pull with edge-serve as its source registry gets the same store" {
	serve --prefix site "$BUNDLE"
	local t
	: > images.txt
	for t in base:1 app1:1 app2:1 multi:1 big:1 v2s2:1; do echo "$SERVE/site/$SRCP/test/$t" >> images.txt; done
	echo "oci://$SERVE/site/$SRCP/test/charts demo 0.1.0" > charts.txt
	edge-resolve --name site --images images.txt --charts charts.txt < /dev/null > m.json
	run --separate-stderr edge-pull -q --plain-http --all-platforms --store again m.json
	assert_success
	assert_stderr_empty
	echo "$output" > again.json
	[ "$(ls again/blobs/sha256 | sort)" = "$(ls "$STORE/blobs/sha256" | sort)" ]
	[ "$(jq -c '[.images[], .charts[]] | map(.digest)' again.json)" = "$(jq -c '[.images[], .charts[]] | map(.digest)' "$PULLED")" ]
}

@test "serve: the chart is a Helm OCI artifact (config and chart layer types, bytes, digests)" {
	serve "$BUNDLE"
	local d cfg layer
	d=${DIGEST["$SRC/test/charts/demo:0.1.0"]}
	[ "$(code -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$SERVE/v2/$SRCP/test/charts/demo/manifests/0.1.0")" = 200 ]
	[ "$(header Content-Type)" = application/vnd.oci.image.manifest.v1+json ]
	[ "$(header Docker-Content-Digest)" = "$d" ]
	[ "sha256:$(sha256sum < body.out | cut -d' ' -f1)" = "$d" ]
	[ "$(jq -r .config.mediaType body.out)" = application/vnd.cncf.helm.config.v1+json ]
	[ "$(jq -r '.layers[0].mediaType' body.out)" = application/vnd.cncf.helm.chart.content.v1.tar+gzip ]
	cfg=$(jq -r .config.digest body.out)
	layer=$(jq -r '.layers[0].digest' body.out)
	[ "$(code "http://$SERVE/v2/$SRCP/test/charts/demo/blobs/$cfg")" = 200 ]
	[ "$(jq -r .name body.out)" = demo ]
	[ "$(code -o chart.tgz "http://$SERVE/v2/$SRCP/test/charts/demo/blobs/$layer")" = 200 ]
	[ "sha256:$(sha256sum < body.out | cut -d' ' -f1)" = "$layer" ]
	tar -xzOf body.out demo/Chart.yaml | grep -q '^name: demo$'
	# a client that takes no OCI manifest is told so
	[ "$(code -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$SERVE/v2/$SRCP/test/charts/demo/manifests/0.1.0")" = 404 ]
	jq -e '.errors[0].code == "MANIFEST_UNKNOWN"' body.out
	# by digest the bytes are served whatever the client asks for
	[ "$(code -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$SERVE/v2/$SRCP/test/charts/demo/manifests/$d")" = 200 ]
}

@test "serve: blobs: HEAD, Range (206, suffix, open end), 416 past the end; raw and compressed frames" {
	serve "$BUNDLE"
	local big small size
	big=$BIG_LAYER0
	small=$BASE_LAYER0
	size=$(stat -c %s "$STORE/blobs/sha256/${big#sha256:}")
	[ "$(code -I "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 200 ]
	[ "$(header Content-Length)" = "$size" ]
	[ "$(header Docker-Content-Digest)" = "$big" ]
	[ "$(header Accept-Ranges)" = bytes ]
	[ "$(code -H 'Range: bytes=1000-200999' "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 206 ]
	[ "$(header Content-Range)" = "bytes 1000-200999/$size" ]
	cmp body.out <(tail -c +1001 "$STORE/blobs/sha256/${big#sha256:}" | head -c 200000)
	[ "$(code -H 'Range: bytes=-100' "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 206 ]
	cmp body.out <(tail -c 100 "$STORE/blobs/sha256/${big#sha256:}")
	[ "$(code -H "Range: bytes=$((size - 10))-" "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 206 ]
	cmp body.out <(tail -c 10 "$STORE/blobs/sha256/${big#sha256:}")
	[ "$(code -H "Range: bytes=$size-" "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 416 ]
	[ "$(header Content-Range)" = "bytes */$size" ]
	# whole blobs, from raw-block frames (the big random layer) and
	# compressed frames (the small layer)
	[ "$(code "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 200 ]
	cmp body.out "$STORE/blobs/sha256/${big#sha256:}"
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/blobs/$small")" = 200 ]
	cmp body.out "$STORE/blobs/sha256/${small#sha256:}"
	[ "$(code -H 'Range: bytes=5-9' "http://$SERVE/v2/$SRCP/test/base/blobs/$small")" = 206 ]
	cmp body.out <(tail -c +6 "$STORE/blobs/sha256/${small#sha256:}" | head -c 5)
}

@test "serve: unknown names, manifests and blobs are 404 with OCI error bodies; writes are 405" {
	serve "$BUNDLE"
	local zero=sha256:0000000000000000000000000000000000000000000000000000000000000000 m
	[ "$(code "http://$SERVE/v2/nope/manifests/1")" = 404 ]
	jq -e '.errors[0].code == "NAME_UNKNOWN"' body.out
	[ "$(header Content-Type)" = application/json ]
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/manifests/2")" = 404 ]
	jq -e '.errors[0].code == "MANIFEST_UNKNOWN"' body.out
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/manifests/$zero")" = 404 ]
	jq -e '.errors[0].code == "MANIFEST_UNKNOWN"' body.out
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/blobs/$zero")" = 404 ]
	jq -e '.errors[0].code == "BLOB_UNKNOWN"' body.out
	# a blob of another repository is not this one's
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/blobs/$BIG_LAYER0")" = 404 ]
	jq -e '.errors[0].code == "BLOB_UNKNOWN"' body.out
	[ "$(code "http://$SERVE/v2/$SRCP/test/nope/tags/list")" = 404 ]
	jq -e '.errors[0].code == "NAME_UNKNOWN"' body.out
	for m in PUT POST DELETE PATCH; do
		[ "$(code -X "$m" --data-binary @/dev/null "http://$SERVE/v2/$SRCP/test/base/manifests/1")" = 405 ] ||
			{ echo "$m: not 405" >&2; return 1; }
		jq -e '.errors[0].code == "UNSUPPORTED"' body.out
		[ "$(header Allow)" = "GET, HEAD" ]
	done
	[ "$(code -X POST "http://$SERVE/v2/$SRCP/test/base/blobs/uploads/")" = 405 ]
	# a push is refused, and the registry is unchanged
	run skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$SERVE/$SRCP/test/app1:1" "docker://$SERVE/$SRCP/test/base:2"
	assert_failure
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/manifests/2")" = 404 ]
}

@test "serve: basic auth from a bcrypt htpasswd file: 401 with a Basic challenge, bad password 401, good 200; -v logs no secret" {
	htpasswd -Bbc users.htpasswd edgeuser 's3cret-Pass' 2>/dev/null
	serve -v --htpasswd users.htpasswd "$BUNDLE"
	[ "$(code "http://$SERVE/v2/")" = 401 ]
	[[ "$(header WWW-Authenticate)" == 'Basic realm="edge-serve"'* ]]
	jq -e '.errors[0].code == "UNAUTHORIZED"' body.out
	[ "$(code -u edgeuser:wrong "http://$SERVE/v2/")" = 401 ]
	[ "$(code -u nobody:s3cret-Pass "http://$SERVE/v2/")" = 401 ]
	[ "$(code -u edgeuser:s3cret-Pass "http://$SERVE/v2/_catalog")" = 200 ]
	[ "$(code -u edgeuser:s3cret-Pass -I "http://$SERVE/v2/$SRCP/test/base/manifests/1")" = 200 ]
	run skopeo inspect --tls-verify=false --creds edgeuser:wrong "docker://$SERVE/$SRCP/test/base:1"
	assert_failure
	run --separate-stderr skopeo inspect --tls-verify=false --creds edgeuser:s3cret-Pass --format '{{.Digest}}' "docker://$SERVE/$SRCP/test/base:1"
	assert_success
	[ "$output" = "${DIGEST["$SRC/test/base:1"]}" ]
	# one line per request: method, path, status, bytes, ms
	grep -Eq "^edge-serve: GET /v2/_catalog 200 [0-9]+ [0-9]+ms$" "$SERVE_LOG"
	grep -Eq "^edge-serve: GET /v2/ 401 [0-9]+ [0-9]+ms$" "$SERVE_LOG"
	grep -Eq "^edge-serve: HEAD /v2/$SRCP/test/base/manifests/1 200 0 [0-9]+ms$" "$SERVE_LOG"
	run grep -c -e 's3cret' -e 'ZWRnZXVzZXI6' -e 'Authorization' "$SERVE_LOG"
	[ "$output" = 0 ]
	# MD5 or SHA entries are refused: distribution takes bcrypt only
	htpasswd -mbc md5.htpasswd edgeuser pw 2>/dev/null
	run --separate-stderr edge-serve --listen 127.0.0.1:0 --htpasswd md5.htpasswd "$BUNDLE"
	assert_failure 3
	assert_stderr_is "edge-serve: md5.htpasswd:1: user edgeuser: not a bcrypt hash (make it with htpasswd -B)"
}

@test "serve: TLS with a self-signed CA: skopeo and curl trust it through the CA" {
	mkdir certs
	_reg_certs "$PWD/certs" edge-serve
	serve --tls-cert certs/server.pem --tls-key certs/server.key "$BUNDLE"
	[ "$(code --cacert certs/ca.pem "https://$SERVE/v2/")" = 200 ]
	run curl -sf "https://$SERVE/v2/"
	assert_failure
	run --separate-stderr skopeo inspect --cert-dir certs/certs.d --format '{{.Digest}}' "docker://$SERVE/$SRCP/test/multi:1"
	assert_success
	[ "$output" = "${DIGEST["$SRC/test/multi:1"]}" ]
	skopeo copy -q --all --src-cert-dir certs/certs.d "docker://$SERVE/$SRCP/test/app2:1" oci:layout:app2
	# a key that is not the certificate's
	openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out other.key 2>/dev/null
	run --separate-stderr edge-serve --listen 127.0.0.1:0 --tls-cert certs/server.pem --tls-key other.key "$BUNDLE"
	assert_failure 3
	assert_stderr_contains "cannot start the HTTP server"
}

# corrupt_big OUT: a copy of the bundle with one byte of the big layer
# flipped, in its raw-block frames
corrupt_big() {
	local big
	big=$BIG_LAYER0
	python3 - "$STORE/blobs/sha256/${big#sha256:}" "$BUNDLE" "$1" <<'PY'
import sys
blob = open(sys.argv[1], "rb").read()
data = bytearray(open(sys.argv[2], "rb").read())
probe = blob[len(blob) // 2:len(blob) // 2 + 64]
at = data.find(probe)
assert at > 0 and data.find(probe, at + 1) < 0, "probe not found once"
data[at + 10] ^= 0x55
open(sys.argv[3], "wb").write(data)
PY
}

@test "serve: a corrupt blob in a --verify quick bundle is refused (500), never served; --verify full does not start" {
	local big
	big=$BIG_LAYER0
	corrupt_big bad.tar.zst
	serve bad.tar.zst
	[ "$(code "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 500 ]
	jq -e '.errors[0].code == "BLOB_UNKNOWN"' body.out
	[ "$(code -H 'Range: bytes=0-99' "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 500 ]
	[ "$(code -I "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 500 ]
	grep -q "^edge-serve: $PWD/bad.tar.zst: blob $big is corrupt (content has sha256:[0-9a-f]*): refused from now on$" "$SERVE_LOG" ||
		grep -q "^edge-serve: bad.tar.zst: blob $big is corrupt (content has sha256:[0-9a-f]*): refused from now on$" "$SERVE_LOG"
	[ "$(grep -c 'is corrupt' "$SERVE_LOG")" = 1 ]
	# the rest is served
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/blobs/$BASE_LAYER0")" = 200 ]
	run skopeo copy -q --src-tls-verify=false "docker://$SERVE/$SRCP/test/big:1" oci:layout:big
	assert_failure
	run --separate-stderr edge-serve --listen 127.0.0.1:0 --verify full bad.tar.zst
	assert_failure 1
	assert_stderr_contains "edge-serve: bad.tar.zst: blob $big is corrupt (content has sha256:"
	# a good bundle starts with --verify full
	serve --verify full "$BUNDLE"
	[ "$(code "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 200 ]
}

@test "serve: -p checks each bundle's signature before serving; --require-signature refuses stores" {
	edge-sign -q -G -W -k k.key -p k.pub
	cp "$BUNDLE" signed.tar.zst
	edge-sign -q -k k.key signed.tar.zst > /dev/null
	serve -p k.pub signed.tar.zst
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/manifests/1")" = 200 ]
	run --separate-stderr edge-serve --listen 127.0.0.1:0 -p k.pub "$BUNDLE"
	assert_failure 1
	assert_stderr_is "edge-serve: $BUNDLE: no signature ($BUNDLE.minisig or $BUNDLE.sig)"
	corrupt_big signed.tar.zst
	run --separate-stderr edge-serve --listen 127.0.0.1:0 -p k.pub signed.tar.zst
	assert_failure 1
	assert_stderr_contains "signed.tar.zst: signature does not verify"
	run --separate-stderr edge-serve --require-signature -p k.pub --store "$STORE" signed.tar.zst
	assert_failure 2
	assert_stderr_contains "edge-serve: --require-signature: a store (--store) carries no signature"
	run --separate-stderr edge-serve --require-signature signed.tar.zst
	assert_failure 2
	assert_stderr_contains "edge-serve: --require-signature needs -p KEY"
}

@test "serve: usage errors exit 2; the address in use exits 6" {
	run --separate-stderr edge-serve
	assert_failure 2
	assert_stderr_contains "edge-serve: nothing to serve: give a bundle, a parts descriptor or --store DIR"
	run --separate-stderr edge-serve --verify sometimes "$BUNDLE"
	assert_failure 2
	assert_stderr_contains "edge-serve: --verify: expected full or quick, got 'sometimes'"
	run --separate-stderr edge-serve --tls-cert x.pem "$BUNDLE"
	assert_failure 2
	assert_stderr_contains "edge-serve: --tls-cert and --tls-key go together"
	run --separate-stderr edge-serve --listen nowhere "$BUNDLE"
	assert_failure 2
	assert_stderr_contains "edge-serve: --listen: expected ADDR:PORT, got 'nowhere'"
	run --separate-stderr edge-serve --prefix 'Bad Prefix' "$BUNDLE"
	assert_failure 2
	run --separate-stderr edge-serve --threads 0 "$BUNDLE"
	assert_failure 2
	run --separate-stderr edge-serve --listen 127.0.0.1:0 missing.tar.zst
	assert_failure 6
	assert_stderr_is "edge-serve: open missing.tar.zst: No such file or directory"
	serve "$BUNDLE"
	run --separate-stderr edge-serve --listen "$SERVE" "$BUNDLE"
	assert_failure 6
	assert_stderr_is "edge-serve: listen $SERVE: Address already in use"
}

@test "serve: a store, a parts descriptor and a second bundle are served as one registry" {
	edge-pack -q --split 1M -o parts.tar.zst "$PULLED" > parts.json
	local desc
	desc=$(jq -r .bundle.path parts.json)
	[[ "$desc" == *.parts.json ]]
	echo "$SRC/test/app1:1" > one.txt
	edge-resolve --name one --images one.txt < /dev/null | edge-pull -q --plain-http --store one |
		jq --arg r "$SRC/test/app1:1" '.images[0].ref = ($r | sub(":1$"; ":renamed"))' > one.json
	edge-pack -q -o one.tar.zst --store one one.json > /dev/null
	serve "$desc" one.tar.zst
	[ "$(code "http://$SERVE/v2/$SRCP/test/app1/tags/list")" = 200 ]
	jq -e '.tags == ["1", "renamed"]' body.out
	[ "$(code "http://$SERVE/v2/$SRCP/test/big/blobs/$BIG_LAYER0")" = 200 ]
	cmp body.out "$STORE/blobs/sha256/${BIG_LAYER0#sha256:}"
	stop_servers
	serve --store "$STORE"
	[ "$(code "http://$SERVE/v2/$SRCP/test/big/blobs/$BIG_LAYER0")" = 200 ]
	cmp body.out "$STORE/blobs/sha256/${BIG_LAYER0#sha256:}"
	[ "$(code -I "http://$SERVE/v2/$SRCP/test/big/blobs/$BIG_LAYER0")" = 200 ]
	[ "$(header Content-Length)" = "$(stat -c %s "$STORE/blobs/sha256/${BIG_LAYER0#sha256:}")" ]
	run --separate-stderr skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$SERVE/$SRCP/test/multi:1"
	assert_success
	[ "$output" = "${DIGEST["$SRC/test/multi:1"]}" ]
}

@test "serve: SIGHUP re-reads the bundles (a new one at the same path), SIGTERM stops cleanly" {
	echo "$SRC/test/app1:1" > one.txt
	edge-resolve --name one --images one.txt < /dev/null | edge-pull -q --plain-http --store one > one.json
	edge-pack -q -o current.tar.zst --store one one.json > /dev/null
	serve current.tar.zst
	[ "$(code "http://$SERVE/v2/_catalog")" = 200 ]
	jq -e --arg p "$SRCP/test/app1" '.repositories == [$p]' body.out
	cp "$BUNDLE" new.tar.zst
	mv new.tar.zst current.tar.zst
	kill -HUP "$SERVE_PID"
	for _ in $(seq 1 100); do grep -q reloaded "$SERVE_LOG" && break; sleep 0.1; done
	grep -q "^edge-serve: reloaded: 6 images and 1 charts" "$SERVE_LOG"
	[ "$(code "http://$SERVE/v2/_catalog")" = 200 ]
	[ "$(jq '.repositories | length' body.out)" = 7 ]
	# a reload that fails keeps what was served
	echo garbage > new.tar.zst
	mv new.tar.zst current.tar.zst
	kill -HUP "$SERVE_PID"
	for _ in $(seq 1 100); do grep -q "reload:" "$SERVE_LOG" && break; sleep 0.1; done
	grep -q "^edge-serve: reload: .*(still serving what was loaded before)$" "$SERVE_LOG"
	[ "$(code "http://$SERVE/v2/$SRCP/test/big/blobs/$BIG_LAYER0")" = 200 ]
	local rc=0
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || rc=$?
	[ "$rc" = 0 ] || { echo "exit $rc:" >&2; tail -30 "$SERVE_LOG" >&2; return 1; }
	SERVER_PIDS=()
}

@test "serve: 50 parallel clients pull every blob: no error, and peak RSS stays bounded" {
	serve --cache-size 16M "$BUNDLE"
	# every (repository, digest) of the served images, from the store
	python3 - "$STORE" "$SRCP" "$PULLED" > pairs.txt <<'PY'
import json, sys
store, srcp, pulled = sys.argv[1:4]
m = json.load(open(pulled))
def blob(d):
    return json.load(open(f"{store}/blobs/sha256/{d[7:]}"))
for e in m["images"] + m["charts"]:
    repo = srcp + "/" + e["ref"].split("/", 1)[1].rsplit(":", 1)[0]
    todo = [e["digest"]]
    while todo:
        d = todo.pop()
        print(repo, d)
        doc = blob(d)
        for c in doc.get("manifests", []):
            todo.append(c["digest"])
        for x in ([doc["config"]] if "config" in doc else []) + doc.get("layers", []):
            print(repo, x["digest"])
PY
	[ "$(wc -l < pairs.txt)" -gt 20 ]
	run --separate-stderr python3 "$TOP/tests/bench/serve-clients.py" "$SERVE" pairs.txt 50 60
	assert_success
	[ "${output%% *}" = 0 ]
	local hwm
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVE_PID/status")
	echo "peak RSS ${hwm} kB for 50 clients, $(echo "$output" | cut -d' ' -f2) bytes" >&3
	# the cache (16 MiB), the frames being decompressed, a fixed amount per
	# connection; not under AddressSanitizer, whose quarantine keeps freed
	# memory (256 MiB by default)
	grep -q fsanitize=address "$TOP/build/cflags" || [ "$hwm" -lt $((128 * 1024)) ]
}

@test "serve: containerd (ctr images pull --plain-http) pulls from edge-serve" {
	if [ "$(id -u)" != 0 ] || ! command -v containerd >/dev/null; then
		skip "containerd needs root and Debian's containerd package"
	fi
	local d sock i
	d=$(mktemp -d /tmp/edge-ctd.XXXXXX)
	sock="$d/c.sock"
	cat > "$d/config.toml" <<TOML
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$d/t.sock"
TOML
	# the shell passes its TERM on: containerd is its child, and stop_servers
	# kills the shell (containerd left running outlived every test run)
	start_server containerd "$d/none" sh -c "containerd --config '$d/config.toml' & pid=\$!; trap 'kill \$pid 2>/dev/null; wait \$pid; exit 0' TERM INT HUP; for i in \$(seq 1 100); do [ -S '$sock' ] && echo 1 > '$d/none' && break; sleep 0.1; done; wait \$pid" || {
		rm -rf "$d"
		return 1
	}
	serve --prefix site "$BUNDLE"
	run ctr --address "$sock" images pull --plain-http --snapshotter native "$SERVE/site/$SRCP/test/multi:1"
	echo "$output"
	assert_success
	run ctr --address "$sock" images ls -q
	assert_output --partial "$SERVE/site/$SRCP/test/multi:1"
	[ "$(ctr --address "$sock" images ls | awk -v r="$SERVE/site/$SRCP/test/multi:1" '$1 == r {print $3}')" = "${DIGEST["$SRC/test/multi:1"]}" ]
	run ctr --address "$sock" images pull --plain-http --snapshotter native "$SERVE/site/$SRCP/test/v2s2:1"
	assert_success
	stop_servers
	rm -rf "$d"
}

@test "serve: hostile paths: bytes that are not UTF-8, traversal, bad digests; the log line stays printable" {
	serve -v "$BUNDLE"
	[ "$(code "http://$SERVE/v2/%ff%fe/manifests/1")" = 404 ]
	jq -e '.errors[0].code == "NAME_UNKNOWN"' body.out
	[ "$(code --path-as-is "http://$SERVE/v2/../../etc/passwd")" = 404 ]
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/blobs/sha256:xyz")" = 400 ]
	jq -e '.errors[0].code == "DIGEST_INVALID"' body.out
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/manifests/%0d%0aX-Injected:%201")" = 404 ]
	run grep -ci 'x-injected' head.out
	[ "$output" = 0 ]
	[ "$(code "http://$SERVE/v2/$SRCP/test/base/blobs/uploads/1")" = 404 ]
	jq -e '.errors[0].code == "BLOB_UPLOAD_UNKNOWN"' body.out
	run grep -c $'[\x01-\x1f\x7f]' "$SERVE_LOG"
	[ "$output" = 0 ]
	grep -q "^edge-serve: GET /v2/%ff%fe/manifests/1 404 " "$SERVE_LOG"
}

@test "serve: bundles in frames that ignore entry boundaries (64 KiB, 8 MiB) serve the same bytes" {
	local tool="python3 $TOP/tests/fixtures/bundle-tool.py" big small fs
	big=$BIG_LAYER0
	small=$BASE_LAYER0
	$tool unpack "$BUNDLE" b.tar
	for fs in 65536 8388608; do
		$tool pack b.tar "f$fs.tar.zst" --frame-size "$fs" --seek-table
		serve --cache-size 1M "f$fs.tar.zst"
		[ "$(code "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 200 ]
		cmp body.out "$STORE/blobs/sha256/${big#sha256:}"
		[ "$(code "http://$SERVE/v2/$SRCP/test/base/blobs/$small")" = 200 ]
		cmp body.out "$STORE/blobs/sha256/${small#sha256:}"
		[ "$(code -H 'Range: bytes=65000-140000' "http://$SERVE/v2/$SRCP/test/big/blobs/$big")" = 206 ]
		cmp body.out <(tail -c +65001 "$STORE/blobs/sha256/${big#sha256:}" | head -c 75001)
		run --separate-stderr skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$SERVE/$SRCP/test/multi:1"
		assert_success
		[ "$output" = "${DIGEST["$SRC/test/multi:1"]}" ]
		stop_servers
	done
	# a seek table that lies about a frame's size: the frame is refused, not served short
	$tool pack b.tar lie.tar.zst --frame-size 65536 --seek-table --lie 7
	run --separate-stderr edge-serve --listen 127.0.0.1:0 lie.tar.zst
	[ "$status" -ne 0 ]
}
