// The CrewAI monitoring guide's tracing code (tests/clients-traces/tracing.mjs: @opentelemetry/sdk-node,
// auto-instrumentations, traceAsync, processEmail) sends an HTTP request trace and an
// `email.process` span through each exporter — Jaeger (the CrewAI monitoring guide's), OTLP/HTTP, OTLP/gRPC and
// Zipkin — and the test finds it through Jaeger's query API by service, operation, tag and
// duration, then reads the parent/child structure (HTTP client -> HTTP server -> email.process).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startPharos, api, spawnUntil, freePort, ROOT } from './helpers.mjs';

const APP = path.join(ROOT, 'tests/clients-traces/app.mjs');
let pharos;
let grpcPort;

before(async () => {
  grpcPort = await freePort();
  pharos = await startPharos(
    `traces:\n  span_metrics:\n    flush_interval: 1s\nlisteners:\n  otlp_grpc: 127.0.0.1:${grpcPort}\n`,
    'pharos.yml',
  );
});
after(() => pharos?.child.kill('SIGKILL'));

async function runApp(exporter, runId, extraEnv = {}) {
  const env = {
    ...process.env,
    TRACE_EXPORTER: exporter,
    RUN_ID: runId,
    OK: '1',
    OK_MS: '0',
    FAIL: '1',
    JAEGER_ENDPOINT: `${pharos.url}/api/traces`,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${pharos.url}/v1/traces`,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${grpcPort}`,
    OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${pharos.url}/api/v2/spans`,
    OTEL_LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  if (exporter === 'otlp-grpc') delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const [child] = await spawnUntil('node', [APP], /done \d+/, { env }, 60000);
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
}

const tag = (span, key) => span.tags.find((t) => t.key === key)?.value;

async function findTrace(runId, params) {
  const q = new URLSearchParams({
    service: 'crewai-api',
    operation: 'email.process',
    tags: JSON.stringify({ 'email.id': `${runId}-0`, 'email.workflow': 'support' }),
    lookback: '1h',
    limit: '20',
    ...params,
  });
  return api(pharos.url, `/api/traces?${q}`);
}

for (const exporter of ['jaeger', 'otlp-http', 'otlp-grpc', 'zipkin']) {
  test(`${exporter} exporter: trace found by service, operation, tag and duration`, async () => {
    const runId = `${exporter}-run`;
    await runApp(exporter, runId);

    const services = await api(pharos.url, '/api/services');
    assert.equal(services.status, 200);
    assert.ok(services.body.data.includes('crewai-api'), JSON.stringify(services.body));
    assert.equal(services.body.errors, null);

    const ops = await api(pharos.url, '/api/services/crewai-api/operations');
    assert.ok(ops.body.data.includes('email.process'), JSON.stringify(ops.body));

    const r = await findTrace(runId, { minDuration: '1us' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.length, 1, JSON.stringify(r.body).slice(0, 2000));
    const trace = r.body.data[0];
    const spans = trace.spans;
    const byId = new Map(spans.map((s) => [s.spanID, s]));
    const email = spans.find((s) => s.operationName === 'email.process');
    assert.ok(email, 'email.process span');
    assert.equal(tag(email, 'email.id'), `${runId}-0`);
    assert.equal(tag(email, 'email.priority'), 'high');
    assert.equal(trace.processes[email.processID].serviceName, 'crewai-api');
    // email.process -> HTTP server span -> HTTP client span (the root).
    const parentRef = email.references.find((x) => x.refType === 'CHILD_OF');
    assert.ok(parentRef, 'email.process has a parent');
    const server = byId.get(parentRef.spanID);
    assert.ok(server, 'parent span is in the trace');
    assert.equal(tag(server, 'span.kind'), 'server');
    const clientRef = server.references.find((x) => x.refType === 'CHILD_OF');
    const client = byId.get(clientRef?.spanID);
    assert.ok(client, 'server span has the client span as parent');
    assert.equal(tag(client, 'span.kind'), 'client');
    assert.equal(client.references.length, 0);
    assert.ok(spans.every((s) => s.traceID === trace.traceID));

    // Duration bounds filter spans.
    const none = await findTrace(runId, { minDuration: '10s' });
    assert.equal(none.body.data.length, 0);
    const bounded = await findTrace(runId, { maxDuration: '10s' });
    assert.equal(bounded.body.data.length, 1);
    // logfmt tags (as typed in Jaeger UI) find the failing request's trace, with its error status.
    const failQ = new URLSearchParams({
      service: 'crewai-api',
      tags: `email.id=${runId}-fail-0 error=true`,
      lookback: '1h',
    });
    const failed = await api(pharos.url, `/api/traces?${failQ}`);
    assert.equal(failed.body.data.length, 1, JSON.stringify(failed.body).slice(0, 500));
    const failSpan = failed.body.data[0].spans.find((s) => s.operationName === 'email.process');
    assert.equal(tag(failSpan, 'error'), true);

    // The trace by id, and through Zipkin's API.
    const byIdRes = await api(pharos.url, `/api/traces/${trace.traceID}`);
    assert.equal(byIdRes.status, 200);
    assert.equal(byIdRes.body.data[0].spans.length, spans.length);
    const z = await api(pharos.url, `/api/v2/trace/${trace.traceID}`);
    assert.equal(z.status, 200);
    assert.equal(z.body.length, spans.length);
  });
}

test('operations with span kinds, and unknown trace ids', async () => {
  const r = await api(pharos.url, '/api/operations?service=crewai-api&spanKind=server');
  assert.equal(r.status, 200);
  assert.ok(r.body.data.length >= 1);
  assert.ok(r.body.data.every((o) => o.spanKind === 'server'));
  const missing = await api(pharos.url, '/api/traces/00000000000000000000000000000bad');
  assert.equal(missing.status, 404);
  const bad = await api(pharos.url, '/api/traces?lookback=1h');
  assert.equal(bad.status, 400);
  assert.match(bad.body.errors[0].msg, /service/);
});
