/**
 * Series legends of the chart panels (Grafana's `options.legend`): a list or a table, below or
 * right of the plot, with reducer values (`calcs`: mean, max, last *, …) formatted with the
 * series' unit, sortable by a column, and click to isolate / ctrl-or-shift-click to toggle a
 * series. The reducer arithmetic is fieldconfig.ts' (shared with stat panels); this module
 * only names calcs and picks their units.
 */
import { h } from '../lib/dom';
import { REDUCER_NAMES, reduceValues, reducerId } from '../lib/fieldconfig';

// ---- calcs (Grafana's reducer ids; the arithmetic lives in fieldconfig.ts) -------------------

/** Calcs whose result is a count or flag, not a value in the series' unit. */
const UNITLESS = new Set(['count', 'nonNullCount', 'changeCount', 'distinctCount', 'allIsZero', 'allIsNull']);
const KNOWN = new Set([...Object.keys(REDUCER_NAMES), 'nonNullCount']);

/** True for a calc id pharos computes (`mean`, `lastNotNull`, `p95`, legacy `avg`/`current`/`total`). */
export function isCalc(id: string): boolean {
  return KNOWN.has(reducerId(id)) || /^p\d{1,2}(\.\d+)?$/.test(id);
}

/** The column header Grafana shows for a calc. */
export function calcLabel(id: string): string {
  const key = reducerId(id);
  const p = /^p(\d{1,2}(?:\.\d+)?)$/.exec(key);
  if (p) return `${p[1]}th %`;
  if (key === 'nonNullCount') return 'Count (not null)';
  return REDUCER_NAMES[key] ?? id;
}

/** The unit a calc's result is shown in, given the series' unit. */
export function calcUnit(id: string, unit: string | undefined): string | undefined {
  const key = reducerId(id);
  if (key === 'diffperc') return 'percentunit';
  if (key === 'step') return 'ms';
  return UNITLESS.has(key) ? undefined : unit;
}

/** Reduces one series' values with a calc id; null when there is nothing to reduce. */
export function reduce(values: (number | null | undefined)[], id: string, times?: number[]): number | null {
  const key = reducerId(id);
  if (key === 'nonNullCount') {
    let n = 0;
    for (const v of values) if (v !== null && v !== undefined && !Number.isNaN(v)) n++;
    return n;
  }
  return reduceValues(values, key, times);
}

// ---- rendering -----------------------------------------------------------------------------

export interface LegendOptions {
  show: boolean;
  displayMode: 'list' | 'table';
  placement: 'bottom' | 'right';
  calcs: string[];
  sortBy?: string;
  sortDesc?: boolean;
  /** Width in px of a right-side legend. */
  width?: number;
  /** Legacy graph: leave out series whose values are all null / all zero. */
  hideEmpty?: boolean;
  hideZero?: boolean;
}

/** Reads `options.legend` in any of Grafana's shapes (v7 `asTable`/`isVisible`, v8+ `showLegend`/`displayMode`). */
export function legendOptions(raw: unknown): LegendOptions {
  const o = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const mode = o.displayMode as string | undefined;
  const show = o.showLegend !== false && o.isVisible !== false && mode !== 'hidden';
  return {
    show,
    displayMode: mode === 'table' || o.asTable === true ? 'table' : 'list',
    placement: o.placement === 'right' ? 'right' : 'bottom',
    calcs: Array.isArray(o.calcs) ? (o.calcs as unknown[]).filter((c): c is string => typeof c === 'string' && isCalc(c)) : [],
    sortBy: typeof o.sortBy === 'string' ? o.sortBy : undefined,
    sortDesc: o.sortDesc === true,
    width: typeof o.width === 'number' ? o.width : undefined,
  };
}

export interface LegendItem {
  /** The renderer's handle (uPlot series index). */
  key: number;
  name: string;
  color: string;
  /** Dashed swatch for a series drawn on the right axis. */
  rightAxis?: boolean;
  hidden: boolean;
  /** Raw calc values (for sorting) and their formatted text, keyed by calc id. */
  raw: Record<string, number | null>;
  text: Record<string, string>;
}

export type LegendClick = (item: LegendItem, mode: 'isolate' | 'toggle') => void;

/** Draws the legend into `box` (replacing its children). */
export function renderLegend(box: HTMLElement, items: LegendItem[], opts: LegendOptions, onClick: LegendClick) {
  box.classList.toggle('viz-legend-table', opts.displayMode === 'table');
  box.classList.toggle('viz-legend-list', opts.displayMode === 'list');
  box.style.width = opts.placement === 'right' && opts.width ? `${opts.width}px` : '';
  const sortId = opts.sortBy ? sortKey(opts.sortBy, opts.calcs) : undefined;
  const list = [...items];
  if (sortId) {
    const dir = opts.sortDesc ? -1 : 1;
    list.sort((a, b) => {
      if (sortId === '__name') return dir * a.name.localeCompare(b.name);
      const x = a.raw[sortId];
      const y = b.raw[sortId];
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return dir * (x - y);
    });
  }
  const click = (it: LegendItem) => (e: MouseEvent) => {
    e.preventDefault();
    onClick(it, e.ctrlKey || e.metaKey || e.shiftKey ? 'toggle' : 'isolate');
  };
  const swatch = (it: LegendItem) =>
    h('span', { class: `viz-swatch${it.rightAxis ? ' right-axis' : ''}`, style: { background: it.color } });
  const title = 'Click to show only this series; Ctrl/Shift-click to show or hide it';
  if (opts.displayMode === 'table') {
    const headers = opts.calcs.map((c) => calcLabel(c));
    const table = h(
      'table',
      { class: 'viz-legend-tbl' },
      h('thead', null, h('tr', null, h('th', null, ''), ...headers.map((l) => h('th', { class: 'num' }, l)))),
      h(
        'tbody',
        null,
        ...list.map((it) =>
          h(
            'tr',
            { class: `viz-legend-item${it.hidden ? ' hidden' : ''}`, title, onclick: click(it), dataset: { series: it.name } },
            h('td', { class: 'viz-legend-name' }, h('div', { class: 'viz-legend-cell' }, swatch(it), h('span', { class: 'viz-legend-label' }, it.name))),
            ...opts.calcs.map((c) => h('td', { class: 'num', dataset: { calc: c } }, it.text[c] ?? '')),
          ),
        ),
      ),
    );
    box.replaceChildren(table);
    return;
  }
  box.replaceChildren(
    ...list.map((it) =>
      h(
        'div',
        { class: `viz-legend-item${it.hidden ? ' hidden' : ''}`, title, onclick: click(it), dataset: { series: it.name } },
        swatch(it),
        h('span', { class: 'viz-legend-label' }, it.name),
        ...opts.calcs.map((c) =>
          h('span', { class: 'viz-legend-calc', dataset: { calc: c } }, `${calcLabel(c)}: `, h('b', null, it.text[c] ?? '')),
        ),
      ),
    ),
  );
}

/** Grafana's `sortBy` is the column header ("Max", "Last *") or "Name". */
function sortKey(sortBy: string, calcs: string[]): string | undefined {
  if (sortBy === 'Name') return '__name';
  for (const c of calcs) if (c === sortBy || calcLabel(c) === sortBy) return c;
  return undefined;
}

/**
 * Applies a legend click to the set of hidden series (Grafana: click shows only that series,
 * clicking it again shows all; ctrl/shift-click toggles one).
 */
export function applyLegendClick(names: string[], hidden: Set<string>, name: string, mode: 'isolate' | 'toggle') {
  if (mode === 'toggle') {
    if (hidden.has(name)) hidden.delete(name);
    else hidden.add(name);
    return;
  }
  const isolated = !hidden.has(name) && names.every((n) => n === name || hidden.has(n));
  hidden.clear();
  if (!isolated) for (const n of names) if (n !== name) hidden.add(n);
}
