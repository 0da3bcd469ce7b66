/**
 * Picks the renderer for a panel's `type`. Types pharos does not draw get a clear placeholder
 * that names the type, never a broken panel.
 */
import { h } from '../lib/dom';
import { transformPanelData } from './transform';
import type { Annotation, GrafanaPanel, PanelContext, PanelData, PanelFactory, PanelRenderer } from './types';

const factories: Record<string, PanelFactory> = {};

/** Registers a renderer for one or more panel types. */
export function register(types: string[], factory: PanelFactory) {
  for (const t of types) factories[t] = factory;
}

/** The type pharos draws a panel as (Grafana's defaults: no type → timeseries). */
export function effectiveType(panel: GrafanaPanel): string {
  return panel.type || 'timeseries';
}

/**
 * Mounts the renderer for `panel` in `el`. Every renderer gets its data through the panel's
 * transformations (transform.ts), so they apply to every panel type, not only tables.
 */
export function createPanel(el: HTMLElement, panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  const factory = factories[effectiveType(panel)] ?? placeholder;
  const renderer = factory(el, panel, ctx);
  return {
    update: (data: PanelData, p: GrafanaPanel) => renderer.update(transformPanelData(data, p, (s) => ctx.interpolate(s)), p),
    resize: (width: number, height: number) => renderer.resize(width, height),
    destroy: () => renderer.destroy(),
    // Annotations that arrive after the data are added without drawing the panel again.
    annotate: renderer.annotate ? (list: Annotation[]) => renderer.annotate!(list) : undefined,
  };
}

export function isSupported(type: string): boolean {
  return type in factories;
}

const placeholder: PanelFactory = (el, panel) => {
  el.replaceChildren(
    h(
      'div',
      { class: 'panel-unsupported' },
      h('div', { class: 'panel-unsupported-title' }, `Unsupported panel type "${String(panel.type)}"`),
      h('div', { class: 'faint' }, 'This panel plugin is not built into pharos. Its queries still run: open the panel in Explore or Inspect to see the data.'),
    ),
  );
  return { update: (_d: PanelData, _p: GrafanaPanel) => {}, resize: () => {}, destroy: () => el.replaceChildren() };
};
