#!/usr/bin/env bash
# Installs what allot's commands need, idempotently: anything already
# present at the right version is skipped. Safe to run again and again.
#
#   scripts/setup.sh            everything
#   scripts/setup.sh rust       the Rust targets only
#   scripts/setup.sh web        + wasm-bindgen-cli, trunk, Chromium + ChromeDriver, JS tools
#   scripts/setup.sh postgres   PostgreSQL from Debian, if missing
#
# Versions: ../shared/TOOLCHAIN.md (wasm-bindgen-cli must equal the crate's
# pinned =0.2.130; trunk 0.22 needs a newer rustc than 1.95; Debian's wasm-opt
# breaks wasm, so wasm-opt comes from npm's binaryen 132).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

WASM_BINDGEN_VERSION=0.2.130
TRUNK_VERSION=0.21.14

rust_targets() {
  local have
  have=$(rustup target list --installed)
  for t in wasm32-unknown-unknown thumbv7em-none-eabihf; do
    if ! grep -qx "$t" <<<"$have"; then
      say "adding Rust target $t"
      rustup target add "$t"
    fi
  done
}

wasm_bindgen_cli() {
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 4 minutes the first time)"
    # Not --locked: the registry lacks one of its locked versions (TOOLCHAIN.md).
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
}

trunk_cli() {
  if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$TRUNK_VERSION" ]; then
    say "installing trunk $TRUNK_VERSION (about 16 minutes the first time)"
    cargo install trunk --version "$TRUNK_VERSION" --locked
  fi
}

apt_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

js_tools() {
  # Pinned by tools/package-lock.json; reinstalled when the lock changes.
  local stamp=tools/node_modules/.allot-lock
  if [ ! -f "$stamp" ] || ! cmp -s tools/package-lock.json "$stamp"; then
    say "installing JS tools (binaryen, playwright-core, typescript) from tools/package-lock.json"
    (cd tools && npm ci --no-audit --no-fund --silent)
    cp tools/package-lock.json "$stamp"
  fi
}

what=${1:-all}
case "$what" in
  rust) rust_targets ;;
  postgres) scripts/pg.sh install ;;
  web)
    rust_targets
    wasm_bindgen_cli
    trunk_cli
    apt_packages chromium chromium-driver
    js_tools
    ;;
  all)
    rust_targets
    wasm_bindgen_cli
    trunk_cli
    apt_packages chromium chromium-driver
    js_tools
    scripts/pg.sh install
    ;;
  *) echo "usage: $0 [all|rust|web|postgres]" >&2; exit 2 ;;
esac
