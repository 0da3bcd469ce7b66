/**
 * Grafana's `barchart` panel: categories on one axis (a string field — `options.xField`, else
 * the table's string columns —, the series' names for instant results, or the times of range
 * results) and one bar per number field in each category, grouped or stacked (normal/percent),
 * vertical or horizontal, with value labels, units, thresholds/palette colours, a legend and a
 * tooltip. Drawn as SVG; the body carries `data-series-count` and `data-bar-count`.
 */
import { h, svg } from '../lib/dom';
import { displayValue, fieldRange, resolveField, seriesColor, type DataField, type ResolvedField } from '../lib/fieldconfig';
import { formatDateTime } from '../lib/time';
import { formattedToString } from '../lib/units';
import { errorStrip, opts, showEmptyOrError, textWidth, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { annotationMarks, attachTooltip, type Box, contentSize, ellipsize, FONT_PX, labelWidth, legend, legendPlacement, niceDomain, niceTicks, scale, tickLabel, xAxis, yAxis } from './svgchart';
import { frameLength, framesOf, timeToMs, type Frame } from './transform';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

/** What a bar chart draws: category names and, per number field, one value per category. */
export interface BarModel {
  categories: string[];
  fields: { field: DataField; values: (number | null)[] }[];
  /** The time of each category when the categories are the times of range results. */
  times?: number[];
}

function joinStrings(cols: Frame['columns'], i: number): string {
  return cols.map((c) => String(c.values[i] ?? '')).filter(Boolean).join(' ');
}

/** The categories and bar values of the panel's data (see the module comment for the rules). */
export function barModel(data: PanelData, panel: GrafanaPanel, tz: 'browser' | 'utc'): BarModel | null {
  const o = opts(panel);
  const xField = typeof o.xField === 'string' && o.xField ? o.xField : undefined;
  const tables = framesOf({ ...data, series: [] }).filter((f) => f.columns.some((c) => c.type === 'number') && frameLength(f) > 0);
  if (tables.length) {
    const f = tables[0];
    const xCol = xField ? f.columns.find((c) => c.name === xField) : undefined;
    const strings = f.columns.filter((c) => c.type === 'string' || c.type === 'boolean');
    const time = f.columns.find((c) => c.type === 'time');
    const n = frameLength(f);
    let categories: string[];
    let skip = new Set<Frame['columns'][number]>();
    if (xCol) {
      categories = xCol.values.map((v, i) => (xCol.type === 'time' ? formatDateTime(timeToMs(v), tz) : String(v ?? i)));
      skip = new Set([xCol]);
    } else if (strings.length) {
      categories = Array.from({ length: n }, (_, i) => joinStrings(strings, i) || String(i + 1));
      skip = new Set(strings);
    } else if (time) {
      categories = time.values.map((v) => formatDateTime(timeToMs(v), tz));
    } else categories = Array.from({ length: n }, (_, i) => String(i + 1));
    if (time) skip.add(time);
    const fields = f.columns
      .filter((c) => c.type === 'number' && !skip.has(c))
      .map((c, ci) => ({
        field: { name: c.name, labels: c.labels ?? {}, refId: c.refId ?? f.refId, type: 'number' as const, values: c.values, frameName: c.name, source: { kind: 'table' as const, index: 0, column: ci } },
        values: c.values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null)),
      }));
    return fields.length ? { categories, fields } : null;
  }
  const series = data.series.filter((s) => s.values.some((v) => v !== null));
  if (!series.length) return null;
  if (series.every((s) => s.values.filter((v) => v !== null).length <= 1)) {
    // Instant results: one bar per series, named by the series.
    const values = series.map((s) => s.values.find((v) => v !== null) ?? null);
    return {
      categories: series.map((s) => s.name || 'Value'),
      fields: [{ field: { name: 'Value', labels: {}, refId: series[0].refId, type: 'number', values, source: { kind: 'series', index: 0 } }, values }],
    };
  }
  // Range results: a category per time, a bar per series.
  const times = [...new Set(series.flatMap((s) => s.times))].sort((a, b) => a - b);
  const idx = new Map(times.map((t, i) => [t, i]));
  const span = times[times.length - 1] - times[0];
  let step = Infinity;
  for (let i = 1; i < times.length; i++) step = Math.min(step, times[i] - times[i - 1]);
  // As precise as the steps need: seconds under a minute, the date when the range spans days.
  const label = (t: number) => {
    const s = formatDateTime(t, tz);
    if (step < 60_000) return s.slice(11, 19);
    if (step >= 86_400_000) return s.slice(0, 10);
    return span < 86_400_000 ? s.slice(11, 16) : s.slice(5, 16);
  };
  return {
    categories: times.map(label),
    times,
    fields: series.map((s, si) => {
      const values: (number | null)[] = new Array(times.length).fill(null);
      s.times.forEach((t, i) => (values[idx.get(t)!] = s.values[i]));
      return { field: { name: s.name, labels: s.labels, refId: s.refId, type: 'number' as const, values, times, frameName: s.name, source: { kind: 'series' as const, index: si } }, values };
    }),
  };
}

/** The fractional index of time `t` among the sorted category times (linear between two). */
export function categoryIndex(times: number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  if (t <= times[0]) return 0;
  if (t >= times[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid;
  }
  return lo + (t - times[lo]) / (times[hi] - times[lo] || 1);
}

function barFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');

  function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
    const model = barModel(data, panel, ctx.timeZone);
    if (showEmptyOrError(el, data, !!model && model.categories.length > 0)) return;
    const m = model!;
    const o = opts(panel);
    const resolved: ResolvedField[] = m.fields.map((f, i) => resolveField(panel, f.field, i, { defaultColorMode: 'palette-classic', interpolate: ctx.interpolate }));
    const visible = m.fields.map((f, i) => ({ ...f, r: resolved[i] })).filter((f) => !(f.r.config.custom as { hideFrom?: { viz?: boolean } } | undefined)?.hideFrom?.viz);
    const stacking = String(o.stacking ?? 'none');
    const stacked = stacking === 'normal' || stacking === 'percent';
    const percent = stacking === 'percent';
    const { width: W, height: H } = contentSize(el, size.width, size.height);
    const lg = legendPlacement(o);
    const showLegend = lg.show && visible.length > 1;
    const legendH = showLegend && lg.placement === 'bottom' ? 22 : 0;
    const legendW = showLegend && lg.placement === 'right' ? Math.min(W * 0.3, 40 + labelWidth(visible.map((f) => f.r.displayName), 12)) : 0;
    const strip = errorStrip(data);
    const stripH = strip ? 22 : 0;
    const w = Math.max(60, W - legendW);
    const hgt = Math.max(40, H - legendH - stripH);
    const orientation = o.orientation === 'horizontal' || o.orientation === 'vertical' ? o.orientation : w >= hgt ? 'vertical' : 'horizontal';
    const horizontal = orientation === 'horizontal';

    // Value domain (stack sums for stacked bars).
    const nCat = m.categories.length;
    const totals = Array.from({ length: nCat }, (_, i) => visible.reduce((s, f) => s + Math.abs(f.values[i] ?? 0), 0));
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < nCat; i++) {
      if (stacked) {
        let pos = 0;
        let neg = 0;
        for (const f of visible) {
          const v = f.values[i] ?? 0;
          const vv = percent ? (totals[i] ? v / totals[i] : 0) : v;
          if (vv >= 0) pos += vv;
          else neg += vv;
        }
        hi = Math.max(hi, pos);
        lo = Math.min(lo, neg);
      } else
        for (const f of visible) {
          const v = f.values[i];
          if (v === null) continue;
          hi = Math.max(hi, v);
          lo = Math.min(lo, v);
        }
    }
    const cfg0 = visible[0]?.r.config ?? {};
    const unit = percent ? 'percentunit' : cfg0.unit;
    const decimals = percent ? 0 : cfg0.decimals;
    if (!percent && typeof cfg0.max === 'number') hi = Math.max(hi, cfg0.max);
    if (!percent && typeof cfg0.min === 'number') lo = Math.min(lo, cfg0.min);
    const [d0, d1] = percent ? [0, 1] : niceDomain(lo, hi, true);
    const ticks = niceTicks(d0, d1, horizontal ? Math.max(2, Math.floor(w / 90)) : Math.max(2, Math.floor(hgt / 40)));
    const tickText = ticks.map((t) => tickLabel(t, unit, decimals));

    // Layout: the category axis gets the label room it needs (bounded).
    const catLabels = m.categories;
    const rotation = Number(o.xTickLabelRotation ?? 0);
    const maxLen = Number(o.xTickLabelMaxLength ?? 0);
    const shown = catLabels.map((c) => (maxLen > 0 && c.length > maxLen ? `${c.slice(0, maxLen)}…` : c));
    let box: Box;
    if (horizontal) {
      const catW = Math.min(w * 0.4, labelWidth(shown) + 12);
      box = { left: catW + 4, top: 6, width: Math.max(20, w - catW - 18), height: Math.max(20, hgt - 26) };
    } else {
      const yW = labelWidth(tickText) + 12;
      const rot = Math.abs(rotation) > 0;
      const catH = rot ? Math.min(hgt * 0.4, Math.abs(Math.sin((rotation * Math.PI) / 180)) * labelWidth(shown) + 16) : 20;
      box = { left: yW + 2, top: 8, width: Math.max(20, w - yW - 10), height: Math.max(20, hgt - catH - 10) };
    }
    const catSpan = (horizontal ? box.height : box.width) / nCat;
    const groupWidth = Math.min(1, Math.max(0, Number(o.groupWidth ?? 0.7)));
    const barWidth = Math.min(1, Math.max(0, Number(o.barWidth ?? 0.97)));
    const groupPx = catSpan * groupWidth;
    const slotPx = stacked ? groupPx : groupPx / Math.max(1, visible.length);
    const barPx = Math.max(1, slotPx * barWidth);
    const val = horizontal ? scale(d0, d1, box.left, box.left + box.width) : scale(d0, d1, box.top + box.height, box.top);

    const root = svg('svg', { class: 'mp-svg', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': panel.title ? `Bar chart: ${panel.title}` : 'Bar chart' });
    const grid = svg('g', { class: 'mp-grid' });
    root.appendChild(grid);
    if (horizontal) xAxis(grid, box, ticks, val, (v) => tickLabel(v, unit, decimals));
    else yAxis(grid, box, ticks, val, (v) => tickLabel(v, unit, decimals));
    // Baseline at zero.
    const z = Math.round(val(0)) + 0.5;
    grid.appendChild(horizontal ? svg('line', { x1: z, x2: z, y1: box.top, y2: box.top + box.height, stroke: '#6e7580' }) : svg('line', { x1: box.left, x2: box.left + box.width, y1: z, y2: z, stroke: '#6e7580' }));

    const showValue = String(o.showValue ?? 'auto');
    const valueSize = Number((o.text as { valueSize?: number } | undefined)?.valueSize ?? 0) || Math.max(9, Math.min(14, Math.floor((horizontal ? barPx : slotPx) * 0.6)));
    const radius = Math.max(0, Math.min(0.5, Number(o.barRadius ?? 0))) * barPx;
    const fillOpacity = Number((cfg0.custom as { fillOpacity?: number } | undefined)?.fillOpacity ?? 80) / 100;
    const bars = svg('g', { class: 'mp-bars' });
    const labels = svg('g', { class: 'mp-values' });
    let barCount = 0;
    const ranges = visible.map((f) => fieldRange(f.r, [f.r]));
    for (let i = 0; i < nCat; i++) {
      const c0 = (horizontal ? box.top : box.left) + i * catSpan + (catSpan - groupPx) / 2;
      let pos = 0;
      let neg = 0;
      visible.forEach((f, fi) => {
        const v = f.values[i];
        if (v === null || v === undefined) return;
        const vv = percent ? (totals[i] ? v / totals[i] : 0) : v;
        let from = 0;
        if (stacked) {
          from = vv >= 0 ? pos : neg;
          if (vv >= 0) pos += vv;
          else neg += vv;
        }
        const to = from + vv;
        const a = val(from);
        const b = val(to);
        const start = c0 + (stacked ? 0 : fi * slotPx) + (slotPx - barPx) / 2;
        const d = displayValue(v, f.r, ranges[fi], ctx.timeZone);
        const color = d.color;
        const text = formattedToString(d);
        const rect = horizontal
          ? { x: Math.min(a, b), y: start, width: Math.max(1, Math.abs(b - a)), height: barPx }
          : { x: start, y: Math.min(a, b), width: barPx, height: Math.max(1, Math.abs(b - a)) };
        bars.appendChild(
          svg('rect', {
            ...rect,
            rx: radius,
            fill: color,
            'fill-opacity': fillOpacity,
            stroke: color,
            'stroke-width': 1,
            class: 'mp-bar',
            'data-value': String(v),
            'data-tip': `${m.categories[i]}\n${f.r.displayName}: ${text}${percent ? ` (${Math.round((totals[i] ? v / totals[i] : 0) * 100)}%)` : ''}`,
          }),
        );
        barCount++;
        // Value labels: outside the bar end (grouped), centred inside (stacked) when they fit.
        if (showValue === 'never') return;
        const tw = textWidth(text, valueSize, 500);
        const fitsAcross = (horizontal ? barPx : slotPx) >= (horizontal ? valueSize + 2 : tw + 2);
        if (showValue === 'auto' && !fitsAcross) return;
        if (stacked) {
          const along = Math.abs(b - a);
          if (showValue === 'auto' && along < (horizontal ? tw + 4 : valueSize + 2)) return;
          const cx = horizontal ? (a + b) / 2 : start + barPx / 2;
          const cy = horizontal ? start + barPx / 2 : (a + b) / 2;
          labels.appendChild(svg('text', { x: cx, y: cy + valueSize * 0.35, 'text-anchor': 'middle', class: 'mp-value mp-value-in', 'font-size': valueSize }, text));
        } else if (horizontal) {
          const right = vv >= 0;
          let x = right ? b + 4 : b - 4;
          let anchor = right ? 'start' : 'end';
          if (right && x + tw > box.left + box.width + 14) {
            x = b - 4;
            anchor = 'end';
          }
          labels.appendChild(svg('text', { x, y: start + barPx / 2 + valueSize * 0.35, 'text-anchor': anchor, class: 'mp-value', 'font-size': valueSize }, text));
        } else {
          const up = vv >= 0;
          let y = up ? b - 4 : b + valueSize + 2;
          if (up && y - valueSize < 0) y = b + valueSize + 2;
          labels.appendChild(svg('text', { x: start + barPx / 2, y, 'text-anchor': 'middle', class: 'mp-value', 'font-size': valueSize }, text));
        }
      });
    }
    root.append(bars, labels);

    // Category labels.
    const cats = svg('g', { class: 'mp-cats' });
    if (horizontal) {
      const maxW = box.left - 8;
      const every = Math.max(1, Math.ceil((FONT_PX + 2) / catSpan));
      shown.forEach((c, i) => {
        if (i % every) return;
        const y = box.top + (i + 0.5) * catSpan + 4;
        cats.appendChild(svg('text', { x: box.left - 6, y, 'text-anchor': 'end', class: 'mp-cat' }, svg('title', {}, catLabels[i]), ellipsize(c, maxW)));
      });
    } else {
      const y = box.top + box.height + 14;
      if (rotation) {
        const every = Math.max(1, Math.ceil((FONT_PX + 2) / catSpan));
        shown.forEach((c, i) => {
          if (i % every) return;
          const x = box.left + (i + 0.5) * catSpan;
          cats.appendChild(svg('text', { x, y, 'text-anchor': rotation < 0 ? 'end' : 'start', transform: `rotate(${rotation} ${x} ${y - 4})`, class: 'mp-cat' }, svg('title', {}, catLabels[i]), c));
        });
      } else {
        const widest = labelWidth(shown);
        const every = widest + 8 <= catSpan ? 1 : Math.max(1, Math.ceil(Math.min(widest, 120) / catSpan));
        shown.forEach((c, i) => {
          if (i % every) return;
          const x = box.left + (i + 0.5) * catSpan;
          cats.appendChild(svg('text', { x, y, 'text-anchor': 'middle', class: 'mp-cat' }, svg('title', {}, catLabels[i]), ellipsize(c, Math.max(catSpan * every - 6, 24))));
        });
      }
    }
    root.appendChild(cats);
    // Annotations over time categories (vertical bars): between the centres of the categories around them.
    const ann = !horizontal && m.times && m.times.length ? annotationMarks(data.annotations, m.times[0], m.times[m.times.length - 1], (t) => box.left + (categoryIndex(m.times!, t) + 0.5) * catSpan, box.top, box.top + box.height, ctx.timeZone) : undefined;
    if (ann) root.appendChild(ann.g);

    const plot = h('div', { class: 'mp-plot' }, root);
    const entries = visible.map((f) => ({ name: f.r.displayName, color: seriesColor(f.r) }));
    const wrap = h('div', { class: `mp-wrap ${lg.placement === 'right' ? 'mp-wrap-right' : ''}` }, plot, showLegend ? legend(entries, lg.placement) : null);
    el.replaceChildren(...[strip, wrap].filter((x): x is HTMLElement => !!x));
    attachTooltip(plot, root);
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(visible.length);
    el.dataset.barCount = String(barCount);
    el.dataset.categories = m.categories.join('\u001f');
    el.dataset.orientation = orientation;
    if (data.annotations) el.dataset.annotationCount = String(ann?.count ?? 0);
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

register(['barchart'], barFactory);
