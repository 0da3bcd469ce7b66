/**
 * Dashboard annotations (Grafana's `annotations.list`): runs each enabled annotation query once
 * per refresh and turns its answer into events (a time, or a time region) that time series
 * panels draw as markers. Sources: the built-in "Annotations & Alerts" (annotations stored through
 * `/api/annotations`, by this dashboard or by tags, pharos' alert states — active alerts and
 * resolved firings from the `ALERTS` history — and pharos' own events: its start, config reloads),
 * Prometheus queries (`expr`, `step`, `titleFormat`, `textFormat`, `tagKeys`,
 * `useValueForTime`) and Loki queries (each log line an event).
 */
import { request } from '../lib/api';
import { parseDuration } from '../lib/time';
import type { Annotation, GrafanaPanel } from '../panels/types';
import type { DashboardModel } from './contract';
import { resolveDatasource, seriesName, type RunEnv } from './query';

/** One entry of `annotations.list` (only what pharos reads is typed). */
export interface AnnotationQuery {
  name?: string;
  enable?: boolean;
  hide?: boolean;
  iconColor?: string;
  builtIn?: number;
  datasource?: unknown;
  expr?: string;
  query?: string;
  step?: string;
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
  filter?: { exclude?: boolean; ids?: number[] };
  target?: { expr?: string; [k: string]: unknown };
  [other: string]: unknown;
}

/** Grafana's built-in query, which Grafana adds to a dashboard that has none (hidden switch). */
export const BUILT_IN_QUERY: AnnotationQuery = {
  builtIn: 1,
  datasource: { type: 'grafana', uid: '-- Grafana --' },
  enable: true,
  hide: true,
  iconColor: 'rgba(0, 211, 255, 1)',
  name: 'Annotations & Alerts',
  type: 'dashboard',
};

/**
 * The annotation queries of a dashboard (a missing or malformed list is no list), with the
 * built-in one first when the list has none, as Grafana does on load.
 */
export function annotationQueries(model: DashboardModel): AnnotationQuery[] {
  const list = (model.annotations as { list?: unknown } | undefined)?.list;
  const qs = Array.isArray(list) ? (list.filter((a) => a && typeof a === 'object') as AnnotationQuery[]) : [];
  return qs.some((q) => q.builtIn === 1) ? qs : [BUILT_IN_QUERY, ...qs];
}

/** Shown unless switched off (Grafana: `enable` defaults to true). */
export function isEnabled(a: AnnotationQuery, toggled: Map<string, boolean>): boolean {
  const name = a.name ?? '';
  return toggled.get(name) ?? a.enable !== false;
}

/** Whether a panel shows an annotation query's events (`filter.ids`, `filter.exclude`). */
export function appliesTo(a: Annotation, panel: GrafanaPanel): boolean {
  if (!a.panelIds) return true;
  const inList = panel.id !== undefined && a.panelIds.includes(panel.id);
  return a.excludePanels ? !inList : inList;
}

/** `{{label}}` of a title/text format, from a series' labels (an unknown label is empty). */
export function formatLabels(format: string, labels: Record<string, string>): string {
  return format.replace(/\{\{\s*([a-zA-Z_][\w.]*)\s*\}\}/g, (_, k: string) => labels[k] ?? '');
}

const DEFAULT_COLOR = 'rgba(0, 211, 255, 1)';

interface Matrix {
  metric: Record<string, string>;
  values: [number, string][];
}

/**
 * Grafana's Prometheus annotations: every non-zero sample is an event; samples less than one
 * step apart join into one region. With `useValueForTime` the sample's value is the event time
 * (ms).
 */
export function promEvents(series: Matrix[], q: AnnotationQuery, stepMs: number, source: string, color: string): Annotation[] {
  const out: Annotation[] = [];
  const tagKeys = (q.tagKeys ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of series) {
    const labels = s.metric ?? {};
    const title = q.titleFormat ? formatLabels(q.titleFormat, labels) : seriesName(labels, undefined, q.expr ?? '');
    const text = q.textFormat ? formatLabels(q.textFormat, labels) : '';
    const tags = tagKeys.map((k) => labels[k]).filter((v): v is string => typeof v === 'string' && v !== '');
    let cur: Annotation | undefined;
    for (const [ts, raw] of s.values ?? []) {
      const v = Number(raw);
      if (!Number.isFinite(v) || v === 0) {
        if (cur) out.push(cur);
        cur = undefined;
        continue;
      }
      const t = q.useValueForTime ? Math.floor(v) : Math.round(ts * 1000);
      if (cur && (cur.timeEnd ?? cur.time) + stepMs >= t) {
        cur.timeEnd = t;
        continue;
      }
      if (cur) out.push(cur);
      cur = { time: t, timeEnd: t, title, text, tags, color, source };
    }
    if (cur) out.push(cur);
  }
  // A single-sample event is a point, not a zero-width region.
  for (const a of out) if (a.timeEnd === a.time) delete a.timeEnd;
  return out;
}

interface LokiStreams {
  resultType: string;
  result: { stream: Record<string, string>; values: [string, string][] }[];
}

/** Loki annotations: each log line is an event at its time, the line its text. */
export function lokiEvents(res: LokiStreams, q: AnnotationQuery, source: string, color: string): Annotation[] {
  if (res.resultType !== 'streams') return [];
  const tagKeys = (q.tagKeys ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const out: Annotation[] = [];
  for (const s of res.result ?? []) {
    const labels = s.stream ?? {};
    const tags = tagKeys.length ? tagKeys.map((k) => labels[k]).filter((v): v is string => !!v) : Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    for (const [ns, line] of s.values ?? []) {
      let t: number;
      try {
        t = Number(BigInt(ns) / 1000000n);
      } catch {
        continue;
      }
      out.push({
        time: t,
        title: q.titleFormat ? formatLabels(q.titleFormat, labels) : '',
        text: q.textFormat ? formatLabels(q.textFormat, labels) : line,
        tags,
        color,
        source,
      });
    }
  }
  return out;
}

/** An annotation as `GET /api/annotations` answers it. */
export interface StoredAnnotation {
  id: number;
  panelId?: number;
  time: number;
  timeEnd?: number;
  text?: string;
  tags?: string[];
}

/** Stored annotations as events; one with a panel id shows only on that panel (as in Grafana). */
export function storedEvents(list: StoredAnnotation[], source: string, color: string): Annotation[] {
  return list.map((a) => ({
    id: a.id,
    time: a.time,
    timeEnd: a.timeEnd !== undefined && a.timeEnd > a.time ? a.timeEnd : undefined,
    title: '',
    text: a.text ?? '',
    tags: Array.isArray(a.tags) ? a.tags : [],
    color,
    source,
    panelIds: a.panelId ? [a.panelId] : undefined,
  }));
}

/**
 * The `/api/annotations` query of a built-in annotation: Grafana's `target.type` "tags" asks by
 * tags (none = nothing), otherwise this dashboard's annotations.
 */
export function storedQuery(q: AnnotationQuery, dashboardUid: string | undefined, range: { from: number; to: number }, interpolate: (s: string) => string): string | null {
  const t = (q.target ?? {}) as { type?: string; tags?: unknown; matchAny?: boolean; limit?: number };
  const p = new URLSearchParams({ from: String(Math.floor(range.from)), to: String(Math.ceil(range.to)), limit: String(typeof t.limit === 'number' && t.limit > 0 ? t.limit : 100) });
  if ((t.type ?? q.type) === 'tags') {
    const tags = (Array.isArray(t.tags) ? t.tags : []).filter((x): x is string => typeof x === 'string').map(interpolate).filter(Boolean);
    if (!tags.length) return null;
    for (const tag of tags) p.append('tags', tag);
    if (t.matchAny) p.set('matchAny', 'true');
  } else {
    if (!dashboardUid) return null;
    p.set('dashboardUID', dashboardUid);
  }
  return `/api/annotations?${p}`;
}

interface PromAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  state: string;
  activeAt?: string;
}

/** The built-in "Annotations & Alerts": when each pending or firing alert became active. */
export function alertEvents(alerts: PromAlert[], fromMs: number, toMs: number, source: string, color: string): Annotation[] {
  const out: Annotation[] = [];
  for (const a of alerts) {
    const t = a.activeAt ? Date.parse(a.activeAt) : NaN;
    if (!Number.isFinite(t) || t < fromMs || t > toMs) continue;
    const name = a.labels?.alertname ?? 'alert';
    const summary = a.annotations?.summary ?? a.annotations?.description ?? '';
    out.push({
      time: t,
      title: `${name}: ${a.state === 'firing' ? 'Alerting' : a.state === 'pending' ? 'Pending' : a.state}`,
      text: summary,
      tags: Object.entries(a.labels ?? {})
        .filter(([k]) => k !== 'alertname')
        .map(([k, v]) => `${k}=${v}`),
      color: a.state === 'firing' ? 'rgba(242, 73, 92, 1)' : color,
      source,
    });
  }
  return out;
}

/** The step of the `ALERTS` history query: at most about 1000 points, never under 15 s. */
export function alertHistoryStepS(fromMs: number, toMs: number): number {
  return Math.max(15, Math.ceil((toMs - fromMs) / 1000 / 1000));
}

const RESOLVED_COLOR = 'rgba(115, 191, 105, 1)';

/**
 * Past firings from `ALERTS{alertstate="firing"}` over the range (Grafana's state-change
 * annotations): a run of samples each at most a step apart that ended before the range's end
 * is an "Alerting" event at its first sample and a "Resolved" one at its last. A run still going
 * at the end is the active alert, which `alertEvents` draws from its exact `activeAt`.
 */
export function alertHistoryEvents(series: Matrix[], stepMs: number, toMs: number, source: string): Annotation[] {
  const out: Annotation[] = [];
  for (const s of series) {
    const labels = s.metric ?? {};
    const name = labels.alertname ?? 'alert';
    const tags = Object.entries(labels)
      .filter(([k]) => k !== 'alertname' && k !== 'alertstate' && k !== '__name__')
      .map(([k, v]) => `${k}=${v}`);
    let first: number | undefined;
    let last = 0;
    const flush = () => {
      if (first === undefined) return;
      if (last + stepMs <= toMs) {
        out.push({ time: first, title: `${name}: Alerting`, text: '', tags, color: 'rgba(242, 73, 92, 1)', source });
        out.push({ time: last, title: `${name}: Resolved`, text: '', tags, color: RESOLVED_COLOR, source });
      }
      first = undefined;
    };
    for (const [ts, raw] of s.values ?? []) {
      const t = Math.round(ts * 1000);
      if (!Number.isFinite(Number(raw))) continue;
      if (first !== undefined && t - last > stepMs * 1.5) flush();
      if (first === undefined) first = t;
      last = t;
    }
    flush();
  }
  return out;
}

/** One of pharos' own events, as `/api/pharos/v1/events` answers it. */
export interface OwnEvent {
  time: number;
  kind: string;
  text: string;
}

const OWN_COLOR = 'rgba(184, 119, 217, 1)';

/** pharos' own events (its start, config reloads) as point events. */
export function ownEvents(list: OwnEvent[], fromMs: number, toMs: number, source: string): Annotation[] {
  return list
    .filter((e) => e && typeof e.time === 'number' && e.time >= fromMs && e.time <= toMs)
    .map((e) => ({ time: e.time, title: `pharos: ${e.text || e.kind}`, text: '', tags: [String(e.kind ?? '')], color: OWN_COLOR, source }));
}

async function runOne(q: AnnotationQuery, model: DashboardModel, env: RunEnv): Promise<Annotation[]> {
  const source = q.name || 'Annotations';
  const color = typeof q.iconColor === 'string' && q.iconColor ? q.iconColor : DEFAULT_COLOR;
  const ds = await resolveDatasource(q.datasource, (s) => env.interpolate(s), model);
  const builtIn = q.builtIn === 1 || ds.type === 'grafana' || ds.type === 'dashboard';
  const filter = q.filter && Array.isArray(q.filter.ids) && q.filter.ids.length ? { panelIds: q.filter.ids.filter((x) => typeof x === 'number'), excludePanels: Boolean(q.filter.exclude) } : {};
  let events: Annotation[] = [];
  if (builtIn) {
    const stored = storedQuery(q, model.uid, env.range, (s) => env.interpolate(s));
    const { from, to } = env.range;
    const stepS = alertHistoryStepS(from, to);
    const history = new URLSearchParams({ query: 'ALERTS{alertstate="firing"}', start: String(Math.floor(from / 1000)), end: String(Math.ceil(to / 1000)), step: String(stepS) });
    // A query by tags (Grafana's `target.type` "tags") finds tagged annotations only; the
    // dashboard's own query also shows alerts and pharos' events.
    const withAlerts = ((q.target as { type?: string } | undefined)?.type ?? q.type) !== 'tags';
    // The history and pharos' own events are extras: an error there leaves the rest shown.
    const optional = <T>(p: Promise<T>) => p.catch((e: Error) => (e.name === 'AbortError' ? Promise.reject(e) : null));
    const [res, saved, past, own] = await Promise.all([
      withAlerts ? request<{ data?: { alerts?: PromAlert[] } }>('/api/v1/alerts', { signal: env.signal, priority: 'low' }) : Promise.resolve({ data: { alerts: [] } }),
      stored ? request<StoredAnnotation[]>(stored, { signal: env.signal, priority: 'low' }) : Promise.resolve([]),
      withAlerts ? optional(request<{ data?: { resultType?: string; result?: Matrix[] } }>(`/api/v1/query_range?${history}`, { signal: env.signal, priority: 'low' })) : null,
      withAlerts ? optional(request<{ data?: OwnEvent[] }>(`/api/pharos/v1/events?start=${Math.floor(from)}&end=${Math.ceil(to)}`, { signal: env.signal, priority: 'low' })) : null,
    ]);
    const resolved = past?.data?.resultType === 'matrix' ? alertHistoryEvents(past.data.result ?? [], stepS * 1000, to, source) : [];
    events = [
      ...storedEvents(Array.isArray(saved) ? saved : [], source, color),
      ...alertEvents(res.data?.alerts ?? [], from, to, source, color),
      ...resolved,
      ...ownEvents(Array.isArray(own?.data) ? own.data : [], from, to, source),
    ];
  } else {
    const rawExpr = typeof q.expr === 'string' && q.expr ? q.expr : typeof q.target?.expr === 'string' ? q.target.expr : typeof q.query === 'string' ? q.query : '';
    if (!rawExpr.trim()) return [];
    if (ds.type === 'loki') {
      const expr = env.interpolate(rawExpr, undefined, 'prometheus');
      const p = new URLSearchParams({ query: expr, start: `${Math.floor(env.range.from)}000000`, end: `${Math.ceil(env.range.to)}000000`, limit: String(ds.maxLines || 1000), direction: 'backward' });
      const res = await request<{ data: LokiStreams }>(`/loki/api/v1/query_range?${p}`, { signal: env.signal, priority: 'low' });
      events = lokiEvents(res.data, q, source, color);
    } else if (ds.type === 'prometheus') {
      const expr = env.interpolate(rawExpr, undefined, 'prometheus');
      const stepMs = (typeof q.step === 'string' && q.step ? parseDuration(env.interpolate(q.step)) : undefined) ?? 60_000;
      const stepS = Math.max(1, Math.round(stepMs / 1000));
      const form = { query: expr, start: String(Math.floor(env.range.from / 1000)), end: String(Math.ceil(env.range.to / 1000)), step: String(stepS) };
      const res = await request<{ data: { resultType: string; result: Matrix[] } }>('/api/v1/query_range', { form, signal: env.signal, priority: 'low' });
      events = res.data?.resultType === 'matrix' ? promEvents(res.data.result, q, stepS * 1000, source, color) : [];
    } else return [];
  }
  for (const e of events) Object.assign(e, filter);
  return events;
}

/** The result of one refresh: the events, and one message per annotation query that failed. */
export interface AnnotationResult {
  events: Annotation[];
  errors: string[];
}

/** Runs every enabled annotation query of the dashboard (failures become messages, not throws). */
export async function runAnnotations(model: DashboardModel, env: RunEnv, toggled: Map<string, boolean>): Promise<AnnotationResult> {
  const queries = annotationQueries(model).filter((q) => isEnabled(q, toggled));
  const errors: string[] = [];
  const lists = await Promise.all(
    queries.map((q) =>
      runOne(q, model, env).catch((e: Error) => {
        if (e.name !== 'AbortError') errors.push(`Annotation "${q.name ?? ''}": ${e.message}`);
        return [] as Annotation[];
      }),
    ),
  );
  return { events: lists.flat().sort((a, b) => a.time - b.time), errors };
}
