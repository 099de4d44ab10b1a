// Debian's chromium forced to HTTP/3 (QUIC) for one origin, headless, driven by playwright-core.
// argv[2]: JSON [{id, url, fault, timeout_ms}]; argv[3]: a fresh --user-data-dir; argv[4]: the
// origin to force QUIC on (host:port); argv[5]: "spki" list for --ignore-certificate-errors-spki-list
// or "" (then only the NSS database in $HOME trusts the proxy's CA: enough for QUIC in Chromium 156).
// Prints {id: {error, status, protocol, message}}: error is the navigation's net::ERR_... name,
// "timeout" or "ok"; protocol is what DevTools says ("h3" over QUIC).
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const args = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-proxy-server', '--enable-quic',
              `--origin-to-force-quic-on=${process.argv[4]}`];
if (process.argv[5]) args.push(`--ignore-certificate-errors-spki-list=${process.argv[5]}`);
const browser = await chromium.launchPersistentContext(process.argv[3], {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args,
});
const out = {};
for (const c of cases) {
  const r = { status: null, error: 'ok', message: '', protocol: null };
  const page = await browser.newPage();
  const cdp = await browser.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', (e) => { if (e.response.url === c.url) r.protocol = e.response.protocol; });
  await page.setExtraHTTPHeaders(c.fault ? { 'x-fault': c.fault } : {});
  try {
    const res = await page.goto(c.url, { timeout: c.timeout_ms, waitUntil: 'load' });
    r.status = res ? res.status() : null;
  } catch (e) {
    // the navigation's own net error (DevTools' loadingFailed may name a later ERR_ABORTED)
    r.message = e.message.split('\n')[0];
    const m = r.message.match(/net::ERR_[A-Z0-9_]+/);
    r.error = e.name === 'TimeoutError' ? 'timeout' : (m ? m[0] : r.message);
  }
  out[c.id] = r;
  await page.close();
}
await browser.close();
console.log(JSON.stringify(out));
