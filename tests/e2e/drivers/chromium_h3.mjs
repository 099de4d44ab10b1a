// Debian's chromium forced to HTTP/3 (QUIC) for one origin, headless, driven by playwright-core.
// argv[2]: JSON [{id, url, fault, timeout_ms}]; argv[3]: a fresh --user-data-dir; argv[4]: the
// origin to force QUIC on (host:port); argv[5]: "spki" list for --ignore-certificate-errors-spki-list
// or "" (then only the NSS database in $HOME trusts the proxy's CA: enough for QUIC in Chromium 156).
// Prints {id: {error, status, protocol, message}}: error is the navigation's net::ERR_... name,
// "timeout" or "ok"; protocol is what DevTools says ("h3" over QUIC). A case with upload_bytes
// (and page_url) loads page_url, then its script POSTs that many bytes to url with fetch(): error is
// DevTools' net::ERR_... for that request ("timeout": the script's abort after timeout_ms).
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
  cdp.on('Network.loadingFailed', (e) => { r.devtools = r.devtools || e.errorText; });
  try {
    if (c.upload_bytes) {
      // an upload: a page of the origin first (no fault), then its script POSTs with fetch()
      await page.goto(c.page_url, { timeout: c.timeout_ms, waitUntil: 'load' });
      const got = await page.evaluate(async ({ url, fault, n, ms }) => {
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), ms);
        try {
          const res = await fetch(url, { method: 'POST', body: 'u'.repeat(n), headers: fault ? { 'x-fault': fault } : {},
                                         signal: ctl.signal });
          await res.arrayBuffer();
          return { status: res.status, error: 'ok', message: '' };
        } catch (e) {
          return { status: null, error: e.name === 'AbortError' ? 'timeout' : 'failed', message: String(e) };
        } finally { clearTimeout(timer); }
      }, { url: c.url, fault: c.fault, n: c.upload_bytes, ms: c.timeout_ms });
      Object.assign(r, got);
      if (r.error === 'failed') {  // DevTools names the net::ERR_... (its event may come after the script's)
        for (let i = 0; i < 50 && !r.devtools; i++) await new Promise((ok) => setTimeout(ok, 20));
        const m = (r.devtools || '').match(/net::ERR_[A-Z0-9_]+/);
        r.error = m ? m[0] : r.message;
      }
      r.protocol = 'h3';
      out[c.id] = r;
      await page.close();
      continue;
    }
    await page.setExtraHTTPHeaders(c.fault ? { 'x-fault': c.fault } : {});
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
