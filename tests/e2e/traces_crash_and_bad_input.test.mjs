// Trace ingest durability and input checking: every span acknowledged before a `kill -9` is
// there after restart; broken protobuf / thrift / JSON and oversized bodies get a 4xx with a
// message and pharos keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, api, spawnUntil, PHAROS_BIN, sleep } from './helpers.mjs';

const hex = (n, width) => n.toString(16).padStart(width, '0');

function otlpJson(traceId, i) {
  const now = BigInt(Date.now()) * 1000000n;
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'crash-test' } }] },
      scopeSpans: [{
        scope: { name: 'e2e' },
        spans: [{
          traceId, spanId: hex(i + 1, 16), name: 'op', kind: 2,
          startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1000000n),
          attributes: [{ key: 'i', value: { intValue: String(i) } }],
        }],
      }],
    }],
  };
}

test('kill -9 mid-ingest loses no acknowledged span', async () => {
  const p = await startPharos(null);
  const acked = [];
  let stop = false;
  const writer = async (w) => {
    for (let i = w; !stop; i += 2) {
      const traceId = hex(0xc0ffee, 16) + hex(i + 1, 16);
      try {
        const r = await fetch(`${p.url}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(otlpJson(traceId, i)),
        });
        if (r.status === 200) acked.push(traceId);
      } catch {
        return; // connection cut by the kill
      }
    }
  };
  const writers = [writer(0), writer(1)];
  await sleep(1500);
  p.child.kill('SIGKILL');
  stop = true;
  await Promise.all(writers);
  assert.ok(acked.length > 20, `only ${acked.length} acknowledged`);

  const [child, m] = await spawnUntil(PHAROS_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', p.data], /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/);
  try {
    const url = m[1];
    const missing = [];
    let firstAnswer = '';
    for (const id of acked) {
      const r = await api(url, `/api/traces/${id}`);
      if (r.status !== 200 || r.body.data[0].spans.length !== 1) {
        missing.push(id);
        firstAnswer ||= `${url}/api/traces/${id} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`;
      }
    }
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged traces lost; first: ${firstAnswer}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('bad trace input gets 4xx with a message', async () => {
  const p = await startPharos(
    'traces:\n  limits:\n    max_request_bytes: 1MB\n    max_span_bytes: 10KB\n    max_attributes_per_span: 5\n',
    'pharos.yml',
  );
  try {
    const post = (path, contentType, body, headers = {}) =>
      api(p.url, path, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });

    const pb = await post('/v1/traces', 'application/x-protobuf', Buffer.from([0x0a, 0xff, 0xff, 0x01, 0x02]));
    assert.equal(pb.status, 400);
    const js = await post('/v1/traces', 'application/json', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"');
    assert.equal(js.status, 400);
    assert.match(js.body.message, /OTLP JSON/);
    const badId = await post('/v1/traces', 'application/json', JSON.stringify(otlpJson('abcd', 1)));
    assert.equal(badId.status, 400);
    assert.match(badId.body.message, /traceId/);
    const gz = await post('/v1/traces', 'application/json', 'not gzip', { 'content-encoding': 'gzip' });
    assert.equal(gz.status, 400);
    const ct = await post('/v1/traces', 'text/plain', 'x');
    assert.equal(ct.status, 415);

    const thrift = await post('/api/traces', 'application/x-thrift', Buffer.from([0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff]));
    assert.equal(thrift.status, 400);
    assert.match(thrift.body, /thrift/);

    const zipkin = await post('/api/v2/spans', 'application/json', '[{"traceId":"nothex","id":"1"}]');
    assert.equal(zipkin.status, 400);
    assert.match(zipkin.body, /traceId/);

    const huge = await post('/v1/traces', 'application/json', Buffer.alloc(2 << 20, 0x20));
    assert.equal(huge.status, 413);

    const tooManyAttrs = otlpJson(hex(1, 32), 1);
    tooManyAttrs.resourceSpans[0].scopeSpans[0].spans[0].attributes = Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'v' } }));
    const a = await post('/v1/traces', 'application/json', JSON.stringify(tooManyAttrs));
    assert.equal(a.status, 400);
    assert.match(a.body.message, /attributes/);

    const bigSpan = otlpJson(hex(2, 32), 2);
    bigSpan.resourceSpans[0].scopeSpans[0].spans[0].attributes = [{ key: 'blob', value: { stringValue: 'x'.repeat(20000) } }];
    const b = await post('/v1/traces', 'application/json', JSON.stringify(bigSpan));
    assert.equal(b.status, 413);
    assert.match(b.body.message, /bytes/);

    const q = await api(p.url, '/api/traces?service=x&minDuration=5parsecs');
    assert.equal(q.status, 400);
    assert.match(q.body.errors[0].msg, /minDuration/);

    const ok = await post('/v1/traces', 'application/json', JSON.stringify(otlpJson(hex(3, 32), 3)));
    assert.equal(ok.status, 200);
    assert.equal((await api(p.url, '/-/healthy')).status, 200);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('ingest rate limit answers 429', async () => {
  const p = await startPharos('traces:\n  limits:\n    ingestion_rate_spans: 1\n    ingestion_burst_spans: 1\n', 'pharos.yml');
  try {
    const send = (i) => api(p.url, '/v1/traces', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(otlpJson(hex(100 + i, 32), i)),
    });
    const first = await send(1);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const r = await send(2);
    assert.equal(r.status, 429);
    assert.match(r.body.message, /rate limit/);
  } finally {
    p.child.kill('SIGKILL');
  }
});
