// More Grafana panel types and the transformations pipeline against a pharos filled with data:
// transformations on a time series (calculateField reduceRow mean with replaceFields → one
// series; renameByRegex; an unknown id skipped with a notice) and on tables (organize renames,
// excludes and orders columns; filterByValue; groupBy), the bar chart (instant format:table by
// method → 2 bars, range results as time categories), the histogram (every instant value counted
// once), the XY chart and trend (points from two joined series), the traces panel (a trace sent
// over OTLP shows 3 nested spans) and the node graph (api → worker from /api/dependencies and from
// the trace), the candlestick (a candle per point of a close series), and the empty, error and
// stopped-server states. Screenshots: panel-barchart,
// panel-histogram, panel-more, panel-more-states.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFilledPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api, sendTrace, sleep } from './helpers.mjs';

let env, browser, trace;
before(async () => {
  env = await startFilledPharos();
  browser = await launchBrowser();
  await waitFor(async () => (await fetch(`${env.pharos.url}/api/search`)).status === 200, 30000, '/api/search');
  trace = await sendTrace(env.pharos.url);
  await waitFor(async () => (await api(env.pharos.url, `/api/traces/${trace.traceId}`)).body?.data?.[0]?.spans?.length === 3, 20000, 'trace stored');
});
after(async () => {
  await browser?.close();
  stop(env?.pharos, env?.app);
});

/** Flows panels left to right over Grafana's 24 columns. */
function flow(panels) {
  let x = 0;
  let y = 0;
  let rowH = 0;
  for (const p of panels) {
    if (x + p.gridPos.w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    p.gridPos.x = x;
    p.gridPos.y = y;
    x += p.gridPos.w;
    rowH = Math.max(rowH, p.gridPos.h);
  }
  return panels;
}

async function saveDashboard(dashboard) {
  dashboard.panels = flow(dashboard.panels);
  const res = await fetch(`${env.pharos.url}/api/dashboards/db`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ dashboard, overwrite: true }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.uid;
}

const prom = (expr, extra = {}) => ({ refId: 'A', expr, datasource: { type: 'prometheus', uid: 'x' }, ...extra });
const jaeger = (extra) => ({ refId: 'A', datasource: { type: 'jaeger', uid: 'j' }, ...extra });
let nextId = 1;
const panel = (type, title, w, hgt, more = {}) => ({ id: nextId++, type, title, gridPos: { x: 0, y: 0, w, h: hgt }, ...more });

/** Waits until every panel body carries data-series-count (drawn); returns the bodies' data by title. */
async function drawn(page, count, timeout = 40000) {
  await page.waitForFunction(
    (n) => {
      const panels = [...document.querySelectorAll('[data-testid="dash-panel"]')];
      // Panels load when scrolled into view (as in Grafana): scroll to the next waiting one.
      const waiting = panels.find((p) => p.dataset.state === 'deferred');
      if (waiting) return void waiting.scrollIntoView({ block: 'center' });
      return panels.length >= n && panels.every((p) => p.dataset.state !== 'loading' && p.querySelector('.dash-panel-body[data-series-count]'));
    },
    count,
    { timeout },
  );
  const list = await page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="dash-panel"]')].map((p) => {
      const b = p.querySelector('.dash-panel-body');
      return { title: p.querySelector('[data-testid="panel-title"]')?.textContent ?? '', data: { ...b.dataset }, text: b.textContent };
    }),
  );
  return Object.fromEntries(list.map((p) => [p.title, { ...p.data, series: Number(p.data.seriesCount), text: p.text }]));
}

/** Waits until the body of the panel titled `title` has dataset key `data` and/or text matching `text`. */
async function waitPanel(page, title, { data, text }, timeout = 30000) {
  await page.waitForFunction(
    ([t, key, re]) => {
      const b = [...document.querySelectorAll('[data-testid="dash-panel"]')].find((p) => p.querySelector('[data-testid="panel-title"]')?.textContent === t)?.querySelector('.dash-panel-body');
      if (!b) return false;
      if (key && b.dataset[key] === undefined) return false;
      return !re || new RegExp(re, 'i').test(b.textContent);
    },
    [title, data ?? null, text ?? null],
    { timeout },
  );
}
const body = (title) => `[data-testid="dash-panel"]:has([data-testid="panel-title"]:text-is("${title}")) .dash-panel-body`;

test('transformations apply to a time series (calculateField, renameByRegex) and to tables (organize, filterByValue, groupBy)', async () => {
  const byMethod = 'sum by (method) (rate(http_requests_total[1m]))';
  // rate() needs two samples: wait until both methods have one.
  let methods = [];
  await waitFor(async () => {
    methods = (await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent(byMethod))).body.data.result.map((r) => r.metric.method).sort();
    return methods.length === 2;
  }, 30000, 'rates by method');
  assert.equal(methods.length, 2, 'GET and POST');
  const tableExpr = 'sum by (method, status) (http_requests_total)';
  const tableRows = (await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent(tableExpr))).body.data.result;
  const uid = await saveDashboard({
    title: 'Panels: transformations',
    time: { from: 'now-5m', to: 'now' },
    panels: [
      panel('timeseries', 'Two series', 8, 7, { targets: [prom(byMethod, { legendFormat: '{{method}}' })] }),
      panel('timeseries', 'Mean of both', 8, 7, {
        targets: [prom(byMethod, { legendFormat: '{{method}}' })],
        transformations: [{ id: 'calculateField', options: { mode: 'reduceRow', reduce: { reducer: 'mean' }, replaceFields: true } }],
      }),
      panel('timeseries', 'Renamed', 8, 7, {
        targets: [prom(byMethod, { legendFormat: '{{method}}' })],
        transformations: [
          { id: 'renameByRegex', options: { regex: '^(GET|POST)$', renamePattern: 'method $1' } },
          { id: 'calculateField', disabled: true, options: { mode: 'reduceRow', reduce: { reducer: 'sum' }, replaceFields: true } },
          { id: 'someFutureTransformation', options: {} },
        ],
      }),
      panel('table', 'Organized', 12, 7, {
        targets: [prom(tableExpr, { instant: true, format: 'table' })],
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true }, indexByName: { status: 0, method: 1, Value: 2 }, renameByName: { Value: 'Requests', method: 'Method' } } }],
      }),
      panel('table', 'Grouped', 6, 7, {
        targets: [prom(tableExpr, { instant: true, format: 'table' })],
        transformations: [{ id: 'groupBy', options: { fields: { method: { operation: 'groupby' }, Value: { operation: 'aggregate', aggregations: ['sum', 'count'] } } } }],
      }),
      panel('stat', 'Only GET', 6, 7, {
        targets: [prom(tableExpr, { instant: true, format: 'table' })],
        transformations: [
          { id: 'filterByValue', options: { type: 'include', match: 'all', filters: [{ fieldName: 'method', config: { id: 'regex', options: { value: '^GET$' } } }] } },
          { id: 'reduce', options: { reducers: ['sum'], mode: 'reduceFields' } },
        ],
        options: { reduceOptions: { calcs: ['sum'] }, graphMode: 'none' },
        fieldConfig: { defaults: { decimals: 0 } },
      }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 6);
  assert.equal(p['Two series'].series, 2);
  assert.equal(p['Mean of both'].series, 1, 'calculateField reduceRow with replaceFields leaves one series');
  const chartOf = (title) =>
    page.$eval(body(title), (b) => {
      const u = b.pharosChart ?? b.querySelector('*')?.pharosChart;
      const el = [b, ...b.querySelectorAll('*')].find((e) => e.pharosChart);
      const c = u ?? el?.pharosChart;
      return { labels: c.series.slice(1).map((s) => s.label), data: c.data.map((d) => [...d]) };
    });
  const mean = await chartOf('Mean of both');
  assert.deepEqual(mean.labels, ['Mean']);
  const both = await chartOf('Two series');
  // Every drawn mean is the mean of the two series at that time.
  let checked = 0;
  mean.data[0].forEach((t, i) => {
    const j = both.data[0].indexOf(t);
    const a = both.data[1][j];
    const b = both.data[2][j];
    if (j < 0 || a == null || b == null || mean.data[1][i] == null) return;
    assert.ok(Math.abs(mean.data[1][i] - (a + b) / 2) < 1e-9, `mean at ${t}: ${mean.data[1][i]} vs ${(a + b) / 2}`);
    checked++;
  });
  assert.ok(checked >= 1, `compared ${checked} points`);
  const renamed = await chartOf('Renamed');
  assert.deepEqual(renamed.labels.sort(), methods.map((m) => `method ${m}`), 'renameByRegex; the disabled calculateField did not run');
  // The unknown transformation is a notice (Inspect lists it), never a broken panel.
  assert.equal(p.Renamed.series, 2);

  const headers = await page.$$eval(`${body('Organized')} .vp-th`, (els) => els.map((e) => e.dataset.col));
  assert.deepEqual(headers, ['status', 'Method', 'Requests'], 'organize orders, renames and excludes Time');
  assert.equal(Number(p.Organized.rows), tableRows.length);
  const gheaders = await page.$$eval(`${body('Grouped')} .vp-th`, (els) => els.map((e) => e.dataset.col));
  assert.deepEqual(gheaders, ['method', 'Value (sum)', 'Value (count)']);
  assert.equal(Number(p.Grouped.rows), 2, 'one row per method');
  // The counters grow while the page loads: the stat lies between the GET sums read before and after.
  const getSum = (rows) => rows.filter((r) => r.metric.method === 'GET').reduce((s, r) => s + Number(r.value[1]), 0);
  const after = (await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent(tableExpr))).body.data.result;
  const shown = Number(p['Only GET'].value);
  assert.ok(shown <= getSum(after), `stat after filterByValue + reduce: ${shown} ≤ ${getSum(after)} (GET rows only, POST filtered out)`);
  // The panel's instant query runs at its (step-aligned) range end, which may precede the read
  // above by a scrape or two, so only the upper bound is exact.
  assert.ok(shown > 0, `stat ${shown} counts the GET rows (${getSum(tableRows)} read before)`);

  // Inspect shows the skipped transformation's notice.
  await page.hover(`[data-testid="dash-panel"]:has([data-testid="panel-title"]:text-is("Renamed"))`);
  await page.click(`[data-testid="dash-panel"]:has([data-testid="panel-title"]:text-is("Renamed")) [data-testid="panel-menu"]`);
  await page.click('[data-testid="menu-inspect"]');
  await page.waitForSelector('text=someFutureTransformation');
  await page.keyboard.press('Escape');
  assert.deepEqual(page.pharosDialogs, []);
  assertNoPageErrors(page, assert);
  await page.close();
});

test('bar chart: instant table by method draws 2 bars; range results as time categories; horizontal stacked', async () => {
  const expr = 'sum by (method) (http_requests_total)';
  // Range results need two 5 s steps of data.
  await waitFor(async () => {
    const now = Date.now() / 1000;
    const r = await api(env.pharos.url, `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${now - 300}&end=${now}&step=5`);
    return r.body?.data?.result?.every((s) => s.values.length >= 3);
  }, 30000, 'three range points');
  const res = (await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent(expr))).body.data.result;
  const uid = await saveDashboard({
    title: 'Panels: bar chart',
    time: { from: 'now-5m', to: 'now' },
    panels: [
      panel('barchart', 'Requests by method', 8, 9, {
        targets: [prom(expr, { instant: true, format: 'table' })],
        fieldConfig: { defaults: { unit: 'short', color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 1e12, color: 'red' }] } } },
        options: { showValue: 'always', legend: { showLegend: false } },
      }),
      panel('barchart', 'By method and status', 8, 9, {
        targets: [prom('sum by (method, status) (http_requests_total)', { instant: true, format: 'table' })],
        options: { orientation: 'horizontal', showValue: 'auto' },
      }),
      panel('barchart', 'Instant series', 8, 9, {
        targets: [prom(expr, { instant: true, legendFormat: '{{method}}' })],
        options: { showValue: 'auto' },
      }),
      panel('barchart', 'Per minute, stacked', 12, 9, {
        targets: [prom(expr, { legendFormat: '{{method}}', interval: '5s' })],
        options: { stacking: 'normal', showValue: 'never', xTickLabelRotation: -45 },
        fieldConfig: { defaults: { unit: 'short' } },
      }),
      panel('barchart', 'Nothing', 6, 9, { targets: [prom('nothing_here_metric_xyz', { instant: true, format: 'table' })] }),
      panel('barchart', 'Broken', 6, 9, { targets: [prom('sum(', { instant: true, format: 'table' })] }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 6);
  const b = p['Requests by method'];
  assert.equal(Number(b.barCount), 2, 'GET and POST');
  assert.deepEqual(b.categories.split('\u001f').sort(), res.map((r) => r.metric.method).sort());
  const values = await page.$$eval(`${body('Requests by method')} rect.mp-bar`, (els) => els.map((e) => Number(e.dataset.value)));
  const later = (await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent(expr))).body.data.result;
  const total = (rs) => rs.reduce((s, r) => s + Number(r.value[1]), 0);
  const drawnTotal = values.reduce((a, b) => a + b, 0);
  assert.ok(values.every((v) => v > 0), `bar values: ${values}`);
  assert.ok(drawnTotal <= total(later), `bars ${drawnTotal} ≤ the counters read after drawing ${total(later)}`);
  const labels = await page.$$eval(`${body('Requests by method')} text.mp-value`, (els) => els.map((e) => e.textContent));
  assert.equal(labels.length, 2, `value labels: ${labels}`);
  const fills = await page.$$eval(`${body('Requests by method')} rect.mp-bar`, (els) => els.map((e) => e.getAttribute('fill').toUpperCase()));
  assert.deepEqual(fills, ['#73BF69', '#73BF69'], 'threshold colour (green below 1e12)');
  const combos = (await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent('sum by (method, status) (http_requests_total)'))).body.data.result.length;
  assert.equal(Number(p['By method and status'].barCount), combos, 'one bar per method/status row');
  assert.equal(p['By method and status'].orientation, 'horizontal');
  assert.equal(Number(p['Instant series'].barCount), 2, 'instant series → one bar per series');
  const stacked = p['Per minute, stacked'];
  assert.equal(stacked.series, 2, 'a bar series per method');
  assert.ok(stacked.categories.split('\u001f').length >= 2, `time categories: ${stacked.categories}`);
  assert.equal(p.Nothing.series, 0);
  assert.match(p.Nothing.text, /No data/);
  assert.match(p.Broken.text, /Query failed/);
  assert.match(p.Broken.text, /parenthesis|parse|unexpected/i);
  // Hovering a bar shows its category and value.
  await page.hover(`${body('Requests by method')} rect.mp-bar >> nth=0`);
  const tip = await page.textContent(`${body('Requests by method')} .mp-tooltip`);
  assert.match(tip, /GET|POST/);
  await screenshot(page, 'panel-barchart');
  assertNoPageErrors(page, assert);
  await page.close();
});

test('histogram counts every value once; XY chart and trend plot one series against another', async () => {
  // Four fixed values: 3, 17, 42, 44 → buckets of 10 from 0 to 50, counts 1, 1, 0, 0, 2.
  const fixed = [3, 17, 42, 44].map((v, i) => `label_replace(vector(${v}), "k", "${'abcd'[i]}", "", "")`).join(' or ');
  const ups = (await api(env.pharos.url, '/api/v1/query?query=up')).body.data.result.length;
  const uid = await saveDashboard({
    title: 'Panels: histogram and XY',
    time: { from: 'now-5m', to: 'now' },
    panels: [
      panel('histogram', 'Fixed values', 8, 8, {
        targets: [prom(fixed, { instant: true, legendFormat: '{{k}}' })],
        options: { bucketSize: 10, combine: true },
        fieldConfig: { defaults: { unit: 'percent' } },
      }),
      panel('histogram', 'Up per target', 8, 8, { targets: [prom('up', { legendFormat: '{{job}}' })] }),
      panel('histogram', 'Histogram transformation', 8, 8, {
        targets: [prom(fixed, { instant: true, legendFormat: '{{k}}' })],
        transformations: [{ id: 'histogram', options: { bucketSize: 25, combine: true } }],
      }),
      panel('xychart', 'Rate vs total', 12, 8, {
        targets: [prom('sum(http_requests_total)', { legendFormat: 'total' }), prom('sum(rate(http_requests_total[1m]))', { refId: 'B', legendFormat: 'rate' })],
        options: { seriesMapping: 'auto', series: [{ x: { matcher: { id: 'byName', options: 'total' } } }] },
      }),
      panel('candlestick', 'Candles', 12, 8, {
        targets: [prom('sum(http_requests_total)', { legendFormat: 'close', interval: '5s' })],
        options: { mode: 'candles' },
      }),
      panel('trend', 'Trend', 12, 8, {
        targets: [prom('sum(http_requests_total)', { legendFormat: 'total' }), prom('sum(rate(http_requests_total[1m]))', { refId: 'B', legendFormat: 'rate' })],
        options: { xField: 'total' },
        fieldConfig: { defaults: { unit: 'reqps' } },
      }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 6);
  const hist = p['Fixed values'];
  assert.equal(hist.series, 1, 'combined');
  assert.equal(Number(hist.total), 4, 'every value counted once');
  assert.equal(Number(hist.bucketCount), 5, 'buckets 0–10 … 40–50');
  const counts = await page.$$eval(`${body('Fixed values')} rect.mp-bar`, (els) => els.map((e) => Number(e.dataset.value)));
  assert.deepEqual(counts, [1, 1, 2], 'empty buckets draw no bar');
  const up = p['Up per target'];
  assert.equal(up.series, ups, 'one count per series without combine');
  const tr = p['Histogram transformation'];
  assert.equal(Number(tr.total), 4, 'pre-bucketed by the histogram transformation');
  assert.equal(Number(tr.bucketCount), 2, 'buckets of 25: 0–25, 25–50');
  const xy = p['Rate vs total'];
  assert.equal(xy.series, 1, 'rate plotted against total');
  assert.ok(Number(xy.pointCount) >= 5, `points: ${xy.pointCount}`);
  const trend = p.Trend;
  assert.equal(trend.series, 1);
  assert.ok(Number(trend.pointCount) >= 5);
  const lines = await page.$$eval(`${body('Trend')} path.mp-line`, (els) => els.length);
  assert.equal(lines, 1, 'trend draws a line');
  // Right after the app starts the range may hold only a couple of 5 s points: refresh until
  // the scrapes give at least three candles.
  const readCandles = () => page.$eval('[data-testid="dash-panel"]:has([data-testid="panel-title"]:text-is("Candles"))', (e) => ({ points: Number(e.dataset.queryPoints), bars: Number(e.querySelector('.dash-panel-body').dataset.barCount), drawn: e.querySelectorAll('.mp-candle').length }));
  let candles = await readCandles();
  await waitFor(async () => {
    candles = await readCandles();
    if (candles.bars >= 3) return true;
    await page.click('[data-testid=refresh-now]').catch(() => {});
    await sleep(2000);
    return false;
  }, 40000, 'three candles').catch(() => {});
  assert.ok(candles.bars >= 3, `candles: ${JSON.stringify(candles)}`);
  assert.equal(candles.drawn, candles.bars, 'a candle per point');
  assert.ok(candles.bars <= candles.points, `no more candles than points: ${JSON.stringify(candles)}`);
  await screenshot(page, 'panel-histogram');
  assertNoPageErrors(page, assert);
  await page.close();
});

test('traces panel shows the trace as a nested waterfall; node graph shows api → worker', async () => {
  const uid = await saveDashboard({
    title: 'Panels: traces and node graph',
    time: { from: 'now-15m', to: 'now' },
    panels: [
      panel('traces', 'Trace', 14, 8, { datasource: { type: 'jaeger', uid: 'j' }, targets: [jaeger({ queryType: 'traceId', query: trace.traceId })] }),
      panel('nodeGraph', 'Dependencies', 10, 8, { datasource: { type: 'jaeger', uid: 'j' }, targets: [jaeger({ queryType: 'dependencyGraph' })] }),
      panel('nodeGraph', 'Trace services', 8, 7, { datasource: { type: 'jaeger', uid: 'j' }, targets: [jaeger({ queryType: 'traceId', query: trace.traceId })] }),
      panel('traces', 'Missing trace', 8, 7, { datasource: { type: 'jaeger', uid: 'j' }, targets: [jaeger({ queryType: 'traceId', query: '0123456789abcdef0123456789abcdef' })] }),
      panel('traces', 'No query', 8, 7, { datasource: { type: 'jaeger', uid: 'j' }, targets: [jaeger({ queryType: 'search', service: 'no-such-service' })] }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  await waitPanel(page, 'Trace', { data: 'spanCount' });
  const p = await drawn(page, 5);
  assert.equal(Number(p.Trace.spanCount), 3);
  const rows = await page.$$eval(`${body('Trace')} .tp-row`, (els) => els.map((e) => ({ id: e.dataset.spanId, depth: Number(e.dataset.depth), parent: e.dataset.parentId, text: e.textContent })));
  assert.deepEqual(rows.map((r) => r.id), trace.spanIds, 'tree order: root, child, grandchild');
  assert.deepEqual(rows.map((r) => r.depth), [0, 1, 2]);
  assert.equal(rows[1].parent, trace.spanIds[0]);
  assert.equal(rows[2].parent, trace.spanIds[1]);
  assert.match(rows[2].text, /worker.*email\.process/);
  const href = await page.getAttribute(`${body('Trace')} [data-testid="open-trace"]`, 'href');
  assert.equal(href, `/trace/${trace.traceId}`);
  await waitPanel(page, 'Dependencies', { data: 'edges' });
  const deps = await page.$eval(body('Dependencies'), (e) => ({ edges: e.dataset.edges.split('\u001f'), nodes: [...e.querySelectorAll('.ng-node')].map((n) => n.dataset.id) }));
  assert.ok(deps.edges.includes('api→worker'), `edges: ${deps.edges}`);
  assert.ok(deps.nodes.includes('api') && deps.nodes.includes('worker'));
  await waitPanel(page, 'Trace services', { data: 'edges' });
  const ts = await page.$eval(body('Trace services'), (e) => ({ edges: e.dataset.edges, nodes: Number(e.dataset.nodeCount), text: e.textContent }));
  assert.equal(ts.edges, 'api→worker');
  assert.equal(ts.nodes, 2);
  assert.match(ts.text, /2\s*spans/, 'api has 2 spans');
  await waitPanel(page, 'Missing trace', { text: 'not found' });
  assert.match(p['No query'].text, /No trace/);
  await screenshot(page, 'panel-more');
  // The link opens the full trace view.
  await page.click(`${body('Trace')} [data-testid="open-trace"]`);
  await page.waitForURL(`**/trace/${trace.traceId}`);
  assertNoPageErrors(page, assert);
  await page.close();
});

test('with the server stopped the trace panels say pharos is not reachable', async () => {
  const uid = await saveDashboard({
    title: 'Panels: stopped server',
    time: { from: 'now-15m', to: 'now' },
    refresh: '',
    panels: [
      panel('barchart', 'Bars', 8, 7, { targets: [prom('sum by (method) (http_requests_total)', { instant: true, format: 'table' })] }),
      panel('traces', 'Trace', 8, 7, { datasource: { type: 'jaeger', uid: 'j' }, targets: [jaeger({ queryType: 'traceId', query: trace.traceId })] }),
      panel('nodeGraph', 'Graph', 8, 7, { datasource: { type: 'jaeger', uid: 'j' }, targets: [jaeger({ queryType: 'dependencyGraph' })] }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  await waitPanel(page, 'Trace', { data: 'spanCount' });
  await drawn(page, 3);
  stop(env.pharos);
  await page.waitForTimeout(300);
  // Refresh the dashboard: every panel re-queries the stopped server.
  await page.keyboard.press('Escape');
  await page.click('[data-testid="refresh-now"]');
  for (const t of ['Bars', 'Graph', 'Trace']) await waitPanel(page, t, { text: 'not reachable|could not|failed|unreachable' }, 20000);
  const texts = await page.$$eval('.dash-panel-body', (els) => els.map((e) => e.textContent));
  for (const t of texts) assert.ok(t.trim().length > 0, 'no blank panel');
  await screenshot(page, 'panel-more-states');
  assertNoPageErrors(page, assert);
  await page.close();
});
