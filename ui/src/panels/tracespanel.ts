/**
 * Grafana's `traces` panel: the trace a Jaeger/Tempo/Zipkin target found (a trace-ID query, or
 * the first of a search — a picker lists the others) as a compact waterfall: one row per span in
 * tree order, indented by depth, coloured by service, bars on the trace's time scale with their
 * durations, errors marked, and a link to the full trace view at `/trace/<id>`.
 */
import { ApiError, jaegerTrace, type JaegerTrace } from '../lib/api';
import { h, message } from '../lib/dom';
import { buildTrace, formatMicros, serviceColor, type TraceModel } from '../explore/trace_model';
import { showEmptyOrError } from './panelkit';
import { register } from './registry';
import './morepanels.css';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

/** Trace ids in the panel's data: the `Trace ID` (or `traceID`) column of trace tables. */
export function traceIds(data: PanelData): string[] {
  const ids: string[] = [];
  for (const t of data.tables) {
    const ci = t.columns.findIndex((c) => /^trace ?id$/i.test(c.name));
    if (ci < 0) continue;
    for (const r of t.rows) {
      const id = r[ci];
      if (typeof id === 'string' && id && !ids.includes(id)) ids.push(id);
    }
  }
  return ids;
}

const NAME_W = 0.36;
const MAX_ROWS = 500;

function waterfall(model: TraceModel): HTMLElement {
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const cols = `${NAME_W * 100}% 1fr`;
  const scaleRow = h(
    'div',
    { class: 'tp-scale', style: `grid-template-columns:${cols}` },
    h('div', { style: 'padding-left:8px' }, 'Service & operation'),
    h('div', { class: 'tp-scale-ticks' }, ticks.map((t) => h('span', { style: `left:${t * 100}%` }, formatMicros(model.duration * t)))),
  );
  const rows = model.spans.slice(0, MAX_ROWS).map((n) => {
    const left = model.duration ? (n.offset / model.duration) * 100 : 0;
    const width = model.duration ? (n.duration / model.duration) * 100 : 100;
    const color = serviceColor(n.service);
    // The duration sits right of the bar; for bars reaching the right edge, left of it, or
    // inside it when the bar starts at the left edge too (never over the names column).
    const pos = left + width <= 80 ? 'right' : left > 12 ? 'left' : 'inside';
    return h(
      'div',
      {
        class: 'tp-row',
        role: 'row',
        style: `grid-template-columns:${cols}`,
        dataset: { spanId: n.id, depth: String(n.depth), parentId: n.parentId ?? '' },
        title: `${n.service}: ${n.span.operationName} — ${formatMicros(n.duration)}${n.isError ? ' (error)' : ''}`,
      },
      h(
        'div',
        { class: 'tp-name', style: `padding-left:${8 + Math.min(n.depth, 12) * 12}px` },
        n.isError ? h('span', { class: 'tp-erricon', 'aria-label': 'error' }, '!') : null,
        h('span', { class: 'tp-svc', style: `border-color:${color}` }, n.service),
        h('span', { class: 'tp-op' }, n.span.operationName),
      ),
      h(
        'div',
        { class: 'tp-lane' },
        h('div', { class: `tp-bar${n.isError ? ' error' : ''}`, style: `left:${left}%; width:${Math.max(width, 0.2)}%; background:${color}` }),
        h(
          'span',
          { class: `tp-dur${pos === 'inside' ? ' inside' : ''}`, style: pos === 'right' ? `left:${left + width + 0.5}%` : pos === 'left' ? `right:${100 - left + 0.5}%` : `right:${100 - left - width + 0.5}%` },
          formatMicros(n.duration),
        ),
      ),
    );
  });
  const more = model.spans.length > MAX_ROWS ? h('div', { class: 'ng-note' }, `${model.spans.length - MAX_ROWS} more spans — open the trace to see them all`) : null;
  return h('div', { class: 'tp-rows', role: 'table' }, scaleRow, rows, more);
}

function tracesFactory(el: HTMLElement, _panel: GrafanaPanel, _ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');
  let abort: AbortController | undefined;
  let ids: string[] = [];
  let chosen = '';
  const cache = new Map<string, JaegerTrace | null>();

  function render(trace: JaegerTrace) {
    const model = buildTrace(trace);
    const root = model.root;
    const picker =
      ids.length > 1
        ? h(
            'select',
            {
              'aria-label': 'Trace shown',
              onchange: (e: Event) => {
                chosen = (e.target as HTMLSelectElement).value;
                void load();
              },
            },
            ids.map((id) => {
              const o = h('option', { value: id }, id.slice(0, 16));
              if (id === chosen) o.selected = true;
              return o;
            }),
          )
        : null;
    const head = h(
      'div',
      { class: 'tp-head' },
      h('span', { class: 'tp-title', title: `${root?.service}: ${root?.span.operationName}` }, `${root?.service ?? '?'}: ${root?.span.operationName ?? '(no spans)'}`),
      h('span', { class: 'tp-meta' }, `${formatMicros(model.duration)} · ${model.spans.length} spans · ${model.services.size} services`),
      model.errorCount ? h('span', { class: 'tp-err' }, `${model.errorCount} errors`) : null,
      picker,
      h('a', { href: `/trace/${encodeURIComponent(trace.traceID)}`, 'data-testid': 'open-trace' }, 'Open trace ↗'),
    );
    el.replaceChildren(head, waterfall(model));
    el.dataset.state = 'ok';
    el.dataset.seriesCount = '1';
    el.dataset.spanCount = String(model.spans.length);
    el.dataset.traceId = trace.traceID;
    el.dataset.maxDepth = String(model.maxDepth);
  }

  async function load() {
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    const id = chosen;
    if (cache.has(id)) {
      const t = cache.get(id);
      if (t) render(t);
      else notFound(id);
      return;
    }
    if (!el.dataset.traceId) el.replaceChildren(message('loading', 'Loading trace…'));
    try {
      const t = await jaegerTrace(id);
      if (ac.signal.aborted) return;
      cache.set(id, t ?? null);
      if (t) render(t);
      else notFound(id);
    } catch (e) {
      if (ac.signal.aborted) return;
      const err = e as ApiError;
      el.dataset.seriesCount = '0';
      el.dataset.state = 'error';
      el.replaceChildren(message('error', 'The trace could not be loaded', err.message));
    }
  }

  function notFound(id: string) {
    el.dataset.seriesCount = '0';
    el.dataset.state = 'empty';
    el.replaceChildren(message('empty', `Trace ${id} was not found`, 'It may be older than the trace store keeps, or not sent yet.'));
  }

  return {
    update(data: PanelData) {
      ids = traceIds(data);
      cache.clear(); // a refresh may bring spans that arrived since
      const searched = data.tables.some((t) => t.columns.some((c) => /^trace ?id$/i.test(c.name)));
      const empty = searched ? 'No traces match the query in this time range' : 'No trace: give the panel a Jaeger/Tempo query with a trace ID';
      if (showEmptyOrError(el, data, ids.length > 0, empty)) {
        delete el.dataset.traceId;
        return;
      }
      if (!ids.includes(chosen)) chosen = ids[0];
      void load();
    },
    resize() {},
    destroy() {
      abort?.abort();
      el.replaceChildren();
    },
  };
}

register(['traces'], tracesFactory);
