#!/usr/bin/env bats
# edge-pull against real registries (plain, basic, token, TLS), through a
# fault-injecting proxy, with skopeo and umoci reading the store.

load test_helper
load registry

setup_file() {
	registry_start plain src
	seed_images "$REGISTRY"
	export SRC="$REGISTRY" SRC_URL="$REGISTRY_URL"
	export SRC_STORAGE="$REGISTRY_STORAGE"
	test_images
}

teardown_file() {
	stop_servers
}

# the tests read ${TEST_DIGEST[REF]} and ${TEST_SIZE[REF]} (registry.bash)
per_test_setup() {
	test_image_table
}

# images FILE REF...: an --images list of refs under $SRC
imglist() {
	local f=$1 r
	shift
	: > "$f"
	for r in "$@"; do echo "$SRC/$r" >> "$f"; done
}

# every blob in the store has the digest of its name (one sha256sum for
# them all: three processes a blob cost more than the pulls)
assert_store_sound() {
	local d=${1:-store} f
	local -a files=()
	for f in "$d"/blobs/sha256/*; do
		[ -f "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	sha256sum "${files[@]}" | awk -v files=${#files[@]} '{ n = $2; sub(/.*\//, "", n) }
		$1 != n { print "corrupt blob in store: " $2 > "/dev/stderr"; bad = 1 }
		END { if (NR != files) { print "sha256sum read " NR " of " files " blobs" > "/dev/stderr"; bad = 1 }
		      exit bad }'
}

pull_manifest() {
	imglist images.txt "$@"
	edge-resolve --images images.txt < /dev/null > m.json
}

@test "pull: images, shared layers stored once, digests as the registry's" {
	pull_manifest test/base:1 test/app1:1 test/app2:1 test/big:1 test/v2s2:1
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	[ "$(jq -r .store out.json)" = store ]
	for t in base app1 app2 big v2s2; do
		echo "$SRC/test/$t:1 ${TEST_DIGEST[test/$t:1]}"
	done | sort > want.txt
	jq -r '.images[] | "\(.ref) \(.digest)"' out.json | sort | diff want.txt -
	[ "$(jq -r --arg r "$SRC/test/v2s2:1" '.images[] | select(.ref == $r) | .mediaType' out.json)" = application/vnd.docker.distribution.manifest.v2+json ]
	[ "$(jq -r --arg r "$SRC/test/base:1" '.images[] | select(.ref == $r) | .platforms | join(",")' out.json)" = linux/amd64 ]
	[ "$(jq -r --arg r "$SRC/test/base:1" '.images[] | select(.ref == $r) | .size' out.json)" -gt 1500000 ]
	# base's layers are in the store once, the store is an OCI layout
	[ -f "store/blobs/sha256/${TEST_DIGEST['test/base:1#layer0']#sha256:}" ]
	[ "$(jq -r '.imageLayoutVersion' store/oci-layout)" = 1.0.0 ]
	[ "$(jq -r '.manifests | length' store/index.json)" = 5 ]
	[ "$(jq -r --arg r "$SRC/test/app1:1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .annotations["io.containerd.image.name"]' store/index.json)" = "$SRC/test/app1:1" ]
	assert_store_sound
	[ -z "$(ls store/.tmp)" ]
}

@test "pull: skopeo and umoci read the store, digests match skopeo inspect" {
	pull_manifest test/base:1 test/app1:1 test/multi:1 test/v2s2:1
	edge-pull --plain-http --platform linux/amd64 m.json > out.json
	# containers/image reads only OCI-typed entries of a layout: the Docker
	# schema 2 image keeps its type and digest (checked below) and umoci lists it
	for t in base app1 multi; do
		skopeo copy -q "oci:store:$SRC/test/$t:1" "dir:copy-$t"
	done
	for t in base app1 v2s2; do
		[ "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$SRC/test/$t:1")" = \
		  "$(jq -r --arg r "$SRC/test/$t:1" '.images[] | select(.ref == $r) | .digest' out.json)" ]
	done
	run umoci ls --layout store
	assert_success
	assert_line "$SRC/test/base:1"
	assert_line "$SRC/test/v2s2:1"
	# skopeo can push what we pulled
	skopeo copy -q --dest-tls-verify=false "oci:store:$SRC/test/app1:1" "docker://$SRC/copied/app1:1"
	[ "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$SRC/copied/app1:1")" = "${TEST_DIGEST[test/app1:1]}" ]
}

@test "pull: an index is trimmed to the chosen platforms" {
	pull_manifest test/multi:1
	run --separate-stderr edge-pull --plain-http --platform linux/arm64 m.json
	assert_success
	assert_stderr_empty
	e=$(echo "$output" | jq '.images[0]')
	[ "$(echo "$e" | jq -r .sourceDigest)" = "${TEST_DIGEST[test/multi:1]}" ]
	[ "$(echo "$e" | jq -r .digest)" != "${TEST_DIGEST[test/multi:1]}" ]
	[ "$(echo "$e" | jq -c .platforms)" = '["linux/arm64"]' ]
	[ "$(echo "$output" | jq -c .platforms)" = '["linux/arm64"]' ]
	d=$(echo "$e" | jq -r .digest | cut -d: -f2)
	[ "$(jq '.manifests | length' "store/blobs/sha256/$d")" = 1 ]
	[ "$(jq -r '.manifests[0].digest' "store/blobs/sha256/$d")" = "${TEST_DIGEST['test/multi:1@linux/arm64/v8']}" ]
	[ ! -e "store/blobs/sha256/${TEST_DIGEST['test/multi:1@linux/arm/v7']#sha256:}" ]
	skopeo copy -q --override-arch arm64 "oci:store:$SRC/test/multi:1" dir:copy
	# the same platform written twice is one
	run --separate-stderr edge-pull --plain-http --platform linux/arm64 --platform linux/arm64/v8,linux/aarch64 m.json
	assert_success
	[ "$(echo "$output" | jq -c .platforms)" = '["linux/arm64"]' ]
}

@test "pull: --all-platforms keeps the index whole; manifest platforms are the default" {
	pull_manifest test/multi:1
	run --separate-stderr edge-pull --plain-http --all-platforms m.json
	assert_success
	[ "$(echo "$output" | jq -r '.images[0].digest')" = "${TEST_DIGEST[test/multi:1]}" ]
	[ "$(echo "$output" | jq -r '.images[0] | has("sourceDigest")')" = false ]
	[ "$(echo "$output" | jq -r '.images[0].platforms | length')" = 3 ]
	jq '.platforms = ["linux/arm/v7", "linux/amd64"]' m.json > m2.json
	run --separate-stderr edge-pull --plain-http --store store2 m2.json
	assert_success
	[ "$(echo "$output" | jq -c '.images[0].platforms')" = '["linux/amd64","linux/arm/v7"]' ]
}

@test "pull: a missing platform names the image and what it has" {
	pull_manifest test/multi:1
	run --separate-stderr edge-pull --plain-http --platform linux/s390x m.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-pull: $SRC/test/multi:1: no linux/s390x image (it has linux/amd64, linux/arm64/v8, linux/arm/v7)"
	pull_manifest test/base:1
	run --separate-stderr edge-pull --plain-http --platform linux/arm64 m.json
	assert_failure 3
	assert_stderr_is "edge-pull: $SRC/test/base:1: no linux/arm64 image: it is single-platform linux/amd64"
	[ "$(jq '.manifests | length' store/index.json)" = 0 ]
}

@test "pull: a rerun on a complete store downloads no blob; --offline needs no registry" {
	pull_manifest test/base:1 test/app1:1 test/multi:1
	edge-pull --plain-http m.json > /dev/null
	run --separate-stderr edge-pull -v --plain-http m.json
	assert_success
	! grep -q 'GET .*/blobs/' <<< "$stderr" || false
	! grep -q 'GET .*/manifests/' <<< "$stderr" || false
	run --separate-stderr edge-pull --offline --plain-http m.json
	assert_success
	assert_stderr_empty
	run --separate-stderr edge-pull --offline --store nostore m.json
	assert_failure 6
	assert_stderr_is "edge-pull: store nostore: no such store"
}

@test "pull: an OCI chart, an HTTP Helm repository chart and the definition" {
	mkdir -p repo
	chart_digest=${TEST_DIGEST['test/charts/demo:0.1.0#layer0']}
	cp "$TEST_LAYOUT/blobs/sha256/${chart_digest#sha256:}" repo/demo-0.1.0.tgz
	cat > repo/index.yaml <<-Y
	apiVersion: v1
	entries:
	  demo:
	    - name: demo
	      version: 0.2.0
	      urls: [demo-0.2.0.tgz]
	    - name: demo
	      version: 0.1.0
	      digest: ${chart_digest#sha256:}
	      urls: [charts/../demo-0.1.0.tgz]
	Y
	start_server helm helm.port python3 -c '
import http.server, os, sys, functools
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory="repo")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open("helm.port.tmp", "w").write(str(s.server_address[1])); os.rename("helm.port.tmp", "helm.port")
s.serve_forever()'
	printf 'oci://%s/test/charts demo 0.1.0\nhttp://127.0.0.1:%s/ demo 0.1.0\n' "$SRC" "$PORT" > charts.txt
	cp "$DEFINITION" site.tgz
	edge-resolve --charts charts.txt < /dev/null | jq '.name = "site" | .definition = {path: "site.tgz"}' > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	[ "$(jq -r --arg r "$SRC/test/charts/demo:0.1.0" '.charts[] | select(.ref == $r) | .digest' out.json)" = "${TEST_DIGEST[test/charts/demo:0.1.0]}" ]
	http_digest=$(jq -r '.charts[] | select(.ref == "127.0.0.1:'"$PORT"'/demo:0.1.0") | .digest' out.json)
	[[ "$http_digest" == sha256:* ]]
	man="store/blobs/sha256/${http_digest#sha256:}"
	[ "$(jq -r .config.mediaType "$man")" = application/vnd.cncf.helm.config.v1+json ]
	[ "$(jq -r '.layers[0].digest' "$man")" = "$chart_digest" ]
	[ "$(jq -r .name "store/blobs/sha256/$(jq -r .config.digest "$man" | cut -d: -f2)")" = demo ]
	# the definition is an spc artifact
	spc=$(jq -r '.manifests[] | select(.annotations["io.image.ref.spectrocloud.type"] == "spc")' store/index.json)
	[ "$(echo "$spc" | jq -r '.annotations["org.opencontainers.image.ref.name"]')" = "$(jq -r .definition.ref out.json)" ]
	layer=$(jq -r '.layers[0].digest' "store/blobs/sha256/$(echo "$spc" | jq -r .digest | cut -d: -f2)")
	cmp "store/blobs/sha256/${layer#sha256:}" site.tgz
	assert_store_sound
}

@test "pull: basic auth with --username, docker config.json and --cred-file" {
	registry_start basic
	seed_images "$REGISTRY" base
	echo "$REGISTRY/test/base:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_failure 5
	assert_stderr_contains "the registry asks for a user name and password; none given"
	run --separate-stderr edge-pull --plain-http --registry "$REGISTRY" --username "$REGISTRY_USER" --password-file "$REGISTRY_PASS_FILE" m.json
	assert_success
	assert_stderr_empty
	rm -rf store
	run --separate-stderr edge-pull --plain-http --registry "$REGISTRY" --username "$REGISTRY_USER" --password-stdin --store s2 m.json <<< "$REGISTRY_PASS"
	assert_success
	mkdir dock
	jq -n --arg h "$REGISTRY" --arg a "$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASS" | base64 -w0)" '{auths: {($h): {auth: $a}}}' > dock/config.json
	DOCKER_CONFIG=$PWD/dock run --separate-stderr edge-pull --plain-http --store s3 m.json
	assert_success
	jq -n --arg h "$REGISTRY" --arg u "$REGISTRY_USER" --arg p "$REGISTRY_PASS" '{image: [{endpoint: $h, username: $u, password: $p}], helm: []}' > creds.json
	chmod 600 creds.json
	run --separate-stderr edge-pull --plain-http --cred-file creds.json --store s4 m.json
	assert_success
	assert_stderr_empty
	: > empty.pw
	chmod 600 empty.pw
	run --separate-stderr edge-pull --plain-http --registry "$REGISTRY" --username "$REGISTRY_USER" --password-file empty.pw --store s5 m.json
	assert_failure 5
	assert_stderr_contains "$REGISTRY: access to test/base refused (HTTP 401"
	[ ! -e s5/blobs/sha256/"${TEST_DIGEST['test/base:1#layer0']#sha256:}" ]
}

@test "pull: token auth, tokens cached per scope" {
	registry_start token
	seed_images "$REGISTRY" base app1 app2
	printf '%s\n' "$REGISTRY/test/base:1" "$REGISTRY/test/app1:1" "$REGISTRY/test/app2:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_failure 5
	assert_output ""
	before=$(wc -l < "$TOKEN_LOG")
	run --separate-stderr edge-pull --plain-http --registry "$REGISTRY" --username "$REGISTRY_USER" --password-file "$REGISTRY_PASS_FILE" --store s2 m.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.images[0].digest')" = "${TEST_DIGEST[test/app1:1]}" ]
	# one token per repository scope, not one per request or per thread
	[ $(( $(wc -l < "$TOKEN_LOG") - before )) = 3 ]
	# the password never reaches the token log or our stderr
	! grep -q "$REGISTRY_PASS" "$TOKEN_LOG" || false
}

@test "pull: token auth with anonymous pull" {
	TOKEN_ANON_PULL=test/ registry_start token
	seed_images "$REGISTRY" base
	echo "$REGISTRY/test/base:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
}

@test "pull: TLS with --ca-file, refused without, --insecure" {
	registry_start tls
	seed_images "$REGISTRY" base
	echo "$REGISTRY/test/base:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull m.json
	assert_failure 4
	assert_stderr_contains "TLS certificate verification failed"
	[ ! -e store/index.json ] || [ "$(jq '.manifests | length' store/index.json)" = 0 ]
	run --separate-stderr edge-pull --ca-file "$REGISTRY_CA" --store s2 m.json
	assert_success
	assert_stderr_empty
	run --separate-stderr edge-pull --insecure --store s3 m.json
	assert_success
	run --separate-stderr edge-pull --plain-http --retries 0 --store s4 m.json
	assert_failure 4
}

@test "pull: intermittent 503 and 429 are retried" {
	fault_proxy_start 503,429 --every 3 --spare-retries
	printf '%s\n' "$PROXY/test/base:1" "$PROXY/test/app1:1" "$PROXY/test/multi:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	grep -q '"status": 503' "$PROXY_LOG"
	grep -q '"status": 429' "$PROXY_LOG"
	assert_store_sound
}

@test "pull: a connection cut mid-blob resumes with Range" {
	fault_proxy_start cut
	printf '%s\n' "$PROXY/test/big:1" "$PROXY/test/base:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	grep -q '"range": "bytes=' "$PROXY_LOG"
	[ "$(echo "$output" | jq -r '.images[] | select(.ref | endswith("big:1")) | .digest')" = "${TEST_DIGEST[test/big:1]}" ]
	assert_store_sound
}

@test "pull: flipped bytes: exit 1 naming image and blob, no bad blob stored" {
	fault_proxy_start flip
	echo "$PROXY/test/big:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_failure 1
	assert_output ""
	[[ "$stderr" =~ "edge-pull: $PROXY/test/big:1: blob sha256:"[0-9a-f]{64}": digest mismatch (got sha256:" ]]
	for b in 'test/big:1#layer0' 'test/big:1#config'; do
		[ ! -e "store/blobs/sha256/${TEST_DIGEST["$b"]#sha256:}" ]
	done
	assert_store_sound
	[ -z "$(ls store/.tmp)" ]
}

@test "pull: --keep-going pulls the rest and marks the failed entry" {
	pull_manifest test/base:1 test/nosuch:1 test/app1:1
	run --separate-stderr edge-pull --plain-http m.json
	assert_failure 4
	assert_output ""
	assert_stderr_contains "edge-pull: $SRC/test/nosuch:1: not found"
	run --separate-stderr edge-pull --plain-http --keep-going --store s2 m.json
	assert_failure 4
	assert_stderr_contains "1 of 3 entries failed"
	[ "$(echo "$output" | jq -r --arg r "$SRC/test/nosuch:1" '.images[] | select(.ref == $r) | .error')" = "$SRC/test/nosuch:1: not found" ]
	[ "$(echo "$output" | jq -r --arg r "$SRC/test/app1:1" '.images[] | select(.ref == $r) | .digest')" = "${TEST_DIGEST[test/app1:1]}" ]
	[ "$(jq '.manifests | length' s2/index.json)" = 2 ]
}

@test "pull: kill -9 during a pull, then a rerun completes the store" {
	export BIG_LAYER_MB=8
	pull_manifest test/big:1 test/base:1 test/app1:1 test/app2:1 test/multi:1
	for delay in 0.02 0.05 0.1; do
		timeout -s KILL "$delay" edge-pull --plain-http --jobs 2 m.json > /dev/null 2>&1 || true
		assert_store_sound
	done
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	for t in big base app1 app2; do
		skopeo copy -q "oci:store:$SRC/test/$t:1" "dir:copy-$t"
	done
	assert_store_sound
}

@test "pull: two runs on one store at once both succeed" {
	pull_manifest test/big:1 test/base:1 test/app1:1
	edge-pull --plain-http m.json > a.json 2> a.err &
	edge-pull --plain-http m.json > b.json 2> b.err
	wait $!
	[ "$(jq -r '.images | length' a.json)" = 3 ]
	[ "$(jq -r '.images | length' b.json)" = 3 ]
	assert_store_sound
	[ "$(jq '.manifests | length' store/index.json)" = 3 ]
}

@test "pull: usage errors" {
	pull_manifest test/base:1
	run --separate-stderr edge-pull --platform linux/amd64 --all-platforms m.json
	assert_failure 2
	assert_stderr_contains "edge-pull: --platform and --all-platforms exclude each other"
	run --separate-stderr edge-pull --platform linux m.json
	assert_failure 2
	run --separate-stderr edge-pull --jobs 0 m.json
	assert_failure 2
	: > empty.pw
	run --separate-stderr edge-pull --username u --password-file empty.pw m.json
	assert_failure 2
	assert_stderr_contains "--username needs --registry HOST"
	run --separate-stderr edge-pull --registry x --username u --password-stdin < m.json
	assert_failure 2
	run --separate-stderr edge-pull <<< '{"apiVersion": "edge.manifest/v1", "images": [{"ref": "UPPER"}]}'
	assert_failure 3
	assert_stderr_is 'edge-pull: stdin: images[0].ref: invalid reference "UPPER": repository name must be lowercase'
	run --separate-stderr edge-pull --cred-file nosuch.json m.json
	assert_failure 3
}

@test "pull: a Docker schema 1 manifest is refused with a clear error" {
	# distribution 2.8 no longer serves schema 1: a tiny server that does
	start_server s1 s1.port python3 -c '
import http.server, json, os
body = json.dumps({"schemaVersion": 1, "name": "old/app", "tag": "1", "fsLayers": [], "history": []}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, send_body):
        if self.path == "/v2/":
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        if send_body: self.wfile.write(body)
    def do_GET(self): self.reply(True)
    def do_HEAD(self): self.reply(False)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open("s1.port.tmp", "w").write(str(s.server_address[1])); os.rename("s1.port.tmp", "s1.port")
s.serve_forever()'
	echo "127.0.0.1:$PORT/old/app:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_failure 4
	assert_output ""
	assert_stderr_is "edge-pull: 127.0.0.1:$PORT/old/app:1: Docker schema 1 manifests are not supported (push the image again with a current client)"
	[ "$(jq '.manifests | length' store/index.json)" = 0 ]
}

@test "pull: a child manifest with a CR LF in its media type is refused (exit 4), escaped, nothing stored under a name" {
	# distribution refuses such a manifest on push: a tiny server serves it
	start_server crlf crlf.port python3 -c '
import hashlib, http.server, json, os
def blob(doc):
    b = json.dumps(doc).encode()
    return b, "sha256:" + hashlib.sha256(b).hexdigest()
cfg, cfgd = blob({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
child, childd = blob({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json\r\nX-Injected: yes",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgd, "size": len(cfg)}, "layers": []})
index, indexd = blob({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": childd, "size": len(child),
     "platform": {"os": "linux", "architecture": "amd64"}}]})
docs = {"/v2/evil/app/manifests/1": (index, indexd, "application/vnd.oci.image.index.v1+json"),
        "/v2/evil/app/manifests/" + indexd: (index, indexd, "application/vnd.oci.image.index.v1+json"),
        "/v2/evil/app/manifests/" + childd: (child, childd, "application/vnd.oci.image.manifest.v1+json"),
        "/v2/evil/app/blobs/" + cfgd: (cfg, cfgd, "application/octet-stream")}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, send_body):
        body, d, mt = docs.get(self.path, (b"", "", ""))
        self.send_response(200 if self.path == "/v2/" or d else 404)
        if d:
            self.send_header("Content-Type", mt); self.send_header("Docker-Content-Digest", d)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        if send_body: self.wfile.write(body)
    def do_GET(self): self.reply(True)
    def do_HEAD(self): self.reply(False)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open("crlf.port.tmp", "w").write(str(s.server_address[1])); os.rename("crlf.port.tmp", "crlf.port")
s.serve_forever()'
	echo "127.0.0.1:$PORT/evil/app:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http --platform linux/amd64 m.json
	assert_failure 4
	assert_output ""
	[ "${#stderr_lines[@]}" = 1 ]
	[[ "$stderr" =~ ^"edge-pull: 127.0.0.1:$PORT/evil/app:1: 127.0.0.1:$PORT/evil/app@sha256:"[0-9a-f]{64}": media type \"application/vnd.oci.image.manifest.v1+json\\x0d\\x0aX-Injected: yes\" is not a type/subtype (RFC 6838)"$ ]]
	[ "$(jq '.manifests | length' store/index.json)" = 0 ]
}

@test "pull: a reference pinned with sha512 is refused (exit 3): such a pin could not be checked" {
	pin="sha512:$(printf 'ab%.0s' $(seq 64))"
	echo "{\"apiVersion\": \"edge.manifest/v1\", \"images\": [{\"ref\": \"127.0.0.1:9/test/app1@$pin\"}]}" > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-pull: m.json: images[0].ref: invalid reference \"127.0.0.1:9/test/app1@$pin\": sha512 digests cannot be checked (pin the image by its sha256 digest)"
	[ ! -e store ]
}

# bomb LEVELS: YAML whose aliases double LEVELS times (2^LEVELS nodes)
yaml_alias_bomb() {
	local i
	echo 'b0: &b0 [lol, lol]'
	for ((i = 1; i <= $1; i++)); do
		echo "b$i: &b$i [*b$((i - 1)), *b$((i - 1))]"
	done
}

@test "pull: a Helm index.yaml or Chart.yaml alias bomb, or a chart that unpacks to 300 MiB before its Chart.yaml, fails fast, naming the file" {
	mkdir -p repo/good/demo repo/bomb
	{ echo 'apiVersion: v1'; yaml_alias_bomb 40; echo 'entries: {demo: [{name: demo, version: 0.1.0, urls: [demo-0.1.0.tgz]}]}'; } > repo/bomb/index.yaml
	{ printf 'apiVersion: v2\nname: demo\nversion: 0.1.0\n'; yaml_alias_bomb 40 | sed 's/^/x/'; } > repo/good/demo/Chart.yaml
	tar -C repo/good -czf repo/good/demo-0.1.0.tgz demo
	printf 'apiVersion: v1\nentries:\n  demo:\n    - name: demo\n      version: 0.1.0\n      urls: [demo-0.1.0.tgz]\n' > repo/good/index.yaml
	# a 300 KB archive whose first entry unpacks to 300 MiB, Chart.yaml after it
	mkdir -p repo/big/demo
	truncate -s 300M repo/big/demo/zeros
	printf 'apiVersion: v2\nname: demo\nversion: 0.1.0\n' > repo/big/demo/Chart.yaml
	tar -C repo/big -czf repo/big/demo-0.1.0.tgz demo/zeros demo/Chart.yaml
	rm repo/big/demo/zeros
	cp repo/good/index.yaml repo/big/index.yaml
	start_server helm helm.port python3 -c '
import http.server, os, sys, functools
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory="repo")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open("helm.port.tmp", "w").write(str(s.server_address[1])); os.rename("helm.port.tmp", "helm.port")
s.serve_forever()'
	for where in bomb good big; do
		printf 'http://127.0.0.1:%s/%s demo 0.1.0\n' "$PORT" "$where" > charts.txt
		edge-resolve --charts charts.txt < /dev/null > m.json
		run --separate-stderr timeout 20 /usr/bin/time -f %M -o rss edge-pull --plain-http --retries 0 m.json
		assert_failure 4
		assert_output ""
		echo "max RSS $(tail -n1 rss) KB"
		[ "$(tail -n1 rss)" -lt 200000 ]
		if [ $where = bomb ]; then
			assert_stderr_is "edge-pull: 127.0.0.1:$PORT/bomb/demo:0.1.0: http://127.0.0.1:$PORT/bomb/index.yaml: line 19, column 18: aliases expand to more than 1000000 nodes"
		elif [ $where = good ]; then
			assert_stderr_is "edge-pull: 127.0.0.1:$PORT/good/demo:0.1.0: http://127.0.0.1:$PORT/good/demo-0.1.0.tgz: chart archive: demo/Chart.yaml: line 21, column 19: aliases expand to more than 1000000 nodes"
		else
			assert_stderr_is "edge-pull: 127.0.0.1:$PORT/big/demo:0.1.0: http://127.0.0.1:$PORT/big/demo-0.1.0.tgz: chart archive: more than 256 MiB once unpacked before its Chart.yaml"
		fi
	done
}

# requests METHOD PATH_REGEX: how many requests of the proxy's log match
requests() {
	jq -s --arg m "$1" --arg p "$2" '[.[] | select(.method == $m and (.path | test($p)))] | length' "$PROXY_LOG"
}

@test "pull: a cold store costs one GET per manifest and no HEAD; a complete store one request per image" {
	fault_proxy_start none
	printf '%s\n' "$PROXY/test/base:1" "$PROXY/test/app1:1" "$PROXY/test/multi:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	[ "$(requests HEAD .)" = 0 ]
	for t in base app1 multi; do
		[ "$(requests GET "^/v2/test/$t/manifests/1\$")" = 1 ]
	done
	# each manifest (multi: the index and the amd64 child) once, by tag or digest
	[ "$(requests GET '/manifests/')" = 4 ]
	assert_store_sound
	: > "$PROXY_LOG"
	run --separate-stderr edge-pull --plain-http m.json
	assert_success
	assert_stderr_empty
	[ "$(jq -s length "$PROXY_LOG")" = 3 ]
	[ "$(requests HEAD '/manifests/1$')" = 3 ]
}

# pull_big_in_parts: edge-pull of test/big:1 through the fault proxy, with
# parts of 1 MiB so that its layer comes in 4 ranges (bats' run: status,
# output, stderr)
pull_big_in_parts() {
	echo "$PROXY/test/big:1" > images.txt
	edge-resolve --images images.txt < /dev/null > m.json
	EDGE_PULL_PART_MIN=1048576 run --separate-stderr edge-pull --plain-http m.json
}

@test "pull: a large blob comes in parallel ranges, each answered 206, hashed in order" {
	fault_proxy_start none
	pull_big_in_parts
	assert_success
	assert_stderr_empty
	big=${TEST_DIGEST['test/big:1#layer0']}
	size=${TEST_SIZE['test/big:1#layer0']}
	[ "$(jq -s --arg b "/blobs/$big" '[.[] | select(.path | endswith($b)) | select(.status == 206) | .range] | length' "$PROXY_LOG")" = 4 ]
	# the ranges tile the blob
	jq -rs --arg b "/blobs/$big" '.[] | select(.path | endswith($b)) | .range' "$PROXY_LOG" | sort -t= -k2 -n > ranges.txt
	[ "$(head -1 ranges.txt)" = "bytes=0-$(( (size + 3) / 4 - 1 ))" ]
	[ "$(tail -1 ranges.txt | sed 's/.*-//')" = "$((size - 1))" ]
	[ "$(echo "$output" | jq -r '.images[0].digest')" = "${TEST_DIGEST[test/big:1]}" ]
	assert_store_sound
	[ -z "$(ls store/.tmp)" ]
}

@test "pull: a registry that ignores Range (200) gets one stream" {
	fault_proxy_start no-range
	pull_big_in_parts
	assert_success
	assert_stderr_empty
	big=${TEST_DIGEST['test/big:1#layer0']}
	[ "$(requests GET "/blobs/$big\$")" = 1 ]
	[ "$(jq -s --arg b "/blobs/$big" '[.[] | select(.path | endswith($b)) | .status] | join(",")' "$PROXY_LOG")" = '"200"' ] ||
		[ "$(jq -s --arg b "/blobs/$big" '[.[] | select(.path | endswith($b)) | .status][0]' "$PROXY_LOG")" = 200 ]
	[ "$(echo "$output" | jq -r '.images[0].digest')" = "${TEST_DIGEST[test/big:1]}" ]
	assert_store_sound
}

@test "pull: a part cut midway resumes its own range" {
	fault_proxy_start cut --min-size 1048576
	pull_big_in_parts
	assert_success
	assert_stderr_empty
	big=${TEST_DIGEST['test/big:1#layer0']}
	# one part was cut; its retry asked for the rest of that part only
	cut=$(jq -rs --arg b "/blobs/$big" '.[] | select(.path | endswith($b)) | select(.fault == "cut") | .range' "$PROXY_LOG")
	[ -n "$cut" ]
	[ "$(requests GET "/blobs/$big\$")" = 5 ]
	end=${cut##*-}
	jq -rs --arg b "/blobs/$big" --arg e "$end" '.[] | select(.path | endswith($b)) | select(.fault == null) | .range' "$PROXY_LOG" > after.txt
	grep -v "^${cut}\$" after.txt | grep -q -- "-$end\$"
	[ "$(echo "$output" | jq -r '.images[0].digest')" = "${TEST_DIGEST[test/big:1]}" ]
	assert_store_sound
	[ -z "$(ls store/.tmp)" ]
}

@test "pull: a digest mismatch after a ranged fetch: exit 1, nothing renamed into the store" {
	big=${TEST_DIGEST['test/big:1#layer0']}
	fault_proxy_start flip --match "/blobs/$big\$"
	pull_big_in_parts
	assert_failure 1
	assert_output ""
	[[ "$stderr" =~ "edge-pull: $PROXY/test/big:1: blob sha256:"[0-9a-f]{64}": digest mismatch (got sha256:" ]]
	[ ! -e "store/blobs/sha256/${big#sha256:}" ]
	# fetched twice, in ranges each time
	[ "$(jq -s --arg b "/blobs/$big" '[.[] | select(.path | endswith($b)) | select(.range | test("^bytes=[0-9]+-[0-9]+$"))] | length' "$PROXY_LOG")" = 8 ]
	assert_store_sound
	[ -z "$(ls store/.tmp)" ]
}

@test "pull: --jobs-per-registry caps the transfers to one registry; a bad value is a usage error" {
	pull_manifest test/base:1 test/app1:1
	run --separate-stderr edge-pull --plain-http --jobs-per-registry 1 m.json
	assert_success
	assert_stderr_empty
	assert_store_sound
	run --separate-stderr edge-pull --plain-http --jobs-per-registry 0 m.json
	assert_failure 2
	[[ "${stderr_lines[0]}" == "edge-pull: --jobs-per-registry"* ]]
}

# --- a full disk (issue 10 item 7) ---------------------------------------------

# A small tmpfs for the store when this machine lets us mount one (as root);
# else the file size limit (ulimit -f), which fails a write the same way
# (EFBIG, with SIGXFSZ ignored).
per_test_teardown() {
	if [ -n "${SMALL_FS:-}" ]; then
		umount "$SMALL_FS" 2>/dev/null || true
	fi
}

@test "pull: a full disk is reported at the blob write that failed first; nothing half-written stays" {
	imglist base.txt test/base:1
	imglist big.txt test/big:1
	edge-resolve --images base.txt < /dev/null > base.json
	edge-resolve --images big.txt < /dev/null > big.json
	mkdir fs
	if mount -t tmpfs -o size=4m tmpfs fs 2>/dev/null; then
		SMALL_FS=$PWD/fs
		limit=""
	else
		limit="ulimit -f 4096;" # 4 MiB
	fi
	run --separate-stderr bash -c "trap '' XFSZ; $limit edge-pull --plain-http --store fs/store base.json" 
	assert_success
	cp fs/store/index.json index.before
	# the big image's 8 MiB layer does not fit
	run --separate-stderr bash -c "trap '' XFSZ; $limit edge-pull --plain-http --retries 0 --store fs/store big.json"
	assert_failure 6
	assert_output ""
	layer=${TEST_DIGEST['test/big:1#layer0']}
	assert_stderr_contains "store fs/store: write blob $layer: "
	[[ "$stderr" == *"No space left on device" || "$stderr" == *"File too large" ]]
	[[ "$stderr" != *index.json* ]]
	[ "${#stderr_lines[@]}" = 1 ]
	# index.json as it was, no temp or partial file, no blob under the layer's name
	cmp index.before fs/store/index.json
	[ -z "$(ls -A fs/store/.tmp)" ]
	[ ! -e "fs/store/blobs/sha256/${layer#sha256:}" ]
	! ls -a fs/store | grep -q '\.tmp-' || false
}
