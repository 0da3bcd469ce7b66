/**
 * `/uptime`: the uptime probes of pharos.yml's `probes:` — one card per probe with its up/down
 * badge, uptime % over 24 h / 7 d / 30 d, a response-time sparkline (last 24 h), the latest
 * status code and error, certificate expiry for TLS probes, and its incidents (down→up
 * intervals with duration and error). Data from `/api/pharos/v1/uptime`, refreshed every 10 s.
 * With no probes configured it shows how to add one.
 */
import './uptime.css';
import { h, message, replace, svg } from '../lib/dom';
import { request } from '../lib/api';
import { formatDateTime } from '../lib/time';
import type { Page, PageContext } from '../lib/router';
import { agoEl, failure, shortDuration } from '../pages/status';

export interface Incident {
  start: number;
  end: number | null;
  duration_seconds: number;
  error?: string;
}

export interface ProbeInfo {
  name: string;
  state: 'up' | 'down' | 'unknown';
  target?: string;
  module?: string;
  prober?: string;
  interval_seconds?: number;
  uptime: { '24h': number | null; '7d': number | null; '30d': number | null };
  incidents: Incident[];
  response_times: [number, number][];
  last_check: number | null;
  last_duration_seconds: number | null;
  last_error?: string | null;
  status_code?: number | null;
  cert_expiry?: number | null;
}

interface UptimeData {
  probes: ProbeInfo[];
  status_page_probes: string[];
}

const REFRESH_MS = 10_000;

/** "99.95%" with enough digits to tell 100 from 99.99; "—" without data. */
export function formatPercent(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—';
  if (p >= 100) return '100%';
  if (p >= 99) return `${p.toFixed(2)}%`;
  return `${p.toFixed(1)}%`;
}

/** Milliseconds shown as `12 ms` / `1.25 s`. */
export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms` : `${s.toFixed(2)} s`;
}

/** A line sparkline of `[t, seconds]` points. */
export function responseSparkline(points: [number, number][], w = 160, hgt = 32): Element {
  if (points.length < 2) return h('span', { class: 'faint up-spark-none' }, points.length ? formatSeconds(points[0][1]) : 'no data yet');
  const t0 = points[0][0];
  const t1 = points[points.length - 1][0];
  const max = Math.max(...points.map((p) => p[1]), 1e-6);
  const x = (t: number) => ((t - t0) / Math.max(1, t1 - t0)) * (w - 2) + 1;
  const y = (v: number) => hgt - 1 - (v / max) * (hgt - 3);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
  return svg(
    'svg',
    { class: 'up-spark', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': `response time, max ${formatSeconds(max)}`, 'data-testid': 'response-sparkline' },
    svg('path', { d, class: 'up-spark-line' }),
    svg('title', {}, `max ${formatSeconds(max)} over the last 24 h`),
  );
}

export function stateBadge(state: string): HTMLElement {
  const label = state === 'up' ? 'Up' : state === 'down' ? 'Down' : 'Pending';
  return h('span', { class: `up-badge up-${state}`, 'data-testid': 'state-badge' }, label);
}

export function uptimeCells(p: ProbeInfo): HTMLElement {
  return h(
    'div',
    { class: 'up-pcts' },
    (['24h', '7d', '30d'] as const).map((k) =>
      h('div', { class: 'up-pct', 'data-window': k }, h('div', { class: 'up-pct-val' }, formatPercent(p.uptime[k])), h('div', { class: 'up-pct-lbl dim' }, k)),
    ),
  );
}

export function incidentList(list: Incident[], withErrors: boolean): HTMLElement {
  if (!list.length) return h('div', { class: 'dim up-noinc' }, 'No incidents recorded.');
  return h(
    'table',
    { class: 'up-incidents', 'data-testid': 'incidents' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', {}, 'Resolved'), h('th', {}, 'Duration'), withErrors ? h('th', {}, 'Error') : null)),
    h(
      'tbody',
      {},
      list.map((i) =>
        h(
          'tr',
          { class: i.end === null ? 'up-open' : '' },
          h('td', {}, formatDateTime(i.start)),
          h('td', {}, i.end === null ? h('span', { class: 'up-badge up-down' }, 'ongoing') : formatDateTime(i.end)),
          h('td', {}, shortDuration(i.duration_seconds * 1000)),
          withErrors ? h('td', { class: 'up-err' }, i.error ?? '') : null,
        ),
      ),
    ),
  );
}

function certCell(p: ProbeInfo): HTMLElement | null {
  if (p.cert_expiry === null || p.cert_expiry === undefined) return null;
  const ms = p.cert_expiry * 1000;
  const days = (ms - Date.now()) / 86_400_000;
  const cls = days < 0 ? 'up-cert-bad' : days < 14 ? 'up-cert-warn' : 'up-cert-ok';
  const text = days < 0 ? `expired ${shortDuration(-days * 86_400_000)} ago` : `expires in ${shortDuration(days * 86_400_000)}`;
  return h('span', { class: `up-cert ${cls}`, title: formatDateTime(ms), 'data-testid': 'cert-expiry' }, `🔒 certificate ${text}`);
}

function probeCard(p: ProbeInfo, isPublic: boolean): HTMLElement {
  const meta = [
    p.prober ? `${p.prober} · ${p.module}` : null,
    p.interval_seconds ? `every ${p.interval_seconds}s` : null,
    p.status_code ? `HTTP ${p.status_code}` : null,
    p.last_duration_seconds !== null ? formatSeconds(p.last_duration_seconds) : null,
  ].filter(Boolean);
  return h(
    'section',
    { class: `up-card up-card-${p.state}`, 'data-probe': p.name },
    h(
      'header',
      { class: 'up-head' },
      stateBadge(p.state),
      h('div', { class: 'up-title' }, h('div', { class: 'up-name' }, p.name), p.target ? h('div', { class: 'up-target dim' }, p.target) : null),
      uptimeCells(p),
      h('div', { class: 'up-spark-box' }, responseSparkline(p.response_times), h('div', { class: 'dim up-spark-lbl' }, 'response time, 24 h')),
    ),
    h(
      'div',
      { class: 'up-meta dim' },
      meta.join(' · '),
      p.last_check ? [' · checked ', agoEl(p.last_check)] : null,
      isPublic ? null : certCell(p),
    ),
    p.state === 'down' && p.last_error ? h('div', { class: 'up-lasterr', role: 'alert' }, p.last_error) : null,
    h('details', { class: 'up-inc-box', open: p.incidents.some((i) => i.end === null) || undefined }, h('summary', {}, `Incidents (${p.incidents.length})`), incidentList(p.incidents, !isPublic)),
  );
}

export function uptimePage(ctx: PageContext): Page {
  const summary = h('span', { class: 'dim up-summary' });
  const body = h('div', { class: 'up-body' }, message('loading', 'Loading probes'));
  ctx.root.append(
    h(
      'div',
      { class: 'page up-page' },
      h('div', { class: 'page-head' }, h('h1', {}, 'Uptime'), summary, h('a', { href: '/status-page', target: '_blank', class: 'up-public-link' }, 'Public status page ↗')),
      body,
    ),
  );
  let timer: number | undefined;
  let stopped = false;
  const load = async () => {
    try {
      const res = await request<{ data: UptimeData }>('/api/pharos/v1/uptime');
      if (stopped) return;
      const probes = res.data.probes;
      const down = probes.filter((p) => p.state === 'down').length;
      summary.textContent = probes.length ? `${probes.length} probe${probes.length === 1 ? '' : 's'}, ${down} down` : '';
      if (!probes.length) {
        replace(
          body,
          message(
            'empty',
            'No uptime probes configured.',
            "Add a probes: section to pharos.yml, e.g. probes: {targets: [{name: api, url: 'https://example.com/health', module: http_2xx, interval: 30s}]} — blackbox_exporter's modules format is accepted.",
          ),
        );
      } else {
        replace(body, probes.map((p) => probeCard(p, false)));
      }
    } catch (e) {
      if (!stopped) replace(body, failure('the uptime probes', e));
    }
    if (!stopped) timer = window.setTimeout(load, REFRESH_MS);
  };
  void load();
  return {
    title: 'Uptime',
    unmount() {
      stopped = true;
      window.clearTimeout(timer);
    },
  };
}
