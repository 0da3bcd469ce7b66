/**
 * List panels: `dashlist` (dashboards from `/api/search`, by query/tags, with links), `alertlist`
 * (firing and pending alerts from `/api/v1/alerts`, filtered as the panel's options ask), and
 * `annolist` (stored annotations from `/api/annotations`), and clear placeholders for panels that
 * need the internet or Grafana itself (`news`, `welcome`, `gettingstarted`).
 */
import { ApiError, request } from '../lib/api';
import { h, message } from '../lib/dom';
import { formatDateTime, formatDuration } from '../lib/time';
import { opts } from './panelkit';
import { register } from './registry';
import type { GrafanaPanel, PanelContext, PanelRenderer } from './types';

interface SearchHit {
  uid?: string;
  title?: string;
  url?: string;
  type?: string;
  tags?: string[];
  folderTitle?: string;
}

interface PromAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  state: string;
  activeAt?: string;
  value?: string;
}

function errorText(e: unknown): HTMLElement {
  if (e instanceof ApiError && e.status === 404) return message('info', 'This pharos does not answer this list yet', e.message);
  return message('error', e instanceof ApiError && e.unreachable ? 'pharos is not reachable' : 'Could not load the list', (e as Error).message);
}

/**
 * The frame every list panel shares: loads on mount and on each update (only the newest load
 * draws), and shows a failed load as a message instead of a broken panel.
 */
function listRenderer(el: HTMLElement, first: GrafanaPanel, fill: (panel: GrafanaPanel, current: () => boolean) => Promise<void>): PanelRenderer {
  el.classList.add('vp-body');
  let seq = 0;
  async function load(panel: GrafanaPanel) {
    const my = ++seq;
    try {
      await fill(panel, () => my === seq);
    } catch (e) {
      if (my !== seq) return;
      el.replaceChildren(errorText(e));
      el.dataset.state = 'error';
      el.dataset.seriesCount = '0';
    }
  }
  void load(first);
  return {
    update(_d, panel) {
      void load(panel);
    },
    resize() {},
    destroy() {
      seq++;
      el.replaceChildren();
    },
  };
}

function dashlistFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  return listRenderer(el, _panel, async (panel, current) => {
    const o = opts(panel);
    const p = new URLSearchParams({ type: 'dash-db' });
    const query = typeof o.query === 'string' ? ctx.interpolate(o.query) : '';
    if (query) p.set('query', query);
    for (const t of Array.isArray(o.tags) ? (o.tags as string[]) : []) p.append('tag', ctx.interpolate(String(t)));
    const max = Number(o.maxItems ?? 10) || 10;
    p.set('limit', String(max));
    const hits = (await request<SearchHit[]>(`/api/search?${p}`)) ?? [];
    if (!current()) return;
    const dashes = hits.filter((x) => x.type !== 'dash-folder').slice(0, max);
    if (!dashes.length) {
      el.replaceChildren(h('div', { class: 'vp-nodata' }, query || p.has('tag') ? 'No dashboard matches this list' : 'No dashboards yet'));
      el.dataset.seriesCount = '0';
      return;
    }
    const showHeadings = o.showHeadings !== false;
    const list = h(
      'div',
      { class: 'vp-list' },
      showHeadings ? h('h4', null, query || p.has('tag') ? 'Search' : 'Dashboards') : null,
      dashes.map((d) => {
        const href = d.uid ? `/dashboards/${encodeURIComponent(d.uid)}` : d.url && d.url.startsWith('/') ? d.url : '/dashboards';
        return h(
          'a',
          { class: 'vp-list-item', href },
          h('span', { class: 'title' }, d.title ?? d.uid ?? '(untitled)'),
          h('span', { class: 'meta' }, [o.showFolderNames !== false && d.folderTitle ? d.folderTitle : '', ...(d.tags ?? []).slice(0, 3)].filter(Boolean).join(' · ')),
        );
      }),
    );
    el.replaceChildren(list);
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(dashes.length);
  });
}

const STATE_ORDER: Record<string, number> = { firing: 0, pending: 1, inactive: 2 };

function alertlistFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  return listRenderer(el, _panel, async (panel, current) => {
    const o = opts(panel);
    const filter = (o.stateFilter ?? {}) as Record<string, boolean>;
    const anyFilter = Object.values(filter).some(Boolean);
    const nameFilter = typeof o.alertName === 'string' ? ctx.interpolate(o.alertName).toLowerCase() : '';
    const max = Number(o.maxItems ?? 20) || 20;
    const res = await request<{ data?: { alerts?: PromAlert[] } }>('/api/v1/alerts');
    if (!current()) return;
    let alerts = res?.data?.alerts ?? [];
    if (anyFilter) {
      alerts = alerts.filter((a) => {
        const st = a.state === 'firing' ? (filter.firing ?? filter.alerting) : a.state === 'pending' ? filter.pending : filter.normal ?? filter.inactive;
        return !!st;
      });
    }
    if (nameFilter) alerts = alerts.filter((a) => (a.labels.alertname ?? '').toLowerCase().includes(nameFilter));
    const sort = Number(o.sortOrder ?? 1);
    alerts.sort((a, b) =>
      sort === 3 || sort === 4
        ? (Date.parse(b.activeAt ?? '') - Date.parse(a.activeAt ?? '')) * (sort === 4 ? -1 : 1)
        : sort === 2
          ? (b.labels.alertname ?? '').localeCompare(a.labels.alertname ?? '')
          : (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3) || (a.labels.alertname ?? '').localeCompare(b.labels.alertname ?? ''),
    );
    alerts = alerts.slice(0, max);
    if (!alerts.length) {
      el.replaceChildren(h('div', { class: 'vp-nodata' }, '✓ No alerts firing or pending'));
      el.dataset.seriesCount = '0';
      el.dataset.state = 'ok';
      return;
    }
    const list = h(
      'div',
      { class: 'vp-list' },
      alerts.map((a) => {
        const since = a.activeAt ? Date.now() - Date.parse(a.activeAt) : NaN;
        const summary = a.annotations?.summary ?? a.annotations?.description ?? '';
        const labels = Object.entries(a.labels)
          .filter(([k]) => k !== 'alertname')
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        return h(
          'a',
          { class: `vp-list-item vp-alert ${a.state}`, href: '/alerts', title: labels },
          h('span', { class: `badge badge-${a.state}` }, a.state),
          h('span', { class: 'title' }, a.labels.alertname ?? '(no name)', summary ? h('span', { class: 'faint' }, ` — ${summary}`) : null),
          h('span', { class: 'meta' }, Number.isFinite(since) ? `for ${formatDuration(Math.max(1000, Math.round(since / 1000) * 1000))}` : ''),
        );
      }),
    );
    el.replaceChildren(list);
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(alerts.length);
  });
}

interface StoredAnnotation {
  id?: number;
  dashboardUID?: string;
  time?: number;
  timeEnd?: number;
  text?: string;
  tags?: string[];
  login?: string;
}

/**
 * Grafana's annotation list: the stored annotations (`/api/annotations`) of this dashboard or
 * of all (`onlyFromThisDashboard`), in the dashboard's range or not (`onlyInTimeRange`), by
 * `tags`, at most `limit`; newest first, each linking to its dashboard.
 */
function annolistFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  return listRenderer(el, _panel, async (panel, current) => {
    const o = opts(panel);
    const limit = Number(o.limit ?? 10) || 10;
    const p = new URLSearchParams({ limit: String(limit), type: 'annotation' });
    const uid = ctx.interpolate('${__dashboard_uid}');
    if (o.onlyFromThisDashboard && uid && !uid.startsWith('$')) p.set('dashboardUID', uid);
    if (o.onlyInTimeRange) {
      const from = ctx.interpolate('${__from}');
      const to = ctx.interpolate('${__to}');
      if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
        p.set('from', from);
        p.set('to', to);
      }
    }
    for (const t of Array.isArray(o.tags) ? (o.tags as unknown[]) : []) if (typeof t === 'string' && t) p.append('tags', ctx.interpolate(t));
    const res = await request<StoredAnnotation[]>(`/api/annotations?${p}`);
    if (!current()) return;
    const list = (Array.isArray(res) ? res : []).slice().sort((a, b) => (b.time ?? 0) - (a.time ?? 0)).slice(0, limit);
    el.dataset.seriesCount = String(list.length);
    el.dataset.state = 'ok';
    if (!list.length) {
      el.replaceChildren(h('div', { class: 'vp-nodata' }, 'No annotations'));
      return;
    }
    el.replaceChildren(
      h(
        'div',
        { class: 'vp-list' },
        list.map((a) => {
          const when = typeof a.time === 'number' ? formatDateTime(a.time, ctx.timeZone) : '';
          const href = a.dashboardUID ? `/dashboards/${encodeURIComponent(a.dashboardUID)}?from=${(a.time ?? 0) - 15 * 60_000}&to=${(a.timeEnd ?? a.time ?? 0) + 15 * 60_000}` : '/dashboards';
          return h(
            'a',
            { class: 'vp-list-item', href },
            h('span', { class: 'title' }, a.text || '(no text)'),
            h('span', { class: 'meta' }, [o.showUser !== false ? a.login ?? '' : '', o.showTime !== false ? when : '', ...(o.showTags !== false ? (a.tags ?? []).slice(0, 3) : [])].filter(Boolean).join(' · ')),
          );
        }),
      ),
    );
  });
}

function placeholder(text: string, detail: string) {
  return (el: HTMLElement): PanelRenderer => {
    el.classList.add('vp-body');
    el.replaceChildren(message('info', text, detail));
    el.dataset.seriesCount = '0';
    return { update() {}, resize() {}, destroy: () => el.replaceChildren() };
  };
}

register(['dashlist'], dashlistFactory);
register(['alertlist'], alertlistFactory);
register(['news'], placeholder('News feeds are not fetched', 'pharos makes no network requests to the internet; this panel would show an RSS feed in Grafana.'));
register(['welcome', 'gettingstarted'], placeholder('Welcome to pharos', 'Grafana’s welcome panel has no counterpart here; the Home page shows what is running.'));
register(['annolist'], annolistFactory);
