// Folders on the dashboard list in the browser: dashboards are grouped by folder (General first,
// an empty folder shown too); a folder created, renamed and deleted in the page is created,
// renamed and deleted in Grafana's folder API; a dashboard moved in the page lands in the folder
// (`/api/dashboards/uid/...` meta.folderUid) with its panels intact; a folder name the server
// refuses shows the server's message in the dialog. Screenshot: dashboards-folders.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api } from './helpers.mjs';

let pharos, browser;

const json = (method, body) => ({ method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
const folderTitles = async () => (await api(pharos.url, '/api/folders')).body.map((f) => f.title).sort();
/** Folder uid and panel count of a stored dashboard. */
async function where(uid) {
  const { status, body } = await api(pharos.url, `/api/dashboards/uid/${uid}`);
  assert.equal(status, 200, JSON.stringify(body));
  return { folderUid: body.meta.folderUid ?? '', folderTitle: body.meta.folderTitle, panels: body.dashboard.panels?.length ?? 0 };
}
/** Folder titles in page order with the dashboard uids under each. */
const groups = (page) =>
  page.$$eval('[data-testid=dl-folder]', (gs) => gs.map((g) => [g.querySelector('[data-testid=dl-folder-title]').textContent, [...g.querySelectorAll('.dl-row')].map((r) => r.dataset.uid)]));

before(async () => {
  pharos = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n', 'pharos.yml');
  browser = await launchBrowser();
  const { status, body } = await api(pharos.url, '/api/folders', json('POST', { uid: 'ops', title: 'Operations' }));
  assert.equal(status, 200, JSON.stringify(body));
  for (const [uid, title, folderUid] of [
    ['checkout', 'Checkout latency', ''],
    ['agents', 'Agent runs', ''],
    ['pager', 'Pager load', 'ops'],
  ]) {
    const panels = [{ id: 1, type: 'timeseries', title: 'p', targets: [{ refId: 'A', expr: 'up' }], gridPos: { x: 0, y: 0, w: 12, h: 8 } }];
    const r = await api(pharos.url, '/api/dashboards/db', json('POST', { dashboard: { uid, title, panels }, folderUid, overwrite: true }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
});

after(async () => {
  await browser?.close();
  stop(pharos);
});

test('folders: grouped list, create, rename, move a dashboard, delete with its dashboards', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/dashboards');
  await page.waitForSelector('.dl-row[data-uid=pager]');
  assert.deepEqual(await groups(page), [
    ['General', ['agents', 'checkout']],
    ['Operations', ['pager']],
  ]);

  // Create: the dialog, then the folder in the API and as an empty group.
  await page.click('[data-testid=new-folder]');
  await page.fill('[data-testid=folder-name]', 'Payments');
  await page.click('[data-testid=folder-save]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=dl-folder-title]')].some((e) => e.textContent === 'Payments'));
  assert.deepEqual(await folderTitles(), ['Operations', 'Payments']);
  const payments = page.locator('[data-testid=dl-folder]', { has: page.locator('[data-testid=dl-folder-title]', { hasText: /^Payments$/ }) });
  assert.match(await payments.innerText(), /No dashboards in this folder yet/);

  // A name the server refuses (taken): its message in the dialog, nothing created.
  await page.click('[data-testid=new-folder]');
  await page.fill('[data-testid=folder-name]', 'Operations');
  await page.click('[data-testid=folder-save]');
  await page.waitForFunction(() => document.querySelector('.dialog .form-errors')?.textContent.length > 0);
  assert.match(await page.textContent('.dialog .form-errors'), /exists|already|taken|conflict/i);
  await page.keyboard.press('Escape');
  assert.deepEqual(await folderTitles(), ['Operations', 'Payments']);

  // Rename.
  await payments.locator('[data-testid=folder-rename]').click();
  await page.fill('[data-testid=folder-name]', 'Payments team');
  await page.click('[data-testid=folder-save]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=dl-folder-title]')].some((e) => e.textContent === 'Payments team'));
  assert.deepEqual(await folderTitles(), ['Operations', 'Payments team']);
  const paymentsUid = (await api(pharos.url, '/api/folders')).body.find((f) => f.title === 'Payments team').uid;

  // Move "Checkout latency" from General into it: the API has it there, panels intact.
  await page.click('.dl-row[data-uid=checkout] .dl-move');
  await page.selectOption('[data-testid=move-folder]', paymentsUid);
  await page.click('[data-testid=move-save]');
  await page.waitForFunction(() => document.querySelector('.dl-row[data-uid=checkout]')?.closest('[data-testid=dl-folder]')?.querySelector('[data-testid=dl-folder-title]').textContent === 'Payments team');
  assert.deepEqual(await where('checkout'), { folderUid: paymentsUid, folderTitle: 'Payments team', panels: 1 });
  assert.deepEqual(await groups(page), [
    ['General', ['agents']],
    ['Operations', ['pager']],
    ['Payments team', ['checkout']],
  ]);
  // And back to General.
  await page.click('.dl-row[data-uid=pager] .dl-move');
  await page.selectOption('[data-testid=move-folder]', '');
  await page.click('[data-testid=move-save]');
  await page.waitForFunction(() => document.querySelector('.dl-row[data-uid=pager]')?.closest('[data-testid=dl-folder]')?.dataset.folderUid === '');
  assert.equal((await where('pager')).folderUid, '');
  await screenshot(page, 'dashboards-folders');

  // Searching shows only folders with a match.
  await page.fill('.dl-search', 'checkout');
  await waitFor(async () => (await groups(page)).length === 1, 5000, 'one group while searching');
  assert.deepEqual(await groups(page), [['Payments team', ['checkout']]]);
  await page.fill('.dl-search', '');
  await waitFor(async () => (await groups(page)).length === 3, 5000, 'all groups again');

  // Delete the folder: the confirmation names its dashboard; both are gone from the API.
  await page.click(`[data-testid=dl-folder][data-folder-uid="${paymentsUid}"] [data-testid=folder-delete]`);
  await page.waitForSelector('.dialog:has-text("Delete folder")');
  assert.match(await page.textContent('.dialog'), /and the 1 dashboard in it/);
  await page.click('.dialog button:has-text("Delete")');
  await page.waitForSelector('.dl-row[data-uid=checkout]', { state: 'detached' });
  assert.deepEqual(await folderTitles(), ['Operations']);
  assert.equal((await api(pharos.url, '/api/dashboards/uid/checkout')).status, 404);
  assert.deepEqual(page.pharosDialogs, []);
  assertNoPageErrors(page, assert);
  await page.context().close();
});
