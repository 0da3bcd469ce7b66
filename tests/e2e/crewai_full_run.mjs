#!/usr/bin/env node
// One full run of the CrewAI example (not part of CI: about an hour): the stack of
// crewai_stack.mjs with the example's own 15 s intervals and the guide's `for:` durations, and
// `load.mjs` with every fault at its default hold (6 minutes each, 1 minute apart). Afterwards it
// prints, per fault phase, what pharos shows: the alerts that fired (first firing time relative to
// the phase start), the notifications the fake PagerDuty/Slack received, error log lines, error
// issue events, failed and slow traces, WebSocket clients, `up` and the uptime probe. The
// figures in examples/crewai-app/README.md ("A full run") come from this script.
//
//   PHAROS_BIN=target/release/pharos node tests/e2e/crewai_full_run.mjs [load.mjs args...]
//
// Writes the JSON report to target/crewai-full-run.json as well (REPORT=path to change it).
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, api } from './helpers.mjs';
import { crewaiSkip, startCrewaiStack, runLoad } from './crewai_stack.mjs';

const why = crewaiSkip();
if (why) {
  console.error(`cannot run: ${why}`);
  process.exit(2);
}
const t0 = Date.now();
const stack = await startCrewaiStack({ fast: false, costIntervalMs: 15000 });
const base = stack.pharos.url;
console.log(`pharos ${base}, app ${stack.app.url}, data ${stack.dir}`);
let report;
try {
  const load = await runLoad(stack.app.url, process.argv.slice(2));
  // Rules with `for: 10m` may still fire after their phase: give the last one a few evaluations.
  await new Promise((r) => setTimeout(r, 45_000));
  report = await collect(load);
} finally {
  stack.stop();
}
const out = process.env.REPORT || path.join(ROOT, 'target', 'crewai-full-run.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(report, null, 2));
console.log(JSON.stringify(report, null, 2));
console.log(`run took ${((Date.now() - t0) / 60000).toFixed(1)} min; report in ${out}`);
process.exit(0);

async function range(expr, start, end, step = 15) {
  const q = new URLSearchParams({ query: expr, start: String(start / 1000), end: String(end / 1000), step: String(step) });
  const { status, body } = await api(base, `/api/v1/query_range?${q}`);
  if (status !== 200) throw new Error(`${expr}: ${status} ${JSON.stringify(body)}`);
  return body.data.result;
}

/** Sum over series of the value at the end of the window (instant query). */
async function scalarAt(expr, ms) {
  const q = new URLSearchParams({ query: expr, time: String(ms / 1000) });
  const { body } = await api(base, `/api/v1/query?${q}`);
  return (body?.data?.result ?? []).reduce((n, s) => n + Number(s.value[1]), 0);
}

async function logCount(selector, from, to) {
  const q = new URLSearchParams({ query: `sum(count_over_time(${selector}[${Math.max(1, Math.round((to - from) / 1000))}s]))`, time: String(to / 1000) });
  const { body } = await api(base, `/loki/api/v1/query?${q}`);
  return Number(body?.data?.result?.[0]?.value?.[1] ?? 0);
}

async function collect(load) {
  const { phases, requests } = load;
  const runStart = phases[0].start;
  const runEnd = Date.now();
  // Every firing alert with the time it first fired.
  const firing = await range('ALERTS{alertstate="firing"}', runStart, runEnd);
  const firstFired = new Map();
  for (const s of firing) {
    const t = Number(s.values[0][0]) * 1000;
    const name = s.metric.alertname;
    if (!firstFired.has(name) || firstFired.get(name).t > t) firstFired.set(name, { t, labels: s.metric });
  }
  // The alert a Slack message is about: the alertname of its incident-page button (the guide's
  // Slack text template renders as an error, see the example's README).
  const slackAlert = (b) => {
    const url = b?.attachments?.[0]?.actions?.find((a) => a.url?.includes('/incident?'))?.url;
    return url ? new URL(url).searchParams.get('alertname') : JSON.stringify(b).slice(0, 400);
  };
  const notes = stack.hooks.got.map((g) => ({
    at: g.at,
    to: g.path === '/pagerduty' ? 'pagerduty' : `slack ${g.body?.channel ?? ''}`,
    text: g.path === '/pagerduty' ? g.body?.description : slackAlert(g.body),
  }));
  const issues = (await api(base, '/api/pharos/v1/errors/issues?project=1')).body;
  const issueList = (issues.data ?? issues).issues ?? issues.data ?? issues;
  const faults = phases.filter((p) => p.phase !== 'normal');
  const out = { requests, phases, faults: [] };
  for (let i = 0; i < faults.length; i++) {
    const p = faults[i];
    const next = faults[i + 1]?.start ?? runEnd;
    const rel = (t) => `${((t - p.start) / 1000).toFixed(0)}s`;
    const fired = [...firstFired.entries()].filter(([, f]) => f.t >= p.start && f.t < next).map(([a, f]) => `${a} +${rel(f.t)}`);
    const sent = notes.filter((n) => n.at >= p.start && n.at < next).map((n) => `${n.to}: ${String(n.text).slice(0, 80)}`);
    const traces = (await api(base, `/api/traces?${new URLSearchParams({ service: 'crewai-api', start: String(p.start * 1000), end: String(p.end * 1000), limit: '1000' })}`)).body.data ?? [];
    const failedTraces = traces.filter((t) => t.spans.some((sp) => sp.tags.some((tg) => (tg.key === 'error' && String(tg.value) === 'true') || (tg.key === 'otel.status_code' && tg.value === 'ERROR'))));
    const slowTraces = traces.filter((t) => Math.max(...t.spans.map((sp) => sp.duration)) >= 2_000_000);
    out.faults.push({
      fault: p.phase,
      minutes: +((p.end - p.start) / 60000).toFixed(1),
      alertsFirstFiring: fired,
      notifications: sent,
      logs: {
        lines: await logCount('{app="crewai-api"}', p.start, p.end),
        errors: await logCount('{app="crewai-api", level="error"}', p.start, p.end),
        authFailures: await logCount('{app="crewai-api"} |= "Authentication failure"', p.start, p.end),
        budget: await logCount('{app="crewai-api"} |= "Budget alert"', p.start, p.end),
      },
      traces: { total: traces.length, failed: failedTraces.length, over2s: slowTraces.length },
      metrics: {
        http5xx: await scalarAt(`sum(increase(http_requests_total{status=~"5.."}[${Math.round((p.end - p.start) / 1000)}s]))`, p.end),
        p95Seconds: await scalarAt('histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))', p.end),
        cacheHitRatio: await scalarAt('sum(rate(cache_hits_total[5m])) / (sum(rate(cache_hits_total[5m])) + sum(rate(cache_misses_total[5m])))', p.end),
        poolRatioMax: (await range('max(database_connections_active / database_connections_max)', p.start, p.end)).flatMap((s) => s.values.map((v) => Number(v[1]))).reduce((a, b) => Math.max(a, b), 0),
        wsMin: (await range('sum(websocket_connections_active)', p.start, p.end)).flatMap((s) => s.values.map((v) => Number(v[1]))).reduce((a, b) => Math.min(a, b), Infinity),
        upMin: (await range('min(up{job="crewai-app"})', p.start, p.end)).flatMap((s) => s.values.map((v) => Number(v[1]))).reduce((a, b) => Math.min(a, b), Infinity),
        probeSuccessMin: (await range('min(probe_success)', p.start, p.end)).flatMap((s) => s.values.map((v) => Number(v[1]))).reduce((a, b) => Math.min(a, b), Infinity),
        monthlyCostProjection: await scalarAt('sum(cloud_costs{job="crewai-app"}) * 30', p.end),
      },
    });
  }
  out.errorIssues = (Array.isArray(issueList) ? issueList : []).map((i) => ({ title: i.title, count: i.count, first: i.firstSeen ?? i.first_seen }));
  out.alertsNeverFired = ['HighErrorRate', 'HighResponseTime', 'EmailProcessingBacklog', 'WebSocketConnectionDrop', 'DatabaseConnectionPoolExhausted', 'CacheHitRateLow',
    'CrewAIAppDown', 'CrewAIHealthCheckFailing', 'CrewAIBudgetExceeded', 'AuthFailureStorm'].filter((a) => !firstFired.has(a));
  out.allFired = [...firstFired.keys()].sort();
  return out;
}
