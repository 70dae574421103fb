#!/usr/bin/env bash
# The main job: set up what is missing, then run the holiday rush.
# Extra arguments go to `allot holiday` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh rust
cargo build --release -p allot-tests --locked
exec ./target/release/allot holiday "$@"
