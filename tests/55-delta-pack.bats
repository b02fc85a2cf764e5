#!/usr/bin/env bats
# edge-pack --base: delta bundles (issue 11, SPEC §5). v1 = 3 images, v2 =
# v1 with one image updated (a new top layer on the same base) and one added
# in a new repository (tests/fixtures/make-delta-stores.py, via
# tests/delta.bash). The delta v1 -> v2 holds every manifest and config and
# only the layers web2 and cache1.

load test_helper
load lib/jqv
load delta

setup_file() {
	delta_setup_file
}

# bj BUNDLE: its bundle.json
bj() { zstd -qdc "$1" | tar -xOf - bundle.json; }

@test "delta: holds only the new layers, and every manifest and config" {
	cd "$DELTA_DIR"
	run bash -c "zstd -qdc '$DELTA_BUNDLE' | tar -tf - | grep '^blobs/' | sed 's|blobs/sha256/|sha256:|' | sort"
	assert_success
	held=$output
	[[ "$held" == *"$LAYER_web2"* ]]
	[[ "$held" == *"$LAYER_cache1"* ]]
	for l in "$LAYER_os0" "$LAYER_os1" "$LAYER_web1" "$LAYER_db1"; do
		[[ "$held" != *"$l"* ]]
	done
	# every blob of v2 that is not a layer is in it: manifests and configs
	run bash -c "cd v2/blobs/sha256 && ls | sed 's/^/sha256:/' | grep -v -e '${LAYER_os0#sha256:}' -e '${LAYER_os1#sha256:}' -e '${LAYER_web1#sha256:}' -e '${LAYER_db1#sha256:}' | sort"
	assert_success
	assert_equal "$held" "$output"
	# bundle.json lists what it holds, and nothing else
	run bash -c "zstd -qdc '$DELTA_BUNDLE' | tar -xOf - bundle.json | jq -r '.blobs[].digest' | sort"
	assert_equal "$output" "$held"
}

@test "delta: its size is the new layers' plus at most 2 %" {
	new=$((SIZE_web2 + SIZE_cache1))
	size=$(stat -c %s "$DELTA_BUNDLE")
	full=$(stat -c %s "$V2_BUNDLE")
	echo "delta $size bytes, new layers $new, full v2 $full" >&3
	[ "$size" -le $((new + new / 50)) ]
	[ "$size" -ge "$new" ]
	[ "$size" -lt $((full / 4)) ]
}

@test "delta: bundle.json's base names the base and every blob left out" {
	v1name=$(basename "$V1_BUNDLE")
	v1digest=$(jq -r .bundle.digest "$DELTA_DIR/v1.packed.json")
	# bundle.json, taken out once, its fields read by one jq
	bj "$DELTA_BUNDLE" > bundle.json
	jqv -f bundle.json .base.bundles '.base.omitted[] | "\(.digest) \(.size)"' \
		'[.base.omitted[].base] | unique | .[]' \
		".base.omitted[] | select(.digest == \"$LAYER_web1\") | .repository" \
		".base.omitted[] | select(.digest == \"$LAYER_os0\") | .repository"
	assert_equal "${J[0]}" "[{\"name\":\"$v1name\",\"digest\":\"$v1digest\"}]"
	expect=$(printf '%s\n' "$LAYER_os0 $SIZE_os0" "$LAYER_os1 $SIZE_os1" "$LAYER_web1 $SIZE_web1" \
		"$LAYER_db1 $SIZE_db1" | sort)
	# sorted by digest, as written
	assert_equal "${J[1]}" "$expect"
	assert_equal "${J[2]}" "$v1name"
	# each one's repository holds it in v1
	assert_equal "${J[3]}" "delta.test/apps/web"
	[[ "${J[4]}" == delta.test/apps/db || "${J[4]}" == delta.test/apps/web || "${J[4]}" == delta.test/os/base ]]
}

@test "delta: named core-NAME-HEX12.delta.tar.zst; the manifest says how much was left out" {
	cd "$DELTA_DIR"
	path=$(jq -r .bundle.path delta.packed.json)
	digest=$(sha256sum "$path" | cut -d' ' -f1)
	assert_equal "$path" "core-edge-${digest:0:12}.delta.tar.zst"
	assert_equal "$(jq -r .bundle.digest delta.packed.json)" "sha256:$digest"
	assert_equal "$(jq -c .bundle.omitted delta.packed.json)" \
		"{\"count\":4,\"bytes\":$((SIZE_os0 + SIZE_os1 + SIZE_web1 + SIZE_db1))}"
	assert_equal "$(jq -c '.bundle.base' delta.packed.json)" \
		"[{\"name\":\"$(basename "$V1_BUNDLE")\",\"digest\":\"$(jq -r .bundle.digest v1.packed.json)\"}]"
	# the images keep their digests: the site checks the same trees
	assert_equal "$(jq -c '[.images[] | {ref, digest}]' delta.packed.json)" "$(jq -c '[.images[] | {ref, digest}]' v2.packed.json)"
	# a standard bundle still: zstd and tar read it
	run bash -c "zstd -qdc '$path' | tar -tf - | head -1"
	assert_output bundle.json
}

@test "delta: reproducible, and the same from the base bundle, its manifest or its parts descriptor" {
	cd "$DELTA_DIR"
	edge-pack -q --base v1.packed.json -o again.delta.tar.zst v2.json > /dev/null
	cmp again.delta.tar.zst "$DELTA_BUNDLE"
	edge-pack -q --base "$V1_BUNDLE" -o frombundle.tar.zst v2.json > /dev/null
	cmp frombundle.tar.zst "$DELTA_BUNDLE"
	# a split v1: the descriptor carries the same name and digest
	mkdir split && edge-pack -q --split 1M -o split/v1.tar.zst v1.json > split.json
	edge-pack -q --base split/v1.tar.zst.parts.json -o fromparts.tar.zst v2.json > fromparts.json
	assert_equal "$(jq -c .bundle.omitted fromparts.json)" "$(jq -c .bundle.omitted delta.packed.json)"
	assert_equal "$(jq -r '.bundle.base[0].name' fromparts.json)" v1.tar.zst
	assert_equal "$(jq -r '.bundle.base[0].digest' fromparts.json)" "$(jq -r .bundle.digest split.json)"
	run bash -c "zstd -qdc fromparts.tar.zst | tar -xOf - bundle.json | jq -c .blobs"
	assert_equal "$output" "$(bj "$DELTA_BUNDLE" | jq -c .blobs)"
}

@test "delta: a pulled manifest as base (its store lists the layers)" {
	cd "$DELTA_DIR"
	run edge-pack -q --base v1.json -o frompulled.tar.zst v2.json
	assert_success
	assert_equal "$(echo "$output" | jq -c .bundle.omitted)" "$(jq -c .bundle.omitted delta.packed.json)"
	assert_equal "$(echo "$output" | jq -r '.bundle.base[0].name')" v1.json
	assert_equal "$(echo "$output" | jq -r '.bundle.base[0].digest')" "sha256:$(sha256sum v1.json | cut -d' ' -f1)"
}

@test "delta: a manifest with digests only (as edge-verify --registry prints) is looked up in the store being packed" {
	cd "$DELTA_DIR"
	# one store that holds both releases (monthly pulls into the same store)
	cp -r v2 both
	cp -rn v1/blobs/sha256/. both/blobs/sha256/
	jq 'del(.store)' v1.json > site.json
	jq '.store = "both"' v2.json > v2both.json
	run edge-pack -q --base site.json -o fromsite.tar.zst v2both.json
	assert_success
	assert_equal "$(echo "$output" | jq -c .bundle.omitted)" "$(jq -c .bundle.omitted delta.packed.json)"
	# the v2 store alone lacks web:1's manifest: say which, and what to give
	run -3 edge-pack -q --base site.json -o x.tar.zst v2.json
	assert_output --partial "base site.json: delta.test/apps/web:1: its manifest sha256:"
	assert_output --partial "give the base's bundle"
	assert_no_file x.tar.zst
}

@test "delta: a base's trees read from the store being packed give the bytes its bundle gives" {
	cd "$DELTA_DIR"
	# the store being packed holds both releases: v1.packed.json's trees
	# are read from it (its bundle is not opened), the layers os0 and os1
	# that three repositories share get the same repository as from the
	# bundle's index.json, so the delta is byte for byte the same
	mkdir -p trees && cp -r v2 trees/both
	cp -rn v1/blobs/sha256/. trees/both/blobs/sha256/
	jq '.store = "trees/both"' v2.json > v2trees.json
	run --separate-stderr edge-pack -v --base v1.packed.json -o trees/m.tar.zst v2trees.json
	assert_success
	echo "$output" > trees/m.json
	[[ "$stderr" == *"base v1.packed.json: its images' trees read from the store trees/both"* ]]
	edge-pack -q --base "$V1_BUNDLE" -o trees/b.tar.zst v2trees.json > /dev/null
	cmp trees/m.tar.zst trees/b.tar.zst
	assert_equal "$(jq -c .bundle.omitted trees/m.json)" "$(jq -c .bundle.omitted delta.packed.json)"
	run bash -c "zstd -qdc trees/m.tar.zst | tar -xOf - bundle.json | jq -r '.base.omitted[] | select(.digest == \"$LAYER_os0\") | .repository'"
	assert_output delta.test/apps/db
	# where the store lacks a tree, the bundle is read instead: the same bytes
	rm "trees/both/blobs/sha256/$(jq -r '.images[] | select(.ref == "delta.test/apps/web:1") | .digest' v1.json | cut -d: -f2)"
	run --separate-stderr edge-pack -v --base v1.packed.json -o trees/m2.tar.zst v2trees.json
	assert_success
	[[ "$stderr" == *"some of its trees are not in the store trees/both"* ]]
	[[ "$stderr" == *"its images' trees read from its bundle"* ]]
	cmp trees/m2.tar.zst trees/b.tar.zst
}

@test "delta: a delta as base passes on what it left out" {
	cd "$DELTA_DIR"
	run edge-pack -q --base "$DELTA_BUNDLE" -o second.tar.zst v2.json
	assert_success
	# all six layers are at a site that holds v1 and the delta
	assert_equal "$(echo "$output" | jq -r .bundle.omitted.count)" 6
	run bash -c "zstd -qdc second.tar.zst | tar -xOf - bundle.json | jq -r '.base.omitted[] | select(.digest == \"$LAYER_os0\") | .base'"
	assert_output "$(basename "$DELTA_BUNDLE")"
}

@test "delta: --split writes parts of a .delta bundle" {
	cd "$DELTA_DIR"
	mkdir dsplit
	run edge-pack -q --split 1M --base v1.packed.json -o dsplit/d.delta.tar.zst v2.json
	assert_success
	assert_equal "$(echo "$output" | jq -r .bundle.path)" dsplit/d.delta.tar.zst.parts.json
	assert_equal "$(echo "$output" | jq -r .bundle.omitted.count)" 4
	cat dsplit/d.delta.tar.zst.part[0-9]* | cmp - "$DELTA_BUNDLE"
}

@test "delta: bad bases are refused with one line and nothing written" {
	cd "$DELTA_DIR"
	run -3 edge-pack -q --base /nonexistent/v1.json -o bad.tar.zst v2.json
	assert_output "edge-pack: --base: /nonexistent/v1.json: No such file or directory"
	echo '{"apiVersion":"edge.manifest/v1","images":[{"ref":"delta.test/os/base:1"}]}' > nodigest.json
	run -3 edge-pack -q --base nodigest.json -o bad.tar.zst v2.json
	assert_output "edge-pack: base nodigest.json: images[0] (delta.test/os/base:1) has no digest: give a pulled or packed manifest, or the bundle"
	head -c 5000 /dev/urandom > junk.tar.zst
	run edge-pack -q --base junk.tar.zst -o bad.tar.zst v2.json
	assert_failure
	[ "$status" -ne 2 ]
	assert_output --partial "junk.tar.zst"
	[ "${#lines[@]}" -eq 1 ]
	# each named for what it is, the path once
	: > empty.json
	run -3 edge-pack -q --base empty.json -o bad.tar.zst v2.json
	assert_output "edge-pack: base empty.json: empty file: give the manifest or the bundle of a release the site holds"
	echo '{"images": []}' > other.json
	run -3 edge-pack -q --base other.json -o bad.tar.zst v2.json
	assert_output "edge-pack: base other.json: JSON, but not an edge manifest (apiVersion edge.manifest/v1): give the manifest edge-pull, edge-pack or edge-verify --registry printed, or the bundle"
	echo 'images: []' > text.yaml
	run -3 edge-pack -q --base text.yaml -o bad.tar.zst v2.json
	assert_output "edge-pack: base: text.yaml: no seek table: not a bundle made by edge-pack"
	# a manifest whose store and bundle are gone, packed from a store without its trees
	jq '.store = "gone" | .bundle.path = "gone.tar.zst"' v1.packed.json > gone.json
	run -3 edge-pack -q --base gone.json -o bad.tar.zst v2.json
	assert_output --partial "base gone.json: delta.test/apps/web:1: its manifest"
	assert_no_file bad.tar.zst
}
