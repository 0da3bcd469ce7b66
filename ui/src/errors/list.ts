/**
 * `/errors`: the issue list, as Sentry's Issues page — project picker, status tabs, search,
 * environment/release/level filters, time range, sort, one row per issue (level colour, title,
 * culprit, sparkline, events, users, first/last seen, new/regressed badges) and bulk
 * resolve/ignore. With no projects or no events yet it tells a newcomer how to point an SDK here.
 * All state lives in the query string, so every view is a shareable link.
 */
import './errors.css';
import { append, debounce, h, message, replace } from '../lib/dom';
import { ApiError } from '../lib/api';
import { resolveRange, type RawTimeRange, type TimeZone } from '../lib/time';
import { setQuery, type Page, type PageContext } from '../lib/router';
import { timeControls } from '../components/timepicker';
import { agoEl, copyText, failure, formatCount, shortDuration } from '../pages/status';
import {
  createProject,
  dsnFor,
  fetchIssues,
  fetchProjects,
  levelBadge,
  levelClass,
  LEVELS,
  setIssuesStatus,
  sparkline,
  splitTitle,
  STATUS_LABEL,
  toMs,
  type Issue,
  type Project,
} from './api';

const STATUS_TABS: [string, string][] = [
  ['unresolved', 'Unresolved'],
  ['resolved', 'Resolved'],
  ['ignored', 'Ignored'],
  ['all', 'All'],
];
const SORTS: [string, string][] = [
  ['last_seen', 'Last seen'],
  ['first_seen', 'First seen'],
  ['count', 'Events'],
  ['users', 'Users'],
];
const PAGE_SIZE = 25;
const REFRESH_MS: Record<string, number> = { '5s': 5e3, '10s': 1e4, '30s': 3e4, '1m': 6e4, '5m': 3e5, '15m': 9e5, '30m': 18e5, '1h': 36e5 };

interface ListState {
  project: string;
  status: string;
  query: string;
  environment: string;
  release: string;
  level: string;
  sort: string;
  offset: number;
  range: RawTimeRange;
  tz: TimeZone;
  refresh: string;
}

function readState(q: URLSearchParams): ListState {
  return {
    project: q.get('project') ?? '',
    status: q.get('status') ?? 'unresolved',
    query: q.get('query') ?? '',
    environment: q.get('environment') ?? '',
    release: q.get('release') ?? '',
    level: q.get('level') ?? '',
    sort: q.get('sort') ?? 'last_seen',
    offset: Math.max(0, Number(q.get('offset')) || 0),
    range: { from: q.get('from') ?? 'now-30d', to: q.get('to') ?? 'now' },
    tz: q.get('tz') === 'utc' ? 'utc' : 'browser',
    refresh: q.get('refresh') ?? '',
  };
}

function writeState(s: ListState, push = false) {
  setQuery(
    {
      project: s.project || null,
      status: s.status === 'unresolved' ? null : s.status,
      query: s.query || null,
      environment: s.environment || null,
      release: s.release || null,
      level: s.level || null,
      sort: s.sort === 'last_seen' ? null : s.sort,
      offset: s.offset ? String(s.offset) : null,
      from: s.range.from === 'now-30d' ? null : s.range.from,
      to: s.range.to === 'now' ? null : s.range.to,
      tz: s.tz === 'utc' ? 'utc' : null,
      refresh: s.refresh || null,
    },
    push,
  );
}

export function errorsListPage(ctx: PageContext): Page {
  let state = readState(ctx.query);
  let projects: Project[] = [];
  let issues: Issue[] = [];
  let total = 0;
  const selected = new Set<string>();
  let abort = new AbortController();
  let timer: ReturnType<typeof setInterval> | undefined;

  const projectSel = h('select', { 'data-testid': 'project-select', title: 'Project', 'aria-label': 'Project' });
  const setupBtn = h('button', { 'data-testid': 'setup-btn', onclick: () => toggleSetup() }, 'Set up an SDK');
  const setupPanel = h('div', { class: 'err-setup-panel' });
  const tabs = h('nav', { class: 'tabs err-tabs', role: 'tablist' });
  const search = h('input', { type: 'search', class: 'filter-input', placeholder: 'Search title, culprit, message…', 'data-testid': 'issue-search', value: state.query });
  const envIn = h('input', { class: 'err-filter', placeholder: 'environment', 'data-testid': 'filter-environment', value: state.environment, 'aria-label': 'Environment' });
  const relIn = h('input', { class: 'err-filter', placeholder: 'release', 'data-testid': 'filter-release', value: state.release, 'aria-label': 'Release' });
  const levelSel = h('select', { 'data-testid': 'filter-level', 'aria-label': 'Level' }, h('option', { value: '' }, 'Any level'), ...LEVELS.map((l) => h('option', { value: l }, l)));
  const sortSel = h('select', { 'data-testid': 'sort', 'aria-label': 'Sort by' }, ...SORTS.map(([v, l]) => h('option', { value: v }, `Sort: ${l}`)));
  const bulkBar = h('div', { class: 'err-bulk toolbar', 'data-testid': 'bulk-bar' });
  const listEl = h('div', { class: 'err-list' });
  const pager = h('div', { class: 'err-pager toolbar' });
  const controls = timeControls(
    { range: state.range, timeZone: state.tz, refresh: state.refresh },
    (s) => {
      state = { ...state, range: s.range, tz: s.timeZone, refresh: s.refresh, offset: 0 };
      writeState(state, true);
      schedule();
      void load();
    },
    () => void load(),
  );

  const update = (patch: Partial<ListState>, push = true) => {
    state = { ...state, offset: 0, ...patch };
    selected.clear();
    writeState(state, push);
    void load();
  };
  search.addEventListener('input', debounce(() => update({ query: search.value.trim() }, false), 300));
  search.addEventListener('keydown', (e) => e.key === 'Enter' && update({ query: search.value.trim() }));
  for (const [input, key] of [
    [envIn, 'environment'],
    [relIn, 'release'],
  ] as const) {
    input.addEventListener('change', () => update({ [key]: input.value.trim() }));
  }
  levelSel.addEventListener('change', () => update({ level: levelSel.value }));
  sortSel.addEventListener('change', () => update({ sort: sortSel.value }));
  projectSel.addEventListener('change', () => {
    update({ project: projectSel.value });
    if (!setupPanel.hidden) drawSetup();
  });

  const page = h(
    'div',
    { class: 'page err-page', 'data-testid': 'errors-page' },
    h('div', { class: 'page-header' }, h('h1', null, 'Errors'), projectSel, setupBtn, controls.el),
    setupPanel,
    tabs,
    h('div', { class: 'toolbar filters err-filters' }, search, envIn, relIn, levelSel, sortSel),
    h('div', { class: 'card err-card' }, bulkBar, listEl, pager),
  );
  ctx.root.append(page);
  setupPanel.hidden = true;

  function toggleSetup() {
    setupPanel.hidden = !setupPanel.hidden;
    if (!setupPanel.hidden) drawSetup();
  }

  function currentProject(): Project | undefined {
    return projects.find((p) => p.id === state.project) ?? projects[0];
  }

  function drawSetup() {
    replace(setupPanel, setupCard(currentProject(), projects, created));
  }

  function drawTabs() {
    replace(
      tabs,
      ...STATUS_TABS.map(([id, label]) =>
        h(
          'a',
          {
            href: `/errors?${new URLSearchParams({ ...(state.project ? { project: state.project } : {}), status: id })}`,
            class: state.status === id ? 'active' : '',
            role: 'tab',
            'aria-selected': String(state.status === id),
            'data-tab': id,
            onclick: (e: Event) => {
              e.preventDefault();
              update({ status: id });
            },
          },
          label,
        ),
      ),
    );
  }

  function syncControls() {
    search.value = state.query;
    envIn.value = state.environment;
    relIn.value = state.release;
    levelSel.value = state.level;
    sortSel.value = state.sort;
    controls.set({ range: state.range, timeZone: state.tz, refresh: state.refresh });
    drawTabs();
  }

  function drawProjects() {
    replace(projectSel, h('option', { value: '' }, 'All projects'), ...projects.map((p) => h('option', { value: p.id }, p.name || p.id)));
    projectSel.value = projects.some((p) => p.id === state.project) ? state.project : '';
  }

  /** A project was created from the setup card: list it and switch to it (its DSN shows). */
  async function created(p: Project) {
    await reloadProjects();
    update({ project: p.id });
  }

  async function reloadProjects() {
    projects = await fetchProjects();
    drawProjects();
    if (!setupPanel.hidden) drawSetup();
  }

  function schedule() {
    if (timer) clearInterval(timer);
    timer = undefined;
    const ms = REFRESH_MS[state.refresh];
    if (ms) timer = setInterval(() => void load(true), ms);
  }

  async function load(quiet = false) {
    abort.abort();
    abort = new AbortController();
    const signal = abort.signal;
    if (!quiet && !issues.length) replace(listEl, message('loading', 'Loading issues'));
    let start: number | undefined;
    let end: number | undefined;
    try {
      const r = resolveRange(state.range, state.tz);
      start = Math.floor(r.from / 1000);
      end = Math.ceil(r.to / 1000);
    } catch (e) {
      replace(listEl, message('error', 'The time range cannot be read.', (e as Error).message));
      return;
    }
    try {
      const res = await fetchIssues(
        {
          project: state.project || undefined,
          status: state.status,
          environment: state.environment || undefined,
          release: state.release || undefined,
          level: state.level || undefined,
          query: state.query || undefined,
          start,
          end,
          sort: state.sort,
          limit: PAGE_SIZE,
          offset: state.offset,
        },
        signal,
      );
      if (signal.aborted) return;
      issues = res.issues;
      total = res.total;
      for (const sid of [...selected]) if (!issues.some((i) => i.id === sid)) selected.delete(sid);
      drawList(start * 1000);
    } catch (e) {
      if (signal.aborted || (e as Error).name === 'AbortError') return;
      issues = [];
      replace(bulkBar);
      replace(pager);
      replace(listEl, failure('the issues', e));
    }
  }

  function filtered(): boolean {
    return !!(state.query || state.environment || state.release || state.level);
  }

  function drawList(rangeStartMs: number) {
    drawBulk();
    if (!issues.length) {
      replace(pager);
      if (!projects.length) {
        replace(listEl, setupCard(undefined, projects, created, true));
      } else if (!filtered() && state.status === 'unresolved' && total === 0) {
        replace(
          listEl,
          h(
            'div',
            { class: 'err-empty', 'data-testid': 'errors-empty' },
            message('empty', 'No unresolved issues in this time range.', 'Either your app is healthy, or no SDK sends here yet.'),
            setupCard(currentProject(), projects, created, true),
          ),
        );
      } else {
        replace(
          listEl,
          h('div', { 'data-testid': 'errors-empty' }, message('empty', `No ${state.status === 'all' ? '' : `${STATUS_LABEL[state.status]?.toLowerCase() ?? state.status} `}issues match.`, 'Widen the time range, clear the filters or pick another status tab.')),
        );
      }
      return;
    }
    const head = h(
      'div',
      { class: 'err-row err-head' },
      h('div', { class: 'err-check' }, selectAllBox()),
      h('div', { class: 'err-main' }, 'Issue'),
      h('div', { class: 'err-graph' }, 'Last 24 hours'),
      h('div', { class: 'err-num' }, 'Events'),
      h('div', { class: 'err-num' }, 'Users'),
      h('div', { class: 'err-seen' }, 'Last / first seen'),
    );
    replace(listEl, head, ...issues.map((i) => issueRow(i, rangeStartMs)));
    const last = Math.min(total, state.offset + issues.length);
    replace(
      pager,
      h('span', { class: 'dim', 'data-testid': 'issue-total' }, `${state.offset + 1}–${last} of ${formatCount(total)} issue${total === 1 ? '' : 's'}`),
      h('span', { class: 'spacer' }),
      h('button', { class: 'small', disabled: state.offset === 0, onclick: () => update({ offset: Math.max(0, state.offset - PAGE_SIZE) }) }, '← Previous'),
      h('button', { class: 'small', disabled: last >= total, onclick: () => update({ offset: state.offset + PAGE_SIZE }) }, 'Next →'),
    );
  }

  function selectAllBox(): HTMLInputElement {
    const box = h('input', { type: 'checkbox', title: 'Select all on this page', 'aria-label': 'Select all issues on this page', 'data-testid': 'select-all' });
    box.checked = issues.length > 0 && issues.every((i) => selected.has(i.id));
    box.indeterminate = !box.checked && issues.some((i) => selected.has(i.id));
    box.addEventListener('change', () => {
      for (const i of issues) {
        if (box.checked) selected.add(i.id);
        else selected.delete(i.id);
      }
      listEl.querySelectorAll<HTMLInputElement>('input[data-issue]').forEach((b) => (b.checked = box.checked));
      drawBulk();
    });
    return box;
  }

  function issueRow(i: Issue, rangeStartMs: number): HTMLElement {
    const first = toMs(i.first_seen);
    const last = toMs(i.last_seen);
    const isNew = first >= Math.max(rangeStartMs, Date.now() - 86_400_000);
    const box = h('input', { type: 'checkbox', 'data-issue': i.id, 'aria-label': `Select ${i.title}` });
    box.checked = selected.has(i.id);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(i.id);
      else selected.delete(i.id);
      const all = listEl.querySelector<HTMLInputElement>('[data-testid=select-all]');
      if (all) {
        all.checked = issues.every((x) => selected.has(x.id));
        all.indeterminate = !all.checked && issues.some((x) => selected.has(x.id));
      }
      drawBulk();
    });
    const title = splitTitle(i.title);
    return h(
      'div',
      { class: `err-row ${levelClass(i.level)}`, 'data-testid': 'issue-row', 'data-issue-id': i.id, 'data-count': String(i.count), 'data-status': i.status },
      h('div', { class: 'err-check' }, box),
      h(
        'div',
        { class: 'err-main' },
        h(
          'a',
          { class: 'err-title', href: `/errors/${encodeURIComponent(i.id)}`, 'data-testid': 'issue-link' },
          h('span', { class: 'err-type' }, title.type),
          title.value ? h('span', { class: 'err-value' }, title.value) : null,
        ),
        h(
          'div',
          { class: 'err-sub' },
          levelBadge(i.level),
          i.culprit ? h('span', { class: 'mono err-culprit', title: i.culprit }, i.culprit) : null,
          isNew ? h('span', { class: 'badge badge-info', title: 'First seen within the last 24 hours', 'data-testid': 'badge-new' }, 'new') : null,
          i.regressed ? h('span', { class: 'badge badge-critical', title: 'Was resolved, then seen again', 'data-testid': 'badge-regressed' }, 'regressed') : null,
          i.status !== 'unresolved' ? h('span', { class: `badge ${i.status === 'ignored' ? 'badge-expired' : 'badge-resolved'}` }, STATUS_LABEL[i.status] ?? i.status) : null,
          projects.length > 1 ? h('span', { class: 'tag' }, projects.find((p) => p.id === i.project)?.name ?? i.project) : null,
        ),
      ),
      h('div', { class: 'err-graph' }, sparkline(i.sparkline)),
      h('div', { class: 'err-num', 'data-testid': 'issue-count', title: `${i.count} events` }, formatCount(i.count)),
      h('div', { class: 'err-num', 'data-testid': 'issue-users', title: `${i.users ?? 0} users affected` }, formatCount(i.users ?? 0)),
      h('div', { class: 'err-seen' }, h('div', null, agoEl(last)), h('div', { class: 'faint', title: `first seen ${first ? new Date(first).toLocaleString() : 'never'}` }, first ? `${shortDuration(Date.now() - first)} old` : '')),
    );
  }

  function drawBulk() {
    const n = selected.size;
    bulkBar.hidden = !issues.length;
    const act = (label: string, status: string, cls = '') =>
      h(
        'button',
        {
          class: `small ${cls}`,
          disabled: n === 0,
          'data-testid': `bulk-${status}`,
          onclick: async () => {
            try {
              await setIssuesStatus([...selected], status);
              selected.clear();
              await load(true);
            } catch (e) {
              replace(bulkBar, h('span', { class: 'error-inline' }, `Could not change the status: ${e instanceof Error ? e.message : String(e)}`));
            }
          },
        },
        label,
      );
    replace(
      bulkBar,
      h('span', { class: 'dim' }, n ? `${n} selected` : 'Select issues to change them together'),
      act('✓ Resolve', 'resolved'),
      act('Ignore', 'ignored'),
      state.status !== 'unresolved' ? act('Unresolve', 'unresolved') : null,
    );
  }

  syncControls();
  drawBulk();
  void (async () => {
    try {
      await reloadProjects();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        replace(listEl, failure('the error projects', e));
        return;
      }
    }
    await load();
  })();
  schedule();

  return {
    title: 'Errors',
    unmount() {
      abort.abort();
      if (timer) clearInterval(timer);
    },
    onQueryChange(q) {
      state = readState(q);
      syncControls();
      projectSel.value = projects.some((p) => p.id === state.project) ? state.project : '';
      schedule();
      void load();
    },
  };
}

/**
 * How to send errors here: the DSN of `p` (copyable) and the few lines of `Sentry.init` the
 * CrewAI monitoring guide uses, or — with no project at all — the pharos.yml stanza and a form
 * to create one.
 */
function setupCard(p: Project | undefined, all: Project[], created: (p: Project) => Promise<void>, inline = false): HTMLElement {
  const card = h('div', { class: `card err-setup${inline ? ' inline' : ''}`, 'data-testid': 'sdk-setup' });
  const nameIn = h('input', { placeholder: 'project name, e.g. api', 'data-testid': 'new-project-name' });
  const err = h('span', { class: 'error-inline' });
  const create = h('form', {
    class: 'toolbar',
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const name = nameIn.value.trim();
      if (!name) return void (err.textContent = 'Give the project a name.');
      try {
        await created(await createProject(name));
      } catch (x) {
        err.textContent = `Could not create the project: ${x instanceof Error ? x.message : String(x)}`;
      }
    },
  }, nameIn, h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-project' }, 'Create project'), err);
  if (!p || !p.keys?.length) {
    card.append(
      h('h2', null, all.length ? `Project ${p?.name ?? ''} has no key yet` : 'No error projects yet'),
      h('p', { class: 'dim' }, 'pharos accepts errors from the official Sentry SDKs. Declare a project in pharos.yml:'),
      h('pre', { class: 'err-code' }, 'errors:\n  projects:\n    - id: "1"\n      name: api\n      keys: ["<32 hex characters>"]'),
      h('p', { class: 'dim' }, '…or create one here (a key is generated):'),
      create,
    );
    return card;
  }
  const dsn = dsnFor(p, p.keys[0]);
  const copied = h('span', { class: 'faint small' });
  append(card, [
    h('h2', null, `Send errors of “${p.name || p.id}” to pharos`),
    h('p', { class: 'dim' }, 'Point any official Sentry SDK at this DSN — nothing else changes in your app:'),
    h(
      'div',
      { class: 'err-dsn-row' },
      h('code', { class: 'err-dsn', 'data-testid': 'dsn' }, dsn),
      h('button', { class: 'small', onclick: async () => (copied.textContent = (await copyText(dsn)) ? 'copied' : 'copy failed') }, 'Copy'),
      copied,
    ),
    h('pre', { class: 'err-code' }, `// Node.js (as in the CrewAI monitoring guide)\nconst Sentry = require('@sentry/node');\nSentry.init({ dsn: '${dsn}', tracesSampleRate: 1.0 });\n\n# Python\nsentry_sdk.init(dsn="${dsn}", traces_sample_rate=1.0)\n\n# or for any SDK\nexport SENTRY_DSN=${dsn}`),
    p.keys.length > 1 ? h('p', { class: 'faint small' }, `${p.keys.length} keys; DSNs of the others: `, ...p.keys.slice(1).map((k) => h('code', { class: 'err-dsn small' }, dsnFor(p, k)))) : null,
    h('details', { class: 'err-newproj' }, h('summary', { class: 'dim' }, 'Create another project'), create),
  ]);
  return card;
}
