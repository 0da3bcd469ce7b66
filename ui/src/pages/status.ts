/**
 * Targets and Status: Prometheus' /targets page (scrape pools, health, last scrape, errors) and
 * the status tabs (runtime & build info, the loaded config, flags, store statistics for the
 * TSDB, the log store and the trace store). Also home of the small formatting and polling
 * helpers the Home and Alerts pages share.
 */
import './pages.css';
import { h, message, replace } from '../lib/dom';
import { ApiError, request, type Labels } from '../lib/api';
import { formatDateTime, formatDuration } from '../lib/time';
import { setQuery, type Page, type PageContext } from '../lib/router';
import { check as checkHealth } from '../components/health';

// ---- shared helpers (Home, Alerts, Targets, Status) -------------------------------------------

/** "3.2s ago", "5m ago", "in 2h" for a Unix ms time relative to now. */
export function ago(ms: number, now = Date.now()): string {
  if (!Number.isFinite(ms) || ms <= 0) return 'never';
  const d = now - ms;
  const abs = Math.abs(d);
  let s: string;
  if (abs < 1000) return d >= 0 ? '<1s ago' : 'in <1s';
  if (abs < 10_000) s = `${(abs / 1000).toFixed(1)}s`;
  else if (abs < 60_000) s = `${Math.round(abs / 1000)}s`;
  else s = shortDuration(abs);
  return d >= 0 ? `${s} ago` : `in ${s}`;
}

/** A duration with at most two units: `2h 5m`, `3d 4h`, `45s`. */
export function shortDuration(ms: number): string {
  const parts = formatDuration(Math.round(ms / 1000) * 1000).match(/\d+[a-z]+/g) ?? ['0s'];
  return parts.slice(0, 2).join(' ');
}

/** Parses an RFC 3339 time from the APIs; 0 for Go's zero time or garbage. */
export function parseTs(s: string | undefined | null): number {
  if (!s || s.startsWith('0001-')) return 0;
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

/** A `<time>` element showing "5m ago" with the absolute time as tooltip. */
export function agoEl(ms: number): HTMLElement {
  if (!ms) return h('span', { class: 'faint' }, 'never');
  return h('time', { datetime: new Date(ms).toISOString(), title: formatDateTime(ms) }, ago(ms));
}

/** 1.5 KiB, 12.3 MiB. */
export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** 1234567 → "1.23M", 950 → "950", 12.345 → "12.3". */
export function formatCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (Number.isInteger(n)) return String(n);
  return a >= 100 ? n.toFixed(0) : a >= 1 ? n.toFixed(1) : n.toFixed(2);
}

/** Label chips (`name="value"`), sorted with `alertname`/`__name__` first. */
export function labelChips(labels: Labels | undefined, skip: string[] = []): HTMLElement[] {
  const entries = Object.entries(labels ?? {}).filter(([k]) => !skip.includes(k));
  entries.sort(([a], [b]) => (a === 'alertname' || a === '__name__' ? -1 : b === 'alertname' || b === '__name__' ? 1 : a.localeCompare(b)));
  return entries.map(([k, v]) => h('span', { class: 'label-chip', title: `${k}="${v}"` }, `${k}="${v}"`));
}

/** A PromQL selector for label equality (`up{instance="a",job="b"}`). */
export function selector(name: string, labels: Labels): string {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${esc(v)}"`)
    .join(',');
  return `${name}{${inner}}`;
}

/** Why a request failed, for a message under a heading. */
export function failure(what: string, e: unknown): HTMLElement {
  if (e instanceof ApiError && e.unreachable) {
    void checkHealth();
    return message('error', `pharos is not reachable, so ${what} cannot be loaded.`, 'Start the server again; this page retries every few seconds.');
  }
  const What = what.charAt(0).toUpperCase() + what.slice(1);
  if (e instanceof ApiError && e.status === 404) return message('info', `${What}: not available on this server.`, 'This pharos build does not have the endpoint yet (HTTP 404).');
  return message('error', `Loading ${what} failed.`, e instanceof Error ? e.message : String(e));
}

/**
 * Runs `load` now and every `ms`, skipping a tick while the previous one runs; `stop()` ends it.
 * A failing tick after a good one keeps what is drawn (the health banner tells the user) and
 * shows `stale` a small note instead.
 */
export function poll(load: () => Promise<void>, ms: number): { stop: () => void; now: () => Promise<void> } {
  let running = false;
  let stopped = false;
  const tick = async () => {
    if (running || stopped) return;
    running = true;
    try {
      await load();
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), ms);
  void tick();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    now: tick,
  };
}

/** A line under a header saying when data was last loaded, and whether the last refresh failed. */
export function freshness(): { el: HTMLElement; ok: () => void; failed: (e: unknown) => void } {
  const el = h('span', { class: 'freshness faint' });
  let last = 0;
  const render = (err?: string) => {
    el.className = err ? 'freshness stale' : 'freshness faint';
    el.textContent = err
      ? `Refresh failed (${err}); showing data from ${last ? formatDateTime(last) : 'never'}`
      : `Updated ${formatDateTime(last).slice(11)}`;
  };
  return {
    el,
    ok: () => {
      last = Date.now();
      render();
    },
    failed: (e) => {
      if (e instanceof ApiError && e.unreachable) void checkHealth();
      render(e instanceof ApiError && e.unreachable ? 'server not reachable' : e instanceof Error ? e.message : String(e));
    },
  };
}

/** Tabs as links (`/status/config`), the active one highlighted. */
export function tabLinks(base: string, tabs: [string, string][], active: string): HTMLElement {
  return h(
    'nav',
    { class: 'tabs', role: 'tablist' },
    tabs.map(([id, label]) =>
      h('a', { href: id ? `${base}/${id}` : base, class: id === active ? 'active' : '', role: 'tab', 'aria-selected': String(id === active), 'data-tab': id || 'default' }, label),
    ),
  );
}

/** Copies text to the clipboard (falls back to a hidden textarea where the Clipboard API is missing). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea', { style: 'position:fixed;opacity:0' }, text);
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

interface PromEnv<T> {
  status: string;
  data: T;
  error?: string;
}

/** GET a Prometheus-style `{status, data}` endpoint. */
export async function promGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  const env = await request<PromEnv<T>>(path, { signal });
  if (env.status !== 'success') throw new ApiError(env.error ?? `${path} failed`, 422);
  return env.data;
}

// ---- /api/pharos/v1/overview (Home and Status) -------------------------------------------------

export interface Overview {
  now_ms: number;
  start_time_ms: number;
  uptime_seconds: number;
  build: { version: string; prometheus_compat_version?: string; grafana_compat_version?: string };
  metrics: {
    samples_appended_total: number;
    series_created_total: number;
    head_series: number;
    targets: { total: number; up: number; down: number; unknown: number; dropped: number };
  };
  logs: { lines_received_total: number; bytes_received_total: number; streams: number; tenants: number };
  traces: { spans_received_total: number; spans_refused_total: number; traces: number; spans: number; services: number };
  alerts: { active: number; suppressed: number; notifications_total: number; notifications_failed_total: number; notification_attempts_total: number };
  dashboards: { total: number; provisioned: number };
  storage: Record<string, number>;
}

export const STORE_NAMES: [string, string][] = [
  ['metrics_bytes', 'Metrics (TSDB)'],
  ['logs_bytes', 'Logs'],
  ['traces_bytes', 'Traces'],
  ['dashboards_bytes', 'Dashboards'],
  ['alerting_bytes', 'Alerting (silences, notification log)'],
];

/** Bars of bytes per store with the total, from the overview's `storage`. */
export function storageTable(storage: Record<string, number>): HTMLElement {
  const total = storage.total_bytes ?? STORE_NAMES.reduce((s, [k]) => s + (storage[k] ?? 0), 0);
  const max = Math.max(1, ...STORE_NAMES.map(([k]) => storage[k] || 0));
  return h(
    'table',
    { class: 'data storage-table' },
    h('tbody', null,
      STORE_NAMES.map(([k, label]) =>
        h('tr', { 'data-store': k },
          h('td', null, label),
          h('td', { class: 'bar-cell' }, h('div', { class: 'bar', style: { width: `${Math.max(0.5, ((storage[k] || 0) / max) * 100)}%` } })),
          h('td', { class: 'num nowrap' }, formatBytes(storage[k])),
        ),
      ),
      h('tr', { class: 'total-row' }, h('td', null, 'Data directory total'), h('td'), h('td', { class: 'num nowrap', 'data-testid': 'storage-total' }, formatBytes(total))),
    ),
  );
}

// ---- Targets -------------------------------------------------------------------------------------

interface Target {
  discoveredLabels: Labels;
  labels: Labels;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl?: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: 'up' | 'down' | 'unknown';
  scrapeInterval?: string;
  scrapeTimeout?: string;
}

interface TargetsData {
  activeTargets: Target[];
  droppedTargets?: { discoveredLabels: Labels }[];
}

/** Prometheus' targets page: pools (collapsible), health, labels, last scrape, errors. */
export function targetsPage(ctx: PageContext): Page {
  let health = ctx.query.get('health') === 'unhealthy' ? 'unhealthy' : 'all';
  let text = ctx.query.get('search') ?? '';
  const collapsed = new Set<string>((ctx.query.get('collapsed') ?? '').split(',').filter(Boolean));
  const expandedLabels = new Set<string>();
  let data: TargetsData | undefined;
  let error: unknown;

  const fresh = freshness();
  const body = h('div', { class: 'targets-body' }, message('loading', 'Loading targets'));
  const summary = h('span', { class: 'targets-summary dim' });
  const healthBtns = (['all', 'unhealthy'] as const).map((v) =>
    h('button', {
      class: `small seg${health === v ? ' active' : ''}`,
      'data-health': v,
      onclick: () => {
        health = v;
        healthBtns.forEach((b) => b.classList.toggle('active', b.dataset.health === v));
        setQuery({ health: v === 'all' ? null : v });
        draw();
      },
    }, v === 'all' ? 'All' : 'Unhealthy'),
  );
  const search = h('input', {
    type: 'search',
    placeholder: 'Filter by endpoint or label…',
    value: text,
    class: 'filter-input',
    'aria-label': 'Filter targets',
    oninput: () => {
      text = search.value;
      setQuery({ search: text || null });
      draw();
    },
  });
  const toggleAll = h('button', {
    class: 'small',
    onclick: () => {
      const pools = [...new Set((data?.activeTargets ?? []).map((t) => t.scrapePool))];
      if (collapsed.size < pools.length) pools.forEach((p) => collapsed.add(p));
      else collapsed.clear();
      draw();
    },
  }, 'Collapse / expand all');

  ctx.root.append(
    h('div', { class: 'page targets-page' },
      h('div', { class: 'page-header' }, h('h1', null, 'Targets'), summary, fresh.el),
      h('div', { class: 'toolbar filters' }, h('div', { class: 'seg-group', role: 'group', 'aria-label': 'Health' }, healthBtns), search, toggleAll),
      body,
    ),
  );

  function matches(t: Target): boolean {
    if (health === 'unhealthy' && t.health === 'up') return false;
    const q = text.trim().toLowerCase();
    if (!q) return true;
    const hay = [t.scrapeUrl, t.scrapePool, t.lastError, ...Object.entries(t.labels).map(([k, v]) => `${k}="${v}"`)].join(' ').toLowerCase();
    return q.split(/\s+/).every((w) => hay.includes(w.replace(/^\{|\}$/g, '')));
  }

  function draw() {
    if (!data) {
      replace(body, error ? failure('the scrape targets', error) : message('loading', 'Loading targets'));
      return;
    }
    const all = data.activeTargets;
    const up = all.filter((t) => t.health === 'up').length;
    summary.textContent = `${up} of ${all.length} up · ${new Set(all.map((t) => t.scrapePool)).size} scrape pools${data.droppedTargets?.length ? ` · ${data.droppedTargets.length} dropped by relabeling` : ''}`;
    if (!all.length) {
      replace(body, message('empty', 'No scrape targets are configured.', 'Add scrape_configs to the prometheus.yml pharos loads (see Status → Config), then reload pharos (kill -HUP <pid>, or POST /-/reload when it runs with --web.enable-lifecycle).'));
      return;
    }
    const pools = new Map<string, Target[]>();
    for (const t of all) {
      if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
      pools.get(t.scrapePool)!.push(t);
    }
    const sections: HTMLElement[] = [];
    for (const [pool, targets] of [...pools].sort(([a], [b]) => a.localeCompare(b))) {
      const shown = targets.filter(matches);
      if (!shown.length) continue;
      const upN = targets.filter((t) => t.health === 'up').length;
      const isCollapsed = collapsed.has(pool);
      const state = upN === targets.length ? 'up' : upN === 0 ? 'down' : 'partial';
      sections.push(
        h('section', { class: `card pool pool-${state}`, 'data-pool': pool },
          h('button', {
            class: 'pool-head',
            'aria-expanded': String(!isCollapsed),
            onclick: () => {
              if (collapsed.has(pool)) collapsed.delete(pool);
              else collapsed.add(pool);
              setQuery({ collapsed: [...collapsed].join(',') || null });
              draw();
            },
          },
            h('span', { class: 'caret' }, isCollapsed ? '▸' : '▾'),
            h('span', { class: 'pool-name' }, pool),
            h('span', { class: `badge badge-${state === 'partial' ? 'warning' : state}` }, `${upN}/${targets.length} up`),
          ),
          isCollapsed ? null : targetTable(shown),
        ),
      );
    }
    replace(body, sections.length ? sections : message('empty', health === 'unhealthy' ? 'Every target is up.' : 'No target matches the filter.', text ? `Filter: ${text}` : undefined));
  }

  function targetTable(targets: Target[]): HTMLElement {
    return h('table', { class: 'data targets-table' },
      h('thead', null, h('tr', null, ['Endpoint', 'State', 'Labels', 'Last scrape', 'Duration', 'Error'].map((c) => h('th', null, c)))),
      h('tbody', null,
        targets.map((t) => {
          const key = `${t.scrapePool} ${t.scrapeUrl}`;
          const showDisc = expandedLabels.has(key);
          const q = selector('up', { instance: t.labels.instance ?? '', job: t.labels.job ?? t.scrapePool });
          return h('tr', { class: `target target-${t.health}`, 'data-url': t.scrapeUrl },
            h('td', { class: 'endpoint' },
              h('a', { href: t.scrapeUrl, target: '_blank', rel: 'noopener', class: 'mono', title: 'Open the scrape URL' }, t.scrapeUrl),
              h('div', null, h('a', { href: `/explore/metrics?query=${encodeURIComponent(q)}`, class: 'small-link', title: q }, 'Show series ›')),
            ),
            h('td', null, h('span', { class: `badge badge-${t.health}` }, t.health)),
            h('td', { class: 'labels' },
              labelChips(t.labels),
              h('button', {
                class: 'link-btn small-link',
                title: 'Labels before relabeling',
                onclick: () => {
                  if (showDisc) expandedLabels.delete(key);
                  else expandedLabels.add(key);
                  draw();
                },
              }, showDisc ? 'hide discovered labels' : 'discovered labels…'),
              showDisc ? h('div', { class: 'discovered' }, labelChips(t.discoveredLabels)) : null,
            ),
            h('td', { class: 'nowrap' }, agoEl(parseTs(t.lastScrape)), t.scrapeInterval ? h('div', { class: 'faint' }, `every ${t.scrapeInterval}`) : null),
            h('td', { class: 'num nowrap' }, parseTs(t.lastScrape) ? formatSeconds(t.lastScrapeDuration) : '—'),
            h('td', { class: 'error-cell' }, t.lastError ? h('span', { class: 'error-inline' }, t.lastError) : null),
          );
        }),
      ),
    );
  }

  const poller = poll(async () => {
    try {
      data = await promGet<TargetsData>('/api/v1/targets');
      error = undefined;
      fresh.ok();
    } catch (e) {
      error = e;
      if (data) fresh.failed(e);
    }
    draw();
  }, 5000);

  return {
    title: 'Targets',
    unmount: () => poller.stop(),
  };
}

/** 0.0123 s → "12.3ms". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '—';
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)}ms`;
  return `${s.toFixed(2)}s`;
}

// ---- Status --------------------------------------------------------------------------------------

const STATUS_TABS: [string, string][] = [
  ['', 'Runtime & build'],
  ['config', 'Config'],
  ['flags', 'Flags'],
  ['stores', 'Stores'],
];

/** Status with tabs: runtime & build, config, flags, stores. */
export function statusPage(ctx: PageContext): Page {
  const tab = STATUS_TABS.some(([id]) => id === (ctx.params.tab ?? '')) ? ctx.params.tab ?? '' : 'unknown';
  const body = h('div', { class: 'status-body' });
  ctx.root.append(
    h('div', { class: 'page status-page' },
      h('div', { class: 'page-header' }, h('h1', null, 'Status')),
      tabLinks('/status', STATUS_TABS, tab),
      body,
    ),
  );
  let stop = () => {};
  if (tab === '') stop = runtimeTab(body);
  else if (tab === 'config') configTab(body);
  else if (tab === 'flags') flagsTab(body, ctx.query);
  else if (tab === 'stores') stop = storesTab(body);
  else body.append(message('empty', `There is no status tab "${ctx.params.tab}".`, 'Pick one of the tabs above.'));
  const label = STATUS_TABS.find(([id]) => id === tab)?.[1];
  return { title: label && tab ? `Status · ${label}` : 'Status', unmount: () => stop() };
}

function kvTable(rows: [string, Child][]): HTMLElement {
  return h('table', { class: 'data kv' }, h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v)))));
}
type Child = Parameters<typeof h>[2];

function runtimeTab(body: HTMLElement): () => void {
  const fresh = freshness();
  const build = h('div', { class: 'card' }, h('h2', null, 'Build'), message('loading', 'Loading build information'));
  const runtime = h('div', { class: 'card' }, h('h2', null, 'Runtime'), message('loading', 'Loading runtime information'));
  const storage = h('div', { class: 'card' }, h('h2', null, 'Storage used'), message('loading', 'Loading storage'));
  body.append(h('div', { class: 'toolbar' }, h('span', { class: 'spacer' }), fresh.el), h('div', { class: 'status-grid' }, runtime, build, storage));
  let loaded = false;
  const p = poll(async () => {
    const [bi, rt, ov] = await Promise.allSettled([
      promGet<Record<string, string>>('/api/v1/status/buildinfo'),
      promGet<Record<string, string | number | boolean>>('/api/v1/status/runtimeinfo'),
      request<Overview>('/api/pharos/v1/overview'),
    ]);
    const allFailed = [bi, rt, ov].every((r) => r.status === 'rejected');
    if (allFailed && loaded) {
      fresh.failed((bi as PromiseRejectedResult).reason);
      return;
    }
    loaded = true;
    fresh.ok();
    if (bi.status === 'fulfilled') {
      const b = bi.value;
      replace(build, h('h2', null, 'Build'), kvTable([
        ['pharos version', b.pharosVersion ?? b.revision ?? (ov.status === 'fulfilled' ? ov.value.build.version : '—')],
        ['Prometheus API version', b.version ?? '—'],
        ['Grafana API version', ov.status === 'fulfilled' ? ov.value.build.grafana_compat_version ?? '—' : '—'],
        ...Object.entries(b)
          .filter(([k]) => !['pharosVersion', 'version', 'revision'].includes(k) && b[k] !== '')
          .map(([k, v]): [string, Child] => [k, String(v)]),
      ]));
    } else replace(build, h('h2', null, 'Build'), failure('build information', bi.reason));
    const rows: [string, Child][] = [];
    if (ov.status === 'fulfilled') {
      const start = ov.value.start_time_ms;
      rows.push(['Started', `${formatDateTime(start)} (${ago(start)})`], ['Uptime', h('span', { 'data-testid': 'uptime' }, shortDuration(ov.value.uptime_seconds * 1000))]);
    }
    if (rt.status === 'fulfilled') {
      const start = parseTs(String(rt.value.startTime ?? ''));
      if (ov.status !== 'fulfilled' && start) rows.push(['Started', `${formatDateTime(start)} (${ago(start)})`], ['Uptime', h('span', { 'data-testid': 'uptime' }, shortDuration(Date.now() - start))]);
      const names: Record<string, string> = {
        GOMAXPROCS: 'CPU threads',
        CWD: 'Working directory',
        reloadConfigSuccess: 'Last config reload succeeded',
        lastConfigTime: 'Config loaded at',
        corruptionCount: 'WAL corruptions',
        storageRetention: 'Storage retention',
      };
      for (const [k, v] of Object.entries(rt.value)) {
        if (k === 'startTime' || v === '' || k === 'goroutineCount' || k === 'GOGC' || k === 'GODEBUG') continue;
        const text = k === 'lastConfigTime' && parseTs(String(v)) ? formatDateTime(parseTs(String(v))) : String(v);
        rows.push([names[k] ?? k, k === 'reloadConfigSuccess' ? h('span', { class: v ? 'text-ok' : 'text-error' }, v ? 'yes' : 'no') : text]);
      }
    }
    if (rows.length) replace(runtime, h('h2', null, 'Runtime'), kvTable(rows));
    else replace(runtime, h('h2', null, 'Runtime'), failure('runtime information', rt.status === 'rejected' ? rt.reason : undefined));
    if (ov.status === 'fulfilled') replace(storage, h('h2', null, 'Storage used'), storageTable(ov.value.storage));
    else replace(storage, h('h2', null, 'Storage used'), failure('storage use', ov.reason));
  }, 10_000);
  return p.stop;
}

function configTab(body: HTMLElement) {
  body.append(message('loading', 'Loading the configuration'));
  promGet<{ yaml: string }>('/api/v1/status/config').then(
    (d) => {
      const yaml = d.yaml ?? '';
      const copyBtn = h('button', {
        class: 'small',
        onclick: async () => {
          const ok = await copyText(yaml);
          copyBtn.textContent = ok ? 'Copied ✓' : 'Copy failed';
          setTimeout(() => (copyBtn.textContent = 'Copy'), 2000);
        },
      }, 'Copy');
      replace(body,
        h('div', { class: 'toolbar' }, h('span', { class: 'dim' }, 'The prometheus.yml pharos runs with, after ${VAR} expansion.'), h('span', { class: 'spacer' }), copyBtn),
        yaml.trim()
          ? h('pre', { class: 'config-yaml', 'data-testid': 'config-yaml' }, yaml)
          : message('empty', 'No prometheus.yml is loaded.', 'pharos runs with defaults: no scrape targets and no rule files. Start it with --config prometheus.yml (or pharos.yml).'),
      );
    },
    (e) => replace(body, failure('the configuration', e)),
  );
}

function flagsTab(body: HTMLElement, query: URLSearchParams) {
  body.append(message('loading', 'Loading flags'));
  promGet<Record<string, string>>('/api/v1/status/flags').then(
    (flags) => {
      const entries = Object.entries(flags).sort(([a], [b]) => a.localeCompare(b));
      const list = h('div');
      const filter = h('input', {
        type: 'search',
        class: 'filter-input',
        placeholder: 'Filter flags…',
        value: query.get('search') ?? '',
        oninput: () => {
          setQuery({ search: filter.value || null });
          draw();
        },
      });
      const draw = () => {
        const q = filter.value.toLowerCase();
        const shown = entries.filter(([k, v]) => !q || k.toLowerCase().includes(q) || v.toLowerCase().includes(q));
        replace(list, shown.length
          ? h('table', { class: 'data' }, h('thead', null, h('tr', null, h('th', null, 'Flag'), h('th', null, 'Value'))), h('tbody', null, shown.map(([k, v]) => h('tr', null, h('td', { class: 'mono' }, k), h('td', { class: 'mono' }, v)))))
          : message('empty', entries.length ? 'No flag matches the filter.' : 'The server reports no flags.'));
      };
      draw();
      replace(body, h('div', { class: 'toolbar' }, filter), list);
    },
    (e) => replace(body, failure('the flags', e)),
  );
}

interface TsdbStatus {
  headStats: { numSeries: number; chunkCount: number; minTime: number; maxTime: number; numLabelPairs?: number };
  seriesCountByMetricName: { name: string; value: number }[];
  labelValueCountByLabelName: { name: string; value: number }[];
  memoryInBytesByLabelName: { name: string; value: number }[];
  seriesCountByLabelValuePair: { name: string; value: number }[];
}

interface StoresData {
  metrics?: { head_series: number; series_created_total: number; samples_appended_total: number; disk_bytes: number };
  logs: {
    tenants: number;
    streams: number;
    lines_received_total: number;
    bytes_received_total: number;
    head_bytes: number;
    segments: number;
    segment_bytes: number;
    disk_bytes: number;
    label_names: number;
    labels: { name: string; values: number; streams: number }[];
  };
  traces: {
    services: number;
    traces: number;
    spans: number;
    spans_received_total: number;
    spans_refused_total: number;
    disk_bytes: number;
    top_services: { name: string; spans: number; operations: number }[];
  };
}

function statCard(label: string, value: string, testid?: string, detail?: string): HTMLElement {
  return h('div', { class: 'card stat-card' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value', 'data-testid': testid }, value), detail ? h('div', { class: 'stat-detail faint' }, detail) : null);
}

function topTable(title: string, cols: [string, string], unsorted: { name: string; value: number }[], opts: { bytes?: boolean; link?: (name: string) => string; testid?: string; empty: string }): HTMLElement {
  const rows = [...unsorted].sort((a, b) => b.value - a.value);
  const max = Math.max(1, ...rows.map((r) => r.value));
  return h('div', { class: 'card top-card', 'data-testid': opts.testid },
    h('h3', null, title),
    rows.length
      ? h('table', { class: 'data top-table' },
          h('thead', null, h('tr', null, h('th', null, cols[0]), h('th', { class: 'num' }, cols[1]))),
          h('tbody', null, rows.map((r) =>
            h('tr', null,
              h('td', { class: 'mono name-cell', title: r.name }, opts.link ? h('a', { href: opts.link(r.name) }, r.name) : r.name, h('div', { class: 'bar thin', style: { width: `${(r.value / max) * 100}%` } })),
              h('td', { class: 'num' }, opts.bytes ? formatBytes(r.value) : formatCount(r.value)),
            ),
          )),
        )
      : h('div', { class: 'faint top-empty' }, opts.empty),
  );
}

function storesTab(body: HTMLElement): () => void {
  const fresh = freshness();
  const tsdb = h('section', null, h('h2', null, 'Metrics (TSDB)'), message('loading', 'Loading TSDB statistics'));
  const logs = h('section', null, h('h2', null, 'Logs'), message('loading', 'Loading log store statistics'));
  const traces = h('section', null, h('h2', null, 'Traces'), message('loading', 'Loading trace store statistics'));
  const storage = h('section', null, h('h2', null, 'Storage used'), message('loading', 'Loading storage'));
  body.append(h('div', { class: 'toolbar' }, h('span', { class: 'spacer' }), fresh.el), tsdb, logs, traces, storage);
  let loaded = false;
  const p = poll(async () => {
    const [ts, st, ov] = await Promise.allSettled([
      promGet<TsdbStatus>('/api/v1/status/tsdb'),
      request<StoresData>('/api/pharos/v1/stores?limit=10'),
      request<Overview>('/api/pharos/v1/overview'),
    ]);
    if ([ts, st, ov].every((r) => r.status === 'rejected') && loaded) {
      fresh.failed((ts as PromiseRejectedResult).reason);
      return;
    }
    loaded = true;
    fresh.ok();
    if (ts.status === 'fulfilled') {
      const t = ts.value;
      const hs = t.headStats ?? { numSeries: 0, chunkCount: 0, minTime: 0, maxTime: 0 };
      const m = st.status === 'fulfilled' ? st.value.metrics : undefined;
      const range = hs.minTime && hs.maxTime && hs.maxTime > hs.minTime ? `${formatDateTime(hs.minTime)} → ${formatDateTime(hs.maxTime)}` : undefined;
      const notReported = 'Not reported by this server.';
      const optional: [string, { name: string; value: number }[], [string, string], boolean][] = [
        ['Label names by value count', t.labelValueCountByLabelName ?? [], ['Label', 'Values'], false],
        ['Label pairs by series count', t.seriesCountByLabelValuePair ?? [], ['Pair', 'Series'], false],
        ['Memory by label name', t.memoryInBytesByLabelName ?? [], ['Label', 'Bytes'], true],
      ];
      const missing = optional.filter(([, rows]) => !rows.length).map(([title]) => title);
      replace(tsdb,
        h('h2', null, 'Metrics (TSDB)'),
        h('div', { class: 'grid-cards' },
          statCard('Head series', formatCount(hs.numSeries), 'tsdb-series'),
          hs.chunkCount ? statCard('Head chunks', formatCount(hs.chunkCount)) : null,
          m ? statCard('Samples appended', formatCount(m.samples_appended_total), undefined, 'since start') : null,
          m ? statCard('Series created', formatCount(m.series_created_total), undefined, 'since start') : null,
          m ? statCard('On disk', formatBytes(m.disk_bytes)) : null,
          range ? statCard('Time range in head', shortDuration(hs.maxTime - hs.minTime), undefined, range) : null,
        ),
        hs.numSeries === 0 ? message('empty', 'The TSDB holds no series yet.', 'Scrape a target or send remote_write to /api/v1/write.') : null,
        h('div', { class: 'top-grid' },
          topTable('Top 10 metrics by series count', ['Metric', 'Series'], t.seriesCountByMetricName ?? [], { testid: 'top-metrics', empty: hs.numSeries ? notReported : 'No metrics yet.', link: (n) => `/explore/metrics?query=${encodeURIComponent(n)}` }),
          optional.filter(([, rows]) => rows.length).map(([title, rows, cols, bytes]) => topTable(title, cols, rows, { bytes, empty: notReported })),
        ),
        missing.length ? h('div', { class: 'faint not-reported' }, `${missing.join(', ')}: not reported by this server.`) : null,
      );
    } else replace(tsdb, h('h2', null, 'Metrics (TSDB)'), failure('TSDB statistics', ts.reason));
    if (st.status === 'fulfilled') {
      const l = st.value.logs;
      const tr = st.value.traces;
      replace(logs,
        h('h2', null, 'Logs'),
        h('div', { class: 'grid-cards' },
          statCard('Streams', formatCount(l.streams), 'log-streams'),
          statCard('Tenants', formatCount(l.tenants)),
          statCard('Lines received', formatCount(l.lines_received_total), undefined, `${formatBytes(l.bytes_received_total)} since start`),
          statCard('In memory (head)', formatBytes(l.head_bytes)),
          statCard('Segments', formatCount(l.segments), undefined, formatBytes(l.segment_bytes)),
          statCard('On disk', formatBytes(l.disk_bytes)),
        ),
        l.streams === 0 ? message('empty', 'The log store holds no streams yet.', `Push to ${location.origin}/loki/api/v1/push (Loki), /_bulk (Elasticsearch) or /v1/logs (OTLP).`) : null,
        h('div', { class: 'top-grid' },
          topTable(`Labels by value count (${l.label_names} names)`, ['Label', 'Values'], l.labels.map((x) => ({ name: x.name, value: x.values })), { testid: 'log-labels', empty: 'No labels yet.', link: (n) => `/explore/logs?query=${encodeURIComponent(`{${n}=~".+"}`)}` }),
          topTable('Labels by stream count', ['Label', 'Streams'], [...l.labels].sort((a, b) => b.streams - a.streams).map((x) => ({ name: x.name, value: x.streams })), { empty: 'No labels yet.' }),
        ),
      );
      replace(traces,
        h('h2', null, 'Traces'),
        h('div', { class: 'grid-cards' },
          statCard('Services', formatCount(tr.services), 'trace-services'),
          statCard('Traces', formatCount(tr.traces)),
          statCard('Spans', formatCount(tr.spans)),
          statCard('Spans received', formatCount(tr.spans_received_total), undefined, tr.spans_refused_total ? `${formatCount(tr.spans_refused_total)} refused` : 'none refused'),
          statCard('On disk', formatBytes(tr.disk_bytes)),
        ),
        tr.spans === 0 ? message('empty', 'The trace store holds no spans yet.', `Send OTLP to ${location.origin}/v1/traces, Jaeger to /api/traces or Zipkin to /api/v2/spans.`) : null,
        h('div', { class: 'top-grid' },
          topTable('Services by span count', ['Service', 'Spans'], tr.top_services.map((s) => ({ name: s.name, value: s.spans })), { testid: 'trace-services-top', empty: 'No services yet.', link: (n) => `/explore/traces?service=${encodeURIComponent(n)}` }),
          topTable('Services by operation count', ['Service', 'Operations'], [...tr.top_services].sort((a, b) => b.operations - a.operations).map((s) => ({ name: s.name, value: s.operations })), { empty: 'No services yet.' }),
        ),
      );
    } else {
      replace(logs, h('h2', null, 'Logs'), failure('log store statistics', st.reason));
      replace(traces, h('h2', null, 'Traces'), failure('trace store statistics', st.reason));
    }
    if (ov.status === 'fulfilled') replace(storage, h('h2', null, 'Storage used'), h('div', { class: 'card' }, storageTable(ov.value.storage)));
    else replace(storage, h('h2', null, 'Storage used'), failure('storage use', ov.reason));
  }, 15_000);
  return p.stop;
}
