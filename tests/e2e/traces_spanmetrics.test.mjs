// Span metrics: after a known workload through the CrewAI monitoring guide's tracing code (OTLP/HTTP exporter),
// PromQL over traces_spanmetrics_* gives the call counts, the error ratio and a p95 within
// bucket precision; duration buckets carry exemplars that lead to the trace; the service graph
// shows up in /api/dependencies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startPharos, api, query, spawnUntil, waitFor, vectorValue, ROOT } from './helpers.mjs';

let pharos;
before(async () => {
  pharos = await startPharos('traces:\n  span_metrics:\n    flush_interval: 1s\n', 'pharos.yml');
});
after(() => pharos?.child.kill('SIGKILL'));

test('calls, error ratio and p95 from span metrics', async () => {
  // 18 OK requests of ~10 ms, 2 OK of ~100 ms, 5 failing of ~100 ms:
  // 25 email.process spans, 5 errors, 18 under 16 ms and 7 in (64 ms, 128 ms].
  const env = {
    ...process.env,
    TRACE_EXPORTER: 'otlp-http',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${pharos.url}/v1/traces`,
    RUN_ID: 'sm',
    OK: '20',
    SLOW: '2',
    FAIL: '5',
  };
  const [child] = await spawnUntil('node', [path.join(ROOT, 'tests/clients-traces/app.mjs')], /done 25/, { env }, 60000);
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));

  const sel = '{service="crewai-api",span_name="email.process"}';
  const total = await waitFor(async () => {
    const v = vectorValue(await query(pharos.url, `sum(traces_spanmetrics_calls_total${sel})`));
    return v === 25 ? v : undefined;
  }, 20000, 'span metrics flush');
  assert.equal(total, 25);
  const errors = vectorValue(
    await query(pharos.url, `sum(traces_spanmetrics_calls_total{service="crewai-api",span_name="email.process",status_code="STATUS_CODE_ERROR"})`),
  );
  assert.equal(errors, 5);
  const ratio = vectorValue(
    await query(
      pharos.url,
      `sum(traces_spanmetrics_calls_total{span_name="email.process",status_code="STATUS_CODE_ERROR"}) / sum(traces_spanmetrics_calls_total{span_name="email.process"})`,
    ),
  );
  assert.ok(Math.abs(ratio - 0.2) < 1e-9, `error ratio ${ratio}`);
  const p95 = vectorValue(
    await query(pharos.url, `histogram_quantile(0.95, sum by (le) (traces_spanmetrics_duration_seconds_bucket${sel}))`),
  );
  assert.ok(p95 > 0.064 && p95 <= 0.128, `p95 ${p95}`);
  const count = vectorValue(await query(pharos.url, `sum(traces_spanmetrics_duration_seconds_count${sel})`));
  assert.equal(count, 25);
  const kinds = await query(pharos.url, 'count by (span_kind) (traces_spanmetrics_calls_total{service="crewai-api"})');
  const names = kinds.data.result.map((r) => r.metric.span_kind).sort();
  assert.deepEqual(names, ['SPAN_KIND_CLIENT', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER']);

  // Counters stay monotonic across flushes.
  await new Promise((r) => setTimeout(r, 1500));
  const again = vectorValue(await query(pharos.url, `sum(traces_spanmetrics_calls_total${sel})`));
  assert.equal(again, 25);

  // Each duration bucket carries its latest span as an exemplar: the bucket leads to a trace.
  const ex = await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/v1/query_exemplars?query=' + encodeURIComponent(`traces_spanmetrics_duration_seconds_bucket${sel}`));
    return body?.data?.length ? body.data : undefined;
  }, 10000, 'span-metrics exemplars');
  const slow = ex.find((s) => s.seriesLabels.le === '0.128');
  assert.ok(slow, `no exemplar on the 0.128 bucket: ${JSON.stringify(ex)}`);
  const [e] = slow.exemplars;
  assert.match(e.labels.trace_id, /^[0-9a-f]{32}$/);
  assert.ok(Number(e.value) > 0.064 && Number(e.value) <= 0.128, `exemplar value ${e.value}`);
  const trace = await api(pharos.url, `/api/traces/${e.labels.trace_id}`);
  assert.equal(trace.status, 200);
  assert.ok(trace.body.data[0].spans.some((s) => s.spanID === e.labels.span_id && s.operationName === 'email.process'));
});

test('dependencies between services', async () => {
  const now = Date.now() * 1000;
  const id = '0af7651916cd43dd8448eb211c80319c';
  const span = (spanId, parent, svc, name, kind) => ({
    traceId: id.slice(0, 16), id: spanId, parentId: parent, name, kind, timestamp: now, duration: 1000,
    localEndpoint: { serviceName: svc },
  });
  const r = await api(pharos.url, '/api/v2/spans', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      span('00000000000000a1', undefined, 'frontend', 'GET /', 'SERVER'),
      span('00000000000000a2', '00000000000000a1', 'frontend', 'call backend', 'CLIENT'),
      span('00000000000000a3', '00000000000000a2', 'backend', 'GET /api', 'SERVER'),
    ]),
  });
  assert.equal(r.status, 202);
  const deps = await api(pharos.url, `/api/dependencies?endTs=${Date.now() + 60000}&lookback=3600000`);
  assert.equal(deps.status, 200);
  assert.deepEqual(deps.body.data.filter((d) => d.parent === 'frontend'), [{ parent: 'frontend', child: 'backend', callCount: 1 }]);
  const g = await waitFor(async () =>
    vectorValue(await query(pharos.url, 'traces_service_graph_request_total{client="frontend",server="backend"}')), 10000, 'service graph');
  assert.equal(g, 1);
});
