#!/usr/bin/env bats
# Servers that dribble bytes cannot hold a run: every networked tool gives up
# a stalled attempt (--stall-timeout) or a slow one (--timeout), retries it,
# and fails with exit 4 within a bound, leaving nothing half-written. Tools
# holding a secret run with core dumps off.

load test_helper

PROJECT=5f1a2b3c4d5e6f7a8b9c0d1e
PROFILES=65c90a1b2c3d4e5f60718293

# slow_server: tests/servers/flaky-http.py (a path with a slow-headers or
# slow-body segment dribbles 5 bytes/s); sets SLOW=127.0.0.1:PORT
slow_server() {
	start_server flaky "$BATS_TEST_TMPDIR/flaky.port" \
		python3 "$TOP/tests/servers/flaky-http.py" --port-file "$BATS_TEST_TMPDIR/flaky.port" \
		--idle 60 --dribble-for 60
	SLOW="127.0.0.1:$PORT"
}

# timed CMD...: run --separate-stderr CMD, killed after 60 s at the latest;
# ELAPSED is how many seconds it took
timed() {
	local t0=$SECONDS
	run --separate-stderr timeout -s KILL 60 "$@"
	ELAPSED=$((SECONDS - t0))
}

# small_store DIR REF: an OCI layout holding one tiny image named REF; prints
# its manifest's digest
small_store() {
	python3 - "$1" "$2" <<'EOF'
import hashlib, json, os, sys
d, ref = sys.argv[1], sys.argv[2]
os.makedirs(d + "/blobs/sha256")
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(d + "/blobs/sha256/" + h, "wb").write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
layer = dict(put(b"not really a tar, only bytes"), mediaType="application/vnd.oci.image.layer.v1.tar")
config = dict(put(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'),
              mediaType="application/vnd.oci.image.config.v1+json")
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": config, "layers": [layer]}).encode()
top = dict(put(man), mediaType="application/vnd.oci.image.manifest.v1+json",
           annotations={"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref})
json.dump({"schemaVersion": 2, "manifests": [top]}, open(d + "/index.json", "w"))
open(d + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
print(top["digest"])
EOF
}

# assert_stalled WHAT: the run failed as a network error, after 2 attempts
# that each stalled, within the bound
assert_stalled() {
	assert_failure 4
	assert_output ""
	assert_stderr_contains "$1"
	assert_stderr_contains ": stalled: less than 1024 bytes/s for 1 s (after 2 attempts)"
	[ "$ELAPSED" -lt 20 ] || { echo "took $ELAPSED s" >&2; return 1; }
}

@test "hostile net: edge-fetchdef gives up slow headers and a slow body (exit 4), no file left" {
	slow_server
	export EDGE_API_KEY=s3cr3t-api-key-value
	for kind in slow-headers slow-body; do
		timed edge-fetchdef --endpoint "http://$SLOW/$kind" --project-id "$PROJECT" --profile-ids "$PROFILES" \
			--name site --retries 1 --stall-timeout 1
		assert_stalled "edge-fetchdef: POST http://$SLOW/$kind/v1/spectroclusters/spc/download"
		assert_no_file site.tgz
	done
}

@test "hostile net: edge-pull gives up a registry that dribbles (exit 4)" {
	slow_server
	for kind in slow-headers slow-body; do
		jq -n --arg r "$SLOW/$kind/app:1" '{apiVersion: "edge.manifest/v1", images: [{ref: $r}]}' > m.json
		timed edge-pull --plain-http --store store --retries 1 --stall-timeout 1 m.json
		assert_stalled "http://$SLOW/v2/$kind/app/manifests/1"
	done
}

@test "hostile net: edge-verify --registry gives up a registry that dribbles (exit 4)" {
	slow_server
	for kind in slow-headers slow-body; do
		jq -n '{apiVersion: "edge.manifest/v1", images: [{ref: "example.com/app:1",
			digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}' > m.json
		timed edge-verify --plain-http --registry "$SLOW/$kind" --retries 1 --stall-timeout 1 m.json
		assert_stalled "http://$SLOW/v2/$kind/example.com/app/manifests/1"
	done
}

@test "hostile net: edge-push gives up a registry that dribbles (exit 4)" {
	slow_server
	d=$(small_store store example.com/app:1)
	jq -n --arg d "$d" '{apiVersion: "edge.manifest/v1", store: "store",
		images: [{ref: "example.com/app:1", digest: $d, mediaType: "application/vnd.oci.image.manifest.v1+json"}]}' > m.json
	for kind in slow-headers slow-body; do
		timed edge-push --plain-http --registry "$SLOW/$kind" --jobs 1 --retries 1 --stall-timeout 1 m.json
		assert_stalled "http://$SLOW/v2/$kind/example.com/app/"
	done
}

# 5 bytes/s for a minute would pass a one-minute stall check that counted
# any byte at all; --timeout bounds each attempt whatever its pace.
@test "hostile net: --timeout bounds each attempt; a bad value is a usage error" {
	slow_server
	export EDGE_API_KEY=s3cr3t-api-key-value
	jq -n --arg r "$SLOW/slow-body/app:1" '{apiVersion: "edge.manifest/v1", images: [{ref: $r}]}' > m.json
	timed edge-pull --plain-http --store store --retries 1 --timeout 2 m.json
	assert_failure 4
	assert_stderr_contains "edge-pull: $SLOW/slow-body/app:1: GET http://$SLOW/v2/slow-body/app/manifests/1: timed out: no complete response within 2 s (after 2 attempts)"
	[ "$ELAPSED" -lt 20 ]
	timed edge-fetchdef --endpoint "http://$SLOW/slow-headers" --project-id "$PROJECT" --profile-ids "$PROFILES" \
		--name site --retries 0 --timeout 1
	assert_failure 4
	assert_stderr_is "edge-fetchdef: POST http://$SLOW/slow-headers/v1/spectroclusters/spc/download: timed out: no complete response within 1 s"
	assert_no_file site.tgz
	for t in pull push verify fetchdef; do
		run --separate-stderr edge-$t --timeout 1s
		assert_failure 2
		assert_stderr_contains "edge-$t: --timeout: expected a whole number from 0 to 604800, got '1s'"
		run --separate-stderr edge-$t --stall-timeout 0
		assert_failure 2
		assert_stderr_contains "edge-$t: --stall-timeout: expected a whole number from 1 to 86400, got '0'"
		run --separate-stderr edge-$t --connect-timeout -1
		assert_failure 2
		assert_stderr_contains "edge-$t: --connect-timeout: expected a whole number from 1 to 3600, got '-1'"
	done
}

# core_limit PID: the soft and hard "Max core file size" of a process
core_limit() {
	awk '/^Max core file size/ {print $5, $6}' "/proc/$1/limits"
}

# blocked PID NAME ERRFILE: waits (up to 30 s: a loaded machine) until PID
# runs NAME and has a socket open (a network tool talking to the slow
# server) or has run for a second (edge-sign, waiting for its manifest on
# stdin). When it does not, says whether the tool is still running, and
# what it printed (ERRFILE, its stderr).
blocked() {
	local i
	for i in $(seq 1 300); do
		if [ "$(readlink "/proc/$1/exe")" = "$TOP/bin/$2" ]; then
			ls -l "/proc/$1/fd" 2>/dev/null | grep -q 'socket:' && return 0
			[ "$2" = edge-sign ] && [ "$i" -ge 10 ] && return 0
		fi
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "$2 did not block on the server or stdin (still running after 30 s); its stderr:" >&2
	else
		echo "$2 exited before it blocked on the server or stdin; its stderr:" >&2
	fi
	cat "$3" >&2
	return 1
}

@test "hostile net: tools holding a secret run with core dumps off" {
	slow_server
	ulimit -c unlimited
	[ "$(core_limit $$)" = "unlimited unlimited" ]
	echo 's3cret-registry-password' > pass
	chmod 600 pass
	export EDGE_API_KEY=s3cr3t-api-key-value
	jq -n --arg r "$SLOW/slow-headers/app:1" '{apiVersion: "edge.manifest/v1", images: [{ref: $r}]}' > pull.json
	jq -n '{apiVersion: "edge.manifest/v1", images: [{ref: "example.com/app:1",
		digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}' > verify.json
	edge-sign -G -W -k edge.key -q
	d=$(small_store store example.com/app:1)
	jq -n --arg d "$d" '{apiVersion: "edge.manifest/v1", store: "store",
		images: [{ref: "example.com/app:1", digest: $d, mediaType: "application/vnd.oci.image.manifest.v1+json"}]}' > push.json
	mkfifo stdin.fifo
	exec 4<>stdin.fifo # a writer that never writes: edge-sign waits for its manifest
	local -a cmds=(
		"edge-fetchdef --endpoint http://$SLOW/slow-headers --project-id $PROJECT --profile-ids $PROFILES --retries 0"
		"edge-pull --plain-http --store pulled --registry $SLOW --username u --password-file pass --retries 0 pull.json"
		"edge-verify --plain-http --registry $SLOW/slow-headers --username u --password-file pass --retries 0 verify.json"
		"edge-push --plain-http --registry $SLOW/slow-headers --username u --password-file pass --retries 0 push.json"
		"edge-sign -k edge.key"
	)
	for c in "${cmds[@]}"; do
		$c < stdin.fifo > /dev/null 2> tool.err 3>&- &
		pid=$!
		blocked "$pid" "${c%% *}" tool.err || { kill "$pid" 2>/dev/null; return 1; }
		got=$(core_limit "$pid")
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		[ "$got" = "0 0" ] || { echo "$c: core file size limit $got" >&2; return 1; }
	done
	exec 4>&-
}
