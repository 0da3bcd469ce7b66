// The CrewAI monitoring guide's alert rules evaluated side by side: Debian's real Prometheus and pharos both scrape
// the prom-client app and evaluate the same rule file — the CrewAI monitoring guide's application.yml with its 5m
// windows and `for` durations shortened to seconds, expressions and templates untouched — and
// must report the same alerts (names, labels, states, annotation text) in /api/v1/alerts and
// /api/v1/rules, and the same ALERTS series. Rate values differ in their last digits (the two
// scrape at different instants), so the rendered percentage is compared by shape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startApp, startPharos, spawnUntil, freePort, hasPrometheus, api, query, waitFor, tempDir, sleep } from './helpers.mjs';

const skip = hasPrometheus() ? false : 'Debian prometheus is not installed (.ci/run installs it)';
let app;
let pharos;
let prom;
let promUrl;

function fastGuideRules() {
  const guide = fs.readFileSync(path.join(ROOT, 'examples/prometheus/alerts/application.yml'), 'utf8');
  return guide.replaceAll('[5m]', '[5s]').replace(/for: \d+m/g, 'for: 2s');
}

before(async () => {
  if (skip) return;
  app = await startApp({ TICKS: '40', TICK_MS: '1000' });
  const cfgText = (ruleFile) => `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - ${ruleFile}
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ['127.0.0.1:${app.port}']
`;
  const dir = tempDir('rules-side-');
  const rules = path.join(dir, 'application.yml');
  fs.writeFileSync(rules, fastGuideRules());
  pharos = await startPharos(cfgText(rules));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const cfg = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(cfg, cfgText(rules));
  [prom] = await spawnUntil('prometheus', [
    `--config.file=${cfg}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], /Server is ready to receive web requests/, {}, 60000);
});

after(() => {
  prom?.kill('SIGKILL');
  app?.child.kill('SIGKILL');
  pharos?.child.kill('SIGKILL');
});

const firing = async (base) => {
  const { body } = await api(base, '/api/v1/alerts');
  return (body?.data?.alerts || []).filter((a) => a.state === 'firing');
};

const key = (a) => JSON.stringify(Object.entries(a.labels).filter(([k]) => k !== 'instance').sort());

test('the same guide alerts fire in Prometheus and pharos', { skip, timeout: 90000 }, async () => {
  const p = await waitFor(async () => ((await firing(pharos.url)).length ? firing(pharos.url) : null), 40000, 'pharos alerts');
  const r = await waitFor(async () => ((await firing(promUrl)).length ? firing(promUrl) : null), 40000, 'prometheus alerts');
  await sleep(3000); // let both settle on the same set
  const pa = await firing(pharos.url);
  const ra = await firing(promUrl);
  assert.ok(p.length && r.length);
  assert.deepEqual(pa.map(key).sort(), ra.map(key).sort(), 'same alerts and labels');
  for (const a of pa) {
    const other = ra.find((x) => key(x) === key(a));
    assert.equal(a.annotations.summary, other.annotations.summary);
    const shape = (s) => s.replace(/[0-9.]+%/, 'N%').replace(/[0-9.e+-]+s$/, 'Ns');
    assert.equal(shape(a.annotations.description), shape(other.annotations.description), `${a.labels.alertname}: ${a.annotations.description} vs ${other.annotations.description}`);
  }
  const hi = pa.find((a) => a.labels.alertname === 'HighErrorRate');
  assert.ok(hi, 'HighErrorRate fires (1 error/s on POST /api)');
  assert.match(hi.annotations.description, /^Error rate is [0-9.]+% for \/api$/);
  assert.equal(hi.labels.severity, 'critical');
});

test('ALERTS series and /api/v1/rules agree', { skip, timeout: 60000 }, async () => {
  const names = async (base) => {
    const b = await query(base, 'count by (alertname, alertstate) (ALERTS)');
    return (b?.data?.result || []).map((s) => `${s.metric.alertname}/${s.metric.alertstate}=${s.value[1]}`).sort();
  };
  await waitFor(async () => (await names(pharos.url)).length > 0, 20000, 'pharos ALERTS');
  assert.deepEqual(await names(pharos.url), await names(promUrl));

  const rules = async (base) => {
    const { body } = await api(base, '/api/v1/rules');
    return body.data.groups.flatMap((g) => g.rules.map((r) => ({
      group: g.name, name: r.name, type: r.type, state: r.state, health: r.health,
      duration: r.duration, query: r.query, labels: r.labels, annotations: r.annotations,
    })));
  };
  assert.deepEqual(await rules(pharos.url), await rules(promUrl));
  const { body } = await api(pharos.url, '/api/v1/rules?type=record');
  assert.deepEqual(body.data.groups, []);
});
