/**
 * The table panel (Grafana `table`, and the pre-7 table with `styles`/`transform`): builds one
 * table from the panel's data (instant `format: table` results, series, Grafana's common
 * transformations — merge, reduce, join by field, series to rows, labels to fields, organize,
 * filter by name, sort by, limit), then draws it with sortable headers, units and colours per
 * column from field config, the cell display modes, a reducer footer and virtual scrolling so
 * 100k rows stay smooth.
 */
import { h } from '../lib/dom';
import {
  columnType,
  contrastText,
  displayValue,
  fieldRange,
  formatLabels,
  reduceValues,
  REDUCER_NAMES,
  reducerId,
  resolveField,
  thresholdColor,
  toNumber,
  toRegExp,
  withAlpha,
  type DataField,
  type FieldType,
  type ResolvedField,
} from '../lib/fieldconfig';
import { formatDateTime, type TimeZone } from '../lib/time';
import { formatted, formattedToString } from '../lib/units';
import { bodySize, errorStrip, opts, showEmptyOrError, textWidth } from './panelkit';
import { register } from './registry';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

/** A table column: its name, type and values (row-aligned), plus labels it came from. */
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

function frameLength(f: Frame): number {
  return f.columns.reduce((m, c) => Math.max(m, c.values.length), 0);
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

// ---- transformations ------------------------------------------------------------------------

interface Transformation {
  id: string;
  options?: Record<string, unknown>;
  disabled?: boolean;
}

function timeToMs(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return NaN;
  return n < 1e11 ? n * 1000 : n;
}

/** Grafana's `merge`: one table; rows that agree on every shared non-number column become one row. */
function merge(frames: Frame[]): Frame[] {
  if (frames.length < 2) return frames;
  const names: string[] = [];
  const types = new Map<string, FieldType>();
  for (const f of frames)
    for (const c of f.columns) {
      if (!types.has(c.name)) {
        names.push(c.name);
        types.set(c.name, c.type);
      }
    }
  const shared = names.filter((n) => types.get(n) !== 'number' && frames.every((f) => f.columns.some((c) => c.name === n)));
  const rows = new Map<string, Record<string, unknown>>();
  for (const f of frames) {
    const len = frameLength(f);
    for (let i = 0; i < len; i++) {
      const key = shared.map((n) => String(f.columns.find((c) => c.name === n)?.values[i] ?? '')).join('\u0000');
      const k = shared.length ? key : `${f.refId}\u0000${i}`;
      const row = rows.get(k) ?? {};
      for (const c of f.columns) if (row[c.name] === undefined || row[c.name] === null) row[c.name] = c.values[i];
      rows.set(k, row);
    }
  }
  const all = [...rows.values()];
  return [{ name: 'merged', refId: frames[0].refId, columns: names.map((n) => ({ name: n, type: types.get(n)!, values: all.map((r) => r[n] ?? null) })) }];
}

/** `seriesToColumns` / `joinByField`: outer join on a field (Time by default). */
function joinByField(frames: Frame[], field?: string): Frame[] {
  if (frames.length < 2) return frames;
  const by = field || 'Time';
  const keyed = new Map<string, Record<string, unknown>>();
  const names: string[] = [by];
  const types = new Map<string, FieldType>([[by, frames[0].columns.find((c) => c.name === by)?.type ?? 'time']]);
  for (const f of frames) {
    const keyCol = f.columns.find((c) => c.name === by);
    if (!keyCol) continue;
    for (const c of f.columns) {
      if (c.name === by) continue;
      let name = c.name;
      if (names.includes(name)) name = `${c.name} ${f.refId}`;
      if (!names.includes(name)) names.push(name);
      types.set(name, c.type);
      keyCol.values.forEach((kv, i) => {
        const k = String(kv);
        const row = keyed.get(k) ?? { [by]: kv };
        row[name] = c.values[i];
        keyed.set(k, row);
      });
    }
  }
  const rows = [...keyed.values()].sort((a, b) => Number(a[by]) - Number(b[by]));
  return [{ name: 'joined', refId: frames[0].refId, columns: names.map((n) => ({ name: n, type: types.get(n) ?? 'string', values: rows.map((r) => r[n] ?? null) })) }];
}

/** `reduce` (mode seriesToRows): one row per number field with a column per reducer. */
function reduceTransform(frames: Frame[], o: Record<string, unknown>): Frame[] {
  const reducers = (Array.isArray(o.reducers) && o.reducers.length ? o.reducers : ['max']).map(String);
  if (o.mode === 'reduceFields') {
    return frames.map((f) => ({
      ...f,
      columns: f.columns.filter((c) => c.type !== 'time').map((c) => (c.type === 'number' ? { ...c, values: [reduceValues(c.values, reducers[0])] } : { ...c, values: c.values.slice(-1) })),
    }));
  }
  const names: string[] = [];
  const cols: Record<string, unknown[]> = {};
  const labelNames = new Set<string>();
  const fields: Column[] = [];
  for (const f of frames) for (const c of f.columns) if (c.type === 'number') fields.push(c);
  if (o.labelsToFields) for (const c of fields) for (const k of Object.keys(c.labels ?? {})) if (k !== '__name__') labelNames.add(k);
  const field: unknown[] = fields.map((c) => c.name);
  names.push('Field');
  cols.Field = field;
  for (const l of labelNames) {
    names.push(l);
    cols[l] = fields.map((c) => c.labels?.[l] ?? '');
  }
  for (const r of reducers) {
    const title = REDUCER_NAMES[reducerId(r)] ?? r;
    names.push(title);
    cols[title] = fields.map((c) => reduceValues(c.values, r));
  }
  return [
    {
      name: 'reduced',
      refId: frames[0]?.refId ?? 'A',
      columns: names.map((n) => ({ name: n, type: n === 'Field' || labelNames.has(n) ? 'string' : 'number', values: cols[n] })),
    },
  ];
}

/** `seriesToRows`: Time, Metric, Value for every point of every series. */
function seriesToRows(frames: Frame[]): Frame[] {
  const rows: [number, string, unknown][] = [];
  for (const f of frames) {
    const t = f.columns.find((c) => c.type === 'time');
    for (const c of f.columns) {
      if (c.type !== 'number') continue;
      c.values.forEach((v, i) => rows.push([Number(t?.values[i] ?? 0), c.name, v]));
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

/** `labelsToFields`: the series' labels become string columns next to its values. */
function labelsToFields(frames: Frame[], o: Record<string, unknown>): Frame[] {
  return frames.map((f) => {
    const cols: Column[] = [];
    const len = frameLength(f);
    for (const c of f.columns) {
      if (c.type === 'number' && c.labels && Object.keys(c.labels).length) {
        const keep = Array.isArray(o.keepLabels) ? (o.keepLabels as string[]) : null;
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

function organize(frames: Frame[], o: Record<string, unknown>): Frame[] {
  const exclude = (o.excludeByName ?? {}) as Record<string, boolean>;
  const index = (o.indexByName ?? {}) as Record<string, number>;
  const rename = (o.renameByName ?? {}) as Record<string, string>;
  return frames.map((f) => {
    const cols = f.columns.filter((c) => !exclude[c.name]);
    cols.sort((a, b) => (index[a.name] ?? 1e6 + f.columns.indexOf(a)) - (index[b.name] ?? 1e6 + f.columns.indexOf(b)));
    return { ...f, columns: cols.map((c) => (rename[c.name] ? { ...c, name: rename[c.name] } : c)) };
  });
}

function filterFieldsByName(frames: Frame[], o: Record<string, unknown>): Frame[] {
  const inc = (o.include ?? {}) as { names?: string[]; pattern?: string };
  const exc = (o.exclude ?? {}) as { names?: string[]; pattern?: string };
  const incRe = inc.pattern ? toRegExp(inc.pattern) : null;
  const excRe = exc.pattern ? toRegExp(exc.pattern) : null;
  return frames.map((f) => ({
    ...f,
    columns: f.columns.filter((c) => {
      if ((inc.names?.length || incRe) && !(inc.names?.includes(c.name) || incRe?.test(c.name))) return false;
      if (exc.names?.includes(c.name) || excRe?.test(c.name)) return false;
      return true;
    }),
  }));
}

function sortFrames(frames: Frame[], o: Record<string, unknown>): Frame[] {
  const s = (Array.isArray(o.sort) ? o.sort[0] : undefined) as { field?: string; desc?: boolean } | undefined;
  if (!s?.field) return frames;
  return frames.map((f) => {
    const col = f.columns.find((c) => c.name === s.field);
    if (!col) return f;
    const order = col.values.map((_, i) => i).sort((a, b) => compare(col.values[a], col.values[b]) * (s.desc ? -1 : 1));
    return { ...f, columns: f.columns.map((c) => ({ ...c, values: order.map((i) => c.values[i]) })) };
  });
}

/** Applies the panel's `transformations` in order; unknown ones are skipped (listed in `skipped`). */
export function applyTransformations(frames: Frame[], list: unknown, skipped: string[] = []): Frame[] {
  if (!Array.isArray(list)) return frames;
  let out = frames;
  for (const raw of list as Transformation[]) {
    if (!raw || typeof raw !== 'object' || raw.disabled) continue;
    const o = (raw.options ?? {}) as Record<string, unknown>;
    switch (raw.id) {
      case 'merge':
        out = merge(out);
        break;
      case 'seriesToColumns':
      case 'joinByField':
        out = joinByField(out, typeof o.byField === 'string' ? o.byField : undefined);
        break;
      case 'reduce':
        out = reduceTransform(out, o);
        break;
      case 'seriesToRows':
        out = seriesToRows(out);
        break;
      case 'labelsToFields':
        out = labelsToFields(out, o);
        break;
      case 'organize':
        out = organize(out, o);
        break;
      case 'filterFieldsByName':
        out = filterFieldsByName(out, o);
        break;
      case 'filterByRefId': {
        const re = typeof o.include === 'string' ? toRegExp(`^(${o.include.split(/\s*[,|]\s*/).join('|')})$`) : null;
        if (re) out = out.filter((f) => re.test(f.refId));
        break;
      }
      case 'sortBy':
        out = sortFrames(out, o);
        break;
      case 'limit': {
        const n = Number(o.limitField ?? 10);
        out = out.map((f) => ({ ...f, columns: f.columns.map((c) => ({ ...c, values: c.values.slice(0, n) })) }));
        break;
      }
      case 'concatenate':
        out = out.length > 1 ? [{ name: 'concatenated', refId: out[0].refId, columns: out.flatMap((f) => f.columns) }] : out;
        break;
      default:
        skipped.push(raw.id);
    }
  }
  return out;
}

/** The pre-7 table panel's `transform` (timeseries_to_rows, _to_columns, _aggregations). */
function legacyTransform(frames: Frame[], panel: GrafanaPanel): Frame[] {
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

// ---- rendering ------------------------------------------------------------------------------

function compare(a: unknown, b: unknown): number {
  const na = typeof a === 'number' ? a : null;
  const nb = typeof b === 'number' ? b : null;
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (na !== null && nb !== null) return na - nb;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

interface LegacyStyle {
  pattern?: string;
  type?: string;
  unit?: string;
  decimals?: number;
  colorMode?: string | null;
  thresholds?: (string | number)[];
  colors?: string[];
  alias?: string;
  align?: string;
  dateFormat?: string;
  mappingType?: number;
  valueMaps?: { value: string; text: string }[];
}

/** Config additions from a pre-7 table's `styles` for a column name. */
function legacyStyle(panel: GrafanaPanel, name: string): LegacyStyle | undefined {
  const styles = Array.isArray(panel.styles) ? (panel.styles as LegacyStyle[]) : [];
  for (const s of styles) {
    if (!s || typeof s.pattern !== 'string') continue;
    const re = s.pattern.startsWith('/') ? toRegExp(s.pattern) : null;
    if (re ? re.test(name) : s.pattern === name) return s;
  }
  return undefined;
}

interface ColumnView {
  col: Column;
  r: ResolvedField;
  title: string;
  range: { min: number; max: number };
  cellType: string;
  align: string;
  width: number;
  hidden: boolean;
  legacy?: LegacyStyle;
}

const ROW_H = 30;

function cellContent(cv: ColumnView, value: unknown, tz: TimeZone): { node: Node | string; style: string; cls: string } {
  const { col, r } = cv;
  if (col.type === 'time' && !cv.legacy?.unit) {
    const ms = timeToMs(value);
    return { node: Number.isFinite(ms) ? formatDateTime(ms, tz) : String(value ?? ''), style: '', cls: '' };
  }
  if (cv.legacy) {
    const s = cv.legacy;
    if (s.type === 'date') {
      const ms = timeToMs(value);
      return { node: Number.isFinite(ms) ? formatDateTime(ms, tz) : String(value ?? ''), style: '', cls: '' };
    }
    const vm = s.valueMaps?.find((m) => String(m.value) === String(value));
    if (vm) return { node: vm.text, style: '', cls: '' };
    const n = toNumber(value);
    if (s.type === 'number' && n !== null) {
      const text = formatted(n, s.unit ?? 'short', s.decimals ?? null);
      const cuts = (s.thresholds ?? []).map(Number).filter((x) => Number.isFinite(x));
      let style = '';
      if (s.colorMode && s.colors?.length) {
        let idx = 0;
        cuts.forEach((c, i) => {
          if (n >= c) idx = i + 1;
        });
        const color = s.colors[Math.min(idx, s.colors.length - 1)];
        style = s.colorMode === 'value' ? `color:${color}` : `background:${color}; color:${contrastText(color)}`;
      }
      return { node: text, style, cls: 'num' };
    }
    return { node: value === null || value === undefined ? '' : String(value), style: '', cls: '' };
  }
  if (col.type !== 'number' && typeof value !== 'number') {
    const mapped = displayValue(value, r, cv.range, tz);
    const text = mapped.mapped ? mapped.text : value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (cv.cellType === 'json-view') return { node: h('span', { class: 'vp-json' }, typeof value === 'string' ? value : JSON.stringify(value)), style: '', cls: '' };
    if (mapped.mapped && (cv.cellType === 'color-text' || cv.cellType === 'color-background')) {
      return { node: text, style: cv.cellType === 'color-text' ? `color:${mapped.color}` : `background:${mapped.color}; color:${contrastText(mapped.color)}`, cls: '' };
    }
    return { node: text, style: '', cls: '' };
  }
  const d = displayValue(value, r, cv.range, tz);
  const text = value === null || value === undefined ? '' : `${d.prefix ?? ''}${d.text}${d.suffix ?? ''}`;
  switch (cv.cellType) {
    case 'color-text':
      return { node: text, style: `color:${d.color}`, cls: 'num' };
    case 'color-background':
      return { node: text, style: `background:linear-gradient(120deg, ${withAlpha(d.color, 0.7)}, ${d.color}); color:${contrastText(d.color)}`, cls: 'num' };
    case 'color-background-solid':
      return { node: text, style: `background:${d.color}; color:${contrastText(d.color)}`, cls: 'num' };
    case 'gradient-gauge':
    case 'lcd-gauge':
    case 'basic-gauge':
    case 'gauge': {
      const fill =
        cv.cellType === 'basic-gauge'
          ? d.color
          : `linear-gradient(to right, ${withAlpha(thresholdColor(cv.range.min, r.thresholds, cv.range.min, cv.range.max), 0.8)}, ${d.color})`;
      const bar = h('div', { class: 'vp-cell-bar' }, h('div', { style: `width:${(d.percent * 100).toFixed(1)}%; background:${fill}` }));
      const frag = document.createDocumentFragment();
      frag.append(bar, text);
      return { node: frag, style: '', cls: '' };
    }
    default:
      return { node: text, style: d.mapped && d.color ? `color:${d.color}` : '', cls: 'num' };
  }
}

function tableFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  let last: { data: PanelData; panel: GrafanaPanel } | null = null;
  let size = { width: 0, height: 0 };
  let sort: { col: string; desc: boolean } | null = null;
  let frameIdx = 0;
  let scrollTop = 0;
  el.classList.add('vp-body');

  function draw() {
    if (!last) return;
    const { data, panel } = last;
    const o = opts(panel);
    let frames = framesOf(data);
    if (Array.isArray(panel.styles) || typeof panel.transform === 'string') frames = legacyTransform(frames, panel);
    frames = applyTransformations(frames, panel.transformations);
    frames = frames.filter((f) => f.columns.length > 0);
    const rowsTotal = frames.reduce((n, f) => n + frameLength(f), 0);
    if (showEmptyOrError(el, data, frames.length > 0 && rowsTotal > 0)) return;
    if (frameIdx >= frames.length) frameIdx = 0;
    const frame = frames[frameIdx];
    const n = frameLength(frame);
    const tz = ctx.timeZone;
    const { width, height } = bodySize(el, size.width, size.height);

    // Columns with their resolved field config (overrides by column name).
    const all: ColumnView[] = frame.columns.map((col, i) => {
      const field: DataField = {
        name: col.name,
        labels: col.labels ?? {},
        refId: col.refId ?? frame.refId,
        type: col.type,
        values: col.values,
        frameName: col.name,
        source: { kind: 'table', index: frameIdx, column: i },
      };
      const r = resolveField(panel, field, i, { defaultColorMode: 'thresholds', interpolate: ctx.interpolate });
      const custom = (r.config.custom ?? {}) as Record<string, unknown>;
      const cellOptions = (custom.cellOptions ?? {}) as { type?: string; mode?: string };
      let cellType = String(cellOptions.type ?? custom.displayMode ?? 'auto');
      if (cellType === 'color-background' && cellOptions.mode === 'basic') cellType = 'color-background-solid';
      const legacy = Array.isArray(panel.styles) ? legacyStyle(panel, col.name) : undefined;
      const title = legacy?.alias || (r.config.displayName ? r.displayName : col.name);
      const headerW = textWidth(title, 13, 600) + 30;
      const range = fieldRange(r, [r]);
      let contentW = 0;
      for (let k = 0; k < Math.min(n, 100); k++) {
        const v = col.values[k];
        const shown = col.type === 'number' && typeof v === 'number' ? formattedToString(displayValue(v, r, range, tz)) : String(v ?? '');
        contentW = Math.max(contentW, textWidth(shown, 13, 400) + 20);
      }
      if (col.type === 'time') contentW = 160;
      const w = typeof custom.width === 'number' ? custom.width : Math.max(60, Math.min(420, Math.max(headerW, contentW, Number(custom.minWidth ?? 0))));
      return {
        col,
        r,
        title,
        range,
        cellType,
        align: String(custom.align ?? 'auto'),
        width: w,
        hidden: custom.hidden === true || legacy?.type === 'hidden',
        legacy,
      };
    });
    const cols = all.filter((c) => !c.hidden);

    // Sort order: the clicked header, else options.sortBy.
    const sortBy = Array.isArray(o.sortBy) ? (o.sortBy[0] as { displayName?: string; desc?: boolean } | undefined) : undefined;
    const active = sort ?? (sortBy?.displayName ? { col: sortBy.displayName, desc: !!sortBy.desc } : null);
    let order = Array.from({ length: n }, (_, i) => i);
    const sortCol = active ? cols.find((c) => c.title === active.col || c.col.name === active.col) : undefined;
    if (active && sortCol) order.sort((a, b) => compare(sortCol.col.values[a], sortCol.col.values[b]) * (active.desc ? -1 : 1));

    const totalW = cols.reduce((s, c) => s + c.width, 0);
    const template = cols.map((c) => (totalW < width ? `minmax(${c.width}px, ${c.width}fr)` : `${c.width}px`)).join(' ');
    const showHeader = o.showHeader !== false;
    const footer = (o.footer ?? {}) as { show?: boolean; reducer?: string[]; fields?: string[]; countRows?: boolean };
    const head = showHeader
      ? h(
          'div',
          { class: 'vp-table-head', style: `grid-template-columns:${template}` },
          cols.map((c) =>
            h(
              'div',
              {
                class: 'vp-th',
                role: 'columnheader',
                title: `${c.title} — click to sort`,
                dataset: { col: c.title },
                style: c.col.type === 'number' && c.align === 'auto' ? 'text-align:right' : '',
                onclick: () => {
                  const cur = sort ?? active;
                  if (!cur || (cur.col !== c.title && cur.col !== c.col.name)) sort = { col: c.title, desc: false };
                  else if (!cur.desc) sort = { col: c.title, desc: true };
                  else sort = { col: '', desc: false };
                  draw();
                },
              },
              c.title,
              active && sortCol === c ? h('span', { class: 'vp-sort' }, active.desc ? '▼' : '▲') : null,
            ),
          ),
        )
      : null;

    const scroll = h('div', { class: 'vp-table-scroll' });
    const body = h('div', { class: 'vp-table-body', style: `position:relative; height:${n * ROW_H}px; min-width:${totalW}px` });
    if (head) head.style.minWidth = `${totalW}px`;
    const renderRows = () => {
      const top = scroll.scrollTop;
      const viewH = scroll.clientHeight || height;
      const first = Math.max(0, Math.floor(top / ROW_H) - 10);
      const lastRow = Math.min(n, Math.ceil((top + viewH) / ROW_H) + 10);
      const rows: HTMLElement[] = [];
      for (let k = first; k < lastRow; k++) {
        const ri = order[k];
        const row = h('div', { class: 'vp-table-row', role: 'row', style: `top:${k * ROW_H}px; height:${ROW_H}px; grid-template-columns:${template}` });
        for (const c of cols) {
          const cc = cellContent(c, c.col.values[ri], tz);
          const align = c.align === 'auto' ? cc.cls : c.align === 'right' ? 'num' : c.align === 'center' ? 'center' : '';
          const text = typeof cc.node === 'string' ? cc.node : undefined;
          row.appendChild(h('div', { class: `vp-td ${align}`, style: cc.style, title: text }, cc.node));
        }
        rows.push(row);
      }
      body.replaceChildren(...rows);
      scrollTop = top;
    };
    scroll.addEventListener('scroll', () => requestAnimationFrame(renderRows), { passive: true });
    if (head) scroll.appendChild(head);
    scroll.appendChild(body);

    let foot: HTMLElement | null = null;
    if (footer.show) {
      const reducer = footer.reducer?.[0] ?? 'sum';
      foot = h(
        'div',
        { class: 'vp-table-footer-row', style: `grid-template-columns:${template}; min-width:${totalW}px` },
        cols.map((c, i) => {
          const wanted = !footer.fields?.length || footer.fields.includes(c.col.name) || footer.fields.includes(c.title);
          if (footer.countRows) return h('div', { class: 'vp-td' }, i === 0 ? `Count: ${n}` : '');
          if (c.col.type !== 'number' || !wanted) return h('div', { class: 'vp-td' }, i === 0 ? (REDUCER_NAMES[reducerId(reducer)] ?? reducer) : '');
          const v = reduceValues(c.col.values, reducer);
          const d = displayValue(v, c.r, c.range, tz);
          return h('div', { class: 'vp-td num', style: 'height:28px' }, `${d.prefix ?? ''}${d.text}${d.suffix ?? ''}`);
        }),
      );
    }
    const picker =
      frames.length > 1
        ? h(
            'div',
            { class: 'vp-table-foot' },
            h(
              'select',
              {
                'aria-label': 'Series shown in the table',
                onchange: (e: Event) => {
                  frameIdx = Number((e.target as HTMLSelectElement).value);
                  scrollTop = 0;
                  draw();
                },
              },
              frames.map((f, i) => {
                const label = f.name || formatLabels(f.columns.find((c) => c.labels)?.labels ?? {}) || `Series ${i + 1}`;
                const opt = h('option', { value: String(i) }, label);
                if (i === frameIdx) opt.selected = true;
                return opt;
              }),
            ),
            h('span', null, `${frames.length} series — one shown at a time (add a Merge or Reduce transformation to combine them)`),
          )
        : null;
    const strip = errorStrip(data);
    const wrap = h('div', { class: 'vp-table', role: 'table' }, scroll, foot, picker);
    el.replaceChildren(...[strip, wrap].filter((x): x is HTMLElement => !!x));
    scroll.scrollTop = scrollTop;
    renderRows();
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(frames.length);
    el.dataset.rows = String(n);
    el.dataset.columns = cols.map((c) => c.title).join('\u001f');
    el.dataset.value = n ? cols.map((c) => String(c.col.values[order[0]] ?? '')).join('\u001f') : '';
  }

  return {
    update(data, panel) {
      last = { data, panel };
      draw();
    },
    resize(width, height) {
      size = { width, height };
      draw();
    },
    destroy() {
      el.replaceChildren();
    },
  };
}

register(['table', 'table-old'], tableFactory);
