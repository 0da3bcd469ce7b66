/**
 * Edit mode of a dashboard: the buttons the editor adds to the dashboard page's toolbar (Edit /
 * Done, Add panel or row, Settings, Variables, Save, Save as, Export), the unsaved-changes
 * marker with its `beforeunload` warning, Ctrl+S, and the hook that opens the panel editor from
 * a panel's menu. It works only through `DashboardHost` (contract.ts).
 */
import { h, replace } from '../../lib/dom';
import type { DashboardHost } from '../contract';
import type { GrafanaPanel } from '../../panels/types';
import { insertAtTop, nextPanelId } from './model';
import { openPanelEditor } from './panel_editor';
import { openSaveDialog, openSaveAsDialog, openExportDialog } from './save';
import { openSettings } from './settings';
import { dialogOpen } from './dialog';
import './editor.css';

/** Attaches the editor to a mounted dashboard page; returns a function that detaches it. */
export function attachEditor(host: DashboardHost): () => void {
  const bar = h('div', { class: 'ed-toolbar', role: 'group', 'aria-label': 'Dashboard editing' });
  host.toolbar.append(bar);
  let lastDirty: boolean | undefined;
  let lastEditing: boolean | undefined;
  let wasConnected = false;

  const addMenu = h('div', { class: 'popover ed-add-menu', hidden: true, role: 'menu' });
  const closeMenu = () => (addMenu.hidden = true);

  const addPanel = () => {
    closeMenu();
    const ds = defaultDatasource(host);
    const panel: GrafanaPanel = {
      id: nextPanelId(host.model),
      type: 'timeseries',
      title: 'New panel',
      gridPos: { x: 0, y: 0, w: 12, h: 8 },
      datasource: ds,
      targets: [{ refId: 'A', datasource: ds, expr: '' }],
      fieldConfig: { defaults: {}, overrides: [] },
      options: {},
    };
    insertAtTop(host.model, panel);
    if (!host.editing) host.setEditing(true);
    host.changed();
    openPanelEditor(host, panel, { isNew: true, onClose: render });
  };
  const addRow = () => {
    closeMenu();
    insertAtTop(host.model, { id: nextPanelId(host.model), type: 'row', title: 'Row title', collapsed: false, gridPos: { x: 0, y: 0, w: 24, h: 1 }, panels: [] });
    if (!host.editing) host.setEditing(true);
    host.changed();
    render();
  };
  addMenu.append(
    h('button', { class: 'link-btn ed-add-panel', role: 'menuitem', onclick: addPanel }, '▦ Visualization', h('span', { class: 'faint' }, ' — a new panel with a query')),
    h('button', { class: 'link-btn ed-add-row', role: 'menuitem', onclick: addRow }, '☰ Row', h('span', { class: 'faint' }, ' — groups the panels below it')),
  );
  const onDocClick = (e: MouseEvent) => {
    if (!addMenu.hidden && !(e.target as Element).closest?.('.ed-add-wrap')) closeMenu();
  };
  document.addEventListener('click', onDocClick);

  const save = () => openSaveDialog(host, render);

  function render() {
    const dirty = host.dirty;
    const editing = host.editing;
    lastDirty = dirty;
    lastEditing = editing;
    const btn = (label: string, cls: string, title: string, onclick: () => void) => h('button', { class: cls, title, onclick }, label);
    replace(
      bar,
      dirty ? h('span', { class: 'ed-dirty', title: 'This dashboard has changes that are not saved', role: 'status' }, '● Unsaved changes') : null,
      editing
        ? [
            h(
              'div',
              { class: 'ed-add-wrap' },
              btn('+ Add ▾', 'ed-add', 'Add a panel or a row', () => {
                addMenu.hidden = !addMenu.hidden;
              }),
              addMenu,
            ),
            btn('⚙ Settings', 'ed-settings', 'Dashboard settings: title, tags, time, JSON model', () => openSettings(host, 'general', render)),
            btn('$ Variables', 'ed-variables', 'Template variables', () => openSettings(host, 'variables', render)),
          ]
        : null,
      btn('⇩ Export', 'ed-export', 'Export the dashboard as Grafana JSON', () => openExportDialog(host)),
      editing ? btn('Save as…', 'ed-saveas', 'Save a copy with a new title', () => openSaveAsDialog(host)) : null,
      editing || dirty ? btn('Save', `ed-save ${dirty ? 'primary' : ''}`, 'Save the dashboard (Ctrl+S)', save) : null,
      editing
        ? btn('Done editing', 'ed-done', 'Leave edit mode (your changes stay until you leave the page)', () => {
            host.setEditing(false);
            render();
          })
        : btn('✎ Edit', 'ed-edit primary-outline', 'Edit panels, variables and settings', () => {
            host.setEditing(true);
            render();
          }),
    );
  }

  host.onEditPanel = (panel) => openPanelEditor(host, panel, { isNew: false, onClose: render });

  const onBeforeUnload = (e: BeforeUnloadEvent) => {
    if (!host.dirty) return;
    e.preventDefault();
    e.returnValue = '';
  };
  window.addEventListener('beforeunload', onBeforeUnload);

  const onKey = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's' && bar.isConnected && !dialogOpen()) {
      e.preventDefault();
      save();
    }
  };
  document.addEventListener('keydown', onKey);

  // The host has no change event: poll the cheap flags and redraw only when they move.
  const timer = setInterval(() => {
    if (bar.isConnected) wasConnected = true;
    else if (wasConnected) {
      detach();
      return;
    }
    if (host.dirty !== lastDirty || host.editing !== lastEditing) render();
  }, 500);

  function detach() {
    clearInterval(timer);
    window.removeEventListener('beforeunload', onBeforeUnload);
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('click', onDocClick);
    bar.remove();
    if (host.onEditPanel) host.onEditPanel = undefined;
  }

  if (host.isNew && !host.editing) host.setEditing(true);
  render();
  return detach;
}

/** The data source new panels use: the dashboard's most used one, else pharos' Prometheus. */
function defaultDatasource(host: DashboardHost): { type: string; uid: string } {
  const counts = new Map<string, number>();
  for (const p of host.model.panels ?? []) {
    const ds = p.datasource;
    if (ds && typeof ds === 'object' && ds.type && ds.type !== 'datasource') counts.set(ds.type, (counts.get(ds.type) ?? 0) + 1);
  }
  const type = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'prometheus';
  const known: Record<string, string> = { prometheus: 'prometheus', loki: 'loki', elasticsearch: 'elasticsearch', jaeger: 'jaeger', tempo: 'jaeger' };
  return { type: known[type] ? type : 'prometheus', uid: known[type] ?? 'prometheus' };
}
