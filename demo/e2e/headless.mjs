// `demo/run.sh headless`: opens the demo with the given URL parameters and
// autostart=1 in headless Chromium, waits for #result[data-done="1"], prints
// the result line on stdout, and exits 0 only if the scenario's invariant
// held (and the page ran without CSP violations or errors).
//
//   node demo/e2e/headless.mjs BASE_URL [--key value ...] [--timeout SECS] [--screenshot PATH]
import { launch, recordViolations, runScenario, watch } from './browser.mjs';

const [base, ...rest] = process.argv.slice(2);
if (!base) {
  console.error('usage: headless.mjs BASE_URL [--key value ...] [--timeout SECS] [--screenshot PATH]');
  process.exit(2);
}
const params = {};
let timeout = 600;
let screenshot = null;
for (let i = 0; i < rest.length; i += 2) {
  const k = rest[i].replace(/^--/, '').replace(/-/g, '_');
  const v = rest[i + 1];
  if (v === undefined) { console.error(`missing value for ${rest[i]}`); process.exit(2); }
  if (k === 'timeout') timeout = Number(v);
  else if (k === 'screenshot') screenshot = v;
  else params[k === 'rooms_per_hotel' ? 'rooms' : k] = v;
}

const { ctx, close } = await launch();
let code = 1;
try {
  await recordViolations(ctx);
  const page = ctx.pages()[0] || await ctx.newPage();
  const seen = watch(page);
  if (process.env.DEBUG) page.on('console', (m) => console.error(`console: ${m.text()}`));
  const r = await runScenario(page, base, params, { timeout: timeout * 1000 });
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(r.line);
  console.error(`verdict: ${r.verdict}`);
  const csp = [...r.csp, ...seen.csp];
  for (const v of csp) console.error(`CSP violation: ${v}`);
  for (const e of seen.errors) console.error(`page error: ${e}`);
  code = r.ok && csp.length === 0 && seen.errors.length === 0 ? 0 : 1;
} catch (e) {
  console.error(`headless run failed: ${e && e.message || e}`);
} finally {
  await close();
}
process.exit(code);
