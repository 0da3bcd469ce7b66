/**
 * The Errors pages' view of pharos' error store (`/api/pharos/v1/errors/...`): the JSON shapes
 * of projects, issues and events, the calls that read and change them, and the small formatting
 * every Errors view shares (level colours, the DSN an SDK is pointed at, sparklines).
 */
import { h, svg } from '../lib/dom';
import { qs, request } from '../lib/api';

const BASE = '/api/pharos/v1/errors';

export interface ProjectKey {
  public: string;
  dsn?: string;
}
export interface Project {
  id: string;
  name: string;
  keys: ProjectKey[];
}

export type IssueStatus = 'unresolved' | 'resolved' | 'ignored' | 'resolved_in_next_release';

export interface Sparkline {
  /** Unix seconds of the first bucket. */
  start: number;
  /** Bucket width in seconds. */
  step: number;
  counts: number[];
}

export interface Issue {
  id: string;
  project: string;
  title: string;
  culprit?: string;
  level?: string;
  status: IssueStatus | string;
  regressed?: boolean;
  first_seen: string;
  last_seen: string;
  count: number;
  users?: number;
  platform?: string;
  sparkline?: Sparkline;
}

export interface TagValue {
  value: string;
  count: number;
}
export interface IssueDetail extends Issue {
  tags?: Record<string, TagValue[]>;
  latest_event_id?: string;
}

export interface EventSummary {
  event_id: string;
  timestamp: string;
  message?: string;
  release?: string;
  environment?: string;
  trace_id?: string;
}

export interface Frame {
  filename?: string;
  abs_path?: string;
  function?: string;
  module?: string;
  lineno?: number;
  colno?: number;
  in_app?: boolean;
  context_line?: string;
  pre_context?: string[];
  post_context?: string[];
  /** Local variables (Python, PHP, Java SDKs). */
  vars?: Record<string, unknown>;
}
export interface ExceptionValue {
  type?: string;
  value?: string;
  module?: string;
  mechanism?: { type?: string; handled?: boolean; [k: string]: unknown };
  stacktrace?: { frames?: Frame[] };
}
export interface Breadcrumb {
  timestamp?: string | number;
  type?: string;
  category?: string;
  message?: string;
  level?: string;
  data?: Record<string, unknown>;
}

export interface ErrorEvent {
  event_id: string;
  issue_id?: string;
  project?: string;
  timestamp: string | number;
  level?: string;
  platform?: string;
  message?: string;
  title?: string;
  exception?: { values?: ExceptionValue[] };
  breadcrumbs?: Breadcrumb[] | { values?: Breadcrumb[] };
  request?: Record<string, unknown>;
  user?: Record<string, unknown>;
  contexts?: Record<string, unknown>;
  tags?: Record<string, string> | [string, string][];
  sdk?: { name?: string; version?: string };
  release?: string;
  environment?: string;
  trace_id?: string;
  span_id?: string;
  previous_event_id?: string | null;
  next_event_id?: string | null;
}

export interface TraceError {
  event_id: string;
  issue_id: string;
  title: string;
  level?: string;
  timestamp: string | number;
}

export interface IssueQuery {
  project?: string;
  status?: string;
  environment?: string;
  release?: string;
  level?: string;
  query?: string;
  start?: number;
  end?: number;
  sort?: string;
  limit?: number;
  offset?: number;
}

const id = (s: string) => encodeURIComponent(s);

export const fetchProjects = () => request<{ projects: Project[] | null }>(`${BASE}/projects`).then((r) => r.projects ?? []);
export const createProject = (name: string) => request<Project>(`${BASE}/projects`, { method: 'POST', body: { name } });
export const fetchIssues = (q: IssueQuery, signal?: AbortSignal) =>
  request<{ issues: Issue[] | null; total?: number }>(`${BASE}/issues${qs({ ...q })}`, { signal }).then((r) => ({ issues: r.issues ?? [], total: r.total ?? r.issues?.length ?? 0 }));
export const fetchIssue = (issue: string, signal?: AbortSignal) => request<IssueDetail>(`${BASE}/issues/${id(issue)}`, { signal });
export const setIssueStatus = (issue: string, status: string) => request<Issue>(`${BASE}/issues/${id(issue)}`, { method: 'PUT', body: { status } });
export const setIssuesStatus = (ids: string[], status: string) => request<{ updated: number }>(`${BASE}/issues`, { method: 'PUT', body: { ids, status } });
export const fetchIssueEvents = (issue: string, limit = 50, offset = 0) =>
  request<{ events: EventSummary[] | null; total?: number }>(`${BASE}/issues/${id(issue)}/events${qs({ limit, offset })}`).then((r) => ({ events: r.events ?? [], total: r.total ?? 0 }));
export const fetchLatestEvent = (issue: string, signal?: AbortSignal) => request<ErrorEvent>(`${BASE}/issues/${id(issue)}/events/latest`, { signal });
export const fetchEvent = (event: string, signal?: AbortSignal) => request<ErrorEvent>(`${BASE}/events/${id(event)}`, { signal });
export const fetchTraceErrors = (traceId: string, signal?: AbortSignal) =>
  request<{ events: TraceError[] | null }>(`${BASE}/events${qs({ trace_id: traceId })}`, { signal }).then((r) => r.events ?? []);

// ---- shared formatting -------------------------------------------------------------------------

export const LEVELS = ['fatal', 'error', 'warning', 'info', 'debug'];

/** The CSS class of a Sentry level (`lvl-error`); unknown levels look like errors. */
export function levelClass(level: string | undefined): string {
  const l = String(level ?? 'error').toLowerCase();
  return `lvl-${LEVELS.includes(l) ? l : l === 'warn' ? 'warning' : l === 'critical' ? 'fatal' : 'error'}`;
}

export function levelBadge(level: string | undefined): HTMLElement {
  return h('span', { class: `err-level ${levelClass(level)}`, 'data-testid': 'level' }, String(level ?? 'error').toLowerCase());
}

export const STATUS_LABEL: Record<string, string> = {
  unresolved: 'Unresolved',
  resolved: 'Resolved',
  resolved_in_next_release: 'Resolved in next release',
  ignored: 'Ignored',
};

/** Sentry titles read `TypeError: message`; the type is shown bold and the message dimmer. */
export function splitTitle(t: string): { type: string; value: string } {
  const m = (t ?? '').match(/^([\w.$<>]+(?:Error|Exception|Warning|Fault|Panic|Interrupt|Exit|Failure)?): (.*)$/s);
  if (m && m[1].length <= 80) return { type: m[1], value: m[2] };
  return { type: t || '(no title)', value: '' };
}

/** A time from the API (RFC 3339, Unix seconds or ms) as Unix ms; 0 when unreadable. */
export function toMs(t: string | number | undefined | null): number {
  if (t === undefined || t === null || t === '') return 0;
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t;
  if (/^\d+(\.\d+)?$/.test(t)) return toMs(Number(t));
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? 0 : ms;
}

/**
 * The DSN an SDK is given for `key` of project `p`: the server's own when it names a reachable
 * host, else built from the address this page was loaded from.
 */
export function dsnFor(p: Project, key: ProjectKey): string {
  const own = `${location.protocol}//${key.public}@${location.host}/${p.id}`;
  if (!key.dsn) return own;
  try {
    const u = new URL(key.dsn);
    if (['0.0.0.0', '[::]', '::', 'host', 'HOST'].includes(u.hostname) || !u.hostname) return own;
    return key.dsn;
  } catch {
    return own;
  }
}

/** Events over time as bars (`w`×`h` px); the tooltip of each bar gives its count and time. */
export function sparkline(s: Sparkline | undefined, w = 120, hgt = 26): Element {
  const counts = s?.counts ?? [];
  if (!counts.length) return h('span', { class: 'faint err-spark-none' }, '—');
  const max = Math.max(1, ...counts);
  const bw = w / counts.length;
  const total = counts.reduce((a, b) => a + b, 0);
  const bars = counts.map((c, i) => {
    const bh = c ? Math.max(2, (c / max) * (hgt - 1)) : 1;
    const at = new Date((s!.start + i * s!.step) * 1000);
    return svg(
      'rect',
      { x: (i * bw + 0.5).toFixed(2), y: (hgt - bh).toFixed(2), width: Math.max(1, bw - 1).toFixed(2), height: bh.toFixed(2), class: c ? 'sp-bar' : 'sp-zero' },
      svg('title', {}, `${c} event${c === 1 ? '' : 's'} · ${at.toLocaleString()}`),
    );
  });
  return svg('svg', { class: 'err-spark', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': `${total} events in the last ${counts.length} buckets`, 'data-testid': 'sparkline' }, ...bars);
}
