// Debian's real Prometheus scrapes the prom-client app and remote-writes to pharos; the same
// queries at the same timestamps must give the same answers on both. pharos follows Prometheus
// 3.x (left-open range windows); Debian ships 2.x, so evaluation times are placed half a scrape
// interval after real scrape timestamps (read back from Prometheus), where both window conventions
// select the same samples. Queries: the CrewAI monitoring guide's dashboard and alert expressions plus a spread of
// operators and functions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startApp, startPharos, spawnUntil, freePort, hasPrometheus, query, waitFor, tempDir, sleep, api, guideExpressions } from './helpers.mjs';

const skip = hasPrometheus() ? false : 'Debian prometheus is not installed (.ci/run installs it)';
let app;
let pharos;
let prom;
let promUrl;

before(async () => {
  if (skip) return;
  app = await startApp({ TICKS: '30', TICK_MS: '1000' });
  // Without the built-in collectors (jobs pharos and node): the same series as Prometheus has.
  pharos = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\n', 'pharos.yml');
  const dir = tempDir('prom-side-');
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const cfg = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(cfg, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:${app.port}']
remote_write:
  - url: ${pharos.url}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
`);
  [prom] = await spawnUntil('prometheus', [
    `--config.file=${cfg}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], /Server is ready to receive web requests/, {}, 60000);
  // Wait for the workload to finish and the last samples to be forwarded.
  await waitFor(async () => (await (await fetch(`${app.url}/stats`)).json()).ticks >= 30, 60000, 'workload');
  await sleep(6000);
});

after(() => {
  prom?.kill('SIGKILL');
  app?.child.kill('SIGKILL');
  pharos?.child.kill('SIGKILL');
});

const QUERIES = [
  'sum(rate(http_requests_total[5s])) by (method)',
  'sum(rate(http_requests_total{status=~"5.."}[5s])) / sum(rate(http_requests_total[5s]))',
  'histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5s])) by (le))',
  'histogram_quantile(0.5, rate(http_request_duration_seconds_bucket[10s]))',
  'websocket_connections_active',
  'sum(rate(emails_processed_total[5s])) by (workflow)',
  'histogram_quantile(0.95, sum(rate(database_query_duration_seconds_bucket[5s])) by (operation, le))',
  'sum(rate(cache_hits_total[5s])) / (sum(rate(cache_hits_total[5s])) + sum(rate(cache_misses_total[5s])))',
  'avg(agent_utilization) by (agent)',
  'increase(http_requests_total[10s])',
  'irate(http_requests_total[5s])',
  'topk(1, http_requests_total)',
  'count(http_requests_total)',
  'label_replace(http_requests_total, "verb", "$1", "method", "(.*)")',
  'http_requests_total offset 5s',
  'max_over_time(websocket_connections_active[10s])',
  'rate(http_requests_total[10s:1s])',
  'deriv(websocket_connections_active[10s])',
  'email_processing_duration_seconds',
  'up',
  'sum without (instance) (rate(http_requests_total[5s]))',
  'avg(rate(http_requests_total[10s]))',
  'quantile(0.9, rate(http_requests_total[10s]))',
  'bottomk(2, rate(http_request_duration_seconds_bucket[10s]))',
  'count_over_time(http_requests_total[10s])',
  'changes(websocket_connections_active[10s])',
  'resets(http_requests_total[10s])',
  'http_requests_total > bool 20',
  'http_requests_total / on (method, route, status) group_left http_request_duration_seconds_count',
  'rate(http_request_duration_seconds_sum[10s]) / rate(http_request_duration_seconds_count[10s])',
  'absent(nonexistent_metric)',
  'clamp_max(websocket_connections_active, 50)',
  'predict_linear(websocket_connections_active[10s], 60)',
  'max_over_time(rate(http_requests_total[5s])[10s:2s])',
  'label_join(up, "where", "/", "job", "instance")',
  'stddev(rate(http_requests_total[10s]))',
  'count_values("v", agent_utilization)',
  ...guideExpressions(),
  // The alert expressions without their thresholds, so their values are compared too.
  ...guideExpressions().filter((e) => /[<>]=?\s*-?[\d.]+$/.test(e)).map((e) => e.replace(/\s*[<>]=?\s*-?[\d.]+$/, '')),
];

function normalize(body, what) {
  assert.equal(body?.status, 'success', `${what}: ${JSON.stringify(body)}`);
  const out = new Map();
  for (const r of body.data.result) {
    const m = { ...r.metric };
    // Prometheus adds instance/job from its own scrape; remote-written series carry the same.
    out.set(JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]])), Number(r.value[1]));
  }
  return out;
}

/** Scrape timestamps (seconds) of one of the app's series, as stored by Prometheus. */
async function scrapeTimes(end) {
  const body = await query(promUrl, 'websocket_connections_active[120s]', end);
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.data.result[0].values.map(([t]) => Number(t));
}

test('same answers as Debian Prometheus', { skip }, async () => {
  const stats = await (await fetch(`${app.url}/stats`)).json();
  const scrapes = (await scrapeTimes(stats.lastTickMs / 1000 + 2)).filter((t) => t >= stats.firstTickMs / 1000);
  assert.ok(scrapes.length >= 20, `only ${scrapes.length} scrapes`);
  // Half a scrape interval after real scrapes, in the steady part of the workload: neither the
  // evaluation time nor any window start/end (whole seconds before it) falls on a sample.
  const times = [0.45, 0.6, 0.75].map((f) => scrapes[Math.floor(f * scrapes.length)] + 0.5);
  console.log(`evaluation times ${times.join(', ')} (scrapes at ${scrapes.slice(0, 3).join(', ')} ...)`);
  let compared = 0;
  for (const t of times) {
    for (const q of QUERIES) {
      const a = normalize(await query(promUrl, q, t), `prometheus: ${q}`);
      const b = normalize(await query(pharos.url, q, t), `pharos: ${q}`);
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), `series differ for ${q} at ${t}`);
      for (const [k, v] of a) {
        const w = b.get(k);
        const ok = (Number.isNaN(v) && Number.isNaN(w)) || v === w || Math.abs(v - w) <= 1e-9 * Math.max(1, Math.abs(v));
        assert.ok(ok, `${q} at ${t} ${k}: prometheus ${v}, pharos ${w}`);
        compared++;
      }
      if (t === times[0]) console.log(`  ${a.size} series equal: ${q}`);
    }
  }
  console.log(`compared ${compared} values from ${QUERIES.length} queries at ${times.length} times`);
  assert.ok(compared >= 60, `only ${compared} values compared`);
  // Prometheus forwarded everything: the raw sample counts agree too.
  const end = stats.lastTickMs / 1000 + 3;
  const q = 'count_over_time(http_requests_total[60s])';
  assert.deepEqual(normalize(await query(pharos.url, q, end)), normalize(await query(promUrl, q, end)));
  const { body } = await api(pharos.url, '/api/v1/series?match[]=up');
  assert.equal(body.data.length, 1);
});
