#!/usr/bin/env bats
# The README's airgap walkthrough runs as written (issue 10, "done when"):
# its two blocks, between the <!-- walkthrough: … --> and <!-- /walkthrough -->
# comments, are taken from README.md and run, the connected side against a
# fake Palette API and a TLS registry with basic auth, the site side (after
# the files "cross the air gap" into another directory) against a second
# one. Once as written (--split 3G: one part), once without --split, and
# once with parts small enough that the bundle is split into several.
#
# Only the walkthrough's placeholders are replaced, by this machine's
# values: the API key, project and profile IDs, the site registry's
# address and user; and edge-pull gets --ca-file, as the test's source
# registry has a private CA where a real one has a public certificate.

load test_helper
load registry
load walkthrough

setup_file() {
	local w=$BATS_FILE_TMPDIR
	registry_start tls+basic src || return 1
	seed_images "$REGISTRY" base app1 big || return 1
	export SRC=$REGISTRY SRC_CA=$REGISTRY_CA SRC_USER=$REGISTRY_USER SRC_PASS=$REGISTRY_PASS
	registry_start tls+basic site || return 1
	export SITE=$REGISTRY SITE_CA=$REGISTRY_CA SITE_USER=$REGISTRY_USER SITE_PASS_FILE=$REGISTRY_PASS_FILE

	# the cluster definition Palette exports for the two profiles
	mkdir -p "$w/def"
	(
		cd "$w/def" || exit 1
		profile infra cluster edge-k3s k8s "$(printf 'pack:\n  content:\n    images:\n      - image: %s/test/base:1\n      - image: %s/test/big:1\n' "$SRC" "$SRC")" > infra.json &&
			profile apps add-on hello-universe addon "$(printf 'pack:\n  content:\n    images:\n      - image: %s/test/app1:1\n' "$SRC")" > apps.json &&
			sh "$TOP/share/scripts/make-definition.sh" "$w/def" "$w/site.tgz"
	) || return 1
	export KEY=walkthrough-api-key PROJECT=5f1a2b3c4d5e6f7a8b9c0d1e PROFILES=uid-infra,uid-apps
	start_server "$w/palette" "$w/palette.port" \
		python3 "$TOP/tests/servers/fake-palette.py" --port-file "$w/palette.port" \
		--definition "$w/site.tgz" --api-key "$KEY" --project-id "$PROJECT" \
		--profile-ids "$PROFILES" --name site --mode ok --idle-timeout 900 || return 1
	# the walkthrough's key pair, made once (as its comment says) by its own
	# line, with a password; and one made with -W (its "-W: none"), for the
	# runs that need no scrypt key derivation to sign
	export EDGE_SIGN_PASSWORD=walkthrough-key-password
	mkdir -p "$w/keys" "$w/keys-w" || return 1
	(cd "$w/keys" && bash -e -c "$(block "connected side" | grep '^edge-sign -G ')") || return 1
	[ -s "$w/keys/edge.key" ] && [ -s "$w/keys/edge.pub" ] || return 1
	(cd "$w/keys-w" && edge-sign -q -G -W -k edge.key -p edge.pub) || return 1
	# test_helper unsets $EDGE_PALETTE_ENDPOINT in every test: walkthrough sets it
	export PALETTE_URL="http://127.0.0.1:$PORT"
}

teardown_file() {
	stop_servers
}

# walkthrough TAG SPLIT KEYS: runs both blocks; SPLIT replaces "--split 3G"
# ("as written" keeps it); TAG names the site registry's path for this run;
# KEYS is the directory of the key pair ("edge-sign -G …  # once" ran there).
# Leaves the connected side in ./connected, the site in ./site.
walkthrough() {
	local tag=$1 split=$2 keys=$3 connected site f
	connected=$(block "connected side") && site=$(block "site side") || return 1
	connected=$(printf '%s\n' "$connected" | grep -v '^edge-sign -G ')
	[ -n "$connected" ] && [ -n "$site" ] || return 1
	connected=$(replace "$connected" "EDGE_API_KEY=…" "EDGE_API_KEY=$KEY") &&
		connected=$(replace "$connected" "--project-id 5f1a…" "--project-id $PROJECT") &&
		connected=$(replace "$connected" "--profile-ids 65c90a…,65c90b…" "--profile-ids $PROFILES") &&
		connected=$(replace "$connected" "| edge-pull " "| edge-pull --ca-file $SRC_CA ") || return 1
	if [ "$split" != "as written" ]; then
		connected=$(replace "$connected" "--split 3G" "$split") || return 1
	fi
	site=$(replace "$site" "10.10.254.254:8000/spectro-images" "$SITE/spectro-images-$tag") &&
		site=$(replace "$site" "--username admin" "--username $SITE_USER") || return 1

	mkdir connected site && cp "$keys/edge.key" "$keys/edge.pub" connected/ || return 1
	jq -n --arg e "$SRC" --arg u "$SRC_USER" --arg p "$SRC_PASS" \
		'{image: [{endpoint: $e, username: $u, password: $p}]}' > connected/palette-creds.json || return 1
	printf '%s\n' "$connected" > connected/walkthrough.sh
	(cd connected && EDGE_PALETTE_ENDPOINT=$PALETTE_URL bash -e -o pipefail walkthrough.sh) || { echo "the connected side failed" >&2; return 1; }

	# across the air gap: the bundle (or its parts and descriptor), the
	# signatures, the manifest and the public key
	for f in $(jq -r '.bundle.path, (.bundle.parts // [] | .[].path), .signatures[].path' connected/site.manifest.json) \
		site.manifest.json edge.pub; do
		cp "connected/$f" site/ || return 1
	done
	cp "$SITE_PASS_FILE" site/registry.pass && cp "$SITE_CA" site/site-ca.pem || return 1
	printf '%s\n' "$site" > site/walkthrough.sh
	(cd site && bash -e -o pipefail walkthrough.sh) || { echo "the site side failed" >&2; return 1; }
}

# pushed_ok: the site registry got every image of the manifest.
pushed_ok() {
	[ "$(jq '.images | length' site/pushed.json)" = 3 ]
	[ "$(jq '.pushed | length' site/pushed.json)" = 3 ]
	[ "$(jq -r '.signatures[0].for' site/pushed.json)" = bundle ]
}

@test "walkthrough: as written (--split 3G: a descriptor and one part)" {
	run walkthrough as-written "as written" "$BATS_FILE_TMPDIR/keys"
	assert_success
	run jq -r '.bundle.path' connected/site.manifest.json
	assert_output --regexp '^core-site-[0-9a-f]{12}\.tar\.zst\.parts\.json$'
	# the site's core-site-*.tar.zst matched no file: the tools found the descriptor
	! compgen -G 'site/core-site-*.tar.zst' >/dev/null
	pushed_ok
}

@test "walkthrough: without --split" {
	run walkthrough unsplit "" "$BATS_FILE_TMPDIR/keys-w"
	assert_success
	run jq -r '.bundle.path' connected/site.manifest.json
	assert_output --regexp '^core-site-[0-9a-f]{12}\.tar\.zst$'
	[ -f "site/$output.minisig" ]
	pushed_ok
}

@test "walkthrough: with --split into several parts" {
	run walkthrough parts "--split 3M" "$BATS_FILE_TMPDIR/keys-w"
	assert_success
	[ "$(jq '.bundle.parts | length' connected/site.manifest.json)" -ge 3 ]
	[ "$(ls site/core-site-*.tar.zst.part* | wc -l)" -ge 3 ]
	pushed_ok
}
