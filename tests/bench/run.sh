#!/bin/sh
# make bench: edge against skopeo (and later tar+zstd, minisign) in one run.
# Builds a benchmark image set (cached under build/bench/), serves it from a
# local registry on 127.0.0.1, and prints wall time and peak RSS per tool.
# Knobs: BENCH_IMAGES (12), BENCH_BASE_MB (60,30,10), BENCH_OWN_MB (20),
# BENCH_HUGE_MB (1024; 0 skips the single-big-layer run), BENCH_LAT_IMAGES
# (50), BENCH_LAT_MS (25; 25-latency.sh, and 26-latency-h2.sh over TLS and
# HTTP/2 behind nghttpx), BENCH_STAGES (a pattern of the stages to run, e.g.
# '2[05]'; default all). Pull shapes are compared with
# their reference three times in turn; the medians' ratio is printed beside
# the goal.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/bin"
work="$top/build/bench"
images=${BENCH_IMAGES:-12}
base_mb=${BENCH_BASE_MB:-60,30,10}
own_mb=${BENCH_OWN_MB:-20}
huge_mb=${BENCH_HUGE_MB:-1024}
key="$images-$base_mb-$own_mb-$huge_mb"
mkdir -p "$work"
# one run at a time: runs share the image set, the store and the timing files
exec 9> "$work/.lock"
if ! flock -n 9; then
	echo "bench: another run is using $work; waiting for it" >&2
	flock 9
fi
results="$work/results.txt"
: > "$results"

say() { printf '%s\n' "$*" | tee -a "$results"; }

# measure LABEL CMD...: runs CMD, records "LABEL wall_s peak_rss_kib"
measure() {
	label=$1
	shift
	m_t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$work/time.out" "$@" > "$work/cmd.out" 2> "$work/cmd.err" || {
		echo "bench: $label failed:" >&2
		tail -5 "$work/cmd.err" >&2
		exit 1
	}
	LAST_WALL=$(wall_since "$m_t0")
	LAST_RSS=$(tail -1 "$work/time.out")
	printf '%-34s %8.3f s %8d KiB\n' "$label" "$LAST_WALL" "$LAST_RSS" | tee -a "$results"
}

# wall_since T0: seconds (to a tenth of a millisecond) since T0, a `date
# +%s%N` reading. GNU time's %e counts in 10 ms steps, too coarse for the
# shapes that take a few tenths of a second, and a millisecond is 2 % of
# the delta stage's runs.
wall_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'; }

# once CMD: runs the sh -c string CMD (quietly), sets LAST_WALL, LAST_RSS
once() {
	o_t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$work/time.out" sh -c "$1" > "$work/cmd.out" 2> "$work/cmd.err" || {
		echo "bench: failed: $1" >&2
		tail -5 "$work/cmd.err" >&2
		exit 1
	}
	LAST_WALL=$(wall_since "$o_t0")
	LAST_RSS=$(tail -1 "$work/time.out")
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# compare3 GOAL LABEL_A PREP_A CMD_A LABEL_B PREP_B CMD_B: PREP_A then A,
# PREP_B then B, three rounds (sh -c strings; $bin, $work and $reg are
# exported). Prints each one's median wall time and peak RSS and the ratio
# of the medians A/B beside GOAL (A/B at most GOAL; "-": no goal), and edge's
# (A's) peak RSS beside 64 MiB. Sets CMP_A_WALL, CMP_A_RSS, CMP_B_WALL.
compare3() {
	c_goal=$1 c_la=$2 c_pa=$3 c_ca=$4 c_lb=$5 c_pb=$6 c_cb=$7
	c_wa="" c_wb="" c_ra=0 c_rb=0
	for c_round in 1 2 3; do
		sh -c "$c_pa"
		once "$c_ca"
		c_wa="$c_wa $LAST_WALL"
		[ "$LAST_RSS" -le "$c_ra" ] || c_ra=$LAST_RSS
		sh -c "$c_pb"
		once "$c_cb"
		c_wb="$c_wb $LAST_WALL"
		[ "$LAST_RSS" -le "$c_rb" ] || c_rb=$LAST_RSS
	done
	CMP_A_WALL=$(median $c_wa)
	CMP_B_WALL=$(median $c_wb)
	CMP_A_RSS=$c_ra
	printf '%-42s %8.3f s %8d KiB  (median of%s)\n' "$c_la" "$CMP_A_WALL" "$c_ra" "$c_wa" | tee -a "$results"
	printf '%-42s %8.3f s %8d KiB  (median of%s)\n' "$c_lb" "$CMP_B_WALL" "$c_rb" "$c_wb" | tee -a "$results"
	c_r=$(ratio "$CMP_A_WALL" "$CMP_B_WALL")
	if [ "$c_goal" = - ]; then
		say "  ratio $c_r; peak RSS $((c_ra / 1024)) MiB ($(goal_met $((c_ra / 1024)) 64) <= 64)"
	else
		say "  ratio $c_r ($(goal_met "$c_r" "$c_goal") <= $c_goal); peak RSS $((c_ra / 1024)) MiB ($(goal_met $((c_ra / 1024)) 64) <= 64)"
	fi
}

# goal_met VALUE LIMIT: "goal met" or "GOAL MISSED"
goal_met() { awk -v v="$1" -v g="$2" 'BEGIN { print (v + 0 <= g + 0) ? "goal met:" : "GOAL MISSED:" }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# bench_bundle: $work/bundle.tar.zst, packed from the pulled store unless an
# earlier stage of this run packed it (30-pack-verify.sh does)
bench_bundle() {
	if [ -z "$(find "$work/bundle.tar.zst" -newer "$work/pull.json" 2>/dev/null)" ]; then
		"$bin/edge-pull" -q --offline --store "$work/store" "$work/pull.json" > "$work/bundle-pulled.json"
		"$bin/edge-pack" -q -o "$work/bundle.tar.zst" "$work/bundle-pulled.json" > /dev/null
	fi
}

# bench_start NAME PORTFILE CMD...: runs CMD in the background, its output in
# $work/NAME.log, and waits up to 10 s for the port it chose (it listens on
# port 0): PORTFILE's content, or with PORTFILE "-" the TCP port the process
# listens on (ss; docker-registry says it only in its info log, and logging
# every request would slow it). Sets bench_pid and bench_addr (127.0.0.1:PORT).
bench_start() {
	bench_name=$1
	bench_portfile=$2
	shift 2
	[ "$bench_portfile" = - ] || rm -f "$bench_portfile"
	"$@" > "$work/$bench_name.log" 2>&1 &
	bench_pid=$!
	bench_i=0
	bench_port=""
	while [ -z "$bench_port" ]; do
		if [ "$bench_portfile" = - ]; then
			bench_port=$(ss -Hltnp | awk -v p="pid=$bench_pid," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
		elif [ -s "$bench_portfile" ]; then
			bench_port=$(cat "$bench_portfile")
		fi
		[ -n "$bench_port" ] && break
		bench_i=$((bench_i + 1))
		if [ $bench_i -ge 200 ] || ! kill -0 $bench_pid 2>/dev/null; then
			echo "bench: $bench_name did not start:" >&2
			tail -5 "$work/$bench_name.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	bench_addr="127.0.0.1:$bench_port"
}

# bench_registry NAME ROOT: a docker-registry storing under ROOT, its config
# $work/NAME.yml; bench_start's bench_pid and bench_addr.
bench_registry() {
	cat > "$work/$1.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $2}, delete: {enabled: true}}
http: {addr: 127.0.0.1:0}
YML
	bench_start "$1" - docker-registry serve "$work/$1.yml"
}

# --- the image set and a registry serving it ---------------------------------
if [ ! -f "$work/images.$key.done" ]; then
	echo "bench: making the image set ($images images, base $base_mb MiB, own $own_mb MiB, huge $huge_mb MiB)" >&2
	rm -rf "$work/images" "$work/registry" "$work"/images.*.done "$work"/registry.*.done
	python3 "$top/tests/bench/make-bench-images.py" "$work/images" --images "$images" \
		--base-mb "$base_mb" --own-mb "$own_mb" --huge-mb "$huge_mb"
	touch "$work/images.$key.done"
fi
bench_registry registry "$work/registry"
regpid=$bench_pid
reg=$bench_addr
trap 'kill $regpid 2>/dev/null || true' EXIT INT TERM
tags=$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$work/images/index.json")
if [ ! -f "$work/registry.$key.done" ]; then
	echo "bench: pushing the image set" >&2
	for t in $tags; do
		skopeo copy -q --dest-tls-verify=false "oci:$work/images:$t" "docker://$reg/bench/$t:1"
	done
	touch "$work/registry.$key.done"
fi
set_tags=$(echo "$tags" | grep -v '^huge$' || true)
: > "$work/images.txt"
for t in $set_tags; do echo "$reg/bench/$t:1" >> "$work/images.txt"; done
"$bin/edge-resolve" --images "$work/images.txt" < /dev/null > "$work/pull.json"
unique_mb=$(du -sm "$work/images/blobs" | cut -f1)

say "edge benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
say "image set: $(echo "$set_tags" | wc -w) images with shared base layers, blobs on disk $unique_mb MiB (with huge)"
say ""

# --- edge-pull against skopeo copy ------------------------------------------
# Each shape three times in turn with its reference, the median compared.
export bin work reg set_tags
say "edge-pull against skopeo copy (median of 3, same run):"
compare3 0.50 "edge-pull, cold store" 'rm -rf "$work/store"' \
	'"$bin/edge-pull" -q --plain-http --store "$work/store" "$work/pull.json"' \
	"skopeo copy, image by image, cold" 'rm -rf "$work/skopeo"' \
	'for t in $set_tags; do skopeo copy -q --src-tls-verify=false "docker://$reg/bench/$t:1" "oci:$work/skopeo:$t" || exit 1; done'
pull_wall=$CMP_A_WALL
compare3 0.10 "edge-pull, rerun on a complete store" : \
	'"$bin/edge-pull" -q --plain-http --store "$work/store" "$work/pull.json"' \
	"skopeo copy, image by image, rerun" : \
	'for t in $set_tags; do skopeo copy -q --src-tls-verify=false "docker://$reg/bench/$t:1" "oci:$work/skopeo:$t" || exit 1; done'

if echo "$tags" | grep -qx huge; then
	echo "$reg/bench/huge:1" > "$work/huge.txt"
	"$bin/edge-resolve" --images "$work/huge.txt" < /dev/null > "$work/huge.json"
	compare3 0.40 "edge-pull, one ${huge_mb} MiB layer" 'rm -rf "$work/store-huge"' \
		'"$bin/edge-pull" -q --plain-http --store "$work/store-huge" "$work/huge.json"' \
		"skopeo copy, one ${huge_mb} MiB layer" 'rm -rf "$work/skopeo-huge"' \
		'skopeo copy -q --src-tls-verify=false "docker://$reg/bench/huge:1" "oci:$work/skopeo-huge:huge"'
	# the store of edge's last round stays for 30-pack-verify.sh's one-blob shape
	rm -rf "$work/skopeo-huge"
fi

for extra in "$top"/tests/bench/[0-9]*.sh; do
	[ -f "$extra" ] || continue
	case $(basename "$extra") in ${BENCH_STAGES:-*}*) ;; *) continue ;; esac
	# later stages (pack, verify, sign, push) reuse $work/store and $reg
	. "$extra"
done
say ""
say "results in $results"
