/**
 * Saving and exporting a dashboard: the Save dialog (change message, `POST /api/dashboards/db`,
 * Grafana's 412 answers — someone else saved first, or the title is taken — with an explicit
 * "Overwrite", and provisioned dashboards that cannot be saved offered "Save as copy" and
 * Export), Save as (new title and uid), and Export (download `<title>.json` or copy it).
 */
import { h, message, replace } from '../../lib/dom';
import { ApiError } from '../../lib/api';
import { navigate } from '../../lib/router';
import type { DashboardHost, DashboardMeta, DashboardModel } from '../contract';
import type { GrafanaPanel } from '../../panels/types';
import { openDialog } from './dialog';
import { clone, copyText, download, exportJson, fileName, getDashboard, saveDashboard, slugify, SaveError, type SaveResponse } from './model';

/** Opens the Save dialog; `after` runs once the dialog closes (toolbar refresh). */
export function openSaveDialog(host: DashboardHost, after?: () => void) {
  const dlg = openDialog({ title: host.isNew ? 'Save new dashboard' : 'Save dashboard', className: 'ed-save-dialog', onClose: after });
  const m = host.model;
  const status = h('div', { class: 'ed-save-status', role: 'status' });

  if (host.meta.provisioned && host.meta.canSave === false) {
    replace(dlg.body, provisionedNote(host, ''));
    dlg.footer.append(...provisionedActions(host, dlg.close), h('button', { onclick: () => dlg.close() }, 'Cancel'));
    return;
  }

  const titleInput = h('input', { type: 'text', class: 'ed-save-title', value: m.title ?? '', 'aria-label': 'Title' });
  const msg = h('textarea', { class: 'ed-save-message', rows: 3, placeholder: 'What changed? (optional, kept with this version)', 'aria-label': 'Change message' });
  const changes = h('div', { class: 'ed-save-changes' }, h('span', { class: 'faint' }, summarizeChanges(host)));
  void describeChanges(host).then((lines) => {
    if (lines.length) replace(changes, h('div', { class: 'faint' }, 'Changes since the saved version:'), h('ul', { class: 'ed-change-list' }, lines.map((l) => h('li', { class: l.warn ? 'warn' : '' }, l.text))));
  });
  replace(
    dlg.body,
    host.isNew || !m.title ? h('label', { class: 'field' }, 'Title', titleInput) : h('div', { class: 'ed-save-name' }, h('span', { class: 'faint' }, 'Dashboard: '), h('strong', null, m.title)),
    changes,
    h('label', { class: 'field' }, 'Message', msg),
    host.meta.provisioned ? h('div', { class: 'faint' }, `Provisioned from ${host.meta.provisionedExternalId || 'a file'}: saving writes the JSON back to that file.`) : null,
    status,
  );
  const saveBtn = h('button', { class: 'primary ed-save-go' }, 'Save');
  dlg.footer.append(h('button', { onclick: () => dlg.close() }, 'Cancel'), saveBtn);

  const attempt = async (overwrite: boolean) => {
    saveBtn.disabled = true;
    replace(status, message('loading', 'Saving'));
    const title = titleInput.value.trim();
    if (!title) {
      replace(status, h('div', { class: 'error-inline' }, 'A dashboard needs a title.'));
      saveBtn.disabled = false;
      return;
    }
    if (title !== m.title) m.title = title;
    try {
      const res = await saveDashboard(m, { overwrite, message: msg.value.trim() });
      await finishSave(host, res);
      dlg.close();
    } catch (e) {
      saveBtn.disabled = false;
      showSaveError(e, status, host, dlg.close, () => void attempt(true));
    }
  };
  saveBtn.addEventListener('click', () => void attempt(false));
  msg.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void attempt(false);
  });
}

/** After a successful POST: the model gets its id/uid/version, the host its new meta. */
async function finishSave(host: DashboardHost, res: SaveResponse) {
  const m = host.model;
  m.id = res.id;
  m.uid = res.uid;
  m.version = res.version;
  let meta: DashboardMeta = { ...host.meta, version: res.version, slug: res.slug, url: res.url, updated: new Date().toISOString() };
  try {
    meta = (await getDashboard(res.uid)).meta;
  } catch {
    /* keep the meta built from the save response */
  }
  // The page moves a new dashboard to its /d/<uid> URL itself.
  host.saved(m, meta);
}

function showSaveError(e: unknown, status: HTMLElement, host: DashboardHost, close: () => void, overwrite: () => void) {
  const err = e as SaveError;
  if (!(err instanceof ApiError)) {
    replace(status, message('error', 'Save failed', String(e)));
    return;
  }
  if (err.unreachable) {
    replace(status, message('error', 'pharos is not reachable — is the server running?', 'Your changes are still here; save again once it is back.'));
    return;
  }
  if (err.reason === 'version-mismatch') {
    replace(
      status,
      h(
        'div',
        { class: 'ed-conflict', role: 'alert' },
        h('strong', null, 'Someone else has saved this dashboard since you opened it.'),
        h('div', { class: 'dim' }, `${err.message}. Overwrite replaces their version with yours; Save as copy keeps both.`),
        h(
          'div',
          { class: 'toolbar' },
          h('button', { class: 'danger ed-overwrite', onclick: overwrite }, 'Overwrite'),
          h('button', { onclick: () => { close(); openSaveAsDialog(host); } }, 'Save as copy'),
        ),
      ),
    );
    return;
  }
  if (err.reason === 'name-exists') {
    replace(
      status,
      h(
        'div',
        { class: 'ed-conflict', role: 'alert' },
        h('strong', null, 'Another dashboard in this folder has the same title.'),
        h('div', { class: 'dim' }, `${err.message}. Change the title, or overwrite that dashboard with this one.`),
        h('div', { class: 'toolbar' }, h('button', { class: 'danger ed-overwrite', onclick: overwrite }, 'Save & overwrite')),
      ),
    );
    return;
  }
  if (err.reason === 'provisioned') {
    replace(status, provisionedNote(host, err.message), h('div', { class: 'toolbar' }, ...provisionedActions(host, close)));
    return;
  }
  replace(status, message('error', 'Save failed', err.message));
}

function provisionedNote(host: DashboardHost, serverMessage: string): HTMLElement {
  const file = host.meta.provisionedExternalId;
  return h(
    'div',
    { class: 'ed-conflict', role: 'alert' },
    h('strong', null, serverMessage || 'This dashboard is provisioned and cannot be saved from the UI.'),
    h(
      'div',
      { class: 'dim' },
      `It is loaded from ${file ? `the file ${file}` : 'a provisioning folder'} that pharos may not write to. Save a copy to keep your changes in pharos, or export the JSON and put it into the file (a writable provisioning folder makes Save write the file itself).`,
    ),
  );
}

function provisionedActions(host: DashboardHost, close: () => void): HTMLElement[] {
  return [
    h('button', { class: 'primary ed-save-copy', onclick: () => { close(); openSaveAsDialog(host); } }, 'Save as copy'),
    h('button', { class: 'ed-prov-export', onclick: () => { close(); openExportDialog(host); } }, 'Export JSON'),
  ];
}

/** Save as: a copy with a new title (and a new uid unless one is typed). */
export function openSaveAsDialog(host: DashboardHost) {
  const dlg = openDialog({ title: 'Save dashboard as', className: 'ed-save-dialog' });
  const title = h('input', { type: 'text', class: 'ed-saveas-title', value: `${host.model.title} Copy`, 'aria-label': 'New title' });
  const uid = h('input', { type: 'text', class: 'ed-saveas-uid mono', placeholder: 'empty: a new uid is generated', 'aria-label': 'New uid' });
  const copyTags = h('input', { type: 'checkbox', checked: true });
  const status = h('div', { class: 'ed-save-status' });
  replace(
    dlg.body,
    h('label', { class: 'field' }, 'Title', title),
    h('label', { class: 'field' }, 'UID', uid),
    h('label', { class: 'ed-check' }, copyTags, ' Copy tags'),
    status,
  );
  const go = h('button', { class: 'primary ed-saveas-go' }, 'Save');
  dlg.footer.append(h('button', { onclick: () => dlg.close() }, 'Cancel'), go);
  go.addEventListener('click', async () => {
    const copy = clone(host.model) as DashboardModel;
    copy.title = title.value.trim();
    copy.id = null;
    copy.version = 0;
    if (uid.value.trim()) copy.uid = uid.value.trim();
    else delete copy.uid;
    if (!copyTags.checked) copy.tags = [];
    if (!copy.title) {
      replace(status, h('div', { class: 'error-inline' }, 'A dashboard needs a title.'));
      return;
    }
    go.disabled = true;
    try {
      const res = await saveDashboard(copy, { overwrite: false, message: `copy of ${host.model.title}` });
      dlg.close();
      navigate(`/d/${encodeURIComponent(res.uid)}/${res.slug || slugify(copy.title)}${location.search}`);
    } catch (e) {
      go.disabled = false;
      const err = e as SaveError;
      replace(
        status,
        message(
          'error',
          err.unreachable ? 'pharos is not reachable — is the server running?' : `Save failed: ${err.message}`,
          err.reason === 'name-exists' ? 'Pick another title.' : err.reason === 'version-mismatch' ? 'That uid is taken: pick another or leave it empty.' : undefined,
        ),
      );
    }
  });
}

/** Export: the model as Grafana JSON, downloaded as `<title>.json` or copied. */
export function openExportDialog(host: DashboardHost) {
  let text = exportJson(host.model);
  const dlg = openDialog({ title: 'Export dashboard JSON', className: 'ed-export-dialog' });
  const status = h('span', { class: 'faint ed-export-status', role: 'status' });
  const area = h('textarea', { class: 'ed-export-text', readonly: true, rows: 18, spellcheck: 'false', value: text, 'aria-label': 'Dashboard JSON' });
  const size = h('div', { class: 'faint' });
  const external = h('input', { type: 'checkbox', class: 'ed-export-external' });
  const fill = () => {
    text = external.checked ? exportJson(externalize(host.model)) : exportJson(host.model);
    area.value = text;
    size.textContent = `${text.split('\n').length} lines · ${(text.length / 1024).toFixed(1)} KiB`;
  };
  external.addEventListener('change', fill);
  fill();
  replace(
    dlg.body,
    h('p', { class: 'dim' }, 'Grafana dashboard JSON of what you see, unsaved changes included. Grafana and pharos import it as it is.'),
    h(
      'label',
      { class: 'ed-check', title: 'Like Grafana\'s "Export for sharing externally": data sources become ${DS_…} inputs chosen on import' },
      external,
      ' Export for sharing externally (data sources as __inputs)',
    ),
    area,
    size,
  );
  dlg.footer.append(
    status,
    h('button', { onclick: () => dlg.close() }, 'Close'),
    h(
      'button',
      {
        class: 'ed-export-copy',
        onclick: async () => {
          status.textContent = (await copyText(text)) ? 'Copied to the clipboard' : 'The browser refused the clipboard: select the text and copy it';
        },
      },
      'Copy to clipboard',
    ),
    h(
      'button',
      {
        class: 'primary ed-export-download',
        onclick: () => {
          download(fileName(host.model.title), text);
          status.textContent = `Downloaded ${fileName(host.model.title)}`;
        },
      },
      '⇩ Download file',
    ),
  );
}

/** A one-line summary of what changed since the last save (panels added/removed, JSON lines). */
function summarizeChanges(host: DashboardHost): string {
  if (host.isNew) return `New dashboard · ${host.model.panels?.length ?? 0} panels`;
  if (!host.dirty) return 'No changes since the last save.';
  return `Unsaved changes · version ${host.model.version ?? host.meta.version ?? '?'} will become ${(Number(host.model.version ?? host.meta.version) || 0) + 1}`;
}

type Change = { text: string; warn?: boolean };

/** What differs from the stored version (fetched now), in words: title, tags, panels, variables, time. */
async function describeChanges(host: DashboardHost): Promise<Change[]> {
  const uid = host.model.uid;
  if (host.isNew || !uid) return [];
  let stored: DashboardModel;
  let storedVersion: number | undefined;
  try {
    const full = await getDashboard(uid);
    stored = full.dashboard;
    storedVersion = full.meta.version;
  } catch {
    return [];
  }
  const m = host.model;
  const out: Change[] = [];
  const mine = m.version ?? host.meta.version;
  if (storedVersion !== undefined && mine !== undefined && storedVersion > mine)
    out.push({ text: `Someone saved version ${storedVersion} after you opened version ${mine}: saving will ask before overwriting it.`, warn: true });
  if (stored.title !== m.title) out.push({ text: `Title: "${stored.title}" → "${m.title}"` });
  const tags = (d: DashboardModel) => JSON.stringify(d.tags ?? []);
  if (tags(stored) !== tags(m)) out.push({ text: `Tags: ${(stored.tags ?? []).join(', ') || 'none'} → ${(m.tags ?? []).join(', ') || 'none'}` });
  const panels = (d: DashboardModel) => {
    const map = new Map<string, Record<string, unknown>>();
    (d.panels ?? []).forEach((p, i) => {
      map.set(String(p.id ?? `#${i}`), p as Record<string, unknown>);
      (p.panels ?? []).forEach((c, j) => map.set(String(c.id ?? `#${i}.${j}`), c as Record<string, unknown>));
    });
    return map;
  };
  const a = panels(stored);
  const b = panels(m);
  const name = (p: Record<string, unknown>) => `"${String(p.title ?? '') || 'untitled'}"`;
  const strip = (p: Record<string, unknown>) => JSON.stringify({ ...p, gridPos: undefined, panels: undefined });
  let moved = 0;
  for (const [id, p] of b) {
    const o = a.get(id);
    if (!o) out.push({ text: `Added ${p.type === 'row' ? 'row' : 'panel'} ${name(p)}` });
    else if (strip(o) !== strip(p)) out.push({ text: `Changed panel ${name(p)}` });
    else if (JSON.stringify(o.gridPos) !== JSON.stringify(p.gridPos)) moved++;
  }
  for (const [id, p] of a) if (!b.has(id)) out.push({ text: `Removed ${p.type === 'row' ? 'row' : 'panel'} ${name(p)}` });
  if (moved) out.push({ text: `${moved} panel${moved === 1 ? '' : 's'} moved or resized` });
  const vars = (d: DashboardModel) => new Map((d.templating?.list ?? []).map((v) => [v.name, JSON.stringify({ ...v, current: undefined, options: undefined })]));
  const va = vars(stored);
  const vb = vars(m);
  for (const [n, v] of vb) {
    if (!va.has(n)) out.push({ text: `Added variable $${n}` });
    else if (va.get(n) !== v) out.push({ text: `Changed variable $${n}` });
  }
  for (const n of va.keys()) if (!vb.has(n)) out.push({ text: `Removed variable $${n}` });
  const rest = (d: DashboardModel) => {
    const { title, tags: _t, panels: _p, templating, version, id, uid: _u, ...r } = d;
    void title; void templating; void version; void id;
    return r as Record<string, unknown>;
  };
  const ra = rest(stored);
  const rb = rest(m);
  const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].filter((k) => JSON.stringify(ra[k]) !== JSON.stringify(rb[k]));
  if (keys.length) out.push({ text: `Settings changed: ${keys.join(', ')}` });
  if (!out.length) out.push({ text: 'No differences from the saved version.' });
  return out;
}

/**
 * Grafana's "export for sharing externally": every data source reference `{type, uid}` becomes
 * `${DS_<NAME>}` with one `__inputs` entry per data source, so the importer picks their own.
 */
export function externalize(model: DashboardModel): DashboardModel {
  const out = clone(model) as DashboardModel;
  const inputs = new Map<string, { name: string; label: string; description: string; type: string; pluginId: string; pluginName: string }>();
  const inputFor = (type: string): string => {
    const name = `DS_${type.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
    if (!inputs.has(name)) {
      const label = type.charAt(0).toUpperCase() + type.slice(1);
      inputs.set(name, { name, label, description: '', type: 'datasource', pluginId: type, pluginName: label });
    }
    return `\${${name}}`;
  };
  const fix = (o: Record<string, unknown>) => {
    const ds = o.datasource;
    if (ds && typeof ds === 'object' && !Array.isArray(ds)) {
      const d = ds as { type?: string; uid?: string };
      if (d.type && d.type !== 'datasource' && d.type !== 'grafana' && d.uid && !d.uid.startsWith('$')) o.datasource = { ...d, uid: inputFor(d.type) };
    }
  };
  const walk = (panels: GrafanaPanel[] | undefined) => {
    for (const p of panels ?? []) {
      fix(p as Record<string, unknown>);
      for (const t of p.targets ?? []) fix(t as Record<string, unknown>);
      walk(p.panels);
    }
  };
  walk(out.panels);
  for (const v of out.templating?.list ?? []) fix(v as Record<string, unknown>);
  const ann = (out.annotations as { list?: Record<string, unknown>[] } | undefined)?.list;
  for (const a of ann ?? []) fix(a);
  if (!inputs.size) return out;
  const requires = [...inputs.values()].map((i) => ({ type: 'datasource', id: i.pluginId, name: i.pluginName, version: '1.0.0' }));
  return { __inputs: [...inputs.values()], __requires: requires, ...out };
}
