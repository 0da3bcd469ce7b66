// The UI is served at `/` beside the APIs: browsers get the page, API clients keep their JSON
// (Elasticsearch's `GET /` info), deep links survive a reload, assets are embedded, and a
// stopped server shows a clear banner instead of a blank page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor } from './helpers.mjs';

let pharos, browser;
before(async () => {
  pharos = await startPharos(null);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  stop(pharos);
});

test('GET / negotiates: HTML for browsers, Elasticsearch info JSON for clients', async () => {
  const html = await fetch(pharos.url + '/', { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type'), /text\/html/);
  const body = await html.text();
  assert.match(body, /<script type="module" src="\/ui\/app\.js\?v=[0-9a-f]+">/);

  for (const accept of [undefined, '*/*', 'application/json', 'application/vnd.elasticsearch+json; compatible-with=8']) {
    const res = await fetch(pharos.url + '/', { headers: accept ? { Accept: accept } : {} });
    assert.equal(res.status, 200, `Accept: ${accept}`);
    const info = await res.json();
    assert.equal(info.tagline, 'You Know, for Search', `Accept: ${accept}`);
    assert.equal(res.headers.get('x-elastic-product'), 'Elasticsearch');
  }
});

test('APIs opened in a browser stay APIs; assets are served with their types', async () => {
  const q = await fetch(pharos.url + '/api/v1/query?query=1', { headers: { Accept: 'text/html' } });
  assert.match(q.headers.get('content-type'), /application\/json/);
  const m = await fetch(pharos.url + '/metrics', { headers: { Accept: 'text/html' } });
  assert.match(await m.text(), /# TYPE/);
  const js = await fetch(pharos.url + '/ui/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  const css = await fetch(pharos.url + '/ui/app.css');
  assert.match(css.headers.get('content-type'), /text\/css/);
  assert.equal((await fetch(pharos.url + '/ui/nope.js')).status, 404);
  assert.equal((await fetch(pharos.url + '/ui/..%2FCargo.toml')).status, 404);
});

test('deep links render their page after a reload', async () => {
  const page = await newPage(browser);
  for (const [path, heading] of [
    ['/dashboards', /Dashboards/],
    ['/explore/logs?query=%7Bapp%3D%22x%22%7D', /log/i],
    ['/alerts', /Alerts/],
    ['/status', /Status/],
  ]) {
    await openUi(page, pharos.url, path);
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#outlet h1');
    assert.match(await page.textContent('#outlet h1'), heading, path);
    assert.equal(new URL(page.url()).pathname, path.split('?')[0]);
  }
  await openUi(page, pharos.url, '/status/no/such/page');
  assert.match(await page.textContent('#outlet'), /Nothing lives at \/status\/no\/such\/page/);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('a stopped server shows a banner, not a blank page', async () => {
  const other = await startPharos(null);
  const page = await newPage(browser);
  await openUi(page, other.url, '/');
  await screenshot(page, 'home');
  stop(other);
  await waitFor(async () => (await page.evaluate(() => document.querySelector('#banner')?.textContent || '')).includes('not reachable'), 20000, 'unreachable banner');
  await screenshot(page, 'server-stopped');
  await page.context().close();
});
