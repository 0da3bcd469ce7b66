// winston + winston-loki (tests/clients-logs/loki_logger.mjs, the CrewAI monitoring guide's logger format) write to
// pharos' Loki push API, once with winston-loki's default protobuf+snappy and once with JSON; the
// lines come back through /loki/api/v1/query_range with their labels and JSON fields, and a
// LogQL metric query counts them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startPharos, spawnUntil, ROOT } from './helpers.mjs';

const APP = path.join(ROOT, 'tests/clients-logs/loki_logger.mjs');
let pharos;

before(async () => {
  pharos = await startPharos(null);
});
after(() => pharos?.child.kill('SIGKILL'));

async function rangeQuery(q) {
  const now = Date.now();
  const u = new URL(`${pharos.url}/loki/api/v1/query_range`);
  u.searchParams.set('query', q);
  u.searchParams.set('start', String((now - 3600_000) * 1e6));
  u.searchParams.set('end', String((now + 60_000) * 1e6));
  u.searchParams.set('direction', 'forward');
  const r = await fetch(u);
  const body = await r.text();
  assert.equal(r.status, 200, body);
  return JSON.parse(body);
}

for (const [mode, json] of [['protobuf', '0'], ['json', '1']]) {
  test(`winston-loki (${mode}) lines come back with labels and fields`, async () => {
    const runId = `r-${mode}`;
    const env = { ...process.env, LOKI_URL: pharos.url, LOKI_JSON: json, RUN_ID: runId, N: '5' };
    const [child] = await spawnUntil('node', [APP], /done \d+/, { env }, 60000);
    child.kill();
    const res = await rangeQuery(`{app="crewai-api", run="${runId}"} | json`);
    assert.equal(res.data.resultType, 'streams');
    const entries = res.data.result.flatMap((s) => s.values.map((v) => ({ labels: s.stream, line: v[1] })));
    assert.equal(entries.length, 6, JSON.stringify(res.data.result));
    const req = entries.find((e) => e.labels.requestId === `${runId}-3`);
    assert.ok(req, JSON.stringify(entries.map((e) => e.labels)));
    assert.equal(req.labels.method, 'GET');
    assert.equal(req.labels.status, '200');
    assert.equal(req.labels.duration, '300');
    assert.equal(req.labels.service, 'crewai-api');
    assert.equal(req.labels.level, 'info');
    const err = entries.find((e) => e.labels.requestId === `${runId}-err`);
    assert.ok(err);
    assert.equal(err.labels.level, 'error');
    assert.match(err.line, /database timeout/);
    // A label filter on a parsed field and a metric query over the same lines.
    const slow = await rangeQuery(`{app="crewai-api", run="${runId}"} | json | duration >= 300`);
    assert.equal(slow.data.result.flatMap((s) => s.values).length, 2);
    const u = new URL(`${pharos.url}/loki/api/v1/query`);
    u.searchParams.set('query', `sum by (level) (count_over_time({app="crewai-api", run="${runId}"} | json [10m]))`);
    const m = await (await fetch(u)).json();
    const byLevel = Object.fromEntries(m.data.result.map((r) => [r.metric.level, r.value[1]]));
    assert.deepEqual(byLevel, { info: '5', error: '1' });
  });
}
