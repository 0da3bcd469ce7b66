// OTLP metrics with the real OpenTelemetry JS metrics SDK (tests/clients-metrics-otlp/app.mjs):
// the JSON exporter to /v1/metrics, the protobuf exporter (gzip) to Prometheus 3's
// /api/v1/otlp/v1/metrics, delta temporality converted to cumulative; the series, names,
// job/instance, promoted resource attributes, target_info and metadata Prometheus 3 would make.
// Plus exemplars: an OpenMetrics exemplar scraped from a target comes back from
// /api/v1/query_exemplars with its trace id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { startPharos, api, query, spawnUntil, waitFor, vectorValue, freePort, ROOT } from './helpers.mjs';

const APP = path.join(ROOT, 'tests/clients-metrics-otlp/app.mjs');
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
let pharos;
let target;

before(async () => {
  const port = await freePort();
  target = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' });
    res.end(
      '# TYPE checkout_latency_seconds histogram\n' +
        `checkout_latency_seconds_bucket{le="0.5"} 3 # {trace_id="${TRACE}",span_id="00f067aa0ba902b7"} 0.42 1700000000.123\n` +
        'checkout_latency_seconds_bucket{le="+Inf"} 4\ncheckout_latency_seconds_sum 2.1\ncheckout_latency_seconds_count 4\n# EOF\n',
    );
  });
  await new Promise((r) => target.listen(port, '127.0.0.1', r));
  pharos = await startPharos(
    'global:\n  scrape_interval: 1s\n' +
      "otlp:\n  promote_resource_attributes: ['deployment.environment']\n  delta_temporality: convert\n" +
      `scrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
  );
});
after(() => {
  pharos?.child.kill('SIGKILL');
  target?.close();
});

async function runApp(env) {
  const [child] = await spawnUntil('node', [APP], /exported/, { env: { ...process.env, ...env } }, 60000);
  await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
}

const value = async (expr) => vectorValue(await query(pharos.url, expr));

test('JSON exporter: counters, gauges, histograms, exponential (native) histograms, target_info, metadata', async () => {
  await runApp({ OTLP_METRICS_URL: `${pharos.url}/v1/metrics`, PROTOCOL: 'json', SERVICE: 'otel-json' });
  const sel = 'job="shop/otel-json",instance="instance-1"';
  assert.equal(await value(`app_requests_total{${sel},route="/a"}`), 10);
  assert.equal(await value(`app_requests_total{${sel},route="/b",deployment_environment="test"}`), 3);
  assert.equal(await value(`app_inflight{${sel}}`), 3);
  assert.equal(await value(`app_cpu_utilization_ratio{${sel},cpu="0"}`), 0.25);
  const b = (le) => value(`app_request_duration_seconds_bucket{${sel},le="${le}"}`);
  assert.deepEqual([await b('0.01'), await b('0.1'), await b('1'), await b('+Inf')], [4, 7, 9, 10]);
  assert.equal(await value(`app_request_duration_seconds_count{${sel}}`), 10);
  const sum = await value(`app_request_duration_seconds_sum{${sel}}`);
  assert.ok(Math.abs(sum - 2.876) < 1e-9, `sum ${sum}`);
  const p50 = await value(`histogram_quantile(0.5, app_request_duration_seconds_bucket{${sel}})`);
  assert.ok(p50 > 0.01 && p50 <= 0.1, `p50 ${p50}`);
  // The exponential histogram arrives as a native histogram, as in Prometheus 3.
  assert.equal(await value(`histogram_count(app_payload_size_bytes{${sel}})`), 6);
  assert.equal(await value(`histogram_sum(app_payload_size_bytes{${sel}})`), 6300);
  const pq = await value(`histogram_quantile(0.5, app_payload_size_bytes{${sel}})`);
  // Rank 3 of 6 falls exactly between the observations 400 and 800. For q >= 0.5 Prometheus
  // counts from the top bucket down, so the answer is the lower bound of 800's bucket
  // (2^9.5 = 724.08 at the SDK's scale 1), not the upper bound of 400's (512).
  assert.ok(pq >= 512 && pq <= 725, `exponential p50 ${pq}`);
  assert.equal(await value(`target_info{${sel},deployment_environment="test"}`), 1);
  const md = await api(pharos.url, '/api/v1/metadata?metric=app_requests_total');
  assert.deepEqual(md.body.data.app_requests_total, [{ type: 'counter', help: 'Requests handled', unit: '' }]);
  const dmd = await api(pharos.url, '/api/v1/metadata?metric=app_request_duration_seconds');
  assert.equal(dmd.body.data.app_request_duration_seconds[0].unit, 'seconds');
});

test('protobuf exporter with gzip on /api/v1/otlp/v1/metrics', async () => {
  await runApp({ OTLP_METRICS_URL: `${pharos.url}/api/v1/otlp/v1/metrics`, PROTOCOL: 'proto', GZIP: '1', SERVICE: 'otel-proto' });
  assert.equal(await value('app_requests_total{job="shop/otel-proto",route="/a"}'), 10);
  assert.equal(await value('app_request_duration_seconds_bucket{job="shop/otel-proto",le="0.1"}'), 7);
});

test('delta temporality is accumulated into cumulative series (delta_temporality: convert)', async () => {
  for (let i = 0; i < 2; i++) {
    await runApp({ OTLP_METRICS_URL: `${pharos.url}/v1/metrics`, PROTOCOL: 'proto', TEMPORALITY: 'delta', SERVICE: 'otel-delta' });
  }
  assert.equal(await value('app_requests_total{job="shop/otel-delta",route="/a"}'), 20);
  assert.equal(await value('app_request_duration_seconds_count{job="shop/otel-delta"}'), 20);
});

test('bad OTLP bodies get a 4xx with the reason', async () => {
  const r = await fetch(`${pharos.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceMetrics": 3' });
  assert.equal(r.status, 400);
  assert.match((await r.json()).message, /invalid OTLP JSON/);
  const t = await fetch(`${pharos.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  assert.equal(t.status, 415);
});

test('an OpenMetrics exemplar comes back from /api/v1/query_exemplars with its trace id', async () => {
  const body = await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/v1/query_exemplars?query=' + encodeURIComponent('checkout_latency_seconds_bucket{job="shop"}'));
    return body?.data?.length ? body : undefined;
  }, 20000, 'scraped exemplar');
  assert.equal(body.status, 'success');
  const [s] = body.data;
  assert.equal(s.seriesLabels.__name__, 'checkout_latency_seconds_bucket');
  assert.equal(s.seriesLabels.le, '0.5');
  assert.deepEqual(s.exemplars, [{ labels: { span_id: '00f067aa0ba902b7', trace_id: TRACE }, value: '0.42', timestamp: 1700000000.123 }]);
  // The exemplar's time is outside a range ending before it.
  const none = await api(pharos.url, '/api/v1/query_exemplars?end=1600000000&query=' + encodeURIComponent('checkout_latency_seconds_bucket'));
  assert.deepEqual(none.body.data, []);
  const bad = await api(pharos.url, '/api/v1/query_exemplars?query=' + encodeURIComponent('sum('));
  assert.equal(bad.status, 400);
});
