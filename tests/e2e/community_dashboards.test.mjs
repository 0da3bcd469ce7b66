// The community dashboards of the three exporters pharos replaces — Node Exporter Full
// (grafana.com 1860), redis_exporter's own dashboard (grafana.com 763) and redis mixin,
// postgres_exporter's mixin overview — evaluated as Grafana's Prometheus data source would
// (tests/e2e/grafana_eval.mjs) against one pharos that stores both the real Debian exporters
// (scraped as jobs node_exporter, redis_exporter, postgres_exporter) and its own collectors
// (jobs node, redis, postgres) every 15 s. For each dashboard, every panel that has data with the
// real exporter's series must have data with pharos' collector; the per-panel table is printed.
// The dashboards are unmodified copies (tests/e2e/dashboards/README.md says where from).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPharos, spawnUntil, freePort, query, waitFor, tempDir, ROOT } from './helpers.mjs';
import { runs, pgBin, startRedis, startPostgres, missingServices } from './services.mjs';
import { resolveVariables, evaluatePanels } from './grafana_eval.mjs';

const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const REDIS_EXPORTER = '/usr/bin/prometheus-redis-exporter';
const PG_EXPORTER = '/usr/bin/prometheus-postgres-exporter';

const skip = missingServices()
  || (!runs(NODE_EXPORTER, ['--version']) && 'Debian prometheus-node-exporter is not installed (.ci/run installs it)')
  || (!runs(REDIS_EXPORTER, ['--version']) && 'Debian prometheus-redis-exporter is not installed (.ci/run installs it)')
  || (!runs(PG_EXPORTER, ['--version']) && 'Debian prometheus-postgres-exporter is not installed (.ci/run installs it)')
  || false;

const DASHBOARDS = path.join(ROOT, 'tests/e2e/dashboards');
const load = (f) => JSON.parse(fs.readFileSync(path.join(DASHBOARDS, f), 'utf8'));

const children = [];
let redis;
let pg;
let pharos;
let traffic;
let redisPort;

before(async () => {
  if (skip) return;
  redis = await startRedis();
  redisPort = redis.port;
  pg = await startPostgres();
  const psql = (sql, db = 'postgres') => execFileSync(path.join(pgBin, 'psql'), ['-q', '-v', 'ON_ERROR_STOP=1', `postgresql://postgres:s3cret@127.0.0.1:${pg.port}/${db}?sslmode=disable`, '-c', sql], { stdio: 'pipe' });
  // An application database (the postgres mixin's db variable leaves out postgres and templates).
  psql('CREATE DATABASE shop');
  psql('CREATE TABLE orders (id serial primary key, item text); INSERT INTO orders (item) SELECT md5(i::text) FROM generate_series(1, 1000) i', 'shop');

  const nodePort = await freePort();
  const [ne] = await spawnUntil(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${nodePort}`], /Listening on/);
  const redisExpPort = await freePort();
  const [re] = await spawnUntil(REDIS_EXPORTER, [`--redis.addr=redis://127.0.0.1:${redis.port}`, `--web.listen-address=127.0.0.1:${redisExpPort}`], /Providing metrics at/);
  const pgExpPort = await freePort();
  const [pe] = await spawnUntil(PG_EXPORTER, [`--web.listen-address=127.0.0.1:${pgExpPort}`], /Listening on|listening/i, {
    env: { ...process.env, DATA_SOURCE_NAME: `${pg.url}` },
  });
  children.push(ne, re, pe);

  const prom = 'global: {scrape_interval: 15s, scrape_timeout: 10s}\nscrape_configs:\n' +
    `  - {job_name: node_exporter, static_configs: [{targets: ['127.0.0.1:${nodePort}']}]}\n` +
    `  - {job_name: redis_exporter, static_configs: [{targets: ['127.0.0.1:${redisExpPort}']}]}\n` +
    `  - {job_name: postgres_exporter, static_configs: [{targets: ['127.0.0.1:${pgExpPort}']}]}\n`;
  const promFile = path.join(tempDir('pharos-dash-'), 'prometheus.yml');
  fs.writeFileSync(promFile, prom);
  pharos = await startPharos(
    `prometheus_config: ${promFile}\n` +
    'security: {enabled: false}\ncollectors:\n  self: {enabled: false}\n  host: {interval: 15s}\n' +
      `  redis:\n    - {name: cache, url: 'redis://127.0.0.1:${redis.port}/0'}\n` +
      `  postgres:\n    - {name: main, url: 'postgres://postgres@127.0.0.1:${pg.port}/postgres?sslmode=disable', password_file: '${pg.pwFile}'}\n`,
    'pharos.yml',
  );

  // Some traffic while the scrapes accumulate: commands, hits and misses, expiring keys;
  // transactions and rows in the application database.
  let i = 0;
  traffic = setInterval(() => {
    i++;
    try {
      execFileSync('redis-cli', ['-p', String(redisPort), 'set', `k${i}`, String(i), 'EX', '3600'], { stdio: 'ignore' });
      execFileSync('redis-cli', ['-p', String(redisPort), 'get', `k${i - 1}`], { stdio: 'ignore' });
      execFileSync('redis-cli', ['-p', String(redisPort), 'get', 'missing'], { stdio: 'ignore' });
      execFileSync('redis-cli', ['-p', String(redisPort), '-n', '2', 'set', `p${i}`, 'x'], { stdio: 'ignore' });
      psql(`INSERT INTO orders (item) VALUES ('t${i}'); UPDATE orders SET item = item || 'u' WHERE id = ${i}; SELECT count(*) FROM orders`, 'shop');
    } catch {
      // a server being torn down at the end
    }
  }, 1000);

  // Five scrapes of every job: enough for rate() over Grafana's $__rate_interval (1m).
  for (const job of ['node_exporter', 'node', 'redis_exporter', 'redis', 'postgres_exporter', 'postgres']) {
    await waitFor(async () => {
      const b = await query(pharos.url, `count_over_time(up{job="${job}"}[5m]) >= 5`);
      return b.data?.result?.length ? b : null;
    }, 150000, `five scrapes of job ${job}`);
  }
});

after(() => {
  clearInterval(traffic);
  for (const c of children) c.kill('SIGKILL');
  pharos?.child.kill('SIGKILL');
  redis?.stop();
  pg?.stop();
});

/** Evaluates `dash` once per side (the pinned variables select the exporter's or pharos'
 * series) and compares the panels with data. */
async function sideBySide(name, dash, exporterPin, pharosPin) {
  const now = Date.now() / 1000;
  const opts = { rangeS: 300, scrapeS: 15, now };
  const theirs = await resolveVariables(pharos.url, dash, { ...opts, pin: exporterPin });
  const ours = await resolveVariables(pharos.url, dash, { ...opts, pin: pharosPin });
  const a = await evaluatePanels(pharos.url, dash, theirs.vars, opts);
  const b = await evaluatePanels(pharos.url, dash, ours.vars, opts);
  assert.equal(a.length, b.length);
  const lost = [];
  const neither = [];
  let withData = 0;
  const lines = [];
  for (let i = 0; i < a.length; i++) {
    const mark = (p) => (p.hasData ? 'data' : 'NO DATA');
    lines.push(`  ${mark(a[i]).padEnd(7)} ${mark(b[i]).padEnd(7)} ${a[i].row ? `${a[i].row} / ` : ''}${a[i].title}`);
    if (b[i].hasData) withData++;
    if (a[i].hasData && !b[i].hasData) lost.push(`${a[i].title}: ${b[i].queries.map((q) => q.error ?? q.expr).join(' ; ')}`);
    if (!a[i].hasData && !b[i].hasData) neither.push(`${a[i].title}: ${a[i].queries.map((q) => q.error ?? q.expr).join(' ; ')}`);
  }
  const varsText = (v) => Object.entries(v).filter(([k]) => !k.startsWith('__') && k !== 'intervalS').map(([k, x]) => `${k}=${JSON.stringify(x)}`).join(' ');
  console.log(`${name}: ${a.length} panels; with data: exporter ${a.filter((p) => p.hasData).length}, pharos ${withData}`);
  console.log(`  variables (exporter): ${varsText(theirs.vars)}\n  variables (pharos):   ${varsText(ours.vars)}`);
  console.log(`  exporter pharos  panel\n${lines.join('\n')}`);
  if (neither.length) console.log(`  no data on either side (${neither.length}):\n    ${neither.join('\n    ')}`);
  if (lost.length) console.log(`  DATA WITH THE EXPORTER ONLY (${lost.length}):\n    ${lost.join('\n    ')}`);
  assert.deepEqual(lost, [], `${name}: panels with data from the exporter but not from pharos' collector`);
  return { panels: a.length, withData, neither };
}

test('Node Exporter Full: every panel with data from node_exporter has data from the host collector', { skip, timeout: 300000 }, async () => {
  const r = await sideBySide('Node Exporter Full', load('node-exporter-full.json'), { job: 'node_exporter' }, { job: 'node' });
  assert.ok(r.withData >= 100, `only ${r.withData} of ${r.panels} panels have data`);
});

test("redis_exporter's dashboard and the redis mixin: panels with data from redis_exporter have data from the Redis collector", { skip, timeout: 300000 }, async () => {
  const pin = (instance) => ({ instance });
  const exp = `127.0.0.1:${(await query(pharos.url, 'redis_up{job="redis_exporter"}')).data.result[0].metric.instance.split(':')[1]}`;
  for (const [name, file] of [['Redis Dashboard for Prometheus Redis Exporter', 'redis-exporter.json'], ['Redis Overview (mixin)', 'redis-mixin-overview.json']]) {
    const r = await sideBySide(name, load(file), pin(exp), pin('cache'));
    assert.ok(r.withData >= r.panels - r.neither.length, name);
  }
});

test("postgres_exporter's mixin overview: panels with data from postgres_exporter have data from the PostgreSQL collector", { skip, timeout: 300000 }, async () => {
  const r = await sideBySide('Postgres Overview (mixin)', load('postgres-mixin-overview.json'), { job: 'postgres_exporter' }, { job: 'postgres' });
  assert.equal(r.withData, r.panels, 'every panel has data with pharos');
});
