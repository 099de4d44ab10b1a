// One streamed GET per case: k6's error_code, error, status and the events in res.body.
import http from 'k6/http';
import exec from 'k6/execution';
const cases = JSON.parse(open(__ENV.CASES_FILE));
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: cases.length, maxDuration: '600s' } },
  noVUConnectionReuse: true,
  hosts: JSON.parse(__ENV.HOSTS || '{}'),
};
export default function () {
  const c = cases[exec.scenario.iterationInTest];
  const res = http.get(c.url, { headers: c.headers || {}, timeout: c.timeout || '3s' });
  const body = res.body || '';
  console.log(JSON.stringify({ id: c.id, error_code: res.error_code, error: res.error, status: res.status,
                               proto: res.proto, events: (body.match(/^data: /gm) || []).length }));
}
