/**
 * The pie chart panel (Grafana `piechart`, and the old `grafana-piechart-panel` plugin's options):
 * one SVG slice per reduced value, pie or donut, palette colours (or overrides), with labels
 * (percent/name/value) and a list or table legend.
 */
import { h, svg } from '../lib/dom';
import { fieldDisplayValues, resolveColor, type FieldDisplay } from '../lib/fieldconfig';
import { formattedToString } from '../lib/units';
import { bodySize, errorStrip, opts, showEmptyOrError, textWidth, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

const LEGACY_CALC: Record<string, string> = { current: 'lastNotNull', avg: 'mean', total: 'sum', min: 'min', max: 'max' };

/** The panel with the old plugin's options (valueName, format, decimals, aliasColors, pieType) translated. */
function normalise(panel: GrafanaPanel): GrafanaPanel {
  if (panel.valueName === undefined && panel.pieType === undefined && panel.format === undefined) return panel;
  const o = { ...(panel.options ?? {}) } as Record<string, unknown>;
  const defaults = { ...(panel.fieldConfig?.defaults ?? {}) };
  const overrides = [...(panel.fieldConfig?.overrides ?? [])];
  if (!o.reduceOptions) o.reduceOptions = { calcs: [LEGACY_CALC[String(panel.valueName ?? 'current')] ?? 'lastNotNull'], values: false, fields: '' };
  if (typeof panel.format === 'string' && !defaults.unit) defaults.unit = panel.format;
  if (typeof panel.decimals === 'number') defaults.decimals = panel.decimals;
  if (!o.pieType && typeof panel.pieType === 'string') o.pieType = panel.pieType === 'donut' ? 'donut' : 'pie';
  const legend = panel.legend as { show?: boolean; values?: boolean; percentage?: boolean } | undefined;
  if (!o.legend && legend) o.legend = { displayMode: legend.show === false ? 'hidden' : 'list', placement: 'right', values: [legend.values ? 'value' : '', legend.percentage ? 'percent' : ''].filter(Boolean) };
  if (panel.aliasColors && typeof panel.aliasColors === 'object') {
    for (const [name, color] of Object.entries(panel.aliasColors as Record<string, string>)) {
      overrides.push({ matcher: { id: 'byName', options: name }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }] });
    }
  }
  return { ...panel, options: o, fieldConfig: { defaults, overrides } };
}

function sliceColor(fd: FieldDisplay, i: number): string {
  const mode = fd.resolved.colorMode;
  if (mode === 'palette-classic' || mode === 'palette-classic-by-name') return fd.display.color;
  if (mode === 'fixed') return resolveColor(fd.resolved.config.color?.fixedColor);
  void i;
  return fd.display.color;
}

function pieFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');

  function draw(data: PanelData, rawPanel: GrafanaPanel, size: PanelSize) {
    const panel = normalise(rawPanel);
    const all = fieldDisplayValues(panel, data, { interpolate: ctx.interpolate, timeZone: ctx.timeZone, defaultColorMode: 'palette-classic' });
    const values = all.filter((v) => Number.isFinite(v.display.numeric) && v.display.numeric > 0);
    if (showEmptyOrError(el, data, values.length > 0, all.length ? 'All values are zero' : 'No data')) return;
    const o = opts(panel);
    const legend = (o.legend ?? {}) as { displayMode?: string; placement?: string; values?: string[]; showLegend?: boolean };
    const showLegend = legend.displayMode !== 'hidden' && legend.showLegend !== false;
    const placement = legend.placement === 'bottom' ? 'bottom' : 'right';
    const legendValues = Array.isArray(legend.values) ? legend.values : [];
    const total = values.reduce((s, v) => s + v.display.numeric, 0);
    const { width, height } = bodySize(el, size.width, size.height);
    const strip = errorStrip(data);
    const innerH = height - (strip ? 22 : 0);
    const colors = values.map((v, i) => sliceColor(v, i));
    const texts = values.map((v) => formattedToString(v.display));
    const pct = (v: FieldDisplay) => `${((v.display.numeric / total) * 100).toFixed(v.display.numeric / total < 0.1 ? 1 : 0)}%`;

    const legendW = showLegend && placement === 'right' ? Math.min(width * 0.45, Math.max(...values.map((v, i) => textWidth(v.display.title, 12.5, 400) + (legendValues.length ? textWidth(`${texts[i]} 100%`, 12.5, 400) + 20 : 0))) + 40) : 0;
    const legendH = showLegend && placement === 'bottom' ? Math.min(innerH * 0.35, 22 * Math.ceil(values.length / 3)) : 0;
    const d = Math.max(20, Math.min(width - legendW - 8, innerH - legendH - 8));
    const r = d / 2;
    const donut = String(o.pieType ?? 'pie') === 'donut';
    const inner = donut ? r * 0.6 : 0;
    const s = svg('svg', { width: d, height: d, viewBox: `${-r} ${-r} ${d} ${d}`, role: 'img', 'aria-label': 'pie chart' });
    let a = -Math.PI / 2;
    const labels = Array.isArray(o.displayLabels) ? (o.displayLabels as string[]) : [];
    values.forEach((v, i) => {
      const frac = v.display.numeric / total;
      const a1 = a + frac * Math.PI * 2;
      let path: string;
      if (frac >= 0.9999) {
        path = `M${-r},0A${r},${r} 0 1 1 ${r},0A${r},${r} 0 1 1 ${-r},0Z` + (inner ? `M${-inner},0A${inner},${inner} 0 1 0 ${inner},0A${inner},${inner} 0 1 0 ${-inner},0Z` : '');
      } else {
        const large = a1 - a > Math.PI ? 1 : 0;
        const p = (ang: number, rad: number) => `${(Math.cos(ang) * rad).toFixed(2)},${(Math.sin(ang) * rad).toFixed(2)}`;
        path = inner
          ? `M${p(a, r)}A${r},${r} 0 ${large} 1 ${p(a1, r)}L${p(a1, inner)}A${inner},${inner} 0 ${large} 0 ${p(a, inner)}Z`
          : `M0,0L${p(a, r)}A${r},${r} 0 ${large} 1 ${p(a1, r)}Z`;
      }
      const slice = svg('path', { d: path, fill: colors[i], class: 'vp-pie-slice', 'fill-rule': 'evenodd' }, svg('title', {}, `${v.display.title}: ${texts[i]} (${pct(v)})`));
      slice.dataset.value = texts[i];
      s.appendChild(slice);
      if (labels.length && frac > 0.04 && r > 50) {
        const mid = (a + a1) / 2;
        const lr = inner ? (r + inner) / 2 : r * 0.65;
        const parts = labels.map((l) => (l === 'percent' ? pct(v) : l === 'name' ? v.display.title : l === 'value' ? texts[i] : '')).filter(Boolean);
        s.appendChild(
          svg('text', { x: Math.cos(mid) * lr, y: Math.sin(mid) * lr, 'text-anchor': 'middle', 'dominant-baseline': 'middle', 'font-size': 12, fill: '#fff', 'paint-order': 'stroke', stroke: 'rgba(0,0,0,.45)', 'stroke-width': 2 }, parts.join(' ')),
        );
      }
      a = a1;
    });
    let legendEl: HTMLElement | null = null;
    if (showLegend) {
      const items = values.map((v, i) =>
        h(
          'div',
          { class: 'vp-legend-item', dataset: { value: texts[i] } },
          h('span', { class: 'sw', style: `background:${colors[i]}` }),
          h('span', { class: 'nm', title: v.display.title }, v.display.title),
          legendValues.length
            ? h('span', { class: 'vl' }, [legendValues.includes('value') ? texts[i] : '', legendValues.includes('percent') ? pct(v) : ''].filter(Boolean).join('  '))
            : null,
        ),
      );
      legendEl = h('div', { class: `vp-legend ${placement === 'bottom' ? 'vp-legend-bottom' : ''}`, style: placement === 'right' ? `width:${legendW}px` : `max-height:${legendH}px` }, items);
    }
    const pie = h('div', { class: `vp-pie ${placement === 'bottom' ? 'vp-pie-bottom' : ''}`, style: placement === 'right' ? 'justify-content:center' : '' }, h('div', { style: 'display:flex; justify-content:center; align-items:center; flex:1; min-width:0' }, s), legendEl);
    el.replaceChildren(...[strip, pie].filter((x): x is HTMLElement => !!x));
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(values.length);
    el.dataset.value = texts.join('\u001f');
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

register(['piechart'], pieFactory);
