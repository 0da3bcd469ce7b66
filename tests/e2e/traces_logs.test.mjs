// Correlation: log lines pushed to the Loki API with a `trace_id` (structured metadata, as OTel
// log bridges attach it) are listed by the trace they belong to: GET /api/traces/{id}/logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, api } from './helpers.mjs';

let pharos;
before(async () => {
  pharos = await startPharos(null);
});
after(() => pharos?.child.kill('SIGKILL'));

test('a trace lists its logs', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const nowNs = BigInt(Date.now()) * 1000000n;
  const span = {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'crewai-api' } }] },
      scopeSpans: [{ spans: [{
        traceId, spanId: '00f067aa0ba902b7', name: 'email.process', kind: 1,
        startTimeUnixNano: String(nowNs), endTimeUnixNano: String(nowNs + 5000000n),
      }] }],
    }],
  };
  const r = await api(pharos.url, '/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(span) });
  assert.equal(r.status, 200);
  const push = await api(pharos.url, '/loki/api/v1/push', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      streams: [{
        stream: { app: 'crewai-api' },
        values: [
          [String(nowNs + 1000000n), 'processing email 42', { trace_id: traceId }],
          [String(nowNs + 2000000n), 'unrelated line', { trace_id: 'ffffffffffffffffffffffffffffffff' }],
          [String(nowNs + 3000000n), 'no trace at all'],
        ],
      }],
    }),
  });
  assert.equal(push.status, 204, JSON.stringify(push.body));
  const logs = await api(pharos.url, `/api/traces/${traceId}/logs`);
  assert.equal(logs.status, 200);
  assert.deepEqual(logs.body.data.map((l) => l.line), ['processing email 42']);
  assert.equal(logs.body.data[0].labels.app, 'crewai-api');
  const none = await api(pharos.url, '/api/traces/00000000000000000000000000000001/logs');
  assert.equal(none.status, 404);
});
