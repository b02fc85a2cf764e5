# shellcheck shell=sh disable=SC2154,SC2016
# edge-pull against skopeo copy when every request waits: sourced by
# tests/bench/run.sh (POSIX sh, set -eu), which provides compare3, say,
# bench_start, $work, $bin, $top, $reg (the source registry) and $regpid.
#
# BENCH_LAT_IMAGES (50) small images (a shared 1 MiB base layer and an own
# 1 MiB layer each) behind tests/servers/fault-proxy.py --delay
# BENCH_LAT_MS (25): every request waits that long, as with a registry far
# away. edge-pull pulls them all in one run, skopeo copy image by image.
# Then the rerun on the complete store, which must cost one request per
# image (counted in the proxy's log).

lat_n=${BENCH_LAT_IMAGES:-50}
lat_ms=${BENCH_LAT_MS:-25}
lat_dir="$work/lat-images-$lat_n"
say ""
if [ ! -f "$lat_dir.done" ]; then
	echo "bench: making $lat_n small images" >&2
	rm -rf "$lat_dir"
	python3 "$top/tests/bench/make-bench-images.py" "$lat_dir" --images "$lat_n" --base-mb 1 --own-mb 1 --huge-mb 0
	touch "$lat_dir.done"
fi
lat_tags=$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$lat_dir/index.json")
if [ ! -f "$work/registry.lat-$lat_n.$key.done" ]; then
	echo "bench: pushing the small images" >&2
	for t in $lat_tags; do
		skopeo copy -q --dest-tls-verify=false "oci:$lat_dir:$t" "docker://$reg/lat/$t:1"
	done
	touch "$work/registry.lat-$lat_n.$key.done"
fi

bench_start lat-proxy "$work/lat-proxy.port" python3 "$top/tests/servers/fault-proxy.py" \
	--upstream "http://$reg" --port-file "$work/lat-proxy.port" --log "$work/lat-proxy.log" \
	--delay "$lat_ms" --idle-timeout 600
lat_pid=$bench_pid
lat_proxy=$bench_addr
trap 'kill $regpid $lat_pid 2>/dev/null || true' EXIT INT TERM
: > "$work/lat-images.txt"
for t in $lat_tags; do echo "$lat_proxy/lat/$t:1" >> "$work/lat-images.txt"; done
"$bin/edge-resolve" --images "$work/lat-images.txt" < /dev/null > "$work/lat.json"
export lat_proxy lat_tags

say "edge-pull of $lat_n small images, ${lat_ms} ms before every request (median of 3, same run):"
compare3 0.20 "edge-pull, cold store" 'rm -rf "$work/lat-store"' \
	'"$bin/edge-pull" -q --plain-http --store "$work/lat-store" "$work/lat.json"' \
	"skopeo copy, image by image, cold" 'rm -rf "$work/lat-skopeo"' \
	'for t in $lat_tags; do skopeo copy -q --src-tls-verify=false "docker://$lat_proxy/lat/$t:1" "oci:$work/lat-skopeo:$t" || exit 1; done'
: > "$work/lat-proxy.log"
once '"$bin/edge-pull" -q --plain-http --store "$work/lat-store" "$work/lat.json"'
lat_req=$(wc -l < "$work/lat-proxy.log")
say "  rerun on the complete store: $LAST_WALL s, $lat_req requests for $lat_n images ($(goal_met "$lat_req" "$lat_n") <= $lat_n)"
kill "$lat_pid" 2>/dev/null || true
trap 'kill $regpid 2>/dev/null || true' EXIT INT TERM
rm -rf "$work/lat-store" "$work/lat-skopeo"
