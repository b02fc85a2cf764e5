# shellcheck shell=sh disable=SC2154,SC2016
# edge-pack and edge-verify on many small images: sourced by
# tests/bench/run.sh (POSIX sh, set -eu), which provides measure, say, ratio,
# $top, $work and $bin.
#
# 150 images of two own layers of about 300 KB each (random data in gzip
# tar streams, as pulled layers are), written once as a store by
# make-small-store.py and cached under $work/small/. Five runs each
# (each takes a few tenths of a second), alternating; the medians are compared, each beside its goal:
#
#   edge-pack (every blob re-hashed)  vs  tar -cf - -C STORE . | zstd -T0 -3
#       goal <= 0.90x the wall time
#   edge-verify of the bundle         vs  zstd -dc BUNDLE > /dev/null
#       goal <= 1.50x the wall time
#   peak RSS of both < 64 MiB

sm_images=${BENCH_SMALL_IMAGES:-150}
sm_kb=${BENCH_SMALL_KB:-300}
sm_dir="$work/small"
if [ ! -f "$sm_dir/store.$sm_images-$sm_kb.done" ]; then
	echo "bench: making the small image set ($sm_images images, 2 layers of about $sm_kb KB)" >&2
	rm -rf "$sm_dir"
	mkdir -p "$sm_dir"
	python3 "$top/tests/bench/make-small-store.py" "$sm_dir/store" --images "$sm_images" --layer-kb "$sm_kb"
	touch "$sm_dir/store.$sm_images-$sm_kb.done"
fi
awk -v n="$sm_images" 'BEGIN { for (i = 0; i < n; i++) printf "bench.local/small/img%03d:1\n", i }' > "$sm_dir/images.txt"
"$bin/edge-resolve" --images "$sm_dir/images.txt" < /dev/null > "$sm_dir/pull.json"
"$bin/edge-pull" -q --offline --store "$sm_dir/store" "$sm_dir/pull.json" > "$sm_dir/pulled.json"
tar -cf - -C "$sm_dir/store" . > /dev/null

# sm_median V...: the middle one (run.sh's median)
sm_median() { median "$@"; }

say ""
sm_b="$sm_dir/bundle.tar.zst"
sm_t="$sm_dir/tar.tar.zst"
sm_p='' sm_z='' sm_rss=0
for sm_run in 1 2 3 4 5; do
	rm -f "$sm_b" "$sm_t"
	measure "edge-pack, small (run $sm_run)" "$bin/edge-pack" -q -o "$sm_b" "$sm_dir/pulled.json"
	sm_p="$sm_p $LAST_WALL"
	[ "$LAST_RSS" -gt "$sm_rss" ] && sm_rss=$LAST_RSS
	measure "tar | zstd -T0 -3, small (run $sm_run)" sh -c 'tar -cf - -C "$1" . | zstd -q -T0 -3 > "$2"' sh \
		"$sm_dir/store" "$sm_t"
	sm_z="$sm_z $LAST_WALL"
done
sm_pack=$(sm_median $sm_p)
sm_tarz=$(sm_median $sm_z)
say "  $sm_images small images, $(du -sm "$sm_dir/store/blobs" | cut -f1) MiB of blobs: edge-pack / tar | zstd -T0 -3 (median of 5): $sm_pack s / $sm_tarz s = $(ratio "$sm_pack" "$sm_tarz") (goal <= 0.90); peak RSS $((sm_rss / 1024)) MiB (goal < 64)"

cat "$sm_b" > /dev/null
sm_p='' sm_z='' sm_rss=0
for sm_run in 1 2 3 4 5; do
	measure "edge-verify, small (run $sm_run)" "$bin/edge-verify" -q "$sm_b"
	sm_p="$sm_p $LAST_WALL"
	[ "$LAST_RSS" -gt "$sm_rss" ] && sm_rss=$LAST_RSS
	measure "zstd -dc > /dev/null, small (run $sm_run)" sh -c 'zstd -q -dc "$1" > /dev/null' sh "$sm_b"
	sm_z="$sm_z $LAST_WALL"
done
sm_verify=$(sm_median $sm_p)
sm_zstd=$(sm_median $sm_z)
say "  edge-verify / zstd -dc, small (median of 5): $sm_verify s / $sm_zstd s = $(ratio "$sm_verify" "$sm_zstd") (goal <= 1.50); peak RSS $((sm_rss / 1024)) MiB (goal < 64)"
rm -f "$sm_b" "$sm_t"
