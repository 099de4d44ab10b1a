// One WebSocket session per case, with k6/ws or k6/experimental/websockets (c.mod):
// prints the upgrade status, the messages received, every error text and the close code.
import ws from 'k6/ws';
import { WebSocket } from 'k6/experimental/websockets';
import { setTimeout } from 'k6/timers';
import exec from 'k6/execution';
const cases = JSON.parse(open(__ENV.CASES_FILE));
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: cases.length, maxDuration: '600s' } },
  hosts: JSON.parse(__ENV.HOSTS || '{}'),
};
function legacy(c) {
  const out = { id: c.id, mod: 'ws', status: null, msgs: [], errors: [], close: null };
  try {
    const res = ws.connect(c.url, { headers: c.headers || {} }, function (socket) {
      socket.on('message', (m) => out.msgs.push(m));
      socket.on('error', (e) => out.errors.push(e.error()));
      socket.on('close', (code) => { out.close = code === undefined ? null : code; });
      socket.setTimeout(() => { out.client_closed = true; socket.close(); }, c.ms || 2000);
    });
    out.status = res ? res.status : null;
  } catch (e) {
    out.errors.push(String(e));
  }
  console.log(JSON.stringify(out));
}
async function experimental(c) {
  const out = { id: c.id, mod: 'experimental', status: null, msgs: [], errors: [], close: null };
  await new Promise((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; resolve(); } };
    let sock;
    try {
      sock = new WebSocket(c.url, null, { headers: c.headers || {} });
    } catch (e) {
      out.errors.push(String(e)); finish(); return;
    }
    sock.onopen = () => { out.status = 101; };
    sock.onmessage = (e) => out.msgs.push(e.data);
    sock.onerror = (e) => out.errors.push(e.error === undefined ? String(e) : String(e.error));
    sock.onclose = (e) => { out.close = e && e.code !== undefined ? e.code : null; finish(); };
    setTimeout(() => { out.client_closed = true; try { sock.close(); } catch (e) {} setTimeout(finish, 500); },
               c.ms || 2000);
  });
  console.log(JSON.stringify(out));
}
export default async function () {
  const c = cases[exec.scenario.iterationInTest];
  if (c.mod === 'experimental') await experimental(c); else legacy(c);
}
