/**
 * Runs a panel's targets the way Grafana's data sources would, against pharos itself: Prometheus
 * (range/instant, table and heatmap formats, Grafana's `$__interval`/`$__rate_interval` and step
 * alignment), Loki (logs and metric queries), Elasticsearch (query_string + Grafana's
 * metrics/bucketAggs), Jaeger/Tempo (trace search as a table). Results become `PanelData`;
 * requests are cached within one refresh and aborted when the range changes.
 */
import { addFiltersToLogQL, addFiltersToPromQL, type AdhocFilter } from './adhoc';
import { matrixPoints } from '../lib/prom_matrix';
import { parseRangeAnswer, type PointsSeries } from '../lib/promjson';
import { ApiError, UnsupportedError, request, type Labels, type LokiResult, type PromMatrixSeries, type PromResult, type PromVectorSample, type JaegerTrace } from '../lib/api';
import { calculateInterval, formatDuration, parseDuration, type TimeRange, type TimeZone } from '../lib/time';
import type { DashboardModel } from './contract';
import type { Exemplar, GrafanaPanel, GrafanaTarget, LogRow, PanelData, Series, TableData } from '../panels/types';
import type { Format, ScopedVars } from './variables';

// ---- data sources ----------------------------------------------------------------------------

export interface Datasource {
  uid: string;
  name: string;
  type: string;
  isDefault?: boolean;
  database?: string;
  jsonData?: Record<string, unknown>;
}

/** pharos' built-in data sources, used when `/api/datasources` is not there. */
const FALLBACK_DATASOURCES: Datasource[] = [
  { uid: 'prometheus', name: 'Prometheus', type: 'prometheus', isDefault: true },
  { uid: 'loki', name: 'Loki', type: 'loki' },
  { uid: 'elasticsearch', name: 'Elasticsearch', type: 'elasticsearch', database: '*' },
  { uid: 'jaeger', name: 'Jaeger', type: 'jaeger' },
  { uid: 'zipkin', name: 'Zipkin', type: 'zipkin' },
  { uid: 'alertmanager', name: 'Alertmanager', type: 'alertmanager' },
];

let dsPromise: Promise<Datasource[]> | undefined;

/** The data sources pharos offers (`GET /api/datasources`, cached; a fixed list when missing). */
export function listDatasources(): Promise<Datasource[]> {
  if (!dsPromise) {
    // Both requests at once: the scrape interval is needed as soon as the list is.
    const config = request<{ status: string; data?: { yaml?: string } }>('/api/v1/status/config');
    config.catch(() => undefined);
    dsPromise = request<Datasource[]>('/api/datasources')
      .then((l) => (Array.isArray(l) && l.length ? l : FALLBACK_DATASOURCES))
      .then((l) => withScrapeInterval(l, config))
      .catch(() => {
        dsPromise = undefined;
        return FALLBACK_DATASOURCES;
      });
  }
  return dsPromise;
}

/**
 * Grafana needs the scrape interval typed into the data source (`timeInterval`) for
 * `$__rate_interval`; pharos knows it: the loaded config's `global.scrape_interval`.
 */
async function withScrapeInterval(list: Datasource[], config: Promise<{ status: string; data?: { yaml?: string } }>): Promise<Datasource[]> {
  const prom = list.filter((d) => d.type === 'prometheus' && typeof d.jsonData?.timeInterval !== 'string');
  if (!prom.length) return list;
  try {
    const cfg = await config;
    const m = (cfg.data?.yaml ?? '').match(/^global:\s*\n(?:[ \t]+.*\n)*?[ \t]+scrape_interval:\s*['"]?(\w+)/m);
    const interval = m && parseDuration(m[1]) ? m[1] : '1m';
    return list.map((d) => (prom.includes(d) ? { ...d, jsonData: { ...(d.jsonData ?? {}), timeInterval: interval } } : d));
  } catch {
    return list;
  }
}

export interface ResolvedDatasource {
  /** prometheus | loki | elasticsearch | jaeger | tempo | zipkin | mixed | dashboard | grafana | testdata | other types */
  type: string;
  uid: string;
  name: string;
  database: string;
  timeField: string;
  /** The Prometheus scrape interval Grafana assumes (`jsonData.timeInterval`, default 15s), seconds. */
  scrapeIntervalS: number;
  maxLines: number;
}

const KNOWN_TYPES = ['prometheus', 'loki', 'elasticsearch', 'jaeger', 'tempo', 'zipkin'];

function guessType(s: string): string | undefined {
  const l = s.toLowerCase();
  if (l.includes('loki')) return 'loki';
  if (l.includes('elastic') || l.includes('opensearch') || /\bes\b/.test(l)) return 'elasticsearch';
  if (l.includes('jaeger')) return 'jaeger';
  if (l.includes('tempo')) return 'tempo';
  if (l.includes('zipkin')) return 'zipkin';
  if (l.includes('prom') || l.includes('thanos') || l.includes('mimir') || l.includes('cortex') || l.includes('victoria')) return 'prometheus';
  return undefined;
}

function toResolved(type: string, d: Datasource | undefined): ResolvedDatasource {
  const jd = d?.jsonData ?? {};
  const scrape = typeof jd.timeInterval === 'string' ? parseDuration(jd.timeInterval) : undefined;
  return {
    type,
    uid: d?.uid ?? type,
    name: d?.name ?? type,
    database: String(d?.database || (typeof jd.index === 'string' ? jd.index : '') || '*'),
    timeField: typeof jd.timeField === 'string' && jd.timeField ? jd.timeField : '@timestamp',
    scrapeIntervalS: scrape ? scrape / 1000 : 15,
    maxLines: typeof jd.maxLines === 'number' ? jd.maxLines : Number(jd.maxLines) || 1000,
  };
}

/**
 * What a panel's or target's `datasource` refers to: `{type, uid}`, a name or uid string, a
 * `${DS_...}`/`$datasource` variable, or nothing (the default: Prometheus). Any data source of a
 * type pharos answers is answered by pharos, whatever its uid says.
 */
export async function resolveDatasource(ref: unknown, interpolate: (s: string) => string, model?: DashboardModel): Promise<ResolvedDatasource> {
  const list = await listDatasources();
  const byType = (t: string) => list.find((d) => d.type === t);
  const deflt = () => {
    const d = list.find((x) => x.isDefault) ?? byType('prometheus');
    return toResolved(d?.type ?? 'prometheus', d);
  };
  if (ref === null || ref === undefined || ref === '' || ref === 'default') return deflt();
  let str: string | undefined;
  if (typeof ref === 'object') {
    const o = ref as { type?: unknown; uid?: unknown };
    const uid = typeof o.uid === 'string' ? interpolate(o.uid) : '';
    if (uid === '-- Mixed --') return toResolved('mixed', undefined);
    if (uid === '-- Dashboard --') return toResolved('dashboard', undefined);
    if (uid === 'grafana' || o.type === 'grafana') return toResolved('grafana', undefined);
    if (typeof o.type === 'string' && o.type && o.type !== 'datasource') {
      const type = o.type === 'grafana-testdata-datasource' ? 'testdata' : o.type;
      const exact = list.find((d) => d.uid === uid && d.type === type);
      return toResolved(type, exact ?? byType(type));
    }
    if (!uid) return deflt();
    str = uid;
  } else str = interpolate(String(ref));
  if (str === '-- Mixed --') return toResolved('mixed', undefined);
  if (str === '-- Dashboard --') return toResolved('dashboard', undefined);
  if (str === '-- Grafana --') return toResolved('grafana', undefined);
  const lower = str.toLowerCase();
  const found = list.find((d) => d.uid === str || d.name === str) ?? list.find((d) => d.uid.toLowerCase() === lower || d.name.toLowerCase() === lower);
  if (found) return toResolved(found.type, found);
  // An unresolved `${DS_PROMETHEUS}` of an exported dashboard: its __inputs say the plugin.
  const input = str.match(/^\$\{?(\w+)\}?$/);
  if (input && model) {
    const inputs = Array.isArray(model.__inputs) ? (model.__inputs as { name?: string; pluginId?: string }[]) : [];
    const i = inputs.find((x) => x.name === input[1]);
    if (i?.pluginId && KNOWN_TYPES.includes(i.pluginId)) return toResolved(i.pluginId, byType(i.pluginId));
  }
  const guessed = guessType(str);
  if (guessed) return toResolved(guessed, byType(guessed));
  return deflt();
}

// ---- running a panel -------------------------------------------------------------------------

/** One request as the Inspect drawer shows it. */
export interface QueryLogEntry {
  refId: string;
  method: string;
  url: string;
  body?: string;
  ms: number;
  status: 'ok' | 'error' | 'cached';
  error?: string;
}

export interface RunEnv {
  range: TimeRange;
  timeZone: TimeZone;
  /** Width of the panel's drawing area in px (Grafana's default `maxDataPoints`). */
  widthPx: number;
  interpolate(text: string, scoped?: ScopedVars, format?: Format): string;
  scopedVars?: ScopedVars;
  model?: DashboardModel;
  /** Ad hoc filters added to every PromQL vector selector and LogQL stream selector. */
  adhoc?: AdhocFilter[];
  signal?: AbortSignal;
  /** Requests shared by all panels of one refresh (identical requests are sent once). */
  cache?: Map<string, Promise<unknown>>;
  /** Collects the requests made (for Inspect). */
  log?: QueryLogEntry[];
  /** Fetch priority of the requests (`low` for panels loaded ahead of a scroll). */
  priority?: RequestPriority;
  /** Variables referenced in `text` that have no value to offer (see Variables.emptyRefs). */
  emptyVars?(text: string, scoped?: ScopedVars): string[];
}

/** Panels that show no query results. */
export const NON_QUERY_TYPES = new Set(['row', 'text', 'dashlist', 'news', 'welcome', 'gettingstarted', 'alertlist', 'annolist', 'pluginlist']);

function emptyData(range: TimeRange, intervalMs: number): PanelData {
  return { series: [], tables: [], logs: [], errors: [], notices: [], range, intervalMs };
}

/** The `$__interval` of a panel: Grafana's calculateInterval over maxDataPoints = width or `maxDataPoints`. */
export function panelInterval(panel: GrafanaPanel, env: RunEnv, ds?: ResolvedDatasource): number {
  const maxPoints = typeof panel.maxDataPoints === 'number' && panel.maxDataPoints > 0 ? panel.maxDataPoints : Math.max(1, Math.round(env.widthPx || 800));
  const minStr = panel.interval ? env.interpolate(panel.interval, env.scopedVars) : '';
  const low = (minStr && parseDuration(minStr.replace(/^>/, ''))) || (ds?.type === 'prometheus' ? ds.scrapeIntervalS * 1000 : 1);
  return calculateInterval(env.range, maxPoints, low);
}

/** Runs every non-hidden target of `panel`; failures become `errors`, never exceptions. */
export async function runPanel(panel: GrafanaPanel, env: RunEnv): Promise<PanelData> {
  const panelDs = await resolveDatasource(panel.datasource, (s) => env.interpolate(s, env.scopedVars), env.model);
  const data = emptyData(env.range, panelInterval(panel, env, panelDs));
  if (NON_QUERY_TYPES.has(panel.type ?? '')) return data;
  const targets = (Array.isArray(panel.targets) ? panel.targets : []).filter((t) => t && !t.hide);
  const multi = targets.length > 1;
  await Promise.all(
    targets.map(async (t, i) => {
      const target: GrafanaTarget = { ...t, refId: t.refId || String.fromCharCode(65 + (i % 26)) };
      try {
        let ds = panelDs;
        if (panelDs.type === 'mixed' || (t.datasource && panelDs.type !== 'mixed')) {
          const tds = t.datasource ? await resolveDatasource(t.datasource, (s) => env.interpolate(s, env.scopedVars), env.model) : panelDs;
          if (tds.type !== 'mixed' && tds.type !== 'datasource') ds = tds;
          else if (panelDs.type === 'mixed') ds = await resolveDatasource(null, (s) => s, env.model);
        }
        await runTarget(panel, target, ds, env, data, multi);
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        const msg = e instanceof ApiError ? e.message : (e as Error).message || String(e);
        if (e instanceof UnsupportedError) {
          if (!data.notices.includes(msg)) data.notices.push(msg);
          return;
        }
        const raw = String(target.expr ?? target.query ?? '');
        const empty = env.emptyVars?.(raw, env.scopedVars) ?? [];
        if (empty.length || (/empty-compatible value|at least one non-empty matcher/.test(msg) && raw.includes('$'))) {
          // The query was built from variables that have no values (the exporter behind them
          // is not sending yet), so it does not even parse: that is "No data", not a broken panel.
          data.notices.push(`${target.refId}: no data — ${empty.length ? empty.map((n) => `$${n}`).join(', ') : 'its variables'} ${empty.length === 1 ? 'has' : 'have'} no values.`);
          return;
        }
        data.errors.push(multi ? `${target.refId}: ${msg}` : msg);
      }
    }),
  );
  // Keep target order stable (refId order) whatever order the answers arrived in.
  const order = new Map(targets.map((t, i) => [t.refId || String.fromCharCode(65 + (i % 26)), i]));
  const key = (r: string) => order.get(r) ?? 0;
  data.series.sort((a, b) => key(a.refId) - key(b.refId));
  data.tables.sort((a, b) => key(a.refId) - key(b.refId));
  return data;
}

async function runTarget(panel: GrafanaPanel, t: GrafanaTarget, ds: ResolvedDatasource, env: RunEnv, data: PanelData, multi: boolean) {
  switch (ds.type) {
    case 'prometheus':
      return runPrometheus(panel, t, ds, env, data, multi);
    case 'loki':
      return runLoki(panel, t, ds, env, data);
    case 'elasticsearch':
      return runElasticsearch(panel, t, ds, env, data);
    case 'jaeger':
    case 'tempo':
    case 'zipkin':
      return runTraces(t, ds, env, data);
    case 'dashboard':
      data.notices.push('This panel reuses another panel\'s results (-- Dashboard --); pharos runs its own queries only.');
      return;
    case 'grafana':
    case 'testdata':
      return runTestData(t, env, data);
    default:
      throw new UnsupportedError(`Data source type "${ds.type}" is not served by pharos (Prometheus, Loki, Elasticsearch, Jaeger and Tempo queries are).`);
  }
}

/** Sends a request once per refresh (identical requests share the answer) and logs it. */
async function send<T>(env: RunEnv, refId: string, url: string, opts: { form?: Record<string, string>; body?: unknown; decode?: (body: ArrayBuffer) => Promise<unknown> } = {}): Promise<T> {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
  // A decoded answer has another shape than the plain JSON: it is shared only with its kind.
  const key = `${opts.decode ? 'decoded ' : ''}${url}\n${body ?? ''}`;
  const started = performance.now();
  const entry: QueryLogEntry = { refId, method: body ? 'POST' : 'GET', url, body, ms: 0, status: 'ok' };
  env.log?.push(entry);
  try {
    // A shared answer belongs to the panel that asked first: when that panel's run is aborted
    // (it re-ran, or its row was toggled) while this one still waits, ask again on our own.
    for (let attempt = 0; ; attempt++) {
      const cached = env.cache?.get(key) as Promise<T> | undefined;
      const p = cached ?? request<T>(url, { form: opts.form, body: opts.form ? undefined : opts.body, signal: env.signal, priority: env.priority, decode: opts.decode });
      if (!cached) env.cache?.set(key, p);
      try {
        const r = await p;
        entry.status = cached ? 'cached' : 'ok';
        return r;
      } catch (e) {
        const abortedElsewhere = (e as Error).name === 'AbortError' && !env.signal?.aborted;
        if (!abortedElsewhere || attempt >= 2) throw e;
        if (env.cache?.get(key) === p) env.cache.delete(key);
      }
    }
  } catch (e) {
    entry.status = 'error';
    entry.error = (e as Error).message;
    throw e;
  } finally {
    entry.ms = Math.round(performance.now() - started);
  }
}

// ---- Prometheus ------------------------------------------------------------------------------

function parseValue(s: string): number | null {
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/** Grafana's legend: `{{label}}` from the series' labels, else `name{a="b", …}`, else the expression. */
export function seriesName(labels: Labels, legendFormat: string | undefined, expr: string): string {
  if (legendFormat && legendFormat !== '__auto') return legendFormat.replace(/\{\{\s*(.+?)\s*\}\}/g, (_, k: string) => labels[k] ?? '');
  const { __name__, ...rest } = labels;
  const entries = Object.entries(rest);
  if (legendFormat === '__auto' && entries.length === 0) return __name__ ?? expr;
  if (entries.length === 0) return __name__ ?? expr;
  return `${__name__ ?? ''}{${entries.map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
}

export interface PromStep {
  stepS: number;
  startS: number;
  endS: number;
  scoped: ScopedVars;
}

/** Grafana's Prometheus step: adjustInterval(interval, min step, range/11000), aligned range, $__rate_interval. */
export function promStep(panel: GrafanaPanel, t: GrafanaTarget, ds: ResolvedDatasource, env: RunEnv): PromStep {
  const intervalMs = panelInterval(panel, env, ds);
  const intervalS = intervalMs / 1000;
  const interp = (s: string) => env.interpolate(s, env.scopedVars);
  const minStr = t.interval ? interp(String(t.interval)) : panel.interval ? interp(panel.interval) : '';
  const minS = minStr ? (parseDuration(minStr.replace(/^>/, '')) ?? 0) / 1000 : intervalS;
  const scrapeS = t.interval ? minS || ds.scrapeIntervalS : ds.scrapeIntervalS || 15;
  const factor = typeof t.intervalFactor === 'number' && t.intervalFactor > 0 ? t.intervalFactor : 1;
  const from = Math.floor(env.range.from / 1000);
  const to = Math.ceil(env.range.to / 1000);
  let safe = (to - from) / 11000;
  if (safe > 1) safe = Math.ceil(safe);
  const stepS = Math.max(intervalS * factor, minS, safe);
  const rateS = Math.max(stepS + scrapeS, 4 * scrapeS);
  const offset = env.timeZone === 'utc' ? 0 : -new Date(env.range.to).getTimezoneOffset() * 60;
  const align = (x: number) => Math.floor((x + offset) / stepS) * stepS - offset;
  const sv = (x: string | number) => ({ text: String(x), value: String(x) });
  const intervalText = stepS === intervalS ? formatDuration(intervalMs) : `${stepS}s`;
  const rangeMs = env.range.to - env.range.from;
  return {
    stepS,
    startS: align(from),
    endS: align(to),
    scoped: {
      ...env.scopedVars,
      __interval: sv(intervalText),
      __interval_ms: sv(Math.round(stepS * 1000)),
      __rate_interval: sv(`${rateS}s`),
      __rate_interval_ms: sv(rateS * 1000),
      __range_ms: sv(rangeMs),
      __range_s: sv(Math.round(rangeMs / 1000)),
      __range: sv(`${Math.round(rangeMs / 1000)}s`),
    },
  };
}

async function runPrometheus(panel: GrafanaPanel, t: GrafanaTarget, ds: ResolvedDatasource, env: RunEnv, data: PanelData, multi: boolean) {
  const refId = t.refId ?? 'A';
  const raw = typeof t.expr === 'string' ? t.expr : typeof t.query === 'string' ? t.query : '';
  if (!raw.trim()) return;
  const st = promStep(panel, t, ds, env);
  const expr = addFiltersToPromQL(env.interpolate(raw, st.scoped, 'prometheus'), env.adhoc ?? []);
  const legend = typeof t.legendFormat === 'string' && t.legendFormat ? env.interpolate(t.legendFormat, st.scoped) : t.legendFormat;
  const wantInstant = t.instant === true || t.queryType === 'instant';
  const wantRange = t.range === true || !wantInstant;
  const jobs: Promise<void>[] = [];
  const notes = (env: { warnings?: string[]; infos?: string[] }) => {
    for (const w of env.warnings ?? []) if (!data.notices.includes(w)) data.notices.push(w);
  };
  type Env = { status: string; data: PromResult; warnings?: string[]; infos?: string[]; error?: string };
  if (wantRange) {
    // Series (not table rows) are parsed off the main thread, their samples already numbers.
    const decode = (t.format ?? 'time_series') === 'table' ? undefined : (b: ArrayBuffer) => parseRangeAnswer(b, st.stepS * 1000);
    jobs.push(
      send<Env>(env, refId, '/api/v1/query_range', { form: { query: expr, start: String(st.startS), end: String(st.endS), step: String(st.stepS) }, decode }).then((r) => {
        if (r.status !== 'success') throw new ApiError(r.error ?? 'query failed', 422);
        notes(r);
        addPromResult(r.data, t, refId, legend, expr, st.stepS, data, multi, false);
      }),
    );
  }
  if (wantRange && t.exemplar === true) {
    // Exemplars are an extra: a failure is a notice, the series still draw.
    type ExEnv = { status: string; data?: PromExemplars[]; error?: string };
    jobs.push(
      send<ExEnv>(env, refId, '/api/v1/query_exemplars', { form: { query: expr, start: String(st.startS), end: String(st.endS) } })
        .then((r) => {
          if (r.status !== 'success') throw new ApiError(r.error ?? 'exemplar query failed', 422);
          (data.exemplars ??= []).push(...exemplarsOf(r.data ?? [], refId));
        })
        .catch((e: Error) => {
          if (e.name === 'AbortError') throw e;
          data.notices.push(`Exemplars of ${refId}: ${e.message}`);
        }),
    );
  }
  if (wantInstant) {
    jobs.push(
      send<Env>(env, refId, '/api/v1/query', { form: { query: expr, time: String(Math.floor(env.range.to / 1000)) } }).then((r) => {
        if (r.status !== 'success') throw new ApiError(r.error ?? 'query failed', 422);
        notes(r);
        addPromResult(r.data, t, refId, legend, expr, st.stepS, data, multi, true);
      }),
    );
  }
  await Promise.all(jobs);
}

/** One series' exemplars as `/api/v1/query_exemplars` answers them. */
interface PromExemplars {
  seriesLabels?: Labels;
  exemplars?: { labels?: Labels; value?: string; timestamp?: number }[];
}

/** The exemplars of a query_exemplars answer (those without a number value or time are skipped). */
export function exemplarsOf(list: PromExemplars[], refId: string): Exemplar[] {
  const out: Exemplar[] = [];
  for (const s of Array.isArray(list) ? list : []) {
    for (const e of s?.exemplars ?? []) {
      const value = Number(e?.value);
      const time = typeof e?.timestamp === 'number' ? Math.round(e.timestamp * 1000) : NaN;
      if (!Number.isFinite(value) || !Number.isFinite(time)) continue;
      out.push({ time, value, labels: e.labels ?? {}, seriesLabels: s.seriesLabels ?? {}, refId });
    }
  }
  return out;
}

function addPromResult(res: PromResult, t: GrafanaTarget, refId: string, legend: string | undefined, expr: string, stepS: number, data: PanelData, multi: boolean, instant: boolean) {
  const format = t.format ?? 'time_series';
  if (format === 'table') {
    data.tables.push(promTable(res, refId, multi));
    return;
  }
  let series: Series[] = [];
  if (res.resultType === 'matrix') series = res.result.map((s) => matrixSeries(s, refId, legend, expr, stepS));
  else if (res.resultType === 'vector')
    series = res.result.map((s) => ({
      refId,
      name: seriesName(s.metric, legend, expr),
      labels: s.metric,
      times: [s.value[0] * 1000],
      values: [parseValue(s.value[1])],
    }));
  else if (res.resultType === 'scalar' || res.resultType === 'string')
    series = [{ refId, name: legend || expr, labels: {}, times: [res.result[0] * 1000], values: [parseValue(res.result[1])] }];
  if (format === 'heatmap') series = heatmapBuckets(series);
  if (instant && t.range === true) for (const s of series) s.name += ' (instant)';
  data.series.push(...series);
}

/** A range series; its samples may already be numbers (`points`, from lib/promjson.ts). */
function matrixSeries(s: PromMatrixSeries | PointsSeries, refId: string, legend: string | undefined, expr: string, stepS: number): Series {
  // A gap of more than one step is drawn as a gap (Grafana inserts a null).
  const { times, values } = 'points' in s ? s.points : matrixPoints(s.values, stepS * 1000);
  return { refId, name: seriesName(s.metric, legend, expr), labels: s.metric, times, values };
}

/** `format: table`: a row per sample, columns Time, the labels, Value (or `Value #A`). */
function promTable(res: PromResult, refId: string, multi: boolean): TableData {
  const valueCol = multi ? `Value #${refId}` : 'Value';
  const samples: { metric: Labels; t: number; v: string }[] = [];
  if (res.resultType === 'vector') for (const s of res.result as PromVectorSample[]) samples.push({ metric: s.metric, t: s.value[0], v: s.value[1] });
  else if (res.resultType === 'matrix') for (const s of res.result) for (const [tt, v] of s.values) samples.push({ metric: s.metric, t: tt, v });
  else samples.push({ metric: {}, t: res.result[0], v: res.result[1] });
  const labelNames = [...new Set(samples.flatMap((s) => Object.keys(s.metric)))].sort((a, b) => (a === '__name__' ? -1 : b === '__name__' ? 1 : a.localeCompare(b)));
  return {
    refId,
    columns: [{ name: 'Time', type: 'time' }, ...labelNames.map((n) => ({ name: n, type: 'string' as const })), { name: valueCol, type: 'number' }],
    rows: samples.map((s) => [s.t * 1000, ...labelNames.map((n) => s.metric[n] ?? ''), parseValue(s.v)]),
  };
}

/** `format: heatmap`: buckets sorted by `le`, cumulative counts turned into per-bucket counts. */
export function heatmapBuckets(series: Series[]): Series[] {
  const le = (s: Series) => {
    const v = s.labels.le;
    if (v === undefined) return Number.NaN;
    return v === '+Inf' ? Infinity : Number(v);
  };
  const sorted = [...series].sort((a, b) => le(a) - le(b));
  const out: Series[] = [];
  let prev: Map<number, number> | undefined;
  for (const s of sorted) {
    const cur = new Map<number, number>();
    const values = s.values.map((v, i) => {
      if (v === null) return null;
      cur.set(s.times[i], v);
      const p = prev?.get(s.times[i]);
      return p === undefined ? v : Math.max(0, v - p);
    });
    out.push({ ...s, values });
    prev = cur;
  }
  return out;
}

// ---- Loki ------------------------------------------------------------------------------------

async function runLoki(panel: GrafanaPanel, t: GrafanaTarget, ds: ResolvedDatasource, env: RunEnv, data: PanelData) {
  const refId = t.refId ?? 'A';
  const raw = typeof t.expr === 'string' ? t.expr : typeof t.query === 'string' ? t.query : '';
  if (!raw.trim()) return;
  const intervalMs = panelInterval(panel, env, ds);
  const rangeMs = env.range.to - env.range.from;
  let safe = rangeMs / 1000 / 11000;
  if (safe > 1) safe = Math.ceil(safe);
  const minStep = typeof t.step === 'string' && t.step ? (parseDuration(env.interpolate(t.step, env.scopedVars)) ?? 0) / 1000 : 0;
  const stepS = Math.max(intervalMs / 1000 / (typeof t.resolution === 'number' && t.resolution > 0 ? 1 / t.resolution : 1), minStep, safe);
  const sv = (x: string | number) => ({ text: String(x), value: String(x) });
  const scoped: ScopedVars = {
    ...env.scopedVars,
    __interval: sv(formatDuration(stepS * 1000)),
    __interval_ms: sv(Math.round(stepS * 1000)),
    __auto: sv(formatDuration(stepS * 1000)),
    __range: sv(`${Math.round(rangeMs / 1000)}s`),
    __range_s: sv(Math.round(rangeMs / 1000)),
    __range_ms: sv(rangeMs),
    __rate_interval: sv(formatDuration(Math.max(stepS * 1000, 60_000))),
  };
  const expr = addFiltersToLogQL(env.interpolate(raw, scoped, 'prometheus'), env.adhoc ?? []);
  const legend = typeof t.legendFormat === 'string' && t.legendFormat ? env.interpolate(t.legendFormat, scoped) : undefined;
  const limit = typeof t.maxLines === 'number' && t.maxLines > 0 ? t.maxLines : ds.maxLines;
  const instant = t.queryType === 'instant' || t.instant === true;
  const p = new URLSearchParams({ query: expr });
  let url: string;
  if (instant) {
    p.set('time', `${Math.floor(env.range.to)}000000`);
    p.set('limit', String(limit));
    url = '/loki/api/v1/query';
  } else {
    p.set('start', `${Math.floor(env.range.from)}000000`);
    p.set('end', `${Math.ceil(env.range.to)}000000`);
    p.set('limit', String(limit));
    p.set('step', String(stepS));
    p.set('direction', t.direction === 'forward' ? 'forward' : 'backward');
    url = '/loki/api/v1/query_range';
  }
  const res = await send<{ status: string; data: LokiResult; error?: string }>(env, refId, `${url}?${p}`);
  if (res.status && res.status !== 'success') throw new ApiError(res.error ?? 'query failed', 422);
  const r = res.data;
  if (r.resultType === 'streams') {
    const rows: LogRow[] = [];
    for (const s of r.result) {
      for (const v of s.values) {
        rows.push({ timeMs: Number(BigInt(v[0]) / 1000000n) + Number(BigInt(v[0]) % 1000000n) / 1e6, line: v[1], labels: s.stream, metadata: v[2] as Record<string, unknown> | undefined, refId });
      }
    }
    rows.sort((a, b) => (t.direction === 'forward' ? a.timeMs - b.timeMs : b.timeMs - a.timeMs));
    data.logs.push(...rows.slice(0, limit));
    if (rows.length >= limit) data.notices.push(`Showing the ${limit} ${t.direction === 'forward' ? 'oldest' : 'newest'} lines (maxLines).`);
  } else if (r.resultType === 'matrix') {
    data.series.push(...r.result.map((s) => matrixSeries(s, refId, legend, expr, stepS)));
  } else if (r.resultType === 'vector') {
    data.series.push(...r.result.map((s) => ({ refId, name: seriesName(s.metric, legend, expr), labels: s.metric, times: [s.value[0] * 1000], values: [parseValue(s.value[1])] })));
  }
}

// ---- Elasticsearch ---------------------------------------------------------------------------

interface EsMetric {
  id: string;
  type: string;
  field?: string;
  hide?: boolean;
  settings?: Record<string, unknown>;
  meta?: Record<string, boolean>;
}
interface EsBucketAgg {
  id: string;
  type: string;
  field?: string;
  settings?: Record<string, unknown>;
}
type EsAggResponse = Record<string, unknown> & { doc_count?: number; key?: unknown; key_as_string?: string };

const ES_METRIC_NAMES: Record<string, string> = {
  count: 'Count',
  avg: 'Average',
  sum: 'Sum',
  max: 'Max',
  min: 'Min',
  cardinality: 'Unique Count',
  value_count: 'Value Count',
  extended_stats: 'Extended Stats',
  percentiles: 'Percentiles',
};

function esInterval(s: unknown, intervalMs: number): string {
  const v = typeof s === 'string' ? s : 'auto';
  if (!v || v === 'auto') return formatDuration(Math.max(intervalMs, 1000));
  return v;
}

async function runElasticsearch(panel: GrafanaPanel, t: GrafanaTarget, ds: ResolvedDatasource, env: RunEnv, data: PanelData) {
  const refId = t.refId ?? 'A';
  const intervalMs = panelInterval(panel, env, ds);
  const sv = (x: string | number) => ({ text: String(x), value: String(x) });
  const scoped: ScopedVars = { ...env.scopedVars, __interval: sv(formatDuration(intervalMs)), __interval_ms: sv(intervalMs) };
  const luceneQuery = env.interpolate(typeof t.query === 'string' ? t.query : '', scoped, 'lucene').trim() || '*';
  const timeField = typeof t.timeField === 'string' && t.timeField ? t.timeField : ds.timeField;
  const metrics: EsMetric[] = Array.isArray(t.metrics) && t.metrics.length ? (t.metrics as EsMetric[]) : [{ id: '1', type: 'count' }];
  const bucketAggs: EsBucketAgg[] = Array.isArray(t.bucketAggs) ? (t.bucketAggs as EsBucketAgg[]) : [];
  const filter = [
    { range: { [timeField]: { gte: env.range.from, lte: env.range.to, format: 'epoch_millis' } } },
    { query_string: { analyze_wildcard: true, query: luceneQuery } },
  ];
  const index = encodeURIComponent(ds.database || '*');
  const raw = metrics.find((m) => ['raw_data', 'raw_document', 'logs'].includes(m.type));
  if (raw) {
    const size = Number(raw.settings?.size ?? (raw.type === 'logs' ? ds.maxLines : 500)) || 500;
    const body = { size, query: { bool: { filter } }, sort: [{ [timeField]: { order: 'desc', unmapped_type: 'boolean' } }] };
    const res = await send<{ hits?: { hits?: { _id?: string; _index?: string; _source?: Record<string, unknown> }[] } }>(env, refId, `/${index}/_search`, { body });
    const hits = res.hits?.hits ?? [];
    if (raw.type === 'logs') {
      for (const hit of hits) {
        const src = hit._source ?? {};
        const ts = Date.parse(String(getPath(src, timeField) ?? '')) || Number(getPath(src, timeField)) || 0;
        const line = typeof src.message === 'string' ? src.message : typeof src.msg === 'string' ? src.msg : typeof src.log === 'string' ? src.log : JSON.stringify(src);
        const labels: Record<string, string> = {};
        for (const [k, v] of Object.entries(flatten(src))) if (k !== timeField && k !== 'message' && typeof v !== 'object') labels[k] = String(v);
        data.logs.push({ timeMs: ts, line, labels, refId });
      }
    } else {
      const cols = new Set<string>();
      const flat = hits.map((hit) => {
        const f = flatten(hit._source ?? {});
        Object.keys(f).forEach((k) => cols.add(k));
        return f;
      });
      const names = [...cols].sort((a, b) => (a === timeField ? -1 : b === timeField ? 1 : a.localeCompare(b)));
      data.tables.push({
        refId,
        columns: names.map((n) => ({ name: n, type: n === timeField ? 'time' : 'string' })),
        rows: flat.map((f) => names.map((n) => (n === timeField ? Date.parse(String(f[n])) || f[n] : f[n]))),
      });
    }
    return;
  }
  // Aggregations: bucket aggs nested in order, metrics inside the innermost.
  const aggs: Record<string, unknown> = {};
  let cursor = aggs;
  for (const b of bucketAggs) {
    const s = b.settings ?? {};
    let def: Record<string, unknown>;
    switch (b.type) {
      case 'date_histogram':
        def = {
          date_histogram: {
            field: b.field || timeField,
            fixed_interval: esInterval(env.interpolate(String(s.interval ?? 'auto'), scoped), intervalMs),
            min_doc_count: Number(s.min_doc_count ?? 0),
            extended_bounds: { min: env.range.from, max: env.range.to },
            format: 'epoch_millis',
          },
        };
        break;
      case 'terms': {
        const orderBy = String(s.orderBy ?? '_count');
        const order: Record<string, string> = { [orderBy === '_term' ? '_key' : orderBy]: String(s.order ?? 'desc') };
        def = { terms: { field: b.field, size: Number(s.size ?? 10) || 500, order, ...(s.min_doc_count !== undefined ? { min_doc_count: Number(s.min_doc_count) } : {}) } };
        break;
      }
      case 'histogram':
        def = { histogram: { field: b.field, interval: Number(s.interval ?? 1000), min_doc_count: Number(s.min_doc_count ?? 0) } };
        break;
      case 'filters': {
        const filters: Record<string, unknown> = {};
        for (const f of (Array.isArray(s.filters) ? s.filters : []) as { query?: string; label?: string }[]) {
          const q = env.interpolate(f.query || '*', scoped, 'lucene');
          filters[f.label || q] = { query_string: { query: q, analyze_wildcard: true } };
        }
        def = { filters: { filters } };
        break;
      }
      default:
        throw new Error(`Elasticsearch bucket aggregation "${b.type}" is not supported`);
    }
    const inner: Record<string, unknown> = {};
    cursor[b.id] = { ...def, aggs: inner };
    cursor = inner;
  }
  for (const m of metrics) {
    if (m.type === 'count') continue;
    const s = m.settings ?? {};
    if (['avg', 'sum', 'max', 'min', 'cardinality', 'value_count', 'extended_stats'].includes(m.type)) cursor[m.id] = { [m.type]: { field: m.field } };
    else if (m.type === 'percentiles') cursor[m.id] = { percentiles: { field: m.field, percents: (Array.isArray(s.percents) ? s.percents : ['25', '50', '75', '95', '99']).map(Number) } };
    else throw new Error(`Elasticsearch metric "${m.type}" is not supported`);
  }
  const body = { size: 0, query: { bool: { filter } }, aggs };
  const res = await send<{ aggregations?: Record<string, EsAggResponse>; hits?: { total?: { value?: number } | number } }>(env, refId, `/${index}/_search`, { body });
  const alias = typeof t.alias === 'string' && t.alias ? t.alias : undefined;
  const visible = metrics.filter((m) => !m.hide);
  const metricName = (m: EsMetric, sub?: string) => (sub ? `${sub} ${m.field ?? ''}`.trim() : `${ES_METRIC_NAMES[m.type] ?? m.type}${m.field ? ` ${m.field}` : ''}`);
  const nameOf = (labels: Record<string, string>, m: EsMetric, sub?: string) => {
    const mn = metricName(m, sub);
    if (alias) return alias.replace(/\{\{\s*(.+?)\s*\}\}/g, (_, k: string) => (k === 'metric' ? mn : k === 'field' ? m.field ?? '' : k.startsWith('term ') ? labels[k.slice(5)] ?? '' : labels[k] ?? ''));
    const lv = Object.values(labels);
    if (lv.length && visible.length === 1 && m.type === 'count') return lv.join(' ');
    return lv.length ? `${lv.join(' ')} ${mn}` : mn;
  };
  const metricValues = (bucket: EsAggResponse, m: EsMetric): [string | undefined, number | null][] => {
    if (m.type === 'count') return [[undefined, typeof bucket.doc_count === 'number' ? bucket.doc_count : null]];
    const agg = bucket[m.id] as Record<string, unknown> | undefined;
    if (!agg) return [[undefined, null]];
    if (m.type === 'percentiles') {
      const vals = (agg.values ?? {}) as Record<string, number | null>;
      return Object.entries(vals).map(([p, v]) => [`p${Number(p)}`, v]);
    }
    if (m.type === 'extended_stats') {
      const meta = m.meta ?? { avg: true, max: true, min: true };
      return Object.entries(meta)
        .filter(([, on]) => on)
        .map(([k]) => [k, typeof agg[k] === 'number' ? (agg[k] as number) : null]);
    }
    return [[undefined, typeof agg.value === 'number' ? agg.value : null]];
  };
  const histIdx = bucketAggs.findIndex((b) => b.type === 'date_histogram');
  const tableRows: unknown[][] = [];
  const tableLabelNames: string[] = [];
  const walk = (aggResp: EsAggResponse, depth: number, labels: Record<string, string>) => {
    const b = bucketAggs[depth];
    if (!b) {
      // No date histogram below: one table row per leaf bucket.
      const row: unknown[] = tableLabelNames.map((n) => labels[n] ?? '');
      for (const m of visible) for (const [, v] of metricValues(aggResp, m)) row.push(v);
      tableRows.push(row);
      return;
    }
    const container = aggResp[b.id] as { buckets?: EsAggResponse[] | Record<string, EsAggResponse> } | undefined;
    const buckets = container?.buckets;
    if (!buckets) return;
    if (b.type === 'date_histogram') {
      const list = (Array.isArray(buckets) ? buckets : Object.values(buckets)) as EsAggResponse[];
      const series = new Map<string, Series>();
      for (const bucket of list) {
        const tm = Number(bucket.key);
        for (const m of visible) {
          for (const [sub, v] of metricValues(bucket, m)) {
            const key = `${m.id}/${sub ?? ''}`;
            let s = series.get(key);
            if (!s) {
              s = { refId, name: nameOf(labels, m, sub), labels: { ...labels }, times: [], values: [] };
              series.set(key, s);
            }
            s.times.push(tm);
            s.values.push(v);
          }
        }
      }
      data.series.push(...series.values());
      return;
    }
    const label = b.type === 'filters' ? 'filter' : b.field ?? b.type;
    if (!tableLabelNames.includes(label) && histIdx < 0) tableLabelNames.push(label);
    const entries: [string, EsAggResponse][] = Array.isArray(buckets) ? buckets.map((x) => [String(x.key_as_string ?? x.key), x]) : Object.entries(buckets);
    for (const [k, bucket] of entries) walk(bucket, depth + 1, { ...labels, [label]: k });
  };
  if (bucketAggs.length === 0) {
    const total = res.hits?.total;
    const n = typeof total === 'number' ? total : total?.value ?? 0;
    const root = { ...(res.aggregations ?? {}), doc_count: n } as EsAggResponse;
    const row: unknown[] = [];
    const cols: { name: string; type: 'number' }[] = [];
    for (const m of visible) for (const [sub, v] of metricValues(root, m)) {
      cols.push({ name: metricName(m, sub), type: 'number' });
      row.push(v);
    }
    data.tables.push({ refId, columns: cols, rows: [row] });
    for (let i = 0; i < cols.length; i++) data.series.push({ refId, name: cols[i].name, labels: {}, times: [env.range.to], values: [row[i] as number | null] });
    return;
  }
  walk((res.aggregations ?? {}) as EsAggResponse, 0, {});
  if (histIdx < 0) {
    const cols = [...tableLabelNames.map((n) => ({ name: n, type: 'string' as const }))];
    for (const m of visible) {
      const probe = metricValues({} as EsAggResponse, m);
      if (m.type === 'percentiles' || m.type === 'extended_stats') {
        const subs = m.type === 'percentiles'
          ? (Array.isArray(m.settings?.percents) ? (m.settings!.percents as unknown[]) : ['25', '50', '75', '95', '99']).map((x) => `p${Number(x)}`)
          : Object.entries(m.meta ?? { avg: true, max: true, min: true }).filter(([, on]) => on).map(([k]) => k);
        for (const sub of subs) cols.push({ name: metricName(m, sub), type: 'string' as const });
      } else if (probe.length) cols.push({ name: metricName(m), type: 'string' as const });
    }
    data.tables.push({ refId, columns: cols.map((c, i) => (i >= tableLabelNames.length ? { name: c.name, type: 'number' as const } : c)), rows: tableRows });
  }
}

function getPath(o: Record<string, unknown>, path: string): unknown {
  if (path in o) return o[path];
  let cur: unknown = o;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function flatten(o: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else out[key] = Array.isArray(v) ? JSON.stringify(v) : v;
  }
  return out;
}

// ---- traces ----------------------------------------------------------------------------------

function traceTable(refId: string, traces: JaegerTrace[]): TableData {
  const rows = traces.map((tr) => {
    const spans = tr.spans ?? [];
    const root = spans.find((s) => !s.references?.some((r) => r.refType === 'CHILD_OF' && spans.some((x) => x.spanID === r.spanID))) ?? spans[0];
    const start = Math.min(...spans.map((s) => s.startTime));
    const end = Math.max(...spans.map((s) => s.startTime + s.duration));
    const svc = root ? tr.processes?.[root.processID]?.serviceName ?? '' : '';
    const errors = spans.filter((s) => s.tags?.some((tg) => (tg.key === 'error' && tg.value === true) || (tg.key === 'otel.status_code' && tg.value === 'ERROR'))).length;
    return [tr.traceID, root ? `${svc}: ${root.operationName}` : '', start / 1000, (end - start) / 1000, spans.length, errors];
  });
  rows.sort((a, b) => (b[2] as number) - (a[2] as number));
  return {
    refId,
    columns: [
      { name: 'Trace ID', type: 'string' },
      { name: 'Trace name', type: 'string' },
      { name: 'Start time', type: 'time' },
      { name: 'Duration (ms)', type: 'number' },
      { name: 'Spans', type: 'number' },
      { name: 'Errors', type: 'number' },
    ],
    rows,
  };
}

async function runTraces(t: GrafanaTarget, ds: ResolvedDatasource, env: RunEnv, data: PanelData) {
  const refId = t.refId ?? 'A';
  const i = (v: unknown) => (typeof v === 'string' ? env.interpolate(v, env.scopedVars) : undefined);
  const query = i(t.query)?.trim() ?? '';
  // A trace ID lookup.
  if ((!t.queryType || t.queryType === 'traceId' || t.queryType === 'traceql') && /^[0-9a-f]{16,32}$/i.test(query)) {
    const res = await send<{ data: JaegerTrace[] | null }>(env, refId, `/api/traces/${encodeURIComponent(query)}`);
    data.tables.push(traceTable(refId, res.data ?? []));
    return;
  }
  // Service maps and dependency graphs are drawn by the node graph panel from /api/dependencies;
  // there is no trace search to run for them.
  if (t.queryType === 'dependencyGraph' || t.queryType === 'serviceMap') return;
  const p = new URLSearchParams();
  let service = i(t.service) ?? i(t.serviceName);
  let operation = i(t.operation) ?? i(t.spanName);
  const tags: Record<string, string> = {};
  if (ds.type === 'tempo' && t.queryType === 'traceql' && query) {
    // A subset of TraceQL: resource.service.name / name / span attributes compared with "=".
    for (const m of query.matchAll(/([\w.]+)\s*=\s*"([^"]*)"/g)) {
      const k = m[1].replace(/^(resource|span)\./, '');
      if (k === 'service.name') service = m[2];
      else if (k === 'name') operation = m[2];
      else tags[k] = m[2];
    }
  }
  if (typeof t.tags === 'string' && t.tags.trim()) {
    for (const m of i(t.tags)!.matchAll(/([\w.-]+)=("[^"]*"|\S+)/g)) tags[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  if (typeof t.search === 'string' && t.search.trim()) for (const m of i(t.search)!.matchAll(/([\w.-]+)=("[^"]*"|\S+)/g)) tags[m[1]] = m[2].replace(/^"|"$/g, '');
  if (service && service !== 'All') p.set('service', service);
  if (operation && operation !== 'All') p.set('operation', operation);
  if (Object.keys(tags).length) p.set('tags', JSON.stringify(tags));
  const minD = i(t.minDuration);
  const maxD = i(t.maxDuration);
  if (minD) p.set('minDuration', minD);
  if (maxD) p.set('maxDuration', maxD);
  p.set('limit', String(typeof t.limit === 'number' ? t.limit : 20));
  p.set('start', String(env.range.from * 1000));
  p.set('end', String(env.range.to * 1000));
  const res = await send<{ data: JaegerTrace[] | null }>(env, refId, `/api/traces?${p}`);
  data.tables.push(traceTable(refId, res.data ?? []));
}

// ---- Grafana's built-in test data ------------------------------------------------------------

function runTestData(t: GrafanaTarget, env: RunEnv, data: PanelData) {
  const refId = t.refId ?? 'A';
  const scenario = String(t.scenarioId ?? t.queryType ?? 'random_walk');
  if (scenario !== 'random_walk' && scenario !== 'randomWalk') {
    data.notices.push(`Grafana test data scenario "${scenario}" is not available in pharos.`);
    return;
  }
  const n = Math.min(1000, Math.max(10, Math.round(env.widthPx / 2)));
  const step = (env.range.to - env.range.from) / n;
  let rngState = 42;
  const rnd = () => ((rngState = (rngState * 16807) % 2147483647) / 2147483647);
  const count = Number(t.seriesCount ?? 1) || 1;
  for (let s = 0; s < count; s++) {
    let v = 50;
    const times: number[] = [];
    const values: number[] = [];
    for (let i = 0; i <= n; i++) {
      v += rnd() - 0.5;
      times.push(Math.round(env.range.from + i * step));
      values.push(v);
    }
    data.series.push({ refId, name: count > 1 ? `${refId}-series-${s}` : `${refId}-series`, labels: {}, times, values });
  }
}

// ---- Explore links ---------------------------------------------------------------------------

/** Where "Explore" opens a panel: the first visible target's interpolated query and the range. */
export async function exploreUrl(panel: GrafanaPanel, env: RunEnv): Promise<string | undefined> {
  const ds = await resolveDatasource(panel.datasource, (s) => env.interpolate(s, env.scopedVars), env.model);
  const t = (panel.targets ?? []).find((x) => x && !x.hide);
  if (!t) return undefined;
  const tds = t.datasource && ds.type === 'mixed' ? await resolveDatasource(t.datasource, (s) => env.interpolate(s, env.scopedVars), env.model) : ds;
  const range = { from: String(env.range.from), to: String(env.range.to) };
  const raw = typeof t.expr === 'string' ? t.expr : typeof t.query === 'string' ? t.query : '';
  if (tds.type === 'prometheus' || tds.type === 'mixed') {
    const st = promStep(panel, t, tds, env);
    return `/explore/metrics?${new URLSearchParams({ query: env.interpolate(raw, st.scoped, 'prometheus'), ...range })}`;
  }
  if (tds.type === 'loki') return `/explore/logs?${new URLSearchParams({ query: env.interpolate(raw, env.scopedVars, 'prometheus'), ...range })}`;
  if (tds.type === 'elasticsearch') return `/explore/logs?${new URLSearchParams({ query: env.interpolate(raw, env.scopedVars, 'lucene'), lang: 'lucene', ...range })}`;
  if (tds.type === 'jaeger' || tds.type === 'tempo' || tds.type === 'zipkin') {
    const service = typeof t.service === 'string' ? t.service : typeof t.serviceName === 'string' ? t.serviceName : '';
    return `/explore/traces?${new URLSearchParams({ ...(service ? { service: env.interpolate(service, env.scopedVars) } : {}), ...range })}`;
  }
  return undefined;
}
