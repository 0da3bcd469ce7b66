/**
 * Dashboard templating as Grafana does it: the variables' options (query, custom, constant,
 * interval, textbox, datasource; adhoc filters are kept here and applied by adhoc.ts), their current values (multi-value,
 * "All", from the URL's `var-<name>`), chained refreshes, and interpolation of `$var`, `${var}`,
 * `[[var]]`, `${var:format}` and the built-ins (`$__interval`, `$__range`, `$__from`, …).
 */
import { filterFromUrl, filtersOf, filterToUrl, type AdhocFilter } from './adhoc';
import type { DashboardModel, TemplateVariable } from './contract';
import { ApiError, UnsupportedError, promInstant, promLabelValues, promLabels, promSeries, lokiLabels, lokiLabelValues, request } from '../lib/api';
import { calculateInterval, formatDuration, parseDuration, type TimeRange } from '../lib/time';
import { listDatasources, resolveDatasource, type Datasource } from './query';

export const ALL_VALUE = '$__all';
export const ALL_TEXT = 'All';

export type ScopedValue = { text: string | string[]; value: string | string[] };
export type ScopedVars = Record<string, ScopedValue>;
/** A named format (`regex`, `csv`, …) or a function given the raw value and its variable. */
export type Format = string | ((value: string | string[], variable?: TemplateVariable) => string);

export interface VarOption {
  text: string;
  value: string;
  selected?: boolean;
}

/** What the variables need from the page. */
export interface VariableEnv {
  range(): TimeRange;
  dashboardTitle(): string;
  dashboardUid(): string;
}

/** Grafana's variable reference syntax: `$var`, `[[var:fmt]]`, `${var.field:fmt}`. */
export const VARIABLE_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

const arr = (v: string | string[] | undefined | null): string[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** Grafana's kbn.regexEscape. */
export function regexEscape(v: string): string {
  return v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** Prometheus data source: a single non-multi value is only quote-escaped. */
function promRegularEscape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
}
/** Prometheus data source: multi/All values are regex-escaped inside a `=~"..."` string. */
function promSpecialRegexEscape(v: string): string {
  return v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/** The default format of PromQL/LogQL queries: `(a|b)` of escaped values for multi/All variables. */
export function promFormat(value: string | string[], variable?: TemplateVariable): string {
  if (variable && !variable.multi && !variable.includeAll) {
    return Array.isArray(value) ? value.map(promRegularEscape).join('|') : promRegularEscape(value);
  }
  if (typeof value === 'string') return promSpecialRegexEscape(value);
  const esc = value.map(promSpecialRegexEscape);
  return esc.length === 1 ? esc[0] : `(${esc.join('|')})`;
}

function luceneEscape(v: string): string {
  return v.replace(/([!*+\-=<>\s&|()[\]{}^~?:\\/"])/g, '\\$1');
}

/** The default format of Elasticsearch queries: `("a" OR "b")`. */
export function luceneFormat(value: string | string[]): string {
  if (typeof value === 'string') return luceneEscape(value);
  if (value.length === 1) return luceneEscape(value[0]);
  return `(${value.map((v) => `"${luceneEscape(v)}"`).join(' OR ')})`;
}

/** Applies one of Grafana's named formats. */
export function applyFormat(fmt: string, value: string | string[], text: string | string[], name: string, variable?: TemplateVariable): string {
  const [id, ...args] = fmt.split(':');
  const list = arr(value);
  switch (id) {
    case 'regex':
      return list.length === 1 ? regexEscape(list[0]) : `(${list.map(regexEscape).join('|')})`;
    case 'pipe':
      return list.join('|');
    case 'csv':
    case 'raw':
      return list.join(',');
    case 'distributed':
      return list.map((v, i) => (i === 0 ? v : `${name}=${v}`)).join(',');
    case 'json':
      return JSON.stringify(Array.isArray(value) ? list : value);
    case 'lucene':
      return luceneFormat(value);
    case 'glob':
      return list.length > 1 ? `{${list.join(',')}}` : list.join('');
    case 'percentencode':
      return encodeURIComponent(list.length > 1 ? `{${list.join(',')}}` : list.join(''));
    case 'uriencode':
      return encodeURI(list.length > 1 ? `{${list.join(',')}}` : list.join(''));
    case 'singlequote':
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'doublequote':
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'sqlstring':
      return list.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'text':
      return arr(text).join(' + ');
    case 'queryparam':
      return list.map((v) => `var-${encodeURIComponent(name)}=${encodeURIComponent(v)}`).join('&');
    case 'html':
      return list.join(', ').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
    case 'date': {
      const ms = Number(list[0]);
      if (!Number.isFinite(ms)) return list.join(',');
      const kind = args.join(':');
      if (kind === 'seconds') return String(Math.floor(ms / 1000));
      if (kind === '' || kind === 'iso') return new Date(ms).toISOString();
      return new Date(ms).toISOString();
    }
    case 'prometheus':
      return promFormat(value, variable);
    default:
      return Array.isArray(value) ? (value.length > 1 ? `{${value.join(',')}}` : value.join('')) : value;
  }
}

/** Grafana's `sort` option. */
function sortOptions(opts: VarOption[], sort: number | undefined) {
  if (!sort) return;
  const numOf = (o: VarOption) => {
    const m = o.text.match(/.*?(\d+).*/);
    return m ? Number(m[1]) : -Infinity;
  };
  const coll = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  switch (sort) {
    case 1:
      opts.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
      break;
    case 2:
      opts.sort((a, b) => (a.text < b.text ? 1 : a.text > b.text ? -1 : 0));
      break;
    case 3:
      opts.sort((a, b) => numOf(a) - numOf(b));
      break;
    case 4:
      opts.sort((a, b) => numOf(b) - numOf(a));
      break;
    case 5:
      opts.sort((a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase()));
      break;
    case 6:
      opts.sort((a, b) => b.text.toLowerCase().localeCompare(a.text.toLowerCase()));
      break;
    case 7:
      opts.sort((a, b) => coll.compare(a.text, b.text));
      break;
    case 8:
      opts.sort((a, b) => coll.compare(b.text, a.text));
      break;
  }
}

/** Parses Grafana's `/pattern/flags` (or a bare pattern); undefined when empty or invalid. */
export function parseRegex(src: string | undefined): RegExp | undefined {
  if (!src) return undefined;
  const m = src.match(/^\/(.*)\/([gimsuy]*)$/s);
  try {
    return m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(src);
  } catch {
    throw new Error(`invalid regex ${src}`);
  }
}

/** Applies a variable's `regex`: filter, capture group 1, or named groups `text`/`value`. */
export function applyRegex(values: VarOption[], regexSrc: string | undefined): VarOption[] {
  const re = parseRegex(regexSrc);
  if (!re) return values;
  const out: VarOption[] = [];
  for (const o of values) {
    const m = re.exec(o.value);
    if (!m) continue;
    if (m.groups && (m.groups.text !== undefined || m.groups.value !== undefined)) {
      const value = m.groups.value ?? m.groups.text;
      const text = m.groups.text ?? m.groups.value;
      out.push({ text, value });
    } else if (m.length > 1 && m[1] !== undefined) out.push({ text: m[1], value: m[1] });
    else out.push(o);
  }
  return out;
}

function dedupe(opts: VarOption[]): VarOption[] {
  const seen = new Set<string>();
  return opts.filter((o) => (seen.has(o.value) ? false : (seen.add(o.value), true)));
}

/** Splits a custom variable's query: `a, b\, c, x : y`. */
export function parseCustom(q: string): VarOption[] {
  const parts = q.match(/(?:\\,|[^,])+/g) ?? [];
  return parts.map((p) => {
    const t = p.trim().replace(/\\,/g, ',');
    const kv = t.match(/^(.+?)\s:\s(.+)$/);
    return kv ? { text: kv[1].trim(), value: kv[2].trim() } : { text: t, value: t };
  }).filter((o) => o.text !== '' || o.value !== '');
}

function queryText(v: TemplateVariable): string {
  const q = v.query;
  if (typeof q === 'string') return q;
  if (q && typeof q === 'object') {
    if (typeof q.query === 'string' && q.query) return q.query;
    // Grafana's Prometheus variable editor object: qryType 0 label names, 1 label values,
    // 2 metrics, 3 query_result, 4 series, 5 classic query.
    const o = q as Record<string, unknown>;
    switch (o.qryType) {
      case 0:
        return o.match ? `label_names(${o.match})` : 'label_names()';
      case 1:
        return o.metric ? `label_values(${o.metric}, ${o.label})` : `label_values(${o.label})`;
      case 2:
        return `metrics(${o.metric ?? '.*'})`;
      case 3:
        return `query_result(${o.query ?? ''})`;
      case 4:
        return String(o.query ?? '');
    }
  }
  return typeof v.definition === 'string' ? v.definition : '';
}

/** Names of variables referenced in a text. */
export function referencedNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(VARIABLE_RE)) out.add(m[1] ?? m[2] ?? m[4]);
  return out;
}

export class Variables {
  /** Errors of the last option refresh, by variable name. */
  errors = new Map<string, string>();
  /** Why a variable has no options when that is no failure (a data source pharos does not serve). */
  notes = new Map<string, string>();
  /** Variables whose current value came from the URL (kept even if not among the options). */
  private fromUrl = new Set<string>();

  constructor(
    private model: DashboardModel,
    private env: VariableEnv,
  ) {}

  setModel(model: DashboardModel) {
    this.model = model;
  }

  get list(): TemplateVariable[] {
    return this.model.templating?.list ?? [];
  }

  get(name: string): TemplateVariable | undefined {
    return this.list.find((v) => v.name === name);
  }

  /** Current values (never the ALL marker: "All" expands to every option or `allValue`). */
  values(name: string): string[] {
    const v = this.get(name);
    if (!v) return [];
    const cur = arr(v.current?.value);
    if (cur.includes(ALL_VALUE)) return (v.options ?? []).map((o) => o.value).filter((x) => x !== ALL_VALUE);
    return cur;
  }

  isAll(v: TemplateVariable): boolean {
    return arr(v.current?.value).includes(ALL_VALUE);
  }

  /** Reads `var-<name>` from the URL into the current values. */
  readUrl(q: URLSearchParams) {
    for (const v of this.list) {
      const key = `var-${v.name}`;
      if (!q.has(key)) continue;
      const vals = q.getAll(key);
      if (v.type === 'adhoc') {
        (v as { filters?: AdhocFilter[] }).filters = vals.map(filterFromUrl).filter((f): f is AdhocFilter => !!f);
        continue;
      }
      this.fromUrl.add(v.name);
      this.setCurrent(v, v.multi || vals.length > 1 ? vals : vals[0] ?? '');
    }
  }

  /** The `var-<name>` parameters for the URL. */
  urlParams(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const v of this.list) {
      if (v.type === 'constant') continue;
      out[`var-${v.name}`] = v.type === 'adhoc' ? filtersOf(v).map(filterToUrl) : arr(v.current?.value);
    }
    return out;
  }

  /** The filters of every ad hoc variable, for the queries. */
  adhocFilters(): AdhocFilter[] {
    return this.list.filter((v) => v.type === 'adhoc').flatMap(filtersOf);
  }

  private textOf(v: TemplateVariable, value: string): string {
    if (value === ALL_VALUE) return ALL_TEXT;
    return v.options?.find((o) => o.value === value)?.text ?? value;
  }

  private setCurrent(v: TemplateVariable, value: string | string[]) {
    const vals = arr(value);
    const texts = vals.map((x) => this.textOf(v, x));
    v.current = Array.isArray(value) ? { text: texts, value: vals, selected: true } : { text: texts[0] ?? '', value: vals[0] ?? '', selected: true };
    if (v.options) for (const o of v.options) o.selected = vals.includes(o.value);
  }

  /** Sets a variable's value (from a picker); returns the names whose options/values were refreshed. */
  async setValue(name: string, value: string | string[], signal?: AbortSignal): Promise<string[]> {
    const v = this.get(name);
    if (!v) return [];
    this.fromUrl.delete(name);
    this.setCurrent(v, v.multi ? arr(value) : arr(value)[0] ?? '');
    return this.refreshDependents(new Set([name]), signal);
  }

  /** Re-runs variables that use one of `changed` (transitively, in list order). */
  async refreshDependents(changed: Set<string>, signal?: AbortSignal): Promise<string[]> {
    const touched: string[] = [...changed];
    for (const v of this.list) {
      if (changed.has(v.name)) continue;
      const refs = referencedNames(`${queryText(v)} ${v.regex ?? ''} ${typeof v.datasource === 'string' ? v.datasource : JSON.stringify(v.datasource ?? '')}`);
      if ([...changed].some((c) => refs.has(c))) {
        await this.updateOptions(v, signal);
        changed.add(v.name);
        touched.push(v.name);
      }
    }
    return touched;
  }

  /** Loads every variable's options on dashboard load (in order, so chains resolve). */
  async init(signal?: AbortSignal) {
    for (const v of this.list) {
      const stale = !v.options || v.options.length === 0;
      if (v.type === 'query' && !v.refresh && !stale) {
        this.validate(v);
        continue;
      }
      await this.updateOptions(v, signal);
    }
  }

  /** Variables with `refresh: 2` re-run on a time range change; returns whether any changed. */
  async onTimeRangeChanged(signal?: AbortSignal): Promise<boolean> {
    const changed = new Set<string>();
    for (const v of this.list) {
      if ((v.type === 'query' && v.refresh === 2) || (v.type === 'interval' && v.auto)) {
        const before = JSON.stringify(v.current);
        await this.updateOptions(v, signal);
        if (JSON.stringify(v.current) !== before) changed.add(v.name);
      }
    }
    if (changed.size) await this.refreshDependents(changed, signal);
    return changed.size > 0;
  }

  /** Refreshes one variable's options and keeps (or re-picks) its current value. */
  async updateOptions(v: TemplateVariable, signal?: AbortSignal) {
    this.errors.delete(v.name);
    this.notes.delete(v.name);
    let opts: VarOption[] = [];
    try {
      opts = await this.computeOptions(v, signal);
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      const empty = this.emptyRefs(queryText(v));
      if (e instanceof UnsupportedError) this.notes.set(v.name, e.message);
      else if (empty.length) this.notes.set(v.name, `No values: ${empty.map((n) => `$${n}`).join(', ')} ${empty.length === 1 ? 'has' : 'have'} none.`);
      else this.errors.set(v.name, (e as Error).message);
      opts = (v.options ?? []).filter((o) => o.value !== ALL_VALUE);
    }
    if (v.type === 'query' || v.type === 'datasource') {
      opts = dedupe(applyRegex(opts, v.regex));
      if (v.type === 'query') sortOptions(opts, v.sort);
    }
    if (v.includeAll && v.type !== 'constant' && v.type !== 'textbox' && v.type !== 'interval') opts.unshift({ text: ALL_TEXT, value: ALL_VALUE });
    v.options = opts;
    this.validate(v);
  }

  /** Keeps the current value when it is still an option (or came from the URL); else the first option. */
  private validate(v: TemplateVariable) {
    const opts = v.options ?? [];
    if (v.type === 'textbox') {
      if (v.current?.value === undefined) this.setCurrent(v, typeof v.query === 'string' ? v.query : '');
      return;
    }
    if (v.type === 'constant') {
      this.setCurrent(v, typeof v.query === 'string' ? v.query : '');
      return;
    }
    const cur = arr(v.current?.value);
    if (this.fromUrl.has(v.name) && cur.length) return this.setCurrent(v, v.multi ? cur : cur[0]);
    const valid = cur.filter((c) => c === ALL_VALUE ? v.includeAll : opts.some((o) => o.value === c || o.text === c));
    if (valid.length) {
      const mapped = valid.map((c) => opts.find((o) => o.value === c)?.value ?? opts.find((o) => o.text === c)?.value ?? c);
      return this.setCurrent(v, v.multi ? mapped : mapped[0]);
    }
    if (!opts.length) return this.setCurrent(v, v.multi ? [] : '');
    this.setCurrent(v, v.multi ? [opts[0].value] : opts[0].value);
  }

  private async computeOptions(v: TemplateVariable, signal?: AbortSignal): Promise<VarOption[]> {
    switch (v.type) {
      case 'custom':
        return parseCustom(typeof v.query === 'string' ? v.query : '');
      case 'constant':
        return [{ text: String(v.query ?? ''), value: String(v.query ?? '') }];
      case 'textbox':
        return [];
      case 'interval': {
        const opts = parseCustom(typeof v.query === 'string' ? v.query : '1m,10m,30m,1h,6h,12h,1d,7d,14d,30d');
        if (v.auto) opts.unshift({ text: 'auto', value: '$__auto_interval_' + v.name });
        return opts;
      }
      case 'datasource': {
        const type = typeof v.query === 'string' ? v.query : '';
        const list = await listDatasources();
        return list.filter((d) => !type || d.type === type).map((d) => ({ text: d.name, value: d.uid ?? d.name }));
      }
      case 'query':
        return this.queryOptions(v, signal);
      default:
        return (v.options ?? []).filter((o) => o.value !== ALL_VALUE);
    }
  }

  private async queryOptions(v: TemplateVariable, signal?: AbortSignal): Promise<VarOption[]> {
    const ds = await resolveDatasource(v.datasource, (s) => this.interpolate(s), this.model);
    const range = this.env.range();
    const startS = Math.floor(range.from / 1000);
    const endS = Math.ceil(range.to / 1000);
    const raw = queryText(v);
    const opt = (s: string): VarOption => ({ text: s, value: s });
    if (ds.type === 'loki') {
      const q = v.query;
      if (q && typeof q === 'object' && (q as Record<string, unknown>).type !== undefined) {
        const o = q as Record<string, unknown>;
        if (o.type === 0) return (await lokiLabels(range.from, range.to)).map(opt);
        if (typeof o.label === 'string') return (await this.lokiValues(o.label, typeof o.stream === 'string' ? this.interpolate(o.stream, undefined, 'prometheus') : '', range, signal)).map(opt);
      }
      const expr = this.interpolate(raw, undefined, 'prometheus').trim();
      if (/^label_names\(\s*\)$/.test(expr)) return (await lokiLabels(range.from, range.to)).map(opt);
      const lv = expr.match(/^label_values\(\s*(?:(.*)\s*,\s*)?([a-zA-Z_][\w.]*)\s*\)$/s);
      if (lv) return (await this.lokiValues(lv[2], lv[1] ?? '', range, signal)).map(opt);
      throw new Error(`unsupported Loki variable query: ${expr}`);
    }
    if (ds.type === 'elasticsearch') {
      const q = typeof v.query === 'string' ? v.query : JSON.stringify(v.query ?? {});
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(this.interpolate(q, undefined, 'lucene'));
      } catch {
        throw new Error(`unsupported Elasticsearch variable query: ${q}`);
      }
      const index = ds.database || '*';
      if (o.find === 'terms' && typeof o.field === 'string') {
        const body = {
          size: 0,
          query: { bool: { filter: [
            { range: { [ds.timeField]: { gte: range.from, lte: range.to, format: 'epoch_millis' } } },
            { query_string: { query: typeof o.query === 'string' && o.query ? o.query : '*', analyze_wildcard: true } },
          ] } },
          aggs: { terms: { terms: { field: o.field, size: Number(o.size ?? 500), order: { _key: 'asc' } } } },
        };
        const res = await request<{ aggregations?: { terms?: { buckets?: { key: unknown; key_as_string?: string }[] } } }>(`/${encodeURIComponent(index)}/_search`, { body, signal });
        return (res.aggregations?.terms?.buckets ?? []).map((b) => opt(String(b.key_as_string ?? b.key)));
      }
      if (o.find === 'fields') {
        const res = await request<Record<string, { mappings?: { properties?: Record<string, unknown> } }>>(`/${encodeURIComponent(index)}/_mapping`, { signal });
        const names = new Set<string>();
        for (const idx of Object.values(res)) for (const k of Object.keys(idx.mappings?.properties ?? {})) names.add(k);
        return [...names].sort().map(opt);
      }
      throw new Error(`unsupported Elasticsearch variable query: ${q}`);
    }
    if (ds.type !== 'prometheus') {
      throw new UnsupportedError(`Variables of data source type "${ds.type}" are not served by pharos.`);
    }
    const expr = this.interpolate(raw, undefined, 'prometheus').trim();
    if (!expr) return [];
    let m: RegExpMatchArray | null;
    if ((m = expr.match(/^label_names\(\s*(.*?)\s*\)$/s))) {
      return (await promLabels(m[1] ? [m[1]] : undefined, startS, endS)).map(opt);
    }
    if ((m = expr.match(/^label_values\(\s*(?:(.*)\s*,\s*)?([a-zA-Z_][\w]*)\s*\)$/s))) {
      return (await promLabelValues(m[2], m[1] ? [m[1].trim()] : undefined, startS, endS)).map(opt);
    }
    if ((m = expr.match(/^metrics\(\s*(.*?)\s*\)$/s))) {
      const re = new RegExp(m[1] || '.*');
      return (await promLabelValues('__name__', undefined, startS, endS)).filter((n) => re.test(n)).map(opt);
    }
    if ((m = expr.match(/^query_result\(\s*(.*)\s*\)$/s))) {
      const res = await promInstant(m[1], endS, signal);
      if (res.resultType === 'vector') {
        return res.result.map((s) => {
          const { __name__, ...labels } = s.metric;
          const text = `${__name__ ?? ''}{${Object.entries(labels).map(([k, val]) => `${k}="${val}"`).join(',')}} ${s.value[1]} ${s.value[0] * 1000}`;
          return opt(text);
        });
      }
      if (res.resultType === 'scalar' || res.resultType === 'string') return [opt(`${res.result[1]}`)];
      return [];
    }
    // Anything else is a series selector (Grafana's "series query").
    const series = await promSeries([expr], startS, endS);
    return series.map((labels) => {
      const { __name__, ...rest } = labels;
      return opt(`${__name__ ?? ''}{${Object.entries(rest).map(([k, val]) => `${k}="${val}"`).join(',')}}`);
    });
  }

  private async lokiValues(label: string, stream: string, range: TimeRange, signal?: AbortSignal): Promise<string[]> {
    if (!stream.trim()) return lokiLabelValues(label, range.from, range.to);
    // With a stream selector: the values of the label among the matching series.
    const res = await request<{ data?: Record<string, string>[] }>(
      `/loki/api/v1/series?match[]=${encodeURIComponent(stream)}&start=${range.from}000000&end=${range.to}000000`,
      { signal },
    ).catch((e) => {
      if (e instanceof ApiError && e.status === 404) return { data: [] };
      throw e;
    });
    const vals = new Set<string>();
    for (const s of res.data ?? []) if (s[label] !== undefined) vals.add(s[label]);
    return [...vals].sort();
  }

  /** Built-in variables for the current range (`$__from`, `$__range`, `$__dashboard`, …). */
  builtins(): ScopedVars {
    const r = this.env.range();
    const rangeMs = r.to - r.from;
    const sv = (x: string | number) => ({ text: String(x), value: String(x) });
    return {
      __from: sv(r.from),
      __to: sv(r.to),
      __range_ms: sv(rangeMs),
      __range_s: sv(Math.round(rangeMs / 1000)),
      __range: sv(`${Math.round(rangeMs / 1000)}s`),
      __dashboard: sv(this.env.dashboardTitle()),
      __dashboard_uid: sv(this.env.dashboardUid()),
    };
  }

  /** Resolves an interval variable's `auto` to the computed interval. */
  private autoInterval(v: TemplateVariable): string {
    const count = typeof v.auto_count === 'number' ? v.auto_count : 30;
    const min = parseDuration(typeof v.auto_min === 'string' ? v.auto_min : '10s') ?? 10_000;
    return formatDuration(calculateInterval(this.env.range(), count, min));
  }

  /** The value a reference stands for, before formatting. */
  private lookup(name: string, scoped?: ScopedVars): { value: string | string[]; text: string | string[]; v?: TemplateVariable; allValue?: string } | undefined {
    const s = scoped?.[name];
    if (s) return { value: s.value, text: s.text, v: this.get(name) };
    const v = this.get(name);
    if (!v) {
      const b = this.builtins()[name];
      if (b) return { value: b.value, text: b.text };
      const auto = name.match(/^__auto_interval_(\w+)$/);
      if (auto) {
        const iv = this.get(auto[1]);
        if (iv) return { value: this.autoInterval(iv), text: this.autoInterval(iv) };
      }
      return undefined;
    }
    if (v.type === 'adhoc') return { value: '', text: '', v };
    const cur = v.current?.value;
    if (v.type === 'interval') {
      const val = arr(cur)[0] ?? '';
      if (val === 'auto' || val.startsWith('$__auto_interval')) {
        const a = this.autoInterval(v);
        return { value: a, text: a, v };
      }
      return { value: val, text: val, v };
    }
    if (arr(cur).includes(ALL_VALUE)) {
      const all = (v.options ?? []).filter((o) => o.value !== ALL_VALUE);
      if (v.allValue) return { value: v.allValue, text: ALL_TEXT, v, allValue: v.allValue };
      return { value: all.map((o) => o.value), text: ALL_TEXT, v };
    }
    if (cur === undefined) return { value: '', text: '', v };
    return { value: cur, text: v.current?.text ?? cur, v };
  }

  /**
   * Replaces variable references in `text`. `format` is the default for references without an
   * explicit `:format` (`prometheus` for PromQL, `lucene` for ES, a function, or none: Grafana's
   * glob for multi-values).
   */
  interpolate(text: string, scoped?: ScopedVars, format?: Format): string {
    if (!text || text.indexOf('$') < 0 && text.indexOf('[[') < 0) return text;
    return text.replace(VARIABLE_RE, (match, n1, n2, f2, n3, fieldPath, f3) => {
      const name: string = n1 ?? n2 ?? n3;
      const fmt: string | undefined = f2 ?? f3;
      const found = this.lookup(name, scoped);
      if (!found) return match;
      if (fieldPath === 'text') return arr(found.text).join(' + ');
      // "All" with a custom allValue is passed through unformatted, as Grafana does.
      if (found.allValue !== undefined && fmt !== 'text' && fmt !== 'queryparam') return this.interpolate(found.allValue, scoped, format);
      if (fmt) return applyFormat(fmt, found.value, found.text, name, found.v);
      if (typeof format === 'function') return format(found.value, found.v);
      if (format) return applyFormat(format, found.value, found.text, name, found.v);
      return applyFormat('glob', found.value, found.text, name, found.v);
    });
  }

  /**
   * Variables referenced in `text` that have no value to offer: a query or custom variable
   * without options (its metric does not exist yet), or a repeat value that is empty. A query
   * built from them may not even parse; that means "no data", not a broken panel.
   */
  emptyRefs(text: string, scoped?: ScopedVars): string[] {
    const out: string[] = [];
    for (const name of referencedNames(text)) {
      const s = scoped?.[name];
      if (s) {
        if (arr(s.value).every((x) => x === '')) out.push(name);
        continue;
      }
      const v = this.get(name);
      if (!v || (v.type !== 'query' && v.type !== 'custom')) continue;
      const opts = (v.options ?? []).filter((o) => o.value !== ALL_VALUE);
      const cur = arr(v.current?.value);
      if (!opts.length || !cur.length || cur.every((x) => x === '')) out.push(name);
    }
    return out;
  }

  /** True when `text` references one of `names`. */
  static uses(text: string, names: Iterable<string>): boolean {
    const refs = referencedNames(text);
    for (const n of names) if (refs.has(n)) return true;
    return false;
  }
}

export type { Datasource };
