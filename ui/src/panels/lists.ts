/**
 * List panels: `dashlist` (dashboards from `/api/search`, by query/tags, with links), `alertlist`
 * (firing and pending alerts from `/api/v1/alerts`, filtered as the panel's options ask), and
 * clear placeholders for panels that need the internet or Grafana itself (`news`, `welcome`,
 * `gettingstarted`, `annolist`).
 */
import { ApiError, request } from '../lib/api';
import { h, message } from '../lib/dom';
import { formatDuration } from '../lib/time';
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

function dashlistFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');
  let seq = 0;
  async function load(panel: GrafanaPanel) {
    const my = ++seq;
    const o = opts(panel);
    const p = new URLSearchParams({ type: 'dash-db' });
    const query = typeof o.query === 'string' ? ctx.interpolate(o.query) : '';
    if (query) p.set('query', query);
    for (const t of Array.isArray(o.tags) ? (o.tags as string[]) : []) p.append('tag', ctx.interpolate(String(t)));
    const max = Number(o.maxItems ?? 10) || 10;
    p.set('limit', String(max));
    try {
      const hits = (await request<SearchHit[]>(`/api/search?${p}`)) ?? [];
      if (my !== seq) return;
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
    } catch (e) {
      if (my !== seq) return;
      el.replaceChildren(errorText(e));
      el.dataset.state = 'error';
      el.dataset.seriesCount = '0';
    }
  }
  void load(_panel);
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

const STATE_ORDER: Record<string, number> = { firing: 0, pending: 1, inactive: 2 };

function alertlistFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');
  let seq = 0;
  async function load(panel: GrafanaPanel) {
    const my = ++seq;
    const o = opts(panel);
    const filter = (o.stateFilter ?? {}) as Record<string, boolean>;
    const anyFilter = Object.values(filter).some(Boolean);
    const nameFilter = typeof o.alertName === 'string' ? ctx.interpolate(o.alertName).toLowerCase() : '';
    const max = Number(o.maxItems ?? 20) || 20;
    try {
      const res = await request<{ data?: { alerts?: PromAlert[] } }>('/api/v1/alerts');
      if (my !== seq) return;
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
    } catch (e) {
      if (my !== seq) return;
      el.replaceChildren(errorText(e));
      el.dataset.state = 'error';
      el.dataset.seriesCount = '0';
    }
  }
  void load(_panel);
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
register(['annolist'], placeholder('Annotation list', 'pharos does not store annotations; this list stays empty.'));
