// pharos' built-in Redis collector side by side with Debian's prometheus-redis-exporter against
// the same redis-server: every family the exporter emits is produced by pharos (or listed below
// with the reason it is skipped) with the same TYPE and label names, and stable values agree
// (connected clients, keys per db, maxmemory, role and version). The series land in pharos'
// TSDB as job="redis", instance=<name>; an unreachable server is `up == 0` with a lastError
// that names it, pharos keeps running, and a bad URL is a config error with file:line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPharos, spawnUntil, freePort, query, waitFor, api, tempDir, PHAROS_BIN } from './helpers.mjs';
import { parseExposition, findSample, compareFamilies, skippedBy } from './exposition.mjs';
import { runs, pgBin, pgRun } from './services.mjs';

const REDIS_EXPORTER = '/usr/bin/prometheus-redis-exporter';


const skipRedis = !runs('redis-server', ['--version'])
  ? 'Debian redis-server is not installed (.ci/run installs it)'
  : !runs(REDIS_EXPORTER, ['--version'])
    ? 'Debian prometheus-redis-exporter is not installed (.ci/run installs it)'
    : false;

// Families redis_exporter emits that pharos deliberately does not, with the reason. A prefix
// ends with '_'.
const SKIPPED = {
  'go_': 'Go runtime of the exporter process itself',
  'process_': 'the exporter process itself (pharos reports its own under job="pharos")',
  'promhttp_': "the exporter's HTTP handler",
  'redis_exporter_build_info': "the exporter's own build",
  'redis_exporter_scrapes_total': "the exporter's own scrape counter (pharos has scrape_* series per target)",
  'redis_exporter_scrape_duration_seconds': "the exporter's own summary (pharos has scrape_duration_seconds)",
  'redis_exporter_last_scrape_error': 'pharos reports the error as the target\'s lastError with up == 0',
  'redis_exporter_last_scrape_connect_time_seconds': "the exporter's connect timing",
  'redis_target_scrape_request_errors_total': "errors of the exporter's HTTP handler",
  'redis_last_key_groups_scrape_duration_milliseconds': 'key groups (--check-key-groups) are not configured',
};

const skippedReason = skippedBy(SKIPPED);

let redis;
let redisPort;
let exporter;
let exporterUrl;
let pharos;
let gonePort;

const cli = (...args) => execFileSync('redis-cli', ['-p', String(redisPort), ...args]).toString().trim();

before(async () => {
  if (skipRedis) return;
  redisPort = await freePort();
  [redis] = await spawnUntil('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], /Ready to accept connections/);
  // Some data: keys in db0 (one expiring) and db3, and a few commands.
  cli('set', 'a', '1');
  cli('set', 'b', '2', 'EX', '3600');
  cli('get', 'a');
  cli('-n', '3', 'set', 'c', '3');
  const port = await freePort();
  exporterUrl = `http://127.0.0.1:${port}`;
  [exporter] = await spawnUntil(REDIS_EXPORTER, [`--redis.addr=redis://127.0.0.1:${redisPort}`, `--web.listen-address=127.0.0.1:${port}`], /Providing metrics at/);
  gonePort = await freePort();
  pharos = await startPharos(
    'collectors:\n  self: {enabled: false}\n  host: {enabled: false}\n  redis:\n' +
      `    - name: cache\n      url: redis://127.0.0.1:${redisPort}/0\n` +
      `    - name: gone\n      url: redis://127.0.0.1:${gonePort}\n`,
    'pharos.yml',
  );
});

after(() => {
  exporter?.kill('SIGKILL');
  redis?.kill('SIGKILL');
  pharos?.child.kill('SIGKILL');
});

async function scrapeBoth() {
  // One after the other: each sees its own connection and not the other's.
  const a = await fetch(`${exporterUrl}/metrics`).then((r) => r.text());
  const res = await fetch(`${pharos.url}/metrics/redis?target=cache`);
  assert.equal(res.status, 200);
  return [parseExposition(a), parseExposition(await res.text())];
}

test('redis: families, types and label names cover redis_exporter', { skip: skipRedis }, async () => {
  const [theirs, ours] = await scrapeBoth();
  const { missing, mismatched, skipped, extra } = compareFamilies(theirs, ours, skippedReason);
  console.log(`redis_exporter families: ${theirs.size}; pharos: ${ours.size}`);
  console.log(`skipped on purpose (${skipped.length}):\n  ${skipped.join('\n  ')}`);
  console.log(`pharos only (${extra.length}): ${extra.join(', ')}`);
  if (missing.length) console.log(`MISSING (${missing.length}):\n  ${missing.join('\n  ')}`);
  if (mismatched.length) console.log(`MISMATCHED (${mismatched.length}):\n  ${mismatched.join('\n  ')}`);
  assert.deepEqual(missing, [], 'families redis_exporter emits that pharos does not');
  assert.deepEqual(mismatched, [], 'type or label differences');
  for (const n of ['redis_up', 'redis_connected_clients', 'redis_blocked_clients', 'redis_memory_used_bytes',
    'redis_memory_max_bytes', 'redis_commands_processed_total', 'redis_commands_total',
    'redis_commands_duration_seconds_total', 'redis_keyspace_hits_total', 'redis_keyspace_misses_total',
    'redis_db_keys', 'redis_db_keys_expiring', 'redis_expired_keys_total', 'redis_evicted_keys_total',
    'redis_instance_info', 'redis_connected_slaves', 'redis_master_repl_offset',
    'redis_rdb_last_save_timestamp_seconds', 'redis_rdb_changes_since_last_save', 'redis_aof_enabled',
    'redis_uptime_in_seconds', 'redis_latency_percentiles_usec']) {
    assert.ok(ours.get(n)?.samples.length > 0, n);
  }
});

test('redis: stable values agree', { skip: skipRedis }, async () => {
  const [theirs, ours] = await scrapeBoth();
  const one = (fams, n, want = {}) => findSample(fams.get(n), want)?.value;
  const eq = (n, want = {}, tol = 0) => {
    const a = one(theirs, n, want);
    const b = one(ours, n, want);
    assert.ok(a !== undefined, `redis_exporter has ${n} ${JSON.stringify(want)}`);
    assert.ok(b !== undefined, `pharos has ${n} ${JSON.stringify(want)}`);
    assert.ok(Math.abs(a - b) <= tol, `${n} ${JSON.stringify(want)}: pharos ${b}, redis_exporter ${a}`);
  };
  // pharos' own scrape job may be connected at the same moment: one client of slack.
  eq('redis_connected_clients', {}, 1);
  eq('redis_connected_slaves');
  eq('redis_memory_max_bytes');
  eq('redis_aof_enabled');
  eq('redis_config_maxclients');
  for (const db of ['db0', 'db1', 'db3', 'db15']) {
    eq('redis_db_keys', { db });
    eq('redis_db_keys_expiring', { db });
  }
  assert.equal(one(ours, 'redis_db_keys', { db: 'db0' }), 2);
  assert.equal(one(ours, 'redis_db_keys_expiring', { db: 'db0' }), 1);
  assert.equal(one(ours, 'redis_commands_total', { cmd: 'set' }) >= 3, true, 'SET calls counted');
  // The latency summary: count and sum are Commandstats' calls and µs of the command.
  eq('redis_latency_percentiles_usec_count', { cmd: 'set' });
  eq('redis_latency_percentiles_usec_sum', { cmd: 'set' });
  const info = (fams) => findSample(fams.get('redis_instance_info'), {}).labels;
  assert.deepEqual(info(ours), info(theirs));
  assert.equal(one(ours, 'redis_up'), 1);
});

test('redis: stored as job="redis" per instance; unreachable is up == 0 with lastError, no crash', { skip: skipRedis }, async () => {
  const body = await waitFor(async () => {
    const b = await query(pharos.url, 'redis_connected_clients{job="redis",instance="cache"}');
    return b.data?.result?.length ? b : null;
  }, 40000, 'redis_connected_clients in the TSDB');
  assert.ok(Number(body.data.result[0].value[1]) >= 1);
  const gone = await waitFor(async () => {
    const { body: t } = await api(pharos.url, '/api/v1/targets');
    const g = t.data?.activeTargets?.find((x) => x.labels.job === 'redis' && x.labels.instance === 'gone');
    return g && g.health === 'down' ? g : null;
  }, 40000, 'the unreachable redis target down');
  console.log(`lastError of the unreachable target: ${gone.lastError}`);
  assert.match(gone.lastError, new RegExp(`127\\.0\\.0\\.1:${gonePort}`));
  const up = await query(pharos.url, 'up{job="redis"}');
  const ups = Object.fromEntries(up.data.result.map((r) => [r.metric.instance, r.value[1]]));
  assert.deepEqual(ups, { cache: '1', gone: '0' });
  const direct = await fetch(`${pharos.url}/metrics/redis?target=gone`);
  assert.equal(direct.status, 503);
  assert.equal((await fetch(`${pharos.url}/metrics/redis?target=nope`)).status, 404);
  assert.equal((await fetch(`${pharos.url}/metrics/redis`)).status, 400);
  assert.equal(pharos.child.exitCode, null, 'pharos still running');
});

test('a bad redis URL is a config error with file:line', async () => {
  const dir = tempDir('pharos-redis-badurl-');
  const cfg = path.join(dir, 'pharos.yml');
  fs.writeFileSync(cfg, 'collectors:\n  redis:\n    - name: cache\n      url: redis://127.0.0.1:notaport\n');
  const out = await new Promise((resolve) => {
    const child = spawn(PHAROS_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'), '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, text });
    });
  });
  assert.notEqual(out.code, 0, out.text);
  assert.match(out.text, /pharos\.yml:4/, out.text);
  assert.match(out.text, /bad port/, out.text);
});

// ---- PostgreSQL: a throwaway cluster (initdb + pg_ctl, as the `postgres` user when run as
// root) with a SCRAM password, Debian's prometheus-postgres-exporter, and pharos reading the
// password from password_file.
const PG_EXPORTER = '/usr/bin/prometheus-postgres-exporter';
const skipPg = !pgBin
  ? 'Debian postgresql is not installed (.ci/run installs it)'
  : !runs(PG_EXPORTER, ['--version'])
    ? 'Debian prometheus-postgres-exporter is not installed (.ci/run installs it)'
    : false;

const PG_SKIPPED = {
  'go_': 'Go runtime of the exporter process itself',
  'process_': 'the exporter process itself (pharos reports its own under job="pharos")',
  'promhttp_': "the exporter's HTTP handler",
  'postgres_exporter_build_info': "the exporter's own build",
  'pg_exporter_': "the exporter's own scrape counters (pharos has scrape_* series per target)",
  'pg_scrape_collector_': "the exporter's per-collector timings",
};

let pg;

before(async () => {
  if (skipPg) return;
  const dir = tempDir('pharos-pg-');
  fs.chmodSync(dir, 0o777);
  const pwFile = path.join(dir, 'pw');
  fs.writeFileSync(pwFile, 's3cret\n', { mode: 0o644 });
  const port = await freePort();
  const data = path.join(dir, 'data');
  pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwFile}`]);
  pgRun('pg_ctl', ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  const ePort = await freePort();
  const [exp] = await spawnUntil(PG_EXPORTER, [`--web.listen-address=127.0.0.1:${ePort}`], /Listening on|listening/i, {
    env: { ...process.env, DATA_SOURCE_NAME: `postgresql://postgres:s3cret@127.0.0.1:${port}/postgres?sslmode=disable` },
  });
  const gone = await freePort();
  const p = await startPharos(
    'collectors:\n  self: {enabled: false}\n  host: {enabled: false}\n  postgres:\n' +
      `    - name: main\n      url: postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable\n      password_file: ${pwFile}\n` +
      `    - name: pgdown\n      url: postgres://postgres@127.0.0.1:${gone}/postgres?sslmode=disable\n`,
    'pharos.yml',
  );
  pg = { dir, data, port, exp, expUrl: `http://127.0.0.1:${ePort}`, pharos: p, gone };
});

after(() => {
  if (!pg) return;
  pg.exp?.kill('SIGKILL');
  pg.pharos?.child.kill('SIGKILL');
  try {
    pgRun('pg_ctl', ['-D', pg.data, '-m', 'immediate', 'stop']);
  } catch {
    // already gone
  }
});

async function scrapePg() {
  const a = await fetch(`${pg.expUrl}/metrics`).then((r) => r.text());
  const res = await fetch(`${pg.pharos.url}/metrics/postgres?target=main`);
  const b = await res.text();
  assert.equal(res.status, 200, b);
  return [parseExposition(a), parseExposition(b)];
}

test('postgres: families, types and label names cover postgres_exporter', { skip: skipPg }, async () => {
  const [theirs, ours] = await scrapePg();
  assert.equal(findSample(theirs.get('pg_up'), {})?.value, 1, 'postgres_exporter reached the server');
  const { missing, mismatched, skipped, extra } = compareFamilies(theirs, ours, skippedBy(PG_SKIPPED));
  console.log(`postgres_exporter families: ${theirs.size}; pharos: ${ours.size}`);
  console.log(`skipped on purpose (${skipped.length}):\n  ${skipped.join('\n  ')}`);
  console.log(`pharos only (${extra.length}): ${extra.join(', ')}`);
  if (missing.length) console.log(`MISSING (${missing.length}):\n  ${missing.join('\n  ')}`);
  if (mismatched.length) console.log(`MISMATCHED (${mismatched.length}):\n  ${mismatched.join('\n  ')}`);
  assert.deepEqual(missing, [], 'families postgres_exporter emits that pharos does not');
  assert.deepEqual(mismatched, [], 'type or label differences');
  for (const n of ['pg_up', 'pg_stat_database_numbackends', 'pg_stat_database_xact_commit', 'pg_stat_database_blks_hit',
    'pg_stat_database_tup_fetched', 'pg_stat_database_deadlocks', 'pg_stat_database_temp_bytes', 'pg_stat_activity_count',
    'pg_database_size_bytes', 'pg_locks_count', 'pg_settings_max_connections', 'pg_static', 'pg_replication_lag_seconds']) {
    assert.ok(ours.get(n)?.samples.length > 0, n);
  }
});

test('postgres: stable values agree', { skip: skipPg }, async () => {
  const [theirs, ours] = await scrapePg();
  const one = (fams, n, want = {}) => findSample(fams.get(n), want)?.value;
  const near = (n, want, tol) => {
    const a = one(theirs, n, want);
    const b = one(ours, n, want);
    assert.ok(a !== undefined && b !== undefined, `${n} ${JSON.stringify(want)}: pharos ${b}, postgres_exporter ${a}`);
    assert.ok(Math.abs(a - b) <= tol * Math.max(Math.abs(a), 1), `${n} ${JSON.stringify(want)}: pharos ${b}, postgres_exporter ${a}`);
  };
  near('pg_database_size_bytes', { datname: 'postgres' }, 0.05);
  near('pg_database_size_bytes', { datname: 'template1' }, 0.05);
  near('pg_settings_max_connections', {}, 0);
  near('pg_settings_shared_buffers_bytes', {}, 0);
  const st = (fams) => findSample(fams.get('pg_static'), {}).labels.short_version;
  assert.equal(st(ours), st(theirs));
});

test('postgres: stored as job="postgres"; unreachable is up == 0 with lastError, no crash', { skip: skipPg }, async () => {
  await waitFor(async () => {
    const b = await query(pg.pharos.url, 'pg_up{job="postgres",instance="main"}');
    return b.data?.result?.length ? b : null;
  }, 40000, 'pg_up in the TSDB');
  const gone = await waitFor(async () => {
    const { body: t } = await api(pg.pharos.url, '/api/v1/targets');
    const g = t.data?.activeTargets?.find((x) => x.labels.job === 'postgres' && x.labels.instance === 'pgdown');
    return g && g.health === 'down' ? g : null;
  }, 40000, 'the unreachable postgres target down');
  console.log(`lastError of the unreachable target: ${gone.lastError}`);
  assert.match(gone.lastError, new RegExp(`127\\.0\\.0\\.1:${pg.gone}`));
  const up = await query(pg.pharos.url, 'up{job="postgres"}');
  const ups = Object.fromEntries(up.data.result.map((r) => [r.metric.instance, r.value[1]]));
  assert.deepEqual(ups, { main: '1', pgdown: '0' });
  assert.equal(pg.pharos.child.exitCode, null, 'pharos still running');
});
