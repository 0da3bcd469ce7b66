/**
 * Alerts, with tabs: firing and pending alerts grouped by alert name (rule state from
 * `/api/v1/alerts`/`rules`, silenced/inhibited status from the Alertmanager's `/api/v2/alerts`),
 * the rule groups (PromQL and LogQL) with health and errors, silences (active, pending,
 * expired; expire, edit, recreate) and the notification log. The silence editor lives in
 * `silence_form.ts`.
 */
import './pages.css';
import { h, message, replace } from '../lib/dom';
import { ApiError, request, type Labels } from '../lib/api';
import { formatDateTime } from '../lib/time';
import { setQuery, type Page, type PageContext } from '../lib/router';
import { agoEl, failure, formatSeconds, freshness, labelChips, parseTs, poll, promGet, shortDuration, tabLinks } from './status';
import { sevClass, sevRank } from './home';
import {
  amError,
  fetchAmAlerts,
  fetchSilences,
  matcherText,
  matchesAll,
  newSilenceHref,
  parseMatcher,
  silenceForm,
  matches as matcherMatches,
  type AmAlert,
  type AmMatcher,
  type Silence,
} from './silence_form';

const TABS: [string, string][] = [
  ['', 'Alerts'],
  ['rules', 'Rules'],
  ['silences', 'Silences'],
  ['notifications', 'Notifications'],
];

// ---- Prometheus rules API shapes -----------------------------------------------------------------

interface RuleAlert {
  labels: Labels;
  annotations: Record<string, string>;
  state: 'firing' | 'pending' | 'inactive';
  activeAt: string;
  value: string;
  keepFiringSince?: string;
}

interface Rule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  state?: 'firing' | 'pending' | 'inactive';
  health: 'ok' | 'err' | 'unknown';
  lastError?: string;
  lastEvaluation: string;
  evaluationTime: number;
  duration?: number;
  keepFiringFor?: number;
  labels?: Labels;
  annotations?: Record<string, string>;
  alerts?: RuleAlert[];
}

interface RuleGroup {
  name: string;
  file: string;
  rules: Rule[];
  interval: number;
  limit?: number;
  evaluationTime: number;
  lastEvaluation: string;
}

/** Groups from `/api/v1/rules`, each marked LogQL when Loki's ruler path lists it too. */
async function fetchRuleGroups(): Promise<(RuleGroup & { logql: boolean })[]> {
  const [all, logql] = await Promise.all([
    promGet<{ groups: RuleGroup[] }>('/api/v1/rules'),
    promGet<{ groups: RuleGroup[] }>('/prometheus/api/v1/rules').catch(() => ({ groups: [] as RuleGroup[] })),
  ]);
  const lq = new Set(logql.groups.map((g) => `${g.file}\u0000${g.name}`));
  return all.groups.map((g) => ({ ...g, logql: lq.has(`${g.file}\u0000${g.name}`) }));
}

function exploreHref(query: string, logql: boolean): string {
  return `${logql ? '/explore/logs' : '/explore/metrics'}?query=${encodeURIComponent(query)}`;
}

/** The alert's incident page: its labels in the query string (survives resolution), `__start` its start. */
function incidentHref(labels: Labels, startMs: number | undefined): string {
  const p = new URLSearchParams(labels);
  if (startMs && Number.isFinite(startMs)) p.set('__start', String(Math.round(startMs)));
  return `/incident?${p}`;
}

function labelKey(l: Labels): string {
  return JSON.stringify(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function formatValue(v: string): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return v;
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 1000 || Math.abs(n) < 0.001 ? n.toExponential(3) : String(+n.toPrecision(4));
}

function secs(s: number | undefined): string {
  return s ? shortDuration(s * 1000) : '0s';
}

// ---- page ----------------------------------------------------------------------------------------

export function alertsPage(ctx: PageContext): Page {
  const isNew = /^\/alerts\/silences\/new\/?$/.test(location.pathname);
  const tab = isNew ? 'silences' : ctx.params.tab ?? '';
  const known = TABS.some(([id]) => id === tab);
  const body = h('div', { class: 'alerts-body' });
  ctx.root.append(
    h('div', { class: 'page alerts-page' },
      h('div', { class: 'page-header' }, h('h1', null, 'Alerts'), h('a', { class: 'btn', href: '/alerts/silences/new' }, '+ New silence')),
      tabLinks('/alerts', TABS, known ? tab : 'unknown'),
      body,
    ),
  );
  let stop: () => void = () => {};
  if (isNew) stop = silenceForm(body, ctx.query);
  else if (tab === '') stop = alertsTab(body, ctx.query);
  else if (tab === 'rules') stop = rulesTab(body, ctx.query);
  else if (tab === 'silences') stop = silencesTab(body, ctx.query);
  else if (tab === 'notifications') stop = notificationsTab(body, ctx.query);
  else body.append(message('empty', `There is no alerts tab "${tab}".`, 'Pick one of the tabs above.'));
  const title = isNew ? 'New silence' : `Alerts${tab ? ` · ${TABS.find(([id]) => id === tab)?.[1] ?? tab}` : ''}`;
  return { title, unmount: () => stop() };
}

// ---- Alerts tab ----------------------------------------------------------------------------------

interface AlertGroupView {
  name: string;
  rules: { rule: Rule; group: RuleGroup & { logql: boolean } }[];
  instances: { a: RuleAlert; am?: AmAlert; logql: boolean }[];
  state: 'firing' | 'pending' | 'inactive';
  /** Alerts sent to the Alertmanager by another Prometheus (no local rule): their source URL. */
  generatorURL?: string;
}

/** The PromQL of a Prometheus generator URL (`/graph?g0.expr=…`), if it carries one. */
function generatorExpr(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).searchParams.get('g0.expr') ?? undefined;
  } catch {
    return undefined;
  }
}

/** A filter: `label op value` tokens (`severity=critical`, `{job=~"api.*"}`) and free text. */
function parseFilter(text: string): { matchers: AmMatcher[]; words: string[] } {
  const t = text.trim().replace(/^\{/, '').replace(/\}$/, '');
  const matchers: AmMatcher[] = [];
  const words: string[] = [];
  for (const part of t.split(/,|\s+(?=[a-zA-Z_]\w*\s*(?:=~|!~|!=|=))/)) {
    const p = part.trim();
    if (!p) continue;
    const m = parseMatcher(p);
    if (m) matchers.push(m);
    else words.push(...p.toLowerCase().split(/\s+/));
  }
  return { matchers, words };
}

function alertsTab(root: HTMLElement, query: URLSearchParams): () => void {
  const fresh = freshness();
  const STATES = ['firing', 'pending', 'inactive'] as const;
  const shownStates = new Set<string>((query.get('state') ?? 'firing,pending').split(',').filter(Boolean));
  let hideSilenced = query.get('silenced') === 'hide';
  const collapsed = new Set<string>();
  let filter = query.get('search') ?? '';
  let groups: (RuleGroup & { logql: boolean })[] | undefined;
  let amAlerts: AmAlert[] = [];
  let amError_: unknown;
  let error: unknown;

  const list = h('div', { class: 'alert-groups' }, message('loading', 'Loading alerts'));
  const counts = h('span', { class: 'alert-counts' });
  const input = h('input', {
    type: 'search',
    class: 'filter-input wide',
    placeholder: 'Filter: text, or matchers like severity=critical, job=~"api.*"',
    value: filter,
    'aria-label': 'Filter alerts',
    oninput: () => {
      filter = input.value;
      setQuery({ search: filter || null });
      draw();
    },
  });
  const stateBoxes = STATES.map((s) => {
    const cb = h('input', {
      type: 'checkbox',
      checked: shownStates.has(s),
      'data-state': s,
      onchange: () => {
        if (cb.checked) shownStates.add(s);
        else shownStates.delete(s);
        setQuery({ state: [...shownStates].join(',') });
        draw();
      },
    });
    return h('label', { class: `check state-${s}` }, cb, s === 'inactive' ? 'inactive rules' : s);
  });
  const silencedBox = h('input', {
    type: 'checkbox',
    checked: !hideSilenced,
    onchange: () => {
      hideSilenced = !silencedBox.checked;
      setQuery({ silenced: hideSilenced ? 'hide' : null });
      draw();
    },
  });
  root.append(
    h('div', { class: 'toolbar filters' }, input, ...stateBoxes, h('label', { class: 'check' }, silencedBox, 'silenced'), h('span', { class: 'spacer' }), fresh.el),
    counts,
    list,
  );

  function build(): AlertGroupView[] {
    const byKey = new Map<string, AmAlert>();
    for (const a of amAlerts) byKey.set(labelKey(a.labels), a);
    const views = new Map<string, AlertGroupView>();
    for (const g of groups ?? []) {
      for (const r of g.rules) {
        if (r.type !== 'alerting') continue;
        let v = views.get(r.name);
        if (!v) views.set(r.name, (v = { name: r.name, rules: [], instances: [], state: 'inactive' }));
        v.rules.push({ rule: r, group: g });
        for (const a of r.alerts ?? []) {
          if (a.state === 'inactive') continue;
          const key = labelKey(a.labels);
          v.instances.push({ a, am: byKey.get(key), logql: g.logql });
          byKey.delete(key);
        }
      }
    }
    // What is left in the Alertmanager came from elsewhere (another Prometheus, a script).
    for (const am of byKey.values()) {
      if (parseTs(am.endsAt) && parseTs(am.endsAt) < Date.now()) continue;
      const name = am.labels.alertname ?? '(no alertname)';
      let v = views.get(name);
      if (!v) views.set(name, (v = { name, rules: [], instances: [], state: 'inactive', generatorURL: am.generatorURL }));
      v.instances.push({ a: { labels: am.labels, annotations: am.annotations ?? {}, state: 'firing', activeAt: am.startsAt, value: '' }, am, logql: false });
    }
    for (const v of views.values()) {
      v.state = v.instances.some((i) => i.a.state === 'firing') ? 'firing' : v.instances.length ? 'pending' : 'inactive';
      v.instances.sort((x, y) => (x.a.state === y.a.state ? parseTs(y.a.activeAt) - parseTs(x.a.activeAt) : x.a.state === 'firing' ? -1 : 1));
    }
    const rank = { firing: 0, pending: 1, inactive: 2 };
    const sev = (v: AlertGroupView) => sevRank(v.rules[0]?.rule.labels?.severity ?? v.instances[0]?.a.labels.severity);
    return [...views.values()].sort((a, b) => rank[a.state] - rank[b.state] || sev(a) - sev(b) || a.name.localeCompare(b.name));
  }

  function instanceMatches(i: { a: RuleAlert; am?: AmAlert }, f: ReturnType<typeof parseFilter>): boolean {
    if (f.matchers.length && !f.matchers.every((m) => matcherMatches(m, i.a.labels))) return false;
    if (f.words.length) {
      const hay = [...Object.entries(i.a.labels).map(([k, v]) => `${k}=${v}`), ...Object.values(i.a.annotations)].join(' ').toLowerCase();
      if (!f.words.every((w) => hay.includes(w))) return false;
    }
    return true;
  }

  function draw() {
    if (!groups) {
      replace(list, error ? failure('the alerts', error) : message('loading', 'Loading alerts'));
      return;
    }
    const views = build();
    const all = views.flatMap((v) => v.instances);
    const firing = all.filter((i) => i.a.state === 'firing').length;
    const pending = all.filter((i) => i.a.state === 'pending').length;
    const silenced = all.filter((i) => i.am?.status.state === 'suppressed').length;
    const inactive = views.filter((v) => v.state === 'inactive').length;
    replace(counts,
      h('span', { class: 'badge badge-firing', 'data-testid': 'count-firing' }, `${firing} firing`),
      h('span', { class: 'badge badge-pending' }, `${pending} pending`),
      h('span', { class: 'badge badge-suppressed' }, `${silenced} silenced`),
      h('span', { class: 'badge badge-inactive' }, `${inactive} rules inactive`),
      amError_ ? h('span', { class: 'error-inline' }, ` Silenced/inhibited status unknown: ${amError(amError_)}`) : null,
    );
    if (!views.length) {
      replace(list, message('empty', 'No alerting rules are loaded.', 'Add rule_files to prometheus.yml (PromQL) or logs.rule_files to pharos.yml (LogQL), then reload pharos (kill -HUP <pid>, or POST /-/reload when it runs with --web.enable-lifecycle). Alerts sent by another Prometheus show under Silences → affected alerts.'));
      return;
    }
    const f = parseFilter(filter);
    const out: HTMLElement[] = [];
    for (const v of views) {
      let inst = v.instances.filter((i) => shownStates.has(i.a.state) && instanceMatches(i, f));
      if (hideSilenced) inst = inst.filter((i) => i.am?.status.state !== 'suppressed');
      const showInactive = v.state === 'inactive' && shownStates.has('inactive') && (!filter.trim() || v.name.toLowerCase().includes(filter.trim().toLowerCase()));
      if (!inst.length && !showInactive) continue;
      out.push(groupCard(v, inst));
    }
    if (!out.length) {
      const quiet = firing + pending === 0;
      replace(list, message(quiet ? 'empty' : 'info', quiet ? `No alert is firing or pending. ${views.length} alerting rules are being evaluated.` : 'No alert matches the filter.', quiet ? 'Tick "inactive rules" to list them.' : `Filter: ${filter || '(none)'}; states: ${[...shownStates].join(', ') || 'none'}`));
      return;
    }
    replace(list, out);
  }

  function groupCard(v: AlertGroupView, inst: AlertGroupView['instances']): HTMLElement {
    const isCollapsed = collapsed.has(v.name);
    const first = v.rules[0] as AlertGroupView['rules'][number] | undefined;
    const nFiring = v.instances.filter((i) => i.a.state === 'firing').length;
    const nPending = v.instances.length - nFiring;
    const sev = first ? first.rule.labels?.severity : v.instances[0]?.a.labels.severity;
    const extExpr = generatorExpr(v.generatorURL);
    const query = first?.rule.query ?? extExpr;
    return h('section', { class: `card alert-group state-${v.state}`, 'data-alertname': v.name },
      h('div', { class: 'alert-group-head' },
        h('button', {
          class: 'link-btn caret-btn',
          'aria-expanded': String(!isCollapsed),
          onclick: () => {
            if (collapsed.has(v.name)) collapsed.delete(v.name);
            else collapsed.add(v.name);
            draw();
          },
        }, h('span', { class: 'caret' }, isCollapsed ? '▸' : '▾'), h('span', { class: `badge badge-${v.state}` }, v.state), h('strong', { class: 'alertname' }, v.name)),
        sev ? h('span', { class: `badge badge-${sevClass(sev)}` }, sev) : null,
        h('span', { class: 'dim' }, [nFiring ? `${nFiring} firing` : '', nPending ? `${nPending} pending` : ''].filter(Boolean).join(', ') || 'inactive'),
        h('span', { class: 'spacer' }),
        first
          ? h('span', { class: 'faint group-src', title: first.group.file }, `${first.group.logql ? 'LogQL' : 'PromQL'} · group ${first.group.name}`)
          : h('span', { class: 'faint group-src', title: v.generatorURL ?? '' }, 'sent to the Alertmanager by another source'),
        query ? h('a', { class: 'btn small', href: exploreHref(query, first?.group.logql ?? false), 'data-action': 'show-query', title: query }, 'Show query') : null,
      ),
      isCollapsed
        ? null
        : [
            query
              ? h('div', { class: 'rule-expr mono', title: 'Rule expression' },
                  query,
                  first?.rule.duration ? h('span', { class: 'faint' }, `  for ${secs(first.rule.duration)}`) : null,
                  first?.rule.keepFiringFor ? h('span', { class: 'faint' }, `  keep_firing_for ${secs(first.rule.keepFiringFor)}`) : null)
              : null,
            first?.rule.lastError ? h('div', { class: 'error-inline' }, `Rule evaluation failed: ${first.rule.lastError}`) : null,
            inst.length ? h('div', { class: 'alert-instances' }, inst.map((i) => instanceRow(i))) : h('div', { class: 'faint pad' }, v.state === 'inactive' ? 'Inactive: the expression returns nothing right now.' : 'No instance matches the filters.'),
          ],
    );
  }

  function instanceRow(i: AlertGroupView['instances'][number]): HTMLElement {
    const { a, am } = i;
    const sil = am?.status.state === 'suppressed';
    const ann = { ...a.annotations };
    const summary = ann.summary;
    const description = ann.description;
    delete ann.summary;
    delete ann.description;
    return h('div', { class: `alert-instance${sil ? ' silenced' : ''}`, 'data-state': a.state, 'data-am-state': am?.status.state ?? 'unknown' },
      h('div', { class: 'inst-main' },
        h('div', { class: 'inst-badges' },
          h('span', { class: `badge badge-${a.state}` }, a.state),
          am?.status.silencedBy?.length
            ? h('a', { class: 'badge badge-suppressed', href: `/alerts/silences?highlight=${encodeURIComponent(am.status.silencedBy[0])}`, title: `Silenced by ${am.status.silencedBy.join(', ')}` }, 'silenced')
            : null,
          am?.status.inhibitedBy?.length ? h('span', { class: 'badge badge-suppressed', title: `Inhibited by ${am.status.inhibitedBy.join(', ')}` }, 'inhibited') : null,
        ),
        h('div', { class: 'inst-body' },
          summary ? h('div', { class: 'summary' }, summary) : null,
          description ? h('div', { class: 'description dim' }, description) : null,
          h('div', { class: 'chips' }, labelChips(a.labels, ['alertname'])),
          Object.keys(ann).length
            ? h('dl', { class: 'annotations' }, Object.entries(ann).map(([k, v]) => [h('dt', null, k), h('dd', null, /^https?:\/\//.test(v) ? h('a', { href: v, target: '_blank', rel: 'noopener noreferrer' }, v) : v)]))
            : null,
        ),
        h('div', { class: 'inst-meta' },
          h('div', null, 'active since ', agoEl(parseTs(a.activeAt))),
          a.value ? h('div', { class: 'faint', title: 'value of the expression at the last evaluation' }, `value ${formatValue(a.value)}`) : null,
          a.keepFiringSince ? h('div', { class: 'faint' }, 'kept firing since ', agoEl(parseTs(a.keepFiringSince))) : null,
        ),
        h('div', { class: 'inst-actions' },
          h('a', { class: 'btn small', href: incidentHref(a.labels, parseTs(a.activeAt)), 'data-action': 'incident', title: 'Logs, traces, errors and targets around this alert' }, 'Incident'),
          h('a', { class: 'btn small', href: newSilenceHref(a.labels), 'data-action': 'silence' }, sil ? 'Silence again' : 'Silence'),
        ),
      ),
    );
  }

  const p = poll(async () => {
    try {
      const [g, am] = await Promise.allSettled([fetchRuleGroups(), fetchAmAlerts()]);
      if (g.status === 'rejected') throw g.reason;
      groups = g.value;
      if (am.status === 'fulfilled') {
        amAlerts = am.value;
        amError_ = undefined;
      } else amError_ = am.reason;
      error = undefined;
      fresh.ok();
    } catch (e) {
      error = e;
      if (groups) fresh.failed(e);
    }
    draw();
  }, 10_000);
  return p.stop;
}

// ---- Rules tab -----------------------------------------------------------------------------------

function rulesTab(root: HTMLElement, query: URLSearchParams): () => void {
  const fresh = freshness();
  let groups: (RuleGroup & { logql: boolean })[] | undefined;
  let error: unknown;
  let filter = query.get('search') ?? '';
  let only = query.get('show') ?? 'all';
  const list = h('div', { class: 'rule-groups' }, message('loading', 'Loading rules'));
  const summary = h('div', { class: 'dim rules-summary' });
  const input = h('input', {
    type: 'search',
    class: 'filter-input',
    placeholder: 'Filter rules by name, query or label…',
    value: filter,
    'aria-label': 'Filter rules',
    oninput: () => {
      filter = input.value;
      setQuery({ search: filter || null });
      draw();
    },
  });
  const showSel = h('select', {
    'aria-label': 'Which rules',
    onchange: () => {
      only = showSel.value;
      setQuery({ show: only === 'all' ? null : only });
      draw();
    },
  },
    h('option', { value: 'all' }, 'All rules'),
    h('option', { value: 'unhealthy' }, 'Unhealthy (errors)'),
    h('option', { value: 'firing' }, 'Firing or pending'),
    h('option', { value: 'alerting' }, 'Alerting rules'),
    h('option', { value: 'recording' }, 'Recording rules'),
  );
  showSel.value = only;
  root.append(h('div', { class: 'toolbar filters' }, input, showSel, h('span', { class: 'spacer' }), fresh.el), summary, list);

  function keep(r: Rule): boolean {
    if (only === 'unhealthy' && r.health === 'ok') return false;
    if (only === 'firing' && !(r.state === 'firing' || r.state === 'pending')) return false;
    if (only === 'alerting' && r.type !== 'alerting') return false;
    if (only === 'recording' && r.type !== 'recording') return false;
    const q = filter.trim().toLowerCase();
    if (!q) return true;
    const hay = [r.name, r.query, ...Object.entries(r.labels ?? {}).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
    return q.split(/\s+/).every((w) => hay.includes(w));
  }

  function draw() {
    if (!groups) {
      replace(list, error ? failure('the rules', error) : message('loading', 'Loading rules'));
      return;
    }
    const rules = groups.flatMap((g) => g.rules);
    const bad = rules.filter((r) => r.health === 'err').length;
    replace(summary,
      `${groups.length} groups · ${rules.length} rules (${rules.filter((r) => r.type === 'alerting').length} alerting, ${rules.filter((r) => r.type === 'recording').length} recording) · `,
      bad ? h('span', { class: 'text-error' }, `${bad} failing`) : h('span', { class: 'text-ok' }, 'all healthy'),
    );
    if (!groups.length) {
      replace(list, message('empty', 'No rule groups are loaded.', 'PromQL rules: rule_files in prometheus.yml. LogQL rules: logs.rule_files in pharos.yml or the Loki ruler directory. Then reload pharos (kill -HUP <pid>, or POST /-/reload when it runs with --web.enable-lifecycle).'));
      return;
    }
    const cards = groups
      .map((g) => ({ g, rs: g.rules.filter(keep) }))
      .filter(({ rs }) => rs.length)
      .map(({ g, rs }) => groupCard(g, rs));
    replace(list, cards.length ? cards : message('empty', 'No rule matches the filter.'));
  }

  function groupCard(g: RuleGroup & { logql: boolean }, rs: Rule[]): HTMLElement {
    return h('section', { class: 'card rule-group', 'data-group': g.name },
      h('div', { class: 'rule-group-head' },
        h('strong', null, g.name),
        h('span', { class: `badge badge-lang${g.logql ? ' lang-logql' : ''}` }, g.logql ? 'LogQL' : 'PromQL'),
        h('span', { class: 'mono faint ellipsis', title: g.file }, g.file),
        h('span', { class: 'spacer' }),
        h('span', { class: 'dim nowrap' }, `every ${secs(g.interval)}`),
        h('span', { class: 'dim nowrap' }, 'last run ', agoEl(parseTs(g.lastEvaluation))),
        h('span', { class: 'dim nowrap', title: 'evaluation time of the whole group' }, `took ${formatSeconds(g.evaluationTime)}`),
      ),
      h('table', { class: 'data rules-table' },
        h('thead', null, h('tr', null, ['Rule', 'State', 'Health', 'Query', 'Last evaluation'].map((c) => h('th', null, c)))),
        h('tbody', null, rs.map((r) => ruleRows(r, g.logql))),
      ),
    );
  }

  function ruleRows(r: Rule, logql: boolean): HTMLElement[] {
    const alerting = r.type === 'alerting';
    const main = h('tr', { class: `rule rule-${r.health}`, 'data-rule': r.name, 'data-health': r.health },
      h('td', { class: 'rule-name' },
        h('div', null, h('span', { class: 'faint' }, alerting ? 'alert ' : 'record '), h('strong', null, r.name)),
        r.labels && Object.keys(r.labels).length ? h('div', { class: 'chips' }, labelChips(r.labels)) : null,
      ),
      h('td', null, alerting ? h('span', { class: `badge badge-${r.state ?? 'inactive'}` }, r.state ?? 'inactive') : h('span', { class: 'faint' }, '—'),
        alerting && r.alerts?.length ? h('div', { class: 'faint small' }, `${r.alerts.length} active`) : null),
      h('td', null, h('span', { class: `badge badge-${r.health === 'ok' ? 'ok' : r.health === 'err' ? 'error' : 'unknown'}`, 'data-testid': 'health' }, r.health)),
      h('td', { class: 'rule-query' },
        h('a', { class: 'mono query-link', href: exploreHref(r.query, logql), title: `Open in Explore (${logql ? 'logs' : 'metrics'})` }, r.query),
        alerting && (r.duration || r.keepFiringFor)
          ? h('div', { class: 'faint small' }, [r.duration ? `for ${secs(r.duration)}` : '', r.keepFiringFor ? `keep_firing_for ${secs(r.keepFiringFor)}` : ''].filter(Boolean).join(' · '))
          : null,
        r.annotations && Object.keys(r.annotations).length
          ? h('dl', { class: 'annotations small' }, Object.entries(r.annotations).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))
          : null,
      ),
      h('td', { class: 'nowrap' }, agoEl(parseTs(r.lastEvaluation)), h('div', { class: 'faint small' }, `took ${formatSeconds(r.evaluationTime)}`)),
    );
    const rows = [main];
    if (r.lastError) rows.push(h('tr', { class: 'rule-error-row' }, h('td', { colspan: 5 }, h('span', { class: 'error-inline' }, `Error: ${r.lastError}`))));
    return rows;
  }

  const p = poll(async () => {
    try {
      groups = await fetchRuleGroups();
      error = undefined;
      fresh.ok();
    } catch (e) {
      error = e;
      if (groups) fresh.failed(e);
    }
    draw();
  }, 10_000);
  return p.stop;
}

// ---- Silences tab --------------------------------------------------------------------------------

function silencesTab(root: HTMLElement, query: URLSearchParams): () => void {
  const fresh = freshness();
  const highlight = query.get('highlight') ?? '';
  let silences: Silence[] | undefined;
  let alerts: AmAlert[] = [];
  let error: unknown;
  let filter = query.get('search') ?? '';
  const confirming = new Set<string>();
  const actionErrors = new Map<string, string>();
  const list = h('div', { class: 'silences' }, message('loading', 'Loading silences'));
  const input = h('input', {
    type: 'search',
    class: 'filter-input',
    placeholder: 'Filter by matcher, creator or comment…',
    value: filter,
    'aria-label': 'Filter silences',
    oninput: () => {
      filter = input.value;
      setQuery({ search: filter || null });
      draw();
    },
  });
  root.append(h('div', { class: 'toolbar filters' }, input, h('span', { class: 'spacer' }), fresh.el), list);

  async function load() {
    try {
      const [s, a] = await Promise.all([fetchSilences(), fetchAmAlerts().catch(() => alerts)]);
      silences = s;
      alerts = a;
      error = undefined;
      fresh.ok();
    } catch (e) {
      error = e;
      if (silences) fresh.failed(e);
    }
    draw();
  }

  function draw() {
    if (!silences) {
      replace(list, error ? failure('the silences', error) : message('loading', 'Loading silences'));
      return;
    }
    if (!silences.length) {
      replace(list, message('empty', 'No silences yet.', 'Silence an alert from the Alerts tab ("Silence" on an alert) or with "+ New silence".'));
      return;
    }
    const q = filter.trim().toLowerCase();
    const shown = silences.filter((s) => !q || [s.id, s.createdBy, s.comment, ...s.matchers.map(matcherText)].join(' ').toLowerCase().includes(q));
    const sections: HTMLElement[] = [];
    for (const state of ['active', 'pending', 'expired'] as const) {
      const ss = shown
        .filter((s) => s.status.state === state)
        .sort((a, b) => (state === 'expired' ? Date.parse(b.endsAt) - Date.parse(a.endsAt) : Date.parse(a.endsAt) - Date.parse(b.endsAt)));
      sections.push(
        h('section', { class: `silence-section section-${state}`, 'data-section': state },
          h('h2', null, `${state[0].toUpperCase()}${state.slice(1)} `, h('span', { class: 'faint' }, `(${ss.length})`)),
          ss.length ? ss.map(silenceCard) : h('div', { class: 'faint pad' }, state === 'active' ? 'No silence is active: every alert notifies.' : state === 'pending' ? 'No silence is scheduled for later.' : 'No expired silences are kept.'),
        ),
      );
    }
    replace(list, shown.length ? sections : message('empty', 'No silence matches the filter.'));
    if (highlight) list.querySelector(`[data-silence-id="${CSS.escape(highlight)}"]`)?.scrollIntoView({ block: 'center' });
  }

  function silenceCard(s: Silence): HTMLElement {
    const affected = alerts.filter((a) => (s.status.state === 'active' && a.status.silencedBy?.includes(s.id)) || matchesAll(s.matchers, a.labels));
    const start = Date.parse(s.startsAt);
    const end = Date.parse(s.endsAt);
    const expired = s.status.state === 'expired';
    const err = actionErrors.get(s.id);
    const recreate = newSilenceHref({}, { comment: s.comment, createdBy: s.createdBy });
    const recreateUrl = `${recreate}&${s.matchers.map((m) => `matcher=${encodeURIComponent(`${m.name}${m.isRegex ? (m.isEqual === false ? '!~' : '=~') : m.isEqual === false ? '!=' : '='}${m.value}`)}`).join('&')}`;
    return h('div', { class: `card silence state-${s.status.state}${s.id === highlight ? ' highlight' : ''}`, 'data-silence-id': s.id },
      h('div', { class: 'silence-head' },
        h('span', { class: `badge badge-${s.status.state}` }, s.status.state),
        h('div', { class: 'chips' }, s.matchers.map((m) => h('span', { class: 'label-chip' }, matcherText(m)))),
        h('span', { class: 'spacer' }),
        h('span', { class: 'affected', 'data-testid': 'affected', title: affected.map((a) => a.labels.alertname).join(', ') }, `${affected.length} ${affected.length === 1 ? 'alert' : 'alerts'} affected`),
      ),
      h('div', { class: 'silence-meta' },
        h('span', null, h('span', { class: 'faint' }, 'by '), s.createdBy || '—'),
        h('span', { title: formatDateTime(start) }, h('span', { class: 'faint' }, s.status.state === 'pending' ? 'starts ' : 'started '), agoEl(start)),
        h('span', { title: formatDateTime(end) }, h('span', { class: 'faint' }, expired ? 'ended ' : 'ends '), agoEl(end), h('span', { class: 'faint' }, ` (${formatDateTime(end)})`)),
        h('span', { class: 'mono faint' }, s.id),
      ),
      s.comment ? h('div', { class: 'comment' }, s.comment) : null,
      err ? h('div', { class: 'error-inline' }, err) : null,
      h('div', { class: 'toolbar silence-actions' },
        expired
          ? h('a', { class: 'btn small', href: recreateUrl, 'data-action': 'recreate' }, 'Recreate')
          : [
              h('a', { class: 'btn small', href: `/alerts/silences/new?id=${encodeURIComponent(s.id)}`, 'data-action': 'edit' }, 'Edit'),
              confirming.has(s.id)
                ? [
                    h('button', { class: 'small danger', 'data-action': 'confirm-expire', onclick: () => void expire(s.id) }, 'Yes, expire now'),
                    h('button', { class: 'small', onclick: () => { confirming.delete(s.id); draw(); } }, 'Keep'),
                  ]
                : h('button', { class: 'small danger', 'data-action': 'expire', onclick: () => { confirming.add(s.id); draw(); } }, 'Expire'),
            ],
        affected.length
          ? h('a', { class: 'small-link', href: `/alerts?search=${encodeURIComponent(s.matchers.filter((m) => !m.isRegex && m.isEqual !== false).map((m) => `${m.name}=${m.value}`).join(', '))}&state=firing,pending` }, 'Show affected alerts ›')
          : null,
      ),
    );
  }

  async function expire(id: string) {
    confirming.delete(id);
    try {
      await request(`/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' });
      actionErrors.delete(id);
    } catch (e) {
      actionErrors.set(id, e instanceof ApiError && e.unreachable ? 'pharos is not reachable; the silence was not expired.' : `Expiring failed: ${amError(e)}`);
    }
    await load();
  }

  const p = poll(load, 10_000);
  return p.stop;
}

// ---- Notifications tab ---------------------------------------------------------------------------

interface Attempt {
  seq: number;
  time: string;
  time_ms: number;
  duration_ms: number;
  receiver: string;
  integration: string;
  integration_index?: number;
  group_key: string;
  group_labels: Labels;
  firing: number;
  resolved: number;
  alerts: { labels: Labels; status: string; starts_at: string; ends_at: string; fingerprint: string }[];
  attempt: number;
  success: boolean;
  error?: string | null;
  retryable?: boolean;
}

function notificationsTab(root: HTMLElement, query: URLSearchParams): () => void {
  const fresh = freshness();
  let data: { total_attempts: number; capacity: number; notifications: Attempt[] } | undefined;
  let error: unknown;
  let receiver = query.get('receiver') ?? '';
  let status = query.get('status') ?? '';
  const list = h('div', { class: 'notifications' }, message('loading', 'Loading the notification log'));
  const recvSel = h('select', {
    'aria-label': 'Receiver',
    onchange: () => {
      receiver = recvSel.value;
      setQuery({ receiver: receiver || null });
      draw();
    },
  }, h('option', { value: '' }, 'All receivers'));
  const statusSel = h('select', {
    'aria-label': 'Result',
    onchange: () => {
      status = statusSel.value;
      setQuery({ status: status || null });
      draw();
    },
  }, h('option', { value: '' }, 'Sent and failed'), h('option', { value: 'success' }, 'Sent'), h('option', { value: 'failed' }, 'Failed'));
  statusSel.value = status;
  const summary = h('span', { class: 'dim' });
  root.append(h('div', { class: 'toolbar filters' }, recvSel, statusSel, summary, h('span', { class: 'spacer' }), fresh.el), list);

  function draw() {
    recvSel.hidden = statusSel.hidden = !data;
    if (!data) {
      if (error instanceof ApiError && error.status === 404)
        replace(list, message('info', 'The notification log is not available on this server.', 'GET /api/pharos/v1/notifications answered 404. Notifications are still sent; upgrade pharos to see them here.'));
      else replace(list, error ? failure('the notification log', error) : message('loading', 'Loading the notification log'));
      return;
    }
    const all = data.notifications;
    const receivers = [...new Set(all.map((n) => n.receiver))].sort();
    if (receiver && !receivers.includes(receiver)) receivers.push(receiver);
    replace(recvSel, h('option', { value: '' }, 'All receivers'), receivers.map((r) => h('option', { value: r }, r)));
    recvSel.value = receiver;
    const failed = all.filter((n) => !n.success).length;
    summary.textContent = `${data.total_attempts} attempts since start · ${failed} of the last ${all.length} failed`;
    if (!all.length) {
      replace(list, message('empty', 'Nothing has been sent yet.', 'The Alertmanager sends a notification when an alert fires and a route of alertmanager.yml leads to a receiver with an integration (webhook, Slack, PagerDuty, email…). Receivers without integrations send nothing.'));
      return;
    }
    const shown = all.filter((n) => (!receiver || n.receiver === receiver) && (!status || (status === 'success') === n.success));
    if (!shown.length) {
      replace(list, message('empty', 'No notification matches the filters.'));
      return;
    }
    replace(list,
      h('table', { class: 'data notif-table' },
        h('thead', null, h('tr', null, ['Time', 'Receiver', 'Integration', 'Group', 'Alerts', 'Result'].map((c) => h('th', null, c)))),
        h('tbody', null, shown.map((n) =>
          h('tr', { class: n.success ? 'notif-ok' : 'notif-failed', 'data-receiver': n.receiver },
            h('td', { class: 'nowrap' }, agoEl(n.time_ms), h('div', { class: 'faint small' }, formatDateTime(n.time_ms))),
            h('td', { class: 'nowrap' }, h('strong', null, n.receiver)),
            h('td', { class: 'mono' }, n.integration, n.integration_index ? `[${n.integration_index}]` : ''),
            h('td', null, Object.keys(n.group_labels ?? {}).length ? labelChips(n.group_labels) : h('span', { class: 'faint' }, '(all alerts)')),
            h('td', null,
              h('div', { class: 'badge-row' },
                n.firing ? h('span', { class: 'badge badge-firing' }, `${n.firing} firing`) : null,
                n.resolved ? h('span', { class: 'badge badge-resolved' }, `${n.resolved} resolved`) : null),
              h('div', { class: 'faint small' }, [...new Set(n.alerts.map((a) => a.labels.alertname ?? '?'))].join(', ')),
            ),
            h('td', null,
              h('span', { class: `badge badge-${n.success ? 'ok' : 'error'}` }, n.success ? 'sent' : 'failed'),
              n.attempt > 1 ? h('span', { class: 'faint small' }, ` attempt ${n.attempt}`) : null,
              h('span', { class: 'faint small' }, ` ${n.duration_ms} ms`),
              n.error ? h('div', { class: 'error-inline' }, n.error, n.retryable ? h('span', { class: 'faint' }, ' (will retry)') : null) : null,
            ),
          ),
        )),
      ),
    );
  }

  const p = poll(async () => {
    try {
      data = await request('/api/pharos/v1/notifications?limit=200');
      error = undefined;
      fresh.ok();
    } catch (e) {
      error = e;
      if (data) fresh.failed(e);
    }
    draw();
  }, 10_000);
  return p.stop;
}
