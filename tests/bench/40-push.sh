# shellcheck shell=sh disable=SC2154,SC2016
# edge-push against skopeo copy: sourced by tests/bench/run.sh (POSIX sh,
# set -eu), which provides measure, say, ratio, $work, $bin, $reg (the source
# registry), $regpid and $work/store (the store edge-pull filled).
#
# Both push the same images into an empty local registry of their own:
# edge-push straight from the bundle, skopeo copy --all image by image from
# the bundle unpacked with tar (the unpacking is not timed).

say ""
push_bundle="$work/bundle.tar.zst"
if [ -z "$(find "$push_bundle" -newer "$work/pull.json" 2>/dev/null)" ]; then
	# no earlier stage of this run packed one: pack the pulled store
	"$bin/edge-pull" -q --offline --store "$work/store" "$work/pull.json" > "$work/push-pulled.json"
	"$bin/edge-pack" -q -o "$push_bundle" "$work/push-pulled.json" > /dev/null
fi

push_pid_e=""
push_pid_s=""
trap 'kill $regpid $push_pid_e $push_pid_s 2>/dev/null || true' EXIT INT TERM

# push_registry NAME: an empty registry on a free 127.0.0.1 port; sets
# push_addr and push_pid
push_registry() {
	push_dir="$work/push-$1"
	rm -rf "$push_dir" "$push_dir.yml"
	push_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat > "$push_dir.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $push_dir}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$push_port}
YML
	docker-registry serve "$push_dir.yml" > "$push_dir.log" 2>&1 &
	push_pid=$!
	push_addr="127.0.0.1:$push_port"
	push_i=0
	until curl -fsS "http://$push_addr/v2/" > /dev/null 2>&1; do
		push_i=$((push_i + 1))
		[ $push_i -lt 100 ] || { echo "bench: push registry $1 did not start" >&2; exit 1; }
		sleep 0.1
	done
}

push_registry edge
push_pid_e=$push_pid
push_reg_e=$push_addr
push_registry skopeo
push_pid_s=$push_pid
push_reg_s=$push_addr

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
