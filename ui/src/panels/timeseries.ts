/**
 * Time series panels — Grafana's `timeseries` and the legacy `graph` (migrated to the same
 * options, as Grafana does): series joined on one time axis and drawn by uPlot on one canvas
 * (lines, bars, points; fill and gradients; interpolation; gaps for nulls; stacking normal/percent
 * per group; left/right/hidden axes per unit; log scales; soft/hard min/max; threshold lines and
 * areas), with the legend, tooltip, zoom and shared crosshair of the chart core.
 */
import uPlot from 'uplot';
import { formatted, formatValue } from '../lib/units';
import {
  resolveColor,
  resolveField,
  seriesColor,
  sortedSteps,
  withAlpha,
  type DataField,
  type ResolvedField,
  type Thresholds,
} from '../lib/fieldconfig';
import type { TimeZone } from '../lib/time';
import { ChartFrame, formatTooltipTime, timeAxis, tooltipTable, tzOptions, valueAxis } from './chart';
import { applyLegendClick, calcUnit, legendOptions, reduce, renderLegend, type LegendItem, type LegendOptions } from './legend';
import { register } from './registry';
import type { Annotation, FieldConfig, FieldOverride, GrafanaPanel, PanelContext, PanelData, PanelRenderer, Series } from './types';

// ---- options --------------------------------------------------------------------------------

/** `fieldConfig.defaults.custom` of a time series panel (Grafana's GraphFieldConfig). */
export interface GraphCustom {
  drawStyle?: 'line' | 'bars' | 'points';
  lineWidth?: number;
  fillOpacity?: number;
  gradientMode?: 'none' | 'opacity' | 'hue' | 'scheme';
  lineInterpolation?: 'linear' | 'smooth' | 'stepBefore' | 'stepAfter';
  lineStyle?: { fill?: 'solid' | 'dash' | 'dot' | 'square'; dash?: number[] };
  showPoints?: 'auto' | 'always' | 'never';
  pointSize?: number;
  spanNulls?: boolean | number;
  stacking?: { mode?: 'none' | 'normal' | 'percent'; group?: string };
  axisPlacement?: 'auto' | 'left' | 'right' | 'hidden';
  axisLabel?: string;
  axisSoftMin?: number;
  axisSoftMax?: number;
  axisCenteredZero?: boolean;
  axisGridShow?: boolean;
  scaleDistribution?: { type?: 'linear' | 'log' | 'symlog' | 'ordinal'; log?: number; linearThreshold?: number };
  thresholdsStyle?: { mode?: 'off' | 'line' | 'area' | 'line+area' | 'dashed' | 'dashed+area' | 'series' };
  hideFrom?: { legend?: boolean; tooltip?: boolean; viz?: boolean };
  transform?: 'constant' | 'negative-Y';
  barAlignment?: -1 | 0 | 1;
  barWidthFactor?: number;
  /** pharos: `nullPointMode: "null as zero"` of a legacy graph. */
  nullAsZero?: boolean;
  /** Fill the area between this series and the named one (Grafana's `fillBelowTo`). */
  fillBelowTo?: string;
}

/** Grafana's timeseries plugin defaults (what a panel without `custom` gets). */
const TYPE_DEFAULTS: FieldConfig = {
  custom: {
    drawStyle: 'line',
    lineInterpolation: 'linear',
    lineWidth: 1,
    fillOpacity: 0,
    gradientMode: 'none',
    showPoints: 'auto',
    pointSize: 5,
    spanNulls: false,
    stacking: { mode: 'none', group: 'A' },
    axisPlacement: 'auto',
    barAlignment: 0,
    thresholdsStyle: { mode: 'off' },
  },
};

interface TooltipOptions {
  mode: 'single' | 'multi' | 'none';
  sort: 'none' | 'asc' | 'desc';
}

/** A panel as the renderer reads it: field config, legend and tooltip (legacy graphs migrated). */
interface PanelModel {
  panel: GrafanaPanel;
  legend: LegendOptions;
  tooltip: TooltipOptions;
}

function num(v: unknown): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function tooltipOptions(o: Record<string, unknown>): TooltipOptions {
  const t = (o.tooltip ?? o.tooltipOptions ?? {}) as Record<string, unknown>;
  const mode = t.mode === 'multi' || t.mode === 'none' ? t.mode : 'single';
  const sort = t.sort === 'asc' || t.sort === 'desc' ? t.sort : 'none';
  return { mode, sort };
}

/** Reads a timeseries panel, or migrates a legacy `graph` panel the way Grafana's auto-migration does. */
export function panelModel(panel: GrafanaPanel): PanelModel {
  if (panel.type === 'graph') return migrateGraph(panel);
  const o = (panel.options ?? {}) as Record<string, unknown>;
  return { panel, legend: legendOptions(o.legend), tooltip: tooltipOptions(o) };
}

type LegacyYAxis = { format?: string; min?: unknown; max?: unknown; logBase?: number; show?: boolean; label?: string; decimals?: number };
type LegacyOverride = {
  alias?: string;
  color?: string;
  yaxis?: number;
  fill?: number;
  fillBelowTo?: string;
  lines?: boolean;
  linewidth?: number;
  bars?: boolean;
  points?: boolean;
  pointradius?: number;
  stack?: boolean | string;
  dashes?: boolean;
  dashLength?: number;
  spaceLength?: number;
  transform?: string;
  legend?: boolean;
  hiddenSeries?: boolean;
  steppedLine?: boolean;
  nullPointMode?: string;
};
type LegacyThreshold = { value?: number; op?: 'gt' | 'lt'; colorMode?: string; fill?: boolean; line?: boolean; fillColor?: string; lineColor?: string };

const LEGACY_THRESHOLD_COLORS: Record<string, string> = { critical: 'red', warning: 'orange', ok: 'green' };

/** Legacy graph → timeseries options (Grafana's graphPanelChangedHandler, the parts that matter). */
export function migrateGraph(panel: GrafanaPanel): PanelModel {
  const p = panel as GrafanaPanel & Record<string, unknown>;
  const bars = p.bars === true;
  const lines = p.lines !== false;
  const points = p.points === true;
  const yaxes = (Array.isArray(p.yaxes) ? p.yaxes : []) as LegacyYAxis[];
  const y1 = yaxes[0] ?? {};
  const y2 = yaxes[1] ?? {};
  const stackMode = p.stack ? (p.percentage ? 'percent' : 'normal') : 'none';
  const custom: GraphCustom = {
    drawStyle: bars ? 'bars' : lines ? 'line' : points ? 'points' : 'line',
    lineWidth: num(p.linewidth) ?? 1,
    fillOpacity: lines || bars ? Math.max(0, Math.min(100, (num(p.fill) ?? 1) * 10)) : 0,
    gradientMode: num(p.fillGradient) ? 'opacity' : 'none',
    lineInterpolation: p.steppedLine ? 'stepAfter' : 'linear',
    showPoints: points ? 'always' : 'never',
    pointSize: (num(p.pointradius) ?? 2) * 2 + 1,
    spanNulls: p.nullPointMode === 'connected',
    nullAsZero: p.nullPointMode === 'null as zero',
    stacking: { mode: stackMode, group: 'A' },
    axisPlacement: y1.show === false ? 'hidden' : 'auto',
    axisLabel: y1.label || undefined,
    scaleDistribution: (num(y1.logBase) ?? 1) > 1 ? { type: 'log', log: num(y1.logBase) } : { type: 'linear' },
    barAlignment: 0,
  };
  if (p.dashes) custom.lineStyle = { fill: 'dash', dash: [num(p.dashLength) ?? 10, num(p.spaceLength) ?? 10] };
  const defaults: FieldConfig = {
    ...(panel.fieldConfig?.defaults ?? {}),
    custom: { ...custom },
  };
  if (y1.format) defaults.unit = y1.format;
  if (num(y1.min) !== undefined) defaults.min = num(y1.min);
  if (num(y1.max) !== undefined) defaults.max = num(y1.max);
  const decimals = num(p.decimals) ?? num(y1.decimals);
  if (decimals !== undefined) defaults.decimals = decimals;

  // Legacy thresholds: drawn as line/area with the same colours.
  const legacyThresholds = (Array.isArray(p.thresholds) ? p.thresholds : []) as LegacyThreshold[];
  if (legacyThresholds.length) {
    const steps: { value: number | null; color: string }[] = [{ value: null, color: 'transparent' }];
    for (const t of legacyThresholds) {
      if (num(t.value) === undefined) continue;
      const color = t.colorMode === 'custom' ? t.lineColor || t.fillColor || 'red' : LEGACY_THRESHOLD_COLORS[t.colorMode ?? 'critical'] ?? 'red';
      if (t.op === 'lt') {
        // "below X is bad": the band under the value gets the colour.
        steps[0] = { value: null, color };
        steps.push({ value: num(t.value) as number, color: 'transparent' });
      } else steps.push({ value: num(t.value) as number, color });
    }
    defaults.thresholds = { mode: 'absolute', steps };
    const anyFill = legacyThresholds.some((t) => t.fill !== false);
    const anyLine = legacyThresholds.some((t) => t.line !== false);
    (defaults.custom as GraphCustom).thresholdsStyle = { mode: anyFill && anyLine ? 'line+area' : anyFill ? 'area' : 'line' };
  }

  const overrides: FieldOverride[] = [...(panel.fieldConfig?.overrides ?? [])];
  const aliasColors = (p.aliasColors ?? {}) as Record<string, string>;
  for (const [name, color] of Object.entries(aliasColors)) {
    if (typeof color === 'string') overrides.push({ matcher: { id: 'byName', options: name }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }] });
  }
  for (const so of (Array.isArray(p.seriesOverrides) ? p.seriesOverrides : []) as LegacyOverride[]) {
    if (!so || typeof so.alias !== 'string') continue;
    const isRegex = /^\/.*\/[a-z]*$/.test(so.alias);
    const props: { id: string; value?: unknown }[] = [];
    if (so.color) props.push({ id: 'color', value: { mode: 'fixed', fixedColor: so.color } });
    if (so.yaxis === 2) {
      props.push({ id: 'custom.axisPlacement', value: 'right' });
      if (y2.format) props.push({ id: 'unit', value: y2.format });
      if (num(y2.min) !== undefined) props.push({ id: 'min', value: num(y2.min) });
      if (num(y2.max) !== undefined) props.push({ id: 'max', value: num(y2.max) });
      if ((num(y2.logBase) ?? 1) > 1) props.push({ id: 'custom.scaleDistribution', value: { type: 'log', log: num(y2.logBase) } });
      if (y2.label) props.push({ id: 'custom.axisLabel', value: y2.label });
    }
    if (so.fill !== undefined) props.push({ id: 'custom.fillOpacity', value: Math.max(0, Math.min(100, so.fill * 10)) });
    if (so.lines === false && !so.bars) props.push({ id: 'custom.drawStyle', value: so.points ? 'points' : 'line' }, { id: 'custom.lineWidth', value: so.points ? 1 : 0 });
    if (so.linewidth !== undefined) props.push({ id: 'custom.lineWidth', value: so.linewidth });
    if (so.bars === true) props.push({ id: 'custom.drawStyle', value: 'bars' });
    if (so.bars === false && so.lines !== false && bars) props.push({ id: 'custom.drawStyle', value: 'line' });
    if (so.points !== undefined) props.push({ id: 'custom.showPoints', value: so.points ? 'always' : 'never' });
    if (so.pointradius !== undefined) props.push({ id: 'custom.pointSize', value: so.pointradius * 2 + 1 });
    if (so.stack === false) props.push({ id: 'custom.stacking', value: { mode: 'none', group: 'A' } });
    else if (so.stack === true || typeof so.stack === 'string') props.push({ id: 'custom.stacking', value: { mode: p.percentage ? 'percent' : 'normal', group: typeof so.stack === 'string' ? so.stack : 'A' } });
    if (so.dashes) props.push({ id: 'custom.lineStyle', value: { fill: 'dash', dash: [so.dashLength ?? 10, so.spaceLength ?? 10] } });
    if (so.transform === 'negative-Y') props.push({ id: 'custom.transform', value: 'negative-Y' });
    if (typeof so.fillBelowTo === 'string' && so.fillBelowTo) props.push({ id: 'custom.fillBelowTo', value: so.fillBelowTo });
    if (so.steppedLine !== undefined) props.push({ id: 'custom.lineInterpolation', value: so.steppedLine ? 'stepAfter' : 'linear' });
    if (so.nullPointMode === 'connected') props.push({ id: 'custom.spanNulls', value: true });
    const hideFrom: GraphCustom['hideFrom'] = {};
    if (so.legend === false) hideFrom.legend = true;
    if (so.hiddenSeries) hideFrom.viz = true;
    if (hideFrom.legend || hideFrom.viz) props.push({ id: 'custom.hideFrom', value: { legend: !!hideFrom.legend, tooltip: false, viz: !!hideFrom.viz } });
    if (props.length) overrides.push({ matcher: isRegex ? { id: 'byRegexp', options: so.alias } : { id: 'byName', options: so.alias }, properties: props });
  }

  const lg = (p.legend ?? {}) as Record<string, unknown>;
  const calcs: string[] = [];
  if (lg.values) {
    if (lg.min) calcs.push('min');
    if (lg.max) calcs.push('max');
    if (lg.avg) calcs.push('mean');
    if (lg.current) calcs.push('lastNotNull');
    if (lg.total) calcs.push('sum');
  }
  const sortNames: Record<string, string> = { min: 'Min', max: 'Max', avg: 'Mean', current: 'Last *', total: 'Total' };
  const legend: LegendOptions = {
    show: lg.show !== false,
    displayMode: lg.alignAsTable ? 'table' : 'list',
    placement: lg.rightSide ? 'right' : 'bottom',
    calcs,
    sortBy: typeof lg.sort === 'string' ? sortNames[lg.sort] : undefined,
    sortDesc: lg.sortDesc === true,
    width: num(lg.sideWidth),
    hideEmpty: lg.hideEmpty === true,
    hideZero: lg.hideZero === true,
  };
  const tt = (p.tooltip ?? {}) as Record<string, unknown>;
  const tooltip: TooltipOptions = {
    mode: tt.shared === false ? 'single' : 'multi',
    sort: tt.sort === 1 ? 'asc' : tt.sort === 2 ? 'desc' : 'none',
  };
  const migrated: GrafanaPanel = { ...panel, type: 'timeseries', fieldConfig: { defaults, overrides } };
  return { panel: migrated, legend, tooltip };
}

// ---- data -----------------------------------------------------------------------------------

/**
 * Inserts a null one step after a missing sample so the line breaks there, as Grafana does for
 * Prometheus range results (the step is the series' smallest spacing).
 */
export function withGaps(times: number[], values: (number | null)[]): { times: number[]; values: (number | null)[] } {
  if (times.length < 3) return { times, values };
  let step = Infinity;
  for (let i = 1; i < times.length; i++) {
    const d = times[i] - times[i - 1];
    if (d > 0 && d < step) step = d;
  }
  if (!Number.isFinite(step)) return { times, values };
  let gaps = 0;
  for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > step * 1.5) gaps++;
  if (!gaps) return { times, values };
  const t2: number[] = [];
  const v2: (number | null)[] = [];
  for (let i = 0; i < times.length; i++) {
    if (i > 0 && times[i] - times[i - 1] > step * 1.5) {
      t2.push(times[i - 1] + step);
      v2.push(null);
    }
    t2.push(times[i]);
    v2.push(values[i]);
  }
  return { times: t2, values: v2 };
}

/**
 * Joins series on one x axis: the union of their times. A series without a sample at a time
 * gets `undefined` there (uPlot draws across it); explicit nulls stay null (a gap).
 */
export function joinSeries(list: { times: number[]; values: (number | null)[] }[]): { x: number[]; ys: (number | null | undefined)[][] } {
  if (!list.length) return { x: [], ys: [] };
  const first = list[0].times;
  const same = list.every((s) => s.times.length === first.length && s.times.every((t, i) => t === first[i]));
  if (same) return { x: first, ys: list.map((s) => s.values) };
  const all = new Set<number>();
  for (const s of list) for (const t of s.times) all.add(t);
  const x = [...all].sort((a, b) => a - b);
  const ys = list.map((s) => {
    const out: (number | null | undefined)[] = new Array(x.length);
    let j = 0;
    for (let i = 0; i < x.length; i++) {
      while (j < s.times.length && s.times[j] < x[i]) j++;
      out[i] = j < s.times.length && s.times[j] === x[i] ? s.values[j] : undefined;
    }
    return out;
  });
  return { x, ys };
}

/**
 * The series a chart draws: the data's series, or — when a query answered with tables (SQL-like
 * or Elasticsearch rows) — each numeric column of a table that has a time column, named by the
 * column and the row's string columns (Grafana's "long to wide" for time series panels).
 */
export function seriesOf(data: PanelData): Series[] {
  const out = data.series.filter((s) => s.times.length > 0);
  if (out.length || !data.tables?.length) return out;
  for (const t of data.tables) {
    const timeCol = t.columns.findIndex((c) => c.type === 'time' || /^(time|timestamp|@timestamp)$/i.test(c.name));
    if (timeCol < 0 || !t.rows.length) continue;
    const toMs = (v: unknown) => {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Date.parse(String(v));
      return Number.isFinite(n) ? (n < 1e11 ? n * 1000 : n) : NaN;
    };
    const numCols = t.columns
      .map((c, i) => ({ c, i }))
      .filter(({ c, i }) => i !== timeCol && c.type !== 'string' && c.type !== 'time' && t.rows.some((r) => typeof r[i] === 'number' || (typeof r[i] === 'string' && r[i] !== '' && Number.isFinite(Number(r[i])))));
    const strCols = t.columns.map((c, i) => ({ c, i })).filter(({ c, i }) => i !== timeCol && !numCols.some((n) => n.i === i) && c.type !== 'time');
    for (const { c, i } of numCols) {
      const groups = new Map<string, { labels: Record<string, string>; pts: [number, number | null][] }>();
      for (const r of t.rows) {
        const tm = toMs(r[timeCol]);
        if (!Number.isFinite(tm)) continue;
        const labels: Record<string, string> = {};
        for (const sc of strCols) labels[sc.c.name] = String(r[sc.i] ?? '');
        const key = JSON.stringify(labels);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { labels, pts: [] }));
        const v = r[i];
        const n = v === null || v === undefined || v === '' ? null : Number(v);
        g.pts.push([tm, n !== null && Number.isFinite(n) ? n : null]);
      }
      for (const g of groups.values()) {
        g.pts.sort((a, b) => a[0] - b[0]);
        const tag = Object.values(g.labels).filter(Boolean).join(' ');
        out.push({ refId: t.refId, name: tag ? (numCols.length > 1 ? `${tag} ${c.name}` : tag) : c.name, labels: g.labels, times: g.pts.map((p) => p[0]), values: g.pts.map((p) => p[1]) });
      }
    }
  }
  return out;
}

/** One series as the renderer draws it. */
interface DrawSeries {
  src: Series;
  r: ResolvedField;
  name: string;
  custom: GraphCustom;
  color: string;
  unit: string | undefined;
  decimals: number | undefined;
  scaleKey: string;
  /** Joined values as queried (tooltip and legend show these). */
  values: (number | null | undefined)[];
  /** Values as drawn (stacked, percent, negative-Y). */
  draw: (number | null | undefined)[];
  stackGroup: string | null;
  percent: boolean;
}

interface ScaleInfo {
  key: string;
  unit: string | undefined;
  decimals: number | undefined;
  placement: 'left' | 'right' | 'hidden';
  label?: string;
  min?: number;
  max?: number;
  softMin?: number;
  softMax?: number;
  log?: number;
  /** Symmetric log (uPlot's asinh) with this linear threshold. */
  symlog?: number;
  centeredZero?: boolean;
  percent: boolean;
  grid: boolean;
}

function clean(v: number | null | undefined): number | null | undefined {
  if (v === null || v === undefined) return v;
  return Number.isFinite(v) ? v : null;
}

/** Stacks the visible series of each group (positive and negative values stack separately, like Grafana). */
function applyStacking(list: DrawSeries[], len: number, hidden: Set<string>) {
  const groups = new Map<string, DrawSeries[]>();
  // Series hidden from the legend leave the stack (the others close the gap, as in Grafana).
  for (const s of list) if (s.stackGroup !== null && !hidden.has(s.name)) groups.set(s.stackGroup, [...(groups.get(s.stackGroup) ?? []), s]);
  for (const members of groups.values()) {
    const percent = members[0].percent;
    const totals = percent ? new Float64Array(len) : null;
    if (totals) for (const s of members) for (let i = 0; i < len; i++) totals[i] += Math.abs(s.draw[i] ?? 0);
    const pos = new Float64Array(len);
    const neg = new Float64Array(len);
    for (const s of members) {
      const out: (number | null | undefined)[] = new Array(len);
      for (let i = 0; i < len; i++) {
        const v = s.draw[i];
        if (v === null || v === undefined) {
          out[i] = v;
          continue;
        }
        const x = totals ? (totals[i] ? v / totals[i] : 0) : v;
        if (x >= 0) out[i] = pos[i] += x;
        else out[i] = neg[i] += x;
      }
      s.draw = out;
    }
  }
}

// ---- rendering ------------------------------------------------------------------------------

const pathCache = {
  linear: uPlot.paths.linear!(),
  smooth: uPlot.paths.spline!(),
  stepAfter: uPlot.paths.stepped!({ align: 1 }),
  stepBefore: uPlot.paths.stepped!({ align: -1 }),
};
const barPaths = new Map<string, uPlot.Series.PathBuilder>();
function barsPath(align: -1 | 0 | 1, factor: number): uPlot.Series.PathBuilder {
  const key = `${align}:${factor}`;
  let p = barPaths.get(key);
  if (!p) {
    p = uPlot.paths.bars!({ align, size: [factor, Infinity, 1] });
    barPaths.set(key, p);
  }
  return p;
}

/** Indices of samples with a gap (null) or the data's edge on both sides, when points are not all shown. */
function isolatedPoints(u: uPlot, si: number, show: boolean): number[] | null {
  if (show) return null;
  const d = u.data[si];
  const [i0, i1] = u.series[0].idxs ?? [0, d.length - 1];
  let out: number[] | null = null;
  for (let i = i0; i <= i1; i++) {
    if (d[i] === null || d[i] === undefined) continue;
    if ((i === 0 || d[i - 1] === null) && (i === d.length - 1 || d[i + 1] === null)) (out ??= []).push(i);
  }
  return out;
}

/** A vertical gradient from the series colour at `alpha` (top) to transparent (bottom). */
function opacityGradient(color: string, alpha: number) {
  return (u: uPlot) => {
    const g = u.ctx.createLinearGradient(0, u.bbox.top, 0, u.bbox.top + u.bbox.height);
    g.addColorStop(0, withAlpha(color, alpha));
    g.addColorStop(1, withAlpha(color, 0));
    return g;
  };
}

/** A gradient coloured by thresholds along the y scale (gradientMode "scheme" with thresholds colours). */
function thresholdGradient(thresholds: Thresholds, scaleKey: string, alpha: number, fallback: string) {
  return (u: uPlot) => {
    const steps = sortedSteps(thresholds);
    const top = u.bbox.top;
    const height = u.bbox.height;
    if (!steps.length || height <= 0) return withAlpha(fallback, alpha);
    const g = u.ctx.createLinearGradient(0, top + height, 0, top);
    let prevColor = withAlpha(resolveColor(steps[0].color), alpha);
    g.addColorStop(0, prevColor);
    for (const s of steps.slice(1)) {
      if (s.value === null) continue;
      const y = u.valToPos(Number(s.value), scaleKey, true);
      const t = Math.max(0, Math.min(1, (top + height - y) / height));
      const c = withAlpha(resolveColor(s.color), alpha);
      g.addColorStop(t, prevColor);
      g.addColorStop(t, c);
      prevColor = c;
    }
    g.addColorStop(1, prevColor);
    return g;
  };
}

/** Drops trailing zeros of a formatted number ("2.2500 s" → "2.25 s", "2.00" → "2"). */
function trimZeros(s: string): string {
  return s.replace(/\.(\d*?)0+(?=\D|$)/g, (_m, keep: string) => (keep ? `.${keep}` : ''));
}

/**
 * Tick labels that never round a tick to a wrong value: each tick gets the fewest decimals that
 * show it exactly, then ticks sharing a suffix share the largest of those (0.25 steps →
 * "1.25, 1.50, 1.75"; "200 ms … 1.2 s" keeps milliseconds whole).
 */
function tickFormatter(unit: string | undefined, fixedDecimals: number | undefined, tz: TimeZone) {
  return (splits: number[]): string[] => {
    if (fixedDecimals !== undefined) return splits.map((v) => formatted(v, unit, fixedDecimals, tz));
    const exact = splits.map((v) => {
      if (v === 0) return 0;
      for (let d = 0; d <= 6; d++) if (trimZeros(formatted(v, unit, d, tz)) === trimZeros(formatted(v, unit, d + 4, tz))) return d;
      return -1;
    });
    const suffix = (v: number) => formatValue(v, unit, 0, tz).suffix ?? '';
    const perSuffix = new Map<string, number>();
    splits.forEach((v, i) => {
      if (v === 0) return;
      const k = suffix(v);
      perSuffix.set(k, Math.max(perSuffix.get(k) ?? 0, exact[i]));
    });
    return splits.map((v, i) => {
      if (exact[i] < 0) return formatted(v, unit, undefined, tz);
      if (v === 0) return formatted(0, unit, 0, tz);
      return formatted(v, unit, perSuffix.get(suffix(v)) ?? 0, tz);
    });
  };
}

function scaleRange(s: ScaleInfo): uPlot.Scale['range'] {
  return (_u, dataMin, dataMax) => {
    let lo = dataMin;
    let hi = dataMax;
    if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi)) {
      lo = s.min ?? s.softMin ?? 0;
      hi = s.max ?? s.softMax ?? (s.percent ? 1 : lo + 1);
    }
    if (s.softMin !== undefined) lo = Math.min(lo, s.softMin);
    if (s.softMax !== undefined) hi = Math.max(hi, s.softMax);
    if (s.centeredZero) {
      const m = Math.max(Math.abs(lo), Math.abs(hi));
      lo = -m;
      hi = m;
    }
    if (s.log) {
      // A log axis has no 0: non-positive bounds (a `min: 0` in field config, a zero in the
      // data) fall back to a positive floor, as Grafana shows only the positive values; the
      // splits would otherwise start at log(0) and never end.
      const top = hi > 0 ? hi : 1;
      const floor = Math.max(top / 1e12, Math.min(1, top / 100));
      const min = s.min !== undefined && s.min > 0 ? s.min : undefined;
      const max = s.max !== undefined && s.max > 0 ? s.max : undefined;
      const [a, b] = uPlot.rangeLog(Math.max(lo > 0 ? lo : floor, top / 1e12), top, s.log as 10 | 2, true);
      const rmin = min ?? a ?? floor;
      const rmax = max ?? b ?? top;
      return rmax > rmin ? [rmin, rmax] : [rmin, rmin * (s.log as number)];
    }
    if (s.percent && s.min === undefined && s.max === undefined) return [Math.min(0, lo), Math.max(1, hi)];
    if (hi === lo) {
      const d = Math.abs(lo) || 1;
      lo -= d * 0.1;
      hi += d * 0.1;
    }
    const [a, b] = uPlot.rangeNum(lo, hi, { min: { pad: 0.05, soft: 0, mode: 3 }, max: { pad: 0.05, soft: 0, mode: 3 } });
    return [s.min ?? a ?? lo, s.max ?? b ?? hi];
  };
}

class TimeSeriesPanel implements PanelRenderer {
  private frame: ChartFrame;
  private hidden = new Set<string>();
  private data: PanelData | null = null;
  private panel: GrafanaPanel;
  private drawn: DrawSeries[] = [];
  private signature = '';
  /** True once the person clicked the legend (their choice then beats saved hideFrom.viz). */
  private legendTouched = false;
  /** Scales drawn on a right axis (their legend swatches are marked). */
  private rightScales = new Set<string>();

  constructor(
    private el: HTMLElement,
    panel: GrafanaPanel,
    private ctx: PanelContext,
  ) {
    this.panel = panel;
    this.frame = new ChartFrame(el, ctx, 'timeseries');
    this.frame.showMessage('loading', 'Loading');
  }

  annotate(list: Annotation[]) {
    this.frame.setAnnotations(list);
  }

  update(data: PanelData, panel: GrafanaPanel) {
    this.data = data;
    this.panel = panel;
    this.render();
  }

  resize() {
    this.frame.applySize();
  }

  destroy() {
    this.frame.destroy();
  }

  private render() {
    const data = this.data;
    if (!data) return;
    const model = panelModel(this.panel);
    const tz = this.ctx.timeZone;
    const drawable = seriesOf(data);
    const errors = data.errors ?? [];
    this.frame.setNotice(drawable.length && errors.length ? errors : []);
    if (!drawable.length) {
      this.el.dataset.seriesCount = '0';
      this.el.dataset.pointCount = '0';
      this.drawn = [];
      this.signature = '';
      if (errors.length) this.frame.showMessage('error', errors[0], errors.slice(1).join('\n') || undefined);
      else this.frame.showMessage('empty', 'No data');
      return;
    }

    // Resolve field config per series (defaults ← overrides), then drop series hidden from the viz.
    const resolved = drawable.map((s, i) => {
      const field: DataField = {
        name: s.name,
        labels: s.labels ?? {},
        refId: s.refId,
        type: 'number',
        values: s.values,
        times: s.times,
        frameName: s.name,
        source: { kind: 'series', index: i },
      };
      return { s, r: resolveField(model.panel, field, i, { defaultColorMode: 'palette-classic', interpolate: this.ctx.interpolate, typeDefaults: TYPE_DEFAULTS }) };
    });
    // `hideFrom.viz` (how Grafana saves a legend isolation) starts a series hidden; it stays in the
    // legend, greyed, so a click shows it again — until the person clicks, the saved state rules.
    const visible = resolved;
    if (!this.legendTouched) {
      for (const { r } of resolved) {
        const hf = (r.config.custom as GraphCustom | undefined)?.hideFrom;
        if (hf?.viz) this.hidden.add(r.displayName);
        else this.hidden.delete(r.displayName);
      }
    }
    const gapped = visible.map(({ s, r }) => {
      const custom = (r.config.custom ?? {}) as GraphCustom;
      const values = s.values.map((v) => {
        const c = clean(v);
        return custom.nullAsZero && (c === null || c === undefined) ? 0 : (c as number | null);
      });
      return custom.nullAsZero ? { times: s.times, values } : withGaps(s.times, values);
    });
    const { x, ys } = joinSeries(gapped);

    // Scales: one per unit (and per explicit placement), the first on the left, the next on the right.
    const scales = new Map<string, ScaleInfo>();
    const list: DrawSeries[] = visible.map(({ s, r }, i) => {
      const custom = (r.config.custom ?? {}) as GraphCustom;
      const stacking = custom.stacking?.mode && custom.stacking.mode !== 'none' ? custom.stacking : null;
      const percent = stacking?.mode === 'percent';
      const unit = percent ? 'percentunit' : (r.config.unit as string | undefined) || undefined;
      const dist = custom.scaleDistribution;
      const log = dist?.type === 'log' ? (dist.log === 2 ? 2 : 10) : undefined;
      const symlog = dist?.type === 'symlog' ? (num(dist.linearThreshold) ?? 1) || 1 : undefined;
      const placement = custom.axisPlacement ?? 'auto';
      const key = `y|${unit ?? ''}|${log ?? ''}|${symlog ?? ''}|${placement === 'right' ? 'r' : ''}`;
      if (!scales.has(key)) {
        scales.set(key, {
          key,
          unit,
          decimals: num(r.config.decimals),
          placement: placement === 'hidden' ? 'hidden' : placement === 'right' ? 'right' : placement === 'left' ? 'left' : scales.size === 0 ? 'left' : 'right',
          label: custom.axisLabel,
          min: percent ? undefined : num(r.config.min),
          max: percent ? undefined : num(r.config.max),
          softMin: num(custom.axisSoftMin),
          softMax: num(custom.axisSoftMax),
          log,
          symlog,
          centeredZero: custom.axisCenteredZero === true,
          percent,
          grid: custom.axisGridShow !== false,
        });
      }
      const values = ys[i];
      const neg = custom.transform === 'negative-Y';
      const lastValue = reduce(s.values, 'lastNotNull');
      return {
        src: s,
        r,
        name: r.displayName,
        custom,
        color: seriesColor(r, lastValue),
        unit: (r.config.unit as string | undefined) || undefined,
        decimals: num(r.config.decimals),
        scaleKey: key,
        values,
        draw: neg ? values.map((v) => (v === null || v === undefined ? v : -v)) : values,
        stackGroup: stacking ? `${stacking.group ?? 'A'}|${key}` : null,
        percent,
      };
    });
    const names = list.map((d) => d.name);
    for (const n of [...this.hidden]) if (!names.includes(n)) this.hidden.delete(n);
    applyStacking(list, x.length, this.hidden);
    this.drawn = list;
    this.rightScales = new Set([...scales.values()].filter((sc) => sc.placement === 'right').map((sc) => sc.key));

    const legend = model.legend;
    const placement = legend.show ? legend.placement : 'none';
    this.frame.setLegendPlacement(placement);

    this.updateCounts(list);

    this.renderLegend(model, list);

    const sig = JSON.stringify([
      names,
      list.map((d) => [d.color, d.custom, d.scaleKey, d.stackGroup]),
      [...scales.values()],
      model.tooltip,
      this.panel.fieldConfig?.defaults?.thresholds,
      tz,
    ]);
    const uData: uPlot.AlignedData = [x, ...list.map((d) => d.draw)] as uPlot.AlignedData;
    const range = data.range;
    const annotations = data.annotations;
    // Exemplars sit on the first y scale (the one of the first series), in its unit.
    const exScale = [...scales.values()][0];
    const exemplars = () => this.frame.setExemplars(data.exemplars ?? [], exScale?.key ?? 'y', (v) => formatted(v, exScale?.unit, exScale?.decimals, tz));
    if (this.frame.u && sig === this.signature) {
      this.xRange = [range.from, range.to];
      this.frame.u.setData(uData);
      this.frame.applySize();
      if (annotations) this.frame.setAnnotations(annotations);
      exemplars();
      return;
    }
    this.signature = sig;
    this.xRange = [range.from, range.to];
    this.mountPlot(model, list, [...scales.values()], uData, tz);
    if (annotations) this.frame.setAnnotations(annotations);
    exemplars();
  }

  private xRange: [number, number] = [0, 1];

  private mountPlot(model: PanelModel, list: DrawSeries[], scales: ScaleInfo[], data: uPlot.AlignedData, tz: TimeZone) {
    const uScales: uPlot.Scales = {
      x: { time: true, range: () => this.xRange },
    };
    const axes: uPlot.Axis[] = [timeAxis(tz)];
    let gridDone = false;
    for (const s of scales) {
      const distr = s.log ? { distr: 3, log: s.log as 10 | 2 } : s.symlog ? { distr: 4, asinh: s.symlog } : {};
      uScales[s.key] = { range: scaleRange(s), ...distr } as uPlot.Scale;
      const fmt = tickFormatter(s.unit, s.decimals, tz);
      const axis = valueAxis(s.key, s.placement === 'right' ? 1 : 3, (v) => fmt([v])[0], {
        show: s.placement !== 'hidden',
        label: s.label,
        grid: !gridDone && s.grid,
      });
      const firstVisible = !gridDone && s.placement !== 'hidden';
      axis.values = (_u, splits) => {
        const labels = fmt(splits);
        // The left axis' labels, readable by tests (the canvas is not).
        if (firstVisible) this.el.dataset.yTicks = labels.join('|');
        return labels;
      };
      axes.push(axis);
      if (s.placement !== 'hidden') gridDone = true;
    }

    const series: uPlot.Series[] = [{}];
    const bands: uPlot.Band[] = [];
    const lastInGroup = new Map<string, number>();
    list.forEach((d, i) => {
      const c = d.custom;
      const idx = i + 1;
      const width = c.lineWidth ?? 1;
      const style = c.drawStyle ?? 'line';
      const fillOpacity = (c.fillOpacity ?? 0) / 100;
      const gradient = c.gradientMode ?? 'none';
      let fill: uPlot.Series['fill'];
      if (gradient === 'scheme' && d.r.colorMode === 'thresholds') fill = thresholdGradient(d.r.thresholds, d.scaleKey, Math.max(fillOpacity, 0), d.color);
      else if (fillOpacity > 0) fill = gradient === 'opacity' || gradient === 'hue' ? opacityGradient(d.color, fillOpacity) : withAlpha(d.color, fillOpacity);
      else if (style === 'bars') fill = withAlpha(d.color, 0.8);
      let paths: uPlot.Series.PathBuilder | undefined;
      if (style === 'bars') paths = barsPath((c.barAlignment ?? 0) as -1 | 0 | 1, c.barWidthFactor ?? 0.6);
      else if (style === 'points') paths = () => null;
      else paths = pathCache[c.lineInterpolation ?? 'linear'] ?? pathCache.linear;
      const showPoints = style === 'points' ? true : c.showPoints === 'always' ? true : c.showPoints === 'never' ? false : undefined;
      let dash: number[] | undefined;
      if (c.lineStyle?.fill === 'dash') dash = c.lineStyle.dash ?? [10, 10];
      else if (c.lineStyle?.fill === 'dot') dash = c.lineStyle.dash ?? [0, 10];
      const spanNulls = c.spanNulls;
      const s: uPlot.Series = {
        label: d.name,
        scale: d.scaleKey,
        show: !this.hidden.has(d.name),
        stroke: gradient === 'scheme' && d.r.colorMode === 'thresholds' ? thresholdGradient(d.r.thresholds, d.scaleKey, 1, d.color) : d.color,
        width: style === 'points' ? 0 : width,
        fill,
        paths,
        dash,
        cap: c.lineStyle?.fill === 'dot' ? 'round' : undefined,
        spanGaps: spanNulls === true,
        points: {
          show: showPoints,
          // A sample between two gaps has no line to sit on: draw it as a dot (as Grafana does).
          filter: showPoints === true ? undefined : isolatedPoints,
          // uPlot draws a point of radius (size - width) / 2: a pointSize of 0 or 1 (seen in
          // exported dashboards that hide points that way) would be a negative radius.
          size: typeof c.pointSize === 'number' && Number.isFinite(c.pointSize) ? Math.max(2, c.pointSize) : 5,
          fill: d.color,
          stroke: d.color,
          width: 1,
        },
      };
      if (typeof spanNulls === 'number' && spanNulls > 0) {
        // Only gaps longer than the threshold break the line.
        s.gaps = (u, _sidx, _i0, _i1, nullGaps) =>
          nullGaps.filter(([a, b]) => u.posToVal(b, 'x', true) - u.posToVal(a, 'x', true) > spanNulls);
      }
      series.push(s);
      if (d.stackGroup !== null) {
        const prev = lastInGroup.get(d.stackGroup);
        if (prev !== undefined && fill) bands.push({ series: [idx, prev], fill });
        lastInGroup.set(d.stackGroup, idx);
      }
    });

    // fillBelowTo: the area between two series (min/max bands).
    list.forEach((d, i) => {
      const to = d.custom.fillBelowTo;
      if (!to) return;
      const j = list.findIndex((o) => o.name === to || o.src.name === to);
      if (j < 0 || j === i) return;
      const alpha = Math.max(0.1, (d.custom.fillOpacity ?? 0) / 100);
      bands.push({ series: [i + 1, j + 1], fill: withAlpha(d.color, alpha) });
      bands.push({ series: [j + 1, i + 1], fill: withAlpha(d.color, alpha) });
      series[i + 1].fill = undefined;
    });

    const thresholdsHook = this.thresholdsDrawer(list, scales);
    this.frame.mount(
      {
        ...tzOptions(tz),
        series,
        bands,
        scales: uScales,
        axes,
        // Room on the right for the last time label when no axis sits there.
        padding: [8, scales.some((sc) => sc.placement === 'right') ? 8 : 24, 0, 0],
        hooks: { drawAxes: thresholdsHook ? [thresholdsHook] : [] },
        cursor: { points: { fill: (u, si) => (u.series[si].stroke as string) ?? '#fff' } },
      },
      data,
      { tooltip: (u, idx, _left, top) => this.tooltip(u, idx, top, model.tooltip, tz) },
    );
  }

  /** Threshold lines/areas of the panel's thresholds on the first y scale (custom.thresholdsStyle). */
  private thresholdsDrawer(list: DrawSeries[], scales: ScaleInfo[]): ((u: uPlot) => void) | null {
    const first = list[0];
    const mode = first?.custom.thresholdsStyle?.mode ?? 'off';
    if (mode === 'off' || mode === 'series' || !scales.length) return null;
    const steps = sortedSteps(first.r.thresholds);
    if (steps.length < 1) return null;
    const key = first.scaleKey;
    const pct = first.r.thresholds.mode === 'percentage';
    const area = mode.includes('area');
    const line = mode.startsWith('line') || mode.startsWith('dashed');
    const dashed = mode.startsWith('dashed');
    return (u: uPlot) => {
      const sc = u.scales[key];
      if (sc.min === undefined || sc.max === undefined) return;
      const min = sc.min;
      const max = sc.max;
      const abs = (v: number) => (pct ? min + ((max - min) * v) / 100 : v);
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      steps.forEach((s, i) => {
        const color = resolveColor(s.color);
        if (color === 'transparent') return;
        const from = s.value === null || s.value === undefined ? min : abs(Number(s.value));
        const next = steps[i + 1];
        const to = next && next.value !== null ? abs(Number(next.value)) : max;
        const y0 = u.valToPos(Math.max(min, Math.min(max, from)), key, true);
        const y1 = u.valToPos(Math.max(min, Math.min(max, to)), key, true);
        if (area && to > from) {
          ctx.fillStyle = withAlpha(color, 0.15);
          ctx.fillRect(left, Math.min(y0, y1), width, Math.abs(y1 - y0));
        }
        if (line && s.value !== null && s.value !== undefined && from >= min && from <= max) {
          ctx.strokeStyle = color;
          ctx.lineWidth = 2 * uPlot.pxRatio;
          ctx.setLineDash(dashed ? [10 * uPlot.pxRatio, 10 * uPlot.pxRatio] : []);
          ctx.beginPath();
          ctx.moveTo(left, y0);
          ctx.lineTo(left + width, y0);
          ctx.stroke();
        }
      });
      ctx.restore();
    };
  }

  private tooltip(u: uPlot, idx: number, top: number, opts: TooltipOptions, tz: TimeZone): Node | null {
    if (opts.mode === 'none') return null;
    const t = (u.data[0] as number[])[idx];
    if (t === undefined) return null;
    const rows: { color: string; name: string; value: string; focused?: boolean; v: number; dist: number }[] = [];
    this.drawn.forEach((d, i) => {
      if (this.hidden.has(d.name) || d.custom.hideFrom?.tooltip) return;
      const v = d.values[idx];
      if (v === null || v === undefined) return;
      const dv = d.draw[idx];
      const pos = dv === null || dv === undefined ? Infinity : u.valToPos(dv, u.series[i + 1].scale ?? 'y');
      rows.push({ color: d.color, name: d.name, value: formatted(v, d.unit, d.decimals, tz), v, dist: Math.abs(pos - top) });
    });
    if (!rows.length) return null;
    let shown = rows;
    if (opts.mode === 'single') {
      shown = [rows.reduce((a, b) => (b.dist < a.dist ? b : a))];
    } else {
      const nearest = rows.reduce((a, b) => (b.dist < a.dist ? b : a));
      nearest.focused = true;
      if (opts.sort === 'asc') shown = [...rows].sort((a, b) => a.v - b.v);
      else if (opts.sort === 'desc') shown = [...rows].sort((a, b) => b.v - a.v);
    }
    const max = 40;
    return tooltipTable(formatTooltipTime(t, tz), shown.slice(0, max), Math.max(0, shown.length - max));
  }

  /** For tests and debugging: the series drawn (not hidden) and their non-null points. */
  private updateCounts(list: DrawSeries[]) {
    let points = 0;
    let series = 0;
    for (const d of list) {
      if (this.hidden.has(d.name)) continue;
      series++;
      for (const v of d.values) if (v !== null && v !== undefined) points++;
    }
    this.el.dataset.seriesCount = String(series);
    this.el.dataset.pointCount = String(points);
  }

  private renderLegend(model: PanelModel, list: DrawSeries[]) {
    const legend = model.legend;
    if (!legend.show) {
      this.frame.legendBox.replaceChildren();
      return;
    }
    const tz = this.ctx.timeZone;
    const items: LegendItem[] = [];
    const rightScales = this.rightScales;
    list.forEach((d, i) => {
      if (d.custom.hideFrom?.legend) return;
      if (legend.hideEmpty && reduce(d.src.values, 'allIsNull') === 1) return;
      if (legend.hideZero && reduce(d.src.values, 'allIsZero') === 1) return;
      const raw: Record<string, number | null> = {};
      const text: Record<string, string> = {};
      for (const c of legend.calcs) {
        const v = reduce(d.src.values, c, d.src.times);
        raw[c] = v;
        text[c] = v === null ? '' : formatted(v, calcUnit(c, d.unit), d.decimals, tz);
      }
      items.push({ key: i + 1, name: d.name, color: d.color, rightAxis: rightScales.has(d.scaleKey), hidden: this.hidden.has(d.name), raw, text });
    });
    renderLegend(this.frame.legendBox, items, legend, (item, mode) => {
      this.legendTouched = true;
      applyLegendClick(
        list.map((d) => d.name),
        this.hidden,
        item.name,
        mode,
      );
      const u = this.frame.u;
      if (u) {
        u.batch(() => list.forEach((d, i) => u.setSeries(i + 1, { show: !this.hidden.has(d.name) })));
      }
      // Stacks are recomputed without the hidden series; otherwise only visibility changes.
      if (list.some((d) => d.stackGroup !== null)) this.render();
      else {
        this.updateCounts(list);
        this.renderLegend(model, list);
      }
    });
    this.frame.applySize();
  }
}

/** Creates a time series renderer in `el` (also used by Explore's graph view). */
export function createTimeSeries(el: HTMLElement, panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  return new TimeSeriesPanel(el, panel, ctx);
}

register(['timeseries', 'graph'], createTimeSeries);
