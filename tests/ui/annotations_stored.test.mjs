// Stored annotations in the browser (Grafana's built-in "-- Grafana --" source over
// /api/annotations): a dashboard without an annotations list still shows its own annotations
// (the implicit built-in query), a tags query shows tagged ones from anywhere, a panel-scoped
// one only on its panel; Ctrl+click on a chart opens the "Add annotation" form, which stores the
// annotation on that dashboard and panel; hovering a marker shows its text as text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, api, remoteWrite } from './helpers.mjs';

const XSS = '<img src=x onerror=alert(1)>';
const MIN = 60_000;
const now = Date.now();
let pharos, browser;

async function post(path, body) {
  const res = await fetch(`${pharos.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json;
}

before(async () => {
  pharos = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n', 'pharos.yml');
  const samples = [];
  for (let t = now - 60 * MIN; t <= now; t += 15_000) samples.push([t, 5 + Math.sin(t / 300_000)]);
  await remoteWrite(pharos.url, [{ labels: { __name__: 'ui_stored_ann', service: 'api' }, samples }]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  stop(pharos);
});

const panel = (id, x) => ({ id, type: 'timeseries', title: `Panel ${id}`, gridPos: { x, y: 0, w: 12, h: 10 }, targets: [{ refId: 'A', expr: 'ui_stored_ann' }] });

/** Annotation markers drawn per panel id, once both panels drew. */
async function counts(page) {
  await page.waitForFunction(() => {
    const p = [...document.querySelectorAll('[data-testid="dash-panel"]')];
    return p.length === 2 && p.every((e) => e.dataset.state === 'ok' && e.querySelector('.dash-panel-body').dataset.annotationCount !== undefined);
  }, null, { timeout: 30000 });
  return page.$$eval('[data-testid="dash-panel"]', (els) => Object.fromEntries(els.map((e) => [e.dataset.panelId, Number(e.querySelector('.dash-panel-body').dataset.annotationCount)])));
}

test('stored annotations: dashboard, tags and panel scope; Ctrl+click adds one; hover shows its text', async () => {
  await post('/api/dashboards/db', {
    dashboard: {
      uid: 'ui-stored-ann',
      title: 'Stored annotations',
      time: { from: 'now-1h', to: 'now' },
      annotations: { list: [{ name: 'Deploys (tag)', datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, iconColor: '#FADE2A', target: { type: 'tags', tags: ['deploy'] } }] },
      panels: [panel(1, 0), panel(2, 12)],
    },
  });
  // On this dashboard (a region), tagged elsewhere (a point), and one only on panel 2.
  await post('/api/annotations', { dashboardUID: 'ui-stored-ann', time: now - 40 * MIN, timeEnd: now - 35 * MIN, text: `Outage ${XSS}`, tags: ['incident'] });
  await post('/api/annotations', { time: now - 20 * MIN, text: 'deploy v7', tags: ['deploy'] });
  await post('/api/annotations', { dashboardUID: 'ui-stored-ann', panelId: 2, time: now - 10 * MIN, text: 'only panel 2' });

  const page = await newPage(browser);
  await openUi(page, pharos.url, '/d/ui-stored-ann');
  // Plus pharos' own start (the built-in query's pharos events) on both.
  assert.deepEqual(await counts(page), { 1: 3, 2: 4 });

  // Hover the region: the text is text.
  await page.locator('[data-panel-id="1"] .viz-annotation-region .viz-annotation-marker').hover();
  await page.waitForSelector('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]');
  const tip = await page.textContent('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]');
  assert.ok(tip.includes(`Outage ${XSS}`) && tip.includes('incident'), tip);
  assert.equal(await page.$$eval('.viz-tooltip img', (e) => e.length), 0);

  // Ctrl+click near the right edge of panel 1's plot: the form, then the stored annotation.
  const over = page.locator('[data-panel-id="1"] .u-over');
  const box = await over.boundingBox();
  await page.keyboard.down('Control');
  await over.click({ position: { x: box.width * 0.9, y: box.height / 2 } });
  await page.keyboard.up('Control');
  await page.waitForSelector('[data-testid="annotate-form"]');
  await page.fill('[data-testid="annotate-text"]', 'Cache flushed by hand');
  await page.fill('[data-testid="annotate-tags"]', 'ops, cache');
  await screenshot(page, 'dashboard-annotation-add');
  await page.click('[data-testid="annotate-save"]');
  await page.waitForSelector('[data-testid="annotate-form"]', { state: 'detached' });
  await page.waitForFunction(() => document.querySelector('[data-panel-id="1"] .dash-panel-body').dataset.annotationCount === '4', null, { timeout: 15000 });
  assert.deepEqual(await counts(page), { 1: 4, 2: 4 });
  const { body } = await api(pharos.url, '/api/annotations?dashboardUID=ui-stored-ann&panelId=1');
  assert.equal(body.length, 1, JSON.stringify(body));
  assert.equal(body[0].text, 'Cache flushed by hand');
  assert.deepEqual(body[0].tags, ['ops', 'cache']);
  assert.ok(Math.abs(body[0].time - (now - 6 * MIN)) < 4 * MIN, `time ${new Date(body[0].time).toISOString()}`);

  // Its marker's tooltip.
  const markers = page.locator('[data-panel-id="1"] [data-testid="annotation"]:not(.viz-annotation-region) .viz-annotation-marker');
  const tips = [];
  for (let i = 0; i < (await markers.count()); i++) {
    await markers.nth(i).hover();
    await page.waitForSelector('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]');
    tips.push(await page.textContent('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]'));
  }
  assert.ok(tips.some((t) => t.includes('Cache flushed by hand') && t.includes('ops')), JSON.stringify(tips));
  assert.ok(tips.some((t) => t.includes('deploy v7')), JSON.stringify(tips));
  assert.ok(tips.some((t) => t.includes('pharos: pharos started')), JSON.stringify(tips));
  await screenshot(page, 'dashboard-annotations-stored');
  assertNoPageErrors(page, assert);
  assert.deepEqual(page.pharosDialogs, []);
  await page.context().close();
});
