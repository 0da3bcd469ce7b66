// Real community dashboards (exported Grafana JSON, tests/ui/fixtures/community/, SOURCES.md
// says where each comes from) imported unmodified through /api/dashboards/db into a pharos that
// has data for them (its host and self collectors, a few log lines, and a synthetic exporter
// serving the metrics their PromQL selects, synthetic_exporter.mjs), then opened in Chromium:
// every collapsed row is expanded, every panel scrolled into view and run, and no panel may show
// a rendering failure — an uncaught exception or console error, "could not be drawn", a query or
// interpolation error (an unresolved `$var` or a parse error of the expression Grafana would have
// sent), a variable whose options failed, or the "unsupported" placeholder for a panel type that
// Grafana has built in. "No data" is fine (not every metric is guessed); a third-party plugin
// panel must show the clear "Unsupported panel type" message.
// COMMUNITY_DASHBOARDS_DIR=<dir> runs the same checks over another folder of dashboards.
// Screenshots: community-<file>.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startPharos, launchBrowser, newPage, openUi, screenshot, stop, waitFor, pushLogs, tempDir, sleep, ROOT } from './helpers.mjs';
import { startSyntheticExporter } from './synthetic_exporter.mjs';

const DIR = process.env.COMMUNITY_DASHBOARDS_DIR || path.join(ROOT, 'tests/ui/fixtures/community');
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(DIR, f));
// Node Exporter Full (grafana.com 1860, current schema), stored for the e2e side-by-side test.
// Hand-made dashboards in export shapes that broke panels before (fixtures/export-shapes/README.md).
if (!process.env.COMMUNITY_DASHBOARDS_DIR) {
  FILES.push(path.join(ROOT, 'tests/e2e/dashboards/node-exporter-full.json'));
  const shapes = path.join(ROOT, 'tests/ui/fixtures/export-shapes');
  for (const f of fs.readdirSync(shapes).filter((f) => f.endsWith('.json')).sort()) FILES.push(path.join(shapes, f));
}
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** Panel types Grafana ships with: none of them may fall back to the "unsupported" placeholder. */
const BUILT_IN = new Set([
  'timeseries', 'graph', 'stat', 'singlestat', 'gauge', 'bargauge', 'table', 'table-old', 'heatmap', 'piechart', 'text',
  'row', 'logs', 'news', 'dashlist', 'alertlist', 'annolist', 'state-timeline', 'status-history', 'histogram', 'barchart',
  'xychart', 'trend', 'candlestick', 'nodeGraph', 'traces', 'flamegraph', 'geomap', 'canvas', 'datagrid', 'welcome',
  'gettingstarted', 'pluginlist',
]);

let pharos, browser, exporter;
before(async () => {
  const started = Date.now();
  // The metrics the dashboards ask for, guessed from their PromQL (synthetic_exporter.mjs), so
  // most panels draw series; pharos' own host collector fills the node_exporter dashboards.
  // COMMUNITY_NO_SYNTHETIC=1: only pharos' own data (variables without values, as on a fresh install).
  exporter = await startSyntheticExporter(process.env.COMMUNITY_NO_SYNTHETIC ? [] : FILES.map((f) => {
    const j = readJson(f);
    return j.dashboard && typeof j.dashboard === 'object' ? j.dashboard : j;
  }));
  const dir = tempDir('pharos-community-');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), `global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: synthetic\n    static_configs: [{targets: ['${new URL(exporter.url).host}']}]\n`);
  pharos = await startPharos(
    ['security: {enabled: false}', `prometheus_config: ${path.join(dir, 'prometheus.yml')}`, 'collectors:', '  self: {interval: 1s}', '  host: {interval: 1s}'].join('\n'),
    'pharos.yml',
  );
  browser = await launchBrowser();
  const now = Date.now();
  await pushLogs(pharos.url, [
    { labels: { job: 'loki', namespace: 'loki', container: 'ingester', level: 'info' }, line: 'level=info msg="flushing stream" caller=flush.go:120', tsMs: now - 5000 },
    { labels: { job: 'loki', namespace: 'loki', container: 'querier', level: 'error' }, line: 'level=error msg="query timed out" traceID=abc', tsMs: now - 3000 },
    { labels: { job: 'varlogs', filename: '/var/log/syslog' }, line: 'Dec  2 17:00:00 host systemd[1]: Started Session 1.', tsMs: now - 1000 },
  ]);
  await waitFor(async () => {
    const r = await fetch(`${pharos.url}/api/v1/query?query=${encodeURIComponent('count_over_time(up{job="synthetic"}[1m]) >= 3 and on() count(node_cpu_seconds_total) > 0')}`);
    return (await r.json()).data?.result?.length > 0;
  }, 60000, 'three scrapes of the synthetic exporter and host collector samples');
  // A 15-minute range is queried with a 1-minute step aligned to the minute: the newest point
  // lies up to a minute back, so the samples must be older than that to be drawn at all.
  await sleep(Math.max(0, 65000 - (Date.now() - started)));
});
after(async () => {
  await browser?.close();
  stop(pharos);
  exporter?.close();
});

/** Imports the file's JSON as it is (bare or API-wrapped) through Grafana's /api/dashboards/db. */
async function importDashboard(file) {
  const json = readJson(file);
  const dashboard = json.dashboard && typeof json.dashboard === 'object' ? json.dashboard : json;
  const res = await fetch(`${pharos.url}/api/dashboards/db`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ dashboard, overwrite: true }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `${file}: ${JSON.stringify(body)}`);
  return { uid: body.uid, dashboard };
}

/** Expands every collapsed row, scrolls every panel into view and waits until none is loading. */
async function showEverything(page) {
  for (let round = 0; round < 50; round++) {
    const collapsed = await page.$('[data-testid="dash-row"][data-collapsed="true"]');
    if (!collapsed) break;
    await collapsed.click();
    await page.waitForTimeout(100);
  }
  await page.waitForFunction(
    () => {
      const panels = [...document.querySelectorAll('[data-testid="dash-panel"]')];
      const waiting = panels.find((p) => p.dataset.state === 'deferred' || !p.dataset.state);
      if (waiting) {
        waiting.scrollIntoView({ block: 'center' });
        return false;
      }
      return panels.every((p) => p.dataset.state !== 'loading');
    },
    null,
    { timeout: 120000, polling: 150 },
  ).catch(async (e) => {
    const stuck = await page.$$eval('[data-testid="dash-panel"]', (els) =>
      els.filter((p) => p.dataset.state !== 'ok' && p.dataset.state !== 'empty' && p.dataset.state !== 'error').map((p) => `"${p.querySelector('[data-testid="panel-title"]')?.textContent}" (${p.dataset.panelType}): state ${p.dataset.state}`),
    );
    throw new Error(`${e.message}; panels not done: ${stuck.slice(0, 10).join('; ')} (${stuck.length})`);
  });
  // Renderers that draw on the next frame (charts, canvases).
  await page.waitForTimeout(300);
}

/** Every failure a person would see as a broken panel, one line each. */
async function brokenPanels(page, varNames) {
  return page.evaluate(([builtIn, names]) => {
    const unresolved = (t) => names.find((n) => t.includes(`$${n}`) && new RegExp(`\\$(\\{${n}[}:]|${n}\\b)`).test(t) || t.includes(`[[${n}]]`));
    const out = [];
    for (const p of document.querySelectorAll('[data-testid="dash-panel"]')) {
      const title = p.querySelector('[data-testid="panel-title"]')?.textContent || '(no title)';
      const type = p.dataset.panelType;
      const where = `panel "${title}" (${type})`;
      if (p.dataset.state === 'error') {
        const err = p.querySelector('[data-testid="panel-error"]')?.getAttribute('title') ?? '';
        out.push(`${where}: query error: ${err}`);
      }
      const body = p.querySelector('.dash-panel-body');
      const text = body?.textContent ?? '';
      if (/could not be drawn/i.test(text)) out.push(`${where}: ${text.slice(0, 200)}`);
      else if (p.dataset.state !== 'error' && body?.querySelector('.msg-error, .vp-error-strip')) out.push(`${where}: ${body.querySelector('.msg-error, .vp-error-strip').textContent.slice(0, 200)}`);
      if (/plugin not found/i.test(text)) out.push(`${where}: ${text.slice(0, 200)}`);
      const unsupported = body?.querySelector('.panel-unsupported');
      if (unsupported && builtIn.includes(type)) out.push(`${where}: built-in type shown as unsupported`);
      if (unsupported && !/unsupported panel type/i.test(unsupported.textContent)) out.push(`${where}: placeholder does not say "Unsupported panel type"`);
      // Text a panel shows that still carries an unresolved template variable.
      const shown = [p.querySelector('[data-testid="panel-title"]')?.textContent ?? ''];
      if (type === 'text') shown.push(text);
      for (const t of shown) {
        if (/\$\{?__(interval|rate_interval|range|from|to|dashboard)|\[\[\w+\]\]/.test(t) || unresolved(t)) out.push(`${where}: uninterpolated text "${t.slice(0, 120)}"`);
      }
    }
    for (const e of document.querySelectorAll('.dash-var-error')) out.push(`variable error: ${e.getAttribute('title')}`);
    return out;
  }, [[...BUILT_IN], varNames]);
}

for (const filePath of FILES) {
  const file = path.basename(filePath);
  test(`community dashboard ${file} renders without a broken panel`, { timeout: 240000 }, async () => {
    const { uid, dashboard } = await importDashboard(filePath);
    const page = await newPage(browser);
    const consoleErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
    });
    try {
      await openUi(page, pharos.url, `/dashboards/${uid}?from=now-15m&to=now`);
      await page.waitForSelector('[data-testid="dash-panel"], .dash-row', { timeout: 30000 }).catch(() => {});
      await showEverything(page);
      const varNames = (Array.isArray(dashboard.templating?.list) ? dashboard.templating.list : []).map((v) => v?.name).filter((n) => typeof n === 'string' && /^\w+$/.test(n));
      const broken = await brokenPanels(page, varNames);
      const panels = await page.$$eval('[data-testid="dash-panel"]', (els) => els.length);
      const withSeries = await page.$$eval('[data-testid="dash-panel"]', (els) => els.filter((e) => Number(e.dataset.querySeries) > 0).length);
      await page.evaluate(() => {
        for (const e of document.querySelectorAll('*')) if (e.scrollTop) e.scrollTop = 0;
      });
      await page.waitForTimeout(200);
      await screenshot(page, `community-${file.replace(/\.json$/, '')}`);
      const problems = [...broken, ...page.pharosErrors.map((e) => `page error: ${e.split('\n').slice(0, 3).join(' | ')}`), ...consoleErrors.map((e) => `console error: ${e.slice(0, 300)}`)];
      console.log(`${file}: "${dashboard.title}" ${panels} panels drawn (${withSeries} with series), ${problems.length} problems${problems.length ? `\n  ${problems.join('\n  ')}` : ''}`);
      assert.ok(panels > 0, `${file}: no panel drawn`);
      assert.deepEqual(problems, [], `${file}: broken panels`);
    } finally {
      await page.context().close();
    }
  });
}
