/**
 * Explore for PromQL (`/explore`, `/explore/metrics`): several queries (A, B, …) with
 * autocomplete, each hideable; a graph of the range query (the dashboards' time-series renderer)
 * and a table of the instant query at the range end; step shown and overridable; errors,
 * warnings and "No data" under the queries; query history; the whole state in the URL
 * (`?query=…&query=…&from=&to=&step=`), so links from dashboards and alerts open it. Grafana's
 * `?left=`/`?panes=` Explore links are read too.
 */
import '../panels/all';
import { h, message, replace } from '../lib/dom';
import { ApiError, request } from '../lib/api';
import { navigate, setQuery, type Page, type PageContext } from '../lib/router';
import { calculateInterval, formatDateTime, formatDuration, parseDuration, resolveRange, type RawTimeRange, type TimeRange, type TimeZone } from '../lib/time';
import { timeControls, type TimeControlsState } from '../components/timepicker';
import { check as checkHealth } from '../components/health';
import { createPanel } from '../panels/registry';
import type { CrosshairBus, GrafanaPanel, PanelContext, PanelData, PanelRenderer, Series } from '../panels/types';
import { queryEditor, promqlCompleter, type QueryEditor } from './editor';
import { addHistory, historyDrawer } from './history';
import './explore.css';

// ---- shared by both Explore pages -------------------------------------------------------------

/** Tabs linking the three Explore pages. */
export function exploreTabs(active: 'metrics' | 'logs' | 'traces'): HTMLElement {
  const tab = (id: typeof active, href: string, label: string) => h('a', { href, class: id === active ? 'active' : '' }, label);
  return h('nav', { class: 'tabs explore-tabs' }, tab('metrics', '/explore/metrics', 'Metrics · PromQL'), tab('logs', '/explore/logs', 'Logs · LogQL'), tab('traces', '/explore/traces', 'Traces'));
}

const noCrosshair: CrosshairBus = { publish: () => {}, subscribe: () => () => {} };

/** The panel context Explore gives the renderers: no dashboard variables, zoom sets the range. */
export function explorePanelContext(tz: () => TimeZone, onZoom: (from: number, to: number) => void): PanelContext {
  return {
    get timeZone() {
      return tz();
    },
    crosshair: noCrosshair,
    onZoom,
    interpolate: (t: string) => t,
  };
}

/** Time range, zone and refresh from the URL (Grafana's parameter names). */
export function timeStateFrom(q: URLSearchParams, defaultFrom = 'now-1h'): TimeControlsState {
  return {
    range: { from: q.get('from') || defaultFrom, to: q.get('to') || 'now' },
    timeZone: q.get('tz') === 'utc' ? 'utc' : 'browser',
    refresh: q.get('refresh') || '',
  };
}

/** Grafana Explore links: `?left={"queries":[{"expr":…}],"range":{…}}` or `?panes={"x":{…}}`. */
export function grafanaExploreLink(q: URLSearchParams): { queries: string[]; range?: RawTimeRange } | undefined {
  const raw = q.get('left') ?? q.get('panes');
  if (!raw) return undefined;
  try {
    let v = JSON.parse(raw) as unknown;
    if (q.has('panes') && v && typeof v === 'object' && !Array.isArray(v)) v = Object.values(v as Record<string, unknown>)[0];
    if (Array.isArray(v)) {
      // Old compact form: [from, to, datasource, {expr}, ...].
      const queries = v.slice(3).map((x) => (x as { expr?: string; query?: string })?.expr ?? (x as { query?: string })?.query ?? '').filter(Boolean);
      return { queries, range: typeof v[0] === 'string' && typeof v[1] === 'string' ? { from: v[0], to: v[1] } : undefined };
    }
    const o = v as { queries?: { expr?: string; query?: string }[]; range?: { from?: string; to?: string } };
    const queries = (o.queries ?? []).map((x) => x.expr ?? x.query ?? '').filter(Boolean);
    const range = o.range?.from && o.range?.to ? { from: String(o.range.from), to: String(o.range.to) } : undefined;
    return { queries, range };
  } catch {
    return undefined;
  }
}

/** The notice shown when pharos cannot be reached: what happened and how old the results are. */
export function unreachableNote(lastOk: number | undefined): HTMLElement {
  return h(
    'div',
    { class: 'ex-error-box', role: 'alert' },
    h('strong', null, 'pharos is not reachable.'),
    ` Is the server running? ${lastOk ? `The results below are from ${formatDateTime(lastOk)}.` : 'Nothing could be loaded.'} Run the query again once it is back.`,
  );
}

/** Sets up auto-refresh; returns a function that stops it. */
export function autoRefresh(every: string, run: () => void): () => void {
  const ms = parseDuration(every);
  if (!ms || ms < 1000) return () => {};
  const t = setInterval(() => {
    if (!document.hidden) run();
  }, ms);
  return () => clearInterval(t);
}

/** Prometheus' default series name: `metric{a="1", b="2"}`. */
export function seriesName(labels: Record<string, string>): string {
  const { __name__: name, ...rest } = labels;
  const parts = Object.keys(rest)
    .sort()
    .map((k) => `${k}="${rest[k]}"`);
  if (!parts.length) return name ?? '{}';
  return `${name ?? ''}{${parts.join(', ')}}`;
}

/** Applies a Grafana legend format (`{{method}} {{status}}`); empty → the default name. */
export function legendName(format: string | undefined, labels: Record<string, string>): string {
  if (!format || format === '__auto') return seriesName(labels);
  return format.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_m, k: string) => labels[k] ?? '');
}

/** A number for a table cell: up to 6 significant decimals, exact integers as they are. */
export function formatValue(raw: string): string {
  const n = Number(raw);
  if (!Number.isFinite(n)) return raw;
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e15)) return n.toExponential(4);
  return String(Number(n.toFixed(Math.max(0, 6 - Math.max(0, Math.floor(Math.log10(abs || 1)))))));
}

// ---- Prometheus calls with warnings ------------------------------------------------------------

interface PromEnvelope {
  status: string;
  data?: { resultType: string; result: unknown };
  warnings?: string[];
  infos?: string[];
  error?: string;
}

async function promCall(path: string, form: Record<string, string>, signal: AbortSignal) {
  const env = await request<PromEnvelope>(path, { form, signal });
  if (env.status !== 'success' || !env.data) throw new ApiError(env.error ?? 'query failed', 422);
  const label = (kind: string, w: string) => (/^PromQL (info|warning)/i.test(w) ? w : `${kind}: ${w}`);
  return {
    data: env.data,
    notes: [...(env.warnings ?? []).map((w) => ({ kind: 'warning' as const, text: label('Warning', w) })), ...(env.infos ?? []).map((w) => ({ kind: 'info' as const, text: label('Info', w) }))],
  };
}

// ---- the page -----------------------------------------------------------------------------------

interface QueryRow {
  letter: string;
  editor: QueryEditor;
  expr: string;
  legend: string;
  hidden: boolean;
  el: HTMLElement;
  errorEl: HTMLElement;
}

type View = 'graph' | 'table' | 'both';

interface TableRow {
  refId: string;
  labels: Record<string, string>;
  raw: string;
  value: number;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function metricsExplorePage(ctx: PageContext): Page {
  let time = timeStateFrom(ctx.query);
  let step = ctx.query.get('step') ?? '';
  let view: View = (['graph', 'table', 'both'] as const).find((v) => v === ctx.query.get('view')) ?? 'both';
  const rows: QueryRow[] = [];
  let abort: AbortController | undefined;
  let stopRefresh = () => {};
  let panel: PanelRenderer | undefined;
  let sortBy: { col: 'series' | 'value' | 'query'; dir: 1 | -1 } = { col: 'value', dir: -1 };
  let tableRows: TableRow[] = [];
  let lastOk: number | undefined;

  const completer = promqlCompleter();
  const queriesEl = h('div', { class: 'ex-queries' });
  const stepIn = h('input', { class: 'ex-step', size: 6, value: step, 'aria-label': 'Step', 'data-testid': 'step', title: 'Query resolution (step). Empty: chosen from the range and the graph width.' });
  const stepNote = h('span', { class: 'faint ex-step-note', 'data-testid': 'step-note' });
  const statusEl = h('div', { class: 'ex-status faint', 'data-testid': 'status' });
  const noticesEl = h('div', { class: 'ex-notices' });
  const graphBody = h('div', { class: 'ex-graph-body', 'data-testid': 'graph' });
  const graphMsg = h('div', { class: 'ex-graph-msg' });
  const graphCard = h('section', { class: 'card ex-graph' }, h('div', { class: 'ex-card-title' }, 'Graph'), graphMsg, graphBody);
  const tableBox = h('div', { class: 'ex-table-box', 'data-testid': 'table' });
  const tableCard = h('section', { class: 'card ex-table' }, h('div', { class: 'ex-card-title' }, 'Table ', h('span', { class: 'faint' }, '(instant query at the end of the range)')), tableBox);
  const viewBtns = (['graph', 'table', 'both'] as const).map((v) =>
    h('button', { class: `seg${v === view ? ' active' : ''}`, 'data-view': v, onclick: () => setView(v) }, v === 'both' ? 'Both' : v[0].toUpperCase() + v.slice(1)),
  );

  const history = historyDrawer('promql', (q) => {
    if (rows.length === 0) addRow('');
    rows[0].editor.setValue(q);
    rows[0].expr = q;
    void run(true);
  });
  history.el.hidden = true;

  const controls = timeControls(
    time,
    (s) => {
      time = s;
      writeUrl(false);
      resetRefresh();
      void run(false);
    },
    () => void run(false),
  );

  const panelCtx = explorePanelContext(
    () => time.timeZone,
    (from, to) => {
      time = { ...time, range: { from: String(Math.round(from)), to: String(Math.round(to)) } };
      controls.set(time);
      writeUrl(true);
      void run(false);
    },
  );

  function setView(v: View) {
    view = v;
    viewBtns.forEach((b) => b.classList.toggle('active', b.dataset.view === v));
    writeUrl(false);
    applyView();
    void run(false);
  }

  function applyView() {
    graphCard.hidden = view === 'table';
    tableCard.hidden = view === 'graph';
  }

  function writeUrl(push: boolean) {
    const legends = rows.map((r) => r.legend);
    setQuery(
      {
        query: rows.map((r) => r.expr),
        legend: legends.some(Boolean) ? legends : null,
        hide: rows.filter((r) => r.hidden).map((r) => r.letter).join(',') || null,
        from: time.range.from,
        to: time.range.to,
        step: step || null,
        view: view === 'both' ? null : view,
        tz: time.timeZone === 'utc' ? 'utc' : null,
        refresh: time.refresh || null,
        left: null,
        panes: null,
      },
      push,
    );
  }

  function relabel() {
    rows.forEach((r, i) => {
      r.letter = LETTERS[i] ?? String(i + 1);
      (r.el.querySelector('.ex-letter') as HTMLElement).textContent = r.letter;
      r.el.dataset.ref = r.letter;
    });
  }

  function addRow(expr: string, legend = '', hidden = false): QueryRow {
    const errorEl = h('div', { class: 'ex-query-error', role: 'alert', 'data-testid': 'query-error' });
    const editor = queryEditor({
      language: 'promql',
      value: expr,
      placeholder: 'Enter a PromQL query… (Shift+Enter to run)',
      completer,
      onRun: () => void run(true),
      onChange: (v) => {
        row.expr = v;
      },
    });
    const legendIn = h('input', { class: 'ex-legend', placeholder: 'Legend: auto', value: legend, title: 'Legend format, e.g. {{method}} {{status}}', 'aria-label': 'Legend format' });
    legendIn.addEventListener('change', () => {
      row.legend = legendIn.value.trim();
      writeUrl(false);
      void run(false);
    });
    const hideBtn = h('button', { class: 'icon small', title: 'Hide / show this query', 'aria-label': 'Hide query', 'data-action': 'hide' }, hidden ? '◌' : '◉');
    const removeBtn = h('button', { class: 'icon small', title: 'Remove this query', 'aria-label': 'Remove query', 'data-action': 'remove' }, '✕');
    const el = h(
      'div',
      { class: `ex-query${hidden ? ' hidden-query' : ''}`, 'data-testid': 'query-row' },
      h('div', { class: 'ex-query-head' }, h('span', { class: 'ex-letter' }, ''), legendIn, hideBtn, removeBtn),
      editor.el,
      errorEl,
    );
    const row: QueryRow = { letter: '', editor, expr, legend, hidden, el, errorEl };
    hideBtn.addEventListener('click', () => {
      row.hidden = !row.hidden;
      hideBtn.textContent = row.hidden ? '◌' : '◉';
      el.classList.toggle('hidden-query', row.hidden);
      writeUrl(false);
      void run(false);
    });
    removeBtn.addEventListener('click', () => {
      if (rows.length === 1) {
        editor.setValue('');
        row.expr = '';
        return;
      }
      rows.splice(rows.indexOf(row), 1);
      editor.destroy();
      el.remove();
      relabel();
      writeUrl(false);
      void run(false);
    });
    rows.push(row);
    queriesEl.append(el);
    relabel();
    return row;
  }

  function loadState(q: URLSearchParams) {
    const link = grafanaExploreLink(q);
    let queries = q.getAll('query');
    if (link) {
      queries = link.queries;
      if (link.range) time = { ...time, range: link.range };
    }
    if (!queries.length) queries = [''];
    const legends = q.getAll('legend');
    const hidden = new Set((q.get('hide') ?? '').split(',').filter(Boolean));
    for (const r of rows) r.editor.destroy();
    rows.length = 0;
    queriesEl.replaceChildren();
    queries.forEach((expr, i) => addRow(expr, legends[i] ?? '', hidden.has(LETTERS[i])));
  }

  stepIn.addEventListener('change', () => {
    const v = stepIn.value.trim();
    if (v && parseDuration(v) === undefined) {
      stepNote.textContent = `"${v}" is not a duration (try 15s, 1m)`;
      stepNote.classList.add('error-inline');
      return;
    }
    stepNote.classList.remove('error-inline');
    step = v;
    writeUrl(false);
    void run(false);
  });

  const runBtn = h('button', { class: 'primary', 'data-testid': 'run-query', onclick: () => void run(true), title: 'Run (Shift+Enter)' }, '▶ Run query');
  const header = h(
    'div',
    { class: 'page-header' },
    h('h1', null, 'Explore metrics'),
    h('button', { onclick: () => ((history.el.hidden = !history.el.hidden), history.refresh()), 'data-testid': 'history-toggle', title: 'Query history' }, '⟲ History'),
    controls.el,
    runBtn,
  );
  const optionsBar = h(
    'div',
    { class: 'toolbar ex-options' },
    h('button', { class: 'small', 'data-testid': 'add-query', onclick: () => addRow('').editor.focus() }, '+ Add query'),
    h('span', { class: 'spacer' }),
    h('label', { class: 'ex-inline' }, 'Step', stepIn, stepNote),
    h('div', { class: 'seg-group', role: 'group', 'aria-label': 'View' }, ...viewBtns),
  );
  const root = h(
    'div',
    { class: 'page explore-page' },
    header,
    exploreTabs('metrics'),
    h('div', { class: 'ex-layout' }, h('div', { class: 'ex-main' }, queriesEl, optionsBar, noticesEl, statusEl, graphCard, tableCard), history.el),
  );
  ctx.root.append(root);
  loadState(ctx.query);
  applyView();

  function ensurePanel(): PanelRenderer {
    if (panel) return panel;
    panel = createPanel(graphBody, graphPanel(), panelCtx);
    const ro = new ResizeObserver(() => panel?.resize(graphBody.clientWidth, graphBody.clientHeight));
    ro.observe(graphBody);
    return panel;
  }

  function graphPanel(): GrafanaPanel {
    return {
      type: 'timeseries',
      title: '',
      fieldConfig: { defaults: { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 0, showPoints: 'never', spanNulls: false } }, overrides: [] },
      options: { legend: { showLegend: true, displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'desc' } },
    };
  }

  function resetRefresh() {
    stopRefresh();
    stopRefresh = autoRefresh(time.refresh, () => void run(false));
  }

  async function run(fromUser: boolean) {
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    let range: TimeRange;
    try {
      range = resolveRange(time.range, time.timeZone);
    } catch (e) {
      replace(noticesEl, message('error', 'The time range is not valid', (e as Error).message));
      return;
    }
    for (const r of rows) r.expr = r.editor.value();
    if (fromUser) {
      for (const r of rows) if (r.expr.trim()) addHistory('promql', r.expr);
      history.refresh();
      writeUrl(true);
    }
    const active = rows.filter((r) => !r.hidden && r.expr.trim());
    for (const r of rows) replace(r.errorEl);
    replace(noticesEl);
    if (!active.length) {
      replace(graphMsg, message('info', rows.some((r) => r.expr.trim()) ? 'Every query is hidden.' : 'Enter a PromQL query above and press Shift+Enter.', 'Try: sum by (job) (rate(http_requests_total[5m]))'));
      graphBody.hidden = true;
      replace(tableBox, message('info', 'No query to run.'));
      statusEl.textContent = '';
      return;
    }
    const width = Math.max(300, graphBody.clientWidth || root.clientWidth - 40);
    const autoStepMs = Math.max(calculateInterval(range, width, 1000), Math.ceil((range.to - range.from) / 11000 / 1000) * 1000);
    const stepMs = (step && parseDuration(step)) || autoStepMs;
    stepNote.textContent = step ? '' : `auto: ${formatDuration(stepMs)}`;
    stepIn.placeholder = formatDuration(autoStepMs);
    statusEl.textContent = 'Running…';
    const t0 = performance.now();
    const start = range.from / 1000;
    const end = range.to / 1000;
    const wantGraph = view !== 'table';
    const wantTable = view !== 'graph';
    if (wantGraph) graphBody.classList.add('loading');
    const notes: { kind: 'warning' | 'info'; text: string }[] = [];
    let unreachable: ApiError | undefined;

    const graphJobs = wantGraph
      ? active.map(async (r) => {
          try {
            const { data, notes: n } = await promCall('/api/v1/query_range', { query: r.expr, start: String(start), end: String(end), step: String(stepMs / 1000) }, ac.signal);
            notes.push(...n.map((x) => ({ ...x, text: `${r.letter}: ${x.text}` })));
            return toSeries(r, data);
          } catch (e) {
            if ((e as Error).name === 'AbortError') throw e;
            fail(r, e);
            return [] as Series[];
          }
        })
      : [];
    const tableJobs = wantTable
      ? active.map(async (r) => {
          try {
            const { data, notes: n } = await promCall('/api/v1/query', { query: r.expr, time: String(end) }, ac.signal);
            if (!wantGraph) notes.push(...n.map((x) => ({ ...x, text: `${r.letter}: ${x.text}` })));
            return toTableRows(r, data);
          } catch (e) {
            if ((e as Error).name === 'AbortError') throw e;
            if (!wantGraph) fail(r, e);
            return [] as TableRow[];
          }
        })
      : [];

    function fail(r: QueryRow, e: unknown) {
      const err = e instanceof ApiError ? e : new ApiError(String((e as Error)?.message ?? e), 500);
      if (err.unreachable) unreachable = err;
      else replace(r.errorEl, h('span', { class: 'ex-error-ref' }, `${r.letter}: `), err.message);
    }

    let seriesLists: Series[][];
    let tableLists: TableRow[][];
    try {
      [seriesLists, tableLists] = await Promise.all([Promise.all(graphJobs), Promise.all(tableJobs)]);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      throw e;
    }
    if (ac !== abort) return;
    graphBody.classList.remove('loading');
    const elapsed = Math.round(performance.now() - t0);
    const anyError = rows.some((r) => r.errorEl.childNodes.length);
    if (unreachable) {
      void checkHealth();
      replace(noticesEl, unreachableNote(lastOk));
      statusEl.textContent = '';
      return;
    }
    if (notes.length) replace(noticesEl, ...notes.map((n) => h('div', { class: n.kind === 'warning' ? 'ex-warning' : 'ex-info', 'data-testid': `query-${n.kind}` }, n.kind === 'warning' ? '⚠ ' : 'ℹ ', n.text)));

    if (wantGraph) {
      const series = seriesLists.flat();
      const points = series.reduce((s, x) => s + x.times.length, 0);
      if (!series.length) {
        graphBody.hidden = true;
        replace(graphMsg, anyError ? message('error', 'The query failed', 'See the error under the query.') : message('empty', 'No data', 'The query returned no series in this time range.'));
      } else {
        replace(graphMsg);
        graphBody.hidden = false;
        const data: PanelData = { series, tables: [], logs: [], errors: [], notices: [], range, intervalMs: stepMs };
        const p = ensurePanel();
        p.update(data, graphPanel());
        p.resize(graphBody.clientWidth, graphBody.clientHeight);
      }
      graphBody.dataset.seriesTotal = String(series.length);
      statusEl.textContent = anyError && !series.length ? `failed · ${elapsed} ms` : `${series.length} series · ${points} points · step ${formatDuration(stepMs)} · ${elapsed} ms`;
    } else statusEl.textContent = anyError ? `failed · ${elapsed} ms` : `${tableLists.flat().length} rows · ${elapsed} ms`;
    lastOk = Date.now();
    if (wantTable) {
      tableRows = tableLists.flat();
      renderTable(anyError);
    }
  }

  function toSeries(r: QueryRow, data: { resultType: string; result: unknown }): Series[] {
    if (data.resultType === 'matrix') {
      return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((s) => ({
        refId: r.letter,
        name: Object.keys(s.metric).length || r.legend ? legendName(r.legend, s.metric) : r.expr.trim(),
        labels: s.metric,
        times: s.values.map((v) => v[0] * 1000),
        values: s.values.map((v) => parseValue(v[1])),
      }));
    }
    if (data.resultType === 'scalar') {
      const [t, v] = data.result as [number, string];
      return [{ refId: r.letter, name: 'scalar', labels: {}, times: [t * 1000], values: [parseValue(v)] }];
    }
    return [];
  }

  function toTableRows(r: QueryRow, data: { resultType: string; result: unknown }): TableRow[] {
    if (data.resultType === 'vector')
      return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({ refId: r.letter, labels: s.metric, raw: s.value[1], value: Number(s.value[1]) }));
    if (data.resultType === 'scalar' || data.resultType === 'string') {
      const [, v] = data.result as [number, string];
      return [{ refId: r.letter, labels: {}, raw: v, value: Number(v) }];
    }
    if (data.resultType === 'matrix')
      return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((s) => {
        const last = s.values[s.values.length - 1]?.[1] ?? 'NaN';
        return { refId: r.letter, labels: s.metric, raw: last, value: Number(last) };
      });
    return [];
  }

  function renderTable(anyError: boolean) {
    if (!tableRows.length) {
      replace(tableBox, anyError ? message('error', 'The query failed', 'See the error under the query.') : message('empty', 'No data', 'The instant query returned no series at the end of the range.'));
      return;
    }
    const multi = new Set(tableRows.map((r) => r.refId)).size > 1;
    const sorted = [...tableRows].sort((a, b) => {
      let c = 0;
      if (sortBy.col === 'value') c = (Number.isNaN(a.value) ? -Infinity : a.value) - (Number.isNaN(b.value) ? -Infinity : b.value);
      else if (sortBy.col === 'query') c = a.refId.localeCompare(b.refId);
      else c = seriesName(a.labels).localeCompare(seriesName(b.labels));
      return c * sortBy.dir;
    });
    const th = (col: typeof sortBy.col, label: string, cls = '') =>
      h(
        'th',
        {
          class: `sortable ${cls}`,
          'aria-sort': sortBy.col === col ? (sortBy.dir === 1 ? 'ascending' : 'descending') : 'none',
          onclick: () => {
            sortBy = { col, dir: sortBy.col === col ? (-sortBy.dir as 1 | -1) : col === 'value' ? -1 : 1 };
            renderTable(anyError);
          },
        },
        label,
        sortBy.col === col ? (sortBy.dir === 1 ? ' ▲' : ' ▼') : '',
      );
    replace(
      tableBox,
      h(
        'table',
        { class: 'data ex-result-table', 'data-rows': String(sorted.length) },
        h('thead', null, h('tr', null, multi ? th('query', 'Query') : null, th('series', 'Series'), th('value', 'Value', 'num'))),
        h(
          'tbody',
          null,
          ...sorted.map((r) =>
            h(
              'tr',
              { dataset: { series: seriesName(r.labels) } },
              multi ? h('td', null, r.refId) : null,
              h(
                'td',
                { class: 'ex-labels' },
                r.labels.__name__ ? h('span', { class: 'ex-metric-name' }, r.labels.__name__) : null,
                ...Object.keys(r.labels)
                  .filter((k) => k !== '__name__')
                  .sort()
                  .map((k) => h('span', { class: 'label-chip' }, h('span', { class: 'chip-key' }, k), '=', h('span', { class: 'chip-val' }, r.labels[k]))),
                Object.keys(r.labels).length === 0 ? h('span', { class: 'faint' }, '{} (no labels)') : null,
              ),
              h('td', { class: 'num', title: r.raw, 'data-value': r.raw }, formatValue(r.raw)),
            ),
          ),
        ),
      ),
    );
  }

  resetRefresh();
  void run(false);

  return {
    title: 'Explore metrics',
    onQueryChange(q) {
      time = timeStateFrom(q);
      step = q.get('step') ?? '';
      stepIn.value = step;
      view = (['graph', 'table', 'both'] as const).find((v) => v === q.get('view')) ?? 'both';
      viewBtns.forEach((b) => b.classList.toggle('active', b.dataset.view === view));
      applyView();
      controls.set(time);
      const current = rows.map((r) => r.expr);
      const wanted = q.getAll('query');
      if (wanted.join('\u0000') !== current.join('\u0000')) loadState(q);
      resetRefresh();
      void run(false);
    },
    unmount() {
      abort?.abort();
      stopRefresh();
      panel?.destroy();
      for (const r of rows) r.editor.destroy();
    },
  };
}

function parseValue(v: string): number | null {
  if (v === '+Inf' || v === 'Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
}

/** Opens Explore with one query (used by links elsewhere in the UI). */
export function openInExplore(expr: string, range?: RawTimeRange) {
  const p = new URLSearchParams({ query: expr });
  if (range) {
    p.set('from', range.from);
    p.set('to', range.to);
  }
  navigate(`/explore/metrics?${p}`);
}
