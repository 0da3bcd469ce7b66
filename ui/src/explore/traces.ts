/** Jaeger-style trace search and the service dependency graph. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function tracesExplorePage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Explore traces')), message('info', 'This page is being built.')));
  return { title: 'Explore traces' };
}
