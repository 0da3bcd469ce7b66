/**
 * Ad hoc filters (Grafana's `adhoc` template variable): key/operator/value label filters that
 * are added to every vector selector of a dashboard's PromQL and to every stream selector of
 * its LogQL. The queries are scanned (strings, comments, ranges, label lists and function
 * names skipped), so a filter lands inside each selector's braces, never appended as text.
 * In the URL a filter is `var-<name>=key|op|value`, as in Grafana.
 */
import type { TemplateVariable } from './contract';

export interface AdhocFilter {
  key: string;
  operator: string;
  value: string;
}

/** The operators a Prometheus/Loki label matcher has. */
export const ADHOC_OPERATORS = ['=', '!=', '=~', '!~'];

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The valid filters of an ad hoc variable (`filters: [{key, operator, value}]`). */
export function filtersOf(v: TemplateVariable): AdhocFilter[] {
  const raw = (v as { filters?: unknown }).filters;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((f): f is Record<string, unknown> => !!f && typeof f === 'object')
    .map((f) => ({ key: String(f.key ?? ''), operator: String(f.operator ?? '='), value: String(f.value ?? '') }))
    .filter((f) => LABEL_NAME.test(f.key) && ADHOC_OPERATORS.includes(f.operator));
}

// Grafana escapes the separators inside a URL filter: `|` as __gfp__, `,` as __gfc__.
const esc = (s: string) => s.replace(/\|/g, '__gfp__').replace(/,/g, '__gfc__');
const unesc = (s: string) => s.replace(/__gfp__/g, '|').replace(/__gfc__/g, ',');

export function filterToUrl(f: AdhocFilter): string {
  return [f.key, f.operator, f.value].map(esc).join('|');
}

/** `key|op|value` (the value may itself hold `|` when unescaped); undefined when malformed. */
export function filterFromUrl(s: string): AdhocFilter | undefined {
  const m = s.match(/^([^|]*)\|(=~|!~|!=|=)\|(.*)$/s);
  if (!m) return undefined;
  const f = { key: unesc(m[1]), operator: m[2], value: unesc(m[3]) };
  return LABEL_NAME.test(f.key) ? f : undefined;
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function matchers(filters: AdhocFilter[]): string {
  return filters.map((f) => `${f.key}${f.operator}${quote(f.value)}`).join(',');
}

/** End (exclusive) of the string literal opening at `i`. */
function stringEnd(s: string, i: number): number {
  const q = s[i];
  let j = i + 1;
  while (j < s.length && s[j] !== q) j += q !== '`' && s[j] === '\\' ? 2 : 1;
  return Math.min(s.length, j + 1);
}

/** End (exclusive) of the bracketed group opening at `i` (`{}`, `[]`, `()`), strings skipped. */
function groupEnd(s: string, i: number): number {
  const open = s[i];
  const close = open === '{' ? '}' : open === '[' ? ']' : ')';
  let depth = 0;
  let j = i;
  while (j < s.length) {
    const c = s[j];
    if (c === '"' || c === "'" || c === '`') {
      j = stringEnd(s, j);
      continue;
    }
    if (c === open) depth++;
    else if (c === close && --depth === 0) return j + 1;
    j++;
  }
  return s.length;
}

/** `{a="b"}` + filters → `{a="b",k="v"}` (an unterminated selector is left alone). */
function intoBraces(sel: string, m: string): string {
  if (!sel.endsWith('}')) return sel;
  const inner = sel.slice(1, -1);
  if (!inner.trim()) return `{${inner}${m}}`;
  return inner.trimEnd().endsWith(',') ? `{${inner}${m}}` : `{${inner},${m}}`;
}

const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const OTHER_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

/** Adds the filters as label matchers to every vector selector of a PromQL expression. */
export function addFiltersToPromQL(expr: string, filters: AdhocFilter[]): string {
  return filters.length ? insertMatchers(expr, matchers(filters), true) : expr;
}

/** Adds the filters to every stream selector (`{...}`) of a LogQL expression. */
export function addFiltersToLogQL(expr: string, filters: AdhocFilter[]): string {
  return filters.length ? insertMatchers(expr, matchers(filters), false) : expr;
}

/**
 * One pass over a query: strings, comments and `[...]` ranges are copied; every `{...}` gets
 * the matchers; in PromQL a metric name without braces gets `{matchers}` unless it is a
 * keyword, a function or an aggregation (label lists after `by`, `on`, … are copied).
 */
function insertMatchers(s: string, m: string, promql: boolean): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"' || c === '`' || (promql && c === "'")) {
      const j = stringEnd(s, i);
      out += s.slice(i, j);
      i = j;
    } else if (promql && c === '#') {
      const j = s.indexOf('\n', i);
      const end = j < 0 ? s.length : j;
      out += s.slice(i, end);
      i = end;
    } else if (c === '[') {
      const j = groupEnd(s, i);
      out += s.slice(i, j);
      i = j;
    } else if (c === '{') {
      const j = groupEnd(s, i);
      out += intoBraces(s.slice(i, j), m);
      i = j;
    } else if (promql && (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] ?? '')))) {
      // Numbers and durations (1e-3, 0x1F, 5m30s).
      let j = i + 1;
      while (j < s.length && (/[0-9a-zA-Z_.]/.test(s[j]) || ((s[j] === '-' || s[j] === '+') && /[eE]/.test(s[j - 1]) && !/^0x/i.test(s.slice(i, j))))) j++;
      out += s.slice(i, j);
      i = j;
    } else if (promql && /[a-zA-Z_:]/.test(c)) {
      let j = i + 1;
      while (j < s.length && /[a-zA-Z0-9_:]/.test(s[j])) j++;
      const ident = s.slice(i, j);
      let k = j;
      while (k < s.length && /\s/.test(s[k])) k++;
      const lower = ident.toLowerCase();
      if (LABEL_LIST_KEYWORDS.has(lower)) {
        out += s.slice(i, k);
        i = k;
        if (s[k] === '(') {
          const e = groupEnd(s, k);
          out += s.slice(k, e);
          i = e;
        }
      } else if (OTHER_KEYWORDS.has(lower) || s[k] === '(' || /^(by|without)\b/i.test(s.slice(k))) {
        // A function, an operator keyword, or an aggregation written `sum by (x) (...)`.
        out += ident;
        i = j;
      } else if (s[k] === '{') {
        const e = groupEnd(s, k);
        out += s.slice(i, k) + intoBraces(s.slice(k, e), m);
        i = e;
      } else {
        out += `${ident}{${m}}`;
        i = j;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
