# shellcheck shell=sh disable=SC2154,SC2016
# edge-pack and edge-verify against the plain tools: sourced by
# tests/bench/run.sh (POSIX sh, set -eu), which provides measure, say, ratio,
# $work, $bin and $work/store (the store edge-pull filled from
# $work/pull.json).
#
#   edge-pack of the pulled store  vs  tar -cf - -C STORE . | zstd -T0 -3
#       goal <= 1.0x the wall time, peak RSS < 64 MiB (edge-pack re-hashes
#       every store blob on the way; --trust-store, measured once after,
#       shows what that costs)
#   edge-verify of the bundle      vs  openssl sha256 BUNDLE (one core)
#       goal <= 0.6x the wall time, peak RSS < 64 MiB (and beside
#       zstd -dc BUNDLE > /dev/null, for scale)
#   edge-verify of a bundle of the one huge layer (run.sh's store-huge)
#                                  vs  openssl sha256 BUNDLE
#       goal <= 1.05x: one blob is one SHA-256 chain, the floor
#
# Everything is in the page cache (the store was just written, the bundle
# is read once before). Five runs each, alternating; the best of each is
# compared. Leaves $work/bundle.tar.zst for the push stage.

pv_bundle="$work/bundle.tar.zst"
pv_tar="$work/pv-tar.tar.zst"
# the manifest with digests: edge-pull's output, without the network
"$bin/edge-pull" -q --offline --store "$work/store" "$work/pull.json" > "$work/pv-pulled.json"
tar -cf - -C "$work/store" . > /dev/null

# pv_best VAR: VAR = min(VAR, LAST_WALL)
pv_best() {
	eval "pv_cur=\${$1:-}"
	eval "$1=\$(awk -v a=\"\$LAST_WALL\" -v b=\"\${pv_cur:-\$LAST_WALL}\" 'BEGIN { print (a < b ? a : b) }')"
}

say ""
pv_pack='' pv_tarz='' pv_tarzs='' pv_pack_rss=0
for pv_run in 1 2 3 4 5; do
	rm -f "$pv_bundle" "$pv_tar"
	measure "edge-pack (run $pv_run)" "$bin/edge-pack" -q -o "$pv_bundle" "$work/pv-pulled.json"
	pv_best pv_pack
	[ "$LAST_RSS" -gt "$pv_pack_rss" ] && pv_pack_rss=$LAST_RSS
	measure "tar | zstd -T0 -3 (run $pv_run)" sh -c 'tar -cf - -C "$1" . | zstd -q -T0 -3 > "$2"' sh \
		"$work/store" "$pv_tar"
	pv_best pv_tarz
	# edge-pack fsyncs its output before the rename: the same durability
	rm -f "$pv_tar"
	measure "tar | zstd -T0 -3, then sync (run $pv_run)" sh -c 'tar -cf - -C "$1" . | zstd -q -T0 -3 > "$2" && sync "$2"' sh \
		"$work/store" "$pv_tar"
	pv_best pv_tarzs
done
pv_mb=$(du -sm "$work/store/blobs" | cut -f1)
say "  edge-pack of a $pv_mb MiB store: $(du -m "$pv_bundle" | cut -f1) MiB bundle, tar | zstd: $(du -m "$pv_tar" | cut -f1) MiB"
say "  edge-pack / tar | zstd wall time (best of 5): $pv_pack s / $pv_tarz s = $(ratio "$pv_pack" "$pv_tarz") (goal <= 1.00); edge-pack peak RSS $((pv_pack_rss / 1024)) MiB (goal < 64)"
say "  edge-pack / (tar | zstd, then sync) wall time: $pv_pack s / $pv_tarzs s = $(ratio "$pv_pack" "$pv_tarzs") (same durability)"
rm -f "$pv_bundle"
measure "edge-pack --trust-store (no re-hash)" "$bin/edge-pack" -q --trust-store -o "$pv_bundle" "$work/pv-pulled.json"

say ""
cat "$pv_bundle" > /dev/null
pv_verify='' pv_zstd='' pv_sha='' pv_verify_rss=0
for pv_run in 1 2 3 4 5; do
	measure "edge-verify (run $pv_run)" "$bin/edge-verify" -q "$pv_bundle"
	pv_best pv_verify
	[ "$LAST_RSS" -gt "$pv_verify_rss" ] && pv_verify_rss=$LAST_RSS
	measure "zstd -dc > /dev/null (run $pv_run)" sh -c 'zstd -q -dc "$1" > /dev/null' sh "$pv_bundle"
	pv_best pv_zstd
	measure "openssl sha256 BUNDLE (run $pv_run)" openssl sha256 "$pv_bundle"
	pv_best pv_sha
done
say "  edge-verify / openssl sha256 of the bundle, one core (best of 5): $pv_verify s / $pv_sha s = $(ratio "$pv_verify" "$pv_sha") (goal <= 0.60); edge-verify peak RSS $((pv_verify_rss / 1024)) MiB (goal < 64)"
say "  edge-verify / zstd -dc wall time (best of 5): $pv_verify s / $pv_zstd s = $(ratio "$pv_verify" "$pv_zstd")"
# the file's own sha256 too (a second pass over every byte, on its own core)
measure "edge-verify --digest" "$bin/edge-verify" -q --digest "$pv_bundle"
# the floor: SHA-256 of every blob byte (OpenSSL, as edge-verify uses it),
# on one core; spread over the cores at best it takes that much per core
measure "openssl sha256 of the blobs, 1 core" sh -c 'cd "$1" && ls | xargs openssl sha256 > /dev/null' sh \
	"$work/store/blobs/sha256"
say "  so at least $(awk -v a="$LAST_WALL" -v n="$(nproc)" 'BEGIN { printf "%.2f", a / n }') s of hashing for edge-verify on $(nproc) cores = $(ratio "$(awk -v a="$LAST_WALL" -v n="$(nproc)" 'BEGIN { print a / n }')" "$pv_zstd") x zstd -dc"
measure "edge-verify --store (re-hash)" "$bin/edge-verify" -q --store "$work/store" "$work/pv-pulled.json"
measure "edge-verify --store --quick" "$bin/edge-verify" -q --quick --store "$work/store" "$work/pv-pulled.json"
rm -f "$pv_tar"

# --- one huge blob: one SHA-256 chain is the floor ---------------------------
if [ -d "$work/store-huge" ]; then
	pv_huge="$work/huge.tar.zst"
	rm -f "$pv_huge"
	"$bin/edge-pull" -q --offline --store "$work/store-huge" "$work/huge.json" > "$work/huge-pulled.json"
	"$bin/edge-pack" -q -o "$pv_huge" "$work/huge-pulled.json" > /dev/null
	cat "$pv_huge" > /dev/null
	say ""
	pv_hv='' pv_hs='' pv_hv_rss=0
	for pv_run in 1 2 3 4 5; do
		measure "edge-verify, one huge blob (run $pv_run)" "$bin/edge-verify" -q "$pv_huge"
		pv_best pv_hv
		[ "$LAST_RSS" -gt "$pv_hv_rss" ] && pv_hv_rss=$LAST_RSS
		measure "openssl sha256, one huge blob (run $pv_run)" openssl sha256 "$pv_huge"
		pv_best pv_hs
	done
	say "  edge-verify / openssl sha256 of a $(du -m "$pv_huge" | cut -f1) MiB one-blob bundle (best of 5): $pv_hv s / $pv_hs s = $(ratio "$pv_hv" "$pv_hs") (goal <= 1.05); edge-verify peak RSS $((pv_hv_rss / 1024)) MiB (goal < 64)"
	rm -rf "$pv_huge" "$work/store-huge"
fi
