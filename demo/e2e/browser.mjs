// Headless Debian Chromium through playwright-core (tools/node_modules), as
// TOOLCHAIN.md prescribes: a fresh temporary profile per launch, no network
// chatter. Shared by demo/e2e/headless.mjs (run.sh headless) and the tests.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const toolsDir = process.env.TOOLS_DIR || resolve(here, '../../tools/node_modules');
const require = createRequire(toolsDir + '/');
const { chromium } = require('playwright-core');

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

/** PIDs of every live descendant of process `root`. */
function descendants(root) {
  const parent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch { /* gone meanwhile */ }
  }
  const out = [];
  const walk = (p) => {
    for (const [pid, pp] of parent) if (pp === p) { out.push(pid); walk(pid); }
  };
  walk(root);
  return out;
}

/**
 * Launches Chromium with a fresh profile. Returns the context and a close()
 * that closes it, kills any process it left behind (by PID, only our own
 * descendants) and removes the profile.
 */
export async function launch({ viewport = { width: 1440, height: 1000 } } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'allot-demo-chromium-'));
  const children = () => descendants(process.pid).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
    } catch { return false; }
  });
  const before = new Set(children());
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  // The browser this launch started: our new direct child(ren).
  const browserPids = children().filter((pid) => !before.has(pid));
  const close = async () => {
    await Promise.race([ctx.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
    for (const root of browserPids) {
      for (const pid of [...descendants(root), root]) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, close };
}

/**
 * Watches a page for Content-Security-Policy violations (the DOM event and
 * the console reports, which also cover the workers) and page errors.
 */
export function watch(page) {
  const seen = { csp: [], errors: [], console: [] };
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to (load|execute|apply|connect|create|evaluate|compile)/i.test(text)) {
      seen.csp.push(text);
    }
    if (m.type() === 'error') seen.console.push(text);
  });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  page.on('worker', (w) => {
    w.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) seen.csp.push(`worker: ${m.text()}`);
    });
  });
  return seen;
}

/** Registers a listener for securitypolicyviolation events before any page script runs. */
export async function recordViolations(ctx) {
  await ctx.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
}

/** The URL query for the demo from { key: value } (plus autostart=1). */
export function query(params, { autostart = true } = {}) {
  const q = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  if (autostart) q.set('autostart', '1');
  return q.toString();
}

/**
 * Opens the demo with `params` and autostart, waits for the result.
 * Returns { line, ok, verdict, csp, errors }.
 */
export async function runScenario(page, baseUrl, params, { timeout = 600_000 } = {}) {
  // An uncaught error in the page (a wasm trap) ends the wait at once.
  let onError;
  const crashed = new Promise((_, reject) => {
    onError = (e) => reject(new Error(`page error: ${e}`));
    page.on('pageerror', onError);
  });
  try {
    await page.goto(`${baseUrl}?${query(params)}`);
    await Promise.race([page.waitForSelector('#result[data-done="1"]', { timeout }), crashed]);
  } finally {
    page.off('pageerror', onError);
  }
  return page.evaluate(() => ({
    line: document.querySelector('#result').textContent,
    ok: document.querySelector('#result').getAttribute('data-ok') === '1',
    verdict: document.querySelector('#verdict').textContent,
    csp: window.__cspViolations || [],
  }));
}

/** Parses `name_done k=v k=v ...` into { name, k: Number(v) }. */
export function parseLine(line) {
  const [name, ...kv] = line.trim().split(/\s+/);
  const out = { name };
  for (const p of kv) {
    const [k, v] = p.split('=');
    out[k] = Number(v);
  }
  return out;
}
