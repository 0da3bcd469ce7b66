/**
 * The stat panel (Grafana `stat`; legacy `singlestat` arrives here translated by the dashboard
 * model): one big number per reduced field, coloured by thresholds/mappings (value, background
 * or none), with an optional area sparkline, laid out as Grafana's textMode, justifyMode and
 * orientation ask, the number sized to fill its cell.
 */
import { h } from '../lib/dom';
import { contrastText, fieldDisplayValues, withAlpha, type FieldDisplay } from '../lib/fieldconfig';
import { formattedToString } from '../lib/units';
import { bodySize, errorStrip, fitFontSize, gridFor, opts, showEmptyOrError, sparkline, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

/** The text shown for a display value (prefix + text + suffix) with legacy singlestat prefix/postfix. */
export function valueText(fd: FieldDisplay, panel: GrafanaPanel): string {
  const pre = typeof panel.legacyPrefix === 'string' ? panel.legacyPrefix : '';
  const post = typeof panel.legacyPostfix === 'string' ? panel.legacyPostfix : '';
  return `${pre}${formattedToString(fd.display)}${post}`;
}

function statFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');

  function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
    const values = fieldDisplayValues(panel, data, { interpolate: ctx.interpolate, timeZone: ctx.timeZone });
    if (showEmptyOrError(el, data, values.length > 0, noValueText(panel))) return;
    const o = opts(panel);
    const { width, height } = bodySize(el, size.width, size.height);
    const strip = errorStrip(data);
    const innerH = height - (strip ? 22 : 0);
    const n = values.length;
    const orientation = String(o.orientation ?? 'auto');
    let cols: number;
    let rows: number;
    if (orientation === 'horizontal') {
      cols = 1;
      rows = n;
    } else if (orientation === 'vertical') {
      cols = n;
      rows = 1;
    } else ({ cols, rows } = gridFor(n, width, innerH, 2.2));
    const cellW = width / cols;
    const cellH = innerH / rows;
    const textMode = String(o.textMode ?? 'auto');
    const showName = textMode === 'name' || textMode === 'value_and_name' || (textMode === 'auto' && n > 1);
    const showValue = textMode !== 'name' && textMode !== 'none';
    const colorMode = String(o.colorMode ?? 'value');
    const graphMode = String(o.graphMode ?? 'area');
    const justify = String(o.justifyMode ?? 'auto');
    const textSizes = (o.text ?? {}) as { titleSize?: number; valueSize?: number };

    const grid = h('div', {
      class: 'vp-stat-grid',
      style: `grid-template-columns: repeat(${cols}, 1fr); grid-template-rows: repeat(${rows}, 1fr);`,
    });
    for (const fd of values) {
      const text = valueText(fd, panel);
      const color = fd.display.color;
      const spark =
        graphMode === 'area' && fd.sparkline && fd.sparkline.times.length > 1 && cellH > 50
          ? { times: fd.sparkline.times, values: fd.sparkline.values }
          : null;
      const wide = justify === 'auto' && showName && showValue && cellW / cellH > 2.6 && !spark;
      const titleSize = textSizes.titleSize ?? Math.max(11, Math.min(20, Math.floor(cellH * (wide ? 0.2 : 0.13))));
      const sparkH = spark ? Math.max(14, Math.floor(cellH * 0.3)) : 0;
      const valueBoxH = (wide ? cellH : cellH - (showName ? titleSize * 1.5 : 0) - sparkH * 0.6) - 8;
      const valueBoxW = (wide ? cellW * 0.55 : cellW) - 16;
      const valueSize = textSizes.valueSize ?? fitFontSize(text, valueBoxW, valueBoxH * 0.92, 10, 140, 500);
      const cell = h(
        'div',
        {
          class: `vp-stat vp-stat-${wide ? 'wide' : justify === 'center' || (!showName && !wide) ? 'center' : 'stack'}`,
          dataset: { value: text, color, title: fd.display.title },
        },
        showName ? h('div', { class: 'vp-stat-title', style: `font-size:${titleSize}px`, title: fd.display.title }, fd.display.title) : null,
        showValue
          ? h(
              'div',
              { class: 'vp-stat-value', style: `font-size:${valueSize}px; line-height:1.1` },
              text,
            )
          : null,
      );
      if (colorMode === 'value') (cell.querySelector('.vp-stat-value') as HTMLElement | null)?.style.setProperty('color', color);
      if (colorMode === 'background' || colorMode === 'background_solid') {
        cell.style.background =
          colorMode === 'background' ? `linear-gradient(120deg, ${withAlpha(color, 0.75)}, ${color})` : color;
        cell.style.color = contrastText(color);
        cell.classList.add('vp-stat-bg');
      }
      if (spark) {
        const lineColor = colorMode === 'background' || colorMode === 'background_solid' ? 'rgba(255,255,255,0.85)' : colorMode === 'none' ? '#8ab8ff' : color;
        const s = sparkline(spark.times, spark.values, Math.floor(cellW), sparkH, lineColor);
        if (s) cell.appendChild(h('div', { class: 'vp-stat-spark', style: `height:${sparkH}px` }, s));
      }
      grid.appendChild(cell);
    }
    el.replaceChildren(...[strip, grid].filter((x): x is HTMLElement => !!x));
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(n);
    el.dataset.value = values.length ? valueText(values[0], panel) : '';
    el.dataset.color = values[0]?.display.color ?? '';
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

function noValueText(panel: GrafanaPanel): string {
  const nv = panel.fieldConfig?.defaults?.noValue;
  return typeof nv === 'string' && nv ? nv : 'No data';
}

register(['stat'], statFactory);
