/**
 * `/errors/:id`: one issue as Sentry shows it — a header with status actions (Resolve, Ignore,
 * Unresolve), counts and a sparkline, tag breakdown bars, and one event at a time (older /
 * newer / latest, `?event=<id>`) with its exception chain, stack trace newest frame first
 * (in-app frames emphasised, context lines unfolding), breadcrumbs, request, user, contexts,
 * SDK and tags, and a link to the event's trace.
 */
import './errors.css';
import { h, message, replace } from '../lib/dom';
import { ApiError } from '../lib/api';
import { formatDateTime } from '../lib/time';
import { setQuery, type Page, type PageContext } from '../lib/router';
import { agoEl, failure, formatCount } from '../pages/status';
import {
  fetchEvent,
  fetchIssue,
  fetchIssueEvents,
  fetchLatestEvent,
  levelBadge,
  levelClass,
  setIssueStatus,
  sparkline,
  splitTitle,
  STATUS_LABEL,
  toMs,
  type Breadcrumb,
  type ErrorEvent,
  type ExceptionValue,
  type Frame,
  type IssueDetail,
  type TagValue,
} from './api';

export function errorIssuePage(ctx: PageContext): Page {
  const issueId = ctx.params.id ?? '';
  const headerEl = h('div', { class: 'err-issue-header' });
  const tagsEl = h('div', { class: 'err-tags-side' });
  const eventEl = h('div', { class: 'err-event' });
  const page = h(
    'div',
    { class: 'page err-page err-detail', 'data-testid': 'issue-page' },
    h('div', { class: 'err-crumbs' }, h('a', { href: '/errors' }, '← Errors')),
    headerEl,
    h('div', { class: 'err-detail-cols' }, eventEl, tagsEl),
  );
  ctx.root.append(page);
  replace(headerEl, message('loading', `Loading issue ${issueId}`));
  let issue: IssueDetail | undefined;
  let abort = new AbortController();
  let eventId = ctx.query.get('event') ?? '';

  async function loadIssue() {
    try {
      issue = await fetchIssue(issueId);
      document.title = `${splitTitle(issue.title).type} · ${issue.culprit || `issue ${issueId}`} · pharos`;
      drawHeader();
      drawTags();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        replace(headerEl, h('div', { class: 'card', 'data-testid': 'issue-not-found' }, message('empty', `Issue ${issueId} not found.`, 'It may have been deleted by retention, or the link is mistyped.'), h('div', { class: 'err-center' }, h('a', { class: 'btn', href: '/errors' }, 'All issues'))));
      } else replace(headerEl, failure(`issue ${issueId}`, e));
      replace(tagsEl);
      replace(eventEl);
      return false;
    }
    return true;
  }

  function drawHeader() {
    if (!issue) return;
    const i = issue;
    const t = splitTitle(i.title);
    const status = i.status;
    const act = (label: string, to: string, cls = '') =>
      h(
        'button',
        {
          class: cls,
          'data-testid': `action-${to}`,
          onclick: async () => {
            try {
              const updated = await setIssueStatus(i.id, to);
              issue = { ...i, ...(updated ?? {}), status: updated?.status ?? to, tags: i.tags, latest_event_id: i.latest_event_id };
              drawHeader();
            } catch (e) {
              statusErr.textContent = `Could not change the status: ${e instanceof Error ? e.message : String(e)}`;
            }
          },
        },
        label,
      );
    const statusErr = h('span', { class: 'error-inline' });
    const actions =
      status === 'unresolved'
        ? [act('✓ Resolve', 'resolved', 'primary'), act('Resolve in next release', 'resolved_in_next_release'), act('Ignore', 'ignored')]
        : [act('↺ Unresolve', 'unresolved', 'primary'), status !== 'ignored' ? act('Ignore', 'ignored') : act('✓ Resolve', 'resolved')];
    replace(
      headerEl,
      h(
        'div',
        { class: `card err-head-card ${levelClass(i.level)}` },
        h(
          'div',
          { class: 'err-head-top' },
          h(
            'div',
            { class: 'err-head-title' },
            h('h1', { 'data-testid': 'issue-title' }, h('span', { class: 'err-type' }, t.type), t.value ? h('span', { class: 'err-value' }, t.value) : null),
            h(
              'div',
              { class: 'err-sub' },
              levelBadge(i.level),
              i.culprit ? h('span', { class: 'mono err-culprit' }, i.culprit) : null,
              h('span', { class: `badge ${status === 'unresolved' ? 'badge-pending' : status === 'ignored' ? 'badge-expired' : 'badge-resolved'}`, 'data-testid': 'issue-status' }, STATUS_LABEL[status] ?? status),
              i.regressed ? h('span', { class: 'badge badge-critical', 'data-testid': 'badge-regressed', title: 'Was resolved, then seen again' }, 'regressed') : null,
              i.platform ? h('span', { class: 'tag' }, i.platform) : null,
            ),
          ),
          h('div', { class: 'err-head-actions toolbar' }, ...actions, statusErr),
        ),
        h(
          'div',
          { class: 'err-head-stats' },
          stat('Events', formatCount(i.count), 'stat-events'),
          stat('Users', formatCount(i.users ?? 0), 'stat-users'),
          stat('First seen', agoEl(toMs(i.first_seen)), 'stat-first'),
          stat('Last seen', agoEl(toMs(i.last_seen)), 'stat-last'),
          h('div', { class: 'err-stat err-head-spark' }, h('div', { class: 'err-stat-label' }, 'Events, last 24 hours'), sparkline(i.sparkline, 260, 34)),
        ),
      ),
    );
  }

  function drawTags() {
    const tags = Object.entries(issue?.tags ?? {}).filter(([, v]) => v?.length);
    if (!tags.length) {
      replace(tagsEl, h('div', { class: 'card' }, h('h2', null, 'Tags'), h('div', { class: 'faint' }, 'No tags on this issue’s events.')));
      return;
    }
    const order = ['level', 'environment', 'release', 'server_name', 'transaction', 'url', 'runtime', 'os', 'browser', 'user'];
    tags.sort(([a], [b]) => ((order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99)) || a.localeCompare(b));
    replace(tagsEl, h('div', { class: 'card', 'data-testid': 'tag-breakdown' }, h('h2', null, 'Tags'), ...tags.map(([k, v]) => tagBars(k, v))));
  }

  async function loadEvent(id: string, push = false) {
    abort.abort();
    abort = new AbortController();
    const signal = abort.signal;
    replace(eventEl, message('loading', 'Loading event'));
    try {
      const ev = id ? await fetchEvent(id, signal) : await fetchLatestEvent(issueId, signal);
      if (signal.aborted) return;
      eventId = id;
      if (push) setQuery({ event: id || null }, true);
      drawEvent(ev);
    } catch (e) {
      if (signal.aborted || (e as Error).name === 'AbortError') return;
      if (e instanceof ApiError && e.status === 404) {
        replace(eventEl, h('div', { class: 'card' }, message('empty', id ? `Event ${id} not found.` : 'This issue has no stored event.', 'Events older than the retention are deleted; the issue keeps its counts.'), h('div', { class: 'err-center' }, id ? h('button', { onclick: () => void loadEvent('', true) }, 'Latest event') : null)));
      } else replace(eventEl, failure('the event', e));
    }
  }

  function drawEvent(ev: ErrorEvent) {
    const navBtn = (label: string, target: string | null | undefined, testid: string, title: string) =>
      h('button', { class: 'small', disabled: !target, 'data-testid': testid, title, onclick: () => target !== undefined && target !== null && void loadEvent(target, true) }, label);
    const latestId = issue?.latest_event_id;
    const isLatest = !eventId || eventId === latestId || (!ev.next_event_id && ev.next_event_id !== undefined);
    const trace = ev.trace_id ?? traceFromContexts(ev.contexts);
    const ts = toMs(ev.timestamp);
    const allEvents = h('div', { class: 'err-all-events' });
    const sections: (HTMLElement | null)[] = [
      exceptionSection(ev),
      !ev.exception?.values?.length && ev.message ? section('Message', h('pre', { class: 'err-message', 'data-testid': 'event-message' }, ev.message)) : null,
      breadcrumbSection(ev),
      requestSection(ev.request),
      kvSection('User', ev.user, 'event-user'),
      contextsSection(ev.contexts),
      tagsSection(ev.tags),
      ev.sdk?.name || ev.sdk?.version ? section('SDK', kvTable({ name: ev.sdk.name, version: ev.sdk.version }), 'event-sdk') : null,
    ];
    replace(
      eventEl,
      h(
        'div',
        { class: 'card err-event-bar' },
        h(
          'div',
          { class: 'toolbar' },
          h('strong', null, 'Event '),
          h('span', { class: 'mono dim', 'data-testid': 'event-id', title: 'Event ID' }, ev.event_id),
          ts ? h('span', { class: 'dim', title: formatDateTime(ts, 'utc') + ' UTC' }, formatDateTime(ts)) : null,
          ev.release ? h('span', { class: 'label-chip', title: 'release' }, `release ${ev.release}`) : null,
          ev.environment ? h('span', { class: 'label-chip', title: 'environment' }, ev.environment) : null,
          trace
            ? h('a', { class: 'btn small primary', href: `/trace/${encodeURIComponent(trace)}${ev.span_id ? `?span=${encodeURIComponent(ev.span_id)}` : ''}`, 'data-testid': 'view-trace', title: `Trace ${trace}` }, '⋔ View trace')
            : h('span', { class: 'faint small', title: 'The SDK sent no trace context with this event' }, 'no trace'),
          h('span', { class: 'spacer' }),
          h(
            'div',
            { class: 'seg-group' },
            navBtn('← Older', ev.previous_event_id, 'event-older', 'The event before this one'),
            navBtn('Newer →', ev.next_event_id, 'event-newer', 'The event after this one'),
          ),
          h('button', { class: 'small', disabled: isLatest, 'data-testid': 'event-latest', onclick: () => void loadEvent('', true) }, 'Latest'),
          h('a', { class: 'btn small', href: `/api/pharos/v1/errors/events/${encodeURIComponent(ev.event_id)}`, target: '_blank', 'data-native': '', title: 'The event as JSON' }, 'JSON'),
        ),
      ),
      ...sections.filter((s): s is HTMLElement => !!s),
      h(
        'details',
        {
          class: 'card err-section',
          'data-testid': 'all-events',
          ontoggle: (e: Event) => {
            if ((e.target as HTMLDetailsElement).open && !allEvents.childElementCount) void drawAllEvents(allEvents, ev.event_id);
          },
        },
        h('summary', null, h('h2', null, 'All events of this issue')),
        allEvents,
      ),
    );
  }

  async function drawAllEvents(into: HTMLElement, current: string) {
    replace(into, message('loading', 'Loading events'));
    try {
      const { events, total } = await fetchIssueEvents(issueId, 100);
      if (!events.length) return replace(into, message('empty', 'No events stored.'));
      replace(
        into,
        h(
          'table',
          { class: 'data' },
          h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Event'), h('th', null, 'Message'), h('th', null, 'Release'), h('th', null, 'Environment'), h('th', null, 'Trace'))),
          h(
            'tbody',
            null,
            ...events.map((e) =>
              h(
                'tr',
                { class: e.event_id === current ? 'err-current' : '' },
                h('td', { class: 'nowrap' }, formatDateTime(toMs(e.timestamp))),
                h('td', null, h('a', { class: 'mono', href: `/errors/${encodeURIComponent(issueId)}?event=${encodeURIComponent(e.event_id)}`, onclick: (x: Event) => (x.preventDefault(), void loadEvent(e.event_id, true)) }, String(e.event_id ?? '').slice(0, 12))),
                h('td', { class: 'err-ellipsis' }, e.message ?? ''),
                h('td', null, e.release ?? ''),
                h('td', null, e.environment ?? ''),
                h('td', null, e.trace_id ? h('a', { class: 'mono', href: `/trace/${encodeURIComponent(e.trace_id)}` }, String(e.trace_id).slice(0, 12)) : ''),
              ),
            ),
          ),
        ),
        total > events.length ? h('div', { class: 'faint small pad' }, `The newest ${events.length} of ${total} events.`) : null,
      );
    } catch (e) {
      replace(into, failure('the events', e));
    }
  }

  void (async () => {
    if (await loadIssue()) await loadEvent(eventId);
  })();

  return {
    title: `Issue ${issueId}`,
    unmount() {
      abort.abort();
    },
    onQueryChange(q) {
      const next = q.get('event') ?? '';
      if (next !== eventId) void loadEvent(next);
    },
  };
}

function stat(label: string, value: string | Node, testid: string): HTMLElement {
  return h('div', { class: 'err-stat', 'data-testid': testid }, h('div', { class: 'err-stat-label' }, label), h('div', { class: 'err-stat-value' }, value));
}

function section(title: string, body: Node, testid?: string, extra?: Node | null): HTMLElement {
  return h('section', { class: 'card err-section', 'data-testid': testid }, h('div', { class: 'err-section-head' }, h('h2', null, title), extra ?? null), body);
}

/** One tag key: its top values as bars with their share of the events. */
function tagBars(key: string, values: TagValue[]): HTMLElement {
  const total = values.reduce((a, v) => a + v.count, 0) || 1;
  const top = [...values].sort((a, b) => b.count - a.count).slice(0, 5);
  return h(
    'div',
    { class: 'err-tag', 'data-testid': 'tag', 'data-key': key },
    h('div', { class: 'err-tag-key' }, key, values.length > 5 ? h('span', { class: 'faint' }, ` (${values.length} values)`) : null),
    ...top.map((v) => {
      const pct = (v.count / total) * 100;
      return h(
        'div',
        { class: 'err-tag-val', title: `${key}=${v.value}: ${v.count} events (${pct.toFixed(1)}%)` },
        h('div', { class: 'err-tag-fill', style: { width: `${pct}%` } }),
        h('span', { class: 'err-tag-name' }, tagLink(key, v.value)),
        h('span', { class: 'err-tag-pct' }, `${pct < 1 ? '<1' : Math.round(pct)}%`),
      );
    }),
  );
}

// ---- exception and stack trace -----------------------------------------------------------------

function exceptionSection(ev: ErrorEvent): HTMLElement | null {
  const values = ev.exception?.values ?? [];
  if (!values.length) return null;
  // Sentry stores the chain cause first; the exception that was finally raised is last.
  const chain = [...values].reverse();
  const inAppOnly = { on: chain.some((v) => (v.stacktrace?.frames ?? []).some((f) => f.in_app)) };
  const body = h('div', { class: 'err-chain' });
  const draw = () =>
    replace(body, ...chain.map((v, i) => exceptionBlock(v, i, inAppOnly.on)));
  const toggle = inAppOnly.on
    ? h(
        'div',
        { class: 'seg-group' },
        h('button', { class: 'small active', 'data-testid': 'frames-app', onclick: (e: Event) => setMode(e, true) }, 'App frames'),
        h('button', { class: 'small', 'data-testid': 'frames-full', onclick: (e: Event) => setMode(e, false) }, 'Full stack'),
      )
    : null;
  function setMode(e: Event, on: boolean) {
    inAppOnly.on = on;
    const group = (e.target as HTMLElement).parentElement;
    group?.querySelectorAll('button').forEach((b, i) => b.classList.toggle('active', (i === 0) === on));
    draw();
  }
  draw();
  return section(
    chain.length > 1 ? `Exception (${chain.length} chained)` : 'Exception',
    body,
    'exception',
    h('div', { class: 'toolbar' }, h('span', { class: 'faint small' }, 'most recent call first'), toggle),
  );
}

function exceptionBlock(v: ExceptionValue, index: number, appOnly: boolean): HTMLElement {
  const frames = [...(v.stacktrace?.frames ?? [])].reverse(); // newest first
  const anyInApp = frames.some((f) => f.in_app);
  const mech = v.mechanism;
  const rows: HTMLElement[] = [];
  let hidden = 0;
  let firstAppOpened = false;
  const flushHidden = () => {
    if (!hidden) return;
    rows.push(h('div', { class: 'err-frames-hidden faint' }, `… ${hidden} system frame${hidden === 1 ? '' : 's'} hidden`));
    hidden = 0;
  };
  frames.forEach((f, i) => {
    if (appOnly && anyInApp && !f.in_app) {
      hidden++;
      return;
    }
    flushHidden();
    const open = !firstAppOpened && (f.in_app || !anyInApp) && hasContext(f);
    if (open) firstAppOpened = true;
    rows.push(frameRow(f, open, index === 0 && i === 0));
  });
  flushHidden();
  return h(
    'div',
    { class: 'err-exc', 'data-testid': 'exception-value' },
    index > 0 ? h('div', { class: 'err-caused faint' }, 'Caused by') : null,
    h(
      'div',
      { class: 'err-exc-head' },
      h('span', { class: 'err-exc-type', 'data-testid': 'exception-type' }, v.type ?? 'Error'),
      v.module ? h('span', { class: 'faint mono small' }, ` ${v.module}`) : null,
      mech?.handled === false ? h('span', { class: 'badge badge-critical', title: `mechanism: ${mech.type ?? ''}` }, 'unhandled') : mech?.type ? h('span', { class: 'tag', title: 'mechanism' }, mech.type) : null,
    ),
    v.value ? h('pre', { class: 'err-exc-value', 'data-testid': 'exception-message' }, v.value) : null,
    frames.length ? h('div', { class: 'err-frames', 'data-testid': 'stacktrace' }, ...rows) : h('div', { class: 'faint small' }, 'No stack trace was sent with this exception.'),
  );
}

function hasContext(f: Frame): boolean {
  return f.context_line !== undefined && f.context_line !== null;
}

function frameRow(f: Frame, open: boolean, newest: boolean): HTMLElement {
  const file = f.filename || f.abs_path || f.module || '<unknown>';
  const where = h(
    'span',
    { class: 'err-frame-where' },
    h('span', { class: 'err-frame-file' }, file),
    f.function ? [h('span', { class: 'faint' }, ' in '), h('span', { class: 'err-frame-fn' }, f.function)] : null,
    f.lineno ? [h('span', { class: 'faint' }, ' at line '), h('span', { class: 'err-frame-line' }, String(f.lineno)), f.colno ? h('span', { class: 'faint' }, `:${f.colno}`) : null] : null,
  );
  const vars = f.vars && typeof f.vars === 'object' && Object.keys(f.vars).length ? h('div', { class: 'err-vars' }, h('div', { class: 'faint small' }, 'Local variables'), kvTable(f.vars, 'frame-vars')) : null;
  const body = hasContext(f) || vars ? h('div', null, hasContext(f) ? contextLines(f) : null, vars) : null;
  const attrs = { class: `err-frame${f.in_app ? ' in-app' : ' system'}`, 'data-testid': 'frame', 'data-in-app': String(!!f.in_app), 'data-function': f.function ?? '', title: f.abs_path ?? '' };
  const tags = [f.in_app ? h('span', { class: 'tag err-inapp-tag' }, 'in app') : null, newest ? h('span', { class: 'tag' }, 'crashed here') : null];
  if (!body) return h('div', attrs, h('div', { class: 'err-frame-sum no-ctx' }, where, ...tags));
  return h('details', { ...attrs, open }, h('summary', { class: 'err-frame-sum' }, where, ...tags), body);
}

function contextLines(f: Frame): HTMLElement {
  const pre = f.pre_context ?? [];
  const post = f.post_context ?? [];
  const line = f.lineno ?? 0;
  const first = line ? line - pre.length : 0;
  const row = (text: string, n: number, current: boolean) =>
    h('div', { class: `err-ctx-line${current ? ' current' : ''}` }, h('span', { class: 'err-ctx-no' }, n > 0 ? String(n) : ''), h('span', { class: 'err-ctx-text' }, text || ' '));
  return h(
    'div',
    { class: 'err-ctx mono', 'data-testid': 'context-lines' },
    ...pre.map((t, i) => row(t, first + i, false)),
    row(f.context_line ?? '', line, true),
    ...post.map((t, i) => row(t, line + 1 + i, false)),
  );
}

// ---- breadcrumbs ---------------------------------------------------------------------------------

function breadcrumbSection(ev: ErrorEvent): HTMLElement | null {
  const raw = ev.breadcrumbs;
  const crumbs: Breadcrumb[] = Array.isArray(raw) ? raw : raw?.values ?? [];
  if (!crumbs.length) return null;
  const evMs = toMs(ev.timestamp);
  const rows = [...crumbs].reverse().map((b) => {
    const ms = toMs(b.timestamp);
    const data = b.data && Object.keys(b.data).length ? b.data : undefined;
    const kind = b.category || b.type || 'default';
    return h(
      'tr',
      { class: `err-crumb ${levelClass(b.level ?? 'info')}`, 'data-testid': 'breadcrumb' },
      h('td', { class: 'err-crumb-type' }, h('span', { class: `err-crumb-dot crumb-${(b.type ?? 'default').replace(/[^a-z]/gi, '')}` }), kind),
      h(
        'td',
        { class: 'err-crumb-msg' },
        b.message ? h('div', { class: 'mono' }, b.message) : null,
        data ? h('div', { class: 'err-crumb-data mono faint' }, ...Object.entries(data).map(([k, v]) => h('span', { class: 'err-kv' }, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`))) : null,
        !b.message && !data ? h('span', { class: 'faint' }, '—') : null,
      ),
      h('td', null, b.level ? h('span', { class: `err-level ${levelClass(b.level)}` }, b.level) : null),
      h('td', { class: 'nowrap mono dim', title: ms ? formatDateTime(ms, 'browser', true) : '' }, ms ? formatDateTime(ms, 'browser', true).slice(11) : '', ms && evMs ? h('div', { class: 'faint small' }, relBefore(evMs - ms)) : null),
    );
  });
  return section(
    `Breadcrumbs (${crumbs.length})`,
    h('table', { class: 'data err-crumbs-table', 'data-testid': 'breadcrumbs' }, h('thead', null, h('tr', null, h('th', null, 'Type'), h('th', null, 'Message / data'), h('th', null, 'Level'), h('th', null, 'Time'))), h('tbody', null, ...rows)),
    'breadcrumbs-section',
    h('span', { class: 'faint small' }, 'newest first — what the app did before the error'),
  );
}

function relBefore(ms: number): string {
  if (ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms before`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s before`;
  return `${Math.round(ms / 60_000)}m before`;
}

// ---- request, user, contexts, tags ---------------------------------------------------------------

function show(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ');
}

function kvTable(obj: Record<string, unknown> | [string, unknown][] | undefined, testid?: string): HTMLElement {
  const entries = (Array.isArray(obj) ? obj : Object.entries(obj ?? {})).filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (!entries.length) return h('div', { class: 'faint' }, 'none');
  return h(
    'table',
    { class: 'data err-kv-table', 'data-testid': testid },
    h('tbody', null, ...entries.map(([k, v]) => h('tr', null, h('td', { class: 'mono err-k' }, String(k)), h('td', { class: 'mono err-v' }, show(v))))),
  );
}

function kvSection(title: string, obj: Record<string, unknown> | undefined, testid: string): HTMLElement | null {
  if (!obj || !Object.keys(obj).length) return null;
  return section(title, kvTable(obj), testid);
}

function requestSection(req: Record<string, unknown> | undefined): HTMLElement | null {
  if (!req || !Object.keys(req).length) return null;
  const { method, url, headers, query_string, data, cookies, env, ...rest } = req as Record<string, unknown>;
  const parts: HTMLElement[] = [];
  if (method || url) parts.push(h('div', { class: 'err-req-line mono' }, method ? h('strong', null, `${String(method)} `) : null, String(url ?? '')));
  if (query_string) parts.push(h('h3', null, 'Query'), kvTable(typeof query_string === 'string' ? { query_string } : (query_string as Record<string, unknown>)));
  if (data) parts.push(h('h3', null, 'Body'), typeof data === 'object' && !Array.isArray(data) ? kvTable(data as Record<string, unknown>) : h('pre', { class: 'err-code' }, show(data)));
  if (headers) parts.push(h('h3', null, 'Headers'), kvTable(headers as Record<string, unknown>));
  if (cookies) parts.push(h('h3', null, 'Cookies'), kvTable(typeof cookies === 'string' ? { cookies } : (cookies as Record<string, unknown>)));
  if (env) parts.push(h('h3', null, 'Environment'), kvTable(env as Record<string, unknown>));
  if (Object.keys(rest).length) parts.push(h('h3', null, 'Other'), kvTable(rest));
  return section('Request', h('div', null, ...parts), 'event-request');
}

function contextsSection(contexts: Record<string, unknown> | undefined): HTMLElement | null {
  const entries = Object.entries(contexts ?? {}).filter(([, v]) => v && typeof v === 'object' && Object.keys(v).some((k) => k !== 'type'));
  if (!entries.length) return null;
  return section(
    'Contexts',
    h('div', { class: 'err-contexts' }, ...entries.map(([name, v]) => h('div', { class: 'err-context' }, h('h3', null, name), kvTable(Object.entries(v as Record<string, unknown>).filter(([k]) => k !== 'type'))))),
    'event-contexts',
  );
}

/** A tag value linking to the issues whose events carry it (`key:value` search), when searchable. */
function tagLink(key: string, value: string): Node | string {
  if (value === '') return '(empty)';
  if (/\s/.test(value) || /\s|:/.test(key)) return value;
  return h('a', { class: 'err-tag-link', href: `/errors?${new URLSearchParams({ status: 'all', query: `${key}:${value}` })}`, title: `All issues with ${key}=${value}` }, value);
}

function tagsSection(tags: ErrorEvent['tags']): HTMLElement | null {
  const entries: [string, string][] = Array.isArray(tags) ? tags : Object.entries(tags ?? {});
  if (!entries.length) return null;
  return section('Tags', h('div', { class: 'chips' }, ...entries.map(([k, v]) => h('span', { class: 'label-chip', title: `${k}=${v}` }, h('span', { class: 'faint' }, `${k} `), tagLink(k, String(v))))), 'event-tags');
}

function traceFromContexts(contexts: Record<string, unknown> | undefined): string | undefined {
  const t = contexts?.trace as { trace_id?: unknown } | undefined;
  return typeof t?.trace_id === 'string' && /^[0-9a-f]{32}$/i.test(t.trace_id) ? t.trace_id : undefined;
}
