// A k6 script that drives the fault proxy and sets its own faults.
//
// Start the proxy as a reverse proxy in front of your service (k6, like any Go
// program, ignores HTTP_PROXY for 127.0.0.1/localhost, so reverse mode is the
// simple way in front of a local service):
//
//   mitmdump -s addons/errors.py --mode reverse:http://127.0.0.1:8000 --listen-port 8080 \
//     --set fault_control=true --set fault_control_token=s3cret --set keep_host_header=true \
//     --set fault_seed=42 --set fault_report=report.jsonl
//
// Run k6 with its JSON output, then let `faults report` explain both sides:
//
//   k6 run -e TARGET=http://127.0.0.1:8080 -e FAULT_TOKEN=s3cret --out json=k6.json examples/k6_script.js
//   python -m faults report k6.json          # what k6 saw, by error code, with what each code means
//   python -m faults report report.jsonl     # what the proxy did: fault and k6 code per flow
//
// setup() sets the faults through the control endpoint (the reserved host
// faults.control, here as the Host header of a request to the reverse proxy);
// teardown() clears them. Without FAULT_TOKEN the script leaves the faults
// alone (set them with --set faults=... instead).
import http from 'k6/http';
import { check } from 'k6';

const TARGET = __ENV.TARGET || 'http://127.0.0.1:8080';
const TOKEN = __ENV.FAULT_TOKEN || '';
const CONTROL = { headers: { Host: 'faults.control', Authorization: `Bearer ${TOKEN}` } };

export const options = {
  scenarios: {
    api: { executor: 'shared-iterations', vus: 2, iterations: Number(__ENV.ITERATIONS || 40), maxDuration: '60s' },
  },
};

const RULES = [
  '|~u /api/orders|status code=503 retry_after=1 probability=0.5',
  '|~u /api/slow|delay ms=300',
  '|~u /api/flaky|reset when=mid_body probability=0.3',
].join('\n');

export function setup() {
  if (!TOKEN) return;
  const res = http.post(`${TARGET}/rules`, RULES,
    { headers: Object.assign({ 'Content-Type': 'text/plain' }, CONTROL.headers), tags: { name: 'fault-control' } });
  if (res.status !== 200) {
    throw new Error(`fault control refused the rules: ${res.status} ${res.body}`);
  }
}

export default function () {
  for (const path of ['/api/items', '/api/orders', '/api/slow', '/api/flaky?size=100000']) {
    const res = http.get(`${TARGET}${path}`, { tags: { name: path.split('?')[0] }, timeout: '5s' });
    check(res, { 'status 200': (r) => r.status === 200 });
  }
}

export function teardown() {
  if (!TOKEN) return;
  http.del(`${TARGET}/rules`, null, Object.assign({ tags: { name: 'fault-control' } }, CONTROL));
}
