/**
 * State timeline and status history (Grafana `state-timeline`, `status-history`): one row per
 * field, time across; each value becomes a coloured band — merged runs of equal values for the
 * timeline, one cell per sample for status history — coloured by value mappings, else by the
 * field's colour mode (thresholds by default), with the mapped text inside when it fits, and
 * the dashboard's annotations as lines (bands for regions) across the rows.
 */
import { h } from '../lib/dom';
import { dataFields, displayValue, fieldRange, isHidden, resolveFields, type ResolvedField } from '../lib/fieldconfig';
import { formatDateTime, type TimeZone } from '../lib/time';
import { bodySize, errorStrip, opts, showEmptyOrError, textWidth, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { annotationTip } from './svgchart';
import type { Annotation, GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

interface Segment {
  from: number;
  to: number;
  text: string;
  color: string;
}

function segmentsOf(r: ResolvedField, all: ResolvedField[], mergeValues: boolean, status: boolean, endMs: number, ctx: PanelContext): Segment[] {
  const times = r.field.times ?? [];
  const range = fieldRange(r, all);
  const segs: Segment[] = [];
  const step = times.length > 1 ? times[1] - times[0] : 0;
  for (let i = 0; i < times.length; i++) {
    const v = r.field.values[i];
    if (v === null || v === undefined) continue;
    const d = displayValue(v, r, range, ctx.timeZone);
    const text = `${d.prefix ?? ''}${d.text}${d.suffix ?? ''}`;
    const from = status ? times[i] - step / 2 : times[i];
    let to = status ? times[i] + step / 2 : i + 1 < times.length ? times[i + 1] : endMs;
    // A gap (null next) ends the state at the next sample's time.
    if (!status && i + 1 < times.length && (r.field.values[i + 1] === null || r.field.values[i + 1] === undefined)) to = times[i + 1];
    const prev = segs[segs.length - 1];
    if (!status && mergeValues && prev && prev.text === text && prev.color === d.color && Math.abs(prev.to - from) < 1) prev.to = to;
    else segs.push({ from, to, text, color: d.color });
  }
  return segs;
}

/** The annotations over the tracks (right of the names, above the time axis): hover shows the text. */
function annotationLayer(list: Annotation[] | undefined, from: number, to: number, nameW: number, tz: TimeZone): { el: HTMLElement; count: number } {
  const span = to - from || 1;
  const marks = (list ?? [])
    .filter((a) => (a.timeEnd ?? a.time) >= from && a.time <= to)
    .map((a) => {
      const x0 = (Math.max(a.time, from) - from) / span;
      const x1 = a.timeEnd !== undefined ? (Math.min(a.timeEnd, to) - from) / span : x0;
      const m = h(
        'div',
        { class: x1 > x0 ? 'vp-ann vp-ann-region' : 'vp-ann', 'data-testid': 'annotation', style: `left:${(x0 * 100).toFixed(3)}%; width:${((x1 - x0) * 100).toFixed(3)}%` },
        h('span', { class: 'vp-ann-marker', title: annotationTip(a, tz), tabindex: 0, 'aria-label': `Annotation: ${a.title || a.text}` }),
      );
      m.style.setProperty('--ann-color', a.color);
      return m;
    });
  return { el: h('div', { class: 'vp-ann-layer', style: `left:${nameW + 4}px` }, ...marks), count: marks.length };
}

function timelineFactory(status: boolean) {
  return (el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer => {
    el.classList.add('vp-body');

    function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
      const fields = dataFields(data, { includeNonNumeric: true }).filter((f) => f.type !== 'time' && f.times && f.times.length > 0);
      const resolved = resolveFields(panel, fields, { defaultColorMode: 'thresholds', interpolate: ctx.interpolate }).filter((r) => !isHidden(r));
      if (showEmptyOrError(el, data, resolved.length > 0)) return;
      const o = opts(panel);
      const { width, height } = bodySize(el, size.width, size.height);
      const from = data.range.from;
      const to = data.range.to;
      const span = to - from || 1;
      const showValue = String(o.showValue ?? 'auto');
      const mergeValues = o.mergeValues !== false;
      const rowHeight = Math.max(0.1, Math.min(1, Number(o.rowHeight ?? 0.9)));
      const nameW = Math.min(width * 0.3, Math.max(...resolved.map((r) => textWidth(r.displayName, 12.5, 400))) + 14);
      const trackW = Math.max(10, width - nameW - 8);
      const rows = h('div', { class: 'vp-states-rows' });
      let segCount = 0;
      for (const r of resolved) {
        const segs = segmentsOf(r, resolved, mergeValues, status, to, ctx);
        segCount += segs.length;
        const track = h('div', { class: 'vp-state-track' });
        for (const s of segs) {
          const x0 = Math.max(0, (s.from - from) / span);
          const x1 = Math.min(1, (s.to - from) / span);
          if (x1 <= x0) continue;
          const pxW = (x1 - x0) * trackW;
          const fits = textWidth(s.text, 12, 400) + 6 < pxW;
          const seg = h(
            'div',
            {
              class: 'vp-state-seg',
              style: `left:${(x0 * 100).toFixed(3)}%; width:${((x1 - x0) * 100).toFixed(3)}%; background:${s.color}; top:${(((1 - rowHeight) / 2) * 100).toFixed(1)}%; bottom:${(((1 - rowHeight) / 2) * 100).toFixed(1)}%; color:#fff; text-shadow:0 0 2px rgba(0,0,0,.6)`,
              title: `${r.displayName}: ${s.text}\n${formatDateTime(s.from, ctx.timeZone)} → ${formatDateTime(s.to, ctx.timeZone)}`,
              dataset: { value: s.text },
            },
            showValue === 'always' || (showValue === 'auto' && fits) ? s.text : '',
          );
          track.appendChild(seg);
        }
        rows.appendChild(h('div', { class: 'vp-state-row' }, h('div', { class: 'vp-state-name', style: `width:${nameW}px`, title: r.displayName }, r.displayName), track));
      }
      const axis = h('div', { class: 'vp-state-axis', style: `margin-left:${nameW}px` });
      const ticks = Math.max(2, Math.min(8, Math.floor(trackW / 120)));
      for (let i = 0; i <= ticks; i++) {
        const t = from + (span * i) / ticks;
        const label = span > 86400000 * 2 ? formatDateTime(t, ctx.timeZone).slice(5, 16) : formatDateTime(t, ctx.timeZone).slice(11, 16);
        axis.appendChild(h('span', { style: `left:${((i / ticks) * 100).toFixed(2)}%` }, i === 0 || i === ticks ? '' : label));
      }
      const ann = annotationLayer(data.annotations, from, to, nameW, ctx.timeZone);
      const body = h('div', { class: 'vp-states', style: `height:${height}px` }, rows, axis, ann.el);
      el.replaceChildren(...[errorStrip(data), body].filter((x): x is HTMLElement => !!x));
      el.dataset.state = 'ok';
      el.dataset.seriesCount = String(resolved.length);
      el.dataset.segments = String(segCount);
      if (data.annotations) el.dataset.annotationCount = String(ann.count);
    }

    const view = redrawingRenderer(el, draw);
    return view.renderer;
  };
}

register(['state-timeline'], timelineFactory(false));
register(['status-history'], timelineFactory(true));
