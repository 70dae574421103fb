#!/usr/bin/env bash
# The main job: set up what is missing, build the browser demo (the holiday
# rush: Web Workers racing to book hotel rooms in IndexedDB) and serve it on
# 127.0.0.1, printing the URL to open. Ctrl-C stops the server.
#
#   scripts/demo.sh                      serve (open the printed URL)
#   scripts/demo.sh headless [--k v]...  run one scenario in headless Chromium
#                                        and print its result line, e.g.
#   scripts/demo.sh headless --scenario holiday --hotels 20 --rooms 50 --sessions 1000 --workers 16
#
# The same race natively, on threads: target/release/allot holiday (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh web
exec demo/run.sh "$@"
