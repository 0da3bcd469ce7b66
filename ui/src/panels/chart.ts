/**
 * The chart core shared by the uPlot panels (time series, heatmap): the panel body's layout
 * (plot + legend), sizing with the panel, the "No data" and error states, the time axis in the
 * dashboard's time zone, the floating tooltip, drag-to-zoom (→ `ctx.onZoom`) and the shared
 * crosshair (→ `ctx.crosshair`), the dashboard's annotations and exemplar markers linked to their
 * traces. It draws no series itself: each panel builds its uPlot options
 * and hands them to `ChartFrame.mount`.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './panels.css';
import { h, message } from '../lib/dom';
import { formatDateTime, type TimeZone } from '../lib/time';
import type { Annotation, Exemplar, PanelContext } from './types';

export const AXIS_FONT = '12px Inter, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
export const AXIS_STROKE = '#9fa7b3';
export const GRID_STROKE = 'rgba(204, 204, 220, 0.08)';

// ---- time axis ------------------------------------------------------------------------------

function parts(ms: number, tz: TimeZone) {
  const d = new Date(ms);
  const u = tz === 'utc';
  return {
    Y: u ? d.getUTCFullYear() : d.getFullYear(),
    M: (u ? d.getUTCMonth() : d.getMonth()) + 1,
    D: u ? d.getUTCDate() : d.getDate(),
    h: u ? d.getUTCHours() : d.getHours(),
    m: u ? d.getUTCMinutes() : d.getMinutes(),
    s: u ? d.getUTCSeconds() : d.getSeconds(),
    ms: u ? d.getUTCMilliseconds() : d.getMilliseconds(),
  };
}
const p2 = (n: number) => String(n).padStart(2, '0');

/** A tick label the way Grafana writes it: `HH:mm`, `MM/DD HH:mm` on multi-day ranges, `MM/DD`, `YYYY-MM`. */
export function formatTick(ms: number, incrMs: number, rangeMs: number, tz: TimeZone): string {
  const t = parts(ms, tz);
  if (incrMs < 1000) return `${p2(t.h)}:${p2(t.m)}:${p2(t.s)}.${String(t.ms).padStart(3, '0')}`;
  if (incrMs < 60_000) return `${p2(t.h)}:${p2(t.m)}:${p2(t.s)}`;
  if (incrMs < 86_400_000) return rangeMs > 86_400_000 ? `${p2(t.M)}/${p2(t.D)} ${p2(t.h)}:${p2(t.m)}` : `${p2(t.h)}:${p2(t.m)}`;
  if (incrMs < 28 * 86_400_000) return `${p2(t.M)}/${p2(t.D)}`;
  if (incrMs < 365 * 86_400_000) return `${t.Y}-${p2(t.M)}`;
  return String(t.Y);
}

/** Tooltip header time: `2026-03-01 14:05:30` in the dashboard's zone. */
export function formatTooltipTime(ms: number, tz: TimeZone): string {
  const t = parts(ms, tz);
  return `${t.Y}-${p2(t.M)}-${p2(t.D)} ${p2(t.h)}:${p2(t.m)}:${p2(t.s)}`;
}

/** The x axis of every time panel. */
export function timeAxis(tz: TimeZone): uPlot.Axis {
  return {
    scale: 'x',
    stroke: AXIS_STROKE,
    font: AXIS_FONT,
    grid: { stroke: GRID_STROKE, width: 1 },
    ticks: { show: true, stroke: GRID_STROKE, width: 1, size: 4 },
    space: 80,
    size: 26,
    gap: 4,
    values: (u, splits, _axisIdx, _space, incr) => {
      const span = (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0);
      return splits.map((v) => formatTick(v, incr, span, tz));
    },
  };
}

/** uPlot options for the time zone (splits aligned to midnight in that zone). */
export function tzOptions(tz: TimeZone): Pick<uPlot.Options, 'tzDate' | 'ms'> {
  return tz === 'utc' ? { ms: 1, tzDate: (ts) => uPlot.tzDate(new Date(ts), 'Etc/UTC') } : { ms: 1 };
}

let measureCtx: CanvasRenderingContext2D | null = null;
/** Width in CSS px of the widest label (for y axis sizing, so labels like "1.50 GiB" never clip). */
export function textWidth(values: (string | number | null)[], font = AXIS_FONT): number {
  measureCtx ??= document.createElement('canvas').getContext('2d');
  if (!measureCtx) return 40;
  measureCtx.font = font;
  let w = 0;
  for (const v of values) if (v !== null && v !== undefined) w = Math.max(w, measureCtx.measureText(String(v)).width);
  return Math.ceil(w);
}

/** A y axis: values from `fmt`, sized to its widest label. */
export function valueAxis(
  scale: string,
  side: 1 | 3,
  fmt: (v: number) => string,
  opts: { show?: boolean; label?: string; grid?: boolean } = {},
): uPlot.Axis {
  return {
    scale,
    side,
    show: opts.show ?? true,
    stroke: AXIS_STROKE,
    font: AXIS_FONT,
    label: opts.label || undefined,
    labelFont: AXIS_FONT,
    labelSize: opts.label ? 18 : 0,
    labelGap: 0,
    grid: { show: opts.grid ?? true, stroke: GRID_STROKE, width: 1 },
    ticks: { show: false },
    space: 30,
    gap: 6,
    size: (_u, values) => (values ? textWidth(values) + 14 : 40),
    values: (_u, splits) => splits.map((v) => (v === null || v === undefined ? '' : fmt(v))),
  };
}

// ---- the frame ------------------------------------------------------------------------------

export type LegendPlacement = 'bottom' | 'right' | 'none';

export interface MountHooks {
  /** Content of the tooltip at data index `idx` (cursor at `left`/`top` px in the plot), or null to hide it. */
  tooltip?: (u: uPlot, idx: number, left: number, top: number) => Node | null;
}

/**
 * The body of one chart panel: a plot area, an optional legend beside or below it, and the
 * state messages. Owns the uPlot instance's life (mount, data, size, destroy).
 */
export class ChartFrame {
  readonly el: HTMLElement;
  readonly plotBox: HTMLElement;
  readonly legendBox: HTMLElement;
  readonly notice: HTMLElement;
  u: uPlot | null = null;
  private tip: HTMLElement;
  private remoteLine: HTMLElement;
  private ro: ResizeObserver;
  private rafPending = 0;
  private unsubscribe: () => void;
  private hooks: MountHooks = {};
  private lastW = 0;
  private lastH = 0;
  private hovering = false;
  private remoteTime: number | null = null;
  private annLayer: HTMLElement = h('div', { class: 'viz-annotations' });
  private annotations: Annotation[] = [];
  /** `setAnnotations` was called: the count is written for tests only once the list is known. */
  private annotationsKnown = false;
  private exLayer: HTMLElement = h('div', { class: 'viz-exemplars' });
  private exemplars: Exemplar[] = [];
  private exScale = 'y';
  private exFormat: (v: number) => string = String;
  /** The pointer is on an annotation or exemplar marker: its tip stays, the series tooltip waits. */
  private onMarker = false;

  constructor(el: HTMLElement, private ctx: PanelContext, kind: string) {
    this.el = el;
    el.classList.add('viz', `viz-${kind}`);
    this.plotBox = h('div', { class: 'viz-plot' });
    this.legendBox = h('div', { class: 'viz-legend' });
    this.notice = h('div', { class: 'viz-notice', hidden: true });
    this.tip = h('div', { class: 'viz-tooltip', role: 'tooltip', hidden: true });
    this.remoteLine = h('div', { class: 'viz-remote-crosshair', hidden: true });
    el.replaceChildren(this.notice, h('div', { class: 'viz-main' }, this.plotBox, this.legendBox));
    document.body.append(this.tip);
    this.ro = new ResizeObserver(() => this.scheduleSize());
    this.ro.observe(this.plotBox);
    this.unsubscribe = ctx.crosshair.subscribe((t, source) => {
      if (source === this) return;
      this.remoteTime = t;
      this.drawRemote();
    });
  }

  setLegendPlacement(p: LegendPlacement) {
    this.el.classList.toggle('legend-right', p === 'right');
    this.legendBox.hidden = p === 'none';
  }

  /** Non-fatal notes above the chart (a failing target while others drew). */
  setNotice(lines: string[]) {
    this.notice.hidden = lines.length === 0;
    this.notice.replaceChildren(...lines.map((l) => h('div', null, l)));
    this.notice.title = lines.join('\n');
  }

  /** Replaces the plot with a centered message ("No data", an error). */
  showMessage(kind: 'empty' | 'error' | 'loading', text: string, detail?: string) {
    this.destroyPlot();
    this.legendBox.replaceChildren();
    this.legendBox.hidden = true;
    this.plotBox.replaceChildren(h('div', { class: 'viz-message' }, message(kind, text, detail)));
  }

  /** Plot area size in CSS px. */
  size(): { width: number; height: number } {
    return { width: Math.max(10, this.plotBox.clientWidth), height: Math.max(10, this.plotBox.clientHeight) };
  }

  /** Creates the uPlot instance with the frame's interaction hooks added. */
  mount(opts: Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData, hooks: MountHooks = {}) {
    this.destroyPlot();
    this.hooks = hooks;
    this.plotBox.replaceChildren();
    const { width, height } = this.size();
    this.lastW = width;
    this.lastH = height;
    const full: uPlot.Options = {
      ...opts,
      width,
      height,
      legend: { show: false },
      cursor: {
        ...opts.cursor,
        drag: { x: true, y: false, setScale: false, dist: 4 },
        points: { size: 7, width: 1.5, ...opts.cursor?.points },
        focus: { prox: 30 },
      },
      hooks: {
        ...opts.hooks,
        setSelect: [...(opts.hooks?.setSelect ?? []), (u) => this.onSelect(u)],
        setCursor: [...(opts.hooks?.setCursor ?? []), (u) => this.onCursor(u)],
        ready: [...(opts.hooks?.ready ?? []), (u) => u.over.append(this.remoteLine, this.annLayer, this.exLayer)],
        setScale: [...(opts.hooks?.setScale ?? []), () => this.drawOverlays()],
        setSize: [...(opts.hooks?.setSize ?? []), () => this.drawOverlays()],
      },
    };
    this.u = new uPlot(full, data, this.plotBox);
    // For tests and debugging in the console: the chart's data, series and scales.
    (this.el as HTMLElement & { pharosChart?: uPlot }).pharosChart = this.u;
    this.u.over.addEventListener('click', (e) => {
      const u = this.u;
      if (!u || !(e.ctrlKey || e.metaKey) || !this.ctx.onAnnotate) return;
      const rect = u.over.getBoundingClientRect();
      const t = u.posToVal(e.clientX - rect.left, 'x');
      if (Number.isFinite(t)) this.ctx.onAnnotate(Math.round(t), e.clientX, e.clientY);
    });
    this.u.over.addEventListener('mouseenter', () => (this.hovering = true));
    this.u.over.addEventListener('mouseleave', () => {
      this.hovering = false;
      this.tip.hidden = true;
      this.ctx.crosshair.publish(null, this);
    });
  }

  private onSelect(u: uPlot) {
    const { left, width } = u.select;
    if (width >= 4) {
      const from = u.posToVal(left, 'x');
      const to = u.posToVal(left + width, 'x');
      if (to > from) this.ctx.onZoom(Math.round(from), Math.round(to));
    }
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
  }

  private onCursor(u: uPlot) {
    const idx = u.cursor.idx;
    const left = u.cursor.left ?? -1;
    const top = u.cursor.top ?? -1;
    if (this.onMarker) return;
    if (!this.hovering || idx === null || idx === undefined || left < 0) {
      this.tip.hidden = true;
      return;
    }
    const t = u.posToVal(left, 'x');
    this.ctx.crosshair.publish(t, this);
    const content = this.hooks.tooltip?.(u, idx, left, top) ?? null;
    if (!content) {
      this.tip.hidden = true;
      return;
    }
    this.tip.replaceChildren(content);
    this.tip.hidden = false;
    const rect = u.over.getBoundingClientRect();
    const tw = this.tip.offsetWidth;
    const th = this.tip.offsetHeight;
    let x = rect.left + left + 16;
    let y = rect.top + top + 16;
    if (x + tw > window.innerWidth - 8) x = rect.left + left - tw - 16;
    if (y + th > window.innerHeight - 8) y = Math.max(8, rect.top + top - th - 16);
    this.tip.style.left = `${Math.max(8, x)}px`;
    this.tip.style.top = `${y}px`;
  }

  private drawRemote() {
    const u = this.u;
    const t = this.remoteTime;
    if (!u || t === null || this.hovering) {
      this.remoteLine.hidden = true;
      return;
    }
    const min = u.scales.x.min ?? 0;
    const max = u.scales.x.max ?? 0;
    if (t < min || t > max) {
      this.remoteLine.hidden = true;
      return;
    }
    this.remoteLine.hidden = false;
    this.remoteLine.style.left = `${u.valToPos(t, 'x')}px`;
  }

  /** The dashboard's annotation events: a line (or a region) each, with a marker to hover. */
  setAnnotations(list: Annotation[]) {
    this.annotations = list;
    this.annotationsKnown = true;
    this.drawAnnotations();
  }

  private drawAnnotations() {
    const u = this.u;
    const min = u?.scales.x.min;
    const max = u?.scales.x.max;
    if (!u || min === undefined || max === undefined || min === null || max === null) {
      this.annLayer.replaceChildren();
      if (this.annotationsKnown) this.el.dataset.annotationCount = '0';
      return;
    }
    const shown = this.annotations.filter((a) => (a.timeEnd ?? a.time) >= min && a.time <= max);
    const width = u.over.clientWidth || u.bbox.width / devicePixelRatio;
    this.annLayer.replaceChildren(
      ...shown.map((a) => {
        const x0 = Math.max(0, u.valToPos(Math.max(a.time, min), 'x'));
        const x1 = a.timeEnd !== undefined ? Math.min(width, u.valToPos(Math.min(a.timeEnd, max), 'x')) : x0;
        const region = a.timeEnd !== undefined && x1 - x0 >= 1;
        const el = h(
          'div',
          { class: region ? 'viz-annotation viz-annotation-region' : 'viz-annotation', 'data-testid': 'annotation', style: { left: `${x0}px`, width: region ? `${x1 - x0}px` : '0px' } },
          h('span', { class: 'viz-annotation-marker', tabindex: 0, 'aria-label': `Annotation: ${a.title || a.text}` }),
        );
        el.style.setProperty('--ann-color', a.color);
        const marker = el.firstElementChild as HTMLElement;
        this.markerTip(marker, () => this.annotationTip(a));
        return el;
      }),
    );
    if (this.annotationsKnown) this.el.dataset.annotationCount = String(shown.length);
  }

  private drawOverlays() {
    this.drawRemote();
    this.drawAnnotations();
    this.drawExemplars();
  }

  /** Shows `content()` in the tooltip while the pointer (or focus) is on `marker`. */
  private markerTip(marker: HTMLElement, content: () => HTMLElement) {
    const show = () => {
      this.onMarker = true;
      this.showMarkerTip(content(), marker);
    };
    const hide = () => {
      this.onMarker = false;
      this.tip.hidden = true;
    };
    marker.addEventListener('mouseenter', show);
    marker.addEventListener('focus', show);
    marker.addEventListener('mouseleave', hide);
    marker.addEventListener('blur', hide);
  }

  private annotationTip(a: Annotation): HTMLElement {
    const tz = this.ctx.timeZone;
    const when = a.timeEnd !== undefined ? `${formatDateTime(a.time, tz)} – ${formatDateTime(a.timeEnd, tz)}` : formatDateTime(a.time, tz);
    return h(
      'div',
      { class: 'viz-annotation-tip', 'data-testid': 'annotation-tip' },
      h('div', { class: 'viz-tooltip-time' }, when, h('span', { class: 'faint' }, ` · ${a.source}`)),
      a.title ? h('div', { class: 'viz-annotation-title' }, a.title) : null,
      a.text ? h('div', { class: 'viz-annotation-text' }, a.text) : null,
      a.tags.length ? h('div', { class: 'viz-annotation-tags' }, ...a.tags.map((t) => h('span', { class: 'label-chip' }, t))) : null,
    );
  }

  /**
   * Exemplars as diamonds at (time, value) on the `scaleKey` y scale; one with a trace id label
   * is a link to the trace view. `format` writes the value in the axis' unit.
   */
  setExemplars(list: Exemplar[], scaleKey: string, format: (v: number) => string) {
    this.exemplars = list;
    this.exScale = scaleKey;
    this.exFormat = format;
    this.drawExemplars();
  }

  private drawExemplars() {
    const u = this.u;
    const xs = u?.scales.x;
    const ys = u?.scales[this.exScale];
    if (!u || !xs || !ys || xs.min == null || xs.max == null || ys.min == null || ys.max == null) {
      this.exLayer.replaceChildren();
      this.el.dataset.exemplarCount = '0';
      return;
    }
    const [x0, x1, y0, y1] = [xs.min, xs.max, Math.min(ys.min, ys.max), Math.max(ys.min, ys.max)];
    const shown = this.exemplars.filter((e) => e.time >= x0 && e.time <= x1 && e.value >= y0 && e.value <= y1).slice(-MAX_EXEMPLARS);
    this.exLayer.replaceChildren(
      ...shown.map((e) => {
        const traceId = exemplarTraceId(e.labels);
        const style = { left: `${u.valToPos(e.time, 'x')}px`, top: `${u.valToPos(e.value, this.exScale)}px` };
        const el = traceId
          ? h('a', { class: 'viz-exemplar', 'data-testid': 'exemplar', href: `/trace/${encodeURIComponent(traceId)}`, 'aria-label': `Exemplar: trace ${traceId}`, style })
          : h('span', { class: 'viz-exemplar', 'data-testid': 'exemplar', tabindex: 0, 'aria-label': 'Exemplar', style });
        this.markerTip(el, () => this.exemplarTip(e, traceId));
        return el;
      }),
    );
    this.el.dataset.exemplarCount = String(shown.length);
  }

  private exemplarTip(e: Exemplar, traceId: string | undefined): HTMLElement {
    const series = Object.entries(e.seriesLabels).map(([k, v]) => `${k}="${v}"`).join(', ');
    return h(
      'div',
      { class: 'viz-exemplar-tip', 'data-testid': 'exemplar-tip' },
      h('div', { class: 'viz-tooltip-time' }, formatDateTime(e.time, this.ctx.timeZone, true), h('span', { class: 'faint' }, ' · Exemplar')),
      h('div', { class: 'viz-annotation-title' }, this.exFormat(e.value)),
      series ? h('div', { class: 'faint viz-exemplar-series' }, `{${series}}`) : null,
      h('div', { class: 'viz-annotation-tags' }, ...Object.entries(e.labels).map(([k, v]) => h('span', { class: 'label-chip' }, `${k}=${v}`))),
      traceId ? h('div', { class: 'viz-exemplar-link' }, 'Click to open the trace') : null,
    );
  }

  private showMarkerTip(content: HTMLElement, marker: HTMLElement) {
    this.tip.replaceChildren(content);
    this.tip.hidden = false;
    const r = marker.getBoundingClientRect();
    const tw = this.tip.offsetWidth;
    const th = this.tip.offsetHeight;
    this.tip.style.left = `${Math.max(8, Math.min(window.innerWidth - tw - 8, r.left - tw / 2))}px`;
    this.tip.style.top = `${r.top - th - 8 < 8 ? r.bottom + 8 : r.top - th - 8}px`;
  }

  private scheduleSize() {
    if (this.rafPending) return;
    this.rafPending = requestAnimationFrame(() => {
      this.rafPending = 0;
      this.applySize();
    });
  }

  /** Fits the plot to its box (the legend may have changed height). */
  applySize() {
    if (!this.u) return;
    const { width, height } = this.size();
    if (width === this.lastW && height === this.lastH) return;
    this.lastW = width;
    this.lastH = height;
    this.u.setSize({ width, height });
  }

  private destroyPlot() {
    this.tip.hidden = true;
    delete (this.el as HTMLElement & { pharosChart?: uPlot }).pharosChart;
    this.u?.destroy();
    this.u = null;
  }

  destroy() {
    this.destroyPlot();
    this.ro.disconnect();
    if (this.rafPending) cancelAnimationFrame(this.rafPending);
    this.unsubscribe();
    this.tip.remove();
    this.el.replaceChildren();
  }
}

/** Exemplars drawn at most per panel (the newest). */
const MAX_EXEMPLARS = 2000;

/** The trace id of an exemplar's labels (OpenTelemetry's `trace_id`, Tempo's `traceID`, …). */
export function exemplarTraceId(labels: Record<string, string>): string | undefined {
  for (const k of ['trace_id', 'traceID', 'traceId', 'TraceID', 'trace-id']) if (labels[k]) return labels[k];
  return undefined;
}

/** A tooltip's table: a header line and rows of swatch · name · value. */
export function tooltipTable(
  header: string,
  rows: { color: string; name: string; value: string; focused?: boolean }[],
  more = 0,
): HTMLElement {
  return h(
    'div',
    null,
    h('div', { class: 'viz-tooltip-time' }, header),
    h(
      'table',
      { class: 'viz-tooltip-rows' },
      ...rows.map((r) =>
        h(
          'tr',
          { class: r.focused ? 'focused' : undefined },
          h('td', null, h('span', { class: 'viz-swatch', style: { background: r.color } })),
          h('td', { class: 'viz-tooltip-name' }, r.name),
          h('td', { class: 'viz-tooltip-value' }, r.value),
        ),
      ),
    ),
    more > 0 ? h('div', { class: 'faint' }, `… ${more} more`) : null,
  );
}
