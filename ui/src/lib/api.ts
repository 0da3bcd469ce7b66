/**
 * The UI's one HTTP client: every call to pharos' APIs (Prometheus, Loki, Jaeger, Alertmanager,
 * Grafana dashboards, pharos' own `/api/pharos/v1`) goes through `request()`, which turns a
 * stopped server, an HTTP error and a malformed body into an `ApiError` with a message a person
 * can act on.
 */

/**
 * Something pharos knowingly does not do (a data source type it does not serve, a Grafana
 * feature with no counterpart): shown as a note, not as a failure.
 */
export class UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedError';
  }
}

export class ApiError extends Error {
  /** HTTP status, 0 when the server could not be reached. */
  status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
  get unreachable(): boolean {
    return this.status === 0;
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** Form-encoded body (Prometheus POST queries). */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Return the body as text instead of parsing JSON. */
  text?: boolean;
  /**
   * The browser's fetch priority: with HTTP/1.1's six connections per host, a `low` request
   * waits while `high`/`auto` ones (the panels in view) are queued.
   */
  priority?: RequestPriority;
  /** Turns a successful answer's bytes into the result (instead of JSON.parse here). */
  decode?: (body: ArrayBuffer) => Promise<unknown>;
}

/** Sends a request to pharos and parses the JSON answer; throws `ApiError` with a readable message. */
export async function request<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.form) {
    body = new URLSearchParams(opts.form);
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(path, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, body, signal: opts.signal, priority: opts.priority });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError('pharos is not reachable — is the server running?', 0);
  }
  if (opts.decode && res.ok) {
    const bytes = await res.arrayBuffer();
    if (!bytes.byteLength) return undefined as T;
    try {
      return (await opts.decode(bytes)) as T;
    } catch {
      throw new ApiError(`unexpected answer from ${path}: ${new TextDecoder().decode(bytes.slice(0, 200))}`, res.status);
    }
  }
  const text = await res.text();
  if (!res.ok) throw new ApiError(errorMessage(text, res), res.status);
  if (opts.text) return text as T;
  if (text === '') return undefined as T;
  try {
    const t0 = performance.now();
    const parsed = JSON.parse(text) as T;
    // User timing for the dashboard benchmark (and the browser's performance panel).
    if (text.length > 100_000) performance.measure('pharos:json-parse', { start: t0, detail: text.length });
    return parsed;
  } catch {
    throw new ApiError(`unexpected answer from ${path}: ${text.slice(0, 200)}`, res.status);
  }
}

function errorMessage(text: string, res: Response): string {
  try {
    const j = JSON.parse(text);
    const msg = j.error ?? j.message ?? j.error?.reason ?? j.msg;
    if (typeof msg === 'string' && msg) return msg;
    if (j.error && typeof j.error === 'object' && typeof j.error.reason === 'string') return j.error.reason;
    // Jaeger's query API: {"errors":[{"code":400,"msg":"..."}]}
    if (Array.isArray(j.errors) && typeof j.errors[0]?.msg === 'string') return j.errors[0].msg;
  } catch {
    /* not JSON: use the text */
  }
  const t = text.trim();
  return t ? t.slice(0, 500) : `HTTP ${res.status} ${res.statusText}`;
}

/** Query-string helper that skips undefined values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

// ---- Prometheus ------------------------------------------------------------------------------

export type Labels = Record<string, string>;
export interface PromMatrixSeries {
  metric: Labels;
  values: [number, string][];
}
export interface PromVectorSample {
  metric: Labels;
  value: [number, string];
}
export type PromResult =
  | { resultType: 'matrix'; result: PromMatrixSeries[] }
  | { resultType: 'vector'; result: PromVectorSample[] }
  | { resultType: 'scalar'; result: [number, string] }
  | { resultType: 'string'; result: [number, string] };

interface PromEnvelope<T> {
  status: 'success' | 'error';
  data: T;
  warnings?: string[];
  infos?: string[];
  error?: string;
}

async function prom<T>(path: string, form: Record<string, string>, signal?: AbortSignal): Promise<T> {
  const env = await request<PromEnvelope<T>>(path, { form, signal });
  if (env.status !== 'success') throw new ApiError(env.error ?? 'query failed', 422);
  return env.data;
}

/** `/api/v1/query_range`; times in seconds, step in seconds. */
export function promRange(query: string, start: number, end: number, step: number, signal?: AbortSignal) {
  return prom<PromResult>('/api/v1/query_range', { query, start: String(start), end: String(end), step: String(step) }, signal);
}

/** `/api/v1/query`; time in seconds. */
export function promInstant(query: string, time: number, signal?: AbortSignal) {
  return prom<PromResult>('/api/v1/query', { query, time: String(time) }, signal);
}

export function promLabels(match?: string[], start?: number, end?: number) {
  const form: Record<string, string> = {};
  if (start !== undefined) form.start = String(start);
  if (end !== undefined) form.end = String(end);
  const p = new URLSearchParams(form);
  for (const m of match ?? []) p.append('match[]', m);
  return request<PromEnvelope<string[]>>(`/api/v1/labels?${p}`).then((e) => e.data);
}

export function promLabelValues(label: string, match?: string[], start?: number, end?: number) {
  const p = new URLSearchParams();
  if (start !== undefined) p.set('start', String(start));
  if (end !== undefined) p.set('end', String(end));
  for (const m of match ?? []) p.append('match[]', m);
  return request<PromEnvelope<string[]>>(`/api/v1/label/${encodeURIComponent(label)}/values?${p}`).then((e) => e.data);
}

export function promSeries(match: string[], start?: number, end?: number) {
  const p = new URLSearchParams();
  if (start !== undefined) p.set('start', String(start));
  if (end !== undefined) p.set('end', String(end));
  for (const m of match) p.append('match[]', m);
  return request<PromEnvelope<Labels[]>>(`/api/v1/series?${p}`).then((e) => e.data);
}

export function promMetadata() {
  return request<PromEnvelope<Record<string, { type: string; help: string; unit: string }[]>>>('/api/v1/metadata').then(
    (e) => e.data,
  );
}

// ---- Loki ------------------------------------------------------------------------------------

export interface LokiStream {
  stream: Labels;
  values: ([string, string] | [string, string, Record<string, unknown>])[];
}
export type LokiResult =
  | { resultType: 'streams'; result: LokiStream[]; stats?: unknown }
  | { resultType: 'matrix'; result: PromMatrixSeries[]; stats?: unknown }
  | { resultType: 'vector'; result: PromVectorSample[]; stats?: unknown };

/** `/loki/api/v1/query_range`; times in ms. */
export function lokiRange(
  query: string,
  startMs: number,
  endMs: number,
  opts: { limit?: number; step?: number; direction?: 'backward' | 'forward'; signal?: AbortSignal } = {},
) {
  return request<{ status: string; data: LokiResult }>(
    '/loki/api/v1/query_range' +
      qs({
        query,
        start: `${Math.floor(startMs)}000000`,
        end: `${Math.ceil(endMs)}000000`,
        limit: opts.limit,
        step: opts.step,
        direction: opts.direction,
      }),
    { signal: opts.signal },
  ).then((e) => e.data);
}

/** `/loki/api/v1/query` (instant); time in ms. */
export function lokiInstant(query: string, timeMs: number, signal?: AbortSignal) {
  return request<{ status: string; data: LokiResult }>(
    '/loki/api/v1/query' + qs({ query, time: `${Math.floor(timeMs)}000000` }),
    { signal },
  ).then((e) => e.data);
}

export function lokiLabels(startMs?: number, endMs?: number) {
  return request<{ data?: string[] }>(
    '/loki/api/v1/labels' + qs({ start: startMs && `${startMs}000000`, end: endMs && `${endMs}000000` }),
  ).then((e) => e.data ?? []);
}

export function lokiLabelValues(label: string, startMs?: number, endMs?: number) {
  return request<{ data?: string[] }>(
    `/loki/api/v1/label/${encodeURIComponent(label)}/values` +
      qs({ start: startMs && `${startMs}000000`, end: endMs && `${endMs}000000` }),
  ).then((e) => e.data ?? []);
}

// ---- Jaeger ----------------------------------------------------------------------------------

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number; // µs
  duration: number; // µs
  tags: { key: string; type: string; value: unknown }[];
  logs: { timestamp: number; fields: { key: string; type: string; value: unknown }[] }[];
  processID: string;
  warnings: string[] | null;
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; type: string; value: unknown }[] }>;
  warnings: string[] | null;
}

export function jaegerServices() {
  return request<{ data: string[] | null }>('/api/services').then((e) => e.data ?? []);
}
export function jaegerOperations(service: string) {
  return request<{ data: string[] | null }>(`/api/services/${encodeURIComponent(service)}/operations`).then(
    (e) => e.data ?? [],
  );
}
export function jaegerSearch(params: Record<string, string | number | undefined>) {
  return request<{ data: JaegerTrace[] | null }>('/api/traces' + qs(params)).then((e) => e.data ?? []);
}
export function jaegerTrace(id: string) {
  return request<{ data: JaegerTrace[] | null }>(`/api/traces/${encodeURIComponent(id)}`).then((e) => e.data?.[0]);
}
