// Annotation events from query answers (ui/src/dashboards/annotations.ts), without a browser:
// Grafana's rules for Prometheus (non-zero samples, regions joined within a step,
// useValueForTime, title/text formats, tagKeys), Loki lines and pharos' alert states.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let a;
before(async () => {
  const esbuild = createRequire(path.join(ROOT, 'ui', 'package.json'))('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pharos-ann-'));
  const out = path.join(dir, 'annotations.mjs');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'ui/src/dashboards/annotations.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'silent', loader: { '.css': 'empty' } });
  a = await import(pathToFileURL(out).href);
});

test('Prometheus: non-zero samples become events, neighbours within a step one region', () => {
  const series = [
    { metric: { app: 'api', version: 'v2', pod: 'p1' }, values: [[100, '1'], [160, '1'], [220, '1'], [280, '0'], [340, '1'], [460, '2']] },
    { metric: { app: 'web' }, values: [[100, 'NaN'], [160, '0']] },
  ];
  const q = { expr: 'deploys', titleFormat: 'Deploy {{version}} of {{app}}', textFormat: 'on {{pod}}{{missing}}', tagKeys: 'app, version,nope' };
  const ev = a.promEvents(series, q, 60_000, 'Deploys', 'red');
  assert.deepEqual(
    ev.map((e) => [e.time, e.timeEnd]),
    [[100_000, 220_000], [340_000, undefined], [460_000, undefined]],
  );
  assert.equal(ev[0].title, 'Deploy v2 of api');
  assert.equal(ev[0].text, 'on p1');
  assert.deepEqual(ev[0].tags, ['api', 'v2']);
  assert.equal(ev[0].source, 'Deploys');
  assert.equal(ev[0].color, 'red');
});

test('Prometheus useValueForTime: the value is the time; repeats of one value are one event', () => {
  const t = 1_700_000_000_000;
  const series = [{ metric: { job: 'ci' }, values: [[100, String(t)], [160, String(t)], [220, String(t + 3_600_000)]] }];
  const ev = a.promEvents(series, { useValueForTime: true }, 60_000, 'CI', 'blue');
  assert.deepEqual(ev.map((e) => [e.time, e.timeEnd]), [[t, undefined], [t + 3_600_000, undefined]]);
  assert.equal(ev[0].title, '{job="ci"}');
});

test('Loki: every line an event, the line its text, labels its tags', () => {
  const res = { resultType: 'streams', result: [{ stream: { app: 'api', level: 'error' }, values: [['1700000000123456789', 'restart <b>x</b>'], ['bad', 'skipped']] }] };
  const ev = a.lokiEvents(res, {}, 'Restarts', 'red');
  assert.equal(ev.length, 1);
  assert.equal(ev[0].time, 1_700_000_000_123);
  assert.equal(ev[0].text, 'restart <b>x</b>');
  assert.deepEqual(ev[0].tags, ['app=api', 'level=error']);
  const tagged = a.lokiEvents(res, { tagKeys: 'level', titleFormat: '{{app}}', textFormat: 'in {{app}}' }, 'R', 'red');
  assert.deepEqual([tagged[0].tags, tagged[0].title, tagged[0].text], [['error'], 'api', 'in api']);
  assert.deepEqual(a.lokiEvents({ resultType: 'matrix', result: [] }, {}, 'R', 'red'), []);
});

test('alerts: when each alert became active, inside the range only', () => {
  const alerts = [
    { labels: { alertname: 'HighLatency', severity: 'page' }, annotations: { summary: 'p99 > 1s' }, state: 'firing', activeAt: '2023-11-14T22:13:20Z' },
    { labels: { alertname: 'Old' }, state: 'pending', activeAt: '2001-01-01T00:00:00Z' },
    { labels: { alertname: 'NoTime' }, state: 'firing' },
  ];
  const ev = a.alertEvents(alerts, 1_699_990_000_000, 1_700_010_000_000, 'Annotations & Alerts', 'cyan');
  assert.equal(ev.length, 1);
  assert.equal(ev[0].time, Date.parse('2023-11-14T22:13:20Z'));
  assert.equal(ev[0].title, 'HighLatency: Alerting');
  assert.equal(ev[0].text, 'p99 > 1s');
  assert.deepEqual(ev[0].tags, ['severity=page']);
});

test('alert history: a firing run that ended is an Alerting and a Resolved event; a running one is left to alertEvents', () => {
  const series = [
    // Fired 100..220 s (ended), again from 400 s (still firing at the range end 460 s).
    { metric: { __name__: 'ALERTS', alertname: 'Disk', alertstate: 'firing', severity: 'warn' }, values: [[100, '1'], [160, '1'], [220, '1'], [400, '1'], [460, '1']] },
    { metric: { alertname: 'Flap', alertstate: 'firing' }, values: [[40, '1']] },
  ];
  const ev = a.alertHistoryEvents(series, 60_000, 460_000, 'Annotations & Alerts');
  assert.deepEqual(ev.map((e) => [e.time, e.title]), [[100_000, 'Disk: Alerting'], [220_000, 'Disk: Resolved'], [40_000, 'Flap: Alerting'], [40_000, 'Flap: Resolved']]);
  assert.deepEqual(ev[0].tags, ['severity=warn']);
  assert.equal(a.alertHistoryStepS(0, 3_600_000), 15);
  assert.equal(a.alertHistoryStepS(0, 7 * 86_400_000), 605);
});

test("pharos' own events: points inside the range", () => {
  const ev = a.ownEvents([{ time: 5, kind: 'pharos_start', text: 'pharos started' }, { time: 50, kind: 'config_reload', text: 'configuration reloaded' }, { bad: 1 }], 0, 10, 'A&A');
  assert.deepEqual(ev.map((e) => [e.time, e.title, e.tags]), [[5, 'pharos: pharos started', ['pharos_start']]]);
});

test('stored annotations: by dashboard or by tags; a panel id limits it to that panel', () => {
  const range = { from: 1000, to: 2000.5 };
  const id = (s) => s.replace('$team', 'core');
  assert.equal(a.storedQuery({ builtIn: 1 }, 'd1', range, id), '/api/annotations?from=1000&to=2001&limit=100&dashboardUID=d1');
  assert.equal(a.storedQuery({ builtIn: 1 }, undefined, range, id), null);
  const byTags = { target: { type: 'tags', tags: ['deploy', '$team'], matchAny: true, limit: 5 } };
  assert.equal(a.storedQuery(byTags, 'd1', range, id), '/api/annotations?from=1000&to=2001&limit=5&tags=deploy&tags=core&matchAny=true');
  assert.equal(a.storedQuery({ target: { type: 'tags', tags: [] } }, 'd1', range, id), null);
  const ev = a.storedEvents([{ id: 1, time: 5, timeEnd: 5, text: 't', tags: ['x'], panelId: 3 }, { id: 2, time: 6, timeEnd: 9 }], 'A', 'c');
  assert.deepEqual(ev.map((e) => [e.id, e.time, e.timeEnd, e.panelIds]), [[1, 5, undefined, [3]], [2, 6, 9, undefined]]);
  assert.equal(a.appliesTo(ev[0], { id: 4 }), false);
  assert.deepEqual(ev[0].tags, ['x']);
});

test('enable, panel filters and malformed lists', () => {
  const model = { title: 't', panels: [], annotations: { list: [{ name: 'a' }, { name: 'b', enable: false }, null, 'x'] } };
  // Grafana adds its built-in query (hidden switch) to a dashboard that has none.
  const [builtIn, ...qs] = a.annotationQueries(model);
  assert.equal(builtIn.builtIn, 1);
  assert.equal(builtIn.hide, true);
  assert.equal(qs.length, 2);
  assert.deepEqual(qs.map((q) => a.isEnabled(q, new Map())), [true, false]);
  assert.deepEqual(qs.map((q) => a.isEnabled(q, new Map([['a', false], ['b', true]]))), [false, true]);
  assert.deepEqual(a.annotationQueries({ title: 't', panels: [], annotations: { list: 5 } }), [a.BUILT_IN_QUERY]);
  const own = { builtIn: 1, name: 'Mine', enable: false };
  assert.deepEqual(a.annotationQueries({ title: 't', panels: [], annotations: { list: [own] } }), [own]);
  const ev = { time: 1, title: '', text: '', tags: [], color: '', source: '', panelIds: [2] };
  assert.equal(a.appliesTo(ev, { id: 2 }), true);
  assert.equal(a.appliesTo(ev, { id: 3 }), false);
  assert.equal(a.appliesTo({ ...ev, excludePanels: true }, { id: 2 }), false);
  assert.equal(a.appliesTo({ ...ev, panelIds: undefined }, { id: 9 }), true);
});
