#!/usr/bin/env bats
# Issue 10, items 14-16, 18-20: the progress line (bytes in flight, rate,
# time left on a terminal; plain lines when piped; blobs counted the same
# way by pull, pack and push), --progress for edge-verify and edge-sign, the
# closing line on a terminal, edge-verify --list, edge-push --dry-run and
# edge-pull REF....
#
# A terminal is util-linux script(1): `script -qec CMD /dev/null` runs CMD
# with stdin, stdout and stderr on a pseudo-terminal; CMD sends stdout to a
# file, so what the terminal shows is stderr.

load test_helper
load registry

setup_file() {
	site_setup_file --platform linux/amd64
}

teardown_file() {
	stop_servers
}

# on_tty CMD...: runs CMD (one shell string) with stderr on a terminal;
# what it showed is in $tty (carriage returns kept, "\r\n" made "\n").
on_tty() {
	tty=$(script -qec "$1" /dev/null | sed 's/\r$//')
}

# slow_proxy REGISTRY MS [REGEX]: a proxy in front of REGISTRY that holds
# every request (or those whose path matches REGEX) MS milliseconds (a
# registry far away); exports PROXY.
slow_proxy() {
	local save=$REGISTRY
	REGISTRY=$1
	fault_proxy_start none --delay "$2" ${3:+--delay-match "$3"}
	REGISTRY=$save
}

# the chunks (PATCH) and the closing PUT of test/big's uploads: pushed with
# --chunk-size 1M, its 8 MiB layer is ten slow requests among fast ones, and
# bytes stay to send while they wait (a delay on each of the 150 requests
# of a push in 64 KiB chunks cost the proxy and the registry seconds of CPU)
BIG_UPLOAD='/test/big/blobs/uploads/[^?/]'

# redrawn_line: the progress line of $tty drew bytes done and the total,
# a rate and the time left, redrawn in place (\r), and cleared to the end.
redrawn_line() {
	grep -q $'\r' <<< "$tty" || { echo "no redrawn line: $tty" >&2; return 1; }
	grep -q $'\033\\[K' <<< "$tty" || { echo "no clear to end of line: $tty" >&2; return 1; }
	tr '\r' '\n' <<< "$tty" | grep -qE '[0-9]+/[0-9]+ blobs, [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]iB.*, [0-9.]+ [KMG]?i?B/s, [0-9]+:[0-9]{2} left' ||
		{ echo "no line with bytes, total, rate and time left:" >&2; tr '\r' '\n' <<< "$tty" >&2; return 1; }
}

# final_count TEXT: N of the last "N/N blobs" of TEXT (all done).
final_count() {
	tr '\r' '\n' <<< "$1" | grep -oE '([0-9]+)/\1 blobs' | tail -1 | cut -d/ -f1
}

# --- item 14: the progress line ---------------------------------------------

@test "progress: edge-push on a terminal shows bytes in flight, the total, the rate and the time left" {
	slow_proxy "$DST" 250 "$BIG_UPLOAD"
	# 1 MiB chunks of the 8 MiB layer: one request each, 250 ms away
	on_tty "edge-push --plain-http --jobs 1 --chunk-size 1M --registry $PROXY/tty $BUNDLE > out.json"
	redrawn_line
	jq -e '.pushed | length == 7' out.json >/dev/null
}

@test "progress: edge-pull on a terminal shows bytes in flight, the total, the rate and the time left" {
	slow_proxy "$SRC" 25
	jq --arg src "$SRC" --arg px "$PROXY" '.images |= map(.ref |= sub($src; $px)) | del(.charts[])
		| del(.store) | .images |= map({ref, from})' "$PULLED" > m.json
	EDGE_PULL_PART_MIN=65536 EDGE_PULL_PARTS=2 \
		on_tty "edge-pull --plain-http --jobs 1 --platform linux/amd64 --store st m.json > out.json"
	redrawn_line
	jq -e '.images | length == 6' out.json >/dev/null
}

@test "progress: piped, edge-push prints a plain line every 5 s and no redrawing" {
	# over 5 s: ten requests 700 ms away
	slow_proxy "$DST" 700 "$BIG_UPLOAD"
	run --separate-stderr edge-push --plain-http --jobs 1 --chunk-size 1M --registry "$PROXY/plain" "$BUNDLE"
	assert_success
	[[ "$stderr" != *$'\r'* ]]
	[[ "$stderr" != *$'\033'* ]]
	grep -qE '^edge-push: [0-9]+/[0-9]+ blobs, [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]iB' <<< "$stderr" ||
		{ echo "no plain line: $stderr" >&2; return 1; }
}

@test "progress: pull, pack and push count the same blobs" {
	run --separate-stderr edge-pull --plain-http --progress always --platform linux/amd64 --store st "$PULLED"
	assert_success
	echo "$output" > pulled.json
	pull=$(final_count "$stderr")
	run --separate-stderr edge-pack --progress always -o b.tar.zst pulled.json
	assert_success
	pack=$(final_count "$stderr")
	run --separate-stderr edge-push --plain-http --progress always --registry "$DST/count" b.tar.zst
	assert_success
	push=$(final_count "$stderr")
	echo "pull $pull, pack $pack, push $push" >&2
	[ -n "$pull" ] && [ "$pull" -gt 5 ]
	[ "$pull" = "$pack" ]
	[ "$pack" = "$push" ]
}

# --- item 15: --progress for edge-verify and edge-sign ----------------------------

@test "progress: edge-verify --progress draws the blobs checked" {
	run --separate-stderr edge-verify --progress always "$BUNDLE"
	assert_success
	tr '\r' '\n' <<< "$stderr" | grep -qE '^edge-verify: ([0-9]+)/\1 blobs, [0-9.]+ [KMG]iB of [0-9.]+ [KMG]iB checked' ||
		{ echo "no progress line: $stderr" >&2; return 1; }
	run --separate-stderr edge-verify --progress never "$BUNDLE"
	assert_success
	assert_stderr_empty
	run --separate-stderr edge-verify --progress sometimes "$BUNDLE"
	assert_failure 2
	[[ "$stderr" == "edge-verify: --progress: expected auto, always or never, got 'sometimes'"* ]]
}

@test "progress: edge-sign --progress draws the file read" {
	edge-sign -G -W -k k.key -p k.pub 2>/dev/null
	cp "$BUNDLE" b.tar.zst
	run --separate-stderr edge-sign --progress always -k k.key b.tar.zst
	assert_success
	tr '\r' '\n' <<< "$stderr" | grep -qE '^edge-sign: 1/1 files, [0-9.]+ [KMG]iB of [0-9.]+ [KMG]iB read' ||
		{ echo "no progress line: $stderr" >&2; return 1; }
	[ -f b.tar.zst.minisig ]
	# the check on the other side: the signature's file read, then the blobs
	run --separate-stderr edge-verify --progress always -p k.pub b.tar.zst
	assert_success
	tr '\r' '\n' <<< "$stderr" | grep -qE '^edge-verify: 1/1 files, .* read' || { echo "$stderr" >&2; return 1; }
	tr '\r' '\n' <<< "$stderr" | grep -qE '^edge-verify: ([0-9]+)/\1 blobs, .* checked' || { echo "$stderr" >&2; return 1; }
	echo "$output" | jq -e '.signatures | length == 1' >/dev/null
}

# --- item 16: the closing line ------------------------------------------------------

@test "summary: edge-push ends with one human line on a terminal, stdout stays the manifest" {
	edge-push -q --plain-http --registry "$DST/sum" "$BUNDLE" >/dev/null
	on_tty "edge-push --plain-http --progress never --registry $DST/sum $BUNDLE > out.json"
	[[ "$tty" =~ edge-push:\ 6\ images,\ 1\ chart\ →\ $DST/sum\ \(0\ B\ sent,\ [0-9.]+\ MiB\ already\ there\)\ in\ [0-9.]+\ s ]] ||
		{ echo "tty: $tty" >&2; return 1; }
	[ "$(printf '%s\n' "$tty" | grep -c .)" = 1 ]
	jq -e '.pushed | length == 7' out.json >/dev/null
	[ "$(tail -c1 out.json | od -An -c | tr -d ' ')" = '\n' ]
	# not with -q, not when stderr is not a terminal
	on_tty "edge-push -q --plain-http --registry $DST/sum $BUNDLE > out.json"
	[ -z "$tty" ]
	run --separate-stderr edge-push --plain-http --progress never --registry "$DST/sum" "$BUNDLE"
	assert_success
	assert_stderr_empty
}

@test "summary: edge-pull, edge-verify and edge-sign end with one line on a terminal" {
	on_tty "edge-pull --plain-http --progress never --platform linux/amd64 --store st $PULLED > out.json"
	[[ "$tty" =~ edge-pull:\ 6\ images,\ 1\ chart\ →\ st\ \([0-9.]+\ [KMG]iB\ downloaded,\ 0\ B\ already\ there\)\ in ]] ||
		{ echo "tty: $tty" >&2; return 1; }
	jq -e '.store == "st"' out.json >/dev/null
	on_tty "edge-verify --progress never $BUNDLE > out.json"
	[[ "$tty" =~ edge-verify:\ .*site.tar.zst\ verified:\ 6\ images,\ 1\ chart,\ [0-9.]+\ [KMG]iB\ in ]] ||
		{ echo "tty: $tty" >&2; return 1; }
	edge-sign -G -W -k k.key -p k.pub 2>/dev/null
	cp "$BUNDLE" b.tar.zst
	on_tty "edge-sign --progress never -k k.key b.tar.zst"
	[[ "$tty" =~ edge-sign:\ 1\ file\ signed\ \(ed25519\)\ in ]] || { echo "tty: $tty" >&2; return 1; }
}

# --- item 18: edge-verify --list ---------------------------------------------------

@test "list: edge-verify --list prints the images and charts, sizes and platforms" {
	run --separate-stderr edge-verify --list "$BUNDLE"
	assert_success
	assert_stderr_empty
	[[ "${lines[0]}" =~ ^$BUNDLE:\ site,\ 6\ images,\ 1\ charts,\ [0-9]+\ blobs,\ [0-9.]+\ MiB\ \([0-9.]+\ MiB\ compressed\)$ ]]
	[ "${#lines[@]}" = 8 ]
	grep -qE "^image +[0-9.]+ [KM]iB  linux/amd64 +$SRC/test/multi:1$" <<< "$output"
	grep -qE "^chart +[0-9.]+ KiB  - +$SRC/test/charts/demo:0.1.0$" <<< "$output"
	run --separate-stderr edge-verify --list --json "$BUNDLE"
	assert_success
	assert_stderr_empty
	echo "$output" | jq -e --arg b "$BUNDLE" '.bundle == $b and .name == "site" and (.images | length) == 6
		and (.charts | length) == 1 and .size > 0 and .contentSize > .size / 2 and .blobs > 6
		and all(.images[]; .size > 0 and (.platforms | length) > 0 and (has("from") | not))' >/dev/null
	# the same entries as edge-verify prints after checking everything
	edge-verify "$BUNDLE" | jq -S '[.images[], .charts[]] | map(del(.from))' > full.json
	echo "$output" | jq -S '[.images[], .charts[]]' > listed.json
	diff full.json listed.json
}

@test "list: reads only bundle.json and the seek table: works where a blob is corrupt and verify fails" {
	cp "$BUNDLE" bad.tar.zst
	size=$(stat -c %s bad.tar.zst)
	# a byte in the middle: inside the 8 MiB random layer's frames
	printf '\x55' | dd of=bad.tar.zst bs=1 seek=$((size / 2)) conv=notrunc status=none
	run --separate-stderr edge-verify bad.tar.zst
	assert_failure 1
	run --separate-stderr edge-verify --list bad.tar.zst
	assert_success
	assert_stderr_empty
	[ "${#lines[@]}" = 8 ]
}

@test "list: usage errors" {
	run --separate-stderr edge-verify --json "$BUNDLE"
	assert_failure 2
	[ "${stderr%%$'\n'*}" = "edge-verify: --json goes with --list" ]
	run --separate-stderr edge-verify --list -p x.pub "$BUNDLE"
	assert_failure 2
	[[ "${stderr%%$'\n'*}" == "edge-verify: --list reads a bundle's own list: -p, "* ]]
	run --separate-stderr edge-verify --list < /dev/null
	assert_failure 2
	[ "${stderr%%$'\n'*}" = "edge-verify: --list needs BUNDLE" ]
	run --separate-stderr edge-verify --list nothing.tar.zst
	assert_failure 6
	[ "$stderr" = "edge-verify: open nothing.tar.zst: No such file or directory" ]
	echo junk > junk.tar.zst
	run --separate-stderr edge-verify --list junk.tar.zst
	[ "$status" -ne 0 ]
	[ "$(grep -c . <<< "$stderr")" = 1 ]
	[ -z "$output" ]
}

# --- item 19: edge-push --dry-run ------------------------------------------------------

@test "dry run: edge-push --dry-run names every target, marks what is there, uploads nothing" {
	edge-push -q --plain-http --registry "$DST/there" "$BUNDLE" >/dev/null
	run --separate-stderr edge-push --dry-run --plain-http --registry "$DST/there" "$BUNDLE"
	assert_success
	[ "$(grep -c ': already there$' <<< "$stderr")" = 7 ]
	grep -qxF "$SRC/test/base:1 -> $DST/there/${SRC/:/_}/test/base:1: already there" <<< "$stderr"
	grep -qx 'edge-push: dry run: 0 of 7 entries to push, 7 already there' <<< "$stderr"
	echo "$output" | jq -e 'has("pushed") | not' >/dev/null
	# a new path: all to push, and the registry gets no upload and no repository
	run --separate-stderr edge-push --dry-run --plain-http --registry "$DST/fresh" "$BUNDLE"
	assert_success
	[ "$(grep -c ': to push$' <<< "$stderr")" = 7 ]
	grep -qxF "$SRC/test/charts/demo:0.1.0 -> $DST/fresh/${SRC/:/_}/test/charts/demo:0.1.0: to push" <<< "$stderr"
	[ -z "$(find "$DST_REGISTRY_STORAGE" -path '*fresh*' | head -1)" ]
	! grep -q '"POST\|"PUT\|"PATCH' "$DST_REGISTRY_DIR/registry.log" 2>/dev/null || true
	# a mix: one entry pushed by itself first
	jq --arg r "$SRC/test/base:1" '.images |= map(select(.ref == $r)) | .charts = []' "$PACKED" > one.json
	edge-push -q --plain-http --registry "$DST/mix" one.json >/dev/null
	run --separate-stderr edge-push --dry-run --plain-http --registry "$DST/mix" "$BUNDLE"
	assert_success
	grep -qx 'edge-push: dry run: 6 of 7 entries to push, 1 already there' <<< "$stderr"
	grep -qxF "$SRC/test/base:1 -> $DST/mix/${SRC/:/_}/test/base:1: already there" <<< "$stderr"
}

@test "dry run: a registry that cannot be reached fails at once with exit 4" {
	run --separate-stderr edge-push --dry-run --plain-http --retries 0 --registry 127.0.0.1:1/x "$BUNDLE"
	assert_failure 4
	[ "$(grep -c . <<< "$stderr")" = 1 ]
	[[ "$stderr" == "edge-push: 127.0.0.1:1/x/"* ]]
}

# --- item 20: edge-pull REF... -----------------------------------------------------------

@test "pull REF...: the references make the manifest edge-resolve --images would" {
	printf '%s\n' "$SRC/test/base:1" "$SRC/test/app1:1" "$SRC/test/base:1" > list.txt
	edge-resolve --images list.txt </dev/null | edge-pull -q --plain-http --store a > a.json
	run --separate-stderr edge-pull --plain-http --store b "$SRC/test/base:1" "$SRC/test/app1:1" "$SRC/test/base:1"
	assert_success
	assert_stderr_empty
	echo "$output" > b.json
	diff <(jq 'del(.store) | .images |= map(del(.from))' a.json) <(jq 'del(.store) | .images |= map(del(.from))' b.json)
	jq -e '.store == "b" and .name == "edge" and .platforms == ["linux/amd64"]
		and (.images | length) == 2 and all(.images[]; .from == [{"list": "command line"}] and (.digest | startswith("sha256:")))' b.json >/dev/null
	# one reference, with --platform, as edge-resolve --platform would
	echo "$SRC/test/multi:1" > one.txt
	edge-resolve --platform linux/arm64 --images one.txt </dev/null |
		edge-pull -q --plain-http --store a > a.json
	edge-pull -q --plain-http --platform linux/arm64 --store b "$SRC/test/multi:1" > b.json
	diff <(jq 'del(.store) | .images |= map(del(.from))' a.json) <(jq 'del(.store) | .images |= map(del(.from))' b.json)
}

@test "pull REF...: a bad reference is exit 3; a missing manifest file is not taken for a reference" {
	run --separate-stderr edge-pull --plain-http --store b "$SRC/test/base:1" 'UPPER/Case:x'
	assert_failure 3
	[[ "$stderr" == 'edge-pull: invalid reference "UPPER/Case:x": '* ]]
	[ "$(grep -c . <<< "$stderr")" = 1 ]
	[ ! -e b ]
	run --separate-stderr edge-pull --store b site.json
	[ "$status" -ne 0 ]
	[[ "$stderr" == *"site.json"*"No such file"* ]]
	[ "$(grep -c . <<< "$stderr")" = 1 ]
}
