#!/bin/sh
# make demo: the whole pipeline on this machine, loopback only.
#
#   connected side: resolve the sample definition, pull (from a local mirror
#                   registry seeded with generated images under the sample's
#                   image names), pack, sign
#   site side:      verify the bundle and its signature, push into a site
#                   registry with basic auth, verify the registry
#
# Everything it starts is stopped on exit, also when a step fails.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/bin"
work="$top/build/demo"
PATH="$bin:$PATH"
export PATH

pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME PORT [HTPASSWD]
start_registry() {
	mkdir -p "$work/$1"
	{
		echo "version: 0.1"
		echo "log: {level: error, accesslog: {disabled: true}}"
		echo "storage: {filesystem: {rootdirectory: $work/$1/data}, delete: {enabled: true}}"
		echo "http: {addr: 127.0.0.1:$2}"
		if [ $# -ge 3 ]; then
			echo "auth: {htpasswd: {realm: edge-demo, path: $3}}"
		fi
	} > "$work/$1/config.yml"
	docker-registry serve "$work/$1/config.yml" > "$work/$1/registry.log" 2>&1 &
	pids="$pids $!"
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$2/v2/"; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "demo: registry $1 did not start:" >&2
			cat "$work/$1/registry.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

rm -rf "$work"
mkdir -p "$work"
cd "$work"

step "starting a mirror registry (connected side) and a site registry with basic auth, on 127.0.0.1"
src_port=$(free_port)
site_port=$(free_port)
src="127.0.0.1:$src_port"
site="127.0.0.1:$site_port"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" > site.password
chmod 600 site.password
htpasswd -Bbn demo "$password" > htpasswd 2>/dev/null
start_registry mirror "$src_port"
start_registry site "$site_port" "$work/htpasswd"
echo "mirror: $src   site: $site (user demo)" >&2

step "edge-resolve: images and charts of the sample cluster definition"
cp "$top/share/examples/cluster-definition.tgz" site.tgz
edge-resolve --name site site.tgz > resolved.json
echo "$(jq '.images | length' resolved.json) images, $(jq '.charts | length' resolved.json) charts from profiles $(jq -r '[.definition.profiles[].name] | join(", ")' resolved.json)" >&2

step "seeding the mirror with generated images under those names"
layout="$top/build/test-images/layout"
if [ ! -f "$layout/index.json" ]; then
	python3 "$top/tests/fixtures/make-images.py" "$layout" > /dev/null
fi
for ref in $(jq -r '.images[].ref' resolved.json); do
	skopeo copy -q --all --dest-tls-verify=false "oci:$layout:multi" "docker://$src/$ref"
done
# charts: the OCI one comes from the mirror; HTTP Helm repositories are not
# reachable from here, so the demo leaves those charts out
for ref in $(jq -r '.charts[] | select(.repo | startswith("oci://")) | .ref' resolved.json); do
	skopeo copy -q --dest-tls-verify=false "oci:$layout:chart" "docker://$src/$ref"
done
jq '.charts |= map(select(.repo | startswith("oci://")))' resolved.json > resolved-oci.json
echo "left out (HTTP Helm repositories need the internet): $(jq -r '[.charts[] | select(.repo | startswith("oci://") | not) | .name] | join(", ")' resolved.json)" >&2

step "edge-pull: into ./store through the mirror, linux/amd64"
mirrors=""
for d in $(jq -r '[.images[].ref, .charts[].ref] | map(split("/")[0]) | unique | .[]' resolved-oci.json); do
	mirrors="$mirrors --mirror $d=$src/$d"
done
# shellcheck disable=SC2086
edge-pull --plain-http --platform linux/amd64 --store store $mirrors resolved-oci.json > pulled.json

step "edge-pack: one reproducible, seekable bundle"
edge-pack --progress never pulled.json > packed.json
bundle=$(jq -r .bundle.path packed.json)

step "edge-sign: a new minisign key pair, the bundle and the definition signed"
edge-sign -G -W -k demo.key -p demo.pub 2> /dev/null
edge-sign -k demo.key < packed.json > site.manifest.json

step "site side: edge-verify -p demo.pub $bundle | edge-push --registry $site/spectro-images"
edge-verify -p demo.pub "$bundle" |
	edge-push --plain-http --registry "$site/spectro-images" --username demo --password-file site.password \
		> pushed.json

step "edge-verify --registry: every image and chart is in the site registry"
edge-verify --plain-http --registry "$site/spectro-images" --username demo --password-file site.password \
	pushed.json > /dev/null

step "summary"
# the digest edge-pack computed: edge-verify hashes blobs, not the whole file
# (it adds bundle.digest only with --digest), so pushed.json has none
digest=$(jq -r .bundle.digest packed.json)
jq -r --arg b "$bundle" --arg s "$(stat -c %s "$bundle")" --arg d "$digest" '
	"bundle      \($b) (\($s) bytes, \($d))",
	"images      \(.images | length), charts \(.charts | length), pushed \(.pushed | length)",
	"examples:",
	(.pushed[0:3][] | "  \(.ref)\n    -> \(.target)")' pushed.json
echo "signature   $(jq -r '.signatures[0].path' site.manifest.json) (key $(jq -r '.signatures[0].keyId' site.manifest.json))"
echo "files in $work"
