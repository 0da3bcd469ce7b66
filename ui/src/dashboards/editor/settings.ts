/**
 * Dashboard settings, full screen like Grafana's: General (title, description, tags, time zone,
 * default time range and refresh, graph tooltip, editable), Variables (variables.ts), Versions
 * (versions.ts: history, diff, restore) and the
 * JSON model (edit the whole dashboard as text, apply with parse errors shown at their line).
 * Changes go straight into the live model; closing re-renders the dashboard.
 */
import { h, replace } from '../../lib/dom';
import type { DashboardHost, DashboardModel } from '../contract';
import { REFRESH_CHOICES } from '../../components/timepicker';
import { dialogOpen } from './dialog';
import { exportJson, parseJson, replaceInPlace, JsonError } from './model';
import { variablesEditor } from './variables';
import { openSaveDialog } from './save';
import { versionsTab } from './versions';

export type SettingsTab = 'general' | 'variables' | 'versions' | 'json';

export function openSettings(host: DashboardHost, tab: SettingsTab, after?: () => void) {
  let requery = false;
  const content = h('div', { class: 'ed-settings-content' });
  const tabs = h('div', { class: 'tabs ed-settings-tabs', role: 'tablist' });
  let cleanupTab: (() => void) | undefined;

  const close = () => {
    cleanupTab?.();
    document.removeEventListener('keydown', onKey, true);
    shell.remove();
    host.changed({ requery });
    after?.();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && !dialogOpen() && !(e.target as Element)?.closest?.('.ed-var-form')) {
      e.preventDefault();
      close();
    }
  };
  document.addEventListener('keydown', onKey, true);

  const shell = h(
    'div',
    { class: 'ed-fullscreen ed-settings', role: 'dialog', 'aria-label': 'Dashboard settings' },
    h(
      'div',
      { class: 'ed-fs-head' },
      h('button', { class: 'ed-back', title: 'Back to the dashboard (Esc)', onclick: close }, '← Back to dashboard'),
      h('h1', null, 'Settings · ', h('span', { class: 'ed-settings-title' }, host.model.title)),
      h('span', { class: 'spacer' }),
      h('button', { class: 'primary ed-settings-save', onclick: () => openSaveDialog(host) }, 'Save dashboard'),
    ),
    tabs,
    content,
  );

  const show = (t: SettingsTab) => {
    cleanupTab?.();
    cleanupTab = undefined;
    replace(
      tabs,
      (
        [
          ['general', 'General'],
          ['variables', 'Variables'],
          ['versions', 'Versions'],
          ['json', 'JSON Model'],
        ] as [SettingsTab, string][]
      ).map(([id, label]) => h('button', { class: `ed-tab-${id} ${id === t ? 'active' : ''}`, role: 'tab', 'aria-selected': String(id === t), onclick: () => show(id) }, label)),
    );
    if (t === 'general') replace(content, general(host, () => ((shell.querySelector('.ed-settings-title') as HTMLElement).textContent = host.model.title)));
    else if (t === 'variables') {
      const v = variablesEditor(host, () => (requery = true));
      cleanupTab = v.destroy;
      replace(content, v.el);
    } else if (t === 'versions') replace(content, versionsTab(host));
    else replace(content, jsonModel(host, () => (requery = true), () => show('json')));
  };
  show(tab);
  document.body.append(shell);
}

function general(host: DashboardHost, titleChanged: () => void): HTMLElement {
  const m = host.model;
  const field = (label: string, control: HTMLElement, hint?: string) =>
    h('label', { class: 'field ed-field' }, h('span', { class: 'ed-label' }, label), control, hint ? h('span', { class: 'faint' }, hint) : null);

  const title = h('input', { type: 'text', class: 'ed-set-title', value: m.title ?? '' });
  title.addEventListener('input', () => {
    m.title = title.value;
    titleChanged();
  });
  const desc = h('textarea', { class: 'ed-set-desc', rows: 2, value: String(m.description ?? ''), spellcheck: 'true' });
  desc.style.fontFamily = 'inherit';
  desc.addEventListener('input', () => {
    if (desc.value) m.description = desc.value;
    else delete m.description;
  });

  const tagsBox = h('div', { class: 'ed-tags' });
  const tagInput = h('input', { type: 'text', class: 'ed-tag-input', placeholder: 'New tag, Enter to add' });
  const renderTags = () =>
    replace(
      tagsBox,
      (m.tags ?? []).map((t, i) =>
        h(
          'span',
          { class: 'tag-chip' },
          t,
          h(
            'button',
            {
              class: 'link-btn ed-tag-x',
              'aria-label': `Remove tag ${t}`,
              onclick: (e: Event) => {
                e.preventDefault();
                m.tags = (m.tags ?? []).filter((_, j) => j !== i);
                renderTags();
              },
            },
            '✕',
          ),
        ),
      ),
      tagInput,
    );
  tagInput.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' && e.key !== ',') return;
    e.preventDefault();
    const t = tagInput.value.trim();
    if (t && !(m.tags ?? []).includes(t)) m.tags = [...(m.tags ?? []), t];
    tagInput.value = '';
    renderTags();
    tagInput.focus();
  });
  renderTags();

  const tz = h('select', { class: 'ed-set-tz' }, h('option', { value: '' }, 'Default (browser)'), h('option', { value: 'browser' }, 'Browser time'), h('option', { value: 'utc' }, 'UTC'));
  const zones = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  for (const z of zones) tz.append(h('option', { value: z }, z));
  if (m.timezone && ![...tz.options].some((o) => o.value === m.timezone)) tz.append(h('option', { value: m.timezone }, m.timezone));
  tz.value = m.timezone ?? '';
  tz.addEventListener('change', () => (m.timezone = tz.value));

  const from = h('input', { type: 'text', class: 'ed-set-from mono', value: m.time?.from ?? 'now-6h' });
  const to = h('input', { type: 'text', class: 'ed-set-to mono', value: m.time?.to ?? 'now' });
  const setTime = () => (m.time = { ...(m.time ?? {}), from: from.value.trim() || 'now-6h', to: to.value.trim() || 'now' });
  from.addEventListener('change', setTime);
  to.addEventListener('change', setTime);

  const refresh = h('select', { class: 'ed-set-refresh' }, REFRESH_CHOICES.map((r) => h('option', { value: r }, r || 'Off')));
  const cur = typeof m.refresh === 'string' ? m.refresh : '';
  if (cur && !REFRESH_CHOICES.includes(cur)) refresh.append(h('option', { value: cur }, cur));
  refresh.value = cur;
  refresh.addEventListener('change', () => (m.refresh = refresh.value || ''));

  const hideTimePicker = h('input', { type: 'checkbox', checked: Boolean((m.timepicker as { hidden?: boolean } | undefined)?.hidden) });
  hideTimePicker.addEventListener('change', () => (m.timepicker = { ...((m.timepicker as object) ?? {}), hidden: hideTimePicker.checked }));

  const tooltip = h(
    'div',
    { class: 'ed-radio', role: 'radiogroup' },
    (
      [
        [0, 'Default', 'each panel shows its own tooltip'],
        [1, 'Shared crosshair', 'the hovered time shows on every panel'],
        [2, 'Shared tooltip', 'crosshair and tooltip on every panel'],
      ] as [number, string, string][]
    ).map(([v, label, hint]) =>
      h(
        'label',
        { title: hint },
        h('input', {
          type: 'radio',
          name: 'graphTooltip',
          value: String(v),
          checked: (m.graphTooltip ?? 0) === v,
          onchange: () => (m.graphTooltip = v),
        }),
        ` ${label}`,
      ),
    ),
  );
  const editable = h('input', { type: 'checkbox', class: 'ed-set-editable', checked: m.editable !== false });
  editable.addEventListener('change', () => (m.editable = editable.checked));

  return h(
    'div',
    { class: 'ed-general' },
    h('h2', null, 'General'),
    field('Title', title),
    field('Description', desc),
    h('div', { class: 'field ed-field' }, h('span', { class: 'ed-label' }, 'Tags'), tagsBox),
    field('Editable', h('span', null, editable, ' Editable in the UI'), 'Off makes the dashboard read-only for viewers (Grafana\'s "editable": false).'),
    h('h2', null, 'Time options'),
    field('Time zone', tz),
    h('div', { class: 'ed-row2' }, field('Default range: from', from, 'now-6h, now-1d/d, 2024-01-01 00:00:00'), field('to', to)),
    field('Auto refresh', refresh),
    field('Hide time picker', h('span', null, hideTimePicker, ' Hide the time picker on this dashboard')),
    h('h2', null, 'Panel options'),
    h('div', { class: 'field ed-field' }, h('span', { class: 'ed-label' }, 'Graph tooltip'), tooltip),
    h('p', { class: 'faint' }, `uid ${m.uid ?? '(none yet)'} · version ${m.version ?? host.meta.version ?? 0} · schemaVersion ${m.schemaVersion ?? '—'}`),
  );
}

function jsonModel(host: DashboardHost, applied: () => void, reload: () => void): HTMLElement {
  const ta = h('textarea', { class: 'ed-json', spellcheck: 'false', value: exportJson(host.model), 'aria-label': 'Dashboard JSON model' });
  const status = h('div', { class: 'ed-json-status', role: 'status' });
  const apply = () => {
    let v: unknown;
    try {
      v = parseJson(ta.value);
    } catch (e) {
      const err = e as JsonError;
      replace(status, h('div', { class: 'error-inline' }, `Not applied — invalid JSON at ${err.message}`));
      if (err.line > 0) {
        const lines = ta.value.split('\n');
        let pos = 0;
        for (let i = 0; i < err.line - 1; i++) pos += lines[i].length + 1;
        pos += Math.max(0, err.column - 1);
        ta.focus();
        ta.setSelectionRange(pos, pos + 1);
      }
      return;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      replace(status, h('div', { class: 'error-inline' }, 'Not applied — the model must be a JSON object.'));
      return;
    }
    const next = v as DashboardModel;
    if (!Array.isArray(next.panels)) next.panels = [];
    replaceInPlace(host.model as Record<string, unknown>, next as Record<string, unknown>);
    applied();
    host.changed({ requery: true });
    replace(status, h('div', { class: 'ed-ok' }, `Applied: ${next.panels.length} panels, ${next.templating?.list?.length ?? 0} variables. Save the dashboard to keep it.`));
  };
  return h(
    'div',
    { class: 'ed-jsonmodel' },
    h('p', { class: 'dim' }, 'The dashboard as Grafana JSON. Edit it and apply; unknown keys are kept as they are.'),
    ta,
    h(
      'div',
      { class: 'toolbar' },
      h('button', { class: 'primary ed-json-apply', onclick: apply }, 'Apply changes'),
      h('button', { onclick: reload, title: 'Discard edits in the text and show the current model' }, 'Reset'),
      status,
    ),
  );
}
