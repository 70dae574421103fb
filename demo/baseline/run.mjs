// Runs the plain-JS baseline page in headless Chromium and prints its result
// line; exits 0 only if it booked min(eligible, sessions) rooms, the recount
// agrees, nothing was double booked and nothing acknowledged was lost.
//
//   node demo/baseline/run.mjs BASE_URL [--hotels N --rooms N --sessions N --workers N ...]
import { launch, parseLine } from '../e2e/browser.mjs';

const [base, ...rest] = process.argv.slice(2);
if (!base) {
  console.error('usage: run.mjs BASE_URL [--key value ...]');
  process.exit(2);
}
const q = new URLSearchParams();
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i + 1] === undefined) { console.error(`missing value for ${rest[i]}`); process.exit(2); }
  q.set(rest[i].replace(/^--/, '').replace(/-/g, '_'), rest[i + 1]);
}
const { ctx, close } = await launch();
let code = 1;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}?${q}`);
  await page.waitForSelector('#result[data-done="1"]', { timeout: 600_000 });
  const line = await page.evaluate(() => document.querySelector('#result').textContent);
  console.log(line);
  const r = parseLine(line);
  const want = Math.min(r.eligible, r.sessions);
  const ok = r.name === 'plain_js_holiday_done' && r.booked === want && r.verified_booked === want
    && r.double_booked === 0 && r.lost === 0 && errors.length === 0;
  for (const e of errors) console.error(`page error: ${e}`);
  code = ok ? 0 : 1;
} finally {
  await close();
}
process.exit(code);
