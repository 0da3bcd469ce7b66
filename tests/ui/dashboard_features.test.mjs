// Dashboard features beyond panels, against a pharos filled with exactly known data (remote
// write, pushed log lines, one alert rule): annotations (built-in alerts, Prometheus and Loki
// queries, toggles, panel filters, a hover tooltip that renders text), ad hoc filters and
// dashboard versions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api, remoteWrite, pushLogs } from './helpers.mjs';

const XSS = '<img src=x onerror=alert(1)>';
let pharos, browser;
const now = Date.now();
const MIN = 60_000;

before(async () => {
  const rules = 'groups:\n  - name: ann\n    interval: 1s\n    rules:\n      - alert: AnnWatch\n        expr: count(ui_ann_value) > 0\n        labels: { severity: info }\n        annotations: { summary: "ui_ann_value is reporting" }\n';
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pharos-ui-feat-'));
  fs.writeFileSync(path.join(dir, 'rules.yml'), rules);
  pharos = await startPharos(`global:\n  evaluation_interval: 1s\nrule_files:\n  - ${path.join(dir, 'rules.yml')}\n`);
  // 1 h of two services at 15 s, a deploy marker for 3 minutes 40 minutes ago.
  const series = [];
  for (const [service, base] of [['api', 10], ['worker', 20]]) {
    const samples = [];
    for (let t = now - 60 * MIN; t <= now; t += 15_000) samples.push([t, base + Math.sin(t / 300_000)]);
    series.push({ labels: { __name__: 'ui_ann_value', service, env: 'prod' }, samples });
  }
  const deploy = [];
  for (let t = now - 40 * MIN; t <= now - 37 * MIN; t += 15_000) deploy.push([t, 1]);
  series.push({ labels: { __name__: 'deploy_marker', app: 'api', version: 'v2' }, samples: deploy });
  await remoteWrite(pharos.url, series);
  await pushLogs(pharos.url, [
    { labels: { app: 'ann', kind: 'restart' }, line: `restart 1 ${XSS}`, tsMs: now - 20 * MIN },
    { labels: { app: 'ann', kind: 'restart' }, line: 'restart 2', tsMs: now - 10 * MIN },
  ]);
  await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/v1/alerts');
    return body?.data?.alerts?.some((a) => a.labels.alertname === 'AnnWatch' && a.state === 'firing');
  }, 30000, 'the AnnWatch alert fires');
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  stop(pharos);
});

async function saveDashboard(dashboard) {
  const res = await fetch(`${pharos.url}/api/dashboards/db`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ dashboard, overwrite: true }) });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** Per panel id: its annotation count (markers drawn) and series count, once every panel drew. */
async function drawnPanels(page, n) {
  await page.waitForFunction(
    (count) => {
      const p = [...document.querySelectorAll('[data-testid="dash-panel"]')];
      return p.length === count && p.every((e) => e.dataset.state === 'ok' && e.querySelector('.dash-panel-body').dataset.annotationCount !== undefined);
    },
    n,
    { timeout: 30000 },
  );
  return page.$$eval('[data-testid="dash-panel"]', (els) =>
    Object.fromEntries(els.map((e) => {
      const b = e.querySelector('.dash-panel-body');
      return [e.dataset.panelId, { annotations: Number(b.dataset.annotationCount), series: Number(b.dataset.seriesCount), markers: e.querySelectorAll('[data-testid="annotation"]').length, regions: e.querySelectorAll('.viz-annotation-region').length }];
    })),
  );
}

const tsPanel = (id, x, extra = {}) => ({ id, type: 'timeseries', title: `Panel ${id}`, gridPos: { x, y: 0, w: 12, h: 9 }, targets: [{ refId: 'A', expr: 'ui_ann_value' }], ...extra });

test('annotations: alerts, Prometheus regions and Loki lines are drawn, toggled and shown as text', async () => {
  await saveDashboard({
    uid: 'ui-ann',
    title: 'Annotations',
    time: { from: 'now-1h', to: 'now' },
    annotations: {
      list: [
        { builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' },
        { name: 'Deploys', datasource: { type: 'prometheus', uid: 'prom' }, enable: true, iconColor: '#FADE2A', expr: 'deploy_marker', step: '60s', titleFormat: 'Deploy {{version}}', textFormat: '{{app}} rolled out', tagKeys: 'app,version' },
        { name: 'Restarts', datasource: { type: 'loki', uid: 'loki' }, enable: true, iconColor: 'red', expr: '{app="ann"}', filter: { exclude: false, ids: [1] } },
        { name: 'Switched off', datasource: { type: 'prometheus', uid: 'prom' }, enable: false, expr: 'ui_ann_value' },
      ],
    },
    panels: [tsPanel(1, 0), tsPanel(2, 12)],
  });
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/d/ui-ann');
  let panels = await drawnPanels(page, 2);
  // Panel 1: the alert (1) + pharos' start + one deploy region + the two restart lines; panel 2
  // is filtered out of the Loki query, so it has the alert, pharos' start and the deploy only.
  assert.deepEqual(panels['1'], { annotations: 5, series: 2, markers: 5, regions: 1 }, JSON.stringify(panels));
  assert.deepEqual(panels['2'], { annotations: 3, series: 2, markers: 3, regions: 1 }, JSON.stringify(panels));
  // Toggles: the hidden built-in has none; the disabled one starts unchecked.
  const toggles = await page.$$eval('[data-testid="annotation-toggle"]', (els) => els.map((e) => [e.dataset.annotation, e.querySelector('input').checked]));
  assert.deepEqual(toggles, [['Deploys', true], ['Restarts', true], ['Switched off', false]]);

  // Hover the restart markers: the line is shown as text (no element injected, no dialog).
  const markers = page.locator('[data-panel-id="1"] [data-testid="annotation"]:not(.viz-annotation-region) .viz-annotation-marker');
  const tips = [];
  for (let i = 0; i < (await markers.count()); i++) {
    // Focus, not hover: pharos' start and the alert it fires right after share a pixel.
    await markers.nth(i).focus();
    await page.waitForSelector('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]');
    tips.push(await page.textContent('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]'));
  }
  const restart = tips.find((t) => t.includes('restart 1'));
  assert.ok(restart && restart.includes(XSS), JSON.stringify(tips));
  assert.ok(restart.includes('kind=restart'), restart);
  assert.ok(tips.some((t) => t.includes('AnnWatch: Alerting') && t.includes('ui_ann_value is reporting')), JSON.stringify(tips));
  assert.ok(tips.some((t) => t.includes('pharos: pharos started')), JSON.stringify(tips));
  assert.equal(await page.$$eval('.viz-tooltip img', (e) => e.length), 0);
  await screenshot(page, 'dashboard-annotations');
  await page.evaluate(() => document.activeElement?.blur());
  // The deploy region: title, text and tags from the labels.
  await page.locator('[data-panel-id="2"] .viz-annotation-region .viz-annotation-marker').hover();
  await page.waitForSelector('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]');
  const deployTip = await page.textContent('.viz-tooltip:not([hidden]) [data-testid="annotation-tip"]');
  assert.match(deployTip, /Deploy v2/);
  assert.match(deployTip, /api rolled out/);
  assert.match(deployTip, /Deploys/);
  assert.deepEqual(await page.$$eval('.viz-tooltip:not([hidden]) .viz-annotation-tags .label-chip', (e) => e.map((x) => x.textContent)), ['api', 'v2']);
  await screenshot(page, 'dashboard-annotation-tooltip');

  // Switch the Loki annotations off, then the disabled one on (one region per series: 2 more).
  await page.click('[data-annotation="Restarts"] input');
  await page.waitForFunction(() => document.querySelector('[data-panel-id="1"] .dash-panel-body').dataset.annotationCount === '3');
  await page.click('[data-annotation="Switched off"] input');
  await page.waitForFunction(() => document.querySelector('[data-panel-id="1"] .dash-panel-body').dataset.annotationCount === '5');
  panels = await drawnPanels(page, 2);
  assert.equal(panels['1'].regions, 3, JSON.stringify(panels));
  assertNoPageErrors(page, assert);
  assert.deepEqual(page.pharosDialogs, []);
  await page.context().close();
});

test('ad hoc filters: added in the header, inserted into every PromQL and LogQL selector, kept in the URL', async () => {
  await saveDashboard({
    uid: 'ui-adhoc',
    title: 'Ad hoc',
    time: { from: 'now-1h', to: 'now' },
    templating: { list: [{ name: 'Filters', type: 'adhoc', datasource: { type: 'prometheus', uid: 'prom' }, filters: [] }] },
    panels: [
      { id: 1, type: 'timeseries', title: 'By service', gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ refId: 'A', expr: 'sum by (service) (ui_ann_value)', legendFormat: '{{service}}' }] },
      { id: 2, type: 'stat', title: 'Count', gridPos: { x: 12, y: 0, w: 6, h: 8 }, targets: [{ refId: 'A', expr: 'count(ui_ann_value) or vector(0)', instant: true }] },
      { id: 3, type: 'logs', title: 'Restarts', gridPos: { x: 18, y: 0, w: 6, h: 8 }, targets: [{ refId: 'A', datasource: { type: 'loki', uid: 'l' }, expr: '{app="ann"} |= "restart"' }] },
    ],
  });
  let page = await newPage(browser);
  const sent = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/api/v1/query_range' || u.pathname === '/api/v1/query') sent.push(new URLSearchParams(r.postData() ?? '').get('query') ?? u.searchParams.get('query'));
    if (u.pathname === '/loki/api/v1/query_range') sent.push(u.searchParams.get('query'));
  });
  const state = () =>
    page.$$eval('[data-testid="dash-panel"]', (els) =>
      Object.fromEntries(els.map((e) => {
        const b = e.querySelector('.dash-panel-body');
        const d = b.matches('[data-series-count]') ? b : b.querySelector('[data-series-count]');
        return [e.dataset.panelId, { state: e.dataset.state, series: Number(d?.dataset.seriesCount ?? -1), value: d?.dataset.value ?? null, lines: e.querySelectorAll('[data-testid="log-row"], .log-row').length, text: b.textContent }];
      })),
    );
  await openUi(page, pharos.url, '/d/ui-adhoc');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="dash-panel"]')].every((p) => ['ok', 'empty'].includes(p.dataset.state)));
  let s = await state();
  assert.equal(s['1'].series, 2, JSON.stringify(s));
  assert.match(s['3'].text, /restart 2/);

  // Add service = api from the header form (keys and values come from the label APIs).
  sent.length = 0;
  await page.click('[data-testid="adhoc-add"]');
  await page.waitForFunction(() => [...document.querySelectorAll('.dash-adhoc-form datalist option')].some((o) => o.value === 'service'));
  await page.fill('[data-testid="adhoc-key"]', 'service');
  await page.selectOption('[data-testid="adhoc-op"]', '=');
  await page.focus('[data-testid="adhoc-value"]');
  await page.waitForFunction(() => [...document.querySelectorAll('.dash-adhoc-form datalist option')].some((o) => o.value === 'worker'));
  await page.fill('[data-testid="adhoc-value"]', 'api');
  await screenshot(page, 'dashboard-adhoc-form');
  await page.click('[data-testid="adhoc-apply"]');
  await page.waitForFunction(() => document.querySelector('[data-panel-id="1"] [data-series-count]')?.dataset.seriesCount === '1' && document.querySelector('[data-panel-id="3"]').dataset.state !== 'loading');
  assert.deepEqual(await page.$$eval('[data-testid="adhoc-filter"]', (e) => e.map((x) => x.textContent)), ['service = api×']);
  assert.ok(sent.includes('sum by (service) (ui_ann_value{service="api"})'), JSON.stringify(sent));
  assert.ok(sent.includes('count(ui_ann_value{service="api"}) or vector(0)'), JSON.stringify(sent));
  assert.ok(sent.includes('{app="ann",service="api"} |= "restart"'), JSON.stringify(sent));
  s = await state();
  assert.match(s['1'].text, /api/);
  assert.doesNotMatch(s['1'].text, /worker/);
  assert.equal(s['2'].value, '1', JSON.stringify(s['2']));
  assert.doesNotMatch(s['3'].text, /restart 2/); // the log streams have no service label
  assert.equal(new URL(page.url()).searchParams.getAll('var-Filters').join(), 'service|=|api');
  await screenshot(page, 'dashboard-adhoc');

  // A deep link with Grafana's URL form (in a new tab); removing the chip removes the filter.
  await page.context().close();
  page = await newPage(browser);
  await openUi(page, pharos.url, `/d/ui-adhoc?var-Filters=${encodeURIComponent('service|!=|api')}`);
  await page.waitForFunction(() => document.querySelector('[data-panel-id="1"] [data-series-count]')?.dataset.seriesCount === '1');
  assert.match((await state())['1'].text, /worker/);
  await page.click('[data-testid="adhoc-filter"] button');
  await page.waitForFunction(() => document.querySelector('[data-panel-id="1"] [data-series-count]')?.dataset.seriesCount === '2');
  assert.equal(new URL(page.url()).searchParams.getAll('var-Filters').length, 0);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('versions: every save is kept, two versions diff, an old one restores', async () => {
  let version = 0;
  for (const title of ['First title', 'Second title']) {
    const body = await saveDashboard({ uid: 'ui-ver', title: 'Versioned', version, time: { from: 'now-1h', to: 'now' }, panels: [{ id: 1, type: 'text', title, gridPos: { x: 0, y: 0, w: 12, h: 4 }, options: { content: title } }] });
    version = body.version;
  }
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/d/ui-ver');
  await page.waitForSelector('[data-testid="panel-title"]');
  await page.click('.ed-edit');
  await page.click('.ed-settings');
  await page.click('.ed-tab-versions');
  await page.waitForSelector('[data-testid="version-row"]');
  const rows = await page.$$eval('[data-testid="version-row"]', (r) => r.map((e) => e.dataset.version));
  assert.deepEqual(rows, ['2', '1']);
  await page.check('[data-testid="version-row"][data-version="1"] input');
  await page.check('[data-testid="version-row"][data-version="2"] input');
  await page.click('[data-testid="versions-compare"]');
  await page.waitForSelector('[data-testid="version-diff"]');
  assert.match(await page.textContent('[data-testid="version-diff-summary"]'), /Version 1 → 2: 3 lines added, 3 removed/);
  const changed = await page.$$eval('[data-testid="version-diff"] [data-kind="-"], [data-testid="version-diff"] [data-kind="+"]', (e) => e.map((x) => x.textContent.replace(/\s+/g, ' ')));
  // Removed lines first, then added ones, as diff -u shows them.
  assert.deepEqual(changed, ['- "version": 1,', '+ "version": 2,', '- "title": "First title",', '+ "title": "Second title",', '- "content": "First title"', '+ "content": "Second title"']);
  await screenshot(page, 'dashboard-versions-diff');
  await page.click('[data-testid="version-row"][data-version="1"] [data-testid="version-restore"]');
  await Promise.all([page.waitForNavigation(), page.click('[data-testid="version-restore-confirm"]')]);
  await page.waitForFunction(() => document.querySelector('[data-testid="panel-title"]')?.textContent === 'First title');
  const { body } = await api(pharos.url, '/api/dashboards/uid/ui-ver/versions');
  assert.deepEqual(body.versions.map((v) => [v.version, v.restoredFrom]), [[3, 1], [2, 0], [1, 0]]);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('stars: a dashboard starred in its header is the only one the Starred filter lists', async () => {
  await saveDashboard({ uid: 'ui-star-a', title: 'Star me', panels: [] });
  await saveDashboard({ uid: 'ui-star-b', title: 'Leave me', panels: [] });
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/d/ui-star-a');
  await page.waitForSelector('[data-testid="dash-title"]');
  assert.equal(await page.textContent('.dash-title [data-testid="star"]'), '☆');
  await page.click('.dash-title [data-testid="star"]');
  await page.waitForFunction(() => document.querySelector('.dash-title [data-testid="star"]').textContent === '★');
  assert.deepEqual((await api(pharos.url, '/api/user/stars')).body, ['ui-star-a']);
  await openUi(page, pharos.url, '/dashboards?starred=true');
  await page.waitForSelector('.dl-row');
  assert.deepEqual(await page.$$eval('.dl-row .dl-title', (e) => e.map((x) => x.textContent)), ['Star me']);
  assert.ok(await page.isChecked('[data-testid="dl-starred"]'));
  await screenshot(page, 'dashboards-starred');
  // Unstar from the list row: the filtered list empties after a reload.
  await page.click('.dl-row [data-testid="star"]');
  await page.waitForFunction(() => document.querySelector('.dl-row [data-testid="star"]').textContent === '☆');
  await openUi(page, pharos.url, '/dashboards?starred=true');
  await page.waitForFunction(() => /No starred dashboards yet/.test(document.querySelector('.dl-results')?.textContent ?? ''));
  assertNoPageErrors(page, assert);
  await page.context().close();
});
