#!/usr/bin/env bats
# edge-pack: the content bundle of SPEC §5 (entries, zstd frames, seek table,
# reproducibility, parts), read by zstd, GNU tar, libarchive, skopeo and
# umoci; its errors. The store is pulled once, in setup_file, from a real
# registry seeded with the test images and one compressible image.

load test_helper
load lib/jqv
load registry

TOOL="$TOP/tests/fixtures/bundle-tool.py"
SCHEMA="$TOP/share/edge-manifest.schema.json"
FRAME_MAX=4194304 # BUNDLE_FRAME_MAX: input bytes per zstd frame

setup_file() {
	registry_start plain src
	seed_images "$REGISTRY" base app1 app2 multi big chart v2s2
	export SRC="$REGISTRY"
	test_images
	cd "$BATS_FILE_TMPDIR" || return 1
	# a compressible image: zstd's output differs between its single- and
	# multi-threaded modes only for frames larger than a job (1 MiB)
	python3 - text-layout <<-'PY' || return 1
	import hashlib, io, json, os, random, sys, tarfile
	root = sys.argv[1]
	os.makedirs(root + "/blobs/sha256")
	def blob(data, mt):
	    d = hashlib.sha256(data).hexdigest()
	    open(root + "/blobs/sha256/" + d, "wb").write(data)
	    return {"mediaType": mt, "digest": "sha256:" + d, "size": len(data)}
	rnd = random.Random(7)
	words = ["".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(2, 9))) for _ in range(4000)]
	text = " ".join(rnd.choice(words) for _ in range(600000)).encode()[:3 << 20]
	buf = io.BytesIO()
	with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
	    ti = tarfile.TarInfo("words.txt")
	    ti.size, ti.mtime = len(text), 1700000000
	    t.addfile(ti, io.BytesIO(text))
	layer = buf.getvalue()
	cfg = {"architecture": "amd64", "os": "linux",
	       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
	man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
	       "config": blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json"),
	       "layers": [blob(layer, "application/vnd.oci.image.layer.v1.tar")]}
	desc = blob(json.dumps(man).encode(), man["mediaType"])
	desc["annotations"] = {"org.opencontainers.image.ref.name": "text"}
	json.dump({"schemaVersion": 2, "manifests": [desc]}, open(root + "/index.json", "w"))
	open(root + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
	PY
	# --preserve-digests: the layer stays uncompressed (compressible)
	skopeo --policy "$TEST_IMAGES_ROOT/policy.json" copy -q --preserve-digests --dest-tls-verify=false \
		oci:text-layout:text "docker://$SRC/test/text:1" || return 1
	printf '%s\n' "$SRC/test/base:1" "$SRC/test/app1:1" "$SRC/test/app2:1" "$SRC/test/multi:1" \
		"$SRC/test/big:1" "$SRC/test/v2s2:1" "$SRC/test/text:1" > images.txt
	printf 'oci://%s/test/charts demo 0.1.0\n' "$SRC" > charts.txt
	cp "$DEFINITION" site.tgz
	edge-resolve --images images.txt --charts charts.txt < /dev/null |
		jq '.name = "site" | .definition = {path: "site.tgz"} | .x_custom = {kept: [1, 2]}' > m.json || return 1
	edge-pull -q --plain-http --platform linux/amd64 --store "$BATS_FILE_TMPDIR/store" m.json > pulled.json || return 1
	export PULLED="$BATS_FILE_TMPDIR/pulled.json" STORE="$BATS_FILE_TMPDIR/store"
}

teardown_file() {
	stop_servers
}

# Each test works in a directory of its own: run --separate-stderr keeps
# files in $BATS_TEST_TMPDIR, and tests check what edge-pack leaves behind.
per_test_setup() {
	mkdir work && cd work || return 1
}

tool() {
	python3 "$TOOL" "$@"
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# reachable MANIFEST STORE: every blob the manifest's images, charts and
# definition need, sorted, one digest a line.
reachable() {
	python3 - "$1" "$2" <<-'PY'
	import json, os, sys
	m, store = json.load(open(sys.argv[1])), sys.argv[2]
	seen = set()
	def walk(d):
	    seen.add(d)
	    j = json.load(open(os.path.join(store, "blobs/sha256", d[7:])))
	    for c in j.get("manifests", []):
	        walk(c["digest"])
	    if "config" in j:
	        seen.add(j["config"]["digest"])
	        seen.update(l["digest"] for l in j["layers"])
	for e in m.get("images", []) + m.get("charts", []):
	    walk(e["digest"])
	for e in json.load(open(os.path.join(store, "index.json")))["manifests"]:
	    if e["annotations"]["org.opencontainers.image.ref.name"] == m.get("definition", {}).get("ref"):
	        walk(e["digest"])
	print("\n".join(sorted(seen)))
	PY
}

# validate FILE: the manifest passes share/edge-manifest.schema.json.
validate() {
	python3 -c '
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
errors = list(v.iter_errors(json.load(open(sys.argv[2]))))
for e in errors:
    print("/".join(str(p) for p in e.absolute_path) + ": " + e.message, file=sys.stderr)
sys.exit(1 if errors else 0)
' "$SCHEMA" "$1"
}

# only_files NAME...: the current directory holds exactly these files.
only_files() {
	local want have
	want=$(printf '%s\n' "$@" | LC_ALL=C sort)
	have=$(ls -A | LC_ALL=C sort)
	if [ "$want" != "$have" ]; then
		echo "files differ (< expected, > found):" >&2
		diff <(echo "$want") <(echo "$have") >&2
		return 1
	fi
}

# --- what is in the bundle -------------------------------------------------

@test "pack: bundle.json first, the OCI layout, each blob once, manifest.json, bundle.index.json last" {
	run --separate-stderr edge-pack "$PULLED"
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	[ "$(jq -s length out.json)" = 1 ]
	jqv -f out.json .bundle.path .bundle.digest .bundle.size
	path=${J[0]}
	[[ "$path" =~ ^core-site-[0-9a-f]{12}\.tar\.zst$ ]]
	[ "${path:10:12}" = "$(sha "$path" | cut -c1-12)" ]
	[ "${J[1]}" = "sha256:$(sha "$path")" ]
	[ "${J[2]}" = "$(stat -c %s "$path")" ]
	only_files out.json "$path"
	# the manifest is kept whole, "bundle" added
	[ "$(jq -S 'del(.bundle)' out.json)" = "$(jq -S . "$PULLED")" ]

	reachable "$PULLED" "$STORE" > want-blobs
	[ "$(wc -l < want-blobs)" -ge 25 ]
	tar --zstd -tf "$path" > names
	{
		printf '%s\n' bundle.json oci-layout index.json
		sed 's|^sha256:|blobs/sha256/|' want-blobs
		printf '%s\n' manifest.json bundle.index.json
	} > want-names
	diff want-names names
	# plain files only: mode 0644, owner 0/0, time 0
	run bash -c "TZ=UTC tar --zstd --numeric-owner --full-time -tvf '$path' | awk '{print \$1, \$2, \$4, \$5}' | sort -u"
	assert_output "-rw-r--r-- 0/0 1970-01-01 00:00:00"

	# bundle.json: the manifest without store, bundle, signatures, pushed; all blobs sorted
	tar --zstd -xOf "$path" bundle.json > bundle.json
	[ "$(jq -S 'del(.blobs)' bundle.json)" = "$(jq -S 'del(.store)' "$PULLED")" ]
	diff want-blobs <(jq -r '.blobs[].digest' bundle.json)
	jq -r '.blobs[] | "\(.digest) \(.size)"' bundle.json | while read -r d s; do
		[ "$(stat -c %s "$STORE/blobs/sha256/${d#sha256:}")" = "$s" ]
	done
}

@test "pack: index.json names exactly the manifest's images, charts and definition; manifest.json the images" {
	edge-pack -o b.tar.zst "$PULLED" > /dev/null
	tar --zstd -xf b.tar.zst index.json manifest.json oci-layout
	[ "$(cat oci-layout)" = '{"imageLayoutVersion":"1.0.0"}' ]
	# sorted by ref, each with the manifest's digest and both name annotations
	jq -r '(.images + .charts)[] | "\(.ref) \(.digest)"' "$PULLED" > want
	echo "$(jq -r .definition.ref "$PULLED") $(jq -r --arg r "$(jq -r .definition.ref "$PULLED")" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$STORE/index.json")" >> want
	LC_ALL=C sort want > want.sorted
	jq -r '.manifests[] | "\(.annotations["org.opencontainers.image.ref.name"]) \(.digest)"' index.json > have
	diff want.sorted have
	[ "$(jq '[.manifests[] | select(.annotations["io.containerd.image.name"] != .annotations["org.opencontainers.image.ref.name"])] | length' index.json)" = 0 ]
	[ "$(jq -r .mediaType index.json)" = application/vnd.oci.image.index.v1+json ]
	# docker-archive manifest.json: one entry per image, the default platform of an index
	diff <(jq -r '.images[].ref' "$PULLED" | LC_ALL=C sort) <(jq -r '.[].RepoTags[]' manifest.json | LC_ALL=C sort)
	multi=$(jq -c --arg r "$SRC/test/multi:1" '.[] | select(.RepoTags[0] == $r)' manifest.json)
	[ "$(echo "$multi" | jq -r .Config)" = "blobs/sha256/$(test_image_digest 'test/multi:1@linux/amd64#config' | cut -d: -f2)" ]
	[ "$(echo "$multi" | jq -r '.Layers | join(" ")')" = "blobs/sha256/$(test_image_digest 'test/multi:1@linux/amd64#layer0' | cut -d: -f2)" ]
	app1=$(jq -c --arg r "$SRC/test/app1:1" '.[] | select(.RepoTags[0] == $r)' manifest.json)
	for i in 0 1 2; do
		[ "$(echo "$app1" | jq -r ".Layers[$i]")" = "blobs/sha256/$(test_image_digest "test/app1:1#layer$i" | cut -d: -f2)" ]
	done
}

@test "pack: bundle.index.json gives every other entry's data offset and size" {
	edge-pack -o b.tar.zst "$PULLED" > /dev/null
	tool unpack b.tar.zst b.tar
	tool list b.tar | awk '$1 != "bundle.index.json" {print $1, $3, $4}' > have
	tar -xOf b.tar bundle.index.json | jq -r '.entries[] | "\(.name) \(.offset) \(.size)"' > index
	diff have index
	[ "$(tar -xOf b.tar bundle.index.json | jq .version)" = 1 ]
	# offsets point at the data: the index.json entry's bytes are index.json
	read -r _ off size < <(grep '^index.json ' index)
	cmp <(tail -c +$((off + 1)) b.tar | head -c "$size") <(tar -xOf b.tar index.json)
}

@test "pack: a zstd frame starts at every entry, frames hold at most 4 MiB, a seek table ends the file" {
	edge-pack -o b.tar.zst "$PULLED" > /dev/null
	tool frames b.tar.zst > frames # COFF CSIZE DOFF DSIZE, checked against the file size
	n=$(wc -l < frames)
	read -r coff csize _ _ < <(tail -1 frames)
	# the frames, then the skippable frame: 8-byte header, 8 bytes a frame, 9-byte footer
	[ $((coff + csize + 8 + 8 * n + 9)) = "$(stat -c %s b.tar.zst)" ]
	[ "$(awk -v m=$FRAME_MAX '$4 > m' frames)" = "" ]
	# the 8 MiB layer of test/big takes two full frames and a third
	[ "$(awk -v m=$FRAME_MAX '$4 == m' frames | wc -l)" = 2 ]
	# its random data is stored as raw blocks: a 9-byte header, a 3-byte
	# header per 128 KiB block and the 4-byte checksum around the data
	[ "$(awk -v m=$FRAME_MAX '$4 == m && $2 == m + 9 + 3 * 32 + 4' frames | wc -l)" = 2 ]
	# the text layer (3 MiB of words) is compressed
	[ "$(awk '$4 > 2000000 && $2 < $4 / 2' frames | wc -l)" = 1 ]
	tool unpack b.tar.zst b.tar
	[ "$(awk '{s += $4} END {print s}' frames)" = "$(stat -c %s b.tar)" ]
	tool list b.tar > entries
	[ "$n" = $(($(wc -l < entries) + 2)) ]
	# each entry's header (512 bytes before its data) is the start of a frame
	awk '{print $3}' frames | LC_ALL=C sort > starts
	awk '{print $3 - 512}' entries | LC_ALL=C sort > headers
	[ "$(comm -13 starts headers)" = "" ]
	run zstd -lv b.tar.zst
	assert_success
	assert_line "# Zstandard Frames: $n"
	assert_line "# Skippable Frames: 1"
	assert_line "Check: XXH64"
}

@test "pack: zstd -t, tar --zstd -x and bsdtar read it; the extract is an OCI layout skopeo and umoci read" {
	edge-pack -o b.tar.zst "$PULLED" > /dev/null
	run zstd -q -t b.tar.zst
	assert_success
	assert_output ""
	mkdir x
	tar --zstd -xf b.tar.zst -C x
	diff <(tar --zstd -tf b.tar.zst) <(bsdtar -tf b.tar.zst)
	[ "$(bsdtar -xOf b.tar.zst bundle.index.json | sha256sum)" = "$(sha256sum < x/bundle.index.json)" ]
	# every blob has the digest of its name
	for f in x/blobs/sha256/*; do
		[ "$(sha "$f")" = "$(basename "$f")" ]
	done
	run umoci ls --layout x
	assert_success
	diff <(jq -r '(.images + .charts)[].ref, .definition.ref' "$PULLED" | LC_ALL=C sort) <(echo "$output" | LC_ALL=C sort)
	for t in base app1 multi big text; do
		ref="$SRC/test/$t:1"
		[ "$(skopeo inspect --raw "oci:x:$ref" | sha256sum | cut -d' ' -f1)" = \
		  "$(jq -r --arg r "$ref" '.images[] | select(.ref == $r) | .digest' "$PULLED" | cut -d: -f2)" ]
	done
	for t in base app1 multi big text; do
		skopeo copy -q "oci:x:$SRC/test/$t:1" "dir:copy-$t"
	done
	skopeo copy -q "oci:x:$SRC/test/charts/demo:0.1.0" dir:copy-chart
	[ "$(sha copy-big/"$(test_image_digest 'test/big:1#layer0' | cut -d: -f2)")" = "$(test_image_digest 'test/big:1#layer0' | cut -d: -f2)" ]
	# and our own store check accepts it
	run --separate-stderr edge-verify --store x < /dev/null
	assert_success
	assert_stderr_empty
}

# --- reproducible ------------------------------------------------------------

@test "pack: twice the same bytes; a store holding more packs the same bundle" {
	mkdir a b
	(cd a && edge-pack "$PULLED" > out.json)
	(cd b && edge-pack "$PULLED" > out.json)
	[ "$(jq -r .bundle.path a/out.json)" = "$(jq -r .bundle.path b/out.json)" ]
	cmp "a/$(jq -r .bundle.path a/out.json)" "b/$(jq -r .bundle.path b/out.json)"
	# base alone, from a store of its own and from the full store
	echo "$SRC/test/base:1" > images.txt
	edge-resolve --name one --images images.txt < /dev/null > m.json
	edge-pull -q --plain-http --store own m.json > one.json
	edge-pack -o own.tar.zst one.json > /dev/null
	edge-pack -o full.tar.zst --store "$STORE" one.json > /dev/null
	cmp own.tar.zst full.tar.zst
	[ "$(tar --zstd -tf full.tar.zst | grep -c '^blobs/')" = 4 ]
}

@test "pack: SOURCE_DATE_EPOCH sets the entries' time and changes the bytes" {
	edge-pack -o zero.tar.zst "$PULLED" > /dev/null
	SOURCE_DATE_EPOCH=1700000000 edge-pack -o sde.tar.zst "$PULLED" > /dev/null
	SOURCE_DATE_EPOCH=1700000000 edge-pack -o sde2.tar.zst "$PULLED" > /dev/null
	run cmp -s zero.tar.zst sde.tar.zst
	assert_failure 1
	cmp sde.tar.zst sde2.tar.zst
	run bash -c "TZ=UTC tar --zstd --full-time -tvf sde.tar.zst | awk '{print \$4, \$5}' | sort -u"
	assert_output "2023-11-14 22:13:20"
	SOURCE_DATE_EPOCH='' edge-pack -o empty.tar.zst "$PULLED" > /dev/null
	cmp zero.tar.zst empty.tar.zst
	SOURCE_DATE_EPOCH=yesterday run --separate-stderr edge-pack -o bad.tar.zst "$PULLED"
	assert_failure 2
	assert_output ""
	assert_stderr_contains "edge-pack: SOURCE_DATE_EPOCH: expected seconds since 1970, got 'yesterday'"
	[ ! -e bad.tar.zst ]
}

@test "pack: --threads 1, 2 and 3 give identical bytes" {
	# the compressible 3 MiB layer of test/text spans several zstd jobs
	for t in 1 2 3; do
		run --separate-stderr edge-pack --threads $t -o t$t.tar.zst "$PULLED"
		assert_success
		assert_stderr_empty
	done
	cmp t2.tar.zst t3.tar.zst
	cmp t1.tar.zst t2.tar.zst
}

@test "pack: --level changes the compression, not the tar stream" {
	# without the big image: level 19 spent most of this suite's CPU on its
	# 8 MiB of noise, which no level compresses (the text layer shows the
	# difference)
	jq --arg r "$SRC/test/big:1" '.images |= map(select(.ref != $r))' "$PULLED" > nobig.json
	[ "$(jq '.images | length' nobig.json)" = $(($(jq '.images | length' "$PULLED") - 1)) ]
	edge-pack -o l3.tar.zst nobig.json > /dev/null
	edge-pack --level 19 --threads 2 -o l19.tar.zst nobig.json > /dev/null
	edge-pack --level 1 -o l1.tar.zst nobig.json > /dev/null
	run cmp -s l3.tar.zst l19.tar.zst
	assert_failure 1
	[ "$(stat -c %s l19.tar.zst)" -lt "$(stat -c %s l1.tar.zst)" ]
	cmp <(zstd -dc l3.tar.zst) <(zstd -dc l19.tar.zst)
	cmp <(zstd -dc l3.tar.zst) <(zstd -dc l1.tar.zst)
	edge-verify l19.tar.zst > /dev/null
}

@test "pack: a ref listed twice in the manifest is packed once" {
	jq '.images += [.images[0]]' "$PULLED" > twice.json
	edge-pack -o twice.tar.zst twice.json > /dev/null
	ref=$(jq -r '.images[0].ref' "$PULLED")
	[ "$(tar --zstd -xOf twice.tar.zst index.json | jq --arg r "$ref" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r)] | length')" = 1 ]
	[ "$(tar --zstd -xOf twice.tar.zst manifest.json | jq --arg r "$ref" '[.[] | select(.RepoTags[0] == $r)] | length')" = 1 ]
}

# --- names, parts -------------------------------------------------------------

@test "pack: -o FILE writes exactly FILE; --name names the bundle; --store overrides the manifest's" {
	mkdir out
	run --separate-stderr edge-pack -o out/site.tar.zst "$PULLED"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r .bundle.path)" = out/site.tar.zst ]
	[ "$(ls -A out)" = site.tar.zst ]
	[ "$(ls -A | LC_ALL=C sort | tr '\n' ' ')" = "out " ]
	jq 'del(.store)' "$PULLED" > nostore.json
	run --separate-stderr edge-pack --name other --store "$STORE" nostore.json
	assert_success
	path=$(echo "$output" | jq -r .bundle.path)
	[[ "$path" =~ ^core-other-[0-9a-f]{12}\.tar\.zst$ ]]
	[ "$(echo "$output" | jq -r .name)" = other ]
	[ "$(tar --zstd -xOf "$path" bundle.json | jq -r .name)" = other ]
	# the manifest on stdin
	run --separate-stderr edge-pack -o stdin.tar.zst < "$PULLED"
	assert_success
	cmp stdin.tar.zst out/site.tar.zst
}

@test "pack: --split whose descriptor cannot be written: exit 6, no part left behind" {
	# the parts are committed first, the descriptor last: when the
	# descriptor fails, the committed parts were left, half a bundle
	mkdir -p out/b.tar.zst.parts.json
	run --separate-stderr edge-pack --split 1M -o out/b.tar.zst "$PULLED"
	assert_failure 6
	assert_output ""
	assert_stderr_is "edge-pack: rename to out/b.tar.zst.parts.json: Is a directory"
	[ "$(ls -A out)" = b.tar.zst.parts.json ]
}

@test "pack: --split writes FILE.partNNN and FILE.parts.json; joined they are the bundle" {
	edge-pack -o whole.tar.zst "$PULLED" > whole.json
	run --separate-stderr edge-pack --split 3M -o site.tar.zst "$PULLED"
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	size=$(stat -c %s whole.tar.zst)
	n=$(( (size + 3145727) / 3145728 ))
	[ "$n" -ge 3 ]
	parts=()
	for i in $(seq 0 $((n - 1))); do parts+=("$(printf 'site.tar.zst.part%03d' "$i")"); done
	only_files whole.json whole.tar.zst out.json site.tar.zst.parts.json "${parts[@]}"
	cat "${parts[@]}" | cmp - whole.tar.zst
	for p in "${parts[@]::${#parts[@]}-1}"; do [ "$(stat -c %s "$p")" = 3145728 ]; done
	whole=$(sha whole.tar.zst)
	jqv -f out.json .bundle.path .bundle.digest .bundle.size
	[ "${J[0]}" = site.tar.zst.parts.json ]
	[ "${J[1]}" = "sha256:$whole" ]
	[ "${J[2]}" = "$size" ]
	# the parts descriptor: each part's name, size and digest, in order
	jqv -f site.tar.zst.parts.json .apiVersion .bundle .digest .size '.parts | length' \
		'.parts[] | "\(.name) \(.size) \(.digest)"'
	[ "${J[0]}" = edge.parts/v1 ]
	[ "${J[1]}" = site.tar.zst ]
	[ "${J[2]}" = "sha256:$whole" ]
	[ "${J[3]}" = "$size" ]
	[ "${J[4]}" = "$n" ]
	want=""
	for p in "${parts[@]}"; do want+="${want:+$'\n'}$p $(stat -c %s "$p") sha256:$(sha "$p")"; done
	[ "${J[5]}" = "$want" ]
	# without -o the parts take the bundle's name
	mkdir def && cd def
	edge-pack --split 4M "$PULLED" > out.json
	[ "$(jq -r .bundle.path out.json)" = "core-site-$(sha ../whole.tar.zst | cut -c1-12).tar.zst.parts.json" ]
	cat core-site-*.tar.zst.part[0-9][0-9][0-9] | cmp - ../whole.tar.zst
}

@test "pack: the manifest it prints passes the schema, with --split too" {
	edge-pack "$PULLED" > out.json
	run validate out.json
	assert_success
	assert_output ""
	# the schema's bundle.parts is a list of files {path, digest, size}
	edge-pack --split 4M -o s.tar.zst "$PULLED" > split.json
	run validate split.json
	assert_success
	assert_output ""
}

# --- errors -------------------------------------------------------------------

@test "pack: usage errors: bad --level, --threads, --split, -o -, options, arguments" {
	local -a cases=(
		"--level 0|edge-pack: --level: expected a whole number from 1 to 19, got '0'"
		"--level 20|edge-pack: --level: expected a whole number from 1 to 19, got '20'"
		"--level fast|edge-pack: --level: expected a whole number from 1 to 19, got 'fast'"
		"--threads 0|edge-pack: --threads: expected a whole number from 1 to 256, got '0'"
		"--split 1000|edge-pack: --split: parts must be at least 1M, got '1000'"
		"--split 512K|edge-pack: --split: parts must be at least 1M, got '512K'"
		"--split 3x|edge-pack: --split: expected a size such as 64M or 4G, got '3x'"
		"-o -|edge-pack: -o: a file name is needed (stdout carries the manifest)"
		"--name a/b|edge-pack: --name: "
		"--bogus|edge-pack: unrecognized option '--bogus'"
		"$PULLED|edge-pack: unexpected argument '$PULLED'"
	)
	local c
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # the options are words
		run --separate-stderr edge-pack ${c%%|*} "$PULLED"
		assert_failure 2
		assert_output ""
		[[ "$stderr" == "${c#*|}"* ]] || { echo "for '${c%%|*}': $stderr" >&2; return 1; }
		assert_stderr_contains "try 'edge-pack --help'"
	done
	[ "$(ls -A)" = "" ]
	run --separate-stderr edge-pack --help
	assert_success
	assert_line --partial "--split SIZE"
	[ "$stderr" = "" ]
}

@test "pack: no store in the manifest: exit 3; a missing store: exit 6" {
	jq 'del(.store)' "$PULLED" > nostore.json
	run --separate-stderr edge-pack nostore.json
	assert_failure 3
	assert_output ""
	assert_stderr_is 'edge-pack: the manifest has no "store": run edge-pull first, or give --store DIR'
	run --separate-stderr edge-pack --store nosuch "$PULLED"
	assert_failure 6
	assert_stderr_is "edge-pack: store nosuch: no such store"
	only_files nostore.json
}

@test "pack: an entry without a digest, a failed entry, nothing pulled: exit 3 naming it" {
	jq 'del(.images[1].digest)' "$PULLED" > m1.json
	run --separate-stderr edge-pack m1.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-pack: images[1]: $(jq -r '.images[1].ref' "$PULLED") has no digest: run edge-pull first"
	jq 'del(.charts[0].digest)' "$PULLED" > m2.json
	run --separate-stderr edge-pack m2.json
	assert_failure 3
	assert_stderr_is "edge-pack: charts[0]: $SRC/test/charts/demo:0.1.0 has no digest: run edge-pull first"
	jq '.images[2].error = "nope: not found"' "$PULLED" > m3.json
	run --separate-stderr edge-pack m3.json
	assert_failure 3
	assert_stderr_is "edge-pack: images[2]: $(jq -r '.images[2].ref' "$PULLED") failed to pull: nope: not found"
	jq '.images = [] | .charts = [] | del(.definition)' "$PULLED" > m4.json
	run --separate-stderr edge-pack m4.json
	assert_failure 3
	assert_stderr_is "edge-pack: the manifest names no pulled image, chart or definition: nothing to pack"
	run --separate-stderr edge-pack <<< '{"apiVersion": "edge.manifest/v2"}'
	assert_failure 3
	only_files m1.json m2.json m3.json m4.json
}

@test "pack: a store manifest edited by hand: a short digest or a CR LF media type is refused (exit 3), nothing written" {
	cp -r "$STORE" store
	chmod -R u+w store
	jq '.store = "store"' "$PULLED" > m.json
	m=$(test_image_digest test/app1:1)
	# a foreign layer whose digest "x" was read 7 bytes past its end
	jq -c '.layers += [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "x", size: 1, urls: ["http://127.0.0.1:9/x"]}]' \
		"store/blobs/sha256/${m#sha256:}" > m1.json
	m1=$(python3 "$TOOL" store-reblob store "$m" m1.json m.json)
	[ "$(jq -r --arg r "$SRC/test/app1:1" '.images[] | select(.ref == $r) | .digest' m.json)" = "$m1" ]
	run --separate-stderr edge-pack -o b.tar.zst m.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-pack: $SRC/test/app1:1: manifest $m1: layers[3]: digest \"x\": expected \"sha256:\" and 64 lower-case hex digits"
	only_files m.json m1.json store
	# a CR LF in the media type of an index's child
	jq '.store = "store"' "$PULLED" > m.json
	c=$(test_image_digest 'test/multi:1@linux/amd64')
	jq -c '.mediaType += "\r\nX-Injected: yes"' "store/blobs/sha256/${c#sha256:}" > c1.json
	c1=$(python3 "$TOOL" store-reblob store "$c" c1.json m.json)
	run --separate-stderr edge-pack -o b.tar.zst m.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-pack: $SRC/test/multi:1: manifest $c1: media type \"application/vnd.oci.image.manifest.v1+json\\x0d\\x0aX-Injected: yes\" is not a type/subtype (RFC 6838)"
	only_files m.json m1.json c1.json store
}

@test "pack: a store missing a blob: exit 6 naming the image and the blob, nothing written" {
	cp -r "$STORE" store
	layer=$(test_image_digest 'test/app1:1#layer2')
	rm "store/blobs/sha256/${layer#sha256:}"
	jq '.store = "store"' "$PULLED" > m.json
	run --separate-stderr edge-pack m.json
	assert_failure 6
	assert_output ""
	assert_stderr_is "edge-pack: store store: $SRC/test/app1:1: blob $layer is missing (run edge-pull)"
	only_files m.json store
}

@test "pack: a store blob of the wrong size: exit 1, no bundle, no part, no temp file" {
	cp -r "$STORE" store
	layer=$(test_image_digest 'test/big:1#layer0')
	f="store/blobs/sha256/${layer#sha256:}"
	size=$(stat -c %s "$f")
	chmod u+w "$f"
	truncate -s $((size - 1)) "$f"
	jq '.store = "store"' "$PULLED" > m.json
	run --separate-stderr edge-pack m.json
	assert_failure 1
	assert_output ""
	assert_stderr_is "edge-pack: store store: $SRC/test/big:1: blob $layer is corrupt (not the $size bytes its descriptor says)"
	only_files m.json store
	assert_no_file core-site-packing.tar.zst
	truncate -s $((size + 1)) "$f"
	run --separate-stderr edge-pack --split 1M -o s.tar.zst m.json
	assert_failure 1
	assert_stderr_is "edge-pack: store store: $SRC/test/big:1: blob $layer is corrupt (not the $size bytes its descriptor says)"
	only_files m.json store
}

@test "pack: a store blob changed in place (same size): exit 1 naming it, nothing left; --trust-store packs it" {
	# SPEC 4: a store can rot or be edited by hand; edge-pack re-hashes
	# every blob as it reads it, so a bad one is not signed and carried away
	cp -r "$STORE" store
	jq '.store = "store"' "$PULLED" > m.json
	# a layer of several frames, changed in its second; a one-frame config
	layer=$(test_image_digest 'test/big:1#layer0')
	config=$(test_image_digest 'test/app1:1#config')
	for d in "$layer" "$config"; do
		cp -r store keep
		f="store/blobs/sha256/${d#sha256:}"
		chmod u+w "$f"
		if [ "$d" = "$layer" ]; then
			printf 'X' | dd of="$f" bs=1 seek=6000000 conv=notrunc 2> /dev/null
		else
			printf ' ' | dd of="$f" bs=1 seek=0 conv=notrunc 2> /dev/null
		fi
		got=$(sha256sum "$f" | cut -d' ' -f1)
		want="edge-pack: store store: blob $d is corrupt: its content has digest sha256:$got (remove it and run edge-pull again)"
		for args in "-o b.tar.zst" "" "--split 1M" "--threads 1 --level 1"; do
			# shellcheck disable=SC2086
			run --separate-stderr edge-pack $args m.json
			assert_failure 1
			assert_output ""
			assert_stderr_is "$want"
			only_files m.json store keep
		done
		# unsafe: packed as it is, and found at the site
		run --separate-stderr edge-pack -q --trust-store -o b.tar.zst m.json
		assert_success
		run --separate-stderr edge-verify b.tar.zst
		assert_failure 1
		assert_output ""
		assert_stderr_contains "b.tar.zst: blob $d: digest mismatch"
		rm -rf store b.tar.zst
		mv keep store
	done
	# the good store packs the same bytes with and without the check
	edge-pack -q -o checked.tar.zst m.json > /dev/null
	edge-pack -q --trust-store -o trusted.tar.zst m.json > /dev/null
	cmp checked.tar.zst trusted.tar.zst
}

@test "pack: a FIFO as the manifest: exit 3 at once" {
	mkfifo m.json
	run --separate-stderr timeout 10 edge-pack m.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-pack: m.json: not a regular file"
}

@test "pack: interrupted (SIGINT, SIGTERM): no bundle, no part, no temp file" {
	# level 19 on one thread keeps edge-pack busy for seconds here
	for sig in INT TERM; do
		for delay in 0.05 0.3; do
			run timeout -s $sig $delay edge-pack --level 19 --threads 1 -o b.tar.zst "$PULLED"
			assert_failure 124
			[ "$(ls -A)" = "" ] || { echo "after SIG$sig at $delay s: $(ls -A)" >&2; return 1; }
			run timeout -s $sig $delay edge-pack --level 19 --threads 1 --split 1M "$PULLED"
			assert_failure 124
			[ "$(ls -A)" = "" ] || { echo "after SIG$sig at $delay s (--split): $(ls -A)" >&2; return 1; }
		done
	done
}

@test "pack: stdout on a full disk: exit 6" {
	run --separate-stderr bash -c 'edge-pack -o b.tar.zst "$1" > /dev/full' _ "$PULLED"
	assert_failure 6
	assert_stderr_is "edge-pack: write error on stdout: No space left on device"
}
