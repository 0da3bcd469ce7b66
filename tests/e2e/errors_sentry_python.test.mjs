// A second official SDK: Python's sentry-sdk (tests/clients-errors-python/app.py, installed in a
// venv by .ci/run) sends to a pharos DSN. One error captured three times from one place is one
// issue with count 3, another stack is a second issue, the message carries its breadcrumb, the
// frames are in-app with their context lines, the uncaught exception arrives, and the
// transaction with its child span is in the trace store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { startPharos, ROOT, waitFor } from './helpers.mjs';

const DIR = path.join(ROOT, 'tests/clients-errors-python');
const PYTHON = path.join(DIR, '.venv/bin/python');
const KEY = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const skip = fs.existsSync(PYTHON) ? false : 'no venv with sentry-sdk (.ci/run install creates it)';
let pharos;

before(async () => {
  if (skip) return;
  pharos = await startPharos(`errors:\n  projects:\n    - {id: 3, name: pyapp, keys: [${KEY}]}\n`, 'pharos.yml');
});
after(() => pharos?.child.kill('SIGKILL'));

const api = async (p) => (await fetch(`${pharos.url}/api/pharos/v1/errors${p}`)).json();

test('sentry-sdk for Python: errors grouped, message with breadcrumb, uncaught error, transaction', { skip, timeout: 90000 }, async () => {
  const dsn = `http://${KEY}@${new URL(pharos.url).host}/3`;
  const run = await new Promise((resolve) => {
    execFile(PYTHON, [path.join(DIR, 'app.py')], { env: { ...process.env, SENTRY_DSN: dsn }, timeout: 60000 }, (err, stdout, stderr) =>
      resolve({ code: err?.code ?? 0, output: stdout + stderr }),
    );
  });
  assert.notEqual(run.code, 0, 'the app ends with an uncaught exception');
  assert.match(run.output, /report generator crashed/);

  const issues = await waitFor(async () => {
    const r = await api('/issues?project=3&status=all&sort=count');
    return r.issues?.length >= 4 ? r.issues : null;
  }, 20000);
  const byTitle = Object.fromEntries(issues.map((i) => [i.title, i]));
  const zero = byTitle['ZeroDivisionError: division by zero'];
  assert.ok(zero, `issues: ${Object.keys(byTitle).join(' | ')}`);
  assert.equal(zero.count, 3);
  assert.equal(zero.platform, 'python');
  assert.match(zero.culprit, /divide/);
  assert.ok(issues.some((i) => i.title.startsWith('ValueError')), 'another stack is another issue');
  const crash = issues.find((i) => i.title.startsWith('RuntimeError'));
  assert.ok(crash, 'the uncaught exception arrives');
  assert.ok(['error', 'fatal'].includes(crash.level), crash.level);
  const message = issues.find((i) => i.title === 'cache warmed up');
  assert.ok(message, 'captured message');

  const ev = await api(`/issues/${zero.id}/events/latest`);
  assert.equal(ev.release, 'pyapp@1.0.0');
  assert.equal(ev.environment, 'staging');
  assert.equal(ev.sdk.name, 'sentry.python');
  const frames = ev.exception.values[0].stacktrace.frames;
  const divide = frames.at(-1);
  assert.equal(divide.function, 'divide');
  assert.equal(divide.in_app, true);
  assert.match(divide.context_line, /return a \/ b/);
  const msg = await api(`/issues/${message.id}/events/latest`);
  assert.ok(msg.breadcrumbs.some((b) => b.message === 'user 42 logged in' && b.category === 'auth'), JSON.stringify(msg.breadcrumbs));

  // The transaction, with its child span, is a trace (Jaeger query API).
  const trace = await waitFor(async () => {
    const services = (await (await fetch(`${pharos.url}/api/services`)).json()).data ?? [];
    for (const s of services) {
      const r = await (await fetch(`${pharos.url}/api/traces?service=${encodeURIComponent(s)}&limit=20`)).json();
      const t = (r.data ?? []).find((t) => t.spans.some((sp) => sp.operationName === 'nightly-report'));
      if (t) return t;
    }
    return null;
  }, 20000);
  const names = trace.spans.map((s) => s.operationName).sort();
  assert.deepEqual(names, ['SELECT 1', 'nightly-report']);
  const root = trace.spans.find((s) => s.operationName === 'nightly-report');
  const child = trace.spans.find((s) => s.operationName === 'SELECT 1');
  assert.equal(child.references[0]?.spanID, root.spanID, 'child span nests under the transaction');
});
