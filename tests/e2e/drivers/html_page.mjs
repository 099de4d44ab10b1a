// Opens local HTML files (faults report --html) in Debian's chromium, headless, driven by
// playwright-core, one page each, and prints what each did and shows, as a JSON list:
// - every request the page made (the file itself included: its URL) and every failed one;
// - every console message and uncaught page error;
// - the numbers the page shows, read back from the DOM (bars, lanes, tables) and the
//   rendered bar heights (to check they are drawn in proportion to their counts);
// - the scorecard as rendered (headings, each row's visible cell text, a failing row's colour),
//   on a faults report page given --score and on a faults score --html page alike.
// argv[2]: a JSON list of the pages' file:// URLs; argv[3]: a fresh --user-data-dir.
import { chromium } from 'playwright-core';

const [urls, profile] = process.argv.slice(2);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  offline: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic', '--no-proxy-server'],
});
const results = [];
let out = null;  // the page being read: the context's events land in its entry
ctx.on('request', (r) => out.requests.push(r.url()));
ctx.on('requestfailed', (r) => out.failed.push(`${r.url()} ${r.failure() && r.failure().errorText}`));

function readPage() {  // runs in the page
  const all = (sel, root = document) => [...root.querySelectorAll(sel)];
  const bars = {};
  const perCount = [];
  for (const b of all('rect.bar')) {
    bars[b.dataset.outcome] = (bars[b.dataset.outcome] || 0) + Number(b.dataset.count);
    perCount.push(b.getBoundingClientRect().height / Number(b.dataset.count));
  }
  const lanes = all('g.lane').map((g) => ({
    rule: g.dataset.rule, injected: Number(g.dataset.injected), ramp: g.dataset.ramp,
    windows: all('rect.lane-window', g).map((w) => [w.dataset.from, w.dataset.to]),
    windowBoxes: all('rect.lane-window', g).map((w) => { const r = w.getBoundingClientRect(); return [r.left, r.width]; }),
    hits: all('rect.lane-hit', g).reduce((n, h) => n + Number(h.dataset.count), 0),
    height: g.getBoundingClientRect().height,
  }));
  const plot = document.querySelector('rect.lane-bg');
  const rows = (sel, key, cell) => Object.fromEntries(all(`${sel} tbody tr`).map(
    (tr) => [tr.dataset[key], Number(tr.querySelector(cell).textContent.trim())]));
  const clients = Object.fromEntries(all('#by-client tbody tr').map((tr) => [tr.dataset.client, {
    records: Number(tr.children[1].textContent), errors: Number(tr.children[2].textContent),
    by_error: Object.fromEntries(all('.client-error', tr).map((s) => [s.dataset.error, Number(s.dataset.count)])),
  }]));
  const svg = document.querySelector('svg');
  const total = document.querySelector('#total');
  const failed = document.querySelector('#scorecard tr.fail td');
  return {
    total: total ? Number(total.textContent) : null, bars, perCount, lanes, clients,
    plotBox: plot ? [plot.getBoundingClientRect().left, plot.getBoundingClientRect().width] : null,
    axisEnd: svg ? Number(svg.dataset.axisSeconds) : null,
    byRule: rows('#by-rule', 'rule', 'td.injected'), byCode: rows('#by-code', 'code', 'td.count'),
    svgWidth: svg ? svg.getBoundingClientRect().width : 0,
    scoreHeads: all('#scorecard thead th').map((th) => th.innerText.trim()),
    scoreRows: all('#scorecard tbody tr').map((tr) => ({
      fault: tr.dataset.fault, verdict: tr.dataset.verdict, cells: [...tr.children].map((td) => td.innerText.trim()),
    })),
    scoreFailBackground: failed ? getComputedStyle(failed).backgroundColor : null,
  };
}

for (const url of JSON.parse(urls)) {
  out = { url, requests: [], failed: [], console: [], errors: [] };
  results.push(out);
  const page = await ctx.newPage();
  page.on('console', (m) => out.console.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => out.errors.push(String(e)));
  await page.goto(url, { waitUntil: 'load', timeout: 15000 });
  out.dom = await page.evaluate(readPage);
  await page.close();
}
await ctx.close();
process.stdout.write(JSON.stringify(results));
