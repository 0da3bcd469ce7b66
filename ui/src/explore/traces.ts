/**
 * `/explore/traces`: Jaeger-style trace search (service, operation, logfmt tags, min/max
 * duration, time range, limit — all in the URL), the results as a duration-over-time scatter
 * plot and a sortable list, "find a trace by id", and the service graph tab.
 */
import './traces.css';
import { h, message, replace, svg } from '../lib/dom';
import { ApiError, jaegerOperations, jaegerSearch, jaegerServices, JaegerTrace } from '../lib/api';
import { navigate, setQuery, type Page, type PageContext } from '../lib/router';
import { describeRange, formatDateTime, parseDuration, resolveRange, type TimeRange, type TimeZone } from '../lib/time';
import { timeControls, type TimeControlsState } from '../components/timepicker';
import { check as checkHealth } from '../components/health';
import { formatMicros, serviceColor, summarize, validGoDuration, type TraceSummary } from './trace_model';
import { serviceGraph } from './servicegraph';

type SortKey = 'recent' | 'longest' | 'shortest' | 'spans' | 'errors';
const SORTS: [SortKey, string][] = [
  ['recent', 'Most recent'],
  ['longest', 'Longest first'],
  ['shortest', 'Shortest first'],
  ['spans', 'Most spans'],
  ['errors', 'Most errors'],
];

interface SearchState {
  service: string;
  operation: string;
  tags: string;
  minDuration: string;
  maxDuration: string;
  limit: string;
  sort: SortKey;
  view: 'search' | 'graph';
  time: TimeControlsState;
}

function readState(q: URLSearchParams): SearchState {
  const sort = q.get('sort') as SortKey;
  return {
    service: q.get('service') ?? '',
    operation: q.get('operation') ?? '',
    tags: q.get('tags') ?? '',
    minDuration: q.get('minDuration') ?? '',
    maxDuration: q.get('maxDuration') ?? '',
    limit: q.get('limit') ?? '20',
    sort: SORTS.some(([k]) => k === sort) ? sort : 'recent',
    view: q.get('view') === 'graph' ? 'graph' : 'search',
    time: {
      range: { from: q.get('from') ?? 'now-1h', to: q.get('to') ?? 'now' },
      timeZone: q.get('tz') === 'utc' ? 'utc' : 'browser',
      refresh: q.get('refresh') ?? '',
    },
  };
}

function writeState(s: SearchState, push = false) {
  setQuery(
    {
      service: s.service || null,
      operation: s.operation || null,
      tags: s.tags || null,
      minDuration: s.minDuration || null,
      maxDuration: s.maxDuration || null,
      limit: s.limit && s.limit !== '20' ? s.limit : null,
      sort: s.sort !== 'recent' ? s.sort : null,
      view: s.view === 'graph' ? 'graph' : null,
      from: s.time.range.from !== 'now-1h' ? s.time.range.from : null,
      to: s.time.range.to !== 'now' ? s.time.range.to : null,
      tz: s.time.timeZone === 'utc' ? 'utc' : null,
      refresh: s.time.refresh || null,
    },
    push,
  );
}

/**
 * logfmt (`error=true http.status_code=500 msg="a b"`) → the tag map Jaeger's `tags` parameter
 * takes as JSON. Throws with a readable message on malformed input.
 */
export function parseLogfmtTags(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) break;
    let key = '';
    while (i < s.length && s[i] !== '=' && !/\s/.test(s[i])) key += s[i++];
    if (s[i] !== '=' || !key) throw new Error(`"${key || s.slice(i, i + 10)}" needs a value: write key=value`);
    i++;
    let value = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i++];
      }
      if (s[i] !== '"') throw new Error(`the quoted value of "${key}" is not closed`);
      i++;
    } else while (i < s.length && !/\s/.test(s[i])) value += s[i++];
    out[key] = value;
  }
  return out;
}

const LAST_SERVICE_KEY = 'pharos.traces.lastService';
function lastService(): string | null {
  try {
    return localStorage.getItem(LAST_SERVICE_KEY);
  } catch {
    return null; // storage disabled
  }
}
function rememberService(s: string) {
  try {
    if (s) localStorage.setItem(LAST_SERVICE_KEY, s);
  } catch {
    /* storage disabled */
  }
}

function ago(ms: number): string {
  const d = Date.now() - ms;
  if (d < 0) return 'in the future';
  if (d < 60_000) return `${Math.max(1, Math.round(d / 1000))}s ago`;
  if (d < 3_600_000) return `${Math.round(d / 60_000)}m ago`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)}h ago`;
  return `${Math.round(d / 86_400_000)}d ago`;
}

function errorText(e: unknown): { text: string; detail?: string } {
  if (e instanceof ApiError && e.unreachable) {
    void checkHealth();
    return { text: 'pharos is not reachable — is the server running?', detail: 'The search runs again when you press Find traces.' };
  }
  return { text: 'The trace search failed.', detail: e instanceof Error ? e.message : String(e) };
}

export function tracesExplorePage(ctx: PageContext): Page {
  let state = readState(ctx.query);
  let services: string[] = [];
  let results: TraceSummary[] = [];
  let searchAbort: AbortController | undefined;
  let refreshTimer: ReturnType<typeof setInterval> | undefined;
  let resizeObs: ResizeObserver | undefined;

  // ---- header ---------------------------------------------------------------------------
  const tabSearch = h('button', { 'data-testid': 'tab-search', onclick: () => switchView('search') }, 'Search');
  const tabGraph = h('button', { 'data-testid': 'tab-graph', onclick: () => switchView('graph') }, 'Service graph');
  const idInput = h('input', { class: 'mono trace-id-input', placeholder: 'Trace ID', 'aria-label': 'Trace ID', 'data-testid': 'trace-id-input', spellcheck: 'false' });
  const idErr = h('span', { class: 'error-inline' });
  const openId = () => {
    const id = idInput.value.trim().toLowerCase();
    if (!/^[0-9a-f]{1,32}$/.test(id)) {
      idErr.textContent = id ? 'A trace id is 1 to 32 hex digits' : 'Paste a trace id';
      return;
    }
    idErr.textContent = '';
    navigate(`/trace/${id}`);
  };
  idInput.addEventListener('keydown', (e) => e.key === 'Enter' && openId());
  const tc = timeControls(
    state.time,
    (t) => {
      state = { ...state, time: t };
      writeState(state);
      setupRefresh();
      rerun();
    },
    () => rerun(),
  );

  // ---- form -----------------------------------------------------------------------------
  const serviceSel = h('select', { 'data-testid': 'service-select', 'aria-label': 'Service' });
  const opSel = h('select', { 'data-testid': 'operation-select', 'aria-label': 'Operation' }, h('option', { value: '' }, 'All'));
  const tagsIn = h('input', { class: 'mono', placeholder: 'error=true http.status_code=500', 'data-testid': 'tags-input', spellcheck: 'false' });
  const minIn = h('input', { class: 'mono', placeholder: 'e.g. 100ms', 'data-testid': 'min-duration', size: 8 });
  const maxIn = h('input', { class: 'mono', placeholder: 'e.g. 1.2s', 'data-testid': 'max-duration', size: 8 });
  const limitIn = h('input', { type: 'number', min: '1', max: '1500', value: state.limit, 'data-testid': 'limit' });
  const formErr = h('div', { class: 'error-inline', 'data-testid': 'form-error' });
  const findBtn = h('button', { class: 'primary', type: 'submit', 'data-testid': 'find-traces' }, 'Find traces');
  const form = h(
    'form',
    { class: 'card traces-form', 'data-testid': 'trace-search-form' },
    h('label', { class: 'field' }, 'Service', serviceSel),
    h('label', { class: 'field' }, 'Operation', opSel),
    h('label', { class: 'field' }, h('span', null, 'Tags ', h('span', { class: 'faint' }, '(logfmt)')), tagsIn),
    h('div', { class: 'traces-form-row' }, h('label', { class: 'field' }, 'Min duration', minIn), h('label', { class: 'field' }, 'Max duration', maxIn)),
    h('label', { class: 'field' }, 'Limit results', limitIn),
    h('div', { class: 'faint traces-form-hint' }, 'Time range: the picker at the top right.'),
    formErr,
    findBtn,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = fromForm();
    if (!next) return;
    state = next;
    writeState(state, true);
    void search();
  });
  serviceSel.addEventListener('change', () => {
    opSel.value = '';
    void loadOperations(serviceSel.value, '');
  });

  // ---- results --------------------------------------------------------------------------
  const sortSel = h('select', { 'data-testid': 'sort', 'aria-label': 'Sort' }, ...SORTS.map(([k, l]) => h('option', { value: k }, l)));
  sortSel.value = state.sort;
  sortSel.addEventListener('change', () => {
    state = { ...state, sort: sortSel.value as SortKey };
    writeState(state);
    drawResults();
  });
  const summaryEl = h('div', { class: 'traces-summary', 'data-testid': 'results-summary' });
  const scatterEl = h('div', { class: 'card traces-scatter', 'data-testid': 'scatter' });
  const listEl = h('div', { class: 'traces-list', 'data-testid': 'trace-results' });
  const resultsHead = h('div', { class: 'traces-results-head' }, summaryEl, h('span', { class: 'spacer' }), h('label', { class: 'inline-field' }, 'Sort ', sortSel));
  const resultsEl = h('section', { class: 'traces-results' }, message('info', 'Pick a service and press Find traces.'));
  const searchView = h('div', { class: 'traces-layout' }, form, resultsEl);
  const graphView = h('div', { class: 'traces-graph-view' });
  const body = h('div', null);

  ctx.root.append(
    h(
      'div',
      { class: 'page page-wide traces-page' },
      h(
        'div',
        { class: 'page-header' },
        h('h1', null, 'Explore traces'),
        h('div', { class: 'trace-id-box toolbar' }, idInput, h('button', { onclick: openId, 'data-testid': 'open-trace-id' }, 'Open trace'), idErr),
        tc.el,
      ),
      h('div', { class: 'tabs' }, tabSearch, tabGraph),
      body,
    ),
  );

  function fromForm(): SearchState | undefined {
    formErr.textContent = '';
    const tags = tagsIn.value.trim();
    try {
      parseLogfmtTags(tags);
    } catch (e) {
      formErr.textContent = `Tags: ${(e as Error).message}`;
      return undefined;
    }
    for (const [inp, name] of [
      [minIn, 'Min duration'],
      [maxIn, 'Max duration'],
    ] as const) {
      const v = inp.value.trim();
      if (v && !validGoDuration(v)) {
        formErr.textContent = `${name}: "${v}" is not a duration; write e.g. 250ms, 1.5s or 2m`;
        return undefined;
      }
    }
    const limit = limitIn.value.trim();
    if (limit && !(Number(limit) >= 1)) {
      formErr.textContent = 'Limit: a number of traces, at least 1';
      return undefined;
    }
    if (!serviceSel.value) {
      formErr.textContent = services.length ? 'Pick a service' : 'No service has sent spans yet';
      return undefined;
    }
    return {
      ...state,
      service: serviceSel.value,
      operation: opSel.value,
      tags,
      minDuration: minIn.value.trim(),
      maxDuration: maxIn.value.trim(),
      limit: limit || '20',
    };
  }

  function fillForm() {
    if (state.service && !services.includes(state.service)) {
      serviceSel.append(h('option', { value: state.service }, `${state.service} (no spans seen)`));
    }
    serviceSel.value = state.service;
    tagsIn.value = state.tags;
    minIn.value = state.minDuration;
    maxIn.value = state.maxDuration;
    limitIn.value = state.limit;
    sortSel.value = state.sort;
  }

  async function loadOperations(service: string, selected: string) {
    replace(opSel, h('option', { value: '' }, 'All'));
    if (!service) return;
    try {
      const ops = (await jaegerOperations(service)).slice().sort();
      if (serviceSel.value !== service) return;
      for (const o of ops) opSel.append(h('option', { value: o }, o));
      if (selected && !ops.includes(selected)) opSel.append(h('option', { value: selected }, selected));
      opSel.value = selected;
    } catch {
      if (selected) opSel.append(h('option', { value: selected }, selected));
      opSel.value = selected;
    }
  }

  async function loadServices(): Promise<boolean> {
    replace(serviceSel, h('option', { value: '' }, 'Loading services…'));
    try {
      services = (await jaegerServices()).slice().sort();
      for (const s of services) serviceColor(s); // colours in a stable order for this session
    } catch (e) {
      replace(serviceSel, h('option', { value: '' }, '(services unavailable)'));
      const { text, detail } = errorText(e);
      replace(resultsEl, message('error', text, detail));
      return false;
    }
    replace(serviceSel, ...(services.length ? [] : [h('option', { value: '' }, '(no services yet)')]), ...services.map((s) => h('option', { value: s }, s)));
    return true;
  }

  async function search() {
    searchAbort?.abort();
    rememberService(state.service);
    const abort = new AbortController();
    searchAbort = abort;
    if (!state.service) {
      replace(resultsEl, message('info', 'Pick a service and press Find traces.'));
      return;
    }
    let range: TimeRange;
    try {
      range = resolveRange(state.time.range, state.time.timeZone);
    } catch (e) {
      replace(resultsEl, message('error', 'The time range cannot be read.', (e as Error).message));
      return;
    }
    if (!results.length) replace(resultsEl, message('loading', 'Searching traces'));
    findBtn.disabled = true;
    const params: Record<string, string | number | undefined> = {
      service: state.service,
      operation: state.operation || undefined,
      start: Math.floor(range.from) * 1000,
      end: Math.ceil(range.to) * 1000,
      limit: Number(state.limit) || 20,
      minDuration: state.minDuration || undefined,
      maxDuration: state.maxDuration || undefined,
    };
    try {
      const tags = parseLogfmtTags(state.tags);
      if (Object.keys(tags).length) params.tags = JSON.stringify(tags);
      const traces: JaegerTrace[] = await jaegerSearch(params);
      if (abort.signal.aborted) return;
      results = traces.map(summarize);
      drawResults();
    } catch (e) {
      if (abort.signal.aborted) return;
      results = [];
      const { text, detail } = errorText(e);
      replace(resultsEl, message('error', text, detail));
    } finally {
      if (searchAbort === abort) findBtn.disabled = false;
    }
  }

  function describeSearch(): string {
    const parts = [`service ${state.service}`];
    parts.push(state.operation ? `operation "${state.operation}"` : 'all operations');
    if (state.tags) parts.push(`tags ${state.tags}`);
    if (state.minDuration) parts.push(`duration ≥ ${state.minDuration}`);
    if (state.maxDuration) parts.push(`duration ≤ ${state.maxDuration}`);
    parts.push(describeRange(state.time.range, state.time.timeZone).replace(/^Last/, 'in the last'));
    return parts.join(', ');
  }

  function sorted(): TraceSummary[] {
    const r = results.slice();
    const cmp: Record<SortKey, (a: TraceSummary, b: TraceSummary) => number> = {
      recent: (a, b) => b.start - a.start,
      longest: (a, b) => b.duration - a.duration,
      shortest: (a, b) => a.duration - b.duration,
      spans: (a, b) => b.spanCount - a.spanCount || b.start - a.start,
      errors: (a, b) => b.errorCount - a.errorCount || b.start - a.start,
    };
    return r.sort(cmp[state.sort]);
  }

  function drawResults() {
    if (!results.length) {
      replace(
        resultsEl,
        h(
          'div',
          { class: 'card', 'data-testid': 'no-results' },
          message('empty', 'No traces match this search.', `Searched: ${describeSearch()}.\nWiden the time range, lower the min duration or remove tags.`),
        ),
      );
      return;
    }
    const limit = Number(state.limit) || 20;
    const errors = results.filter((r) => r.errorCount > 0).length;
    replace(
      summaryEl,
      h('strong', null, `${results.length} trace${results.length === 1 ? '' : 's'}`),
      errors ? h('span', { class: 'badge badge-error' }, `${errors} with errors`) : null,
      h('span', { class: 'dim' }, describeSearch()),
      results.length >= limit ? h('span', { class: 'faint' }, `(limit ${limit} reached — raise it to see more)`) : null,
    );
    const longest = Math.max(...results.map((r) => r.duration), 1);
    replace(
      listEl,
      ...sorted().map((t) => traceItem(t, longest, state.time.timeZone)),
    );
    replace(resultsEl, scatterEl, resultsHead, listEl);
    drawScatter();
  }

  function drawScatter() {
    const width = Math.max(320, scatterEl.clientWidth - 28 || 900);
    replace(scatterEl, scatterPlot(results, width, state.time.timeZone));
  }

  function switchView(v: 'search' | 'graph') {
    state = { ...state, view: v };
    writeState(state);
    showView();
  }

  let graph: ReturnType<typeof serviceGraph> | undefined;
  function showView() {
    tabSearch.classList.toggle('active', state.view === 'search');
    tabGraph.classList.toggle('active', state.view === 'graph');
    if (state.view === 'graph') {
      replace(body, graphView);
      graph ??= serviceGraph(graphView, (svc) => {
        state = { ...state, view: 'search', service: svc, operation: '' };
        writeState(state, true);
        fillForm();
        void loadOperations(svc, '');
        showView();
        void search();
      });
      try {
        graph.load(resolveRange(state.time.range, state.time.timeZone));
      } catch (e) {
        replace(graphView, message('error', 'The time range cannot be read.', (e as Error).message));
      }
    } else {
      replace(body, searchView);
      if (results.length) drawScatter();
    }
  }

  function rerun() {
    if (state.view === 'graph') showView();
    else void search();
  }

  function setupRefresh() {
    if (refreshTimer) clearInterval(refreshTimer);
    refreshTimer = undefined;
    const ms = state.time.refresh ? parseDuration(state.time.refresh) : undefined;
    if (ms && ms >= 1000) refreshTimer = setInterval(rerun, ms);
  }

  async function start() {
    showView();
    const ok = await loadServices();
    if (!ok) return;
    if (!state.service && services.length) {
      // Nothing chosen yet: the service searched last time, else the first one, right away.
      const last = lastService();
      state = { ...state, service: last && services.includes(last) ? last : services[0] };
      writeState(state);
    }
    fillForm();
    await loadOperations(state.service, state.operation);
    if (!services.length && !state.service) {
      replace(
        resultsEl,
        message(
          'empty',
          'No traces have been received yet.',
          'Send spans over OTLP (POST /v1/traces, gRPC :4317), the Jaeger collector (POST /api/traces) or Zipkin (POST /api/v2/spans); they show up here.',
        ),
      );
      return;
    }
    if (state.view === 'search') void search();
  }

  resizeObs = new ResizeObserver(() => {
    if (results.length && state.view === 'search' && scatterEl.isConnected) {
      const want = Math.max(320, scatterEl.clientWidth - 28);
      const svgEl = scatterEl.querySelector('svg');
      if (svgEl && Math.abs(Number(svgEl.getAttribute('width')) - want) > 20) drawScatter();
    }
  });
  resizeObs.observe(ctx.root);
  setupRefresh();
  void start();

  return {
    title: 'Explore traces',
    unmount() {
      searchAbort?.abort();
      if (refreshTimer) clearInterval(refreshTimer);
      resizeObs?.disconnect();
      graph?.dispose();
    },
    onQueryChange(q) {
      const next = readState(q);
      const same = JSON.stringify(next) === JSON.stringify(state);
      if (same) return;
      const serviceChanged = next.service !== state.service || next.operation !== state.operation;
      state = next;
      tc.set(state.time);
      fillForm();
      if (serviceChanged) void loadOperations(state.service, state.operation);
      setupRefresh();
      showView();
      if (state.view === 'search') void search();
    },
  };
}

function traceItem(t: TraceSummary, longest: number, tz: TimeZone): HTMLElement {
  const startMs = t.start / 1000;
  return h(
    'a',
    {
      class: `trace-item${t.errorCount ? ' has-error' : ''}`,
      href: `/trace/${t.traceID}`,
      'data-testid': 'trace-result',
      'data-trace-id': t.traceID,
      'data-span-count': String(t.spanCount),
      'data-error-count': String(t.errorCount),
      'data-duration-us': String(t.duration),
    },
    h(
      'div',
      { class: 'ti-head' },
      h('span', { class: 'svc-dot', style: { background: serviceColor(t.rootService) } }),
      h('span', { class: 'ti-title' }, h('span', { class: 'ti-service' }, t.rootService), ': ', t.rootOperation),
      h('span', { class: 'ti-id mono', title: t.traceID }, t.traceID.slice(0, 7)),
      h('span', { class: 'spacer' }),
      h('span', { class: 'ti-dur' }, formatMicros(t.duration)),
    ),
    h('div', { class: 'ti-bar' }, h('div', { class: 'ti-bar-fill', style: { width: `${Math.max(0.5, (t.duration / longest) * 100)}%` } })),
    h(
      'div',
      { class: 'ti-meta' },
      h('span', { class: 'badge badge-info' }, `${t.spanCount} span${t.spanCount === 1 ? '' : 's'}`),
      t.errorCount ? h('span', { class: 'badge badge-error', 'data-testid': 'error-count' }, `${t.errorCount} error${t.errorCount === 1 ? '' : 's'}`) : null,
      t.orphanCount ? h('span', { class: 'badge badge-warning', title: 'Spans whose parent is not in the trace' }, `${t.orphanCount} invalid parent`) : null,
      ...[...t.services.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([s, n]) => h('span', { class: 'svc-chip', style: { borderLeftColor: serviceColor(s) } }, `${s} `, h('span', { class: 'dim' }, String(n)))),
      h('span', { class: 'spacer' }),
      h('span', { class: 'ti-time', title: formatDateTime(startMs, tz, true) }, formatDateTime(startMs, tz), h('span', { class: 'faint' }, ` · ${ago(startMs)}`)),
    ),
  );
}

/** Duration over start time, one dot per trace (red with errors, bigger with more spans). */
function scatterPlot(results: TraceSummary[], width: number, tz: TimeZone): SVGElement {
  const height = 170;
  const m = { l: 62, r: 14, t: 12, b: 26 };
  const w = width - m.l - m.r;
  const ht = height - m.t - m.b;
  let t0 = Math.min(...results.map((r) => r.start));
  let t1 = Math.max(...results.map((r) => r.start));
  if (t1 - t0 < 2_000_000) {
    t0 -= 1_000_000;
    t1 += 1_000_000;
  }
  const pad = (t1 - t0) * 0.04;
  t0 -= pad;
  t1 += pad;
  const maxD = Math.max(...results.map((r) => r.duration), 1) * 1.15;
  const x = (t: number) => m.l + ((t - t0) / (t1 - t0)) * w;
  const y = (d: number) => m.t + ht - (d / maxD) * ht;
  const root = svg('svg', { width, height, class: 'scatter-svg', role: 'img', 'aria-label': `Trace durations over time, ${results.length} traces` });
  for (let i = 0; i <= 3; i++) {
    const d = (maxD / 1.15) * (i / 3);
    const yy = y(d);
    root.append(
      svg('line', { x1: m.l, x2: m.l + w, y1: yy, y2: yy, class: 'grid' }),
      svg('text', { x: m.l - 6, y: yy + 4, 'text-anchor': 'end', class: 'axis' }, formatMicros(d)),
    );
  }
  const span = (t1 - t0) / 1000;
  const withSec = span < 3_600_000 * 3;
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const label = formatDateTime(t / 1000, tz, span < 10_000).slice(11, withSec ? undefined : 16);
    root.append(svg('text', { x: x(t), y: height - 8, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle', class: 'axis' }, label));
  }
  root.append(svg('text', { x: 12, y: m.t + ht / 2, class: 'axis axis-title', transform: `rotate(-90 12 ${m.t + ht / 2})`, 'text-anchor': 'middle' }, 'duration'));
  for (const r of results) {
    const rad = Math.min(10, 4 + Math.log2(Math.max(1, r.spanCount)));
    const dot = svg(
      'circle',
      {
        cx: x(r.start).toFixed(1),
        cy: y(r.duration).toFixed(1),
        r: rad.toFixed(1),
        class: `dot${r.errorCount ? ' dot-error' : ''}`,
        'data-trace-id': r.traceID,
        'data-testid': 'scatter-dot',
      },
      svg('title', {}, `${r.rootService}: ${r.rootOperation}\n${formatMicros(r.duration)} · ${r.spanCount} spans${r.errorCount ? ` · ${r.errorCount} errors` : ''}\n${formatDateTime(r.start / 1000, tz, true)}`),
    );
    dot.addEventListener('click', () => navigate(`/trace/${r.traceID}`));
    root.append(dot);
  }
  return root;
}
