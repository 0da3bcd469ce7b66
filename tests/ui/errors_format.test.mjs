// The Errors pages' readers of API values (ui/src/errors/api.ts): issue titles split into type
// and message, times in any of the shapes SDKs send (Unix seconds, ms, RFC 3339), Sentry levels
// to colours, and the DSN shown to a newcomer. Bundled on the fly with esbuild, no browser;
// random inputs (seeded) check that none of them throws on what an SDK might send.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let m;
before(async () => {
  const esbuild = createRequire(path.join(ROOT, 'ui', 'package.json'))('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pharos-errors-'));
  const out = path.join(dir, 'errors_api.mjs');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'ui/src/errors/api.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'silent' });
  m = await import(pathToFileURL(out).href);
});

// A small seeded generator (mulberry32), so a failure names a reproducible input.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const ALPHABET = ['a', 'Z', '0', '9', ':', ' ', '.', '$', '<', '>', '\n', '-', 'T', 'Error', 'Exception', 'é', '🙂', '"', '1e3', 'Z'];
function randomString(r, max = 40) {
  let s = '';
  const n = Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
}

test('titles split into the exception type and its message, as Sentry titles read', () => {
  assert.deepEqual(m.splitTitle("TypeError: Cannot read properties of undefined (reading 'id')"), { type: 'TypeError', value: "Cannot read properties of undefined (reading 'id')" });
  assert.deepEqual(m.splitTitle('Error: connect ECONNREFUSED 127.0.0.1:5432'), { type: 'Error', value: 'connect ECONNREFUSED 127.0.0.1:5432' });
  assert.deepEqual(m.splitTitle('django.db.utils.OperationalError: no such table'), { type: 'django.db.utils.OperationalError', value: 'no such table' });
  assert.deepEqual(m.splitTitle('queue depth 120 exceeds 100'), { type: 'queue depth 120 exceeds 100', value: '' });
  assert.deepEqual(m.splitTitle(''), { type: '(no title)', value: '' });
  assert.deepEqual(m.splitTitle(undefined), { type: '(no title)', value: '' });
});

test('splitTitle: for any string, type and message put back together are the title', () => {
  const r = rng(9);
  for (let i = 0; i < 5000; i++) {
    const t = randomString(r);
    const { type, value } = m.splitTitle(t);
    if (value !== '') assert.equal(`${type}: ${value}`, t, JSON.stringify(t));
    else if (t !== '') assert.ok(type === t || `${type}: ` === t, JSON.stringify(t));
  }
});

test('times: Unix seconds, Unix ms, numeric strings and RFC 3339 read as ms; garbage as 0', () => {
  assert.equal(m.toMs(1764633600), 1764633600000);
  assert.equal(m.toMs(1764633600.25), 1764633600250);
  assert.equal(m.toMs(1764633600123), 1764633600123);
  assert.equal(m.toMs('1764633600'), 1764633600000);
  assert.equal(m.toMs('2026-12-01T23:00:00Z'), Date.UTC(2026, 11, 1, 23));
  assert.equal(m.toMs('2026-12-01T23:00:00.500+01:00'), Date.UTC(2026, 11, 1, 22, 0, 0, 500));
  for (const bad of ['', 'yesterday', null, undefined, 'NaN']) assert.equal(m.toMs(bad), 0, String(bad));
  const r = rng(42);
  for (let i = 0; i < 5000; i++) {
    const v = m.toMs(randomString(r, 24));
    assert.ok(Number.isFinite(v), String(v));
  }
});

test('levels map to colour classes; unknown, missing and non-string levels look like errors', () => {
  assert.equal(m.levelClass('fatal'), 'lvl-fatal');
  assert.equal(m.levelClass('CRITICAL'), 'lvl-fatal');
  assert.equal(m.levelClass('warn'), 'lvl-warning');
  assert.equal(m.levelClass('Warning'), 'lvl-warning');
  assert.equal(m.levelClass('info'), 'lvl-info');
  assert.equal(m.levelClass('debug'), 'lvl-debug');
  for (const odd of [undefined, 'log', '', 3, '<script>']) assert.equal(m.levelClass(odd), 'lvl-error', String(odd));
});

test('the DSN shown: the server\'s own, unless it names no reachable host', () => {
  globalThis.location = { protocol: 'https:', host: 'pharos.example:9090' };
  const p = { id: '7', name: 'api', keys: [] };
  const k = '0123456789abcdef0123456789abcdef';
  assert.equal(m.dsnFor(p, { public: k, dsn: `http://${k}@10.1.2.3:9090/7` }), `http://${k}@10.1.2.3:9090/7`);
  for (const dsn of [undefined, '', `http://${k}@0.0.0.0:9090/7`, `http://${k}@[::]:9090/7`, 'not a url']) {
    assert.equal(m.dsnFor(p, { public: k, dsn }), `https://${k}@pharos.example:9090/7`, String(dsn));
  }
});
