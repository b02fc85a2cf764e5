# shellcheck shell=sh disable=SC2154,SC2016
# edge-pack --base (delta bundles): sourced by tests/bench/run.sh (POSIX sh,
# set -eu), which provides measure, median, say, ratio, $top, $work and
# $bin.
#
# Release 1: 10 images on shared base layers (60, 30, 10 MiB), each with an
# own 20 MiB layer. Release 2: the same with one image updated by a new
# 20 MiB top layer (make-delta-set.py, cached under $work/delta/). Goals:
#
#   size of the delta v1 -> v2  <=  its new blobs + 1 %
#   edge-pack --base v1         <=  1.0x a full edge-pack of the same new
#                                   blob (an image of the new layer alone)
#   fifteen pairs of runs (a few hundredths of a second each), in ABBA
#   order, each output removed right before its own run (deleting the
#   other's 20 MB output and its journal commit would land in the next
#   run's fsync): the median of the pairs' ratios, so that a slow spell
#   of the machine touches both sides of a pair; the full v2 bundle's size
#   and time beside, for scale

dl_dir="$work/delta"
if [ ! -f "$dl_dir/store.done" ]; then
	echo "bench: making the delta image set" >&2
	rm -rf "$dl_dir"
	mkdir -p "$dl_dir"
	python3 "$top/tests/bench/make-delta-set.py" "$dl_dir/store"
	touch "$dl_dir/store.done"
fi
awk 'BEGIN { for (i = 0; i < 10; i++) printf "bench.local/delta/img%02d:1\n", i }' > "$dl_dir/v1.txt"
{ echo bench.local/delta/img00:2; sed 1d "$dl_dir/v1.txt"; } > "$dl_dir/v2.txt"
echo bench.local/delta/newonly:1 > "$dl_dir/new.txt"
for dl_v in v1 v2 new; do
	"$bin/edge-resolve" --images "$dl_dir/$dl_v.txt" < /dev/null |
		"$bin/edge-pull" -q --offline --store "$dl_dir/store" > "$dl_dir/$dl_v.json"
done
rm -f "$dl_dir"/*.tar.zst
"$bin/edge-pack" -q -o "$dl_dir/v1.tar.zst" "$dl_dir/v1.json" > "$dl_dir/v1.packed.json"
tar -cf - -C "$dl_dir/store" . > /dev/null

say ""
say "edge-pack --base: the delta from release 1 to 2 (10 images, 1 changed)"
dl_d='' dl_n='' dl_r='' dl_rss=0
# dl_delta / dl_new RUN: one run of a side; its wall time in dl_wd / dl_wn
dl_delta() {
	rm -f "$dl_dir/delta.tar.zst"
	measure "edge-pack --base v1 (run $1)" "$bin/edge-pack" -q --base "$dl_dir/v1.packed.json" \
		-o "$dl_dir/delta.tar.zst" "$dl_dir/v2.json"
	dl_wd=$LAST_WALL
	[ "$LAST_RSS" -gt "$dl_rss" ] && dl_rss=$LAST_RSS
	return 0
}
dl_new() {
	rm -f "$dl_dir/new.tar.zst"
	measure "edge-pack of the new blob alone (run $1)" "$bin/edge-pack" -q -o "$dl_dir/new.tar.zst" "$dl_dir/new.json"
	dl_wn=$LAST_WALL
}
for dl_run in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
	case $((dl_run % 4)) in
	1 | 0) dl_delta "$dl_run"; dl_new "$dl_run" ;;
	*) dl_new "$dl_run"; dl_delta "$dl_run" ;;
	esac
	dl_d="$dl_d $dl_wd"
	dl_n="$dl_n $dl_wn"
	dl_r="$dl_r $(awk -v a="$dl_wd" -v b="$dl_wn" 'BEGIN { printf "%.4f", a / b }')"
done
measure "edge-pack, full release 2" "$bin/edge-pack" -q -o "$dl_dir/v2.tar.zst" "$dl_dir/v2.json"
dl_full_wall=$LAST_WALL
measure "edge-pack --base v1.tar.zst (hashes the base)" "$bin/edge-pack" -q --base "$dl_dir/v1.tar.zst" \
	-o "$dl_dir/delta-b.tar.zst" "$dl_dir/v2.json"
cmp "$dl_dir/delta.tar.zst" "$dl_dir/delta-b.tar.zst"
dl_delta=$(median $dl_d)
dl_new=$(median $dl_n)
# the new blobs: those release 2's bundle lists and release 1's does not
for dl_v in v1 v2; do
	zstd -qdc "$dl_dir/$dl_v.tar.zst" | tar -xOf - bundle.json > "$dl_dir/$dl_v.bundle.json"
done
dl_newbytes=$(jq -n --slurpfile a "$dl_dir/v1.bundle.json" --slurpfile b "$dl_dir/v2.bundle.json" \
	'($a[0].blobs | map(.digest)) as $old | [$b[0].blobs[] | select(.digest as $d | $old | index($d) | not) | .size] | add')
dl_size=$(stat -c %s "$dl_dir/delta.tar.zst")
dl_full=$(stat -c %s "$dl_dir/v2.tar.zst")
say "  delta $dl_size bytes for $dl_newbytes bytes of new blobs: $(awk -v a="$dl_size" -v b="$dl_newbytes" 'BEGIN { printf "%.2f %%", (a / b - 1) * 100 }') over (goal <= 1 %); the full release 2: $dl_full bytes ($(ratio "$dl_size" "$dl_full") of it) in $dl_full_wall s"
say "  edge-pack --base / edge-pack of the new blob alone (median of 15 pairs' ratios): $(awk -v r="$(median $dl_r)" 'BEGIN { printf "%.3f", r }') (goal <= 1.00); medians $dl_delta s / $dl_new s; peak RSS $((dl_rss / 1024)) MiB (goal < 64)"
rm -f "$dl_dir"/*.tar.zst
