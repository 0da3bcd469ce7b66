/**
 * Picks the renderer for a panel's `type`. Types pharos does not draw get a clear placeholder
 * that names the type, never a broken panel.
 */
import { h } from '../lib/dom';
import type { GrafanaPanel, PanelContext, PanelData, PanelFactory, PanelRenderer } from './types';

const factories: Record<string, PanelFactory> = {};

/** Registers a renderer for one or more panel types. */
export function register(types: string[], factory: PanelFactory) {
  for (const t of types) factories[t] = factory;
}

/** The type pharos draws a panel as (Grafana's defaults: no type → timeseries). */
export function effectiveType(panel: GrafanaPanel): string {
  return panel.type || 'timeseries';
}

export function createPanel(el: HTMLElement, panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  const factory = factories[effectiveType(panel)] ?? placeholder;
  return factory(el, panel, ctx);
}

export function isSupported(type: string): boolean {
  return type in factories;
}

const placeholder: PanelFactory = (el, panel) => {
  el.replaceChildren(
    h(
      'div',
      { class: 'panel-unsupported' },
      h('div', null, `Panel type "${panel.type}" is not drawn by pharos.`),
      h('div', { class: 'faint' }, 'Its queries still run; open the panel in Explore to see the data.'),
    ),
  );
  return { update: (_d: PanelData, _p: GrafanaPanel) => {}, resize: () => {}, destroy: () => el.replaceChildren() };
};
