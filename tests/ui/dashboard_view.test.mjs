// The dashboard page against a pharos filled with data: the guide's dashboard draws every panel
// with the right series, a stat shows what /api/v1/query says, variables change the queries
// sent, rows collapse, a failing query shows its error while the other panels draw, deep links
// keep range and variables, empty data and a stopped server show a message, and a 20×50
// dashboard's render time is measured.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startFilledPharos, startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api, remoteWrite } from './helpers.mjs';

let env, browser, provDir;
before(async () => {
  provDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pharos-ui-prov-'));
  fs.writeFileSync(path.join(provDir, 'legacy.json'), JSON.stringify(legacyDashboard('Legacy rows'), null, 2));
  env = await startFilledPharos({ extraPharosYml: `dashboards: {path: ${provDir}}` });
  browser = await launchBrowser();
  // rate(...[5m]) needs two samples of every series; the tests look at ranges ending a few
  // seconds ago, so wait for ~10 s of scrapes.
  await waitFor(async () => {
    const { body } = await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent('min(count_over_time(http_requests_total[1m]))'));
    return Number(body?.data?.result?.[0]?.value?.[1] ?? 0) >= 10;
  }, 40000, 'ten scrapes of the app');
});
after(async () => {
  await browser?.close();
  stop(env?.pharos, env?.app);
});

/** Saves a dashboard through Grafana's API; returns its uid. */
async function saveDashboard(base, dashboard) {
  const res = await fetch(`${base}/api/dashboards/db`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...(dashboard.dashboard ? dashboard : { dashboard }), overwrite: true }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.ok(body.uid, JSON.stringify(body));
  return body.uid;
}

/** Waits until no panel is loading and every data panel has drawn; returns each panel's state. */
async function panelsSettled(page, count, timeout = 30000) {
  await page.waitForFunction(
    (n) => {
      const panels = [...document.querySelectorAll('[data-testid="dash-panel"]')];
      if (panels.length < n) return false;
      // Panels load when scrolled into view (as in Grafana): scroll to the next waiting one.
      const waiting = panels.find((p) => p.dataset.state === 'deferred');
      if (waiting) return void waiting.scrollIntoView({ block: 'center' });
      return panels.every((p) => p.dataset.state && p.dataset.state !== 'loading' && p.querySelector('.dash-panel-body [data-series-count], .dash-panel-body[data-series-count]'));
    },
    count,
    { timeout },
  ).catch(async (e) => {
    const state = await page.evaluate(() => [...document.querySelectorAll('[data-testid="dash-panel"]')].map((p) => `${p.dataset.panelId} ${p.dataset.state} ${p.querySelector('.dash-panel-body')?.textContent.slice(0, 80)}`).join('\n') + '\n' + document.querySelector('#outlet')?.textContent.slice(0, 300));
    throw new Error(`panels did not settle (${count} expected): ${e.message}\n${state}`);
  });
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="dash-panel"]')].map((p) => {
      const body = p.querySelector('.dash-panel-body');
      const drawn = body.matches('[data-series-count]') ? body : body.querySelector('[data-series-count]');
      return {
        id: Number(p.dataset.panelId),
        title: p.querySelector('[data-testid="panel-title"]')?.textContent ?? '',
        state: p.dataset.state,
        series: Number(drawn?.dataset.seriesCount ?? -1),
        points: Number(drawn?.dataset.pointCount ?? -1),
        value: drawn?.dataset.value ?? null,
        querySeries: Number(p.dataset.querySeries ?? -1),
        text: body.textContent,
        error: p.querySelector('[data-testid="panel-error"]')?.getAttribute('title') ?? null,
      };
    }),
  );
}

test("the guide's dashboard imports and every panel draws its series", async () => {
  const file = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/dashboards/crewai.json'), 'utf8'));
  const uid = await saveDashboard(env.pharos.url, file);
  // Tall enough for all four rows of panels (the page scrolls inside #outlet, which a full-page
  // screenshot does not capture).
  const page = await newPage(browser, { viewport: { width: 1440, height: 1400 } });
  await openUi(page, env.pharos.url, `/d/${uid}?from=now-2m&to=now`);
  const panels = await panelsSettled(page, 8);
  const byTitle = Object.fromEntries(panels.map((p) => [p.title, p]));
  const expected = {
    'Request Rate': 2, // GET and POST
    'Error Rate': 1,
    'Response Time (p95)': 1,
    'Active WebSocket Connections': 1,
    'Email Processing Rate': 1,
    'Database Query Performance': 1,
    'Cache Hit Rate': 1,
    'Agent Utilization': 1,
  };
  assert.deepEqual(Object.keys(byTitle).sort(), Object.keys(expected).sort());
  for (const [title, n] of Object.entries(expected)) {
    assert.equal(byTitle[title].series, n, `${title}: ${JSON.stringify(byTitle[title])}`);
    assert.ok(byTitle[title].points >= 2 * n, `${title} draws points: ${byTitle[title].points}`);
    assert.equal(byTitle[title].state, 'ok', title);
  }
  // Panels without a type are drawn as time series, on Grafana's grid: two columns of four.
  const boxes = await page.$$eval('[data-testid="dash-panel"]', (els) => els.map((e) => { const r = e.getBoundingClientRect(); return { x: Math.round(r.left), y: Math.round(r.top), w: Math.round(r.width) }; }));
  assert.equal(new Set(boxes.map((b) => b.x)).size, 2, JSON.stringify(boxes));
  assert.equal(new Set(boxes.map((b) => b.y)).size, 4, JSON.stringify(boxes));
  // The legend names the methods.
  const legend = await page.$eval('[data-panel-id="1"] .dash-panel-body', (b) => b.textContent);
  assert.match(legend, /GET/);
  assert.match(legend, /POST/);
  await screenshot(page, 'dashboard-crewai');

  // Edit mode: drag "Agent Utilization" (bottom right) by its header to the top left; the others
  // move down and the layout re-flows.
  await page.click('.ed-edit');
  await page.waitForSelector('.dash-grid.editing');
  const box = async (title) => page.$eval(`[data-testid="dash-panel"]:has([data-testid="panel-title"]:text-is("${title}"))`, (e) => { const r = e.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; });
  const grid = await page.$eval('.dash-grid', (e) => { const r = e.getBoundingClientRect(); return { x: r.left, y: r.top }; });
  const agent = await box('Agent Utilization');
  await page.mouse.move(agent.x + 60, agent.y + 14);
  await page.mouse.down();
  const steps = 12;
  for (let i = 1; i <= steps; i++) await page.mouse.move(agent.x + 60 + ((grid.x + 4 - agent.x) * i) / steps, agent.y + 14 + ((grid.y + 2 - agent.y) * i) / steps);
  await page.mouse.up();
  await page.waitForFunction(() => !document.querySelector('.dash-cell.dragging'));
  await page.waitForTimeout(300); // the re-flow transition
  const moved = await box('Agent Utilization');
  const grid2 = await page.$eval('.dash-grid', (e) => { const r = e.getBoundingClientRect(); return { x: r.left, y: r.top }; });
  grid.x = grid2.x;
  grid.y = grid2.y;
  const req = await box('Request Rate');
  assert.ok(Math.abs(moved.x - grid.x) < 2 && Math.abs(moved.y - grid.y) < 2, JSON.stringify({ moved, grid }));
  assert.ok(req.y >= moved.y + moved.h, `Request Rate moved below: ${JSON.stringify({ req, moved })}`);
  assert.ok(Math.abs(req.x - grid.x) < 2, JSON.stringify(req));
  assertNoPageErrors(page, assert);
  await page.context().close();
});

/** A dashboard exercising templating, a stat, rows, repeats, a failing query and empty data. */
function variablesDashboard() {
  return {
    uid: 'ui-vars',
    title: 'Templating <b>test</b>',
    tags: ['ui-test'],
    time: { from: 'now-5m', to: 'now' },
    graphTooltip: 1,
    templating: {
      list: [
        { name: 'method', label: 'Method', type: 'query', datasource: { type: 'prometheus', uid: 'prometheus' }, query: { query: 'label_values(http_requests_total, method)', refId: 'PrometheusVariableQueryEditor-VariableQuery' }, multi: true, includeAll: true, refresh: 1, sort: 1, current: {} },
        { name: 'route', type: 'query', datasource: 'Prometheus', query: 'label_values(http_requests_total{method=~"$method"}, route)', refresh: 2, current: {} },
        { name: 'window', type: 'custom', query: '1m,5m', current: { text: '1m', value: '1m' } },
        { name: 'secret', type: 'constant', query: 'x', hide: 2 },
      ],
    },
    panels: [
      { id: 1, type: 'stat', title: 'Total requests', gridPos: { x: 0, y: 0, w: 6, h: 6 }, targets: [{ refId: 'A', expr: 'sum(http_requests_total)', instant: true }], fieldConfig: { defaults: { unit: 'none', decimals: 0 }, overrides: [] }, options: { reduceOptions: { calcs: ['lastNotNull'] }, graphMode: 'none' } },
      { id: 2, type: 'timeseries', title: 'Requests by method ($method)', gridPos: { x: 6, y: 0, w: 18, h: 8 }, targets: [{ refId: 'A', expr: 'sum by (method) (rate(http_requests_total{method=~"$method", route=~"$route"}[$window]))', legendFormat: '{{method}}' }] },
      { id: 3, type: 'row', title: 'Details for $route', collapsed: false, gridPos: { x: 0, y: 8, w: 24, h: 1 }, panels: [] },
      { id: 4, type: 'timeseries', title: 'Broken query', gridPos: { x: 0, y: 9, w: 8, h: 7 }, targets: [{ refId: 'A', expr: 'sum(rate(http_requests_total[5m]' }] },
      { id: 5, type: 'timeseries', title: 'Only $method', repeat: 'method', repeatDirection: 'h', maxPerRow: 4, gridPos: { x: 0, y: 16, w: 8, h: 7 }, targets: [{ refId: 'A', expr: 'sum(rate(http_requests_total{method="$method"}[1m]))' }] },
      { id: 6, type: 'timeseries', title: 'Nothing here', gridPos: { x: 8, y: 9, w: 8, h: 7 }, targets: [{ refId: 'A', expr: 'no_such_metric_anywhere' }] },
    ],
  };
}

test('variables drive the queries; stat, rows, repeats, a failing and an empty panel', async () => {
  const uid = await saveDashboard(env.pharos.url, variablesDashboard());
  const page = await newPage(browser, { viewport: { width: 1440, height: 1100 } });
  const sent = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/query')) sent.push(new URLSearchParams(r.postData() ?? '').get('query') ?? '');
  });
  // A fixed end a few seconds ago, so the stat and /api/v1/query evaluate at the same instant.
  const to = Date.now() - 3000;
  const from = to - 5 * 60_000;
  await openUi(page, env.pharos.url, `/d/${uid}?from=${from}&to=${to}`);
  let panels = await panelsSettled(page, 6);
  const byId = (id) => panels.filter((p) => p.id === id);

  // Title and labels are text, never markup.
  assert.equal(await page.textContent('[data-testid="dash-title"]'), 'Templating <b>test</b>');
  assert.equal(await page.$$eval('.dash-header b', (e) => e.length), 0);

  // The stat shows what /api/v1/query answers at the range's end.
  const { body } = await api(env.pharos.url, `/api/v1/query?query=${encodeURIComponent('sum(http_requests_total)')}&time=${Math.floor(to / 1000)}`);
  const expected = Number(body.data.result[0].value[1]);
  assert.ok(expected > 0);
  assert.equal(Number(byId(1)[0].value.replace(/[^0-9.]/g, '')), expected, JSON.stringify(byId(1)));

  // method = All: the multi-value regex of both values; two series; the repeat draws two panels.
  assert.ok(sent.some((q) => q.includes('method=~"(GET|POST)"') && q.includes('route=~"/api"') && q.includes('[1m]')), sent.join('\n'));
  assert.equal(byId(2)[0].series, 2);
  assert.deepEqual(byId(5).map((p) => p.title).sort(), ['Only GET', 'Only POST']);
  assert.deepEqual(byId(5).map((p) => p.series), [1, 1]);
  assert.equal(await page.textContent('[data-testid="var-method"]'), 'All▾');
  assert.equal(await page.textContent('.dash-row-title'), 'Details for /api');

  // The failing query shows the server's message; the others still draw.
  assert.equal(byId(4)[0].state, 'error');
  assert.match(byId(4)[0].text + byId(4)[0].error, /parse|unexpected|unclosed|expected/i);
  assert.ok(panels.filter((p) => p.state === 'ok').length >= 4);
  await screenshot(page, 'dashboard-error-panel');

  // Empty data says so.
  assert.equal(byId(6)[0].state, 'empty');
  assert.match(byId(6)[0].text, /No data/);

  // Pick GET only: the query sent changes, one series, one repeat, URL updated.
  sent.length = 0;
  await page.click('[data-testid="var-method"]');
  await page.click('.dash-var-menu .dash-var-option:has-text("GET")');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => new URL(location.href).searchParams.getAll('var-method').join() === 'GET');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="dash-panel"][data-panel-id="5"]').length === 1);
  panels = await panelsSettled(page, 5);
  assert.ok(sent.some((q) => q.includes('method=~"GET"')), sent.join('\n'));
  assert.ok(!sent.some((q) => q.includes('(GET|POST)')), sent.join('\n'));
  assert.equal(panels.find((p) => p.id === 2).series, 1);
  assert.equal(panels.find((p) => p.id === 2).title, 'Requests by method (GET)');
  assert.deepEqual(panels.filter((p) => p.id === 5).map((p) => p.title), ['Only GET']);
  await screenshot(page, 'dashboard-variables');

  // The row collapses (its panels go away) and expands again.
  await page.click('[data-testid="dash-row"]');
  await page.waitForFunction(() => !document.querySelector('[data-testid="dash-panel"][data-panel-id="4"]'));
  assert.match(await page.textContent('[data-testid="dash-row"]'), /\(3 panels\)/);
  assert.equal(await page.$$eval('[data-testid="dash-panel"]', (e) => e.length), 2);
  await page.click('[data-testid="dash-row"]');
  await panelsSettled(page, 5);

  // Deep link: a reload keeps the range and the variables.
  await page.reload({ waitUntil: 'domcontentloaded' });
  panels = await panelsSettled(page, 5);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('from'), String(from));
  assert.equal(url.searchParams.get('to'), String(to));
  assert.deepEqual(url.searchParams.getAll('var-method'), ['GET']);
  assert.equal(await page.textContent('[data-testid="var-method"]'), 'GET▾');
  assert.equal(panels.find((p) => p.id === 2).series, 1);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

/**
 * 50 series of `ui_bench_value` scraped every 15 s for the last 24 h, in one remote-write
 * request (hour-sized requests raced the head's block cut, which then refused the next hours
 * as out of bounds), to a pharos without other data.
 */
async function writeBenchData(base) {
  const end = Date.now();
  const start = end - 24 * 3600_000;
  const batch = [];
  for (let k = 0; k < 50; k++) {
    const samples = [];
    for (let t = start; t <= end; t += 15_000) samples.push([t, Math.sin(t / 600_000 + k) * 10 + k]);
    batch.push({ labels: { __name__: 'ui_bench_value', job: 'bench', series: `s${k}` }, samples });
  }
  await remoteWrite(base, batch);
}

/** The Content-Encoding of a GET answer for `accept` (node:http: nothing decoded). */
function contentEncoding(url, accept) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'Accept-Encoding': accept } }, (res) => {
      res.resume();
      resolve(res.headers['content-encoding'] ?? 'identity');
    }).on('error', reject);
  });
}

function bigDashboard(uid, extra = {}) {
  return {
    uid,
    title: `20 panels × 50 series (${uid})`,
    time: { from: 'now-24h', to: 'now' },
    panels: Array.from({ length: 20 }, (_, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: `Panel ${i + 1}`,
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      targets: [{ refId: 'A', expr: `ui_bench_value{job="bench"} + ${i}`, legendFormat: '{{series}}' }],
      options: { legend: { showLegend: false } },
      ...extra,
    })),
  };
}

async function measure(page, base, uid, label) {
  await page.evaluate(() => (performance.clearMeasures(), performance.clearResourceTimings()));
  const t0 = Date.now();
  await openUi(page, base, `/d/${uid}`);
  // First screen: every panel in the viewport drawn with 50 series (the UI loads the next screen
  // ahead; the rest waits for a scroll, as in Grafana).
  const firstScreen = () => {
    const view = document.querySelector('#outlet').getBoundingClientRect();
    const inView = [...document.querySelectorAll('[data-testid="dash-panel"]')].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.height > 0 && r.bottom > view.top && r.top < view.bottom;
    });
    const drawn = inView.length > 0 && inView.every((e) => e.querySelector('.dash-panel-body').dataset.seriesCount === '50');
    return document.querySelectorAll('[data-testid="dash-panel"]').length === 20 && drawn && inView.length;
  };
  const inView = await (await page.waitForFunction(firstScreen, null, { timeout: 120000, polling: 20 })).jsonValue();
  const firstMs = Date.now() - t0;
  const firstQueries = await page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/query_range') && !e.name.includes('ALERTS')).length);
  // Then scroll down through the whole dashboard: every panel draws.
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('[data-testid="dash-panel"]')];
    const waiting = b.find((p) => p.dataset.state === 'deferred');
    if (waiting) return void waiting.scrollIntoView({ block: 'start' });
    return b.length === 20 && b.every((e) => e.querySelector('.dash-panel-body').dataset.seriesCount === '50');
  }, null, { timeout: 120000, polling: 20 });
  const ms = Date.now() - t0;
  const points = await page.$$eval('[data-testid="dash-panel"] .dash-panel-body', (b) => b.reduce((n, e) => n + Number(e.dataset.pointCount || 0), 0));
  const net = await page.evaluate(() => {
    const q = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/query_range') && !e.name.includes('ALERTS'));
    const first = Math.min(...q.map((e) => e.startTime));
    const last = Math.max(...q.map((e) => e.responseEnd));
    const server = q.map((e) => e.responseStart - e.requestStart).sort((a, b) => a - b);
    const download = q.map((e) => e.responseEnd - e.responseStart).sort((a, b) => a - b);
    // The UI's own user timing: JSON.parse of each answer, each panel's query (request to
    // series) and its draw, in main-thread ms.
    const sum = (name) => {
      const m = performance.getEntriesByName(name, 'measure');
      return { n: m.length, ms: Math.round(m.reduce((a, e) => a + e.duration, 0)), max: Math.round(Math.max(0, ...m.map((e) => e.duration))) };
    };
    return {
      count: q.length,
      first: Math.round(first),
      spanMs: Math.round(last - first),
      medianServerMs: Math.round(server[server.length >> 1] ?? 0),
      medianDownloadMs: Math.round(download[download.length >> 1] ?? 0),
      bytes: q.reduce((n, e) => n + (e.encodedBodySize || 0), 0),
      decoded: q.reduce((n, e) => n + (e.decodedBodySize || 0), 0),
      // Before the first panel query: the page, the bundle, the dashboard JSON and the data
      // sources (ms after navigation start, when each answer was in).
      boot: (() => {
        const res = performance.getEntriesByType('resource');
        const end = (needle) => Math.round(res.find((e) => e.name.includes(needle))?.responseEnd ?? NaN);
        const nav = performance.getEntriesByType('navigation')[0];
        return { html: Math.round(nav?.responseEnd ?? NaN), js: end('/ui/app.js'), dashboard: end('/api/dashboards/uid/'), datasources: end('/api/datasources'), config: end('/api/v1/status/config') };
      })(),
      parse: sum('pharos:json-parse'),
      query: sum('pharos:panel-query'),
      draw: sum('pharos:panel-draw'),
    };
  });
  console.log(`# dashboard render: ${label}: main thread: JSON.parse ${net.parse.ms} ms over ${net.parse.n} answers (max ${net.parse.max}), panel draw ${net.draw.ms} ms over ${net.draw.n} (max ${net.draw.max}); panel query (request to series) max ${net.query.max} ms; median download ${net.medianDownloadMs} ms; ${(net.decoded / 1e6).toFixed(1)} MB of JSON`);
  console.log(`# dashboard render: ${label}: 20 panels × 50 series: the ${inView} panels in view drawn ${firstMs} ms after navigation (${firstQueries} range queries); all 20 drawn after scrolling through, ${ms} ms, ${points} points (first query at ${net.first} ms, ${net.count} queries answered over ${net.spanMs} ms, median server time ${net.medianServerMs} ms, ${(net.bytes / 1e6).toFixed(1)} MB)`);
  const b = net.boot;
  console.log(`# dashboard render: ${label}: before the first query (ms after navigation, answer in): page ${b.html}, app.js ${b.js}, dashboard JSON ${b.dashboard}, datasources ${b.datasources}, config ${b.config}; first query at ${net.first}`);
  return { ms, firstMs, inView, firstQueries, queries: net.count, points };
}

test('20 panels × 50 series over 24 h: render time is measured', async () => {
  const bench = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n', 'pharos.yml');
  try {
    await writeBenchData(bench.url);
    const { body } = await api(bench.url, `/api/v1/query?query=${encodeURIComponent('count(count_over_time(ui_bench_value[25h]) > 5000)')}`);
    assert.equal(body.data.result[0]?.value[1], '50', JSON.stringify(body));
    // Answers are zstd for clients that take it (browsers), gzip for the others.
    const q = `/api/v1/query_range?query=ui_bench_value&start=${Math.floor(Date.now() / 1000) - 3600}&end=${Math.floor(Date.now() / 1000)}&step=60`;
    assert.equal(await contentEncoding(bench.url + q, 'gzip, deflate, br, zstd'), 'zstd');
    assert.equal(await contentEncoding(bench.url + q, 'gzip, deflate'), 'gzip');
    await saveDashboard(bench.url, bigDashboard('ui-big'));
    await saveDashboard(bench.url, bigDashboard('ui-big-15s', { interval: '15s', maxDataPoints: 5760 }));
    const page = await newPage(browser, { viewport: { width: 1440, height: 900 } });
    const a = await measure(page, bench.url, 'ui-big', "Grafana's step for the panel width");
    assert.equal(await page.$$eval('[data-testid="dash-panel"][data-state="ok"]', (e) => e.length), 20);
    // Lazy loading: the first screen asked for the panels in view and some of the next screen,
    // not for the whole dashboard; each panel asked once.
    assert.ok(a.inView < 20 && a.firstQueries >= a.inView && a.firstQueries < 20, JSON.stringify(a));
    assert.equal(a.queries, 20, JSON.stringify(a));
    await page.evaluate(() => document.querySelector('#outlet').scrollTo(0, 0));
    await screenshot(page, 'dashboard-20x50');
    const b = await measure(page, bench.url, 'ui-big-15s', '15 s step (5761 points per series)');
    assert.ok(b.points > a.points);
    assertNoPageErrors(page, assert);
    await page.context().close();
  } finally {
    stop(bench);
  }
});

/** An old Grafana export: rows (schemaVersion 14), singlestat, graph, `${DS_...}` inputs, datasource/interval variables, a regex. */
function legacyDashboard(title) {
  return {
    __inputs: [{ name: 'DS_PROM', label: 'prom', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
    uid: 'ui-legacy',
    title,
    schemaVersion: 14,
    version: 1,
    time: { from: 'now-5m', to: 'now' },
    templating: {
      list: [
        { name: 'ds', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        { name: 'job', type: 'query', datasource: '${DS_PROM}', query: 'label_values(up, job)', regex: '/crewai.*/', refresh: 1, current: {} },
        { name: 'iv', type: 'interval', query: '1m,5m', auto: true, auto_count: 30, auto_min: '1m', current: { text: 'auto', value: '$__auto_interval_iv' } },
      ],
    },
    rows: [
      {
        title: 'Overview',
        height: '250px',
        showTitle: true,
        panels: [
          { id: 1, type: 'singlestat', title: 'Agents busy', datasource: '${DS_PROM}', span: 4, targets: [{ refId: 'A', expr: 'avg(agent_utilization{job="$job"})' }], format: 'percent', valueName: 'current', thresholds: '50,80', colors: ['#299c46', 'rgba(237, 129, 40, 0.89)', '#d44a3a'] },
          { id: 2, type: 'graph', title: 'Requests of $job', datasource: '$ds', span: 8, targets: [{ refId: 'A', expr: 'sum by (status) (rate(http_requests_total{job="$job"}[$iv]))', legendFormat: 'status {{status}}' }], yaxes: [{ format: 'reqps' }, { format: 'short' }], lines: true, fill: 1, stack: true, legend: { show: true } },
        ],
      },
      { title: 'Collapsed', collapse: true, height: 200, panels: [{ id: 3, type: 'graph', title: 'Hidden', span: 12, targets: [{ refId: 'A', expr: 'up' }] }] },
    ],
  };
}

test('a provisioned legacy dashboard draws, and a change to its file shows without a reload', async () => {
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, '/d/ui-legacy');
  const panels = await panelsSettled(page, 2);
  const stat = panels.find((p) => p.id === 1);
  assert.equal(stat.value, '75%', JSON.stringify(stat)); // agent_utilization = 75, format percent
  const graph = panels.find((p) => p.id === 2);
  assert.equal(graph.title, 'Requests of crewai-app'); // the regex dropped missing-service
  assert.equal(graph.series, 2, JSON.stringify(graph));
  assert.match(graph.text, /status 200/);
  assert.match(graph.text, /status 500/);
  assert.deepEqual(await page.$$eval('[data-testid="dash-row"]', (r) => r.map((e) => e.textContent)), ['▾Overview', '▸Collapsed(1 panel)']);
  assert.match(await page.textContent('.dash-badges'), /provisioned/);
  // Edit the file on disk: the page follows (pharos rescans, the page polls the version).
  fs.writeFileSync(path.join(provDir, 'legacy.json'), JSON.stringify(legacyDashboard('Legacy rows, edited on disk'), null, 2));
  await page.waitForFunction(() => document.querySelector('[data-testid="dash-title"]')?.textContent === 'Legacy rows, edited on disk', null, { timeout: 30000 });
  await panelsSettled(page, 2);
  await screenshot(page, 'dashboard-legacy-provisioned');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('unknown uid and a stopped server show a message, not a blank page', async () => {
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, '/d/no-such-dashboard');
  await page.waitForSelector('.msg-error');
  assert.match(await page.textContent('#outlet'), /no dashboard with uid "no-such-dashboard"/);
  assert.equal(await page.getAttribute('#outlet a[href="/dashboards"]', 'href'), '/dashboards');

  const other = await startPharos(null);
  await saveDashboard(other.url, { uid: 'ui-stop', title: 'Stopping', panels: [{ id: 1, type: 'timeseries', title: 'One', gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ refId: 'A', expr: 'vector(1)' }] }] });
  await openUi(page, other.url, '/d/ui-stop?from=now-5m&to=now');
  let panels = await panelsSettled(page, 1);
  assert.equal(panels[0].series, 1);
  stop(other);
  await page.click('[data-testid="refresh-now"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="dash-panel"]')?.dataset.state === 'error', null, { timeout: 20000 });
  panels = await panelsSettled(page, 1);
  assert.match(panels[0].error, /not reachable/);
  await screenshot(page, 'dashboard-server-stopped');
  await page.context().close();
});
