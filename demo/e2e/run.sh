#!/usr/bin/env bash
# The demo's end-to-end tests: builds the demo if needed, serves it on a free
# port of 127.0.0.1, runs demo/e2e/e2e.test.mjs (node --test, Playwright +
# Debian Chromium), stops the server. Writes artifacts/demo-holiday.png.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
demo=$(dirname "$here")
root=$(dirname "$demo")

"$demo/run.sh" build-if-needed

server=
out=$(mktemp /tmp/allot-demo-e2e-XXXXXX)
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -f "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 "$demo/serve.py" --port 0 --dir "$demo/dist" >"$out" &
server=$!
url=
for _ in $(seq 100); do
  url=$(head -n1 "$out" 2>/dev/null || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the server printed no URL" >&2; exit 1; }

mkdir -p "$root/artifacts"
start=$(date +%s)
set +e
BASE_URL="$url" TOOLS_DIR="$root/tools/node_modules" ARTIFACTS_DIR="$root/artifacts" \
  node --test --test-concurrency=1 --test-reporter=spec "$here/e2e.test.mjs" "$here/faults.test.mjs"
code=$?
set -e
echo "demo e2e: $(( $(date +%s) - start )) s, screenshot: artifacts/demo-holiday.png" >&2
exit $code
