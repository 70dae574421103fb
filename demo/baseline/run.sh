#!/usr/bin/env bash
# The plain-JavaScript IndexedDB baseline of the holiday rush (what a web
# developer writes without allot), in headless Chromium. Prints its result
# line. Keys as in the demo: --hotels --rooms --sessions --workers
# --price-min --price-max --durability.
#
#   demo/baseline/run.sh --hotels 20 --rooms 50 --sessions 1000 --workers 16
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mktemp /tmp/allot-baseline-serve-XXXXXX)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -f "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 "$root/demo/serve.py" --port 0 --dir "$here" >"$out" &
server=$!
url=
for _ in $(seq 100); do
  url=$(head -n1 "$out" 2>/dev/null || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the server printed no URL" >&2; exit 1; }
node "$here/run.mjs" "$url" "$@"
