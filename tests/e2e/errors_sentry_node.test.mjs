// The real @sentry/node (tests/clients-errors/app.mjs, initialised as the CrewAI monitoring
// guide's APM Integration does, tracing on) sends to a pharos DSN: captureMessage,
// captureException and an uncaught error arrive; one error thrown 100 times from one place is
// one issue with count 100, another stack is a second issue; the breadcrumb is on the event; the
// transaction is in the trace store. A
// wrong key is rejected in Sentry's shape and the SDK does not retry; a 429 makes it back off
// (requests counted by a proxy in front of pharos).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { startPharos, ROOT, sleep, runNodeToExit } from './helpers.mjs';

const APP = path.join(ROOT, 'tests/clients-errors/app.mjs');
const KEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const LIMITED_KEY = 'b1b2c3d4e5f60718293a4b5c6d7e8f91';
let pharos;

before(async () => {
  pharos = await startPharos(
    `errors:\n  projects:\n    - {id: 1, name: crewai-api, keys: [${KEY}]}\n` +
      `    - {id: 2, name: limited, keys: [${LIMITED_KEY}], rate_limits: {error: 0.01}}\n`,
    'pharos.yml',
  );
});
after(() => pharos?.child.kill('SIGKILL'));

/** Runs the app to its exit; returns {code, output}. */
const runApp = (env) => runNodeToExit(APP, env);

/** A proxy in front of pharos that records every request (path, status, item types). */
async function countingProxy() {
  const seen = [];
  const target = new URL(pharos.url);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const fwd = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          const rec = { path: req.url, status: up.statusCode, hasEvent: body.includes('"type":"event"'), headers: up.headers };
          seen.push(rec);
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
        },
      );
      fwd.on('error', () => res.destroy());
      fwd.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { seen, port: server.address().port, close: () => server.close() };
}

async function api(p) {
  const r = await fetch(`${pharos.url}${p}`);
  const body = await r.text();
  assert.equal(r.status, 200, body);
  return JSON.parse(body);
}

async function waitFor(fn, what, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('@sentry/node events become issues', async () => {
  const dsn = `http://${KEY}@${new URL(pharos.url).host}/1`;
  const { code, output } = await runApp({ SENTRY_DSN: dsn, MODE: 'main', NODE_ENV: 'production' });
  assert.match(output, /flushed/);
  assert.notEqual(code, 0, 'the uncaught error ends the process');
  const issues = await waitFor(async () => {
    const r = await api('/api/pharos/v1/errors/issues?project=1&status=all&sort=count');
    return r.total >= 4 ? r : null;
  }, 'four issues');
  const byTitle = (re) => issues.issues.find((i) => re.test(i.title));
  const same = byTitle(/^TypeError: card declined/);
  assert.ok(same, JSON.stringify(issues.issues.map((i) => i.title)));
  assert.equal(same.count, 100);
  assert.equal(same.users, 1);
  assert.equal(same.platform, 'node');
  assert.match(same.culprit, /chargeCard/);
  assert.equal(issues.issues.filter((i) => /card declined/.test(i.title)).length, 1, 'one issue for one place');
  const other = byTitle(/^TypeError: Cannot read properties of undefined/);
  assert.ok(other, 'the other stack is its own issue');
  assert.equal(other.count, 1);
  assert.match(other.culprit, /loadProfile/);
  const msg = byTitle(/^Payment gateway slow/);
  assert.ok(msg);
  assert.equal(msg.level, 'warning');
  const uncaught = byTitle(/uncaught boom in worker/);
  assert.ok(uncaught, 'the uncaught error arrived');
  assert.equal(uncaught.level, 'fatal');

  const ev = await api(`/api/pharos/v1/errors/issues/${same.id}/events/latest`);
  assert.equal(ev.environment, 'production');
  assert.equal(ev.release, 'crewai-api@1.2.3');
  assert.equal(ev.sdk.name, 'sentry.javascript.node');
  assert.equal(ev.tags.component, 'checkout');
  const crumb = ev.breadcrumbs.find((b) => b.message === 'user logged in');
  assert.ok(crumb, JSON.stringify(ev.breadcrumbs));
  assert.equal(crumb.category, 'auth');
  const frames = ev.exception.values[0].stacktrace.frames;
  const top = frames[frames.length - 1];
  assert.equal(top.function, 'chargeCard');
  assert.equal(top.in_app, true);
  assert.match(top.context_line, /throw new TypeError/);
  assert.ok(top.lineno > 0);
  // The transaction is in the trace store, with its child span.
  const traceId = output.match(/trace ([0-9a-f]{32})/)[1];
  const trace = await waitFor(async () => {
    const r = await fetch(`${pharos.url}/api/traces/${traceId}`);
    return r.status === 200 ? r.json() : null;
  }, 'the transaction in the trace store');
  const ops = trace.data[0].spans.map((s) => s.operationName).sort();
  assert.deepEqual(ops, ['POST /checkout', 'SELECT * FROM orders']);
  const un = await api(`/api/pharos/v1/errors/issues/${uncaught.id}/events/latest`);
  assert.equal(un.exception.values[0].mechanism.handled, false);
  const detail = await api(`/api/pharos/v1/errors/issues/${same.id}`);
  assert.deepEqual(detail.tags.environment, [{ value: 'production', count: 100 }]);
  assert.ok(detail.tags.runtime[0].value.startsWith('node'));
});

test('a wrong key is rejected and the SDK does not retry', async () => {
  const proxy = await countingProxy();
  try {
    const dsn = `http://ffffffffffffffffffffffffffffffff@127.0.0.1:${proxy.port}/1`;
    const { output } = await runApp({ SENTRY_DSN: dsn, MODE: 'burst', N: '5' });
    assert.match(output, /flushed/);
    const events = proxy.seen.filter((s) => s.hasEvent);
    assert.ok(events.length >= 1, 'the SDK tried');
    assert.ok(events.length <= 5, `${events.length} event requests for 5 captures: retries`);
    assert.ok(events.every((s) => s.status === 401), JSON.stringify(events));
    const r = await fetch(`${pharos.url}/api/1/envelope/?sentry_key=ffffffffffffffffffffffffffffffff`, { method: 'POST', body: '{}\n' });
    assert.equal(r.status, 401);
    assert.ok((await r.json()).detail);
  } finally {
    proxy.close();
  }
});

test('a 429 makes the SDK back off', async () => {
  const proxy = await countingProxy();
  try {
    const dsn = `http://${LIMITED_KEY}@127.0.0.1:${proxy.port}/2`;
    const { output } = await runApp({ SENTRY_DSN: dsn, MODE: 'burst', N: '20' });
    assert.match(output, /flushed/);
    const events = proxy.seen.filter((s) => s.hasEvent);
    const limited = events.filter((s) => s.status === 429);
    assert.ok(limited.length >= 1, JSON.stringify(events.map((s) => s.status)));
    assert.ok(Number(limited[0].headers['retry-after']) > 1);
    assert.match(limited[0].headers['x-sentry-rate-limits'], /^\d+:[a-z;]*error/);
    assert.ok(events.length <= 3, `${events.length} event requests for 20 captures: no back-off`);
    const issues = await api('/api/pharos/v1/errors/issues?project=2&status=all');
    assert.equal(issues.issues.reduce((n, i) => n + i.count, 0), 1);
  } finally {
    proxy.close();
  }
});
