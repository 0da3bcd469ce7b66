/**
 * A virtualised log list: only the rows in (and just around) the viewport exist in the DOM, so
 * tens of thousands of lines scroll smoothly. Each row shows time, a level colour bar and the
 * line (as text, never markup); a click expands it into its stream labels, fields parsed on the
 * client (JSON or logfmt), structured metadata, buttons that filter for/out a value, and a link
 * to the trace when a trace id is present. Row heights may vary (wrapping, expansion): they are
 * measured after rendering and positions are kept in a prefix-sum table.
 */
import { h, type Child } from '../lib/dom';
import { formatDateTime, TimeZone } from '../lib/time';

export type Level = 'critical' | 'error' | 'warning' | 'info' | 'debug' | 'trace' | 'unknown';

export interface LogEntry {
  /** Nanoseconds since the epoch as Loki writes them. */
  ts: string;
  timeMs: number;
  line: string;
  /** Stream labels (with a parser in the query, Loki includes the parsed labels here). */
  labels: Record<string, string>;
  /** Structured metadata: the third element of a Loki value. */
  metadata?: Record<string, string>;
  /** Labels extracted by the query's parser stages (Loki's categorized `parsed`). */
  parsed?: Record<string, string>;
  /** Unique, stable key of the entry within one list. */
  id: number;
  /** Derived lazily. */
  _level?: Level;
  _parsed?: ParsedLine | null;
}

export interface ParsedLine {
  format: 'json' | 'logfmt';
  fields: Record<string, string>;
}

export type FieldSource = 'label' | 'field' | 'metadata';

export interface FilterRequest {
  key: string;
  value: string;
  op: '=' | '!=';
  source: FieldSource;
  /** The parser the field needs when the query has none (`json`/`logfmt`). */
  parser?: 'json' | 'logfmt';
}

export interface LogListOptions {
  timeZone: TimeZone;
  wrap?: boolean;
  onFilter?: (f: FilterRequest) => void;
  /** Empty-state text when there are no entries. */
  emptyText?: string;
  /** Extra buttons in an expanded line's footer (e.g. "Show context"). */
  actions?: (e: LogEntry) => Child[];
}

export interface LogList {
  el: HTMLElement;
  /** Replaces the entries (in display order). */
  setEntries(entries: LogEntry[]): void;
  /** Adds entries at the top (live tail), keeping the reader's position when scrolled down; caps the list at `max`. */
  prepend(entries: LogEntry[], max?: number): void;
  setWrap(wrap: boolean): void;
  /** Shows these labels' values before each line (the labels that differ between streams); [] hides them. */
  setLabelKeys(keys: string[]): void;
  /** The text shown while the list is empty. */
  setEmptyText(text: string): void;
  setTimeZone(tz: TimeZone): void;
  count(): number;
  destroy(): void;
}

// ---- Levels and parsing -------------------------------------------------------------------------

const LEVEL_KEYS = ['level', 'lvl', 'loglevel', 'log_level', 'severity', 'detected_level', 'severity_text', 'levelname'];

/** Maps a level word to one of Grafana's log levels. */
export function normalizeLevel(v: string | undefined): Level {
  if (!v) return 'unknown';
  const s = v.toLowerCase();
  if (/^(crit|critical|fatal|panic|emerg|emergency|alert)/.test(s)) return 'critical';
  if (/^(err|error|eror|severe)/.test(s)) return 'error';
  if (/^(warn|warning)/.test(s)) return 'warning';
  if (/^(info|information|informational|notice)/.test(s)) return 'info';
  if (/^(debug|dbug|dbg)/.test(s)) return 'debug';
  if (/^(trace|verbose)/.test(s)) return 'trace';
  // Numeric syslog / bunyan / pino levels.
  const n = Number(s);
  if (Number.isFinite(n) && s !== '') {
    if (n >= 60) return 'critical';
    if (n >= 50) return 'error';
    if (n >= 40) return 'warning';
    if (n >= 30) return 'info';
    if (n >= 20) return 'debug';
    if (n >= 10) return 'trace';
  }
  return 'unknown';
}

/** Parses a JSON object line (nested keys joined with `_`, as Loki's json parser) or a logfmt line. */
export function parseLine(line: string): ParsedLine | null {
  const t = line.trim();
  if (t.startsWith('{') && t.endsWith('}')) {
    try {
      const obj = JSON.parse(t) as unknown;
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        const fields: Record<string, string> = {};
        const walk = (o: Record<string, unknown>, prefix: string) => {
          for (const [k, v] of Object.entries(o)) {
            const key = (prefix ? `${prefix}_${k}` : k).replace(/[^\w]/g, '_');
            if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, key);
            else fields[key] = v === null ? '' : typeof v === 'string' ? v : Array.isArray(v) ? JSON.stringify(v) : String(v);
          }
        };
        walk(obj as Record<string, unknown>, '');
        return { format: 'json', fields };
      }
    } catch {
      /* not JSON */
    }
  }
  const fields: Record<string, string> = {};
  let n = 0;
  for (const m of t.matchAll(/(?:^|\s)([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)/g)) {
    let v = m[2];
    if (v.startsWith('"')) {
      try {
        v = JSON.parse(v) as string;
      } catch {
        v = v.slice(1, -1);
      }
    }
    fields[m[1].replace(/[.\-]/g, '_')] = v;
    n++;
  }
  return n > 0 ? { format: 'logfmt', fields } : null;
}

export function parsedOf(e: LogEntry): ParsedLine | null {
  if (e._parsed === undefined) e._parsed = parseLine(e.line);
  return e._parsed;
}

/** The level of an entry: a level label, metadata, a parsed field, else a keyword in the line. */
export function levelOf(e: LogEntry): Level {
  if (e._level) return e._level;
  let lv: Level = 'unknown';
  const find = (rec: Record<string, string> | undefined) => {
    if (!rec) return undefined;
    for (const k of LEVEL_KEYS) if (rec[k] !== undefined) return rec[k];
    return undefined;
  };
  const v = find(e.labels) ?? find(e.metadata) ?? find(e.parsed) ?? find(parsedOf(e)?.fields);
  if (v !== undefined) lv = normalizeLevel(v);
  if (lv === 'unknown') {
    const m = e.line.slice(0, 256).match(/\b(CRITICAL|FATAL|PANIC|ERROR|ERR|WARN|WARNING|INFO|DEBUG|TRACE)\b/i);
    if (m) lv = normalizeLevel(m[1]);
  }
  e._level = lv;
  return lv;
}

const TRACE_KEYS = /^(trace_?id|traceid)$/i;

/** A trace id field found in metadata, labels or parsed fields. */
export function traceIdOf(e: LogEntry): string | undefined {
  for (const rec of [e.metadata, e.labels, e.parsed, parsedOf(e)?.fields]) {
    if (!rec) continue;
    for (const [k, v] of Object.entries(rec)) if (TRACE_KEYS.test(k) && /^[0-9a-fA-F]{8,32}$/.test(v)) return v;
  }
  return undefined;
}

// ---- The list -----------------------------------------------------------------------------------

const ROW_H = 21; // one line of 12.5px mono at line-height 1.55 + borders; measured anyway
const OVERSCAN_PX = 600;

export function createLogList(opts: LogListOptions): LogList {
  let entries: LogEntry[] = [];
  let wrap = !!opts.wrap;
  let labelKeys: string[] = [];
  let tz = opts.timeZone;
  const expanded = new Set<number>();
  const measured = new Map<number, number>();
  let offsets = new Float64Array(1);
  let dirty = true;
  const rendered = new Map<number, HTMLElement>();
  let frame = 0;

  const spacer = h('div', { class: 'loglist-spacer' });
  const empty = h('div', { class: 'msg msg-empty loglist-empty', hidden: true }, opts.emptyText ?? 'No log lines.');
  const el = h('div', { class: 'loglist', role: 'log', tabindex: '0', 'data-testid': 'log-list', dataset: { count: '0', rendered: '0' } }, spacer, empty);
  el.classList.toggle('wrap', wrap);

  const heightOf = (e: LogEntry) => measured.get(e.id) ?? ROW_H;

  const layout = () => {
    if (!dirty) return;
    if (offsets.length !== entries.length + 1) offsets = new Float64Array(entries.length + 1);
    let y = 0;
    for (let i = 0; i < entries.length; i++) {
      offsets[i] = y;
      y += heightOf(entries[i]);
    }
    offsets[entries.length] = y;
    spacer.style.height = `${y}px`;
    // Short results take their own height; long ones fill the window and scroll inside.
    const cap = Math.max(380, window.innerHeight - 250);
    el.style.height = `${Math.min(cap, Math.max(y, 60) + 2)}px`;
    dirty = false;
  };

  /** First index whose row ends below `y`. */
  const indexAt = (y: number) => {
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (offsets[mid + 1] <= y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const render = () => {
    frame = 0;
    layout();
    const top = el.scrollTop;
    const bottom = top + el.clientHeight;
    const first = indexAt(Math.max(0, top - OVERSCAN_PX));
    let last = first;
    while (last < entries.length && offsets[last] < bottom + OVERSCAN_PX) last++;
    const keep = new Set<number>();
    for (let i = first; i < last; i++) {
      const e = entries[i];
      keep.add(e.id);
      let row = rendered.get(e.id);
      if (!row) {
        row = renderRow(e);
        rendered.set(e.id, row);
        spacer.append(row);
      }
      row.style.transform = `translateY(${offsets[i]}px)`;
    }
    for (const [id, row] of rendered)
      if (!keep.has(id)) {
        row.remove();
        rendered.delete(id);
      }
    // Measure what was drawn; re-layout once if any height differs from the estimate.
    let changed = false;
    for (let i = first; i < last; i++) {
      const e = entries[i];
      const row = rendered.get(e.id)!;
      const hgt = row.offsetHeight;
      if (hgt && hgt !== heightOf(e)) {
        measured.set(e.id, hgt);
        changed = true;
      }
    }
    el.dataset.rendered = String(rendered.size);
    if (changed) {
      dirty = true;
      layout();
      for (let i = first; i < last; i++) rendered.get(entries[i].id)!.style.transform = `translateY(${offsets[i]}px)`;
    }
  };

  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(render);
  };

  const rerenderRow = (e: LogEntry) => {
    const old = rendered.get(e.id);
    if (!old) return;
    const row = renderRow(e);
    row.style.transform = old.style.transform;
    old.replaceWith(row);
    rendered.set(e.id, row);
    measured.delete(e.id);
    dirty = true;
    render();
  };

  const filterButtons = (key: string, value: string, source: FieldSource, parser?: 'json' | 'logfmt') =>
    opts.onFilter
      ? [
          h('button', { class: 'icon small', title: `Filter for ${key}="${value}"`, 'aria-label': `Filter for ${key}`, dataset: { action: 'filter-for', key }, onclick: () => opts.onFilter!({ key, value, op: '=', source, parser }) }, '⊕'),
          h('button', { class: 'icon small', title: `Filter out ${key}="${value}"`, 'aria-label': `Filter out ${key}`, dataset: { action: 'filter-out', key }, onclick: () => opts.onFilter!({ key, value, op: '!=', source, parser }) }, '⊖'),
        ]
      : [];

  const fieldRows = (rec: Record<string, string>, source: FieldSource, parser?: 'json' | 'logfmt') =>
    Object.keys(rec)
      .sort()
      .map((k) => {
        const v = rec[k];
        const isTrace = TRACE_KEYS.test(k) && /^[0-9a-fA-F]{8,32}$/.test(v);
        return h(
          'tr',
          { dataset: { field: k } },
          h('td', { class: 'log-field-actions' }, ...filterButtons(k, v, source, parser)),
          h('td', { class: 'log-field-key' }, k),
          h('td', { class: 'log-field-value' }, isTrace ? h('a', { href: `/trace/${encodeURIComponent(v)}`, 'data-testid': 'trace-link', title: 'Open this trace' }, v, ' ↗') : v),
        );
      });

  const details = (e: LogEntry) => {
    const parsed = parsedOf(e);
    // Fields the query's parser extracted, then those only the client found (not yet in the query).
    const known = (k: string) => e.labels[k] !== undefined || e.metadata?.[k] !== undefined || e.parsed?.[k] !== undefined;
    const parsedOnly: Record<string, string> = {};
    if (parsed) for (const [k, v] of Object.entries(parsed.fields)) if (!known(k)) parsedOnly[k] = v;
    const traceId = traceIdOf(e);
    const section = (title: string, rec: Record<string, string> | undefined, source: FieldSource, parser?: 'json' | 'logfmt') =>
      rec && Object.keys(rec).length
        ? [h('tr', { class: 'log-field-section' }, h('td', { colspan: '3' }, title)), ...fieldRows(rec, source, parser)]
        : [];
    return h(
      'div',
      { class: 'log-details', onclick: (ev: Event) => ev.stopPropagation() },
      h(
        'table',
        { class: 'log-fields' },
        h(
          'tbody',
          null,
          section('Indexed labels', e.labels, 'label'),
          section('Parsed fields', e.parsed, 'field'),
          section('Structured metadata', e.metadata, 'metadata'),
          parsed ? section(`Fields found in the line (${parsed.format}, not parsed by the query)`, parsedOnly, 'field', parsed.format) : [],
        ),
      ),
      h(
        'div',
        { class: 'log-detail-foot' },
        traceId ? h('a', { class: 'btn small', href: `/trace/${encodeURIComponent(traceId)}`, 'data-testid': 'trace-button' }, '⋔ Open trace ', traceId.slice(0, 16)) : null,
        h('span', { class: 'faint' }, `${formatDateTime(e.timeMs, tz, true)} · ts ${e.ts}`),
        ...(opts.actions?.(e) ?? []),
        h('button', {
          class: 'small',
          onclick: () => void navigator.clipboard?.writeText(e.line).catch(() => {}),
          title: 'Copy the line',
        }, 'Copy line'),
      ),
    );
  };

  const renderRow = (e: LogEntry): HTMLElement => {
    const lv = levelOf(e);
    const open = expanded.has(e.id);
    return h(
      'div',
      {
        class: `log-row lv-${lv}${open ? ' open' : ''}`,
        dataset: { level: lv, id: String(e.id) },
        onclick: () => {
          if (window.getSelection()?.toString()) return;
          if (expanded.has(e.id)) expanded.delete(e.id);
          else expanded.add(e.id);
          rerenderRow(e);
        },
      },
      h(
        'div',
        { class: 'log-main' },
        h('span', { class: 'log-bar', title: lv }),
        h('span', { class: 'log-caret' }, open ? '▾' : '▸'),
        h('span', { class: 'log-time' }, formatDateTime(e.timeMs, tz, true)),
        labelKeys.length
          ? h('span', { class: 'log-labels' }, ...labelKeys.filter((k) => e.labels[k] !== undefined).map((k) => h('span', { class: 'log-label', title: k }, `${k}=${e.labels[k]}`)))
          : null,
        h('span', { class: 'log-text' }, e.line),
      ),
      open ? details(e) : null,
    );
  };

  const reset = () => {
    for (const row of rendered.values()) row.remove();
    rendered.clear();
    dirty = true;
  };

  el.addEventListener('scroll', schedule, { passive: true });
  const ro = new ResizeObserver(() => {
    // Wrapped rows change height with the width.
    if (wrap) {
      measured.clear();
      reset();
    }
    schedule();
  });
  ro.observe(el);

  const setEmpty = () => {
    empty.hidden = entries.length > 0;
    el.dataset.count = String(entries.length);
  };

  return {
    el,
    setEntries(list) {
      entries = list;
      expanded.clear();
      measured.clear();
      reset();
      el.scrollTop = 0;
      setEmpty();
      render();
    },
    prepend(list, max = 10_000) {
      if (!list.length) return;
      layout();
      const before = el.scrollTop;
      entries = [...list, ...entries];
      if (entries.length > max) {
        for (const e of entries.slice(max)) measured.delete(e.id);
        entries.length = max;
      }
      dirty = true;
      layout();
      // Keep what the reader looks at in place when they scrolled away from the top.
      if (before > 0) el.scrollTop = before + list.reduce((s, e) => s + heightOf(e), 0);
      setEmpty();
      render();
    },
    setLabelKeys(keys) {
      if (keys.join('\u0000') === labelKeys.join('\u0000')) return;
      labelKeys = keys;
      measured.clear();
      reset();
      render();
    },
    setWrap(w) {
      wrap = w;
      el.classList.toggle('wrap', w);
      measured.clear();
      reset();
      render();
    },
    setEmptyText(text) {
      empty.textContent = text;
    },
    setTimeZone(t) {
      tz = t;
      reset();
      render();
    },
    count: () => entries.length,
    destroy() {
      ro.disconnect();
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
