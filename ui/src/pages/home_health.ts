/**
 * The home page's error-tracking and uptime summaries: what `/api/pharos/v1/errors/issues` and
 * `/api/pharos/v1/uptime` say about the last 24 h (open and new error issues, probes up/down),
 * as a stat card's numbers and as a detail card with links into the Errors and Uptime pages.
 */
import { h, message } from '../lib/dom';
import { ApiError, request } from '../lib/api';
import { fetchIssues, fetchProjects, levelBadge, splitTitle, toMs, type Issue } from '../errors/api';
import { formatPercent, formatSeconds, type ProbeInfo } from '../uptime/uptime';
import { agoEl, failure, formatCount } from './status';

const DAY_MS = 24 * 3600_000;
/** Issues fetched to count the new ones; more shows as "100+". */
const NEW_SCAN = 100;

export interface ErrorSummary {
  /** Unresolved issues with an event in the last 24 h. */
  open: number;
  /** Of those, first seen in the last 24 h. */
  fresh: number;
  freshCapped: boolean;
  /** The most recently seen open issues. */
  top: Issue[];
  /** Whether any project exists (an SDK could send here). */
  hasProjects: boolean;
}

/** Links into the Errors page: open issues seen in the last 24 h (the second one newest first). */
export const OPEN_ERRORS_HREF = '/errors?status=unresolved&from=now-24h&to=now';
export const NEW_ERRORS_HREF = `${OPEN_ERRORS_HREF}&sort=first_seen`;

/** Open and new error issues of the last 24 h (two reads of the issue list). */
export async function loadErrorSummary(now = Date.now()): Promise<ErrorSummary> {
  const start = Math.floor((now - DAY_MS) / 1000);
  const [recent, newest] = await Promise.all([
    fetchIssues({ status: 'unresolved', start, sort: 'last_seen', limit: 5 }),
    fetchIssues({ status: 'unresolved', start, sort: 'first_seen', limit: NEW_SCAN }),
  ]);
  const fresh = newest.issues.filter((i) => toMs(i.first_seen) >= now - DAY_MS).length;
  const hasProjects = recent.total > 0 || (await fetchProjects().catch(() => [])).length > 0;
  return { open: recent.total, fresh, freshCapped: fresh >= NEW_SCAN && newest.total > NEW_SCAN, top: recent.issues, hasProjects };
}

/** Every configured uptime probe with its state. */
export async function loadProbes(): Promise<ProbeInfo[]> {
  const res = await request<{ data: { probes: ProbeInfo[] | null } }>('/api/pharos/v1/uptime');
  return res.data?.probes ?? [];
}

/** What a stat card shows for a summary: its value, colour, link and one-line detail. */
export interface StatContent {
  value: string;
  kind?: string;
  href: string;
  detail: (HTMLElement | string)[];
}

const unavailable = (e: unknown) => e instanceof ApiError && e.status === 404;

export function errorsStat(r: PromiseSettledResult<ErrorSummary>): StatContent {
  if (r.status === 'rejected') {
    return { value: '—', href: '/errors', detail: [unavailable(r.reason) ? 'not available on this server' : 'cannot be read'] };
  }
  const s = r.value;
  const fresh = `${s.fresh}${s.freshCapped ? '+' : ''} new`;
  return {
    value: String(s.open),
    // Green only when something could report errors; with no SDK set up, 0 says nothing.
    kind: s.open ? (s.fresh ? 'error' : 'warning') : s.hasProjects ? 'ok' : undefined,
    href: s.fresh ? NEW_ERRORS_HREF : OPEN_ERRORS_HREF,
    detail: [
      s.fresh ? h('span', { class: 'text-error', 'data-testid': 'errors-new' }, fresh) : h('span', { 'data-testid': 'errors-new' }, s.open ? 'none new' : s.hasProjects ? 'no errors in 24 h' : 'no SDK sends here yet'),
    ],
  };
}

export function probesStat(r: PromiseSettledResult<ProbeInfo[]>): StatContent {
  if (r.status === 'rejected') {
    return { value: '—', href: '/uptime', detail: [unavailable(r.reason) ? 'not available on this server' : 'cannot be read'] };
  }
  const probes = r.value;
  const down = probes.filter((p) => p.state === 'down');
  const up = probes.filter((p) => p.state === 'up').length;
  const pending = probes.length - up - down.length;
  return {
    value: probes.length ? `${up} / ${probes.length}` : 'none',
    kind: down.length ? 'error' : probes.length ? 'ok' : undefined,
    href: '/uptime',
    detail: [
      down.length
        ? h('span', { class: 'text-error', 'data-testid': 'probes-down' }, `${down.length} down: ${down.map((p) => p.name).slice(0, 3).join(', ')}${down.length > 3 ? '…' : ''}`)
        : h('span', { 'data-testid': 'probes-down' }, probes.length ? 'none down' : 'no probes configured'),
      pending ? ` · ${pending} not checked yet` : '',
    ],
  };
}

/** The newest open issues of the last 24 h, each linking to its page. */
export function errorsCard(r: PromiseSettledResult<ErrorSummary>): HTMLElement {
  const head = h('h2', null, 'Errors, last 24 h');
  const foot = h('div', { class: 'card-foot' }, h('a', { href: OPEN_ERRORS_HREF }, 'Open issues ›'), h('a', { href: NEW_ERRORS_HREF }, 'Newest first ›'), h('a', { href: '/errors' }, 'All errors ›'));
  if (r.status === 'rejected') {
    return h('div', { class: 'card home-errors', 'data-testid': 'home-errors' }, head, unavailable(r.reason) ? h('div', { class: 'faint' }, 'Error tracking is not available on this server.') : failure('the error issues', r.reason), foot);
  }
  const s = r.value;
  const day = Date.now() - DAY_MS;
  return h('div', { class: 'card home-errors', 'data-testid': 'home-errors' },
    head,
    !s.open
      ? h('div', { class: 'all-good' }, h('span', { class: 'badge badge-ok' }, 'quiet'), s.hasProjects ? ' No unresolved error in the last 24 h.' : ' No errors yet: point a Sentry SDK at pharos (Errors › Set up an SDK).')
      : [
          h('div', { class: 'dim newest' },
            h('a', { href: OPEN_ERRORS_HREF }, h('strong', null, `${formatCount(s.open)} open`)),
            ' · ',
            s.fresh ? h('a', { href: NEW_ERRORS_HREF, class: 'text-error' }, h('strong', null, `${s.fresh}${s.freshCapped ? '+' : ''} new`)) : 'none new',
            ' (unresolved, seen in the last 24 h)',
          ),
          h('ul', { class: 'plain-list' },
            s.top.map((i) => {
              const t = splitTitle(i.title);
              const isNew = toMs(i.first_seen) >= day;
              return h('li', { 'data-issue': i.id },
                h('div', { class: 'row-line' },
                  levelBadge(i.level),
                  isNew ? h('span', { class: 'badge badge-error' }, 'new') : i.regressed ? h('span', { class: 'badge badge-warning' }, 'regressed') : null,
                  h('a', { class: 'ellipsis', href: `/errors/${encodeURIComponent(i.id)}`, title: i.title }, h('strong', null, t.type), t.value ? h('span', { class: 'dim' }, ` ${t.value}`) : null),
                  h('span', { class: 'faint nowrap', title: 'events' }, `${formatCount(i.count)}×`),
                  h('span', { class: 'faint nowrap' }, agoEl(toMs(i.last_seen))),
                ),
                i.culprit ? h('div', { class: 'mono faint ellipsis' }, i.culprit) : null,
              );
            }),
            s.open > s.top.length ? h('li', { class: 'faint' }, h('a', { href: OPEN_ERRORS_HREF }, `and ${s.open - s.top.length} more`)) : null,
          ),
        ],
    foot,
  );
}

/** Probes, the down ones first with their last error. */
export function probesCard(r: PromiseSettledResult<ProbeInfo[]>): HTMLElement {
  const head = h('h2', null, 'Uptime probes');
  const foot = h('div', { class: 'card-foot' }, h('a', { href: '/uptime' }, 'Uptime ›'), h('a', { href: '/status-page', target: '_blank' }, 'Public status page ↗'));
  if (r.status === 'rejected') {
    return h('div', { class: 'card home-probes', 'data-testid': 'home-probes' }, head, unavailable(r.reason) ? h('div', { class: 'faint' }, 'Uptime probes are not available on this server.') : failure('the uptime probes', r.reason), foot);
  }
  const order = { down: 0, unknown: 1, up: 2 } as Record<string, number>;
  const probes = [...r.value].sort((a, b) => (order[a.state] ?? 1) - (order[b.state] ?? 1) || a.name.localeCompare(b.name));
  const down = probes.filter((p) => p.state === 'down').length;
  return h('div', { class: 'card home-probes', 'data-testid': 'home-probes' },
    head,
    !probes.length
      ? message('empty', 'No uptime probes configured.', 'Add a probes: section to pharos.yml (blackbox_exporter modules).')
      : [
          down ? null : h('div', { class: 'all-good' }, h('span', { class: 'badge badge-up' }, 'all up'), ` ${probes.length} probe${probes.length === 1 ? '' : 's'} answer.`),
          h('ul', { class: 'plain-list' },
            probes.slice(0, 8).map((p) => {
              const open = p.state === 'down' ? p.incidents.find((i) => i.end === null) : undefined;
              return h('li', { 'data-probe': p.name, 'data-state': p.state },
                h('div', { class: 'row-line' },
                  h('span', { class: `badge badge-${p.state === 'up' ? 'up' : p.state === 'down' ? 'down' : 'pending'}` }, p.state === 'unknown' ? 'pending' : p.state),
                  h('a', { href: '/uptime' }, h('strong', null, p.name)),
                  p.target ? h('span', { class: 'mono dim ellipsis', title: p.target }, p.target) : null,
                  h('span', { class: 'faint nowrap', title: 'uptime, last 24 h' }, formatPercent(p.uptime['24h'])),
                  p.state === 'up' && p.last_duration_seconds !== null ? h('span', { class: 'faint nowrap', title: 'last response time' }, formatSeconds(p.last_duration_seconds)) : null,
                  open ? h('span', { class: 'faint nowrap', title: 'down since' }, 'down ', agoEl(open.start)) : null,
                ),
                p.state === 'down' && p.last_error ? h('div', { class: 'error-inline' }, p.last_error) : null,
              );
            }),
            probes.length > 8 ? h('li', { class: 'faint' }, h('a', { href: '/uptime' }, `and ${probes.length - 8} more`)) : null,
          ),
        ],
    foot,
  );
}
