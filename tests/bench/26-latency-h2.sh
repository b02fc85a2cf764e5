# shellcheck shell=sh disable=SC2154,SC2016
# The latency shape of 25-latency.sh over TLS and HTTP/2: sourced by
# tests/bench/run.sh after it (POSIX sh, set -eu), with its images already
# in $reg and $lat_tags set.
#
# The same BENCH_LAT_IMAGES small images, BENCH_LAT_MS before every request
# (tests/servers/fault-proxy.py --delay), behind nghttpx (Debian's
# nghttp2-proxy, installed by make deps): a TLS front that offers h2 by ALPN,
# as CNCF distribution, Harbor and the cloud registries do. edge-pull
# multiplexes every transfer after the first wave on one connection;
# skopeo copy (Go's client, h2 too) goes image by image. Goal as over plain
# HTTP: edge-pull <= 0.2x skopeo's loop. The connections edge used are
# counted from one -v run.

h2_ok=1
if ! command -v nghttpx > /dev/null 2>&1; then
	say ""
	say "edge-pull over TLS and HTTP/2: skipped (nghttpx is not installed; make deps installs it)"
	h2_ok=0
elif [ -z "${lat_tags:-}" ]; then
	say ""
	say "edge-pull over TLS and HTTP/2: skipped (it reuses 25-latency.sh's images: run that stage too)"
	h2_ok=0
fi

if [ $h2_ok = 1 ]; then
	h2_dir="$work/h2"
	mkdir -p "$h2_dir"
	if [ ! -f "$h2_dir/server.pem" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$h2_dir/server.key" -out "$h2_dir/server.pem" \
			-days 3650 -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" 2> /dev/null
	fi
	bench_start h2-proxy "$work/h2-proxy.port" python3 "$top/tests/servers/fault-proxy.py" \
		--upstream "http://$reg" --port-file "$work/h2-proxy.port" --log /dev/null \
		--delay "$lat_ms" --idle-timeout 600
	h2_proxy_pid=$bench_pid
	h2_proxy=$bench_addr
	trap 'kill $regpid $h2_proxy_pid 2>/dev/null || true' EXIT INT TERM
	# nghttpx cannot listen on port 0: try free-looking ports until one binds
	h2_front=""
	for h2_try in 1 2 3 4 5 6 7 8; do
		h2_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		rm -f "$work/h2-front.log"
		nghttpx --conf=/dev/null --frontend="127.0.0.1,$h2_port" --backend="$(echo "$h2_proxy" | tr : ,)" \
			--workers=1 --no-ocsp --backend-connections-per-host=64 --errorlog-file="$work/h2-front.log" \
			"$h2_dir/server.key" "$h2_dir/server.pem" > /dev/null 2>&1 &
		h2_front_pid=$!
		h2_i=0
		while [ $h2_i -lt 100 ] && kill -0 $h2_front_pid 2> /dev/null; do
			if grep -q "Listening on 127.0.0.1:$h2_port" "$work/h2-front.log" 2> /dev/null; then
				h2_front="127.0.0.1:$h2_port"
				break
			fi
			h2_i=$((h2_i + 1))
			sleep 0.05
		done
		[ -n "$h2_front" ] && break
		kill $h2_front_pid 2> /dev/null || true
	done
	if [ -z "$h2_front" ]; then
		echo "bench: nghttpx did not start:" >&2
		tail -5 "$work/h2-front.log" >&2
		exit 1
	fi
	trap 'kill $regpid $h2_proxy_pid $h2_front_pid 2>/dev/null || true' EXIT INT TERM
	: > "$work/h2-images.txt"
	for t in $lat_tags; do echo "$h2_front/lat/$t:1" >> "$work/h2-images.txt"; done
	"$bin/edge-resolve" --images "$work/h2-images.txt" < /dev/null > "$work/h2.json"
	export h2_front h2_dir

	say ""
	say "edge-pull of $lat_n small images over TLS and HTTP/2 (nghttpx), ${lat_ms} ms before every request (median of 3, same run):"
	compare3 0.20 "edge-pull --jobs 16, h2, cold" 'rm -rf "$work/h2-store"' \
		'"$bin/edge-pull" -q --jobs 16 --ca-file "$h2_dir/server.pem" --store "$work/h2-store" "$work/h2.json"' \
		"skopeo copy, image by image, h2" 'rm -rf "$work/h2-skopeo"' \
		'for t in $lat_tags; do skopeo copy -q --src-tls-verify=false "docker://$h2_front/lat/$t:1" "oci:$work/h2-skopeo:$t" || exit 1; done'
	rm -rf "$work/h2-store"
	"$bin/edge-pull" -v --jobs 16 --ca-file "$h2_dir/server.pem" --store "$work/h2-store" "$work/h2.json" \
		> /dev/null 2> "$work/h2-v.log"
	h2_req=$(grep -c ' -> ' "$work/h2-v.log" || true)
	h2_conn=$(sed -n 's/.*local port \([0-9]*\).*/\1/p' "$work/h2-v.log" | sort -u | wc -l)
	h2_mux=$(grep -c 'multiplexed' "$work/h2-v.log" || true)
	say "  $h2_req requests over $h2_conn connections, $h2_mux of them multiplexed (the first wave, a connection a job, learns h2)"
	kill $h2_front_pid $h2_proxy_pid 2> /dev/null || true
	trap 'kill $regpid 2>/dev/null || true' EXIT INT TERM
	rm -rf "$work/h2-store" "$work/h2-skopeo"
fi
