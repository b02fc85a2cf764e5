#!/usr/bin/env bats
# edge-resolve on hostile profiles: YAML alias bombs, template fan-out.
# Each run is bounded in time (timeout) and memory (max RSS).

load test_helper

# yaml_alias_bomb LEVELS: aliases that double LEVELS times (2^LEVELS nodes)
yaml_alias_bomb() {
	local i
	echo 'b0: &b0 [lol, lol]'
	for ((i = 1; i <= $1; i++)); do
		echo "b$i: &b$i [*b$((i - 1)), *b$((i - 1))]"
	done
}

# bounded CMD...: runs CMD under a 20 s timeout and records its max RSS (KB)
bounded() {
	run --separate-stderr timeout 20 /usr/bin/time -f %M -o rss "$@"
	echo "max RSS $(tail -n1 rss) KB"
	[ "$(tail -n1 rss)" -lt 200000 ]
}

@test "resolve limits: an alias bomb in pack values is refused quickly" {
	profile p1 add-on app addon "$(yaml_alias_bomb 40; printf 'pack:\n  content:\n    images:\n      - image: busybox\n')" > p1.json
	[ "$(stat -c %s p1.json)" -lt 2048 ]
	bounded edge-resolve p1.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: profile p1: pack app: values: line 18, column 18: aliases expand to more than 1000000 nodes"
}

@test "resolve limits: an alias bomb in an --images list is not read as YAML" {
	yaml_alias_bomb 40 > list.yaml
	bounded edge-resolve --images list.yaml < /dev/null
	assert_failure 3
	assert_stderr_contains "edge-resolve: list.yaml:1: "
}

@test "resolve limits: a recursive alias is refused" {
	profile p1 add-on app addon 'a: &a
  b: *a
pack:
  content:
    images:
      - image: busybox' > p1.json
	bounded edge-resolve p1.json
	assert_failure 3
	assert_stderr_is "edge-resolve: profile p1: pack app: values: line 2, column 6: unknown alias"
}

@test "resolve limits: aliases of a moderate size still resolve" {
	profile p1 add-on app addon "$(yaml_alias_bomb 12)
img: &img {image: busybox}
pack:
  content:
    images: [*img, *img]" > p1.json
	bounded edge-resolve p1.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.images[].ref')" = docker.io/library/busybox:latest ]
}

# fan_values LEAF-BYTES: values whose macros nest ten wide and five deep
# (l0 holds ten references to l1, … l4 ten to l5, the leaf)
fan_values() {
	local i j
	printf 'l5: %s\n' "$(head -c "$1" /dev/zero | tr '\0' x)"
	for ((i = 4; i >= 0; i--)); do
		printf 'l%d: "' $i
		for ((j = 0; j < 10; j++)); do printf '{{.spectro.pack.app.l%d}}' $((i + 1)); done
		printf '"\n'
	done
}

@test "resolve limits: template fan-out is refused, naming the pack and field" {
	{ fan_values 1000000; printf 'pack:\n  content:\n    images:\n      - image: busybox\n      - image: "{{ .spectro.pack.app.l0 }}"\n'; } > values.yaml
	jq -n --rawfile v values.yaml '{metadata: {name: "p1"}, spec: {template: {type: "add-on",
		packs: [{name: "app", type: "spectro", layer: "addon", values: $v}]}}}' > p1.json
	[ "$(stat -c %s p1.json)" -gt 1000000 ]
	[ "$(gzip -c p1.json | wc -c)" -lt 4096 ]
	bounded edge-resolve p1.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: profile p1: pack app: pack.content.images[1].image: template value too large at .spectro.pack.app.l4 (more than 1 MiB)"
}

@test "resolve limits: the expansions of a run share one budget" {
	profile p1 add-on app addon "$(fan_values 100000)
pack:
  content:
    images:
$(for i in $(seq 0 9); do echo "      - image: \"{{ .spectro.pack.app.l4 | substr 0 1 }}$i\""; done)" > p1.json
	bounded edge-resolve p1.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: profile p1: pack app: pack.content.images[8].image: template expansion too large at .spectro.pack.app.l4 (more than 8 MiB in all)"
	# the same values with fewer images resolve
	profile p1 add-on app addon "$(fan_values 100000)
pack:
  content:
    images:
      - image: \"{{ .spectro.pack.app.l4 | substr 0 1 }}1\"
      - image: \"{{ .spectro.pack.app.l4 | substr 0 1 }}2\"" > p1.json
	bounded edge-resolve p1.json
	assert_success
	[ "$(echo "$output" | jq -r '.images[].ref' | tr '\n' ' ')" = "docker.io/library/x1:latest docker.io/library/x2:latest " ]
}

@test "resolve limits: many {{ without a close are read in linear time" {
	{ printf 'x: "'; head -c 800000 /dev/zero | tr '\0' '{'; printf '"\ny: "'; for i in $(seq 400); do printf '{{%02000d' 0; done; printf '}}"\npack:\n  content:\n    images:\n      - image: busybox\n'; } > values.yaml
	jq -n --rawfile v values.yaml '{metadata: {name: "p1"}, spec: {template: {type: "add-on",
		packs: [{name: "app", type: "spectro", layer: "addon", values: $v}]}}}' > p1.json
	SECONDS=0
	bounded edge-resolve p1.json
	assert_success
	[ "$SECONDS" -lt 10 ]
	[ "$(echo "$output" | jq -r '.images[].ref')" = docker.io/library/busybox:latest ]
}

@test "resolve limits: a pack without a name, or with an empty one, is refused on one line" {
	# found by fuzz_resolve (corpus crash-leak-unnamed-pack): the empty name
	# leaked; under make check SANITIZE=1 LeakSanitizer would fail the run
	jq -n '{metadata: {name: "p1"}, spec: {template: {type: "add-on", packs: [{name: "", layer: "addon"}]}}}' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: profile p1: packs[0]: pack without a name"
	jq -n '{metadata: {name: "p2"}, spec: {template: {type: "add-on", packs: [{layer: "addon"}]}}}' > p2.json
	run --separate-stderr edge-resolve p2.json
	assert_failure 3
	assert_stderr_is "edge-resolve: profile p2: packs[0]: pack without a name"
}

@test "resolve limits: dense JSON in a definition is refused within 20 times its size" {
	# 4 MiB of "{}," (jansson: 80 times that) in a 4 KB .tgz
	mkdir spc
	python3 -c 'import sys; sys.stdout.write("[" + "{}," * 1400000 + "{}]")' > spc/dense.json
	tar -czf def.tgz spc
	[ "$(stat -c %s def.tgz)" -lt 65536 ]
	bounded edge-resolve def.tgz
	assert_failure 3
	n=$(stat -c %s spc/dense.json)
	assert_stderr_is "edge-resolve: def.tgz: spc/dense.json: denser than edge reads: parsing these $n bytes takes more than $(((n * 20 + 1048576) >> 20)) MiB"
	# a member over 16 MiB is refused before it is read
	head -c $((17 << 20)) /dev/zero | tr '\0' ' ' > spc/dense.json
	tar -czf def.tgz spc
	bounded edge-resolve def.tgz
	assert_failure 3
	assert_stderr_is "edge-resolve: def.tgz: entry \"spc/dense.json\" is larger than 16777216 bytes"
}
