#!/usr/bin/env bats
# edge-push of a delta bundle (issue 11): the blobs the delta left out must
# be in the target registry, or be mounted there, before anything is
# uploaded; one that is not stops the push (exit 1) with no tag written.
# The fixtures are tests/delta.bash's: v1 = base:1 web:1 db:1, v2 = base:1
# web:2 (web:1 plus the layer web2) db:1 cache:1 (a new repository on base's
# layers os0 os1, plus cache1); the delta v1 -> v2 holds web2, cache1 and
# every manifest and config, and leaves out os0 os1 web1 db1.

load test_helper
load registry
load delta

setup_file() {
	delta_setup_file
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$BATS_FILE_TMPDIR/policy.json"
	V1_NAME=$(basename "$V1_BUNDLE")
	export V1_NAME
	# last month's push, once: each test's site registry starts on a copy
	# of this storage root (the filesystem layout is the same in every auth
	# mode; the registry rewrites its link files, so cp -r, not links)
	registry_start plain v1site || return 1
	edge-push -q --progress never --plain-http --registry "$REGISTRY/site" "$V1_BUNDLE" > /dev/null || return 1
	cp -r "$REGISTRY_STORAGE" "$BATS_FILE_TMPDIR/v1-site" || return 1
	stop_servers
	export V1_SITE_STORAGE="$BATS_FILE_TMPDIR/v1-site"
}

teardown_file() {
	stop_servers
}

V2_REFS=(delta.test/os/base:1 delta.test/apps/web:2 delta.test/apps/db:1 delta.test/apps/cache:1)

# site [MODE]: a registry (plain, or MODE) that holds the full v1 bundle
# under site/, as a site does after last month's push (setup_file pushed it
# once; this registry serves a copy of that storage, copied in before the
# first request: the filesystem driver reads its storage at each request)
site() {
	registry_start "${1:-plain}" site &&
		cp -r "$V1_SITE_STORAGE/." "$REGISTRY_STORAGE/"
}

# http_status METHOD PATH: the registry's status for /v2/site/PATH (curl;
# a token registry gets a token for the path's repository)
http_status() {
	local repo=${2%%/manifests/*} h=()
	repo=${repo%%/blobs/*}
	repo=${repo%%/tags/*}
	if [ -n "${TOKEN_SERVER:-}" ] && [ "$REGISTRY_MODE" = token ]; then
		h=(-H "Authorization: Bearer $(registry_token "repository:site/$repo:pull")")
	fi
	if [ "$1" = HEAD ]; then
		h+=(-I) # -X HEAD would wait for a body
	else
		h+=(-X "$1")
	fi
	curl -s --max-time 30 -o /dev/null -w '%{http_code}' "${h[@]}" \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' \
		"http://$REGISTRY/v2/site/$2"
}

# v2_digest REF: the v2 manifest's digest of REF
v2_digest() {
	jq -r --arg r "$1" '.images[] | select(.ref == $r) | .digest' "$DELTA_DIR/v2.json"
}

# assert_v2 [REF...]: the registry serves each ref (default: all of v2)
# with v2's digest
assert_v2() {
	local ref got refs=("$@")
	[ ${#refs[@]} -gt 0 ] || refs=("${V2_REFS[@]}")
	for ref in "${refs[@]}"; do
		got=$(curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
			"http://$REGISTRY/v2/site/${ref%:*}/manifests/${ref##*:}" |
			tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
		[ "$got" = "$(v2_digest "$ref")" ] || { echo "$ref: registry has '$got', v2 has $(v2_digest "$ref")" >&2; return 1; }
	done
}

# no_new_tags: web:2 and cache:1 (not in v1) have no tag, the delta's own
# layers went nowhere, and v1's tags are as they were
no_new_tags() {
	[ "$(http_status HEAD delta.test/apps/web/manifests/2)" = 404 ]
	[ "$(http_status HEAD delta.test/apps/cache/manifests/1)" = 404 ]
	[ "$(http_status GET delta.test/apps/cache/tags/list)" = 404 ]
	[ "$(http_status HEAD "delta.test/apps/web/blobs/$LAYER_web2")" = 404 ]
	[ "$(http_status HEAD "delta.test/apps/cache/blobs/$LAYER_cache1")" = 404 ]
}

# missing_line REF REPO LAYER: the error for a left-out blob not in REPO
missing_line() {
	echo "edge-push: $1: blob $3, left out of the delta, is not in $REGISTRY/site/$2: push $V1_NAME first"
}

@test "delta push: a registry that holds v1 gets all of v2, with v2's digests; a second push changes nothing" {
	site
	run --separate-stderr edge-push -v --progress never --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_success
	echo "$output" > out.json
	# web2, cache1 and the two new configs go up; cache:1's os0 and os1 are
	# mounted from where v1 put them; the rest is there
	grep -E '^edge-push: 4 blobs uploaded \([0-9.]+ MiB\), 2 mounted, 10 already there; 4 of 4 entries pushed$' <<< "$stderr"
	assert_equal "$(jq -c '[.pushed[] | [.ref, .target, .digest]]' out.json)" \
		"$(jq -c --arg r "$REGISTRY/site" '[.images[] | [.ref, ($r + "/" + .ref), .digest]]' "$DELTA_DIR/v2.json")"
	assert_v2
	run --separate-stderr edge-verify --plain-http --registry "$REGISTRY/site" "$DELTA_DIR/v2.json"
	assert_success
	# the same run again: every blob is there, every tag rewritten as it was
	run --separate-stderr edge-push -v --progress never --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_success
	grep -E '^edge-push: 0 blobs uploaded \(0\.0 MiB\), 0 mounted, 16 already there; 4 of 4 entries pushed$' <<< "$stderr"
	assert_equal "$(jq -c .pushed <<< "$output")" "$(jq -c .pushed out.json)"
	assert_v2
}

@test "delta push: skopeo copies every v2 image out of the registry afterwards" {
	site
	run --separate-stderr edge-push -q --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_success
	for ref in "${V2_REFS[@]}"; do
		run skopeo --policy "$BATS_FILE_TMPDIR/policy.json" copy -q --src-tls-verify=false --src-no-creds \
			"docker://$REGISTRY/site/$ref" "oci:layout:$(basename "${ref/:/-}")"
		assert_success
	done
	# cache:1's base layers were mounted into its new repository
	[ "$(http_status HEAD "delta.test/apps/cache/blobs/$LAYER_os0")" = 200 ]
	[ "$(http_status HEAD "delta.test/apps/cache/blobs/$LAYER_os1")" = 200 ]
	run bash -c "jq -r '.manifests[].annotations[\"org.opencontainers.image.ref.name\"]' layout/index.json | sort"
	assert_output "$(printf '%s\n' base-1 cache-1 db-1 web-2)"
}

# The repository its base put a blob in is a mount source of its own: an
# image in a new repository, pushed alone, gets its base layers from there.
@test "delta push: an image in a new repository alone: its base layers are mounted from the base's repositories" {
	site
	jq --arg b "$DELTA_BUNDLE" '.images |= map(select(.ref == "delta.test/apps/cache:1")) | .bundle.path = $b' \
		"$DELTA_DIR/delta.packed.json" > cache.json
	run --separate-stderr edge-push -v --progress never --plain-http --registry "$REGISTRY/site" cache.json
	assert_success
	grep -E '^edge-push: 2 blobs uploaded \([0-9.]+ MiB\), 2 mounted, 0 already there; 1 of 1 entries pushed$' <<< "$stderr"
	assert_v2 delta.test/apps/cache:1
	[ "$(http_status HEAD delta.test/apps/web/manifests/2)" = 404 ]
}

# A blob gone from the repository its base put it in: the mount from there
# opens an upload instead (202, cancelled); another image's repository of
# the same push holds it, and both get it from there.
@test "delta push: a left-out blob gone from its base's repository is mounted from another image's" {
	site
	from=$(zstd -qdc "$DELTA_BUNDLE" | tar -xOf - bundle.json | jq -r --arg d "$LAYER_os0" '.base.omitted[] | select(.digest == $d) | .repository')
	[ "$(http_status DELETE "$from/blobs/$LAYER_os0")" = 202 ]
	[ "$(http_status HEAD "$from/blobs/$LAYER_os0")" = 404 ]
	run --separate-stderr edge-push -v --progress never --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_success
	grep -E '^edge-push: 4 blobs uploaded \([0-9.]+ MiB\), 3 mounted, 9 already there; 4 of 4 entries pushed$' <<< "$stderr"
	[ "$(http_status HEAD "$from/blobs/$LAYER_os0")" = 200 ]
	[ "$(http_status HEAD "delta.test/apps/cache/blobs/$LAYER_os0")" = 200 ]
	assert_v2
	run bash -c "find '$REGISTRY_STORAGE' -path '*/_uploads/*' -name startedat"
	assert_output ""
}

@test "delta push: into an empty registry: exit 1, each missing blob named with its image and the base, no tag, no upload" {
	registry_start plain site
	run --separate-stderr edge-push --progress never --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_failure 1
	assert_output ""
	# each named with the first image that needs it (the manifest lists
	# them by ref: cache:1 comes first of those needing os0 and os1)
	expect=$(printf '%s\n' \
		"$(missing_line delta.test/apps/cache:1 delta.test/apps/cache "$LAYER_os0")" \
		"$(missing_line delta.test/apps/cache:1 delta.test/apps/cache "$LAYER_os1")" \
		"$(missing_line delta.test/apps/web:2 delta.test/apps/web "$LAYER_web1")" \
		"$(missing_line delta.test/apps/db:1 delta.test/apps/db "$LAYER_db1")" | sort)
	assert_equal "$(grep -v '^edge-push: 4 blobs' <<< "$stderr" | sort)" "$expect"
	assert_equal "$(tail -1 <<< "$stderr")" \
		"edge-push: 4 blobs left out of the delta are not in the registry: push $V1_NAME first"
	[ "$(wc -l <<< "$stderr")" = 5 ]
	for ref in "${V2_REFS[@]}"; do
		[ "$(http_status HEAD "${ref%:*}/manifests/${ref##*:}")" = 404 ]
	done
	no_new_tags
	# the mounts that opened an upload instead (202) were cancelled: no
	# upload session is left behind
	run bash -c "find '$REGISTRY_STORAGE' -path '*/_uploads/*' -name startedat"
	assert_output ""
}

# One blob of v1 gone from its repository: the delta stops before any
# manifest, so web:2 and cache:1 (whose own blobs are all there) get no tag.
@test "delta push: one base blob missing: its one-line error, and no new tag for any image" {
	site
	[ "$(http_status DELETE "delta.test/apps/db/blobs/$LAYER_db1")" = 202 ]
	run --separate-stderr edge-push --progress never --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_failure 1
	assert_output ""
	assert_stderr_is "$(missing_line delta.test/apps/db:1 delta.test/apps/db "$LAYER_db1")"
	no_new_tags
	run curl -s "http://$REGISTRY/v2/site/delta.test/apps/web/tags/list"
	assert_output '{"name":"site/delta.test/apps/web","tags":["1"]}'
}

# bundle.json comes from the untrusted bundle: a base member that does not
# hold together is refused before any request (the same bytes count: the
# entry keeps its size, so the index still finds every entry).
@test "delta push: a tampered base list is refused before any request (exit 3)" {
	registry_start plain site
	python3 "$TOP/tests/fixtures/bundle-tool.py" unpack "$DELTA_BUNDLE" d.tar
	tar -xOf d.tar bundle.json > bj.json
	# the first left-out blob now names a base that the list does not
	name=$(jq -r '.base.omitted[0].base' bj.json)
	other="${name:0:10}$([ "${name:10:1}" = f ] && echo e || echo f)${name:11}"
	python3 - "$name" "$other" <<'PY'
import sys
b = open("bj.json", "rb").read()
i = b.index(b'"omitted"')
j = b.index(sys.argv[1].encode(), i)
open("bj.json", "wb").write(b[:j] + sys.argv[2].encode() + b[j + len(sys.argv[2]):])
PY
	[ "$(jq -r '.base.omitted[0].base' bj.json)" = "$other" ]
	python3 "$TOP/tests/fixtures/bundle-tool.py" edit d.tar t.tar set bundle.json bj.json
	python3 "$TOP/tests/fixtures/bundle-tool.py" pack t.tar t.delta.tar.zst --frames --seek-table
	for dry in "" --dry-run; do
		run --separate-stderr edge-push $dry --plain-http --registry "$REGISTRY/site" t.delta.tar.zst
		assert_failure 3
		assert_output ""
		assert_stderr_is "edge-push: t.delta.tar.zst: bundle.json: base: omitted[0]: its base is not one of base.bundles"
	done
	[ ! -e "$REGISTRY_STORAGE/docker" ]
}

@test "delta push: --dry-run on a registry that holds v1: each left-out blob there or mountable, nothing written" {
	site
	run --separate-stderr edge-push --dry-run --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_success
	assert_equal "$(jq -S . <<< "$output")" "$(zstd -qdc "$DELTA_BUNDLE" | tar -xOf - bundle.json |
		jq -S --arg b "$DELTA_BUNDLE" 'del(.blobs, .base) | .bundle = {path: $b}')"
	R="$REGISTRY/site"
	for l in os0 os1; do
		d=LAYER_$l
		grep -Fx "blob ${!d} (left out of the delta, for delta.test/apps/cache:1) -> $R/delta.test/apps/cache: mountable from $R/$(zstd -qdc "$DELTA_BUNDLE" | tar -xOf - bundle.json | jq -r --arg d "${!d}" '.base.omitted[] | select(.digest == $d) | .repository')" <<< "$stderr"
		grep -Fx "blob ${!d} (left out of the delta, for delta.test/os/base:1) -> $R/delta.test/os/base: already there" <<< "$stderr"
	done
	grep -Fx "blob $LAYER_web1 (left out of the delta, for delta.test/apps/web:2) -> $R/delta.test/apps/web: already there" <<< "$stderr"
	grep -Fx "delta.test/apps/web:2 -> $R/delta.test/apps/web:2: to push" <<< "$stderr"
	grep -Fx "delta.test/os/base:1 -> $R/delta.test/os/base:1: already there" <<< "$stderr"
	assert_equal "$(tail -1 <<< "$stderr")" \
		"edge-push: dry run: 4 blobs left out of the delta: 2 already there, 2 mountable, 0 missing"
	no_new_tags
	[ "$(http_status HEAD "delta.test/apps/cache/blobs/$LAYER_os0")" = 404 ]
}

@test "delta push: --dry-run on an empty registry: each left-out blob missing, exit 1" {
	registry_start plain site
	run --separate-stderr edge-push --dry-run --plain-http --registry "$REGISTRY/site" "$DELTA_BUNDLE"
	assert_failure 1
	assert_output ""
	R="$REGISTRY/site"
	grep -Fx "blob $LAYER_db1 (left out of the delta, for delta.test/apps/db:1) -> $R/delta.test/apps/db: missing: push $V1_NAME first" <<< "$stderr"
	grep -Fx "edge-push: dry run: 4 blobs left out of the delta: 0 already there, 0 mountable, 4 missing" <<< "$stderr"
	assert_equal "$(tail -1 <<< "$stderr")" \
		"edge-push: dry run: 4 blobs left out of the delta are not in the registry: the push would stop (push $V1_NAME first)"
	[ "$(grep -c ': missing: push ' <<< "$stderr")" = 10 ]
	no_new_tags
}

# distribution lets a mount through only with pull access to the "from"
# repository: the token asked for names both repositories.
@test "delta push: token auth: the mount's token has push on the target and pull on the base's repository" {
	site token
	jq --arg b "$DELTA_BUNDLE" '.images |= map(select(.ref == "delta.test/apps/cache:1")) | .bundle.path = $b' \
		"$DELTA_DIR/delta.packed.json" > cache.json
	run --separate-stderr edge-push --progress never --plain-http --registry "$REGISTRY/site" \
		--username "$REGISTRY_USER" --password-file "$REGISTRY_PASS_FILE" cache.json
	assert_success
	assert_stderr_empty
	from=$(zstd -qdc "$DELTA_BUNDLE" | tar -xOf - bundle.json | jq -r --arg d "$LAYER_os0" '.base.omitted[] | select(.digest == $d) | .repository')
	jq -e --arg t "repository:site/delta.test/apps/cache:pull,push" --arg f "repository:site/$from:pull" \
		'select(.scope == [$t, $f] and .user == "edgeuser")' "$TOKEN_LOG" > /dev/null
	[ "$(http_status HEAD "delta.test/apps/cache/blobs/$LAYER_os0")" = 200 ]
	[ "$(http_status HEAD delta.test/apps/cache/manifests/1)" = 200 ]
}

# The closing line on a terminal: the blobs found or mounted count as there,
# not as sent (util-linux script(1) is the terminal, as in 47-progress).
@test "delta push: the closing line counts the left-out blobs as already there, not as sent" {
	site
	tty=$(script -qec "edge-push --plain-http --progress never --registry $REGISTRY/site $DELTA_BUNDLE > out.json" /dev/null | sed 's/\r$//')
	[[ "$tty" =~ ^edge-push:\ 4\ images,\ 0\ charts\ →\ $REGISTRY/site\ \(([0-9.]+)\ KiB\ sent,\ ([0-9.]+)\ MiB\ already\ there\)\ in\ [0-9.]+\ s$ ]] ||
		{ echo "tty: $tty" >&2; return 1; }
	# sent: the layers web2 and cache1, and two configs of a few hundred
	# bytes; there: os0 os1 web1 db1 (2 MiB) and the other configs
	sent=${BASH_REMATCH[1]} there=${BASH_REMATCH[2]}
	new=$(( (SIZE_web2 + SIZE_cache1) / 1024 ))
	[ "${sent%.*}" -ge "$new" ] && [ "${sent%.*}" -le $((new + 4)) ] || { echo "sent $sent KiB, new layers $new KiB" >&2; return 1; }
	[ "$there" = 2.0 ]
	jq -e '.pushed | length == 4' out.json > /dev/null
}
