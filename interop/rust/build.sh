#!/usr/bin/env bash
# Builds the Rust interop peer (if needed) and prints the absolute path of the binary as the last
# line of stdout. Build logs go to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${WEFT_INTEROP_CACHE:-$HOME/.cache/weft-interop}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "interop/rust/build.sh: cargo not found in PATH (install Rust from https://rustup.rs)" >&2
  exit 1
fi

cd "$here"
hash="$( { sha256sum Cargo.toml Cargo.lock; find src -type f -print0 | sort -z | xargs -0 sha256sum; } \
  | sha256sum | cut -c1-16 )"
out="$cache/rust-$hash/peer"

if [[ -x "$out" ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache"
export CARGO_TARGET_DIR="$cache/rust-target"
# One build at a time in the shared target dir, from `cargo build` to the copy: two builds of
# different sources run side by side would each copy whichever binary the other wrote last.
exec 9>"$cache/rust-target.lock"
flock 9
if [[ -x "$out" ]]; then # built by whoever held the lock before us
  echo "$out"
  exit 0
fi
echo "interop/rust/build.sh: building rust peer ($hash)..." >&2
cargo build --release --locked 1>&2
mkdir -p "$cache/rust-$hash"
cp "$CARGO_TARGET_DIR/release/peer" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$out"
