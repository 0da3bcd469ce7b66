/**
 * Built-in Grafana panel types whose drawing needs what pharos does not have — map tiles from the
 * internet (`geomap`), a free-form layout editor (`canvas`), profiles (`flamegraph`) — or that are
 * a table at heart (`datagrid`): each shows its data as the table panel would, under a one-line
 * note that says why, never a broken or empty panel.
 */
import { h } from '../lib/dom';
import { register } from './registry';
import { tableFactory } from './table';
import { transformPanelData } from './transform';
import type { PanelFactory } from './types';

const LAST_VALUES = { id: 'reduce', options: { reducers: ['lastNotNull'] } };

function withNote(note: string | null): PanelFactory {
  return (el, panel, ctx) => {
    el.classList.add('vp-body');
    const inner = h('div', { class: 'panel-fallback-table' });
    const noteEl = note ? h('div', { class: 'panel-fallback-note faint', 'data-testid': 'panel-fallback-note' }, note) : null;
    el.replaceChildren(...(noteEl ? [noteEl] : []), inner);
    const table = tableFactory(inner, panel, ctx);
    const noteH = () => (noteEl ? noteEl.offsetHeight || 20 : 0);
    return {
      // Time series become one row each with their last value (what a map marker or a canvas
      // element shows), unless the panel transforms its data itself.
      update: (data, p) => {
        const own = Array.isArray(p.transformations) && p.transformations.length > 0;
        const series = data.series.length > 0 && !data.tables.length;
        table.update(series && !own ? transformPanelData(data, { ...p, transformations: [LAST_VALUES] }) : data, p);
      },
      resize: (w, hgt) => table.resize(w, Math.max(0, hgt - noteH())),
      destroy: () => {
        table.destroy();
        el.replaceChildren();
      },
    };
  };
}

register(['geomap'], withNote('Map tiles are not available offline: the locations and their values are listed.'));
register(['canvas'], withNote('Canvas layouts are not drawn by pharos: the values behind the elements are listed.'));
register(['flamegraph'], withNote('Flame graphs need profiles, which pharos does not store: the data is listed.'));
register(['datagrid'], withNote(null));
