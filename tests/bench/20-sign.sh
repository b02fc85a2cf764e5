# Sourced by tests/bench/run.sh (which defines measure, say, ratio, $work,
# $bin): edge-sign against minisign -S on a 1 GiB file, both with
# unencrypted keys, the file in the page cache. Three runs each,
# alternating; the best of each is compared. edge-sign hashes BLAKE2b-512
# with OpenSSL (faster than libsodium's, which minisign uses) and SHA-256 on
# a second thread.
# Targets: edge-sign <= 0.8x minisign's wall time, peak RSS < 64 MiB.

sign_dir="$work/sign"
sign_file="$sign_dir/sign-1g.bin"
mkdir -p "$sign_dir"
if [ ! -f "$sign_file.done" ]; then
	echo "bench: making a 1 GiB file to sign" >&2
	head -c 1073741824 /dev/urandom > "$sign_file.tmp"
	mv "$sign_file.tmp" "$sign_file"
	touch "$sign_file.done"
fi
rm -f "$sign_dir/edge.key" "$sign_dir/edge.pub" "$sign_dir/mini.key" "$sign_dir/mini.pub"
"$bin/edge-sign" -q -G -W -k "$sign_dir/edge.key" -p "$sign_dir/edge.pub"
minisign -G -W -f -p "$sign_dir/mini.pub" -s "$sign_dir/mini.key" > /dev/null
cat "$sign_file" > /dev/null

say ""
sign_best=
mini_best=
sign_rss=0
for sign_run in 1 2 3; do
	measure "edge-sign, 1 GiB file (run $sign_run)" "$bin/edge-sign" -k "$sign_dir/edge.key" "$sign_file"
	sign_best=$(awk -v a="$LAST_WALL" -v b="${sign_best:-$LAST_WALL}" 'BEGIN { print (a < b ? a : b) }')
	[ "$LAST_RSS" -gt "$sign_rss" ] && sign_rss=$LAST_RSS
	measure "minisign -S, 1 GiB file (run $sign_run)" minisign -S -s "$sign_dir/mini.key" -m "$sign_file" \
		-x "$sign_file.by-minisign.minisig"
	mini_best=$(awk -v a="$LAST_WALL" -v b="${mini_best:-$LAST_WALL}" 'BEGIN { print (a < b ? a : b) }')
done
minisign -Vm "$sign_file" -p "$sign_dir/edge.pub" -q || { echo "bench: minisign rejects edge-sign's signature" >&2; exit 1; }
say "  edge-sign / minisign wall time (best of 3): $sign_best s / $mini_best s = $(ratio "$sign_best" "$mini_best") (target <= 0.80)"
say "  edge-sign peak RSS $((sign_rss / 1024)) MiB (target < 64)"
