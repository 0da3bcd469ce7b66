/**
 * Small helpers the value panels (stat, gauge, bar gauge, table, pie, state timeline, logs,
 * lists) share: the "No data"/error states every panel body shows, text fitting for big
 * numbers, the body size, a tiny SVG sparkline, and the renderer shell of panels that redraw
 * from scratch.
 */
import { h, message, svg } from '../lib/dom';
import type { GrafanaPanel, PanelData, PanelRenderer } from './types';
import './valuepanels.css';

/**
 * Shows the panel's errors (the server's message) or "No data" in `el` when there is nothing to
 * draw; returns true when it did (the caller then stops). Marks the body with
 * `data-series-count="0"` so tests can read what was drawn.
 */
export function showEmptyOrError(el: HTMLElement, data: PanelData, hasData: boolean, emptyText = 'No data'): boolean {
  if (hasData) return false;
  el.dataset.seriesCount = '0';
  el.dataset.value = '';
  if (data.errors?.length) {
    el.replaceChildren(message('error', data.errors.length > 1 ? `${data.errors.length} queries failed` : 'Query failed', data.errors.join('\n')));
    el.dataset.state = 'error';
  } else {
    el.replaceChildren(h('div', { class: 'vp-nodata' }, emptyText));
    el.dataset.state = 'empty';
  }
  return true;
}

/** A thin banner above the drawing when some (not all) queries failed. */
export function errorStrip(data: PanelData): HTMLElement | null {
  if (!data.errors?.length) return null;
  return h('div', { class: 'vp-error-strip', role: 'alert', title: data.errors.join('\n') }, `⚠ ${data.errors[0]}`);
}

let measureCtx: CanvasRenderingContext2D | null = null;

/** Width in px of `text` at `size`px in the UI font (`weight` 500 by default). */
export function textWidth(text: string, size: number, weight = 500): number {
  if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
  if (!measureCtx) return text.length * size * 0.6;
  measureCtx.font = `${weight} ${size}px Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif`;
  return measureCtx.measureText(text).width;
}

/** The largest font size (between `min` and `max`) at which `text` fits `width` × `height`. */
export function fitFontSize(text: string, width: number, height: number, min = 10, max = 120, weight = 500): number {
  const byHeight = Math.min(max, height);
  const w1 = textWidth(text || '0', 100, weight);
  const byWidth = w1 > 0 ? (width / w1) * 100 : max;
  return Math.max(min, Math.floor(Math.min(byHeight, byWidth)));
}

/** The usable size of a panel body (falls back to its parent's size before layout). */
export function bodySize(el: HTMLElement, w?: number, hgt?: number): { width: number; height: number } {
  const width = w && w > 0 ? w : el.clientWidth || el.parentElement?.clientWidth || 300;
  const height = hgt && hgt > 0 ? hgt : el.clientHeight || el.parentElement?.clientHeight || 150;
  return { width, height };
}

/** An SVG area sparkline of `values` over `times` filling `width` × `height`. */
export function sparkline(
  times: number[],
  values: (number | null)[],
  width: number,
  height: number,
  color: string,
  range?: { from: number; to: number },
  fill = true,
): SVGElement | null {
  const pts: [number, number][] = [];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    pts.push([times[i], v]);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (pts.length < 2 || width < 10 || height < 6) return null;
  const t0 = range?.from ?? pts[0][0];
  const t1 = range?.to ?? pts[pts.length - 1][0];
  const span = t1 - t0 || 1;
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const x = (t: number) => ((t - t0) / span) * width;
  const y = (v: number) => height - 1 - ((v - lo) / (hi - lo)) * (height - 2);
  const line = pts.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
  const area = `${line}L${x(pts[pts.length - 1][0]).toFixed(1)},${height}L${x(pts[0][0]).toFixed(1)},${height}Z`;
  const el = svg('svg', { class: 'vp-sparkline', width, height, viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none' });
  if (fill) el.appendChild(svg('path', { d: area, fill: color, 'fill-opacity': 0.18, stroke: 'none' }));
  el.appendChild(svg('path', { d: line, fill: 'none', stroke: color, 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }));
  el.dataset.points = String(pts.length);
  return el;
}

/** Columns × rows for `n` items in a `width` × `height` box, keeping items near `aspect` (w/h). */
export function gridFor(n: number, width: number, height: number, aspect = 2): { cols: number; rows: number } {
  let best = { cols: 1, rows: n, score: -Infinity };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cw = width / cols;
    const ch = height / rows;
    const a = cw / ch;
    // Prefer cells close to the target aspect, and fewer empty slots.
    const score = -Math.abs(Math.log(a / aspect)) - (cols * rows - n) * 0.15;
    if (score > best.score) best = { cols, rows, score };
  }
  return { cols: best.cols, rows: best.rows };
}

/** Grafana's panel `options` as a plain record. */
export function opts(panel: { options?: Record<string, unknown> }): Record<string, unknown> {
  return (panel.options ?? {}) as Record<string, unknown>;
}

/** A panel body's size in CSS pixels, as the grid last reported it. */
export interface PanelSize {
  width: number;
  height: number;
}

/**
 * The renderer of a panel that draws from scratch: keeps the newest data and size and calls
 * `draw` when either changes; `redraw` is for the panel's own interactions (sorting, paging).
 */
export function redrawingRenderer(
  el: HTMLElement,
  draw: (data: PanelData, panel: GrafanaPanel, size: PanelSize) => void,
): { renderer: PanelRenderer; redraw: () => void } {
  let last: { data: PanelData; panel: GrafanaPanel } | null = null;
  let size: PanelSize = { width: 0, height: 0 };
  const redraw = () => {
    if (last) draw(last.data, last.panel, size);
  };
  return {
    redraw,
    renderer: {
      update(data, panel) {
        last = { data, panel };
        redraw();
      },
      resize(width, height) {
        size = { width, height };
        redraw();
      },
      destroy() {
        el.replaceChildren();
      },
    },
  };
}
