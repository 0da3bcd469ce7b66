// Ad hoc filters (ui/src/dashboards/adhoc.ts) without a browser: the module is bundled with
// esbuild and imported. Examples, then a property test: random PromQL built from a small
// grammar, rendered once plain and once with the filter in every vector selector — adding the
// filters to the plain text must give exactly the second rendering.
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
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pharos-adhoc-'));
  const out = path.join(dir, 'adhoc.mjs');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'ui/src/dashboards/adhoc.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'silent' });
  m = await import(pathToFileURL(out).href);
});

const F = [{ key: 'env', operator: '=', value: 'prod' }];

test('PromQL: a matcher lands in every vector selector, nowhere else', () => {
  const cases = [
    ['up', 'up{env="prod"}'],
    ['up{}', 'up{env="prod"}'],
    ['up{job="a"}', 'up{job="a",env="prod"}'],
    ['up{job="a",}', 'up{job="a",env="prod"}'],
    ['{__name__="up"}', '{__name__="up",env="prod"}'],
    ['sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))', 'sum by (job) (rate(http_requests_total{code=~"5..",env="prod"}[5m]))'],
    ['sum(rate(x[1m] offset 1h)) without (instance)', 'sum(rate(x{env="prod"}[1m] offset 1h)) without (instance)'],
    ['a / on(job) group_left(team) b', 'a{env="prod"} / on(job) group_left(team) b{env="prod"}'],
    ['label_replace(up, "dst", "$1", "src", "(.*)")', 'label_replace(up{env="prod"}, "dst", "$1", "src", "(.*)")'],
    ['histogram_quantile(0.95, sum by (le) (rate(h_bucket{path="/a{b}"}[5m])))', 'histogram_quantile(0.95, sum by (le) (rate(h_bucket{path="/a{b}",env="prod"}[5m])))'],
    ['x > bool 1e-3 and y @ start()', 'x{env="prod"} > bool 1e-3 and y{env="prod"} @ start()'],
    ['rate(x[5m:1m])', 'rate(x{env="prod"}[5m:1m])'],
    ['vector(1) + scalar(y)', 'vector(1) + scalar(y{env="prod"})'],
    ['1 + Inf - NaN', '1 + Inf - NaN'],
    ['# comment up\nup', '# comment up\nup{env="prod"}'],
    ['ns:metric:rate5m', 'ns:metric:rate5m{env="prod"}'],
  ];
  for (const [input, want] of cases) assert.equal(m.addFiltersToPromQL(input, F), want, input);
  assert.equal(m.addFiltersToPromQL('up', []), 'up');
});

test('values are escaped; operators and URL form round-trip as in Grafana', () => {
  const f = [{ key: 'path', operator: '=~', value: 'a"b\\c|d,e' }];
  assert.equal(m.addFiltersToPromQL('up', f), 'up{path=~"a\\"b\\\\c|d,e"}');
  const url = m.filterToUrl(f[0]);
  assert.equal(url, 'path|=~|a"b\\c__gfp__d__gfc__e');
  assert.deepEqual(m.filterFromUrl(url), f[0]);
  assert.deepEqual(m.filterFromUrl('job|!=|api'), { key: 'job', operator: '!=', value: 'api' });
  assert.equal(m.filterFromUrl('1bad|=|x'), undefined);
  assert.equal(m.filterFromUrl('job|<>|x'), undefined);
  assert.equal(m.filterFromUrl('garbage'), undefined);
  assert.deepEqual(m.filtersOf({ name: 'f', type: 'adhoc', filters: [{ key: 'a', operator: '=', value: 'b' }, { key: '', operator: '=', value: 'x' }, { key: 'c', operator: 'like', value: 'x' }, null] }), [{ key: 'a', operator: '=', value: 'b' }]);
});

test('LogQL: filters go into stream selectors, not into line filters or templates', () => {
  const cases = [
    ['{app="api"}', '{app="api",env="prod"}'],
    ['{app="api"} |= "a{b}" | json | line_format "{{.msg}}"', '{app="api",env="prod"} |= "a{b}" | json | line_format "{{.msg}}"'],
    ['sum by (level) (count_over_time({app="api"} | logfmt [5m]))', 'sum by (level) (count_over_time({app="api",env="prod"} | logfmt [5m]))'],
    ['{app="api"} | line_format `{{.a}}`', '{app="api",env="prod"} | line_format `{{.a}}`'],
  ];
  for (const [input, want] of cases) assert.equal(m.addFiltersToLogQL(input, F), want, input);
});

// ---- property test -------------------------------------------------------------------------

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** A random PromQL expression as a pair of renderings: [plain, with the filter in every selector]. */
function gen(r, depth) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const filter = 'env="prod"';
  const selector = () => {
    const names = ['up', 'http_requests_total', 'a:b:c', 'by_job', 'offset_total', 'rate_x', 'x1'];
    const matchers = ['job="a"', 'path=~"/x{1,2}"', "le!='0.5'", 'code!~"5.."', 'q="a\\"}b"'];
    const ms = Array.from({ length: Math.floor(r() * 3) }, () => pick(matchers));
    const bare = ms.length > 0 && r() < 0.2;
    const name = bare ? '' : pick(names);
    const braces = ms.length > 0 || r() < 0.3;
    const plain = name + (braces ? `{${ms.join(',')}}` : '');
    const filtered = name + `{${[...ms, filter].join(',')}}`;
    return [plain, filtered];
  };
  if (depth <= 0) return r() < 0.15 ? [String(Math.floor(r() * 100)), null] : selector();
  const sub = () => {
    const [p, f] = gen(r, depth - 1);
    return [p, f ?? p];
  };
  switch (Math.floor(r() * 8)) {
    case 0: {
      const [p, f] = selector();
      const range = pick(['[5m]', '[1h:1m]', '[30s] offset 1h']);
      const fn = pick(['rate', 'increase', 'max_over_time']);
      return [`${fn}(${p}${range})`, `${fn}(${f}${range})`];
    }
    case 1: {
      const [p, f] = sub();
      const agg = pick(['sum', 'max', 'count']);
      const mod = pick([' by (job) ', ' without (instance, le) ', '']);
      return r() < 0.5 ? [`${agg}${mod}(${p})`, `${agg}${mod}(${f})`] : [`${agg}(${p})${mod}`, `${agg}(${f})${mod}`];
    }
    case 2: {
      const [p1, f1] = sub();
      const [p2, f2] = sub();
      const op = pick([' + ', ' / on(job) group_left(team) ', ' and ', ' > bool ', ' unless ignoring(x) ']);
      return [`${p1}${op}${p2}`, `${f1}${op}${f2}`];
    }
    case 3: {
      const [p, f] = sub();
      return [`histogram_quantile(0.9, ${p})`, `histogram_quantile(0.9, ${f})`];
    }
    case 4: {
      const [p, f] = sub();
      return [`label_replace(${p}, "dst", "$1 {x}", "src", "(.*)")`, `label_replace(${f}, "dst", "$1 {x}", "src", "(.*)")`];
    }
    case 5: {
      const [p, f] = sub();
      return [`(${p}) * 1e-3`, `(${f}) * 1e-3`];
    }
    case 6: {
      const [p, f] = sub();
      return [`topk(5, ${p})`, `topk(5, ${f})`];
    }
    default:
      return selector();
  }
}

test('property: adding filters to random PromQL equals rendering it with the filters', () => {
  const r = rng(20261201);
  const f = [{ key: 'env', operator: '=', value: 'prod' }];
  for (let i = 0; i < 2000; i++) {
    const [plain, filtered] = gen(r, 1 + Math.floor(r() * 4));
    const want = filtered ?? plain;
    assert.equal(m.addFiltersToPromQL(plain, f), want, `case ${i}: ${plain}`);
    // Idempotent on queries without selectors only; with no filters the text is untouched.
    assert.equal(m.addFiltersToPromQL(plain, []), plain);
  }
});

test('property: arbitrary text never throws and keeps every character of the input in order', () => {
  const r = rng(7);
  const alphabet = 'ab_:{}[]()"\'`\\,=~!# \n0.5e-3';
  for (let i = 0; i < 3000; i++) {
    const s = Array.from({ length: Math.floor(r() * 40) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
    for (const fn of [m.addFiltersToPromQL, m.addFiltersToLogQL]) {
      const out = fn(s, F);
      // The output is the input with insertions only: the input is a subsequence of it.
      let j = 0;
      for (const c of out) if (j < s.length && c === s[j]) j++;
      assert.equal(j, s.length, `${JSON.stringify(s)} -> ${JSON.stringify(out)}`);
    }
  }
});
