/**
 * Grafana's `xychart` (scatter: points, optionally lines) and `trend` (lines over a numeric x
 * instead of time) panels: x is a numeric field — the one the options name (`dims.x`,
 * `series[].x`, `xField`), else the first number field — and every other number field is a
 * y series. Plain time series (no table) are first joined on time, so `A` vs `B` plots one
 * series against the other. Drawn as SVG with one path per series; the body carries
 * `data-series-count` and `data-point-count`.
 */
import { h, svg } from '../lib/dom';
import { resolveField, seriesColor, type DataField } from '../lib/fieldconfig';
import { errorStrip, opts, showEmptyOrError, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { attachTooltip, type Box, contentSize, fmt, labelWidth, legend, legendPlacement, niceDomain, niceTicks, scale, tickLabel, xAxis, yAxis } from './svgchart';
import { applyTransformations, framesOf, type Column, type Frame } from './transform';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

export interface XYSeries {
  name: string;
  xName: string;
  field: DataField;
  points: [number, number][];
}

type Matcher = string | { matcher?: { options?: unknown }; field?: string } | undefined;

function matcherName(m: Matcher): string | undefined {
  if (!m) return undefined;
  if (typeof m === 'string') return m || undefined;
  const v = m.matcher?.options ?? m.field;
  return typeof v === 'string' && v ? v : undefined;
}

/** The x field name and y field names the options ask for (Grafana 9–11 shapes). */
function mapping(o: Record<string, unknown>, trend: boolean): { x?: string; ys: string[]; exclude: string[] } {
  if (trend) return { x: typeof o.xField === 'string' && o.xField ? o.xField : undefined, ys: [], exclude: [] };
  const dims = (o.dims ?? {}) as { x?: string; exclude?: string[] };
  const series = (Array.isArray(o.series) ? o.series : []) as { x?: Matcher; y?: Matcher }[];
  const manual = o.seriesMapping === 'manual' || o.mapping === 'manual';
  const x = matcherName(series[0]?.x) ?? dims.x;
  const ys = manual ? series.map((s) => matcherName(s.y)).filter((n): n is string => !!n) : [];
  return { x, ys, exclude: Array.isArray(dims.exclude) ? dims.exclude : [] };
}

export function xySeries(data: PanelData, panel: GrafanaPanel, trend: boolean): XYSeries[] {
  const o = opts(panel);
  let frames: Frame[] = framesOf(data);
  const hasTables = data.tables.length > 0;
  if (!hasTables && data.series.length > 1) frames = applyTransformations(frames, [{ id: 'joinByField', options: {} }]);
  const map = mapping(o, trend);
  const out: XYSeries[] = [];
  frames.forEach((f, fi) => {
    const nums = f.columns.filter((c) => c.type === 'number');
    const xCol: Column | undefined = (map.x ? f.columns.find((c) => c.name === map.x && (c.type === 'number' || c.type === 'time')) : undefined) ?? nums[0];
    if (!xCol) return;
    const ys = nums.filter((c) => c !== xCol && !map.exclude.includes(c.name) && (!map.ys.length || map.ys.includes(c.name)));
    ys.forEach((c, ci) => {
      const points: [number, number][] = [];
      for (let i = 0; i < c.values.length; i++) {
        const xv = xCol.values[i];
        const yv = c.values[i];
        if (typeof xv === 'number' && Number.isFinite(xv) && typeof yv === 'number' && Number.isFinite(yv)) points.push([xv, yv]);
      }
      if (trend) points.sort((a, b) => a[0] - b[0]);
      out.push({
        name: c.name,
        xName: xCol.name,
        points,
        field: { name: c.name, labels: c.labels ?? {}, refId: c.refId ?? f.refId, type: 'number', values: c.values, frameName: c.name, source: { kind: 'table', index: fi, column: ci } },
      });
    });
  });
  return out.filter((s) => s.points.length > 0);
}

function circlePath(pts: [number, number][], r: number): string {
  const d: string[] = [];
  for (const [x, y] of pts) d.push(`M${(x - r).toFixed(1)},${y.toFixed(1)}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`);
  return d.join('');
}

function xyFactory(trend: boolean) {
  return (el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer => {
    el.classList.add('vp-body');

    function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
      const series = xySeries(data, panel, trend);
      const numericFields = framesOf(data).some((f) => f.columns.filter((c) => c.type === 'number').length >= (trend ? 2 : 1));
      if (showEmptyOrError(el, data, series.length > 0, numericFields ? 'No data: needs a numeric x field and at least one other number field' : 'No data')) return;
      const o = opts(panel);
      const resolved = series.map((s, i) => resolveField(panel, s.field, i, { defaultColorMode: 'palette-classic', interpolate: ctx.interpolate }));
      const colors = resolved.map((r) => seriesColor(r));
      const cfg = panel.fieldConfig?.defaults ?? {};
      const custom = (cfg.custom ?? {}) as { show?: string; pointSize?: { fixed?: number } | number; lineWidth?: number; drawStyle?: string; showPoints?: string; axisLabel?: string };
      const firstSeries = (Array.isArray(o.series) ? o.series[0] : undefined) as { show?: string; pointSize?: { fixed?: number } } | undefined;
      const show = String(firstSeries?.show ?? custom.show ?? (trend ? 'lines' : 'points'));
      const drawLines = show.includes('lines') || (trend && custom.drawStyle !== 'points');
      const drawPoints = show.includes('points') || (trend && (custom.showPoints === 'always' || custom.drawStyle === 'points'));
      const ps = firstSeries?.pointSize?.fixed ?? (typeof custom.pointSize === 'number' ? custom.pointSize : custom.pointSize?.fixed) ?? 5;
      const r = Math.max(1, Math.min(20, ps / 2));
      const lineWidth = custom.lineWidth ?? (trend ? 1 : 1);

      let xmin = Infinity;
      let xmax = -Infinity;
      let ymin = Infinity;
      let ymax = -Infinity;
      for (const s of series)
        for (const [x, y] of s.points) {
          if (x < xmin) xmin = x;
          if (x > xmax) xmax = x;
          if (y < ymin) ymin = y;
          if (y > ymax) ymax = y;
        }
      const xUnit = undefined;
      const yUnit = resolved[0]?.config.unit;
      const yDec = resolved[0]?.config.decimals;
      const { width: W, height: H } = contentSize(el, size.width, size.height);
      const lg = legendPlacement(o);
      const strip = errorStrip(data);
      const w = Math.max(60, W);
      const hgt = Math.max(40, H - (lg.show ? 22 : 0) - (strip ? 22 : 0));
      const [y0, y1] = niceDomain(typeof cfg.min === 'number' ? Math.min(cfg.min, ymin) : ymin, typeof cfg.max === 'number' ? Math.max(cfg.max, ymax) : ymax, false);
      const [x0, x1] = niceDomain(xmin, xmax, false);
      const yTicks = niceTicks(y0, y1, Math.max(2, Math.floor(hgt / 40)));
      const yText = yTicks.map((t) => tickLabel(t, yUnit, yDec));
      const box: Box = { left: labelWidth(yText) + 14, top: 8, width: 0, height: Math.max(20, hgt - 44) };
      box.width = Math.max(20, w - box.left - 14);
      const sx = scale(x0, x1, box.left, box.left + box.width);
      const sy = scale(y0, y1, box.top + box.height, box.top);
      const root = svg('svg', { class: 'mp-svg', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': trend ? 'Trend chart' : 'XY chart' });
      const grid = svg('g', { class: 'mp-grid' });
      root.appendChild(grid);
      yAxis(grid, box, yTicks, sy, (v) => tickLabel(v, yUnit, yDec));
      xAxis(grid, box, niceTicks(x0, x1, Math.max(2, Math.floor(box.width / 80))), sx, (v) => tickLabel(v, xUnit));
      const xLabel = series[0].xName;
      root.appendChild(svg('text', { x: box.left + box.width / 2, y: box.top + box.height + 32, 'text-anchor': 'middle', class: 'mp-axis-label' }, xLabel));
      let pointCount = 0;
      const marks = svg('g', { class: 'mp-marks' });
      series.forEach((s, i) => {
        const px = s.points.map(([x, y]) => [sx(x), sy(y)] as [number, number]);
        pointCount += px.length;
        if (drawLines && px.length > 1) marks.appendChild(svg('path', { d: px.map(([x, y], k) => `${k ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join(''), fill: 'none', stroke: colors[i], 'stroke-width': lineWidth, class: 'mp-line' }));
        if (drawPoints || px.length === 1 || !drawLines) marks.appendChild(svg('path', { d: circlePath(px, r), fill: colors[i], 'fill-opacity': 0.75, stroke: colors[i], 'stroke-width': 0.5, class: 'mp-points', 'data-points': String(px.length) }));
      });
      root.appendChild(marks);
      // Hover: the nearest point within 12 px shows x and y.
      const hover = svg('circle', { r: r + 3, fill: 'none', stroke: '#fff', 'stroke-width': 1.5, visibility: 'hidden' });
      const hit = svg('rect', { x: box.left, y: box.top, width: box.width, height: box.height, fill: 'transparent' });
      root.append(hover, hit);
      const plot = h('div', { class: 'mp-plot' }, root);
      hit.addEventListener('mousemove', (e) => {
        const ev = e as MouseEvent;
        const rect = root.getBoundingClientRect();
        const mx = ev.clientX - rect.left;
        const my = ev.clientY - rect.top;
        let best: { d: number; s: number; p: [number, number] } | null = null;
        series.forEach((s, si) => {
          for (const p of s.points) {
            const d = Math.hypot(sx(p[0]) - mx, sy(p[1]) - my);
            if (d < 12 && (!best || d < best.d)) best = { d, s: si, p };
          }
        });
        const b = best as { d: number; s: number; p: [number, number] } | null;
        if (!b) {
          hover.setAttribute('visibility', 'hidden');
          hit.removeAttribute('data-tip');
          return;
        }
        hover.setAttribute('cx', String(sx(b.p[0])));
        hover.setAttribute('cy', String(sy(b.p[1])));
        hover.setAttribute('visibility', 'visible');
        hit.setAttribute('data-tip', `${resolved[b.s].displayName}\n${series[b.s].xName}: ${fmt(b.p[0])}\n${resolved[b.s].displayName}: ${fmt(b.p[1], yUnit, yDec)}`);
      });
      const wrap = h(
        'div',
        { class: `mp-wrap ${lg.placement === 'right' ? 'mp-wrap-right' : ''}` },
        plot,
        lg.show ? legend(series.map((s, i) => ({ name: resolved[i].displayName, color: colors[i], extra: `${s.points.length} points` })), lg.placement) : null,
      );
      el.replaceChildren(...[strip, wrap].filter((e): e is HTMLElement => !!e));
      attachTooltip(plot, root);
      el.dataset.state = 'ok';
      el.dataset.seriesCount = String(series.length);
      el.dataset.pointCount = String(pointCount);
    }

    const view = redrawingRenderer(el, draw);
    return view.renderer;
  };
}

register(['xychart'], xyFactory(false));
register(['trend'], xyFactory(true));
