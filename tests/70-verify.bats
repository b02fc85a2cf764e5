#!/usr/bin/env bats
# edge-verify: good bundles (one file, parts, the manifest on stdin, into
# edge-push), a corpus of bad bundles made here from a good one with
# tests/fixtures/bundle-tool.py (each rejected by the check it targets, with
# its exit code and a message naming the entry), signatures (edge-sign and
# minisign keys, RSA), and stores.

load test_helper
load registry
load verify

# The "big" image's layer (registry.bash): 5 MiB, not the default 8. Every
# bundle of the corpus is made, written and verified whole, so its bytes are
# most of the suite's work; 5 MiB is as small as it goes with every test
# still testing what it says: the bundle (~7.2 MB) splits into parts 000 and
# 001 of 3 MiB and a shorter 002 (--split 3M), makes over 100 frames of
# 64 KiB, and the layer sorts after the entries before it that stay under
# 1 MiB, so that --max-size 1M stops in it (each checked by the tests).
export BIG_LAYER_MB=5

setup_file() {
	registry_start plain src
	seed_images "$REGISTRY" base app1 app2 multi big chart
	export SRC="$REGISTRY"
	test_images
	cd "$BATS_FILE_TMPDIR" || return 1
	printf '%s\n' "$SRC/test/base:1" "$SRC/test/app1:1" "$SRC/test/app2:1" "$SRC/test/multi:1" \
		"$SRC/test/big:1" > images.txt
	printf 'oci://%s/test/charts demo 0.1.0\n' "$SRC" > charts.txt
	cp "$DEFINITION" site.tgz
	edge-resolve --images images.txt --charts charts.txt < /dev/null |
		jq '.name = "site" | .definition = {path: "site.tgz"}' > m.json || return 1
	edge-pull -q --plain-http --store "$BATS_FILE_TMPDIR/store" m.json > pulled.json || return 1
	edge-pack -o good.tar.zst pulled.json > packed.json || return 1
	python3 "$TOOL" unpack good.tar.zst good.tar || return 1
	tool_server_start || return 1
	# keys: edge-sign's, minisign's, RSA
	edge-sign -q -G -W -k k1 -p k1.pub && edge-sign -q -G -W -k k2 -p k2.pub || return 1
	minisign -G -W -p m1.pub -s m1.key > /dev/null || return 1
	for k in r1 r2; do
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $k.pem 2> /dev/null &&
			openssl pkey -in $k.pem -pubout -out $k.pub.pem || return 1
	done
	export STORE="$BATS_FILE_TMPDIR/store" PULLED="$BATS_FILE_TMPDIR/pulled.json" \
		PACKED="$BATS_FILE_TMPDIR/packed.json" GOOD="$BATS_FILE_TMPDIR/good.tar.zst" \
		GOOD_TAR="$BATS_FILE_TMPDIR/good.tar" KEYS="$BATS_FILE_TMPDIR"
}

teardown_file() {
	stop_servers
}

# Each test works in a directory of its own (run --separate-stderr keeps
# files in $BATS_TEST_TMPDIR), with the good bundle as b.tar.zst: a hard
# link, not a 10 MB copy, so no test writes into b.tar.zst in place (the
# tools replace the files they write; a test that damages a bundle's bytes
# copies it first, as z.tar.zst and c.tar.zst, and one that puts another
# bundle under its name moves it there).
per_test_setup() {
	mkdir work && cd work && ln "$GOOD" b.tar.zst || return 1
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# blob REF: the entry name of a test image blob (test/app1:1#config ...),
# from $TEST_REFS (test_image_digest, in one process).
blob() {
	awk -v r="$1" '$2 == r { sub(/^sha256:/, "", $3); print "blobs/sha256/" $3; f = 1; exit }
		END { exit !f }' "$TEST_REFS"
}

# bad NAME [--tar] [--stream] OP...: NAME.tar.zst, the good bundle's tar
# edited with bundle-tool OPs, compressed one frame per entry (--stream: one
# zstd stream); --tar: the edited tar too, as NAME.tar.
bad() {
	local name=$1 mode="" tar=-
	shift
	if [ "${1:-}" = --tar ]; then
		tar=$name.tar
		shift
	fi
	if [ "${1:-}" = --stream ]; then
		mode=--stream
		shift
	fi
	# shellcheck disable=SC2086
	tool edit-pack "$GOOD_TAR" "$tar" "$name.tar.zst" $mode "$@"
}


# frame_of ENTRY BUNDLE: "COFF CSIZE" of the zstd frame that starts ENTRY.
frame_of() {
	local off
	off=$(tar --zstd -xOf "$2" bundle.index.json | jq -r --arg n "$1" '.entries[] | select(.name == $n) | .offset')
	tool frames "$2" | awk -v d=$((off - 512)) '$3 == d {print $1, $2}'
}

# flip_at FILE OFFSET: inverts one byte of FILE in place.
flip_at() {
	python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(o)
    b = f.read(1)[0]
    f.seek(o)
    f.write(bytes([b ^ 0xff]))' "$1" "$2"
}

# --- good bundles ------------------------------------------------------------

@test "verify: a good bundle prints its manifest with bundle.path and size (--digest: and digest), no blobs" {
	run --separate-stderr edge-verify b.tar.zst
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -c .bundle)" = "$(jq -c --argjson s "$(stat -c %s b.tar.zst)" -n '{path: "b.tar.zst", size: $s}')" ]
	# one hashing thread or many: the same result
	run --separate-stderr edge-verify --jobs 1 b.tar.zst
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -c .bundle)" = "$(jq -c --argjson s "$(stat -c %s b.tar.zst)" -n '{path: "b.tar.zst", size: $s}')" ]
	run --separate-stderr edge-verify --digest --jobs 3 b.tar.zst
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	[ "$(jq -s length out.json)" = 1 ]
	[ "$(jq -c .bundle out.json)" = "$(jq -c --arg d "sha256:$(sha b.tar.zst)" --argjson s "$(stat -c %s b.tar.zst)" -n '{path: "b.tar.zst", digest: $d, size: $s}')" ]
	[ "$(jq 'has("blobs")' out.json)" = false ]
	# what edge-pack printed, less the store
	[ "$(jq -S 'del(.bundle)' out.json)" = "$(jq -S 'del(.bundle, .store)' "$PACKED")" ]
	[ "$(jq -r .bundle.digest out.json)" = "$(jq -r .bundle.digest "$PACKED")" ]
	# nothing written
	[ "$(ls -A | tr '\n' ' ')" = "b.tar.zst out.json " ]
}

@test "verify: a bundle recompressed without our frames or seek table, or with other frames, still verifies" {
	bad plain --stream
	run --separate-stderr edge-verify plain.tar.zst
	assert_success
	assert_stderr_empty
	bad framed --tar
	tool pack framed.tar framed-st.tar.zst --frames --seek-table
	# frames that ignore where entries start, with a seek table: entries
	# share frames, headers and blobs straddle them (64 KiB), or one frame
	# holds most of the archive (4 MiB of the ~7.2 MB)
	tool pack framed.tar small-st.tar.zst --frame-size 65536 --seek-table
	tool pack framed.tar large-st.tar.zst --frame-size 4194304 --seek-table
	[ "$(tool frames small-st.tar.zst | wc -l)" -gt 100 ]
	for b in framed framed-st small-st large-st; do
		run --separate-stderr edge-verify $b.tar.zst
		assert_success
		assert_stderr_empty
	done
}

@test "verify: the manifest on stdin names the bundle (bundle.path)" {
	jq '.bundle.path = "b.tar.zst"' "$PACKED" > packed.json
	run --separate-stderr edge-verify < packed.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r .bundle.path)" = b.tar.zst ]
	[ "$(echo "$output" | jq -r .bundle.digest)" = "sha256:$(sha b.tar.zst)" ]
	# straight from edge-pack
	run --separate-stderr bash -c 'edge-pack -o p.tar.zst "$1" | edge-verify' _ "$PULLED"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r .bundle.path)" = p.tar.zst ]
	jq 'del(.bundle)' "$PACKED" > nobundle.json
	rejects 3 "stdin: the manifest has no bundle.path: give BUNDLE" < nobundle.json
	rejects 3 "stdin: empty input, expected a manifest" < /dev/null
}

@test "verify: the manifest on stdin: a bundle that is not the manifest's (bundle.digest) fails" {
	# another bundle under the manifest's bundle.path: the digest tells
	edge-pack --name other -o b.tar.zst "$PULLED" > /dev/null
	jq '.bundle.path = "b.tar.zst"' "$PACKED" > packed.json
	run --separate-stderr edge-verify < packed.json
	assert_failure 1
	assert_output ""
	[[ "$stderr" == "edge-verify: b.tar.zst: "* ]]
	assert_stderr_contains "$(jq -r .bundle.digest "$PACKED")"
}

@test "verify: edge-verify BUNDLE | edge-push pushes the verified bundle" {
	run --separate-stderr bash -c 'edge-verify b.tar.zst | edge-push -q --plain-http --registry "$1/site"' _ "$SRC"
	assert_success
	assert_stderr_empty
	echo "$output" > pushed.json
	[ "$(jq '.pushed | length' pushed.json)" = "$(jq '(.images + .charts) | length' "$PULLED")" ]
	target=$(jq -r --arg r "$SRC/test/app1:1" '.pushed[] | select(.ref == $r) | .target' pushed.json)
	[[ "$target" == "$SRC/site/"* ]]
	[ "$(skopeo inspect --tls-verify=false --raw "docker://$target" | sha256sum | cut -d' ' -f1)" = \
	  "$(test_image_digest test/app1:1 | cut -d: -f2)" ]
}

@test "verify: a split bundle verifies through its descriptor; a missing or altered part is caught" {
	edge-pack --split 3M -o s.tar.zst "$PULLED" > split.json
	run --separate-stderr edge-verify s.tar.zst.parts.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -c '.bundle | {path, digest, size}')" = "$(jq -c --arg d "sha256:$(sha b.tar.zst)" --argjson s "$(stat -c %s b.tar.zst)" -n '{path: "s.tar.zst.parts.json", digest: $d, size: $s}')" ]
	run --separate-stderr edge-verify < split.json
	assert_success
	# the signature is the descriptor's, which holds every part's digest
	edge-sign -q -k "$KEYS/k1" s.tar.zst.parts.json
	run --separate-stderr edge-verify --require-signature -p "$KEYS/k1.pub" s.tar.zst.parts.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.signatures[0].path')" = s.tar.zst.parts.json.minisig ]
	rm s.tar.zst.parts.json.minisig
	mv s.tar.zst.part002 away
	rejects 6 "open s.tar.zst.part002: No such file or directory" s.tar.zst.parts.json
	mv away s.tar.zst.part002
	# a part one byte short
	cp s.tar.zst.part001 keep
	truncate -s -1 s.tar.zst.part001
	rejects 1 "s.tar.zst.part001: 3145727 bytes, the descriptor says 3145728" s.tar.zst.parts.json
	# the same size, one byte changed
	cp keep s.tar.zst.part001
	flip_at s.tar.zst.part001 100
	run --separate-stderr edge-verify s.tar.zst.parts.json
	assert_failure 1
	assert_output ""
	[[ "$stderr" =~ ^"edge-verify: s.tar.zst.parts.json: ".*"part s.tar.zst.part001 has digest sha256:"[0-9a-f]{64}", the descriptor says sha256:$(sha keep)"$ ]]
	cp keep s.tar.zst.part001
	# the descriptor's digest of the whole
	jq '.digest = "sha256:" + ("1" * 64)' s.tar.zst.parts.json > d.json && mv d.json s.tar.zst.parts.json
	rejects 1 "s.tar.zst.parts.json: the parts have digest sha256:$(sha b.tar.zst), the descriptor says sha256:$(printf '1%.0s' $(seq 64))" s.tar.zst.parts.json
}

@test "verify: a split bundle by FILE, or by the glob core-site-*.tar.zst the shell left unmatched" {
	# issue 10 item 1: the walkthrough's site side after edge-pack --split
	edge-pack --split 3M -o core-site-0123456789ab.tar.zst "$PULLED" > split.json
	edge-sign -q -k "$KEYS/k1" core-site-0123456789ab.tar.zst.parts.json
	[ -f core-site-0123456789ab.tar.zst.parts.json.minisig ]
	for arg in core-site-0123456789ab.tar.zst 'core-site-*.tar.zst' 'core-site-*' 'core-site-0123456789ab.tar.zst.parts.json'; do
		run --separate-stderr edge-verify --require-signature -p "$KEYS/k1.pub" "$arg"
		assert_success
		assert_stderr_empty
		[ "$(echo "$output" | jq -r '.bundle.path')" = core-site-0123456789ab.tar.zst.parts.json ] ||
			{ echo "for '$arg'" >&2; return 1; }
		[ "$(echo "$output" | jq -r '.signatures[0].path')" = core-site-0123456789ab.tar.zst.parts.json.minisig ]
	done
	# as the walkthrough writes it: the shell passes the pattern on
	run --separate-stderr bash -c 'edge-verify -p "$1" --require-signature core-site-*.tar.zst | jq -r .bundle.path' _ "$KEYS/k1.pub"
	assert_success
	assert_output core-site-0123456789ab.tar.zst.parts.json
	# an unsplit bundle beside it: two candidates, name one
	cp b.tar.zst core-site-ba9876543210.tar.zst
	run --separate-stderr edge-verify 'core-site-*'
	assert_failure 2
	assert_output ""
	assert_stderr_contains "edge-verify: core-site-* matches 2 bundles (core-site-0123456789ab.tar.zst.parts.json, core-site-ba9876543210.tar.zst): name one"
	rejects 6 "open nosuch-*.tar.zst: No such file or directory" 'nosuch-*.tar.zst'
}

# refused_fast CODE MESSAGE ARG...: as rejects, within 10 s (a FIFO that
# blocked an open would hang the tool: timeout makes that exit 124).
refused_fast() {
	local code=$1 msg=$2
	shift 2
	run --separate-stderr timeout 10 edge-verify "$@"
	assert_failure "$code"
	assert_output ""
	assert_stderr_is "edge-verify: $msg"
}

@test "verify: a FIFO as the bundle, a part, a descriptor, a signature or a key: exit 3 at once" {
	mkfifo fifo.tar.zst
	refused_fast 3 "fifo.tar.zst: not a regular file" fifo.tar.zst
	mkfifo fifo.tar.zst.minisig
	refused_fast 3 "fifo.tar.zst.minisig: not a regular file" -p "$KEYS/k1.pub" fifo.tar.zst
	edge-pack -q --split 3M -o s.tar.zst "$PULLED" > /dev/null
	mv s.tar.zst.part001 away
	mkfifo s.tar.zst.part001
	refused_fast 3 "s.tar.zst.part001: not a regular file" s.tar.zst.parts.json
	mkfifo f.tar.zst.parts.json
	refused_fast 3 "f.tar.zst.parts.json: not a regular file" f.tar.zst.parts.json
	mkfifo b.tar.zst.minisig
	refused_fast 3 "b.tar.zst.minisig: not a regular file" -p "$KEYS/k1.pub" b.tar.zst
	rm b.tar.zst.minisig
	edge-sign -q -k "$KEYS/k1" b.tar.zst
	mkfifo k.pub
	refused_fast 3 "k.pub: not a regular file" -p k.pub b.tar.zst
	# a device is not a bundle either
	refused_fast 3 "/dev/null: not a regular file" /dev/null
}

@test "verify: an oversized .minisig or .sig is invalid input: exit 3" {
	head -c 20000 /dev/zero | tr '\0' 'x' > b.tar.zst.minisig
	rejects 3 "b.tar.zst.minisig: too large (20000 bytes) for a key or signature file" -p "$KEYS/k1.pub" b.tar.zst
	rm b.tar.zst.minisig
	head -c 70000 /dev/zero > b.tar.zst.sig
	rejects 3 "b.tar.zst.sig: too large (70000 bytes) for a key or signature file" -p "$KEYS/r1.pub.pem" b.tar.zst
}

# --- the corpus of bad bundles -------------------------------------------------

@test "verify: truncated bundles: in a blob, at a frame boundary, in the seek table" {
	big=$(blob 'test/big:1#layer0')
	read -r coff csize < <(frame_of "$big" b.tar.zst)
	head -c $((coff + csize / 2)) b.tar.zst > t1.tar.zst
	rejects 1 "t1.tar.zst: in entry $big: truncated (the last zstd frame is incomplete)" t1.tar.zst
	# the whole frames before bundle.index.json: the archive does not end
	read -r coff _ < <(tool frames b.tar.zst | tail -1)
	head -c "$coff" b.tar.zst > t2.tar.zst
	rejects 1 "t2.tar.zst: truncated (the archive does not end)" t2.tar.zst
	# only the seek table cut short
	head -c $(($(stat -c %s b.tar.zst) - 3)) b.tar.zst > t3.tar.zst
	rejects 1 "t3.tar.zst: truncated (the last zstd frame is incomplete)" t3.tar.zst
	: > t4.tar.zst
	rejects 1 "t4.tar.zst: truncated (the archive does not end)" t4.tar.zst
}

@test "verify: a flipped byte in a blob: exit 1 naming the blob" {
	cfg=$(blob 'test/app1:1#config')
	bad flip flip "$cfg" 10
	run --separate-stderr edge-verify flip.tar.zst
	assert_failure 1
	assert_output ""
	[[ "$stderr" =~ ^"edge-verify: flip.tar.zst: blob sha256:${cfg#blobs/sha256/}: digest mismatch (content has sha256:"[0-9a-f]{64}")"$ ]]
	# the same, and a layer, in 64 KiB frames (blobs hashed by parallel jobs)
	big=$(blob 'test/big:1#layer0')
	for e in "$cfg:10" "$big:70000"; do
		tool edit "$GOOD_TAR" f.tar flip "${e%:*}" "${e##*:}"
		e=${e%:*}
		tool pack f.tar f.tar.zst --frame-size 65536 --seek-table
		run --separate-stderr edge-verify f.tar.zst
		assert_failure 1
		assert_output ""
		[[ "$stderr" =~ ^"edge-verify: f.tar.zst: blob sha256:${e#blobs/sha256/}: digest mismatch (content has sha256:"[0-9a-f]{64}")"$ ]]
	done
}

@test "verify: a flipped byte in the compressed data: exit 1 naming the entry it damages" {
	# a compressed config, a compressed JSON entry, a layer stored as raw blocks
	for e in "$(blob 'test/app1:1#config')" manifest.json "$(blob 'test/big:1#layer0')"; do
		cp "$GOOD" z.tar.zst
		read -r coff csize < <(frame_of "$e" z.tar.zst)
		flip_at z.tar.zst $((coff + csize / 2))
		run --separate-stderr edge-verify z.tar.zst
		assert_failure 1
		assert_output ""
		# the message names the entry the damaged frame holds
		[[ "$stderr" == "edge-verify: z.tar.zst: "* ]]
		assert_stderr_contains "$e"
	done
}

@test "verify: two blobs of the same size swapped: exit 1 on the first" {
	a=$(blob 'test/app1:1#config')
	b=$(blob 'test/app2:1#config')
	[ "$(tar -xOf "$GOOD_TAR" "$a" | wc -c)" = "$(tar -xOf "$GOOD_TAR" "$b" | wc -c)" ]
	bad swap swap "$a" "$b"
	first=$(printf '%s\n' "$a" "$b" | LC_ALL=C sort | head -1)
	other=$(printf '%s\n' "$a" "$b" | LC_ALL=C sort | tail -1)
	rejects 1 "swap.tar.zst: blob sha256:${first#blobs/sha256/}: digest mismatch (content has sha256:${other#blobs/sha256/})" swap.tar.zst
}

@test "verify: an extra entry, an extra blob: exit 3 naming it" {
	echo hello > hello.txt
	bad extra add extra.txt hello.txt index.json
	rejects 3 'extra.tar.zst: unexpected entry "extra.txt"' extra.tar.zst
	bad extra2 add blobs/sha512/abc hello.txt index.json
	rejects 3 'extra2.tar.zst: unexpected entry "blobs/sha512/abc"' extra2.tar.zst
	h=$(sha hello.txt)
	bad extrablob add "blobs/sha256/$h" hello.txt index.json
	rejects 3 "extrablob.tar.zst: blob sha256:$h is not listed in bundle.json" extrablob.tar.zst
}

@test "verify: ../, absolute and ./ entry names: exit 3" {
	echo x > x.txt
	bad dotdot add ../x x.txt index.json
	rejects 3 'dotdot.tar.zst: unsafe entry name "../x"' dotdot.tar.zst
	bad dotdot2 add blobs/../../etc/x x.txt index.json
	rejects 3 'dotdot2.tar.zst: unsafe entry name "blobs/../../etc/x"' dotdot2.tar.zst
	bad abs add /etc/x x.txt index.json
	rejects 3 'abs.tar.zst: unsafe entry name "/etc/x"' abs.tar.zst
	bad dot rename oci-layout ./oci-layout
	rejects 3 'dot.tar.zst: unsafe entry name "./oci-layout"' dot.tar.zst
	# a long name goes in a pax header: it is checked all the same
	long="blobs/$(printf 'a%.0s' $(seq 120))/../../../etc/x"
	bad pax --tar add "$long" x.txt index.json
	[ "$(tool list pax.tar | sed -n 4p | cut -d' ' -f1)" = "$long" ]
	rejects 3 "pax.tar.zst: unsafe entry name \"$long\"" pax.tar.zst
}

@test "verify: a damaged tar header: exit 3 naming its offset" {
	cfg=$(blob 'test/app1:1#config')
	bad hdr flip-header "$cfg" 140
	off=$(tar --zstd -xOf "$GOOD" bundle.index.json | jq --arg n "$cfg" '.entries[] | select(.name == $n) | .offset - 512')
	rejects 3 "hdr.tar.zst: damaged tar header at offset $off" hdr.tar.zst
}

@test "verify: links, devices, directories, FIFOs: exit 3" {
	bad sym link symlink oci-layout /etc/passwd index.json
	rejects 3 'sym.tar.zst: entry "oci-layout" is a symbolic link' sym.tar.zst
	# a link named like a blob, pointing at a blob
	cfg=$(blob 'test/app1:1#config')
	bad hard link hardlink evil "$cfg" index.json
	rejects 3 'hard.tar.zst: entry "evil" is a hard link' hard.tar.zst
	bad chr link chardev evil "" index.json
	rejects 3 'chr.tar.zst: entry "evil" is a character device' chr.tar.zst
	bad blk link blockdev evil "" index.json
	rejects 3 'blk.tar.zst: entry "evil" is a block device' blk.tar.zst
	bad fifo link fifo evil "" index.json
	rejects 3 'fifo.tar.zst: entry "evil" is a FIFO' fifo.tar.zst
	bad dir link dir blobs "" index.json
	rejects 3 'dir.tar.zst: entry "blobs/" is a directory' dir.tar.zst
}

@test "verify: a duplicate entry, bundle.json not first, an entry after bundle.index.json: exit 3" {
	cfg=$(blob 'test/app1:1#config')
	bad dup dup "$cfg" "$cfg"
	rejects 3 "dup.tar.zst: entry \"$cfg\" appears twice" dup.tar.zst
	bad dupjson dup index.json index.json
	rejects 3 'dupjson.tar.zst: entry "index.json" appears twice' dupjson.tar.zst
	bad first move index.json ^
	rejects 3 'first.tar.zst: the first entry is "index.json", expected bundle.json' first.tar.zst
	bad last move manifest.json '$'
	rejects 3 'last.tar.zst: entry "manifest.json" after bundle.index.json' last.tar.zst
	bad noindex del bundle.index.json
	rejects 3 'noindex.tar.zst: the last entry is "manifest.json", expected bundle.index.json' noindex.tar.zst
}

@test "verify: a blob missing: listed in bundle.json, or referenced by a manifest: exit 1" {
	layer=$(blob 'test/app1:1#layer2')
	bad gone del "$layer"
	rejects 1 "gone.tar.zst: blob sha256:${layer#blobs/sha256/} listed in bundle.json is missing" gone.tar.zst
	# gone from bundle.json's list too: app1's manifest still needs it
	tar -xOf "$GOOD_TAR" bundle.json | jq --arg d "sha256:${layer#blobs/sha256/}" '.blobs |= map(select(.digest != $d))' > bj.json
	bad gone2 del "$layer" set bundle.json bj.json
	rejects 1 "gone2.tar.zst: index.json: $SRC/test/app1:1: blob sha256:${layer#blobs/sha256/} is missing" gone2.tar.zst
	# and the docker manifest.json's references
	tar -xOf "$GOOD_TAR" manifest.json | jq '.[0].Layers += ["blobs/sha256/" + ("a" * 64)]' > mj.json
	bad docker set manifest.json mj.json
	rejects 1 "docker.tar.zst: manifest.json[0]: layer blobs/sha256/$(printf 'a%.0s' $(seq 64)) is missing" docker.tar.zst
}

# ref_digest REF TAR: the digest index.json gives REF in the bundle tar TAR
ref_digest() {
	tar -xOf "$2" index.json | jq -r --arg r "$1" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest'
}

@test "verify: a manifest's descriptor with a short, missing or sha512 digest, or a bad size: exit 1 naming it" {
	m=$(blob test/app1:1)
	owner="index.json: $SRC/test/app1:1"
	tar -xOf "$GOOD_TAR" "$m" > man.json
	hexmsg='expected "sha256:" and 64 lower-case hex digits'
	# a foreign layer (urls) whose digest "x" was read 7 bytes past its end
	jq -c '.layers += [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "x", size: 1, urls: ["http://127.0.0.1:9/x"]}]' man.json > m1.json
	bad short reblob "$m" m1.json
	rejects 1 "short.tar.zst: $owner: manifest sha256:$(sha m1.json): layers[3]: digest \"x\": $hexmsg" short.tar.zst
	jq -c 'del(.layers[0].digest) | .layers[0].urls = ["http://127.0.0.1:9/x"]' man.json > m2.json
	bad none reblob "$m" m2.json
	rejects 1 "none.tar.zst: $owner: manifest sha256:$(sha m2.json): layers[0]: no digest" none.tar.zst
	jq -c '.layers[1].digest = "sha512:" + ("ab" * 64)' man.json > m3.json
	bad sha512 reblob "$m" m3.json
	# a long value is cut in the message
	long="sha512:$(printf 'ab%.0s' $(seq 64))"
	rejects 1 "sha512.tar.zst: $owner: manifest sha256:$(sha m3.json): layers[1]: digest \"${long:0:96}...\": $hexmsg" sha512.tar.zst
	jq -c '.config.size = -1' man.json > m4.json
	bad neg reblob "$m" m4.json
	rejects 1 "neg.tar.zst: $owner: manifest sha256:$(sha m4.json): config: size -1 is not a byte count" neg.tar.zst
	# the same descriptors in index.json
	tar -xOf "$GOOD_TAR" index.json | jq '.manifests[0].digest = "x"' > ij.json
	bad ixshort set index.json ij.json
	rejects 3 "ixshort.tar.zst: index.json: manifests[0]: digest \"x\": $hexmsg" ixshort.tar.zst
}

@test "verify: a CR LF in a child manifest's or a descriptor's media type: exit 1, the bytes escaped" {
	c=$(blob 'test/multi:1@linux/amd64')
	tar -xOf "$GOOD_TAR" "$c" | jq -c '.mediaType += "\r\nX-Injected: yes"' > c1.json
	bad crlf reblob "$c" c1.json
	rejects 1 "crlf.tar.zst: index.json: $SRC/test/multi:1: manifest sha256:$(sha c1.json): media type \"application/vnd.oci.image.manifest.v1+json\\x0d\\x0aX-Injected: yes\" is not a type/subtype (RFC 6838)" crlf.tar.zst
	i=$(ref_digest "$SRC/test/multi:1" "$GOOD_TAR")
	tar -xOf "$GOOD_TAR" "blobs/sha256/${i#sha256:}" | jq -c '.manifests[0].mediaType += "\r\nX: y"' > i1.json
	bad crlf2 reblob "blobs/sha256/${i#sha256:}" i1.json
	rejects 1 "crlf2.tar.zst: index.json: $SRC/test/multi:1: manifest sha256:$(sha i1.json): manifests[0]: media type \"application/vnd.oci.image.manifest.v1+json\\x0d\\x0aX: y\" is not a type/subtype (RFC 6838)" crlf2.tar.zst
	# a media type with parameters is no type/subtype either
	tar -xOf "$GOOD_TAR" "$c" | jq -c '.config.mediaType += "; charset=utf-8"' > c2.json
	bad param reblob "$c" c2.json
	rejects 1 "param.tar.zst: index.json: $SRC/test/multi:1: manifest sha256:$(sha c2.json): config: media type \"application/vnd.oci.image.config.v1+json; charset=utf-8\" is not a type/subtype (RFC 6838)" param.tar.zst
}

@test "verify: every bundle JSON file is checked against its schema: exit 3 naming it" {
	# reindex: bundle.index.json still matches the archive, so only the
	# schema can catch what was changed
	tar -xOf "$GOOD_TAR" manifest.json | jq '.[0]' > mj1.json
	bad dobj set manifest.json mj1.json reindex
	rejects 3 "dobj.tar.zst: manifest.json: expected an array of {Config, RepoTags, Layers}" dobj.tar.zst
	tar -xOf "$GOOD_TAR" manifest.json | jq '.[0].Layers = {}' > mj2.json
	bad dlayers set manifest.json mj2.json reindex
	rejects 3 "dlayers.tar.zst: manifest.json[0]: Layers: expected an array of blob paths" dlayers.tar.zst
	tar -xOf "$GOOD_TAR" manifest.json | jq '.[0].RepoTags = [1]' > mj3.json
	bad dtags set manifest.json mj3.json reindex
	rejects 3 "dtags.tar.zst: manifest.json[0]: RepoTags: expected an array of strings" dtags.tar.zst
	tar -xOf "$GOOD_TAR" index.json | jq 'del(.schemaVersion)' > ij1.json
	bad ischema set index.json ij1.json reindex
	rejects 3 "ischema.tar.zst: index.json: schemaVersion missing: expected 2" ischema.tar.zst
	tar -xOf "$GOOD_TAR" index.json | jq '.mediaType = "application/vnd.oci.image.manifest.v1+json"' > ij2.json
	bad imt set index.json ij2.json reindex
	rejects 3 "imt.tar.zst: index.json: expected an image index, not application/vnd.oci.image.manifest.v1+json" imt.tar.zst
	echo '["1.0.0"]' > layout.json
	bad layout set oci-layout layout.json reindex
	rejects 3 "layout.tar.zst: oci-layout: expected imageLayoutVersion 1.0.0" layout.tar.zst
	tar -xOf "$GOOD_TAR" bundle.index.json | jq '.entries[1].offset = "0"' > bi1.json
	bad boff set bundle.index.json bi1.json
	rejects 3 "boff.tar.zst: bundle.index.json: entries[1]: expected {name, offset, size} with a byte offset and size" boff.tar.zst
	tar -xOf "$GOOD_TAR" bundle.index.json | jq '.entries = {}' > bi2.json
	bad bobj set bundle.index.json bi2.json
	rejects 3 "bobj.tar.zst: bundle.index.json: expected {\"version\": 1, \"entries\": [...]}" bobj.tar.zst
	tar -xOf "$GOOD_TAR" bundle.json | jq '.blobs[0].size = -1' > bj1.json
	bad bsize set bundle.json bj1.json reindex
	rejects 3 "bsize.tar.zst: bundle.json: blobs[0]: size -1 is not a byte count" bsize.tar.zst
	tar -xOf "$GOOD_TAR" bundle.json | jq '.images[0].mediaType += "\n"' > bj2.json
	bad bmt set bundle.json bj2.json reindex
	rejects 3 "bmt.tar.zst: bundle.json: images[0].mediaType: \"application/vnd.oci.image.manifest.v1+json\\x0a\" is not a media type (RFC 6838 type/subtype)" bmt.tar.zst
}

@test "verify: a tampered bundle.json: exit 1 or 3 naming what it contradicts" {
	tar -xOf "$GOOD_TAR" bundle.json > bj.json
	ref=$(jq -r '.images[0].ref' bj.json)
	zero="sha256:$(printf '0%.0s' $(seq 64))"
	jq --arg z "$zero" '.images[0].digest = $z' bj.json > bj1.json
	bad digest set bundle.json bj1.json
	rejects 1 "digest.tar.zst: images $ref ($zero) is not in index.json" digest.tar.zst
	jq '.images[0].ref = "evil.example.com/x:1"' bj.json > bj2.json
	bad ref set bundle.json bj2.json
	rejects 1 "ref.tar.zst: images evil.example.com/x:1 ($(jq -r '.images[0].digest' bj.json)) is not in index.json" ref.tar.zst
	cfg=$(blob 'test/app1:1#config')
	jq --arg d "sha256:${cfg#blobs/sha256/}" '.blobs |= map(if .digest == $d then .size += 1 else . end)' bj.json > bj3.json
	bad size set bundle.json bj3.json
	rejects 1 "size.tar.zst: blob sha256:${cfg#blobs/sha256/} has 719 bytes, bundle.json says 720" size.tar.zst
	jq --arg d "sha256:${cfg#blobs/sha256/}" '.blobs |= map(select(.digest != $d))' bj.json > bj4.json
	bad unlisted set bundle.json bj4.json
	rejects 3 "unlisted.tar.zst: blob sha256:${cfg#blobs/sha256/} is not listed in bundle.json" unlisted.tar.zst
	echo '{"apiVersion": ' > bj5.json
	bad notjson set bundle.json bj5.json
	rejects 3 "notjson.tar.zst: bundle.json:2:0: unexpected token near end of file" notjson.tar.zst
	jq '.apiVersion = "edge.manifest/v9"' bj.json > bj6.json
	bad api set bundle.json bj6.json
	rejects 3 'api.tar.zst: bundle.json: apiVersion: expected "edge.manifest/v1", got edge.manifest/v9' api.tar.zst
}

@test "verify: index.json, oci-layout, bundle.index.json that do not match the archive" {
	tar -xOf "$GOOD_TAR" index.json | jq --arg r "$SRC/test/app1:1" '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] != $r))' > ij.json
	bad index set index.json ij.json
	rejects 1 "index.tar.zst: images $SRC/test/app1:1 ($(test_image_digest test/app1:1)) is not in index.json" index.tar.zst
	echo '{"imageLayoutVersion":"2.0.0"}' > layout.json
	bad layout set oci-layout layout.json
	rejects 3 "layout.tar.zst: oci-layout: expected imageLayoutVersion 1.0.0" layout.tar.zst
	bad nolayout del oci-layout
	rejects 3 "nolayout.tar.zst: oci-layout is missing" nolayout.tar.zst
	cfg=$(blob 'test/app1:1#config')
	tar -xOf "$GOOD_TAR" bundle.index.json | jq --arg n "$cfg" '.entries |= map(if .name == $n then .offset += 512 else . end)' > bi.json
	bad stale set bundle.index.json bi.json
	rejects 1 "stale.tar.zst: bundle.index.json: entry $cfg does not match the archive" stale.tar.zst
	tar -xOf "$GOOD_TAR" bundle.index.json | jq '.entries |= .[:-1]' > bi2.json
	bad short set bundle.index.json bi2.json
	n=$(tar -tf "$GOOD_TAR" | wc -l)
	rejects 1 "short.tar.zst: bundle.index.json lists $((n - 2)) entries, the archive has $((n - 1))" short.tar.zst
}

@test "verify: a seek table that does not match the frames: exit 1" {
	tool pack "$GOOD_TAR" lie.tar.zst --frames --seek-table --lie 512
	read -r coff _ < <(tool frames lie.tar.zst | tail -1)
	rejects 1 "lie.tar.zst: corrupt zstd data in the frame at byte $coff: the frame holds fewer bytes than the seek table says" lie.tar.zst
}

@test "verify: seek-table checksums (flag 0x80) are checked: a wrong one is exit 1 naming the entry" {
	# right ones: frames with and without their own checksum, frames that
	# ignore where entries start
	tool pack "$GOOD_TAR" sums.tar.zst --frames --seek-table --checksums
	tool pack "$GOOD_TAR" sums-nocheck.tar.zst --frames --no-frame-check --seek-table --checksums
	tool pack "$GOOD_TAR" sums-small.tar.zst --frame-size 65536 --seek-table --checksums
	for b in sums sums-nocheck sums-small; do
		run --separate-stderr edge-verify $b.tar.zst
		assert_success
		assert_stderr_empty
	done
	# a wrong one: in bundle.json's frame (read by the walk), a config's (a
	# blob hashed by the walk), the big layer's (hashed by a job; its frame
	# holds raw blocks, with and without the frame's own checksum)
	big=$(blob 'test/big:1#layer0')
	cfg=$(blob 'test/app1:1#config')
	for e in bundle.json "$cfg" "$big"; do
		# (not $i: the helpers that run calls set it)
		local frame
		frame=$(tool list "$GOOD_TAR" | awk -v n="$e" '$1 == n {print NR - 1}')
		for mode in "" --no-frame-check; do
			# shellcheck disable=SC2086
			tool pack "$GOOD_TAR" bad.tar.zst --frames $mode --seek-table --checksums --bad-check "$frame"
			coff=$(tool frames bad.tar.zst | sed -n "$((frame + 1))p" | cut -d' ' -f1)
			rejects 1 "bad.tar.zst: in entry $e: corrupt zstd data in the frame at byte $coff: its content does not match the seek table's checksum" bad.tar.zst
		done
	done
	# the one-pass path (a frame over 32 MiB): a wrong checksum stops it
	# where it is; right ones let it go on to the entry that does not belong
	head -c $((33 << 20)) /dev/zero > zeros
	tool edit "$GOOD_TAR" huge.tar add zeros.bin zeros '$'
	tool pack huge.tar huge.tar.zst --frames --seek-table --checksums --bad-check 0
	rejects 1 "huge.tar.zst: in entry bundle.json: corrupt zstd data in the frame at byte 0: its content does not match the seek table's checksum" huge.tar.zst
	tool pack huge.tar huge.tar.zst --frames --seek-table --checksums
	rejects 3 'huge.tar.zst: entry "zeros.bin" after bundle.index.json' huge.tar.zst
}

@test "verify: decompression bombs: padding, data after the archive, a huge JSON entry, --max-size" {
	head -c 2000000 /dev/zero > zeros
	bad pad trailer zeros
	rejects 3 "pad.tar.zst: over 1 MiB of padding after the archive" pad.tar.zst
	printf 'x' > x
	bad after trailer x
	rejects 3 "after.tar.zst: data after the end of the archive" after.tar.zst
	head -c $((65 << 20)) /dev/zero | tr '\0' ' ' > huge.json
	bad huge set index.json huge.json
	rejects 3 "huge.tar.zst: index.json is $((65 << 20)) bytes, larger than allowed" huge.tar.zst
	# small enough, but so dense that jansson would take 80 times its size:
	# refused within 20 times (jsonload.h)
	python3 -c 'import sys; sys.stdout.write("[" + "{}," * 1400000 + "{}]")' > dense.json
	bad dense set index.json dense.json
	n=$(stat -c %s dense.json)
	rejects 3 "dense.tar.zst: index.json: denser than edge reads: parsing these $n bytes takes more than $(((n * 20 + 1048576) >> 20)) MiB" dense.tar.zst
	big=$(blob 'test/big:1#layer0')
	# the seek table tells before anything is decompressed
	rejects 3 "b.tar.zst: decompresses to more than 1048576 bytes (a decompression bomb?)" --max-size 1M b.tar.zst
	# without one, the stream is cut where it passes the bound
	bad plain --stream
	rejects 3 "plain.tar.zst: in entry $big: decompresses to more than 1048576 bytes (a decompression bomb?)" --max-size 1M plain.tar.zst
	run --separate-stderr edge-verify --max-size 64M b.tar.zst
	assert_success
	assert_stderr_empty
}

# --- signatures ---------------------------------------------------------------------

keyid() {
	head -1 "$1" | awk '{print $NF}'
}

@test "verify: signatures by edge-sign and minisign keys; another key's signature fails" {
	edge-sign -q -k "$KEYS/k1" b.tar.zst
	run --separate-stderr edge-verify -p "$KEYS/k1.pub" b.tar.zst
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -c .signatures)" = "[{\"path\":\"b.tar.zst.minisig\",\"for\":\"bundle\",\"algorithm\":\"ed25519\",\"keyId\":\"$(keyid "$KEYS/k1.pub")\"}]" ]
	run --separate-stderr edge-verify --require-signature -p "$KEYS/k1.pub" b.tar.zst
	assert_success
	assert_stderr_empty
	rejects 1 "b.tar.zst: signed by key ID $(keyid "$KEYS/k1.pub"), not by key ID $(keyid "$KEYS/k2.pub")" -p "$KEYS/k2.pub" b.tar.zst
	# minisign's own keys and signatures
	cp "$GOOD" m.tar.zst
	minisign -S -s "$KEYS/m1.key" -m m.tar.zst > /dev/null
	run --separate-stderr edge-verify -p "$KEYS/m1.pub" m.tar.zst
	assert_success
	assert_stderr_empty
	rejects 1 "m.tar.zst: signed by key ID $(keyid "$KEYS/m1.pub"), not by key ID $(keyid "$KEYS/k1.pub")" -p "$KEYS/k1.pub" m.tar.zst
}

@test "verify: a bundle changed after signing fails the signature before anything else" {
	edge-sign -q -k "$KEYS/k1" b.tar.zst
	tar -xOf "$GOOD_TAR" bundle.json | jq '.name = "evil"' > bj.json
	bad evil set bundle.json bj.json
	mv evil.tar.zst b.tar.zst
	rejects 1 "b.tar.zst: signature does not verify with $KEYS/k1.pub" -p "$KEYS/k1.pub" b.tar.zst
	# the same size, one byte flipped in the compressed data
	cp "$GOOD" c.tar.zst
	edge-sign -q -k "$KEYS/k1" c.tar.zst
	flip_at c.tar.zst 1000
	rejects 1 "c.tar.zst: signature does not verify with $KEYS/k1.pub" -p "$KEYS/k1.pub" c.tar.zst
}

@test "verify: RSA signatures made by openssl" {
	openssl dgst -sha256 -sign "$KEYS/r1.pem" -out b.tar.zst.sig b.tar.zst
	run --separate-stderr edge-verify -p "$KEYS/r1.pub.pem" b.tar.zst
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.signatures[0] | "\(.path) \(.for) \(.algorithm)"')" = "b.tar.zst.sig bundle rsa-sha256" ]
	rejects 1 "b.tar.zst: signature does not verify with $KEYS/r2.pub.pem" -p "$KEYS/r2.pub.pem" b.tar.zst
	rejects 3 "b.tar.zst.sig is an RSA signature but $KEYS/k1.pub is a minisign public key" -p "$KEYS/k1.pub" b.tar.zst
}

@test "verify: no signature with a key, a signature without a key, --require-signature" {
	rejects 1 "b.tar.zst: no signature (b.tar.zst.minisig or b.tar.zst.sig)" -p "$KEYS/k1.pub" b.tar.zst
	rejects 1 "b.tar.zst: no signature (b.tar.zst.minisig or b.tar.zst.sig)" --require-signature -p "$KEYS/k1.pub" b.tar.zst
	run --separate-stderr edge-verify --require-signature b.tar.zst
	assert_failure 2
	assert_output ""
	assert_stderr_contains "edge-verify: --require-signature needs -p KEY"
	edge-sign -q -k "$KEYS/k1" b.tar.zst
	run --separate-stderr edge-verify b.tar.zst
	assert_success
	assert_stderr_is "edge-verify: warning: b.tar.zst: signature b.tar.zst.minisig not checked: no public key (-p)"
	[ "$(echo "$output" | jq 'has("signatures")')" = false ]
	# a missing bundle is a missing file, key or not
	rejects 6 "open nosuch.tar.zst: No such file or directory" nosuch.tar.zst
	rejects 6 "open nosuch.tar.zst: No such file or directory" -p "$KEYS/k1.pub" nosuch.tar.zst
}

# --- stores ---------------------------------------------------------------------------

@test "verify: --store: a sound store, with and without a manifest" {
	run --separate-stderr edge-verify --store "$STORE" < /dev/null
	assert_success
	assert_output ""
	assert_stderr_empty
	run --separate-stderr edge-verify --store "$STORE" "$PULLED"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -S .)" = "$(jq -S . "$PULLED")" ]
	run --separate-stderr edge-verify --quick --store "$STORE" < "$PULLED"
	assert_success
	assert_stderr_empty
	# the manifest names an image the store does not have
	jq '.images[0].digest = "sha256:" + ("0" * 64)' "$PULLED" > m.json
	run --separate-stderr edge-verify --store "$STORE" m.json
	assert_failure 1
	assert_output ""
	assert_stderr_contains "edge-verify: store $STORE: $SRC/test/app1:1 is $(test_image_digest test/app1:1) in index.json, the manifest says sha256:$(printf '0%.0s' $(seq 64))"
}

@test "verify: --store: a corrupt blob, a missing blob; --quick checks sizes only" {
	cp -r "$STORE" store
	cfg=$(test_image_digest 'test/app2:1#config')
	f="store/blobs/sha256/${cfg#sha256:}"
	chmod u+w "$f"
	printf 'X' | dd of="$f" bs=1 seek=10 conv=notrunc 2> /dev/null
	run --separate-stderr edge-verify --store store < /dev/null
	assert_failure 1
	assert_output ""
	[ "${#stderr_lines[@]}" = 2 ]
	[[ "${stderr_lines[0]}" =~ ^"edge-verify: store store: blob $cfg is corrupt (content has sha256:"[0-9a-f]{64}")"$ ]]
	[ "${stderr_lines[1]}" = "edge-verify: store store: 1 problem found" ]
	# the same size: --quick does not see it
	run --separate-stderr edge-verify --quick --store store < /dev/null
	assert_success
	assert_stderr_empty
	# one byte more: it does
	echo >> "$f"
	run --separate-stderr edge-verify --quick --store store < /dev/null
	assert_failure 1
	assert_stderr_contains "edge-verify: store store: $SRC/test/app2:1: blob $cfg has 720 bytes, its descriptor says 719"
	cp "$STORE/blobs/sha256/${cfg#sha256:}" "$f"
	layer=$(test_image_digest 'test/app1:1#layer2')
	rm "store/blobs/sha256/${layer#sha256:}"
	for q in "" --quick; do
		run --separate-stderr edge-verify $q --store store < /dev/null
		assert_failure 1
		assert_output ""
		assert_stderr_is "edge-verify: store store: $SRC/test/app1:1: blob $layer is missing
edge-verify: store store: 1 problem found"
	done
	rejects 6 "store nosuch: no such store" --store nosuch < /dev/null
}

@test "verify: --store: a foreign layer without a digest or with a short one is a problem named, not a crash" {
	cp -r "$STORE" store
	chmod -R u+w store
	m=$(test_image_digest test/app1:1)
	jq -c 'del(.layers[2].digest) | .layers[2].urls = ["http://127.0.0.1:9/x"]' "store/blobs/sha256/${m#sha256:}" > m1.json
	m1=$(tool store-reblob store "$m" m1.json)
	for q in "" --quick; do
		run --separate-stderr edge-verify $q --store store < /dev/null
		assert_failure 1
		assert_output ""
		assert_stderr_is "edge-verify: store store: $SRC/test/app1:1: manifest $m1: layers[2]: no digest
edge-verify: store store: 1 problem found"
	done
	jq -c '.layers[2].digest = "x" | .layers[2].urls = ["http://127.0.0.1:9/x"]' "store/blobs/sha256/${m#sha256:}" > m2.json
	m2=$(tool store-reblob store "$m1" m2.json)
	run --separate-stderr edge-verify --quick --store store < /dev/null
	assert_failure 1
	assert_stderr_is "edge-verify: store store: $SRC/test/app1:1: manifest $m2: layers[2]: digest \"x\": expected \"sha256:\" and 64 lower-case hex digits
edge-verify: store store: 1 problem found"
}

# --- usage, output ---------------------------------------------------------------------

@test "verify: usage errors" {
	local -a cases=(
		"--quick b.tar.zst|edge-verify: --quick goes with --store"
		"--store x -p k.pub|edge-verify: --store checks a store: -p, --require-signature, --max-size and --digest are for bundles"
		"--max-size 1q b.tar.zst|edge-verify: --max-size: expected a size such as 64M or 4G, got '1q'"
		"b.tar.zst b.tar.zst|edge-verify: unexpected argument 'b.tar.zst'"
		"--registry x --store y|edge-verify: --registry checks a registry: --store, -p, --require-signature, --max-size, --digest and --quick do not apply"
		"--bogus|edge-verify: unrecognized option '--bogus'"
	)
	local c
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # the options are words
		run --separate-stderr edge-verify ${c%%|*}
		assert_failure 2
		assert_output ""
		[ "${stderr_lines[0]}" = "${c#*|}" ] || { echo "for '${c%%|*}': $stderr" >&2; return 1; }
		assert_stderr_contains "try 'edge-verify --help'"
	done
}

@test "verify: stdout on a full disk: exit 6" {
	run --separate-stderr bash -c 'edge-verify b.tar.zst > /dev/full'
	assert_failure 6
	assert_stderr_is "edge-verify: write error on stdout: No space left on device"
}
