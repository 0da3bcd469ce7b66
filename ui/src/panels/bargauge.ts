/**
 * The bar gauge panel (Grafana `bargauge`): one bar per reduced field from min to max, in
 * Grafana's three display modes — basic (solid threshold colour), gradient (the threshold
 * colours blended up to the value) and lcd (lit segments) — horizontal or vertical, with the
 * unfilled track, name and value placement Grafana offers.
 */
import { h } from '../lib/dom';
import { activeThreshold, resolveColor, thresholdBands, withAlpha, type FieldDisplay } from '../lib/fieldconfig';
import { fieldDisplayValues } from '../lib/fieldconfig';
import { bodySize, errorStrip, fitFontSize, opts, showEmptyOrError, textWidth, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { valueText } from './stat';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

/** CSS background of the filled part for `gradient` mode: threshold colours from min to value. */
function gradientFill(fd: FieldDisplay, vertical: boolean): string {
  const { min, max } = fd.range;
  const upto = min + (max - min) * fd.display.percent;
  const bands = thresholdBands(fd.resolved.thresholds, min, max).filter((b) => b.from < upto);
  const mode = fd.resolved.colorMode;
  if (mode !== 'thresholds' || bands.length < 2) {
    const c = fd.display.color;
    return `linear-gradient(${vertical ? 'to top' : 'to right'}, ${withAlpha(c, 0.35)}, ${c})`;
  }
  const span = upto - min || 1;
  const stops = bands.map((b) => `${b.color} ${(((b.from - min) / span) * 100).toFixed(1)}%`);
  return `linear-gradient(${vertical ? 'to top' : 'to right'}, ${stops.join(', ')})`;
}

function lcdCells(fd: FieldDisplay, count: number, vertical: boolean): HTMLElement {
  const { min, max } = fd.range;
  const wrap = h('div', { class: `vp-lcd ${vertical ? 'vp-lcd-v' : ''}` });
  for (let i = 0; i < count; i++) {
    const cellValue = min + ((max - min) * (i + 0.5)) / count;
    const lit = (i + 0.5) / count <= fd.display.percent;
    const color =
      fd.resolved.colorMode === 'thresholds'
        ? resolveColor(activeThreshold(cellValue, fd.resolved.thresholds, min, max).color)
        : fd.display.color;
    wrap.appendChild(h('div', { class: 'vp-lcd-cell', style: `background:${lit ? color : withAlpha(color, 0.12)}` }));
  }
  return wrap;
}

function barGaugeFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');

  function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
    const values = fieldDisplayValues(panel, data, { interpolate: ctx.interpolate, timeZone: ctx.timeZone });
    if (showEmptyOrError(el, data, values.length > 0)) return;
    const o = opts(panel);
    const { width, height } = bodySize(el, size.width, size.height);
    const strip = errorStrip(data);
    const innerH = height - (strip ? 22 : 0);
    const n = values.length;
    const mode = String(o.displayMode ?? 'gradient');
    const valueMode = String(o.valueMode ?? 'color');
    const showUnfilled = o.showUnfilled !== false;
    let orientation = String(o.orientation ?? 'auto');
    if (orientation === 'auto') orientation = innerH / n >= 22 || width < 60 * n ? 'horizontal' : 'vertical';
    const vertical = orientation === 'vertical';
    const namePlacement = String(o.namePlacement ?? 'auto');
    const texts = values.map((v) => valueText(v, panel));
    const container = h('div', { class: `vp-bars ${vertical ? 'vp-bars-v' : 'vp-bars-h'}` });

    if (!vertical) {
      const rowH = Math.max(16, Math.min(Number(o.maxVizHeight ?? 300), innerH / n, 90));
      const nameTop = namePlacement === 'top' || (namePlacement === 'auto' && rowH >= 44);
      const hideName = namePlacement === 'hidden';
      const fs = Math.max(10, Math.min(18, Math.floor(rowH * (nameTop ? 0.28 : 0.42))));
      const nameW = hideName || nameTop ? 0 : Math.min(width * 0.35, Math.max(...values.map((v) => textWidth(v.display.title, fs, 400))) + 12);
      const valueFs = Math.min(fitFontSize('8'.repeat(4), width * 0.2, (nameTop ? rowH * 0.6 : rowH) * 0.8, 10, 40), 40);
      const valueW = valueMode === 'hidden' ? 0 : Math.max(...texts.map((t) => textWidth(t, valueFs, 500))) + 12;
      values.forEach((fd, i) => {
        const pct = fd.display.percent;
        const barH = Math.max(6, (nameTop ? rowH - fs * 1.5 : rowH) - 6);
        const track = h('div', { class: 'vp-bar-track', style: `height:${barH}px; ${showUnfilled ? '' : 'background:transparent'}` });
        if (mode === 'lcd') track.appendChild(lcdCells(fd, Math.max(4, Math.floor((width - nameW - valueW) / 14)), false));
        else
          track.appendChild(
            h('div', {
              class: 'vp-bar-fill',
              style: `width:${(pct * 100).toFixed(2)}%; background:${mode === 'basic' ? fd.display.color : gradientFill(fd, false)}`,
            }),
          );
        container.appendChild(
          h(
            'div',
            { class: 'vp-bar-row', style: `height:${rowH}px`, dataset: { value: texts[i], color: fd.display.color, title: fd.display.title, percent: pct.toFixed(3) } },
            nameTop && !hideName ? h('div', { class: 'vp-bar-name-top', style: `font-size:${fs}px`, title: fd.display.title }, fd.display.title) : null,
            h(
              'div',
              { class: 'vp-bar-line' },
              !nameTop && !hideName ? h('div', { class: 'vp-bar-name', style: `width:${nameW}px; font-size:${fs}px`, title: fd.display.title }, fd.display.title) : null,
              track,
              valueMode === 'hidden'
                ? null
                : h('div', { class: 'vp-bar-value', style: `width:${valueW}px; font-size:${valueFs}px; color:${valueMode === 'color' ? fd.display.color : 'var(--text)'}` }, texts[i]),
            ),
          ),
        );
      });
    } else {
      const colW = Math.min(width / n, 220);
      const fs = Math.max(10, Math.min(14, Math.floor(colW * 0.15)));
      const valueFs = Math.max(10, Math.min(28, Math.min(...texts.map((t) => fitFontSize(t, colW - 8, 28, 10, 28)))));
      values.forEach((fd, i) => {
        const pct = fd.display.percent;
        const track = h('div', { class: 'vp-bar-track vp-bar-track-v', style: showUnfilled ? '' : 'background:transparent' });
        if (mode === 'lcd') track.appendChild(lcdCells(fd, Math.max(4, Math.floor(innerH / 12)), true));
        else
          track.appendChild(
            h('div', {
              class: 'vp-bar-fill vp-bar-fill-v',
              style: `height:${(pct * 100).toFixed(2)}%; background:${mode === 'basic' ? fd.display.color : gradientFill(fd, true)}`,
            }),
          );
        container.appendChild(
          h(
            'div',
            { class: 'vp-bar-col', dataset: { value: texts[i], color: fd.display.color, title: fd.display.title, percent: pct.toFixed(3) } },
            valueMode === 'hidden' ? null : h('div', { class: 'vp-bar-value-v', style: `font-size:${valueFs}px; color:${valueMode === 'color' ? fd.display.color : 'var(--text)'}` }, texts[i]),
            track,
            namePlacement === 'hidden' ? null : h('div', { class: 'vp-bar-name-v', style: `font-size:${fs}px`, title: fd.display.title }, fd.display.title),
          ),
        );
      });
    }
    el.replaceChildren(...[strip, container].filter((x): x is HTMLElement => !!x));
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(n);
    el.dataset.value = texts[0];
    el.dataset.color = values[0].display.color;
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

register(['bargauge'], barGaugeFactory);
