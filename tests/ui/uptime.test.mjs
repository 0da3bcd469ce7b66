// The Uptime page and the public status page in the browser: pharos probes two local HTTP
// servers (one flips down and up, one is refused) — the page shows up/down badges, uptime % per
// window, a response-time sparkline and the incident with its error; the public status page at
// /status-page lists only the probe pharos.yml names, with no navigation and no target or error
// text anywhere in it. Screenshots: uptime.png, status-page.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api } from './helpers.mjs';
import { freePort } from '../e2e/helpers.mjs';

let pharos, browser, server, status = 200, port, closed;

async function probe(name) {
  const r = await api(pharos.url, `/api/pharos/v1/uptime?probe=${name}`);
  return r.body.data.probes[0];
}

before(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    res.end(status === 200 ? 'ok' : 'down');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  port = server.address().port;
  closed = await freePort();
  const yml = [
    'probes:',
    '  targets:',
    `    - {name: checkout-api, url: 'http://127.0.0.1:${port}/health', module: http_2xx, interval: 500ms}`,
    `    - {name: billing-db-proxy, url: 'http://127.0.0.1:${closed}/', interval: 500ms}`,
    '  status_page:',
    '    title: Acme Status',
    '    description: Live status of Acme services',
    '    probes: [checkout-api]',
  ].join('\n');
  pharos = await startPharos(yml, 'pharos.yml');
  browser = await launchBrowser();
  await waitFor(async () => (await probe('checkout-api')).state === 'up', 20000, 'checkout-api up');
  status = 503;
  await waitFor(async () => (await probe('checkout-api')).state === 'down', 20000, 'checkout-api down');
  await new Promise((r) => setTimeout(r, 1500));
  status = 200;
  await waitFor(async () => (await probe('checkout-api')).state === 'up', 20000, 'checkout-api up again');
  await waitFor(async () => (await probe('checkout-api')).response_times.length >= 1, 10000, 'history');
});

after(async () => {
  await browser?.close();
  stop(pharos);
  server?.close();
});

test('Uptime page: badges, uptime %, sparkline, incidents with errors', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/uptime');
  await page.waitForSelector('[data-probe="checkout-api"]');
  await page.waitForSelector('[data-probe="billing-db-proxy"] .up-badge.up-down');
  const cards = await page.$$eval('.up-card', (els) =>
    els.map((e) => ({
      name: e.dataset.probe,
      badge: e.querySelector('[data-testid=state-badge]').textContent,
      pcts: [...e.querySelectorAll('.up-pct-val')].map((x) => x.textContent),
      spark: !!e.querySelector('[data-testid=response-sparkline], .up-spark-none'),
      incidents: e.querySelector('summary').textContent,
      text: e.textContent,
    })),
  );
  const api1 = await probe('checkout-api');
  const c = cards.find((x) => x.name === 'checkout-api');
  assert.equal(c.badge, 'Up');
  assert.equal(c.incidents, 'Incidents (1)');
  assert.ok(c.spark);
  // The 24 h figure is the API's, formatted: below 100 % after the outage.
  const pct24 = parseFloat(c.pcts[0]);
  assert.ok(pct24 > 0 && pct24 < 100, c.pcts.join(' '));
  assert.ok(Math.abs(pct24 - api1.uptime['24h']) < 10, `${pct24} vs ${api1.uptime['24h']}`);
  const b = cards.find((x) => x.name === 'billing-db-proxy');
  assert.equal(b.badge, 'Down');
  assert.equal(b.pcts[0], '0.0%');
  assert.match(b.text, /refused/);
  // The incident table of checkout-api lists the 503 with start, end and duration.
  await page.click('[data-probe="checkout-api"] summary');
  const rows = await page.$$eval('[data-probe="checkout-api"] [data-testid=incidents] tbody tr', (els) => els.map((e) => [...e.children].map((td) => td.textContent)));
  assert.equal(rows.length, 1);
  assert.match(rows[0][3], /503/);
  assert.match(rows[0][2], /\d+s/);
  // Nav has the Uptime entry, active.
  assert.equal(await page.$eval('#nav a.active', (a) => a.getAttribute('href')), '/uptime');
  await screenshot(page, 'uptime');
  assertNoPageErrors(page, assert);
});

test('public status page lists only its probes and links nowhere', async () => {
  const page = await newPage(browser);
  const requests = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  await page.goto(pharos.url + '/status-page');
  await page.waitForSelector('[data-probe="checkout-api"]');
  const text = await page.textContent('body');
  assert.match(text, /Acme Status/);
  assert.match(text, /All services operational/);
  assert.ok(!text.includes('billing-db-proxy'), text);
  assert.ok(!text.includes('127.0.0.1'), text);
  assert.ok(!/status code|refused/.test(text), text);
  assert.equal(await page.$$eval('a, nav', (els) => els.length), 0);
  assert.equal(await page.$$eval('[data-probe]', (els) => els.length), 1);
  assert.deepEqual([...new Set(requests)].sort(), ['/api/pharos/v1/status-page', '/status-page']);
  const sp = await api(pharos.url, '/api/pharos/v1/status-page');
  assert.deepEqual(sp.body.probes.map((p) => p.name), ['checkout-api']);
  assert.ok(!JSON.stringify(sp.body).includes('127.0.0.1'));
  await screenshot(page, 'status-page');
  assertNoPageErrors(page, assert);
});
