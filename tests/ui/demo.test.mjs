// `pharos demo` in a browser: within about a minute of starting it, Home, the CrewAI monitoring
// guide's dashboard, Explore metrics, logs and traces, Errors, Alerts, Targets and Uptime all show
// the simulated app's data, and the error burst's alert has an incident page with the app's
// error lines, failed traces and error issue. Screenshots: target/ui-screenshots/demo-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, tempDir, spawnUntil, PHAROS_BIN, api, waitFor } from './helpers.mjs';

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

test("explore metrics: the app's request rate graphed per route", async () => {
  const page = await newPage(browser);
  const q = encodeURIComponent('sum by (route) (rate(http_requests_total[1m]))');
  await openUi(page, base, `/explore/metrics?query=${q}&from=now-15m&to=now`);
  await untilReloading(page, () => Number(document.querySelector('[data-testid=graph] [data-series-count], [data-testid=graph][data-series-count]')?.getAttribute('data-series-count')) >= 3, left());
  await screenshot(page, 'demo-explore-metrics');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test("targets: the demo app's crewai-app target", async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/targets');
  await untilReloading(page, () => !!document.querySelector('section[data-pool="crewai-app"] tr.target .badge'), left());
  const row = await page.locator('section[data-pool="crewai-app"] tr.target').first().innerText();
  assert.match(row, /service="?crewai-api/, row);
  await screenshot(page, 'demo-targets');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test("uptime: the probe of the demo app's /health, up, with an uptime figure", async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/uptime');
  await untilReloading(page, () => {
    const card = document.querySelector('[data-probe="crewai-api"]');
    return !!card && /up/i.test(card.querySelector('[data-testid=state-badge]')?.textContent ?? '') && [...card.querySelectorAll('.up-pct-val')].some((x) => /\d/.test(x.textContent));
  }, left());
  await screenshot(page, 'demo-uptime');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test("incident: the error burst's HighErrorRate page joins the app's error lines, failed traces and the issue", async () => {
  const alert = await waitFor(async () => {
    const { body } = await api(base, '/api/v1/alerts');
    return body?.data?.alerts?.find((a) => a.labels.alertname === 'HighErrorRate' && a.labels.route === '/api/emails');
  }, left(60000), 'HighErrorRate of POST /api/emails');
  const q = new URLSearchParams({ ...alert.labels, __start: String(Date.parse(alert.activeAt)) });
  const page = await newPage(browser);
  await openUi(page, base, `/incident?${q}`);
  await page.waitForSelector('[data-testid="incident-logs"]', { timeout: 30000 });
  await untilReloading(page, () => {
    const line = document.querySelector('[data-testid="incident-line"]');
    return !!line && line.classList.contains('is-error') && document.querySelectorAll('[data-testid="failed-traces"] tbody tr').length > 0 &&
      [...document.querySelectorAll('[data-testid="incident-issue"]')].some((e) => /pool exhausted/.test(e.textContent));
  }, 60000);
  assert.match(await page.textContent('[data-testid="incident-join"]'), /service="crewai-api"/);
  await screenshot(page, 'demo-incident');
  assertNoPageErrors(page, assert);
  await page.context().close();
});
