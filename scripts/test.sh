#!/usr/bin/env bash
# The project's test command: sets up what is missing, then runs every test.
# This is what CI runs (.ci/run). Exit status 0 means everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

scripts/setup.sh all

step "format and lints (native and wasm32)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p allot-web --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
cargo clippy -p allot-demo --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

step "core is no_std: builds without std for wasm32 and a bare-metal target"
cargo build -p allot-core --no-default-features --target wasm32-unknown-unknown --locked
cargo build -p allot-core --no-default-features --target thumbv7em-none-eabihf --locked

step "unit, property, race, simulation and conformance tests"
# allot-pg's tests need a server: they run below, through scripts/test-pg.sh.
cargo test --workspace --locked --exclude allot-pg

step "native holiday rush, last room, last seat (release build, each checks its own invariant)"
cargo build --release -p allot-tests --locked
./target/release/allot holiday
./target/release/allot holiday --price-max 999999999
./target/release/allot last-room
./target/release/allot last-seat

step "browser: IndexedDB store and JS API in headless Chromium (page and worker)"
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver} cargo test --target wasm32-unknown-unknown -p allot-web --locked

step "npm package: packed, installed, used from Node (import, require, types) and from a page"
web/test/run.sh

step "demo: the page and its Web Workers in headless Chromium (every scenario, reload, CSP, screenshot)"
demo/e2e/run.sh

step "PostgreSQL store against a throwaway server: conformance, races, faults, restart, holiday"
scripts/test-pg.sh

step "all tests passed"
