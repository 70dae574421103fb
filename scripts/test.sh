#!/usr/bin/env bash
# The project's test command: sets up what is missing, then runs every test.
# This is what CI runs (.ci/run). Exit status 0 means everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

scripts/setup.sh all

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "core is no_std: builds without std for wasm32 and a bare-metal target"
cargo build -p allot-core --no-default-features --target wasm32-unknown-unknown --locked
cargo build -p allot-core --no-default-features --target thumbv7em-none-eabihf --locked

step "unit, property, race and conformance tests"
cargo test --workspace --locked

step "native holiday rush, last room, last seat (release build, each checks its own invariant)"
cargo build --release -p allot-tests --locked
./target/release/allot holiday
./target/release/allot holiday --price-max 999999999
./target/release/allot last-room
./target/release/allot last-seat

step "all tests passed"
