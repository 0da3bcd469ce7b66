/**
 * Grafana's unit ids (the `unit` of a field config, e.g. `bytes`, `s`, `percentunit`, `reqps`,
 * `suffix:req`) turned into display text the way Grafana formats them: the same scaling steps
 * (K/Mil/Bil, KiB/MiB, ms/s/min/hour…), the same automatic decimals by magnitude and the same
 * prefix/suffix split, so a dashboard imported from Grafana shows the same numbers.
 */
import { formatDateTime, type TimeZone } from './time';

/** A formatted value: `prefix + text + suffix` is what a person reads. */
export interface FormattedValue {
  text: string;
  prefix?: string;
  suffix?: string;
}

/** `decimals` null/undefined means "automatic by magnitude" as in Grafana. */
export type Decimals = number | null | undefined;

export type ValueFormatter = (value: number, decimals?: Decimals, timeZone?: TimeZone) => FormattedValue;

/** Joins a formatted value into one string. */
export function formattedToString(v: FormattedValue): string {
  return `${v.prefix ?? ''}${v.text}${v.suffix ?? ''}`;
}

/** Formats `value` with a Grafana unit id; never throws (unknown units become a plain suffix). */
export function formatValue(value: number | null | undefined, unit?: string | null, decimals?: Decimals, timeZone?: TimeZone): FormattedValue {
  if (value === null || value === undefined) return { text: '' };
  if (typeof value !== 'number') return { text: String(value) };
  if (Number.isNaN(value)) return { text: 'NaN' };
  if (decimals !== null && decimals !== undefined) decimals = Math.max(0, Math.min(20, Math.floor(decimals)));
  try {
    return getValueFormat(unit)(value, decimals, timeZone);
  } catch {
    return { text: String(value) };
  }
}

/** `formatValue` as one string (`"1.50 KiB"`, `"12.3%"`). */
export function formatted(value: number | null | undefined, unit?: string | null, decimals?: Decimals, timeZone?: TimeZone): string {
  return formattedToString(formatValue(value, unit, decimals, timeZone));
}

// ---- decimals ---------------------------------------------------------------------------------

/** Grafana's automatic decimals: enough to show two to three significant digits. */
export function decimalsForValue(value: number): number {
  if (!Number.isFinite(value) || value === 0) return 0;
  const abs = Math.abs(value);
  const log10 = Math.floor(Math.log(abs) / Math.LN10);
  let dec = -log10 + 1;
  const magn = Math.pow(10, -dec);
  const norm = abs / magn; // between 1.0 and 10.0
  if (norm > 2.25) ++dec; // e.g. 2.5 needs one more decimal
  if (value % 1 === 0) dec = 0;
  return Math.max(0, dec);
}

/** Rounds to `decimals` (automatic when unset) and pads with zeros, like Grafana's toFixed. */
export function toFixed(value: number, decimals?: Decimals): string {
  if (value === Number.POSITIVE_INFINITY || value === Number.NEGATIVE_INFINITY) return value.toLocaleString();
  if (Number.isNaN(value)) return 'NaN';
  const dec = decimals === null || decimals === undefined ? decimalsForValue(value) : decimals;
  if (value === 0) return value.toFixed(dec);
  const factor = dec ? Math.pow(10, Math.max(0, dec)) : 1;
  const text = String(Math.round(value * factor) / factor);
  if (text.includes('e')) return text;
  const dot = text.indexOf('.');
  const precision = dot === -1 ? 0 : text.length - dot - 1;
  if (precision < dec) return (precision ? text : text + '.') + String(factor).slice(1, dec - precision + 1);
  return text;
}

// ---- building blocks ------------------------------------------------------------------------

function fixedUnit(unit: string, asPrefix = false): ValueFormatter {
  return (v, d) => {
    const text = toFixed(v, d);
    if (!unit) return { text };
    return asPrefix ? { text, prefix: unit } : { text, suffix: ' ' + unit };
  };
}

function fixedScaled(value: number, decimals: Decimals, ext: string): FormattedValue {
  return { text: toFixed(value, decimals), suffix: ext };
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
const logb = (b: number, x: number) => Math.log10(x) / Math.log10(b);

/** Scales by powers of `factor` picking the suffix; `offset` is the index of the base unit. */
function scaledUnits(factor: number, ext: string[], offset = 0): ValueFormatter {
  return (v, d) => {
    if (!Number.isFinite(v)) return { text: v.toLocaleString() };
    const idx = v === 0 ? 0 : Math.floor(logb(factor, Math.abs(v)));
    const suffix = ext[clamp(offset + idx, 0, ext.length - 1)];
    const scale = clamp(idx, -offset, ext.length - offset - 1);
    return { text: toFixed(v / Math.pow(factor, scale), d), suffix };
  };
}

// Grafana scales SI units by 1000 between the *usual* prefixes (m, µ, n…; k, M, G…).
const SI_STEPS = ['f', 'p', 'n', 'µ', 'm', '', 'k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
const SI_STEP_BASE = SI_STEPS.indexOf('');

/** Decimal SI prefixes (1000 steps); `offset` 1 = the input is already in k, -1 = in m. */
function decimalSI(unit: string, offset = 0): ValueFormatter {
  return scaledUnits(1000, SI_STEPS.map((p) => ' ' + p + unit), SI_STEP_BASE + offset);
}

/** The `si:<prefix><unit>` custom unit: `si:ms` means the value is in milliseconds. */
function siCustom(sub: string): ValueFormatter {
  const first = sub.charAt(0);
  let idx = SI_STEPS.indexOf(first === 'u' ? 'µ' : first);
  if (idx < 0 || first === '' || sub.length === 1) idx = SI_STEP_BASE;
  const unit = idx === SI_STEP_BASE ? sub : sub.slice(1);
  return decimalSI(unit, idx - SI_STEP_BASE);
}

const BIN_PREFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi'];
/** IEC prefixes (1024 steps). */
function binarySI(unit: string, offset = 0): ValueFormatter {
  return scaledUnits(1024, BIN_PREFIXES.map((p) => ' ' + p + unit), offset);
}

function countUnit(symbol: string): ValueFormatter {
  const scaler = scaledUnits(1000, ['', 'K', 'M', 'B', 'T']);
  return (v, d) => {
    const r = scaler(v, d);
    return { ...r, suffix: `${r.suffix ?? ''} ${symbol}` };
  };
}

function currency(symbol: string, asSuffix = false): ValueFormatter {
  const scaler = scaledUnits(1000, ['', 'K', 'M', 'B', 'T']);
  return (v, d) => {
    const neg = v < 0;
    const r = scaler(Math.abs(v), d);
    if (asSuffix) r.suffix = `${r.suffix ?? ''}${symbol}`;
    else r.prefix = symbol;
    if (neg) r.prefix = `-${r.prefix ?? ''}`;
    return r;
  };
}

function bool(t: string, f: string): ValueFormatter {
  return (v) => ({ text: v ? t : f });
}

// ---- time -----------------------------------------------------------------------------------

interface Step {
  below: number;
  divide: number;
  suffix: string;
}

/** Picks the first step whose `below` exceeds |v|; the last step has `below: Infinity`. */
function timeSteps(steps: Step[]): ValueFormatter {
  return (v, d) => {
    const abs = Math.abs(v);
    for (const s of steps) {
      if (abs < s.below) return fixedScaled(v / s.divide, d, s.suffix);
    }
    const last = steps[steps.length - 1];
    return fixedScaled(v / last.divide, d, last.suffix);
  };
}

const toNanoSeconds = timeSteps([
  { below: 1e3, divide: 1, suffix: ' ns' },
  { below: 1e6, divide: 1e3, suffix: ' µs' },
  { below: 1e9, divide: 1e6, suffix: ' ms' },
  { below: 6e10, divide: 1e9, suffix: ' s' },
  { below: 3.6e12, divide: 6e10, suffix: ' min' },
  { below: 8.64e13, divide: 3.6e12, suffix: ' hour' },
  { below: Infinity, divide: 8.64e13, suffix: ' day' },
]);
const toMicroSeconds = timeSteps([
  { below: 1e3, divide: 1, suffix: ' µs' },
  { below: 1e6, divide: 1e3, suffix: ' ms' },
  { below: 6e7, divide: 1e6, suffix: ' s' },
  { below: 3.6e9, divide: 6e7, suffix: ' min' },
  { below: 8.64e10, divide: 3.6e9, suffix: ' hour' },
  { below: Infinity, divide: 8.64e10, suffix: ' day' },
]);
const toMilliSeconds = timeSteps([
  { below: 1e3, divide: 1, suffix: ' ms' },
  { below: 6e4, divide: 1e3, suffix: ' s' },
  { below: 3.6e6, divide: 6e4, suffix: ' min' },
  { below: 8.64e7, divide: 3.6e6, suffix: ' hour' },
  { below: 31536e6, divide: 8.64e7, suffix: ' day' },
  { below: Infinity, divide: 31536e6, suffix: ' year' },
]);
const secondsAbove1 = timeSteps([
  { below: 60, divide: 1, suffix: ' s' },
  { below: 3600, divide: 60, suffix: ' min' },
  { below: 86400, divide: 3600, suffix: ' hour' },
  { below: 604800, divide: 86400, suffix: ' day' },
  { below: 31536000, divide: 604800, suffix: ' week' },
  { below: Infinity, divide: 3.15569e7, suffix: ' year' },
]);
const toSeconds: ValueFormatter = (v, d) => {
  const abs = Math.abs(v);
  if (abs === 0) return fixedScaled(v, d, ' s');
  if (abs < 1e-6) return fixedScaled(v * 1e9, d, ' ns');
  if (abs < 1e-3) return fixedScaled(v * 1e6, d, ' µs');
  if (abs < 1) return fixedScaled(v * 1e3, d, ' ms');
  return secondsAbove1(v, d);
};
const toMinutes = timeSteps([
  { below: 60, divide: 1, suffix: ' min' },
  { below: 1440, divide: 60, suffix: ' hour' },
  { below: 10080, divide: 1440, suffix: ' day' },
  { below: 604800, divide: 10080, suffix: ' week' },
  { below: Infinity, divide: 5.25948e5, suffix: ' year' },
]);
const toHours = timeSteps([
  { below: 24, divide: 1, suffix: ' hour' },
  { below: 168, divide: 24, suffix: ' day' },
  { below: 8760, divide: 168, suffix: ' week' },
  { below: Infinity, divide: 8760, suffix: ' year' },
]);
const toDays = timeSteps([
  { below: 7, divide: 1, suffix: ' day' },
  { below: 365, divide: 7, suffix: ' week' },
  { below: Infinity, divide: 365, suffix: ' year' },
]);

const DURATION_UNITS: [string, number][] = [
  ['year', 31536000000],
  ['month', 2592000000],
  ['week', 604800000],
  ['day', 86400000],
  ['hour', 3600000],
  ['minute', 60000],
  ['second', 1000],
  ['millisecond', 1],
];

/** `dtdurations`/`dtdurationms`: "2 hours, 3 minutes"; `decimals` = how many more units after the first. */
function duration(scaleMs: number, baseName: string): ValueFormatter {
  const fmt = (v: number, d?: Decimals): FormattedValue => {
    if (v === 0) return { text: `0 ${baseName}s` };
    if (v < 0) return { text: fmt(-v, d).text + ' ago' };
    let ms = v * scaleMs;
    let remaining = d === null || d === undefined ? 0 : d;
    const parts: string[] = [];
    let started = false;
    for (const [name, size] of DURATION_UNITS) {
      if (remaining < 0) break;
      const n = ms / size;
      if (n >= 1 || started) {
        started = true;
        const floor = Math.floor(n);
        parts.push(`${floor} ${name}${floor !== 1 ? 's' : ''}`);
        ms = ms % size;
        remaining--;
      }
    }
    return { text: parts.length ? parts.join(', ') : `0 ${baseName}s` };
  };
  return fmt;
}

/** `dthms`: 01:02:03; `dtdhms`: 1 d 01:02:03. */
function hms(withDays: boolean): ValueFormatter {
  const fmt = (v: number): FormattedValue => {
    if (v < 0) return { text: fmt(-v).text + ' ago' };
    const p = (n: number) => String(n).padStart(2, '0');
    let s = Math.floor(v);
    let days = 0;
    if (withDays) {
      days = Math.floor(s / 86400);
      s %= 86400;
    }
    const hhmmss = `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
    return { text: withDays && days > 0 ? `${days} d ${hhmmss}` : hhmmss };
  };
  return fmt;
}

/** `clockms`/`clocks`: 01h:02m:03s:004ms, shortened by `decimals` as Grafana does. */
function clock(scaleMs: number): ValueFormatter {
  return (v, d) => {
    const ms = Math.max(0, Math.round(v * scaleMs));
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const H = Math.floor(ms / 3600000);
    const M = Math.floor((ms % 3600000) / 60000);
    const S = Math.floor((ms % 60000) / 1000);
    const MS = ms % 1000;
    if (ms < 1000) return { text: `${p(MS, 3)}ms` };
    if (ms < 60000) return { text: d === 0 ? `${p(S)}s` : `${p(S)}s:${p(MS, 3)}ms` };
    if (ms < 3600000) {
      if (d === 0) return { text: `${p(M)}m` };
      if (d === 1) return { text: `${p(M)}m:${p(S)}s` };
      return { text: `${p(M)}m:${p(S)}s:${p(MS, 3)}ms` };
    }
    const hours = `${p(H)}h`;
    if (d === 0) return { text: hours };
    if (d === 1) return { text: `${hours}:${p(M)}m` };
    if (d === 2) return { text: `${hours}:${p(M)}m:${p(S)}s` };
    return { text: `${hours}:${p(M)}m:${p(S)}s:${p(MS, 3)}ms` };
  };
}

function sameDay(a: Date, b: Date, utc: boolean): boolean {
  return utc
    ? a.getUTCFullYear() === b.getUTCFullYear() && a.getUTCMonth() === b.getUTCMonth() && a.getUTCDate() === b.getUTCDate()
    : a.toDateString() === b.toDateString();
}

function dateTimeIso(noDateIfToday: boolean): ValueFormatter {
  return (v, _d, tz) => {
    const full = formatDateTime(v, tz ?? 'browser');
    if (noDateIfToday && sameDay(new Date(v), new Date(), tz === 'utc')) return { text: full.slice(11) };
    return { text: full };
  };
}

function dateTimeUS(noDateIfToday: boolean): ValueFormatter {
  return (v, _d, tz) => {
    const opts: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: '2-digit', second: '2-digit', hour12: true };
    if (tz === 'utc') opts.timeZone = 'UTC';
    const time = new Date(v).toLocaleTimeString('en-US', opts).toLowerCase();
    if (noDateIfToday && sameDay(new Date(v), new Date(), tz === 'utc')) return { text: time };
    const date = new Date(v).toLocaleDateString('en-US', {
      month: '2-digit',
      day: '2-digit',
      year: 'numeric',
      timeZone: tz === 'utc' ? 'UTC' : undefined,
    });
    return { text: `${date} ${time}` };
  };
}

const fromNow: ValueFormatter = (v) => {
  const diff = Date.now() - v;
  const abs = Math.abs(diff);
  const s = abs / 1000;
  let t: string;
  if (s < 45) t = 'a few seconds';
  else if (s < 90) t = 'a minute';
  else if (s < 45 * 60) t = `${Math.round(s / 60)} minutes`;
  else if (s < 90 * 60) t = 'an hour';
  else if (s < 22 * 3600) t = `${Math.round(s / 3600)} hours`;
  else if (s < 36 * 3600) t = 'a day';
  else if (s < 26 * 86400) t = `${Math.round(s / 86400)} days`;
  else if (s < 45 * 86400) t = 'a month';
  else if (s < 320 * 86400) t = `${Math.round(s / 2592000)} months`;
  else if (s < 548 * 86400) t = 'a year';
  else t = `${Math.round(s / 31536000)} years`;
  return { text: diff >= 0 ? `${t} ago` : `in ${t}` };
};

/** `time:YYYY-MM-DD HH:mm` — a moment.js-style pattern (the common tokens). */
function dateTimePattern(pattern: string): ValueFormatter {
  return (v, _d, tz) => {
    const d = new Date(v);
    const utc = tz === 'utc';
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const Y = utc ? d.getUTCFullYear() : d.getFullYear();
    const M = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
    const D = utc ? d.getUTCDate() : d.getDate();
    const H = utc ? d.getUTCHours() : d.getHours();
    const m = utc ? d.getUTCMinutes() : d.getMinutes();
    const s = utc ? d.getUTCSeconds() : d.getSeconds();
    const ms = utc ? d.getUTCMilliseconds() : d.getMilliseconds();
    const tokens: Record<string, string> = {
      YYYY: String(Y),
      YY: p(Y % 100),
      MM: p(M),
      M: String(M),
      DD: p(D),
      D: String(D),
      HH: p(H),
      H: String(H),
      hh: p(H % 12 || 12),
      h: String(H % 12 || 12),
      mm: p(m),
      ss: p(s),
      SSS: p(ms, 3),
      A: H < 12 ? 'AM' : 'PM',
      a: H < 12 ? 'am' : 'pm',
    };
    return { text: (pattern || 'YYYY-MM-DD HH:mm:ss').replace(/YYYY|YY|SSS|MM|DD|HH|hh|mm|ss|M|D|H|h|A|a/g, (t) => tokens[t] ?? t) };
  };
}

// ---- misc -----------------------------------------------------------------------------------

const toPercent: ValueFormatter = (v, d) => ({ text: toFixed(v, d), suffix: '%' });
const toPercentUnit: ValueFormatter = (v, d) => ({ text: toFixed(100 * v, d), suffix: '%' });
const toHex: ValueFormatter = (v, d) => ({ text: parseFloat(toFixed(v, d)).toString(16).toUpperCase() });
const toHex0x: ValueFormatter = (v, d) => {
  const t = toHex(v, d).text;
  return { text: t.startsWith('-') ? '-0x' + t.slice(1) : '0x' + t };
};
const sci: ValueFormatter = (v, d) => ({ text: v.toExponential(d ?? undefined) });
const locale: ValueFormatter = (v, d) => ({ text: v.toLocaleString(undefined, { maximumFractionDigits: d ?? undefined }) });
const short = scaledUnits(1000, ['', ' K', ' Mil', ' Bil', ' Tri', ' Quadr', ' Quint', ' Sext', ' Sept']);

const UNITS: Record<string, ValueFormatter> = {
  // Misc
  none: fixedUnit(''),
  string: fixedUnit(''),
  short,
  percent: toPercent,
  percentunit: toPercentUnit,
  humidity: fixedUnit('%H'),
  dB: fixedUnit('dB'),
  hex0x: toHex0x,
  hex: toHex,
  sci,
  locale,
  pixel: fixedUnit('px'),
  // Acceleration, angle, area
  accMS2: fixedUnit('m/sec²'),
  accFS2: fixedUnit('f/sec²'),
  accG: fixedUnit('g'),
  degree: fixedUnit('°'),
  radian: fixedUnit('rad'),
  grad: fixedUnit('grad'),
  arcmin: fixedUnit('arcmin'),
  arcsec: fixedUnit('arcsec'),
  areaM2: fixedUnit('m²'),
  areaF2: fixedUnit('ft²'),
  areaMI2: fixedUnit('mi²'),
  // Computation
  flops: decimalSI('FLOP/s'),
  mflops: decimalSI('FLOP/s', 2),
  gflops: decimalSI('FLOP/s', 3),
  tflops: decimalSI('FLOP/s', 4),
  pflops: decimalSI('FLOP/s', 5),
  eflops: decimalSI('FLOP/s', 6),
  zflops: decimalSI('FLOP/s', 7),
  yflops: decimalSI('FLOP/s', 8),
  // Concentration
  ppm: fixedUnit('ppm'),
  conppb: fixedUnit('ppb'),
  conngm3: fixedUnit('ng/m³'),
  conngNm3: fixedUnit('ng/Nm³'),
  'conμgm3': fixedUnit('μg/m³'),
  'conμgNm3': fixedUnit('μg/Nm³'),
  conmgm3: fixedUnit('mg/m³'),
  conmgNm3: fixedUnit('mg/Nm³'),
  congm3: fixedUnit('g/m³'),
  congNm3: fixedUnit('g/Nm³'),
  conmgdL: fixedUnit('mg/dL'),
  conmmolL: fixedUnit('mmol/L'),
  // Currency
  currencyUSD: currency('$'),
  currencyGBP: currency('£'),
  currencyEUR: currency('€'),
  currencyJPY: currency('¥'),
  currencyRUB: currency('₽'),
  currencyUAH: currency('₴'),
  currencyBRL: currency('R$'),
  currencyDKK: currency('kr', true),
  currencyISK: currency('kr', true),
  currencyNOK: currency('kr', true),
  currencySEK: currency('kr', true),
  currencyCZK: currency('czk'),
  currencyCHF: currency('CHF'),
  currencyPLN: currency('PLN'),
  currencyBTC: currency('฿'),
  currencymBTC: currency('mBTC'),
  'currencyμBTC': currency('μBTC'),
  currencyZAR: currency('R'),
  currencyINR: currency('₹'),
  currencyKRW: currency('₩'),
  currencyIDR: currency('Rp'),
  currencyPHP: currency('PHP'),
  currencyVND: currency('đ'),
  // Data (IEC)
  bits: binarySI('b'),
  bytes: binarySI('B'),
  kbytes: binarySI('B', 1),
  mbytes: binarySI('B', 2),
  gbytes: binarySI('B', 3),
  tbytes: binarySI('B', 4),
  pbytes: binarySI('B', 5),
  // Data (metric)
  decbits: decimalSI('b'),
  decbytes: decimalSI('B'),
  deckbytes: decimalSI('B', 1),
  decmbytes: decimalSI('B', 2),
  decgbytes: decimalSI('B', 3),
  dectbytes: decimalSI('B', 4),
  decpbytes: decimalSI('B', 5),
  // Data rate
  pps: decimalSI('pps'),
  bps: decimalSI('bps'),
  Bps: decimalSI('B/s'),
  KBs: decimalSI('B/s', 1),
  Kbits: decimalSI('bps', 1),
  MBs: decimalSI('B/s', 2),
  Mbits: decimalSI('bps', 2),
  GBs: decimalSI('B/s', 3),
  Gbits: decimalSI('bps', 3),
  TBs: decimalSI('B/s', 4),
  Tbits: decimalSI('bps', 4),
  PBs: decimalSI('B/s', 5),
  Pbits: decimalSI('bps', 5),
  // IEC data rates (older Grafana ids, still found in community dashboards)
  binBps: binarySI('B/s'),
  binbps: binarySI('b/s'),
  KiBs: binarySI('B/s', 1),
  Kibits: binarySI('b/s', 1),
  MiBs: binarySI('B/s', 2),
  Mibits: binarySI('b/s', 2),
  GiBs: binarySI('B/s', 3),
  Gibits: binarySI('b/s', 3),
  TiBs: binarySI('B/s', 4),
  Tibits: binarySI('b/s', 4),
  PiBs: binarySI('B/s', 5),
  Pibits: binarySI('b/s', 5),
  // Date & time
  dateTimeAsIso: dateTimeIso(false),
  dateTimeAsIsoNoDateIfToday: dateTimeIso(true),
  dateTimeAsUS: dateTimeUS(false),
  dateTimeAsUSNoDateIfToday: dateTimeUS(true),
  dateTimeAsLocal: dateTimeIso(false),
  dateTimeAsLocalNoDateIfToday: dateTimeIso(true),
  dateTimeAsSystem: dateTimeIso(false),
  dateTimeFromNow: fromNow,
  // Energy
  watt: decimalSI('W'),
  kwatt: decimalSI('W', 1),
  megwatt: decimalSI('W', 2),
  gwatt: decimalSI('W', 3),
  mwatt: decimalSI('W', -1),
  Wm2: fixedUnit('W/m²'),
  voltamp: decimalSI('VA'),
  kvoltamp: decimalSI('VA', 1),
  voltampreact: decimalSI('VAr'),
  kvoltampreact: decimalSI('VAr', 1),
  watth: decimalSI('Wh'),
  watthperkg: decimalSI('Wh/kg'),
  kwatth: decimalSI('Wh', 1),
  kwattm: decimalSI('W-Min', 1),
  amph: decimalSI('Ah'),
  kamph: decimalSI('Ah', 1),
  mamph: decimalSI('Ah', -1),
  joule: decimalSI('J'),
  ev: decimalSI('eV'),
  amp: decimalSI('A'),
  kamp: decimalSI('A', 1),
  mamp: decimalSI('A', -1),
  volt: decimalSI('V'),
  kvolt: decimalSI('V', 1),
  mvolt: decimalSI('V', -1),
  dBm: decimalSI('dBm'),
  ohm: decimalSI('Ω'),
  kohm: decimalSI('Ω', 1),
  Mohm: decimalSI('Ω', 2),
  farad: decimalSI('F'),
  µfarad: decimalSI('F', -2),
  nfarad: decimalSI('F', -3),
  pfarad: decimalSI('F', -4),
  ffarad: decimalSI('F', -5),
  henry: decimalSI('H'),
  mhenry: decimalSI('H', -1),
  µhenry: decimalSI('H', -2),
  lumens: decimalSI('Lm'),
  // Flow, force, hash rate
  flowgpm: fixedUnit('gpm'),
  flowcms: fixedUnit('cms'),
  flowcfs: fixedUnit('cfs'),
  flowcfm: fixedUnit('cfm'),
  litreh: fixedUnit('L/h'),
  flowlpm: fixedUnit('L/min'),
  flowmlpm: fixedUnit('mL/min'),
  lux: fixedUnit('lux'),
  forceNm: decimalSI('Nm'),
  forcekNm: decimalSI('Nm', 1),
  forceN: decimalSI('N'),
  forcekN: decimalSI('N', 1),
  Hs: decimalSI('H/s'),
  KHs: decimalSI('H/s', 1),
  MHs: decimalSI('H/s', 2),
  GHs: decimalSI('H/s', 3),
  THs: decimalSI('H/s', 4),
  PHs: decimalSI('H/s', 5),
  EHs: decimalSI('H/s', 6),
  // Mass, length
  massmg: decimalSI('g', -1),
  massg: decimalSI('g'),
  masskg: decimalSI('g', 1),
  masst: fixedUnit('t'),
  lengthmm: decimalSI('m', -1),
  lengthft: fixedUnit('ft'),
  lengthm: decimalSI('m'),
  lengthkm: decimalSI('m', 1),
  lengthmi: fixedUnit('mi'),
  // Pressure
  pressurembar: decimalSI('bar', -1),
  pressurebar: decimalSI('bar'),
  pressurekbar: decimalSI('bar', 1),
  pressurepa: decimalSI('Pa'),
  pressurehpa: fixedUnit('hPa'),
  pressurekpa: fixedUnit('kPa'),
  pressurehg: fixedUnit('"Hg'),
  pressurepsi: scaledUnits(1000, [' psi', ' ksi', ' Mpsi']),
  // Radiation
  radbq: decimalSI('Bq'),
  radci: decimalSI('Ci'),
  radgy: decimalSI('Gy'),
  radrad: decimalSI('rad'),
  radsv: decimalSI('Sv'),
  radmsv: decimalSI('Sv', -1),
  radusv: decimalSI('Sv', -2),
  radrem: decimalSI('rem'),
  radexpckg: decimalSI('C/kg'),
  radr: decimalSI('R'),
  radsvh: decimalSI('Sv/h'),
  radmsvh: decimalSI('Sv/h', -1),
  radusvh: decimalSI('Sv/h', -2),
  // Rotation
  rotrpm: fixedUnit('rpm'),
  rothz: decimalSI('Hz'),
  rotrads: fixedUnit('rad/s'),
  rotdegs: fixedUnit('°/s'),
  // Temperature
  celsius: fixedUnit('°C'),
  fahrenheit: fixedUnit('°F'),
  kelvin: fixedUnit('K'),
  // Time
  hertz: decimalSI('Hz'),
  ns: toNanoSeconds,
  µs: toMicroSeconds,
  us: toMicroSeconds,
  ms: toMilliSeconds,
  s: toSeconds,
  m: toMinutes,
  h: toHours,
  d: toDays,
  dtdurationms: duration(1, 'millisecond'),
  dtdurations: duration(1000, 'second'),
  dthms: hms(false),
  dtdhms: hms(true),
  timeticks: (v, d) => toSeconds(v / 100, d),
  clockms: clock(1),
  clocks: clock(1000),
  // Throughput
  cps: countUnit('c/s'),
  ops: countUnit('ops/s'),
  reqps: countUnit('req/s'),
  rps: countUnit('rd/s'),
  wps: countUnit('wr/s'),
  iops: countUnit('io/s'),
  eps: countUnit('evt/s'),
  mps: countUnit('msg/s'),
  recps: countUnit('rec/s'),
  rowsps: countUnit('rows/s'),
  cpm: countUnit('c/m'),
  opm: countUnit('ops/m'),
  rpm: countUnit('rd/m'),
  wpm: countUnit('wr/m'),
  epm: countUnit('evt/m'),
  mpm: countUnit('msg/m'),
  recpm: countUnit('rec/m'),
  rowspm: countUnit('rows/m'),
  // Velocity, volume
  velocityms: fixedUnit('m/s'),
  velocitykmh: fixedUnit('km/h'),
  velocitymph: fixedUnit('mph'),
  velocityknot: fixedUnit('kn'),
  mlitre: decimalSI('L', -1),
  litre: decimalSI('L'),
  m3: fixedUnit('m³'),
  Nm3: fixedUnit('Nm³'),
  dm3: fixedUnit('dm³'),
  gallons: fixedUnit('gal'),
  // Boolean
  bool: bool('True', 'False'),
  bool_yes_no: bool('Yes', 'No'),
  bool_on_off: bool('On', 'Off'),
};

/** Older/alternative ids seen in exported dashboards. */
const ALIASES: Record<string, string> = {
  percent_unit: 'percentunit',
  Percent: 'percent',
  seconds: 's',
  milliseconds: 'ms',
  microseconds: 'µs',
  nanoseconds: 'ns',
  minutes: 'm',
  hours: 'h',
  days: 'd',
  decimal: 'none',
  'short-number': 'short',
  kbits: 'Kbits',
  mbits: 'Mbits',
  gbits: 'Gbits',
  kBs: 'KBs',
  KBytes: 'kbytes',
  Celsius: 'celsius',
  temp_celsius: 'celsius',
};

/** True when pharos knows the unit id (custom `prefix:`/`suffix:`… units count as known). */
export function isKnownUnit(id: string): boolean {
  return id in UNITS || id in ALIASES || /^(prefix|suffix|si|count|currency|time|bool):/.test(id);
}

/** The formatter for a unit id; an unknown id is shown as a suffix, as Grafana does. */
export function getValueFormat(id?: string | null): ValueFormatter {
  if (!id) return UNITS.none;
  const known = UNITS[id] ?? UNITS[ALIASES[id] ?? ''];
  if (known) return known;
  const colon = id.indexOf(':');
  if (colon > 0) {
    const key = id.slice(0, colon);
    const sub = id.slice(colon + 1);
    switch (key) {
      case 'prefix':
        return fixedUnit(sub, true);
      case 'suffix':
        return fixedUnit(sub, false);
      case 'time':
        return dateTimePattern(sub);
      case 'si':
        return siCustom(sub);
      case 'count':
        return countUnit(sub);
      case 'currency':
        return currency(sub);
      case 'bool': {
        const slash = sub.indexOf('/');
        return slash >= 0 ? bool(sub.slice(0, slash), sub.slice(slash + 1)) : bool(sub, '-');
      }
    }
  }
  return fixedUnit(id);
}
