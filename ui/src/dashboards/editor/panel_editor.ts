/**
 * The full-screen panel editor, like Grafana's: a live preview of the panel on top (drawn by
 * the panel registry, fed by `host.runPanel`, re-run as queries change), the queries below and
 * the options pane on the right. It edits a copy; Apply (or Esc) writes the copy into the
 * dashboard's panel, Discard drops it (and removes a panel that was just added).
 */
import { h, replace, debounce } from '../../lib/dom';
import { describeRange, type TimeZone } from '../../lib/time';
import type { DashboardHost } from '../contract';
import type { CrosshairBus, GrafanaPanel, PanelData, PanelRenderer } from '../../panels/types';
import { createPanel } from '../../panels/registry';
import '../../panels/all';
import { clone, removePanel, replaceInPlace } from './model';
import { dialogOpen, openDialog } from './dialog';
import { queriesTab } from './queries';
import { optionsPane } from './options';

export interface PanelEditorOptions {
  /** The panel was added just now: Discard removes it again. */
  isNew: boolean;
  onClose?: () => void;
}

const noCrosshair: CrosshairBus = { publish: () => {}, subscribe: () => () => {} };

export function openPanelEditor(host: DashboardHost, original: GrafanaPanel, opts: PanelEditorOptions) {
  if (original.type === 'row') {
    openRowOptions(host, original, opts.onClose);
    return;
  }
  const work = clone(original);
  const tz: TimeZone = host.model.timezone === 'utc' ? 'utc' : 'browser';

  const previewTitle = h('div', { class: 'ed-pv-title' });
  const previewBody = h('div', { class: 'ed-pv-body' });
  const previewMsg = h('div', { class: 'ed-pv-msg' });
  const summary = h('span', { class: 'ed-pv-summary', role: 'status', 'aria-live': 'polite' });
  const rangeText = h('span', { class: 'faint ed-pv-range' });
  const errors = h('div', { class: 'ed-pv-errors' });

  let renderer: PanelRenderer | undefined;
  let lastData: PanelData | undefined;
  let aborter: AbortController | undefined;
  let closed = false;
  let runSeq = 0;

  const ctx = {
    timeZone: tz,
    crosshair: noCrosshair,
    onZoom: () => {},
    interpolate: (s: string) => host.interpolate(s),
  };

  const setTitle = () => {
    previewTitle.textContent = host.interpolate(work.title ?? '') || '\u00a0';
    headTitle.textContent = work.title || 'Untitled panel';
  };

  /** Draws the last data with the current options (recreated so every option takes effect). */
  const redraw = () => {
    if (closed) return;
    setTitle();
    const type = work.type || 'timeseries';
    try {
      renderer?.destroy();
    } catch {
      /* a broken renderer must not break the editor */
    }
    renderer = undefined;
    previewBody.replaceChildren();
    try {
      renderer = createPanel(previewBody, work, ctx);
      const r = previewBody.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) renderer.resize(r.width, r.height);
      if (lastData) renderer.update(lastData, work);
      previewMsg.replaceChildren();
    } catch (e) {
      replace(previewMsg, h('div', { class: 'error-inline' }, `The ${type} panel could not draw: ${(e as Error).message}`));
    }
  };
  const redrawSoon = debounce(redraw, 120);

  const run = async () => {
    aborter?.abort();
    const my = new AbortController();
    aborter = my;
    const seq = ++runSeq;
    summary.textContent = 'Running queries…';
    summary.className = 'ed-pv-summary running';
    try {
      const data = await host.runPanel(work, my.signal);
      if (my.signal.aborted || closed || seq !== runSeq) return;
      lastData = data;
      rangeText.textContent = describeRange(data.range.raw, tz);
      const points = data.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0);
      const parts = [`${data.series.length} series`, `${points} points`];
      if (data.tables.length) parts.push(`${data.tables.reduce((n, t) => n + t.rows.length, 0)} table rows`);
      if (data.logs.length) parts.push(`${data.logs.length} log lines`);
      summary.textContent = parts.join(' · ');
      summary.className = 'ed-pv-summary';
      summary.dataset.series = String(data.series.length);
      summary.dataset.points = String(points);
      replace(
        errors,
        data.errors.map((e) => h('div', { class: 'error-inline ed-pv-error' }, e)),
        data.notices.map((n) => h('div', { class: 'faint' }, n)),
      );
      const activeTargets = (work.targets ?? []).filter((t) => !t.hide && ((t.expr ?? t.query ?? '') as string).trim()).length;
      if (!activeTargets && work.type !== 'text')
        replace(errors, h('div', { class: 'dim ed-pv-hint' }, 'Write a query below to see data (e.g. sum by (job) (rate(http_requests_total[5m]))).'));
      else if (!data.errors.length && !data.series.length && !data.tables.length && !data.logs.length)
        errors.append(h('div', { class: 'dim ed-pv-hint' }, 'The queries ran and returned no data for this time range.'));
      redraw();
    } catch (e) {
      if (my.signal.aborted || closed) return;
      const msg = (e as Error).message;
      summary.textContent = 'Query failed';
      summary.className = 'ed-pv-summary failed';
      replace(errors, h('div', { class: 'error-inline ed-pv-error' }, msg));
    }
  };
  const runSoon = debounce(() => void run(), 600);

  const headTitle = h('span', { class: 'ed-pe-name' });
  const apply = () => close(true);
  const discard = () => close(false);

  const close = (keep: boolean) => {
    if (closed) return;
    closed = true;
    aborter?.abort();
    ro.disconnect();
    renderer?.destroy();
    document.removeEventListener('keydown', onKey, true);
    shell.remove();
    if (keep) {
      replaceInPlace(original as Record<string, unknown>, work as Record<string, unknown>);
      host.changed({ requery: true });
    } else if (opts.isNew) {
      removePanel(host.model, original);
      host.changed();
    }
    opts.onClose?.();
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && !dialogOpen() && !(e.target as Element)?.closest?.('.ed-popover-open')) {
      e.preventDefault();
      apply();
    }
  };
  document.addEventListener('keydown', onKey, true);

  const queries = queriesTab(host, work, { queriesChanged: runSoon, runNow: () => void run() });
  const options = optionsPane(work, {
    changed: redrawSoon,
    typeChanged: () => {
      redraw();
      queries.refresh();
    },
    seriesNames: () => lastData?.series.map((s) => s.name) ?? [],
    variables: () => (host.model.templating?.list ?? []).map((v) => v.name),
  });

  const preview = h(
    'div',
    { class: 'ed-pv' },
    h('div', { class: 'ed-pv-bar' }, summary, h('span', { class: 'spacer' }), rangeText, h('button', { class: 'small ed-pv-refresh', title: 'Run the queries again', onclick: () => void run() }, '↻ Refresh')),
    h('div', { class: 'ed-pv-panel' }, previewTitle, previewBody, previewMsg),
    errors,
  );

  const shell = h(
    'div',
    { class: 'ed-fullscreen ed-panel-editor', role: 'dialog', 'aria-label': 'Edit panel' },
    h(
      'div',
      { class: 'ed-fs-head' },
      h('button', { class: 'ed-back', title: 'Apply and go back to the dashboard (Esc)', onclick: apply }, '←'),
      h('h1', null, opts.isNew ? 'New panel · ' : 'Edit panel · ', headTitle),
      h('span', { class: 'spacer' }),
      h('button', { class: 'ed-pe-discard', title: 'Drop these edits', onclick: discard }, 'Discard'),
      h('button', { class: 'primary ed-pe-apply', title: 'Keep these edits and go back (Esc); Save the dashboard to store them', onclick: apply }, 'Apply'),
    ),
    h('div', { class: 'ed-pe-main' }, h('div', { class: 'ed-pe-left' }, preview, h('div', { class: 'ed-pe-queries' }, queries.el)), h('div', { class: 'ed-pe-right' }, options.el)),
  );

  const ro = new ResizeObserver(() => {
    const r = previewBody.getBoundingClientRect();
    if (renderer && r.width > 0 && r.height > 0) renderer.resize(r.width, r.height);
  });
  document.body.append(shell);
  ro.observe(previewBody);
  setTitle();
  redraw();
  void run();
  queueMicrotask(() => (shell.querySelector('.ed-q-expr') as HTMLTextAreaElement | null)?.focus());
}

/** A row has no queries: its editor is a small dialog (title, repeat). */
function openRowOptions(host: DashboardHost, row: GrafanaPanel, onClose?: () => void) {
  const dlg = openDialog({ title: 'Row options', className: 'dialog-small', onClose });
  const title = h('input', { type: 'text', class: 'ed-row-title', value: row.title ?? '' });
  const repeat = h(
    'select',
    { class: 'ed-row-repeat' },
    h('option', { value: '' }, '— no repeat —'),
    (host.model.templating?.list ?? []).map((v) => h('option', { value: v.name }, `$${v.name}`)),
  );
  repeat.value = typeof row.repeat === 'string' ? row.repeat : '';
  replace(dlg.body, h('label', { class: 'field' }, 'Title', title), h('label', { class: 'field' }, 'Repeat for each value of', repeat));
  dlg.footer.append(
    h('button', { onclick: () => dlg.close() }, 'Cancel'),
    h(
      'button',
      {
        class: 'primary',
        onclick: () => {
          row.title = title.value;
          if (repeat.value) row.repeat = repeat.value;
          else delete row.repeat;
          host.changed();
          dlg.close();
        },
      },
      'Update',
    ),
  );
}
