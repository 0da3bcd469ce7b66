// The home page's error-tracking and uptime cards against a pharos with Sentry events and two
// probes: the stat cards count the open (unresolved, seen in 24 h) and new (first seen in 24 h)
// issues and the probes up, the detail cards list the newest issues (linking to their pages) and
// the down probe first with its error, and the links open the Errors and Uptime pages filtered
// to what the card counted. Screenshot: home-health.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, waitFor, api } from './helpers.mjs';
import { freePort } from '../e2e/helpers.mjs';

const KEY = '0123456789abcdef0123456789abcdef';
const ERR = '/api/pharos/v1/errors';
const DAY = 24 * 3600;

let pharos, browser, server;
const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');

/** One event of exception `type` raised in `fn`, at `ts` (Unix seconds). */
function event(type, value, fn, ts = Date.now() / 1000) {
  return {
    event_id: hex(16),
    timestamp: ts,
    platform: 'python',
    level: 'error',
    environment: 'production',
    exception: { values: [{ type, value, stacktrace: { frames: [{ filename: `app/${fn}.py`, function: fn, lineno: 10, in_app: true }] } }] },
  };
}

async function store(ev) {
  const res = await fetch(`${pharos.url}/api/1/store/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Sentry-Auth': `Sentry sentry_version=7, sentry_client=ui-test/1.0, sentry_key=${KEY}` },
    body: JSON.stringify(ev),
  });
  assert.equal(res.status, 200, await res.text());
}

const issues = async () => (await api(pharos.url, `${ERR}/issues?status=all`)).body.issues;
const byType = (list, t) => list.find((i) => i.title.startsWith(t));

before(async () => {
  server = http.createServer((req, res) => res.end('ok'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const closed = await freePort();
  const yml = [
    'collectors: {self: {enabled: false}, host: {enabled: false}}',
    'security: {enabled: false}',
    'errors:',
    '  projects:',
    `    - { id: "1", name: agents, keys: ["${KEY}"] }`,
    'probes:',
    '  targets:',
    `    - {name: checkout-api, url: 'http://127.0.0.1:${server.address().port}/health', module: http_2xx, interval: 500ms}`,
    `    - {name: billing-db-proxy, url: 'http://127.0.0.1:${closed}/', interval: 500ms}`,
  ].join('\n');
  pharos = await startPharos(yml, 'pharos.yml');
  browser = await launchBrowser();
  const now = Date.now() / 1000;
  // New today: a TypeError twice.
  await store(event('TypeError', "'NoneType' object is not subscriptable", 'handle_email'));
  await store(event('TypeError', "'NoneType' object is not subscriptable", 'handle_email'));
  // Open since two days, seen again today: open but not new.
  await store(event('TimeoutError', 'LLM call timed out after 30s', 'call_llm', now - 2 * DAY));
  await store(event('TimeoutError', 'LLM call timed out after 30s', 'call_llm', now - 60));
  // Resolved: counted nowhere.
  await store(event('KeyError', "'sender'", 'parse_headers'));
  // Seen only three days ago: outside the 24 h.
  await store(event('ValueError', 'bad date', 'parse_date', now - 3 * DAY));
  await waitFor(async () => (await issues()).length === 4, 10000, 'four issues');
  const k = byType(await issues(), 'KeyError');
  const put = await fetch(`${pharos.url}${ERR}/issues/${k.id}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'resolved' }) });
  assert.equal(put.status, 200, await put.text());
  const probes = async () => (await api(pharos.url, '/api/pharos/v1/uptime')).body.data.probes;
  await waitFor(async () => {
    const p = await probes();
    return p.find((x) => x.name === 'checkout-api')?.state === 'up' && p.find((x) => x.name === 'billing-db-proxy')?.state === 'down';
  }, 20000, 'one probe up, one down');
});

after(async () => {
  await browser?.close();
  stop(pharos);
  server?.close();
});

test('home: open and new error issues of 24 h, probes up/down, with links into Errors and Uptime', async () => {
  const list = await issues();
  const page = await newPage(browser, { viewport: { width: 1440, height: 1300 } });
  await openUi(page, pharos.url, '/');
  await page.waitForFunction(() => document.querySelector('[data-testid=errors-open]')?.textContent === '2', null, { timeout: 20000 });
  assert.equal(await page.textContent('[data-testid=errors-new]'), '1 new');
  assert.equal(await page.textContent('[data-testid=probes-up]'), '1 / 2');
  assert.equal(await page.textContent('[data-testid=probes-down]'), '1 down: billing-db-proxy');
  // The stat cards link to what they count: the new issues, the uptime page.
  const statHref = (id) => page.$eval(`[data-testid=${id}]`, (e) => e.closest('a').getAttribute('href'));
  assert.equal(await statHref('errors-open'), '/errors?status=unresolved&from=now-24h&to=now&sort=first_seen');
  assert.equal(await statHref('probes-up'), '/uptime');

  // Errors card: the two open issues, newest seen first, the new one marked, each linking to its page.
  const card = await page.$$eval('[data-testid=home-errors] li[data-issue]', (li) => li.map((e) => ({ id: e.dataset.issue, text: e.innerText, href: e.querySelector('a').getAttribute('href') })));
  const type = byType(list, 'TypeError');
  const timeout = byType(list, 'TimeoutError');
  assert.deepEqual(card.map((c) => c.id), [type.id, timeout.id]);
  assert.match(card[0].text, /\bnew\b/i);
  assert.match(card[0].text, /2×/);
  assert.doesNotMatch(card[1].text, /\bnew\b/i);
  assert.equal(card[1].href, `/errors/${timeout.id}`);

  // Probes card: the down one first with its error, then the up one with its 24 h uptime.
  const probes = await page.$$eval('[data-testid=home-probes] li[data-probe]', (li) => li.map((e) => ({ name: e.dataset.probe, state: e.dataset.state, text: e.innerText })));
  assert.deepEqual(probes.map((p) => [p.name, p.state]), [['billing-db-proxy', 'down'], ['checkout-api', 'up']]);
  assert.match(probes[0].text, /refused|connect/i);
  assert.match(probes[1].text, /100%|\d+(\.\d+)?%/);
  await screenshot(page, 'home-health');

  // Click-through: the new-issues link lists the open issues of 24 h, newest first; an issue link opens it.
  await page.click('[data-testid=home-errors] a[href$="sort=first_seen"]');
  await page.waitForSelector('[data-testid=errors-page]');
  await page.waitForSelector(`[data-testid=issue-row][data-issue-id="${type.id}"]`, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=issue-row]').length === 2);
  assert.deepEqual(await page.$$eval('[data-testid=issue-row]', (r) => r.map((e) => e.dataset.issueId)), [type.id, timeout.id]);
  assert.equal(new URL(page.url()).searchParams.get('from'), 'now-24h');
  await openUi(page, pharos.url, '/');
  await page.waitForSelector(`[data-testid=home-errors] a[href="/errors/${timeout.id}"]`);
  await page.click(`[data-testid=home-errors] a[href="/errors/${timeout.id}"]`);
  await page.waitForFunction(() => /TimeoutError/.test(document.querySelector('#outlet h1, #outlet')?.textContent ?? ''), null, { timeout: 10000 });
  assert.equal(new URL(page.url()).pathname, `/errors/${timeout.id}`);
  await openUi(page, pharos.url, '/');
  await page.waitForSelector('[data-testid=home-probes] a[href="/uptime"]');
  await page.click('[data-testid=home-probes] li[data-probe=billing-db-proxy] a');
  await page.waitForSelector('[data-probe="billing-db-proxy"] .up-badge.up-down');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('home: a server without probes or errors says so instead of zeros that look healthy', async () => {
  const bare = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n', 'pharos.yml');
  const page = await newPage(browser);
  try {
    await openUi(page, bare.url, '/');
    await page.waitForFunction(() => document.querySelector('[data-testid=probes-up]')?.textContent === 'none', null, { timeout: 20000 });
    assert.equal(await page.textContent('[data-testid=probes-down]'), 'no probes configured');
    assert.equal(await page.textContent('[data-testid=errors-open]'), '0');
    assert.match(await page.textContent('[data-testid=errors-new]'), /no SDK sends here yet|no errors in 24 h/);
    assert.match(await page.innerText('[data-testid=home-probes]'), /No uptime probes configured/);
    assertNoPageErrors(page, assert);
  } finally {
    stop(bare);
    await page.context().close();
  }
});
