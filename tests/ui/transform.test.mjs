// Grafana transformations (ui/src/panels/transform.ts) on panel data, without a browser: the
// module is bundled with esbuild and imported. Each case checks the frames/series that come out
// against what Grafana documents for the transformation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let T;
before(async () => {
  const esbuild = createRequire(path.join(ROOT, 'ui', 'package.json'))('esbuild');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pharos-transform-')), 'transform.mjs');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'ui/src/panels/transform.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'silent' });
  T = await import(pathToFileURL(out).href);
});

const range = { from: 0, to: 10000, raw: { from: 'now-1h', to: 'now' } };
const data = (more) => ({ series: [], tables: [], logs: [], errors: [], notices: [], range, intervalMs: 1000, ...more });
const T0 = 1_700_000_000_000; // epoch ms
const series = (name, values, labels = {}) => ({ refId: 'A', name, labels, times: values.map((_, i) => T0 + 1000 * (i + 1)), values });
const run = (d, transformations, type = 'timeseries') => T.transformPanelData(d, { type, transformations });
const table = (columns, rows, refId = 'A') => ({ refId, columns, rows });

test('no transformations: the data object itself', () => {
  const d = data({ series: [series('a', [1, 2])] });
  assert.equal(run(d, []), d);
  assert.equal(run(d, [{ id: 'reduce', disabled: true }]), d);
});

test('calculateField: reduceRow mean over two series, replaceFields → one series; binary; unary; index', () => {
  const d = data({ series: [series('GET', [1, 2, 3]), series('POST', [3, 4, null])] });
  const mean = run(d, [{ id: 'calculateField', options: { mode: 'reduceRow', reduce: { reducer: 'mean' }, replaceFields: true } }]);
  assert.equal(mean.series.length, 1);
  assert.equal(mean.series[0].name, 'Mean');
  assert.deepEqual(mean.series[0].values, [2, 3, 3]);
  assert.deepEqual(mean.series[0].times, [T0 + 1000, T0 + 2000, T0 + 3000]);
  const bin = run(d, [{ id: 'calculateField', options: { mode: 'binary', binary: { left: 'GET', operator: '*', right: { matcher: { id: 'byName', options: 'POST' } } }, alias: 'product' } }]);
  assert.deepEqual(bin.series.map((s) => s.name), ['GET', 'POST', 'product']);
  assert.deepEqual(bin.series[2].values, [3, 8, null]);
  const fixed = run(d, [{ id: 'calculateField', options: { mode: 'binary', binary: { left: 'GET', operator: '/', right: { fixed: '2' } }, replaceFields: true } }]);
  assert.deepEqual(fixed.series.map((s) => [s.name, s.values]), [['GET / 2', [0.5, 1, 1.5]]], 'a fixed right operand works per series (no join)');
  const unary = run(data({ series: [series('x', [-1.5, 2])] }), [{ id: 'calculateField', options: { mode: 'unary', unary: { operator: 'abs', fieldName: 'x' }, replaceFields: true } }]);
  assert.deepEqual(unary.series[0].values, [1.5, 2]);
  assert.equal(unary.series[0].name, 'abs(x)');
});

test('organize, renameByRegex, filterFieldsByName on a table', () => {
  const d = data({ tables: [table([{ name: 'Time', type: 'time' }, { name: 'method', type: 'string' }, { name: 'Value', type: 'number' }], [[T0 + 1000, 'GET', 5], [T0 + 1000, 'POST', 2]])] });
  const o = run(d, [{ id: 'organize', options: { excludeByName: { Time: true }, indexByName: { Value: 0, method: 1 }, renameByName: { Value: 'Requests' } } }], 'table');
  assert.deepEqual(o.tables[0].columns.map((c) => c.name), ['Requests', 'method']);
  assert.deepEqual(o.tables[0].rows, [[5, 'GET'], [2, 'POST']]);
  const frames = T.panelFrames(o);
  assert.deepEqual(frames[0].columns.map((c) => c.name), ['Requests', 'method'], 'the table reads the pipeline frames');
  const r = run(d, [{ id: 'renameByRegex', options: { regex: '^(met)hod$', renamePattern: '$1' } }], 'table');
  assert.deepEqual(r.tables[0].columns.map((c) => c.name), ['Time', 'met', 'Value']);
  const f = run(d, [{ id: 'filterFieldsByName', options: { include: { pattern: '^(Time|Value)$' } } }]);
  assert.equal(f.series.length, 1, 'Time + Value is a series again');
  assert.deepEqual(f.series[0].values, [5, 2]);
});

test('filterByValue, sortBy, limit, groupBy, convertFieldType', () => {
  const d = data({ tables: [table([{ name: 'host', type: 'string' }, { name: 'cpu', type: 'number' }], [['a', 10], ['b', 90], ['a', 30], ['c', null]])] });
  const fv = run(d, [{ id: 'filterByValue', options: { type: 'include', match: 'any', filters: [{ fieldName: 'cpu', config: { id: 'greater', options: { value: 20 } } }] } }]);
  assert.deepEqual(fv.tables[0].rows, [['b', 90], ['a', 30]]);
  const ex = run(d, [{ id: 'filterByValue', options: { type: 'exclude', match: 'any', filters: [{ fieldName: 'cpu', config: { id: 'isNull' } }] } }]);
  assert.equal(ex.tables[0].rows.length, 3);
  const sl = run(d, [{ id: 'sortBy', options: { sort: [{ field: 'cpu', desc: true }] } }, { id: 'limit', options: { limitField: 2 } }]);
  assert.deepEqual(sl.tables[0].rows, [['b', 90], ['a', 30]]);
  const g = run(d, [{ id: 'groupBy', options: { fields: { host: { operation: 'groupby' }, cpu: { operation: 'aggregate', aggregations: ['mean', 'count'] } } } }]);
  assert.deepEqual(g.tables[0].columns.map((c) => c.name), ['host', 'cpu (mean)', 'cpu (count)']);
  assert.deepEqual(g.tables[0].rows, [['a', 20, 2], ['b', 90, 1], ['c', null, 1]]);
  const cv = run(d, [{ id: 'convertFieldType', options: { conversions: [{ targetField: 'cpu', destinationType: 'string' }] } }]);
  assert.equal(cv.tables[0].columns[1].type, 'string');
  assert.equal(cv.tables[0].rows[0][1], '10');
});

test('joinByField (outer and inner), merge, seriesToRows, labelsToFields, reduce, partitionByValues', () => {
  const a = { refId: 'A', name: 'a', labels: { job: 'api' }, times: [1, 2, 3].map((k) => T0 + k * 1000), values: [1, 2, 3] };
  const b = { refId: 'B', name: 'b', labels: { job: 'db' }, times: [2, 3, 4].map((k) => T0 + k * 1000), values: [20, 30, 40] };
  const outer = run(data({ series: [a, b] }), [{ id: 'joinByField', options: {} }], 'table');
  assert.deepEqual(outer.tables.length + outer.series.length, 2, 'outer join of two series = two series on 4 times');
  const all4 = [1, 2, 3, 4].map((k) => T0 + k * 1000);
  assert.deepEqual(outer.series.map((s) => s.times), [all4, all4]);
  assert.deepEqual(outer.series.map((s) => s.values), [[1, 2, 3, null], [null, 20, 30, 40]]);
  const joinedFrames = T.panelFrames(outer);
  assert.deepEqual(joinedFrames[0].columns.map((c) => c.name), ['Time', 'a', 'b'], 'a table sees one joined frame');
  const inner = run(data({ series: [a, b] }), [{ id: 'joinByField', options: { mode: 'inner' } }]);
  assert.deepEqual(inner.series[0].times, [T0 + 2000, T0 + 3000]);
  const rows = run(data({ series: [a, b] }), [{ id: 'seriesToRows' }]);
  assert.deepEqual(rows.tables[0].columns.map((c) => c.name), ['Time', 'Metric', 'Value']);
  assert.equal(rows.tables[0].rows.length, 6);
  assert.deepEqual(rows.tables[0].rows[0], [T0 + 4000, 'b', 40], 'newest first');
  const l2f = run(data({ series: [a] }), [{ id: 'labelsToFields' }]);
  assert.deepEqual(l2f.tables[0].columns.map((c) => c.name), ['Time', 'job', 'Value']);
  const red = run(data({ series: [a, b] }), [{ id: 'reduce', options: { reducers: ['max', 'mean'], labelsToFields: true } }]);
  assert.deepEqual(red.tables[0].columns.map((c) => c.name), ['Field', 'job', 'Max', 'Mean']);
  assert.deepEqual(red.tables[0].rows, [['a', 'api', 3, 2], ['b', 'db', 40, 30]]);
  const t = data({ tables: [table([{ name: 'Time', type: 'time' }, { name: 'method', type: 'string' }, { name: 'Value', type: 'number' }], [[T0 + 1000, 'GET', 1], [T0 + 1000, 'POST', 2], [T0 + 2000, 'GET', 3], [T0 + 2000, 'POST', 4]])] });
  const part = run(t, [{ id: 'partitionByValues', options: { fields: ['method'] } }]);
  assert.deepEqual(part.series.map((s) => [s.name, s.labels.method, s.values]), [['GET', 'GET', [1, 3]], ['POST', 'POST', [2, 4]]], 'a table partitioned by method draws as two series');
  const merged = run(data({ tables: [table([{ name: 'k', type: 'string' }, { name: 'A', type: 'number' }], [['x', 1]]), table([{ name: 'k', type: 'string' }, { name: 'B', type: 'number' }], [['x', 2]], 'B')] }), [{ id: 'merge' }]);
  assert.deepEqual(merged.tables[0].rows, [['x', 1, 2]]);
});

test('unknown ids are skipped with a notice; a failing transformation never throws', () => {
  const d = data({ series: [series('a', [1, 2])] });
  const out = run(d, [{ id: 'noSuchThing' }, { id: 'limit', options: { limitField: 1 } }]);
  assert.equal(out.series[0].values.length, 1, 'the rest of the pipeline still runs');
  assert.ok(out.notices.some((n) => /noSuchThing/.test(n)), out.notices.join());
  assert.ok(d.notices.some((n) => /noSuchThing/.test(n)), 'also listed on the panel data (Inspect)');
  const bad = run(d, [{ id: 'calculateField', options: { mode: 'binary', binary: null } }, { id: 'filterByValue', options: { filters: 'x' } }, { id: 'groupBy', options: { fields: null } }]);
  assert.equal(bad.series.length, 1);
});
