// The CrewAI monitoring guide's prometheus.yml loads unmodified, its unreachable targets show up == 0 with an
// error, and every PromQL expression of the CrewAI monitoring guide (dashboard and alert rules) evaluates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, PHAROS_BIN, startPharos, query, waitFor, api, guideExpressions } from './helpers.mjs';

const CONFIG = path.join(ROOT, 'examples', 'prometheus', 'prometheus.yml');
let pharos;

before(async () => {
  pharos = await startPharos(fs.readFileSync(CONFIG, 'utf8'));
});

after(() => pharos?.child.kill('SIGKILL'));

test('check config accepts the CrewAI monitoring guide prometheus.yml', () => {
  const out = execFileSync(PHAROS_BIN, ['check', 'config', CONFIG]).toString();
  assert.match(out, /SUCCESS/);
});

test('unreachable guide targets show up == 0 with an error', async () => {
  const body = await waitFor(async () => {
    const b = await query(pharos.url, 'up');
    return b.data.result.length === 4 ? b : null;
  }, 40000, 'four up series');
  for (const s of body.data.result) assert.equal(s.value[1], '0', JSON.stringify(s));
  const targets = await api(pharos.url, '/api/v1/targets');
  assert.equal(targets.body.data.activeTargets.length, 4);
  for (const t of targets.body.data.activeTargets) {
    assert.equal(t.health, 'down');
    assert.ok(t.lastError.length > 0);
  }
});

test('every guide PromQL expression evaluates', async () => {
  const exprs = guideExpressions();
  assert.equal(exprs.length, 14, `found ${exprs.length} expressions`);
  for (const e of exprs) {
    const body = await query(pharos.url, e);
    assert.equal(body.status, 'success', `${e}: ${JSON.stringify(body)}`);
  }
});
