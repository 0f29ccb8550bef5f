#!/usr/bin/env bash
# Builds the go-libp2p interop peer (if needed) and prints the absolute path of the binary
# as the last line of stdout. Build logs go to stderr. Works from any cwd.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v go >/dev/null 2>&1; then
	echo "interop/go/build.sh: 'go' not found in PATH; install Go (>= the version in go.mod)" >&2
	exit 1
fi

hash="$( { cat go.mod go.sum; for f in $(ls *.go | LC_ALL=C sort); do echo "== $f"; cat "$f"; done; } | sha256sum | cut -c1-16)"
out="${WEFT_INTEROP_CACHE:-$HOME/.cache/weft-interop}/go-$hash"
bin="$out/peer"

if [[ -x "$bin" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$out"
echo "interop/go: building $bin ($(go version))" >&2
tmp="$bin.tmp.$$"
if ! go build -trimpath -o "$tmp" . 1>&2; then
	rm -f "$tmp"
	echo "interop/go: go build failed" >&2
	exit 1
fi
mv -f "$tmp" "$bin"
echo "$bin"
