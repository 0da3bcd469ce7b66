/**
 * The small SVG chart kit the non-time charts share (bar chart, histogram, XY chart/trend,
 * candlestick): "nice" ticks, linear scales, value axes formatted with Grafana units, a
 * floating tooltip for marks carrying `data-tip`, and a legend of colour swatches. Drawing is
 * plain SVG built with `svg()`: every label is a text node.
 */
import { h, svg } from '../lib/dom';
import { formatDateTime, type TimeZone } from '../lib/time';
import { formatValue, formattedToString } from '../lib/units';
import { bodySize, textWidth } from './panelkit';
import type { Annotation } from './types';
import './morepanels.css';

export const AXIS_COLOR = '#9fa7b3';
export const GRID_COLOR = 'rgba(204, 204, 220, 0.10)';
export const FONT_PX = 11;

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max === min) return [min];
  const raw = (max - min) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw * 0.999) ?? 10 * p;
  const out: number[] = [];
  const first = Math.ceil(min / step - 1e-9) * step;
  for (let v = first; v <= max + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

/** Extends [min, max] to round values (and to include 0 when `zero`). */
export function niceDomain(min: number, max: number, zero = true): [number, number] {
  let lo = min;
  let hi = max;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (zero) {
    lo = Math.min(0, lo);
    hi = Math.max(0, hi);
  }
  if (lo === hi) {
    hi = lo + (Math.abs(lo) || 1);
    if (!zero) lo -= Math.abs(lo) * 0.1 || 1;
  }
  const ticks = niceTicks(lo, hi, 5);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  const r = (v: number) => Number(v.toPrecision(12));
  return [r(Math.floor(lo / step + 1e-9) * step), r(Math.ceil(hi / step - 1e-9) * step)];
}

/** Linear map from a domain to pixels. */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** The drawable size of a panel body: its size without the padding the dashboard gives it. */
export function contentSize(el: HTMLElement, w?: number, hgt?: number): { width: number; height: number } {
  const { width, height } = bodySize(el, w, hgt);
  const cs = getComputedStyle(el);
  const px = (v: string) => parseFloat(v) || 0;
  return {
    width: Math.max(0, width - px(cs.paddingLeft) - px(cs.paddingRight)),
    height: Math.max(0, height - px(cs.paddingTop) - px(cs.paddingBottom)),
  };
}

/** A value as text with a Grafana unit. */
export function fmt(v: number | null | undefined, unit?: string, decimals?: number): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '';
  return formattedToString(formatValue(v, unit, decimals));
}

/**
 * Tick label text: the unit's formatting with its automatic precision (never rounded to a wrong
 * value), trailing zeros dropped (`0.500` → `0.5`, `2.00 K` → `2 K`) unless decimals are fixed.
 */
export function tickLabel(v: number, unit?: string, decimals?: number): string {
  const s = fmt(v, unit, decimals);
  return decimals === undefined ? s.replace(/(\d)\.(\d*?)0+(?=\D|$)/, (_m, a: string, b: string) => (b ? `${a}.${b}` : a)) : s;
}

/** Width in px of the widest tick label. */
export function labelWidth(labels: string[], size = FONT_PX): number {
  return labels.reduce((m, l) => Math.max(m, textWidth(l, size, 400)), 0);
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Horizontal grid lines and labels of a vertical value axis at `box.left`. */
export function yAxis(g: SVGElement, box: Box, ticks: number[], y: (v: number) => number, label: (v: number) => string) {
  for (const t of ticks) {
    const py = Math.round(y(t)) + 0.5;
    g.appendChild(svg('line', { x1: box.left, x2: box.left + box.width, y1: py, y2: py, stroke: GRID_COLOR }));
    g.appendChild(svg('text', { x: box.left - 6, y: py + 4, 'text-anchor': 'end', class: 'mp-tick' }, label(t)));
  }
}

/** Vertical grid lines and labels of a horizontal value axis under `box`. */
export function xAxis(g: SVGElement, box: Box, ticks: number[], x: (v: number) => number, label: (v: number) => string, grid = true, maxX = box.left + box.width + 8) {
  const bottom = box.top + box.height;
  let lastRight = -Infinity;
  for (const t of ticks) {
    const px = Math.round(x(t)) + 0.5;
    if (grid) g.appendChild(svg('line', { x1: px, x2: px, y1: box.top, y2: bottom, stroke: GRID_COLOR }));
    const text = label(t);
    const w = textWidth(text, FONT_PX, 400);
    // The last label keeps inside the drawing: right-aligned on its tick when centring would clip it.
    const atEnd = px + w / 2 > maxX;
    const left = atEnd ? px - w : px - w / 2;
    if (left < lastRight + 6) continue;
    lastRight = atEnd ? px : px + w / 2;
    g.appendChild(svg('text', { x: px, y: bottom + 14, 'text-anchor': atEnd ? 'end' : 'middle', class: 'mp-tick' }, text));
  }
}

/** Ticks for counts: whole numbers only. */
export function countTicks(max: number, count: number): number[] {
  return niceTicks(0, max, count).filter((t) => Number.isInteger(t));
}

/** Shortens `text` to fit `maxPx` with an ellipsis. */
export function ellipsize(text: string, maxPx: number, size = FONT_PX): string {
  if (textWidth(text, size, 400) <= maxPx) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (textWidth(`${text.slice(0, mid)}…`, size, 400) <= maxPx) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? `${text.slice(0, lo)}…` : '…';
}

/**
 * A floating tooltip inside `host`: marks with `data-tip` (lines separated by "\n") show it on
 * hover. Returns the element (kept as the last child of host).
 */
export function attachTooltip(host: HTMLElement, root: Element) {
  const tip = h('div', { class: 'mp-tooltip', role: 'tooltip' });
  tip.style.display = 'none';
  host.appendChild(tip);
  root.addEventListener('mousemove', (e) => {
    const ev = e as MouseEvent;
    const mark = (ev.target as Element).closest?.('[data-tip]');
    if (!mark || !root.contains(mark)) {
      tip.style.display = 'none';
      return;
    }
    const lines = (mark.getAttribute('data-tip') ?? '').split('\n');
    tip.replaceChildren(...lines.map((l, i) => h('div', { class: i === 0 ? 'mp-tip-title' : '' }, l)));
    tip.style.display = 'block';
    const r = host.getBoundingClientRect();
    let x = ev.clientX - r.left + 12;
    const y = ev.clientY - r.top + 12;
    if (x + tip.offsetWidth > r.width) x = Math.max(0, ev.clientX - r.left - tip.offsetWidth - 12);
    tip.style.left = `${x}px`;
    tip.style.top = `${Math.min(y, Math.max(0, r.height - tip.offsetHeight))}px`;
  });
  root.addEventListener('mouseleave', () => (tip.style.display = 'none'));
  return tip;
}

/** A legend: one swatch and name per entry (hidden when `show` is false or one entry only). */
export function legend(entries: { name: string; color: string; extra?: string }[], placement: 'bottom' | 'right' = 'bottom'): HTMLElement {
  return h(
    'div',
    { class: `mp-legend mp-legend-${placement}`, 'data-testid': 'legend' },
    entries.map((e) => h('div', { class: 'mp-legend-item', title: e.name }, h('span', { class: 'mp-swatch', style: `background:${e.color}` }), h('span', { class: 'mp-legend-name' }, e.name), e.extra ? h('span', { class: 'mp-legend-extra' }, e.extra) : null)),
  );
}

/** Grafana's legend options (`options.legend`), with the defaults the chart panels use. */
export function legendPlacement(options: Record<string, unknown>): { show: boolean; placement: 'bottom' | 'right' } {
  const l = (options.legend ?? {}) as { showLegend?: boolean; displayMode?: string; placement?: string };
  return { show: l.showLegend !== false && l.displayMode !== 'hidden', placement: l.placement === 'right' ? 'right' : 'bottom' };
}

/** The hover text of an annotation: when, from which query, title, text and tags (one a line). */
export function annotationTip(a: Annotation, tz: TimeZone): string {
  const when = a.timeEnd !== undefined ? `${formatDateTime(a.time, tz)} – ${formatDateTime(a.timeEnd, tz)}` : formatDateTime(a.time, tz);
  return [`${when} · ${a.source}`, a.title, a.text, a.tags.join(', ')].filter(Boolean).join('\n');
}

/**
 * The dashboard's annotations over a time axis of an SVG chart: a dashed line (or a band for a
 * region) from `top` to `bottom` with a marker on the plot's bottom edge; hovering the marker shows the text
 * (through `attachTooltip`, as text). Events outside [t0, t1] are skipped, regions clipped; `x`
 * maps a time inside it to a pixel. Returns the group and how many were drawn.
 */
export function annotationMarks(list: Annotation[] | undefined, t0: number, t1: number, x: (t: number) => number, top: number, bottom: number, tz: TimeZone): { g: SVGElement; count: number } {
  const g = svg('g', { class: 'mp-annotations' });
  let count = 0;
  for (const a of list ?? []) {
    if ((a.timeEnd ?? a.time) < t0 || a.time > t1) continue;
    const left = x(Math.max(a.time, t0));
    const right = a.timeEnd !== undefined ? x(Math.min(a.timeEnd, t1)) : left;
    if (!Number.isFinite(left) || !Number.isFinite(right)) continue;
    const mark = svg('g', { class: 'mp-annotation', 'data-testid': 'annotation', 'data-tip': annotationTip(a, tz) });
    if (right - left >= 1) mark.appendChild(svg('rect', { x: left, y: top, width: right - left, height: bottom - top, fill: a.color, 'fill-opacity': 0.12, class: 'mp-annotation-region' }));
    mark.appendChild(svg('line', { x1: left, x2: left, y1: top, y2: bottom, stroke: a.color, 'stroke-width': 1, 'stroke-dasharray': '3 3' }));
    // The marker sits inside the plot on its bottom edge (as in the time series panel): the
    // strip under `bottom` belongs to the time axis' labels.
    mark.appendChild(svg('path', { d: `M${left - 5},${bottom - 1} L${left},${bottom - 7} L${left + 5},${bottom - 1} Z`, fill: a.color, stroke: 'var(--bg, #111)', 'stroke-width': 0.5, class: 'mp-annotation-marker' }));
    g.appendChild(mark);
    count++;
  }
  return { g, count };
}
