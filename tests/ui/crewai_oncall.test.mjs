// The on-call walk on the CrewAI example app (examples/crewai-app), in Chromium: Redis,
// PostgreSQL, pharos with the example's pharos.yml and the app itself (tests/e2e/crewai_stack.mjs),
// load.mjs injecting only the error burst. Then, as the engineer paged at 3 a.m. would:
// the firing HighErrorRate on the Alerts page → its rule's query in Explore → its incident page
// (the burst's log lines errors first, the failed trace, the error issue) → the logs of that
// minute in Explore → the trace from an error line's trace id → the error issue from the trace.
// Screenshots oncall-1-alerts.png … oncall-6-issue.png in target/ui-screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, waitFor, api } from './helpers.mjs';
import { crewaiSkip, startCrewaiStack, runLoad } from '../e2e/crewai_stack.mjs';

const skip = crewaiSkip();
const BURST = 'connection terminated unexpectedly while saving email';
let stack;
let browser;
let burst;

before(async () => {
  if (skip) return;
  stack = await startCrewaiStack();
  const load = await runLoad(stack.app.url, ['--only', 'errors', '--warmup', '4', '--hold', '8', '--gap', '1']);
  burst = load.phases.find((p) => p.phase === 'errors');
  console.log('load:', JSON.stringify(load.requests));
  const base = stack.pharos.url;
  await waitFor(async () => {
    const { body } = await api(base, '/api/v1/alerts');
    return body?.data?.alerts?.some((a) => a.labels.alertname === 'HighErrorRate' && a.state === 'firing');
  }, 30000, 'HighErrorRate fires');
  // The app's exporters batch: wait until the burst's error issue has its events.
  await waitFor(async () => {
    const { body } = await api(base, '/api/pharos/v1/errors/issues?project=1');
    const list = (body.data ?? body).issues ?? body.data ?? body;
    return Array.isArray(list) && list.some((i) => JSON.stringify(i).includes(BURST));
  }, 30000, 'the error issue of the burst');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  stack?.stop();
});

test('on-call walk: alert → rule query → incident → logs of that minute → trace → error issue', { skip }, async () => {
  const page = await newPage(browser);
  const base = stack.pharos.url;

  // 1. The Alerts page: HighErrorRate is firing.
  await openUi(page, base, '/alerts');
  const alert = page.locator('[data-alertname="HighErrorRate"]').first();
  await alert.waitFor({ timeout: 20000 });
  assert.match(await alert.textContent(), /firing/i);
  await screenshot(page, 'oncall-1-alerts');

  // 2. Its rule's query in Explore, graphed.
  await alert.locator('[data-action="show-query"]').first().click();
  await page.waitForURL(/\/explore\/metrics\?/);
  assert.match(await page.inputValue('[data-testid=query-input]'), /rate\(http_requests_total\{status=~"5\.\."\}\[5m\]\) > 0\.05/);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=graph] [data-series-count], [data-testid=graph][data-series-count]')?.getAttribute('data-series-count')) >= 1, null, { timeout: 20000 });
  await screenshot(page, 'oncall-2-rule-query');
  await page.goBack();

  // 3. Its incident page: the burst's error lines first, a failed trace, the error issue.
  const incident = page.locator('[data-alertname="HighErrorRate"] [data-action="incident"]').first();
  await incident.waitFor({ timeout: 20000 });
  await incident.click();
  await page.waitForSelector('[data-testid="incident-logs"]', { timeout: 30000 });
  assert.equal(await page.textContent('[data-testid="incident-state"]'), 'firing');
  const lines = await page.$$eval('[data-testid="incident-line"]', (els) => els.map((e) => [e.classList.contains('is-error'), e.textContent]));
  assert.ok(lines.length > 0 && lines[0][0], `error lines first: ${JSON.stringify(lines.slice(0, 3))}`);
  assert.ok(lines.some(([err, t]) => err && t.includes(BURST)), 'a burst error line');
  // Each line with a trace id links its trace right there.
  assert.match(await page.getAttribute('[data-testid="incident-line"] [data-testid="incident-line-trace"]', 'href'), /^\/trace\/[0-9a-f]{32}$/);
  const failed = await page.$$eval('[data-testid="failed-traces"] tbody tr', (els) => els.length);
  assert.ok(failed > 0, 'failed traces of the service');
  assert.ok((await page.$$eval('[data-testid="incident-issue"]', (els) => els.map((e) => e.textContent))).some((t) => t.includes(BURST)), 'the error issue');
  await screenshot(page, 'oncall-3-incident');

  // 4. The logs of that minute in Explore.
  await page.click('[data-testid="incident-error-logs"]');
  await page.waitForURL(/\/explore\/logs\?/);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=log-list]')?.dataset.count) > 0, null, { timeout: 20000 });
  const range = new URL(page.url()).searchParams;
  const [from, to] = [Number(range.get('from')), Number(range.get('to'))];
  assert.ok(to - from <= 10 * 60_000, `a window of minutes around the alert, not hours: ${(to - from) / 60000} min`);
  assert.ok(from <= burst.start + 60_000 && to >= burst.start, 'the window holds the burst');
  const errorRow = page.locator(`.log-row:has-text("${BURST}")`).first();
  await errorRow.waitFor({ timeout: 20000 });
  await screenshot(page, 'oncall-4-logs');

  // 5. A trace from the error line's trace id.
  await errorRow.click();
  const traceButton = page.locator('.log-row.open [data-testid=trace-button]').first();
  await traceButton.waitFor({ timeout: 10000 });
  await traceButton.click();
  await page.waitForURL(/\/trace\/[0-9a-f]+/);
  await page.waitForSelector('[data-testid=span-row]', { timeout: 20000 });
  const spans = await page.$$eval('[data-testid=span-row]', (els) => els.map((e) => e.textContent));
  assert.ok(spans.some((t) => t.includes('email.process')), `the email.process span: ${spans.slice(0, 5).join(' | ')}`);
  await page.waitForSelector('[data-testid=trace-error]', { timeout: 20000 });
  assert.match(await page.textContent('[data-testid=trace-errors]'), /connection terminated unexpectedly/);
  await screenshot(page, 'oncall-5-trace');

  // 6. The error issue from the trace.
  await page.click('[data-testid=trace-error-link]');
  await page.waitForSelector('[data-testid=issue-title]', { timeout: 20000 });
  assert.match(await page.textContent('[data-testid=issue-title]'), /connection terminated unexpectedly/);
  await page.waitForSelector('[data-testid=event-id]');
  await screenshot(page, 'oncall-6-issue');

  assertNoPageErrors(page, assert);
  assert.deepEqual(page.pharosDialogs, []);
  await page.context().close();
});
