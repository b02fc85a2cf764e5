#!/usr/bin/env bats
# The README's "Monthly update" runs as written (issue 11): last month's
# site (v1: test/base:1 and test/app1:1) was packed, signed, verified and
# pushed; this month's definition adds test/app2:1 (base's layers plus one
# own). The two walkthrough blocks of that section are taken from
# README.md and run: a delta against site.manifest.json on the connected
# side; at the site, edge-verify --base and edge-push into the registry
# that holds v1. Only placeholders are replaced (the site registry and
# user; edge-pull gets the test source registry's private CA).

load test_helper
load registry
load walkthrough

setup_file() {
	local w=$BATS_FILE_TMPDIR
	registry_start tls+basic src || return 1
	seed_images "$REGISTRY" base app1 app2 || return 1
	export SRC=$REGISTRY SRC_CA=$REGISTRY_CA SRC_USER=$REGISTRY_USER SRC_PASS=$REGISTRY_PASS
	registry_start tls+basic site || return 1
	export SITE=$REGISTRY SITE_CA=$REGISTRY_CA SITE_USER=$REGISTRY_USER SITE_PASS_FILE=$REGISTRY_PASS_FILE
	mkdir -p "$w/def1" "$w/def2" "$w/connected" "$w/site" || return 1
	local infra apps1 apps2
	infra=$(printf 'pack:\n  content:\n    images:\n      - image: %s/test/base:1\n' "$SRC")
	apps1=$(printf 'pack:\n  content:\n    images:\n      - image: %s/test/app1:1\n' "$SRC")
	apps2=$(printf 'pack:\n  content:\n    images:\n      - image: %s/test/app1:1\n      - image: %s/test/app2:1\n' "$SRC" "$SRC")
	profile infra cluster edge-k3s k8s "$infra" > "$w/def1/infra.json" &&
		profile apps add-on hello addon "$apps1" > "$w/def1/apps.json" &&
		cp "$w/def1/infra.json" "$w/def2/" &&
		profile apps add-on hello addon "$apps2" > "$w/def2/apps.json" &&
		sh "$TOP/share/scripts/make-definition.sh" "$w/def1" "$w/connected/site.tgz" &&
		sh "$TOP/share/scripts/make-definition.sh" "$w/def2" "$w/connected/site-v2.tgz" || return 1
	jq -n --arg e "$SRC" --arg u "$SRC_USER" --arg p "$SRC_PASS" \
		'{image: [{endpoint: $e, username: $u, password: $p}]}' > "$w/connected/palette-creds.json" || return 1
	# last month, connected side: the full bundle, signed (a key without
	# password: no scrypt here)
	(
		cd "$w/connected" || exit 1
		edge-sign -q -G -W -k edge.key -p edge.pub || exit 1
		edge-resolve site.tgz | edge-pull -q --ca-file "$SRC_CA" --store ./store --cred-file palette-creds.json |
			edge-pack -q --name site | edge-sign -q -k edge.key > site.manifest.json
	) || return 1
	# last month, site side: the bundle crossed the gap and was pushed
	(
		cd "$w/site" || exit 1
		for f in $(jq -r '.bundle.path, .signatures[].path' ../connected/site.manifest.json) site.manifest.json edge.pub; do
			cp "../connected/$f" . || exit 1
		done
		cp "$SITE_PASS_FILE" registry.pass && cp "$SITE_CA" site-ca.pem || exit 1
		edge-verify -q -p edge.pub --require-signature core-site-*.tar.zst |
			edge-push -q --registry "$SITE/spectro-images" --username "$SITE_USER" --password-file registry.pass \
				--ca-file site-ca.pem > pushed.json
	) || return 1
}

teardown_file() {
	stop_servers
}

@test "monthly update: the README's delta walkthrough, connected side then site side" {
	local w=$BATS_FILE_TMPDIR connected site f
	connected=$(block "monthly update, connected side") && site=$(block "monthly update, site side")
	[ -n "$connected" ] && [ -n "$site" ]
	connected=$(replace "$connected" "| edge-pull " "| edge-pull --ca-file $SRC_CA ")
	site=$(replace "$site" "10.10.254.254:8000/spectro-images" "$SITE/spectro-images")
	site=$(replace "$site" "--username admin" "--username $SITE_USER")
	printf '%s\n' "$connected" > "$w/connected/monthly.sh"
	(cd "$w/connected" && bash -e -o pipefail monthly.sh)
	# the delta left out base's two layers and app1's three; it holds app2's own
	run jq -r .bundle.path "$w/connected/site-v2.manifest.json"
	assert_output --regexp '^core-site-[0-9a-f]{12}\.delta\.tar\.zst$'
	assert_equal "$(jq -r .bundle.omitted.count "$w/connected/site-v2.manifest.json")" 3
	# across the gap: the delta, its signature, the new manifest
	for f in $(jq -r '.bundle.path, .signatures[].path' "$w/connected/site-v2.manifest.json") site-v2.manifest.json; do
		cp "$w/connected/$f" "$w/site/"
	done
	printf '%s\n' "$site" > "$w/site/monthly.sh"
	(cd "$w/site" && bash -e -o pipefail monthly.sh)
	assert_equal "$(jq '.pushed | length' "$w/site/pushed-v2.json")" 3
	# the site registry holds all of v2, with the source's digests
	run edge-verify --registry "$SITE/spectro-images" --username "$SITE_USER" --password-file "$SITE_PASS_FILE" \
		--ca-file "$SITE_CA" "$w/site/pushed-v2.json"
	assert_success
}
