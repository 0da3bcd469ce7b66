// The chart panels (timeseries, legacy graph, heatmap) against a pharos scraping a prom-client
// app: what they draw is checked against the PromQL answers — series and point counts from the
// chart's own data, stacked sums, legend calcs, renamed series, heatmap cells = buckets × times —
// and the interactions (hover tooltip with the value, legend isolate/toggle, drag-to-zoom, the
// shared crosshair). Panels are mounted by a small harness page built from ui/src with esbuild
// (served on pharos' origin through the browser's request routing), so each check controls the
// exact time range; the dashboard page itself is exercised at the end (zoom → URL).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import { ROOT, SCREENSHOT_DIR, startFilledPharos, launchBrowser, newPage, screenshot, assertNoPageErrors, stop, waitFor, openUi } from './helpers.mjs';

const require = createRequire(path.join(ROOT, 'ui', 'package.json'));
const esbuild = require('esbuild');

// The harness: mounts any panel JSON with the registry, runs its Prometheus targets for an
// exact [from, to, step] (or takes series as given), and records zooms.
const HARNESS_TS = `
import './styles.css';
import './panels/all';
import { createPanel } from './panels/registry';
import { promRange } from './lib/api';
import type { GrafanaPanel, PanelRenderer, Series, CrosshairBus, TableData } from './panels/types';
type Fn = (t: number | null, s: unknown) => void;
const fns = new Set<Fn>();
const bus: CrosshairBus = { publish(t, s) { for (const f of fns) f(t, s); }, subscribe(f) { fns.add(f); return () => fns.delete(f); } };
const w = window as unknown as Record<string, unknown>;
const zooms: number[][] = [];
w.zooms = zooms;
w.crosshair = bus;
const mounted = new Map<string, PanelRenderer>();
interface Opts { from: number; to: number; step: number; width?: number; height?: number; tz?: 'utc' | 'browser'; series?: Series[]; tables?: TableData[]; id: string }
w.renderPanel = async (panel: GrafanaPanel, o: Opts) => {
  const series: Series[] = o.series ?? [];
  const errors: string[] = [];
  if (!o.series && !o.tables) for (const t of panel.targets ?? []) {
    if (t.hide) continue;
    try {
      const r = await promRange(String(t.expr), o.from / 1000, o.to / 1000, o.step);
      if (r.resultType !== 'matrix') continue;
      for (const m of r.result) {
        const name = t.legendFormat ? t.legendFormat.replace(/\\{\\{\\s*(\\w+)\\s*\\}\\}/g, (_a: string, k: string) => m.metric[k] ?? '') : JSON.stringify(m.metric);
        series.push({ refId: t.refId ?? 'A', name, labels: m.metric, times: m.values.map((v) => v[0] * 1000), values: m.values.map((v) => Number(v[1])) });
      }
    } catch (e) { errors.push((e as Error).message); }
  }
  let box = document.getElementById(o.id);
  if (!box) {
    const title = document.createElement('div');
    title.textContent = panel.title ?? '';
    title.className = 'harness-title';
    box = document.createElement('div');
    box.id = o.id;
    box.className = 'harness-panel';
    box.style.width = (o.width ?? 900) + 'px';
    box.style.height = (o.height ?? 300) + 'px';
    document.body.append(title, box);
  }
  const t0 = performance.now();
  let r = mounted.get(o.id);
  if (!r) {
    r = createPanel(box, panel, { timeZone: o.tz ?? 'utc', crosshair: bus, onZoom: (a, b) => zooms.push([a, b]), interpolate: (s) => s });
    mounted.set(o.id, r);
  }
  r.update({ series, tables: o.tables ?? [], logs: [], errors, notices: [], range: { from: o.from, to: o.to, raw: { from: String(o.from), to: String(o.to) } }, intervalMs: o.step * 1000 }, panel);
  await Promise.resolve();
  const ms = performance.now() - t0;
  await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
  return { series: series.length, ms };
};
`;
const HARNESS_HTML = `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/__panels.css">
<style>body{background:#111217;padding:8px;margin:0}.harness-title{color:#d8d9da;font:600 14px sans-serif;margin:10px 4px 4px}
.harness-panel{background:#181b1f;border:1px solid #2c3038;border-radius:4px;padding:8px;box-sizing:border-box}</style></head>
<body><script type="module" src="/__panels.js"></script></body></html>`;

let pharos, app, browser, page, bundle;
// Queries cover a window that ends in the past, so pharos' answers cannot change under the test.
let T;

async function prom(expr, from, to, step) {
  const u = new URL('/api/v1/query_range', pharos.url);
  u.search = new URLSearchParams({ query: expr, start: String(from / 1000), end: String(to / 1000), step: String(step) });
  const body = await (await fetch(u)).json();
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.data.result;
}

async function render(panel, opts = {}) {
  const id = opts.id ?? `panel-${panel.id}`;
  const res = await page.evaluate(([p, o]) => window.renderPanel(p, o), [panel, { from: T.from, to: T.to, step: T.step, ...opts, id }]);
  const el = page.locator(`#${id}.viz`);
  await el.waitFor();
  await el.scrollIntoViewIfNeeded();
  return { el, id, ...res };
}

const attr = (el, name) => el.getAttribute(name).then((v) => (v === null ? null : Number(v)));

before(async () => {
  const built = await esbuild.build({
    stdin: { contents: HARNESS_TS, resolveDir: path.join(ROOT, 'ui', 'src'), loader: 'ts', sourcefile: 'harness.ts' },
    bundle: true,
    write: false,
    format: 'esm',
    outdir: path.join(ROOT, 'target', 'ui-harness'),
    logLevel: 'warning',
  });
  bundle = {
    js: built.outputFiles.find((f) => f.path.endsWith('.js')).text,
    css: built.outputFiles.find((f) => f.path.endsWith('.css'))?.text ?? '',
  };
  ({ pharos, app } = await startFilledPharos());
  browser = await launchBrowser();
  page = await newPage(browser);
  await page.route(`${pharos.url}/__panels`, (r) => r.fulfill({ contentType: 'text/html', body: HARNESS_HTML }));
  await page.route(`${pharos.url}/__panels.js`, (r) => r.fulfill({ contentType: 'text/javascript', body: bundle.js }));
  await page.route(`${pharos.url}/__panels.css`, (r) => r.fulfill({ contentType: 'text/css', body: bundle.css }));
  await page.goto(`${pharos.url}/__panels`);
  await page.waitForFunction(() => typeof window.renderPanel === 'function');
  // Enough scrapes for rates over a few steps: 12 points of 1 s rate windows.
  const start = Date.now();
  await waitFor(async () => {
    const r = await prom('sum(rate(http_requests_total[3s]))', start - 60_000, Date.now(), 1);
    return r.length > 0 && r[0].values.length >= 14;
  }, 45_000, 'two-digit number of rate points');
  const to = Math.floor(Date.now() / 1000) * 1000 - 2000;
  T = { from: to - 60_000, to, step: 1 };
});

after(async () => {
  await browser?.close();
  stop(pharos, app);
});

const BY_METHOD = {
  id: 1,
  type: 'timeseries',
  title: 'Requests by method',
  targets: [{ refId: 'A', expr: 'sum by (method) (rate(http_requests_total[3s]))', legendFormat: '{{method}}' }],
  fieldConfig: { defaults: { unit: 'reqps', custom: { fillOpacity: 12, lineWidth: 2 } }, overrides: [] },
  options: {
    legend: { showLegend: true, displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max', 'lastNotNull'] },
    tooltip: { mode: 'multi', sort: 'desc' },
  },
};

/** The number inside a formatted value ("1.73 req/s" → 1.73). */
const numberIn = (s) => Number((String(s).match(/[-+]?\d+(\.\d+)?(e[-+]?\d+)?/i) ?? ['NaN'])[0]);

test('two series by method: counts from the chart data, unit on the axis, legend calcs equal PromQL', async () => {
  const expected = await prom(BY_METHOD.targets[0].expr, T.from, T.to, T.step);
  assert.equal(expected.length, 2, 'the app serves GET and POST');
  const { el } = await render(BY_METHOD);
  assert.equal(await attr(el, 'data-series-count'), 2);
  const points = expected.reduce((n, s) => n + s.values.length, 0);
  assert.equal(await attr(el, 'data-point-count'), points, 'every sample drawn');
  // The chart's own data: one x array + one array per series, the same values as the API.
  const drawn = await el.evaluate((e) => e.pharosChart.data.map((a) => Array.from(a)));
  assert.equal(drawn.length, 3);
  const yTicks = await el.getAttribute('data-y-ticks');
  assert.match(yTicks, /req\/s/, `axis labels carry the unit: ${yTicks}`);

  const rows = await el.locator('.viz-legend-tbl tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({ name: tr.dataset.series, cells: [...tr.querySelectorAll('td.num')].map((td) => td.textContent) })),
  );
  assert.deepEqual(rows.map((r) => r.name).sort(), ['GET', 'POST']);
  for (const s of expected) {
    const vals = s.values.map((v) => Number(v[1]));
    const want = { mean: vals.reduce((a, b) => a + b, 0) / vals.length, max: Math.max(...vals), last: vals[vals.length - 1] };
    const row = rows.find((r) => r.name === s.metric.method);
    assert.ok(row.cells.every((c) => c.endsWith('req/s')), `legend values carry the unit: ${row.cells}`);
    const [mean, max, last] = row.cells.map(numberIn);
    for (const [got, exp, what] of [[mean, want.mean, 'mean'], [max, want.max, 'max'], [last, want.last, 'last *']]) {
      assert.ok(Math.abs(got - exp) <= Math.max(0.006 * Math.abs(exp), 0.0051), `${s.metric.method} ${what}: legend ${got}, PromQL ${exp}`);
    }
  }
});

test('hover shows a tooltip with the time and each series value', async () => {
  const { el } = await render(BY_METHOD);
  const expected = await prom(BY_METHOD.targets[0].expr, T.from, T.to, T.step);
  // Hover the last sample's x.
  const pos = await el.evaluate((e) => {
    const u = e.pharosChart;
    const xs = u.data[0];
    const r = u.over.getBoundingClientRect();
    return { x: r.left + u.valToPos(xs[xs.length - 1], 'x'), y: r.top + r.height / 2 };
  });
  await page.evaluate(() => {
    window.published = [];
    window.crosshair.subscribe((t) => window.published.push(t));
  });
  await page.mouse.move(pos.x - 1, pos.y);
  const tip = page.locator('.viz-tooltip:not([hidden])');
  await tip.waitFor();
  const text = await tip.innerText();
  for (const s of expected) {
    const last = Number(s.values[s.values.length - 1][1]);
    const line = text.split('\n').find((l) => l.includes(s.metric.method));
    assert.ok(line, `tooltip names ${s.metric.method}: ${text}`);
    assert.ok(Math.abs(numberIn(line.replace(s.metric.method, '')) - last) <= Math.max(0.006 * last, 0.0051), `tooltip value ${line} vs ${last}`);
  }
  const lastMs = expected[0].values[expected[0].values.length - 1][0] * 1000;
  assert.equal(text.split('\n')[0].trim(), new Date(lastMs).toISOString().slice(0, 19).replace('T', ' '), 'time in the header, in the panel\'s zone (UTC here)');
  // The hovered time went to the shared crosshair (what the other panels draw).
  const published = await page.evaluate(() => window.published);
  const lastX = expected[0].values[expected[0].values.length - 1][0] * 1000;
  assert.ok(published.some((t) => typeof t === 'number' && Math.abs(t - lastX) < 2000), `crosshair published near ${lastX}: ${published.slice(-3)}`);
  await page.mouse.move(1, 1);
  await tip.waitFor({ state: 'hidden' });
});

test('legend click isolates a series, ctrl-click toggles it back', async () => {
  const { el } = await render(BY_METHOD);
  const shown = () => el.evaluate((e) => e.pharosChart.series.slice(1).map((s) => `${s.label}:${s.show}`).sort().join(','));
  await el.locator('.viz-legend-item[data-series="GET"]').click();
  assert.equal(await shown(), 'GET:true,POST:false');
  assert.equal(await attr(el, 'data-series-count'), 1, 'counts follow what is drawn');
  await el.locator('.viz-legend-item[data-series="POST"]').click({ modifiers: ['Control'] });
  assert.equal(await shown(), 'GET:true,POST:true');
  await el.locator('.viz-legend-item[data-series="POST"]').click({ modifiers: ['Shift'] });
  assert.equal(await shown(), 'GET:true,POST:false');
  await el.locator('.viz-legend-item[data-series="GET"]').click();
  assert.equal(await shown(), 'GET:true,POST:true', 'clicking the isolated series shows all again');
});

test('stacking: each drawn line is the running sum of the series below it', async () => {
  const panel = {
    id: 2,
    type: 'timeseries',
    title: 'Stacked by status',
    targets: [{ refId: 'A', expr: 'sum by (status) (rate(http_requests_total[3s]))', legendFormat: '{{status}}' }],
    fieldConfig: { defaults: { unit: 'reqps', custom: { fillOpacity: 35, stacking: { mode: 'normal', group: 'A' } } }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'right', calcs: [] } },
  };
  const expected = await prom(panel.targets[0].expr, T.from, T.to, T.step);
  const { el } = await render(panel);
  assert.equal(await attr(el, 'data-series-count'), expected.length);
  const [xs, a, b] = await el.evaluate((e) => e.pharosChart.data.map((arr) => Array.from(arr)));
  const raw = expected.map((s) => new Map(s.values.map(([t, v]) => [t * 1000, Number(v)])));
  xs.forEach((t, i) => {
    assert.ok(Math.abs(a[i] - raw[0].get(t)) < 1e-9, 'first series as is');
    assert.ok(Math.abs(b[i] - (raw[0].get(t) + raw[1].get(t))) < 1e-9, 'second stacked on the first');
  });
  // Hiding the lower series from the legend restacks: the other one drops to its own values.
  await el.locator('.viz-legend-item').nth(0).click({ modifiers: ['Control'] });
  const restacked = await el.evaluate((e) => ({ b: Array.from(e.pharosChart.data[2]), shown: e.pharosChart.series.map((s) => s.show) }));
  assert.deepEqual(restacked.shown.slice(1), [false, true]);
  xs.forEach((t, i) => assert.ok(Math.abs(restacked.b[i] - raw[1].get(t)) < 1e-9, 'restacked without the hidden series'));
  await el.locator('.viz-legend-item').nth(0).click({ modifiers: ['Control'] });
  assert.ok(Math.abs((await el.evaluate((e) => e.pharosChart.data[2][0])) - (raw[0].get(xs[0]) + raw[1].get(xs[0]))) < 1e-9, 'stacked again');
  // Percent stacking: the top line is 1 (100%) wherever there is data.
  const pct = structuredClone(panel);
  pct.id = 3;
  pct.title = 'Stacked percent';
  pct.fieldConfig.defaults.custom.stacking.mode = 'percent';
  const r2 = await render(pct);
  const top = await r2.el.evaluate((e) => Array.from(e.pharosChart.data[2]));
  assert.ok(top.every((v) => Math.abs(v - 1) < 1e-9), `percent stack tops at 100%: ${top.slice(0, 5)}`);
  assert.match(await r2.el.getAttribute('data-y-ticks'), /%/);
});

test('overrides rename and recolour a series; a second unit gets a right axis', async () => {
  const panel = {
    id: 4,
    type: 'timeseries',
    title: 'Overrides',
    targets: [
      { refId: 'A', expr: 'sum by (method) (rate(http_requests_total[3s]))', legendFormat: '{{method}}' },
      { refId: 'B', expr: 'sum(rate(http_request_duration_seconds_sum[3s])) / sum(rate(http_request_duration_seconds_count[3s]))', legendFormat: 'mean latency' },
    ],
    fieldConfig: {
      defaults: { unit: 'reqps' },
      overrides: [
        { matcher: { id: 'byName', options: 'GET' }, properties: [{ id: 'displayName', value: 'Reads' }, { id: 'color', value: { mode: 'fixed', fixedColor: 'purple' } }] },
        { matcher: { id: 'byRegexp', options: '/PO.T/' }, properties: [{ id: 'displayName', value: 'Writes (${__field.labels.method})' }] },
        { matcher: { id: 'byFrameRefID', options: 'B' }, properties: [{ id: 'unit', value: 's' }, { id: 'custom.axisPlacement', value: 'right' }] },
      ],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom', calcs: ['lastNotNull'] } },
  };
  const { el } = await render(panel);
  assert.equal(await attr(el, 'data-series-count'), 3);
  const names = await el.locator('.viz-legend-item').evaluateAll((els) => els.map((e) => e.dataset.series));
  assert.deepEqual(names, ['Reads', 'Writes (POST)', 'mean latency']);
  const info = await el.evaluate((e) => {
    const u = e.pharosChart;
    return { strokes: u.series.slice(1).map((s) => s._stroke ?? s.stroke), axes: u.axes.map((a) => ({ side: a.side, show: a.show, scale: a.scale })), scales: u.series.slice(1).map((s) => s.scale) };
  });
  assert.equal(String(info.strokes[0]).toUpperCase(), '#B877D9', 'fixed colour "purple" resolved to Grafana\'s');
  assert.notEqual(info.scales[0], info.scales[2], 'seconds on their own scale');
  assert.ok(info.axes.some((a) => a.side === 1 && a.scale === info.scales[2]), 'a right axis for seconds');
  const latencyLegend = await el.locator('.viz-legend-item[data-series="mean latency"]').innerText();
  assert.match(latencyLegend, /\d\s*(ms|s)\b/, `latency in seconds: ${latencyLegend}`);
});

test('legacy graph panels are migrated: lines, fill, right-side table legend with values, alias colours', async () => {
  const panel = {
    id: 5,
    type: 'graph',
    title: 'Legacy graph',
    targets: [{ refId: 'A', expr: 'sum by (method) (rate(http_requests_total[3s]))', legendFormat: '{{method}}' }],
    lines: true,
    fill: 3,
    linewidth: 2,
    nullPointMode: 'null',
    yaxes: [{ format: 'reqps', logBase: 1, min: '0' }, { format: 'short' }],
    legend: { show: true, values: true, current: true, max: true, avg: true, alignAsTable: true, rightSide: true },
    seriesOverrides: [{ alias: '/GE/', color: '#F2495C', linewidth: 3 }],
    aliasColors: { POST: 'blue' },
    tooltip: { shared: true, sort: 2 },
  };
  const { el } = await render(panel);
  assert.equal(await attr(el, 'data-series-count'), 2);
  assert.ok(await el.evaluate((e) => e.classList.contains('legend-right')));
  const headers = await el.locator('.viz-legend-tbl th').allInnerTexts();
  assert.deepEqual(headers.slice(1), ['Max', 'Mean', 'Last *']);
  const s = await el.evaluate((e) => e.pharosChart.series.slice(1).map((x) => ({ label: x.label, width: x.width, stroke: x._stroke ?? x.stroke })));
  const get = s.find((x) => x.label === 'GET');
  assert.equal(get.width, 3);
  assert.equal(String(get.stroke).toUpperCase(), '#F2495C');
  assert.equal(String(s.find((x) => x.label === 'POST').stroke).toUpperCase(), '#5794F2');
  assert.match(await el.getAttribute('data-y-ticks'), /^0 req\/s/, 'min 0 from yaxes[0]');
});

test('heatmap from histogram buckets: one cell per bucket and time, de-accumulated', async () => {
  const panel = {
    id: 6,
    type: 'heatmap',
    title: 'Request latency (heatmap)',
    // format time_series: the panel itself finds the cumulative `le` buckets and de-accumulates
    // them (format heatmap is de-accumulated by the dashboard's query layer; tested below).
    targets: [{ refId: 'A', expr: 'sum by (le) (increase(http_request_duration_seconds_bucket[3s]))', legendFormat: '{{le}}' }],
    options: { calculate: false, yAxis: { unit: 's' }, color: { mode: 'scheme', scheme: 'Oranges', steps: 64 } },
  };
  const expected = await prom(panel.targets[0].expr, T.from, T.to, T.step);
  const times = new Set(expected.flatMap((s) => s.values.map((v) => v[0])));
  const { el } = await render(panel);
  assert.equal(await attr(el, 'data-series-count'), expected.length, 'one row per bucket (le)');
  assert.equal(expected.length, 6, 'buckets 0.1, 0.5, 1, 2, 5, +Inf');
  assert.equal(await attr(el, 'data-point-count'), expected.length * times.size, 'cells = buckets × times');
  // Hover the newest column in the 1–2 s row: the POST requests (1.5 s) land there.
  const pos = await el.evaluate((e) => {
    const u = e.pharosChart;
    const xs = u.data[0];
    const r = u.over.getBoundingClientRect();
    return { x: r.left + u.valToPos(xs[xs.length - 1] - 300, 'x'), y: r.top + u.valToPos(3.5, 'y') };
  });
  await page.mouse.move(pos.x, pos.y);
  const tip = page.locator('.viz-tooltip:not([hidden])');
  await tip.waitFor();
  const text = await tip.innerText();
  assert.match(text, /Bucket\s+1 s – 2 s/, text);
  const byLe = new Map(expected.map((s) => [s.metric.le, s]));
  const lastT = Math.max(...times);
  const at = (le) => Number(byLe.get(le).values.find((v) => v[0] === lastT)[1]);
  const want = at('2') - at('1');
  const got = numberIn(text.split('\n').find((l) => l.startsWith('Count')));
  assert.ok(Math.abs(got - want) < 0.01 * Math.max(1, want), `count ${got} vs ${want}`);
  await page.mouse.move(1, 1);
});

test('No data, a query error with the server message, and a synthetic 100k-point panel', async () => {
  const empty = await render({ id: 7, type: 'timeseries', title: 'Empty', targets: [{ refId: 'A', expr: 'no_such_metric_anywhere' }] }, { height: 160 });
  assert.equal((await empty.el.innerText()).trim(), 'No data');
  assert.equal(await attr(empty.el, 'data-series-count'), 0);
  const bad = await render({ id: 8, type: 'timeseries', title: 'Broken query', targets: [{ refId: 'A', expr: 'sum(rate(http_requests_total[1m]' }] }, { height: 160 });
  const badText = await bad.el.innerText();
  assert.match(badText, /parenthes|parse|unexpected|expected/i, `the server's message: ${badText}`);
  // A heatmap of plain series buckets their values itself (Grafana's "calculate").
  const heat = await render(
    { id: 9, type: 'heatmap', title: 'Heatmap calculated from plain series', targets: [{ refId: 'A', expr: 'rate(http_requests_total[3s])' }], options: { calculate: true, calculation: { yBuckets: { mode: 'count', value: '8' } } } },
    { height: 160 },
  );
  const plain = await prom('rate(http_requests_total[3s])', T.from, T.to, T.step);
  const plainTimes = new Set(plain.flatMap((s) => s.values.map((v) => v[0])));
  assert.equal(await attr(heat.el, 'data-series-count'), 8);
  assert.equal(await attr(heat.el, 'data-point-count'), 8 * plainTimes.size);
  const total = await heat.el.evaluate((e) => e.pharosHeatmap.counts.flat().reduce((a, b) => a + (b ?? 0), 0));
  assert.equal(total, plain.reduce((n, s) => n + s.values.length, 0), 'every sample counted once');

  // 20 series × 5000 points, drawn without per-point DOM.
  const n = 5000;
  const t0 = T.to - n * 1000;
  const series = Array.from({ length: 20 }, (_, k) => ({
    refId: 'A',
    name: `series ${k}`,
    labels: { k: String(k) },
    times: Array.from({ length: n }, (_, i) => t0 + i * 1000),
    values: Array.from({ length: n }, (_, i) => Math.sin(i / 300 + k) * 10 + k),
  }));
  const big = await render({ id: 10, type: 'timeseries', title: '100k points', options: { legend: { displayMode: 'list', placement: 'bottom' } } }, { series, from: t0, height: 260 });
  assert.equal(await attr(big.el, 'data-point-count'), 100_000);
  const domNodes = await big.el.evaluate((e) => e.querySelectorAll('*').length);
  assert.ok(domNodes < 400, `no per-point DOM (${domNodes} nodes)`);
  const hover = await big.el.evaluate(async (e) => {
    const over = e.querySelector('.u-over');
    const r = over.getBoundingClientRect();
    const t = performance.now();
    for (let i = 0; i < 60; i++) {
      over.dispatchEvent(new MouseEvent('mousemove', { clientX: r.left + 10 + i * 10, clientY: r.top + 50, bubbles: true }));
      await new Promise((res) => requestAnimationFrame(res));
    }
    return (performance.now() - t) / 60;
  });
  console.log(`# 100k points: first render ${big.ms.toFixed(0)} ms, ${hover.toFixed(1)} ms per hovered frame`);
  await screenshot(page, 'panels-harness');
  assertNoPageErrors(page, assert);
});

test('bars on a log scale, threshold areas, a hidden axis: drawn without errors with the right scales', async () => {
  const panel = {
    id: 12,
    type: 'timeseries',
    title: 'Bars, log scale, threshold area',
    targets: [{ refId: 'A', expr: 'sum by (method) (increase(http_requests_total[3s]))', legendFormat: '{{method}}' }],
    fieldConfig: {
      defaults: {
        custom: { drawStyle: 'bars', fillOpacity: 60, scaleDistribution: { type: 'log', log: 2 }, thresholdsStyle: { mode: 'line+area' } },
        thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 10, color: 'red' }] },
      },
      overrides: [{ matcher: { id: 'byName', options: 'POST' }, properties: [{ id: 'custom.transform', value: 'negative-Y' }] }],
    },
    options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['max'], sortBy: 'Max', sortDesc: true }, tooltip: { mode: 'single' } },
  };
  const { el } = await render(panel, { height: 240 });
  assert.equal(await attr(el, 'data-series-count'), 2);
  const info = await el.evaluate((e) => {
    const u = e.pharosChart;
    const key = u.series[1].scale;
    return { distr: u.scales[key].distr, log: u.scales[key].log, post: Array.from(u.data[2]).filter((v) => v != null) };
  });
  assert.equal(info.distr, 3, 'log distribution');
  assert.equal(info.log, 2);
  assert.ok(info.post.every((v) => v <= 0), 'negative-Y draws POST below zero');
  const order = await el.locator('.viz-legend-tbl tbody tr').evaluateAll((trs) => trs.map((t) => t.dataset.series));
  assert.deepEqual(order, ['GET', 'POST'], 'sorted by Max, descending');
  assertNoPageErrors(page, assert);
});

test('gaps: a missing sample breaks the line, a lone sample between gaps is drawn as a dot, spanNulls connects', async () => {
  const t0 = T.to - 20_000;
  const times = [0, 1, 2, 4, 6, 7, 8].map((i) => t0 + i * 2000);
  const series = [{ refId: 'A', name: 'gappy', labels: {}, times, values: [1, 2, 3, 5, 6, 7, 8] }];
  const panel = { id: 11, type: 'timeseries', title: 'Gaps', fieldConfig: { defaults: { custom: { showPoints: 'never' } }, overrides: [] } };
  const { el } = await render(panel, { series, from: t0 - 2000, height: 180 });
  const info = await el.evaluate((e) => {
    const u = e.pharosChart;
    return { x: Array.from(u.data[0]), y: Array.from(u.data[1]), lone: u.series[1].points.filter(u, 1, false) };
  });
  // Missing steps at 3 and 5 (×2 s): a null one step after each sample before a hole.
  assert.deepEqual(info.y, [1, 2, 3, null, 5, null, 6, 7, 8]);
  assert.deepEqual(info.x.filter((_, i) => info.y[i] === null).map((t) => (t - t0) / 2000), [3, 5]);
  assert.deepEqual(info.lone, [4], 'the sample at 4 has gaps on both sides and is drawn as a dot');
  assert.equal(await attr(el, 'data-point-count'), 7);
  // "Connect null values: always" draws across the holes.
  panel.fieldConfig.defaults.custom.spanNulls = true;
  const r2 = await render(panel, { series, from: t0 - 2000, height: 180 });
  assert.equal(await r2.el.evaluate((e) => e.pharosChart.series[1].spanGaps), true);
});

test('drag on the plot zooms to the selected time range', async () => {
  const { el } = await render(BY_METHOD);
  const box = await el.locator('.u-over').boundingBox();
  const before = await page.evaluate(() => window.zooms.length);
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const zooms = await page.evaluate(() => window.zooms);
  assert.equal(zooms.length, before + 1);
  const [from, to] = zooms[zooms.length - 1];
  const span = T.to - T.from;
  assert.ok(Math.abs(from - (T.from + span * 0.25)) < span * 0.05, `from ${from}`);
  assert.ok(Math.abs(to - (T.from + span * 0.75)) < span * 0.05, `to ${to}`);
});

/** Saves a screenshot of one element (a panel) as `<name>.png`. */
async function shot(locator, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await locator.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
}

test('on the dashboard page: panels draw, hover is shared as a crosshair, drag-to-zoom rewrites from/to in the URL', async () => {
  const rate = (e) => e.replace('[3s]', '[$__rate_interval]');
  const dashboard = {
    uid: 'panels-timeseries',
    title: 'Chart panels',
    graphTooltip: 1,
    time: { from: 'now-2m', to: 'now' },
    panels: [
      { ...BY_METHOD, gridPos: { x: 0, y: 0, w: 12, h: 10 }, targets: BY_METHOD.targets.map((t) => ({ ...t, expr: rate(t.expr) })) },
      {
        id: 2,
        type: 'heatmap',
        title: 'Request latency',
        gridPos: { x: 12, y: 0, w: 12, h: 10 },
        targets: [{ refId: 'A', expr: 'sum by (le) (rate(http_request_duration_seconds_bucket[$__rate_interval]))', format: 'heatmap', legendFormat: '{{le}}' }],
        options: { calculate: false, yAxis: { unit: 's' } },
      },
      {
        id: 3,
        type: 'timeseries',
        title: 'Requests by status (stacked)',
        gridPos: { x: 0, y: 10, w: 24, h: 8 },
        targets: [{ refId: 'A', expr: 'sum by (status) (rate(http_requests_total[$__rate_interval]))', legendFormat: '{{status}}' }],
        fieldConfig: {
          defaults: { unit: 'reqps', custom: { fillOpacity: 30, stacking: { mode: 'normal' }, thresholdsStyle: { mode: 'dashed' } }, thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 7, color: 'red' }] } },
          overrides: [{ matcher: { id: 'byName', options: '500' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }, { id: 'displayName', value: 'errors (500)' }] }],
        },
        options: { legend: { displayMode: 'list', placement: 'right', calcs: ['max'] }, tooltip: { mode: 'multi' } },
      },
    ],
  };
  const res = await fetch(`${pharos.url}/api/dashboards/db`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ dashboard, overwrite: true }) });
  assert.equal(res.status, 200, await res.text());
  const dp = await newPage(browser);
  await openUi(dp, pharos.url, '/d/panels-timeseries?from=now-2m&to=now');
  const panel = (id) => dp.locator(`[data-panel-id="${id}"] .viz`);
  await waitFor(async () => (await panel(1).getAttribute('data-series-count').catch(() => null)) === '2', 30_000, 'time series drawn');
  await waitFor(async () => Number(await panel(2).getAttribute('data-point-count').catch(() => 0)) > 0, 30_000, 'heatmap drawn');
  await waitFor(async () => (await panel(3).getAttribute('data-series-count').catch(() => null)) === '2', 30_000, 'stacked drawn');
  assert.equal(await panel(2).getAttribute('data-series-count'), '6', 'six buckets');
  const cells = Number(await panel(2).getAttribute('data-point-count'));
  const times = Number(await panel(2).getAttribute('data-time-count'));
  assert.equal(cells, 6 * times, 'cells = buckets × times');
  // De-accumulated once: the rows under 2 s all have counts (GETs in three buckets, POSTs at 1.5 s).
  const rowsWithCounts = await panel(2).evaluate((e) => e.pharosHeatmap.counts.filter((r) => r.some((v) => v > 0)).length);
  assert.equal(rowsWithCounts, 4, 'four non-empty buckets');
  assert.ok(Number(await panel(1).getAttribute('data-point-count')) > 10);
  assert.deepEqual(await panel(3).locator('.viz-legend-item').evaluateAll((els) => els.map((e) => e.dataset.series)), ['200', 'errors (500)']);

  await shot(dp.locator('[data-panel-id="2"]'), 'panel-heatmap');
  await shot(dp.locator('[data-panel-id="1"]'), 'panel-legend-table');
  // Shared crosshair: hovering panel 1 draws a line on panel 3.
  const box = await panel(1).locator('.u-over').boundingBox();
  await dp.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2);
  await dp.locator('.viz-tooltip:not([hidden])').waitFor();
  await dp.locator('[data-panel-id="3"] .viz-remote-crosshair:not([hidden])').waitFor({ timeout: 5000 });
  await screenshot(dp, 'panel-timeseries');
  // Drag over the newest part of the range (where the app has data).
  await dp.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  await dp.mouse.down();
  await dp.mouse.move(box.x + box.width * 0.75, box.y + box.height / 2, { steps: 4 });
  await dp.mouse.move(box.x + box.width * 0.95, box.y + box.height / 2, { steps: 4 });
  await dp.mouse.up();
  await waitFor(async () => /^\d+$/.test(new URL(dp.url()).searchParams.get('from') ?? ''), 5000, 'absolute from in the URL');
  const q = new URL(dp.url()).searchParams;
  const [zFrom, zTo] = [Number(q.get('from')), Number(q.get('to'))];
  assert.ok(zTo - zFrom > 0.25 * 120_000 && zTo - zFrom < 0.45 * 120_000, `zoomed to 35% of 2 minutes: ${zTo - zFrom} ms`);
  // The panels re-query the zoomed range: the x axis spans exactly [from, to] and points are drawn.
  await waitFor(
    async () => {
      const x = await panel(1).evaluate((e) => e.pharosChart && [e.pharosChart.scales.x.min, e.pharosChart.scales.x.max]).catch(() => null);
      return x && Math.abs(x[0] - zFrom) < 1 && Math.abs(x[1] - zTo) < 1 && Number(await panel(1).getAttribute('data-point-count')) > 0;
    },
    20_000,
    'redrawn on the zoomed range',
  );
  assertNoPageErrors(dp, assert);
  await dp.context().close();
});

test('follows its box when resized; 20 panels × 50 series × 1000 points render (measured)', async () => {
  const { el, id } = await render(BY_METHOD, { id: 'resizable', height: 200 });
  const width = () => el.evaluate((e) => e.pharosChart.width);
  const before = await width();
  await page.evaluate((i) => (document.getElementById(i).style.width = '600px'), id);
  await waitFor(async () => (await width()) < before - 200, 5000, 'chart narrower with its box');

  // A dense dashboard: every panel 50 series of 1000 points (24 h at Grafana's auto step),
  // built in the page so only the rendering is timed.
  const n = 1000;
  const out = await page.evaluate(async ([n, to, step]) => {
    const t0 = to - n * 86_400;
    const series = Array.from({ length: 50 }, (_, k) => ({
      refId: 'A',
      name: `instance-${k}`,
      labels: { instance: `instance-${k}` },
      times: Array.from({ length: n }, (_, i) => t0 + i * 86_400),
      values: Array.from({ length: n }, (_, i) => 50 + 40 * Math.sin(i / 50 + k / 7) + (k % 5)),
    }));
    const started = performance.now();
    let ms = 0;
    const points = [];
    for (let p = 0; p < 20; p++) {
      const panel = { id: 100 + p, type: 'timeseries', title: `dense ${p}`, fieldConfig: { defaults: { unit: 'percent' }, overrides: [] } };
      const r = await window.renderPanel(panel, { id: `dense-${p}`, series, from: t0, to, step, height: 150, width: 600 });
      ms += r.ms;
      points.push(Number(document.getElementById(`dense-${p}`).dataset.pointCount));
    }
    return { ms, wall: performance.now() - started, points };
  }, [n, T.to, T.step]);
  assert.deepEqual(out.points, Array(20).fill(50 * n));
  console.log(`# 20 panels × 50 series × ${n} points: ${out.ms.toFixed(0)} ms in the renderers, ${out.wall.toFixed(0)} ms until all painted`);
  assertNoPageErrors(page, assert);
});

test('tables with a time column draw as series; a legacy heatmap (tsbuckets, reversed rows) draws', async () => {
  const t0 = T.to - 10_000;
  const rows = [];
  for (let i = 0; i < 5; i++) for (const host of ['a', 'b']) rows.push([t0 + i * 2000, host, i * (host === 'a' ? 1 : 2)]);
  const tables = [{ refId: 'A', columns: [{ name: 'Time', type: 'time' }, { name: 'host', type: 'string' }, { name: 'load', type: 'number' }], rows }];
  const { el } = await render({ id: 13, type: 'timeseries', title: 'From a table' }, { tables, from: t0 - 1000, height: 160 });
  assert.equal(await attr(el, 'data-series-count'), 2);
  assert.equal(await attr(el, 'data-point-count'), 10);
  assert.deepEqual(await el.locator('.viz-legend-item').evaluateAll((e) => e.map((x) => x.dataset.series)), ['a', 'b']);

  const legacy = {
    id: 14,
    type: 'heatmap',
    title: 'Legacy heatmap',
    dataFormat: 'tsbuckets',
    reverseYBuckets: true,
    yAxis: { format: 's', decimals: null, logBase: 1 },
    color: { mode: 'spectrum', colorScheme: 'interpolateSpectral', colorScale: 'sqrt', exponent: 0.5, cardColor: '#b4ff00' },
    legend: { show: false },
    targets: [{ refId: 'A', expr: 'sum by (le) (increase(http_request_duration_seconds_bucket[3s]))', legendFormat: '{{le}}', format: 'time_series' }],
  };
  const h = await render(legacy, { height: 200 });
  assert.equal(await attr(h.el, 'data-series-count'), 6);
  assert.ok(await h.el.evaluate((e) => e.querySelector('.viz-legend').hidden), 'legend.show false hides the colour scale');
  // Reversed: the lowest bucket (≤ 0.1 s) is the top row.
  const pos = await h.el.evaluate((e) => {
    const u = e.pharosChart;
    const r = u.over.getBoundingClientRect();
    const xs = u.data[0];
    return { x: r.left + u.valToPos(xs[xs.length - 1] - 300, 'x'), y: r.top + u.valToPos(5.5, 'y') };
  });
  await page.mouse.move(pos.x, pos.y);
  const tip = page.locator('.viz-tooltip:not([hidden])');
  await tip.waitFor();
  assert.match(await tip.innerText(), /Bucket\s+0 s – 100 ms/);
  await page.mouse.move(1, 1);
  assertNoPageErrors(page, assert);
});

test('legacy graph: fillBelowTo fills between two series, hideZero leaves all-zero series out of the legend', async () => {
  const t0 = T.to - 10_000;
  const times = [0, 1, 2, 3, 4].map((i) => t0 + i * 2000);
  const series = [
    { refId: 'A', name: 'max', labels: {}, times, values: [5, 6, 7, 6, 5] },
    { refId: 'A', name: 'min', labels: {}, times, values: [1, 2, 3, 2, 1] },
    { refId: 'A', name: 'idle', labels: {}, times, values: [0, 0, 0, 0, 0] },
  ];
  const panel = {
    id: 15,
    type: 'graph',
    title: 'Min/max band',
    seriesOverrides: [{ alias: 'max', fillBelowTo: 'min', lines: false }, { alias: 'min', lines: false }],
    legend: { show: true, hideZero: true },
  };
  const { el } = await render(panel, { series, from: t0 - 1000, height: 160 });
  const bands = await el.evaluate((e) => e.pharosChart.bands.map((b) => b.series.join('-')));
  assert.deepEqual(bands.sort(), ['1-2', '2-1']);
  assert.deepEqual(await el.locator('.viz-legend-item').evaluateAll((e) => e.map((x) => x.dataset.series)), ['max', 'min']);
  assert.equal(await attr(el, 'data-series-count'), 3, 'the all-zero series is still drawn');
});

test('a legend isolation saved by Grafana (hideFrom.viz override) starts hidden but stays in the legend', async () => {
  const panel = structuredClone(BY_METHOD);
  panel.id = 16;
  panel.fieldConfig.overrides = [
    {
      matcher: { id: 'byNames', options: { mode: 'exclude', names: ['GET'], prefix: 'All except:', readOnly: true } },
      properties: [{ id: 'custom.hideFrom', value: { legend: false, tooltip: false, viz: true } }],
    },
  ];
  const { el } = await render(panel, { height: 220 });
  assert.equal(await attr(el, 'data-series-count'), 1);
  assert.deepEqual(await el.locator('.viz-legend-item').evaluateAll((e) => e.map((x) => `${x.dataset.series}:${x.classList.contains('hidden')}`)), ['GET:false', 'POST:true']);
  await el.locator('.viz-legend-item[data-series="POST"]').click({ modifiers: ['Control'] });
  assert.equal(await attr(el, 'data-series-count'), 2, 'a click shows it again');
});
