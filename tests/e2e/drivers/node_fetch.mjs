// Node's built-in fetch (undici) through the proxy: one fetch per case, in order.
// argv[2]: JSON [{id, url, fault, timeout_ms}] (fault: the x-fault header); every *.test name resolves to
// 127.0.0.1 (dns.lookup patched: fetch takes no resolver), so each case has its own
// host and so its own fresh connection. Prints {id: {status, body_len, error, message, version}}.
// A case with h2: true goes through an undici Agent with allowH2 (npm undici, the version
// Node 20 bundles, as the global fetch's dispatcher): undici then offers http/1.1 and h2 by
// ALPN, http/1.1 first, so the proxy runs with fault_prefer_h2 to speak HTTP/2 to it.
import dns from 'node:dns';
import { readFileSync } from 'node:fs';

const realLookup = dns.lookup;
dns.lookup = (host, opts, cb) => {
  if (typeof opts === 'function') { cb = opts; opts = {}; }
  if (!host.endsWith('.test')) return realLookup(host, opts, cb);
  return opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
};

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let h2agent = null;
if (cases.some((c) => c.h2)) {
  const { Agent } = await import('undici');
  h2agent = new Agent({ allowH2: true });
}
const out = {};
// AbortSignal.timeout's timer does not keep Node alive: a hung fetch would exit the process (13)
const alive = setInterval(() => {}, 1000);
for (const c of cases) {
  const r = { status: null, body_len: null, error: 'ok', message: '' };
  process.stderr.write(`${c.id}\n`);
  const signal = AbortSignal.timeout(c.timeout_ms);
  const attempt = (async () => {
    const init = { headers: c.fault ? { 'x-fault': c.fault } : {}, signal };
    if (c.h2) init.dispatcher = h2agent;
    const res = await fetch(c.url, init);
    r.status = res.status;
    r.body_len = (await res.arrayBuffer()).byteLength;
  })();
  // a fetch that ignores its abort signal never settles: say so rather than wait forever
  let guard;
  const stuck = new Promise((resolve) => { guard = setTimeout(() => resolve('stuck'), c.timeout_ms + 3000); });
  try {
    if (await Promise.race([attempt, stuck]) === 'stuck') {
      r.error = 'never_settles';
      r.message = `no result ${c.timeout_ms + 3000} ms after the request, its abort signal fired at ${c.timeout_ms} ms`;
    }
  } catch (e) {
    // what users match on: cause.code (ECONNRESET, UND_ERR_SOCKET, ...), else the error's name
    r.error = (e.cause && e.cause.code) || e.name;
    r.message = `${e.message}${e.cause ? ` (cause: ${e.cause.message})` : ''}`;
  }
  clearTimeout(guard);
  out[c.id] = r;
}
clearInterval(alive);
process.stdout.write(JSON.stringify(out));
// an h2 session the fault left half-open would keep Node alive
if (h2agent) { h2agent.destroy().catch(() => {}); setTimeout(() => process.exit(0), 200).unref(); }
