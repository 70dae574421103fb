#!/usr/bin/env bash
# Tests the npm package as a user gets it: builds and packs it, installs the
# tarball in a scratch folder, then runs it from Node (import and require)
# and from a page in headless Chromium (IndexedDB through the ESM entry).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
web/build.sh
tgz=$(ls "$root"/web/pkg/allot-web-*.tgz)
scratch=$(mktemp -d /tmp/allot-npm-XXXXXX)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

cd "$scratch"
printf '{ "name": "scratch", "private": true, "type": "module" }\n' > package.json
npm install --no-audit --no-fund --silent "$tgz"
cp "$root"/web/test/*.test.mjs "$root"/web/test/*.test.cjs "$root"/web/test/page.mjs .

echo "== Node: import and require" >&2
node --test node.test.mjs node.test.cjs

echo "== TypeScript: code written against the generated types compiles (--strict)" >&2
cp "$root"/web/test/types.test.ts .
"$root"/tools/node_modules/.bin/tsc --noEmit --strict --target esnext --lib esnext,dom --module nodenext --moduleResolution nodenext \
  --skipLibCheck false types.test.ts

echo "== headless Chromium: the ESM browser entry on IndexedDB" >&2
entry=$(node -p 'require("./node_modules/allot-web/package.json").exports["."].browser')
cat > page.html <<HTML
<!doctype html>
<meta charset="utf-8">
<script type="importmap">{ "imports": { "allot-web": "/node_modules/allot-web/${entry#./}" } }</script>
<script type="module" src="/page.mjs"></script>
HTML
# A bare page with the package on window, for tests that drive it step by step.
cat > api.html <<HTML
<!doctype html>
<meta charset="utf-8">
<script type="importmap">{ "imports": { "allot-web": "/node_modules/allot-web/${entry#./}" } }</script>
<script type="module">
  import init, * as allot from 'allot-web';
  await init();
  window.allot = allot;
</script>
HTML
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/page.html" >/dev/null && break; sleep 0.1; done
BASE_URL="http://127.0.0.1:$port" TOOLS_DIR="$root/tools/node_modules" node --test browser.test.mjs
