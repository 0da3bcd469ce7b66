// Traces in the UI: Jaeger-style search (service, tags, duration) lists the right traces with
// span and error counts, the trace view nests spans, folds subtrees, shows span details,
// the critical path and the trace's log lines, the service graph draws api → worker, and a
// missing trace, a broken parent and a stopped server each get a clear message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startPharos,
  launchBrowser,
  newPage,
  openUi,
  screenshot,
  assertNoPageErrors,
  stop,
  sendTrace,
  pushLogs,
  waitFor,
} from './helpers.mjs';

let pharos, browser, okTrace, badTrace;
const XSS = '<img src=x onerror=alert(1)>';

before(async () => {
  pharos = await startPharos(null);
  browser = await launchBrowser();
  okTrace = await sendTrace(pharos.url, { startMs: Date.now() - 4000 });
  badTrace = await sendTrace(pharos.url, { error: true, startMs: Date.now() - 2000 });
  await pushLogs(pharos.url, [
    {
      labels: { app: 'api', level: 'info' },
      line: `served GET /api/emails ${XSS}`,
      metadata: { trace_id: okTrace.traceId, span_id: okTrace.spanIds[1] },
    },
    { labels: { app: 'api', level: 'info' }, line: 'unrelated line', metadata: { trace_id: 'ffffffffffffffffffffffffffffffff' } },
  ]);
});
after(async () => {
  await browser?.close();
  stop(pharos);
});

const rows = (page) =>
  page.$$eval('[data-testid=span-row]', (els) =>
    els.map((e) => ({ op: e.dataset.operation, depth: Number(e.dataset.depth), critical: e.dataset.critical === 'true', error: e.dataset.error === 'true' })),
  );
const results = (page) =>
  page.$$eval('[data-testid=trace-result]', (els) =>
    els.map((e) => ({ id: e.dataset.traceId, spans: Number(e.dataset.spanCount), errors: Number(e.dataset.errorCount), text: e.textContent })),
  );

async function searchFor(page, { tags = '', min = '', max = '' } = {}) {
  await page.fill('[data-testid=tags-input]', tags);
  await page.fill('[data-testid=min-duration]', min);
  await page.fill('[data-testid=max-duration]', max);
  await page.click('[data-testid=find-traces]');
}

test('search by service lists both traces with their spans, errors and services', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/explore/traces?service=api');
  await page.waitForSelector('[data-testid=trace-result]');
  await waitFor(async () => (await results(page)).length === 2, 10000, 'two traces listed');
  const list = await results(page);
  const byId = Object.fromEntries(list.map((r) => [r.id.replace(/^0+/, ''), r]));
  const ok = byId[okTrace.traceId.replace(/^0+/, '')];
  const bad = byId[badTrace.traceId.replace(/^0+/, '')];
  assert.ok(ok && bad, `both traces listed: ${JSON.stringify(list.map((r) => r.id))}`);
  assert.equal(ok.spans, 3);
  assert.equal(bad.spans, 3);
  assert.equal(ok.errors, 0);
  assert.equal(bad.errors, 1);
  assert.match(bad.text, /1 error/);
  assert.match(ok.text, /api: GET \/api\/emails/);
  assert.match(ok.text, /api 2/);
  assert.match(ok.text, /worker 1/);
  // Most recent first: the failing trace was sent last.
  assert.equal(list[0].errors, 1);
  // The scatter plot draws one dot per trace, the failing one red.
  assert.equal(await page.locator('[data-testid=scatter-dot]').count(), 2);
  assert.equal(await page.locator('[data-testid=scatter-dot].dot-error').count(), 1);
  // Operation list comes from the API.
  const ops = await page.$$eval('[data-testid=operation-select] option', (o) => o.map((x) => x.value));
  assert.deepEqual(ops, ['', 'GET /api/emails', 'db.query']);
  await screenshot(page, 'traces-search');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('tag and duration filters: error=true finds only the failing trace; min duration empties the list', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/explore/traces?service=api');
  await page.waitForSelector('[data-testid=trace-result]');
  await searchFor(page, { tags: 'error=true' });
  await waitFor(async () => (await results(page)).length === 1, 10000, 'one trace with error=true');
  const [only] = await results(page);
  assert.equal(only.id.replace(/^0+/, ''), badTrace.traceId.replace(/^0+/, ''));
  assert.equal(new URL(page.url()).searchParams.get('tags'), 'error=true');

  await searchFor(page, { min: '200ms' });
  await page.waitForSelector('[data-testid=no-results]');
  const empty = await page.textContent('[data-testid=no-results]');
  assert.match(empty, /No traces match/);
  assert.match(empty, /duration ≥ 200ms/);
  assert.match(empty, /service api/);

  await searchFor(page, { min: '100ms', max: '1s' });
  await waitFor(async () => (await results(page)).length === 2, 10000, 'both traces within 100ms..1s');

  await searchFor(page, { min: 'fast' });
  assert.match(await page.textContent('[data-testid=form-error]'), /not a duration/);

  // A query the server refuses shows the server's message.
  await openUi(page, pharos.url, '/explore/traces?service=api&minDuration=2s&maxDuration=1s');
  await page.waitForSelector('.msg-error');
  assert.match(await page.textContent('.msg-error'), /The trace search failed.*'maxDuration' should be greater than 'minDuration'/s);
  await screenshot(page, 'traces-query-error');

  // A dot of the scatter plot opens its trace.
  await openUi(page, pharos.url, '/explore/traces?service=api&tags=error%3Dtrue');
  await page.waitForSelector('[data-testid=scatter-dot]');
  await page.click('[data-testid=scatter-dot]');
  await page.waitForSelector('[data-testid=span-row]');
  assert.equal(new URL(page.url()).pathname.replace(/^\/trace\/0*/, ''), badTrace.traceId.replace(/^0+/, ''));
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('trace view: nested waterfall, collapse, span details, critical path, logs', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/explore/traces?service=api');
  await waitFor(async () => (await results(page)).length === 2, 10000, 'two traces');
  // Open the healthy trace from the list.
  await page.click(`[data-testid=trace-result][data-error-count="0"]`);
  await page.waitForSelector('[data-testid=span-row]');
  assert.match(new URL(page.url()).pathname, /^\/trace\/[0-9a-f]+$/);
  let r = await rows(page);
  assert.deepEqual(
    r.map((x) => [x.op, x.depth]),
    [
      ['GET /api/emails', 0],
      ['db.query', 1],
      ['email.process', 2],
    ],
  );
  assert.equal((await page.textContent('[data-testid=stat-spans]')).replace(/\D/g, ''), '3');
  assert.match(await page.textContent('[data-testid=stat-services]'), /2.*api.*worker/s);
  assert.match(await page.textContent('[data-testid=stat-duration]'), /120ms/);
  assert.equal((await page.textContent('[data-testid=stat-depth]')).replace(/\D/g, ''), '3');
  await screenshot(page, 'trace-waterfall');

  // Collapse the root: its two descendants disappear; expand all brings them back.
  await page.click('[data-testid=span-row][data-depth="0"] [data-testid=span-caret]');
  r = await rows(page);
  assert.deepEqual(r.map((x) => x.op), ['GET /api/emails']);
  assert.match(await page.textContent('[data-testid=span-row]'), /\+2/);
  await page.click('[data-testid=expand-all]');
  assert.equal((await rows(page)).length, 3);
  await page.click('[data-testid=collapse-all]');
  assert.equal((await rows(page)).length, 1);
  await page.click('[data-testid=expand-all]');
  // Keyboard: ← folds, → unfolds, ↓ moves to the next span, Enter opens its details.
  await page.focus('[data-testid=span-row][data-depth="0"]');
  await page.keyboard.press('ArrowLeft');
  assert.equal((await rows(page)).length, 1);
  await page.keyboard.press('ArrowRight');
  assert.equal((await rows(page)).length, 3);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('[data-testid=span-details]', 'data-span-id'), okTrace.spanIds[2]);
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('[data-testid=span-details]').count(), 0);

  // Span details of db.query: its attributes, self time, parent.
  await page.click('[data-testid=span-row][data-operation="db.query"]');
  await page.waitForSelector('[data-testid=span-details]');
  const details = await page.textContent('[data-testid=span-details]');
  assert.match(details, /db\.statement\s*SELECT \* FROM emails/);
  assert.match(details, /Self time\s*40ms/); // its child starts after it ended
  assert.match(details, /Parent.*GET \/api\/emails/s);
  assert.match(details, /Kind\s*server/);
  assert.equal(new URL(page.url()).searchParams.get('span'), okTrace.spanIds[1]);
  await screenshot(page, 'trace-span-details');

  // The span's logs: the pushed line, as text.
  await page.click('[data-testid=span-details] [data-testid=span-logs-btn]');
  await page.waitForSelector('[data-testid=span-details] [data-testid=log-line]');
  const spanLines = await page.$$eval('[data-testid=span-details] [data-testid=log-line]', (els) => els.map((e) => e.textContent));
  assert.equal(spanLines.length, 1);
  assert.ok(spanLines[0].includes(XSS), spanLines[0]);
  assert.equal(await page.locator('[data-testid=log-line] img').count(), 0);

  // Critical path: root and db.query (email.process starts after db.query has ended).
  await page.click('[data-testid=critical-path]');
  r = await rows(page);
  assert.deepEqual(
    r.map((x) => [x.op, x.critical]),
    [
      ['GET /api/emails', true],
      ['db.query', true],
      ['email.process', false],
    ],
  );
  assert.ok((await page.locator('[data-testid=cp-segment]').count()) >= 3, 'root has two segments, db.query one');
  assert.equal(new URL(page.url()).searchParams.get('cp'), '1');

  // Logs of the whole trace, with a link into Logs Explore selecting them.
  await page.click('[data-testid=trace-logs-btn]');
  await page.waitForSelector('[data-testid=trace-logs] [data-testid=log-line]');
  const lines = await page.$$eval('[data-testid=trace-logs] [data-testid=log-line]', (els) => els.map((e) => e.textContent));
  assert.equal(lines.length, 1);
  assert.ok(lines[0].includes('served GET /api/emails'));
  const href = await page.getAttribute('[data-testid=trace-logs] [data-testid=logs-explore-link]', 'href');
  const q = new URL(href, pharos.url).searchParams.get('query');
  assert.equal(q, `{app="api", level="info"} | trace_id="${okTrace.traceId}"`);
  await screenshot(page, 'trace-logs');

  // Statistics: self time per operation, sorted by self time.
  await page.click('[data-testid=trace-stats-btn]');
  const stats = await page.$$eval('[data-testid=stats-row]', (els) => els.map((e) => [e.dataset.operation, Number(e.dataset.count), Number(e.dataset.selfUs)]));
  assert.deepEqual(stats, [
    ['GET /api/emails', 1, 80000],
    ['email.process', 1, 50000],
    ['db.query', 1, 40000],
  ]);

  // Find in trace.
  await page.fill('[data-testid=trace-find]', 'worker');
  await waitFor(async () => (await page.textContent('[data-testid=find-count]')).includes('1 of 3'), 5000, 'find count');
  const matched = await page.$$eval('[data-testid=span-row][data-match=true]', (els) => els.map((e) => e.dataset.operation));
  assert.deepEqual(matched, ['email.process']);
  assert.equal(page.pharosDialogs.length, 0);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('the failing trace marks its error span; an unknown trace id says so', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, `/trace/${badTrace.traceId}`);
  await page.waitForSelector('[data-testid=span-row]');
  const r = await rows(page);
  assert.deepEqual(r.map((x) => x.error), [true, false, false]);
  assert.equal((await page.textContent('[data-testid=stat-errors]')).replace(/\D/g, ''), '1');
  await page.click('[data-testid=span-row][data-depth="0"]');
  assert.match(await page.textContent('[data-testid=span-details]'), /Status\s*ERROR — boom/);

  await openUi(page, pharos.url, '/explore/traces');
  await page.fill('[data-testid=trace-id-input]', '0123456789abcdef0123456789abcdef');
  await page.click('[data-testid=open-trace-id]');
  await page.waitForSelector('[data-testid=trace-not-found]');
  const text = await page.textContent('[data-testid=trace-not-found]');
  assert.match(text, /Trace 0123456789abcdef0123456789abcdef not found/);
  assert.equal(await page.getAttribute('[data-testid=trace-not-found] a', 'href'), '/explore/traces');
  await screenshot(page, 'trace-not-found');

  await openUi(page, pharos.url, '/trace/not-hex');
  await page.waitForSelector('.msg-error');
  assert.match(await page.textContent('#outlet'), /malformed trace ID/);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('a span whose parent is missing is shown as a root with a warning', async () => {
  const traceId = 'abcdef0123456789abcdef0123456789';
  const ns = (ms) => `${Math.round(ms)}000000`;
  const t0 = Date.now() - 1000;
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'orphanage' } }] },
        scopeSpans: [
          {
            spans: [
              { traceId, spanId: '1111111111111111', name: 'root-op', kind: 2, startTimeUnixNano: ns(t0), endTimeUnixNano: ns(t0 + 50) },
              { traceId, spanId: '2222222222222222', parentSpanId: '9999999999999999', name: 'lost-child', kind: 3, startTimeUnixNano: ns(t0 + 10), endTimeUnixNano: ns(t0 + 30) },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`${pharos.url}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(res.ok);
  const page = await newPage(browser);
  await openUi(page, pharos.url, `/trace/${traceId}`);
  await page.waitForSelector('[data-testid=span-row]');
  const r = await rows(page);
  assert.deepEqual(r.map((x) => [x.op, x.depth]), [['root-op', 0], ['lost-child', 0]]);
  assert.match(await page.textContent('[data-testid=trace-warnings]'), /1 span references a parent span that is not in this trace/);
  assert.match(await page.textContent('[data-testid=span-row][data-operation=lost-child]'), /invalid parent/);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('service graph shows api → worker; clicking a service searches it', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/explore/traces?view=graph');
  await page.waitForSelector('[data-testid=sg-edge]');
  const edges = await page.$$eval('[data-testid=sg-edge]', (els) => els.map((e) => [e.dataset.parent, e.dataset.child, Number(e.dataset.calls)]));
  assert.deepEqual(edges, [['api', 'worker', 2]]);
  const nodes = await page.$$eval('[data-testid=sg-node]', (els) => els.map((e) => e.dataset.service).sort());
  assert.deepEqual(nodes, ['api', 'worker']);
  // Callers left of callees.
  const x = async (s) => (await page.locator(`[data-testid=sg-node][data-service=${s}]`).boundingBox()).x;
  assert.ok((await x('api')) < (await x('worker')));
  await screenshot(page, 'traces-service-graph');
  await page.click('[data-testid=sg-node][data-service=worker]');
  await waitFor(async () => new URL(page.url()).searchParams.get('service') === 'worker', 5000, 'service in URL');
  await waitFor(async () => (await results(page)).length === 2, 10000, 'worker traces listed');
  assert.equal(await page.inputValue('[data-testid=service-select]'), 'worker');
  // Opening the search without a service picks the one searched last.
  await openUi(page, pharos.url, '/explore/traces');
  await waitFor(async () => new URL(page.url()).searchParams.get('service') === 'worker', 5000, 'last service remembered');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('empty store and stopped server get clear messages', async () => {
  const other = await startPharos(null);
  const page = await newPage(browser);
  try {
    await openUi(page, other.url, '/explore/traces');
    await page.waitForSelector('.msg-empty');
    assert.match(await page.textContent('#outlet'), /No traces have been received yet/);
    await screenshot(page, 'traces-empty');
    await page.click('[data-testid=tab-graph]');
    await page.waitForSelector('[data-testid=sg-empty]');
    assert.match(await page.textContent('[data-testid=sg-empty]'), /No calls between services/);
    await sendTrace(other.url);
    await openUi(page, other.url, '/explore/traces?service=api');
    await page.waitForSelector('[data-testid=trace-result]');
    stop(other);
    // Look for the message before pressing Find again: a press while the message shows would
    // start a new search and replace it with "Searching traces" before the next look.
    await waitFor(async () => {
      if ((await page.textContent('#outlet')).includes('not reachable')) return true;
      if (await page.isEnabled('[data-testid=find-traces]')) {
        await page.click('[data-testid=find-traces]', { timeout: 2000 }).catch(() => {});
      }
      return false;
    }, 15000, 'unreachable message');
    await screenshot(page, 'traces-server-stopped');
  } finally {
    stop(other);
    await page.context().close();
  }
});

/** A realistic trace over OTLP/JSON: frontend → api → db ×N, cache (error, event), worker via a queue, a link. */
async function sendRichTrace(base, { dbCalls = 12, linkTo } = {}) {
  const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  const t0 = Date.now() - 3000;
  const ns = (ms) => `${Math.round(ms * 1000)}000`;
  const bySvc = {};
  const add = (svc, name, kind, start, dur, parent, extra = {}) => {
    const spanId = hex(8);
    (bySvc[svc] ??= []).push({
      traceId,
      spanId,
      parentSpanId: parent ?? '',
      name,
      kind,
      startTimeUnixNano: ns(t0 + start),
      endTimeUnixNano: ns(t0 + start + dur),
      attributes: (extra.attrs ?? []).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: v } : { stringValue: String(v) } })),
      events: extra.events ?? [],
      links: extra.links ?? [],
      status: extra.status ?? {},
    });
    return spanId;
  };
  const root = add('frontend', 'GET /inbox', 2, 0, 480, null, { attrs: [['http.method', 'GET'], ['http.route', '/inbox'], ['http.status_code', 200]] });
  const call = add('frontend', 'HTTP GET api/emails', 3, 8, 400, root, { attrs: [['peer.service', 'api']] });
  const api = add('api', 'GET /api/emails', 2, 14, 380, call, { attrs: [['http.route', '/api/emails']], links: linkTo ? [{ traceId: linkTo.traceId, spanId: linkTo.spanId }] : [] });
  add('api', 'auth.verify', 1, 18, 12, api);
  const cache = add('cache', 'redis GET inbox:42', 3, 34, 6, api, {
    status: { code: 2, message: 'connection reset by peer' },
    events: [{ name: 'exception', timeUnixNano: ns(t0 + 39), attributes: [{ key: 'exception.type', value: { stringValue: 'ECONNRESET' } }, { key: 'exception.message', value: { stringValue: 'read ECONNRESET' } }] }],
  });
  void cache;
  for (let i = 0; i < dbCalls; i++) add('postgres', `SELECT emails page ${i + 1}`, 3, 44 + i * 24, 20, api, { attrs: [['db.system', 'postgresql'], ['db.statement', `SELECT * FROM emails OFFSET ${i * 50} LIMIT 50`]] });
  const pub = add('api', 'publish email.read', 4, 44 + dbCalls * 24, 8, api, { attrs: [['messaging.system', 'kafka']] });
  const consume = add('worker', 'consume email.read', 5, 60 + dbCalls * 24, 90, pub);
  add('worker', 'update read receipts', 1, 70 + dbCalls * 24, 60, consume);
  add('frontend', 'render inbox', 1, 412, 60, root);
  const body = {
    resourceSpans: Object.entries(bySvc).map(([svc, spans]) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: svc } }, { key: 'host.name', value: { stringValue: `${svc}-7f9c` } }, { key: 'service.version', value: { stringValue: '1.4.2' } }] },
      scopeSpans: [{ scope: { name: 'ui-test' }, spans }],
    })),
  };
  const res = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`push failed ${res.status}`);
  return { traceId, spans: Object.values(bySvc).flat().length };
}

test('a realistic trace: many services, events, a link to another trace, zoom by the mini-map', async () => {
  const rich = await sendRichTrace(pharos.url, { linkTo: { traceId: okTrace.traceId, spanId: okTrace.spanIds[0] } });
  const page = await newPage(browser);
  await openUi(page, pharos.url, `/trace/${rich.traceId}`);
  await page.waitForSelector('[data-testid=span-row]');
  const r = await rows(page);
  assert.equal(r.length, rich.spans);
  assert.equal(Math.max(...r.map((x) => x.depth)), 5); // root → call → api → publish → consume → update
  assert.equal(r.filter((x) => x.error).length, 1);
  await page.click('[data-testid=critical-path]');
  await screenshot(page, 'trace-critical-path');
  await page.click('[data-testid=trace-stats-btn]');
  assert.equal(await page.locator('[data-testid=stats-row][data-service=postgres]').count(), 12);
  assert.equal(await page.locator('[data-testid=stats-row]').count(), rich.spans); // every operation name differs
  await screenshot(page, 'trace-statistics');
  await page.click('[data-testid=trace-stats-btn]');
  // The sequential work of the request is on the path; the consumer, which runs after its
  // producer span has ended (asynchronously), is not.
  const all = await rows(page);
  assert.deepEqual(
    all.filter((x) => !x.critical).map((x) => x.op),
    ['consume email.read', 'update read receipts'],
  );

  // Events of the failing cache span, relative to the span's start; the link opens the other trace.
  await page.click('[data-testid=span-row][data-service=cache]');
  const ev = await page.textContent('[data-testid=span-events]');
  assert.match(ev, /\+5ms\s*exception/);
  assert.match(ev, /exception\.message\s*read ECONNRESET/);
  await page.click('[data-testid=span-row][data-operation="GET /api/emails"]');
  const link = page.locator(`[data-testid=span-details][data-span-id] [data-testid=span-refs] a`);
  assert.match(await link.getAttribute('href'), new RegExp(`^/trace/0*${okTrace.traceId.replace(/^0+/, '')}\\?span=${okTrace.spanIds[0]}$`));
  await screenshot(page, 'trace-rich-details');

  // Drag across the middle of the mini-map: the ruler no longer starts at 0.
  const box = await page.locator('[data-testid=minimap]').boundingBox();
  await page.mouse.move(box.x + box.width * 0.25, box.y + 20);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + 20, { steps: 4 });
  await page.mouse.up();
  const firstTick = await page.textContent('.wf-ruler .wf-tick span');
  assert.notEqual(firstTick, '0');
  assert.match(firstTick, /^1[12]\dms$/); // 25% of 480ms
  await link.click();
  await page.waitForFunction((id) => document.querySelector('[data-testid=trace-id]')?.textContent?.replace(/^0+/, '') === id, okTrace.traceId.replace(/^0+/, ''));
  await page.waitForSelector(`[data-testid=span-details][data-span-id="${okTrace.spanIds[0]}"]`);

  // The service graph now has the rich trace's calls too, callers in columns left of callees.
  await openUi(page, pharos.url, '/explore/traces?view=graph');
  await page.waitForSelector('[data-testid=sg-edge][data-parent=frontend]');
  const edges = Object.fromEntries(await page.$$eval('[data-testid=sg-edge]', (els) => els.map((e) => [`${e.dataset.parent}>${e.dataset.child}`, Number(e.dataset.calls)])));
  assert.deepEqual(edges, { 'api>worker': 3, 'frontend>api': 1, 'api>postgres': 12, 'api>cache': 1 });
  const col = async (svc) => (await page.locator(`[data-testid=sg-node][data-service=${svc}]`).boundingBox()).x;
  assert.ok((await col('frontend')) < (await col('api')) && (await col('api')) < (await col('postgres')));
  assert.equal(await col('postgres'), await col('worker'));
  await screenshot(page, 'traces-service-graph-rich');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('a 10,000-span trace: rows are virtualised, scroll and fold stay quick (measured, printed)', async () => {
  const rich = await sendRichTrace(pharos.url, { dbCalls: 9991 });
  assert.equal(rich.spans, 10000);
  const page = await newPage(browser);
  const t0 = Date.now();
  await openUi(page, pharos.url, `/trace/${rich.traceId}`);
  await page.waitForSelector('[data-testid=span-row]');
  const renderMs = Date.now() - t0;
  const counts = () => page.$eval('[data-testid=waterfall]', (w) => ({ rows: Number(w.dataset.rows), rendered: w.querySelectorAll('[data-testid=span-row]').length }));
  // Every span is a row of the waterfall, but only those near the viewport are in the DOM.
  let c = await counts();
  assert.equal(c.rows, rich.spans);
  assert.ok(c.rendered > 10 && c.rendered < 200, JSON.stringify(c));
  // Scroll 60 wheel steps of 300 px (frame times measured), then jump to the end: the last span is drawn.
  await page.hover('[data-testid=waterfall]');
  const frames = await page.evaluate(async () => {
    const sc = document.querySelector('#outlet');
    const times = [];
    let last = performance.now();
    for (let i = 0; i < 60; i++) {
      sc.scrollTop += 300;
      await new Promise((r) => requestAnimationFrame(r));
      const t = performance.now();
      times.push(t - last);
      last = t;
    }
    times.sort((a, b) => a - b);
    sc.scrollTop = sc.scrollHeight;
    return { p50: times[30], p95: times[57] };
  });
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid=span-row]')];
    return rows.length > 0 && rows[rows.length - 1].dataset.operation === 'render inbox';
  });
  c = await counts();
  assert.ok(c.rendered < 200, JSON.stringify(c));
  await screenshot(page, 'trace-10k-bottom');
  await page.evaluate(() => document.querySelector('#outlet').scrollTo(0, 0));
  await page.waitForSelector('[data-testid=span-row][data-operation="GET /api/emails"]');
  const t1 = Date.now();
  await page.click('[data-testid=span-row][data-operation="GET /api/emails"] [data-testid=span-caret]');
  // Left: the root, the client call, the folded api span and render inbox.
  await page.waitForFunction(() => document.querySelector('[data-testid=waterfall]').dataset.rows === '4');
  assert.equal((await counts()).rendered, 4);
  const foldMs = Date.now() - t1;
  const t2 = Date.now();
  await page.click('[data-testid=expand-all]');
  await page.waitForFunction((n) => document.querySelector('[data-testid=waterfall]').dataset.rows === String(n), rich.spans);
  const expandMs = Date.now() - t2;
  const t3 = Date.now();
  await page.click('[data-testid=critical-path]');
  await page.waitForSelector('[data-testid=span-row][data-critical=true]');
  const cpMs = Date.now() - t3;
  console.log(`# ${rich.spans}-span trace: page load to waterfall ${renderMs} ms, ${c.rendered} rows in the DOM, scroll frames p50 ${frames.p50.toFixed(1)} ms p95 ${frames.p95.toFixed(1)} ms, fold ${foldMs} ms, expand all ${expandMs} ms, critical path ${cpMs} ms`);
  assertNoPageErrors(page, assert);
  await page.context().close();
});
