#!/usr/bin/env bats
# HTTP/2 multiplexing: against a real registry (CNCF distribution) over TLS,
# which offers h2 by ALPN, and the same registry with HTTP/2 disabled. Once
# an origin has answered in HTTP/2, edge runs its later transfers to it on
# one connection; -v names each transfer's HTTP version and local port, and
# the registry's own log names each request's remote address, so both sides
# can be counted.

load test_helper
load registry

IMAGES="base app1 app2 multi big"

setup_file() {
	registry_start tls h2
	seed_images "$REGISTRY" $IMAGES
	export H2="$REGISTRY" H2_CA="$REGISTRY_CA" H2_DIR="$REGISTRY_DIR" H2_DATA="$REGISTRY_STORAGE"
	# the same storage, served in HTTP/1.1 only
	REGISTRY_DATA="$H2_DATA" registry_start tls+h1 h1
	export H1="$REGISTRY" H1_CA="$REGISTRY_CA"
}

teardown_file() {
	stop_servers
}

# images FILE REGISTRY: the test images under REGISTRY, one a line
imglist() {
	local t
	: >"$1"
	for t in $IMAGES; do echo "$2/test/$t:1" >>"$1"; done
}

# the remote ports of the requests the registry logged since line $2 of
# its log $1, one a line (a port per request)
server_ports() {
	tail -n +"$2" "$1" | grep 'msg="response completed' |
		sed -nE 's/.*http\.request\.remoteaddr="?127\.0\.0\.1:([0-9]+)"?.*/\1/p'
}

# check_mux LOG REGLOG FROM TOOL: the transfers of LOG (edge -v) were HTTP/2,
# the multiplexed ones (there are some) all on one connection, and the
# registry counted the same requests on the same connections
check_mux() {
	local log=$1 reglog=$2 from=$3 tool=$4 port n total
	grep -E "^$tool: [A-Z]+ https://$H2/.* -> [0-9]+ \(" "$log" >transfers.txt
	total=$(wc -l <transfers.txt)
	[ "$total" -gt 0 ]
	if grep -vE ', HTTP/2, local port [0-9]+' transfers.txt; then
		echo "transfers above were not HTTP/2" >&2
		return 1
	fi
	grep -E ', multiplexed\)$' transfers.txt >mux.txt || true
	n=$(wc -l <mux.txt)
	# the first response of each worker teaches edge that the origin
	# speaks h2; every later one is multiplexed
	[ "$n" -ge $((total - 4)) ] || { echo "$n of $total transfers multiplexed" >&2; return 1; }
	[ "$n" -ge 5 ]
	sed -nE 's/.*, local port ([0-9]+), multiplexed\)$/\1/p' mux.txt | sort -u >mux-ports.txt
	[ "$(wc -l <mux-ports.txt)" = 1 ] || { echo "multiplexed over several connections:" >&2; cat mux-ports.txt >&2; return 1; }
	port=$(cat mux-ports.txt)
	# the registry saw those requests on that one connection, and no more
	# connections than edge named
	server_ports "$reglog" "$from" >server-ports.txt
	[ "$(grep -cx "$port" server-ports.txt)" = "$n" ] ||
		{ echo "registry: $(grep -cx "$port" server-ports.txt) requests on port $port, edge: $n" >&2; return 1; }
	[ "$(wc -l <server-ports.txt)" = "$total" ]
	[ "$(sort -u server-ports.txt | wc -l)" = "$(sed -nE 's/.*, local port ([0-9]+).*/\1/p' transfers.txt | sort -u | wc -l)" ]
	[ "$(sort -u server-ports.txt | wc -l)" -le 5 ]
}

@test "h2: a pull with --jobs 4 multiplexes over one connection; the store is byte-identical to a pull over HTTP/1.1" {
	local from
	imglist images.txt "$H2"
	edge-resolve --images images.txt </dev/null >m2.json
	from=$(($(wc -l <"$H2_DIR/registry.log") + 1))
	run --separate-stderr edge-pull -v --jobs 4 --ca-file "$H2_CA" --store s2 m2.json
	assert_success
	echo "$stderr" >pull2.log
	echo "$output" >out2.json
	check_mux pull2.log "$H2_DIR/registry.log" "$from" edge-pull

	# the same images over HTTP/1.1: no HTTP/2, nothing multiplexed
	imglist images.txt "$H1"
	edge-resolve --images images.txt </dev/null >m1.json
	run --separate-stderr edge-pull -v --jobs 4 --ca-file "$H1_CA" --store s1 m1.json
	assert_success
	echo "$stderr" >pull1.log
	echo "$output" >out1.json
	grep -qE "^edge-pull: GET https://$H1/.* -> 200 \(.*, HTTP/1\.1, local port [0-9]+\)$" pull1.log
	if grep -E 'HTTP/2|multiplexed' pull1.log; then
		echo "HTTP/2 from a registry that does not offer it" >&2
		return 1
	fi

	# byte for byte the same store (the registry's address aside)
	[ "$(find s2/blobs -type f | wc -l)" -gt 5 ]
	diff -r s1/blobs s2/blobs
	(cd s1 && find . -type f ! -path './blobs/*' | sort) >f1.txt
	(cd s2 && find . -type f ! -path './blobs/*' | sort) >f2.txt
	diff f1.txt f2.txt
	while read -r f; do
		cmp <(sed "s/$H1/H/g; s/${H1/:/_}/H/g" "s1/$f") <(sed "s/$H2/H/g; s/${H2/:/_}/H/g" "s2/$f")
	done <f1.txt
	# and the same output, digests and all
	diff <(jq -S 'del(.store)' out1.json | sed "s/$H1/H/g") <(jq -S 'del(.store)' out2.json | sed "s/$H2/H/g")
}

# h2_front_start BACKEND: nghttpx (Debian's nghttp2-proxy) on 127.0.0.1, TLS
# with h2 offered by ALPN (the registry's certificate), in front of the
# plain-HTTP BACKEND (HOST:PORT). Exports FRONT=127.0.0.1:PORT and
# FRONT_LOG (its access log: remote port, ALPN, method, path, status).
# nghttpx cannot bind port 0: a free port is looked for.
h2_front_start() {
	local backend=$1 dir=$BATS_TEST_TMPDIR port try i pid line up
	FRONT_LOG="$dir/front-access.log"
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 12000))
		rm -f "$dir/front.log"
		bash -c "$_REG_SUPERVISOR" supervise "$$" 600 "" nghttpx --conf=/dev/null \
			--frontend="127.0.0.1,$port" --backend="${backend/:/,}" --workers=1 --no-ocsp \
			--accesslog-file="$FRONT_LOG" --accesslog-format='$remote_port $alpn $method $path $status' \
			--errorlog-file="$dir/front.log" "$H2_DIR/server.key" "$H2_DIR/server.pem" \
			>/dev/null 2>&1 3>&- &
		pid=$!
		up=""
		for ((i = 0; i < 200; i++)); do
			if [ -f "$dir/front.log" ]; then
				while IFS= read -r line; do
					[[ $line == *"Listening on 127.0.0.1:$port"* ]] && up=1
				done <"$dir/front.log"
			fi
			[ -n "$up" ] && break
			kill -0 "$pid" 2>/dev/null || break
			nap 0.05
		done
		if [ -n "$up" ]; then
			SERVER_PIDS+=("$pid")
			FRONT="127.0.0.1:$port"
			export FRONT FRONT_LOG
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	echo "nghttpx did not start:" >&2
	cat "$dir/front.log" >&2
	return 1
}

@test "h2: through a TLS h2 front (nghttpx), a cut blob resumes with Range and 503s are retried, multiplexed" {
	local t mux
	REGISTRY_DATA="$H2_DATA" registry_start plain fp
	# --spare-retries: with four workers in step, one blob's retries could
	# land on every 4th request six times running (exit 4 after 1.2 s,
	# seen in a make check under load)
	fault_proxy_start cut,503 --every 4 --spare-retries
	h2_front_start "$PROXY"
	: >images.txt
	for t in $IMAGES; do echo "$FRONT/test/$t:1" >>images.txt; done
	edge-resolve --images images.txt </dev/null >m.json
	run --separate-stderr edge-pull -v --jobs 4 --ca-file "$H2_CA" m.json
	assert_success
	echo "$stderr" >pull.log
	# the faults happened, behind the front
	grep -q '"status": 503' "$PROXY_LOG"
	grep -q '"fault": "cut"' "$PROXY_LOG"
	grep -q '"range": "bytes=[1-9]' "$PROXY_LOG"
	# and were mended on the multiplexed connection: retries, a resume
	grep -qE "^edge-pull: GET https://$FRONT/.*: HTTP 503, retrying in [0-9]+ ms" pull.log
	grep -E "^edge-pull: GET https://$FRONT/.* -> [0-9]+ \(" pull.log >transfers.txt
	grep -E ', HTTP/2, local port [0-9]+, multiplexed\)$' transfers.txt >mux.txt
	[ "$(wc -l <mux.txt)" -ge 10 ]
	# most of them on one connection. Not all: after streams the front
	# reset (INTERNAL_ERROR, where the proxy cut a blob), libcurl 7.88 at
	# times opens another h2 connection for the retries (2 or 3 ports in 1
	# of 8 runs), the front having closed none (its log). A connection a
	# worker would be 4 ports with a quarter of the transfers each.
	local ports most
	ports=$(sed -nE 's/.*local port ([0-9]+), multiplexed\)$/\1/p' mux.txt | sort | uniq -c | sort -rn)
	most=$(head -1 <<<"$ports" | awk '{print $1}')
	if [ $((most * 2)) -le "$(wc -l <mux.txt)" ]; then
		printf 'multiplexed transfers by local port:\n%s\n' "$ports" >&2
		return 1
	fi
	grep -qE " -> 206 \(.*, multiplexed\)$" mux.txt
	# the front saw h2 only
	if grep -v ' h2 ' "$FRONT_LOG"; then
		echo "requests above did not come in h2" >&2
		return 1
	fi
	for t in $IMAGES; do
		[ "$(echo "$output" | jq -r --arg r "$FRONT/test/$t:1" '.images[] | select(.ref == $r) | .sourceDigest // .digest')" = \
			"$(test_image_digest "test/$t:1")" ]
	done
	(cd store/blobs/sha256 && for f in *; do echo "$f  $f"; done) >names.txt
	(cd store/blobs/sha256 && sha256sum -- *) | diff - names.txt
}

@test "h2: a push over HTTP/2 multiplexes; the registry serves every manifest as pushed" {
	local from ref want got i
	local -a tgts wants
	imglist images.txt "$H1"
	edge-resolve --images images.txt </dev/null |
		edge-pull -q --ca-file "$H1_CA" --store store >pulled.json
	from=$(($(wc -l <"$H2_DIR/registry.log") + 1))
	run --separate-stderr edge-push -v --jobs 4 --ca-file "$H2_CA" --registry "$H2/pushed" pulled.json
	assert_success
	echo "$stderr" >push.log
	echo "$output" >out.json
	check_mux push.log "$H2_DIR/registry.log" "$from" edge-push
	grep -qE "^edge-push: PUT https://$H2/v2/pushed/.*/blobs/uploads/[^ ]*digest=sha256:[0-9a-f]{64} -> 201 \(.*, multiplexed\)$" push.log
	[ "$(jq '.pushed | length' out.json)" = 5 ]
	mapfile -t tgts < <(jq -r '.pushed[].target' out.json)
	mapfile -t wants < <(jq -r '.pushed[].digest' out.json)
	for ref in $IMAGES; do
		jq -e --arg r "$H1/test/$ref:1" --arg t "$H2/pushed/${H1/:/_}/test/$ref:1" \
			'[.pushed[] | select(.ref == $r and .target == $t)] | length == 1' out.json >/dev/null
	done
	i=0
	while read -r got; do
		[ "$got" = "${wants[i]}" ] || { echo "${tgts[i]}: registry serves $got" >&2; return 1; }
		i=$((i + 1))
	done < <(registry_digests "$H2" "${tgts[@]}")
	[ "$i" = 5 ]
	# the images pushed are the images pulled
	while IFS=$'\t' read -r ref want; do
		[ "$(jq -r --arg r "$ref" '.pushed[] | select(.ref == $r) | .digest' out.json)" = "$want" ]
	done < <(jq -r '.images[] | [.ref, .digest] | @tsv' pulled.json)
}

@test "h2: a TLS registry that offers HTTP/1.1 only: pull and push as before, one connection a worker" {
	imglist images.txt "$H1"
	edge-resolve --images images.txt </dev/null >m.json
	run --separate-stderr edge-pull -v --jobs 4 --ca-file "$H1_CA" m.json
	assert_success
	echo "$stderr" >pull.log
	echo "$output" >pulled.json
	no_mux pull.log
	run --separate-stderr edge-push -v --jobs 4 --ca-file "$H1_CA" --registry "$H1/again" pulled.json
	assert_success
	echo "$stderr" >push.log
	no_mux push.log
	grep -qE "^edge-push: PUT https://$H1/v2/again/.* -> 201 \(.*, HTTP/1\.1, local port [0-9]+\)$" push.log
	[ "$(echo "$output" | jq '.pushed | length')" = 5 ]
}

# no_mux LOG: every transfer of LOG was HTTP/1.1, none multiplexed
no_mux() {
	grep -E ' -> [0-9]+ \(' "$1" >transfers.txt
	[ "$(wc -l <transfers.txt)" -gt 5 ]
	if grep -vE ', HTTP/1\.1, local port [0-9]+\)$' transfers.txt; then
		echo "transfers above were not plain HTTP/1.1" >&2
		return 1
	fi
}
