# shellcheck shell=sh disable=SC2154,SC2016
# edge-push against skopeo copy: sourced by tests/bench/run.sh (POSIX sh,
# set -eu), which provides measure, say, ratio, $work, $bin, $reg (the source
# registry), $regpid, $work/store (the store edge-pull filled), bench_bundle
# and bench_registry.
#
# Both push the same images into an empty local registry of their own:
# edge-push straight from the bundle, skopeo copy --all image by image from
# the bundle unpacked with tar (the unpacking is not timed).

say ""
bench_bundle
push_bundle="$work/bundle.tar.zst"

push_pid_e=""
push_pid_s=""
trap 'kill $regpid $push_pid_e $push_pid_s 2>/dev/null || true' EXIT INT TERM

# two empty registries
rm -rf "$work/push-edge" "$work/push-skopeo"
bench_registry push-edge "$work/push-edge"
push_pid_e=$bench_pid
push_reg_e=$bench_addr
bench_registry push-skopeo "$work/push-skopeo"
push_pid_s=$bench_pid
push_reg_s=$bench_addr

rm -rf "$work/push-extract"
mkdir -p "$work/push-extract"
tar --zstd -xf "$push_bundle" -C "$work/push-extract"
push_refs=$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$work/push-extract/index.json" |
	grep "^$reg/" || true)
push_mb=$(du -sm "$push_bundle" | cut -f1)
say "edge-push: $(echo "$push_refs" | wc -w) images from a ${push_mb} MiB bundle into an empty registry"

measure "edge-push (empty registry)" "$bin/edge-push" -q --plain-http --registry "$push_reg_e/bench" "$push_bundle"
push_wall=$LAST_WALL
push_rss=$LAST_RSS
cp "$work/cmd.out" "$work/push-out.json"
# prefix rule, as edge-push names them: HOST:PORT becomes HOST_PORT
measure "skopeo copy --all, image by image" sh -c '
	for r in $1; do
		skopeo copy -q --all --dest-tls-verify=false "oci:$2:$r" "docker://$3/$(echo "$r" | sed "s/:/_/")" || exit 1
	done' sh "$push_refs" "$work/push-extract" "$push_reg_s/bench"
push_skopeo_wall=$LAST_WALL
say "  edge-push / skopeo wall time: $(ratio "$push_wall" "$push_skopeo_wall") (target <= 0.50); edge-push peak RSS $((push_rss / 1024)) MiB (target < 64)"
measure "edge-push (rerun, all present)" "$bin/edge-push" -q --plain-http --registry "$push_reg_e/bench" "$push_bundle"
# both registries hold the same manifests, and edge-verify agrees
"$bin/edge-verify" -q --plain-http --registry "$push_reg_e/bench" "$work/push-out.json" > /dev/null
"$bin/edge-verify" -q --plain-http --registry "$push_reg_s/bench" "$work/push-out.json" > /dev/null ||
	say "  note: skopeo's copies differ from the bundle's manifests (edge-verify --registry)"

kill $push_pid_e $push_pid_s 2>/dev/null || true
wait $push_pid_e $push_pid_s 2>/dev/null || true
trap 'kill $regpid 2>/dev/null || true' EXIT INT TERM
rm -rf "$work/push-extract" "$work/push-edge" "$work/push-skopeo"
