/**
 * The dashboard page (`/d/:uid`, `/dashboards/:uid`, `/dashboards/new`): loads a Grafana
 * dashboard, shows its variables, time controls and panels on the grid, runs every panel's
 * queries, keeps the state in the URL (`from`, `to`, `tz`, `refresh`, `var-*`, `viewPanel`),
 * auto-refreshes, follows provisioned files, and hosts the editor (contract.ts).
 */
import { h, message, replace } from '../lib/dom';
import { ApiError, request } from '../lib/api';
import { navigate, setQuery, type Page, type PageContext } from '../lib/router';
import { formatDateTime, formatDuration, parseDuration, resolveRange, type RawTimeRange, type TimeRange, type TimeZone } from '../lib/time';
import { timeControls, type TimeControls, type TimeControlsState } from '../components/timepicker';
import { createPanel } from '../panels/registry';
import '../panels/all';
import type { Annotation, GrafanaPanel, PanelContext, PanelData, PanelRenderer } from '../panels/types';
import type { DashboardHost, DashboardMeta, DashboardModel, TemplateVariable } from './contract';
import { DashboardCrosshair } from './crosshair';
import { commitLayout, computeLayout, GridView, toggleRow, type GridCell, type GridPos, type LayoutItem } from './grid';
import { emptyDashboard, normalizeDashboard, panelForRenderer, slugify } from './model';
import { exploreUrl, listDatasources, NON_QUERY_TYPES, panelInterval, runPanel, type QueryLogEntry, type RunEnv } from './query';
import type { AdhocFilter } from './adhoc';
import { adhocControl } from './adhoc_bar';
import { starButton } from './stars';
import { annotationQueries, appliesTo, isEnabled, runAnnotations, type AnnotationResult } from './annotations';
import { openAnnotateForm } from './annotate';
import { ALL_TEXT, ALL_VALUE, Variables } from './variables';
import './dashboard.css';

/**
 * Panels running at once: the browser's six HTTP/1.1 connections per host. More does not pay:
 * on the 20 × 50 bench the server is busy, not idle (14-18 ms of CPU per panel query, 250-460 ms
 * in the server with six in flight on 2 shared cores).
 */
const CONCURRENCY = 6;
/** Panel types that draw the dashboard's annotations. */
const ANNOTATED_TYPES = new Set(['timeseries', 'graph', 'heatmap', 'state-timeline', 'status-history', 'barchart', 'candlestick']);

/** One refresh of the dashboard: its request environment and the panels waiting to run. */
interface RunState {
  seq: number;
  env: RunEnv;
  /** Panels in view (within 200 px), in the order they came into view. */
  queue: PanelFrame[];
  /** Panels within a screen below the view: they run, at low fetch priority, once those in view are drawn. */
  ahead: PanelFrame[];
  /** Running panels that were in view when they started. */
  activeInView: number;
  active: number;
  started: number;
  done?: () => void;
}
const POLL_MS = 5000;
/** Panels within this margin of the viewport run their queries (Grafana: 100 px). */
const VIEW_MARGIN = '200px 0px';
/** Panels within one more screen below are loaded ahead, once those in view have been asked. */
const AHEAD_MARGIN = '0px 0px 100% 0px';
const MIN_REFRESH_MS = 5000;

/** `/d/:uid/:slug?` and `/dashboards/:uid/:slug?`. */
export function dashboardPage(ctx: PageContext): Page {
  const view = new DashboardView(ctx);
  void view.load(ctx.params.uid);
  return view.page();
}

/** `/dashboards/new`: an empty dashboard in edit mode. */
export function newDashboardPage(ctx: PageContext): Page {
  const view = new DashboardView(ctx);
  view.mount(emptyDashboard(), { canSave: true, canEdit: true, version: 0 }, true);
  view.setEditing(true);
  return view.page();
}

/** The model without what does not count as an edit (variable selections). */
function comparable(model: DashboardModel): string {
  return JSON.stringify(model, function (this: unknown, key, value) {
    if ((key === 'current' || key === 'options') && this && typeof this === 'object' && 'name' in (this as object) && 'type' in (this as object)) return undefined;
    return value;
  });
}

/** Only http(s), mailto and same-site links are followed; `javascript:` and the like are dropped. */
function safeHref(url: string): string | undefined {
  const u = url.trim();
  if (!u) return undefined;
  if (/^(https?:|mailto:)/i.test(u) || u.startsWith('/') || u.startsWith('?') || u.startsWith('#')) return u;
  if (/^[a-z][a-z0-9+.-]*:/i.test(u)) return undefined;
  return u;
}

class DashboardView implements DashboardHost {
  model: DashboardModel = emptyDashboard();
  meta: DashboardMeta = {};
  isNew = false;
  editing = false;
  onEditPanel?: (panel: GrafanaPanel) => void;
  readonly toolbar: HTMLElement = h('div', { class: 'dash-actions toolbar' });

  private root: HTMLElement;
  private query: URLSearchParams;
  private vars!: Variables;
  private crosshair = new DashboardCrosshair(0);
  private grid?: GridView;
  private frames = new Map<string, PanelFrame>();
  private rawRange: RawTimeRange = { from: 'now-6h', to: 'now' };
  private timeZone: TimeZone = 'browser';
  private refresh = '';
  private range: TimeRange;
  private viewPanel?: number;
  private runAbort?: AbortController;
  private varsAbort?: AbortController;
  private savedJson = '';
  private pollTimer?: ReturnType<typeof setInterval>;
  private refreshTimer?: ReturnType<typeof setInterval>;
  private missedRefresh = false;
  private destroyed = false;
  private detachEditor?: () => void;
  private timeCtl?: TimeControls;
  private titleEl = h('h1', { class: 'dash-title' });
  private badges = h('span', { class: 'dash-badges' });
  private varBar = h('div', { class: 'dash-vars', 'data-testid': 'dash-variables' });
  private notice = h('div', { class: 'dash-notice', hidden: true });
  private body = h('div', { class: 'dash-body' });
  private el: HTMLElement;
  private pageTitle = 'Dashboard';
  private runSeq = 0;
  /** The latest refresh: panels outside the viewport run from it when they scroll into view. */
  private run?: RunState;
  private io?: IntersectionObserver;
  private ioAhead?: IntersectionObserver;
  private frameOf = new WeakMap<Element, PanelFrame>();
  /** Annotation queries switched on or off in the header (by name), over their `enable`. */
  private annToggles = new Map<string, boolean>();
  private annRuns = new WeakMap<RunEnv, Promise<AnnotationResult>>();
  private onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && this.viewPanel !== undefined && !document.querySelector('.dialog-backdrop')) this.setViewPanel(undefined);
  };
  private onVisibility = () => {
    if (!document.hidden && this.missedRefresh) {
      this.missedRefresh = false;
      void this.runAll();
    }
  };

  constructor(ctx: PageContext) {
    this.root = ctx.root;
    this.query = ctx.query;
    this.range = resolveRange(this.rawRange);
    this.el = h('div', { class: 'page dash-page', 'data-testid': 'dashboard' },
      h('div', { class: 'page-header dash-header' }, this.titleEl, this.badges, h('span', { class: 'spacer' }), this.toolbar),
      this.varBar,
      this.notice,
      this.body,
    );
    this.body.append(message('loading', 'Loading dashboard'));
    this.root.append(this.el);
    document.addEventListener('keydown', this.onKey);
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  page(): Page {
    const self = this;
    return {
      get title() {
        return self.pageTitle;
      },
      unmount: () => this.destroy(),
      onQueryChange: (q) => this.onQueryChange(q),
    };
  }

  // ---- loading ----

  async load(uid: string) {
    // The data sources (and the scrape interval behind them) are needed before the first query:
    // ask for them while the dashboard loads instead of after it.
    void listDatasources();
    try {
      const res = await request<{ dashboard: unknown; meta: DashboardMeta }>(`/api/dashboards/uid/${encodeURIComponent(uid)}`);
      if (this.destroyed) return;
      this.mount(normalizeDashboard(res.dashboard), res.meta ?? {}, false);
    } catch (e) {
      if (this.destroyed) return;
      const err = e as ApiError;
      this.pageTitle = 'Dashboard not found';
      document.title = `${this.pageTitle} · pharos`;
      replace(this.titleEl, err.status === 404 ? 'Dashboard not found' : 'Dashboard');
      const box =
        err.status === 404
          ? h('div', null, message('error', `There is no dashboard with uid "${uid}".`, 'It may have been deleted, or the link is wrong.'), h('p', { class: 'dash-center' }, h('a', { href: '/dashboards' }, '← All dashboards'), ' · ', h('a', { href: '/dashboards/import' }, 'Import a dashboard')))
          : h('div', null, message('error', err.unreachable ? 'pharos is not reachable — is the server running?' : 'The dashboard could not be loaded', err.message), h('p', { class: 'dash-center' }, h('button', { onclick: () => void this.load(uid) }, 'Try again'), ' ', h('a', { href: '/dashboards' }, 'All dashboards')));
      this.body.replaceChildren(box);
    }
  }

  /** Shows a model (first load, provisioned file changed, saved). */
  mount(model: DashboardModel, meta: DashboardMeta, isNew: boolean) {
    this.model = model;
    this.meta = meta;
    this.isNew = isNew;
    this.savedJson = comparable(model);
    this.crosshair.mode = typeof model.graphTooltip === 'number' ? model.graphTooltip : 0;
    const q = this.query;
    this.rawRange = { from: q.get('from') || model.time?.from || 'now-6h', to: q.get('to') || model.time?.to || 'now' };
    const tz = q.get('tz') ?? q.get('timezone') ?? model.timezone ?? '';
    this.timeZone = tz === 'utc' ? 'utc' : 'browser';
    const r = q.get('refresh') ?? (typeof model.refresh === 'string' ? model.refresh : '');
    this.refresh = r;
    const vp = q.get('viewPanel');
    this.viewPanel = vp && /^\d+$/.test(vp) ? Number(vp) : undefined;
    this.resolveRangeSafe();
    this.vars = new Variables(model, {
      range: () => this.range,
      dashboardTitle: () => this.model.title,
      dashboardUid: () => this.model.uid ?? '',
    });
    this.vars.readUrl(q);
    this.renderHeader();
    if (!this.timeCtl) {
      this.timeCtl = timeControls(this.timeState(), (s) => this.onTimeChange(s), () => void this.runAll(true));
      this.el.querySelector('.dash-header')!.append(this.timeCtl.el);
    } else this.timeCtl.set(this.timeState());
    if (!this.grid) {
      this.grid = new GridView({
        create: (item) => (item.isRow ? new RowCell(item, this) : this.createFrame(item)),
        preview: (panel, pos) => this.preview(panel, pos),
        commit: (items) => {
          commitLayout(this.model, items);
          this.layout();
          this.afterChange();
        },
      });
      this.grid.setEditing(this.editing);
    }
    this.body.replaceChildren(this.grid.el);
    this.startAutoRefresh();
    this.startPolling();
    void this.initVariablesAndRun();
    if (!this.detachEditor) {
      import('./editor/index')
        .then((m) => {
          if (!this.destroyed && !this.detachEditor) this.detachEditor = (m.attachEditor(this) as (() => void) | void) || (() => {});
        })
        .catch((e) => console.warn('dashboard editor not available', e));
    }
  }

  private resolveRangeSafe() {
    try {
      this.range = resolveRange(this.rawRange, this.timeZone);
    } catch (e) {
      this.showNotice(`The time range in the URL is not valid (${(e as Error).message}); showing the last 6 hours.`);
      this.rawRange = { from: 'now-6h', to: 'now' };
      this.range = resolveRange(this.rawRange, this.timeZone);
    }
  }

  private timeState(): TimeControlsState {
    return { range: this.rawRange, timeZone: this.timeZone, refresh: this.refresh };
  }

  private renderHeader() {
    this.pageTitle = this.model.title || 'Dashboard';
    document.title = `${this.pageTitle} · pharos`;
    const folder = typeof this.meta.folderTitle === 'string' && this.meta.folderTitle && this.meta.folderTitle !== 'General' ? this.meta.folderTitle : '';
    replace(
      this.titleEl,
      h('a', { href: '/dashboards', class: 'dash-crumb' }, 'Dashboards'),
      h('span', { class: 'dash-crumb-sep' }, ' / '),
      folder ? [h('span', { class: 'dash-crumb' }, folder), h('span', { class: 'dash-crumb-sep' }, ' / ')] : null,
      h('span', { 'data-testid': 'dash-title' }, this.model.title || 'Untitled'),
      !this.isNew && this.model.uid ? starButton(this.model.uid, Boolean(this.meta.isStarred), (on) => (this.meta.isStarred = on)) : null,
    );
    replace(
      this.badges,
      this.meta.provisioned ? h('span', { class: 'badge badge-info', title: `Provisioned from ${String(this.meta.provisionedExternalId ?? 'a file')}; pharos follows changes to the file.` }, 'provisioned') : null,
      ...(this.model.tags ?? []).slice(0, 6).map((t) => h('span', { class: 'label-chip dash-tag' }, String(t))),
    );
  }

  private async initVariablesAndRun() {
    this.varsAbort?.abort();
    const ac = new AbortController();
    this.varsAbort = ac;
    this.renderVarBar(true);
    this.layout();
    try {
      await this.vars.init(ac.signal);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
    }
    if (ac.signal.aborted || this.destroyed) return;
    this.syncUrl();
    this.renderVarBar();
    this.layout();
    void this.runAll();
  }

  // ---- URL state ----

  private syncUrl(push = false) {
    setQuery(
      {
        from: this.rawRange.from,
        to: this.rawRange.to,
        tz: this.timeZone === 'utc' ? 'utc' : null,
        refresh: this.refresh || null,
        viewPanel: this.viewPanel !== undefined ? String(this.viewPanel) : null,
        ...this.vars.urlParams(),
      },
      push,
    );
  }

  private onQueryChange(q: URLSearchParams) {
    this.query = q;
    if (!this.vars) return;
    let rerun = false;
    const from = q.get('from') || this.model.time?.from || 'now-6h';
    const to = q.get('to') || this.model.time?.to || 'now';
    if (from !== this.rawRange.from || to !== this.rawRange.to) {
      this.rawRange = { from, to };
      this.resolveRangeSafe();
      rerun = true;
    }
    const vp = q.get('viewPanel');
    const viewPanel = vp && /^\d+$/.test(vp) ? Number(vp) : undefined;
    if (viewPanel !== this.viewPanel) {
      this.viewPanel = viewPanel;
      this.layout();
      rerun = true;
    }
    const before = JSON.stringify(this.vars.urlParams());
    this.vars.readUrl(q);
    if (JSON.stringify(this.vars.urlParams()) !== before) {
      this.renderVarBar();
      this.layout();
      rerun = true;
    }
    this.timeCtl?.set(this.timeState());
    if (rerun) void this.runAll();
  }

  private async onTimeChange(s: TimeControlsState) {
    const rangeChanged = s.range.from !== this.rawRange.from || s.range.to !== this.rawRange.to || s.timeZone !== this.timeZone;
    this.rawRange = s.range;
    this.timeZone = s.timeZone;
    this.refresh = s.refresh;
    this.resolveRangeSafe();
    this.syncUrl(rangeChanged);
    this.startAutoRefresh();
    if (rangeChanged) await this.timeRangeChanged();
  }

  private async timeRangeChanged() {
    this.runAbort?.abort();
    try {
      const changed = await this.vars.onTimeRangeChanged();
      if (changed) {
        this.renderVarBar();
        this.layout();
        this.syncUrl();
      }
    } catch {
      /* variable errors are shown on the variable */
    }
    void this.runAll();
  }

  private zoom(fromMs: number, toMs: number) {
    if (!(toMs > fromMs)) return;
    this.rawRange = { from: String(Math.round(fromMs)), to: String(Math.round(toMs)) };
    this.resolveRangeSafe();
    this.timeCtl?.set(this.timeState());
    this.syncUrl(true);
    void this.timeRangeChanged();
  }

  private setViewPanel(id: number | undefined) {
    this.viewPanel = id;
    this.syncUrl(true);
    this.layout();
    void this.runAll();
  }

  // ---- auto refresh and provisioning ----

  private startAutoRefresh() {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    const ms = this.refresh ? parseDuration(this.refresh) : undefined;
    if (!ms) return;
    this.refreshTimer = setInterval(() => {
      if (document.hidden) {
        this.missedRefresh = true;
        return;
      }
      void this.runAll();
    }, Math.max(MIN_REFRESH_MS, ms));
  }

  private startPolling() {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    if (!this.meta.provisioned || this.isNew || !this.model.uid) return;
    this.pollTimer = setInterval(() => void this.pollOnce(), POLL_MS);
  }

  private async pollOnce() {
    if (document.hidden || this.destroyed || !this.model.uid) return;
    try {
      const res = await request<{ dashboard: unknown; meta: DashboardMeta }>(`/api/dashboards/uid/${encodeURIComponent(this.model.uid)}`);
      if (this.destroyed) return;
      const v = res.meta?.version;
      if (v === undefined || v === this.meta.version) return;
      if (this.dirty) {
        this.showNotice(`The dashboard's file changed on disk (version ${v}). Your unsaved changes are kept; reload to see the file's version.`, () => {
          this.hideNotice();
          this.remount(res.dashboard, res.meta);
        });
        this.meta = { ...this.meta, version: v };
        return;
      }
      this.remount(res.dashboard, res.meta);
    } catch {
      /* the health banner reports an unreachable server */
    }
  }

  private remount(dashboard: unknown, meta: DashboardMeta) {
    // Keep the range, zone and variable values the user has in the URL.
    this.query = new URLSearchParams(location.search);
    this.mount(normalizeDashboard(dashboard), meta, false);
  }

  private showNotice(text: string, action?: () => void) {
    replace(this.notice, h('span', null, text), action ? h('button', { class: 'small', onclick: action }, 'Load the new version') : h('button', { class: 'small', onclick: () => this.hideNotice() }, 'Dismiss'));
    this.notice.hidden = false;
  }

  private hideNotice() {
    this.notice.hidden = true;
  }

  // ---- variables bar ----

  private renderVarBar(loading = false) {
    const items: HTMLElement[] = [];
    for (const v of this.vars.list) {
      if (v.hide === 2 || v.type === 'constant') continue;
      items.push(this.varPicker(v, loading));
    }
    items.push(...this.annotationToggles());
    const links = this.dashboardLinks();
    replace(this.varBar, ...items, links.length ? h('span', { class: 'spacer' }) : null, ...links);
    this.varBar.hidden = items.length === 0 && links.length === 0;
  }

  /** A switch per annotation query that is not hidden (`hide`), as in Grafana's header. */
  private annotationToggles(): HTMLElement[] {
    return annotationQueries(this.model)
      .filter((q) => !q.hide && q.name)
      .map((q) => {
        const name = q.name ?? '';
        const box = h('input', { type: 'checkbox', checked: isEnabled(q, this.annToggles), 'aria-label': `Show annotations: ${name}` });
        box.addEventListener('change', () => {
          this.annToggles.set(name, box.checked);
          void this.runAll();
        });
        const swatch = h('span', { class: 'dash-ann-swatch' });
        swatch.style.setProperty('--ann-color', typeof q.iconColor === 'string' && q.iconColor ? q.iconColor : 'rgba(0, 211, 255, 1)');
        return h('label', { class: 'dash-var dash-ann-toggle', 'data-testid': 'annotation-toggle', 'data-annotation': name }, box, swatch, h('span', { class: 'dash-var-label' }, name));
      });
  }

  /** The annotation events of one refresh (run once, shared by every panel of that refresh). */
  annotationsFor(env: RunEnv): Promise<AnnotationResult> {
    let p = this.annRuns.get(env);
    if (!p) {
      // After the panels' own requests have gone out (they start in this task), at low priority.
      p = new Promise<void>((r) => setTimeout(r)).then(() => runAnnotations(this.model, env, this.annToggles));
      this.annRuns.set(env, p);
      void p.then((r) => {
        for (const el of this.varBar.querySelectorAll<HTMLElement>('[data-testid="annotation-toggle"]')) {
          const errs = r.errors.filter((e) => e.startsWith(`Annotation "${el.dataset.annotation}"`));
          el.classList.toggle('has-error', errs.length > 0);
          el.title = errs.join('\n');
        }
      });
    }
    return p;
  }

  private varPicker(v: TemplateVariable, loading: boolean): HTMLElement {
    const label = v.hide === 1 ? null : h('span', { class: 'dash-var-label' }, v.label || v.name);
    const err = this.vars.errors.get(v.name);
    const errEl = err ? h('span', { class: 'dash-var-error', title: err, role: 'img', 'aria-label': `error: ${err}` }, '⚠') : null;
    const wrap = h('div', { class: 'dash-var', 'data-var': v.name }, label);
    if (v.type === 'adhoc') {
      wrap.classList.add('dash-adhoc');
      wrap.append(
        ...adhocControl(v, this.range, (filters) => {
          (v as { filters?: AdhocFilter[] }).filters = filters;
          this.syncUrl(true);
          this.renderVarBar();
          void this.runAll();
        }),
      );
      return wrap;
    }
    if (v.type === 'textbox') {
      const input = h('input', { class: 'dash-var-input', value: String(v.current?.value ?? ''), 'aria-label': v.label || v.name, size: 14 });
      const apply = () => void this.changeVariable(v.name, input.value);
      input.addEventListener('change', apply);
      input.addEventListener('keydown', (e) => e.key === 'Enter' && input.blur());
      wrap.append(input);
      if (errEl) wrap.append(errEl);
      return wrap;
    }
    const cur = Array.isArray(v.current?.value) ? v.current!.value : [String(v.current?.value ?? '')];
    const texts = Array.isArray(v.current?.text) ? v.current!.text : [String(v.current?.text ?? '')];
    const shown = cur.includes(ALL_VALUE) ? ALL_TEXT : texts.filter(Boolean).join(' + ') || (loading ? '…' : 'None');
    const btn = h('button', { class: 'dash-var-btn', 'aria-haspopup': 'listbox', 'data-testid': `var-${v.name}` }, h('span', { class: 'dash-var-value' }, shown), h('span', { class: 'dash-var-caret', 'aria-hidden': 'true' }, '▾'));
    btn.addEventListener('click', () => this.openVarMenu(v, btn));
    wrap.append(btn);
    if (errEl) wrap.append(errEl);
    return wrap;
  }

  private openVarMenu(v: TemplateVariable, anchor: HTMLElement) {
    document.querySelector('.dash-var-menu')?.remove();
    const opts = v.options ?? [];
    const initial = new Set(Array.isArray(v.current?.value) ? v.current!.value : [String(v.current?.value ?? '')]);
    const sel = new Set(initial);
    const search = h('input', { class: 'dash-var-search', placeholder: 'Filter values', 'aria-label': 'Filter values' });
    const list = h('div', { class: 'dash-var-options', role: 'listbox', 'aria-multiselectable': v.multi ? 'true' : 'false' });
    const menu = h('div', { class: 'popover dash-var-menu' }, search, list);
    const close = (apply: boolean) => {
      if (!menu.isConnected) return;
      menu.remove();
      document.removeEventListener('mousedown', outside, true);
      document.removeEventListener('keydown', onKey, true);
      if (!apply) return;
      let values = [...sel];
      if (!values.length) values = v.includeAll ? [ALL_VALUE] : opts.length ? [opts[0].value] : [];
      const same = values.length === initial.size && values.every((x) => initial.has(x));
      if (!same) void this.changeVariable(v.name, v.multi ? values : values[0] ?? '');
    };
    const outside = (e: MouseEvent) => {
      if (!menu.contains(e.target as Node)) close(true);
    };
    const draw = () => {
      const f = search.value.toLowerCase();
      const shown = opts.filter((o) => !f || o.text.toLowerCase().includes(f));
      replace(
        list,
        ...shown.slice(0, 500).map((o) =>
          h(
            'button',
            {
              class: `dash-var-option${sel.has(o.value) ? ' selected' : ''}`,
              role: 'option',
              'aria-selected': sel.has(o.value) ? 'true' : 'false',
              onclick: () => {
                if (!v.multi) {
                  sel.clear();
                  sel.add(o.value);
                  close(true);
                  return;
                }
                if (o.value === ALL_VALUE) {
                  sel.clear();
                  sel.add(ALL_VALUE);
                } else {
                  sel.delete(ALL_VALUE);
                  if (sel.has(o.value)) sel.delete(o.value);
                  else sel.add(o.value);
                }
                draw();
              },
            },
            v.multi ? h('span', { class: 'dash-var-check', 'aria-hidden': 'true' }, sel.has(o.value) ? '☑' : '☐') : null,
            o.text,
          ),
        ),
        shown.length === 0 ? h('div', { class: 'faint dash-var-empty' }, opts.length ? 'No value matches' : this.vars.errors.get(v.name) ?? this.vars.notes.get(v.name) ?? 'This variable has no values') : null,
        shown.length > 500 ? h('div', { class: 'faint dash-var-empty' }, `${shown.length - 500} more — type to filter`) : null,
      );
    };
    search.addEventListener('input', draw);
    // On the document: clicking an option redraws the list, which takes the focus away.
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close(false);
      else if (e.key === 'Enter') {
        e.preventDefault();
        close(true);
      }
    };
    document.addEventListener('keydown', onKey, true);
    draw();
    const r = anchor.getBoundingClientRect();
    menu.style.top = `${r.bottom + window.scrollY + 4}px`;
    menu.style.left = `${r.left + window.scrollX}px`;
    document.body.append(menu);
    search.focus();
    setTimeout(() => document.addEventListener('mousedown', outside, true));
  }

  private async changeVariable(name: string, value: string | string[]) {
    this.varsAbort?.abort();
    const ac = new AbortController();
    this.varsAbort = ac;
    this.runAbort?.abort();
    try {
      await this.vars.setValue(name, value, ac.signal);
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
    }
    if (ac.signal.aborted) return;
    this.syncUrl(true);
    this.renderVarBar();
    this.layout();
    void this.runAll();
  }

  private dashboardLinks(): HTMLElement[] {
    const links = Array.isArray(this.model.links) ? (this.model.links as Record<string, unknown>[]) : [];
    const out: HTMLElement[] = [];
    for (const l of links) {
      if (!l || typeof l !== 'object') continue;
      if (l.type === 'dashboards') {
        const tags = Array.isArray(l.tags) ? (l.tags as string[]) : [];
        out.push(h('a', { class: 'dash-link', href: `/dashboards${tags.length ? `?${tags.map((t) => `tag=${encodeURIComponent(t)}`).join('&')}` : ''}` }, `▦ ${typeof l.title === 'string' && l.title ? l.title : 'Dashboards'}`));
        continue;
      }
      let url = typeof l.url === 'string' ? this.vars.interpolate(l.url) : '';
      const extra = new URLSearchParams();
      if (l.keepTime) {
        extra.set('from', this.rawRange.from);
        extra.set('to', this.rawRange.to);
      }
      if (l.includeVars) for (const [k, vals] of Object.entries(this.vars.urlParams())) for (const v of vals) extra.append(k, v);
      const es = extra.toString();
      if (es) url += (url.includes('?') ? '&' : '?') + es;
      const href = safeHref(url);
      const title = typeof l.title === 'string' && l.title ? this.vars.interpolate(l.title) : url;
      out.push(href ? h('a', { class: 'dash-link', href, target: l.targetBlank ? '_blank' : undefined, rel: 'noopener noreferrer', title: typeof l.tooltip === 'string' ? l.tooltip : href }, `↗ ${title}`) : h('span', { class: 'dash-link faint', title: 'link not allowed' }, title));
    }
    return out;
  }

  // ---- layout ----

  private layout() {
    if (!this.grid) return;
    const items = computeLayout(this.model, this.vars, { viewPanel: this.viewPanel });
    const empty = this.model.panels.length === 0;
    this.body.querySelector('.dash-empty')?.remove();
    this.body.querySelector('.dash-viewbar')?.remove();
    if (this.viewPanel !== undefined) {
      const title = items[0] ? this.vars.interpolate(items[0].panel.title ?? '', items[0].scopedVars, 'text') : '';
      this.body.prepend(
        h('div', { class: 'dash-viewbar' }, h('button', { 'data-testid': 'exit-view', onclick: () => this.setViewPanel(undefined) }, '← Back to dashboard'), h('span', { class: 'faint' }, items[0] ? `Viewing "${title}" (Esc to go back)` : `Panel ${this.viewPanel} is not on this dashboard.`)),
      );
    }
    if (empty) {
      this.body.append(
        h('div', { class: 'dash-empty' }, message('empty', 'This dashboard has no panels yet.', this.editing ? 'Use "Add" in the toolbar to add a panel or a row.' : 'Click "Edit" in the toolbar, then "Add" to add a panel.')),
      );
    }
    this.grid.setItems(items, this.viewPanel !== undefined);
  }

  private preview(panel: GrafanaPanel, pos: GridPos): LayoutItem[] {
    const current = new Map<GrafanaPanel, GridPos>();
    for (const it of this.grid?.layout ?? []) if (!it.clone) current.set(it.source, { x: it.x, y: it.y, w: it.w, h: it.h });
    return computeLayout(this.model, this.vars, {
      moved: panel,
      positionOf: (p) => (p === panel ? pos : current.get(p)),
    });
  }

  private createFrame(item: LayoutItem): PanelFrame {
    const f = new PanelFrame(item, this);
    this.frames.set(item.key, f);
    this.observe(f);
    return f;
  }

  /**
   * Panels load lazily, as in Grafana: a panel runs its queries when it is within 200 px
   * of the viewport, so a long dashboard asks the server only for what a person can see.
   * The panels within one more screen below are loaded ahead, once those in view are drawn and
   * at low fetch priority, so scrolling down finds their data here; the rest wait for a scroll.
   */
  private observe(f: PanelFrame) {
    if (typeof IntersectionObserver === 'undefined') {
      f.visible = true;
      return;
    }
    if (!this.io) {
      const root = this.el.closest('#outlet');
      this.io = new IntersectionObserver((entries) => this.onIntersect(entries, 'visible'), { root, rootMargin: VIEW_MARGIN });
      this.ioAhead = new IntersectionObserver((entries) => this.onIntersect(entries, 'ahead'), { root, rootMargin: AHEAD_MARGIN });
    }
    this.frameOf.set(f.el, f);
    this.io.observe(f.el);
    this.ioAhead?.observe(f.el);
  }

  private onIntersect(entries: IntersectionObserverEntry[], which: 'visible' | 'ahead') {
    for (const e of entries) {
      const f = this.frameOf.get(e.target);
      if (!f) continue;
      f.seen = true;
      f[which] = e.isIntersecting;
      if (f.visible && f.drawPending) f.show();
      if (f.stale && (f.visible || f.ahead)) this.enqueue(f);
    }
  }

  /**
   * Where a panel is before the observers first report (a fresh page runs its first queries
   * without waiting a frame for them): from its box against the scroll container's.
   */
  private placeFrame(f: PanelFrame) {
    if (f.seen || typeof IntersectionObserver === 'undefined') return;
    const root = this.el.closest('#outlet');
    const view = root ? root.getBoundingClientRect() : { top: 0, bottom: window.innerHeight };
    const r = f.el.getBoundingClientRect();
    if (!r.height) return;
    const viewH = view.bottom - view.top;
    f.visible = r.bottom > view.top - 200 && r.top < view.bottom + 200;
    f.ahead = r.bottom > view.top && r.top < view.bottom + viewH;
  }

  /** @internal */
  frameDestroyed(key: string, f: PanelFrame) {
    if (this.frames.get(key) === f) this.frames.delete(key);
    this.io?.unobserve(f.el);
    this.ioAhead?.unobserve(f.el);
  }

  /** @internal called by a row header */
  toggleRow(row: GrafanaPanel) {
    const wasDirty = this.dirty;
    toggleRow(this.model, row);
    if (!wasDirty) this.savedJson = comparable(this.model);
    this.layout();
    void this.runAll(false, true);
  }

  // ---- running queries ----

  /**
   * Runs the queries of every panel (`onlyIdle`: panels that have no data yet): those in view
   * now, the others when they scroll into view. Identical requests share one answer per refresh.
   */
  async runAll(manual = false, onlyIdle = false) {
    if (!this.grid || this.destroyed) return;
    void manual;
    if (!onlyIdle) this.runAbort?.abort();
    const reuse = onlyIdle && this.runAbort && !this.runAbort.signal.aborted && this.run;
    const ac = reuse ? this.runAbort! : new AbortController();
    this.runAbort = ac;
    this.resolveRangeSafe();
    const seq = ++this.runSeq;
    const frames = this.grid.layout
      .filter((it) => !it.isRow)
      .map((it) => this.frames.get(it.key))
      .filter((f): f is PanelFrame => !!f && (!onlyIdle || !f.hasData));
    const run: RunState = {
      seq,
      env: { range: this.range, timeZone: this.timeZone, signal: ac.signal, cache: reuse ? this.run!.env.cache : new Map(), model: this.model, interpolate: (t, s, fmt) => this.vars.interpolate(t, s, fmt), emptyVars: (t, s) => this.vars.emptyRefs(t, s), adhoc: this.vars.adhocFilters(), widthPx: 0 },
      queue: [],
      ahead: [],
      activeInView: 0,
      active: 0,
      started: performance.now(),
    };
    this.run?.done?.();
    this.run = run;
    for (const f of frames) {
      f.stale = true;
      this.placeFrame(f);
      if (f.visible || f.ahead) this.enqueue(f);
      else f.defer();
    }
    await new Promise<void>((resolve) => {
      run.done = resolve;
      this.pump();
    });
  }

  /** Queues a panel that came into view (or within a screen below it) for the latest refresh. */
  private enqueue(f: PanelFrame) {
    const run = this.run;
    if (!run || run.env.signal?.aborted || this.destroyed) return;
    const waiting = run.ahead.indexOf(f);
    if (f.visible) {
      // Scrolled into view while waiting to be loaded ahead: it goes with the panels in view.
      if (waiting >= 0) run.ahead.splice(waiting, 1);
      f.stale = false;
      run.queue.push(f);
    } else if (waiting < 0) {
      f.defer();
      run.ahead.push(f);
    }
    this.pump();
  }

  /**
   * Starts queued panels, at most CONCURRENCY at a time: those in view first; those ahead when
   * the ones in view are drawn (so they take neither the server's nor the page's time from them).
   */
  private pump() {
    const run = this.run;
    if (!run) return;
    while (run.active < CONCURRENCY && (run.queue.length || (run.ahead.length && run.activeInView === 0)) && !run.env.signal?.aborted) {
      const inView = run.queue.length > 0;
      const f = inView ? run.queue.shift()! : run.ahead.shift()!;
      if (!f.stale && !inView) continue;
      f.stale = false;
      run.active++;
      if (inView) run.activeInView++;
      void f.run(run.env, inView ? undefined : 'low').finally(() => {
        run.active--;
        if (inView) run.activeInView--;
        this.pump();
      });
    }
    if (run.active === 0 && ((!run.queue.length && !run.ahead.length) || run.env.signal?.aborted)) {
      if (run.seq === this.runSeq && !run.env.signal?.aborted) {
        this.el.dataset.lastRunMs = String(Math.round(performance.now() - run.started));
        this.el.dataset.runs = String(Number(this.el.dataset.runs ?? 0) + 1);
      }
      run.done?.();
      run.done = undefined;
    }
  }

  // ---- DashboardHost ----

  get dirty(): boolean {
    return comparable(this.model) !== this.savedJson;
  }

  setEditing(on: boolean) {
    this.editing = on;
    this.el.classList.toggle('dash-editing', on);
    this.grid?.setEditing(on);
    for (const f of this.frames.values()) f.refreshChrome();
    if (this.model.panels.length === 0) this.layout();
  }

  changed(opts: { requery?: boolean } = {}) {
    this.vars.setModel(this.model);
    this.crosshair.mode = typeof this.model.graphTooltip === 'number' ? this.model.graphTooltip : 0;
    this.renderHeader();
    this.renderVarBar();
    this.layout();
    for (const f of this.frames.values()) f.modelChanged();
    if (opts.requery !== false) {
      // Variables may have been edited: re-read their options, then run.
      void (async () => {
        try {
          await this.vars.init();
        } catch {
          /* shown on the variable */
        }
        this.renderVarBar();
        this.layout();
        void this.runAll();
      })();
    }
  }

  private afterChange() {
    // A drag/resize does not need new data, but resized panels draw with their new width.
    for (const f of this.frames.values()) f.modelChanged();
  }

  saved(model: DashboardModel, meta: DashboardMeta) {
    const wasNew = this.isNew;
    this.model = model;
    this.meta = { ...this.meta, ...meta };
    this.isNew = false;
    this.savedJson = comparable(model);
    this.vars.setModel(model);
    this.renderHeader();
    this.startPolling();
    if (wasNew && model.uid) {
      const url = `/d/${encodeURIComponent(model.uid)}/${slugify(model.title)}${location.search}`;
      navigate(url, true);
    }
  }

  async runPanel(panel: GrafanaPanel, signal?: AbortSignal): Promise<PanelData> {
    const frame = [...this.frames.values()].find((f) => f.item.source === panel);
    return runPanel(panel, {
      range: this.range,
      timeZone: this.timeZone,
      widthPx: frame?.bodyWidth() || 800,
      interpolate: (t, s, fmt) => this.vars.interpolate(t, s, fmt), emptyVars: (t, s) => this.vars.emptyRefs(t, s), adhoc: this.vars.adhocFilters(),
      model: this.model,
      signal,
      cache: new Map(),
    });
  }

  interpolate(text: string): string {
    return this.vars.interpolate(text);
  }

  // ---- used by frames ----

  /** @internal */
  panelContext(item: () => LayoutItem): PanelContext {
    const self = this;
    return {
      get timeZone() {
        return self.timeZone;
      },
      crosshair: this.crosshair,
      onZoom: (from, to) => this.zoom(from, to),
      interpolate: (text) => this.vars.interpolate(text, item().scopedVars),
      onAnnotate: (timeMs, clientX, clientY) =>
        openAnnotateForm({ timeMs, clientX, clientY, timeZone: this.timeZone, dashboardUid: this.model.uid, panelId: item().panel.id, onSaved: () => void this.runAll(true) }),
    };
  }

  /** @internal */
  titleOf(item: LayoutItem, intervalMs?: number): string {
    const title = item.panel.title ?? '';
    if (!title.includes('$__interval')) return this.vars.interpolate(title, item.scopedVars, 'text');
    // Grafana draws a title such as "Requests / $__interval" with the panel's own interval.
    const ms = intervalMs || panelInterval(item.panel, this.envFor(item, this.frames.get(item.key)?.bodyWidth() || 800));
    const sv = (x: string | number) => ({ text: String(x), value: String(x) });
    return this.vars.interpolate(title, { ...item.scopedVars, __interval: sv(formatDuration(ms)), __interval_ms: sv(Math.round(ms)) }, 'text');
  }

  /** @internal */
  async explore(item: LayoutItem) {
    const url = await exploreUrl(item.panel, this.envFor(item, 0));
    if (url) navigate(url);
  }

  /** @internal */
  envFor(item: LayoutItem, widthPx: number): RunEnv {
    return { range: this.range, timeZone: this.timeZone, widthPx, interpolate: (t, s, fmt) => this.vars.interpolate(t, s, fmt), emptyVars: (t, s) => this.vars.emptyRefs(t, s), adhoc: this.vars.adhocFilters(), scopedVars: item.scopedVars, model: this.model };
  }

  /** @internal */
  view(item: LayoutItem) {
    this.setViewPanel(item.source.id);
  }

  /** @internal */
  unview() {
    this.setViewPanel(undefined);
  }

  /** @internal */
  get viewing(): boolean {
    return this.viewPanel !== undefined;
  }

  /** @internal */
  removePanel(item: LayoutItem) {
    const i = this.model.panels.indexOf(item.source);
    if (i >= 0) this.model.panels.splice(i, 1);
    else for (const p of this.model.panels) if (p.type === 'row' && p.panels?.includes(item.source)) p.panels.splice(p.panels.indexOf(item.source), 1);
    this.changed({ requery: false });
  }

  /** @internal */
  get timeZoneNow(): TimeZone {
    return this.timeZone;
  }

  private destroy() {
    this.destroyed = true;
    this.runAbort?.abort();
    this.varsAbort?.abort();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    document.removeEventListener('keydown', this.onKey);
    document.removeEventListener('visibilitychange', this.onVisibility);
    document.querySelector('.dash-var-menu')?.remove();
    document.querySelector('.dash-panel-popup')?.remove();
    this.detachEditor?.();
    this.grid?.destroy();
    this.crosshair.destroy();
  }
}

// ---- row header ------------------------------------------------------------------------------

class RowCell implements GridCell {
  el: HTMLElement;
  constructor(
    private item: LayoutItem,
    private view: DashboardView,
  ) {
    this.el = h('div', { class: 'dash-row', 'data-testid': 'dash-row' });
    this.el.addEventListener('click', (e) => {
      if ((e.target as Element).closest('a')) return;
      this.view.toggleRow(this.item.source);
    });
    this.draw();
  }
  private draw() {
    const it = this.item;
    const collapsed = Boolean(it.source.collapsed);
    this.el.dataset.collapsed = String(collapsed);
    this.el.dataset.panelId = String(it.source.id ?? '');
    replace(
      this.el,
      h(
        'button',
        { class: 'dash-row-toggle', 'aria-expanded': collapsed ? 'false' : 'true', title: collapsed ? 'Expand row' : 'Collapse row' },
        h('span', { class: 'dash-row-chevron', 'aria-hidden': 'true' }, collapsed ? '▸' : '▾'),
        h('span', { class: 'dash-row-title' }, this.view.titleOf(it) || 'Row'),
        collapsed ? h('span', { class: 'dash-row-count faint' }, `(${it.hidden ?? 0} panel${it.hidden === 1 ? '' : 's'})`) : null,
      ),
    );
  }
  update(item: LayoutItem) {
    this.item = item;
    this.draw();
  }
  resize() {}
  destroy() {}
}

// ---- panel frame -----------------------------------------------------------------------------

class PanelFrame implements GridCell {
  el: HTMLElement;
  item: LayoutItem;
  hasData = false;
  /** Within reach of the viewport (set by the dashboard's IntersectionObserver). */
  visible = false;
  /** Within a screen below the viewport: loaded ahead of a scroll. */
  ahead = false;
  /** The observers have reported on this panel at least once. */
  seen = false;
  /** Has data loaded ahead that waits to come into view to be drawn. */
  drawPending = false;
  /** Has not run for the latest refresh yet (it runs when it scrolls into view). */
  stale = false;
  private header: HTMLElement;
  private titleEl: HTMLElement;
  private statusEl: HTMLElement;
  private bodyEl: HTMLElement;
  private renderer?: PanelRenderer;
  private rendererType = '';
  private panelJson = '';
  private data?: PanelData;
  private lastLog: QueryLogEntry[] = [];
  private lastError: string[] = [];
  private abort?: AbortController;
  private size = { w: 0, h: 0 };
  private lastRunMs = 0;

  constructor(
    item: LayoutItem,
    private view: DashboardView,
  ) {
    this.item = item;
    this.titleEl = h('span', { class: 'dash-panel-title', 'data-testid': 'panel-title' });
    this.statusEl = h('span', { class: 'dash-panel-status' });
    const menuBtn = h('button', { class: 'dash-panel-menu-btn', title: 'Panel menu', 'aria-haspopup': 'menu', 'data-testid': 'panel-menu' }, '⋮');
    menuBtn.addEventListener('click', (e) => {
      e.stopPropagation();
      this.openMenu(menuBtn);
    });
    this.header = h('div', { class: 'dash-panel-header', 'data-drag-handle': '' }, this.statusEl, this.titleEl, h('span', { class: 'dash-panel-desc-slot' }), menuBtn);
    this.bodyEl = h('div', { class: 'dash-panel-body' });
    this.el = h('section', { class: 'dash-panel', 'data-testid': 'dash-panel' }, this.header, this.bodyEl, h('div', { class: 'dash-resize-handle', title: 'Drag to resize' }));
    this.el.addEventListener('dblclick', (e) => {
      if ((e.target as Element).closest('.dash-panel-header') && !this.view.editing) this.view.view(this.item);
    });
    this.drawChrome();
    this.createRenderer();
  }

  private drawChrome() {
    const p = this.item.panel;
    this.el.dataset.panelId = String(this.item.source.id ?? '');
    this.el.dataset.panelType = p.type || 'timeseries';
    this.el.classList.toggle('transparent', Boolean(p.transparent));
    this.el.classList.toggle('clone', this.item.clone);
    const title = this.view.titleOf(this.item, this.data?.intervalMs);
    this.titleEl.textContent = title;
    this.titleEl.title = title;
    const slot = this.header.querySelector('.dash-panel-desc-slot')!;
    const desc = typeof p.description === 'string' && p.description.trim() ? this.view.interpolate(p.description) : '';
    slot.replaceChildren(desc ? h('span', { class: 'dash-panel-desc', title: desc, tabindex: 0, 'aria-label': `Description: ${desc}` }, 'ℹ') : '');
    this.header.classList.toggle('no-title', !title);
  }

  refreshChrome() {
    this.drawChrome();
  }

  private createRenderer() {
    this.renderer?.destroy();
    this.bodyEl.replaceChildren();
    const rp = panelForRenderer(this.item.panel);
    this.rendererType = rp.type ?? 'timeseries';
    this.panelJson = JSON.stringify(this.item.panel);
    try {
      this.renderer = createPanel(this.bodyEl, rp, this.view.panelContext(() => this.item));
    } catch (e) {
      this.renderer = undefined;
      this.bodyEl.replaceChildren(message('error', 'This panel could not be drawn', (e as Error).message));
    }
    if (this.size.w) this.renderer?.resize(this.size.w, this.bodyHeight());
    if (this.data) this.draw();
  }

  update(item: LayoutItem) {
    this.item = item;
    this.modelChanged();
  }

  /** The panel JSON may have changed (editor, repeat values): redraw or rebuild. */
  modelChanged() {
    const json = JSON.stringify(this.item.panel);
    this.drawChrome();
    if (json === this.panelJson) return;
    const rp = panelForRenderer(this.item.panel);
    if ((rp.type ?? 'timeseries') !== this.rendererType || !this.renderer) this.createRenderer();
    else {
      this.panelJson = json;
      if (this.data) this.draw();
    }
  }

  bodyWidth(): number {
    return this.bodyEl.clientWidth || this.size.w;
  }

  private bodyHeight(): number {
    return Math.max(0, this.size.h - (this.header.offsetHeight || 32));
  }

  resize(w: number, h: number) {
    this.size = { w, h };
    const bw = this.bodyEl.clientWidth || w - 2;
    try {
      this.renderer?.resize(bw, this.bodyHeight());
    } catch (e) {
      console.error('panel resize failed', e);
    }
  }

  /** Waits for the panel to scroll into view; a panel that has data keeps showing it. */
  defer() {
    if (!this.hasData) this.setState('deferred');
  }

  private setState(state: 'loading' | 'ok' | 'error' | 'empty' | 'deferred') {
    this.el.dataset.state = state;
    if (state === 'loading') {
      this.statusEl.replaceChildren(h('span', { class: 'dash-spinner', title: 'Loading', role: 'status', 'aria-label': 'Loading' }));
    } else if (state === 'error') {
      const msg = this.lastError.join('\n');
      this.statusEl.replaceChildren(h('span', { class: 'dash-panel-error', title: msg, role: 'img', 'aria-label': `Error: ${msg}`, 'data-testid': 'panel-error' }, '⚠'));
    } else if (state === 'empty' && this.data?.notices.length) {
      // Nothing failed, but there is a reason for "No data" worth a look (an unsupported data source).
      const msg = this.data.notices.join('\n');
      this.statusEl.replaceChildren(h('span', { class: 'dash-panel-notice', title: msg, role: 'img', 'aria-label': `Note: ${msg}`, 'data-testid': 'panel-notice' }, 'ℹ'));
    } else this.statusEl.replaceChildren();
  }

  /** Runs the panel's queries for one refresh (`priority` low: loaded ahead of a scroll). */
  async run(base: RunEnv, priority?: RequestPriority) {
    if (NON_QUERY_TYPES.has(this.item.panel.type ?? '') && this.item.panel.type !== 'alertlist') {
      this.data = { series: [], tables: [], logs: [], errors: [], notices: [], range: base.range, intervalMs: 0 };
      this.hasData = true;
      this.draw();
      this.setState('ok');
      return;
    }
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const onAbort = () => ac.abort();
    base.signal?.addEventListener('abort', onAbort, { once: true });
    this.setState('loading');
    const log: QueryLogEntry[] = [];
    const started = performance.now();
    try {
      const wantsAnnotations = ANNOTATED_TYPES.has(this.item.panel.type ?? 'timeseries') && annotationQueries(base.model ?? this.view.model).length > 0;
      // The panel draws as soon as its data is here; annotations still on their way (behind the
      // browser's six connections, busy with panel queries) are drawn when they arrive.
      const annotations = wantsAnnotations ? this.view.annotationsFor(base) : undefined;
      let events: Annotation[] | undefined;
      void annotations?.then((r) => (events = r.events.filter((a) => appliesTo(a, this.item.source))));
      const data = await runPanel(this.item.panel, { ...base, signal: ac.signal, priority, widthPx: this.bodyWidth() || 800, scopedVars: this.item.scopedVars, log });
      performance.measure('pharos:panel-query', { start: started });
      if (ac.signal.aborted) return;
      data.annotations = events;
      if (annotations && !events)
        void annotations.then(() => {
          if (ac.signal.aborted || this.data !== data || this.drawPending) return;
          data.annotations = events;
          if (this.renderer?.annotate) this.renderer.annotate(events ?? []);
          else this.draw();
        });
      this.lastRunMs = Math.round(performance.now() - started);
      this.data = data;
      this.lastLog = log;
      this.lastError = data.errors;
      this.hasData = true;
      // Loaded ahead of a scroll: drawn when it comes into view, the main thread stays with
      // the panels a person sees.
      if (priority === 'low' && !this.visible) {
        this.drawPending = true;
        this.setState('deferred');
      } else this.show();
    } catch (e) {
      if ((e as Error).name === 'AbortError' || ac.signal.aborted) return;
      this.lastError = [(e as Error).message];
      this.data = { series: [], tables: [], logs: [], errors: this.lastError, notices: [], range: base.range, intervalMs: 0 };
      this.draw();
      this.setState('error');
    } finally {
      base.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Draws the latest data and shows its state (see `drawPending`). */
  show() {
    if (!this.data) return;
    this.drawPending = false;
    if (String(this.item.panel.title ?? '').includes('$__interval')) this.drawChrome();
    this.draw();
    const d = this.data;
    const empty = !d.series.length && !d.tables.length && !d.logs.length;
    this.setState(d.errors.length ? 'error' : empty ? 'empty' : 'ok');
  }

  private draw() {
    if (!this.data) return;
    this.el.dataset.querySeries = String(this.data.series.length);
    this.el.dataset.queryPoints = String(this.data.series.reduce((n, s) => n + s.values.length, 0));
    try {
      const t0 = performance.now();
      this.renderer?.update(this.data, panelForRenderer(this.item.panel));
      performance.measure('pharos:panel-draw', { start: t0 });
    } catch (e) {
      console.error('panel draw failed', e);
      this.bodyEl.replaceChildren(message('error', 'This panel could not be drawn', (e as Error).message));
    }
  }

  // ---- menu ----

  private openMenu(anchor: HTMLElement) {
    document.querySelector('.dash-panel-popup')?.remove();
    const item = this.item;
    const editing = this.view.editing;
    const close = () => {
      menu.remove();
      document.removeEventListener('mousedown', outside, true);
    };
    const outside = (e: MouseEvent) => {
      if (!menu.contains(e.target as Node)) close();
    };
    const entry = (label: string, key: string, fn: () => void, testid: string) =>
      h('button', { class: 'link-btn dash-menu-item', role: 'menuitem', 'data-testid': testid, onclick: () => { close(); fn(); } }, h('span', null, label), h('span', { class: 'faint dash-menu-key' }, key));
    const links = (Array.isArray(item.panel.links) ? (item.panel.links as Record<string, unknown>[]) : [])
      .map((l) => {
        const url = typeof l.url === 'string' ? this.view.interpolate(l.url) : '';
        const href = safeHref(url);
        if (!href) return null;
        return h('a', { class: 'link-btn dash-menu-item', href, target: l.targetBlank ? '_blank' : undefined, rel: 'noopener noreferrer' }, `↗ ${typeof l.title === 'string' && l.title ? l.title : url}`);
      })
      .filter(Boolean) as HTMLElement[];
    const menu = h(
      'div',
      { class: 'popover dash-panel-popup', role: 'menu' },
      this.view.viewing ? entry('Back to dashboard', 'esc', () => this.view.unview(), 'menu-unview') : entry('View', 'v', () => this.view.view(item), 'menu-view'),
      !item.clone && (this.view.onEditPanel || editing) ? entry('Edit', 'e', () => this.view.onEditPanel?.(item.source), 'menu-edit') : null,
      entry('Explore', 'x', () => void this.view.explore(item), 'menu-explore'),
      entry('Inspect', 'i', () => this.openInspect(), 'menu-inspect'),
      editing && !item.clone ? entry('Remove', '', () => this.view.removePanel(item), 'menu-remove') : null,
      links.length ? h('div', { class: 'dash-menu-sep' }) : null,
      ...links,
    );
    const r = anchor.getBoundingClientRect();
    menu.style.top = `${r.bottom + window.scrollY + 2}px`;
    menu.style.left = `${Math.max(8, r.right + window.scrollX - 200)}px`;
    document.body.append(menu);
    setTimeout(() => document.addEventListener('mousedown', outside, true));
  }

  private openInspect() {
    const data = this.data;
    const tabs = ['Data', 'Query', 'JSON'] as const;
    const content = h('div', { class: 'dash-inspect-content' });
    const tabEls = tabs.map((t) => h('button', { class: t === 'Data' ? 'active' : '', onclick: () => show(t) }, t));
    const close = () => {
      backdrop.remove();
      document.removeEventListener('keydown', onKey);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && close();
    const tz = this.view.timeZoneNow;
    const show = (t: (typeof tabs)[number]) => {
      tabEls.forEach((b, i) => b.classList.toggle('active', tabs[i] === t));
      if (t === 'JSON') {
        const text = JSON.stringify(this.item.source, null, 2);
        replace(content, h('div', { class: 'toolbar' }, h('button', { class: 'small', onclick: () => void navigator.clipboard?.writeText(text) }, 'Copy')), h('pre', { class: 'dash-inspect-pre' }, text));
        return;
      }
      if (t === 'Query') {
        replace(
          content,
          this.lastLog.length === 0
            ? message('empty', 'No request was made for this panel yet.')
            : h(
                'table',
                { class: 'data' },
                h('thead', null, h('tr', null, h('th', null, 'Ref'), h('th', null, 'Request'), h('th', null, 'Time'), h('th', null, 'Result'))),
                h(
                  'tbody',
                  null,
                  ...this.lastLog.map((l) =>
                    h(
                      'tr',
                      null,
                      h('td', null, l.refId),
                      h('td', { class: 'mono dash-inspect-req' }, `${l.method} ${decodeURIComponent(l.url)}`, l.body ? h('div', { class: 'faint' }, l.body.startsWith('{') ? l.body : decodeURIComponent(l.body.replace(/\+/g, ' '))) : null),
                      h('td', { class: 'num' }, `${l.ms} ms`),
                      h('td', { class: l.status === 'error' ? 'error-inline' : '' }, l.status === 'error' ? l.error ?? 'error' : l.status),
                    ),
                  ),
                ),
              ),
          h('p', { class: 'faint' }, `Last run took ${this.lastRunMs} ms; interval ${data?.intervalMs ? `${data.intervalMs / 1000}s` : '—'}.`),
        );
        return;
      }
      if (!data) return replace(content, message('empty', 'This panel has not loaded data yet.'));
      const parts: HTMLElement[] = [];
      if (data.errors.length) parts.push(message('error', 'Query failed', data.errors.join('\n')));
      if (data.notices.length) parts.push(h('div', { class: 'faint' }, ...data.notices.map((n) => h('div', null, n))));
      if (data.series.length)
        parts.push(
          h('h3', null, `${data.series.length} series`),
          h(
            'table',
            { class: 'data' },
            h('thead', null, h('tr', null, h('th', null, 'Series'), h('th', null, 'Points'), h('th', null, 'Last time'), h('th', null, 'Last value'))),
            h(
              'tbody',
              null,
              ...data.series.slice(0, 200).map((s) => {
                let i = s.values.length - 1;
                while (i >= 0 && s.values[i] === null) i--;
                return h('tr', null, h('td', { class: 'mono' }, s.name), h('td', { class: 'num' }, s.values.length), h('td', null, i >= 0 ? formatDateTime(s.times[i], tz) : '—'), h('td', { class: 'num' }, i >= 0 ? String(s.values[i]) : '—'));
              }),
            ),
          ),
        );
      for (const t of data.tables)
        parts.push(
          h('h3', null, `Table ${t.refId} (${t.rows.length} rows)`),
          h('table', { class: 'data' }, h('thead', null, h('tr', null, ...t.columns.map((c) => h('th', null, c.name)))), h('tbody', null, ...t.rows.slice(0, 100).map((r) => h('tr', null, ...r.map((c) => h('td', null, c === null || c === undefined ? '' : String(c))))))),
        );
      if (data.logs.length) parts.push(h('h3', null, `${data.logs.length} log lines`), h('pre', { class: 'dash-inspect-pre' }, data.logs.slice(0, 100).map((l) => `${formatDateTime(l.timeMs, tz, true)} ${l.line}`).join('\n')));
      if (!parts.length) parts.push(message('empty', 'The queries returned no data.'));
      replace(content, ...parts);
    };
    const backdrop = h(
      'div',
      { class: 'dialog-backdrop', onclick: (e: MouseEvent) => e.target === backdrop && close() },
      h('div', { class: 'dialog dash-inspect', role: 'dialog', 'aria-label': 'Inspect panel' }, h('div', { class: 'toolbar' }, h('h2', null, `Inspect: ${this.view.titleOf(this.item) || 'panel'}`), h('span', { class: 'spacer' }), h('button', { onclick: close }, 'Close')), h('div', { class: 'tabs' }, ...tabEls), content),
    );
    document.body.append(backdrop);
    document.addEventListener('keydown', onKey);
    show('Data');
  }

  destroy() {
    this.abort?.abort();
    try {
      this.renderer?.destroy();
    } catch {
      /* already gone */
    }
    this.view.frameDestroyed(this.item.key, this);
  }
}
