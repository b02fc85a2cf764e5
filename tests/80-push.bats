#!/usr/bin/env bats
# edge-push into real registries (plain, basic, token, TLS), through a
# fault-injecting proxy, from a bundle, a split bundle and a store; skopeo
# reads what it pushed. edge-verify --registry checks the result.

load test_helper
load registry

setup_file() {
	# a basic-auth and a token registry for the tests of credentials, each
	# under paths of its own (a registry started per test cost more than
	# what those tests push)
	registry_start basic basicreg || return 1
	registry_start token tokenreg || return 1
	export TOKENREG_TOKEN_LOG=$TOKEN_LOG
	# what a site receives: the store pulled for linux/amd64 (test/multi:1
	# is trimmed to one platform: its index has a digest of its own) and the
	# bundle packed from it
	site_setup_file --platform linux/amd64
	# per_test_setup reads this table into DIGEST (not one jq a look-up)
	jq -r '(.images[], .charts[]) | [.ref, .digest] | @tsv' "$PULLED" > "$BATS_FILE_TMPDIR/digests.tsv"
}

teardown_file() {
	stop_servers
}

# use_registry basicreg|tokenreg: setup_file's registry as $REGISTRY, with
# its REGISTRY_USER, REGISTRY_PASS, REGISTRY_PASS_FILE (and TOKEN_LOG)
use_registry() {
	local part v
	for part in "" _URL _USER _PASS _PASS_FILE _CA _CERT_DIR _MODE _DIR _STORAGE; do
		v="${1^^}_REGISTRY$part"
		printf -v "REGISTRY$part" '%s' "${!v}"
	done
	if [ "$1" = tokenreg ]; then TOKEN_LOG=$TOKENREG_TOKEN_LOG; fi
}

# target REG PATH REPO:TAG: the prefix rule's name of $SRC/REPO:TAG under
# REG/PATH ("127.0.0.1:5000" becomes the path component "127.0.0.1_5000")
target() {
	echo "$1/$2/${SRC/:/_}/$3"
}

# the tests read ${DIGEST["$SRC/REPO:TAG"]} (registry.bash's digest_of)
per_test_setup() {
	pulled_digest_table "$BATS_FILE_TMPDIR/digests.tsv" 7
}

# raw_digest REG REF: sha256 of the manifest the registry serves for REF
# (registry_digests: one python client, not skopeo, as the peer)
raw_digest() {
	registry_digests "$1" "$2"
}

# assert_pushed OUT REG PATH [SKOPEO-REF...]: every image and chart of OUT
# is in pushed[] with the prefix rule's target and the entry's digest, and
# the registry serves exactly that manifest there (all seven read by one
# registry_digests); skopeo inspect agrees for test/multi:1 (the index) and
# the SKOPEO-REFs (a skopeo run per ref was most of this suite's CPU)
assert_pushed() {
	local out=$1 reg=$2 path=$3 ref want tgt got gotd i=0 counted=""
	shift 3
	local -a a refs wants tgts
	mapfile -t a < <(registry_skopeo_args "$reg")
	# one line per entry (ref, digest, and pushed[]'s target and digest
	# for that ref), then the entry and pushed[] counts
	while IFS=$'\t' read -r ref want got gotd; do
		if [ "$ref" = "#" ]; then
			if [ "$want" != 7 ] || [ "$got" != "$want" ]; then
				echo "$want entries, $got pushed" >&2
				return 1
			fi
			counted=1
			continue
		fi
		tgt="$reg/$path/${SRC/:/_}/${ref#"$SRC"/}"
		got+=$'\t'$gotd
		[ "$got" = "$tgt"$'\t'"$want" ] || { echo "pushed[] for $ref: '$got', expected '$tgt $want'" >&2; return 1; }
		refs+=("$ref") wants+=("$want") tgts+=("$tgt")
	done < <(jq -r '. as $m | ([.images[], .charts[]] | .[] | .ref as $r |
		[$m.pushed[] | select(.ref == $r)] as $p |
		[$r, .digest, (if ($p | length) == 1 then $p[0].target else "\($p | length) entries" end), $p[0].digest // ""]),
		["#", ([.images[], .charts[]] | length), (.pushed | length)] | @tsv' "$out")
	if [ -z "$counted" ] || [ ${#refs[@]} != 7 ]; then
		echo "${#refs[@]} entries read from $out" >&2
		return 1
	fi
	while read -r got; do
		[ "$got" = "${wants[i]}" ] || { echo "${tgts[i]}: registry serves another manifest ($got)" >&2; return 1; }
		i=$((i + 1))
	done < <(registry_digests "$reg" "${tgts[@]}")
	[ "$i" = 7 ] || { echo "registry_digests gave $i lines" >&2; return 1; }
	for ref in multi:1 "$@"; do
		got=$(skopeo inspect "${a[@]}" --format '{{.Digest}}' "docker://$reg/$path/${SRC/:/_}/test/$ref")
		[ "$got" = "${DIGEST["$SRC/test/$ref"]}" ] || { echo "skopeo inspect test/$ref: $got" >&2; return 1; }
	done
}

# no_line ERE: no line of stdin matches ERE (a bare "! grep" cannot fail a
# bats test unless it is the test's last command)
no_line() {
	if grep -E -- "$1"; then
		echo "unexpected line(s) matching: $1" >&2
		return 1
	fi
}

# summary_line: the count line edge-push -v ends with (from $stderr)
summary_line() {
	grep -E '^edge-push: [0-9]+ blobs uploaded' <<< "$stderr"
}

# --- plain registries, names, reruns ---------------------------------------

@test "push: a bundle into a plain registry: pushed[], digests as skopeo sees them" {
	run --separate-stderr edge-push --plain-http --registry "$DST/site" "$BUNDLE"
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	assert_pushed out.json "$DST" site base:1 v2s2:1
	# the trimmed index went up as stored, not as the source registry has it
	[ "${DIGEST["$SRC/test/multi:1"]}" != "$(test_image_digest test/multi:1)" ]
	[ "$(jq -r --arg r "$SRC/test/multi:1" '.images[] | select(.ref == $r) | .sourceDigest' out.json)" = "$(test_image_digest test/multi:1)" ]
	# the manifest is bundle.json's, with the bundle named as given
	[ "$(jq -r .bundle.path out.json)" = "$BUNDLE" ]
	[ "$(jq -r 'has("blobs")' out.json)" = false ]
	[ "$(jq -r .name out.json)" = site ]
	# skopeo can pull what was pushed
	skopeo copy -q --src-tls-verify=false "docker://$DST/site/${SRC/:/_}/test/app1:1" dir:app1
	[ "$(sha256sum < app1/manifest.json | cut -d' ' -f1)" = "$(digest_of test/app1:1 | cut -d: -f2)" ]
}

@test "push: the manifest on stdin names the bundle; from a store; the Docker schema 2 image keeps its type" {
	run --separate-stderr edge-push --plain-http --registry "$DST/stdin" < "$PACKED"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq '.pushed | length')" = 7 ]
	[ "$(echo "$output" | jq -r .store)" = "$STORE" ]
	jq 'del(.bundle)' "$PACKED" > store.json
	run --separate-stderr edge-push --plain-http --registry "$DST/fromstore" store.json
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	assert_pushed out.json "$DST" fromstore
	curl -sfI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$(target "$DST" fromstore test/v2s2 | sed 's|/|/v2/|')/manifests/1" > head.txt
	grep -qi '^content-type: application/vnd.docker.distribution.manifest.v2+json' head.txt
}

@test "push: the prefix rule keeps the source host, its port as _PORT" {
	jq -n --arg r "$SRC/test/base:1" --arg d "${DIGEST["$SRC/test/base:1"]}" --arg s "$STORE" \
		'{apiVersion: "edge.manifest/v1", images: [{ref: $r, digest: $d}], store: $s}' > m.json
	run --separate-stderr edge-push --plain-http --registry "$DST" m.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.pushed[0].target')" = "$DST/${SRC/:/_}/test/base:1" ]
	[ "$(echo "$output" | jq -r '.pushed[0].target')" = "$DST/127.0.0.1_${SRC#127.0.0.1:}/test/base:1" ]
	# a trailing slash is the same target
	run --separate-stderr edge-push --plain-http --registry "$DST/deep/er/" m.json
	assert_success
	[ "$(echo "$output" | jq -r '.pushed[0].target')" = "$DST/deep/er/${SRC/:/_}/test/base:1" ]
	[ "$(raw_digest "$DST" "$DST/deep/er/${SRC/:/_}/test/base:1")" = "${DIGEST["$SRC/test/base:1"]}" ]
}

@test "push: --mapping rules: longest prefix wins, at a path boundary; others fall back to --registry" {
	run --separate-stderr edge-push --plain-http --registry "$DST/fallback" \
		--mapping "$SRC/test=$DST/m1" --mapping "$SRC/test/app1=$DST/m2/special" \
		--mapping "$SRC/test/ba=$DST/nope" --mapping "$SRC/test/charts/=$DST/charts/" \
		--mapping "other.example/test=$DST/nope" "$BUNDLE"
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	t() { jq -r --arg r "$SRC/$1" '.pushed[] | select(.ref == $r) | .target' out.json; }
	[ "$(t test/app1:1)" = "$DST/m2/special:1" ]
	[ "$(t test/app2:1)" = "$DST/m1/app2:1" ]
	[ "$(t test/base:1)" = "$DST/m1/base:1" ] # not "$SRC/test/ba" + "se"
	[ "$(t test/multi:1)" = "$DST/m1/multi:1" ]
	[ "$(t test/charts/demo:0.1.0)" = "$DST/charts/demo:0.1.0" ]
	[ "$(raw_digest "$DST" "$DST/m2/special:1")" = "${DIGEST["$SRC/test/app1:1"]}" ]
	[ "$(raw_digest "$DST" "$DST/charts/demo:0.1.0")" = "${DIGEST["$SRC/test/charts/demo:0.1.0"]}" ]
	# a rule for one image, --registry for the rest
	run --separate-stderr edge-push --plain-http --registry "$DST/rest" --mapping "$SRC/test/app1:1=$DST/pinned/app:v1" "$BUNDLE"
	assert_success
	echo "$output" > out.json
	[ "$(t test/app1:1)" = "$DST/pinned/app:v1" ]
	[ "$(t test/app2:1)" = "$DST/rest/${SRC/:/_}/test/app2:1" ]
	[ "$(t test/charts/demo:0.1.0)" = "$DST/rest/${SRC/:/_}/test/charts/demo:0.1.0" ]
	[ "$(raw_digest "$DST" "$DST/pinned/app:v1")" = "${DIGEST["$SRC/test/app1:1"]}" ]
}

@test "push: --mapping without --registry: every ref must match; a bad result is invalid input" {
	run --separate-stderr edge-push --plain-http --mapping "$SRC/test=$DST/only" "$BUNDLE"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '[.pushed[].target] | map(startswith("'"$DST"'/only/")) | all')" = true ]
	# a ref no rule matches, and no --registry: exit 2 before anything is pushed
	run --separate-stderr edge-push --plain-http --mapping "$SRC/test/app1=$DST/nomatch" "$BUNDLE"
	assert_failure 2
	assert_output ""
	assert_stderr_is "edge-push: $SRC/test/app2:1: no --registry and no --mapping for it"
	run skopeo inspect --raw --tls-verify=false "docker://$DST/nomatch:1"
	assert_failure
	# a rule that makes an invalid name: exit 3 naming the ref and the name
	run --separate-stderr edge-push --plain-http --mapping "$SRC/test=$DST/UPPER" "$BUNDLE"
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-push: target of $SRC/test/app1:1: invalid reference \"$DST/UPPER/app1:1\": repository name must be lowercase"
}

@test "push: a second push uploads nothing; shared layers are mounted, uploaded once" {
	run --separate-stderr edge-push -v --plain-http --registry "$DST/twice" "$BUNDLE"
	assert_success
	echo "$stderr" > first.log
	# below the default --chunk-size (64M) every blob goes in one PUT
	no_line ' PATCH ' < first.log
	layer0=$(test_image_digest 'test/base:1#layer0')
	# base's layers are in base, app1, app2 and v2s2: one upload, then mounts
	# from the repository that has it
	[ "$(grep -cE "^edge-push: PUT http://$DST/v2/twice/.*/blobs/uploads/[^ ]*digest=$layer0 -> 201" first.log)" = 1 ]
	grep -qE "^edge-push: POST http://$DST/v2/twice/${SRC/:/_}/test/[a-z0-9]+/blobs/uploads/\?mount=$layer0&from=twice/${SRC/:/_}/test/[a-z0-9]+ -> 201" first.log
	[[ "$(summary_line)" =~ ^edge-push:\ [0-9]+\ blobs\ uploaded\ \([0-9.]+\ MiB\),\ [1-9][0-9]*\ mounted,\ 0\ already\ there\;\ 7\ of\ 7\ entries\ pushed$ ]]
	run --separate-stderr edge-push -v --plain-http --registry "$DST/twice" "$BUNDLE"
	assert_success
	no_line 'POST .*/blobs/uploads/' <<< "$stderr"
	no_line '(PUT|PATCH) .*/blobs/uploads/' <<< "$stderr"
	[[ "$(summary_line)" =~ ^edge-push:\ 0\ blobs\ uploaded\ \(0.0\ MiB\),\ 0\ mounted,\ [1-9][0-9]*\ already\ there\;\ 7\ of\ 7\ entries\ pushed$ ]]
	echo "$output" > out.json
	assert_pushed out.json "$DST" twice
}

@test "push: a blob above --chunk-size goes up in PATCH chunks" {
	local layer size
	layer=$(test_image_digest 'test/big:1#layer0')
	size=$(test_image_size 'test/big:1#layer0')
	run --separate-stderr edge-push -v --plain-http --chunk-size 64K --registry "$DST/chunks" "$BUNDLE"
	assert_success
	echo "$stderr" > push.log
	# ceil(size / 64 KiB) PATCHes to big's upload, then one PUT without a body
	[ "$(grep -cE "^edge-push: PATCH http://$DST/v2/chunks/${SRC/:/_}/test/big/blobs/uploads/.* -> 202" push.log)" = $(( (size + 65535) / 65536 )) ]
	grep -qE "^edge-push: PUT http://$DST/v2/chunks/${SRC/:/_}/test/big/blobs/uploads/[^ ]*digest=$layer -> 201" push.log
	# blobs up to the chunk size go in one PUT: app1's config, 719 bytes
	cfg=$(test_image_digest 'test/app1:1#config')
	grep -qE "^edge-push: PUT http://$DST/v2/chunks/${SRC/:/_}/test/app1/blobs/uploads/[^ ]*digest=$cfg -> 201" push.log
	echo "$output" > out.json
	[ "$(raw_digest "$DST" "$DST/chunks/${SRC/:/_}/test/big:1")" = "${DIGEST["$SRC/test/big:1"]}" ]
	curl -sf "http://$DST/v2/chunks/${SRC/:/_}/test/big/blobs/$layer" | sha256sum | grep -q "^${layer#sha256:} "
}

@test "push: from a split bundle (.parts.json), directly and through the manifest" {
	edge-pack -q --store "$STORE" --split 1M -o site.tar.zst "$PULLED" > split.json
	[ -f site.tar.zst.parts.json ]
	[ "$(ls site.tar.zst.part* | wc -l)" -gt 5 ]
	run --separate-stderr edge-push --plain-http --registry "$DST/split" site.tar.zst.parts.json
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	assert_pushed out.json "$DST" split
	run --separate-stderr edge-push --plain-http --registry "$DST/split2" split.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq '.pushed | length')" = 7 ]
	[ "$(echo "$output" | jq -r '.bundle.path')" = site.tar.zst.parts.json ]
}

# --- credentials and TLS -----------------------------------------------------

@test "push: basic auth: --password-file, --password-stdin, \$EDGE_REGISTRY_PASSWORD, --cred-file" {
	use_registry basicreg
	run --separate-stderr edge-push --plain-http --registry "$REGISTRY/site" "$BUNDLE"
	assert_failure 5
	assert_output ""
	assert_stderr_contains "$REGISTRY: the registry asks for a user name and password; none given"
	run --separate-stderr edge-push --progress never --plain-http --registry "$REGISTRY/site" --username "$REGISTRY_USER" --password-file "$REGISTRY_PASS_FILE" "$BUNDLE"
	assert_success
	# (no piped progress line: a loaded machine may take over 5 s)
	assert_stderr_empty
	echo "$output" > out.json
	assert_pushed out.json "$REGISTRY" site
	# the bundle as an argument leaves stdin to the password
	run --separate-stderr edge-push --plain-http --registry "$REGISTRY/stdin" --username "$REGISTRY_USER" --password-stdin "$BUNDLE" <<< "$REGISTRY_PASS"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq '.pushed | length')" = 7 ]
	EDGE_REGISTRY_PASSWORD=$REGISTRY_PASS run --separate-stderr edge-push --plain-http --registry "$REGISTRY/env" --username "$REGISTRY_USER" "$BUNDLE"
	assert_success
	assert_stderr_empty
	jq -n --arg h "$REGISTRY" --arg u "$REGISTRY_USER" --arg p "$REGISTRY_PASS" '{image: [{endpoint: $h, username: $u, password: $p}], helm: []}' > creds.json
	chmod 600 creds.json
	run --separate-stderr edge-push --plain-http --registry "$REGISTRY/credfile" --cred-file creds.json "$BUNDLE"
	assert_success
	assert_stderr_empty
	[ "$(raw_digest "$REGISTRY" "$REGISTRY/credfile/${SRC/:/_}/test/multi:1")" = "${DIGEST["$SRC/test/multi:1"]}" ]
	# a wrong password: 5, the password never printed
	echo wrong > wrong.pass
	run --separate-stderr edge-push --plain-http --registry "$REGISTRY/bad" --username "$REGISTRY_USER" --password-file wrong.pass "$BUNDLE"
	assert_failure 5
	assert_output ""
	assert_stderr_contains "$REGISTRY: access to bad/${SRC/:/_}/test/"
	assert_stderr_contains "refused (HTTP 401)"
	no_line "$REGISTRY_PASS" <<< "$stderr"
	run skopeo inspect --raw --creds "$REGISTRY_USER:$REGISTRY_PASS" --tls-verify=false "docker://$REGISTRY/bad/${SRC/:/_}/test/base:1"
	assert_failure
}

@test "push: token auth, one image: a push-scoped token per repository" {
	use_registry tokenreg
	jq -n --arg r "$SRC/test/big:1" --arg d "${DIGEST["$SRC/test/big:1"]}" --arg s "$STORE" \
		'{apiVersion: "edge.manifest/v1", images: [{ref: $r, digest: $d}], store: $s}' > m.json
	run --separate-stderr edge-push --plain-http --registry "$REGISTRY/site" m.json
	assert_failure 5
	assert_output ""
	before=$(wc -l < "$TOKEN_LOG")
	run --separate-stderr edge-push --plain-http --registry "$REGISTRY/site" --username "$REGISTRY_USER" --password-file "$REGISTRY_PASS_FILE" m.json
	assert_success
	assert_stderr_empty
	# one token for the one repository, every thread sharing it
	[ $(( $(wc -l < "$TOKEN_LOG") - before )) = 1 ]
	tail -1 "$TOKEN_LOG" | jq -e --arg s "repository:site/${SRC/:/_}/test/big:pull,push" '.scope == [$s] and .user == "edgeuser"' > /dev/null
	no_line "$REGISTRY_PASS" < "$TOKEN_LOG"
	[ "$(raw_digest "$REGISTRY" "$REGISTRY/site/${SRC/:/_}/test/big:1")" = "${DIGEST["$SRC/test/big:1"]}" ]
}

# Shared layers are mounted from another repository: distribution asks for
# pull access to the "from" repository as well (a 401 naming both scopes).
@test "push: token auth, a whole bundle (cross-repository mounts)" {
	use_registry tokenreg
	run --separate-stderr edge-push --progress never --plain-http --registry "$REGISTRY/whole" --username "$REGISTRY_USER" --password-file "$REGISTRY_PASS_FILE" "$BUNDLE"
	assert_success
	# (no piped progress line: a loaded machine may take over 5 s)
	assert_stderr_empty
	echo "$output" > out.json
	assert_pushed out.json "$REGISTRY" whole
}

# A registry whose upload Location names another origin (the proxy's second
# listener, on another port): the upload goes there, but neither the
# password nor a token does, and that origin's 401 is not answered with them.
@test "push: credentials never follow an upload Location to another origin" {
	local mode
	jq -n --arg r "$SRC/test/base:1" --arg d "${DIGEST["$SRC/test/base:1"]}" --arg s "$STORE" \
		'{apiVersion: "edge.manifest/v1", images: [{ref: $r, digest: $d}], store: $s}' > m.json
	for mode in basic token; do
		use_registry "${mode}reg"
		fault_proxy_start foreign-location
		# a path nothing was pushed to: the blob is uploaded, not found
		run --separate-stderr edge-push --plain-http --jobs 1 --registry "$PROXY/foreign" --username "$REGISTRY_USER" --password-file "$REGISTRY_PASS_FILE" m.json
		assert_failure 5
		assert_output ""
		assert_stderr_contains ": HTTP 401 from another origin than the registry's (http://$PROXY): its credentials are not sent there"
		assert_stderr_contains " http://$PROXY_FOREIGN/v2/foreign/"
		# the registry's origin got the credentials, the other one never
		jq -s -e '[.[] | select(.listener == "main" and .authorization != null)] | length > 0' "$PROXY_LOG" > /dev/null
		jq -s -e '[.[] | select(.listener == "foreign")] | length > 0' "$PROXY_LOG" > /dev/null
		jq -s -e '[.[] | select(.listener == "foreign" and .authorization != null)] | length == 0' "$PROXY_LOG" > /dev/null
		no_line "$REGISTRY_PASS" <<< "$stderr"
		stop_servers
		rm -f "$PROXY_LOG"
	done
}

@test "push: TLS with --ca-file, --insecure; refused without" {
	registry_start tls
	run --separate-stderr edge-push --registry "$REGISTRY/site" "$BUNDLE"
	assert_failure 4
	assert_output ""
	assert_stderr_contains "TLS certificate verification failed"
	run skopeo inspect --raw --cert-dir "$REGISTRY_CERT_DIR" "docker://$REGISTRY/site/${SRC/:/_}/test/base:1"
	assert_failure
	run --separate-stderr edge-push --ca-file "$REGISTRY_CA" --registry "$REGISTRY/site" "$BUNDLE"
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	assert_pushed out.json "$REGISTRY" site
	run --separate-stderr edge-push --insecure --registry "$REGISTRY/insecure" "$BUNDLE"
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq '.pushed | length')" = 7 ]
}

# --- faults -------------------------------------------------------------------

@test "push: intermittent 503 and 429 are retried" {
	REGISTRY=$DST fault_proxy_start 503,429 --every 5 --spare-retries
	run --separate-stderr edge-push --progress=never --plain-http --chunk-size 1M --registry "$PROXY/flaky" "$BUNDLE"
	assert_success
	assert_stderr_empty
	grep -q '"status": 503' "$PROXY_LOG"
	grep -q '"status": 429' "$PROXY_LOG"
	echo "$output" | sed "s|$PROXY/|$DST/|g" > out.json
	assert_pushed out.json "$DST" flaky
}

# cut-upload drops the first PATCH or PUT of each upload session: a client
# that opens a new session after a drop meets a new cut every time.
@test "push: uploads cut mid-body: the push completes" {
	REGISTRY=$DST fault_proxy_start cut-upload
	run --separate-stderr edge-push --progress never --plain-http --chunk-size 1M --registry "$PROXY/cut" "$BUNDLE"
	assert_success
	assert_stderr_empty
	grep -q '"fault": "cut-upload"' "$PROXY_LOG"
	echo "$output" | sed "s|$PROXY/|$DST/|g" > out.json
	assert_pushed out.json "$DST" cut
}

@test "push: a chunked upload cut or refused resumes from the registry's Range" {
	local layer size repo chunks
	layer=$(test_image_digest 'test/big:1#layer0')
	size=$(test_image_size 'test/big:1#layer0')
	repo="resume/${SRC/:/_}/test/big"
	# everything is there but big's layer: the only upload of the next push
	edge-push -q --plain-http --registry "$DST/resume" "$BUNDLE" > /dev/null
	curl -sf -X DELETE "http://$DST/v2/$repo/blobs/$layer"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -I "http://$DST/v2/$repo/blobs/$layer")" = 404 ]
	# the first PATCH is cut (nothing reaches the registry), the 6th upload
	# request after it answered 503
	REGISTRY=$DST fault_proxy_start cut-upload,503 --every 6 --match '/blobs/uploads/'
	run --separate-stderr edge-push -v --plain-http --chunk-size 1M --registry "$PROXY/resume" "$BUNDLE"
	assert_success
	grep -qE "^edge-push: upload of $layer interrupted at 0: asking the registry where it stands$" <<< "$stderr"
	grep -qE "^edge-push: upload of $layer interrupted at [1-9][0-9]*: asking the registry where it stands$" <<< "$stderr"
	# the status asked with GET on the upload URL, then on from its Range:
	# no chunk went to the registry twice
	jq -e -s 'map(select(.method == "GET" and (.path | test("/blobs/uploads/")) and .status == 204)) | length >= 2' "$PROXY_LOG"
	chunks=$(( (size + 1048575) / 1048576 ))
	[ "$(jq -s 'map(select(.method == "PATCH" and .status == 202)) | length' "$PROXY_LOG")" = "$chunks" ]
	[ "$(jq -s 'map(select(.method == "PATCH" and .fault == "cut-upload")) | length' "$PROXY_LOG")" = 1 ]
	[ "$(jq -s 'map(select(.method == "PATCH" and .status == 503)) | length' "$PROXY_LOG")" -ge 1 ]
	curl -sf "http://$DST/v2/$repo/blobs/$layer" | sha256sum | grep -q "^${layer#sha256:} "
	[ "$(raw_digest "$DST" "$DST/resume/${SRC/:/_}/test/big:1")" = "${DIGEST["$SRC/test/big:1"]}" ]
}

@test "push: a corrupt blob fails its image (exit 1, naming it), the others are pushed" {
	local own big
	cp -r "$STORE" store
	jq '.store = "store" | del(.bundle)' "$PACKED" > m.json
	own=$(test_image_digest 'test/app1:1#layer2')  # app1's own layer: monolithic
	big=$(test_image_digest 'test/big:1#layer0')   # above --chunk-size: chunked
	for b in "$own" "$big"; do
		chmod u+w "store/blobs/sha256/${b#sha256:}"
		printf '\377' | dd of="store/blobs/sha256/${b#sha256:}" bs=1 seek=50000 conv=notrunc status=none
	done
	run --separate-stderr edge-push -v --plain-http --chunk-size 1M --registry "$DST/corrupt" m.json
	assert_failure 1
	assert_output ""
	grep -qE "^edge-push: $SRC/test/app1:1: blob $own is corrupt \(content has sha256:[0-9a-f]{64}\)$" <<< "$stderr"
	grep -qE "^edge-push: $SRC/test/big:1: blob $big is corrupt \(content has sha256:[0-9a-f]{64}\)$" <<< "$stderr"
	grep -qx "edge-push: 2 of 7 entries were not pushed" <<< "$stderr"
	# the chunked upload was never committed, neither image was tagged
	no_line "PUT [^ ]*digest=$big" <<< "$stderr"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -I "http://$DST/v2/corrupt/${SRC/:/_}/test/big/blobs/$big")" = 404 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -I "http://$DST/v2/corrupt/${SRC/:/_}/test/app1/blobs/$own")" = 404 ]
	for t in app1:1 big:1; do
		run skopeo inspect --raw --tls-verify=false "docker://$DST/corrupt/${SRC/:/_}/test/$t"
		assert_failure
	done
	# the images that do not need those blobs are there
	for t in base:1 app2:1 multi:1; do
		[ "$(raw_digest "$DST" "$DST/corrupt/${SRC/:/_}/test/$t")" = "${DIGEST["$SRC/test/$t"]}" ]
	done
	# without -v: one line per failed image, then the count
	run --separate-stderr edge-push --plain-http --chunk-size 1M --registry "$DST/corrupt" m.json
	assert_failure 1
	[ "$(wc -l <<< "$stderr")" = 3 ]
}

# A blob several images share fails each of them: each line names its image.
@test "push: a corrupt shared layer fails every image that needs it, each named once" {
	local layer t
	cp -r "$STORE" store
	jq '.store = "store" | del(.bundle)' "$PACKED" > m.json
	layer=$(test_image_digest 'test/base:1#layer0') # in base, app1, app2 and v2s2
	chmod u+w "store/blobs/sha256/${layer#sha256:}"
	printf '\377' | dd of="store/blobs/sha256/${layer#sha256:}" bs=1 seek=5000 conv=notrunc status=none
	run --separate-stderr edge-push --plain-http --registry "$DST/shared" m.json
	assert_failure 1
	assert_output ""
	[ "$(wc -l <<< "$stderr")" = 5 ]
	for t in base:1 app1:1 app2:1 v2s2:1; do
		[ "$(grep -cE "^edge-push: $SRC/test/$t: blob $layer is corrupt \(content has sha256:[0-9a-f]{64}\)$" <<< "$stderr")" = 1 ] ||
			{ echo "no single line for test/$t" >&2; return 1; }
	done
	grep -qx "edge-push: 4 of 7 entries were not pushed" <<< "$stderr"
	[ "$(raw_digest "$DST" "$DST/shared/${SRC/:/_}/test/multi:1")" = "${DIGEST["$SRC/test/multi:1"]}" ]
}

@test "push: kill -9 mid-push, then a rerun completes and reuses what arrived" {
	local i
	# kill it later each time until some blob has arrived (a loaded machine
	# may need longer than an idle one before the first upload ends)
	for i in 0.05 0.1 0.2 0.4 0.8 1.6 3.2; do
		timeout -s KILL "$i" edge-push --plain-http --chunk-size 1M --registry "$DST/killed" "$BUNDLE" > /dev/null 2>&1 || true
		[ -n "$(find "$DST_REGISTRY_STORAGE/docker/registry/v2/repositories/killed" -path '*/_layers/sha256/*' -name link 2>/dev/null | head -1)" ] && break
	done
	run --separate-stderr edge-push -v --plain-http --registry "$DST/killed" "$BUNDLE"
	assert_success
	[[ "$(summary_line)" =~ \ [1-9][0-9]*\ already\ there ]]
	echo "$output" > out.json
	assert_pushed out.json "$DST" killed
}

# --- edge-verify --registry --------------------------------------------------

@test "verify --registry: exit 0 after a push; missing and different tags listed, exit 1" {
	edge-push -q --plain-http --registry "$DST/ver" "$BUNDLE" > pushed.json
	run --separate-stderr edge-verify --plain-http --registry "$DST/ver" pushed.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -S .)" = "$(jq -S . pushed.json)" ]
	# the connected side's manifest works as well (targets from the refs)
	run --separate-stderr edge-verify --plain-http --registry "$DST/ver" "$PACKED"
	assert_success
	assert_stderr_empty
	# base's manifest deleted, app2's tag moved to app1's manifest
	curl -sf -X DELETE "http://$DST/v2/ver/${SRC/:/_}/test/base/manifests/${DIGEST["$SRC/test/base:1"]}"
	skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
		"docker://$DST/ver/${SRC/:/_}/test/app1:1" "docker://$DST/ver/${SRC/:/_}/test/app2:1"
	run --separate-stderr edge-verify --plain-http --registry "$DST/ver" pushed.json
	assert_failure 1
	assert_output ""
	assert_stderr_is "edge-verify: $DST/ver/${SRC/:/_}/test/app2:1: digest ${DIGEST["$SRC/test/app1:1"]}, expected ${DIGEST["$SRC/test/app2:1"]} ($SRC/test/app2:1)
edge-verify: $DST/ver/${SRC/:/_}/test/base:1: missing ($SRC/test/base:1)
edge-verify: 2 of 7 entries missing or different in the registry"
	# another path: everything is missing
	run --separate-stderr edge-verify -q --plain-http --registry "$DST/elsewhere" pushed.json
	assert_failure 1
	[ "$(grep -c ': missing (' <<< "$stderr")" = 7 ]
	assert_stderr_contains "edge-verify: 7 of 7 entries missing or different in the registry"
}

@test "verify --registry with --mapping: the names edge-push gave" {
	edge-push -q --plain-http --mapping "$SRC/test=$DST/mapped" "$BUNDLE" > pushed.json
	run --separate-stderr edge-verify --plain-http --mapping "$SRC/test=$DST/mapped" pushed.json
	assert_success
	assert_stderr_empty
	run --separate-stderr edge-verify --plain-http --registry "$DST/fallback" --mapping "$SRC/test=$DST/mapped" pushed.json
	assert_success
	run --separate-stderr edge-verify --plain-http --registry "$DST/mapped" pushed.json
	assert_failure 1
	assert_stderr_contains "edge-verify: $DST/mapped/${SRC/:/_}/test/app1:1: missing ($SRC/test/app1:1)"
}

# --- digests, usage, input errors -----------------------------------------------

# A ref by digest names the source registry's index; the stored (trimmed)
# index has another digest: pushed[].target must name what the registry has.
@test "push: a ref by digest of a trimmed index: the target names the pushed digest" {
	local src
	src=$(test_image_digest test/multi:1)
	echo "$SRC/test/multi@$src" > images.txt
	cp -r "$STORE" store
	edge-resolve --images images.txt < /dev/null | edge-pull -q --plain-http --platform linux/amd64 --store store > m.json
	run --separate-stderr edge-push --plain-http --registry "$DST/bydigest" m.json
	assert_success
	assert_stderr_contains "edge-push: warning: $SRC/test/multi@$src: the stored index holds only the pulled platforms: it is pushed as "
	tgt=$(echo "$output" | jq -r '.pushed[0].target')
	[ "$(echo "$output" | jq -r '.pushed[0].digest')" = "${DIGEST["$SRC/test/multi:1"]}" ]
	[ "$(raw_digest "$DST" "$tgt")" = "${DIGEST["$SRC/test/multi:1"]}" ]
}

@test "push: --progress always draws a progress line" {
	run --separate-stderr edge-push --progress always --plain-http --registry "$DST/progress" "$BUNDLE"
	assert_success
	[[ "$stderr" == *"edge-push: "*blobs* ]]
	run --separate-stderr edge-push --progress never --plain-http --registry "$DST/progress" "$BUNDLE"
	assert_success
	assert_stderr_empty
}

@test "push: usage errors exit 2" {
	run --separate-stderr edge-push --plain-http "$BUNDLE"
	assert_failure 2
	assert_output ""
	assert_stderr_contains "edge-push: --registry is required (or --mapping rules covering every image)"
	assert_stderr_contains "try 'edge-push --help'"
	run --separate-stderr edge-push --registry "$DST/x" --mapping nosep "$BUNDLE"
	assert_failure 2
	assert_stderr_contains "edge-push: --mapping: expected SRC=DST, got 'nosep'"
	run --separate-stderr edge-push --registry "$DST/x" --mapping "=$DST/y" "$BUNDLE"
	assert_failure 2
	run --separate-stderr edge-push --registry "$DST/x" --mapping "$SRC/test=" "$BUNDLE"
	assert_failure 2
	run --separate-stderr edge-push --registry "$DST/x" --chunk-size 1 "$BUNDLE"
	assert_failure 2
	assert_stderr_contains "edge-push: --chunk-size: at least 4K, got '1'"
	run --separate-stderr edge-push --registry "$DST/x" --chunk-size lots "$BUNDLE"
	assert_failure 2
	run --separate-stderr edge-push --registry "http://$DST/x" "$BUNDLE"
	assert_failure 2
	assert_stderr_contains "edge-push: --registry: expected HOST[:PORT][/PATH], got 'http://$DST/x'"
	run --separate-stderr edge-push --registry "$DST/x" --username u --password-stdin < "$PACKED"
	assert_failure 2
	assert_stderr_contains "edge-push: --password-stdin needs the bundle or manifest as a file argument"
	run --separate-stderr edge-push --registry "$DST/x" "$BUNDLE" extra
	assert_failure 2
	assert_stderr_contains "edge-push: unexpected argument 'extra'"
	run --separate-stderr edge-push --registry "$DST/x" --jobs 0 "$BUNDLE"
	assert_failure 2
	run --separate-stderr edge-push --no-such-option
	assert_failure 2
	run --separate-stderr edge-push --help
	assert_success
	assert_stderr_empty
	assert_line --partial "--chunk-size SIZE"
}

@test "push: invalid input exits 3, a missing bundle or store 6, nothing pushed" {
	jq 'del(.bundle) | del(.store)' "$PACKED" > neither.json
	run --separate-stderr edge-push --plain-http --registry "$DST/bad" neither.json
	assert_failure 3
	assert_output ""
	assert_stderr_is 'edge-push: the manifest has neither "bundle" nor "store": nothing to push from'
	jq 'del(.images[0].digest)' "$PACKED" > nodigest.json
	run --separate-stderr edge-push --plain-http --registry "$DST/bad" nodigest.json
	assert_failure 3
	assert_stderr_is "edge-push: images[0]: $SRC/test/app1:1 has no digest: it was not pulled"
	run --separate-stderr edge-push --plain-http --registry "$DST/bad" < /dev/null
	assert_failure 3
	assert_stderr_is "edge-push: stdin: empty input, expected a manifest"
	jq '.bundle.path = "nosuch.tar.zst"' "$PACKED" > nobundle.json
	run --separate-stderr edge-push --plain-http --registry "$DST/bad" nobundle.json
	assert_failure 6
	assert_stderr_is "edge-push: nobundle.json: bundle.path: open nosuch.tar.zst: No such file or directory"
	jq 'del(.bundle) | .store = "nostore"' "$PACKED" > nostore.json
	run --separate-stderr edge-push --plain-http --registry "$DST/bad" nostore.json
	assert_failure 6
	assert_stderr_is "edge-push: nostore.json: store nostore: no such store"
	run --separate-stderr edge-push --plain-http --registry "$DST/bad" nosuch.tar.zst.parts.json
	assert_failure 6
	assert_stderr_is "edge-push: open nosuch.tar.zst.parts.json: No such file or directory"
	run skopeo inspect --raw --tls-verify=false "docker://$DST/bad/${SRC/:/_}/test/base:1"
	assert_failure
}

# listener LOG: a registry stand-in on 127.0.0.1 that writes every request
# line and header it gets to LOG and answers 500; sets PORT
listener() {
	start_server listener listener.port python3 -c '
import http.server, os, sys
log = open(sys.argv[1], "ab", buffering=0)
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def any(self):
        log.write(self.requestline.encode() + b"\n" + bytes(self.headers))
        self.send_response(500); self.send_header("Content-Length", "0"); self.end_headers()
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = any
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open("listener.port.tmp", "w").write(str(s.server_address[1])); os.rename("listener.port.tmp", "listener.port")
s.serve_forever()' "$1"
}

@test "push: a bundle with an index child digest \"x\" or a CR LF media type is refused before any request (exit 3)" {
	python3 "$TOP/tests/fixtures/bundle-tool.py" unpack "$BUNDLE" site.tar
	: > requests.log
	listener requests.log
	idx=${DIGEST["$SRC/test/multi:1"]}
	tar -xOf site.tar "blobs/sha256/${idx#sha256:}" | jq -c '.manifests[0].digest = "x"' > i1.json
	python3 "$TOP/tests/fixtures/bundle-tool.py" edit site.tar short.tar reblob "blobs/sha256/${idx#sha256:}" i1.json
	python3 "$TOP/tests/fixtures/bundle-tool.py" pack short.tar short.tar.zst --frames --seek-table
	run --separate-stderr edge-push --plain-http --registry "127.0.0.1:$PORT/x" short.tar.zst
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-push: $SRC/test/multi:1: manifest sha256:$(sha256sum i1.json | cut -d' ' -f1): manifests[0]: digest \"x\": expected \"sha256:\" and 64 lower-case hex digits"
	# a header injection through the child manifest's mediaType
	c=$(test_image_digest 'test/multi:1@linux/amd64')
	tar -xOf site.tar "blobs/sha256/${c#sha256:}" | jq -c '.mediaType += "\r\nX-Injected: yes"' > c1.json
	python3 "$TOP/tests/fixtures/bundle-tool.py" edit site.tar crlf.tar reblob "blobs/sha256/${c#sha256:}" c1.json
	python3 "$TOP/tests/fixtures/bundle-tool.py" pack crlf.tar crlf.tar.zst --frames --seek-table
	run --separate-stderr edge-push --plain-http --registry "127.0.0.1:$PORT/x" crlf.tar.zst
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-push: $SRC/test/multi:1: manifest sha256:$(sha256sum c1.json | cut -d' ' -f1): media type \"application/vnd.oci.image.manifest.v1+json\\x0d\\x0aX-Injected: yes\" is not a type/subtype (RFC 6838)"
	# not one request went out, so no header either
	[ ! -s requests.log ]
	# edge-verify refuses that bundle too
	run --separate-stderr edge-verify crlf.tar.zst
	assert_failure 1
}

# Same failure, same status as edge-verify BUNDLE and a manifest's
# bundle.path: a missing bundle file is a local I/O failure (6), not a bad
# manifest (3).
@test "push: a missing bundle file given as the argument exits 6" {
	run --separate-stderr edge-push --plain-http --registry "$DST/bad" nosuch.tar.zst
	assert_failure 6
	assert_output ""
	assert_stderr_is "edge-push: open nosuch.tar.zst: No such file or directory"
}

@test "push: a FIFO as the bundle, a part or the manifest's bundle: exit 3 at once" {
	mkfifo f.tar.zst
	run --separate-stderr timeout 10 edge-push --plain-http --registry "$DST/bad" f.tar.zst
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-push: f.tar.zst: not a regular file"
	jq '.bundle.path = "f.tar.zst"' "$PACKED" > fifo.json
	run --separate-stderr timeout 10 edge-push --plain-http --registry "$DST/bad" fifo.json
	assert_failure 3
	assert_stderr_is "edge-push: fifo.json: bundle.path: f.tar.zst: not a regular file"
	edge-pack -q --store "$STORE" --split 1M -o s.tar.zst "$PULLED" > /dev/null
	rm s.tar.zst.part001
	mkfifo s.tar.zst.part001
	run --separate-stderr timeout 10 edge-push --plain-http --registry "$DST/bad" s.tar.zst.parts.json
	assert_failure 3
	assert_stderr_is "edge-push: s.tar.zst.part001: not a regular file"
}

# --- issue 10: the bundle argument, manifest paths, truncation ---------------

@test "push: a manifest's paths are relative to its own directory, and a missing bundle names the manifest" {
	# issue 10 item 4: "cd sub; edge-push ../site.manifest.json" looked for the bundle in sub/
	cp "$BUNDLE" site.tar.zst
	jq '.bundle.path = "site.tar.zst"' "$PACKED" > site.manifest.json
	mkdir sub
	cd sub
	run --separate-stderr edge-push --plain-http --registry "$DST/rel" ../site.manifest.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.bundle.path')" = site.tar.zst ] # as the manifest gave it
	[ "$(echo "$output" | jq '.pushed | length')" = 7 ]
	# from stdin, paths stay relative to the current directory
	run --separate-stderr edge-push --plain-http --registry "$DST/rel" < ../site.manifest.json
	assert_failure 6
	assert_output ""
	assert_stderr_is "edge-push: stdin: bundle.path: open site.tar.zst: No such file or directory"
	rm ../site.tar.zst
	run --separate-stderr edge-push --plain-http --registry "$DST/rel" ../site.manifest.json
	assert_failure 6
	assert_stderr_is "edge-push: ../site.manifest.json: bundle.path: open ../site.tar.zst: No such file or directory"
}

@test "push: a split bundle by FILE, by its descriptor, or by a glob the shell did not match" {
	# issue 10 item 1: the walkthrough's core-site-*.tar.zst beside a split bundle
	edge-pack -q --store "$STORE" --split 1M -o core-site-0123456789ab.tar.zst "$PULLED" > split.json
	[ ! -e core-site-0123456789ab.tar.zst ]
	run --separate-stderr edge-push --plain-http --registry "$DST/glob" core-site-0123456789ab.tar.zst
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.bundle.path')" = core-site-0123456789ab.tar.zst.parts.json ]
	run --separate-stderr edge-push --plain-http --registry "$DST/glob" 'core-site-*.tar.zst'
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq '.pushed | length')" = 7 ]
	run --separate-stderr edge-push --plain-http --registry "$DST/glob" 'core-site-*'
	assert_success
	# two bundles: which one is meant is not guessed
	edge-pack -q --store "$STORE" --split 1M -o core-site-ba9876543210.tar.zst "$PULLED" > /dev/null
	run --separate-stderr edge-push --plain-http --registry "$DST/glob" 'core-site-*.tar.zst'
	assert_failure 2
	assert_output ""
	assert_stderr_contains "edge-push: core-site-*.tar.zst matches 2 bundles (core-site-0123456789ab.tar.zst.parts.json, core-site-ba9876543210.tar.zst.parts.json): name one"
	run --separate-stderr edge-push --plain-http --registry "$DST/glob" 'nosuch-*.tar.zst'
	assert_failure 6
	assert_stderr_is "edge-push: open nosuch-*.tar.zst: No such file or directory"
}

@test "push: a truncated bundle says truncated (exit 1), not 'not a bundle'" {
	# issue 10 item 9
	size=$(stat -c %s "$BUNDLE")
	head -c $((size / 2)) "$BUNDLE" > cut.tar.zst
	run --separate-stderr edge-push --plain-http --registry "$DST/trunc" cut.tar.zst
	assert_failure 1
	assert_output ""
	assert_stderr_is "edge-push: cut.tar.zst: truncated (the file ends inside a zstd frame, before the seek table)"
	# cut inside the seek table
	head -c $((size - 20)) "$BUNDLE" > cut2.tar.zst
	run --separate-stderr edge-push --plain-http --registry "$DST/trunc" cut2.tar.zst
	assert_failure 1
	assert_stderr_is "edge-push: cut2.tar.zst: truncated (the file ends inside a zstd frame, before the seek table)"
	run skopeo inspect --raw --tls-verify=false "docker://$DST/trunc/${SRC/:/_}/test/base:1"
	assert_failure
}

@test "push: a full stdout fails (exit 6) with one error line" {
	run --separate-stderr bash -c 'edge-push --plain-http --registry "$1" "$2" > /dev/full' _ "$DST/full" "$BUNDLE"
	assert_failure 6
	[ "$(wc -l <<< "$stderr")" = 1 ]
	assert_stderr_contains "No space left on device"
}
