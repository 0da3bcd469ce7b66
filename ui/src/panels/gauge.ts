/**
 * The gauge panel (Grafana `gauge`): per reduced field an SVG arc from min to max, filled to the
 * value in its threshold/mapping colour, the threshold bands as a thin outer ring
 * (`showThresholdMarkers`) with optional labels (`showThresholdLabels`), the value in the middle.
 */
import { h, svg } from '../lib/dom';
import { fieldDisplayValues, thresholdBands } from '../lib/fieldconfig';
import { formatted } from '../lib/units';
import { bodySize, errorStrip, fitFontSize, gridFor, opts, showEmptyOrError, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { valueText } from './stat';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

const START = -120;
const SWEEP = 240;

function polar(cx: number, cy: number, r: number, deg: number): [number, number] {
  const a = ((deg - 90) * Math.PI) / 180;
  return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
}

/** SVG path of an arc band between angles `a0`..`a1` (degrees from 12 o'clock, clockwise). */
function arcPath(cx: number, cy: number, r: number, a0: number, a1: number): string {
  const [x0, y0] = polar(cx, cy, r, a0);
  const [x1, y1] = polar(cx, cy, r, a1);
  const large = a1 - a0 > 180 ? 1 : 0;
  return `M${x0.toFixed(2)},${y0.toFixed(2)} A${r},${r} 0 ${large} 1 ${x1.toFixed(2)},${y1.toFixed(2)}`;
}

function gaugeFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');

  function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
    const values = fieldDisplayValues(panel, data, { interpolate: ctx.interpolate, timeZone: ctx.timeZone });
    if (showEmptyOrError(el, data, values.length > 0)) return;
    const o = opts(panel);
    const { width, height } = bodySize(el, size.width, size.height);
    const strip = errorStrip(data);
    const innerH = height - (strip ? 22 : 0);
    const n = values.length;
    const orientation = String(o.orientation ?? 'auto');
    let { cols, rows } = gridFor(n, width, innerH, 1.3);
    if (orientation === 'horizontal') ({ cols, rows } = { cols: n, rows: 1 });
    if (orientation === 'vertical') ({ cols, rows } = { cols: 1, rows: n });
    const cellW = width / cols;
    const cellH = innerH / rows;
    const showMarkers = o.showThresholdMarkers !== false;
    const showLabels = o.showThresholdLabels === true;
    const textMode = String(o.textMode ?? 'auto');
    const showName = textMode === 'name' || textMode === 'value_and_name' || (textMode === 'auto' && n > 1);
    const grid = h('div', { class: 'vp-stat-grid', style: `grid-template-columns: repeat(${cols}, 1fr); grid-template-rows: repeat(${rows}, 1fr);` });
    for (const fd of values) {
      const titleH = showName ? Math.max(12, Math.min(18, Math.floor(cellH * 0.1))) : 0;
      const w = cellW - 8;
      const hgt = cellH - 8 - (showName ? titleH * 1.6 : 0);
      const labelPad = showLabels ? 18 : 0;
      // The arc spans 240°: its height is r * (1 + cos 60°) = 1.5 r.
      const r = Math.max(10, Math.min((w - 2 * labelPad) / 2, (hgt - 2 * labelPad) / 1.5) - 4);
      const cx = w / 2;
      const cy = labelPad + r + 4 + Math.max(0, (hgt - 2 * labelPad - 1.5 * r - 8) / 2);
      const ringW = showMarkers ? Math.max(3, r * 0.08) : 0;
      const barW = Math.max(6, r * 0.2);
      const barR = r - ringW - (showMarkers ? 3 : 0) - barW / 2;
      const { min, max } = fd.range;
      const s = svg('svg', { width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}` });
      if (showMarkers) {
        for (const b of thresholdBands(fd.resolved.thresholds, min, max)) {
          const a0 = START + ((b.from - min) / (max - min)) * SWEEP;
          const a1 = START + ((b.to - min) / (max - min)) * SWEEP;
          s.appendChild(svg('path', { d: arcPath(cx, cy, r - ringW / 2, a0, a1), stroke: b.color, 'stroke-width': ringW, fill: 'none' }));
        }
      }
      s.appendChild(svg('path', { d: arcPath(cx, cy, barR, START, START + SWEEP), stroke: 'rgba(255,255,255,0.08)', 'stroke-width': barW, fill: 'none' }));
      const pct = Number.isFinite(fd.display.numeric) ? fd.display.percent : 0;
      if (pct > 0.001) {
        s.appendChild(
          svg('path', { class: 'vp-gauge-value', d: arcPath(cx, cy, barR, START, START + SWEEP * Math.min(1, pct)), stroke: fd.display.color, 'stroke-width': barW, fill: 'none' }),
        );
      }
      if (showLabels) {
        const steps = fd.resolved.thresholds.steps.filter((st) => st.value !== null && st.value !== undefined);
        const marks = [min, ...steps.map((st) => (fd.resolved.thresholds.mode === 'percentage' ? min + ((max - min) * Number(st.value)) / 100 : Number(st.value))), max];
        for (const m of marks) {
          if (m < min || m > max) continue;
          const [lx, ly] = polar(cx, cy, r + 10, START + ((m - min) / (max - min)) * SWEEP);
          s.appendChild(svg('text', { x: lx, y: ly, 'text-anchor': 'middle', 'dominant-baseline': 'middle', class: 'vp-gauge-label' }, formatted(m, fd.resolved.config.unit, fd.resolved.config.decimals)));
        }
      }
      const text = valueText(fd, panel);
      const fs = fitFontSize(text, barR * 1.4, barR * 0.55, 9, 90, 500);
      s.appendChild(
        svg('text', { x: cx, y: cy + fs * 0.1, 'text-anchor': 'middle', 'dominant-baseline': 'middle', fill: fd.display.color, 'font-size': fs, 'font-weight': 500, class: 'vp-gauge-text' }, text),
      );
      grid.appendChild(
        h(
          'div',
          { class: 'vp-gauge', dataset: { value: text, color: fd.display.color, title: fd.display.title, percent: pct.toFixed(3) } },
          s,
          showName ? h('div', { class: 'vp-gauge-title', style: `font-size:${titleH}px`, title: fd.display.title }, fd.display.title) : null,
        ),
      );
    }
    el.replaceChildren(...[strip, grid].filter((x): x is HTMLElement => !!x));
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(n);
    el.dataset.value = valueText(values[0], panel);
    el.dataset.color = values[0].display.color;
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

register(['gauge'], gaugeFactory);
