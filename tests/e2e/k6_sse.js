// One streamed GET per case: k6's error_code, error, status and the events in res.body.
import http from 'k6/http';
import exec from 'k6/execution';
const cases = JSON.parse(open(__ENV.CASES_FILE));
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: cases.length, maxDuration: '600s' } },
  noVUConnectionReuse: true,
  hosts: JSON.parse(__ENV.HOSTS || '{}'),
};
// The case's request and an unfaulted sibling in flight beside it (http.batch: its own
// connection on HTTP/1.1, the same connection on HTTP/2).
export default function () {
  const c = cases[exec.scenario.iterationInTest];
  const params = { headers: c.headers || {}, timeout: c.timeout || '3s' };
  const sib = c.url.replace(`case=${c.id}`, `case=${c.id}-sib`);
  const out = http.batch([['GET', c.url, null, params], ['GET', sib, null, { timeout: c.timeout || '3s' }]]);
  [c.id, `${c.id}-sib`].forEach((id, i) => {
    const res = out[i];
    const body = res.body || '';
    console.log(JSON.stringify({ id, error_code: res.error_code, error: res.error, status: res.status,
                                 proto: res.proto, events: (body.match(/^data: /gm) || []).length }));
  });
}
