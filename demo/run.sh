#!/usr/bin/env bash
# The in-browser demo: build it, serve it, or run it headless.
#
#   demo/run.sh [serve] [--port P]        build if needed, serve demo/dist on
#                                         127.0.0.1 (default: a free port), print
#                                         the URL, stay in the foreground (Ctrl-C)
#   demo/run.sh build                     trunk build --release into demo/dist
#   demo/run.sh build-if-needed           the same, unless demo/dist is newer than
#                                         every source it is built from
#   demo/run.sh headless [--key value]... build if needed, serve on a free port,
#                                         run the page with these URL parameters
#                                         and autostart=1 in headless Chromium,
#                                         print the result line; exit 0 only if
#                                         the scenario's invariant held
#
# Headless keys mirror the URL (and the controls): --scenario
# holiday|last-room|last-seat|dinner|long-stays --hotels --rooms --sessions
# --workers (1-32) --batch --window --price-min --price-max --seed
# --durability relaxed|default|strict; --cold 1 (workers do not load their
# cache before the clock); plus --timeout SECS and
# --screenshot PATH. Example:
#
#   demo/run.sh headless --scenario holiday --hotels 20 --rooms 50 --sessions 1000 --workers 16
#
# Needs trunk 0.21.14, wasm-bindgen-cli 0.2.130, the wasm32 target, Debian
# chromium and tools/node_modules (binaryen 132, playwright-core):
# scripts/setup.sh installs them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
dist=$here/dist
stamp=$dist/.built

say() { printf '\033[1m[demo]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

check_tools() {
  command -v trunk >/dev/null || die "trunk is missing: run scripts/setup.sh (cargo install trunk --version 0.21.14 --locked)"
  [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = 0.2.130 ] ||
    die "wasm-bindgen-cli 0.2.130 is missing: run scripts/setup.sh"
  [ -x "$root/tools/node_modules/.bin/wasm-opt" ] || die "tools/node_modules is missing: run scripts/setup.sh"
}

build() {
  check_tools
  say "trunk build --release (demo/dist)"
  # binaryen 132 from npm first on PATH: trunk's version_132 pin refuses any
  # other wasm-opt (Debian's 108 breaks wasm).
  # (to stderr: `run.sh headless` prints only the result line on stdout)
  (cd "$here" && PATH="$root/tools/node_modules/.bin:$PATH" trunk build --release) >&2
  postprocess
  touch "$stamp"
}

# The CSP allows no inline script or style: check what trunk wrote, and
# fail the build rather than serve a page the policy would break.
postprocess() {
  local html=$dist/index.html
  python3 - "$html" <<'PY'
import re, sys
path = sys.argv[1]
html = open(path, encoding="utf-8").read()
# Trunk's leftovers that the browser would ignore anyway.
html = re.sub(r'\s*<link data-trunk[^>]*>', '', html)
problems = []
for m in re.finditer(r'<script\b([^>]*)>(.*?)</script>', html, re.S | re.I):
    if 'src=' not in m.group(1) or m.group(2).strip():
        problems.append('inline script: ' + m.group(0)[:80])
if re.search(r'<style\b', html, re.I):
    problems.append('inline <style>')
if re.search(r'\sstyle\s*=', html, re.I):
    problems.append('style attribute')
if re.search(r'\son[a-z]+\s*=', html, re.I):
    problems.append('inline event handler')
if "http-equiv=\"Content-Security-Policy\"" not in html:
    problems.append('no CSP meta tag')
if problems:
    sys.exit('dist/index.html breaks the CSP: ' + '; '.join(problems))
open(path, 'w', encoding='utf-8').write(html)
PY
  # The worker is an ES module (index.html: data-bindgen-target="web"), so
  # that it can import the npm package's JS snippets; the page starts it
  # with type: 'module' (src/main.rs, spawn_worker).
  grep -q "^import init from './worker.js'" "$dist/worker_loader.js" \
    || die "dist/worker_loader.js is not the expected (module) loader shim"
  for f in allot-demo.js allot-demo_bg.wasm boot.js worker.js worker_bg.wasm worker_loader.js style.css; do
    [ -s "$dist/$f" ] || die "dist/$f is missing after the build"
  done
}

stale() {
  [ -f "$stamp" ] || return 0
  [ -n "$(find "$here/src" "$here/index.html" "$here/style.css" "$here/boot.js" "$here/favicon.svg" \
    "$here/Trunk.toml" "$here/Cargo.toml" "$root/core/src" "$root/web/src" "$root/tests/src" \
    "$root/Cargo.lock" "$root/Cargo.toml" "$root/tests/Cargo.toml" "$root/web/Cargo.toml" \
    -newer "$stamp" -print -quit 2>/dev/null)" ]
}

build_if_needed() {
  if stale; then build; else say "demo/dist is up to date"; fi
}

cmd=serve
case "${1:-}" in
  -h | --help | help | serve | build | build-if-needed | headless) cmd=$1; shift ;;
  --*) ;; # serve's options
  "") ;;
  *) cmd=$1; shift ;;
esac
case "$cmd" in
  build)
    build
    ;;
  build-if-needed)
    build_if_needed
    ;;
  serve)
    port=0
    while [ $# -gt 0 ]; do
      case "$1" in
        --port) port=${2:?--port needs a value}; shift 2 ;;
        *) die "serve: unknown argument $1 (only --port P)" ;;
      esac
    done
    build_if_needed
    say "serving demo/dist on 127.0.0.1 (Ctrl-C stops); open the URL below"
    exec python3 "$here/serve.py" --port "$port" --dir "$dist"
    ;;
  headless)
    build_if_needed
    server=
    out=$(mktemp /tmp/allot-demo-serve-XXXXXX)
    cleanup() {
      if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
      rm -f "$out"
    }
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    python3 "$here/serve.py" --port 0 --dir "$dist" >"$out" &
    server=$!
    url=
    for _ in $(seq 100); do
      url=$(head -n1 "$out" 2>/dev/null || true)
      [ -n "$url" ] && break
      kill -0 "$server" 2>/dev/null || die "the server did not start"
      sleep 0.1
    done
    [ -n "$url" ] || die "the server printed no URL"
    say "serving on $url; running headless Chromium"
    set +e
    TOOLS_DIR="$root/tools/node_modules" node "$here/e2e/headless.mjs" "$url" "$@"
    code=$?
    set -e
    exit $code
    ;;
  -h | --help | help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    ;;
  *)
    die "unknown command $cmd (serve, build, headless)"
    ;;
esac
