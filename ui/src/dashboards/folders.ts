/**
 * Dashboard folders through Grafana's folder API (`GET/POST /api/folders`, `PUT/DELETE
 * /api/folders/{uid}`) and moving a dashboard between folders (saved again through
 * `/api/dashboards/db` with its new `folderUid`), with the in-page dialogs the list page uses
 * to name, move and delete.
 */
import { h } from '../lib/dom';
import { request } from '../lib/api';
import { openDialog, confirmDialog } from './editor/dialog';

export interface Folder {
  id: number;
  uid: string;
  title: string;
}

const path = (uid: string) => `/api/folders/${encodeURIComponent(uid)}`;

export const listFolders = () => request<Folder[]>('/api/folders').then((l) => (Array.isArray(l) ? l : []));
export const createFolder = (title: string) => request<Folder>('/api/folders', { method: 'POST', body: { title } });
export const renameFolder = (uid: string, title: string) => request<Folder>(path(uid), { method: 'PUT', body: { title, overwrite: true } });
export const deleteFolder = (uid: string) => request<unknown>(path(uid), { method: 'DELETE' });

/** Saves the stored dashboard `uid` again in folder `folderUid` (`""` = General). */
export async function moveDashboard(uid: string, folderUid: string, folderTitle: string): Promise<void> {
  const cur = await request<{ dashboard: Record<string, unknown> }>(`/api/dashboards/uid/${encodeURIComponent(uid)}`);
  await request('/api/dashboards/db', {
    method: 'POST',
    body: { dashboard: cur.dashboard, folderUid, overwrite: true, message: `Moved to ${folderTitle}` },
  });
}

/**
 * Asks for a folder name (new or renamed); `save` runs on submit and may throw, whose message
 * is shown in the dialog. Resolves true once saved.
 */
export function folderNameDialog(title: string, initial: string, submitLabel: string, save: (name: string) => Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const input = h('input', { type: 'text', value: initial, 'aria-label': 'Folder name', 'data-testid': 'folder-name', maxlength: 200 }) as HTMLInputElement;
    const err = h('div', { class: 'form-errors', role: 'alert' });
    const form = h('form', { class: 'dlg-form' }, h('label', null, 'Name', input), err);
    const dlg = openDialog({ title, body: form, className: 'dialog-small', onClose: () => resolve(done) });
    const submit = async (e?: Event) => {
      e?.preventDefault();
      const name = input.value.trim();
      if (!name) {
        err.textContent = 'A folder needs a name.';
        return;
      }
      try {
        await save(name);
        done = true;
        dlg.close();
      } catch (x) {
        err.textContent = (x as Error).message;
      }
    };
    form.addEventListener('submit', (e) => void submit(e));
    dlg.footer.append(
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      h('button', { type: 'button', class: 'primary', 'data-testid': 'folder-save', onclick: () => void submit() }, submitLabel),
    );
  });
}

/** Picks the folder to move `dashTitle` to; resolves once moved (true) or cancelled (false). */
export function moveDialog(uid: string, dashTitle: string, currentUid: string, folders: Folder[]): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const options = [{ uid: '', title: 'General' }, ...folders];
    const sel = h(
      'select',
      { 'aria-label': 'Folder', 'data-testid': 'move-folder' },
      options.map((f) => h('option', { value: f.uid, selected: f.uid === currentUid }, f.title)),
    ) as HTMLSelectElement;
    sel.value = currentUid;
    const err = h('div', { class: 'form-errors', role: 'alert' });
    const dlg = openDialog({
      title: 'Move dashboard',
      body: h('div', { class: 'dlg-form' }, h('p', null, 'Move ', h('strong', null, dashTitle), ' to'), sel, err),
      className: 'dialog-small',
      onClose: () => resolve(done),
    });
    dlg.footer.append(
      h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          'data-testid': 'move-save',
          onclick: async () => {
            const to = options.find((f) => f.uid === sel.value);
            if (!to) return;
            try {
              await moveDashboard(uid, to.uid, to.title);
              done = true;
              dlg.close();
            } catch (x) {
              err.textContent = (x as Error).message;
            }
          },
        },
        'Move',
      ),
    );
  });
}

/** Confirms deleting folder `f` with its `count` dashboards, then deletes it. */
export async function confirmDeleteFolder(f: Folder, count: number): Promise<boolean> {
  const ok = await confirmDialog(
    'Delete folder',
    [
      h('p', null, 'Delete the folder ', h('strong', null, f.title), count ? ` and the ${count} dashboard${count === 1 ? '' : 's'} in it?` : '?'),
      count ? h('p', { class: 'faint' }, 'This cannot be undone; move the dashboards out first to keep them.') : null,
    ],
    'Delete',
    true,
  );
  if (!ok) return false;
  await deleteFolder(f.uid);
  return true;
}
