// Debian's chromium, headless, driven by playwright-core: one navigation per case, each in
// a new browser context (its own socket pool: a fresh connection). argv[2]: JSON
// [{id, url, fault, timeout_ms}]; argv[3]: a fresh --user-data-dir. $HOME holds an NSS
// database trusting the proxy's CA (set up by clientmatrix.py), so only a fault's certificate fails.
// error: the net::ERR_... name DevTools reports (Network.loadingFailed, what playwright's
// requestfailed gives), "timeout" when nothing settled in timeout_ms, else "ok" with the status.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await chromium.launchPersistentContext(process.argv[3], {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-proxy-server',
         '--host-resolver-rules=MAP *.test 127.0.0.1',],
});
const out = {};
for (const c of cases) {
  const r = { status: null, body_len: null, error: 'ok', message: '' };
  const page = await browser.newPage();
  await page.setExtraHTTPHeaders(c.fault ? { 'x-fault': c.fault } : {});
  let failed = null;
  page.on('requestfailed', (req) => { if (!failed && req.url() === c.url) failed = req.failure().errorText; });
  try {
    const res = await page.goto(c.url, { timeout: c.timeout_ms, waitUntil: 'load' });
    r.status = res ? res.status() : null;
    try { r.body_len = res ? (await res.body()).length : null; } catch (e) { /* body failed: requestfailed says how */ }
  } catch (e) {
    r.message = e.message.split('\n')[0];
    if (!failed && e.name === 'TimeoutError') r.error = 'timeout';
  }
  await page.waitForTimeout(100);  // a body failure is reported just after the load event
  if (failed) { r.error = failed; r.message = failed; }
  await page.close();
  out[c.id] = r;
}
await browser.close();
process.stdout.write(JSON.stringify(out));
