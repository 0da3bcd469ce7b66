// The newest official @sentry/node (11.x, tests/clients-errors-node-latest/app.mjs: the v8+ API,
// OpenTelemetry inside, spans streamed as `span` items instead of transactions, structured logs
// as `log` items, cron check-ins) sends to a pharos DSN unchanged: one error thrown 50 times from
// one place is one issue with count 50, another stack a second issue, the message carries its
// breadcrumb, the uncaught error arrives as fatal; the streamed spans are one trace in the trace
// store, the error thrown inside a span links to it, the log line is in the log store with its
// trace id, and the session feeds release health.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPharos, ROOT, waitFor, query, vectorValue, runNodeToExit } from './helpers.mjs';

const DIR = path.join(ROOT, 'tests/clients-errors-node-latest');
const KEY = 'd00dfeedd00dfeedd00dfeedd00dfeed';
const skip = fs.existsSync(path.join(DIR, 'node_modules/@sentry/node')) ? false : 'npm ci of tests/clients-errors-node-latest not run';
let pharos;

before(async () => {
  if (skip) return;
  pharos = await startPharos(`errors:\n  projects:\n    - {id: 4, name: modern, keys: [${KEY}]}\n`, 'pharos.yml');
});
after(() => pharos?.child.kill('SIGKILL'));

async function get(p) {
  const r = await fetch(`${pharos.url}${p}`);
  const body = await r.text();
  assert.equal(r.status, 200, `${p}: ${body}`);
  return JSON.parse(body);
}

test('@sentry/node 11: issues, streamed spans as a trace, logs, release health', { skip, timeout: 120000 }, async () => {
  const dsn = `http://${KEY}@${new URL(pharos.url).host}/4`;
  const { code, output } = await runNodeToExit(path.join(DIR, 'app.mjs'), { SENTRY_DSN: dsn, NODE_ENV: 'staging' });
  assert.match(output, /flushed/, output);
  assert.notEqual(code, 0, 'the uncaught error ends the process');
  const issues = await waitFor(async () => {
    const r = await get('/api/pharos/v1/errors/issues?project=4&status=all&sort=count');
    return r.issues.some((i) => /uncaught boom/.test(i.title)) && r.total >= 5 ? r : null;
  }, 20000, 'five issues');
  const byTitle = (re) => issues.issues.filter((i) => re.test(i.title));
  const titles = JSON.stringify(issues.issues.map((i) => `${i.title} x${i.count}`));
  assert.equal(byTitle(/^TypeError: card declined/).length, 1, titles);
  const same = byTitle(/^TypeError: card declined/)[0];
  assert.equal(same.count, 50, titles);
  assert.equal(same.users, 1);
  assert.match(same.culprit, /chargeCard/);
  assert.equal(byTitle(/^TypeError: Cannot read properties of undefined/)[0]?.count, 1, titles);
  assert.equal(byTitle(/^Payment gateway slow/)[0]?.level, 'warning', titles);
  assert.equal(byTitle(/uncaught boom in modern worker/)[0]?.level, 'fatal', titles);
  const inSpan = byTitle(/^RangeError: quantity out of range/)[0];
  assert.ok(inSpan, titles);

  const ev = await get(`/api/pharos/v1/errors/issues/${same.id}/events/latest`);
  assert.equal(ev.environment, 'staging');
  assert.equal(ev.release, 'crewai-api@2.0.0');
  assert.equal(ev.sdk.name, 'sentry.javascript.node');
  assert.equal(ev.tags.component, 'checkout');
  assert.ok(ev.breadcrumbs.some((b) => b.message === 'user logged in' && b.category === 'auth'), JSON.stringify(ev.breadcrumbs));
  const top = ev.exception.values[0].stacktrace.frames.at(-1);
  assert.equal(top.function, 'chargeCard');
  assert.equal(top.in_app, true);
  assert.match(top.context_line, /throw new TypeError/);

  // The streamed spans (no transaction item) are one trace, parent and child.
  const traceId = output.match(/trace ([0-9a-f]{32})/)[1];
  const trace = await waitFor(async () => {
    const r = await fetch(`${pharos.url}/api/traces/${traceId}`);
    return r.status === 200 ? r.json() : null;
  }, 20000, 'the streamed spans in the trace store');
  const spans = trace.data[0].spans;
  assert.deepEqual(spans.map((s) => s.operationName).sort(), ['POST /checkout', 'SELECT * FROM orders']);
  const root = spans.find((s) => s.operationName === 'POST /checkout');
  const child = spans.find((s) => s.operationName === 'SELECT * FROM orders');
  assert.equal(child.references[0].spanID, root.spanID);
  // The error thrown inside the span is found from its trace.
  const linked = await get(`/api/pharos/v1/errors/events?trace_id=${traceId}`);
  assert.ok(JSON.stringify(linked).includes(inSpan.id), JSON.stringify(linked));

  // The structured log is a log line with its trace id as structured metadata.
  const logs = await waitFor(async () => {
    const params = new URLSearchParams({ query: '{service_name="sentry-project-4"} | trace_id="' + traceId + '"', limit: '10' });
    const r = await get(`/loki/api/v1/query_range?${params}`);
    return r.data.result.length ? r.data.result : null;
  }, 20000, 'the Sentry log in the log store');
  assert.equal(logs[0].values[0][1], 'order placed');

  // The session (crashed at the end) feeds release health.
  const started = await waitFor(async () => vectorValue(await query(pharos.url, 'release_sessions_started_total{project="4"}')), 20000, 'release health');
  assert.ok(started >= 1);
  const m = await (await fetch(`${pharos.url}/metrics`)).text();
  assert.match(m, /pharos_errors_items_total\{type="check_in",outcome="accepted"\} 1/);
});
