/**
 * Importing Grafana dashboard JSON (`/dashboards/import`): a `.json` file (picker or drag and
 * drop) or pasted text, bare or API-wrapped (`{"dashboard": {...}}`), grafana.com exports with
 * `__inputs` mapped to pharos' data sources; a preview (title, uid, folder, panels, variables,
 * conflicts with an existing uid or title) and `POST /api/dashboards/import`, then the dashboard.
 */
import { h, message, replace } from '../lib/dom';
import { request, ApiError } from '../lib/api';
import { navigate, type Page, type PageContext } from '../lib/router';
import type { DashboardModel } from './contract';
import type { GrafanaPanel } from '../panels/types';
import { parseJson, JsonError, findDashboard, listDatasources, slugify, type GrafanaDatasource } from './editor/model';
import './editor/editor.css';

interface GrafanaInput {
  name: string;
  label?: string;
  description?: string;
  type: string;
  pluginId?: string;
  pluginName?: string;
  value?: string;
}

interface Folder {
  uid: string;
  title: string;
}

interface ImportResponse {
  uid: string;
  slug?: string;
  importedUrl?: string;
  title?: string;
}

/** The dashboard inside a file: bare, `{"dashboard": …}` (API/wrapped) or `{"dashboard", "meta"}`. */
export function unwrapDashboard(v: unknown): { dashboard: DashboardModel; wrapped: boolean } {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('the JSON must be an object: a Grafana dashboard or {"dashboard": {...}}');
  const o = v as Record<string, unknown>;
  if (o.dashboard && typeof o.dashboard === 'object' && !Array.isArray(o.dashboard)) {
    return { dashboard: o.dashboard as DashboardModel, wrapped: true };
  }
  if (!('panels' in o) && !('title' in o) && !('rows' in o)) {
    throw new Error('this JSON has no "title", "panels" or "dashboard" key: it does not look like a Grafana dashboard');
  }
  return { dashboard: o as DashboardModel, wrapped: false };
}

function countPanels(panels: GrafanaPanel[] | undefined): { panels: number; rows: number; types: Map<string, number> } {
  const types = new Map<string, number>();
  let n = 0;
  let rows = 0;
  const walk = (list: GrafanaPanel[] | undefined) => {
    for (const p of list ?? []) {
      if (p.type === 'row') {
        rows++;
        walk(p.panels);
        continue;
      }
      n++;
      const t = p.type || 'timeseries';
      types.set(t, (types.get(t) ?? 0) + 1);
    }
  };
  walk(panels);
  return { panels: n, rows, types };
}

/** Replaces `${NAME}` of every input in the dashboard (used only when the server cannot import). */
function applyInputs(d: DashboardModel, values: Record<string, string>): DashboardModel {
  let text = JSON.stringify(d);
  for (const [name, value] of Object.entries(values)) {
    const esc = JSON.stringify(value).slice(1, -1);
    text = text.split(`\${${name}}`).join(esc);
  }
  const out = JSON.parse(text) as DashboardModel;
  delete out.__inputs;
  return out;
}

export function importPage(ctx: PageContext): Page {
  let alive = true;
  const fileInput = h('input', { type: 'file', accept: '.json,application/json', class: 'imp-file', 'aria-label': 'Dashboard JSON file' });
  const textarea = h('textarea', {
    class: 'imp-text',
    rows: 14,
    spellcheck: 'false',
    placeholder: 'Paste dashboard JSON here: a Grafana export, {"dashboard": {...}} from the API, or a grafana.com download',
    'aria-label': 'Dashboard JSON',
  });
  const parseError = h('div', { class: 'imp-parse-error', role: 'alert' });
  const preview = h('div', { class: 'imp-preview' });
  const drop = h(
    'label',
    { class: 'imp-drop', tabindex: '0' },
    h('div', { class: 'imp-drop-icon', 'aria-hidden': 'true' }, '⇪'),
    h('div', null, h('strong', null, 'Drop a .json file here'), ' or click to choose one'),
    h('div', { class: 'faint' }, 'Grafana dashboard JSON: exported from Grafana, grafana.com or the HTTP API'),
    fileInput,
  );
  const loadBtn = h('button', { class: 'primary', onclick: () => loadText(textarea.value, 'pasted JSON') }, 'Load');

  const source = h(
    'div',
    { class: 'imp-source' },
    drop,
    h('div', { class: 'imp-or faint' }, '— or paste —'),
    textarea,
    parseError,
    h('div', { class: 'toolbar' }, loadBtn, h('span', { class: 'faint' }, 'Ctrl+Enter loads the pasted JSON')),
  );
  ctx.root.append(
    h(
      'div',
      { class: 'page imp-page' },
      h('div', { class: 'page-header' }, h('h1', null, 'Import dashboard'), h('a', { class: 'btn', href: '/dashboards' }, '← Dashboards')),
      source,
      preview,
    ),
  );

  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      loadText(textarea.value, 'pasted JSON');
    }
  });
  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    if (f) void readFile(f);
  });
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = (e as DragEvent).dataTransfer?.files?.[0];
    if (f) void readFile(f);
  });

  async function readFile(f: File) {
    if (f.size > 50 * 1024 * 1024) {
      showParseError(`${f.name} is ${Math.round(f.size / 1048576)} MB: too large for a dashboard`);
      return;
    }
    const text = await f.text();
    textarea.value = text;
    loadText(text, f.name);
  }

  function showParseError(text: string) {
    replace(parseError, text);
    preview.replaceChildren();
  }

  function loadText(text: string, from: string) {
    parseError.replaceChildren();
    if (!text.trim()) {
      showParseError('Paste a dashboard JSON or choose a file first.');
      return;
    }
    let v: unknown;
    try {
      v = parseJson(text);
    } catch (e) {
      const err = e as JsonError;
      showParseError(`${from === 'pasted JSON' ? 'The pasted text' : from} is not valid JSON — ${err.message}`);
      if (err.line > 0) {
        const lines = text.split('\n');
        let pos = 0;
        for (let i = 0; i < err.line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
        pos += Math.max(0, err.column - 1);
        textarea.focus();
        textarea.setSelectionRange(pos, Math.min(text.length, pos + 1));
      }
      return;
    }
    let d: { dashboard: DashboardModel; wrapped: boolean };
    try {
      d = unwrapDashboard(v);
    } catch (e) {
      showParseError(`${from}: ${(e as Error).message}`);
      return;
    }
    void showPreview(d.dashboard, d.wrapped, from);
  }

  async function showPreview(dash: DashboardModel, wrapped: boolean, from: string) {
    replace(preview, message('loading', 'Checking the dashboard'));
    const inputs = (Array.isArray(dash.__inputs) ? (dash.__inputs as GrafanaInput[]) : []).filter((i) => i && typeof i.name === 'string');
    let datasources: GrafanaDatasource[] = [];
    let folders: Folder[] = [];
    try {
      [datasources, folders] = await Promise.all([
        listDatasources(),
        request<Folder[]>('/api/folders').catch(() => [] as Folder[]),
      ]);
    } catch (e) {
      replace(preview, message('error', 'pharos is not reachable — is the server running?', (e as Error).message));
      return;
    }
    if (!alive) return;

    const title = h('input', { type: 'text', class: 'imp-title', value: String(dash.title ?? ''), 'aria-label': 'Title' });
    const uid = h('input', { type: 'text', class: 'imp-uid mono', value: String(dash.uid ?? ''), placeholder: 'empty: pharos picks one', 'aria-label': 'UID' });
    const folder = h(
      'select',
      { class: 'imp-folder', 'aria-label': 'Folder' },
      h('option', { value: '' }, 'General'),
      folders.map((f) => h('option', { value: f.uid }, f.title)),
    );
    const overwrite = h('input', { type: 'checkbox', class: 'imp-overwrite' });
    const conflict = h('div', { class: 'imp-conflict' });
    const result = h('div', { class: 'imp-result' });
    const inputSelects = new Map<string, HTMLSelectElement | HTMLInputElement>();

    const stats = countPanels(dash.panels ?? (dash.rows as { panels?: GrafanaPanel[] }[] | undefined)?.flatMap((r) => r.panels ?? []));
    const vars = (dash.templating?.list ?? []).filter((x) => x && typeof x.name === 'string');

    const inputRows = inputs.map((inp) => {
      let control: HTMLSelectElement | HTMLInputElement;
      if (inp.type === 'datasource') {
        const matching = datasources.filter((ds) => ds.type === inp.pluginId);
        const options = matching.length ? matching : datasources;
        control = h(
          'select',
          { class: 'imp-input', 'aria-label': inp.label || inp.name, dataset: { input: inp.name } },
          options.map((ds) => h('option', { value: ds.uid }, `${ds.name} (${ds.type})`)),
        );
        const def = matching[0] ?? datasources.find((ds) => ds.isDefault) ?? datasources[0];
        if (def) control.value = def.uid;
      } else {
        control = h('input', { type: 'text', class: 'imp-input', value: inp.value ?? '', 'aria-label': inp.label || inp.name, dataset: { input: inp.name } });
      }
      inputSelects.set(inp.name, control);
      return h(
        'label',
        { class: 'field' },
        h('span', null, inp.label || inp.name, ' ', h('span', { class: 'faint mono' }, `\${${inp.name}}`), inp.pluginName ? h('span', { class: 'faint' }, ` · ${inp.pluginName}`) : null),
        control,
        inp.description ? h('span', { class: 'faint' }, inp.description) : null,
      );
    });

    let checkSeq = 0;
    const checkConflicts = async () => {
      // The notes are replaced once the checks are done: clearing them first would move the
      // Import button under a pointer that is pressing it (the title's change fires on blur).
      const my = ++checkSeq;
      const u = uid.value.trim();
      const t = title.value.trim();
      const notes: HTMLElement[] = [];
      if (!t) notes.push(h('div', { class: 'error-inline' }, 'A dashboard needs a title.'));
      if (u && !/^[a-zA-Z0-9_-]{1,40}$/.test(u)) notes.push(h('div', { class: 'error-inline' }, 'A uid is 1–40 letters, digits, "-" or "_".'));
      try {
        const existing = u ? await findDashboard(u) : undefined;
        if (existing) {
          notes.push(
            h(
              'div',
              { class: 'imp-warn' },
              h('strong', null, 'A dashboard with this uid exists: '),
              h('a', { href: `/d/${encodeURIComponent(u)}` }, existing.dashboard.title),
              '. Tick "Overwrite" to replace it, or ',
              h('button', { class: 'small imp-newuid', onclick: () => { uid.value = newUid(); void checkConflicts(); } }, 'use a new uid'),
              '.',
            ),
          );
        }
        if (t) {
          const hits = await request<{ uid: string; title: string; folderUid?: string }[]>(`/api/search?type=dash-db&query=${encodeURIComponent(t)}`).catch(() => []);
          const same = (hits ?? []).find((x) => x.title === t && x.uid !== u && (x.folderUid ?? '') === folder.value);
          if (same)
            notes.push(
              h(
                'div',
                { class: 'imp-warn' },
                h('strong', null, 'Another dashboard in this folder has this title: '),
                h('a', { href: `/d/${encodeURIComponent(same.uid)}` }, same.title),
                '. Change the title, or tick "Overwrite" to replace it.',
              ),
            );
        }
      } catch {
        /* conflicts are checked again by the server on import */
      }
      if (!alive || my !== checkSeq) return;
      replace(conflict, notes);
    };
    title.addEventListener('change', () => void checkConflicts());
    uid.addEventListener('change', () => void checkConflicts());
    folder.addEventListener('change', () => void checkConflicts());

    const importBtn = h('button', { class: 'primary imp-go', onclick: () => void doImport() }, 'Import');
    const doImport = async () => {
      result.replaceChildren();
      const d: DashboardModel = { ...dash, title: title.value.trim() };
      const u = uid.value.trim();
      if (u) d.uid = u;
      else delete d.uid;
      d.id = null;
      const values: Record<string, string> = {};
      const apiInputs = inputs.map((inp) => {
        const v = inputSelects.get(inp.name)?.value ?? '';
        values[inp.name] = v;
        return { name: inp.name, type: inp.type, pluginId: inp.pluginId ?? '', value: v };
      });
      importBtn.disabled = true;
      try {
        let res: ImportResponse;
        try {
          res = await request<ImportResponse>('/api/dashboards/import', {
            method: 'POST',
            body: { dashboard: d, overwrite: overwrite.checked, inputs: apiInputs, folderUid: folder.value || undefined },
          });
        } catch (e) {
          if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 405)) throw e;
          // No import endpoint: fill the inputs here and save.
          res = await request<ImportResponse>('/api/dashboards/db', {
            method: 'POST',
            body: { dashboard: applyInputs(d, values), overwrite: overwrite.checked, folderUid: folder.value || undefined },
          });
        }
        const slug = res.slug || slugify(d.title);
        navigate(`/d/${encodeURIComponent(res.uid)}/${slug}`);
      } catch (e) {
        const err = e as ApiError;
        const nameExists = err.status === 412 && /same name|already exists/i.test(err.message);
        const changed = err.status === 412 && /changed by someone else/i.test(err.message);
        replace(
          result,
          message(
            'error',
            err.unreachable ? 'pharos is not reachable — is the server running?' : `Import failed: ${err.message}`,
            nameExists
              ? 'Change the title above, or tick "Overwrite" to replace the dashboard that has it.'
              : changed
                ? 'A dashboard with this uid exists. Tick "Overwrite" to replace it, or use a new uid.'
                : undefined,
          ),
        );
      } finally {
        importBtn.disabled = false;
      }
    };

    const typeList = [...stats.types.entries()].sort((a, b) => b[1] - a[1]);
    replace(
      preview,
      h(
        'div',
        { class: 'card imp-card' },
        h('h2', null, 'Preview'),
        h('div', { class: 'faint' }, `From ${from}${wrapped ? ' · API-wrapped form {"dashboard": …}' : ''}`),
        h(
          'div',
          { class: 'imp-summary' },
          h('div', { class: 'imp-stat' }, h('div', { class: 'stat-label' }, 'Panels'), h('div', { class: 'stat-value imp-panel-count' }, String(stats.panels))),
          h('div', { class: 'imp-stat' }, h('div', { class: 'stat-label' }, 'Rows'), h('div', { class: 'stat-value' }, String(stats.rows))),
          h('div', { class: 'imp-stat' }, h('div', { class: 'stat-label' }, 'Variables'), h('div', { class: 'stat-value imp-var-count' }, String(vars.length))),
          h('div', { class: 'imp-stat' }, h('div', { class: 'stat-label' }, 'Inputs'), h('div', { class: 'stat-value' }, String(inputs.length))),
        ),
        typeList.length
          ? h('div', { class: 'imp-types' }, h('span', { class: 'faint' }, 'Panel types: '), typeList.map(([t, n]) => h('span', { class: 'label-chip' }, `${t} × ${n}`)))
          : h('div', { class: 'faint' }, 'No panels: the dashboard is empty.'),
        vars.length
          ? h('div', { class: 'imp-types' }, h('span', { class: 'faint' }, 'Variables: '), vars.map((x) => h('span', { class: 'label-chip' }, `$${x.name} (${x.type})`)))
          : null,
        Array.isArray(dash.tags) && dash.tags.length ? h('div', { class: 'imp-types' }, h('span', { class: 'faint' }, 'Tags: '), dash.tags.map((t) => h('span', { class: 'tag-chip small' }, String(t)))) : null,
        h(
          'div',
          { class: 'imp-form' },
          h('label', { class: 'field' }, 'Title', title),
          h('label', { class: 'field' }, 'UID', uid),
          h('label', { class: 'field' }, 'Folder', folder),
        ),
        inputRows.length ? h('div', { class: 'imp-inputs' }, h('h3', null, 'Data sources and inputs'), h('p', { class: 'faint' }, 'This export names its data sources as inputs; every query runs on pharos whichever you pick.'), inputRows) : null,
        conflict,
        h('label', { class: 'imp-check' }, overwrite, ' Overwrite a dashboard with the same uid or title'),
        h('div', { class: 'toolbar imp-actions' }, importBtn, h('button', { onclick: () => { preview.replaceChildren(); textarea.focus(); } }, 'Cancel')),
        result,
      ),
    );
    void checkConflicts();
    preview.scrollIntoView({ block: 'nearest' });
  }

  return {
    title: 'Import dashboard',
    unmount() {
      alive = false;
    },
  };
}

/** A Grafana-style short uid (9 url-safe characters). */
export function newUid(): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const b = crypto.getRandomValues(new Uint8Array(9));
  return [...b].map((x) => chars[x % chars.length]).join('');
}
