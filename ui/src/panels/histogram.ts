/**
 * Grafana's `histogram` panel: buckets the values of every number field (series points, table
 * columns) by `options.bucketSize` (or `bucketCount`, else about 30 round-sized buckets) from
 * `bucketOffset`, one count per field or all combined (`options.combine`), and draws the counts
 * as adjoining bars over a numeric axis in the fields' unit. Data already shaped by the
 * `histogram` transformation (BucketMin/BucketMax columns) is drawn as it is.
 */
import { h, svg } from '../lib/dom';
import { paletteColor, resolveField, resolveColor, seriesColor, withAlpha, type DataField } from '../lib/fieldconfig';
import { errorStrip, opts, showEmptyOrError, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { attachTooltip, type Box, contentSize, countTicks, fmt, labelWidth, legend, legendPlacement, niceDomain, niceTicks, scale, tickLabel, xAxis, yAxis } from './svgchart';
import { frameLength, framesOf, histogramFrames, type Frame } from './transform';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

/** Buckets (from, to) and one count list per field. */
export interface HistogramModel {
  mins: number[];
  maxs: number[];
  counts: { name: string; values: number[] }[];
  /** The unit of the bucketed values (from the source fields' config). */
  sourceName: string;
}

function bucketColumns(f: Frame): { min: number; max: number } | null {
  const min = f.columns.findIndex((c) => /^(bucketmin|xmin|le_min)$/i.test(c.name));
  const max = f.columns.findIndex((c) => /^(bucketmax|xmax|le)$/i.test(c.name));
  return min >= 0 && max >= 0 ? { min, max } : null;
}

export function histogramModel(data: PanelData, panel: GrafanaPanel): HistogramModel | null {
  const o = opts(panel);
  let frames = framesOf(data);
  const sourceName = frames.flatMap((f) => f.columns.filter((c) => c.type === 'number').map((c) => c.name))[0] ?? 'Value';
  let pre = frames.find((f) => bucketColumns(f));
  if (!pre) {
    frames = histogramFrames(frames, {
      bucketSize: Number(o.bucketSize) > 0 ? Number(o.bucketSize) : undefined,
      bucketCount: Number(o.bucketCount) > 0 ? Number(o.bucketCount) : undefined,
      bucketOffset: Number(o.bucketOffset) || 0,
      combine: !!o.combine,
    });
    pre = frames[0];
  }
  if (!pre || !frameLength(pre)) return null;
  const bc = bucketColumns(pre)!;
  const mins = pre.columns[bc.min].values.map(Number);
  const maxs = pre.columns[bc.max].values.map(Number);
  const counts = pre.columns
    .filter((_, i) => i !== bc.min && i !== bc.max)
    .filter((c) => c.type === 'number')
    .map((c) => ({ name: c.name, values: c.values.map((v) => Number(v) || 0) }));
  return counts.length ? { mins, maxs, counts, sourceName } : null;
}

function histogramFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');

  function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
    const m = histogramModel(data, panel);
    if (showEmptyOrError(el, data, !!m)) return;
    const model = m!;
    const o = opts(panel);
    const cfg = panel.fieldConfig?.defaults ?? {};
    const unit = cfg.unit;
    const decimals = cfg.decimals;
    const fillOpacity = Number((cfg.custom as { fillOpacity?: number } | undefined)?.fillOpacity ?? 80) / 100;
    const fields = model.counts.map((c, i) => {
      const field: DataField = { name: c.name, labels: {}, refId: 'A', type: 'number', values: c.values, source: { kind: 'table', index: 0, column: i } };
      const r = resolveField(panel, field, i, { defaultColorMode: 'palette-classic', interpolate: ctx.interpolate });
      const color = r.colorMode === 'thresholds' ? resolveColor(cfg.color?.fixedColor, paletteColor(i)) : seriesColor(r);
      return { ...c, r, color };
    });
    const { width: W, height: H } = contentSize(el, size.width, size.height);
    const lg = legendPlacement(o);
    const showLegend = lg.show;
    const strip = errorStrip(data);
    const w = Math.max(60, W);
    const hgt = Math.max(40, H - (showLegend ? 22 : 0) - (strip ? 22 : 0));
    const n = model.mins.length;
    const x0 = model.mins[0];
    const x1 = model.maxs[n - 1];
    let maxCount = 0;
    for (const f of fields) for (const v of f.values) maxCount = Math.max(maxCount, v);
    const [c0, c1] = niceDomain(0, maxCount, true);
    const yTicks = countTicks(Math.max(c1, 1), Math.max(2, Math.min(c1, Math.floor(hgt / 40))));
    const yText = yTicks.map((t) => tickLabel(t, 'short'));
    const box: Box = { left: labelWidth(yText) + 14, top: 8, width: 0, height: Math.max(20, hgt - 30) };
    box.width = Math.max(20, w - box.left - 12);
    const x = scale(x0, x1, box.left, box.left + box.width);
    const y = scale(c0, Math.max(c1, 1), box.top + box.height, box.top);
    const root = svg('svg', { class: 'mp-svg', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': 'Histogram' });
    const grid = svg('g', { class: 'mp-grid' });
    root.appendChild(grid);
    yAxis(grid, box, yTicks, y, (v) => tickLabel(v, 'short'));
    // Bucket edges on the x axis: round ticks inside the range (Grafana labels bucket bounds).
    // Few buckets: label every bucket edge (as Grafana does); many: round ticks.
    const edges = [...model.mins, x1];
    const edgeText = edges.map((v) => tickLabel(v, unit, decimals));
    const xTicks = edges.length <= 1 + box.width / Math.max(40, labelWidth(edgeText) + 12) ? edges : niceTicks(x0, x1, Math.max(2, Math.floor(box.width / 80)));
    xAxis(grid, box, xTicks, x, (v) => tickLabel(v, unit, decimals), false);
    const bars = svg('g', { class: 'mp-bars' });
    let barCount = 0;
    fields.forEach((f) => {
      for (let i = 0; i < n; i++) {
        const v = f.values[i];
        if (!v) continue;
        const left = x(model.mins[i]);
        const right = x(model.maxs[i]);
        const top = y(v);
        const gap = right - left > 4 ? 1 : 0;
        bars.appendChild(
          svg('rect', {
            x: left + gap / 2,
            y: top,
            width: Math.max(1, right - left - gap),
            height: Math.max(1, y(0) - top),
            fill: withAlpha(f.color, fields.length > 1 ? Math.min(fillOpacity, 0.6) : fillOpacity),
            stroke: f.color,
            'stroke-width': 1,
            class: 'mp-bar',
            'data-value': String(v),
            'data-tip': `${fmt(model.mins[i], unit, decimals)} – ${fmt(model.maxs[i], unit, decimals)}\n${f.r.displayName}: ${v}`,
          }),
        );
        barCount++;
      }
    });
    root.appendChild(bars);
    const base = Math.round(y(0)) + 0.5;
    root.appendChild(svg('line', { x1: box.left, x2: box.left + box.width, y1: base, y2: base, stroke: '#6e7580' }));
    const plot = h('div', { class: 'mp-plot' }, root);
    const total = (vals: number[]) => vals.reduce((a, b) => a + b, 0);
    const wrap = h(
      'div',
      { class: `mp-wrap ${lg.placement === 'right' ? 'mp-wrap-right' : ''}` },
      plot,
      showLegend ? legend(fields.map((f) => ({ name: f.r.displayName, color: f.color, extra: `${total(f.values)} values` })), lg.placement) : null,
    );
    el.replaceChildren(...[strip, wrap].filter((e): e is HTMLElement => !!e));
    attachTooltip(plot, root);
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(fields.length);
    el.dataset.bucketCount = String(n);
    el.dataset.barCount = String(barCount);
    el.dataset.total = String(fields.reduce((s, f) => s + total(f.values), 0));
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

register(['histogram'], histogramFactory);
