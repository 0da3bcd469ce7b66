/**
 * Time ranges as Grafana writes them (`now-6h`, `now/d`, `now-1d/d`, epoch ms, ISO dates),
 * Prometheus durations (`5m`, `1h30m`), and Grafana's interval arithmetic (`$__interval` from
 * the range and the panel's width, rounded the way Grafana rounds it).
 */

export interface RawTimeRange {
  from: string;
  to: string;
}
export interface TimeRange {
  from: number; // ms
  to: number; // ms
  raw: RawTimeRange;
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  M: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Parses a Prometheus/Grafana duration (`15s`, `1h30m`, `500ms`, `2d`); undefined when invalid. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (!t) return undefined;
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed += m[0].length;
  }
  return consumed === t.length ? total : undefined;
}

/** Formats ms as a compact Prometheus duration (`1h30m`, `15s`, `250ms`). */
export function formatDuration(ms: number): string {
  if (ms <= 0 || !Number.isFinite(ms)) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const units: [string, number][] = [
    ['y', UNIT_MS.y],
    ['w', UNIT_MS.w],
    ['d', UNIT_MS.d],
    ['h', UNIT_MS.h],
    ['m', UNIT_MS.m],
    ['s', UNIT_MS.s],
    ['ms', 1],
  ];
  let rest = Math.round(ms);
  let out = '';
  for (const [u, size] of units) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out;
}

/**
 * Resolves one end of a range. `roundUp` applies to `/unit` rounding on the `to` side
 * (`now/d` as `to` means the end of today, as in Grafana).
 */
export function parseTime(text: string, roundUp = false, now = Date.now(), tz: TimeZone = 'browser'): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    // Grafana URLs carry epoch ms; accept epoch seconds too.
    return n < 1e11 ? n * 1000 : n;
  }
  if (t.startsWith('now')) {
    let rest = t.slice(3);
    let d = new Date(now);
    while (rest.length) {
      const m = rest.match(/^([+-])(\d+)(ms|s|m|h|d|w|M|y)/) ?? rest.match(/^\/(s|m|h|d|w|M|y)/);
      if (!m) return undefined;
      if (m[0].startsWith('/')) d = roundTo(d, m[1], roundUp, tz);
      else d = addUnit(d, (m[1] === '-' ? -1 : 1) * Number(m[2]), m[3], tz);
      rest = rest.slice(m[0].length);
    }
    return d.getTime();
  }
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

export type TimeZone = 'browser' | 'utc';

function addUnit(d: Date, n: number, unit: string, tz: TimeZone): Date {
  const r = new Date(d.getTime());
  const utc = tz === 'utc';
  if (unit === 'M') {
    if (utc) r.setUTCMonth(r.getUTCMonth() + n);
    else r.setMonth(r.getMonth() + n);
  } else if (unit === 'y') {
    if (utc) r.setUTCFullYear(r.getUTCFullYear() + n);
    else r.setFullYear(r.getFullYear() + n);
  } else if (unit === 'd' || unit === 'w') {
    const days = unit === 'w' ? 7 * n : n;
    if (utc) r.setUTCDate(r.getUTCDate() + days);
    else r.setDate(r.getDate() + days);
  } else return new Date(d.getTime() + n * UNIT_MS[unit]);
  return r;
}

function roundTo(d: Date, unit: string, up: boolean, tz: TimeZone): Date {
  const utc = tz === 'utc';
  const get = (f: 'FullYear' | 'Month' | 'Date' | 'Day' | 'Hours' | 'Minutes' | 'Seconds') =>
    (d as unknown as Record<string, () => number>)[`get${utc ? 'UTC' : ''}${f}`].call(d);
  let y = get('FullYear'),
    mo = get('Month'),
    day = get('Date'),
    hh = get('Hours'),
    mm = get('Minutes'),
    ss = get('Seconds');
  switch (unit) {
    case 'y':
      mo = 0;
    // falls through
    case 'M':
      day = 1;
    // falls through
    case 'd':
      hh = 0;
    // falls through
    case 'h':
      mm = 0;
    // falls through
    case 'm':
      ss = 0;
      break;
    case 'w': {
      day -= get('Day');
      hh = mm = ss = 0;
      break;
    }
  }
  const make = (yy: number, m1: number, dd: number, h1: number, mi: number, s1: number) =>
    utc ? new Date(Date.UTC(yy, m1, dd, h1, mi, s1)) : new Date(yy, m1, dd, h1, mi, s1);
  const start = make(y, mo, day, hh, mm, ss);
  if (!up) return start;
  const next = addUnit(start, 1, unit === 'w' ? 'w' : unit, tz);
  return new Date(next.getTime() - 1);
}

/** Resolves a raw range; throws an Error naming the bad end. */
export function resolveRange(raw: RawTimeRange, tz: TimeZone = 'browser', now = Date.now()): TimeRange {
  const from = parseTime(raw.from, false, now, tz);
  const to = parseTime(raw.to, true, now, tz);
  if (from === undefined) throw new Error(`cannot read the start time "${raw.from}"`);
  if (to === undefined) throw new Error(`cannot read the end time "${raw.to}"`);
  if (from >= to) throw new Error('the start of the range must be before its end');
  return { from, to, raw };
}

/** Human label for a range: "Last 6 hours" for Grafana's quick ranges, else both ends. */
export function describeRange(raw: RawTimeRange, tz: TimeZone = 'browser'): string {
  const quick = QUICK_RANGES.find((q) => q.from === raw.from && q.to === raw.to);
  if (quick) return quick.label;
  const end = (s: string, up: boolean) => {
    if (s.startsWith('now')) return s;
    const ms = parseTime(s, up, Date.now(), tz);
    return ms === undefined ? s : formatDateTime(ms, tz);
  };
  return `${end(raw.from, false)} to ${end(raw.to, true)}`;
}

export const QUICK_RANGES: { from: string; to: string; label: string }[] = [
  { from: 'now-5m', to: 'now', label: 'Last 5 minutes' },
  { from: 'now-15m', to: 'now', label: 'Last 15 minutes' },
  { from: 'now-30m', to: 'now', label: 'Last 30 minutes' },
  { from: 'now-1h', to: 'now', label: 'Last 1 hour' },
  { from: 'now-3h', to: 'now', label: 'Last 3 hours' },
  { from: 'now-6h', to: 'now', label: 'Last 6 hours' },
  { from: 'now-12h', to: 'now', label: 'Last 12 hours' },
  { from: 'now-24h', to: 'now', label: 'Last 24 hours' },
  { from: 'now-2d', to: 'now', label: 'Last 2 days' },
  { from: 'now-7d', to: 'now', label: 'Last 7 days' },
  { from: 'now-30d', to: 'now', label: 'Last 30 days' },
  { from: 'now/d', to: 'now/d', label: 'Today' },
  { from: 'now-1d/d', to: 'now-1d/d', label: 'Yesterday' },
  { from: 'now/w', to: 'now/w', label: 'This week' },
];

/** `2026-12-01 07:55:11` in the chosen zone. */
export function formatDateTime(ms: number, tz: TimeZone = 'browser', withMs = false): string {
  const d = new Date(ms);
  const utc = tz === 'utc';
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const Y = utc ? d.getUTCFullYear() : d.getFullYear();
  const M = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
  const D = utc ? d.getUTCDate() : d.getDate();
  const hh = utc ? d.getUTCHours() : d.getHours();
  const mm = utc ? d.getUTCMinutes() : d.getMinutes();
  const ss = utc ? d.getUTCSeconds() : d.getSeconds();
  const base = `${Y}-${p(M)}-${p(D)} ${p(hh)}:${p(mm)}:${p(ss)}`;
  return withMs ? `${base}.${p(utc ? d.getUTCMilliseconds() : d.getMilliseconds(), 3)}` : base;
}

// Grafana's interval rounding (public/app/core/utils/kbn.ts roundInterval): maps a raw interval
// onto a friendly step.
const ROUND_STEPS: [number, number][] = [
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1500, 1000],
  [3500, 2000],
  [7500, 5000],
  [12500, 10000],
  [17500, 15000],
  [25000, 20000],
  [45000, 30000],
  [90000, 60000],
  [210000, 120000],
  [450000, 300000],
  [750000, 600000],
  [1050000, 900000],
  [1500000, 1200000],
  [2700000, 1800000],
  [5400000, 3600000],
  [9000000, 7200000],
  [16200000, 10800000],
  [32400000, 21600000],
  [86400000, 43200000],
  [604800000, 86400000],
  [1814400000, 604800000],
  [3628800000, 2592000000],
];

export function roundInterval(ms: number): number {
  for (const [limit, step] of ROUND_STEPS) if (ms < limit) return step;
  return 31536000000;
}

/**
 * `$__interval` in ms for a range drawn on `maxDataPoints` points, never below `minIntervalMs`
 * (a panel's or data source's `interval`, e.g. the scrape interval).
 */
export function calculateInterval(range: TimeRange, maxDataPoints: number, minIntervalMs = 1000): number {
  const raw = (range.to - range.from) / Math.max(1, maxDataPoints);
  return Math.max(roundInterval(raw), minIntervalMs);
}
