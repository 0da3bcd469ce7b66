// `pharos demo` in a browser: within about a minute of starting it, Home, the CrewAI monitoring
// guide's dashboard, Explore logs, Explore traces, Errors and Alerts all show the simulated
// app's data. Screenshots: target/ui-screenshots/demo-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, tempDir, spawnUntil, PHAROS_BIN } from './helpers.mjs';

let demo, base, browser, started;

before(async () => {
  started = Date.now();
  const data = path.join(tempDir('pharos-demo-ui-'), 'data');
  const [child, m] = await spawnUntil(PHAROS_BIN, ['demo', '--listen', '127.0.0.1:0', '--data', data], /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/);
  demo = child;
  base = m[1];
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  stop(demo);
});

/** Waits for `predicate` in the page, reloading it every 10 s (for pages that do not poll). */
async function untilReloading(page, predicate, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await page.waitForFunction(predicate, null, { timeout: 10000, polling: 1000 });
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await page.reload({ waitUntil: 'domcontentloaded' });
    }
  }
}

/** Time left of the demo's one-minute promise (at least 20 s, for a slow shared machine). */
const left = (extra = 0) => Math.max(20000, started + 60000 + extra - Date.now());

test('home: the demo app up as a target, data flowing', async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/');
  // The demo app and pharos' own jobs are up.
  // Every target (the demo app and pharos' own jobs) scraped and up; the page refreshes itself.
  await page.waitForFunction(() => {
    const m = (document.querySelector('[data-testid=targets-up]')?.textContent ?? '').match(/^(\d+) \/ (\d+)$/);
    return m && Number(m[1]) >= 1 && m[1] === m[2];
  }, null, { timeout: left(), polling: 1000 });
  await screenshot(page, 'demo-home');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test("dashboard: every panel of the guide's dashboard has data", async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/d/crewai-app');
  const panels = await page
    .waitForFunction(
      () => {
        const ps = [...document.querySelectorAll('[data-testid="dash-panel"]')];
        if (ps.length < 8) return false;
        const waiting = ps.find((p) => p.dataset.state === 'deferred');
        if (waiting) return void waiting.scrollIntoView({ block: 'center' });
        const drawn = ps.map((p) => p.querySelector('.dash-panel-body [data-series-count], .dash-panel-body[data-series-count]'));
        if (!ps.every((p, i) => p.dataset.state === 'ok' && drawn[i] && Number(drawn[i].dataset.seriesCount) > 0)) return false;
        return ps.map((p, i) => ({ title: p.querySelector('[data-testid="panel-title"]')?.textContent, series: Number(drawn[i].dataset.seriesCount), points: Number(drawn[i].dataset.pointCount ?? 0) }));
      },
      null,
      { timeout: left(15000), polling: 1000 },
    )
    .then((h) => h.jsonValue())
    .catch(async (e) => {
      const state = await page.evaluate(() => [...document.querySelectorAll('[data-testid="dash-panel"]')].map((p) => `${p.dataset.panelId} ${p.dataset.state} ${p.querySelector('.dash-panel-body')?.textContent.slice(0, 80)}`).join('\n'));
      throw new Error(`dashboard panels without data: ${e.message}\n${state}`);
    });
  assert.equal(panels.length, 8);
  for (const p of panels) assert.ok(p.series > 0, `${p.title}: no series`);
  const titles = panels.map((p) => p.title);
  assert.ok(titles.includes('Request Rate') && titles.includes('Cache Hit Rate'), titles.join(', '));
  await page.evaluate(() => document.querySelector('#outlet')?.scrollTo(0, 0));
  await screenshot(page, 'demo-dashboard');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test("explore logs: the app's winston JSON lines", async () => {
  const page = await newPage(browser);
  await openUi(page, base, `/explore/logs?query=${encodeURIComponent('{app="crewai-api"}')}`);
  await page.waitForFunction(() => document.querySelectorAll('.log-row').length >= 10, null, { timeout: left() });
  const first = await page.locator('.log-row').first().textContent();
  assert.match(first, /crewai-api/);
  await screenshot(page, 'demo-logs');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('explore traces: email.process traces of crewai-api', async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/explore/traces?service=crewai-api&operation=email.process');
  await page.waitForSelector('[data-testid=trace-result]', { timeout: left() });
  const n = await page.locator('[data-testid=trace-result]').count();
  assert.ok(n >= 1);
  assert.match(await page.locator('[data-testid=trace-result]').first().textContent(), /email\.process/);
  await screenshot(page, 'demo-traces');
  // One trace: the root span and its children.
  await page.locator('[data-testid=trace-result]').first().click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=span-row]').length >= 3, null, { timeout: 20000 });
  await screenshot(page, 'demo-trace');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('errors: the error burst as an issue', async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/errors');
  await untilReloading(page, () => [...document.querySelectorAll('[data-testid=issue-row]')].some((r) => /pool exhausted/.test(r.textContent)), left(30000));
  await screenshot(page, 'demo-errors');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test("alerts: the guide's HighErrorRate alert under the error burst", async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/alerts');
  await untilReloading(page, () => !!document.querySelector('section.alert-group[data-alertname="HighErrorRate"]'), left(60000));
  await page.waitForSelector('section.alert-group[data-alertname="HighErrorRate"].state-firing', { timeout: 90000 }).catch(() => {
    /* pending is enough to show the rule is alive; firing follows 30 s later */
  });
  await screenshot(page, 'demo-alerts');
  assertNoPageErrors(page, assert);
  await page.context().close();
});
