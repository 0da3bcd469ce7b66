// Grafana unit formatting (ui/src/lib/units.ts) against the expectations in Grafana's own tests
// (packages/grafana-data/src/valueFormats/*.test.ts: valueFormats, symbolFormatters,
// dateTimeFormatters): the module is bundled on the fly with esbuild and imported, no browser.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let units;
before(async () => {
  const esbuild = createRequire(path.join(ROOT, 'ui', 'package.json'))('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pharos-units-'));
  const out = path.join(dir, 'units.mjs');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'ui/src/lib/units.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'silent' });
  units = await import(pathToFileURL(out).href);
});

const fmt = (unit, value, decimals) => units.formatted(value, unit, decimals);

// [unit, decimals, value, Grafana's result]
const GRAFANA_CASES = [
  // currency
  ['currencyUSD', 2, 1532.82, '$1.53K'],
  ['currencyKRW', 2, 1532.82, '₩1.53K'],
  ['currencyIDR', 2, 1532.82, 'Rp1.53K'],
  // typical
  ['ms', 4, 0.0024, '0.0024 ms'],
  ['ms', 0, 100, '100 ms'],
  ['ms', 2, 1250, '1.25 s'],
  ['ms', 1, 10000086.123, '2.8 hour'],
  ['ms', 0, 1200, '1 s'],
  ['short', 0, 98765, '99 K'],
  ['short', 0, 9876543, '10 Mil'],
  ['kbytes', 3, 10000000, '9.537 GiB'],
  ['deckbytes', 3, 10000000, '10.000 GB'],
  ['megwatt', 3, 1000, '1.000 GW'],
  ['kohm', 3, 1000, '1.000 MΩ'],
  ['Mohm', 3, 1000, '1.000 GΩ'],
  ['farad', 3, 1000, '1.000 kF'],
  ['µfarad', 3, 1000, '1.000 mF'],
  ['nfarad', 3, 1000, '1.000 µF'],
  ['pfarad', 3, 1000, '1.000 nF'],
  ['ffarad', 3, 1000, '1.000 pF'],
  ['henry', 3, 1000, '1.000 kH'],
  ['mhenry', 3, 1000, '1.000 H'],
  ['µhenry', 3, 1000, '1.000 mH'],
  // unknown units are suffixes; prefix:/suffix: custom units
  ['a', 0, 1532.82, '1533 a'],
  ['b', 0, 1532.82, '1533 b'],
  ['prefix:b', undefined, 1532.82, 'b1533'],
  ['suffix:d', undefined, 1532.82, '1533 d'],
  // SI, count and currency custom units
  ['si:µF', 2, 1234, '1.23 mF'],
  ['si:µF', 2, 1234000000, '1.23 kF'],
  ['si:µF', 2, 1234000000000000, '1.23 GF'],
  ['count:xpm', 2, 1234567, '1.23M xpm'],
  ['count:x/min', 2, 1234, '1.23K x/min'],
  ['currency:@', 2, 1234567, '@1.23M'],
  ['currency:@', 2, 1234, '@1.23K'],
  // durations
  ['dtdurationms', 0, 0, '0 milliseconds'],
  ['dtdurationms', 0, 1, '1 millisecond'],
  ['dtdurationms', 0, -1, '1 millisecond ago'],
  ['dtdurations', 0, 1, '1 second'],
  ['dtdurationms', 0, 38898367008, '1 year'],
  ['dtdurationms', 1, 38898367008, '1 year, 2 months'],
  ['dtdurationms', 20, 38898367008, '1 year, 2 months, 3 weeks, 4 days, 5 hours, 6 minutes, 7 seconds, 8 milliseconds'],
  ['dtdurationms', 8, 36993906007, '1 year, 2 months, 0 weeks, 3 days, 4 hours, 5 minutes, 6 seconds, 7 milliseconds'],
  ['dthms', undefined, 1, '00:00:01'],
  ['dthms', undefined, -1, '00:00:01 ago'],
  ['dthms', undefined, 0, '00:00:00'],
  ['dtdhms', undefined, 86399, '23:59:59'],
  ['dtdhms', undefined, 86400, '1 d 00:00:00'],
  ['dtdhms', undefined, 360000, '4 d 04:00:00'],
  ['dtdhms', undefined, 1179811, '13 d 15:43:31'],
  ['dtdhms', undefined, -1179811, '13 d 15:43:31 ago'],
  ['dtdhms', undefined, 116876364, '1352 d 17:39:24'],
  // clocks
  ['clockms', 0, 999, '999ms'],
  ['clockms', undefined, 59999, '59s:999ms'],
  ['clockms', 0, 59999, '59s'],
  ['clockms', undefined, 3599999, '59m:59s:999ms'],
  ['clockms', 0, 3599999, '59m'],
  ['clockms', 1, 3599999, '59m:59s'],
  ['clockms', undefined, 7199999, '01h:59m:59s:999ms'],
  ['clockms', 0, 7199999, '01h'],
  ['clockms', 1, 7199999, '01h:59m'],
  ['clockms', 2, 7199999, '01h:59m:59s'],
  ['clockms', undefined, 89999999, '24h:59m:59s:999ms'],
  ['clockms', 0, 89999999, '24h'],
  ['clockms', 1, 89999999, '24h:59m'],
  ['clockms', 2, 89999999, '24h:59m:59s'],
];

test("unit ids format as in Grafana's valueFormats and dateTimeFormatters tests", () => {
  const failures = [];
  for (const [unit, decimals, value, want] of GRAFANA_CASES) {
    const got = fmt(unit, value, decimals);
    if (got !== want) failures.push(`${unit} (decimals ${decimals}) ${value}: got "${got}", Grafana "${want}"`);
  }
  assert.deepEqual(failures, [], `${failures.length} of ${GRAFANA_CASES.length} differ:\n${failures.join('\n')}`);
});

test("currency and SI prefixes scale as in Grafana's symbolFormatters tests", () => {
  // currency('@'): prefix, scaled text, K/M/B/T suffix; negative values put the sign before the symbol.
  const cur = [
    [0, '@0'], [999, '@999'], [1000, '@1K'], [1000000, '@1M'], [1000000000, '@1B'], [1000000000000, '@1T'],
    [1000000000000000, '@1000T'], [-1000000000000, '-@1T'], [-1000000000, '-@1B'], [-1000000, '-@1M'], [-1000, '-@1K'], [-999, '-@999'],
  ];
  const si = [
    [0, '0 V'], [999, '999 V'], [1000, '1 kV'], [1000000, '1 MV'], [1000000000, '1 GV'], [1000000000000, '1 TV'], [1000000000000000, '1 PV'],
    [-1000000000000, '-1 TV'], [-1000000000, '-1 GV'], [-1000000, '-1 MV'], [-1000, '-1 kV'], [-999, '-999 V'],
  ];
  const failures = [];
  for (const [v, want] of cur) if (fmt('currency:@', v) !== want) failures.push(`currency:@ ${v}: "${fmt('currency:@', v)}" ≠ "${want}"`);
  for (const [v, want] of si) if (fmt('si:V', v) !== want) failures.push(`si:V ${v}: "${fmt('si:V', v)}" ≠ "${want}"`);
  // The split itself: a negative currency keeps "-@" as the prefix (Grafana's currency()).
  const neg = units.formatValue(-1000, 'currency:@');
  if (`${neg.prefix}|${neg.text}|${neg.suffix}` !== '-@|1|K') failures.push(`currency:@ -1000 parts: ${JSON.stringify(neg)}`);
  assert.deepEqual(failures, [], failures.join('\n'));
});

test('date/time units in UTC match Grafana (dateTimeAsIso, dateTimeAsUS, time:YYYY)', () => {
  const epoch = 1505634997920; // 2017-09-17T07:56:37.920Z
  assert.equal(units.formatted(epoch, 'dateTimeAsIso', 0, 'utc'), '2017-09-17 07:56:37');
  assert.equal(units.formatted(epoch, 'dateTimeAsUS', 0, 'utc'), '09/17/2017 7:56:37 am');
  assert.equal(units.formatted(Date.UTC(1999, 6, 2), 'time:YYYY', 0, 'utc'), '1999');
  assert.equal(units.formatted(Date.UTC(2010, 6, 2), 'time:YYYY.MM', 0, 'utc'), '2010.07');
  // The *NoDateIfToday variants drop today's date (Grafana 7+; plain dateTimeAsIso keeps it).
  const now = Date.now();
  assert.match(units.formatted(now, 'dateTimeAsIsoNoDateIfToday', 0, 'utc'), /^\d{2}:\d{2}:\d{2}$/);
  assert.match(units.formatted(now, 'dateTimeAsUSNoDateIfToday', 0, 'utc'), /^\d{1,2}:\d{2}:\d{2} [ap]m$/);
  assert.match(units.formatted(now, 'dateTimeAsIso', 0, 'utc'), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
});

test('common dashboard units (bytes, percent, rates, time) and edge values', () => {
  const cases = [
    ['bytes', undefined, 1536, '1.50 KiB'],
    ['decbytes', undefined, 2500000, '2.50 MB'],
    ['bits', undefined, 1024, '1 Kib'],
    ['percent', undefined, 12.345, '12.3%'],
    ['percentunit', undefined, 0.123, '12.3%'],
    ['s', undefined, 90, '1.50 min'],
    ['s', undefined, 0.25, '250 ms'],
    ['ms', undefined, 0.25, '0.250 ms'],
    ['reqps', undefined, 5.5, '5.50 req/s'],
    ['short', undefined, 12345, '12.3 K'],
    ['short', undefined, 0, '0'],
    ['none', undefined, 1.5, '1.50'],
    ['celsius', 1, 21.44, '21.4 °C'],
    ['hertz', undefined, 2000, '2 kHz'],
    ['bool', undefined, 1, 'True'],
    ['bool', undefined, 0, 'False'],
  ];
  const failures = [];
  for (const [unit, dec, v, want] of cases) {
    const got = fmt(unit, v, dec);
    if (got !== want) failures.push(`${unit} ${v}: got "${got}", want "${want}"`);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  assert.equal(fmt('short', NaN), 'NaN');
  assert.equal(fmt('bytes', null), '');
  assert.equal(fmt('no-such-unit-id', 3), '3 no-such-unit-id', 'unknown ids become a suffix, never an exception');
});
