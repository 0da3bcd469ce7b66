/**
 * The table panel (Grafana `table`, and the pre-7 table with `styles`/`transform`): draws the
 * panel's frames (instant `format: table` results, series, after the transformations that
 * transform.ts applies to every panel) with sortable headers, units and colours per
 * column from field config, the cell display modes, a reducer footer and virtual scrolling so
 * 100k rows stay smooth.
 */
import { h } from '../lib/dom';
import {
  contrastText,
  displayValue,
  fieldRange,
  formatLabels,
  reduceValues,
  REDUCER_NAMES,
  reducerId,
  resolveField,
  thresholdColor,
  toNumber,
  toRegExp,
  withAlpha,
  type DataField,
  type ResolvedField,
} from '../lib/fieldconfig';
import { formatDateTime, type TimeZone } from '../lib/time';
import { formatted, formattedToString } from '../lib/units';
import { bodySize, errorStrip, opts, showEmptyOrError, textWidth, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { frameLength, panelFrames, timeToMs, type Column } from './transform';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

export type { Column, Frame } from './transform';

// ---- rendering ------------------------------------------------------------------------------

function compare(a: unknown, b: unknown): number {
  const na = typeof a === 'number' ? a : null;
  const nb = typeof b === 'number' ? b : null;
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (na !== null && nb !== null) return na - nb;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

interface LegacyStyle {
  pattern?: string;
  type?: string;
  unit?: string;
  decimals?: number;
  colorMode?: string | null;
  thresholds?: (string | number)[];
  colors?: string[];
  alias?: string;
  align?: string;
  dateFormat?: string;
  mappingType?: number;
  valueMaps?: { value: string; text: string }[];
}

/** Config additions from a pre-7 table's `styles` for a column name. */
function legacyStyle(panel: GrafanaPanel, name: string): LegacyStyle | undefined {
  const styles = Array.isArray(panel.styles) ? (panel.styles as LegacyStyle[]) : [];
  for (const s of styles) {
    if (!s || typeof s.pattern !== 'string') continue;
    const re = s.pattern.startsWith('/') ? toRegExp(s.pattern) : null;
    if (re ? re.test(name) : s.pattern === name) return s;
  }
  return undefined;
}

interface ColumnView {
  col: Column;
  r: ResolvedField;
  title: string;
  range: { min: number; max: number };
  cellType: string;
  align: string;
  width: number;
  hidden: boolean;
  legacy?: LegacyStyle;
}

const ROW_H = 30;

function cellContent(cv: ColumnView, value: unknown, tz: TimeZone): { node: Node | string; style: string; cls: string } {
  const { col, r } = cv;
  if (col.type === 'time' && !cv.legacy?.unit) {
    const ms = timeToMs(value);
    return { node: Number.isFinite(ms) ? formatDateTime(ms, tz) : String(value ?? ''), style: '', cls: '' };
  }
  if (cv.legacy) {
    const s = cv.legacy;
    if (s.type === 'date') {
      const ms = timeToMs(value);
      return { node: Number.isFinite(ms) ? formatDateTime(ms, tz) : String(value ?? ''), style: '', cls: '' };
    }
    const vm = s.valueMaps?.find((m) => String(m.value) === String(value));
    if (vm) return { node: vm.text, style: '', cls: '' };
    const n = toNumber(value);
    if (s.type === 'number' && n !== null) {
      const text = formatted(n, s.unit ?? 'short', s.decimals ?? null);
      const cuts = (s.thresholds ?? []).map(Number).filter((x) => Number.isFinite(x));
      let style = '';
      if (s.colorMode && s.colors?.length) {
        let idx = 0;
        cuts.forEach((c, i) => {
          if (n >= c) idx = i + 1;
        });
        const color = s.colors[Math.min(idx, s.colors.length - 1)];
        style = s.colorMode === 'value' ? `color:${color}` : `background:${color}; color:${contrastText(color)}`;
      }
      return { node: text, style, cls: 'num' };
    }
    return { node: value === null || value === undefined ? '' : String(value), style: '', cls: '' };
  }
  if (col.type !== 'number' && typeof value !== 'number') {
    const mapped = displayValue(value, r, cv.range, tz);
    const text = mapped.mapped ? mapped.text : value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (cv.cellType === 'json-view') return { node: h('span', { class: 'vp-json' }, typeof value === 'string' ? value : JSON.stringify(value)), style: '', cls: '' };
    if (mapped.mapped && (cv.cellType === 'color-text' || cv.cellType === 'color-background')) {
      return { node: text, style: cv.cellType === 'color-text' ? `color:${mapped.color}` : `background:${mapped.color}; color:${contrastText(mapped.color)}`, cls: '' };
    }
    return { node: text, style: '', cls: '' };
  }
  const d = displayValue(value, r, cv.range, tz);
  const text = value === null || value === undefined ? '' : `${d.prefix ?? ''}${d.text}${d.suffix ?? ''}`;
  switch (cv.cellType) {
    case 'color-text':
      return { node: text, style: `color:${d.color}`, cls: 'num' };
    case 'color-background':
      return { node: text, style: `background:linear-gradient(120deg, ${withAlpha(d.color, 0.7)}, ${d.color}); color:${contrastText(d.color)}`, cls: 'num' };
    case 'color-background-solid':
      return { node: text, style: `background:${d.color}; color:${contrastText(d.color)}`, cls: 'num' };
    case 'gradient-gauge':
    case 'lcd-gauge':
    case 'basic-gauge':
    case 'gauge': {
      const fill =
        cv.cellType === 'basic-gauge'
          ? d.color
          : `linear-gradient(to right, ${withAlpha(thresholdColor(cv.range.min, r.thresholds, cv.range.min, cv.range.max), 0.8)}, ${d.color})`;
      const bar = h('div', { class: 'vp-cell-bar' }, h('div', { style: `width:${(d.percent * 100).toFixed(1)}%; background:${fill}` }));
      const frag = document.createDocumentFragment();
      frag.append(bar, text);
      return { node: frag, style: '', cls: '' };
    }
    default:
      return { node: text, style: d.mapped && d.color ? `color:${d.color}` : '', cls: 'num' };
  }
}

export function tableFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  let sort: { col: string; desc: boolean } | null = null;
  let frameIdx = 0;
  let scrollTop = 0;
  el.classList.add('vp-body');

  function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
    const o = opts(panel);
    // Transformations (and a pre-7 table's `transform`) ran in the registry (transform.ts).
    const frames = panelFrames(data).filter((f) => f.columns.length > 0);
    const rowsTotal = frames.reduce((n, f) => n + frameLength(f), 0);
    if (showEmptyOrError(el, data, frames.length > 0 && rowsTotal > 0)) return;
    if (frameIdx >= frames.length) frameIdx = 0;
    const frame = frames[frameIdx];
    const n = frameLength(frame);
    const tz = ctx.timeZone;
    const { width, height } = bodySize(el, size.width, size.height);

    // Columns with their resolved field config (overrides by column name).
    const all: ColumnView[] = frame.columns.map((col, i) => {
      const field: DataField = {
        name: col.name,
        labels: col.labels ?? {},
        refId: col.refId ?? frame.refId,
        type: col.type,
        values: col.values,
        frameName: col.name,
        source: { kind: 'table', index: frameIdx, column: i },
      };
      const r = resolveField(panel, field, i, { defaultColorMode: 'thresholds', interpolate: ctx.interpolate });
      const custom = (r.config.custom ?? {}) as Record<string, unknown>;
      const cellOptions = (custom.cellOptions ?? {}) as { type?: string; mode?: string };
      let cellType = String(cellOptions.type ?? custom.displayMode ?? 'auto');
      if (cellType === 'color-background' && cellOptions.mode === 'basic') cellType = 'color-background-solid';
      const legacy = Array.isArray(panel.styles) ? legacyStyle(panel, col.name) : undefined;
      const title = legacy?.alias || (r.config.displayName ? r.displayName : col.name);
      const headerW = textWidth(title, 13, 600) + 30;
      const range = fieldRange(r, [r]);
      let contentW = 0;
      for (let k = 0; k < Math.min(n, 100); k++) {
        const v = col.values[k];
        const shown = col.type === 'number' && typeof v === 'number' ? formattedToString(displayValue(v, r, range, tz)) : String(v ?? '');
        contentW = Math.max(contentW, textWidth(shown, 13, 400) + 20);
      }
      if (col.type === 'time') contentW = 160;
      const w = typeof custom.width === 'number' ? custom.width : Math.max(60, Math.min(420, Math.max(headerW, contentW, Number(custom.minWidth ?? 0))));
      return {
        col,
        r,
        title,
        range,
        cellType,
        align: String(custom.align ?? 'auto'),
        width: w,
        hidden: custom.hidden === true || legacy?.type === 'hidden',
        legacy,
      };
    });
    const cols = all.filter((c) => !c.hidden);

    // Sort order: the clicked header, else options.sortBy.
    const sortBy = Array.isArray(o.sortBy) ? (o.sortBy[0] as { displayName?: string; desc?: boolean } | undefined) : undefined;
    const active = sort ?? (sortBy?.displayName ? { col: sortBy.displayName, desc: !!sortBy.desc } : null);
    let order = Array.from({ length: n }, (_, i) => i);
    const sortCol = active ? cols.find((c) => c.title === active.col || c.col.name === active.col) : undefined;
    if (active && sortCol) order.sort((a, b) => compare(sortCol.col.values[a], sortCol.col.values[b]) * (active.desc ? -1 : 1));

    const totalW = cols.reduce((s, c) => s + c.width, 0);
    const template = cols.map((c) => (totalW < width ? `minmax(${c.width}px, ${c.width}fr)` : `${c.width}px`)).join(' ');
    const showHeader = o.showHeader !== false;
    const footer = (o.footer ?? {}) as { show?: boolean; reducer?: string[]; fields?: string[]; countRows?: boolean };
    const head = showHeader
      ? h(
          'div',
          { class: 'vp-table-head', style: `grid-template-columns:${template}` },
          cols.map((c) =>
            h(
              'div',
              {
                class: 'vp-th',
                role: 'columnheader',
                title: `${c.title} — click to sort`,
                dataset: { col: c.title },
                style: c.col.type === 'number' && c.align === 'auto' ? 'text-align:right' : '',
                onclick: () => {
                  const cur = sort ?? active;
                  if (!cur || (cur.col !== c.title && cur.col !== c.col.name)) sort = { col: c.title, desc: false };
                  else if (!cur.desc) sort = { col: c.title, desc: true };
                  else sort = { col: '', desc: false };
                  view.redraw();
                },
              },
              c.title,
              active && sortCol === c ? h('span', { class: 'vp-sort' }, active.desc ? '▼' : '▲') : null,
            ),
          ),
        )
      : null;

    const scroll = h('div', { class: 'vp-table-scroll' });
    const body = h('div', { class: 'vp-table-body', style: `position:relative; height:${n * ROW_H}px; min-width:${totalW}px` });
    if (head) head.style.minWidth = `${totalW}px`;
    const renderRows = () => {
      const top = scroll.scrollTop;
      const viewH = scroll.clientHeight || height;
      const first = Math.max(0, Math.floor(top / ROW_H) - 10);
      const lastRow = Math.min(n, Math.ceil((top + viewH) / ROW_H) + 10);
      const rows: HTMLElement[] = [];
      for (let k = first; k < lastRow; k++) {
        const ri = order[k];
        const row = h('div', { class: 'vp-table-row', role: 'row', style: `top:${k * ROW_H}px; height:${ROW_H}px; grid-template-columns:${template}` });
        for (const c of cols) {
          const cc = cellContent(c, c.col.values[ri], tz);
          const align = c.align === 'auto' ? cc.cls : c.align === 'right' ? 'num' : c.align === 'center' ? 'center' : '';
          const text = typeof cc.node === 'string' ? cc.node : undefined;
          row.appendChild(h('div', { class: `vp-td ${align}`, style: cc.style, title: text }, cc.node));
        }
        rows.push(row);
      }
      body.replaceChildren(...rows);
      scrollTop = top;
    };
    scroll.addEventListener('scroll', () => requestAnimationFrame(renderRows), { passive: true });
    if (head) scroll.appendChild(head);
    scroll.appendChild(body);

    let foot: HTMLElement | null = null;
    if (footer.show) {
      const reducer = footer.reducer?.[0] ?? 'sum';
      foot = h(
        'div',
        { class: 'vp-table-footer-row', style: `grid-template-columns:${template}; min-width:${totalW}px` },
        cols.map((c, i) => {
          const wanted = !footer.fields?.length || footer.fields.includes(c.col.name) || footer.fields.includes(c.title);
          if (footer.countRows) return h('div', { class: 'vp-td' }, i === 0 ? `Count: ${n}` : '');
          if (c.col.type !== 'number' || !wanted) return h('div', { class: 'vp-td' }, i === 0 ? (REDUCER_NAMES[reducerId(reducer)] ?? reducer) : '');
          const v = reduceValues(c.col.values, reducer);
          const d = displayValue(v, c.r, c.range, tz);
          return h('div', { class: 'vp-td num', style: 'height:28px' }, `${d.prefix ?? ''}${d.text}${d.suffix ?? ''}`);
        }),
      );
    }
    const picker =
      frames.length > 1
        ? h(
            'div',
            { class: 'vp-table-foot' },
            h(
              'select',
              {
                'aria-label': 'Series shown in the table',
                onchange: (e: Event) => {
                  frameIdx = Number((e.target as HTMLSelectElement).value);
                  scrollTop = 0;
                  view.redraw();
                },
              },
              frames.map((f, i) => {
                const label = f.name || formatLabels(f.columns.find((c) => c.labels)?.labels ?? {}) || `Series ${i + 1}`;
                const opt = h('option', { value: String(i) }, label);
                if (i === frameIdx) opt.selected = true;
                return opt;
              }),
            ),
            h('span', null, `${frames.length} series — one shown at a time (add a Merge or Reduce transformation to combine them)`),
          )
        : null;
    const strip = errorStrip(data);
    const wrap = h('div', { class: 'vp-table', role: 'table' }, scroll, foot, picker);
    el.replaceChildren(...[strip, wrap].filter((x): x is HTMLElement => !!x));
    scroll.scrollTop = scrollTop;
    renderRows();
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(frames.length);
    el.dataset.rows = String(n);
    el.dataset.columns = cols.map((c) => c.title).join('\u001f');
    el.dataset.value = n ? cols.map((c) => String(c.col.values[order[0]] ?? '')).join('\u001f') : '';
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

register(['table', 'table-old'], tableFactory);
