/**
 * The incident page (`/incident?alertname=..&<label>=..&__start=<ms>`): one alert's context as
 * `/api/pharos/v1/incident` assembles it — the rule's query over the hours before, the logs of
 * the same service (errors first, with a volume histogram), its slowest and failed traces, the
 * error issues active in the window, targets down, restarts and config reloads. Every string
 * from the data is rendered as text.
 */
import { h, message } from '../lib/dom';
import { request } from '../lib/api';
import { formatDateTime } from '../lib/time';
import type { Page, PageContext } from '../lib/router';
import { createPanel } from '../panels/registry';
import '../panels/all';
import type { GrafanaPanel, PanelData, PanelRenderer, Series } from '../panels/types';
import { explorePanelContext } from '../explore/metrics';
import { newSilenceHref } from './silence_form';
import './pages.css';

type Labels = Record<string, string>;

interface Incident {
  alert: { labels: Labels; annotations: Labels; state: string; startsAt: number; endsAt: number | null; fingerprint: string };
  window: { from: number; to: number; graphFrom: number };
  join: { labels: { name: string; value: string }[]; lookedUpUnder: string[]; serviceLabels: string[]; instanceLabels: string[] };
  rule: { found: boolean; name: string; group?: string; expr?: string; language?: string; series?: { metric: Labels; values: [number, string][] }[]; error?: string | null; step?: number };
  logs: { query: string; exploreQuery?: string | null; total: number; errors: number; lines: { ts: string; labels: Labels; line: string; error: boolean }[]; histogram: { stepMs: number; buckets: { t: number; total: number; errors: number }[] }; problems: string[] };
  traces: { services: string[]; total: number; slowest: TraceSummary[]; failed: TraceSummary[] };
  errors: { total: number; issues: { id: string; title: string; culprit?: string; level?: string; count?: number; last_seen?: string; project?: string; sameService?: boolean }[] };
  targets: { downNow: { labels: Labels; scrapeUrl: string; lastError: string; sameService: boolean }[]; downInWindow: { labels: Labels; from: number; to: number; sameService: boolean }[] };
  events: { time: number; kind: string; text: string }[];
}

interface TraceSummary {
  traceID: string;
  root: string;
  startMs: number;
  durationMs: number;
  spans: number;
  errorSpans: number;
  error?: string | null;
}

const chips = (l: Labels, skip: string[] = []) =>
  Object.entries(l)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => h('span', { class: 'label-chip' }, `${k}="${v}"`));

function card(title: string, testid: string, ...body: (HTMLElement | string | null)[]): HTMLElement {
  return h('section', { class: 'card incident-card', 'data-testid': testid }, h('h2', null, title), ...body);
}

/** Bars of the log volume (all lines, errors in red). */
function histogram(hist: Incident['logs']['histogram'], alertAt: number): HTMLElement {
  const max = Math.max(1, ...hist.buckets.map((b) => b.total));
  const first = hist.buckets[0]?.t ?? 0;
  const span = Math.max(1, hist.buckets.length * hist.stepMs);
  const marker = alertAt >= first && alertAt <= first + span ? h('div', { class: 'incident-hist-marker', title: 'alert started', style: { left: `${((alertAt - first) / span) * 100}%` } }) : null;
  return h(
    'div',
    { class: 'incident-hist', 'data-testid': 'log-histogram' },
    ...hist.buckets.map((b) =>
      h(
        'div',
        { class: 'incident-bar', title: `${formatDateTime(b.t)}: ${b.total} lines, ${b.errors} errors` },
        h('div', { class: 'incident-bar-total', style: { height: `${(b.total / max) * 100}%` } }, h('div', { class: 'incident-bar-errors', style: { height: b.total ? `${(b.errors / b.total) * 100}%` : '0' } })),
      ),
    ),
    marker,
  );
}

function traceTable(list: TraceSummary[], testid: string, empty: string): HTMLElement {
  if (!list.length) return h('div', { class: 'faint' }, empty);
  return h(
    'table',
    { class: 'table incident-traces', 'data-testid': testid },
    h('thead', null, h('tr', null, h('th', null, 'Trace'), h('th', null, 'Root'), h('th', null, 'Started'), h('th', null, 'Duration'), h('th', null, 'Spans'), h('th', null, 'Error'))),
    h(
      'tbody',
      null,
      ...list.map((t) =>
        h(
          'tr',
          null,
          h('td', null, h('a', { href: `/trace/${encodeURIComponent(t.traceID)}`, class: 'mono', title: t.traceID }, shortTraceId(t.traceID))),
          h('td', null, t.root),
          h('td', null, formatDateTime(t.startMs)),
          h('td', null, `${t.durationMs.toFixed(1)} ms`),
          h('td', null, String(t.spans)),
          h('td', { class: t.errorSpans ? 'error-inline' : 'faint' }, t.errorSpans ? `${t.errorSpans} failed: ${t.error ?? ''}` : '—'),
        ),
      ),
    ),
  );
}

/** The join selector the shown lines carry (servers without `exploreQuery`). */
function selectorOfLines(inc: Incident): string | undefined {
  const values = new Set(inc.join.labels.map((l) => l.value));
  const first = inc.logs.lines[0]?.labels ?? {};
  const name = inc.join.lookedUpUnder.find((n) => first[n] !== undefined && values.has(first[n]));
  return name ? `{${name}=${JSON.stringify(first[name])}}` : undefined;
}

/** The trace id a log line carries: a trace_id/traceId label, JSON field or logfmt pair. */
function lineTraceId(labels: Labels, line: string): string | undefined {
  for (const [k, v] of Object.entries(labels)) if (/^(trace_?id|traceid)$/i.test(k) && /^[0-9a-fA-F]{16,32}$/.test(v)) return v;
  return line.match(/"?\btrace_?id"?\s*[:=]\s*"?([0-9a-fA-F]{16,32})\b/i)?.[1];
}

/** A LogQL line filter close to the server's error-line test (`is_error_line`). */
const ERROR_FILTER = ' |~ "(?i)(error|exception|fatal|panic)"';

/**
 * Explore links for the logs card: the error lines, then every line, of the stream that found the
 * most lines, over the minutes around the alert's start (5 before, 10 after) — what was logged
 * when it began, not the whole hour.
 */
function logsLinks(selector: string, startsAt: number, win: Incident['window']): HTMLElement | null {
  if (!selector) return null;
  const from = Math.max(win.from, startsAt - 5 * 60_000);
  const to = Math.max(from + 60_000, Math.min(win.to, startsAt + 10 * 60_000));
  const href = (query: string) => `/explore/logs?${new URLSearchParams({ query, from: String(from), to: String(to) })}`;
  const range = `${formatDateTime(from, 'browser', true).slice(11, 16)}–${formatDateTime(to, 'browser', true).slice(11, 16)}`;
  return h(
    'div',
    { class: 'incident-actions' },
    h('a', { class: 'btn small primary', href: href(selector + ERROR_FILTER), 'data-testid': 'incident-error-logs', title: `${selector}${ERROR_FILTER}` }, `Error lines ${range} in Explore`),
    h('a', { class: 'btn small', href: href(selector), 'data-testid': 'incident-all-logs', title: selector }, 'All lines'),
  );
}

function toSeries(s: NonNullable<Incident['rule']['series']>): Series[] {
  return s.map((x, i) => ({
    refId: 'A',
    name: Object.entries(x.metric).map(([k, v]) => `${k}="${v}"`).join(', ') || `series ${i + 1}`,
    labels: x.metric,
    times: x.values.map(([t]) => Math.round(t * 1000)),
    values: x.values.map(([, v]) => {
      const n = Number(v);
      return Number.isFinite(n) ? n : null;
    }),
  }));
}

/** A trace id short enough for a table cell: a 64-bit id padded to 128 bits shows its significant half. */
function shortTraceId(id: string): string {
  const significant = id.replace(/^0+(?=.{16})/, '');
  return significant.length > 16 ? significant.slice(0, 16) : significant;
}

export function incidentPage(ctx: PageContext): Page {
  const root = h('div', { class: 'page incident-page' }, message('loading', 'Assembling the incident context'));
  ctx.root.append(root);
  let panel: PanelRenderer | undefined;
  let ro: ResizeObserver | undefined;
  const q = new URLSearchParams(ctx.query);
  const name = q.get('alertname') ?? '';
  void (async () => {
    let inc: Incident;
    try {
      inc = await request<Incident>(`/api/pharos/v1/incident?${q}`);
    } catch (e) {
      root.replaceChildren(h('div', { class: 'page-header' }, h('h1', null, 'Incident')), message('error', 'Cannot assemble the incident context', (e as Error).message));
      return;
    }
    const a = inc.alert;
    const end = a.endsAt ?? inc.window.to;
    const joinText = inc.join.labels.length
      ? `Joined by ${inc.join.labels.map((l) => `${l.name}="${l.value}"`).join(', ')}, looked up under ${inc.join.lookedUpUnder.join(', ')}`
      : `The alert has none of the labels ${[...inc.join.serviceLabels, ...inc.join.instanceLabels].join(', ')}: nothing to join logs and traces by.`;
    const silence = newSilenceHref(a.labels);
    // The rule's query.
    const graphBody = h('div', { class: 'incident-graph', 'data-testid': 'incident-graph' });
    const rule = inc.rule;
    const ruleCard = card(
      'Rule query',
      'incident-rule',
      rule.found
        ? h('div', { class: 'rule-expr mono' }, rule.expr ?? '', h('span', { class: 'faint' }, `  · group ${rule.group ?? ''}`))
        : h('div', { class: 'faint' }, `No rule named ${name} is loaded (the alert came from another source).`),
      rule.error ? h('div', { class: 'error-inline' }, rule.error) : null,
      rule.found && rule.language === 'promql' ? graphBody : null,
      rule.found && rule.expr
        ? h('a', { class: 'btn small', href: `/${rule.language === 'logql' ? 'explore/logs' : 'explore/metrics'}?${new URLSearchParams({ query: rule.expr, from: String(inc.window.graphFrom), to: String(inc.window.to) })}` }, 'Open in Explore')
        : null,
    );
    // Logs.
    const logs = inc.logs;
    const logsCard = card(
      `Logs (${logs.total} lines, ${logs.errors} errors)`,
      'incident-logs',
      inc.join.labels.length ? histogram(logs.histogram, a.startsAt) : null,
      logs.problems.length ? h('div', { class: 'error-inline' }, logs.problems.join('; ')) : null,
      logs.lines.length
        ? h(
            'div',
            { class: 'incident-lines' },
            ...logs.lines.map((l) =>
              {
                const tid = lineTraceId(l.labels, l.line);
                return h(
                  'div',
                  {
                    class: `incident-line${l.error ? ' is-error' : ''}`,
                    'data-testid': 'incident-line',
                    title: 'Click to show the whole line',
                    onclick: (ev: Event) => {
                      if (!(ev.target as HTMLElement).closest('a')) (ev.currentTarget as HTMLElement).classList.toggle('open');
                    },
                  },
                  h('span', { class: 'faint mono' }, formatDateTime(Number(BigInt(l.ts) / 1000000n), 'browser', true)),
                  ' ',
                  tid ? h('a', { class: 'incident-line-trace', href: `/trace/${encodeURIComponent(tid)}`, 'data-testid': 'incident-line-trace', title: `Open trace ${tid}` }, '⋔ trace') : null,
                  tid ? ' ' : null,
                  h('span', { class: 'mono' }, l.line),
                );
              },
            ),
          )
        : h('div', { class: 'faint' }, 'No log lines of this service in the window.'),
      logsLinks(logs.exploreQuery ?? selectorOfLines(inc) ?? logs.query.split(' or ')[0], a.startsAt, inc.window),
    );
    const tracesCard = card(
      `Traces (${inc.traces.total} of ${inc.traces.services.join(', ') || 'no matching service'})`,
      'incident-traces',
      h('h3', null, 'Failed'),
      traceTable(inc.traces.failed, 'failed-traces', 'No failed traces in the window.'),
      h('h3', null, 'Slowest'),
      traceTable(inc.traces.slowest, 'slowest-traces', 'No traces in the window.'),
    );
    const errorsCard = card(
      `Error issues active in the window (${inc.errors.total})`,
      'incident-errors',
      inc.errors.issues.length
        ? h(
            'ul',
            { class: 'incident-list' },
            ...inc.errors.issues.map((i) =>
              h('li', null, h('a', { href: `/errors/${encodeURIComponent(i.id)}`, 'data-testid': 'incident-issue' }, i.title), h('span', { class: 'faint' }, ` · ${i.project ?? ''} · ${i.count ?? 0} events${i.sameService ? ' · same service' : ''}`)),
            ),
          )
        : h('div', { class: 'faint' }, 'No error issues were active in the window.'),
    );
    const t = inc.targets;
    const targetsCard = card(
      'Targets down',
      'incident-targets',
      t.downNow.length || t.downInWindow.length
        ? h(
            'ul',
            { class: 'incident-list' },
            ...t.downNow.map((x) => h('li', null, h('span', { class: 'badge badge-down' }, 'down now'), ' ', ...chips(x.labels), h('span', { class: 'error-inline' }, ` ${x.lastError}`))),
            ...t.downInWindow.map((x) => h('li', null, h('span', { class: 'badge badge-pending' }, 'down'), ` ${formatDateTime(x.from)} – ${formatDateTime(x.to)} `, ...chips(x.labels, ['__name__']))),
          )
        : h('div', { class: 'faint' }, 'Every target was up in the window.'),
    );
    const eventsCard = card(
      'Restarts and config reloads',
      'incident-events',
      inc.events.length
        ? h('ul', { class: 'incident-list' }, ...inc.events.map((e) => h('li', null, h('span', { class: 'faint' }, formatDateTime(e.time)), ` ${e.kind}: ${e.text}`)))
        : h('div', { class: 'faint' }, 'None in the window.'),
    );
    root.replaceChildren(
      h(
        'div',
        { class: 'page-header' },
        h('h1', null, `Incident: ${name}`),
        h('span', { class: `badge badge-${a.state === 'firing' ? 'firing' : a.state === 'resolved' ? 'resolved' : 'unknown'}`, 'data-testid': 'incident-state' }, a.state),
        h('span', { class: 'spacer' }),
        h('a', { class: 'btn small', href: silence }, 'Silence'),
        h('a', { class: 'btn small', href: '/alerts' }, 'Alerts'),
      ),
      h(
        'div',
        { class: 'card incident-summary' },
        a.annotations.summary ? h('div', { class: 'summary' }, a.annotations.summary) : null,
        a.annotations.description ? h('div', { class: 'dim' }, a.annotations.description) : null,
        h('div', { class: 'chips' }, ...chips(a.labels, ['alertname'])),
        h('div', { class: 'faint' }, `Started ${formatDateTime(a.startsAt)}${a.endsAt ? `, resolved ${formatDateTime(a.endsAt)}` : ''} · window ${formatDateTime(inc.window.from)} – ${formatDateTime(inc.window.to)}`),
        h('div', { class: 'faint', 'data-testid': 'incident-join' }, joinText),
      ),
      h('div', { class: 'incident-grid' }, ruleCard, logsCard, tracesCard, errorsCard, targetsCard, eventsCard),
    );
    if (rule.found && rule.language === 'promql') {
      const gp: GrafanaPanel = {
        type: 'timeseries',
        title: '',
        fieldConfig: { defaults: { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never' } }, overrides: [] },
        options: { legend: { showLegend: true, displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'desc' } },
      };
      panel = createPanel(graphBody, gp, explorePanelContext(() => 'browser', () => {}));
      const data: PanelData = {
        series: toSeries(rule.series ?? []),
        tables: [],
        logs: [],
        errors: [],
        notices: [],
        range: { from: inc.window.graphFrom, to: inc.window.to, raw: { from: String(inc.window.graphFrom), to: String(inc.window.to) } },
        intervalMs: rule.step ?? 15000,
        annotations: [{ time: a.startsAt, timeEnd: end > a.startsAt ? end : undefined, title: `${name} ${a.state}`, text: a.annotations.summary ?? '', tags: [], color: 'rgba(242, 73, 92, 1)', source: 'Alert' }],
      };
      panel.update(data, gp);
      ro = new ResizeObserver(() => panel?.resize(graphBody.clientWidth, graphBody.clientHeight));
      ro.observe(graphBody);
    }
  })();
  return {
    title: `Incident ${name}`,
    unmount() {
      ro?.disconnect();
      panel?.destroy();
    },
  };
}
