#!/usr/bin/env bats
# make demo: the whole pipeline, and that it stops what it started.

load test_helper

@test "demo: the whole pipeline runs and leaves no registry behind" {
	run --separate-stderr sh "$TOP/share/scripts/demo.sh"
	assert_success
	assert_line --partial "images      34, charts 1, pushed 35"
	# issue 10 item 17: the digest was printed as null
	assert_line --regexp '^bundle      core-site-[0-9a-f]{12}\.tar\.zst \([0-9]+ bytes, sha256:[0-9a-f]{64}\)$'
	refute_output --partial null
	assert_stderr_contains "== edge-verify --registry"
	demo="$TOP/build/demo"
	[ "$(jq '.pushed | length' "$demo/pushed.json")" = 35 ]
	minisign -Vm "$demo/$(jq -r .bundle.path "$demo/packed.json")" -p "$demo/demo.pub" -q
	! pgrep -f "docker-registry serve $demo/" >/dev/null || false
}

@test "demo: a failing step stops the registries too" {
	# a PATH whose edge-resolve fails: the first step once both registries
	# run (a failure after the mirror's seeding, 34 skopeo pushes, proved
	# nothing more about the trap, and cost half this suite's CPU)
	mkdir fakebin
	printf '#!/bin/sh\necho "edge-resolve: simulated failure" >&2\nexit 6\n' > fakebin/edge-resolve
	chmod +x fakebin/edge-resolve
	cp "$TOP/share/scripts/demo.sh" demo.sh
	sed -i 's|^PATH="\$bin:\$PATH"|PATH="'"$PWD"'/fakebin:$bin:$PATH"|' demo.sh
	mkdir -p share/scripts && mv demo.sh share/scripts/
	ln -s "$TOP/bin" bin
	mkdir -p share/examples build
	cp "$TOP/share/examples/cluster-definition.tgz" share/examples/
	run --separate-stderr sh share/scripts/demo.sh
	assert_failure 6
	assert_stderr_contains "edge-resolve: simulated failure"
	# it failed with both registries up
	assert_stderr_contains "mirror: 127.0.0.1:"
	! pgrep -f "docker-registry serve $PWD/build/demo/" >/dev/null || false
}
