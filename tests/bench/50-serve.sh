# shellcheck shell=sh disable=SC2154,SC2016
# edge-serve against docker-registry: sourced by tests/bench/run.sh (POSIX
# sh, set -eu), which provides measure, say, ratio, $work, $bin, $reg,
# $work/store, bench_bundle, bench_start and bench_registry.
#
# The same images are served by edge-serve straight from the compressed
# bundle, and by docker-registry from plain files (the bundle's layout
# copied into it with skopeo, not timed). skopeo copies every image from
# each into an OCI layout; then HEAD requests per second with 16 keep-alive
# connections (ab), and the peak RSS of edge-serve under 50 parallel
# clients pulling every blob.

say ""
bench_bundle
serve_bundle="$work/bundle.tar.zst"
serve_pid=""
serve_reg_pid=""
trap 'kill $regpid $serve_pid $serve_reg_pid 2>/dev/null || true' EXIT INT TERM

bench_start serve "$work/serve.port" "$bin/edge-serve" -q --listen 127.0.0.1:0 --port-file "$work/serve.port" "$serve_bundle"
serve_pid=$bench_pid
serve_addr=$bench_addr

# the layout, extracted, into a docker-registry of its own
rm -rf "$work/serve-extract" "$work/serve-registry"
mkdir -p "$work/serve-extract"
tar --zstd -xf "$serve_bundle" -C "$work/serve-extract"
serve_refs=$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$work/serve-extract/index.json" |
	grep "^$reg/" || true)
bench_registry serve-registry "$work/serve-registry"
serve_reg_pid=$bench_pid
serve_dreg=$bench_addr
for r in $serve_refs; do
	skopeo copy -q --all --dest-tls-verify=false "oci:$work/serve-extract:$r" \
		"docker://$serve_dreg/$(echo "$r" | sed "s/:/_/")"
done
rm -rf "$work/serve-extract"
serve_mb=$(du -sm "$serve_bundle" | cut -f1)
say "edge-serve: $(echo "$serve_refs" | wc -w) images from a ${serve_mb} MiB bundle, against docker-registry"

# serve_copy ADDR DIR: skopeo copies every image from ADDR into the layout DIR
serve_copy() {
	rm -rf "$2"
	measure "$3" sh -c '
		for r in $1; do
			skopeo copy -q --all --src-tls-verify=false "docker://$2/$(echo "$r" | sed "s/:/_/")" "oci:$3:x" || exit 1
		done' sh "$serve_refs" "$1" "$2"
}
# one warm-up each, so both read from the page cache, then two rounds
# each, alternating; the best of each counts
serve_copy "$serve_addr" "$work/serve-out" "skopeo copy from edge-serve (warm-up)"
serve_copy "$serve_dreg" "$work/serve-out" "skopeo copy from docker-registry (warm-up)"
serve_e=""
serve_d=""
for serve_round in 1 2; do
	serve_copy "$serve_addr" "$work/serve-out" "skopeo copy from edge-serve"
	serve_e=$(awk -v a="$LAST_WALL" -v b="${serve_e:-$LAST_WALL}" 'BEGIN { print (a < b ? a : b) }')
	serve_copy "$serve_dreg" "$work/serve-out" "skopeo copy from docker-registry"
	serve_d=$(awk -v a="$LAST_WALL" -v b="${serve_d:-$LAST_WALL}" 'BEGIN { print (a < b ? a : b) }')
done
say "  edge-serve / docker-registry wall time (best of 2): $(ratio "$serve_e" "$serve_d") (target <= 1.00), no extra disk"

# HEAD of a manifest and of a blob, 16 connections, keep-alive
serve_first=$(echo "$serve_refs" | head -1)
serve_repo=$(echo "$serve_first" | sed 's/:/_/; s/:[^:]*$//')
serve_tag=${serve_first##*:}
serve_layer=$(skopeo inspect --raw --tls-verify=false "docker://$serve_addr/$serve_repo:$serve_tag" |
	jq -r '(.layers // [])[0].digest // empty')
for what in "manifests/$serve_tag" "blobs/$serve_layer"; do
	ab -q -k -i -c 16 -n 40000 "http://$serve_addr/v2/$serve_repo/$what" > "$work/ab.out" 2>&1 ||
		{ echo "bench: ab failed:" >&2; tail -5 "$work/ab.out" >&2; exit 1; }
	rps=$(awk '/^Requests per second/ {print $4}' "$work/ab.out")
	failed=$(awk '/^Failed requests/ {print $3}' "$work/ab.out")
	say "  HEAD ${what%%/*}, 16 connections: $rps requests/s, $failed failed (target >= 5000)"
done

# peak RSS with 50 clients pulling every blob
: > "$work/serve-pairs.txt"
for r in $serve_refs; do
	repo=$(echo "$r" | sed 's/:/_/; s/:[^:]*$//')
	tag=${r##*:}
	skopeo inspect --raw --tls-verify=false "docker://$serve_addr/$repo:$tag" > "$work/serve-m.json"
	jq -r --arg r "$repo" '((.config // empty), (.layers // [])[]) | "\($r) \(.digest)"' "$work/serve-m.json" >> "$work/serve-pairs.txt"
done
# each blob once: the whole bundle per client
sort -u -k2,2 "$work/serve-pairs.txt" > "$work/serve-pairs1.txt"
mv "$work/serve-pairs1.txt" "$work/serve-pairs.txt"
set -- $(python3 "$top/tests/bench/serve-clients.py" "$serve_addr" "$work/serve-pairs.txt" 50)
serve_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$serve_pid/status")
say "  50 clients: $1 errors, $(($2 / 1048576)) MiB in $3 s; edge-serve peak RSS $((serve_hwm / 1024)) MiB (target <= 128)"

kill $serve_pid $serve_reg_pid 2>/dev/null || true
wait $serve_pid $serve_reg_pid 2>/dev/null || true
trap 'kill $regpid 2>/dev/null || true' EXIT INT TERM
rm -rf "$work/serve-out" "$work/serve-registry"
