// The dashboard page against a pharos filled with data: the guide's dashboard draws every panel
// with the right series, a stat shows what /api/v1/query says, variables change the queries
// sent, rows collapse, a failing query shows its error while the other panels draw, deep links
// keep range and variables, empty data and a stopped server show a message, and a 20×50
// dashboard's render time is measured.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startFilledPharos, startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api } from './helpers.mjs';

let env, browser;
before(async () => {
  env = await startFilledPharos();
  browser = await launchBrowser();
  // rate(...[5m]) needs two samples of every series.
  await waitFor(async () => {
    const { body } = await api(env.pharos.url, '/api/v1/query?query=' + encodeURIComponent('sum(rate(http_requests_total[5m])) by (method)'));
    return body?.data?.result?.length === 2;
  }, 30000, 'two samples for rate()');
});
after(async () => {
  await browser?.close();
  stop(env?.pharos, env?.app);
});

/** Saves a dashboard through Grafana's API; returns its uid. */
async function saveDashboard(base, dashboard) {
  const res = await fetch(`${base}/api/dashboards/db`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...(dashboard.dashboard ? dashboard : { dashboard }), overwrite: true }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.ok(body.uid, JSON.stringify(body));
  return body.uid;
}

/** Waits until no panel is loading and every data panel has drawn; returns each panel's state. */
async function panelsSettled(page, count, timeout = 30000) {
  await page.waitForFunction(
    (n) => {
      const panels = [...document.querySelectorAll('[data-testid="dash-panel"]')];
      if (panels.length < n) return false;
      return panels.every((p) => p.dataset.state && p.dataset.state !== 'loading' && p.querySelector('.dash-panel-body [data-series-count], .dash-panel-body[data-series-count]'));
    },
    count,
    { timeout },
  );
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="dash-panel"]')].map((p) => {
      const body = p.querySelector('.dash-panel-body');
      const drawn = body.matches('[data-series-count]') ? body : body.querySelector('[data-series-count]');
      return {
        id: Number(p.dataset.panelId),
        title: p.querySelector('[data-testid="panel-title"]')?.textContent ?? '',
        state: p.dataset.state,
        series: Number(drawn?.dataset.seriesCount ?? -1),
        points: Number(drawn?.dataset.pointCount ?? -1),
        value: drawn?.dataset.value ?? null,
        querySeries: Number(p.dataset.querySeries ?? -1),
        text: body.textContent,
        error: p.querySelector('[data-testid="panel-error"]')?.getAttribute('title') ?? null,
      };
    }),
  );
}

test("the guide's dashboard imports and every panel draws its series", async () => {
  const file = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples/dashboards/crewai.json'), 'utf8'));
  const uid = await saveDashboard(env.pharos.url, file);
  const page = await newPage(browser);
  await openUi(page, env.pharos.url, `/d/${uid}?from=now-15m&to=now`);
  const panels = await panelsSettled(page, 8);
  const byTitle = Object.fromEntries(panels.map((p) => [p.title, p]));
  const expected = {
    'Request Rate': 2, // GET and POST
    'Error Rate': 1,
    'Response Time (p95)': 1,
    'Active WebSocket Connections': 1,
    'Email Processing Rate': 1,
    'Database Query Performance': 1,
    'Cache Hit Rate': 1,
    'Agent Utilization': 1,
  };
  assert.deepEqual(Object.keys(byTitle).sort(), Object.keys(expected).sort());
  for (const [title, n] of Object.entries(expected)) {
    assert.equal(byTitle[title].series, n, `${title}: ${JSON.stringify(byTitle[title])}`);
    assert.ok(byTitle[title].points >= 2 * n, `${title} draws points: ${byTitle[title].points}`);
    assert.equal(byTitle[title].state, 'ok', title);
  }
  // Panels without a type are drawn as time series, on Grafana's grid: two columns of four.
  const boxes = await page.$$eval('[data-testid="dash-panel"]', (els) => els.map((e) => { const r = e.getBoundingClientRect(); return { x: Math.round(r.left), y: Math.round(r.top), w: Math.round(r.width) }; }));
  assert.equal(new Set(boxes.map((b) => b.x)).size, 2, JSON.stringify(boxes));
  assert.equal(new Set(boxes.map((b) => b.y)).size, 4, JSON.stringify(boxes));
  // The legend names the methods.
  const legend = await page.$eval('[data-panel-id="1"] .dash-panel-body', (b) => b.textContent);
  assert.match(legend, /GET/);
  assert.match(legend, /POST/);
  await screenshot(page, 'dashboard-crewai');
  assertNoPageErrors(page, assert);
  await page.context().close();
});
