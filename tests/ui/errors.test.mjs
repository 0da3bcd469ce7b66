// The Errors pages in the browser: pharos with two error projects (pharos.yml), events sent over
// Sentry's store endpoint as an SDK sends them — one error thrown three times from one place
// (breadcrumbs, a user, a trace context naming a real trace) and a different error once — then:
// the list shows both issues with their counts, sparklines and badges; the detail shows the stack
// trace newest frame first with in-app frames and context lines, the exception chain and the
// breadcrumbs; events navigate; "View trace" opens /trace/<id>, whose page lists the error back;
// Resolve (detail) and Ignore (bulk, list) change the status in the store and a resolved error
// seen again comes back regressed; an empty project shows its DSN, a project created on the page
// its own and an error chain from it; deep links reload; a stopped server is said.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPharos, launchBrowser, newPage, openUi, screenshot, assertNoPageErrors, stop, sendTrace, waitFor, api } from './helpers.mjs';

const KEY = '0123456789abcdef0123456789abcdef';
const KEY2 = 'fedcba9876543210fedcba9876543210';
const ERR = '/api/pharos/v1/errors';
const XSS = '<img src=x onerror=alert(1)>';

let pharos, browser, trace;
const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');

/** One Sentry event as @sentry/node sends it for an uncaught TypeError in processEmail. */
function typeErrorEvent(n, traceCtx) {
  const now = Date.now() / 1000;
  return {
    event_id: hex(16),
    timestamp: now,
    platform: 'node',
    level: 'error',
    release: 'email-agent@1.4.2',
    environment: 'production',
    server_name: 'web-1',
    transaction: 'POST /api/emails',
    user: { id: `user-${n % 2}`, ip_address: '10.0.0.7' },
    request: { method: 'POST', url: 'http://localhost:3000/api/emails', headers: { 'User-Agent': 'ui-test' } },
    tags: { route: '/api/emails', note: XSS },
    contexts: { trace: { trace_id: traceCtx.traceId, span_id: traceCtx.spanIds[0], op: 'http.server' }, runtime: { name: 'node', version: 'v20.11.0' } },
    sdk: { name: 'sentry.javascript.node', version: '8.30.0' },
    breadcrumbs: {
      values: [
        { timestamp: now - 2, type: 'http', category: 'http', level: 'info', data: { method: 'GET', url: 'https://api.openai.com/v1/models', status_code: 200 } },
        { timestamp: now - 1, type: 'default', category: 'email', level: 'info', message: `processing email ${n}` },
      ],
    },
    exception: {
      values: [
        {
          type: 'TypeError',
          value: "Cannot read properties of undefined (reading 'id')",
          mechanism: { type: 'onuncaughtexception', handled: false },
          stacktrace: {
            frames: [
              { filename: 'node:internal/process/task_queues', function: 'processTicksAndRejections', lineno: 95, colno: 5, in_app: false },
              {
                filename: '/app/src/routes/emails.js',
                abs_path: '/app/src/routes/emails.js',
                function: 'handler',
                lineno: 41,
                colno: 12,
                in_app: true,
                pre_context: ['router.post("/api/emails", async (req, res) => {'],
                context_line: '  const result = await processEmail(req.body);',
                post_context: ['  res.json(result);', '});'],
              },
              {
                filename: '/app/src/worker/email.js',
                abs_path: '/app/src/worker/email.js',
                function: 'processEmail',
                lineno: 17,
                colno: 30,
                in_app: true,
                pre_context: ['async function processEmail(message) {', '  log.info("processing");'],
                context_line: '  const id = message.sender.id;',
                post_context: ['  return db.save(id, message);', '}'],
              },
            ],
          },
        },
      ],
    },
  };
}

/** A different error (another type, another stack) — a second issue. */
function connRefusedEvent() {
  return {
    event_id: hex(16),
    timestamp: Date.now() / 1000,
    platform: 'node',
    level: 'fatal',
    release: 'email-agent@1.4.2',
    environment: 'staging',
    exception: {
      values: [
        {
          type: 'Error',
          value: 'connect ECONNREFUSED 127.0.0.1:5432',
          stacktrace: {
            frames: [
              { filename: '/app/node_modules/pg/lib/pool.js', function: 'Pool.connect', lineno: 45, in_app: false },
              { filename: '/app/src/db.js', function: 'connectDb', lineno: 8, in_app: true, context_line: '  await pool.connect();' },
            ],
          },
        },
      ],
    },
  };
}

async function store(event, key = KEY, project = '1') {
  const res = await fetch(`${pharos.url}/api/${project}/store/`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Sentry-Auth': `Sentry sentry_version=7, sentry_client=ui-test/1.0, sentry_key=${key}` },
    body: JSON.stringify(event),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `store answered ${res.status}: ${text}`);
  return JSON.parse(text).id;
}

const issuesNow = async (q = 'status=all') => (await api(pharos.url, `${ERR}/issues?${q}`)).body?.issues ?? [];
let typeIssue, connIssue;

before(async () => {
  const yml = ['errors:', '  projects:', `    - { id: "1", name: api, keys: ["${KEY}"] }`, `    - { id: "2", name: worker, keys: ["${KEY2}"] }`].join('\n');
  pharos = await startPharos(yml, 'pharos.yml');
  browser = await launchBrowser();
  trace = await sendTrace(pharos.url, { error: true });
  for (let n = 0; n < 3; n++) await store(typeErrorEvent(n, trace));
  await store(connRefusedEvent());
  await waitFor(async () => (await issuesNow()).length === 2, 15000, 'two issues stored');
  const all = await issuesNow();
  typeIssue = all.find((i) => /TypeError/.test(i.title));
  connIssue = all.find((i) => /ECONNREFUSED/.test(i.title));
  assert.ok(typeIssue && connIssue, `issues: ${JSON.stringify(all.map((i) => i.title))}`);
});
after(async () => {
  await browser?.close();
  stop(pharos);
});

const listRows = (page) =>
  page.$$eval('[data-testid=issue-row]', (els) =>
    els.map((e) => ({ id: e.dataset.issueId, count: Number(e.dataset.count), status: e.dataset.status, text: e.textContent, sparkBars: e.querySelectorAll('[data-testid=sparkline] rect.sp-bar').length })),
  );

test('the Errors page lists both issues with their event counts, users, badges and sparklines', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/errors');
  await waitFor(async () => (await listRows(page)).length === 2, 10000, 'two issue rows');
  const rows = await listRows(page);
  const t = rows.find((r) => r.id === typeIssue.id);
  const c = rows.find((r) => r.id === connIssue.id);
  assert.equal(t.count, 3, 'the TypeError was sent three times from one place');
  assert.equal(c.count, 1);
  assert.match(t.text, /TypeError/);
  assert.match(t.text, /Cannot read properties of undefined/);
  assert.match(c.text, /ECONNREFUSED/);
  assert.match(c.text, /fatal/i);
  // Both are new (first seen just now), and events of the last hour show as sparkline bars.
  assert.equal(await page.locator('[data-testid=badge-new]').count(), 2);
  assert.ok(t.sparkBars >= 1, 'the TypeError sparkline has a bar');
  const users = await page.textContent(`[data-issue-id="${typeIssue.id}"] [data-testid=issue-users]`);
  assert.equal(users.trim(), String(typeIssue.users));
  assert.equal(typeIssue.users, 2, 'two distinct users hit the TypeError');
  // The nav marks Errors; the page title says so.
  assert.match(await page.textContent('#nav a.active'), /Errors/);
  assert.equal(await page.title(), 'Errors · pharos');

  // Search narrows the list (and is kept in the URL).
  await page.fill('[data-testid=issue-search]', 'ECONNREFUSED');
  await page.press('[data-testid=issue-search]', 'Enter');
  await waitFor(async () => (await listRows(page)).length === 1, 10000, 'search leaves one issue');
  assert.equal((await listRows(page))[0].id, connIssue.id);
  assert.equal(new URL(page.url()).searchParams.get('query'), 'ECONNREFUSED');
  // The environment filter too.
  await page.fill('[data-testid=issue-search]', '');
  await page.press('[data-testid=issue-search]', 'Enter');
  await page.fill('[data-testid=filter-environment]', 'production');
  await page.press('[data-testid=filter-environment]', 'Tab');
  await waitFor(async () => {
    const r = await listRows(page);
    return r.length === 1 && r[0].id === typeIssue.id;
  }, 10000, 'environment=production leaves the TypeError');
  await page.fill('[data-testid=filter-environment]', '');
  await page.press('[data-testid=filter-environment]', 'Tab');
  await waitFor(async () => (await listRows(page)).length === 2, 10000, 'both issues again');
  await screenshot(page, 'errors-list');
  assertNoPageErrors(page, assert);
  assert.deepEqual(page.pharosDialogs, [], 'no script from event data ran');
  await page.context().close();
});

test('issue detail: stack trace newest frame first, in-app frames, context lines, breadcrumbs, tags, event navigation', async () => {
  const page = await newPage(browser, { viewport: { width: 1440, height: 2000 } });
  await openUi(page, pharos.url, '/errors');
  await page.waitForSelector(`[data-issue-id="${typeIssue.id}"] [data-testid=issue-link]`);
  await page.click(`[data-issue-id="${typeIssue.id}"] [data-testid=issue-link]`);
  await page.waitForSelector('[data-testid=stacktrace]');
  assert.equal(new URL(page.url()).pathname, `/errors/${typeIssue.id}`);
  assert.match(await page.textContent('[data-testid=issue-title]'), /TypeError/);
  await waitFor(async () => /^TypeError · processEmail/.test(await page.title()), 5000, 'the tab names the error');
  assert.match(await page.textContent('[data-testid=issue-status]'), /Unresolved/);
  assert.match(await page.textContent('[data-testid=stat-events]'), /3/);

  // Frames newest first: processEmail (where it threw), then handler; the system frame is
  // hidden behind "App frames" and shown by "Full stack".
  const frames = () => page.$$eval('[data-testid=frame]', (els) => els.map((e) => ({ fn: e.dataset.function, inApp: e.dataset.inApp === 'true' })));
  assert.deepEqual(await frames(), [
    { fn: 'processEmail', inApp: true },
    { fn: 'handler', inApp: true },
  ]);
  await page.click('[data-testid=frames-full]');
  assert.deepEqual((await frames()).map((f) => f.fn), ['processEmail', 'handler', 'processTicksAndRejections']);
  // The newest in-app frame is open with its context lines, the line that threw highlighted.
  const ctx = await page.textContent('[data-testid=frame] [data-testid=context-lines]');
  assert.match(ctx, /const id = message\.sender\.id;/);
  assert.match(ctx, /async function processEmail/);
  assert.match(await page.textContent('.err-ctx-line.current'), /17\s*const id = message\.sender\.id;/);
  // The second frame's context unfolds on click.
  const second = page.locator('[data-testid=frame]').nth(1);
  assert.equal(await second.locator('[data-testid=context-lines]').isVisible(), false);
  await second.locator('summary').click();
  assert.match(await second.locator('[data-testid=context-lines]').textContent(), /await processEmail\(req\.body\)/);
  assert.match(await page.textContent('[data-testid=exception-message]'), /Cannot read properties of undefined \(reading 'id'\)/);
  assert.match(await page.textContent('[data-testid=exception]'), /unhandled/i);

  // Breadcrumbs, newest first.
  const crumbs = await page.$$eval('[data-testid=breadcrumb]', (els) => els.map((e) => e.textContent));
  assert.equal(crumbs.length, 2);
  assert.match(crumbs[0], /email.*processing email \d/s);
  assert.match(crumbs[1], /http.*api\.openai\.com/s);
  // Tag breakdown from the issue's events; the event's own tables.
  assert.match(await page.textContent('[data-testid=tag-breakdown]'), /email-agent@1\.4\.2/);
  assert.match(await page.textContent('[data-testid=event-tags]'), /route/);
  assert.match(await page.textContent('[data-testid=event-user]'), /user-/);
  assert.match(await page.textContent('[data-testid=event-contexts]'), /v20\.11\.0/);
  assert.match(await page.textContent('[data-testid=event-sdk]'), /sentry\.javascript\.node/);

  // The link to the event's trace.
  const href = await page.getAttribute('[data-testid=view-trace]', 'href');
  assert.equal(new URL(href, pharos.url).pathname, `/trace/${trace.traceId}`);
  await screenshot(page, 'errors-detail');

  // Event navigation: the latest event has an older one; going there and back.
  const latest = await page.textContent('[data-testid=event-id]');
  assert.equal(await page.isDisabled('[data-testid=event-newer]'), true, 'nothing is newer than the latest');
  await page.click('[data-testid=event-older]');
  await waitFor(async () => (await page.textContent('[data-testid=event-id]')) !== latest, 10000, 'an older event');
  assert.ok(new URL(page.url()).searchParams.get('event'), 'the event is in the URL');
  assert.equal(await page.isDisabled('[data-testid=event-newer]'), false);
  // A deep link to this event reloads to the same event.
  const older = await page.textContent('[data-testid=event-id]');
  await page.reload();
  await page.waitForSelector('[data-testid=event-id]');
  assert.equal(await page.textContent('[data-testid=event-id]'), older);
  // All events of the issue, newest first, the one shown marked.
  await page.click('[data-testid=all-events] summary');
  await waitFor(async () => (await page.locator('[data-testid=all-events] tbody tr').count()) === 3, 10000, 'three events listed');
  assert.equal(await page.locator('[data-testid=all-events] tr.err-current').count(), 1);
  await page.click('[data-testid=event-latest]');
  await waitFor(async () => (await page.textContent('[data-testid=event-id]')) === latest, 10000, 'back to the latest event');
  assertNoPageErrors(page, assert);
  assert.deepEqual(page.pharosDialogs, []);
  await page.context().close();
});

test('View trace opens the trace, and the trace lists its error linking back to the issue', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, `/errors/${typeIssue.id}`);
  await page.click('[data-testid=view-trace]');
  await page.waitForSelector('[data-testid=span-row]');
  assert.equal(new URL(page.url()).pathname, `/trace/${trace.traceId}`);
  await page.waitForSelector('[data-testid=trace-error]');
  // Three events of one issue carry this trace: one line for the issue, ×3.
  const lines = await page.$$eval('[data-testid=trace-error]', (els) =>
    els.map((li) => ({ issue: li.dataset.issueId, events: Number(li.dataset.events), href: li.querySelector('a').getAttribute('href'), text: li.textContent })),
  );
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0].issue, typeIssue.id);
  assert.equal(lines[0].events, 3);
  assert.match(lines[0].text, /TypeError.*×3/);
  assert.match(await page.textContent('[data-testid=trace-errors]'), /3 error events in this trace/);
  const link = new URL(lines[0].href, pharos.url);
  assert.equal(link.pathname, `/errors/${typeIssue.id}`);
  const latestInTrace = (await api(pharos.url, `${ERR}/issues/${typeIssue.id}`)).body.latest_event_id;
  assert.equal(link.searchParams.get('event'), latestInTrace, 'the link opens the newest event of the trace');
  await screenshot(page, 'errors-in-trace');
  await page.click('[data-testid=trace-error-link]');
  await page.waitForSelector('[data-testid=issue-title]');
  assert.equal(new URL(page.url()).pathname, `/errors/${typeIssue.id}`);
  await page.waitForSelector('[data-testid=event-id]');
  assert.equal(await page.textContent('[data-testid=event-id]'), latestInTrace);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('Resolve on the detail page and bulk Ignore on the list change the status in the store', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, `/errors/${typeIssue.id}`);
  await page.click('[data-testid=action-resolved]');
  await waitFor(async () => /Resolved/.test(await page.textContent('[data-testid=issue-status]')), 10000, 'status shows Resolved');
  const stored = (await api(pharos.url, `${ERR}/issues/${typeIssue.id}`)).body;
  assert.equal(stored.status, 'resolved');
  // Unresolve is offered now.
  assert.ok(await page.isVisible('[data-testid=action-unresolved]'));

  await openUi(page, pharos.url, '/errors');
  await waitFor(async () => {
    const r = await listRows(page);
    return r.length === 1 && r[0].id === connIssue.id;
  }, 10000, 'only the open issue is unresolved');
  await page.click('[data-tab=resolved]');
  await waitFor(async () => {
    const r = await listRows(page);
    return r.length === 1 && r[0].id === typeIssue.id;
  }, 10000, 'the resolved tab lists the TypeError');
  assert.equal(new URL(page.url()).searchParams.get('status'), 'resolved');

  // Bulk: select the open issue on the Unresolved tab and ignore it.
  await page.click('[data-tab=unresolved]');
  await page.waitForSelector(`[data-issue-id="${connIssue.id}"]`);
  assert.equal(await page.isDisabled('[data-testid=bulk-ignored]'), true, 'bulk actions wait for a selection');
  await page.check(`[data-issue-id="${connIssue.id}"] input[type=checkbox]`);
  await page.click('[data-testid=bulk-ignored]');
  await page.waitForSelector('[data-testid=errors-empty]');
  assert.equal((await api(pharos.url, `${ERR}/issues/${connIssue.id}`)).body.status, 'ignored');
  await page.click('[data-tab=all]');
  await waitFor(async () => (await listRows(page)).length === 2, 10000, 'all lists both');
  const statuses = Object.fromEntries((await listRows(page)).map((r) => [r.id, r.status]));
  assert.deepEqual(statuses, { [typeIssue.id]: 'resolved', [connIssue.id]: 'ignored' });
  await screenshot(page, 'errors-all-statuses');

  // The resolved TypeError happens again: it is back on the Unresolved tab, marked regressed.
  await store(typeErrorEvent(9, trace));
  await page.click('[data-tab=unresolved]');
  await waitFor(async () => {
    const r = await listRows(page);
    return r.length === 1 && r[0].id === typeIssue.id && r[0].count === 4;
  }, 10000, 'the regressed TypeError is unresolved again');
  assert.equal(await page.locator(`[data-issue-id="${typeIssue.id}"] [data-testid=badge-regressed]`).count(), 1);
  await screenshot(page, 'errors-regressed');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('a project without events tells a newcomer its DSN; a project created on the page shows its own; unknown issue and stopped server get messages', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/errors?project=2');
  await page.waitForSelector('[data-testid=sdk-setup]');
  const dsn = (await page.textContent('[data-testid=dsn]')).trim();
  const u = new URL(dsn);
  assert.equal(u.username, KEY2);
  assert.equal(u.pathname, '/2');
  assert.match(await page.textContent('[data-testid=sdk-setup]'), /Sentry\.init/);
  await screenshot(page, 'errors-empty-project');

  // A project created from the page gets a generated key and its DSN is shown at once.
  await page.click('.err-newproj summary');
  await page.fill('[data-testid=new-project-name]', 'frontend');
  await page.click('[data-testid=create-project]');
  await waitFor(async () => (await page.$$eval('[data-testid=project-select] option', (o) => o.map((x) => x.textContent))).includes('frontend'), 10000, 'the new project listed');
  const made = (await api(pharos.url, `${ERR}/projects`)).body.projects.find((p) => p.name === 'frontend');
  assert.ok(made?.keys?.[0]?.public, 'the new project has a key');
  await waitFor(async () => new URL(page.url()).searchParams.get('project') === made.id, 10000, 'switched to the new project');
  await waitFor(async () => {
    const d = new URL((await page.textContent('[data-testid=dsn]')).trim());
    return d.username === made.keys[0].public && d.pathname === `/${made.id}`;
  }, 10000, 'the DSN of the new project');

  // An error with a cause (Sentry's linked errors: the cause first, the raised error last) sent
  // with the new key: the detail shows the raised error first, then what caused it.
  await store(
    {
      event_id: hex(16),
      timestamp: Date.now() / 1000,
      platform: 'javascript',
      level: 'error',
      exception: {
        values: [
          { type: 'Error', value: 'connect ECONNREFUSED 10.0.0.5:443', stacktrace: { frames: [{ filename: 'app.js', function: 'fetchInbox', lineno: 3, in_app: true }] } },
          { type: 'InboxUnavailable', value: 'cannot load the inbox', stacktrace: { frames: [{ filename: 'app.js', function: 'renderInbox', lineno: 9, in_app: true }] } },
        ],
      },
    },
    made.keys[0].public,
    made.id,
  );
  await openUi(page, pharos.url, `/errors?project=${made.id}`);
  await page.waitForSelector('[data-testid=issue-link]');
  await page.click('[data-testid=issue-link]');
  await page.waitForSelector('[data-testid=exception-value]');
  const chain = await page.$$eval('[data-testid=exception-type]', (els) => els.map((e) => e.textContent));
  assert.deepEqual(chain, ['InboxUnavailable', 'Error']);
  assert.match(await page.textContent('[data-testid=exception]'), /Exception \(2 chained\).*InboxUnavailable.*cannot load the inbox.*Caused by.*ECONNREFUSED/s);

  await openUi(page, pharos.url, '/errors/999999999');
  await page.waitForSelector('[data-testid=issue-not-found]');
  assert.match(await page.textContent('[data-testid=issue-not-found]'), /not found/);

  // The server stops: a refresh says so instead of showing stale rows as current.
  await openUi(page, pharos.url, '/errors?status=all');
  await page.waitForSelector('[data-testid=issue-row]');
  stop(pharos);
  await page.click('[data-testid=refresh-now]');
  await page.waitForSelector('.msg-error');
  assert.match(await page.textContent('.msg-error'), /not reachable/);
  assertNoPageErrors(page, assert);
  await page.context().close();
});
