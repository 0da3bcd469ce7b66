// Bad input over HTTP gets clear 4xx answers and pharos keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, api } from './helpers.mjs';

let pharos;
before(async () => {
  pharos = await startPharos(null);
});
after(() => pharos?.child.kill('SIGKILL'));

test('invalid PromQL is bad_data', async () => {
  const r = await api(pharos.url, '/api/v1/query?query=' + encodeURIComponent('sum(rate(x[5m])'));
  assert.equal(r.status, 400);
  assert.equal(r.body.errorType, 'bad_data');
  assert.ok(r.body.error.length > 0);
});

test('malformed remote_write bodies are rejected', async () => {
  const notSnappy = await api(pharos.url, '/api/v1/write', { method: 'POST', body: Buffer.from('hello world, not snappy') });
  assert.equal(notSnappy.status, 400);
  const huge = await api(pharos.url, '/api/v1/write', { method: 'POST', body: Buffer.alloc(40 << 20, 1) });
  assert.equal(huge.status, 413);
  const health = await api(pharos.url, '/-/healthy');
  assert.equal(health.status, 200);
});

test('bad query_range parameters', async () => {
  const r = await api(pharos.url, '/api/v1/query_range?query=up&start=10&end=5&step=1');
  assert.equal(r.status, 400);
  const s = await api(pharos.url, '/api/v1/query_range?query=up&start=0&end=100000&step=1');
  assert.equal(s.status, 400);
  assert.match(s.body.error, /11,000 points/);
});
