/**
 * The query editor of Explore, shared by PromQL and LogQL: a growing textarea over a
 * syntax-highlighted copy of its text, with autocomplete (functions with signatures and a one-line
 * doc, aggregation keywords, metric names with their type/help, label names inside `{}` and
 * `by (...)`, label values after `label=`, durations inside `[]`, LogQL pipeline stages).
 * Shift+Enter or Ctrl+Enter runs; Enter inserts a newline unless a suggestion is open;
 * up/down/Enter/Tab pick, Esc closes, Ctrl+Space opens. All text is rendered as text nodes.
 */
import { h, replace } from '../lib/dom';
import { promLabels, promLabelValues, promMetadata, request, lokiLabels, lokiLabelValues } from '../lib/api';
import './explore.css';

export type Language = 'promql' | 'logql';

export interface CompletionItem {
  label: string;
  /** Text inserted in place of the typed prefix (defaults to `label`). */
  insert?: string;
  /** Caret offset from the start of the inserted text (defaults to its end). */
  caret?: number;
  kind: 'function' | 'aggregation' | 'keyword' | 'metric' | 'label' | 'value' | 'duration' | 'stage' | 'operator';
  /** Short right-aligned note: a signature, a metric type. */
  detail?: string;
  /** One-line documentation shown under the list for the selected item. */
  doc?: string;
  /** Open the suggestions again after inserting (a label name leads to its values). */
  retrigger?: boolean;
}

export interface CompletionResult {
  items: CompletionItem[];
  /** Start offset of the text the chosen item replaces (the typed prefix). */
  from: number;
  /** End offset of the replaced text (normally the caret). */
  to: number;
}

export type Completer = (text: string, pos: number, explicit: boolean) => Promise<CompletionResult | null>;

// ---- PromQL catalogue ---------------------------------------------------------------------------

/** PromQL functions: name → [signature, one-line doc] (Prometheus' functions reference). */
export const PROMQL_FUNCTIONS: Record<string, [string, string]> = {
  abs: ['abs(v instant-vector)', 'Absolute value of every sample.'],
  absent: ['absent(v instant-vector)', '1-element vector if the vector has no elements, else empty (alert on missing series).'],
  absent_over_time: ['absent_over_time(v range-vector)', '1-element vector if the range vector has no elements.'],
  acos: ['acos(v instant-vector)', 'Arccosine of every sample.'],
  acosh: ['acosh(v instant-vector)', 'Inverse hyperbolic cosine.'],
  asin: ['asin(v instant-vector)', 'Arcsine of every sample.'],
  asinh: ['asinh(v instant-vector)', 'Inverse hyperbolic sine.'],
  atan: ['atan(v instant-vector)', 'Arctangent of every sample.'],
  atanh: ['atanh(v instant-vector)', 'Inverse hyperbolic tangent.'],
  avg_over_time: ['avg_over_time(v range-vector)', 'Average of all points in the range, per series.'],
  ceil: ['ceil(v instant-vector)', 'Rounds every sample up to the nearest integer.'],
  changes: ['changes(v range-vector)', 'How many times each series changed value within the range.'],
  clamp: ['clamp(v instant-vector, min scalar, max scalar)', 'Clamps every sample to [min, max].'],
  clamp_max: ['clamp_max(v instant-vector, max scalar)', 'Clamps every sample to at most max.'],
  clamp_min: ['clamp_min(v instant-vector, min scalar)', 'Clamps every sample to at least min.'],
  cos: ['cos(v instant-vector)', 'Cosine of every sample (radians).'],
  cosh: ['cosh(v instant-vector)', 'Hyperbolic cosine.'],
  count_over_time: ['count_over_time(v range-vector)', 'Number of points in the range, per series.'],
  day_of_month: ['day_of_month(v=vector(time()) instant-vector)', 'Day of the month (1–31) in UTC.'],
  day_of_week: ['day_of_week(v=vector(time()) instant-vector)', 'Day of the week (0 = Sunday) in UTC.'],
  day_of_year: ['day_of_year(v=vector(time()) instant-vector)', 'Day of the year (1–366) in UTC.'],
  days_in_month: ['days_in_month(v=vector(time()) instant-vector)', 'Number of days in the month in UTC.'],
  deg: ['deg(v instant-vector)', 'Radians to degrees.'],
  delta: ['delta(v range-vector)', 'Difference between first and last value of a gauge over the range.'],
  deriv: ['deriv(v range-vector)', 'Per-second derivative of a gauge (simple linear regression).'],
  double_exponential_smoothing: ['double_exponential_smoothing(v range-vector, sf scalar, tf scalar)', 'Smoothed value of a gauge (formerly holt_winters).'],
  exp: ['exp(v instant-vector)', 'Exponential function of every sample.'],
  floor: ['floor(v instant-vector)', 'Rounds every sample down to the nearest integer.'],
  histogram_avg: ['histogram_avg(v instant-vector)', 'Arithmetic average of native histogram observations.'],
  histogram_count: ['histogram_count(v instant-vector)', 'Count of observations of native histograms.'],
  histogram_fraction: ['histogram_fraction(lower scalar, upper scalar, v instant-vector)', 'Estimated fraction of observations between lower and upper.'],
  histogram_quantile: ['histogram_quantile(φ scalar, b instant-vector)', 'φ-quantile (0 ≤ φ ≤ 1) from classic `le` buckets or native histograms.'],
  histogram_stddev: ['histogram_stddev(v instant-vector)', 'Estimated standard deviation of native histogram observations.'],
  histogram_stdvar: ['histogram_stdvar(v instant-vector)', 'Estimated standard variance of native histogram observations.'],
  histogram_sum: ['histogram_sum(v instant-vector)', 'Sum of observations of native histograms.'],
  holt_winters: ['holt_winters(v range-vector, sf scalar, tf scalar)', 'Smoothed value of a gauge (renamed double_exponential_smoothing in Prometheus 3).'],
  hour: ['hour(v=vector(time()) instant-vector)', 'Hour of the day (0–23) in UTC.'],
  idelta: ['idelta(v range-vector)', 'Difference between the last two samples of a gauge.'],
  increase: ['increase(v range-vector)', 'Increase of a counter over the range, adjusted for resets.'],
  info: ['info(v instant-vector, [data-label-selector instant-vector])', 'Adds labels from info metrics (experimental).'],
  irate: ['irate(v range-vector)', 'Per-second instant rate from the last two samples of a counter.'],
  label_join: ['label_join(v instant-vector, dst string, separator string, src_1 string, ...)', 'Joins the values of source labels into dst.'],
  label_replace: ['label_replace(v instant-vector, dst string, replacement string, src string, regex string)', 'Sets dst to replacement when regex matches src.'],
  last_over_time: ['last_over_time(v range-vector)', 'Most recent point in the range, per series.'],
  ln: ['ln(v instant-vector)', 'Natural logarithm of every sample.'],
  log10: ['log10(v instant-vector)', 'Decimal logarithm of every sample.'],
  log2: ['log2(v instant-vector)', 'Binary logarithm of every sample.'],
  mad_over_time: ['mad_over_time(v range-vector)', 'Median absolute deviation of the points in the range.'],
  max_over_time: ['max_over_time(v range-vector)', 'Maximum of all points in the range, per series.'],
  min_over_time: ['min_over_time(v range-vector)', 'Minimum of all points in the range, per series.'],
  minute: ['minute(v=vector(time()) instant-vector)', 'Minute of the hour (0–59) in UTC.'],
  month: ['month(v=vector(time()) instant-vector)', 'Month of the year (1–12) in UTC.'],
  pi: ['pi()', 'The number π.'],
  predict_linear: ['predict_linear(v range-vector, t scalar)', 'Predicted value t seconds from now (linear regression).'],
  present_over_time: ['present_over_time(v range-vector)', '1 for every series with any point in the range.'],
  quantile_over_time: ['quantile_over_time(φ scalar, v range-vector)', 'φ-quantile of the points in the range.'],
  rad: ['rad(v instant-vector)', 'Degrees to radians.'],
  rate: ['rate(v range-vector)', 'Per-second average rate of increase of a counter over the range.'],
  resets: ['resets(v range-vector)', 'Number of counter resets within the range.'],
  round: ['round(v instant-vector, to_nearest=1 scalar)', 'Rounds every sample to the nearest multiple of to_nearest.'],
  scalar: ['scalar(v instant-vector)', 'The single sample value as a scalar (NaN unless exactly one).'],
  sgn: ['sgn(v instant-vector)', 'Sign of every sample: 1, -1 or 0.'],
  sin: ['sin(v instant-vector)', 'Sine of every sample (radians).'],
  sinh: ['sinh(v instant-vector)', 'Hyperbolic sine.'],
  sort: ['sort(v instant-vector)', 'Sorts by sample value, ascending (instant queries).'],
  sort_by_label: ['sort_by_label(v instant-vector, label string, ...)', 'Sorts by the given labels, ascending.'],
  sort_by_label_desc: ['sort_by_label_desc(v instant-vector, label string, ...)', 'Sorts by the given labels, descending.'],
  sort_desc: ['sort_desc(v instant-vector)', 'Sorts by sample value, descending (instant queries).'],
  sqrt: ['sqrt(v instant-vector)', 'Square root of every sample.'],
  stddev_over_time: ['stddev_over_time(v range-vector)', 'Population standard deviation of the points in the range.'],
  stdvar_over_time: ['stdvar_over_time(v range-vector)', 'Population standard variance of the points in the range.'],
  sum_over_time: ['sum_over_time(v range-vector)', 'Sum of all points in the range, per series.'],
  tan: ['tan(v instant-vector)', 'Tangent of every sample (radians).'],
  tanh: ['tanh(v instant-vector)', 'Hyperbolic tangent.'],
  time: ['time()', 'Seconds since the epoch at the evaluation time.'],
  timestamp: ['timestamp(v instant-vector)', 'Timestamp of every sample, in seconds.'],
  vector: ['vector(s scalar)', 'The scalar as a vector without labels.'],
  year: ['year(v=vector(time()) instant-vector)', 'Year in UTC.'],
};

/** PromQL aggregation operators. */
export const PROMQL_AGGREGATIONS: Record<string, [string, string]> = {
  sum: ['sum [by|without (labels)] (v)', 'Sum over dimensions.'],
  min: ['min [by|without (labels)] (v)', 'Minimum over dimensions.'],
  max: ['max [by|without (labels)] (v)', 'Maximum over dimensions.'],
  avg: ['avg [by|without (labels)] (v)', 'Average over dimensions.'],
  group: ['group [by|without (labels)] (v)', 'All values become 1: one series per group.'],
  stddev: ['stddev [by|without (labels)] (v)', 'Population standard deviation over dimensions.'],
  stdvar: ['stdvar [by|without (labels)] (v)', 'Population standard variance over dimensions.'],
  count: ['count [by|without (labels)] (v)', 'Number of series in each group.'],
  count_values: ['count_values [by|without (labels)] ("label", v)', 'Counts series with the same value; the value becomes a label.'],
  bottomk: ['bottomk [by|without (labels)] (k, v)', 'Smallest k series by sample value.'],
  topk: ['topk [by|without (labels)] (k, v)', 'Largest k series by sample value.'],
  quantile: ['quantile [by|without (labels)] (φ, v)', 'φ-quantile (0 ≤ φ ≤ 1) over dimensions.'],
  limitk: ['limitk [by|without (labels)] (k, v)', 'Any k series of each group (experimental).'],
  limit_ratio: ['limit_ratio [by|without (labels)] (ratio, v)', 'A deterministic sample of the series (experimental).'],
};

export const PROMQL_KEYWORDS: Record<string, string> = {
  by: 'Aggregate keeping only these labels: sum by (job) (...)',
  without: 'Aggregate dropping these labels: sum without (instance) (...)',
  on: 'Vector matching on these labels only: a / on (job) b',
  ignoring: 'Vector matching ignoring these labels: a / ignoring (code) b',
  group_left: 'Many-to-one matching; keep the left side\'s labels (plus listed ones from the right).',
  group_right: 'One-to-many matching; keep the right side\'s labels.',
  bool: 'Comparison returns 0/1 instead of filtering: a > bool 1',
  offset: 'Shift the evaluation time into the past: rate(x[5m] offset 1h)',
  and: 'Intersection: series of the left side that have a match on the right.',
  or: 'Union: series of the left side plus unmatched series of the right.',
  unless: 'Complement: series of the left side with no match on the right.',
  atan2: 'Binary operator: arc tangent of left / right.',
};

const DURATIONS: [string, string][] = [
  ['$__interval', 'Grafana: the step of the graph'],
  ['$__rate_interval', 'Grafana: max(4 × scrape interval, step + scrape interval)'],
  ['1m', ''],
  ['5m', ''],
  ['10m', ''],
  ['30m', ''],
  ['1h', ''],
  ['6h', ''],
  ['1d', ''],
  ['30s', ''],
  ['15s', ''],
];

// ---- LogQL catalogue ----------------------------------------------------------------------------

export const LOGQL_RANGE_FUNCTIONS: Record<string, [string, string]> = {
  rate: ['rate({...}[range])', 'Log lines per second over the range.'],
  count_over_time: ['count_over_time({...}[range])', 'Number of log lines per stream over the range.'],
  bytes_rate: ['bytes_rate({...}[range])', 'Bytes of log lines per second.'],
  bytes_over_time: ['bytes_over_time({...}[range])', 'Bytes of log lines over the range.'],
  absent_over_time: ['absent_over_time({...}[range])', '1-element vector when no line matched in the range (alerting).'],
  sum_over_time: ['sum_over_time({...} | unwrap label [range])', 'Sum of an unwrapped label.'],
  avg_over_time: ['avg_over_time({...} | unwrap label [range])', 'Average of an unwrapped label.'],
  max_over_time: ['max_over_time({...} | unwrap label [range])', 'Maximum of an unwrapped label.'],
  min_over_time: ['min_over_time({...} | unwrap label [range])', 'Minimum of an unwrapped label.'],
  first_over_time: ['first_over_time({...} | unwrap label [range])', 'First value of an unwrapped label.'],
  last_over_time: ['last_over_time({...} | unwrap label [range])', 'Last value of an unwrapped label.'],
  stddev_over_time: ['stddev_over_time({...} | unwrap label [range])', 'Standard deviation of an unwrapped label.'],
  stdvar_over_time: ['stdvar_over_time({...} | unwrap label [range])', 'Standard variance of an unwrapped label.'],
  quantile_over_time: ['quantile_over_time(φ, {...} | unwrap label [range])', 'φ-quantile of an unwrapped label.'],
  rate_counter: ['rate_counter({...} | unwrap label [range])', 'Per-second rate of an unwrapped counter label.'],
};

export const LOGQL_AGGREGATIONS: Record<string, [string, string]> = {
  sum: ['sum [by|without (labels)] (v)', 'Sum over dimensions.'],
  avg: ['avg [by|without (labels)] (v)', 'Average over dimensions.'],
  min: ['min [by|without (labels)] (v)', 'Minimum over dimensions.'],
  max: ['max [by|without (labels)] (v)', 'Maximum over dimensions.'],
  count: ['count [by|without (labels)] (v)', 'Number of series per group.'],
  stddev: ['stddev [by|without (labels)] (v)', 'Standard deviation over dimensions.'],
  stdvar: ['stdvar [by|without (labels)] (v)', 'Standard variance over dimensions.'],
  topk: ['topk(k, v)', 'Largest k series.'],
  bottomk: ['bottomk(k, v)', 'Smallest k series.'],
  sort: ['sort(v)', 'Sorts by value, ascending.'],
  sort_desc: ['sort_desc(v)', 'Sorts by value, descending.'],
};

export const LOGQL_STAGES: Record<string, [string, string, string?]> = {
  json: ['json', 'Parses a JSON line; every field becomes a label (nested keys joined by _).'],
  logfmt: ['logfmt', 'Parses key=value pairs; every key becomes a label.'],
  regexp: ['regexp "<re>"', 'Named capture groups become labels.', 'regexp ""'],
  pattern: ['pattern "<_> <method> <path>"', 'Extracts labels with a pattern expression.', 'pattern ""'],
  unpack: ['unpack', 'Unpacks a JSON line packed by promtail\'s pack stage.'],
  line_format: ['line_format "{{.label}}"', 'Rewrites the line with a Go template.', 'line_format ""'],
  label_format: ['label_format new=old', 'Renames labels or sets them from a template.', 'label_format '],
  decolorize: ['decolorize', 'Strips ANSI colour codes from the line.'],
  drop: ['drop label, ...', 'Removes labels from the result.', 'drop '],
  keep: ['keep label, ...', 'Keeps only these labels.', 'keep '],
  unwrap: ['unwrap label', 'Uses a label\'s value as the sample value (with *_over_time).', 'unwrap '],
};

const LINE_FILTERS: [string, string][] = [
  ['|= ""', 'Line contains the string'],
  ['!= ""', 'Line does not contain the string'],
  ['|~ ""', 'Line matches the RE2 regular expression'],
  ['!~ ""', 'Line does not match the regular expression'],
];

// ---- Tokenizer (highlighting) -------------------------------------------------------------------

interface Token {
  text: string;
  cls?: string;
}

const PROM_FN = new Set(Object.keys(PROMQL_FUNCTIONS));
const PROM_AGG = new Set(Object.keys(PROMQL_AGGREGATIONS));
const PROM_KW = new Set(Object.keys(PROMQL_KEYWORDS));
const LOG_FN = new Set([...Object.keys(LOGQL_RANGE_FUNCTIONS), 'label_replace', 'vector']);
const LOG_AGG = new Set(Object.keys(LOGQL_AGGREGATIONS));
const LOG_KW = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', ...Object.keys(LOGQL_STAGES)]);

/** Splits a query into highlighted tokens (strings, numbers/durations, functions, keywords, labels, comments). */
export function tokenize(text: string, lang: Language): Token[] {
  const out: Token[] = [];
  const fn = lang === 'promql' ? PROM_FN : LOG_FN;
  const agg = lang === 'promql' ? PROM_AGG : LOG_AGG;
  const kw = lang === 'promql' ? PROM_KW : LOG_KW;
  let braceDepth = 0;
  let i = 0;
  const re = /#[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|`[^`]*`?|\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y)?(?:\d+(?:ms|s|m|h|d|w|y))*|[a-zA-Z_:][\w:.]*|=~|!~|!=|\|=|\|~|==|>=|<=|[-+*/%^<>=|!@]|[{}()[\],]|\s+|./gy;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) break;
    const t = m[0];
    let cls: string | undefined;
    const c = t[0];
    if (c === '#') cls = 'tok-comment';
    else if (c === '"' || c === "'" || c === '`') cls = 'tok-str';
    else if (/\d/.test(c)) cls = 'tok-num';
    else if (/[a-zA-Z_:]/.test(c)) {
      const after = text.slice(i + t.length).match(/^\s*(.)/)?.[1];
      if (braceDepth > 0) cls = 'tok-label';
      else if ((fn.has(t) || agg.has(t)) && (after === '(' || agg.has(t))) cls = 'tok-fn';
      else if (kw.has(t)) cls = 'tok-kw';
      else if (lang === 'logql') cls = 'tok-label';
      else cls = 'tok-metric';
    } else if (c === '{') {
      braceDepth++;
      cls = 'tok-brace';
    } else if (c === '}') {
      braceDepth = Math.max(0, braceDepth - 1);
      cls = 'tok-brace';
    } else if ('=!~|<>+-*/%^@'.includes(c)) cls = 'tok-op';
    out.push({ text: t, cls });
    i += t.length;
  }
  return out;
}

// ---- Context analysis ---------------------------------------------------------------------------

interface Scan {
  /** Open brackets at the caret, innermost last, with their offsets. */
  stack: { ch: string; at: number }[];
  /** Offset of the opening quote when the caret is inside a string. */
  stringAt?: number;
  inComment: boolean;
}

function scan(text: string, pos: number): Scan {
  const stack: { ch: string; at: number }[] = [];
  let stringAt: number | undefined;
  let quote = '';
  let inComment = false;
  for (let i = 0; i < pos; i++) {
    const c = text[i];
    if (inComment) {
      if (c === '\n') inComment = false;
      continue;
    }
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) {
        quote = '';
        stringAt = undefined;
      }
      continue;
    }
    if (c === '#') inComment = true;
    else if (c === '"' || c === "'" || c === '`') {
      quote = c;
      stringAt = i;
    } else if (c === '{' || c === '(' || c === '[') stack.push({ ch: c, at: i });
    else if (c === '}' || c === ')' || c === ']') stack.pop();
  }
  return { stack, stringAt: quote ? stringAt : undefined, inComment };
}

/** True when `pos` is inside a string literal. */
function inString(text: string, pos: number): boolean {
  return scan(text, pos).stringAt !== undefined;
}

/** Identifier characters typed just before `pos`. */
function wordBefore(text: string, pos: number, chars = /[\w:]/): number {
  let s = pos;
  while (s > 0 && chars.test(text[s - 1])) s--;
  return s;
}

/** The matchers already written inside the braces opened at `open`, except the one at the caret. */
function previousMatchers(text: string, open: number, until: number): string[] {
  const inner = text.slice(open + 1, until);
  const out: string[] = [];
  for (const m of inner.matchAll(/([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)/g)) out.push(m[0]);
  return out;
}

/** The metric name right before a `{` at `open` (PromQL), or '' for a bare selector. */
function metricBefore(text: string, open: number): string {
  const m = text.slice(0, open).match(/([a-zA-Z_:][\w:]*)\s*$/);
  return m && !PROM_FN.has(m[1]) && !PROM_AGG.has(m[1]) && !PROM_KW.has(m[1]) ? m[1] : '';
}

/** Metric names written anywhere in a PromQL expression (for `by (...)` label suggestions). */
export function metricsIn(text: string): string[] {
  const names = new Set<string>();
  const stripped = text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""').replace(/\{[^}]*\}/g, '{}');
  for (const m of stripped.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const n = m[1];
    if (PROM_FN.has(n) || PROM_AGG.has(n) || PROM_KW.has(n)) continue;
    // Inside a by/without/on/ignoring list: a label, not a metric.
    const before = stripped.slice(0, m.index);
    if (/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/.test(before)) continue;
    if (/\[[^\]]*$/.test(before)) continue;
    names.add(n);
  }
  return [...names];
}

function rank(items: CompletionItem[], prefix: string, max = 200): CompletionItem[] {
  const p = prefix.toLowerCase();
  if (!p) return items.slice(0, max);
  const starts: CompletionItem[] = [];
  const contains: CompletionItem[] = [];
  for (const it of items) {
    const l = it.label.toLowerCase();
    if (l === p && items.length > 1 && it.kind !== 'metric' && it.kind !== 'label' && it.kind !== 'value') starts.unshift(it);
    else if (l.startsWith(p)) starts.push(it);
    else if (l.includes(p)) contains.push(it);
  }
  return [...starts, ...contains].slice(0, max);
}

function quoteValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** Cached lookups that expire after a minute (metric names and labels change slowly). */
function cached<T>(ttlMs = 60_000) {
  const store = new Map<string, { at: number; value: Promise<T> }>();
  return (key: string, load: () => Promise<T>): Promise<T> => {
    const hit = store.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const value = load().catch((e) => {
      store.delete(key);
      throw e;
    });
    store.set(key, { at: Date.now(), value });
    return value;
  };
}

function labelValueItems(values: string[], open: string | undefined, text: string, pos: number): CompletionItem[] {
  const closing = open && text[pos] === open;
  return values.map((v) => ({
    label: v,
    insert: open ? quoteValue(v) + (closing ? '' : open) : `"${quoteValue(v)}"`,
    kind: 'value' as const,
  }));
}

// ---- PromQL completer ---------------------------------------------------------------------------

/** Autocomplete for PromQL against pharos' Prometheus API (metric names, metadata, labels, values). */
export function promqlCompleter(): Completer {
  const metricsCache = cached<CompletionItem[]>();
  const labelsCache = cached<string[]>();
  const valuesCache = cached<string[]>(30_000);
  const metrics = () =>
    metricsCache('m', async () => {
      const [names, meta] = await Promise.all([
        request<{ data: string[] }>('/api/v1/label/__name__/values').then((e) => e.data ?? []),
        promMetadata().catch(() => ({}) as Record<string, { type: string; help: string; unit: string }[]>),
      ]);
      return names.map((n) => {
        const md = meta[n]?.[0] ?? meta[n.replace(/_(bucket|sum|count|total|created)$/, '')]?.[0];
        return { label: n, kind: 'metric' as const, detail: md?.type, doc: md?.help || undefined };
      });
    });
  const labelsFor = (metricNames: string[]) =>
    labelsCache(metricNames.join(','), () => promLabels(metricNames.length ? metricNames : undefined).then((l) => l ?? []));

  return async (text, pos, explicit) => {
    const sc = scan(text, pos);
    if (sc.inComment) return null;
    const top = sc.stack[sc.stack.length - 1];
    // Label values: inside a string inside braces, after `label=`.
    if (sc.stringAt !== undefined) {
      if (top?.ch !== '{') return null;
      const before = text.slice(top.at + 1, sc.stringAt);
      const m = before.match(/([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*$/);
      if (!m) return null;
      const metric = metricBefore(text, top.at);
      const others = previousMatchers(text, top.at, sc.stringAt).filter((x) => !x.startsWith(m[1]));
      const match = metric || others.length ? [`${metric}{${others.join(',')}}`] : undefined;
      const values = await valuesCache(`${m[1]}|${match?.[0] ?? ''}`, () => promLabelValues(m[1], match).then((v) => v ?? []));
      const prefix = text.slice(sc.stringAt + 1, pos);
      return { items: rank(labelValueItems(values, text[sc.stringAt], text, pos), prefix), from: sc.stringAt + 1, to: pos };
    }
    const from = wordBefore(text, pos);
    const prefix = text.slice(from, pos);
    if (top?.ch === '[') {
      const dfrom = wordBefore(text, pos, /[\w$]/);
      const items = DURATIONS.map(([d, doc]) => ({ label: d, kind: 'duration' as const, doc: doc || undefined }));
      return { items: rank(items, text.slice(dfrom, pos)), from: dfrom, to: pos };
    }
    if (top?.ch === '{') {
      const inner = text.slice(top.at + 1, from);
      // `label=` without a quote yet: values, quoted.
      const op = inner.match(/([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*$/);
      const metric = metricBefore(text, top.at);
      if (op) {
        const others = previousMatchers(text, top.at, from);
        const match = metric || others.length ? [`${metric}{${others.join(',')}}`] : undefined;
        const values = await valuesCache(`${op[1]}|${match?.[0] ?? ''}`, () => promLabelValues(op[1], match).then((v) => v ?? []));
        return { items: rank(labelValueItems(values, undefined, text, pos), prefix), from, to: pos };
      }
      if (!/(^|,)\s*$/.test(inner)) return null;
      const used = new Set(previousMatchers(text, top.at, from).map((x) => x.match(/^[\w]+/)?.[0]));
      const labels = (await labelsFor(metric ? [metric] : [])).filter((l) => l !== '__name__' && !used.has(l));
      const items = labels.map((l) => ({ label: l, insert: `${l}=""`, caret: l.length + 2, kind: 'label' as const, retrigger: true }));
      return { items: rank(items, prefix), from, to: pos };
    }
    if (top?.ch === '(' && /\b(by|without|on|ignoring|group_left|group_right)\s*$/.test(text.slice(0, top.at))) {
      const labels = await labelsFor(metricsIn(text));
      const items = labels.filter((l) => l !== '__name__').map((l) => ({ label: l, kind: 'label' as const }));
      return { items: rank(items, prefix), from, to: pos };
    }
    if (!prefix && !explicit) return null;
    // After a closing `)` or a name: operators and keywords make sense, else functions/metrics.
    const items: CompletionItem[] = [];
    for (const [n, [sig, doc]] of Object.entries(PROMQL_AGGREGATIONS))
      items.push({ label: n, insert: `${n}()`, caret: n.length + 1, kind: 'aggregation', detail: sig, doc });
    for (const [n, [sig, doc]] of Object.entries(PROMQL_FUNCTIONS))
      items.push({ label: n, insert: `${n}()`, caret: n.length + 1, kind: 'function', detail: sig, doc });
    for (const [n, doc] of Object.entries(PROMQL_KEYWORDS))
      items.push({ label: n, insert: ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(n) ? `${n} ()` : n, caret: ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(n) ? n.length + 2 : undefined, kind: 'keyword', doc, retrigger: ['by', 'without', 'on', 'ignoring'].includes(n) });
    let metricItems: CompletionItem[] = [];
    try {
      metricItems = await metrics();
    } catch {
      /* functions still complete when the server is down */
    }
    // Metric names first when the prefix matches one (what a person types most).
    const ranked = rank([...metricItems, ...items], prefix);
    return { items: ranked, from, to: pos };
  };
}

// ---- LogQL completer ----------------------------------------------------------------------------

/** Autocomplete for LogQL against pharos' Loki API; `range()` gives the time range (ms) to look in. */
export function logqlCompleter(range: () => { from: number; to: number }): Completer {
  const labelsCache = cached<string[]>(30_000);
  const valuesCache = cached<string[]>(30_000);
  return async (text, pos, explicit) => {
    const sc = scan(text, pos);
    if (sc.inComment) return null;
    const top = sc.stack[sc.stack.length - 1];
    const r = range();
    if (sc.stringAt !== undefined) {
      if (top?.ch !== '{') return null;
      const before = text.slice(top.at + 1, sc.stringAt);
      const m = before.match(/([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*$/);
      if (!m) return null;
      const values = await valuesCache(m[1], () => lokiLabelValues(m[1], r.from, r.to));
      const prefix = text.slice(sc.stringAt + 1, pos);
      return { items: rank(labelValueItems(values, text[sc.stringAt], text, pos), prefix), from: sc.stringAt + 1, to: pos };
    }
    const from = wordBefore(text, pos);
    const prefix = text.slice(from, pos);
    if (top?.ch === '[') {
      const dfrom = wordBefore(text, pos, /[\w$]/);
      const items = DURATIONS.map(([d, doc]) => ({ label: d, kind: 'duration' as const, doc: doc || undefined }));
      return { items: rank(items, text.slice(dfrom, pos)), from: dfrom, to: pos };
    }
    if (top?.ch === '{') {
      const inner = text.slice(top.at + 1, from);
      const op = inner.match(/([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*$/);
      if (op) {
        const values = await valuesCache(op[1], () => lokiLabelValues(op[1], r.from, r.to));
        return { items: rank(labelValueItems(values, undefined, text, pos), prefix), from, to: pos };
      }
      if (!/(^|,)\s*$/.test(inner)) return null;
      const used = new Set(previousMatchers(text, top.at, from).map((x) => x.match(/^[\w]+/)?.[0]));
      const labels = (await labelsCache('l', () => lokiLabels(r.from, r.to))).filter((l) => !used.has(l));
      const items = labels.map((l) => ({ label: l, insert: `${l}=""`, caret: l.length + 2, kind: 'label' as const, retrigger: true }));
      return { items: rank(items, prefix), from, to: pos };
    }
    if (top?.ch === '(' && /\b(by|without|on|ignoring)\s*$/.test(text.slice(0, top.at))) {
      const labels = await labelsCache('l', () => lokiLabels(r.from, r.to));
      return { items: rank(labels.map((l) => ({ label: l, kind: 'label' as const })), prefix), from, to: pos };
    }
    // Right after a pipe: parsers and formatting stages.
    const beforeWord = text.slice(0, from);
    if (/\|\s*$/.test(beforeWord) && !/[|!]=\s*$/.test(beforeWord)) {
      const items = Object.entries(LOGQL_STAGES).map(([n, [sig, doc, ins]]) => ({
        label: n,
        insert: ins ?? n,
        caret: ins?.endsWith('""') ? ins.length - 1 : undefined,
        kind: 'stage' as const,
        detail: sig,
        doc,
      }));
      return { items: rank(items, prefix), from, to: pos };
    }
    // After a selector or a stage: line filters and pipes.
    const selectorDone = /\}\s*$/.test(beforeWord) || /(json|logfmt|"\s*)\s+$/.test(beforeWord);
    if (!prefix && selectorDone && (explicit || /\}\s+$/.test(beforeWord))) {
      const items: CompletionItem[] = [
        ...LINE_FILTERS.map(([f, doc]) => ({ label: f, insert: f, caret: f.length - 1, kind: 'operator' as const, doc })),
        { label: '| json', kind: 'stage', doc: LOGQL_STAGES.json[1] },
        { label: '| logfmt', kind: 'stage', doc: LOGQL_STAGES.logfmt[1] },
        { label: '| line_format ""', insert: '| line_format ""', caret: 15, kind: 'stage', doc: LOGQL_STAGES.line_format[1] },
      ];
      return { items, from, to: pos };
    }
    if (!prefix && !explicit) return null;
    const items: CompletionItem[] = [];
    if (!text.slice(0, from).trim()) items.push({ label: '{', insert: '{}', caret: 1, kind: 'operator', doc: 'A stream selector: {app="api"}', retrigger: true });
    for (const [n, [sig, doc]] of Object.entries(LOGQL_RANGE_FUNCTIONS))
      items.push({ label: n, insert: `${n}()`, caret: n.length + 1, kind: 'function', detail: sig, doc });
    for (const [n, [sig, doc]] of Object.entries(LOGQL_AGGREGATIONS))
      items.push({ label: n, insert: `${n}()`, caret: n.length + 1, kind: 'aggregation', detail: sig, doc });
    for (const n of ['by', 'without'])
      items.push({ label: n, insert: `${n} ()`, caret: n.length + 2, kind: 'keyword', retrigger: true, doc: PROMQL_KEYWORDS[n] });
    return { items: rank(items, prefix), from, to: pos };
  };
}

// ---- The editor ---------------------------------------------------------------------------------

export interface EditorOptions {
  language: Language;
  value: string;
  placeholder?: string;
  completer?: Completer;
  onRun?: () => void;
  onChange?: (value: string) => void;
  /** `data-testid` of the textarea. */
  testId?: string;
}

export interface QueryEditor {
  el: HTMLElement;
  value(): string;
  setValue(v: string): void;
  focus(): void;
  destroy(): void;
}

const KIND_ICON: Record<CompletionItem['kind'], string> = {
  function: 'ƒ',
  aggregation: 'Σ',
  keyword: 'k',
  metric: 'm',
  label: 'L',
  value: 'v',
  duration: '◷',
  stage: '|',
  operator: '≡',
};

/** Builds a query editor; `el` goes into the page. */
export function queryEditor(opts: EditorOptions): QueryEditor {
  const ta = h('textarea', {
    class: 'qe-input',
    spellcheck: 'false',
    autocapitalize: 'off',
    autocomplete: 'off',
    rows: 1,
    placeholder: opts.placeholder ?? '',
    'aria-label': opts.language === 'promql' ? 'PromQL query' : 'LogQL query',
    'data-testid': opts.testId ?? 'query-input',
  });
  ta.value = opts.value;
  const hl = h('pre', { class: 'qe-highlight', 'aria-hidden': 'true' });
  const mirror = h('pre', { class: 'qe-highlight qe-mirror', 'aria-hidden': 'true' });
  const list = h('ul', { class: 'qe-list', role: 'listbox' });
  const doc = h('div', { class: 'qe-doc' });
  const pop = h('div', { class: 'qe-suggest', 'data-testid': 'suggestions', hidden: true }, list, doc);
  const el = h('div', { class: `qe qe-${opts.language}` }, hl, ta, mirror, pop);

  let result: CompletionResult | null = null;
  let selected = 0;
  let seq = 0;
  let destroyed = false;

  const highlight = () => {
    const text = ta.value;
    hl.replaceChildren(
      ...tokenize(text, opts.language).map((t) => (t.cls ? h('span', { class: t.cls }, t.text) : document.createTextNode(t.text))),
      // A trailing newline needs content after it to take up a line.
      document.createTextNode(text.endsWith('\n') || !text ? ' ' : ''),
    );
    ta.style.height = 'auto';
    ta.style.height = `${Math.max(hl.scrollHeight, ta.scrollHeight)}px`;
  };

  const close = () => {
    result = null;
    pop.hidden = true;
  };

  const caretXY = (): { x: number; y: number } => {
    mirror.replaceChildren(document.createTextNode(ta.value.slice(0, ta.selectionStart)), h('span', null, '\u200b'));
    const mark = mirror.lastElementChild as HTMLElement;
    return { x: mark.offsetLeft, y: mark.offsetTop + mark.offsetHeight };
  };

  const renderList = () => {
    if (!result || !result.items.length) return close();
    list.replaceChildren(
      ...result.items.map((it, i) =>
        h(
          'li',
          {
            class: `qe-item${i === selected ? ' selected' : ''}`,
            role: 'option',
            'aria-selected': String(i === selected),
            dataset: { kind: it.kind },
            onmousedown: (e: MouseEvent) => {
              e.preventDefault();
              accept(i);
            },
          },
          h('span', { class: `qe-kind qe-kind-${it.kind}`, title: it.kind }, KIND_ICON[it.kind]),
          h('span', { class: 'qe-label' }, it.label),
          it.detail && it.kind !== 'function' && it.kind !== 'aggregation' && it.kind !== 'stage' ? h('span', { class: 'qe-detail' }, it.detail) : null,
        ),
      ),
    );
    const cur = result.items[selected];
    replace(
      doc,
      cur?.detail && cur.kind !== 'metric' ? h('div', { class: 'qe-sig' }, cur.detail) : null,
      cur?.kind === 'metric' && cur.detail ? h('div', { class: 'qe-sig' }, `${cur.label} · ${cur.detail}`) : null,
      cur?.doc ? h('div', null, cur.doc) : null,
    );
    doc.hidden = !cur?.doc && !cur?.detail;
    pop.hidden = false;
    const { x, y } = caretXY();
    pop.style.left = `${Math.min(x, Math.max(0, el.clientWidth - 420))}px`;
    pop.style.top = `${y + 4}px`;
    (list.children[selected] as HTMLElement | undefined)?.scrollIntoView({ block: 'nearest' });
  };

  const suggest = async (explicit: boolean) => {
    if (!opts.completer) return;
    const my = ++seq;
    const pos = ta.selectionStart;
    if (ta.selectionEnd !== pos) return close();
    let r: CompletionResult | null = null;
    try {
      r = await opts.completer(ta.value, pos, explicit);
    } catch {
      r = null;
    }
    if (my !== seq || destroyed || document.activeElement !== ta) return;
    // Nothing left to complete when the only item is exactly what is typed.
    if (r && r.items.length === 1 && ta.value.slice(r.from, r.to) === (r.items[0].insert ?? r.items[0].label) && !explicit) r = null;
    result = r && r.items.length ? r : null;
    selected = 0;
    renderList();
  };

  const accept = (i: number) => {
    if (!result) return;
    const it = result.items[i];
    const ins = it.insert ?? it.label;
    const v = ta.value;
    ta.value = v.slice(0, result.from) + ins + v.slice(result.to);
    const caret = result.from + (it.caret ?? ins.length);
    ta.setSelectionRange(caret, caret);
    close();
    changed();
    if (it.retrigger) void suggest(true);
  };

  const changed = () => {
    highlight();
    opts.onChange?.(ta.value);
  };

  ta.addEventListener('input', (e) => {
    changed();
    const ie = e as InputEvent;
    if (ie.inputType?.startsWith('delete') && !result) return;
    void suggest(false);
  });
  ta.addEventListener('keydown', (e) => {
    const open = result !== null && !pop.hidden;
    if (open && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      const n = result!.items.length;
      selected = (selected + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      renderList();
      return;
    }
    if (open && (e.key === 'PageDown' || e.key === 'PageUp')) {
      e.preventDefault();
      const n = result!.items.length;
      selected = Math.max(0, Math.min(n - 1, selected + (e.key === 'PageDown' ? 8 : -8)));
      renderList();
      return;
    }
    if (e.key === 'Enter' && (e.shiftKey || e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      close();
      opts.onRun?.();
      return;
    }
    if (open && (e.key === 'Enter' || e.key === 'Tab')) {
      e.preventDefault();
      accept(selected);
      return;
    }
    if (e.key === 'Escape' && open) {
      e.preventDefault();
      e.stopPropagation();
      close();
      return;
    }
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      void suggest(true);
      return;
    }
    if (!e.ctrlKey && !e.metaKey && !e.altKey && autoPair(e.key)) e.preventDefault();
  });

  /** Closes brackets and quotes as they are typed, steps over a typed closer, deletes empty pairs. */
  const PAIRS: Record<string, string> = { '{': '}', '(': ')', '[': ']', '"': '"' };
  const autoPair = (key: string): boolean => {
    const s = ta.selectionStart;
    if (s !== ta.selectionEnd) return false;
    const v = ta.value;
    const next = v[s];
    const prev = v[s - 1];
    const put = (text: string, caret: number) => {
      ta.value = v.slice(0, s) + text + v.slice(s);
      ta.setSelectionRange(s + caret, s + caret);
      changed();
      void suggest(false);
      return true;
    };
    if (key === 'Backspace' && prev && PAIRS[prev] === next) {
      ta.value = v.slice(0, s - 1) + v.slice(s + 1);
      ta.setSelectionRange(s - 1, s - 1);
      changed();
      close();
      return true;
    }
    if ((key === ')' || key === ']' || key === '}' || key === '"') && next === key) {
      if (key === '"' && prev === '\\') return false;
      ta.setSelectionRange(s + 1, s + 1);
      close();
      return true;
    }
    const free = next === undefined || /[\s)\]},]/.test(next);
    if ((key === '{' || key === '(' || key === '[') && free) return put(key + PAIRS[key], 1);
    if (key === '"' && free && !/[\w\\"]/.test(prev ?? '') && !inString(v, s)) return put('""', 1);
    return false;
  };
  ta.addEventListener('blur', () => setTimeout(close, 100));
  ta.addEventListener('click', () => {
    if (result) void suggest(false);
  });
  ta.addEventListener('scroll', () => {
    hl.scrollTop = ta.scrollTop;
  });
  // Re-measure when the editor first becomes visible or the window resizes.
  const ro = new ResizeObserver(() => highlight());
  ro.observe(el);
  highlight();

  return {
    el,
    value: () => ta.value,
    setValue(v) {
      if (v === ta.value) return;
      ta.value = v;
      highlight();
    },
    focus: () => ta.focus(),
    destroy() {
      destroyed = true;
      ro.disconnect();
    },
  };
}
