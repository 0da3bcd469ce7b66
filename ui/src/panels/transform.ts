/**
 * Grafana's transformations as one pipeline for every panel type: the panel's data becomes data
 * frames (each table result, each series as Time + value), `panel.transformations` run in order
 * (disabled ones skipped, unknown ids skipped with a notice), and the frames become panel data
 * again — frames of a time column plus number columns as series, anything else as tables — so a
 * time series, stat or bar chart sees transformed data exactly like a table does. The registry
 * applies it to every renderer's `update`; the table reads the frames themselves (`panelFrames`).
 */
import { columnType, REDUCER_NAMES, reduceValues, reducerId, toNumber, toRegExp, type FieldType } from '../lib/fieldconfig';
import type { GrafanaPanel, PanelData, Series, TableData } from './types';

/** A frame column: its name, type and values (row-aligned), plus labels it came from. */
export interface Column {
  name: string;
  type: FieldType;
  values: unknown[];
  labels?: Record<string, string>;
  refId?: string;
}

/** One table (Grafana's data frame) with a name for the frame picker. */
export interface Frame {
  name: string;
  refId: string;
  columns: Column[];
}

export interface Transformation {
  id: string;
  options?: Record<string, unknown>;
  disabled?: boolean;
}

type Opts = Record<string, unknown>;

export function frameLength(f: Frame): number {
  return f.columns.reduce((m, c) => Math.max(m, c.values.length), 0);
}

/** Epoch seconds or milliseconds (or a date string) as milliseconds. */
export function timeToMs(v: unknown): number {
  if (typeof v === 'string' && !/^-?\d+(\.\d+)?$/.test(v.trim())) {
    const p = Date.parse(v);
    return Number.isFinite(p) ? p : NaN;
  }
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return NaN;
  return Math.abs(n) < 1e11 ? n * 1000 : n;
}

/** The panel's data as frames: each table result, each series (Time + value). */
export function framesOf(data: PanelData): Frame[] {
  const frames: Frame[] = [];
  for (const t of data.tables) {
    frames.push({
      name: t.refId,
      refId: t.refId,
      columns: t.columns.map((c, ci) => {
        const values = t.rows.map((r) => r[ci]);
        const type = c.type === 'time' || /^time$/i.test(c.name) ? 'time' : columnType(c.type, values);
        return { name: c.name, type, values: type === 'number' ? values.map(toNumber) : values, refId: t.refId };
      }),
    });
  }
  for (const s of data.series) {
    frames.push({
      name: s.name,
      refId: s.refId,
      columns: [
        { name: 'Time', type: 'time', values: s.times },
        { name: s.name || 'Value', type: 'number', values: s.values, labels: s.labels, refId: s.refId },
      ],
    });
  }
  return frames;
}

/** The transformations that run: objects with an id, not `disabled`. */
export function activeTransformations(panel: GrafanaPanel): Transformation[] {
  const list = panel.transformations;
  if (!Array.isArray(list)) return [];
  return (list as unknown[]).filter((t): t is Transformation => !!t && typeof t === 'object' && typeof (t as Transformation).id === 'string' && !(t as Transformation).disabled);
}

// ---- helpers --------------------------------------------------------------------------------

function isNil(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

/** Frame with rows `idx` of every column. */
function pickRows(f: Frame, idx: number[]): Frame {
  return { ...f, columns: f.columns.map((c) => ({ ...c, values: idx.map((i) => c.values[i]) })) };
}

function compareValues(a: unknown, b: unknown): number {
  if (isNil(a)) return isNil(b) ? 0 : 1;
  if (isNil(b)) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function uniqueName(name: string, taken: Set<string>): string {
  if (!taken.has(name)) return name;
  for (let i = 2; ; i++) if (!taken.has(`${name} ${i}`)) return `${name} ${i}`;
}

function names(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : typeof v === 'string' && v ? [v] : [];
}

// ---- merge / join ---------------------------------------------------------------------------

/** Grafana's `merge`: one table; rows that agree on every shared non-number column become one row. */
function merge(frames: Frame[]): Frame[] {
  if (frames.length < 2) return frames;
  const colNames: string[] = [];
  const types = new Map<string, FieldType>();
  for (const f of frames)
    for (const c of f.columns) {
      if (!types.has(c.name)) {
        colNames.push(c.name);
        types.set(c.name, c.type);
      }
    }
  const shared = colNames.filter((n) => types.get(n) !== 'number' && frames.every((f) => f.columns.some((c) => c.name === n)));
  const rows = new Map<string, Record<string, unknown>>();
  for (const f of frames) {
    const len = frameLength(f);
    for (let i = 0; i < len; i++) {
      const key = shared.map((n) => String(f.columns.find((c) => c.name === n)?.values[i] ?? '')).join('\u0000');
      const k = shared.length ? key : `${f.refId}\u0000${i}`;
      const row = rows.get(k) ?? {};
      for (const c of f.columns) if (isNil(row[c.name])) row[c.name] = c.values[i];
      rows.set(k, row);
    }
  }
  const all = [...rows.values()];
  return [{ name: 'merged', refId: frames[0].refId, columns: colNames.map((n) => ({ name: n, type: types.get(n)!, values: all.map((r) => r[n] ?? null) })) }];
}

/** `seriesToColumns` / `joinByField`: outer (or inner) join on a field, Time by default. */
function joinByField(frames: Frame[], field?: string, mode = 'outer'): Frame[] {
  if (frames.length < 2) return frames;
  const by = field || frames[0].columns.find((c) => c.type === 'time')?.name || 'Time';
  const keyed = new Map<string, Record<string, unknown>>();
  const seen = new Map<string, number>();
  const colNames: string[] = [by];
  const cols = new Map<string, Column>([[by, { name: by, type: frames[0].columns.find((c) => c.name === by)?.type ?? 'time', values: [] }]]);
  let joined = 0;
  for (const f of frames) {
    const keyCol = f.columns.find((c) => c.name === by);
    if (!keyCol) continue;
    joined++;
    const keysHere = new Set<string>();
    for (const c of f.columns) {
      if (c === keyCol) continue;
      let name = c.name;
      if (cols.has(name)) name = uniqueName(`${c.name} ${f.refId}`, new Set(cols.keys()));
      colNames.push(name);
      cols.set(name, { ...c, name, values: [] });
      keyCol.values.forEach((kv, i) => {
        const k = String(kv);
        keysHere.add(k);
        const row = keyed.get(k) ?? { [by]: kv };
        row[name] = c.values[i];
        keyed.set(k, row);
      });
    }
    keyCol.values.forEach((kv) => keysHere.add(String(kv)));
    for (const k of keysHere) {
      seen.set(k, (seen.get(k) ?? 0) + 1);
      if (!keyed.has(k)) keyed.set(k, { [by]: keyCol.values[keyCol.values.findIndex((v) => String(v) === k)] });
    }
  }
  let rows = [...keyed.entries()];
  if (mode === 'inner') rows = rows.filter(([k]) => seen.get(k) === joined);
  const sorted = rows.map(([, r]) => r).sort((a, b) => compareValues(a[by], b[by]));
  return [
    {
      name: 'joined',
      refId: frames[0].refId,
      columns: colNames.map((n) => ({ ...cols.get(n)!, values: sorted.map((r) => (n in r ? r[n] : null)) })),
    },
  ];
}

/** Grafana's ensureColumns: several frames with time columns become one frame joined on time. */
function ensureColumns(frames: Frame[]): Frame[] {
  if (frames.length < 2 || !frames.every((f) => f.columns.some((c) => c.type === 'time'))) return frames;
  const timeName = frames[0].columns.find((c) => c.type === 'time')!.name;
  const renamed = frames.map((f) => ({ ...f, columns: f.columns.map((c) => (c.type === 'time' ? { ...c, name: timeName } : c)) }));
  return joinByField(renamed, timeName);
}

// ---- calculateField -------------------------------------------------------------------------

type BinaryValue = { fixed?: string | number; matcher?: { id?: string; options?: string } } | string | number;

function binaryOperand(v: BinaryValue | undefined, f: Frame, interpolate: (s: string) => string): unknown[] | null {
  if (v === undefined || v === null || v === '') return null;
  const len = frameLength(f);
  const byName = (n: string) => f.columns.find((c) => c.name === n && (c.type === 'number' || c.type === 'boolean'));
  if (typeof v === 'string' || typeof v === 'number') {
    const col = byName(interpolate(String(v)));
    if (col) return col.values;
    const n = Number(interpolate(String(v)));
    return Number.isFinite(n) ? new Array(len).fill(n) : null;
  }
  if (v.matcher?.options !== undefined) {
    const col = byName(interpolate(String(v.matcher.options)));
    if (col) return col.values;
  }
  const n = Number(interpolate(String(v.fixed ?? v.matcher?.options ?? '')));
  return Number.isFinite(n) && String(v.fixed ?? v.matcher?.options ?? '').trim() !== '' ? new Array(len).fill(n) : null;
}

const BINARY: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '^': (a, b) => a ** b,
};

const UNARY: Record<string, (a: number) => number> = {
  abs: Math.abs,
  exp: Math.exp,
  ln: Math.log,
  floor: Math.floor,
  ceil: Math.ceil,
};

function operandText(v: BinaryValue | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'object') return String(v);
  return String(v.matcher?.options ?? v.fixed ?? '');
}

function calcName(o: Opts): string {
  if (typeof o.alias === 'string' && o.alias) return o.alias;
  const mode = String(o.mode ?? 'reduceRow');
  if (mode === 'binary') {
    const b = (o.binary ?? {}) as { left?: BinaryValue; operator?: string; right?: BinaryValue };
    return `${operandText(b.left)} ${b.operator ?? '+'} ${operandText(b.right)}`.replace(/\$/g, '');
  }
  if (mode === 'unary') {
    const u = (o.unary ?? {}) as { operator?: string; fieldName?: string };
    return `${u.operator ?? 'abs'}${u.fieldName ? `(${u.fieldName})` : ''}`;
  }
  if (mode === 'index') return 'Row';
  if (mode === 'cumulativeFunctions') {
    const c = (o.cumulative ?? {}) as { reducer?: string; field?: string };
    return `cumulative ${c.reducer ?? 'sum'}${c.field ? `(${c.field})` : ''}`;
  }
  if (mode === 'windowFunctions') {
    const w = (o.window ?? {}) as { reducer?: string; field?: string; windowAlignment?: string };
    return `${w.windowAlignment ?? 'trailing'} moving ${w.reducer ?? 'mean'}${w.field ? `(${w.field})` : ''}`;
  }
  const r = String(((o.reduce ?? {}) as { reducer?: string }).reducer ?? 'sum');
  return REDUCER_NAMES[reducerId(r)] ?? r;
}

/** The values of the calculated column for one frame, or null when the frame has no inputs. */
function calcValues(f: Frame, o: Opts, interpolate: (s: string) => string): unknown[] | null {
  const mode = String(o.mode ?? 'reduceRow');
  const len = frameLength(f);
  const firstNumber = (field?: string) => f.columns.find((c) => (field ? c.name === field : c.type === 'number') && c.type === 'number');
  switch (mode) {
    case 'reduceRow': {
      const r = (o.reduce ?? {}) as { reducer?: string; include?: string[]; nullValueMode?: string };
      const include = names(r.include);
      const cols = f.columns.filter((c) => (include.length ? include.includes(c.name) : c.type === 'number'));
      if (!cols.length) return null;
      const reducer = r.reducer ?? 'sum';
      const nullAsZero = r.nullValueMode === 'null as zero' || r.nullValueMode === 'asZero';
      return Array.from({ length: len }, (_, i) => reduceValues(cols.map((c) => (isNil(c.values[i]) && nullAsZero ? 0 : c.values[i])), reducer));
    }
    case 'binary': {
      const b = (o.binary ?? {}) as { left?: BinaryValue; operator?: string; right?: BinaryValue };
      const left = binaryOperand(b.left, f, interpolate);
      const right = binaryOperand(b.right, f, interpolate);
      const op = BINARY[b.operator ?? '+'];
      if (!left || !right || !op) return null;
      return left.map((l, i) => {
        const a = toNumber(l);
        const c = toNumber(right[i]);
        return a === null || c === null ? null : op(a, c);
      });
    }
    case 'unary': {
      const u = (o.unary ?? {}) as { operator?: string; fieldName?: string };
      const col = f.columns.find((c) => c.name === u.fieldName && c.type === 'number');
      const op = UNARY[u.operator ?? 'abs'];
      if (!col || !op) return null;
      return col.values.map((v) => (isNil(v) ? null : op(Number(v))));
    }
    case 'index': {
      const pct = !!((o.index ?? {}) as { asPercentile?: boolean }).asPercentile;
      return Array.from({ length: len }, (_, i) => (pct ? i / len : i));
    }
    case 'cumulativeFunctions': {
      const c = (o.cumulative ?? {}) as { reducer?: string; field?: string };
      const col = firstNumber(c.field);
      if (!col) return null;
      let total = 0;
      return col.values.map((v, i) => {
        total += toNumber(v) ?? 0;
        return c.reducer === 'mean' ? total / (i + 1) : total;
      });
    }
    case 'windowFunctions': {
      const w = (o.window ?? {}) as { reducer?: string; field?: string; windowSize?: number; windowSizeMode?: string; windowAlignment?: string };
      const col = firstNumber(w.field);
      if (!col) return null;
      const size = Math.max(1, Math.ceil((w.windowSize ?? 0.1) * (w.windowSizeMode === 'fixed' ? 1 : len)));
      const centered = w.windowAlignment === 'centered';
      const reducer = w.reducer === 'stdDev' || w.reducer === 'variance' ? w.reducer : 'mean';
      return col.values.map((_, i) => {
        const from = centered ? i - Math.floor(size / 2) : i - size + 1;
        const to = centered ? i + Math.ceil(size / 2) - 1 : i;
        return reduceValues(col.values.slice(Math.max(0, from), Math.min(len, to + 1)), reducer) ?? 0;
      });
    }
  }
  return null;
}

function calculateField(frames: Frame[], o: Opts, interpolate: (s: string) => string): Frame[] {
  const mode = String(o.mode ?? 'reduceRow');
  const b = (o.binary ?? {}) as { right?: BinaryValue };
  const rightFixed = mode === 'binary' && (typeof b.right === 'number' || (typeof b.right === 'object' && b.right?.fixed !== undefined) || (typeof b.right === 'string' && Number.isFinite(Number(b.right))));
  const input = o.timeSeries !== false && !rightFixed && mode !== 'index' ? ensureColumns(frames) : frames;
  const name = interpolate(calcName(o));
  const out: Frame[] = [];
  for (const f of input) {
    const values = calcValues(f, o, interpolate);
    if (!values) {
      if (!o.replaceFields) out.push(f);
      continue;
    }
    const col: Column = { name, type: 'number', values, refId: f.refId };
    const time = f.columns.find((c) => c.type === 'time');
    const columns = o.replaceFields ? (time && o.timeSeries !== false ? [time, col] : [col]) : [...f.columns, col];
    out.push({ ...f, columns });
  }
  return out;
}

// ---- fields ---------------------------------------------------------------------------------

function organize(frames: Frame[], o: Opts): Frame[] {
  const exclude = (o.excludeByName ?? {}) as Record<string, boolean>;
  const include = (o.includeByName ?? {}) as Record<string, boolean>;
  const index = (o.indexByName ?? {}) as Record<string, number>;
  const rename = (o.renameByName ?? {}) as Record<string, string>;
  const onlyIncluded = Object.values(include).some(Boolean);
  return frames.map((f) => {
    const cols = f.columns.filter((c) => !exclude[c.name] && (!onlyIncluded || include[c.name]));
    const pos = (c: Column) => (typeof index[c.name] === 'number' ? index[c.name] : 1e6 + f.columns.indexOf(c));
    cols.sort((a, b) => pos(a) - pos(b));
    return { ...f, columns: cols.map((c) => (rename[c.name] ? { ...c, name: rename[c.name] } : c)) };
  });
}

function filterFieldsByName(frames: Frame[], o: Opts, interpolate: (s: string) => string): Frame[] {
  const inc = (o.include ?? {}) as { names?: string[]; pattern?: string; variable?: string };
  const exc = (o.exclude ?? {}) as { names?: string[]; pattern?: string; variable?: string };
  const byVar = (m: { variable?: string }) => (o.byVariable && m.variable ? interpolate(m.variable).replace(/^\{|\}$/g, '').split(',') : null);
  const incNames = byVar(inc) ?? inc.names ?? [];
  const excNames = byVar(exc) ?? exc.names ?? [];
  const incRe = inc.pattern ? toRegExp(interpolate(inc.pattern)) : null;
  const excRe = exc.pattern ? toRegExp(interpolate(exc.pattern)) : null;
  const hasInclude = incNames.length > 0 || !!incRe;
  return frames
    .map((f) => ({
      ...f,
      columns: f.columns.filter((c) => {
        if (excNames.includes(c.name) || excRe?.test(c.name)) return false;
        if (hasInclude && !(incNames.includes(c.name) || incRe?.test(c.name))) return false;
        return true;
      }),
    }))
    .filter((f) => f.columns.length > 0);
}

function renameByRegex(frames: Frame[], o: Opts): Frame[] {
  const re = typeof o.regex === 'string' && o.regex ? toRegExp(o.regex) : null;
  if (!re) return frames;
  const pattern = String(o.renamePattern ?? '');
  return frames.map((f) => ({
    ...f,
    name: f.name,
    columns: f.columns.map((c) => (re.test(c.name) ? { ...c, name: c.name.replace(re, pattern) } : c)),
  }));
}

/** `labelsToFields`: the series' labels become string columns (mode `rows`: a Label/Value table). */
function labelsToFields(frames: Frame[], o: Opts): Frame[] {
  const keep = Array.isArray(o.keepLabels) && o.keepLabels.length ? (o.keepLabels as string[]) : null;
  if (o.mode === 'rows') {
    return frames.flatMap((f) => {
      const labels = f.columns.find((c) => c.labels && Object.keys(c.labels).length)?.labels ?? {};
      const entries = Object.entries(labels).filter(([k]) => k !== '__name__' && (!keep || keep.includes(k)));
      if (!entries.length) return [f];
      return [
        {
          ...f,
          columns: [
            { name: 'label', type: 'string' as const, values: entries.map((e) => e[0]) },
            { name: 'value', type: 'string' as const, values: entries.map((e) => e[1]) },
          ],
        },
      ];
    });
  }
  return frames.map((f) => {
    const cols: Column[] = [];
    const len = frameLength(f);
    for (const c of f.columns) {
      if (c.type === 'number' && c.labels && Object.keys(c.labels).length) {
        for (const [k, v] of Object.entries(c.labels)) {
          if (k === '__name__' || (keep && !keep.includes(k)) || cols.some((x) => x.name === k)) continue;
          cols.push({ name: k, type: 'string', values: new Array(len).fill(v) });
        }
        const valueName = typeof o.valueLabel === 'string' && c.labels[o.valueLabel] ? c.labels[o.valueLabel] : 'Value';
        cols.push({ ...c, name: valueName, labels: {} });
      } else cols.unshift(c);
    }
    return { ...f, columns: cols };
  });
}

function convertFieldType(frames: Frame[], o: Opts): Frame[] {
  const conversions = (Array.isArray(o.conversions) ? o.conversions : []) as { targetField?: string; destinationType?: string }[];
  if (!conversions.length) return frames;
  const convert = (c: Column, to: string): Column => {
    switch (to) {
      case 'number':
        return { ...c, type: 'number', values: c.values.map((v) => (c.type === 'time' ? timeToMs(v) : toNumber(v))) };
      case 'string':
        return {
          ...c,
          type: 'string',
          values: c.values.map((v) => {
            if (isNil(v)) return null;
            if (c.type === 'time') {
              const ms = timeToMs(v);
              return Number.isFinite(ms) ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '') : String(v);
            }
            return typeof v === 'object' ? JSON.stringify(v) : String(v);
          }),
        };
      case 'time':
        return { ...c, type: 'time', values: c.values.map((v) => (isNil(v) ? null : timeToMs(v))) };
      case 'boolean':
        return { ...c, type: 'boolean', values: c.values.map((v) => (isNil(v) ? null : v === true || v === 'true' || (typeof v === 'number' && v !== 0) || v === '1')) };
      default:
        return c;
    }
  };
  return frames.map((f) => ({
    ...f,
    columns: f.columns.map((c) => {
      const conv = conversions.find((x) => x.targetField === c.name);
      return conv?.destinationType ? convert(c, conv.destinationType) : c;
    }),
  }));
}

// ---- rows -----------------------------------------------------------------------------------

/** `reduce`: one row per number field with a column per reducer (or `reduceFields`: one value per field). */
function reduceTransform(frames: Frame[], o: Opts): Frame[] {
  const reducers = (Array.isArray(o.reducers) && o.reducers.length ? o.reducers : ['max']).map(String);
  if (o.mode === 'reduceFields') {
    return frames.map((f) => ({
      ...f,
      columns: f.columns
        .filter((c) => c.type !== 'time' || o.includeTimeField)
        .map((c) => (c.type === 'number' ? { ...c, values: [reduceValues(c.values, reducers[0])] } : { ...c, values: c.values.slice(-1) })),
    }));
  }
  const cols: Record<string, unknown[]> = {};
  const colNames: string[] = ['Field'];
  const labelNames = new Set<string>();
  const fields: Column[] = [];
  for (const f of frames) for (const c of f.columns) if (c.type === 'number' || (o.includeTimeField && c.type === 'time')) fields.push(c);
  if (o.labelsToFields) for (const c of fields) for (const k of Object.keys(c.labels ?? {})) if (k !== '__name__') labelNames.add(k);
  cols.Field = fields.map((c) => c.name);
  for (const l of labelNames) {
    colNames.push(l);
    cols[l] = fields.map((c) => c.labels?.[l] ?? '');
  }
  for (const r of reducers) {
    const title = REDUCER_NAMES[reducerId(r)] ?? r;
    colNames.push(title);
    cols[title] = fields.map((c) => reduceValues(c.values, r));
  }
  return [
    {
      name: 'reduced',
      refId: frames[0]?.refId ?? 'A',
      columns: colNames.map((n) => ({ name: n, type: n === 'Field' || labelNames.has(n) ? 'string' : 'number', values: cols[n] })),
    },
  ];
}

/** `seriesToRows`: Time, Metric, Value for every point of every series, newest first. */
function seriesToRows(frames: Frame[]): Frame[] {
  if (frames.length < 2) return frames;
  const rows: [number, string, unknown][] = [];
  for (const f of frames) {
    const t = f.columns.find((c) => c.type === 'time');
    for (const c of f.columns) {
      if (c.type !== 'number') continue;
      c.values.forEach((v, i) => rows.push([timeToMs(t?.values[i] ?? 0), c.name, v]));
    }
  }
  rows.sort((a, b) => b[0] - a[0]);
  return [
    {
      name: 'rows',
      refId: frames[0]?.refId ?? 'A',
      columns: [
        { name: 'Time', type: 'time', values: rows.map((r) => r[0]) },
        { name: 'Metric', type: 'string', values: rows.map((r) => r[1]) },
        { name: 'Value', type: 'number', values: rows.map((r) => r[2]) },
      ],
    },
  ];
}

function sortFrames(frames: Frame[], o: Opts): Frame[] {
  const s = (Array.isArray(o.sort) ? o.sort[0] : undefined) as { field?: string; desc?: boolean } | undefined;
  if (!s?.field) return frames;
  return frames.map((f) => {
    const col = f.columns.find((c) => c.name === s.field);
    if (!col) return f;
    // Empty values stay last in both directions.
    const order = col.values
      .map((_, i) => i)
      .sort((a, b) => {
        const va = col.values[a];
        const vb = col.values[b];
        if (isNil(va) || isNil(vb)) return compareValues(va, vb);
        return compareValues(va, vb) * (s.desc ? -1 : 1);
      });
    return pickRows(f, order);
  });
}

type ValueMatcher = { id?: string; options?: { value?: unknown; from?: unknown; to?: unknown } };

function valueMatches(v: unknown, m: ValueMatcher): boolean {
  const o = m.options ?? {};
  const num = toNumber(v);
  const ref = toNumber(o.value);
  switch (m.id) {
    case 'isNull':
      return isNil(v);
    case 'isNotNull':
      return !isNil(v);
    case 'greater':
      return num !== null && ref !== null && num > ref;
    case 'greaterOrEqual':
      return num !== null && ref !== null && num >= ref;
    case 'lower':
      return num !== null && ref !== null && num < ref;
    case 'lowerOrEqual':
      return num !== null && ref !== null && num <= ref;
    case 'equal':
      return num !== null && ref !== null ? num === ref : String(v ?? '') === String(o.value ?? '');
    case 'notEqual':
      return num !== null && ref !== null ? num !== ref : String(v ?? '') !== String(o.value ?? '');
    case 'range': {
      const from = toNumber(o.from);
      const to = toNumber(o.to);
      return num !== null && (from === null || num >= from) && (to === null || num <= to);
    }
    case 'regex': {
      const re = toRegExp(String(o.value ?? ''));
      return !!re && !isNil(v) && re.test(String(v));
    }
    case 'substring':
      return !isNil(v) && String(v).includes(String(o.value ?? ''));
    case 'notSubstring':
      return isNil(v) || !String(v).includes(String(o.value ?? ''));
  }
  return false;
}

function filterByValue(frames: Frame[], o: Opts): Frame[] {
  const filters = (Array.isArray(o.filters) ? o.filters : []) as { fieldName?: string; config?: ValueMatcher }[];
  if (!filters.length) return frames;
  const include = o.type !== 'exclude';
  const all = o.match === 'all';
  return frames.map((f) => {
    const active = filters.map((fl) => ({ col: f.columns.find((c) => c.name === fl.fieldName), m: fl.config ?? {} })).filter((x) => x.col);
    if (!active.length) return f;
    const keep: number[] = [];
    for (let i = 0; i < frameLength(f); i++) {
      const hits = active.map((x) => valueMatches(x.col!.values[i], x.m));
      const hit = all ? hits.every(Boolean) : hits.some(Boolean);
      if (hit === include) keep.push(i);
    }
    return pickRows(f, keep);
  });
}

function groupBy(frames: Frame[], o: Opts): Frame[] {
  const fields = (o.fields ?? {}) as Record<string, { operation?: string | null; aggregations?: string[] }>;
  return frames.map((f) => {
    const keys = f.columns.filter((c) => fields[c.name]?.operation === 'groupby');
    const aggs = f.columns.filter((c) => fields[c.name]?.operation === 'aggregate' && (fields[c.name].aggregations ?? []).length);
    if (!keys.length) return f;
    const groups = new Map<string, number[]>();
    for (let i = 0; i < frameLength(f); i++) {
      const k = keys.map((c) => String(c.values[i] ?? '')).join('\u0000');
      const g = groups.get(k);
      if (g) g.push(i);
      else groups.set(k, [i]);
    }
    const rows = [...groups.values()];
    const columns: Column[] = keys.map((c) => ({ ...c, labels: undefined, values: rows.map((r) => c.values[r[0]]) }));
    for (const c of aggs)
      for (const a of fields[c.name].aggregations ?? []) {
        const vals = rows.map((r) => r.map((i) => c.values[i]));
        const reduced = a === 'allValues' ? vals.map((v) => JSON.stringify(v)) : a === 'uniqueValues' ? vals.map((v) => JSON.stringify([...new Set(v)])) : vals.map((v) => (c.type === 'number' || ['count', 'distinctCount'].includes(a) ? reduceValues(v, a) : a.startsWith('first') ? v[0] : v[v.length - 1]));
        const type: FieldType = a === 'allValues' || a === 'uniqueValues' ? 'string' : c.type === 'number' || ['count', 'distinctCount'].includes(a) ? 'number' : c.type;
        columns.push({ name: `${c.name} (${a})`, type, values: reduced, refId: c.refId });
      }
    return { ...f, columns };
  });
}

function partitionByValues(frames: Frame[], o: Opts): Frame[] {
  const by = names(o.fields);
  if (!by.length) return frames;
  const naming = (o.naming ?? {}) as { asLabels?: boolean };
  const asLabels = naming.asLabels !== false;
  return frames.flatMap((f) => {
    const keyCols = by.map((n) => f.columns.find((c) => c.name === n)).filter((c): c is Column => !!c);
    if (!keyCols.length) return [f];
    const groups = new Map<string, number[]>();
    for (let i = 0; i < frameLength(f); i++) {
      const k = JSON.stringify(keyCols.map((c) => c.values[i] ?? null));
      const g = groups.get(k);
      if (g) g.push(i);
      else groups.set(k, [i]);
    }
    return [...groups.entries()].map(([k, idx]) => {
      const vals = (JSON.parse(k) as unknown[]).map((v) => String(v ?? ''));
      const labels = Object.fromEntries(keyCols.map((c, i) => [c.name, vals[i]]));
      const part = pickRows(f, idx);
      const rest = part.columns.filter((c) => o.keepFields || !keyCols.some((kc) => kc.name === c.name));
      const numbers = rest.filter((c) => c.type === 'number').length;
      const title = vals.join(' ');
      return {
        name: title,
        refId: f.refId,
        columns: rest.map((c) =>
          c.type === 'number' && asLabels
            ? { ...c, labels: { ...(c.labels ?? {}), ...labels }, name: numbers > 1 || !/^Value( #\w+)?$/.test(c.name) ? `${c.name} ${title}` : title }
            : c,
        ),
      };
    });
  });
}

function prepareTimeSeries(frames: Frame[], o: Opts): Frame[] {
  const format = String(o.format ?? 'multi');
  if (format === 'wide') return ensureColumns(frames);
  if (format === 'multi' || format === 'many') {
    return frames.flatMap((f) => {
      const time = f.columns.find((c) => c.type === 'time');
      const nums = f.columns.filter((c) => c.type === 'number');
      if (!time || nums.length < 2) return [f];
      return nums.map((c) => ({ name: c.name, refId: f.refId, columns: [time, c] }));
    });
  }
  return frames;
}

/** Grafana's histogram bucketing: `bucketSize` (else about 30 "nice" buckets), `bucketOffset`. */
export function histogramBuckets(values: number[], o: { bucketSize?: number; bucketCount?: number; bucketOffset?: number } = {}): { size: number; offset: number } {
  const offset = Number.isFinite(o.bucketOffset) ? Number(o.bucketOffset) : 0;
  if (o.bucketSize && o.bucketSize > 0) return { size: o.bucketSize, offset };
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo;
  const count = o.bucketCount && o.bucketCount > 0 ? o.bucketCount : 30;
  // Whole numbers (counts, 0/1 states) get buckets of at least 1, so each value has its own bar.
  if (!o.bucketCount && values.every((v) => Number.isInteger(v))) return { size: Math.max(1, niceStep(Math.max(range, 1) / count)), offset };
  if (!Number.isFinite(range) || range <= 0) return { size: Math.abs(hi) > 0 ? niceStep(Math.abs(hi) / 10) : 1, offset };
  if (o.bucketCount && o.bucketCount > 0) return { size: range / count, offset };
  return { size: niceStep(range / count), offset };
}

/** A 1/2/2.5/5 × 10^n step at or above `raw`. */
export function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p * 1.0000001) return m * p;
  return 10 * p;
}

/** The `histogram` transformation: BucketMin, BucketMax and a count per field (or one combined). */
export function histogramFrames(frames: Frame[], o: Opts): Frame[] {
  const fields = frames.flatMap((f) => f.columns.filter((c) => c.type === 'number'));
  const all: number[] = [];
  for (const c of fields) for (const v of c.values) if (typeof v === 'number' && Number.isFinite(v)) all.push(v);
  if (!all.length) return [];
  const { size, offset } = histogramBuckets(all, o as { bucketSize?: number; bucketCount?: number; bucketOffset?: number });
  const bucketOf = (v: number) => Math.floor((v - offset) / size);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of all) {
    const b = bucketOf(v);
    if (b < lo) lo = b;
    if (b > hi) hi = b;
  }
  const n = Math.min(hi - lo + 1, 10000);
  const mins = Array.from({ length: n }, (_, i) => offset + (lo + i) * size);
  const count = (vals: unknown[]) => {
    const counts = new Array(n).fill(0);
    for (const v of vals) if (typeof v === 'number' && Number.isFinite(v)) counts[Math.min(n - 1, bucketOf(v) - lo)]++;
    return counts;
  };
  const countCols: Column[] = o.combine || fields.length === 1 ? [{ name: fields.length === 1 ? fields[0].name : 'Count', type: 'number', values: count(all) }] : fields.map((c) => ({ name: c.name, type: 'number', values: count(c.values), labels: c.labels }));
  return [
    {
      name: 'Histogram',
      refId: frames[0]?.refId ?? 'A',
      columns: [
        { name: 'BucketMin', type: 'number', values: mins },
        { name: 'BucketMax', type: 'number', values: mins.map((m) => m + size) },
        ...countCols,
      ],
    },
  ];
}

// ---- the pipeline ---------------------------------------------------------------------------

const UNSUPPORTED_NOTE = (id: string) => `Transformation "${id}" is not supported by pharos and was skipped.`;

/** Applies `list` in order; unknown ids are skipped and named in `notices`. Never throws. */
export function applyTransformations(frames: Frame[], list: unknown, notices: string[] = [], interpolate: (s: string) => string = (s) => s): Frame[] {
  if (!Array.isArray(list)) return frames;
  let out = frames;
  for (const raw of list as Transformation[]) {
    if (!raw || typeof raw !== 'object' || raw.disabled || typeof raw.id !== 'string') continue;
    const o = (raw.options ?? {}) as Opts;
    try {
      out = applyOne(out, raw.id, o, interpolate) ?? (notices.push(UNSUPPORTED_NOTE(raw.id)), out);
    } catch (e) {
      notices.push(`Transformation "${raw.id}" failed: ${(e as Error).message}`);
    }
  }
  return out;
}

function applyOne(frames: Frame[], id: string, o: Opts, interpolate: (s: string) => string): Frame[] | null {
  switch (id) {
    case 'merge':
      return merge(frames);
    case 'seriesToColumns':
    case 'joinByField':
      return joinByField(frames, typeof o.byField === 'string' && o.byField ? o.byField : undefined, String(o.mode ?? 'outer'));
    case 'reduce':
      return reduceTransform(frames, o);
    case 'seriesToRows':
      return seriesToRows(frames);
    case 'labelsToFields':
      return labelsToFields(frames, o);
    case 'organize':
      return organize(frames, o);
    case 'filterFieldsByName':
      return filterFieldsByName(frames, o, interpolate);
    case 'renameByRegex':
      return renameByRegex(frames, o);
    case 'calculateField':
      return calculateField(frames, o, interpolate);
    case 'filterByRefId': {
      const re = typeof o.include === 'string' && o.include ? toRegExp(`^(${o.include.split(/\s*[,|]\s*/).join('|')})$`) : null;
      return re ? frames.filter((f) => re.test(f.refId)) : frames;
    }
    case 'filterByValue':
      return filterByValue(frames, o);
    case 'sortBy':
      return sortFrames(frames, o);
    case 'limit': {
      const n = Math.max(0, Number(o.limitField ?? 10));
      return frames.map((f) => ({ ...f, columns: f.columns.map((c) => ({ ...c, values: c.values.slice(0, n) })) }));
    }
    case 'concatenate': {
      if (frames.length < 2) return frames;
      const taken = new Set<string>();
      const columns = frames.flatMap((f) =>
        f.columns.map((c) => {
          const name = uniqueName(c.name, taken);
          taken.add(name);
          return { ...c, name };
        }),
      );
      return [{ name: 'concatenated', refId: frames[0].refId, columns }];
    }
    case 'groupBy':
      return groupBy(frames, o);
    case 'convertFieldType':
      return convertFieldType(frames, o);
    case 'partitionByValues':
      return partitionByValues(frames, o);
    case 'prepareTimeSeries':
      return prepareTimeSeries(frames, o);
    case 'histogram':
      return histogramFrames(frames, o);
    case 'noop':
      return frames;
  }
  return null;
}

/** The pre-7 table panel's `transform` (timeseries_to_rows, _to_columns, _aggregations). */
export function legacyTableTransform(frames: Frame[], panel: GrafanaPanel): Frame[] {
  const t = panel.transform;
  if (t === 'timeseries_to_columns') return joinByField(frames.filter((f) => f.columns.some((c) => c.type === 'time')));
  if (t === 'timeseries_aggregations') {
    const cols = (Array.isArray(panel.columns) ? panel.columns : []) as { text?: string; value?: string }[];
    const reducers = cols.length ? cols.map((c) => String(c.value ?? 'avg')) : ['avg'];
    const f = reduceTransform(frames, { reducers });
    f[0].columns[0].name = 'Metric';
    cols.forEach((c, i) => {
      if (f[0].columns[i + 1] && c.text) f[0].columns[i + 1].name = c.text;
    });
    return f;
  }
  if (t === 'timeseries_to_rows') return seriesToRows(frames);
  return frames;
}

/** Frames back to panel data: a time column plus only number columns → series; else a table. */
export function framesToData(frames: Frame[], base: PanelData): PanelData {
  const series: Series[] = [];
  const tables: TableData[] = [];
  for (const f of frames) {
    const time = f.columns.find((c) => c.type === 'time');
    const others = f.columns.filter((c) => c !== time);
    if (time && others.length && others.every((c) => c.type === 'number')) {
      const ms = time.values.map(timeToMs);
      let order = ms.map((_, i) => i);
      let sorted = true;
      for (let i = 1; i < ms.length; i++) if (!(ms[i] >= ms[i - 1])) sorted = false;
      if (!sorted) order = order.filter((i) => Number.isFinite(ms[i])).sort((a, b) => ms[a] - ms[b]);
      for (const c of others)
        series.push({
          refId: c.refId ?? f.refId,
          name: c.name,
          labels: c.labels ?? {},
          times: order.map((i) => ms[i]),
          values: order.map((i) => toNumber(c.values[i])),
        });
      continue;
    }
    const n = frameLength(f);
    tables.push({
      refId: f.refId,
      columns: f.columns.map((c) => ({ name: c.name, type: c.type === 'time' || c.type === 'number' ? c.type : 'string' })),
      rows: Array.from({ length: n }, (_, i) => f.columns.map((c) => c.values[i] ?? null)),
    });
  }
  return { ...base, series, tables };
}

const framesByData = new WeakMap<PanelData, Frame[]>();

/** The frames a table draws: the pipeline's own frames for transformed data, else the data's. */
export function panelFrames(data: PanelData): Frame[] {
  return framesByData.get(data) ?? framesOf(data);
}

function isTableType(panel: GrafanaPanel): boolean {
  return panel.type === 'table' || panel.type === 'table-old';
}

/**
 * The data a panel draws: `data` itself when the panel has no (enabled) transformations,
 * otherwise the transformed copy (the frames stay attached for `panelFrames`). Unknown
 * transformations add a notice (also to `data.notices`, so Inspect and the editor list it).
 */
export function transformPanelData(data: PanelData, panel: GrafanaPanel, interpolate?: (s: string) => string): PanelData {
  const list = activeTransformations(panel);
  const legacy = isTableType(panel) && typeof panel.transform === 'string';
  if (!list.length && !legacy) return data;
  const notices: string[] = [];
  let frames = framesOf(data);
  if (legacy) frames = legacyTableTransform(frames, panel);
  frames = applyTransformations(frames, list, notices, interpolate);
  const out = framesToData(frames, data);
  for (const n of notices) if (!data.notices.includes(n)) data.notices.push(n);
  out.notices = [...data.notices];
  framesByData.set(out, frames);
  return out;
}
