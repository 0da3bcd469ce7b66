/**
 * Home: what runs and whether it is healthy, at a glance — scrape targets up/down (and why the
 * down ones fail), firing alerts by severity, ingest rates of every signal (samples/s, log
 * lines/s, spans/s computed between two polls of `/api/pharos/v1/overview`), storage used,
 * open and new error issues of the last 24 h, uptime probes up/down (`home_health.ts`),
 * uptime and version, and links into every page. An empty system gets a "getting started" card
 * with this server's own URLs. Refreshes every 10 s.
 */
import './pages.css';
import { h, message, replace } from '../lib/dom';
import { ApiError, request, type Labels } from '../lib/api';
import { formatDateTime } from '../lib/time';
import type { Page, PageContext } from '../lib/router';
import {
  agoEl,
  failure,
  formatBytes,
  formatCount,
  freshness,
  labelChips,
  parseTs,
  promGet,
  shortDuration,
  storageTable,
  type Overview,
} from './status';
import { fetchAmAlerts, type AmAlert } from './silence_form';
import { errorsCard, errorsStat, loadErrorSummary, loadProbes, probesCard, probesStat, type ErrorSummary, type StatContent } from './home_health';
import type { ProbeInfo } from '../uptime/uptime';

interface RuleAlert {
  labels: Labels;
  annotations: Record<string, string>;
  state: 'firing' | 'pending' | 'inactive';
  activeAt: string;
  value: string;
}

interface DownTarget {
  scrapePool: string;
  scrapeUrl: string;
  lastError: string;
  lastScrape: string;
  health: string;
  labels: Labels;
}

interface SearchHit {
  uid: string;
  title: string;
  url?: string;
  type?: string;
  tags?: string[];
  folderTitle?: string;
}

/** A counter sample for rate computation. */
interface Sample {
  at: number;
  samples: number;
  lines: number;
  spans: number;
}

const SEVERITY_ORDER = ['critical', 'error', 'warning', 'info', 'none'];

/** Shown where a server without `/api/pharos/v1/overview` cannot tell. */
const NOT_REPORTED = 'not reported by this pharos version';

/** Metric names pharos writes about itself (not data a user sent). */
const OWN_METRICS = /^(alertmanager_|pharos_|prometheus_|ALERTS$|ALERTS_FOR_STATE$)/;

export function homePage(ctx: PageContext): Page {
  const fresh = freshness();
  const subtitle = h('span', { class: 'dim home-subtitle' });
  const stats = h('div', { class: 'home-stats' }, message('loading', 'Loading the overview'));
  const main = h('div', { class: 'home-main' });
  ctx.root.append(
    h('div', { class: 'page home-page' },
      h('div', { class: 'page-header' }, h('h1', null, 'Home'), subtitle, fresh.el),
      stats,
      main,
    ),
  );

  let prev: Sample | undefined;
  /** Alerts the Alertmanager holds silenced (or inhibited) right now. */
  let silenced = 0;

  /**
   * Rule alerts (`/api/v1/alerts`) plus what other senders put in the Alertmanager, which
   * also says how many are silenced.
   */
  async function loadAlerts(): Promise<RuleAlert[]> {
    const [rules, am] = await Promise.all([
      promGet<{ alerts: RuleAlert[] }>('/api/v1/alerts').then((d) => d.alerts),
      fetchAmAlerts().catch(() => [] as AmAlert[]),
    ]);
    const key = (l: Labels) => JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1)));
    const known = new Set(rules.map((a) => key(a.labels)));
    silenced = am.filter((a) => a.status.state === 'suppressed').length;
    const external = am
      .filter((a) => !known.has(key(a.labels)) && !(parseTs(a.endsAt) && parseTs(a.endsAt) < Date.now()))
      .map((a): RuleAlert => ({ labels: a.labels, annotations: a.annotations ?? {}, state: 'firing', activeAt: a.startsAt, value: '' }));
    return [...rules, ...external];
  }
  let rates: { samples?: number; lines?: number; spans?: number } = {};
  let everLoaded = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  async function load() {
    let ov: Overview;
    try {
      ov = await request<Overview>('/api/pharos/v1/overview');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        // An older server without the overview: read its own /metrics instead.
        try {
          ov = await overviewFromMetrics();
        } catch (e2) {
          if (!everLoaded) replace(stats, failure('the overview', e2));
          else fresh.failed(e2);
          return;
        }
      } else {
        if (!everLoaded) replace(stats, failure('the overview', e));
        else fresh.failed(e);
        return;
      }
    }
    const cur: Sample = {
      at: ov.now_ms,
      samples: ov.metrics.samples_appended_total,
      lines: ov.logs.lines_received_total,
      spans: ov.traces.spans_received_total,
    };
    if (prev && cur.at > prev.at) {
      const dt = (cur.at - prev.at) / 1000;
      // A restart resets counters: treat a decrease as unknown rather than negative.
      const r = (a: number, b: number) => (Number.isNaN(a) ? NaN : a >= b ? (a - b) / dt : undefined);
      rates = { samples: r(cur.samples, prev.samples), lines: r(cur.lines, prev.lines), spans: r(cur.spans, prev.spans) };
    }
    prev = cur;
    const [alerts, targets, dashboards, errors, probes] = await Promise.allSettled([
      loadAlerts(),
      promGet<{ activeTargets: DownTarget[] }>('/api/v1/targets?state=active').then((d) => d.activeTargets),
      request<SearchHit[]>('/api/search?type=dash-db&limit=8'),
      loadErrorSummary(),
      loadProbes(),
    ]);
    everLoaded = true;
    fresh.ok();
    subtitle.textContent = `pharos ${ov.build.version} · up ${shortDuration(ov.uptime_seconds * 1000)} · started ${formatDateTime(ov.start_time_ms)}`;
    let empty =
      ov.metrics.targets.total === 0 &&
      !(ov.logs.lines_received_total > 0) &&
      !(ov.traces.spans_received_total > 0) &&
      (alerts.status !== 'fulfilled' || alerts.value.length === 0);
    if (empty && ov.metrics.head_series > 0) {
      // pharos records its own Alertmanager metrics; only other metric names mean data was sent.
      const names = await promGet<string[]>('/api/v1/label/__name__/values').catch(() => ['?']);
      empty = names.every((n) => OWN_METRICS.test(n));
    }
    drawStats(ov, alerts, errors, probes);
    drawMain(ov, empty, alerts, targets, dashboards, errors, probes);
  }

  function statCard(label: string, value: string, opts: { href?: string; testid?: string; kind?: string; detail?: (HTMLElement | string)[] } = {}): HTMLElement {
    const inner = [
      h('div', { class: 'stat-label' }, label),
      h('div', { class: `stat-value${opts.kind ? ` text-${opts.kind}` : ''}${/^[\d.,]+|^—$/.test(value) ? '' : ' stat-words'}`, 'data-testid': opts.testid, title: value }, value),
      opts.detail ? h('div', { class: 'stat-detail' }, opts.detail) : null,
    ];
    return opts.href ? h('a', { class: `card stat-card link-card${opts.kind ? ` card-${opts.kind}` : ''}`, href: opts.href }, inner) : h('div', { class: 'card stat-card' }, inner);
  }

  function rateText(v: number | undefined): string {
    if (v !== undefined && Number.isNaN(v)) return '—';
    if (v === undefined) return prev ? 'measuring…' : '—';
    return `${formatCount(v)}/s`;
  }

  function healthCard(label: string, c: StatContent, testid: string): HTMLElement {
    return statCard(label, c.value, { href: c.href, testid, kind: c.kind, detail: c.detail });
  }

  function drawStats(ov: Overview, alerts: PromiseSettledResult<RuleAlert[]>, errors: PromiseSettledResult<ErrorSummary>, probes: PromiseSettledResult<ProbeInfo[]>) {
    const t = ov.metrics.targets;
    const firing = alerts.status === 'fulfilled' ? alerts.value.filter((a) => a.state === 'firing') : [];
    const pending = alerts.status === 'fulfilled' ? alerts.value.filter((a) => a.state === 'pending').length : 0;
    const bySev = new Map<string, number>();
    for (const a of firing) bySev.set(a.labels.severity ?? 'none', (bySev.get(a.labels.severity ?? 'none') ?? 0) + 1);
    const sevs = [...bySev].sort(([a], [b]) => sevRank(a) - sevRank(b));
    replace(stats,
      h('div', { class: 'grid-cards home-cards' },
        statCard('Targets up', t.total ? `${t.up} / ${t.total}` : 'none', {
          href: t.down ? '/targets?health=unhealthy' : '/targets',
          testid: 'targets-up',
          kind: t.down ? 'error' : t.total ? 'ok' : undefined,
          detail: [
            t.down ? h('span', { class: 'text-error', 'data-testid': 'targets-down' }, `${t.down} down`) : h('span', { 'data-testid': 'targets-down' }, t.total ? 'none down' : 'no targets configured'),
            t.unknown ? ` · ${t.unknown} not scraped yet` : '',
          ],
        }),
        statCard('Firing alerts', alerts.status === 'fulfilled' ? String(firing.length) : '—', {
          href: '/alerts',
          testid: 'firing-count',
          kind: firing.length ? 'error' : 'ok',
          detail: [
            ...sevs.map(([s, n]) => h('span', { class: `badge badge-${sevClass(s)}`, 'data-severity': s }, `${n} ${s}`)),
            pending ? h('span', { class: 'badge badge-pending' }, `${pending} pending`) : '',
            silenced ? h('span', { class: 'badge badge-suppressed' }, `${silenced} silenced`) : '',
            !firing.length && !pending ? 'all quiet' : '',
          ],
        }),
        healthCard('Open errors, 24 h', errorsStat(errors), 'errors-open'),
        healthCard('Probes up', probesStat(probes), 'probes-up'),
        statCard('Samples / s', rateText(rates.samples), {
          href: '/explore/metrics',
          testid: 'rate-samples',
          detail: [`${formatCount(ov.metrics.head_series)} series · ${formatCount(ov.metrics.samples_appended_total)} samples since start`],
        }),
        statCard('Log lines / s', rateText(rates.lines), {
          href: '/explore/logs',
          testid: 'rate-lines',
          detail: [Number.isNaN(ov.logs.lines_received_total) ? NOT_REPORTED : `${formatCount(ov.logs.streams)} streams · ${formatCount(ov.logs.lines_received_total)} lines since start`],
        }),
        statCard('Spans / s', rateText(rates.spans), {
          href: '/explore/traces',
          testid: 'rate-spans',
          detail: [Number.isNaN(ov.traces.spans_received_total) ? NOT_REPORTED : `${formatCount(ov.traces.services)} services · ${formatCount(ov.traces.traces)} traces stored`],
        }),
        statCard('Storage used', formatBytes(ov.storage.total_bytes), {
          href: '/status/stores',
          testid: 'storage-used',
          detail: [Number.isNaN(ov.storage.total_bytes) ? NOT_REPORTED : `metrics ${formatBytes(ov.storage.metrics_bytes)} · logs ${formatBytes(ov.storage.logs_bytes)} · traces ${formatBytes(ov.storage.traces_bytes)}`],
        }),
      ),
    );
  }

  function drawMain(
    ov: Overview,
    empty: boolean,
    alerts: PromiseSettledResult<RuleAlert[]>,
    targets: PromiseSettledResult<DownTarget[]>,
    dashboards: PromiseSettledResult<SearchHit[]>,
    errors: PromiseSettledResult<ErrorSummary>,
    probes: PromiseSettledResult<ProbeInfo[]>,
  ) {
    replace(main,
      empty ? gettingStarted() : null,
      // Two independent columns, so a short card never leaves a hole beside a long one.
      h('div', { class: 'home-grid' },
        // Cards with something wrong first, so a problem is never below the fold under a quiet card.
        h('div', { class: 'home-col' },
          alertsCard(alerts, ov),
          ...[
            { el: targetsCard(targets), bad: targets.status === 'fulfilled' && targets.value.some((t) => t.health === 'down') },
            { el: errorsCard(errors), bad: errors.status === 'fulfilled' && errors.value.open > 0 },
            { el: probesCard(probes), bad: probes.status === 'fulfilled' && probes.value.some((p) => p.state === 'down') },
          ]
            .sort((a, b) => Number(b.bad) - Number(a.bad))
            .map((c) => c.el),
        ),
        h('div', { class: 'home-col' },
          dashboardsCard(dashboards, ov),
          h('div', { class: 'card' }, h('h2', null, 'Storage'), Number.isNaN(ov.storage.total_bytes) ? h('div', { class: 'dim' }, `Storage per store: ${NOT_REPORTED}.`) : storageTable(ov.storage), h('div', { class: 'card-foot' }, h('a', { href: '/status/stores' }, 'Store statistics ›'))),
          linksCard(),
        ),
      ),
    );
  }

  function targetsCard(targets: PromiseSettledResult<DownTarget[]>): HTMLElement {
    const head = h('h2', null, 'Down targets');
    if (targets.status === 'rejected') return h('div', { class: 'card' }, head, failure('the targets', targets.reason));
    const down = targets.value.filter((t) => t.health === 'down');
    const pools = new Set(targets.value.map((t) => t.scrapePool)).size;
    return h('div', { class: 'card home-down', 'data-testid': 'down-targets' },
      head,
      !targets.value.length
        ? message('empty', 'No scrape targets.', 'Add scrape_configs to prometheus.yml.')
        : !down.length
          ? h('div', { class: 'all-good' }, h('span', { class: 'badge badge-up' }, 'all up'), ` ${targets.value.length} targets in ${pools} pools answer.`)
          : h('ul', { class: 'plain-list' },
              down.slice(0, 8).map((t) =>
                h('li', { 'data-pool': t.scrapePool },
                  h('div', { class: 'row-line' }, h('span', { class: 'badge badge-down' }, 'down'), h('strong', null, t.scrapePool), h('span', { class: 'mono dim ellipsis', title: t.scrapeUrl }, t.scrapeUrl), h('span', { class: 'faint nowrap' }, agoEl(parseTs(t.lastScrape)))),
                  t.lastError ? h('div', { class: 'error-inline' }, t.lastError) : null,
                ),
              ),
              down.length > 8 ? h('li', { class: 'faint' }, `and ${down.length - 8} more`) : null,
            ),
      h('div', { class: 'card-foot' }, h('a', { href: '/targets' }, 'All targets ›')),
    );
  }

  function alertsCard(alerts: PromiseSettledResult<RuleAlert[]>, ov?: Overview): HTMLElement {
    const head = h('h2', null, 'Firing alerts');
    if (alerts.status === 'rejected') return h('div', { class: 'card' }, head, failure('the alerts', alerts.reason));
    const firing = alerts.value
      .filter((a) => a.state === 'firing')
      .sort((a, b) => sevRank(a.labels.severity) - sevRank(b.labels.severity) || parseTs(b.activeAt) - parseTs(a.activeAt));
    const newest = [...firing].sort((a, b) => parseTs(b.activeAt) - parseTs(a.activeAt))[0];
    return h('div', { class: 'card home-alerts', 'data-testid': 'firing-alerts' },
      head,
      !firing.length
        ? h('div', { class: 'all-good' }, h('span', { class: 'badge badge-ok' }, 'quiet'), ' No alert is firing.', silenced ? ` ${silenced} silenced.` : '')
        : [
            newest ? h('div', { class: 'dim newest' }, 'Newest: ', h('strong', null, newest.labels.alertname ?? '?'), ' since ', agoEl(parseTs(newest.activeAt))) : null,
            h('ul', { class: 'plain-list' },
              firing.slice(0, 6).map((a) =>
                h('li', { 'data-alertname': a.labels.alertname ?? '' },
                  h('div', { class: 'row-line' },
                    h('span', { class: `badge badge-${sevClass(a.labels.severity)}` }, a.labels.severity ?? 'firing'),
                    h('a', { href: `/alerts?search=${encodeURIComponent(a.labels.alertname ?? '')}` }, h('strong', null, a.labels.alertname ?? '(no name)')),
                    h('span', { class: 'faint nowrap' }, agoEl(parseTs(a.activeAt))),
                  ),
                  a.annotations.summary ? h('div', { class: 'dim' }, a.annotations.summary) : null,
                  h('div', null, labelChips(a.labels, ['alertname', 'severity'])),
                ),
              ),
              firing.length > 6 ? h('li', { class: 'faint' }, `and ${firing.length - 6} more`) : null,
            ),
          ],
      h('div', { class: 'card-foot' }, h('a', { href: '/alerts' }, 'All alerts ›'), h('a', { href: '/alerts/rules' }, 'Rules ›'), h('a', { href: '/alerts/silences' }, 'Silences ›')),
    );
  }

  function dashboardsCard(dashboards: PromiseSettledResult<SearchHit[]>, ov: Overview): HTMLElement {
    const head = h('h2', null, 'Dashboards');
    let content: HTMLElement | HTMLElement[];
    if (dashboards.status === 'rejected') {
      const e = dashboards.reason;
      content = e instanceof ApiError && e.status === 404 ? h('div', { class: 'faint' }, 'Dashboard search is not available on this server.') : failure('the dashboards', e);
    } else {
      const list = dashboards.value.filter((d) => (d.type ?? 'dash-db') === 'dash-db');
      content = list.length
        ? h('ul', { class: 'plain-list dash-list' },
            list.map((d) =>
              h('li', null,
                h('a', { href: d.url && d.url.startsWith('/') ? d.url : `/d/${encodeURIComponent(d.uid)}` }, d.title),
                d.folderTitle ? h('span', { class: 'faint' }, ` · ${d.folderTitle}`) : null,
                (d.tags ?? []).slice(0, 4).map((t) => h('span', { class: 'tag' }, t)),
              ),
            ),
          )
        : h('div', { class: 'dim' }, 'No dashboards yet. Import a Grafana dashboard JSON, or provision a folder with dashboards.path in pharos.yml.');
    }
    return h('div', { class: 'card home-dashboards' },
      head,
      content,
      h('div', { class: 'card-foot' },
        h('a', { href: '/dashboards' }, `All dashboards${ov.dashboards.total ? ` (${ov.dashboards.total})` : ''} ›`),
        h('a', { href: '/dashboards/import' }, 'Import ›'),
        h('a', { href: '/dashboards/new' }, 'New ›'),
      ),
    );
  }

  function linksCard(): HTMLElement {
    const link = (href: string, title: string, text: string) => h('a', { class: 'jump', href }, h('strong', null, title), h('span', { class: 'dim' }, text));
    return h('div', { class: 'card home-links' },
      h('h2', null, 'Go to'),
      h('div', { class: 'jump-grid' },
        link('/explore/metrics', 'Explore metrics', 'PromQL, graph and table'),
        link('/explore/logs', 'Explore logs', 'LogQL, live tail'),
        link('/explore/traces', 'Explore traces', 'search, waterfall, dependencies'),
        link('/dashboards', 'Dashboards', 'Grafana JSON'),
        link('/alerts', 'Alerts', 'firing, pending, silenced'),
        link('/alerts/rules', 'Rules', 'PromQL and LogQL groups'),
        link('/alerts/silences', 'Silences', 'active, pending, expired'),
        link('/alerts/notifications', 'Notifications', 'what was sent where'),
        link('/targets', 'Targets', 'scrape health'),
        link('/status', 'Status', 'build, config, flags'),
        link('/status/stores', 'Stores', 'series, streams, cardinality'),
      ),
    );
  }

  function gettingStarted(): HTMLElement {
    const origin = location.origin;
    const host = location.host;
    const step = (title: string, text: string, code: string) =>
      h('div', { class: 'gs-step' }, h('h3', null, title), h('div', { class: 'dim' }, text), h('pre', { class: 'gs-code' }, code));
    return h('div', { class: 'card getting-started', 'data-testid': 'getting-started' },
      h('h2', null, 'Getting started: nothing has been sent to pharos yet'),
      h('p', { class: 'dim' }, `Everything below talks to this server, ${origin}. Data shows up here within seconds.`),
      h('div', { class: 'gs-grid' },
        step('Metrics: scrape', 'Start pharos with a prometheus.yml whose scrape_configs list your exporters, then reload it (SIGHUP; POST /-/reload needs --web.enable-lifecycle):', `scrape_configs:\n  - job_name: my-app\n    static_configs:\n      - targets: ['localhost:8080']\n\nkill -HUP $(pidof pharos)`),
        step('Metrics: remote_write', 'Or send from an existing Prometheus or agent:', `remote_write:\n  - url: ${origin}/api/v1/write`),
        step('Logs', 'Point promtail / winston-loki at the Loki push API (or Elasticsearch clients at the same URL):', `${origin}/loki/api/v1/push\n\ncurl -H 'Content-Type: application/json' ${origin}/loki/api/v1/push \\\n  -d '{"streams":[{"stream":{"app":"demo"},"values":[["'$(date +%s%N)'","hello"]]}]}'`),
        step('Traces', 'OpenTelemetry exporters (OTLP/HTTP), Jaeger or Zipkin clients:', `OTEL_EXPORTER_OTLP_ENDPOINT=${origin}\n# traces: ${origin}/v1/traces\n# Jaeger: ${origin}/api/traces   Zipkin: ${origin}/api/v2/spans`),
        step('Alerts', 'Rule files go in prometheus.yml (rule_files); a Prometheus elsewhere can send here as its Alertmanager:', `alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['${host}']`),
        step('Grafana', 'Existing Grafana data sources keep working; use this URL for Prometheus, Loki, Jaeger and Elasticsearch:', origin),
      ),
    );
  }

  async function loop() {
    if (stopped) return;
    await load();
    if (stopped) return;
    // A second poll soon after the first gives rates within seconds; then every 10 s.
    timer = setTimeout(() => void loop(), rates.samples === undefined && prev ? 2000 : 10_000);
  }
  void loop();

  return {
    title: 'Home',
    unmount: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Sort rank of a severity label value (critical first). */
export function sevRank(s: string | undefined): number {
  const i = SEVERITY_ORDER.indexOf((s ?? 'none').toLowerCase());
  return i < 0 ? SEVERITY_ORDER.length : i;
}

/** The badge class for a severity label value. */
export function sevClass(s: string | undefined): string {
  const v = (s ?? '').toLowerCase();
  if (v === 'critical' || v === 'error' || v === 'page' || v === 'high') return 'critical';
  if (v === 'warning' || v === 'warn' || v === 'medium') return 'warning';
  if (v === 'info' || v === 'low') return 'info';
  return 'firing';
}

/** Prometheus text format: the sum of each metric's samples (labels ignored). */
function parseMetricSums(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/);
    if (!m) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) out.set(m[1], (out.get(m[1]) ?? 0) + v);
  }
  return out;
}

/**
 * The overview of a server without `/api/pharos/v1/overview`, from its own `/metrics` and the
 * targets API; what those do not tell (log lines, spans, most storage) is NaN and shows as "—".
 */
async function overviewFromMetrics(): Promise<Overview> {
  const [text, targets, build] = await Promise.all([
    request<string>('/metrics', { text: true, headers: { Accept: 'text/plain' } }),
    promGet<{ activeTargets: { health: string }[]; droppedTargets?: unknown[] }>('/api/v1/targets'),
    promGet<Record<string, string>>('/api/v1/status/buildinfo').catch(() => ({}) as Record<string, string>),
  ]);
  const m = parseMetricSums(text);
  const get = (k: string) => m.get(k) ?? NaN;
  const now = Date.now();
  const start = (m.get('process_start_time_seconds') ?? now / 1000) * 1000;
  const t = targets.activeTargets;
  return {
    now_ms: now,
    start_time_ms: start,
    uptime_seconds: (now - start) / 1000,
    build: { version: build.pharosVersion ?? build.revision ?? '(version unknown)' },
    metrics: {
      samples_appended_total: get('prometheus_tsdb_head_samples_appended_total'),
      series_created_total: get('prometheus_tsdb_head_series_created_total'),
      head_series: get('prometheus_tsdb_head_series'),
      targets: {
        total: t.length,
        up: t.filter((x) => x.health === 'up').length,
        down: t.filter((x) => x.health === 'down').length,
        unknown: t.filter((x) => x.health !== 'up' && x.health !== 'down').length,
        dropped: targets.droppedTargets?.length ?? 0,
      },
    },
    logs: { lines_received_total: NaN, bytes_received_total: NaN, streams: NaN, tenants: NaN },
    traces: { spans_received_total: NaN, spans_refused_total: NaN, traces: NaN, spans: NaN, services: NaN },
    alerts: {
      active: get('alertmanager_alerts'),
      suppressed: 0,
      notifications_total: get('alertmanager_notifications_total'),
      notifications_failed_total: get('alertmanager_notifications_failed_total'),
      notification_attempts_total: NaN,
    },
    dashboards: { total: 0, provisioned: 0 },
    storage: { metrics_bytes: get('prometheus_tsdb_storage_blocks_bytes'), total_bytes: NaN },
  };
}
