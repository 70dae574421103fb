#!/usr/bin/env bash
# Installs what allot's commands need, idempotently: anything already
# present at the right version is skipped. Safe to run again and again.
#
#   scripts/setup.sh            everything
#   scripts/setup.sh rust       only the Rust side (targets)
#
# Facts behind the versions: ../shared/TOOLCHAIN.md (wasm-bindgen must match
# the crate's pinned =0.2.130; trunk 0.22 needs a newer rustc than 1.95).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

need_rust_targets() {
  local have
  have=$(rustup target list --installed)
  for t in wasm32-unknown-unknown thumbv7em-none-eabihf; do
    if ! grep -qx "$t" <<<"$have"; then
      say "adding Rust target $t"
      rustup target add "$t"
    fi
  done
}

what=${1:-all}
case "$what" in
  rust) need_rust_targets ;;
  all) need_rust_targets ;;
  *) echo "usage: $0 [all|rust]" >&2; exit 2 ;;
esac
