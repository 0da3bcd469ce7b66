// Explore for metrics (PromQL) and logs (LogQL) against a pharos filled with scraped samples,
// pushed log lines and a sent trace: graph and table agree with the API, autocomplete offers
// metric and label names, server errors are shown, log lines list/expand/link to their trace,
// live tail shows a line pushed after opening, an XSS line stays text, 10k lines are virtualised
// (scrolling is measured and printed), and empty data / a stopped server show clear messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFilledPharos,
  startPharos,
  pushLogs,
  sendTrace,
  launchBrowser,
  newPage,
  openUi,
  screenshot,
  assertNoPageErrors,
  stop,
  waitFor,
  api,
} from './helpers.mjs';

let env, browser, base, trace;
const XSS = '<img src=x onerror=alert(1)>';

before(async () => {
  env = await startFilledPharos();
  base = env.pharos.url;
  browser = await launchBrowser();
  trace = await sendTrace(base);
  const now = Date.now();
  await pushLogs(base, [
    { labels: { app: 'api', level: 'info' }, line: JSON.stringify({ msg: 'GET /api/emails', status: 200, duration_ms: 12 }), tsMs: now - 9000 },
    { labels: { app: 'api', level: 'error' }, line: JSON.stringify({ msg: 'db timeout', status: 500, trace_id: trace.traceId, user: { id: 42 } }), tsMs: now - 8000, metadata: { trace_id: trace.traceId } },
    { labels: { app: 'api', level: 'warn' }, line: JSON.stringify({ msg: 'slow query', status: 200, duration_ms: 950 }), tsMs: now - 7000 },
    { labels: { app: 'api', level: 'info' }, line: XSS, tsMs: now - 6000 },
    { labels: { app: 'worker' }, line: 'level=debug msg="picked job" job=42', tsMs: now - 5000 },
  ]);
});

after(async () => {
  await browser?.close();
  if (env) stop(env.pharos, env.app);
});

/** Waits until `fn` (run in the page) returns a truthy value; returns it. */
async function until(page, fn, arg, what, timeout = 20000) {
  const handle = await page.waitForFunction(fn, arg, { timeout, polling: 100 }).catch(async (e) => {
    await screenshot(page, `explore-FAILED-${what.replace(/\W+/g, '-')}`).catch(() => {});
    const status = await page.evaluate(() => document.querySelector('#outlet')?.innerText.slice(0, 600)).catch(() => '');
    throw new Error(`timed out waiting for ${what}: ${e.message.split('\n')[0]}\npage: ${status}`);
  });
  return handle.jsonValue();
}

async function typeQuery(page, text) {
  const ta = page.locator('[data-testid=query-input]').first();
  await ta.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await ta.pressSequentially(text, { delay: 5 });
}

test('PromQL: graph with one series per method, table values equal /api/v1/query', async () => {
  // Wait until rate() has two samples per series (the app is scraped every second).
  const expr = 'sum by (method) (rate(http_requests_total[1m]))';
  let to;
  await waitFor(async () => {
    to = Date.now() - 500;
    return (await api(base, `/api/v1/query?query=${encodeURIComponent(expr)}&time=${to / 1000}`)).body?.data?.result?.length === 2;
  }, 30000, 'two rate series');
  const from = to - 5 * 60_000;
  const page = await newPage(browser);
  await openUi(page, base, `/explore/metrics?query=${encodeURIComponent(expr)}&from=${from}&to=${to}`);
  const count = await until(page, () => Number(document.querySelector('[data-testid=graph] [data-series-count], [data-testid=graph][data-series-count]')?.getAttribute('data-series-count')) || 0, null, 'graph series');
  assert.equal(count, 2, 'graph draws one series per method');
  const points = await page.evaluate(() => Number(document.querySelector('[data-testid=graph] [data-point-count], [data-testid=graph][data-point-count]')?.getAttribute('data-point-count')));
  assert.match(await page.textContent('[data-testid=status]'), /2 series/);
  const step = (await page.textContent('[data-testid=step-note]')).match(/auto: (\d+)s/)?.[1];
  assert.ok(step, 'the auto step is shown');
  // As many points as the API's range query at that step.
  const range = await api(base, `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${from / 1000}&end=${to / 1000}&step=${step}`);
  const apiPoints = range.body.data.result.reduce((n, s) => n + s.values.length, 0);
  assert.equal(points, apiPoints, 'points drawn = points in /api/v1/query_range');
  await screenshot(page, 'explore-metrics-graph');

  // Table: instant query at the end of the range.
  const rows = await until(page, () => [...document.querySelectorAll('[data-testid=table] tbody tr')].map((tr) => ({ series: tr.dataset.series, value: tr.querySelector('td.num')?.getAttribute('data-value') })), null, 'table rows');
  assert.equal(rows.length, 2);
  const { body } = await api(base, `/api/v1/query?query=${encodeURIComponent(expr)}&time=${to / 1000}`);
  for (const s of body.data.result) {
    const row = rows.find((r) => r.series.includes(`method="${s.metric.method}"`));
    assert.ok(row, `table has method ${s.metric.method}`);
    assert.ok(Math.abs(Number(row.value) - Number(s.value[1])) < 1e-9, `value for ${s.metric.method}: ${row.value} vs ${s.value[1]}`);
  }
  // Drag-to-zoom on the graph sets an absolute range inside the old one.
  const box = await page.locator('[data-testid=graph] .u-over').boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await until(page, (f) => Number(new URL(location.href).searchParams.get('from')) > f, from, 'zoomed range in the URL');
  const zoomed = new URL(page.url()).searchParams;
  assert.ok(Number(zoomed.get('to')) <= to + 1000 && Number(zoomed.get('from')) < Number(zoomed.get('to')), `zoomed ${zoomed}`);
  await page.goBack();
  await until(page, (f) => new URL(location.href).searchParams.get('from') === String(f), from, 'back to the first range');
  await page.click('[data-view=table]');
  await page.waitForSelector('.ex-graph', { state: 'hidden' });
  await screenshot(page, 'explore-metrics-table');

  // Sorting by value flips the order.
  const before = await page.$$eval('[data-testid=table] tbody tr', (trs) => trs.map((tr) => tr.dataset.series));
  await page.click('[data-testid=table] th:has-text("Value")');
  const after = await page.$$eval('[data-testid=table] tbody tr', (trs) => trs.map((tr) => tr.dataset.series));
  assert.deepEqual(after, [...before].reverse());

  // The state is in the URL: a reload shows the same query, range and view.
  await page.reload({ waitUntil: 'domcontentloaded' });
  await until(page, () => document.querySelectorAll('[data-testid=table] tbody tr').length === 2, null, 'table after reload');
  assert.equal(await page.inputValue('[data-testid=query-input]'), expr);
  assert.equal(new URL(page.url()).searchParams.get('view'), 'table');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('PromQL: several queries, hide one; history keeps what ran', async () => {
  const page = await newPage(browser);
  const q = (e) => `query=${encodeURIComponent(e)}`;
  await openUi(page, base, `/explore/metrics?${q('sum(http_requests_total)')}&${q('count(up)')}&from=now-5m&to=now`);
  await until(page, () => Number(document.querySelector('[data-testid=graph] [data-series-count], [data-testid=graph][data-series-count]')?.getAttribute('data-series-count')) === 2, null, 'two queries drawn');
  assert.equal(await page.locator('[data-testid=query-row]').count(), 2);
  await page.locator('[data-testid=query-row]').nth(1).locator('[data-action=hide]').click();
  await until(page, () => Number(document.querySelector('[data-testid=graph] [data-series-count], [data-testid=graph][data-series-count]')?.getAttribute('data-series-count')) === 1, null, 'hidden query not drawn');
  assert.equal(new URL(page.url()).searchParams.get('hide'), 'B');
  await page.click('[data-testid=run-query]');
  await page.click('[data-testid=history-toggle]');
  const hist = await page.textContent('[data-testid=history-list]');
  assert.match(hist, /sum\(http_requests_total\)/);
  // Star an entry; a click on it puts it back in query A and runs it.
  await page.locator('.hist-item:has-text("count(up)") .hist-star').click();
  assert.equal(await page.locator('.hist-item').first().locator('.hist-star.on').count(), 1, 'starred entry on top');
  await page.locator('.hist-query:has-text("count(up)")').click();
  await until(page, () => document.querySelector('[data-testid=query-input]')?.value === 'count(up)', null, 'history entry in query A');
  assert.equal(new URL(page.url()).searchParams.getAll('query')[0], 'count(up)');
  // by (...) offers the labels of the metrics in the expression (Ctrl+Space opens suggestions).
  await typeQuery(page, 'sum by () (up)');
  await page.evaluate(() => document.querySelector('[data-testid=query-input]').setSelectionRange(8, 8));
  await page.keyboard.press('Control+Space');
  const byLabels = await until(page, () => {
    const s = document.querySelector('[data-testid=suggestions]');
    return s && !s.hidden && [...s.querySelectorAll('.qe-item[data-kind=label] .qe-label')].map((x) => x.textContent);
  }, null, 'labels after by (');
  assert.deepEqual([...byLabels].sort(), ['env', 'instance', 'job'], 'the labels of up');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('PromQL autocomplete: metric names with their help, label names inside {}', async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/explore/metrics');
  await typeQuery(page, 'http_req');
  const items = await until(page, () => {
    const s = document.querySelector('[data-testid=suggestions]');
    return s && !s.hidden && [...s.querySelectorAll('.qe-label')].map((x) => x.textContent);
  }, null, 'metric suggestions');
  assert.ok(items.includes('http_requests_total'), `suggestions: ${items.join(', ')}`);
  assert.match(await page.textContent('.qe-doc'), /HTTP requests/i, 'help text of the selected metric');
  await screenshot(page, 'explore-autocomplete');
  // Pick it with the keyboard, then open braces: label names of that metric.
  const idx = items.indexOf('http_requests_total');
  for (let i = 0; i < idx; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Tab');
  assert.equal(await page.inputValue('[data-testid=query-input]'), 'http_requests_total');
  await page.keyboard.type('{');
  const labels = await until(page, () => {
    const s = document.querySelector('[data-testid=suggestions]');
    return s && !s.hidden && [...s.querySelectorAll('.qe-item[data-kind=label] .qe-label')].map((x) => x.textContent);
  }, null, 'label suggestions');
  assert.ok(labels.includes('method'), `labels: ${labels.join(', ')}`);
  // Choosing a label inserts label="" and offers its values.
  await page.keyboard.type('meth');
  await page.keyboard.press('Enter');
  const values = await until(page, () => {
    const s = document.querySelector('[data-testid=suggestions]');
    return s && !s.hidden && [...s.querySelectorAll('.qe-item[data-kind=value] .qe-label')].map((x) => x.textContent);
  }, null, 'value suggestions');
  assert.ok(values.includes('GET'), `values: ${values.join(', ')}`);
  await page.keyboard.press('Enter');
  // Braces close themselves as they are typed; the chosen value is quoted.
  assert.match(await page.inputValue('[data-testid=query-input]'), /^http_requests_total\{method="[A-Z]+"\}$/);
  // Functions come with their signature.
  await typeQuery(page, 'histogram_q');
  await until(page, () => document.querySelector('.qe-doc')?.textContent.includes('histogram_quantile(φ scalar, b instant-vector)'), null, 'function signature');
  await page.keyboard.press('Escape');
  assert.equal(await page.isHidden('[data-testid=suggestions]'), true);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('PromQL: a bad query shows the server\'s error; no data says so', async () => {
  const page = await newPage(browser);
  const bad = 'sum(rate(http_requests_total[1m])';
  const { status, body } = await api(base, '/api/v1/query?query=' + encodeURIComponent(bad));
  assert.equal(status, 400);
  await openUi(page, base, `/explore/metrics?query=${encodeURIComponent(bad)}&from=now-5m&to=now`);
  const shown = await until(page, () => document.querySelector('[data-testid=query-error]')?.textContent, null, 'error under the query');
  assert.ok(shown.includes(body.error), `shown: ${shown}; server: ${body.error}`);
  await screenshot(page, 'explore-metrics-error');
  await typeQuery(page, 'no_such_metric_at_all');
  await page.keyboard.press('Shift+Enter');
  await until(page, () => document.querySelector('.ex-graph')?.textContent.includes('No data'), null, 'No data');
  assert.equal(await page.textContent('[data-testid=query-error]'), '');
  await screenshot(page, 'explore-metrics-empty');
  // Prometheus' infos are shown (rate() of a gauge).
  await typeQuery(page, 'rate(agent_utilization[1m])');
  await page.keyboard.press('Shift+Enter');
  const info = await until(page, () => document.querySelector('[data-testid=query-info]')?.textContent, null, 'PromQL info');
  assert.match(info, /might not be a counter/);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('LogQL: lines listed, JSON fields expanded, filter for a value, trace link opens the trace', async () => {
  const page = await newPage(browser);
  await openUi(page, base, `/explore/logs?query=${encodeURIComponent('{app="api"} | json')}&from=now-15m&to=now`);
  await until(page, () => document.querySelector('[data-testid=log-list]')?.dataset.count === '4', null, '4 api lines');
  const texts = await page.$$eval('.log-row', (rows) => rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map((e) => e.querySelector('.log-text').textContent));
  assert.ok(texts.some((t) => t.includes('db timeout')));
  // Newest first.
  assert.ok(texts[0].includes(XSS), `newest first: ${texts[0]}`);
  // Volume histogram: counts by level add up to the lines.
  const total = await until(page, () => Number(document.querySelector('[data-testid=volume]')?.dataset.total), null, 'volume');
  assert.equal(total, 4);
  await screenshot(page, 'explore-logs');

  await page.click('.log-row:has-text("db timeout")');
  const row = page.locator('.log-row.open');
  await row.locator('tr[data-field=status]').first().waitFor();
  assert.match(await row.locator('tr[data-field=status]').first().textContent(), /status\s*500/);
  assert.match(await row.textContent(), /user_id\s*42/);
  assert.match(await row.textContent(), /Structured metadata/);
  await screenshot(page, 'explore-logs-expanded');

  // The trace link goes to the trace view.
  await row.locator('[data-testid=trace-link]').first().click();
  await page.waitForURL((u) => u.pathname === `/trace/${trace.traceId}`);
  await page.goBack();
  await until(page, () => document.querySelector('[data-testid=log-list]')?.dataset.count === '4', null, 'list back');

  // Filter out a value: the query gains a label filter and the line disappears.
  await page.click('.log-row:has-text("slow query")');
  await page.locator('.log-row.open tr[data-field=level] [data-action=filter-out]').click();
  await until(page, () => document.querySelector('[data-testid=log-list]')?.dataset.count === '3', null, 'filtered list');
  assert.match(await page.inputValue('[data-testid=query-input]'), /level!="warn"/);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('LogQL autocomplete and label browser build a selector', async () => {
  const page = await newPage(browser);
  await openUi(page, base, '/explore/logs?from=now-15m&to=now');
  await until(page, () => document.querySelector('.ex-logs')?.textContent.includes('Enter a LogQL query'), null, 'empty-query hint');
  await typeQuery(page, '{');
  const labels = await until(page, () => {
    const s = document.querySelector('[data-testid=suggestions]');
    return s && !s.hidden && [...s.querySelectorAll('.qe-item[data-kind=label] .qe-label')].map((x) => x.textContent);
  }, null, 'Loki label names');
  assert.ok(labels.includes('app'), labels.join(','));
  await page.keyboard.type('ap');
  await page.keyboard.press('Enter');
  const values = await until(page, () => {
    const s = document.querySelector('[data-testid=suggestions]');
    return s && !s.hidden && [...s.querySelectorAll('.qe-item[data-kind=value] .qe-label')].map((x) => x.textContent);
  }, null, 'Loki label values');
  assert.ok(values.includes('api') && values.includes('worker'), values.join(','));
  await page.keyboard.press('Escape');
  await page.keyboard.press('End');
  await page.keyboard.type(' | ');
  const stages = await until(page, () => {
    const s = document.querySelector('[data-testid=suggestions]');
    return s && !s.hidden && [...s.querySelectorAll('.qe-item[data-kind=stage] .qe-label')].map((x) => x.textContent);
  }, null, 'pipeline stages');
  assert.ok(stages.includes('json') && stages.includes('logfmt') && stages.includes('line_format'), stages.join(','));
  await page.keyboard.press('Escape');

  await page.click('[data-testid=label-browser-toggle]');
  await page.click('.lb-label:text-is("app")');
  await page.click('.lb-value:has-text("worker") input');
  await screenshot(page, 'explore-label-browser');
  assert.equal(await page.textContent('[data-testid=label-browser-selector]'), '{app="worker"}');
  await page.click('[data-testid=label-browser-use]');
  await until(page, () => document.querySelector('[data-testid=log-list]')?.dataset.count === '1', null, 'worker line');
  assert.equal(await page.inputValue('[data-testid=query-input]'), '{app="worker"}');
  // The logfmt line's level colours its bar.
  assert.equal(await page.getAttribute('.log-row', 'data-level'), 'debug');
  // With several streams, each line shows the labels that tell them apart.
  await typeQuery(page, '{app=~"api|worker"}');
  await page.keyboard.press('Shift+Enter');
  await until(page, () => document.querySelector('[data-testid=log-list]')?.dataset.count === '5', null, 'api and worker lines');
  const chips = await page.$$eval('.log-label', (els) => [...new Set(els.map((e) => e.textContent))].sort());
  assert.deepEqual(chips, ['app=api', 'app=worker']);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('LogQL: the XSS line renders as text, with no dialog and no injected element', async () => {
  const page = await newPage(browser);
  await openUi(page, base, `/explore/logs?query=${encodeURIComponent('{app="api"}')}&from=now-15m&to=now`);
  await until(page, () => [...document.querySelectorAll('.log-text')].some((e) => e.textContent === '<img src=x onerror=alert(1)>'), null, 'XSS line as text');
  await page.click(`.log-row:has-text("onerror")`);
  await page.waitForSelector('.log-row.open');
  assert.equal(await page.locator('#outlet img').count(), 0);
  assert.deepEqual(page.pharosDialogs, []);
  // Without a parser in the query the client still finds the JSON fields; filtering on one adds the parser.
  await page.click('.log-row:has-text("db timeout")');
  const row = page.locator('.log-row.open:has-text("db timeout")');
  await row.locator('tr[data-field=status] [data-action=filter-for]').click();
  await until(page, () => document.querySelector('[data-testid=log-list]')?.dataset.count === '1', null, 'filtered for status=500');
  assert.equal(await page.inputValue('[data-testid=query-input]'), '{app="api"} | json | status="500"');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('LogQL: live tail shows a line pushed after opening; pause buffers; stop ends it', async () => {
  const page = await newPage(browser);
  await openUi(page, base, `/explore/logs?query=${encodeURIComponent('{app="tail"}')}&from=now-5m&to=now`);
  await page.click('[data-testid=live]');
  await until(page, () => document.querySelector('[data-testid=live-status]')?.textContent.includes('Live'), null, 'live connected');
  const marker = `tail line ${Date.now()}`;
  await pushLogs(base, [{ labels: { app: 'tail', level: 'error' }, line: marker }]);
  await until(page, (m) => [...document.querySelectorAll('.log-text')].some((e) => e.textContent === m), marker, 'tailed line');
  await screenshot(page, 'explore-live-tail');
  await page.click('[data-testid=live-pause]');
  await pushLogs(base, [{ labels: { app: 'tail' }, line: 'while paused' }]);
  await until(page, () => document.querySelector('[data-testid=live-pause]')?.textContent.includes('1 new'), null, 'buffered while paused');
  assert.equal(await page.locator('.log-text:text-is("while paused")').count(), 0);
  await page.click('[data-testid=live-pause]');
  await page.locator('.log-text:text-is("while paused")').waitFor();
  const first = await page.$$eval('.log-row', (rows) => rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)[0].querySelector('.log-text').textContent);
  assert.equal(first, 'while paused', 'newest line on top');
  await page.click('[data-testid=live-stop]');
  assert.equal(await page.isVisible('[data-testid=live]'), true);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('LogQL: metric queries draw a graph; empty results say so', async () => {
  const page = await newPage(browser);
  await openUi(page, base, `/explore/logs?query=${encodeURIComponent('sum by (app) (count_over_time({app=~"api|worker"}[1m]))')}&from=now-15m&to=now`);
  await until(page, () => Number(document.querySelector('[data-testid=graph] [data-series-count], [data-testid=graph][data-series-count]')?.getAttribute('data-series-count')) === 2, null, 'metric graph');
  await typeQuery(page, '{app="nothing-here"}');
  await page.keyboard.press('Shift+Enter');
  await until(page, () => document.querySelector('.ex-logs')?.textContent.includes('No log lines match'), null, 'empty message');
  await screenshot(page, 'explore-logs-empty');
  await typeQuery(page, '{app="api"} | json | ');
  await page.keyboard.press('Shift+Enter');
  const err = await until(page, () => document.querySelector('[data-testid=query-error]')?.textContent, null, 'LogQL error');
  assert.ok(err.length > 5, err);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('LogQL: 10,000 lines are listed virtualised and scroll smoothly (measured)', async () => {
  const start = Date.now() - 120_000;
  const lines = [];
  const levels = ['info', 'info', 'info', 'warn', 'error', 'debug'];
  for (let i = 0; i < 10_000; i++) {
    const lv = levels[i % levels.length];
    lines.push({ labels: { app: 'bulk', level: lv }, line: `level=${lv} msg="request ${i}" path=/api/emails/${i} duration_ms=${i % 997} user=u${i % 50}`, tsMs: start + i * 10 });
  }
  for (let i = 0; i < lines.length; i += 2500) await pushLogs(base, lines.slice(i, i + 2500));
  const page = await newPage(browser);
  const t0 = Date.now();
  await openUi(page, base, `/explore/logs?query=${encodeURIComponent('{app="bulk"}')}&from=now-10m&to=now&limit=10000`);
  await until(page, () => document.querySelector('[data-testid=log-list]')?.dataset.count === '10000', null, '10k lines', 60000);
  const loadMs = Date.now() - t0;
  const domRows = await page.locator('.log-row').count();
  assert.ok(domRows < 200, `virtualised: ${domRows} rows in the DOM for 10000 lines`);
  assert.match(await page.textContent('[data-testid=log-count]'), /showing 10000 of limit 10000/);
  // Scroll: 50 wheel steps, frame times recorded by requestAnimationFrame.
  await page.hover('[data-testid=log-list]');
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (t) => {
      window.__frames.push(t - last);
      last = t;
      if (window.__frames.length < 100000 && !window.__stopFrames) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const s0 = Date.now();
  for (let i = 0; i < 50; i++) {
    await page.mouse.wheel(0, 400);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  }
  const scrollMs = Date.now() - s0;
  const frames = await page.evaluate(() => {
    window.__stopFrames = true;
    return window.__frames.slice(1);
  });
  const scrollTop = await page.$eval('[data-testid=log-list]', (el) => el.scrollTop);
  assert.ok(scrollTop > 10_000, `scrolled (${scrollTop}px)`);
  const sorted = [...frames].sort((a, b) => a - b);
  const p = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]?.toFixed(1);
  const rendered = await page.$eval('[data-testid=log-list]', (el) => el.dataset.rendered);
  console.log(`# 10k log lines: query+render ${loadMs} ms; ${domRows} DOM rows (${rendered} after scrolling); 50 wheel steps in ${scrollMs} ms; frame times p50 ${p(0.5)} ms, p95 ${p(0.95)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms over ${frames.length} frames`);
  assert.ok(Number(rendered) < 200, `still virtualised after scrolling: ${rendered}`);
  await screenshot(page, 'explore-logs-10k');
  // Context of a line: the 25 lines before and after it in its stream.
  const target = page.locator('.log-row').nth(20);
  const targetText = await target.locator('.log-text').textContent();
  await target.click();
  await page.locator('.log-row.open [data-action=context]').click();
  await until(page, () => document.querySelectorAll('[data-testid=log-context] .ctx-row').length > 1, null, 'context lines');
  const ctxRows = await page.$$eval('[data-testid=log-context] .ctx-row', (rows) => rows.map((r) => ({ text: r.querySelector('.ctx-text').textContent, current: r.classList.contains('current') })));
  const cur = ctxRows.findIndex((r) => r.current);
  const shown = Number(targetText.match(/request (\d+)/)[1]);
  assert.equal(ctxRows[cur].text, targetText);
  // Neighbours are the previous/next line of the same stream (same level).
  const same = (m) => levels[m % levels.length] === levels[shown % levels.length];
  let prev = shown - 1;
  while (!same(prev)) prev--;
  let next = shown + 1;
  while (!same(next)) next++;
  assert.match(ctxRows[cur - 1].text, new RegExp(`request ${prev}"`));
  assert.match(ctxRows[cur + 1].text, new RegExp(`request ${next}"`));
  assert.equal(ctxRows.length, 51, '25 before, the line, 25 after');
  await screenshot(page, 'explore-logs-context');
  await page.keyboard.press('Escape');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('a stopped server: Explore says pharos is not reachable', async () => {
  // Without the built-in collectors: `up` has no data yet on this fresh server.
  const other = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\n', 'pharos.yml');
  const page = await newPage(browser);
  await openUi(page, other.url, `/explore/metrics?query=${encodeURIComponent('up')}&from=now-5m&to=now`);
  await until(page, () => document.querySelector('.ex-graph')?.textContent.includes('No data'), null, 'first run');
  const logs = await page.context().newPage();
  await openUi(logs, other.url, `/explore/logs?query=${encodeURIComponent('{app="x"}')}&from=now-5m&to=now`);
  await until(logs, () => document.querySelector('.ex-logs')?.textContent.includes('No log lines'), null, 'first logs run');
  await logs.click('[data-testid=live]');
  await until(logs, () => document.querySelector('[data-testid=live-status]')?.textContent.includes('Live'), null, 'live before stop');
  stop(other);
  await until(logs, () => /Connection lost|not reachable|could not connect/.test(document.querySelector('[data-testid=live-status]')?.textContent), null, 'live tail lost', 30000);
  await screenshot(logs, 'explore-live-tail-lost');
  await page.click('[data-testid=run-query]');
  await until(page, () => document.querySelector('.ex-notices')?.textContent.includes('not reachable'), null, 'unreachable message');
  await screenshot(page, 'explore-server-stopped');
  await logs.click('[data-testid=run-query]');
  await until(logs, () => document.querySelector('.ex-notices')?.textContent.includes('not reachable'), null, 'unreachable message on logs');
  await screenshot(logs, 'explore-logs-server-stopped');
  await page.context().close();
});
