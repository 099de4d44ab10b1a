// Debian's chromium, headless, driven by playwright-core: one case per page, in order.
// argv[2]: JSON [{id, url, fault, timeout_ms, page?}]; argv[3]: a fresh --user-data-dir. $HOME
// holds an NSS database trusting the proxy's CA (set up by clientmatrix.py), so only a fault's
// certificate fails. Every case has its own host name, so its own fresh connection.
// Two modes:
// - a navigation (no `page`): page.goto(url) with the x-fault header;
// - a page script's fetch() (`page` set): the page first loads `page` (same origin as url, no
//   fault; over HTTP/1.1 the proxy answers it with connection: close, so the fetch opens a
//   fresh connection), then a script in it runs fetch(url) with the x-fault header and reads the
//   body. `fetch_error` is what the script's promise rejected with ("TypeError: Failed to fetch").
// error: the net::ERR_... name DevTools reports for url (Network.loadingFailed, what playwright's
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

async function navigate(page, c, r) {
  await page.setExtraHTTPHeaders(c.fault ? { 'x-fault': c.fault } : {});
  try {
    const res = await page.goto(c.url, { timeout: c.timeout_ms, waitUntil: 'load' });
    r.status = res ? res.status() : null;
    try { r.body_len = res ? (await res.body()).length : null; } catch (e) { /* body failed: requestfailed says how */ }
  } catch (e) {
    r.message = e.message.split('\n')[0];
    if (e.name === 'TimeoutError') r.error = 'timeout';
  }
}

async function pageFetch(page, c, r) {
  await page.goto(c.page, { timeout: 10000, waitUntil: 'load' });
  const got = await page.evaluate(async ({ url, fault, ms }) => {
    const out = { status: null, body_len: null, fetch_error: '' };
    const timer = new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));
    const attempt = (async () => {
      const res = await fetch(url, { headers: fault ? { 'x-fault': fault } : {}, cache: 'no-store' });
      out.status = res.status;
      out.body_len = (await res.arrayBuffer()).byteLength;
    })();
    try {
      if (await Promise.race([attempt, timer]) === 'timeout') out.fetch_error = 'timeout';
    } catch (e) {
      out.fetch_error = `${e.name}: ${e.message}`;
    }
    return out;
  }, { url: c.url, fault: c.fault, ms: c.timeout_ms });
  Object.assign(r, got);
  if (got.fetch_error === 'timeout') r.error = 'timeout';
  r.message = got.fetch_error;
}

const out = {};
for (const c of cases) {
  const r = { status: null, body_len: null, error: 'ok', message: '' };
  const page = await browser.newPage();
  let failed = null;
  page.on('requestfailed', (req) => { if (!failed && req.url() === c.url) failed = req.failure().errorText; });
  if (c.page) await pageFetch(page, c, r); else await navigate(page, c, r);
  await page.waitForTimeout(100);  // a body failure is reported just after the load event
  if (failed) {
    r.error = failed;
    if (!c.page) r.message = failed;
  }
  await page.close();
  out[c.id] = r;
}
await browser.close();
process.stdout.write(JSON.stringify(out));
