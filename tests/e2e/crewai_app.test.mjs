// The CrewAI example app end to end (examples/crewai-app): the guide's TypeScript service with its
// monitoring modules, backed by a real Redis and PostgreSQL, pointed at one pharos that runs the
// example's pharos.yml, while load.mjs --short drives traffic and injects its faults one at a time.
// Checks: every panel query of the guide's dashboard has data; the faults fire their alerts
// (HighErrorRate during the error burst, the security and budget alerts among them) and each
// reaches the receiver `pharos check routes` names for it under the guide's alertmanager.yml
// (critical → PagerDuty, warning → the #warnings Slack receiver) on fake receivers; the guide's
// two Elasticsearch queries answer with the slow requests and the error spike; the error burst is
// one issue in error tracking; the slow endpoint's trace shows the slow span.
//
// The stack and its test-only config changes: crewai_stack.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, PHAROS_BIN, api, waitFor, guideEsQueries } from './helpers.mjs';
import { crewaiSkip, startCrewaiStack, runLoad } from './crewai_stack.mjs';

const skip = crewaiSkip();

let stack;
let pharos;
let hooks;
let phases = [];
let dir;
let pharosEnv;

before(async () => {
  if (skip) return;
  stack = await startCrewaiStack();
  ({ pharos, hooks, dir, env: pharosEnv } = stack);
  const load = await runLoad(stack.app.url, ['--short', '--hold', '12']);
  phases = load.phases;
  console.log('load:', JSON.stringify(load.requests));
});

after(() => stack?.stop());

const phase = (name) => phases.find((p) => p.phase === name);

async function rangeQuery(expr) {
  const start = phases[0].start / 1000;
  const end = Date.now() / 1000;
  const q = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: '2' });
  const { status, body } = await api(pharos.url, `/api/v1/query_range?${q}`);
  assert.equal(status, 200, JSON.stringify(body));
  return body.data.result;
}

test('every panel query of the guide dashboard has data', { skip }, async () => {
  const dash = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/dashboards/crewai.json'), 'utf8'));
  const panels = (dash.dashboard ?? dash).panels;
  assert.equal(panels.length, 8);
  for (const p of panels) {
    for (const t of p.targets) {
      const series = await rangeQuery(t.expr);
      const points = series.reduce((n, s) => n + s.values.length, 0);
      console.log(`${p.title}: ${series.length} series, ${points} points`);
      assert.ok(points > 0, `panel "${p.title}" (${t.expr}) has no data`);
    }
  }
});

test("the example's collectors and probe replace the exporters and the uptime check: Redis, PostgreSQL, the app's /health", { skip }, async () => {
  const max = async (expr) => (await rangeQuery(expr)).flatMap((s) => s.values.map((v) => Number(v[1]))).reduce((a, b) => Math.max(a, b), -Infinity);
  const min = async (expr) => (await rangeQuery(expr)).flatMap((s) => s.values.map((v) => Number(v[1]))).reduce((a, b) => Math.min(a, b), Infinity);
  assert.equal(await max('redis_up{job="redis"}'), 1, 'collectors.redis reads the test Redis');
  assert.ok(await max('redis_keyspace_hits_total{job="redis"}') > 0, 'the template cache hits Redis');
  assert.equal(await max('pg_up{job="postgres"}'), 1, 'collectors.postgres reads the test PostgreSQL');
  assert.ok(await max('pg_stat_database_xact_commit{job="postgres"}') > 0, 'PostgreSQL commits counted');
  // The probe of /health: up in normal traffic, down during the `down` fault.
  assert.equal(await max('probe_success{job="probe", module="app_health"}'), 1);
  assert.equal(await min('probe_success{job="probe", module="app_health"}'), 0);
});

test('the faults fire their alerts, routed as `pharos check routes` says: critical → PagerDuty, warning → #warnings Slack', { skip }, async () => {
  const series = await rangeQuery('ALERTS{alertstate="firing"}');
  const fired = new Map(series.map((s) => [s.metric.alertname, s.metric]));
  console.log('fired:', [...fired.keys()].sort().join(', '));
  for (const a of ['HighErrorRate', 'HighResponseTime', 'CacheHitRateLow', 'DatabaseConnectionPoolExhausted',
    'CrewAIBudgetExceeded', 'CrewAIAppDown', 'CrewAIHealthCheckFailing', 'AuthFailureStorm', 'SuspiciousActivityThresholdExceeded']) {
    assert.ok(fired.has(a), `${a} fired`);
  }
  const errs = phase('errors');
  const high = (await rangeQuery('ALERTS{alertname="HighErrorRate",alertstate="firing"}'))
    .flatMap((s) => s.values.map((v) => v[0] * 1000));
  assert.ok(high.some((t) => t >= errs.start && t <= errs.end + 15000), 'HighErrorRate fired during the error burst');

  // Each fired alert reaches the receiver `pharos check routes` names for its labels.
  const route = (m) => execFileSync(PHAROS_BIN, ['check', 'routes', '--config', path.join(dir, 'alertmanager/config.yml'),
    `alertname=${m.alertname}`, `severity=${m.severity ?? ''}`], { env: pharosEnv }).toString().trim();
  const sentTo = (receiver, alertname) => hooks.got.some((g) => {
    const body = JSON.stringify(g.body);
    if (receiver === 'pagerduty') return g.path === '/pagerduty' && g.body.description === alertname;
    const channel = receiver === 'slack' ? '#warnings' : '#alerts';
    return g.path === '/slack' && g.body.channel === channel && body.includes(alertname);
  });
  const expected = [...fired.values()].map((m) => [m.alertname, m.severity, route(m)]);
  console.log('routes:', expected.map((e) => e.join(' → ')).join(', '));
  assert.deepEqual(expected.find((e) => e[0] === 'HighErrorRate').slice(1), ['critical', 'pagerduty']);
  assert.deepEqual(expected.find((e) => e[0] === 'CacheHitRateLow').slice(1), ['warning', 'slack']);
  await waitFor(() => expected.every(([a, , r]) => sentTo(r, a)), 20000, 'every fired alert at its receiver');
  // Critical alerts stop at PagerDuty (continue: true, but no later route matches them).
  assert.ok(!hooks.got.some((g) => g.path === '/slack' && JSON.stringify(g.body).includes('HighErrorRate')), 'HighErrorRate not sent to Slack');
  console.log(`pagerduty got: ${hooks.got.filter((g) => g.path === '/pagerduty').map((g) => g.body.description).join(', ')}`);
});

test("the guide's two Elasticsearch queries answer with the slow requests and the error spike", { skip }, async () => {
  const [slowQuery, spikeQuery] = guideEsQueries();
  const post = (body) => api(pharos.url, '/crewai-logs/_search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, size: 100 }) });
  const slow = await waitFor(async () => {
    const r = await post(slowQuery);
    return r.status === 200 && r.body.hits.hits.some((h) => h._source.url === '/api/reports') ? r : null;
  }, 20000, 'slow /api/reports requests in crewai-logs');
  const hits = slow.body.hits.hits.map((h) => h._source);
  console.log(`slow query: ${slow.body.hits.total.value} hits, e.g. ${JSON.stringify(hits[0])}`);
  assert.ok(hits.every((h) => h.service === 'crewai-api' && h.duration >= 1000));
  const s = phase('slow');
  assert.ok(hits.filter((h) => h.url === '/api/reports' && Date.parse(h.timestamp ?? h['@timestamp']) >= s.start - 1000).length >= 3, 'the injected slow requests');

  const spike = await post(spikeQuery);
  assert.equal(spike.status, 200, JSON.stringify(spike.body));
  const buckets = spike.body.aggregations.errors_over_time.buckets;
  const errs = phase('errors');
  const inBurst = buckets.filter((b) => b.key <= errs.end && b.key + 300_000 > errs.start);
  const burstErrors = inBurst.reduce((n, b) => n + b.error_count.doc_count, 0);
  console.log(`error spike: ${JSON.stringify(buckets.map((b) => [b.key_as_string, b.doc_count, b.error_count.doc_count]))}`);
  assert.ok(burstErrors >= 10, `error_count in the burst's 5m bucket(s): ${burstErrors}`);
});

test('the error burst is one issue in error tracking, linked to its trace', { skip }, async () => {
  const issue = await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/pharos/v1/errors/issues?project=1');
    const list = (body.data ?? body).issues ?? body.data ?? body;
    const burst = list.filter((i) => JSON.stringify(i).includes('connection terminated unexpectedly'));
    return burst.length ? burst : null;
  }, 20000, 'the error-burst issue');
  console.log(`issue: ${JSON.stringify(issue[0]).slice(0, 300)}`);
  assert.equal(issue.length, 1, 'one issue for the whole burst');
  assert.ok(Number(issue[0].count) >= 10, `events in the issue: ${issue[0].count}`);
  // Its events carry the request's OpenTelemetry trace id: the trace is in the trace store, with
  // the failed email.process span.
  const { body } = await api(pharos.url, `/api/pharos/v1/errors/issues/${issue[0].id}/events`);
  const events = body.data?.events ?? body.data ?? body.events ?? body;
  const traceId = events.find((e) => e.trace_id)?.trace_id;
  assert.ok(traceId, `an event with a trace id: ${JSON.stringify(events[0]).slice(0, 300)}`);
  const tr = await waitFor(async () => {
    const r = await api(pharos.url, `/api/traces/${traceId}`);
    return r.status === 200 && r.body.data?.[0]?.spans?.length ? r.body.data[0] : null;
  }, 20000, `trace ${traceId}`);
  const failed = tr.spans.find((sp) => sp.operationName === 'email.process');
  console.log(`issue → trace ${traceId}: ${tr.spans.map((sp) => sp.operationName).join(', ')}`);
  assert.ok(failed, 'the email.process span');
  assert.ok(failed.tags.some((tg) => tg.key === 'error' && (tg.value === true || tg.value === 'true')) ||
    failed.tags.some((tg) => tg.key === 'otel.status_code' && tg.value === 'ERROR'), `email.process failed: ${JSON.stringify(failed.tags)}`);
});

test("the slow endpoint's trace shows the slow span", { skip }, async () => {
  const q = new URLSearchParams({ service: 'crewai-api', operation: 'GET /api/reports', minDuration: '2s', limit: '100', lookback: '1h' });
  // The slow query: a pg span of >= 2.4 s whose statement is the injected pg_sleep.
  const isSleep = (sp) => sp.duration >= 2_400_000 && sp.tags.some((t) => String(t.value).includes('pg_sleep'));
  const traces = await waitFor(async () => {
    const { body } = await api(pharos.url, `/api/traces?${q}`);
    const found = (body.data ?? []).filter((t) => t.spans.some(isSleep));
    return found.length ? found : null;
  }, 20000, 'a report trace with the pg_sleep span');
  const t = traces[0];
  const byId = new Map(t.spans.map((sp) => [sp.spanID, sp]));
  const slow = t.spans.find(isSleep);
  console.log(`slow trace ${t.traceID}: ${t.spans.length} spans: ${t.spans.map((sp) => `${sp.operationName} ${(sp.duration / 1000).toFixed(0)}ms`).join(', ')}`);
  // Its ancestors: the guide's traceAsync span report.generate and the HTTP request span.
  const ancestors = [];
  for (let sp = slow; sp?.references?.length; ) {
    sp = byId.get(sp.references[0].spanID);
    if (sp) ancestors.push(sp.operationName);
  }
  assert.ok(ancestors.includes('report.generate'), `ancestors: ${ancestors.join(' < ')}`);
  assert.ok(ancestors.includes('GET /api/reports'), `ancestors: ${ancestors.join(' < ')}`);
  for (const name of ['report.generate', 'GET /api/reports']) {
    assert.ok(t.spans.find((sp) => sp.operationName === name).duration >= slow.duration, `${name} encloses the slow span`);
  }
});

// The alerts each fault is there to fire (the guide's rules and the example's alerts/pharos.yml).
const FAULT_OF = {
  HighErrorRate: 'errors',
  HighResponseTime: 'slow',
  CacheHitRateLow: 'cache_miss',
  DatabaseConnectionPoolExhausted: 'pool_exhaust',
  AuthFailureStorm: 'auth_storm',
  SuspiciousActivityThresholdExceeded: 'auth_storm',
  CrewAIBudgetExceeded: 'budget',
  CrewAIAppDown: 'down',
  CrewAIHealthCheckFailing: 'down',
};

test('each alert fires under its own fault (while it holds, or within 20 s of its end)', { skip }, async () => {
  const series = await rangeQuery('ALERTS{alertstate="firing"}');
  const report = [];
  const missed = [];
  for (const [alert, fault] of Object.entries(FAULT_OF)) {
    const p = phase(fault);
    const times = series.filter((s) => s.metric.alertname === alert).flatMap((s) => s.values.map((v) => v[0] * 1000));
    const during = times.filter((t) => t >= p.start && t <= p.end + 20_000);
    const first = Math.min(...times);
    report.push(`${alert}: first firing ${((first - p.start) / 1000).toFixed(0)} s after ${fault} started (held ${((p.end - p.start) / 1000).toFixed(0)} s), ${during.length} firing steps in it`);
    if (!during.length) missed.push(alert);
  }
  console.log(report.join('\n'));
  assert.deepEqual(missed, [], 'alerts that did not fire under their fault');
});

test("the notifications link the incident context: HighErrorRate's shows the burst's error lines, a failed trace and the issue; CrewAIAppDown's the app's target down", { skip }, async () => {
  const paged = (alertname) => hooks.got.find((g) => g.path === '/pagerduty' && g.body.description === alertname)?.body;
  const incident = async (link) => {
    assert.match(link ?? '', /\/incident\?alertname=\w+&.*__start=\d+/);
    const { status, body } = await api(pharos.url, `/api/pharos/v1/incident?${link.split('?')[1]}`);
    assert.equal(status, 200, JSON.stringify(body));
    return body;
  };
  // The PagerDuty page of the error burst.
  const high = await waitFor(() => paged('HighErrorRate'), 20000, 'HighErrorRate paged');
  const v = await incident(high.details?.incident_url);
  assert.ok(v.join.labels.some((l) => l.name === 'service' && l.value === 'crewai-api'), JSON.stringify(v.join));
  const lines = v.logs.lines;
  assert.ok(lines.length && lines[0].error, `error lines first: ${JSON.stringify(lines.slice(0, 2)).slice(0, 400)}`);
  assert.ok(lines.some((l) => l.error && l.line.includes('connection terminated unexpectedly')), 'a line of the burst');
  assert.ok(v.traces.failed.length > 0, 'a failed trace of crewai-api');
  assert.ok(v.errors.issues.some((i) => i.sameService && JSON.stringify(i).includes('connection terminated unexpectedly')), JSON.stringify(v.errors).slice(0, 400));
  console.log(`HighErrorRate incident: join ${JSON.stringify(v.join.labels)}, ${v.logs.total} lines (${v.logs.errors} errors), ${v.traces.failed.length} failed traces, ${v.errors.issues.length} issues`);
  // The PagerDuty page of the target going down: the app's target, down in the window.
  const down = await waitFor(() => paged('CrewAIAppDown'), 20000, 'CrewAIAppDown paged');
  const d = await incident(down.details?.incident_url);
  assert.ok(d.targets.downInWindow.some((t) => t.labels.job === 'crewai-app' && t.sameService), JSON.stringify(d.targets));
  // A Slack warning carries the same kind of link as a button.
  const slack = hooks.got.find((g) => g.path === '/slack' && g.body.channel === '#warnings');
  const button = slack?.body.attachments?.[0]?.actions?.find((a) => a.text === 'Incident context');
  assert.ok(button, JSON.stringify(slack?.body).slice(0, 400));
  await incident(button.url);
});
