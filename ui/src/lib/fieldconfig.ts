/**
 * Grafana's field config, resolved for one field: `fieldConfig.defaults` + the `overrides` whose
 * matcher selects the field (byName, byRegexp, byNames, byFrameRefID, byType, byValue), then the
 * pieces panels need to show a value — display name templates, thresholds (absolute/percentage),
 * Grafana's named colours and classic palette, colour schemes, value mappings and the reducers of
 * `reduceOptions.calcs`. Every panel type formats values through here so they agree.
 */
import type { FieldConfig, FieldOverride, GrafanaPanel, PanelData, Threshold } from '../panels/types';
import { formatValue, type FormattedValue } from './units';
import type { TimeZone } from './time';

// ---- colours --------------------------------------------------------------------------------

/** Grafana's named colours (dark theme) — the names dashboards store in thresholds and overrides. */
export const NAMED_COLORS: Record<string, string> = {
  'super-light-red': '#FFA6B0',
  'light-red': '#FF7383',
  red: '#F2495C',
  'semi-dark-red': '#E02F44',
  'dark-red': '#C4162A',
  'super-light-orange': '#FFCB7D',
  'light-orange': '#FFB357',
  orange: '#FF9830',
  'semi-dark-orange': '#FA6400',
  'dark-orange': '#E55400',
  'super-light-yellow': '#FFF899',
  'light-yellow': '#FFEE52',
  yellow: '#FADE2A',
  'semi-dark-yellow': '#F2CC0C',
  'dark-yellow': '#E0B400',
  'super-light-green': '#C8F2C2',
  'light-green': '#96D98D',
  green: '#73BF69',
  'semi-dark-green': '#56A64B',
  'dark-green': '#37872D',
  'super-light-blue': '#C0D8FF',
  'light-blue': '#8AB8FF',
  blue: '#5794F2',
  'semi-dark-blue': '#3274D9',
  'dark-blue': '#1F60C4',
  'super-light-purple': '#DEB6F2',
  'light-purple': '#CA95E5',
  purple: '#B877D9',
  'semi-dark-purple': '#A352CC',
  'dark-purple': '#8F3BB8',
  // Aliases older dashboards use.
  'super-light-grey': '#d8d9da',
  'light-grey': '#c7d0d9',
  grey: '#8e8e8e',
  gray: '#8e8e8e',
  'dark-grey': '#464c54',
  white: '#ffffff',
  black: '#000000',
  text: '#ccccdc',
  transparent: 'transparent',
};

/** The classic series palette (`palette-classic`), in Grafana's order. */
export const CLASSIC_PALETTE = [
  '#73BF69', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A6', '#705DA0',
  '#508642', '#CCA300', '#447EBC', '#C15C17', '#890F02', '#0A437C', '#6D1F62', '#584477',
  '#B7DBAB', '#F4D598', '#70DBED', '#F9BA8F', '#F29191', '#82B5D8', '#E5A8E2', '#AEA2E0',
  '#629E51', '#E5AC0E', '#64B0C8', '#E0752D', '#BF1B00', '#0A50A1', '#962D82', '#614D93',
  '#9AC48A', '#F2C96D', '#65C5DB', '#F9934E', '#EA6460', '#5195CE', '#D683CE', '#806EB7',
  '#3F6833', '#967302', '#2F575E', '#99440A', '#58140C', '#052B51', '#511749', '#3F2B5B',
];

/** A Grafana colour (named, `#hex`, `rgb()/rgba()`, css name) as a CSS colour. */
export function resolveColor(color: string | undefined | null, fallback = '#5794F2'): string {
  if (!color) return fallback;
  const c = String(color).trim();
  const named = NAMED_COLORS[c] ?? NAMED_COLORS[c.toLowerCase()];
  if (named) return named;
  if (/^#[0-9a-f]{3,8}$/i.test(c) || /^(rgb|rgba|hsl|hsla)\([\d\s.,%]+\)$/i.test(c) || /^[a-z]+$/i.test(c)) return c;
  return fallback;
}

/** The palette colour for the `index`th series. */
export function paletteColor(index: number): string {
  return CLASSIC_PALETTE[((index % CLASSIC_PALETTE.length) + CLASSIC_PALETTE.length) % CLASSIC_PALETTE.length];
}

/** A stable palette colour for a name (`palette-classic-by-name`). */
export function paletteColorByName(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  return paletteColor(Math.abs(h));
}

/** Continuous schemes (`continuous-GrYlRd` …): colour stops from low to high. */
const CONTINUOUS: Record<string, string[]> = {
  'continuous-GrYlRd': ['#73BF69', '#FADE2A', '#F2495C'],
  'continuous-RdYlGr': ['#F2495C', '#FADE2A', '#73BF69'],
  'continuous-BlYlRd': ['#5794F2', '#FADE2A', '#F2495C'],
  'continuous-YlRd': ['#FADE2A', '#F2495C'],
  'continuous-BlPu': ['#5794F2', '#B877D9'],
  'continuous-YlBl': ['#FADE2A', '#5794F2'],
  'continuous-blues': ['#C0D8FF', '#1F60C4'],
  'continuous-reds': ['#FFA6B0', '#C4162A'],
  'continuous-greens': ['#C8F2C2', '#37872D'],
  'continuous-purples': ['#DEB6F2', '#8F3BB8'],
};

function hexToRgb(hex: string): [number, number, number] | null {
  let m = hex.replace('#', '');
  if (m.length === 3) m = m.split('').map((c) => c + c).join('');
  if (!/^[0-9a-f]{6}/i.test(m)) return null;
  return [parseInt(m.slice(0, 2), 16), parseInt(m.slice(2, 4), 16), parseInt(m.slice(4, 6), 16)];
}

/** Linear blend of colour stops at `t` in [0, 1]. */
export function interpolateColors(stops: string[], t: number): string {
  const tt = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0));
  if (stops.length === 1) return stops[0];
  const pos = tt * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(pos));
  const a = hexToRgb(resolveColor(stops[i]));
  const b = hexToRgb(resolveColor(stops[i + 1]));
  if (!a || !b) return stops[i];
  const f = pos - i;
  const c = a.map((x, k) => Math.round(x + (b[k] - x) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** `rgba()` of a colour with `alpha` (for backgrounds and fills). */
export function withAlpha(color: string, alpha: number): string {
  const rgb = hexToRgb(resolveColor(color));
  if (rgb) return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})`;
  const m = /^rgba?\(([^)]+)\)$/.exec(color);
  if (m) {
    const p = m[1].split(',').slice(0, 3).map((s) => s.trim());
    return `rgba(${p.join(', ')}, ${alpha})`;
  }
  return color;
}

/** Black or white text, whichever reads better on `background`. */
export function contrastText(background: string): string {
  let rgb = hexToRgb(resolveColor(background));
  if (!rgb) {
    const m = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(background);
    if (m) rgb = [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  if (!rgb) return '#ffffff';
  const lum = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255;
  return lum > 0.6 ? '#111217' : '#ffffff';
}

// ---- thresholds -----------------------------------------------------------------------------

export interface Thresholds {
  mode: 'absolute' | 'percentage';
  steps: Threshold[];
}

/** Grafana's default thresholds for a new panel: green, red at 80. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  mode: 'absolute',
  steps: [
    { value: null, color: 'green' },
    { value: 80, color: 'red' },
  ],
};

/** The step active for `value` (the last step whose value ≤ value; the base step is -∞). */
export function activeThreshold(value: number, t: Thresholds | undefined, min = 0, max = 100): Threshold {
  const steps = sortedSteps(t);
  if (!steps.length) return { value: null, color: 'green' };
  let v = value;
  if (t?.mode === 'percentage') v = max === min ? 100 : ((value - min) / (max - min)) * 100;
  let active = steps[0];
  for (const s of steps) {
    const sv = s.value === null || s.value === undefined ? -Infinity : Number(s.value);
    if (v >= sv) active = s;
    else break;
  }
  return active;
}

/** Steps sorted by value, the base (null / -Infinity) first. */
export function sortedSteps(t: Thresholds | undefined): Threshold[] {
  const steps = (t?.steps ?? []).filter((s) => s && typeof s === 'object');
  const key = (s: Threshold) => (s.value === null || s.value === undefined || (s.value as unknown) === '-Infinity' ? -Infinity : Number(s.value));
  return [...steps].sort((a, b) => key(a) - key(b));
}

/** The colour of the threshold step active for `value`. */
export function thresholdColor(value: number, t: Thresholds | undefined, min = 0, max = 100): string {
  return resolveColor(activeThreshold(value, t, min, max).color, NAMED_COLORS.green);
}

/** Absolute [from, to, colour] bands between `min` and `max` (for gauge arcs and bar backgrounds). */
export function thresholdBands(t: Thresholds | undefined, min: number, max: number): { from: number; to: number; color: string }[] {
  const steps = sortedSteps(t);
  const abs = (v: number | null) => {
    if (v === null || v === undefined) return min;
    return t?.mode === 'percentage' ? min + ((max - min) * Number(v)) / 100 : Number(v);
  };
  const bands: { from: number; to: number; color: string }[] = [];
  steps.forEach((s, i) => {
    const from = Math.max(min, i === 0 ? min : abs(s.value));
    const to = Math.min(max, i + 1 < steps.length ? abs(steps[i + 1].value) : max);
    if (to > from) bands.push({ from, to, color: resolveColor(s.color) });
  });
  return bands;
}

// ---- value mappings -------------------------------------------------------------------------

export interface MappingResult {
  text?: string;
  color?: string;
  icon?: string;
  index?: number;
}

/** Grafana 8+ mappings (`type: value|range|regex|special` + `options`) and the legacy form (`type: 1|2`). */
interface ValueMappingAny {
  type: number | string;
  options?: Record<string, unknown>;
  value?: string;
  text?: string;
  from?: string | number | null;
  to?: string | number | null;
  color?: string;
}

function numOrNull(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Applies Grafana's value mappings (value, range, regex, special; also the pre-8 legacy form). */
export function applyMappings(value: unknown, mappings: unknown[] | undefined): MappingResult | undefined {
  if (!Array.isArray(mappings) || !mappings.length) return undefined;
  const isNullish = value === null || value === undefined;
  const num = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  const str = isNullish ? '' : typeof value === 'number' ? String(value) : String(value);
  for (const raw of mappings) {
    if (!raw || typeof raw !== 'object') continue;
    const m = raw as ValueMappingAny;
    const opts = (m.options ?? {}) as Record<string, unknown>;
    switch (m.type) {
      case 'value': {
        const hit = (opts as Record<string, MappingResult>)[str];
        if (!isNullish && hit) return hit;
        break;
      }
      case 'range': {
        const from = numOrNull(opts.from);
        const to = numOrNull(opts.to);
        if (!Number.isNaN(num) && !isNullish && (from === null || num >= from) && (to === null || num <= to) && (from !== null || to !== null)) {
          return opts.result as MappingResult;
        }
        break;
      }
      case 'regex': {
        const pattern = String(opts.pattern ?? '');
        if (!pattern || isNullish) break;
        const re = toRegExp(pattern);
        if (re && re.test(str)) {
          const result = { ...(opts.result as MappingResult) };
          if (result.text !== undefined && result.text !== '') {
            const re2 = toRegExp(pattern);
            if (re2) result.text = str.replace(re2, result.text);
          }
          return result;
        }
        break;
      }
      case 'special': {
        const match = String(opts.match ?? '');
        const r = opts.result as MappingResult;
        const isNaNv = typeof value === 'number' && Number.isNaN(value);
        if (match === 'null' && isNullish) return r;
        if (match === 'nan' && isNaNv) return r;
        if (match === 'null+nan' && (isNullish || isNaNv)) return r;
        if (match === 'true' && (value === true || str === 'true')) return r;
        if (match === 'false' && (value === false || str === 'false')) return r;
        if (match === 'empty' && str === '' && !isNullish) return r;
        break;
      }
      case 1:
      case '1': {
        // Legacy value map: {type: 1, value: "1", text: "Up"}; "null" matches missing values.
        const mv = String(m.value ?? '');
        if ((mv === 'null' && isNullish) || (!isNullish && mv === str) || (!isNullish && numOrNull(mv) !== null && numOrNull(mv) === num)) {
          return { text: m.text, color: m.color };
        }
        break;
      }
      case 2:
      case '2': {
        const from = numOrNull(m.from);
        const to = numOrNull(m.to);
        if (!isNullish && !Number.isNaN(num) && (from === null || num >= from) && (to === null || num <= to)) {
          return { text: m.text, color: m.color };
        }
        break;
      }
    }
  }
  return undefined;
}

/** Grafana's string-to-regex: `/pattern/flags` or a bare pattern. Invalid → null. */
export function toRegExp(pattern: string): RegExp | null {
  try {
    const m = /^\/(.*)\/([gimsuy]*)$/s.exec(pattern);
    if (m) return new RegExp(m[1], m[2].replace('g', ''));
    return new RegExp(pattern);
  } catch {
    return null;
  }
}

// ---- fields ---------------------------------------------------------------------------------

export type FieldType = 'number' | 'time' | 'string' | 'boolean' | 'other';

/** One field of the panel's data: a series' values, or a table column. */
export interface DataField {
  /** The field's own name (a series' legend name, a column's name). */
  name: string;
  labels: Record<string, string>;
  refId: string;
  type: FieldType;
  values: unknown[];
  /** Times of the values (series) for sparklines and time-based reducers. */
  times?: number[];
  /** The frame name (the series' name before any displayName override). */
  frameName?: string;
  /** Where it came from: `series` index or `table` index + column. */
  source: { kind: 'series'; index: number } | { kind: 'table'; index: number; column: number };
}

/** Every series as a number field, every numeric table column as a number field. */
export function dataFields(data: PanelData, opts: { includeNonNumeric?: boolean } = {}): DataField[] {
  const out: DataField[] = [];
  data.series.forEach((s, i) =>
    out.push({
      name: s.name,
      labels: s.labels ?? {},
      refId: s.refId,
      type: 'number',
      values: s.values,
      times: s.times,
      frameName: s.name,
      source: { kind: 'series', index: i },
    }),
  );
  data.tables.forEach((t, ti) => {
    t.columns.forEach((c, ci) => {
      const values = t.rows.map((r) => r[ci]);
      const type = columnType(c.type, values);
      if (type !== 'number' && !opts.includeNonNumeric) return;
      const timeCol = t.columns.findIndex((cc) => cc.type === 'time' || /^time$/i.test(cc.name));
      out.push({
        name: c.name,
        labels: {},
        refId: t.refId,
        type,
        values: type === 'number' ? values.map(toNumber) : values,
        times: timeCol >= 0 ? t.rows.map((r) => Number(r[timeCol])) : undefined,
        frameName: c.name,
        source: { kind: 'table', index: ti, column: ci },
      });
    });
  });
  return out;
}

/** A column's type: declared, or guessed from its values. */
export function columnType(declared: string | undefined, values: unknown[]): FieldType {
  if (declared === 'time' || declared === 'number' || declared === 'string') return declared;
  let numbers = 0;
  let others = 0;
  for (const v of values.slice(0, 200)) {
    if (v === null || v === undefined || v === '') continue;
    if (typeof v === 'boolean') return 'boolean';
    if (typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))) numbers++;
    else others++;
  }
  return numbers > 0 && others === 0 ? 'number' : 'string';
}

export function toNumber(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const s = String(v);
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const n = Number(s);
  return Number.isNaN(n) ? null : n;
}

// ---- resolved config ------------------------------------------------------------------------

/** A field's effective config after defaults and overrides. */
export interface ResolvedField {
  field: DataField;
  config: FieldConfig;
  /** The name to show (displayName template applied). */
  displayName: string;
  thresholds: Thresholds;
  colorMode: string;
  /** Index among the resolved fields (for palette colours). */
  index: number;
}

export interface ResolveOptions {
  /** The colour mode when the panel sets none: `thresholds` for stat/gauge, `palette-classic` for charts. */
  defaultColorMode?: string;
  /** Dashboard variable interpolation (`$job` in a displayName). */
  interpolate?: (s: string) => string;
  /** Extra defaults the panel type has (Grafana's plugin defaults), under the dashboard's. */
  typeDefaults?: FieldConfig;
}

/** `fieldConfig` of a panel, including the Grafana 6 `options.fieldOptions` form. */
export function panelFieldConfig(panel: GrafanaPanel): { defaults: FieldConfig; overrides: FieldOverride[] } {
  const fc = panel.fieldConfig ?? {};
  let defaults: FieldConfig = { ...(fc.defaults ?? {}) };
  let overrides: FieldOverride[] = Array.isArray(fc.overrides) ? fc.overrides : [];
  const legacy = (panel.options as Record<string, unknown> | undefined)?.fieldOptions as
    | { defaults?: FieldConfig; overrides?: FieldOverride[]; thresholds?: Threshold[]; mappings?: unknown[] }
    | undefined;
  if (legacy && typeof legacy === 'object') {
    const ld = { ...(legacy.defaults ?? {}) } as FieldConfig;
    // Grafana 6.x kept thresholds as a bare step list and mappings next to defaults.
    if (Array.isArray(ld.thresholds)) ld.thresholds = { mode: 'absolute', steps: ld.thresholds as unknown as Threshold[] };
    if (!ld.thresholds && Array.isArray(legacy.thresholds)) ld.thresholds = { mode: 'absolute', steps: legacy.thresholds };
    if (!ld.mappings && Array.isArray(legacy.mappings)) ld.mappings = legacy.mappings;
    defaults = { ...ld, ...defaults };
    if (!overrides.length && Array.isArray(legacy.overrides)) overrides = legacy.overrides;
  }
  return { defaults, overrides };
}

function matches(matcher: FieldOverride['matcher'], field: DataField, baseName: string, allValuesReduced: () => number | null): boolean {
  const opts = matcher?.options;
  switch (matcher?.id) {
    case 'byName':
      return typeof opts === 'string' && (opts === baseName || opts === field.name);
    case 'byNames': {
      const o = (opts ?? {}) as { names?: string[]; mode?: string; prefix?: string };
      const names = Array.isArray(o.names) ? o.names : [];
      const hit = names.includes(baseName) || names.includes(field.name);
      return o.mode === 'exclude' ? !hit : hit;
    }
    case 'byRegexp': {
      const re = typeof opts === 'string' ? toRegExp(opts) : null;
      return !!re && (re.test(baseName) || re.test(field.name));
    }
    case 'byFrameRefID':
      return typeof opts === 'string' && opts === field.refId;
    case 'byType':
      return opts === field.type;
    case 'byValue': {
      const o = (opts ?? {}) as { reducer?: string; op?: string; value?: number };
      if (field.type !== 'number') return false;
      const v = o.reducer ? reduceValues(field.values as (number | null)[], o.reducer, field.times) : allValuesReduced();
      if (v === null || Number.isNaN(v)) return false;
      const t = Number(o.value ?? 0);
      switch (o.op) {
        case 'gt':
          return v > t;
        case 'gte':
          return v >= t;
        case 'lt':
          return v < t;
        case 'lte':
          return v <= t;
        case 'eq':
          return v === t;
        case 'ne':
          return v !== t;
        default:
          return false;
      }
    }
    default:
      return false;
  }
}

/** Sets `config[id]` for an override property id (`unit`, `custom.width`, `color`, …). */
function setProperty(config: FieldConfig, id: string, value: unknown) {
  const path = id.split('.');
  let obj = config as Record<string, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    const next = obj[k];
    obj[k] = next && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    obj = obj[k] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (value === undefined) delete obj[last];
  else obj[last] = value;
}

/** Resolves one field's config (defaults ← type defaults, then matching overrides in order). */
export function resolveField(panel: GrafanaPanel, field: DataField, index: number, opts: ResolveOptions = {}): ResolvedField {
  const { defaults, overrides } = panelFieldConfig(panel);
  const config: FieldConfig = {
    ...(opts.typeDefaults ?? {}),
    ...defaults,
    custom: { ...((opts.typeDefaults?.custom as Record<string, unknown>) ?? {}), ...((defaults.custom as Record<string, unknown>) ?? {}) },
  };
  const baseName = defaultDisplayName(field);
  for (const o of overrides) {
    if (!o || !o.matcher || !Array.isArray(o.properties)) continue;
    if (!matches(o.matcher, field, baseName, () => reduceValues(field.values as (number | null)[], 'lastNotNull'))) continue;
    for (const p of o.properties) if (p && typeof p.id === 'string') setProperty(config, p.id, p.value);
  }
  const displayName = config.displayName ? renderDisplayName(String(config.displayName), field, opts.interpolate) : baseName;
  let thresholds: Thresholds;
  const t = config.thresholds as unknown;
  if (Array.isArray(t)) thresholds = { mode: 'absolute', steps: t as Threshold[] };
  else if (t && typeof t === 'object' && Array.isArray((t as Thresholds).steps)) {
    thresholds = { mode: (t as Thresholds).mode === 'percentage' ? 'percentage' : 'absolute', steps: (t as Thresholds).steps };
  } else thresholds = DEFAULT_THRESHOLDS;
  const colorMode = config.color?.mode ?? opts.defaultColorMode ?? 'palette-classic';
  return { field, config, displayName, thresholds, colorMode, index };
}

/** Resolves every field of the panel's data. */
export function resolveFields(panel: GrafanaPanel, fields: DataField[], opts: ResolveOptions = {}): ResolvedField[] {
  return fields.map((f, i) => resolveField(panel, f, i, opts));
}

/** True when an override or `custom.hideFrom.viz` hides the field from the visualisation. */
export function isHidden(r: ResolvedField): boolean {
  const hideFrom = (r.config.custom as Record<string, unknown> | undefined)?.hideFrom as { viz?: boolean } | undefined;
  return !!hideFrom?.viz;
}

/** The name a field has without a displayName: its own name, else its labels, else the refId. */
function defaultDisplayName(field: DataField): string {
  if (field.name) return field.name;
  const l = formatLabels(field.labels);
  return l || field.refId || 'Value';
}

/** `{job="api", instance="x"}` style label text (without `__name__`). */
export function formatLabels(labels: Record<string, string>, withBraces = true): string {
  const name = labels.__name__ ?? '';
  const parts = Object.entries(labels)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}="${v}"`);
  if (!parts.length) return name;
  return withBraces ? `${name}{${parts.join(', ')}}` : parts.join(', ');
}

/** Applies `${__field.labels.x}`, `${__field.name}`, `${__series.name}` … and dashboard variables. */
export function renderDisplayName(template: string, field: DataField, interpolate?: (s: string) => string): string {
  const out = template.replace(/\$\{(__field|__series|__data\.fields)\.?([^}]*)\}/g, (all, scope: string, rest: string) => {
    if (scope === '__series') return rest === 'name' ? field.frameName ?? field.name : all;
    if (scope === '__field') {
      if (rest === 'name' || rest === 'displayName') return field.name;
      if (rest === 'labels') return formatLabels(field.labels, false);
      if (rest === 'labels.__values') return Object.values(field.labels).join(', ');
      if (rest.startsWith('labels.')) return field.labels[rest.slice(7)] ?? '';
    }
    return all;
  });
  return interpolate ? interpolate(out) : out;
}

// ---- display --------------------------------------------------------------------------------

/** What a panel shows for one value: formatted text, colour and the value's place in min..max. */
export interface DisplayValue extends FormattedValue {
  numeric: number;
  color: string;
  /** Title (field display name, or row name for `values: true`). */
  title: string;
  /** Text after a value mapping, if one applied. */
  mapped?: boolean;
  /** (value - min) / (max - min), clamped to [0, 1]. */
  percent: number;
}

/** Formats one value of a resolved field (mappings first, then unit/decimals; colour by mode). */
export function displayValue(
  value: unknown,
  r: ResolvedField,
  range: { min: number; max: number },
  timeZone?: TimeZone,
): DisplayValue {
  const cfg = r.config;
  const num = toNumber(value);
  const numeric = num === null ? NaN : num;
  const mapping = applyMappings(value, cfg.mappings);
  const pct = range.max === range.min ? 1 : (numeric - range.min) / (range.max - range.min);
  const percent = Number.isFinite(pct) ? Math.max(0, Math.min(1, pct)) : 0;
  let color = colorFor(numeric, r, range, percent);
  if (mapping?.color) color = resolveColor(mapping.color);
  let f: FormattedValue;
  if (mapping?.text !== undefined && mapping.text !== '') f = { text: mapping.text };
  else if (value === null || value === undefined || (typeof value === 'string' && value === '')) f = { text: String(cfg.noValue ?? 'No data') };
  else if (num === null || (typeof value === 'string' && r.field.type !== 'number')) f = { text: String(value) };
  else f = formatValue(num, cfg.unit, cfg.decimals, timeZone);
  return { ...f, numeric, color, title: r.displayName, mapped: !!mapping?.text, percent };
}

/** The colour for a value by the field's colour mode. */
export function colorFor(value: number, r: ResolvedField, range: { min: number; max: number }, percent?: number): string {
  const mode = r.colorMode;
  const cfg = r.config;
  if (mode === 'fixed' || mode === 'shades') return resolveColor(cfg.color?.fixedColor, NAMED_COLORS.green);
  if (mode === 'thresholds') return Number.isNaN(value) ? resolveColor(sortedSteps(r.thresholds)[0]?.color, NAMED_COLORS.green) : thresholdColor(value, r.thresholds, range.min, range.max);
  if (mode === 'palette-classic-by-name') return paletteColorByName(r.displayName);
  if (mode.startsWith('continuous-')) {
    const stops = CONTINUOUS[mode] ?? CONTINUOUS['continuous-GrYlRd'];
    const p = percent ?? (range.max === range.min ? 1 : (value - range.min) / (range.max - range.min));
    return interpolateColors(stops, p);
  }
  return paletteColor(r.index);
}

/** The colour of a whole series (charts, legends, pie slices). */
export function seriesColor(r: ResolvedField, lastValue?: number | null): string {
  if (r.colorMode === 'thresholds' && lastValue !== undefined && lastValue !== null) {
    return thresholdColor(lastValue, r.thresholds, r.config.min ?? 0, r.config.max ?? 100);
  }
  if (r.colorMode === 'thresholds') return resolveColor(sortedSteps(r.thresholds)[0]?.color, NAMED_COLORS.green);
  return colorFor(lastValue ?? 0, r, { min: r.config.min ?? 0, max: r.config.max ?? 100 }, 1);
}

/** min/max for gauges and percentage thresholds: config, else the data's (0 included), unit-aware. */
export function fieldRange(r: ResolvedField, all: ResolvedField[]): { min: number; max: number } {
  let min = numOrNull(r.config.min);
  let max = numOrNull(r.config.max);
  if (min === null || max === null) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const o of all) {
      if (o.field.type !== 'number') continue;
      for (const v of o.field.values) {
        const n = typeof v === 'number' ? v : toNumber(v);
        if (n === null || !Number.isFinite(n)) continue;
        if (n < lo) lo = n;
        if (n > hi) hi = n;
      }
    }
    const unit = r.config.unit;
    if (min === null) min = unit === 'percent' || unit === 'percentunit' ? 0 : Number.isFinite(lo) ? Math.min(0, lo) : 0;
    if (max === null) {
      if (unit === 'percent') max = 100;
      else if (unit === 'percentunit') max = 1;
      else max = Number.isFinite(hi) ? hi : 100;
    }
  }
  if (max <= min) max = min + (Math.abs(min) || 1);
  return { min, max };
}

// ---- reducers -------------------------------------------------------------------------------

/** Human names for reducer ids (legends, table headers). */
export const REDUCER_NAMES: Record<string, string> = {
  lastNotNull: 'Last *',
  last: 'Last',
  firstNotNull: 'First *',
  first: 'First',
  mean: 'Mean',
  max: 'Max',
  min: 'Min',
  sum: 'Total',
  count: 'Count',
  range: 'Range',
  delta: 'Delta',
  diff: 'Difference',
  diffperc: 'Difference %',
  median: 'Median',
  stdDev: 'StdDev',
  variance: 'Variance',
  logmin: 'Min (above zero)',
  changeCount: 'Change count',
  distinctCount: 'Distinct count',
  allIsZero: 'All zeros',
  allIsNull: 'All nulls',
  step: 'Step',
};

/** Legacy singlestat/graph names for the same reducers. */
const REDUCER_ALIASES: Record<string, string> = {
  current: 'lastNotNull',
  avg: 'mean',
  total: 'sum',
  average: 'mean',
  last_time: 'last',
  first_not_null: 'firstNotNull',
};

export function reducerId(id: string): string {
  return REDUCER_ALIASES[id] ?? id;
}

/** Reduces values with one of Grafana's calcs (`lastNotNull`, `mean`, `p95`, …); null when empty. */
export function reduceValues(values: (number | null | unknown)[], calc: string, times?: number[]): number | null {
  const id = reducerId(calc);
  const nums: number[] = [];
  for (const v of values) {
    const n = typeof v === 'number' ? v : toNumber(v);
    if (n !== null && !Number.isNaN(n)) nums.push(n);
  }
  const pm = /^p(\d{1,2}(?:\.\d+)?)$/.exec(id);
  if (pm) return percentile(nums, Number(pm[1]));
  switch (id) {
    case 'last':
      return values.length ? toNumber(values[values.length - 1]) : null;
    case 'first':
      return values.length ? toNumber(values[0]) : null;
    case 'lastNotNull':
      return nums.length ? nums[nums.length - 1] : null;
    case 'firstNotNull':
      return nums.length ? nums[0] : null;
    case 'mean':
      return nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null;
    case 'max':
      return nums.length ? nums.reduce((a, b) => (b > a ? b : a), -Infinity) : null;
    case 'min':
      return nums.length ? nums.reduce((a, b) => (b < a ? b : a), Infinity) : null;
    case 'logmin': {
      const pos = nums.filter((n) => n > 0);
      return pos.length ? Math.min(...pos) : null;
    }
    case 'sum':
      return nums.length ? nums.reduce((a, b) => a + b, 0) : null;
    case 'count':
      return values.length;
    case 'range':
      return nums.length ? Math.max(...nums) - Math.min(...nums) : null;
    case 'delta': {
      // Sum of increases, counter resets counted from zero (Grafana's delta).
      if (!nums.length) return null;
      let d = 0;
      for (let i = 1; i < nums.length; i++) {
        const step = nums[i] - nums[i - 1];
        d += step >= 0 ? step : nums[i];
      }
      return d;
    }
    case 'diff':
      return nums.length ? nums[nums.length - 1] - nums[0] : null;
    case 'diffperc':
      return nums.length && nums[0] !== 0 ? (nums[nums.length - 1] - nums[0]) / nums[0] : null;
    case 'median':
      return percentile(nums, 50);
    case 'variance':
    case 'stdDev': {
      if (!nums.length) return null;
      const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
      const v = nums.reduce((a, b) => a + (b - mean) * (b - mean), 0) / nums.length;
      return id === 'variance' ? v : Math.sqrt(v);
    }
    case 'changeCount': {
      let c = 0;
      for (let i = 1; i < nums.length; i++) if (nums[i] !== nums[i - 1]) c++;
      return c;
    }
    case 'distinctCount':
      return new Set(nums).size;
    case 'allIsZero':
      return nums.length && nums.every((n) => n === 0) ? 1 : 0;
    case 'allIsNull':
      return nums.length === 0 ? 1 : 0;
    case 'step': {
      if (!times || times.length < 2) return null;
      let s = Infinity;
      for (let i = 1; i < times.length; i++) s = Math.min(s, times[i] - times[i - 1]);
      return Number.isFinite(s) ? s : null;
    }
    default:
      return nums.length ? nums[nums.length - 1] : null;
  }
}

function percentile(nums: number[], p: number): number | null {
  if (!nums.length) return null;
  const sorted = [...nums].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.floor((p / 100) * sorted.length)));
  if (p === 50 && sorted.length % 2 === 0) return (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return sorted[idx];
}

// ---- reduceOptions → the values a stat/gauge/bar gauge/pie shows -----------------------------

export interface ReduceOptions {
  values: boolean;
  calcs: string[];
  fields: string;
  limit?: number;
}

/** `options.reduceOptions` (or Grafana 6's `options.fieldOptions`), with Grafana's defaults. */
export function reduceOptions(panel: GrafanaPanel): ReduceOptions {
  const o = (panel.options ?? {}) as Record<string, unknown>;
  const ro = (o.reduceOptions ?? o.fieldOptions ?? {}) as Partial<ReduceOptions>;
  const calcs = Array.isArray(ro.calcs) && ro.calcs.length ? ro.calcs.map(String) : ['lastNotNull'];
  return { values: !!ro.values, calcs, fields: typeof ro.fields === 'string' ? ro.fields : '', limit: typeof ro.limit === 'number' ? ro.limit : undefined };
}

/** One value a stat-like panel draws, with its field and (for sparklines) the field's points. */
export interface FieldDisplay {
  display: DisplayValue;
  resolved: ResolvedField;
  /** The reducer that produced the value (`values: true` → 'row'). */
  calc: string;
  range: { min: number; max: number };
  sparkline?: { times: number[]; values: (number | null)[] };
}

/**
 * Grafana's getFieldDisplayValues: picks the fields (`reduceOptions.fields`: '' = numeric,
 * `/regex/` or a name), reduces each with every calc (or lists every row with `values: true`),
 * and formats the result with units, mappings and colours.
 */
export function fieldDisplayValues(
  panel: GrafanaPanel,
  data: PanelData,
  opts: ResolveOptions & { timeZone?: TimeZone } = {},
): FieldDisplay[] {
  const ro = reduceOptions(panel);
  const all = dataFields(data, { includeNonNumeric: true });
  const resolvedAll = resolveFields(panel, all, { defaultColorMode: 'thresholds', ...opts });
  const numeric = resolvedAll.filter((r) => r.field.type === 'number');
  let chosen = numeric;
  if (ro.fields && ro.fields !== 'numeric') {
    const re = ro.fields.startsWith('/') ? toRegExp(ro.fields) : null;
    chosen = resolvedAll.filter((r) => (re ? re.test(r.displayName) || re.test(r.field.name) : r.field.name === ro.fields || r.displayName === ro.fields));
  }
  chosen = chosen.filter((r) => !isHidden(r));
  const out: FieldDisplay[] = [];
  const limit = ro.limit ?? (ro.values ? 5000 : Infinity);
  for (const r of chosen) {
    const range = fieldRange(r, numeric);
    if (ro.values) {
      // One value per row; the title names the row by the table's string columns or the time.
      const stringCols = r.field.source.kind === 'table' ? resolvedAll.filter((o) => o.field.source.kind === 'table' && o.field.source.index === (r.field.source as { index: number }).index && o.field.type === 'string') : [];
      for (let i = 0; i < r.field.values.length && out.length < limit; i++) {
        const d = displayValue(r.field.values[i], r, range, opts.timeZone);
        const rowName = stringCols.map((c) => String(c.field.values[i] ?? '')).filter(Boolean).join(' ');
        if (rowName) d.title = chosen.length > 1 ? `${rowName} ${r.displayName}` : rowName;
        else if (r.field.times?.[i] !== undefined && r.field.source.kind === 'series') d.title = r.displayName;
        out.push({ display: d, resolved: r, calc: 'row', range });
      }
      continue;
    }
    for (const calc of ro.calcs) {
      if (out.length >= limit) break;
      const v = reduceValues(r.field.values, calc, r.field.times);
      const d = displayValue(v, r, range, opts.timeZone);
      if (ro.calcs.length > 1) d.title = `${r.displayName} ${REDUCER_NAMES[reducerId(calc)] ?? calc}`;
      out.push({
        display: d,
        resolved: r,
        calc,
        range,
        sparkline: r.field.times ? { times: r.field.times, values: r.field.values as (number | null)[] } : undefined,
      });
    }
  }
  return out;
}
