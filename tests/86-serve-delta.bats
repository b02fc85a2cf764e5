#!/usr/bin/env bats
# edge-serve of a delta bundle on top of its base (issues 11 and 12): the
# two files serve as one registry, each blob from whichever bundle holds
# it; a delta without its base is refused at start, naming the base.
# Fixtures: tests/delta.bash (v1 = 3 images; v2 = one updated, one added).

load test_helper
load serve
load delta

setup_file() {
	delta_setup_file
}

# v2_digest REF: the v2 manifest's digest of REF
v2_digest() {
	jq -r --arg r "$1" '.images[] | select(.ref == $r) | .digest' "$DELTA_DIR/v2.packed.json"
}

@test "serve delta: with its base, skopeo copies every v2 image with the source's digests" {
	serve "$V1_BUNDLE" "$DELTA_BUNDLE"
	local r got
	for r in $(cat "$DELTA_DIR/v2.txt"); do
		skopeo copy -q --src-tls-verify=false "docker://$SERVE/$r" "oci:layout:$r" ||
			{ echo "skopeo copy $r failed" >&2; return 1; }
		got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$SERVE/$r")
		assert_equal "$got" "$(v2_digest "$r")"
	done
	# the base's own images are served too (v1's web:1)
	got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$SERVE/delta.test/apps/web:1")
	assert_equal "$got" "$(jq -r '.images[] | select(.ref == "delta.test/apps/web:1") | .digest' "$DELTA_DIR/v1.packed.json")"
	# a layer only the base holds, through a repository of the delta's
	run curl -sf -o os0.blob "http://$SERVE/v2/delta.test/apps/cache/blobs/$LAYER_os0"
	assert_success
	assert_equal "sha256:$(sha256sum os0.blob | cut -d' ' -f1)" "$LAYER_os0"
}

@test "serve delta: the order on the command line does not matter; edge-pull gets the v2 store" {
	serve "$DELTA_BUNDLE" "$V1_BUNDLE"
	sed "s|^|$SERVE/|" "$DELTA_DIR/v2.txt" > images.txt
	edge-resolve --images images.txt < /dev/null | edge-pull -q --plain-http --store store > pulled.json
	# the same manifests as packed from the v2 store
	assert_equal "$(jq -c '[.images[] | .digest]' pulled.json)" "$(jq -c '[.images[] | .digest]' "$DELTA_DIR/v2.packed.json")"
	run edge-verify --store store pulled.json
	assert_success
}

@test "serve delta: without its base it is refused at start, naming the blob and the base" {
	run -1 edge-serve --listen 127.0.0.1:0 "$DELTA_BUNDLE"
	assert_output --partial "blob sha256:"
	assert_output --partial "is left out of the delta bundle: serve its base $(basename "$V1_BUNDLE") too"
	[ "${#lines[@]}" -eq 1 ]
}

@test "serve delta: a malformed base member is refused (exit 3)" {
	local tool="$TOP/tests/fixtures/bundle-tool.py"
	python3 "$tool" unpack "$DELTA_BUNDLE" d.tar
	tar -xOf d.tar bundle.json | jq -c '.base.omitted[0].base = "nowhere.tar.zst"' > bj.json
	python3 "$tool" edit d.tar bad.tar set bundle.json bj.json reindex
	python3 "$tool" pack bad.tar bad.delta.tar.zst --frames --seek-table
	run -3 edge-serve --listen 127.0.0.1:0 "$V1_BUNDLE" bad.delta.tar.zst
	assert_output --partial "base: omitted[0]: its base is not one of base.bundles"
}
