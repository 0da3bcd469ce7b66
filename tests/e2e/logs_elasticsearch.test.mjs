// Elasticsearch compatibility with real clients and the CrewAI monitoring guide's queries:
// - the real npm winston + winston-elasticsearch, configured exactly as in the CrewAI monitoring guide, logs to
//   pharos; the documents come back through `/{index}/_search` (with winston-elasticsearch's
//   document shape: @timestamp, message, severity, fields.*) and through LogQL;
// - the CrewAI monitoring guide's two "Log Analysis Queries", verbatim, return the right hits and buckets for
//   documents we control (sent with `_bulk`);
// - broken NDJSON and bad DSL get ES error JSON with a 4xx and pharos keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startPharos, api, waitFor, tempDir, ROOT, spawnUntil, PHAROS_BIN, guideEsQueries as guideQueries } from './helpers.mjs';

const CLIENT = path.join(ROOT, 'tests/clients-logs/es_logger.mjs');

function runClient(env, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [CLIENT], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`es_logger exited ${code}:\n${out}`));
    });
  });
}

const post = (url, body, ct = 'application/json') =>
  api(url, '', { method: 'POST', headers: { 'content-type': ct }, body: typeof body === 'string' ? body : JSON.stringify(body) });

test('winston-elasticsearch as configured in the CrewAI monitoring guide writes to pharos; logs come back via _search and LogQL', async () => {
  const p = await startPharos(null);
  try {
    const requests = [
      { method: 'GET', url: '/api/agents', status: 200, duration: 120, requestId: 'r1' },
      { method: 'POST', url: '/api/crews', status: 201, duration: 1500, requestId: 'r2' },
      { method: 'GET', url: '/api/tasks', status: 200, duration: 999, requestId: 'r3' },
      { method: 'GET', url: '/api/slow', status: 504, duration: 4000, requestId: 'r4' },
    ];
    const cwd = tempDir('pharos-winston-');
    const out = await runClient(
      { ELASTICSEARCH_URL: p.url, NODE_ENV: 'test', APP_VERSION: '1.2.3', REQUESTS: JSON.stringify(requests), ERRORS: JSON.stringify(['database unreachable']) },
      cwd,
    );
    assert.match(out, /done 5 left=0/);
    // The CrewAI monitoring guide's File transports wrote locally too.
    assert.ok(fs.readFileSync(path.join(cwd, 'logs/combined.log'), 'utf8').includes('HTTP Request'));

    const all = await waitFor(async () => {
      const r = await post(`${p.url}/crewai-logs/_search?size=100`, { sort: [{ '@timestamp': 'asc' }] });
      return r.status === 200 && r.body.hits.total.value === 5 ? r.body : null;
    }, 20000, '5 winston documents');
    const docs = all.hits.hits.map((h) => h._source);
    for (const h of all.hits.hits) assert.equal(h._index, 'crewai-logs');
    const reqDocs = docs.filter((d) => d.message === 'HTTP Request');
    assert.equal(reqDocs.length, 4);
    for (const d of reqDocs) {
      assert.equal(d.severity, 'info');
      assert.equal(d.fields.service, 'crewai-api');
      assert.equal(d.fields.environment, 'test');
      assert.equal(d.fields.version, '1.2.3');
      assert.ok(!Number.isNaN(Date.parse(d['@timestamp'])));
    }
    const errDoc = docs.find((d) => d.severity === 'error');
    assert.ok(errDoc, 'error document');
    assert.match(JSON.stringify(errDoc), /database unreachable/);

    // The CrewAI monitoring guide's slow-request query, on winston-elasticsearch's field layout (its transformer
    // nests metadata under `fields`).
    const slow = await post(`${p.url}/crewai-logs/_search`, {
      query: { bool: { must: [{ match: { 'fields.service': 'crewai-api' } }, { range: { 'fields.duration': { gte: 1000 } } }] } },
    });
    assert.equal(slow.status, 200);
    assert.deepEqual(slow.body.hits.hits.map((h) => h._source.fields.requestId).sort(), ['r2', 'r4']);
    const count = await api(p.url, '/crewai-logs/_count?q=severity:error');
    assert.equal(count.body.count, 1);

    // The same documents through LogQL: index and level are stream labels, fields via | json.
    const now = Date.now();
    const params = new URLSearchParams({
      query: '{index="crewai-logs", level="info"} | json | fields_duration >= 1000',
      start: String((now - 3600_000) * 1e6),
      end: String((now + 60_000) * 1e6),
      limit: '100',
    });
    const lq = await api(p.url, `/loki/api/v1/query_range?${params}`);
    assert.equal(lq.status, 200, JSON.stringify(lq.body));
    const lines = lq.body.data.result.flatMap((s) => s.values.map((v) => JSON.parse(v[1])));
    assert.deepEqual(lines.map((l) => l.fields.requestId).sort(), ['r2', 'r4']);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test("the CrewAI monitoring guide's two Elasticsearch queries return the right hits and buckets", async () => {
  const p = await startPharos(null);
  try {
    const [slowQuery, spikeQuery] = guideQueries();
    assert.ok(slowQuery.query && spikeQuery.aggs, 'guide queries found');
    // Recent times (the log store applies Loki's reject_old_samples window), on 5m boundaries.
    const base = Math.floor(Date.now() / 300_000) * 300_000 - 900_000;
    const at = (ms) => new Date(base + ms).toISOString();
    const docs = [
      [at(60_000), 'crewai-api', 'info', 120],
      [at(150_000), 'crewai-api', 'error', 1500],
      [at(180_000), 'billing', 'info', 3000],
      [at(299_000), 'crewai-api', 'info', 1000],
      [at(660_000), 'crewai-api', 'error', 999],
      [at(720_000), 'crewai-api', 'error', 20],
      [at(840_000), 'crewai-api', 'warn', 2000],
    ];
    let ndjson = '';
    docs.forEach(([ts, service, level, duration], i) => {
      ndjson += JSON.stringify({ index: { _index: 'crewai-logs', _id: `d${i}` } }) + '\n';
      ndjson += JSON.stringify({ '@timestamp': ts, service, level, duration, message: 'HTTP Request' }) + '\n';
    });
    const bulk = await post(`${p.url}/_bulk`, ndjson, 'application/x-ndjson');
    assert.equal(bulk.status, 200);
    assert.equal(bulk.body.errors, false, JSON.stringify(bulk.body));
    assert.equal(bulk.body.items.length, 7);

    const slow = await post(`${p.url}/crewai-logs/_search`, slowQuery);
    assert.equal(slow.status, 200, JSON.stringify(slow.body));
    assert.deepEqual(slow.body.hits.total, { value: 3, relation: 'eq' });
    assert.deepEqual(slow.body.hits.hits.map((h) => h._id).sort(), ['d1', 'd3', 'd6']);

    const spike = await post(`${p.url}/crewai-logs/_search`, spikeQuery);
    assert.equal(spike.status, 200, JSON.stringify(spike.body));
    assert.deepEqual(spike.body.aggregations.errors_over_time.buckets, [
      { key_as_string: at(0), key: base, doc_count: 4, error_count: { doc_count: 1 } },
      { key_as_string: at(300_000), key: base + 300_000, doc_count: 0, error_count: { doc_count: 0 } },
      { key_as_string: at(600_000), key: base + 600_000, doc_count: 3, error_count: { doc_count: 2 } },
    ]);
    assert.equal(spike.body.hits.total.value, 7);
    assert.equal(spike.body.timed_out, false);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('broken NDJSON and bad DSL get ES error JSON, pharos keeps serving', async () => {
  const p = await startPharos(null);
  try {
    await post(`${p.url}/app/_doc`, { msg: 'x' });
    const cases = [
      [`${p.url}/_bulk`, '{"index":{"_index":"app"}}\n{"a":1}', 400, 'illegal_argument_exception'],
      [`${p.url}/_bulk`, 'this is not json\n', 400, 'illegal_argument_exception'],
      [`${p.url}/app/_search`, '{"query":{"matchh":{}}}', 400, 'parsing_exception'],
      [`${p.url}/app/_search`, '{"query":', 400, 'x_content_parse_exception'],
      [`${p.url}/app/_search`, '{"query":{"range":{"t":{"gte":"now-1x"}}}}', 400, 'parse_exception'],
      [`${p.url}/missing/_search`, '{}', 404, 'index_not_found_exception'],
    ];
    for (const [url, body, status, type] of cases) {
      const r = await post(url, body);
      assert.equal(r.status, status, `${url} ${body}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.type, type, `${url} ${body}`);
      assert.equal(r.body.status, status);
      assert.ok(r.body.error.root_cause.length >= 1);
    }
    // A bad document fails only its item.
    const mixed = await post(`${p.url}/_bulk`, '{"index":{"_index":"app"}}\n{"ok":1}\n{"index":{"_index":"app"}}\n{broken\n', 'application/x-ndjson');
    assert.equal(mixed.status, 200);
    assert.equal(mixed.body.errors, true);
    assert.deepEqual(mixed.body.items.map((i) => i.index.status), [201, 400]);
    const c = await api(p.url, '/app/_count');
    assert.equal(c.body.count, 2);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('kill -9 during _bulk loses no acknowledged document', async () => {
  const p = await startPharos(null);
  const acked = [];
  let stop = false;
  const writer = async (w) => {
    for (let i = w; !stop; i += 2) {
      const id = `doc-${i}`;
      const body = JSON.stringify({ index: { _index: 'crash-logs', _id: id } }) + '\n' +
        JSON.stringify({ '@timestamp': new Date().toISOString(), message: `m${i}`, level: 'info' }) + '\n';
      try {
        const r = await fetch(`${p.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
        const j = await r.json();
        if (r.status === 200 && j.errors === false) acked.push(id);
      } catch {
        return; // killed
      }
    }
  };
  const writers = [writer(0), writer(1)];
  await new Promise((r) => setTimeout(r, 1500));
  p.child.kill('SIGKILL');
  stop = true;
  await Promise.all(writers);
  assert.ok(acked.length > 10, `only ${acked.length} documents acknowledged`);
  const [child, m] = await spawnUntil(
    PHAROS_BIN,
    ['serve', '--listen', '127.0.0.1:0', '--data', p.data],
    /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/,
  );
  try {
    const url = m[1];
    const r = await post(`${url}/crash-logs/_search?size=10000`, { _source: false });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const found = new Set(r.body.hits.hits.map((h) => h._id));
    const lost = acked.filter((id) => !found.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged documents lost`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('listeners.elasticsearch serves the ES API on its own port (9200 in production)', async () => {
  const dir = tempDir('pharos-es-listener-');
  fs.writeFileSync(path.join(dir, 'pharos.yml'), 'listeners:\n  elasticsearch: 127.0.0.1:0\n');
  const [child, m] = await spawnUntil(
    PHAROS_BIN,
    ['serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'), '--config', path.join(dir, 'pharos.yml')],
    /pharos: elasticsearch listening on (http:\/\/[0-9.:]+)\r?\n/,
  );
  try {
    const h = await api(m[1], '/_cluster/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'green');
    const r = await post(`${m[1]}/app/_doc`, { message: 'via 9200' });
    assert.equal(r.status, 201);
  } finally {
    child.kill('SIGKILL');
  }
});
