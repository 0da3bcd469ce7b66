/**
 * Explore for LogQL (`/explore/logs`): a LogQL editor with autocomplete and a label browser; for
 * log queries a volume histogram by level (drag to zoom) above a virtualised log list (newest or
 * oldest first, wrap, expandable lines with labels, parsed fields and structured metadata,
 * filter for/out, trace links); for metric queries a graph; live tail over Loki's WebSocket with
 * pause/resume/stop and reconnection. State in the URL (`?query=&from=&to=&limit=`).
 */
import '../panels/all';
import { h, message, replace } from '../lib/dom';
import { ApiError, lokiLabels, lokiLabelValues, qs, request, type LokiResult, type PromMatrixSeries } from '../lib/api';
import { setQuery, type Page, type PageContext } from '../lib/router';
import { calculateInterval, formatDateTime, formatDuration, resolveRange, type TimeRange, type TimeZone } from '../lib/time';
import { timeControls } from '../components/timepicker';
import { check as checkHealth } from '../components/health';
import { createLogList, normalizeLevel, type FilterRequest, type Level, type LogEntry } from '../components/loglist';
import { createPanel } from '../panels/registry';
import type { GrafanaPanel, PanelData, PanelRenderer, Series } from '../panels/types';
import { queryEditor, logqlCompleter } from './editor';
import { addHistory, historyDrawer } from './history';
import { autoRefresh, explorePanelContext, exploreTabs, legendName, timeStateFrom, unreachableNote } from './metrics';
import './explore.css';

const LIMITS = [100, 500, 1000, 5000, 10000];

/** Grafana's log level colours. */
export const LEVEL_COLORS: Record<Level, string> = {
  critical: '#b877d9',
  error: '#f2495c',
  warning: '#fade2a',
  info: '#73bf69',
  debug: '#5794f2',
  trace: '#8ab8ff',
  unknown: '#8e8e8e',
};

/** True for LogQL metric queries (`rate(...)`, `sum by (...) (...)`); log queries start with `{`. */
export function isMetricQuery(q: string): boolean {
  const t = q.replace(/#[^\n]*/g, '').trim();
  return t !== '' && !t.startsWith('{');
}

const PARSERS = /\|\s*(json|logfmt|regexp|pattern|unpack)\b/;

/** Adds a filter for/out a value to a LogQL log query (Grafana's "filter for value"). */
export function addFilter(query: string, f: FilterRequest): string {
  let q = query.trim();
  const quoted = JSON.stringify(f.value);
  if (f.source === 'label') {
    // Indexed labels go into the stream selector.
    const close = q.indexOf('}');
    if (close > 0 && q.startsWith('{')) {
      const inner = q.slice(1, close);
      const same = new RegExp(`(^|,)\\s*${f.key}\\s*(=|!=)\\s*"(?:[^"\\\\]|\\\\.)*"\\s*`);
      const matcher = `${f.key}${f.op}${quoted}`;
      const m = inner.match(same);
      let next: string;
      if (m) next = inner.replace(same, `${m[1]}${m[1] ? ' ' : ''}${matcher}`);
      else next = inner.trim() ? `${inner.trim()}, ${matcher}` : matcher;
      return `{${next}}${q.slice(close + 1)}`;
    }
  }
  if (f.source === 'field' && f.parser && !PARSERS.test(q)) q += ` | ${f.parser}`;
  const filter = `${f.key}${f.op}${quoted}`;
  const opposite = `${f.key}${f.op === '=' ? '!=' : '='}${quoted}`;
  if (q.includes(`| ${opposite}`)) return q.replace(`| ${opposite}`, `| ${filter}`);
  if (q.includes(`| ${filter}`)) return q;
  return `${q} | ${filter}`;
}

/** Compares Loki nanosecond timestamps written as decimal strings. */
function cmpTs(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

type LokiValue = [string, string] | [string, string, Record<string, unknown>];

let nextId = 1;

/** Flattens Loki streams into entries (with categorized labels: metadata and parsed fields apart). */
export function toEntries(streams: { stream: Record<string, string>; values: LokiValue[] }[]): LogEntry[] {
  const out: LogEntry[] = [];
  for (const s of streams) {
    for (const v of s.values) {
      const labels = s.stream;
      let metadata: Record<string, string> | undefined;
      let parsed: Record<string, string> | undefined;
      const extra = v[2];
      if (extra && typeof extra === 'object') {
        const cat = extra as { structuredMetadata?: Record<string, string>; parsed?: Record<string, string> };
        if (cat.structuredMetadata || cat.parsed) {
          metadata = cat.structuredMetadata && Object.keys(cat.structuredMetadata).length ? cat.structuredMetadata : undefined;
          parsed = cat.parsed && Object.keys(cat.parsed).length ? cat.parsed : undefined;
        } else {
          metadata = Object.fromEntries(Object.entries(extra).map(([k, x]) => [k, String(x)]));
          if (!Object.keys(metadata).length) metadata = undefined;
        }
      }
      out.push({ ts: v[0], timeMs: Number(v[0].slice(0, -6) || '0'), line: v[1], labels, metadata, parsed, id: nextId++ });
    }
  }
  return out;
}

/** Loki refuses limits above `max_entries_limit_per_query` (5000 by default); learnt from its error. */
let serverMaxEntries = Infinity;

/**
 * The newest `limit` lines of a log query; above the server's per-query maximum it pages backwards
 * (each page ends where the previous one's oldest line was).
 */
export async function fetchLines(query: string, range: TimeRange, limit: number, signal: AbortSignal): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  let end = range.to;
  let endNs: string | undefined;
  for (let guard = 0; guard < 100 && out.length < limit; guard++) {
    const want = Math.min(limit - out.length, serverMaxEntries);
    let data: LokiResult;
    try {
      data = await request<LokiEnvelope>(
        '/loki/api/v1/query_range' +
          qs({ query, start: `${Math.floor(range.from)}000000`, end: endNs ?? `${Math.ceil(end)}000000`, limit: want, direction: 'backward' }),
        { signal, headers: { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' } },
      ).then((e) => e.data);
    } catch (e) {
      const m = e instanceof ApiError && e.message.match(/max_entries_limit_per_query \((\d+) > (\d+)\)/);
      if (m && Number(m[2]) > 0 && Number(m[2]) < want) {
        serverMaxEntries = Number(m[2]);
        continue;
      }
      throw e;
    }
    if (data.resultType !== 'streams') return out;
    const page = toEntries(data.result);
    out.push(...page);
    if (page.length < want || !page.length) break;
    // Next page: strictly older than the oldest line so far (Loki's end is exclusive).
    let oldest = page[0].ts;
    for (const e of page) if (cmpTs(e.ts, oldest) < 0) oldest = e.ts;
    endNs = oldest;
    end = Number(oldest.slice(0, -6));
  }
  return out;
}

/**
 * Lines per level over the range (Grafana's logs volume): `sum by (level) (count_over_time(...))`;
 * parser errors are dropped so unparsable lines still count; falls back to the stream selector.
 */
async function volumeQuery(query: string, range: TimeRange, stepMs: number, signal: AbortSignal): Promise<LokiResult> {
  const q = query.trim();
  const withDrop = PARSERS.test(q) ? `${q} | drop __error__, __error_details__` : q;
  const make = (inner: string) => `sum by (level) (count_over_time(${inner} [${formatDuration(stepMs)}]))`;
  try {
    return await lokiQueryRange(make(withDrop), range, { step: stepMs / 1000 }, signal);
  } catch (e) {
    const sel = q.match(/^\{[^}]*\}/)?.[0];
    if ((e as Error).name === 'AbortError' || !sel || sel === q) throw e;
    return lokiQueryRange(make(sel), range, { step: stepMs / 1000 }, signal);
  }
}

interface LokiEnvelope {
  status: string;
  data: LokiResult;
}

function lokiQueryRange(query: string, range: TimeRange, opts: { limit?: number; step?: number; direction?: string }, signal: AbortSignal) {
  return request<LokiEnvelope>(
    '/loki/api/v1/query_range' +
      qs({ query, start: `${Math.floor(range.from)}000000`, end: `${Math.ceil(range.to)}000000`, limit: opts.limit, step: opts.step, direction: opts.direction }),
    { signal, headers: { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' } },
  ).then((e) => e.data);
}

export function logsExplorePage(ctx: PageContext): Page {
  let time = timeStateFrom(ctx.query);
  let query = ctx.query.get('query') ?? '';
  let limit = Number(ctx.query.get('limit')) || 1000;
  let order: 'newest' | 'oldest' = ctx.query.get('order') === 'oldest' ? 'oldest' : 'newest';
  let wrap = ctx.query.get('wrap') === '1';
  let abort: AbortController | undefined;
  let stopRefresh = () => {};
  let entries: LogEntry[] = [];
  let graph: PanelRenderer | undefined;
  let volume: PanelRenderer | undefined;
  let lastOk: number | undefined;

  const editor = queryEditor({
    language: 'logql',
    value: query,
    placeholder: 'Enter a LogQL query, e.g. {app="api"} |= "error" | json   (Shift+Enter to run)',
    completer: logqlCompleter(() => {
      try {
        const r = resolveRange(time.range, time.timeZone);
        return { from: r.from, to: r.to };
      } catch {
        return { from: Date.now() - 3_600_000, to: Date.now() };
      }
    }),
    onRun: () => void run(true),
    onChange: (v) => (query = v),
  });
  const errorEl = h('div', { class: 'ex-query-error', role: 'alert', 'data-testid': 'query-error' });
  const limitSel = h('select', { 'data-testid': 'limit', 'aria-label': 'Line limit', title: 'Most lines to fetch' }, ...[...new Set([...LIMITS, limit])].sort((a, b) => a - b).map((l) => h('option', { value: String(l) }, `${l} lines`)));
  limitSel.value = String(limit);
  const orderBtn = h('button', { class: 'small', 'data-testid': 'order', title: 'Sort order of the list' }, '');
  const wrapBox = h('input', { type: 'checkbox', 'data-testid': 'wrap' });
  wrapBox.checked = wrap;
  const liveBtn = h('button', { class: 'live-btn', 'data-testid': 'live', title: 'Stream new lines as they arrive (Loki tail)' }, '▶ Live');
  const pauseBtn = h('button', { class: 'small', 'data-testid': 'live-pause', hidden: true }, '❚❚ Pause');
  const stopBtn = h('button', { class: 'small', 'data-testid': 'live-stop', hidden: true }, '■ Stop');
  const liveStatus = h('div', { class: 'live-status', 'data-testid': 'live-status', hidden: true });
  const noticesEl = h('div', { class: 'ex-notices' });
  const statusEl = h('div', { class: 'ex-status faint', 'data-testid': 'status' });
  const volumeBody = h('div', { class: 'ex-volume-body', 'data-testid': 'volume' });
  const volumeMsg = h('div', { class: 'ex-volume-msg faint' });
  const volumeCard = h('section', { class: 'card ex-volume' }, h('div', { class: 'ex-card-title' }, 'Log volume ', h('span', { class: 'faint' }, '(by level · drag to zoom)')), volumeMsg, volumeBody);
  const graphBody = h('div', { class: 'ex-graph-body', 'data-testid': 'graph' });
  const graphMsg = h('div', { class: 'ex-graph-msg' });
  const graphCard = h('section', { class: 'card ex-graph', hidden: true }, h('div', { class: 'ex-card-title' }, 'Graph'), graphMsg, graphBody);
  const countEl = h('span', { class: 'ex-count', 'data-testid': 'log-count' });
  const list = createLogList({
    timeZone: time.timeZone,
    wrap,
    onFilter: (f) => applyFilter(f),
    emptyText: 'No log lines.',
    actions: (e) => [h('button', { class: 'small', 'data-action': 'context', title: 'Lines just before and after this one in the same stream', onclick: () => void showContext(e, time.timeZone) }, '↕ Show context')],
  });
  const labelsBox = h('input', { type: 'checkbox', 'data-testid': 'show-labels' });
  labelsBox.checked = ctx.query.get('labels') !== '0';
  const download = (kind: 'txt' | 'json') => {
    const shown = sorted(entries);
    const body =
      kind === 'json'
        ? JSON.stringify(shown.map((e) => ({ ts: e.ts, time: new Date(e.timeMs).toISOString(), labels: e.labels, parsed: e.parsed, metadata: e.metadata, line: e.line })), null, 1)
        : shown.map((e) => `${new Date(e.timeMs).toISOString()}\t${Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(',')}\t${e.line}`).join('\n') + '\n';
    const a = h('a', { href: URL.createObjectURL(new Blob([body], { type: kind === 'json' ? 'application/json' : 'text/plain' })), download: `pharos-logs-${new Date().toISOString().replace(/[:.]/g, '-')}.${kind}` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  /** Shows the labels whose values differ between the listed lines (which app, which pod). */
  const applyLabelKeys = () => {
    if (!labelsBox.checked) return list.setLabelKeys([]);
    const values = new Map<string, Set<string>>();
    for (const e of entries) for (const [k, v] of Object.entries(e.labels)) (values.get(k) ?? values.set(k, new Set()).get(k)!).add(v);
    const keys = [...values].filter(([k, vs]) => vs.size > 1 || entries.some((e) => e.labels[k] === undefined)).map(([k]) => k);
    list.setLabelKeys(keys.filter((k) => !['level', 'detected_level', 'lvl', 'severity'].includes(k)).sort());
  };
  labelsBox.addEventListener('change', () => {
    applyLabelKeys();
    setQuery({ labels: labelsBox.checked ? null : '0' });
  });
  const listMsg = h('div', { class: 'ex-list-msg' });
  const listCard = h(
    'section',
    { class: 'card ex-logs' },
    h(
      'div',
      { class: 'ex-card-title ex-logs-head' },
      'Logs ',
      countEl,
      h('span', { class: 'spacer' }),
      liveStatus,
      h('label', { class: 'ex-inline ex-check ex-head-opt', title: 'Show the labels that differ between the lines' }, labelsBox, 'Labels'),
      h('button', { class: 'small', title: 'Download the listed lines as text', onclick: () => download('txt') }, '⤓ txt'),
      h('button', { class: 'small', title: 'Download the listed lines as JSON', onclick: () => download('json') }, '⤓ json'),
    ),
    listMsg,
    list.el,
  );

  const history = historyDrawer('logql', (q) => {
    editor.setValue(q);
    query = q;
    void run(true);
  });
  history.el.hidden = true;

  const controls = timeControls(
    time,
    (s) => {
      const tzChanged = s.timeZone !== time.timeZone;
      time = s;
      if (tzChanged) list.setTimeZone(s.timeZone);
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

  // ---- label browser ----
  const browser = labelBrowser(
    () => {
      try {
        return resolveRange(time.range, time.timeZone);
      } catch {
        return undefined;
      }
    },
    (sel) => {
      editor.setValue(sel);
      query = sel;
      browser.el.hidden = true;
      void run(true);
    },
  );
  browser.el.hidden = true;

  const runBtn = h('button', { class: 'primary', 'data-testid': 'run-query', onclick: () => void run(true), title: 'Run (Shift+Enter)' }, '▶ Run query');
  const header = h(
    'div',
    { class: 'page-header' },
    h('h1', null, 'Explore logs'),
    h('button', { 'data-testid': 'label-browser-toggle', onclick: () => ((browser.el.hidden = !browser.el.hidden), browser.el.hidden || browser.load()) }, '☰ Label browser'),
    h('button', { onclick: () => ((history.el.hidden = !history.el.hidden), history.refresh()), 'data-testid': 'history-toggle' }, '⟲ History'),
    controls.el,
    runBtn,
  );
  const optionsBar = h(
    'div',
    { class: 'toolbar ex-options' },
    h('label', { class: 'ex-inline' }, 'Limit', limitSel),
    orderBtn,
    h('label', { class: 'ex-inline ex-check' }, wrapBox, 'Wrap lines'),
    h('span', { class: 'spacer' }),
    liveBtn,
    pauseBtn,
    stopBtn,
  );
  const root = h(
    'div',
    { class: 'page explore-page' },
    header,
    exploreTabs('logs'),
    h(
      'div',
      { class: 'ex-layout' },
      h('div', { class: 'ex-main' }, h('div', { class: 'ex-query' }, editor.el, errorEl), browser.el, optionsBar, noticesEl, statusEl, graphCard, volumeCard, listCard),
      history.el,
    ),
  );
  ctx.root.append(root);

  const renderOrder = () => (orderBtn.textContent = order === 'newest' ? '↓ Newest first' : '↑ Oldest first');
  renderOrder();

  function writeUrl(push: boolean) {
    setQuery(
      {
        query: query || null,
        from: time.range.from,
        to: time.range.to,
        limit: limit === 1000 ? null : String(limit),
        order: order === 'oldest' ? 'oldest' : null,
        wrap: wrap ? '1' : null,
        tz: time.timeZone === 'utc' ? 'utc' : null,
        refresh: time.refresh || null,
      },
      push,
    );
  }

  function sorted(list: LogEntry[]): LogEntry[] {
    const s = [...list].sort((a, b) => cmpTs(b.ts, a.ts));
    return order === 'newest' ? s : s.reverse();
  }

  function showCount(n: number) {
    if (live) {
      countEl.textContent = `${n} line${n === 1 ? '' : 's'} received`;
      return;
    }
    countEl.textContent = n >= limit ? `showing ${n} of limit ${limit} — older lines in the range are not shown; narrow the range or raise the limit` : `${n} line${n === 1 ? '' : 's'}`;
    countEl.classList.toggle('at-limit', n >= limit);
  }

  function applyFilter(f: FilterRequest) {
    const next = addFilter(editor.value(), f);
    editor.setValue(next);
    query = next;
    void run(true);
  }

  limitSel.addEventListener('change', () => {
    limit = Number(limitSel.value);
    writeUrl(false);
    void run(false);
  });
  orderBtn.addEventListener('click', () => {
    order = order === 'newest' ? 'oldest' : 'newest';
    renderOrder();
    writeUrl(false);
    if (!live) {
      list.setEntries(sorted(entries));
      applyLabelKeys();
    }
  });
  wrapBox.addEventListener('change', () => {
    wrap = wrapBox.checked;
    list.setWrap(wrap);
    writeUrl(false);
  });

  function volumePanel(names: string[]): GrafanaPanel {
    return {
      type: 'timeseries',
      title: '',
      fieldConfig: {
        defaults: { unit: 'short', min: 0, custom: { drawStyle: 'bars', fillOpacity: 80, lineWidth: 1, stacking: { mode: 'normal', group: 'A' }, showPoints: 'never' } },
        overrides: names.map((n) => ({
          matcher: { id: 'byName', options: n },
          properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: LEVEL_COLORS[normalizeLevel(n)] } }],
        })),
      },
      options: { legend: { showLegend: true, displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'desc' } },
    };
  }

  function graphPanel(): GrafanaPanel {
    return {
      type: 'timeseries',
      title: '',
      fieldConfig: { defaults: { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 0, showPoints: 'never' } }, overrides: [] },
      options: { legend: { showLegend: true, displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'desc' } },
    };
  }

  function matrixSeries(result: PromMatrixSeries[], refId: string, nameOf: (l: Record<string, string>) => string): Series[] {
    return result.map((s) => ({
      refId,
      name: nameOf(s.metric),
      labels: s.metric,
      times: s.values.map((v) => v[0] * 1000),
      values: s.values.map((v) => Number(v[1])),
    }));
  }

  function mount(body: HTMLElement, existing: PanelRenderer | undefined, p: GrafanaPanel): PanelRenderer {
    if (existing) return existing;
    const r = createPanel(body, p, panelCtx);
    new ResizeObserver(() => r.resize(body.clientWidth, body.clientHeight)).observe(body);
    return r;
  }

  function resetRefresh() {
    stopRefresh();
    stopRefresh = autoRefresh(time.refresh, () => {
      if (!live) void run(false);
    });
  }

  async function run(fromUser: boolean) {
    if (live) stopLive(false);
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    query = editor.value();
    replace(errorEl);
    replace(noticesEl);
    let range: TimeRange;
    try {
      range = resolveRange(time.range, time.timeZone);
    } catch (e) {
      replace(noticesEl, message('error', 'The time range is not valid', (e as Error).message));
      return;
    }
    if (fromUser) {
      addHistory('logql', query);
      history.refresh();
      writeUrl(true);
    }
    if (!query.trim()) {
      graphCard.hidden = true;
      volumeCard.hidden = true;
      entries = [];
      list.setEntries([]);
      list.el.hidden = true;
      replace(listMsg, message('info', 'Enter a LogQL query above, or pick labels in the label browser.', 'Try: {app="api"} |= "error" | json'));
      countEl.textContent = '';
      statusEl.textContent = '';
      return;
    }
    statusEl.textContent = 'Running…';
    const t0 = performance.now();
    const width = Math.max(300, (volumeBody.clientWidth || root.clientWidth) - 60);
    try {
      if (isMetricQuery(query)) {
        volumeCard.hidden = true;
        listCard.hidden = true;
        graphCard.hidden = false;
        const stepMs = calculateInterval(range, width, 1000);
        const data = await lokiQueryRange(query, range, { step: stepMs / 1000 }, ac.signal);
        if (ac !== abort) return;
        const series = data.resultType === 'matrix' ? matrixSeries(data.result, 'A', (l) => legendName('', l)) : [];
        if (!series.length) {
          graphBody.hidden = true;
          replace(graphMsg, message('empty', 'No data', 'The metric query returned no series in this time range.'));
        } else {
          replace(graphMsg);
          graphBody.hidden = false;
          graph = mount(graphBody, graph, graphPanel());
          graph.update({ series, tables: [], logs: [], errors: [], notices: [], range, intervalMs: stepMs } as PanelData, graphPanel());
          graph.resize(graphBody.clientWidth, graphBody.clientHeight);
        }
        statusEl.textContent = `${series.length} series · step ${formatDuration(stepMs)} · ${Math.round(performance.now() - t0)} ms`;
        lastOk = Date.now();
        return;
      }
      graphCard.hidden = true;
      volumeCard.hidden = false;
      listCard.hidden = false;
      const volStepMs = calculateInterval(range, Math.floor(width / 8), 1000);
      const volP = volumeQuery(query, range, volStepMs, ac.signal).catch((e: unknown) => e as Error);
      const fetched = await fetchLines(query, range, limit, ac.signal);
      if (ac !== abort) return;
      entries = fetched;
      list.el.hidden = false;
      list.setEntries(sorted(entries));
      applyLabelKeys();
      showCount(entries.length);
      replace(listMsg, entries.length ? null : message('empty', 'No log lines match this query in the selected time range.', 'Widen the time range or loosen the filters.'));
      list.el.hidden = entries.length === 0;
      statusEl.textContent = `${entries.length} lines · ${Math.round(performance.now() - t0)} ms`;
      lastOk = Date.now();
      const vol = await volP;
      if (ac !== abort) return;
      if (vol instanceof Error) {
        if ((vol as Error).name === 'AbortError') return;
        volumeBody.hidden = true;
        replace(volumeMsg, `Volume not available: ${vol.message}`);
      } else {
        const series = vol.resultType === 'matrix' ? matrixSeries(vol.result, 'volume', (l) => l.level || 'unknown') : [];
        if (!series.length) {
          volumeBody.hidden = true;
          replace(volumeMsg, 'No lines in this range.');
        } else {
          replace(volumeMsg);
          volumeBody.hidden = false;
          const names = series.map((s) => s.name);
          const p = volumePanel(names);
          volume = mount(volumeBody, volume, p);
          volume.update({ series, tables: [], logs: [], errors: [], notices: [], range, intervalMs: volStepMs } as PanelData, p);
          volume.resize(volumeBody.clientWidth, volumeBody.clientHeight);
          const total = series.reduce((s, x) => s + x.values.reduce<number>((a, v) => a + (v ?? 0), 0), 0);
          volumeBody.dataset.total = String(total);
        }
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      statusEl.textContent = '';
      const err = e instanceof ApiError ? e : new ApiError(String((e as Error)?.message ?? e), 500);
      if (err.unreachable) {
        void checkHealth();
        replace(noticesEl, unreachableNote(lastOk));
      } else {
        replace(errorEl, err.message);
        replace(listMsg, message('error', 'The query failed', 'See the error under the query.'));
        list.el.hidden = true;
        volumeCard.hidden = true;
        graphCard.hidden = true;
        listCard.hidden = false;
        countEl.textContent = '';
      }
    }
  }

  // ---- live tail ----
  let live = false;
  let paused = false;
  let socket: WebSocket | undefined;
  let buffered: LogEntry[] = [];
  let received = 0;
  let lastTs = '';
  let retry: ReturnType<typeof setTimeout> | undefined;
  let liveSince = 0;

  function setLiveUi() {
    liveBtn.hidden = live;
    pauseBtn.hidden = !live;
    stopBtn.hidden = !live;
    liveStatus.hidden = !live;
    pauseBtn.textContent = paused ? `▶ Resume${buffered.length ? ` (${buffered.length} new)` : ''}` : '❚❚ Pause';
    root.classList.toggle('is-live', live);
  }

  function liveNote(text: string, kind: 'ok' | 'warn' | 'error' = 'ok', ...extra: HTMLElement[]) {
    liveStatus.dataset.state = kind;
    replace(liveStatus, h('span', { class: `live-dot live-${kind}` }), text, ...extra);
  }

  function startLive() {
    query = editor.value();
    if (!query.trim()) {
      replace(errorEl, 'Enter a log query to tail.');
      return;
    }
    if (isMetricQuery(query)) {
      replace(errorEl, 'Live tail needs a log query (starting with a {stream selector}), not a metric query.');
      return;
    }
    abort?.abort();
    replace(errorEl);
    live = true;
    paused = false;
    buffered = [];
    received = 0;
    lastTs = '';
    liveSince = Date.now();
    entries = [];
    list.setEmptyText(`Waiting for new lines matching ${query.trim()} …`);
    list.setEntries([]);
    list.el.hidden = false;
    replace(listMsg);
    volumeCard.hidden = true;
    graphCard.hidden = true;
    listCard.hidden = false;
    statusEl.textContent = '';
    showCount(0);
    setLiveUi();
    connect();
  }

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const params: Record<string, string> = { query, limit: String(Math.min(limit, 100)) };
    if (lastTs) params.start = (BigInt(lastTs) + 1n).toString();
    else params.start = `${liveSince - 60_000}000000`;
    let opened = false;
    const ws = new WebSocket(`${proto}//${location.host}/loki/api/v1/tail${qs(params)}`);
    socket = ws;
    liveNote('Connecting…', 'warn');
    ws.onopen = () => {
      opened = true;
      liveNote(`Live — streaming since ${formatDateTime(liveSince, time.timeZone)}`);
    };
    ws.onmessage = (ev) => {
      let msg: { streams?: { stream: Record<string, string>; values: LokiValue[] }[] };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      const fresh = toEntries(msg.streams ?? []).sort((a, b) => cmpTs(b.ts, a.ts));
      if (!fresh.length) return;
      if (!lastTs || cmpTs(fresh[0].ts, lastTs) > 0) lastTs = fresh[0].ts;
      received += fresh.length;
      if (paused) {
        buffered = [...fresh, ...buffered].slice(0, 10_000);
        setLiveUi();
      } else deliver(fresh);
    };
    ws.onclose = () => {
      if (socket !== ws || !live) return;
      socket = undefined;
      if (!opened) {
        // The server refused the upgrade: ask the query API why (a parse error, say).
        void explainTailFailure();
        return;
      }
      const at = formatDateTime(Date.now(), time.timeZone);
      liveNote(`Connection lost at ${at} — reconnecting in 3 s…`, 'error', h('button', { class: 'small', onclick: () => reconnectNow() }, 'Reconnect now'));
      retry = setTimeout(reconnectNow, 3000);
    };
  }

  function reconnectNow() {
    if (retry) clearTimeout(retry);
    retry = undefined;
    if (live && !socket) connect();
  }

  async function explainTailFailure() {
    try {
      await lokiQueryRange(query, resolveRange({ from: 'now-5m', to: 'now' }), { limit: 1 }, new AbortController().signal);
      liveNote('Live tail could not connect — retrying in 5 s…', 'error', h('button', { class: 'small', onclick: () => reconnectNow() }, 'Retry now'));
      retry = setTimeout(reconnectNow, 5000);
    } catch (e) {
      const err = e as ApiError;
      if (err.unreachable) {
        void checkHealth();
        liveNote('pharos is not reachable — retrying in 5 s…', 'error', h('button', { class: 'small', onclick: () => reconnectNow() }, 'Retry now'));
        retry = setTimeout(reconnectNow, 5000);
      } else {
        stopLive(true);
        replace(errorEl, err.message);
      }
    }
  }

  function deliver(fresh: LogEntry[]) {
    queueMicrotask(applyLabelKeys);
    if (order === 'oldest') {
      entries = [...entries, ...fresh.reverse()];
      list.setEntries(entries);
    } else {
      entries = [...fresh, ...entries].slice(0, 10_000);
      list.prepend(fresh, 10_000);
    }
    showCount(entries.length);
  }

  function stopLive(keep: boolean) {
    live = false;
    paused = false;
    if (retry) clearTimeout(retry);
    retry = undefined;
    const ws = socket;
    socket = undefined;
    ws?.close();
    buffered = [];
    list.setEmptyText('No log lines.');
    setLiveUi();
    if (keep) {
      showCount(entries.length);
      statusEl.textContent = `Live tail stopped · ${received} lines received`;
    }
  }

  liveBtn.addEventListener('click', startLive);
  pauseBtn.addEventListener('click', () => {
    paused = !paused;
    if (!paused && buffered.length) {
      const b = buffered;
      buffered = [];
      deliver(b);
    }
    setLiveUi();
  });
  stopBtn.addEventListener('click', () => stopLive(true));

  resetRefresh();
  void run(false);

  return {
    title: 'Explore logs',
    onQueryChange(q) {
      time = timeStateFrom(q);
      controls.set(time);
      const nq = q.get('query') ?? '';
      if (nq !== editor.value()) editor.setValue(nq);
      query = nq;
      limit = Number(q.get('limit')) || 1000;
      limitSel.value = String(limit);
      resetRefresh();
      void run(false);
    },
    unmount() {
      abort?.abort();
      stopRefresh();
      stopLive(false);
      list.destroy();
      graph?.destroy();
      volume?.destroy();
      editor.destroy();
    },
  };
}

// ---- log context --------------------------------------------------------------------------------

/** LogQL string literal for a label value. */
function lit(v: string): string {
  return JSON.stringify(v);
}

/** A dialog with the lines just before and after `e` in its stream (Grafana's "show context"). */
async function showContext(e: LogEntry, tz: TimeZone) {
  const selector = `{${Object.entries(e.labels).map(([k, v]) => `${k}=${lit(v)}`).join(', ')}}`;
  const body = h('div', { class: 'ctx-body' }, message('loading', 'Loading the lines around this one'));
  const close = () => backdrop.remove();
  const backdrop = h(
    'div',
    { class: 'dialog-backdrop', onclick: (ev: Event) => ev.target === backdrop && close() },
    h(
      'div',
      { class: 'dialog ctx-dialog', role: 'dialog', 'aria-label': 'Log context', 'data-testid': 'log-context' },
      h('div', { class: 'ctx-head' }, h('h2', null, 'Log context'), h('code', { class: 'faint' }, selector), h('span', { class: 'spacer' }), h('button', { onclick: close }, 'Close')),
      body,
    ),
  );
  document.body.append(backdrop);
  const onKey = (ev: KeyboardEvent) => {
    if (ev.key === 'Escape') {
      close();
      document.removeEventListener('keydown', onKey);
    }
  };
  document.addEventListener('keydown', onKey);
  const hour = 3_600_000_000_000n;
  const ts = BigInt(e.ts);
  const get = (start: bigint, end: bigint, direction: string) =>
    request<LokiEnvelope>('/loki/api/v1/query_range' + qs({ query: selector, start: String(start), end: String(end), limit: 25, direction })).then((r) =>
      r.data.resultType === 'streams' ? toEntries(r.data.result) : [],
    );
  try {
    const [before, after] = await Promise.all([get(ts - hour, ts, 'backward'), get(ts + 1n, ts + hour, 'forward')]);
    const rows = [...before, ...after].sort((a, b) => cmpTs(a.ts, b.ts));
    const row = (x: LogEntry, current = false) =>
      h('div', { class: `ctx-row lv-${current ? 'current' : 'other'}${current ? ' current' : ''}` }, h('span', { class: 'log-time' }, formatDateTime(x.timeMs, tz, true)), h('span', { class: 'ctx-text' }, x.line));
    const b = rows.filter((x) => cmpTs(x.ts, e.ts) < 0);
    const a = rows.filter((x) => cmpTs(x.ts, e.ts) > 0);
    replace(
      body,
      b.length ? null : h('div', { class: 'faint ctx-edge' }, 'No earlier line in the hour before.'),
      ...b.map((x) => row(x)),
      row(e, true),
      ...a.map((x) => row(x)),
      a.length ? null : h('div', { class: 'faint ctx-edge' }, 'No later line in the hour after.'),
    );
    body.querySelector('.current')?.scrollIntoView({ block: 'center' });
  } catch (err) {
    replace(body, message('error', 'Could not load the context', (err as Error).message));
  }
}

// ---- label browser ------------------------------------------------------------------------------

/** Pick labels and values to build a stream selector (Grafana's label browser). */
function labelBrowser(range: () => TimeRange | undefined, use: (selector: string) => void): { el: HTMLElement; load(): void } {
  const chosen = new Map<string, Set<string>>();
  let active: string | undefined;
  const labelsEl = h('div', { class: 'lb-labels' });
  const valuesEl = h('div', { class: 'lb-values' });
  const preview = h('code', { class: 'lb-preview', 'data-testid': 'label-browser-selector' });
  const selector = () => {
    const parts: string[] = [];
    for (const [k, vals] of chosen) {
      if (!vals.size) continue;
      const vs = [...vals];
      parts.push(vs.length === 1 ? `${k}=${JSON.stringify(vs[0])}` : `${k}=~${JSON.stringify(vs.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'))}`);
    }
    return `{${parts.join(', ')}}`;
  };
  const renderPreview = () => (preview.textContent = selector());
  const showValues = async (label: string) => {
    active = label;
    replace(valuesEl, h('div', { class: 'faint' }, `Loading values of ${label}…`));
    const r = range();
    try {
      const values = await lokiLabelValues(label, r?.from, r?.to);
      if (active !== label) return;
      const set = chosen.get(label) ?? new Set<string>();
      chosen.set(label, set);
      replace(
        valuesEl,
        h('div', { class: 'lb-title' }, `Values of `, h('strong', null, label), h('span', { class: 'faint' }, ` (${values.length})`)),
        values.length
          ? h(
              'div',
              { class: 'lb-value-list' },
              ...values.map((v) => {
                const box = h('input', { type: 'checkbox' });
                box.checked = set.has(v);
                box.addEventListener('change', () => {
                  if (box.checked) set.add(v);
                  else set.delete(v);
                  renderPreview();
                  renderLabels(lastLabels);
                });
                return h('label', { class: 'lb-value' }, box, v);
              }),
            )
          : h('div', { class: 'faint' }, 'No values in this time range.'),
      );
    } catch (e) {
      replace(valuesEl, h('div', { class: 'error-inline' }, (e as Error).message));
    }
  };
  let lastLabels: string[] = [];
  const renderLabels = (labels: string[]) => {
    lastLabels = labels;
    replace(
      labelsEl,
      labels.length
        ? labels.map((l) =>
            h(
              'button',
              { class: `lb-label${chosen.get(l)?.size ? ' chosen' : ''}${l === active ? ' active' : ''}`, onclick: () => (void showValues(l), renderLabels(lastLabels)) },
              l,
              chosen.get(l)?.size ? h('span', { class: 'lb-n' }, String(chosen.get(l)!.size)) : null,
            ),
          )
        : h('div', { class: 'faint' }, 'No labels: no logs in this time range.'),
    );
  };
  const load = async () => {
    replace(labelsEl, h('div', { class: 'faint' }, 'Loading labels…'));
    const r = range();
    try {
      renderLabels(await lokiLabels(r?.from, r?.to));
    } catch (e) {
      replace(labelsEl, h('div', { class: 'error-inline' }, (e as Error).message));
    }
  };
  renderPreview();
  const el = h(
    'section',
    { class: 'card label-browser', 'data-testid': 'label-browser' },
    h('div', { class: 'lb-title' }, 'Pick a label, then its values; the selector is built below.'),
    labelsEl,
    valuesEl,
    h(
      'div',
      { class: 'lb-foot' },
      h('span', { class: 'faint' }, 'Selector: '),
      preview,
      h('span', { class: 'spacer' }),
      h('button', { class: 'small', onclick: () => (chosen.clear(), renderPreview(), renderLabels(lastLabels), replace(valuesEl)) }, 'Clear'),
      h('button', { class: 'primary small', 'data-testid': 'label-browser-use', onclick: () => selector() !== '{}' && use(selector()) }, 'Show logs'),
    ),
  );
  return { el, load: () => void load() };
}
