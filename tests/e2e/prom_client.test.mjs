// pharos scrapes a real prom-client process exposing the CrewAI monitoring guide's metrics, then the test checks
// raw values, rate(), sum by, histogram_quantile, the summary and gauges against what the client
// recorded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, startPharos, query, waitFor, vectorValue, api, sleep } from './helpers.mjs';

const TICKS = 12;
let app;
let pharos;

before(async () => {
  app = await startApp({ TICKS: String(TICKS), TICK_MS: '1000' });
  pharos = await startPharos(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:${app.port}']
        labels:
          env: test
`);
  // Wait until the workload is over and pharos has scraped the final state.
  await waitFor(async () => (await (await fetch(`${app.url}/stats`)).json()).ticks >= TICKS, 40000, 'workload');
  await sleep(2500);
});

after(() => {
  app?.child.kill('SIGKILL');
  pharos?.child.kill('SIGKILL');
});

test('target is up and labelled', async () => {
  const up = await query(pharos.url, 'up{job="app"}');
  assert.equal(up.status, 'success');
  assert.equal(vectorValue(up), 1);
  assert.equal(up.data.result[0].metric.env, 'test');
  const targets = await api(pharos.url, '/api/v1/targets');
  const t = targets.body.data.activeTargets[0];
  assert.equal(t.health, 'up');
  assert.equal(t.labels.job, 'app');
});

test('raw counters equal what the client recorded', async () => {
  const stats = await (await fetch(`${app.url}/stats`)).json();
  const get = await query(pharos.url, 'http_requests_total{method="GET",status="200"}');
  const post = await query(pharos.url, 'http_requests_total{method="POST",status="500"}');
  console.log('client recorded', stats, 'pharos has', vectorValue(get), vectorValue(post));
  assert.equal(vectorValue(get), stats.get200);
  assert.equal(vectorValue(post), stats.post500);
  const count = await query(pharos.url, 'sum(http_request_duration_seconds_count)');
  assert.equal(vectorValue(count), stats.get200 + stats.post500);
  const emails = await query(pharos.url, 'email_processing_duration_seconds_count');
  assert.equal(vectorValue(emails), stats.ticks);
  const ws = await query(pharos.url, 'websocket_connections_active');
  assert.equal(vectorValue(ws), 40 + stats.ticks);
  const q = await query(pharos.url, 'email_processing_duration_seconds{quantile="0.5"}');
  assert.ok(Number.isFinite(vectorValue(q)), 'summary quantile series present');
});

test('rate, sum by and histogram_quantile match the recorded workload', async () => {
  const stats = await (await fetch(`${app.url}/stats`)).json();
  // Evaluate in the middle of the steady workload, over a 5s window.
  const mid = (stats.firstTickMs + stats.lastTickMs) / 2000;
  const byMethod = await query(pharos.url, 'sum by (method) (rate(http_requests_total[5s]))', mid);
  const get = vectorValue(byMethod, (m) => m.method === 'GET');
  const post = vectorValue(byMethod, (m) => m.method === 'POST');
  console.log('rate GET', get, 'POST', post);
  assert.ok(Math.abs(get - 3) / 3 < 0.2, `GET rate ${get} not ~3/s`);
  assert.ok(Math.abs(post - 1) < 0.2, `POST rate ${post} not ~1/s`);
  // Every tick observes 0.05, 0.3, 0.7 and 1.5: buckets 1,2,3,4,4,4 -> p95 = 1 + (3.8-3)/1 = 1.8.
  const p95 = await query(pharos.url, 'histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5s])) by (le))', mid);
  assert.ok(Math.abs(vectorValue(p95) - 1.8) < 1e-9, `p95 ${vectorValue(p95)}`);
  const p95raw = await query(pharos.url, 'histogram_quantile(0.95, sum by (le) (http_request_duration_seconds_bucket))');
  assert.ok(Math.abs(vectorValue(p95raw) - 1.8) < 1e-9);
  const hit = await query(pharos.url, 'sum(rate(cache_hits_total[5s])) / (sum(rate(cache_hits_total[5s])) + sum(rate(cache_misses_total[5s])))', mid);
  assert.ok(Math.abs(vectorValue(hit) - 0.9) < 1e-9, `cache hit ratio ${vectorValue(hit)}`);
});

test('range query over the workload', async () => {
  const stats = await (await fetch(`${app.url}/stats`)).json();
  const params = new URLSearchParams({
    query: 'sum(rate(http_requests_total[5s])) by (method)',
    start: String(stats.firstTickMs / 1000 + 5),
    end: String(stats.lastTickMs / 1000),
    step: '1s',
  });
  const { body } = await api(pharos.url, `/api/v1/query_range?${params}`);
  assert.equal(body.status, 'success');
  assert.equal(body.data.resultType, 'matrix');
  assert.equal(body.data.result.length, 2);
  for (const s of body.data.result) assert.ok(s.values.length >= 3);
});
