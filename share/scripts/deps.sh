#!/bin/sh
# Installs the Debian packages edge needs to build and test, when missing.
# Does nothing when everything is there. Used by `make deps`.
set -eu

PKGS="gcc make pkg-config libc6-dev
libcurl4-openssl-dev libjansson-dev libarchive-dev libzstd-dev libsodium-dev libssl-dev libyaml-dev
libmicrohttpd-dev libcrypt-dev containerd nghttp2-proxy
bats bats-assert bats-support docker-registry skopeo umoci minisign openssl zstd tar gzip
mandoc apache2-utils python3 curl jq ca-certificates time python3-jsonschema libarchive-tools
clang libclang-rt-14-dev clang-tools-14 cppcheck eatmydata bash-builtins"

# one dpkg-query for all of them (one a package cost a second and a half
# on a 2-core VM, in every make check); a package it does not know is
# missing too
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null | awk '/ install ok installed$/ { print $1 }')
installed=" $(echo $installed) "
missing=""
for p in $PKGS; do
	case $installed in
	*" $p "*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
