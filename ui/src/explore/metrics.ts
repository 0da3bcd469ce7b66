/** Explore for PromQL: autocomplete, graph and table, history. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function metricsExplorePage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Explore metrics')), message('info', 'This page is being built.')));
  return { title: 'Explore metrics' };
}
