# Delta bundle fixtures (issue 11), for the suites that load it:
#
#   delta_setup_file   (in setup_file) makes, in $BATS_FILE_TMPDIR/delta:
#     v1/, v2/            the stores of tests/fixtures/make-delta-stores.py
#     v1.txt, v2.txt      their image lists; layers.txt "NAME DIGEST SIZE"
#     v1.json, v2.json    pulled manifests (edge-pull --offline)
#     v1.packed.json      the full v1 bundle's manifest, and that bundle
#     v2.packed.json      the full v2 bundle's manifest, and that bundle
#     delta.packed.json   the delta v1 -> v2 (edge-pack --base v1.packed.json)
#   and exports DELTA_DIR, V1_BUNDLE, V2_BUNDLE, DELTA_BUNDLE (paths) and
#   LAYER_<name>/SIZE_<name> for every layer (LAYER_web2, SIZE_cache1, ...).
#
# The generated stores are cached under build/test-delta (keyed on the
# script's hash) and copied per file: suites run side by side and edge-pull
# rewrites a store's index.json.

delta_setup_file() {
	local script="$TOP/tests/fixtures/make-delta-stores.py" cache="$TOP/build/test-delta" stamp tmp
	stamp=$(sha256sum < "$script" | cut -c1-16)
	mkdir -p "$cache" || return 1
	{
		flock 9 || return 1
		if [ "$(cat "$cache/stamp" 2> /dev/null)" != "$stamp" ]; then
			tmp=$(mktemp -d "$cache/.new.XXXXXX") || return 1
			python3 "$script" "$tmp/sets" || {
				rm -rf "$tmp"
				echo "delta_setup_file: could not make the delta stores" >&2
				return 1
			}
			rm -rf "$cache/sets"
			mv "$tmp/sets" "$cache/sets" && rm -rf "$tmp" && echo "$stamp" > "$cache/stamp" || return 1
		fi
	} 9> "$cache/.lock"
	DELTA_DIR="$BATS_FILE_TMPDIR/delta"
	rm -rf "$DELTA_DIR"
	cp -r "$cache/sets" "$DELTA_DIR" || return 1
	(
		cd "$DELTA_DIR" || exit 1
		for v in v1 v2; do
			edge-resolve --images "$v.txt" < /dev/null | edge-pull -q --offline --store "$v" > "$v.json" || exit 1
			edge-pack -q "$v.json" > "$v.packed.json" || exit 1
		done
		edge-pack -q --base v1.packed.json v2.json > delta.packed.json || exit 1
	) || return 1
	V1_BUNDLE="$DELTA_DIR/$(jq -r .bundle.path "$DELTA_DIR/v1.packed.json")"
	V2_BUNDLE="$DELTA_DIR/$(jq -r .bundle.path "$DELTA_DIR/v2.packed.json")"
	DELTA_BUNDLE="$DELTA_DIR/$(jq -r .bundle.path "$DELTA_DIR/delta.packed.json")"
	export DELTA_DIR V1_BUNDLE V2_BUNDLE DELTA_BUNDLE
	local name digest size
	while read -r name digest size; do
		export "LAYER_$name=$digest" "SIZE_$name=$size"
	done < "$DELTA_DIR/layers.txt"
}
