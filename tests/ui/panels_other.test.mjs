// The non-time-series panels against a pharos filled with data: stat (the number /api/v1/query
// gives, threshold colour, value mappings, Grafana's unit formatting), gauge, bar gauge, table
// (instant `format: table` with label columns, sorting by header click), text (Markdown, and
// hostile HTML that must not create elements or run script), logs (lines from Loki, an XSS line
// shown as text), pie chart, state timeline, dashboard and alert lists, and the empty and error
// states. Screenshots: panel-stat-gauge, panel-table, panel-text, panel-logs, panel-misc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFilledPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api, pushLogs, sleep } from './helpers.mjs';

let env, browser;
before(async () => {
  env = await startFilledPharos();
  browser = await launchBrowser();
  // The dashboard API may still be landing: wait until it answers.
  await waitFor(async () => (await fetch(`${env.pharos.url}/api/search`)).status === 200, 30000, '/api/search');
});
after(async () => {
  await browser?.close();
  stop(env?.pharos, env?.app);
});

/** Flows panels left to right over Grafana's 24 columns (gridPos x/y from w/h). */
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
let nextId = 1;
const panel = (type, title, w, hgt, more = {}) => ({ id: nextId++, type, title, gridPos: { x: 0, y: 0, w, h: hgt }, ...more });

/** Waits until every panel has drawn (its body carries data-series-count); returns them by title. */
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
      return {
        title: p.querySelector('[data-testid="panel-title"]')?.textContent ?? '',
        series: Number(b.dataset.seriesCount),
        value: b.dataset.value ?? null,
        color: b.dataset.color ?? null,
        rows: b.dataset.rows ? Number(b.dataset.rows) : null,
        lines: b.dataset.lines ? Number(b.dataset.lines) : null,
        text: b.textContent,
      };
    }),
  );
  return Object.fromEntries(list.map((p) => [p.title, p]));
}

const body = (title) => `[data-testid="dash-panel"]:has([data-testid="panel-title"]:text-is("${title}")) .dash-panel-body`;

test('stat, gauge and bar gauge show the queried numbers, units and threshold colours', async () => {
  // The page evaluates the stat at the range's end in whole seconds: wait until a second ago
  // already has samples, or a page opened right after the first scrape finds none ("No data").
  await waitFor(async () => {
    const { body } = await api(env.pharos.url, `/api/v1/query?query=${encodeURIComponent('sum(http_requests_total)')}&time=${Math.floor(Date.now() / 1000) - 1}`);
    return body?.data?.result?.length > 0;
  }, 30000, 'samples a second old');
  const before = await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent('sum(http_requests_total)'));
  const low = Number(before.body.data.result[0].value[1]);
  const agents = (await api(env.pharos.url, '/api/v1/query?query=agent_utilization')).body.data.result.length;
  assert.ok(agents > 0, 'agent_utilization series');
  const units = [
    ['bytes', 'vector(1536)', '1.50 KiB'],
    ['percentunit', 'vector(0.123)', '12.3%'],
    ['s', 'vector(90)', '1.50 min'],
    ['short', 'vector(12345)', '12.3 K'],
    ['reqps', 'vector(5.5)', '5.50 req/s'],
    ['decbytes', 'vector(2500000)', '2.50 MB'],
    ['ms', 'vector(0.25)', '0.250 ms'],
    ['currencyUSD', 'vector(1234.5)', '$1.23K'],
    ['suffix:req', 'vector(42)', '42 req'],
    ['prefix:€', 'vector(7)', '€7'],
  ];
  const uid = await saveDashboard({
    title: 'Panels: stat and gauges',
    time: { from: 'now-15m', to: 'now' },
    panels: [
      panel('stat', 'Requests', 6, 5, {
        targets: [prom('sum(http_requests_total)', { instant: true })],
        fieldConfig: { defaults: { unit: 'none', decimals: 0, color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 1, color: 'red' }] } } },
        options: { colorMode: 'background', graphMode: 'none', reduceOptions: { calcs: ['lastNotNull'] } },
      }),
      panel('stat', 'By method', 6, 5, {
        targets: [prom('sum by (method) (http_requests_total)', { legendFormat: '{{method}}' })],
        fieldConfig: { defaults: { unit: 'short' } },
        options: { colorMode: 'value', graphMode: 'area' },
      }),
      panel('stat', 'Status mapped', 4, 5, {
        targets: [prom('vector(1)', { instant: true })],
        fieldConfig: { defaults: { mappings: [{ type: 'value', options: { 1: { text: 'UP', color: 'green' } } }] } },
      }),
      panel('stat', 'Nothing', 4, 5, { targets: [prom('nothing_here_metric_xyz')] }),
      panel('stat', 'Broken', 4, 5, { targets: [prom('sum(')] }),
      ...units.map(([unit, expr]) => panel('stat', `unit ${unit}`, 3, 3, { targets: [prom(expr, { instant: true })], fieldConfig: { defaults: { unit } }, options: { graphMode: 'none' } })),
      panel('gauge', 'Gauge 75', 6, 7, {
        targets: [prom('vector(75)', { instant: true })],
        fieldConfig: { defaults: { min: 0, max: 100, unit: 'percent', thresholds: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 50, color: 'orange' }, { value: 90, color: 'red' }] } } },
        options: { showThresholdMarkers: true, showThresholdLabels: true },
      }),
      panel('bargauge', 'Agents', 9, 7, {
        targets: [prom('agent_utilization', { legendFormat: '{{agent}}' })],
        fieldConfig: { defaults: { min: 0, max: 100, unit: 'percent' } },
        options: { displayMode: 'gradient', orientation: 'horizontal' },
      }),
      panel('bargauge', 'Agents LCD', 9, 7, {
        targets: [prom('agent_utilization', { legendFormat: '{{agent}}' })],
        fieldConfig: { defaults: { min: 0, max: 100, unit: 'percent' } },
        options: { displayMode: 'lcd', orientation: 'vertical' },
      }),
    ],
  });
  const page = await newPage(browser);
  // What the server answered the page for the stat's query (its evaluation time is the range's
  // end in whole seconds, which may precede the `before` query above by up to a second).
  const answers = [];
  page.on('response', async (res) => {
    if (!/\/api\/v1\/query(\?|$)/.test(res.url())) return;
    const form = new URLSearchParams(res.request().postData() ?? new URL(res.url()).search);
    if (form.get('query') !== 'sum(http_requests_total)') return;
    answers.push({ time: form.get('time'), body: await res.json().catch((e) => String(e)) });
  });
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 5 + units.length + 3);
  const after = await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent('sum(http_requests_total)'));
  const high = Number(after.body.data.result[0].value[1]);

  assert.notEqual(p.Requests.value, '', `the stat has a value: ${JSON.stringify({ shown: p.Requests, answers })}`);
  const shown = Number(p.Requests.value);
  assert.ok(Number.isInteger(shown), `stat shows an integer, got ${p.Requests.value}`);
  const answer = answers.at(-1);
  assert.ok(answer, 'the page asked /api/v1/query for sum(http_requests_total)');
  const answered = Number(answer.body?.data?.result?.[0]?.value?.[1]);
  const atSameTime = await api(env.pharos.url, `/api/v1/query?query=${encodeURIComponent('sum(http_requests_total)')}&time=${answer.time}`);
  const why = JSON.stringify({ shown: p.Requests, answers, atSameTime: atSameTime.body, low, high });
  assert.equal(shown, Math.round(answered), `the stat shows what the server answered the page: ${why}`);
  assert.equal(answer.body.data.result[0].value[1], atSameTime.body.data.result[0].value[1], `the same query at the same time answers the same: ${why}`);
  assert.ok(answered > 0 && answered <= high, `a scraped count: ${why}`);
  assert.equal(p.Requests.color.toUpperCase(), '#F2495C', 'above the threshold → red');
  assert.equal(p['By method'].series, 2, 'GET and POST');
  const titles = await page.$$eval(`${body('By method')} .vp-stat`, (els) => els.map((e) => e.dataset.title).sort());
  assert.deepEqual(titles, ['GET', 'POST']);
  // A sparkline needs two samples per series: right after the app starts the range may hold one,
  // so refresh until the scrapes have caught up.
  let sparkPoints = [];
  await waitFor(async () => {
    sparkPoints = await page.$$eval(`${body('By method')} svg.vp-sparkline`, (els) => els.map((e) => Number(e.dataset.points)));
    if (sparkPoints.length === 2) return true;
    await page.click('[data-testid=refresh-now]').catch(() => {});
    await sleep(1000);
    return false;
  }, 30000, 'two sparklines');
  assert.equal(sparkPoints.length, 2, 'a sparkline per series');
  assert.ok(sparkPoints.every((n) => n >= 2), `sparklines drawn from the series' points: ${sparkPoints}`);
  assert.equal(p['Status mapped'].value, 'UP');
  assert.equal(p['Status mapped'].color.toUpperCase(), '#73BF69');
  assert.equal(p.Nothing.series, 0);
  assert.match(p.Nothing.text, /No data/);
  assert.equal(p.Broken.series, 0);
  assert.match(p.Broken.text, /Query failed/);
  assert.match(p.Broken.text, /parenthesis|parse|unexpected/i, `the server's message is shown: ${p.Broken.text}`);
  for (const [unit, , want] of units) assert.equal(p[`unit ${unit}`].value, want, `unit ${unit}`);
  assert.equal(p['Gauge 75'].value, '75%');
  assert.equal(p['Gauge 75'].color.toUpperCase(), '#FF9830', '75 is in the orange band');
  const gaugePct = await page.$eval(`${body('Gauge 75')} .vp-gauge`, (e) => Number(e.dataset.percent));
  assert.equal(gaugePct, 0.75);
  const bands = await page.$$eval(`${body('Gauge 75')} svg path`, (els) => els.length);
  assert.ok(bands >= 5, `three threshold bands + track + value arc, got ${bands} paths`);
  assert.equal(p.Agents.series, agents);
  assert.equal(p['Agents LCD'].series, agents);
  const bars = await page.$$eval(`${body('Agents')} .vp-bar-row`, (els) => els.map((e) => ({ t: e.dataset.title, pct: Number(e.dataset.percent), v: e.dataset.value })));
  assert.equal(bars.length, agents);
  for (const b of bars) assert.ok(b.pct >= 0 && b.pct <= 1 && /%$/.test(b.v), JSON.stringify(b));
  await screenshot(page, 'panel-stat-gauge');
  assert.deepEqual(page.pharosDialogs, []);
  assertNoPageErrors(page, assert);
  await page.close();
});

test('a table from an instant format:table query has label columns and sorts by header click', async () => {
  const expr = 'sum by (method, status) (http_requests_total)';
  const res = await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent(expr));
  const n = res.body.data.result.length;
  assert.ok(n >= 2, 'several method/status combinations');
  const uid = await saveDashboard({
    title: 'Panels: table',
    time: { from: 'now-15m', to: 'now' },
    panels: [
      panel('table', 'Requests table', 14, 9, {
        targets: [prom(expr, { instant: true, format: 'table' })],
        fieldConfig: {
          defaults: {},
          overrides: [
            { matcher: { id: 'byName', options: 'Value' }, properties: [{ id: 'unit', value: 'short' }, { id: 'custom.cellOptions', value: { type: 'color-background' } }, { id: 'thresholds', value: { mode: 'absolute', steps: [{ value: null, color: 'green' }, { value: 1e12, color: 'red' }] } }] },
          ],
        },
      }),
      panel('table', 'Reduced', 10, 9, {
        targets: [prom('sum by (method) (rate(http_requests_total[1m]))', { legendFormat: '{{method}}' })],
        transformations: [{ id: 'reduce', options: { reducers: ['max', 'mean', 'lastNotNull'] } }],
        fieldConfig: { defaults: { unit: 'reqps', decimals: 2 } },
      }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 2);
  const t = p['Requests table'];
  assert.equal(t.rows, n, 'one row per result sample');
  const headers = await page.$$eval(`${body('Requests table')} .vp-th`, (els) => els.map((e) => e.dataset.col));
  assert.deepEqual(headers, ['Time', 'method', 'status', 'Value']);
  const rowsOf = () =>
    page.$$eval(`${body('Requests table')} .vp-table-row`, (els) =>
      els
        .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
        .map((r) => [...r.querySelectorAll('.vp-td')].map((c) => c.textContent)),
    );
  const cellColors = await page.$$eval(`${body('Requests table')} .vp-table-row .vp-td:last-child`, (els) => els.map((e) => e.getAttribute('style') ?? ''));
  assert.ok(cellColors.every((s) => /background/.test(s)), 'color-background cells');
  const parse = (s) => {
    const m = /^([\d.]+)\s*(K|Mil|Bil)?$/.exec(s.trim());
    return Number(m[1]) * ({ K: 1e3, Mil: 1e6, Bil: 1e9 }[m[2]] ?? 1);
  };
  await page.click(`${body('Requests table')} .vp-th[data-col="Value"]`);
  let rows = await rowsOf();
  let vals = rows.map((r) => parse(r[3]));
  assert.deepEqual(vals, [...vals].sort((a, b) => a - b), `ascending after one click: ${vals}`);
  await page.click(`${body('Requests table')} .vp-th[data-col="Value"]`);
  rows = await rowsOf();
  vals = rows.map((r) => parse(r[3]));
  assert.deepEqual(vals, [...vals].sort((a, b) => b - a), `descending after two clicks: ${vals}`);
  await page.click(`${body('Requests table')} .vp-th[data-col="method"]`);
  rows = await rowsOf();
  const methods = rows.map((r) => r[1]);
  assert.deepEqual(methods, [...methods].sort(), 'sorted by method');
  const apiMethods = res.body.data.result.map((r) => r.metric.method).sort();
  assert.deepEqual(methods, apiMethods, 'the label column holds the labels /api/v1/query returned');

  const reduced = p.Reduced;
  assert.equal(reduced.rows, 2, 'one row per series (GET, POST)');
  const rHeaders = await page.$$eval(`${body('Reduced')} .vp-th`, (els) => els.map((e) => e.dataset.col));
  assert.deepEqual(rHeaders, ['Field', 'Max', 'Mean', 'Last *']);
  const rRows = await page.$$eval(`${body('Reduced')} .vp-table-row`, (els) => els.map((r) => [...r.querySelectorAll('.vp-td')].map((c) => c.textContent)));
  for (const r of rRows) assert.match(r[1], /^\d+\.\d{2} req\/s$/, `reqps with 2 decimals: ${r}`);
  await screenshot(page, 'panel-table');
  assertNoPageErrors(page, assert);
  await page.close();
});

test('text panels render Markdown and neutralise hostile HTML', async () => {
  const markdown = [
    '# Runbook for $job',
    '',
    'Check **error rate** and _latency_ first; see `kubectl logs`.',
    '',
    '- step one',
    '- step two with [docs](https://example.com/docs)',
    '  - nested',
    '',
    '| Service | Owner |',
    '|---|:-:|',
    '| api | team-a |',
    '',
    '[evil](javascript:alert(1)) and [rel](/alerts)',
    '',
    '<img src=x onerror=alert(1)><script>alert(2)</script>',
    '',
    '```',
    'code <b>not bold</b>',
    '```',
  ].join('\n');
  const hostile = '<h2>Status</h2><p onclick="alert(3)">ok <b>bold</b></p><img src=x onerror=alert(1)><script>alert(2)</script><a href="javascript:alert(4)">js link</a><a href=" JaVaScRiPt:alert(5)">js2</a><iframe src="/"></iframe><svg onload=alert(6)></svg><a href="https://grafana.com">safe</a><style>body{display:none}</style>';
  const uid = await saveDashboard({
    title: 'Panels: text',
    time: { from: 'now-15m', to: 'now' },
    templating: { list: [{ name: 'job', type: 'constant', query: 'crewai-app' }] },
    panels: [
      panel('text', 'Markdown', 12, 12, { options: { mode: 'markdown', content: markdown } }),
      panel('text', 'HTML', 12, 12, { options: { mode: 'html', content: hostile } }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  await drawn(page, 2);
  const md = await page.$eval(body('Markdown'), (b) => ({
    h1: b.querySelector('h1')?.textContent,
    strong: b.querySelector('strong')?.textContent,
    em: b.querySelector('em')?.textContent,
    code: b.querySelector('p code')?.textContent,
    items: b.querySelectorAll('li').length,
    nested: b.querySelectorAll('li ul li').length,
    cells: [...b.querySelectorAll('table td')].map((c) => c.textContent),
    links: [...b.querySelectorAll('a')].map((a) => [a.textContent, a.getAttribute('href')]),
    pre: b.querySelector('pre')?.textContent,
    imgs: b.querySelectorAll('img').length,
    scripts: b.querySelectorAll('script').length,
    text: b.textContent,
  }));
  assert.equal(md.h1, 'Runbook for crewai-app', 'variables interpolated');
  assert.equal(md.strong, 'error rate');
  assert.equal(md.em, 'latency');
  assert.equal(md.code, 'kubectl logs');
  assert.equal(md.items, 3);
  assert.equal(md.nested, 1);
  assert.deepEqual(md.cells, ['api', 'team-a']);
  assert.deepEqual(md.links, [['docs', 'https://example.com/docs'], ['rel', '/alerts']], 'the javascript: link is text only');
  assert.match(md.text, /evil and rel/);
  assert.equal(md.pre, 'code <b>not bold</b>');
  assert.equal(md.imgs, 0);
  assert.equal(md.scripts, 0);
  const html = await page.$eval(body('HTML'), (b) => ({
    h2: b.querySelector('h2')?.textContent,
    bold: b.querySelector('b')?.textContent,
    handlers: [...b.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
    bad: b.querySelectorAll('img, script, iframe, svg, style').length,
    links: [...b.querySelectorAll('a')].map((a) => [a.textContent, a.getAttribute('href')]),
    text: b.textContent,
  }));
  assert.equal(html.h2, 'Status');
  assert.equal(html.bold, 'bold');
  assert.equal(html.handlers, 0);
  assert.equal(html.bad, 0);
  assert.deepEqual(html.links, [['safe', 'https://grafana.com']], 'javascript: links become plain text');
  assert.match(html.text, /js link/);
  await page.waitForTimeout(300); // an onerror would have fired by now
  assert.deepEqual(page.pharosDialogs, [], 'no script ran');
  await screenshot(page, 'panel-text');
  assertNoPageErrors(page, assert);
  await page.close();
});

test('a logs panel lists Loki lines newest first, as text', async () => {
  const now = Date.now();
  const xss = '<img src=x onerror=alert(1)>';
  await pushLogs(env.pharos.url, [
    { labels: { app: 'panels', level: 'info' }, line: 'service started', tsMs: now - 5000 },
    { labels: { app: 'panels', level: 'warn' }, line: 'slow request 1200ms', tsMs: now - 4000 },
    { labels: { app: 'panels', level: 'error' }, line: 'payment failed: timeout', tsMs: now - 3000 },
    { labels: { app: 'panels', level: 'info' }, line: xss, tsMs: now - 2000 },
    { labels: { app: 'panels', level: 'debug' }, line: 'newest line', tsMs: now - 1000 },
  ]);
  const uid = await saveDashboard({
    title: 'Panels: logs',
    time: { from: 'now-15m', to: 'now' },
    panels: [
      panel('logs', 'App logs', 24, 8, { targets: [{ refId: 'A', expr: '{app="panels"}', datasource: { type: 'loki', uid: 'l' } }], options: { showTime: true, wrapLogMessage: true, sortOrder: 'Descending', showLabels: true } }),
      panel('logs', 'No logs', 12, 4, { targets: [{ refId: 'A', expr: '{app="nothing-here"}', datasource: { type: 'loki', uid: 'l' } }] }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 2);
  assert.equal(p['App logs'].lines, 5);
  const lines = await page.$$eval(`${body('App logs')} .vp-log`, (els) => els.map((e) => [e.dataset.level, e.querySelector('.vp-log-line').textContent]));
  assert.deepEqual(lines.map((l) => l[1]), ['newest line', xss, 'payment failed: timeout', 'slow request 1200ms', 'service started']);
  assert.deepEqual(lines.map((l) => l[0]), ['debug', 'info', 'error', 'warn', 'info']);
  assert.equal(await page.$$eval(`${body('App logs')} img`, (e) => e.length), 0, 'the XSS line created no element');
  assert.equal(p['No logs'].series, 0);
  assert.match(p['No logs'].text, /No log lines/);
  assert.deepEqual(page.pharosDialogs, []);
  await screenshot(page, 'panel-logs');
  assertNoPageErrors(page, assert);
  await page.close();
});

test('pie chart, state timeline, dashboard list, alert list and news placeholder', async () => {
  const up = (await api(env.pharos.url, '/api/v1/query?query=up')).body.data.result.length;
  await waitFor(async () => (await api(env.pharos.url, '/api/v1/alerts')).body?.data?.alerts?.some((a) => a.state === 'firing'), 30000, 'a firing alert');
  const uid = await saveDashboard({
    title: 'Panels: misc',
    time: { from: 'now-5m', to: 'now' },
    panels: [
      panel('piechart', 'By method', 8, 8, {
        targets: [prom('sum by (method) (http_requests_total)', { legendFormat: '{{method}}', instant: true })],
        options: { pieType: 'donut', displayLabels: ['percent'], legend: { displayMode: 'list', placement: 'right', values: ['value', 'percent'] } },
      }),
      panel('state-timeline', 'Targets up', 16, 8, {
        targets: [prom('up', { legendFormat: '{{job}}' })],
        fieldConfig: { defaults: { mappings: [{ type: 'value', options: { 0: { text: 'DOWN', color: 'red' }, 1: { text: 'UP', color: 'green' } } }] } },
      }),
      panel('status-history', 'Up history', 12, 6, { targets: [prom('up', { legendFormat: '{{job}}' })] }),
      panel('dashlist', 'Dashboards', 6, 6, { options: { query: 'Panels', showHeadings: true } }),
      panel('alertlist', 'Alerts', 6, 6, { options: { stateFilter: { firing: true, pending: true } } }),
      panel('news', 'News', 6, 4, { options: { feedUrl: 'https://grafana.com/blog/news.xml' } }),
    ],
  });
  const firing = (await api(env.pharos.url, '/api/v1/alerts')).body.data.alerts.filter((a) => a.state === 'firing' || a.state === 'pending').length;
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 6);
  assert.equal(p['By method'].series, 2, 'a slice per method');
  const slices = await page.$$eval(`${body('By method')} path.vp-pie-slice`, (e) => e.length);
  assert.equal(slices, 2);
  assert.equal(p['Targets up'].series, up, 'a row per target');
  const segs = await page.$$eval(`${body('Targets up')} .vp-state-seg`, (els) => els.map((e) => e.dataset.value));
  assert.ok(segs.includes('UP') && segs.includes('DOWN'), `mapped states: ${segs}`);
  assert.equal(p['Up history'].series, up);
  const dashes = await page.$$eval(`${body('Dashboards')} a.vp-list-item .title`, (els) => els.map((e) => e.textContent));
  assert.ok(dashes.includes('Panels: misc') && dashes.every((t) => t.startsWith('Panels')), `dashlist: ${dashes}`);
  const alerts = await page.$$eval(`${body('Alerts')} .vp-alert .title`, (els) => els.map((e) => e.textContent));
  assert.ok(alerts.length >= 1 && Math.abs(alerts.length - firing) <= 1, `alertlist ${alerts.length} vs API ${firing}`);
  assert.ok(alerts.some((t) => t.startsWith('TargetDown') || t.startsWith('HighErrorRate')), `${alerts}`);
  assert.match(p.News.text, /not fetched/);
  await screenshot(page, 'panel-misc');
  assertNoPageErrors(page, assert);
  await page.close();
});

test('legacy and multi-frame shapes from community dashboards draw without a broken panel', async () => {
  const uid = await saveDashboard({
    title: 'Panels: legacy shapes',
    time: { from: 'now-15m', to: 'now' },
    panels: [
      panel('table', 'Series table', 12, 7, { targets: [prom('sum by (method) (http_requests_total)', { legendFormat: '{{method}}' })] }),
      panel('table-old', 'Old table', 12, 7, {
        targets: [prom('sum by (method) (http_requests_total)', { instant: true, format: 'table' })],
        styles: [
          { pattern: 'Time', type: 'hidden' },
          { pattern: 'Value', type: 'number', unit: 'short', decimals: 0, colorMode: 'cell', thresholds: ['1', '1000000'], colors: ['green', 'orange', 'red'], alias: 'Requests' },
        ],
      }),
      panel('stat', 'All values', 12, 5, {
        targets: [prom('sum by (method) (http_requests_total)', { instant: true, format: 'table' })],
        options: { reduceOptions: { values: true, calcs: [], fields: '' }, textMode: 'value_and_name' },
      }),
      panel('grafana-piechart-panel', 'Old pie', 12, 5, { targets: [prom('sum by (method) (http_requests_total)', { legendFormat: '{{method}}' })], pieType: 'pie', valueName: 'current', legend: { show: true, values: true } }),
      panel('bargauge', 'Percent thresholds', 12, 5, {
        targets: [prom('vector(30)', { instant: true })],
        fieldConfig: { defaults: { min: 0, max: 200, thresholds: { mode: 'percentage', steps: [{ value: null, color: 'green' }, { value: 10, color: 'dark-red' }] } } },
        options: { displayMode: 'basic' },
      }),
      panel('singlestat', 'Old singlestat', 12, 5, { targets: [prom('vector(3)', { instant: true })], format: 'percent', thresholds: '1,5', colors: ['green', 'orange', 'red'], colorValue: true, valueName: 'current' }),
    ],
  });
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}`);
  const p = await drawn(page, 6);
  assert.equal(p['Series table'].series, 2, 'two frames, one picker');
  assert.equal(await page.$$eval(`${body('Series table')} select option`, (o) => o.length), 2);
  const oldHeaders = await page.$$eval(`${body('Old table')} .vp-th`, (els) => els.map((e) => e.dataset.col));
  assert.deepEqual(oldHeaders, ['method', 'Requests'], 'hidden Time, aliased Value');
  assert.equal(p['All values'].series, 2, 'values: true → one stat per row');
  const names = await page.$$eval(`${body('All values')} .vp-stat`, (els) => els.map((e) => e.dataset.title).sort());
  assert.deepEqual(names, ['GET', 'POST']);
  assert.equal(p['Old pie'].series, 2);
  assert.equal(p['Percent thresholds'].color.toUpperCase(), '#C4162A', '30 of 0..200 is 15% → dark-red');
  assert.equal(p['Old singlestat'].value, '3%');
  assert.equal(p['Old singlestat'].color.toUpperCase(), '#FF9830');
  const broken = await page.$$eval('.dash-panel-body', (els) => els.filter((e) => /could not be drawn|Unsupported panel type/.test(e.textContent)).length);
  assert.equal(broken, 0);
  await screenshot(page, 'panel-legacy');
  assertNoPageErrors(page, assert);
  await page.close();
});
