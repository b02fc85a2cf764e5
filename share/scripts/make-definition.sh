#!/bin/sh
# make-definition.sh SRC_DIR OUT.tgz
#
# Builds a cluster definition archive like the one Palette's
# "POST /v1/spectroclusters/spc/download" returns (SPEC §8): a gzip tar holding
# every regular *.json file directly in SRC_DIR as spc/NAME.json.
#
# The output is reproducible: entries sorted by name (byte order), ustar
# format, uid/gid 0 with numeric owner, mode 0644, mtime $SOURCE_DATE_EPOCH
# (or 0), no directory entries, and `gzip -n` (no name or time in the gzip
# header). OUT is written atomically: a temp file in the same directory, then
# a rename. Needs GNU tar.
set -eu

prog=make-definition.sh
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

if [ $# -ne 2 ]; then
	printf 'usage: %s SRC_DIR OUT.tgz\n' "$prog" >&2
	exit 2
fi
src=$1
out=$2

[ -d "$src" ] || die "$src: not a directory"
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is required"
command -v gzip >/dev/null 2>&1 || die "gzip is required"

epoch=${SOURCE_DATE_EPOCH:-0}
case $epoch in
'' | *[!0-9]*) die "SOURCE_DATE_EPOCH must be a non-negative integer: $epoch" ;;
esac

# The JSON files directly in SRC_DIR, sorted by byte order. Names with a
# newline are refused rather than mangled.
if [ -n "$(find "$src/." ! -name . -prune -name '*
*' -print)" ]; then
	die "$src: file names with a newline are not supported"
fi
list=$(LC_ALL=C find "$src/." ! -name . -prune -name '*.json' -type f -print |
	sed 's,^.*/,,' | LC_ALL=C sort) || die "$src: cannot list files"
[ -n "$list" ] || die "$src: no *.json files"

outdir=$(dirname -- "$out")
[ -d "$outdir" ] || die "$outdir: not a directory"
base=$(basename -- "$out")
tmp=$(mktemp "$outdir/.$base.XXXXXX") || die "$outdir: cannot create a temp file"
tmptar=
trap 'rm -f -- "$tmp" ${tmptar:+"$tmptar"}' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
tmptar=$(mktemp "$outdir/.$base.tar.XXXXXX") || die "$outdir: cannot create a temp file"

# One name per line: split $list on newlines only, without globbing.
set -f
IFS='
'
# (No pipe: POSIX sh would lose the exit status of tar.)
# shellcheck disable=SC2086
(
	cd "$src" &&
		LC_ALL=C TZ=UTC tar --format=ustar --no-recursion --sort=name \
			--owner=0 --group=0 --numeric-owner --mode=0644 \
			--mtime="@$epoch" --transform='s,^,spc/,' \
			-cf - -- $list
) >"$tmptar" || die "$src: tar failed"
unset IFS
set +f
gzip -n -9 -c <"$tmptar" >"$tmp" || die "$out: cannot write the archive"
rm -f -- "$tmptar"
tmptar=

# Make sure the archive is complete and readable before it gets its name.
gzip -t "$tmp" 2>/dev/null || die "$out: archive check failed"
chmod 0644 "$tmp"
mv -f -- "$tmp" "$out" || die "$out: cannot rename $tmp"
trap - EXIT
