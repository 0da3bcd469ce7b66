// Exemplars and annotations beyond the time series panel, in Chromium against a pharos filled by
// the test: a Prometheus target with `exemplar: true` draws the remote-written exemplars as
// markers on its time series panel, each with a trace id a link to that trace's page (hover shows
// the exemplar's labels as text); state timeline, status history, bar chart and candlestick
// panels draw the dashboard's stored annotations (a point and a region).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, remoteWrite, sendTrace } from './helpers.mjs';

const MIN = 60_000;
const XSS = '<img src=x onerror=alert(1)>';
const now = Date.now();
let pharos, browser, trace;

before(async () => {
  pharos = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n', 'pharos.yml');
  trace = await sendTrace(pharos.url);
  // 2 h at 15 s: a level that steps 1 → 2 → 3 every 10 minutes, with three exemplars.
  const samples = [];
  for (let t = now - 120 * MIN; t <= now; t += 15_000) samples.push([t, 1 + (Math.floor((now - t) / (10 * MIN)) % 3)]);
  const exemplars = [
    [now - 90 * MIN, 2, { trace_id: trace.traceId, span_id: trace.spanIds[0] }],
    [now - 50 * MIN, 3, { trace_id: trace.traceId }],
    [now - 30 * MIN, 1.5, { note: XSS }],
  ];
  await remoteWrite(pharos.url, [{ labels: { __name__: 'ui_ex_value', service: 'api' }, samples, exemplars }]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  stop(pharos);
});

async function post(path, body) {
  const res = await fetch(`${pharos.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

const target = { refId: 'A', expr: 'ui_ex_value', legendFormat: '{{service}}' };
const panel = (id, type, x, y, extra = {}) => ({ id, type, title: type, gridPos: { x, y, w: 12, h: 8 }, targets: [target], ...extra });

test('exemplars link to their trace; annotations on state timeline, status history, bar chart and candlestick', async () => {
  await post('/api/dashboards/db', {
    dashboard: {
      uid: 'ui-exemplars',
      title: 'Exemplars and annotations',
      // Ends before pharos started, so its own start is not among the annotations counted.
      time: { from: 'now-2h', to: 'now-5m' },
      panels: [
        panel(1, 'timeseries', 0, 0, { targets: [{ ...target, exemplar: true }] }),
        panel(2, 'state-timeline', 12, 0),
        panel(3, 'status-history', 0, 8, { interval: '5m' }),
        panel(4, 'barchart', 12, 8, { interval: '10m' }),
        panel(5, 'candlestick', 0, 16, { interval: '5m' }),
      ],
    },
  });
  await post('/api/annotations', { dashboardUID: 'ui-exemplars', time: now - 70 * MIN, text: `Deploy ${XSS}`, tags: ['deploy'] });
  await post('/api/annotations', { dashboardUID: 'ui-exemplars', time: now - 40 * MIN, timeEnd: now - 32 * MIN, text: 'Outage', tags: ['incident'] });

  const page = await newPage(browser, { viewport: { width: 1440, height: 1000 } });
  await openUi(page, pharos.url, '/d/ui-exemplars');
  await page.waitForFunction(() => {
    const p = [...document.querySelectorAll('[data-testid="dash-panel"]')];
    return p.length === 5 && p.every((e) => e.dataset.state === 'ok' && e.querySelector('.dash-panel-body').dataset.annotationCount !== undefined);
  }, null, { timeout: 30000 });
  const drawn = await page.$$eval('[data-testid="dash-panel"]', (els) =>
    Object.fromEntries(els.map((e) => {
      const b = e.querySelector('.dash-panel-body');
      return [e.dataset.panelType, { annotations: Number(b.dataset.annotationCount), markers: e.querySelectorAll('[data-testid="annotation"]').length, exemplars: e.querySelectorAll('[data-testid="exemplar"]').length }];
    })),
  );
  for (const type of ['timeseries', 'state-timeline', 'status-history', 'barchart', 'candlestick']) {
    assert.equal(drawn[type].annotations, 2, `${type}: ${JSON.stringify(drawn)}`);
    assert.equal(drawn[type].markers, 2, `${type}: ${JSON.stringify(drawn)}`);
  }
  assert.equal(drawn.timeseries.exemplars, 3, JSON.stringify(drawn));
  for (const type of ['state-timeline', 'barchart']) assert.equal(drawn[type].exemplars, 0);

  // No annotation marker covers a time axis label (they sit on the plot's bottom edge).
  const overlaps = await page.evaluate(() => {
    const out = [];
    const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    for (const panel of document.querySelectorAll('[data-testid="dash-panel"]')) {
      const labels = [...panel.querySelectorAll('.mp-tick, .vp-state-axis span, .u-axis')].map((e) => e.getBoundingClientRect());
      for (const m of panel.querySelectorAll('.mp-annotation-marker, .vp-ann-marker')) {
        const r = m.getBoundingClientRect();
        if (labels.some((l) => hit(r, l))) out.push(panel.dataset.panelType);
      }
    }
    return out;
  });
  assert.deepEqual(overlaps, [], 'annotation markers over axis labels');

  // The SVG charts' annotation tooltip is text.
  await page.locator('[data-panel-type="barchart"] [data-testid="annotation"] .mp-annotation-marker').first().hover();
  await page.waitForSelector('[data-panel-type="barchart"] .mp-tooltip:visible');
  const barTip = await page.textContent('[data-panel-type="barchart"] .mp-tooltip');
  assert.ok(barTip.includes(`Deploy ${XSS}`) && barTip.includes('deploy'), barTip);
  // The state timeline's marker carries it as its title.
  const stTitle = await page.getAttribute('[data-panel-type="state-timeline"] [data-testid="annotation"] .vp-ann-marker', 'title');
  assert.ok(stTitle.includes(`Deploy ${XSS}`), stTitle);

  // Exemplars: two link to the trace, the one without a trace id does not; hover shows labels.
  const hrefs = await page.$$eval('[data-panel-type="timeseries"] [data-testid="exemplar"]', (els) => els.map((e) => e.getAttribute('href')));
  assert.deepEqual(hrefs.filter(Boolean), [`/trace/${trace.traceId}`, `/trace/${trace.traceId}`]);
  assert.equal(hrefs.filter((h) => !h).length, 1);
  const noTrace = page.locator('[data-panel-type="timeseries"] span[data-testid="exemplar"]');
  await noTrace.hover();
  await page.waitForSelector('.viz-tooltip:not([hidden]) [data-testid="exemplar-tip"]');
  const xssTip = await page.textContent('.viz-tooltip:not([hidden]) [data-testid="exemplar-tip"]');
  assert.ok(xssTip.includes(`note=${XSS}`) && xssTip.includes('service="api"'), xssTip);
  assert.equal(await page.$$eval('.viz-tooltip img', (e) => e.length), 0);
  const first = page.locator('[data-panel-type="timeseries"] a[data-testid="exemplar"]').first();
  await first.hover();
  await page.waitForSelector('.viz-tooltip:not([hidden]) [data-testid="exemplar-tip"]');
  const tip = await page.textContent('.viz-tooltip:not([hidden]) [data-testid="exemplar-tip"]');
  assert.ok(tip.includes(`trace_id=${trace.traceId}`) && tip.includes('Click to open the trace'), tip);
  await screenshot(page, 'dashboard-exemplars-annotations');

  // Clicking it opens the trace view with the trace's spans.
  await first.click();
  await page.waitForURL((u) => u.pathname === `/trace/${trace.traceId}`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=span-row]').length === 3, null, { timeout: 20000 });
  assertNoPageErrors(page, assert);
  assert.deepEqual(page.pharosDialogs, []);
  await page.context().close();
});
