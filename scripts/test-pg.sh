#!/usr/bin/env bash
# The PostgreSQL store's tests, against a throwaway server that this script
# starts and stops (scripts/pg.sh): installs PostgreSQL if missing, runs
# `cargo test -p allot-pg` (conformance, races, faults, restart), then the
# native holiday rush on PostgreSQL. Exit status 0 means everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

scripts/pg.sh install

step "PostgreSQL store: conformance, last-seat race, group commit, dropped connections, server restart"
scripts/pg.sh run -- cargo test -p allot-pg --locked

step "native holiday rush on PostgreSQL (release build, checks its own invariant)"
cargo build --release -p allot-tests --locked
scripts/pg.sh run -- bash -c '
  set -e
  ./target/release/allot holiday --store "$ALLOT_PG_URL"
  ./target/release/allot holiday --store "$ALLOT_PG_URL" --batch 16
  ./target/release/allot holiday --store "$ALLOT_PG_URL" --price-max 999999999
'

step "PostgreSQL store: all passed"
