/**
 * Heatmap panels from bucketed series: Prometheus classic histograms (series with an `le`
 * label, `format: heatmap` or detected) or series named by their bucket bound. Cumulative
 * buckets are de-accumulated per time, equal-height rows are labelled by the bucket bounds
 * (`+Inf` last), and each cell is painted on the canvas in Grafana's default scheme (Oranges,
 * exponential scale) — no per-cell DOM. Tooltip: time, bucket range and count.
 */
import uPlot from 'uplot';
import { formatted } from '../lib/units';
import { interpolateColors, resolveColor } from '../lib/fieldconfig';
import type { TimeZone } from '../lib/time';
import { h } from '../lib/dom';
import { ChartFrame, formatTooltipTime, timeAxis, tzOptions, valueAxis } from './chart';
import { joinSeries, seriesOf } from './timeseries';
import { register } from './registry';
import type { Annotation, GrafanaPanel, PanelContext, PanelData, PanelRenderer, Series } from './types';

/** d3-scale-chromatic's sequential schemes Grafana offers (9-stop samples, low → high). */
const SCHEMES: Record<string, string[]> = {
  Oranges: ['#fff5eb', '#fee6ce', '#fdd0a2', '#fdae6b', '#fd8d3c', '#f16913', '#d94801', '#a63603', '#7f2704'],
  Reds: ['#fff5f0', '#fee0d2', '#fcbba1', '#fc9272', '#fb6a4a', '#ef3b2c', '#cb181d', '#a50f15', '#67000d'],
  Greens: ['#f7fcf5', '#e5f5e0', '#c7e9c0', '#a1d99b', '#74c476', '#41ab5d', '#238b45', '#006d2c', '#00441b'],
  Blues: ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'],
  Purples: ['#fcfbfd', '#efedf5', '#dadaeb', '#bcbddc', '#9e9ac8', '#807dba', '#6a51a3', '#54278f', '#3f007d'],
  Greys: ['#ffffff', '#f0f0f0', '#d9d9d9', '#bdbdbd', '#969696', '#737373', '#525252', '#252525', '#000000'],
  YlOrRd: ['#ffffcc', '#ffeda0', '#fed976', '#feb24c', '#fd8d3c', '#fc4e2a', '#e31a1c', '#bd0026', '#800026'],
  YlOrBr: ['#ffffe5', '#fff7bc', '#fee391', '#fec44f', '#fe9929', '#ec7014', '#cc4c02', '#993404', '#662506'],
  YlGnBu: ['#ffffd9', '#edf8b1', '#c7e9b4', '#7fcdbb', '#41b6c4', '#1d91c0', '#225ea8', '#253494', '#081d58'],
  YlGn: ['#ffffe5', '#f7fcb9', '#d9f0a3', '#addd8e', '#78c679', '#41ab5d', '#238443', '#006837', '#004529'],
  RdYlGn: ['#a50026', '#d73027', '#f46d43', '#fdae61', '#fee08b', '#d9ef8b', '#a6d96a', '#66bd63', '#1a9850'],
  Spectral: ['#9e0142', '#d53e4f', '#f46d43', '#fdae61', '#fee08b', '#e6f598', '#abdda4', '#66c2a5', '#3288bd', '#5e4fa2'],
  Viridis: ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'],
  Plasma: ['#0d0887', '#4c02a1', '#7e03a8', '#a92395', '#cc4778', '#e56b5d', '#f89441', '#fdc328', '#f0f921'],
  Inferno: ['#000004', '#1b0c41', '#4a0c6b', '#781c6d', '#a52c60', '#cf4446', '#ed6925', '#fb9b06', '#f7d13d', '#fcffa4'],
  Magma: ['#000004', '#180f3d', '#440f76', '#721f81', '#9e2f7f', '#cd4071', '#f1605d', '#fd9668', '#feca8d', '#fcfdbf'],
  Cividis: ['#00224e', '#123570', '#3b496c', '#575d6d', '#707173', '#8a8779', '#a69d75', '#c4b56c', '#e4cf5b', '#fee838'],
  Turbo: ['#23171b', '#4a58dd', '#2f9df5', '#27d7c4', '#4df884', '#95fb51', '#dedd32', '#ffa423', '#f65f18', '#ba2208', '#900c00'],
};
/** Schemes Grafana inverts on its dark theme (light → dark ramps, so low counts stay dark). */
const INVERT_ON_DARK = new Set(['Oranges', 'Reds', 'Greens', 'Blues', 'Purples', 'Greys', 'YlOrRd', 'YlOrBr', 'YlGnBu', 'YlGn']);

interface ColorOptions {
  mode: 'scheme' | 'opacity';
  scheme: string;
  fill: string;
  steps: number;
  exponent: number;
  scale: 'exponential' | 'linear';
  reverse: boolean;
  min?: number;
  max?: number;
}

interface HeatmapOptions {
  color: ColorOptions;
  yUnit?: string;
  yDecimals?: number;
  cellUnit?: string;
  cellDecimals?: number;
  /** Cells at or below this value are not drawn (Grafana's `filterValues.le`, default 1e-9). */
  hideBelow: number;
  showLegend: boolean;
  showTooltip: boolean;
  /** Legacy heatmap `yBucketBound`/new `rowsFrame.layout`: where the label sits. */
  reverseY: boolean;
  /** Bucket raw values instead of reading bucket series (`options.calculate`, legacy `dataFormat: timeseries`). */
  calculate: boolean;
  calcBuckets: number;
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function numOr(v: unknown, d?: number): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : d;
}

/** Reads the heatmap options of Grafana ≥ 9 (`options.color`, `options.yAxis`) and the legacy heatmap (`color`, `yAxis`). */
export function heatmapOptions(panel: GrafanaPanel): HeatmapOptions {
  const o = obj(panel.options);
  const legacy = !panel.options || !('color' in o) ? (panel as Record<string, unknown>) : {};
  const c = obj(o.color ?? legacy.color);
  const legacyScheme = typeof c.colorScheme === 'string' ? c.colorScheme.replace(/^interpolate/, '') : undefined;
  const y = obj(o.yAxis ?? legacy.yAxis);
  const cv = obj(o.cellValues);
  const filter = obj(o.filterValues);
  const legend = obj(o.legend ?? legacy.legend);
  const tooltip = obj(o.tooltip ?? legacy.tooltip);
  const fc = panel.fieldConfig?.defaults ?? {};
  return {
    color: {
      mode: c.mode === 'opacity' ? 'opacity' : 'scheme',
      scheme: (typeof c.scheme === 'string' ? c.scheme : legacyScheme) || 'Oranges',
      fill: resolveColor(typeof c.fill === 'string' ? c.fill : typeof c.cardColor === 'string' ? c.cardColor : 'dark-orange'),
      steps: Math.max(2, Math.min(256, numOr(c.steps, 64) ?? 64)),
      exponent: numOr(c.exponent, 0.5) ?? 0.5,
      scale: c.scale === 'linear' || c.colorScale === 'linear' ? 'linear' : 'exponential',
      reverse: c.reverse === true,
      min: numOr(c.min),
      max: numOr(c.max),
    },
    yUnit: (typeof y.unit === 'string' && y.unit) || (typeof y.format === 'string' && y.format) || (fc.unit as string | undefined) || undefined,
    yDecimals: numOr(y.decimals),
    cellUnit: (typeof cv.unit === 'string' && cv.unit) || undefined,
    cellDecimals: numOr(cv.decimals),
    hideBelow: numOr(filter.le, o.hideZeroBuckets === false || legacy.hideZeroBuckets === false ? -Infinity : 1e-9) ?? 1e-9,
    showLegend: legend.show !== false,
    showTooltip: tooltip.show !== false && tooltip.mode !== 'none',
    reverseY: y.reverse === true || legacy.reverseYBuckets === true,
    calculate: o.calculate === true || (legacy.dataFormat === 'timeseries' && !('calculate' in o)),
    calcBuckets: numOr(obj(obj(o.calculation).yBuckets).value, numOr(legacy.yBucketNumber, 10)) ?? 10,
  };
}

// ---- buckets --------------------------------------------------------------------------------

/** A bucket bound from an `le` label or a series name: number, `+Inf`/`Inf`; undefined when not a bound. */
export function parseBound(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (/^\+?inf$/i.test(t)) return Infinity;
  if (/^-inf$/i.test(t)) return -Infinity;
  if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return undefined;
  return Number(t);
}

export interface HeatmapData {
  x: number[];
  /** Lower bound of the first bucket (0 for positive `le` bounds). */
  lower: number;
  /** Upper bounds, ascending (`Infinity` last). */
  bounds: number[];
  /** counts[bucket][time]; null where no sample. */
  counts: (number | null)[][];
  step: number;
}

/**
 * Turns bucket series into per-bucket counts over time. Series with the same bound are summed
 * (several instances of one histogram). Which data is cumulative: `format: heatmap` targets are
 * de-accumulated by the query layer already (as Grafana's Prometheus data source does); other
 * `le` series are cumulative by Prometheus' definition and de-accumulated here; series named by
 * their bound count per bucket (Grafana's "time series buckets").
 */
export function bucketize(series: Series[], formats: Record<string, string | undefined>): HeatmapData | null {
  const withBound: { bound: number; s: Series }[] = [];
  for (const s of series) {
    const b = parseBound(s.labels?.le) ?? parseBound(s.name);
    if (b === undefined) return null;
    withBound.push({ bound: b, s });
  }
  if (!withBound.length) return null;
  const hasLe = series.every((s) => s.labels?.le !== undefined);
  const { x, ys } = joinSeries(withBound.map(({ s }) => ({ times: s.times, values: s.values })));
  const byBound = new Map<number, (number | null)[]>();
  withBound.forEach(({ bound }, i) => {
    let acc = byBound.get(bound);
    if (!acc) {
      acc = new Array(x.length).fill(null);
      byBound.set(bound, acc);
    }
    const vals = ys[i];
    for (let t = 0; t < x.length; t++) {
      const v = vals[t];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      acc[t] = (acc[t] ?? 0) + v;
    }
  });
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  const cum = bounds.map((b) => byBound.get(b) as (number | null)[]);
  const fmtHeatmap = series.some((s) => formats[s.refId] === 'heatmap');
  const cumulative = hasLe && !fmtHeatmap;
  const counts = cumulative
    ? cum.map((row, b) =>
        row.map((v, t) => {
          if (v === null) return null;
          const below = b > 0 ? cum[b - 1][t] : 0;
          return Math.max(0, v - (below ?? 0));
        }),
      )
    : cum;
  let step = Infinity;
  for (let i = 1; i < x.length; i++) step = Math.min(step, x[i] - x[i - 1]);
  if (!Number.isFinite(step)) step = 60_000;
  return { x, lower: bounds[0] > 0 ? 0 : -Infinity, bounds, counts, step };
}

/**
 * Grafana's "calculate" heatmap (legacy `dataFormat: timeseries`, `options.calculate: true`):
 * at each time, how many series have a value in each of `buckets` equal-width value ranges.
 */
export function calculateBuckets(series: Series[], buckets: number): HeatmapData | null {
  const { x, ys } = joinSeries(series.map((s) => ({ times: s.times, values: s.values })));
  let min = Infinity;
  let max = -Infinity;
  for (const row of ys)
    for (const v of row) {
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  if (!Number.isFinite(min)) return null;
  if (max === min) {
    const d = Math.abs(min) * 0.1 || 1;
    min -= d;
    max += d;
  }
  const n = Math.max(1, Math.min(200, Math.round(buckets)));
  const size = (max - min) / n;
  const bounds = Array.from({ length: n }, (_, i) => (i === n - 1 ? max : min + (i + 1) * size));
  const counts: (number | null)[][] = bounds.map(() => new Array(x.length).fill(null));
  for (let t = 0; t < x.length; t++) {
    let any = false;
    for (const row of ys) {
      const v = row[t];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      any = true;
      const b = Math.min(n - 1, Math.floor((v - min) / size));
      counts[b][t] = (counts[b][t] ?? 0) + 1;
    }
    if (any) for (const row of counts) row[t] ??= 0;
  }
  let step = Infinity;
  for (let i = 1; i < x.length; i++) step = Math.min(step, x[i] - x[i - 1]);
  return { x, lower: min, bounds, counts, step: Number.isFinite(step) ? step : 60_000 };
}

// ---- colours --------------------------------------------------------------------------------

function palette(c: ColorOptions): string[] {
  const out: string[] = [];
  if (c.mode === 'opacity') {
    for (let i = 0; i < c.steps; i++) out.push(withAlphaHex(c.fill, 0.1 + (0.9 * i) / (c.steps - 1)));
    return out;
  }
  let stops = SCHEMES[c.scheme] ?? SCHEMES.Oranges;
  if (INVERT_ON_DARK.has(c.scheme) || !SCHEMES[c.scheme]) stops = [...stops].reverse();
  if (c.reverse) stops = [...stops].reverse();
  for (let i = 0; i < c.steps; i++) out.push(interpolateColors(stops, i / (c.steps - 1)));
  return out;
}

function withAlphaHex(color: string, a: number): string {
  const m = /^#([0-9a-f]{6})/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a.toFixed(3)})`;
}

function colorIndex(v: number, min: number, max: number, c: ColorOptions): number {
  if (max <= min) return c.steps - 1;
  let t = (Math.min(max, Math.max(min, v)) - min) / (max - min);
  if (c.scale === 'exponential') t = Math.pow(t, c.exponent);
  return Math.max(0, Math.min(c.steps - 1, Math.round(t * (c.steps - 1))));
}

// ---- renderer -------------------------------------------------------------------------------

function boundLabel(b: number, unit: string | undefined, decimals: number | undefined, tz: TimeZone): string {
  if (b === Infinity) return '+Inf';
  if (b === -Infinity) return '-Inf';
  return formatted(b, unit, decimals, tz);
}

class HeatmapPanel implements PanelRenderer {
  private frame: ChartFrame;
  private data: PanelData | null = null;
  private hm: HeatmapData | null = null;
  private xRange: [number, number] = [0, 1];

  constructor(
    private el: HTMLElement,
    private panel: GrafanaPanel,
    private ctx: PanelContext,
  ) {
    this.frame = new ChartFrame(el, ctx, 'heatmap');
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
    const tz = this.ctx.timeZone;
    const opts = heatmapOptions(this.panel);
    const errors = data.errors ?? [];
    const series = seriesOf(data);
    this.frame.setNotice(series.length && errors.length ? errors : []);
    if (data.annotations) this.frame.setAnnotations(data.annotations);
    const empty = (kind: 'empty' | 'error', text: string, detail?: string) => {
      this.el.dataset.seriesCount = '0';
      this.el.dataset.pointCount = '0';
      this.hm = null;
      this.frame.showMessage(kind, text, detail);
    };
    if (!series.length) {
      if (errors.length) empty('error', errors[0], errors.slice(1).join('\n') || undefined);
      else empty('empty', 'No data');
      return;
    }
    const formats: Record<string, string | undefined> = {};
    for (const t of this.panel.targets ?? []) if (t.refId) formats[t.refId] = t.format;
    // Bucket series as they are; anything else is bucketed here (Grafana's "calculate").
    const hm = (opts.calculate ? null : bucketize(series, formats)) ?? calculateBuckets(series, opts.calcBuckets);
    if (!hm) {
      empty('empty', 'No data');
      return;
    }
    this.hm = hm;
    // For tests and debugging: the counts drawn.
    (this.el as HTMLElement & { pharosHeatmap?: HeatmapData }).pharosHeatmap = hm;
    let cells = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const row of hm.counts)
      for (const v of row) {
        if (v === null) continue;
        cells++;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    this.el.dataset.seriesCount = String(hm.bounds.length);
    this.el.dataset.pointCount = String(cells);
    this.el.dataset.timeCount = String(hm.x.length);
    if (!cells) {
      empty('empty', 'No data');
      return;
    }
    const cmin = opts.color.min ?? Math.min(0, min);
    const cmax = opts.color.max ?? max;
    const colors = palette(opts.color);
    this.xRange = [data.range.from, data.range.to];

    const nb = hm.bounds.length;
    // Row i spans [i, i+1]; split i is labelled with the bound below row i (row 0: 0 or -Inf).
    const lower = hm.lower;
    // Reversed (lowest bucket on top): the boundary at row position i is the upper bound of bucket nb-1-i.
    const splitLabel = (i: number) =>
      opts.reverseY
        ? boundLabel(i === nb ? lower : hm.bounds[nb - 1 - i], opts.yUnit, opts.yDecimals, tz)
        : boundLabel(i === 0 ? lower : hm.bounds[i - 1], opts.yUnit, opts.yDecimals, tz);
    const yAxis = valueAxis('y', 3, (v) => splitLabel(v), { grid: false });
    yAxis.splits = (u) => {
      const px = u.bbox.height / uPlot.pxRatio / Math.max(1, nb);
      const every = Math.max(1, Math.ceil(16 / Math.max(1, px)));
      const out: number[] = [];
      for (let i = 0; i <= nb; i += every) out.push(i);
      return out;
    };
    yAxis.values = (_u, splits) => splits.map((i) => splitLabel(i));

    const drawCells = (u: uPlot) => {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      const gap = uPlot.pxRatio;
      const colW = hm.x.length > 1 ? Math.abs(u.valToPos(hm.x[1], 'x', true) - u.valToPos(hm.x[0], 'x', true)) : width;
      // A 1px gap between cells, unless cells are too narrow for it to read as anything but stripes.
      const xGap = colW >= 6 * uPlot.pxRatio ? gap : 0;
      for (let b = 0; b < nb; b++) {
        const row = hm.counts[b];
        const pos = opts.reverseY ? nb - 1 - b : b;
        const yTop = Math.round(u.valToPos(pos + 1, 'y', true));
        const yBot = Math.round(u.valToPos(pos, 'y', true));
        const hgt = Math.max(1, Math.abs(yBot - yTop) - gap);
        for (let t = 0; t < hm.x.length; t++) {
          const v = row[t];
          if (v === null || v <= opts.hideBelow) continue;
          // Whole device pixels: fractional edges leave antialiased seams between cells.
          const x0 = Math.round(u.valToPos(hm.x[t] - hm.step, 'x', true));
          const x1 = Math.round(u.valToPos(hm.x[t], 'x', true));
          ctx.fillStyle = colors[colorIndex(v, cmin, cmax, opts.color)];
          ctx.fillRect(x0, Math.min(yTop, yBot), Math.max(1, x1 - x0 - xGap), hgt);
        }
      }
      ctx.restore();
    };

    this.frame.setLegendPlacement(opts.showLegend ? 'bottom' : 'none');
    this.renderScale(colors, cmin, cmax, opts, tz);
    this.frame.mount(
      {
        ...tzOptions(tz),
        series: [{}, { label: 'buckets', scale: 'y', paths: () => null, points: { show: false } }],
        scales: {
          x: { time: true, range: () => this.xRange },
          y: { auto: false, range: () => [0, nb] },
        },
        axes: [timeAxis(tz), yAxis],
        padding: [8, 24, 0, 0],
        hooks: { drawAxes: [drawCells] },
        cursor: { points: { show: false }, y: true },
      },
      // Zeros, not nulls: the cursor needs a hoverable value at every time.
      [hm.x, hm.x.map(() => 0)] as uPlot.AlignedData,
      { tooltip: opts.showTooltip ? (u, _idx, left, top) => this.tooltip(u, left, top, opts, tz) : undefined },
    );
  }

  private renderScale(colors: string[], min: number, max: number, opts: HeatmapOptions, tz: TimeZone) {
    const canvas = h('canvas', { width: colors.length, height: 1 });
    const c2d = canvas.getContext('2d');
    if (c2d) colors.forEach((c, i) => {
      c2d.fillStyle = c;
      c2d.fillRect(i, 0, 1, 1);
    });
    this.frame.legendBox.replaceChildren(
      h('div', { class: 'viz-heat-scale' }, h('span', null, formatted(min, opts.cellUnit, opts.cellDecimals, tz)), canvas, h('span', null, formatted(max, opts.cellUnit, opts.cellDecimals, tz))),
    );
  }

  private tooltip(u: uPlot, left: number, top: number, opts: HeatmapOptions, tz: TimeZone): Node | null {
    const hm = this.hm;
    if (!hm) return null;
    const xv = u.posToVal(left, 'x');
    // The cell under the cursor: the first sample whose [t - step, t] contains x.
    let t = -1;
    for (let i = 0; i < hm.x.length; i++) {
      if (xv <= hm.x[i] && xv > hm.x[i] - hm.step) {
        t = i;
        break;
      }
    }
    const yv = u.posToVal(top, 'y');
    const pos = Math.floor(yv);
    const b = opts.reverseY ? hm.bounds.length - 1 - pos : pos;
    if (t < 0 || b < 0 || b >= hm.bounds.length) return null;
    const v = hm.counts[b][t];
    const lower = b === 0 ? hm.lower : hm.bounds[b - 1];
    const range = `${boundLabel(lower, opts.yUnit, opts.yDecimals, tz)} – ${boundLabel(hm.bounds[b], opts.yUnit, opts.yDecimals, tz)}`;
    return h(
      'div',
      null,
      h('div', { class: 'viz-tooltip-time' }, formatTooltipTime(hm.x[t], tz)),
      h(
        'table',
        { class: 'viz-tooltip-rows' },
        h('tr', null, h('td', null, 'Bucket'), h('td', { class: 'viz-tooltip-value' }, range)),
        h('tr', null, h('td', null, 'Count'), h('td', { class: 'viz-tooltip-value' }, v === null ? 'no sample' : formatted(v, opts.cellUnit, opts.cellDecimals ?? (Number.isInteger(v) ? 0 : undefined), tz))),
      ),
    );
  }
}

export function createHeatmap(el: HTMLElement, panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  return new HeatmapPanel(el, panel, ctx);
}

register(['heatmap'], createHeatmap);
