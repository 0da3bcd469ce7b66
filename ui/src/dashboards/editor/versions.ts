/**
 * The Versions tab of dashboard settings: every saved version (Grafana's
 * `/api/dashboards/uid/:uid/versions`), a line diff of the JSON of any two, and restore
 * (`POST .../restore`), which saves the old version as the newest and reloads the page.
 */
import { request } from '../../lib/api';
import { h, message, replace } from '../../lib/dom';
import { formatDateTime } from '../../lib/time';
import type { DashboardHost } from '../contract';

interface VersionRow {
  id: number;
  version: number;
  parentVersion: number;
  restoredFrom: number;
  created: string;
  createdBy: string;
  message: string;
}

/** A line of a diff: kept, removed (only in the older version) or added. */
export interface DiffLine {
  kind: ' ' | '-' | '+';
  text: string;
}

/**
 * Line diff (longest common subsequence after trimming the common head and tail). Above
 * `limit` cells the middle is shown as all removed then all added.
 */
export function diffLines(a: string[], b: string[], limit = 4_000_000): DiffLine[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head: DiffLine[] = a.slice(0, start).map((text) => ({ kind: ' ', text }));
  const tail: DiffLine[] = a.slice(endA).map((text) => ({ kind: ' ', text }));
  const ma = a.slice(start, endA);
  const mb = b.slice(start, endB);
  const n = ma.length;
  const m = mb.length;
  const mid: DiffLine[] = [];
  if (n * m > limit) {
    mid.push(...ma.map((text) => ({ kind: '-' as const, text })), ...mb.map((text) => ({ kind: '+' as const, text })));
  } else {
    // lcs[i][j]: LCS length of ma[i..] and mb[j..], in one typed array.
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--) lcs[i * w + j] = ma[i] === mb[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && ma[i] === mb[j]) {
        mid.push({ kind: ' ', text: ma[i++] });
        j++;
      } else if (i < n && (j >= m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) mid.push({ kind: '-', text: ma[i++] });
      else mid.push({ kind: '+', text: mb[j++] });
    }
  }
  return [...head, ...mid, ...tail];
}

/** The diff shown with three lines of context around each change. */
function diffView(lines: DiffLine[]): HTMLElement {
  const keep = new Uint8Array(lines.length);
  lines.forEach((l, i) => {
    if (l.kind !== ' ') for (let k = Math.max(0, i - 3); k <= Math.min(lines.length - 1, i + 3); k++) keep[k] = 1;
  });
  const rows: HTMLElement[] = [];
  let skipped = 0;
  lines.forEach((l, i) => {
    if (!keep[i]) {
      skipped++;
      return;
    }
    if (skipped) rows.push(h('div', { class: 'ed-diff-skip faint' }, `… ${skipped} unchanged line${skipped === 1 ? '' : 's'}`));
    skipped = 0;
    rows.push(h('div', { class: `ed-diff-line ${l.kind === '+' ? 'added' : l.kind === '-' ? 'removed' : ''}`, 'data-kind': l.kind }, `${l.kind} ${l.text}`));
  });
  if (skipped) rows.push(h('div', { class: 'ed-diff-skip faint' }, `… ${skipped} unchanged line${skipped === 1 ? '' : 's'}`));
  return h('pre', { class: 'ed-diff', 'data-testid': 'version-diff' }, ...rows);
}

export function versionsTab(host: DashboardHost): HTMLElement {
  const uid = host.model.uid ?? '';
  const el = h('div', { class: 'ed-versions', 'data-testid': 'versions' });
  if (host.isNew || !uid) {
    el.append(message('empty', 'This dashboard has not been saved yet: save it to start its version history.'));
    return el;
  }
  const base = `/api/dashboards/uid/${encodeURIComponent(uid)}`;
  const diffBox = h('div', { class: 'ed-diff-box' });
  const selected = new Set<number>();
  const compareBtn = h('button', { class: 'small', disabled: true, 'data-testid': 'versions-compare' }, 'Compare versions');

  const load = async () => {
    replace(el, message('loading', 'Loading versions'));
    let rows: VersionRow[];
    try {
      const res = await request<{ versions?: VersionRow[] } | VersionRow[]>(`${base}/versions`);
      rows = Array.isArray(res) ? res : res.versions ?? [];
    } catch (e) {
      replace(el, message('error', 'The versions could not be loaded', (e as Error).message));
      return;
    }
    const latest = Math.max(0, ...rows.map((r) => r.version));
    const updateCompare = () => {
      compareBtn.disabled = selected.size !== 2;
      compareBtn.textContent = selected.size === 2 ? `Compare version ${[...selected].sort((a, b) => a - b).join(' with ')}` : 'Select two versions to compare';
    };
    const table = h(
      'table',
      { class: 'data ed-versions-table' },
      h('thead', null, h('tr', null, h('th', null, ''), h('th', null, 'Version'), h('th', null, 'Date'), h('th', null, 'Updated by'), h('th', null, 'Notes'), h('th', null, ''))),
      h(
        'tbody',
        null,
        ...rows.map((r) => {
          const box = h('input', { type: 'checkbox', 'aria-label': `Select version ${r.version}`, 'data-version': String(r.version) }) as HTMLInputElement;
          box.addEventListener('change', () => {
            if (box.checked) selected.add(r.version);
            else selected.delete(r.version);
            updateCompare();
          });
          const notes = r.restoredFrom ? `Restored from version ${r.restoredFrom}` : r.message || '';
          const when = Date.parse(r.created);
          const action =
            r.version === latest
              ? h('span', { class: 'badge badge-info' }, 'Latest')
              : restoreButton(r.version);
          return h('tr', { 'data-testid': 'version-row', 'data-version': String(r.version) }, h('td', null, box), h('td', { class: 'num' }, String(r.version)), h('td', null, Number.isFinite(when) ? formatDateTime(when) : r.created), h('td', null, r.createdBy || ''), h('td', null, notes), h('td', null, action));
        }),
      ),
    );
    updateCompare();
    replace(el, h('div', { class: 'toolbar' }, h('h2', null, 'Versions'), h('span', { class: 'spacer' }), compareBtn), rows.length ? table : message('empty', 'No versions yet.'), diffBox);
  };

  const restoreButton = (version: number) => {
    const cell = h('span', null);
    const ask = h('button', { class: 'small', 'data-testid': 'version-restore' }, 'Restore');
    ask.addEventListener('click', () => {
      const yes = h('button', { class: 'small danger', 'data-testid': 'version-restore-confirm' }, `Restore version ${version}`);
      const no = h('button', { class: 'small', onclick: () => replace(cell, ask) }, 'Cancel');
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        try {
          await request(`${base}/restore`, { method: 'POST', body: { version } });
          location.reload();
        } catch (e) {
          replace(cell, h('span', { class: 'error-inline' }, `Restore failed: ${(e as Error).message}`));
        }
      });
      replace(cell, h('span', { class: 'faint' }, host.dirty ? 'Unsaved changes are lost. ' : ''), yes, ' ', no);
    });
    cell.append(ask);
    return cell;
  };

  compareBtn.addEventListener('click', async () => {
    const [a, b] = [...selected].sort((x, y) => x - y);
    replace(diffBox, message('loading', 'Loading the two versions'));
    try {
      const [va, vb] = await Promise.all([a, b].map((v) => request<{ data: unknown }>(`${base}/versions/${v}`)));
      const text = (d: unknown) => JSON.stringify(d, null, 2).split('\n');
      const lines = diffLines(text(va.data), text(vb.data));
      const added = lines.filter((l) => l.kind === '+').length;
      const removed = lines.filter((l) => l.kind === '-').length;
      replace(diffBox, h('h3', { 'data-testid': 'version-diff-summary' }, `Version ${a} → ${b}: ${added} line${added === 1 ? '' : 's'} added, ${removed} removed`), added || removed ? diffView(lines) : message('empty', 'The two versions are identical.'));
    } catch (e) {
      replace(diffBox, message('error', 'The versions could not be compared', (e as Error).message));
    }
  });
  void load();
  return el;
}
