#!/usr/bin/env bats
# edge-verify on a delta bundle (issue 11): the delta v1 -> v2 of
# tests/delta.bash verifies with and without --base (the v1 bundle, its
# packed and pulled manifests, the descriptor of a split v1), its manifest
# says what was left out as edge-pack said it, --list marks the omitted
# blobs; a tampered base list is caught (a blob held and omitted, omitted
# and referenced by nothing, omitted with another size, a config omitted,
# a malformed member), also under a signature; --base that lacks a blob
# fails naming it; --registry checks a delta's manifest against a registry
# that holds all of v2.

load test_helper
load lib/jqv
load registry
load verify
load delta


setup_file() {
	delta_setup_file || return 1
	cd "$DELTA_DIR" || return 1
	# v1 in parts
	mkdir split && edge-pack -q --split 1M -o split/v1.tar.zst v1.json > split.packed.json || return 1
	V1_PARTS="$DELTA_DIR/$(jq -r .bundle.path split.packed.json)"
	[ "$(jq '.bundle.parts | length' split.packed.json)" -gt 1 ] || return 1
	python3 "$TOOL" unpack "$DELTA_BUNDLE" delta.tar || return 1
	# its bundle.json, which the tests read and edit
	tar -xOf delta.tar bundle.json > delta.bundle.json || return 1
	tool_server_start || return 1
	edge-sign -q -G -W -k k1 -p k1.pub || return 1
	export D="$DELTA_DIR" V1="$V1_BUNDLE" V2="$V2_BUNDLE" DELTA="$DELTA_BUNDLE" V1_PARTS \
		DELTA_TAR="$DELTA_DIR/delta.tar" KEYS="$DELTA_DIR"
}

teardown_file() {
	stop_servers
}

# Each test works in a directory of its own with a copy of the delta,
# under its own name (messages name it).
per_test_setup() {
	mkdir work && cd work && cp "$DELTA" . || return 1
	B=$(basename "$DELTA")
}


# tampered NAME JQ-FILTER [OP...]: NAME.delta.tar.zst, the delta with
# bundle.json edited by the jq filter (which reads $ENV.TD, $ENV.TN: export
# them) and bundle-tool OPs after it, its entry index rewritten, one frame
# per entry with a seek table (one bundle-tool run, no tar written).
tampered() {
	local name=$1 filter=$2
	shift 2
	jq "$filter" "$D/delta.bundle.json" > "$name.bundle.json"
	tool edit-pack "$DELTA_TAR" - "$name.delta.tar.zst" --seek-table \
		set bundle.json "$name.bundle.json" "$@" reindex
}

# omitted_bytes: what the delta leaves out, in bytes.
omitted_bytes() {
	jq '.bundle.omitted.bytes' "$D/delta.packed.json"
}

# size_text BYTES: as edge-verify prints a size (1.5 MiB, 512 B).
size_text() {
	awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); v = b; i = 1
		while (v >= 1024 && i < 5) { v /= 1024; i++ }
		if (i == 1) printf "%d B\n", b; else printf "%.1f %s\n", v, u[i] }'
}

# db_only_omitted: the omitted layer that db:1 alone has (db1).
db_only_omitted() {
	echo "$LAYER_db1"
}

# --- a sound delta -------------------------------------------------------------

@test "delta verify: without --base: exit 0, one warning (count, bytes, --base); the manifest has bundle.omitted and bundle.base as edge-pack printed them" {
	local n want
	jqv -f "$D/delta.packed.json" .bundle.omitted.count .bundle.omitted .bundle.base '[.images, .charts]'
	n=${J[0]}
	want=("${J[@]}")
	[ "$n" -gt 0 ]
	run --separate-stderr edge-verify "$B"
	assert_success
	assert_stderr_is "edge-verify: warning: $B: $n blobs ($(size_text "$(omitted_bytes)")) left out of this delta are expected at the site and were not checked: give --base"
	echo "$output" > m.json
	jqv -f m.json .bundle.omitted .bundle.base .bundle.size 'has("base") or has("blobs")' '[.images, .charts]'
	[ "${J[0]}" = "${want[1]}" ]
	[ "${J[1]}" = "${want[2]}" ]
	[ "${J[1]}" != null ]
	[ "${J[2]}" = "$(stat -c %s "$B")" ]
	# no top-level base, no blobs; the images and charts as packed
	[ "${J[3]}" = false ]
	[ "${J[4]}" = "${want[3]}" ]
}

@test "delta verify: -v lists each blob expected at the site, with the image that needs it and its base" {
	run --separate-stderr edge-verify -v "$B"
	assert_success
	local d base
	base=$(jq -r '.bundle.base[0].name' "$D/delta.packed.json")
	for d in $(jq -r '.base.omitted[].digest' "$D/delta.bundle.json"); do
		echo "$stderr" | grep -qF "edge-verify: $B: expected at the site: $d (" ||
			{ echo "no line for $d in: $stderr" >&2; return 1; }
	done
	# a db layer is needed by db alone
	d=$(db_only_omitted | head -1)
	[ -n "$d" ]
	echo "$stderr" | grep -qE "expected at the site: $d \\([^)]*\\), for delta.test/apps/db:1, from $base\$"
}

@test "delta verify: --base the v1 bundle, its packed or pulled manifest, or the descriptor of a split v1: exit 0, nothing on stderr" {
	local base
	for base in "$V1" "$D/v1.packed.json" "$D/v1.json" "$V1_PARTS" "$D/split.packed.json"; do
		run --separate-stderr edge-verify --base "$base" "$B"
		assert_success
		assert_stderr_empty
		[ "$(echo "$output" | jq -c .bundle.omitted)" = "$(jq -c .bundle.omitted "$D/delta.packed.json")" ]
	done
	# repeatable: the bases together; -v says they hold every omitted blob
	run --separate-stderr edge-verify -v --base "$V1" --base "$D/v1.json" "$B"
	assert_success
	assert_stderr_contains "edge-verify: $B: the $(jq '.bundle.omitted.count' "$D/delta.packed.json") blobs the delta leaves out are listed in the bases given"
	# the manifest on stdin names the delta
	run --separate-stderr edge-verify --base "$V1" < "$D/delta.packed.json"
	assert_success
	assert_stderr_empty
	# one thread or one zstd stream: the same
	tool unpack "$B" d.tar
	tool pack d.tar stream.delta.tar.zst
	run --separate-stderr edge-verify --jobs 1 --base "$V1" stream.delta.tar.zst
	assert_success
	assert_stderr_empty
}

@test "delta verify: --base that lacks a blob: exit 1 naming the blob, the image that needs it and the delta's base" {
	local d base
	base=$(jq -r '.bundle.base[0].name' "$D/delta.packed.json")
	d=$(db_only_omitted | head -1)
	[ -n "$d" ]
	# v1 without db: a manifest whose images are found in the v1 store
	jq --arg s "$D/v1" 'del(.bundle) | .store = $s | .images |= map(select(.ref | contains("/apps/db:") | not))' "$D/v1.json" > nodb.json
	[ "$(jq '.images | length' nodb.json)" -lt "$(jq '.images | length' "$D/v1.json")" ]
	rejects 1 "$B: blob $d, which delta.test/apps/db:1 needs, is in none of the bases given (the delta leaves it to $base)" \
		--base nodb.json "$B"
	# the same as a bundle
	edge-pack -q -o nodb.tar.zst nodb.json > /dev/null
	rejects 1 "$B: blob $d, which delta.test/apps/db:1 needs, is in none of the bases given (the delta leaves it to $base)" \
		--base nodb.tar.zst "$B"
	# v2 as the base of its own delta holds everything
	run --separate-stderr edge-verify --base "$V2" "$B"
	assert_success
	assert_stderr_empty
}

@test "delta verify: a base given under the delta's base name with another digest: a warning, exit 0" {
	local name want
	name=$(jq -r '.bundle.base[0].name' "$D/delta.packed.json")
	want=$(jq -r '.bundle.base[0].digest' "$D/delta.packed.json")
	# the same content, packed at another level: other bytes, the same name
	mkdir other
	edge-pack -q --level 1 -o "other/$name" "$D/v1.json" > /dev/null
	got="sha256:$(sha256sum "other/$name" | cut -d' ' -f1)"
	[ "$got" != "$want" ]
	run --separate-stderr edge-verify --base "other/$name" "$B"
	assert_success
	assert_stderr_is "edge-verify: warning: $B: base $name has digest $got, the delta was made against $want"
}

@test "delta verify: --base of an unreadable or digestless file: exit 6 or 3; --base with a full bundle: a warning" {
	run --separate-stderr edge-verify --base nothere.json "$B"
	assert_failure 6
	assert_output ""
	jq 'del(.images[].digest) | del(.bundle) | del(.store)' "$D/v1.json" > nodigest.json
	run --separate-stderr edge-verify --base nodigest.json "$B"
	assert_failure 3
	assert_output ""
	[[ "$stderr" == "edge-verify: "*nodigest.json* ]]
	run --separate-stderr edge-verify --base "$V1" "$V2"
	assert_success
	assert_stderr_is "edge-verify: warning: $V2: not a delta bundle: --base is not used"
}

# --- --list --------------------------------------------------------------------

@test "delta verify: --list and --list --json mark the omitted blobs" {
	local n bytes d
	n=$(jq '.bundle.omitted.count' "$D/delta.packed.json")
	bytes=$(omitted_bytes)
	run --separate-stderr edge-verify --list "$B"
	assert_success
	assert_stderr_empty
	echo "$output" | head -1 | grep -qF ", $n omitted ($(size_text "$bytes")), "
	[ "$(echo "$output" | grep -c '^omit ')" = "$n" ]
	for d in $(jq -r '.base.omitted[].digest' "$D/delta.bundle.json"); do
		echo "$output" | grep -qE "^omit .* $d \\(delta\\.test/[a-z/]+, in [^)]+\\)\$"
	done
	run --separate-stderr edge-verify --list --json "$B"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -c .omitted)" = "$(jq -c .base.omitted "$D/delta.bundle.json")" ]
	[ "$(echo "$output" | jq -c .base)" = "$(jq -c .bundle.base "$D/delta.packed.json")" ]
	# a full bundle has neither
	run --separate-stderr edge-verify --list --json "$V2"
	assert_success
	[ "$(echo "$output" | jq 'has("omitted") or has("base")')" = false ]
	run --separate-stderr edge-verify --list "$V2"
	assert_success
	! echo "$output" | grep -q '^omit ' || false
}

# --- a tampered base list --------------------------------------------------------

@test "delta verify: a blob both held and in base.omitted: exit 1 naming it, with and without --base" {
	local d name
	# the new top layer of web:2, which the delta holds
	d=$(jq -r '[.base.omitted[].digest] as $o |
		[.blobs[] | select(.digest as $x | $o | index($x) | not)] | max_by(.size) | .digest' "$D/delta.bundle.json")
	name=$(jq -r '.bundle.base[0].name' "$D/delta.packed.json")
	export TD=$d TN=$name
	tampered held '.base.omitted += [{digest: $ENV.TD, size: (.blobs[] | select(.digest == $ENV.TD) | .size), base: $ENV.TN, repository: "delta.test/apps/web"}] | .base.omitted |= sort_by(.digest)'
	rejects 1 "held.delta.tar.zst: bundle.json: blob $d is in the bundle and in base.omitted" held.delta.tar.zst
	rejects 1 "held.delta.tar.zst: bundle.json: blob $d is in the bundle and in base.omitted" --base "$V1" held.delta.tar.zst
}

@test "delta verify: an omitted blob no manifest references: exit 1 naming it, with and without --base" {
	local d name
	d="sha256:$(printf 'not a layer' | sha256sum | cut -d' ' -f1)"
	name=$(jq -r '.bundle.base[0].name' "$D/delta.packed.json")
	export TD=$d TN=$name
	tampered extra '.base.omitted += [{digest: $ENV.TD, size: 11, base: $ENV.TN, repository: "delta.test/apps/web"}] | .base.omitted |= sort_by(.digest)'
	rejects 1 "extra.delta.tar.zst: bundle.json: base.omitted lists blob $d, which no manifest references" extra.delta.tar.zst
	rejects 1 "extra.delta.tar.zst: bundle.json: base.omitted lists blob $d, which no manifest references" --base "$V1" extra.delta.tar.zst
}

@test "delta verify: an omitted blob with another size than its descriptor: exit 1 naming it, with and without --base" {
	local d size
	d=$(db_only_omitted | head -1)
	size=$(jq --arg d "$d" '.base.omitted[] | select(.digest == $d) | .size' "$D/delta.bundle.json")
	export TD=$d
	tampered size '.base.omitted |= map(if .digest == $ENV.TD then .size += 1 else . end)'
	rejects 1 "size.delta.tar.zst: index.json: delta.test/apps/db:1: blob $d has $((size + 1)) bytes in base.omitted, its descriptor says $size" \
		size.delta.tar.zst
	rejects 1 "size.delta.tar.zst: index.json: delta.test/apps/db:1: blob $d has $((size + 1)) bytes in base.omitted, its descriptor says $size" \
		--base "$V1" size.delta.tar.zst
}

@test "delta verify: a layer neither held nor omitted, a config omitted: exit 1 naming the blob" {
	local d cfg name
	d=$(db_only_omitted | head -1)
	export TD=$d
	tampered gone '.base.omitted |= map(select(.digest != $ENV.TD))'
	rejects 1 "gone.delta.tar.zst: index.json: delta.test/apps/db:1: blob $d is missing" gone.delta.tar.zst
	rejects 1 "gone.delta.tar.zst: index.json: delta.test/apps/db:1: blob $d is missing" --base "$V1" gone.delta.tar.zst
	# db's config taken out of the bundle and listed as omitted: a delta
	# holds every config
	cfg=$(tar -xOf "$DELTA_TAR" index.json |
		jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "delta.test/apps/db:1") | .digest')
	cfg=$(tar -xOf "$DELTA_TAR" "blobs/sha256/${cfg#sha256:}" | jq -r '.config.digest')
	name=$(jq -r '.bundle.base[0].name' "$D/delta.packed.json")
	export TD=$cfg TN=$name
	tampered config '(.blobs[] | select(.digest == $ENV.TD) | .size) as $s | .blobs |= map(select(.digest != $ENV.TD)) |
		 .base.omitted += [{digest: $ENV.TD, size: $s, base: $ENV.TN, repository: "delta.test/apps/db"}] | .base.omitted |= sort_by(.digest)' \
		del "blobs/sha256/${cfg#sha256:}"
	rejects 1 "config.delta.tar.zst: index.json: delta.test/apps/db:1: blob $cfg is missing (base.omitted lists it, but a delta holds every manifest and config)" \
		config.delta.tar.zst
}

@test "delta verify: a malformed base member: exit 3, as a malformed bundle.json" {
	tampered notobj '.base = []'
	run --separate-stderr edge-verify notobj.delta.tar.zst
	assert_failure 3
	assert_output ""
	[[ "$stderr" == "edge-verify: notobj.delta.tar.zst: bundle.json: base: "* ]]
	[ "$(echo "$stderr" | wc -l)" = 1 ]
	tampered unsorted '.base.omitted |= reverse'
	run --separate-stderr edge-verify unsorted.delta.tar.zst
	assert_failure 3
	[[ "$stderr" == "edge-verify: unsorted.delta.tar.zst: bundle.json: base: "* ]]
	tampered badbase '.base.omitted[0].base = "core-other-000000000000.tar.zst"'
	run --separate-stderr edge-verify --base "$V1" badbase.delta.tar.zst
	assert_failure 3
	[[ "$stderr" == "edge-verify: badbase.delta.tar.zst: bundle.json: base: "* ]]
	tampered baddigest '.base.omitted[0].digest = "sha512:00"'
	run --separate-stderr edge-verify --list baddigest.delta.tar.zst
	assert_failure 3
	[[ "$stderr" == "edge-verify: baddigest.delta.tar.zst: bundle.json: base: "* ]]
}

# --- signatures --------------------------------------------------------------

@test "delta verify: a signed delta verifies with -p; a tampered base list under the old signature fails the signature first" {
	edge-sign -q -k "$KEYS/k1" "$B"
	run --separate-stderr edge-verify -p "$KEYS/k1.pub" --base "$V1" "$B"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.signatures[0].path')" = "$B.minisig" ]
	[ "$(echo "$output" | jq -c .bundle.omitted)" = "$(jq -c .bundle.omitted "$D/delta.packed.json")" ]
	# the base list edited (one omitted blob dropped), the signature kept
	export TD
	TD=$(db_only_omitted | head -1)
	tampered gone '.base.omitted |= map(select(.digest != $ENV.TD))'
	cp "$B.minisig" gone.delta.tar.zst.minisig
	rejects 1 "gone.delta.tar.zst: signature does not verify with $KEYS/k1.pub" -p "$KEYS/k1.pub" --base "$V1" gone.delta.tar.zst
	rejects 1 "gone.delta.tar.zst: signature does not verify with $KEYS/k1.pub" -p "$KEYS/k1.pub" gone.delta.tar.zst
}

# --- registries and usage ------------------------------------------------------

@test "delta verify: --registry on the delta's manifest: exit 0 once the registry holds all of v2, exit 1 with v1 alone" {
	registry_start plain site
	run --separate-stderr edge-push -q --plain-http --registry "$REGISTRY/v1" "$V1"
	assert_success
	run --separate-stderr edge-push -q --plain-http --registry "$REGISTRY/v2" "$V2"
	assert_success
	run --separate-stderr edge-verify --plain-http --registry "$REGISTRY/v2" "$D/delta.packed.json"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -c .)" = "$(jq -c . "$D/delta.packed.json")" ]
	# a registry that holds v1 only lacks web:2 and cache:1
	run --separate-stderr edge-verify --plain-http --registry "$REGISTRY/v1" "$D/delta.packed.json"
	assert_failure 1
	assert_output ""
	assert_stderr_contains "delta.test/apps/cache:1"
	assert_stderr_contains "2 of $(jq '(.images + .charts) | length' "$D/delta.packed.json") entries missing or different in the registry"
}

@test "delta verify: --base with --list, --store or --registry: usage error" {
	run --separate-stderr edge-verify --base "$V1" --list "$B"
	assert_failure 2
	assert_output ""
	[ "$(echo "$stderr" | head -1)" = "edge-verify: --base checks a delta bundle: --list, --store and --registry do not take it" ]
	run --separate-stderr edge-verify --base "$V1" --store "$D/v2" "$D/v2.json"
	assert_failure 2
	[ "$(echo "$stderr" | head -1)" = "edge-verify: --base checks a delta bundle: --list, --store and --registry do not take it" ]
	run --separate-stderr edge-verify --base "$V1" --plain-http --registry 127.0.0.1:1/x "$D/delta.packed.json"
	assert_failure 2
	[ "$(echo "$stderr" | head -1)" = "edge-verify: --base checks a delta bundle: --list, --store and --registry do not take it" ]
}
