// Dashboard list, import and editing in the browser: the guide's dashboard pasted into the
// import page appears in the list and opens; a grafana.com export's __inputs map to pharos' data
// sources; a panel added through the panel editor (live preview with series), a new title and
// unit are saved and survive a pharos restart on the same data directory; the exported JSON
// re-imports identically; a version conflict offers "Overwrite"; variables get a preview of
// their values; the list searches, filters by tag and deletes; a provisioned dashboard that
// cannot be saved says so; a stopped server shows a clear message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT,
  startPharos,
  startFilledPharos,
  restartPharos,
  launchBrowser,
  newPage,
  openUi,
  screenshot,
  assertNoPageErrors,
  stop,
  waitFor,
  api,
  tempDir,
} from './helpers.mjs';

const GUIDE = fs.readFileSync(path.join(ROOT, 'examples/dashboards/crewai.json'), 'utf8');

let env, browser, provDir;
const base = () => env.pharos.url;

before(async () => {
  provDir = tempDir('pharos-prov-');
  fs.writeFileSync(
    path.join(provDir, 'ops.json'),
    JSON.stringify({ uid: 'prov-ops', title: 'Provisioned Ops', tags: ['ops'], panels: [{ id: 1, type: 'stat', title: 'Up', targets: [{ expr: 'sum(up)' }], gridPos: { x: 0, y: 0, w: 6, h: 4 } }] }, null, 2),
  );
  env = await startFilledPharos({ extraPharosYml: `dashboards: {path: ${provDir}}` });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  stop(env?.pharos, env?.app);
});

async function getDash(uid) {
  const { status, body } = await api(base(), `/api/dashboards/uid/${uid}`);
  assert.equal(status, 200, `GET dashboard ${uid}: ${JSON.stringify(body)}`);
  return body;
}

async function importByPaste(page, text) {
  await openUi(page, base(), '/dashboards/import');
  await page.fill('.imp-text', text);
  await page.click('text=Load');
}

/** Clicks Import and waits for the dashboard's URL; fails with the page's message otherwise. */
async function clickImport(page, urlRe) {
  await page.click('.imp-go');
  await page.waitForFunction(
    (src) => new RegExp(src).test(location.pathname) || document.querySelector('.imp-result .msg-error'),
    urlRe.source,
    { timeout: 20000 },
  ).catch(async (e) => {
    await screenshot(page, 'dashboard-edit-FAILED-import');
    throw new Error(`${e.message} at ${page.url()}`);
  });
  const err = await page.$('.imp-result .msg-error');
  if (err) assert.fail(`import failed: ${await err.textContent()}`);
  await page.waitForURL(urlRe);
}

/** The model without what a save or import assigns. */
function comparable(d) {
  const { id, uid, version, ...rest } = d;
  return rest;
}

test('the empty list explains how to import or provision', async () => {
  const bare = await startPharos(null);
  try {
    const page = await newPage(browser);
    await openUi(page, bare.url, '/dashboards');
    await page.waitForSelector('.dl-empty');
    const text = await page.textContent('.dl-empty');
    assert.match(text, /No dashboards yet/);
    assert.match(text, /dashboards:\s+path:/);
    assert.ok(await page.$('.dl-empty a[href="/dashboards/import"]'));
    await screenshot(page, 'dashboards-list-empty');
    assertNoPageErrors(page, assert);
  } finally {
    stop(bare);
  }
});

test('a search without hits says so', async () => {
  const page = await newPage(browser);
  await openUi(page, base(), '/dashboards?query=zzz-no-such');
  await page.waitForSelector('.dl-results .msg-empty');
  assert.match(await page.textContent('.dl-results'), /No dashboard matches this search/);
  assertNoPageErrors(page, assert);
});

test('the guide dashboard pasted into the import page appears in the list and opens', async () => {
  const page = await newPage(browser);
  await importByPaste(page, GUIDE);
  await page.waitForSelector('.imp-card');
  assert.equal((await page.textContent('.imp-panel-count')).trim(), '8');
  assert.equal(await page.inputValue('.imp-title'), 'CrewAI Application Dashboard');
  assert.match(await page.textContent('.imp-card'), /API-wrapped form/);
  await screenshot(page, 'dashboards-import');
  await clickImport(page, /\/d\/[^/]+\/crewai-application-dashboard/);
  await page.waitForSelector('[data-testid=dash-title]');
  assert.equal(await page.textContent('[data-testid=dash-title]'), 'CrewAI Application Dashboard');
  const uid = new URL(page.url()).pathname.split('/')[2];
  const saved = await getDash(uid);
  assert.equal(saved.dashboard.panels.length, 8);

  await openUi(page, base(), '/dashboards');
  await page.waitForSelector('.dl-row');
  const titles = await page.$$eval('.dl-title', (as) => as.map((a) => a.textContent));
  assert.ok(titles.includes('CrewAI Application Dashboard'), titles.join(', '));
  await page.click('.dl-title:text("CrewAI Application Dashboard")');
  await page.waitForURL(new RegExp(`/d/${uid}`));
  await page.waitForSelector('[data-testid=dash-title]');
  assertNoPageErrors(page, assert);
});

test('JSON errors name the line and column; a grafana.com export maps its __inputs', async () => {
  const page = await newPage(browser);
  await importByPaste(page, '{\n  "title": "Broken",\n  "panels": [\n    {"type": "stat",}\n  ]\n}');
  await page.waitForSelector('.imp-parse-error:not(:empty)');
  assert.match(await page.textContent('.imp-parse-error'), /line 4, column \d+/);
  await screenshot(page, 'dashboards-import-error');

  const exported = {
    __inputs: [{ name: 'DS_PROMETHEUS', label: 'Prometheus', description: '', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
    __requires: [{ type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' }],
    uid: 'gcom-node',
    title: 'Node Exporter Mini',
    tags: ['linux'],
    templating: { list: [{ name: 'job', type: 'query', datasource: { type: 'prometheus', uid: '${DS_PROMETHEUS}' }, query: 'label_values(up, job)', refresh: 1 }] },
    panels: [
      { id: 1, type: 'timeseries', title: 'Scrape up', datasource: { type: 'prometheus', uid: '${DS_PROMETHEUS}' }, targets: [{ refId: 'A', expr: 'up{job=~"$job"}', datasource: { type: 'prometheus', uid: '${DS_PROMETHEUS}' } }], gridPos: { x: 0, y: 0, w: 12, h: 8 } },
      { id: 2, type: 'row', title: 'Details', collapsed: true, gridPos: { x: 0, y: 8, w: 24, h: 1 }, panels: [{ id: 3, type: 'stat', title: 'Targets', datasource: '${DS_PROMETHEUS}', targets: [{ expr: 'count(up)' }], gridPos: { x: 0, y: 9, w: 6, h: 4 } }] },
    ],
    schemaVersion: 39,
  };
  await importByPaste(page, JSON.stringify(exported, null, 2));
  await page.waitForSelector('.imp-input');
  assert.equal(await page.inputValue('select.imp-input'), 'prometheus');
  assert.equal((await page.textContent('.imp-panel-count')).trim(), '2');
  assert.equal((await page.textContent('.imp-var-count')).trim(), '1');
  await clickImport(page, /\/d\/gcom-node/);
  const saved = await getDash('gcom-node');
  const text = JSON.stringify(saved.dashboard);
  assert.ok(!text.includes('${DS_PROMETHEUS}'), 'inputs replaced');
  assert.equal(saved.dashboard.panels[0].datasource.uid, 'prometheus');
  assert.equal(saved.dashboard.panels[1].panels[0].datasource, 'prometheus');
  assert.equal(saved.dashboard.__inputs, undefined);

  // Importing the same uid again warns and offers a new uid.
  await importByPaste(page, JSON.stringify(exported));
  await page.waitForSelector('.imp-warn');
  assert.match(await page.textContent('.imp-conflict'), /uid exists/);
  assertNoPageErrors(page, assert);
});

test('edit: a panel added in the panel editor, a new title and unit are saved and survive a restart', async () => {
  const page = await newPage(browser);
  await importByPaste(page, JSON.stringify({ dashboard: { uid: 'edit-me', title: 'Edit me', panels: [{ id: 1, type: 'timeseries', title: 'Scrapes', targets: [{ refId: 'A', expr: 'up' }], gridPos: { x: 0, y: 0, w: 12, h: 8 } }] } }));
  await clickImport(page, /\/d\/edit-me/);
  // A short range: the scraped data is only seconds old, and a small step gives many points.
  await openUi(page, base(), '/d/edit-me?from=now-5m&to=now');
  await page.click('.ed-edit');
  await page.click('.ed-add');
  await page.click('.ed-add-panel');
  await page.waitForSelector('.ed-panel-editor');

  // A query error shows the server's message in the preview.
  await page.fill('.ed-q-expr', 'sum(rate(http_requests_total[1m]');
  await page.waitForSelector('.ed-pv-error');
  assert.match(await page.textContent('.ed-pv-errors'), /parse|unclosed|expected|syntax/i);

  await page.fill('.ed-q-expr', 'sum by (method) (rate(http_requests_total[1m]))');
  await page.fill('.ed-q-legend', '{{method}}');
  await page.waitForFunction(() => {
    const d = document.querySelector('.ed-pv-summary')?.dataset;
    return Number(d?.series) > 0 && Number(d?.points) > 2 * Number(d?.series);
  }, null, { timeout: 20000 });
  const series = Number(await page.getAttribute('.ed-pv-summary', 'data-series'));
  const points = Number(await page.getAttribute('.ed-pv-summary', 'data-points'));
  assert.ok(series >= 1 && points > series, `preview: ${series} series, ${points} points`);

  await page.fill('.ed-opt-title', 'Requests by method');
  await page.click('.ed-unit-input');
  await page.fill('.ed-unit-input', 'requests/sec');
  await page.waitForSelector('.ed-unit-opt[data-unit=reqps]');
  await page.keyboard.press('Enter');
  assert.match(await page.textContent('.ed-unit-name'), /requests\/sec/);
  await page.click('.ed-type[data-type=timeseries]');
  await screenshot(page, 'panel-editor');
  await page.click('.ed-pe-apply');
  await page.waitForSelector('.ed-panel-editor', { state: 'detached' });
  await page.waitForSelector('.ed-dirty');

  // Settings: new title, a tag.
  await page.click('.ed-settings');
  await page.fill('.ed-set-title', 'Edited dashboard');
  await page.fill('.ed-tag-input', 'edited');
  await page.keyboard.press('Enter');
  await screenshot(page, 'dashboard-settings');
  await page.click('.ed-back');

  await page.click('.ed-save');
  await page.waitForSelector('.ed-save-dialog');
  await page.fill('.ed-save-message', 'add the request panel');
  await page.waitForSelector('.ed-change-list');
  const changes = await page.$$eval('.ed-change-list li', (li) => li.map((x) => x.textContent));
  assert.ok(changes.includes('Title: "Edit me" → "Edited dashboard"'), changes.join(' | '));
  assert.ok(changes.includes('Added panel "Requests by method"'), changes.join(' | '));
  await screenshot(page, 'save-dialog');
  await page.click('.ed-save-go');
  await page.waitForSelector('.ed-save-dialog', { state: 'detached' });
  await waitFor(async () => !(await page.$('.ed-dirty')), 5000, 'the unsaved marker to go');

  const check = async () => {
    const { dashboard, meta } = await getDash('edit-me');
    assert.equal(dashboard.title, 'Edited dashboard');
    assert.deepEqual(dashboard.tags, ['edited']);
    const p = dashboard.panels.find((x) => x.title === 'Requests by method');
    assert.ok(p, JSON.stringify(dashboard.panels.map((x) => x.title)));
    assert.equal(p.fieldConfig.defaults.unit, 'reqps');
    assert.equal(p.targets[0].expr, 'sum by (method) (rate(http_requests_total[1m]))');
    assert.equal(p.targets[0].legendFormat, '{{method}}');
    assert.deepEqual(p.gridPos, { x: 0, y: 0, w: 12, h: 8 });
    assert.equal(dashboard.panels.find((x) => x.title === 'Scrapes').gridPos.y, 8);
    assert.ok(meta.version >= 2, `version ${meta.version}`);
    return dashboard;
  };
  const before = await check();

  env.pharos = await restartPharos(env.pharos);
  const afterRestart = await check();
  assert.deepEqual(afterRestart, before);
  await openUi(page, base(), '/d/edit-me');
  await page.waitForSelector('[data-testid=dash-title]');
  assert.equal(await page.textContent('[data-testid=dash-title]'), 'Edited dashboard');
  assertNoPageErrors(page, assert);
});

test('export downloads Grafana JSON that re-imports as an identical model', async () => {
  const page = await newPage(browser, { acceptDownloads: true });
  await openUi(page, base(), '/d/edit-me');
  await page.waitForSelector('.ed-export');
  await page.click('.ed-export');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('.ed-export-download')]);
  assert.equal(download.suggestedFilename(), 'Edited dashboard.json');
  const file = await download.path();
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.startsWith('{\n  "'), '2-space indented');
  const exported = JSON.parse(text);
  const stored = (await getDash('edit-me')).dashboard;
  assert.deepEqual(comparable(exported), comparable(stored));
  // "Sharing externally": data sources become ${DS_…} inputs.
  await page.click('.ed-export-external');
  const external = JSON.parse(await page.inputValue('.ed-export-text'));
  assert.deepEqual(external.__inputs.map((i) => [i.name, i.pluginId]), [['DS_PROMETHEUS', 'prometheus']]);
  assert.equal(external.panels.find((x) => x.title === 'Requests by method').datasource.uid, '${DS_PROMETHEUS}');
  await page.keyboard.press('Escape');

  await openUi(page, base(), '/dashboards/import');
  await page.setInputFiles('.imp-file', file);
  await page.waitForSelector('.imp-newuid');
  await page.click('.imp-newuid');
  const newUid = await page.inputValue('.imp-uid');
  assert.notEqual(newUid, 'edit-me');
  // Same title in the same folder: Grafana refuses it; the page says so before importing.
  await page.waitForSelector('.imp-warn:has-text("has this title")');
  await page.fill('.imp-title', 'Edited dashboard (re-imported)');
  await clickImport(page, new RegExp(`/d/${newUid}`));
  const reimported = (await getDash(newUid)).dashboard;
  assert.equal(reimported.title, 'Edited dashboard (re-imported)');
  assert.deepEqual({ ...comparable(reimported), title: exported.title }, comparable(exported));
  assertNoPageErrors(page, assert);
});

test('a panel menu "Edit" opens the editor: Discard drops the edits, Esc applies them', async () => {
  const page = await newPage(browser);
  await openUi(page, base(), '/d/edit-me?from=now-5m&to=now');
  const panel = page.locator('[data-testid=dash-panel]:has([data-testid=panel-title]:text-is("Scrapes"))');
  await panel.locator('[data-testid=panel-menu]').click();
  await page.click('[data-testid=menu-edit]');
  await page.waitForSelector('.ed-panel-editor');
  assert.equal(await page.inputValue('.ed-q-expr'), 'up');
  await page.waitForFunction(() => Number(document.querySelector('.ed-pv-summary')?.dataset.series) === 2, null, { timeout: 20000 });
  await page.fill('.ed-opt-title', 'Not kept');
  await page.click('.ed-pe-discard');
  await page.waitForSelector('.ed-panel-editor', { state: 'detached' });
  assert.equal(await page.$('.ed-dirty'), null);
  assert.equal(await panel.locator('[data-testid=panel-title]').textContent(), 'Scrapes');

  await panel.locator('[data-testid=panel-menu]').click();
  await page.click('[data-testid=menu-edit]');
  await page.waitForSelector('.ed-panel-editor');
  await page.click('.ed-type[data-type=stat]');
  await page.click('.ed-q-add');
  await page.locator('.ed-q-expr').nth(1).fill('count(up)');
  await page.waitForFunction(() => Number(document.querySelector('.ed-pv-summary')?.dataset.series) === 3, null, { timeout: 20000 });
  // Thresholds: a third step; an override by name with a unit and a colour.
  await page.click('.ed-th-add');
  await page.locator('.ed-th-value').first().fill('1.5');
  await page.locator('.ed-th-value').first().dispatchEvent('change');
  await page.click('.ed-sec-head:has-text("Overrides")');
  await page.click('.ed-ov-add');
  await page.fill('.ed-ov-name', 'count(up)');
  await page.selectOption('.ed-ov-addprop', 'unit');
  await page.fill('.ed-ov-value', 'short');
  await page.selectOption('.ed-ov-addprop', 'color');
  await page.locator('.ed-ov .ed-color-sel').selectOption('purple');
  await page.locator('.ed-ov').scrollIntoViewIfNeeded();
  await screenshot(page, 'panel-editor-options');
  await page.click('.ed-pe-main', { position: { x: 5, y: 5 } });
  await page.keyboard.press('Escape');
  await page.waitForSelector('.ed-panel-editor', { state: 'detached' });
  await page.waitForSelector('.ed-dirty');
  const warned = await page.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  });
  assert.equal(warned, true, 'leaving with unsaved changes asks first');
  await page.click('.ed-save');
  await page.click('.ed-save-go');
  await page.waitForSelector('.ed-save-dialog', { state: 'detached' });
  const p = (await getDash('edit-me')).dashboard.panels.find((x) => x.title === 'Scrapes');
  assert.equal(p.type, 'stat');
  assert.deepEqual(
    p.fieldConfig.defaults.thresholds.steps.map((x) => x.value),
    [null, 80, 1.5],
  );
  assert.deepEqual(p.fieldConfig.overrides, [
    { matcher: { id: 'byName', options: 'count(up)' }, properties: [{ id: 'unit', value: 'short' }, { id: 'color', value: { mode: 'fixed', fixedColor: 'purple' } }] },
  ]);
  assert.deepEqual(p.targets.map((t) => [t.refId, t.expr]), [['A', 'up'], ['B', 'count(up)']]);
  assertNoPageErrors(page, assert);
});

test('a new dashboard: add a panel, save with a title, land on its URL; the JSON model applies with errors at their line', async () => {
  const page = await newPage(browser);
  await openUi(page, base(), '/dashboards/new?from=now-5m&to=now');
  await page.waitForSelector('.ed-add');
  await page.click('.ed-add');
  await page.click('.ed-add-panel');
  await page.waitForSelector('.ed-panel-editor');
  await page.fill('.ed-q-expr', 'count(up)');
  await page.click('.ed-type[data-type=stat]');
  await page.waitForFunction(() => Number(document.querySelector('.ed-pv-summary')?.dataset.series) === 1, null, { timeout: 20000 });
  await page.click('.ed-pe-apply');
  await page.click('.ed-save');
  await page.waitForSelector('.ed-save-title');
  await page.fill('.ed-save-title', 'Fresh board');
  await page.click('.ed-save-go');
  await page.waitForURL(/\/d\/[^/]+\/fresh-board/);
  const uid = new URL(page.url()).pathname.split('/')[2];
  const { dashboard } = await getDash(uid);
  assert.equal(dashboard.title, 'Fresh board');
  assert.deepEqual(dashboard.panels.map((p) => [p.type, p.targets[0].expr]), [['stat', 'count(up)']]);

  // The saved dashboard opens at its own URL, in view mode.
  await page.click('.ed-edit');
  await page.click('.ed-settings');
  await page.click('.ed-tab-json');
  const json = await page.inputValue('.ed-json');
  await page.fill('.ed-json', json.replace('"title": "Fresh board"', '"title": "Fresh board",,'));
  await page.click('.ed-json-apply');
  await page.waitForSelector('.ed-json-status .error-inline');
  assert.match(await page.textContent('.ed-json-status'), /invalid JSON at line \d+, column \d+/);
  await page.fill('.ed-json', json.replace('"title": "Fresh board"', '"title": "Fresh board (JSON)"'));
  await page.click('.ed-json-apply');
  await page.waitForSelector('.ed-json-status .ed-ok');
  await page.click('.ed-back');
  await page.waitForSelector('[data-testid=dash-title]:text-is("Fresh board (JSON)")');
  await page.waitForSelector('.ed-dirty');
  assertNoPageErrors(page, assert);
});

test('saving over a newer version offers Overwrite', async () => {
  const a = await newPage(browser);
  const b = await newPage(browser);
  for (const p of [a, b]) {
    await openUi(p, base(), '/d/edit-me');
    await p.waitForSelector('.ed-edit');
    await p.click('.ed-edit');
  }
  const v0 = (await getDash('edit-me')).meta.version;
  await a.click('.ed-save');
  await a.click('.ed-save-go');
  await a.waitForSelector('.ed-save-dialog', { state: 'detached' });
  assert.equal((await getDash('edit-me')).meta.version, v0 + 1);

  await b.click('.ed-save');
  await b.click('.ed-save-go');
  await b.waitForSelector('.ed-conflict .ed-overwrite');
  assert.match(await b.textContent('.ed-conflict'), /Someone else has saved/);
  await b.click('.ed-overwrite');
  await b.waitForSelector('.ed-save-dialog', { state: 'detached' });
  assert.equal((await getDash('edit-me')).meta.version, v0 + 2);
  assertNoPageErrors(a, assert);
  assertNoPageErrors(b, assert);
});

test('variables editor: add a query variable and preview its values', async () => {
  const page = await newPage(browser);
  await openUi(page, base(), '/d/edit-me');
  await page.click('.ed-edit');
  await page.click('.ed-variables');
  await page.waitForSelector('.ed-vars');
  await page.click('.ed-var-add');
  await page.fill('.ed-var-name-input', 'job');
  await page.fill('.ed-var-query', 'label_values(up, job)');
  await page.click('.ed-var-multi');
  await page.click('.ed-var-all');
  await page.waitForFunction(() => [...document.querySelectorAll('.ed-var-value')].some((e) => e.textContent === 'crewai-app'));
  const values = await page.$$eval('.ed-var-value', (es) => es.map((e) => e.textContent));
  assert.deepEqual([...values].sort(), ['crewai-app', 'missing-service']);
  await page.fill('.ed-var-regex', '/crew.*/');
  await page.waitForFunction(() => document.querySelectorAll('.ed-var-value').length === 1);
  await screenshot(page, 'variables-editor');
  await page.click('.ed-var-done');
  await page.waitForSelector('.ed-var-row[data-name=job]');
  await page.click('.ed-back');
  await page.click('.ed-save');
  await page.click('.ed-save-go');
  await page.waitForSelector('.ed-save-dialog', { state: 'detached' });
  const v = (await getDash('edit-me')).dashboard.templating.list.find((x) => x.name === 'job');
  assert.equal(v.type, 'query');
  assert.equal(v.definition, 'label_values(up, job)');
  assert.equal(v.regex, '/crew.*/');
  assert.equal(v.multi, true);
  assert.equal(v.includeAll, true);
  assertNoPageErrors(page, assert);
});

test('the list searches as you type, filters by tag, shows provisioned files and deletes', async () => {
  for (const [uid, title, tags] of [
    ['alpha-ops', 'Alpha Ops', ['ops']],
    ['beta-team', 'Beta Team', ['team', 'ops']],
  ]) {
    const { status } = await api(base(), '/api/dashboards/db', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ dashboard: { uid, title, tags, panels: [] }, overwrite: true }) });
    assert.equal(status, 200);
  }
  const page = await newPage(browser);
  await openUi(page, base(), '/dashboards');
  await page.waitForSelector('.dl-row[data-uid=beta-team]');
  const prov = page.locator('.dl-row[data-uid=prov-ops]');
  await prov.locator('.dl-file').waitFor();
  assert.match(await prov.textContent(), /provisioned/);
  assert.match(await prov.locator('.dl-file').textContent(), /ops\.json/);
  assert.equal(await prov.locator('.dl-delete').isDisabled(), true);
  await screenshot(page, 'dashboards-list');

  await page.fill('.dl-search', 'alp');
  await waitFor(async () => (await page.$$('.dl-row')).length === 1, 5000, 'one search hit');
  assert.equal(await page.textContent('.dl-title'), 'Alpha Ops');
  assert.match(page.url(), /query=alp/);
  await page.fill('.dl-search', '');
  await page.click('.dl-tags .tag-chip:has-text("team")');
  // One row is also what the 'alp' search showed: wait for the tag's row, not for any one row.
  await waitFor(
    async () => (await page.$$('.dl-row')).length === 1 && (await page.textContent('.dl-title')) === 'Beta Team',
    5000,
    'one tagged hit: Beta Team',
  );
  await page.click('.dl-active .tag-chip');
  await page.click('.dl-tags .tag-chip:has-text("ops")');
  await waitFor(async () => (await page.$$('.dl-row')).length === 3, 5000, 'three ops dashboards');

  await page.click('.dl-row[data-uid=beta-team] .dl-delete');
  await page.waitForSelector('.dialog:has-text("Delete dashboard")');
  await page.click('.dialog button:has-text("Delete")');
  await page.waitForSelector('.dl-row[data-uid=beta-team]', { state: 'detached' });
  assert.equal((await api(base(), '/api/dashboards/uid/beta-team')).status, 404);
  assert.deepEqual(page.pharosDialogs, []);
  assertNoPageErrors(page, assert);
});

test('a provisioned dashboard that cannot be saved offers Save as copy and Export', async () => {
  const page = await newPage(browser);
  await openUi(page, base(), '/d/prov-ops');
  await page.click('.ed-edit');
  await page.click('.ed-save');
  await page.waitForSelector('.ed-conflict');
  assert.match(await page.textContent('.ed-conflict'), /provisioned/i);
  assert.match(await page.textContent('.ed-conflict'), /ops\.json/);
  await page.click('.ed-save-copy');
  await page.waitForSelector('.ed-saveas-title');
  await page.fill('.ed-saveas-title', 'Ops (my copy)');
  await page.click('.ed-saveas-go');
  await page.waitForURL((u) => !u.pathname.includes('prov-ops') && u.pathname.startsWith('/d/'));
  await page.waitForSelector('[data-testid=dash-title]:has-text("Ops (my copy)")');
  const uid = new URL(page.url()).pathname.split('/')[2];
  const copy = await getDash(uid);
  assert.equal(copy.meta.provisioned, false);
  assert.equal(copy.dashboard.panels[0].title, 'Up');
  assertNoPageErrors(page, assert);
});

test('a stopped server shows a clear message on the list', async () => {
  const page = await newPage(browser);
  await openUi(page, base(), '/dashboards');
  await page.waitForSelector('.dl-row');
  stop(env.pharos);
  await page.fill('.dl-search', 'anything');
  await page.waitForSelector('.dl-results .msg-error');
  assert.match(await page.textContent('.dl-results'), /not reachable/);
  await screenshot(page, 'dashboards-list-stopped');
});
