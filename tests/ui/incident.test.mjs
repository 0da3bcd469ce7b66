// The incident page in the browser: an alert fires from a rule over remote-written metrics of
// job "shop", error and info log lines and a failed trace of the same service are pushed; the
// Alerts page's "Incident" button opens /incident, which shows the rule's graph, the error line
// first with a histogram, the failed trace (linked) — all as text (an XSS line stays text).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api, remoteWrite, pushLogs, tempDir } from './helpers.mjs';

const XSS = '<img src=x onerror=alert(1)>';
let pharos, browser;
const now = Date.now();

before(async () => {
  const dir = tempDir('pharos-ui-incident-');
  fs.writeFileSync(path.join(dir, 'rules.yml'), 'groups:\n  - name: shop\n    rules:\n      - alert: ShopErrors\n        expr: shop_ui_errors_total > 0\n        labels: { severity: critical }\n        annotations: { summary: "shop is failing" }\n');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), `global:\n  evaluation_interval: 1s\nrule_files:\n  - ${path.join(dir, 'rules.yml')}\n`);
  pharos = await startPharos(`prometheus_config: ${path.join(dir, 'prometheus.yml')}\ncollectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n`, 'pharos.yml');
  const samples = [];
  for (let t = now - 30 * 60_000; t <= now; t += 15_000) samples.push([t, t > now - 5 * 60_000 ? 4 : 0]);
  await remoteWrite(pharos.url, [{ labels: { __name__: 'shop_ui_errors_total', job: 'shop' }, samples }]);
  await pushLogs(pharos.url, [
    { labels: { job: 'shop', level: 'info' }, line: 'GET /cart 200', tsMs: now - 60_000 },
    { labels: { job: 'shop', level: 'error' }, line: `payment gateway timeout ${XSS}`, tsMs: now - 40_000 },
  ]);
  const us = (now - 50_000) * 1000;
  const res = await fetch(`${pharos.url}/api/v2/spans`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify([{ traceId: '00000000000000000000000000c0ffee', id: '00000000000000b1', name: 'POST /checkout', timestamp: us, duration: 900_000, localEndpoint: { serviceName: 'shop' }, tags: { error: 'gateway timeout' } }]),
  });
  assert.ok(res.ok, `zipkin push: ${res.status}`);
  await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/v1/alerts');
    return body?.data?.alerts?.some((a) => a.labels.alertname === 'ShopErrors' && a.state === 'firing');
  }, 30000, 'the ShopErrors alert fires');
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  stop(pharos);
});

test('incident page: from the Alerts page to the rule graph, error logs first, the failed trace', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/alerts');
  const btn = page.locator('[data-alertname="ShopErrors"] [data-action="incident"]').first();
  await btn.waitFor({ timeout: 20000 });
  await btn.click();
  await page.waitForSelector('[data-testid="incident-logs"]', { timeout: 20000 });
  assert.match(page.url(), /\/incident\?.*alertname=ShopErrors.*__start=\d+/);
  assert.equal(await page.textContent('[data-testid="incident-state"]'), 'firing');
  assert.match(await page.textContent('[data-testid="incident-join"]'), /job="shop"/);
  // The rule's graph drew its series.
  await page.waitForFunction(() => {
    const g = document.querySelector('[data-testid="incident-graph"]');
    const el = g?.dataset.seriesCount !== undefined ? g : g?.querySelector('[data-series-count]');
    return Number(el?.dataset.seriesCount) >= 1;
  }, null, { timeout: 15000 });
  // Logs: the error line first, as text.
  const lines = await page.$$eval('[data-testid="incident-line"]', (els) => els.map((e) => [e.classList.contains('is-error'), e.textContent]));
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.equal(lines[0][0], true);
  assert.ok(lines[0][1].includes(`payment gateway timeout ${XSS}`), lines[0][1]);
  assert.equal(await page.$$eval('[data-testid="incident-logs"] img', (e) => e.length), 0);
  assert.equal(await page.$$eval('[data-testid="log-histogram"] .incident-bar', (e) => e.length) > 10, true);
  // The failed trace, linked to the trace view.
  const href = await page.getAttribute('[data-testid="failed-traces"] a', 'href');
  assert.equal(href, '/trace/00000000000000000000000000c0ffee');
  await screenshot(page, 'incident');
  assertNoPageErrors(page, assert);
  assert.deepEqual(page.pharosDialogs, []);
  await page.context().close();
});
