/** Import Grafana dashboard JSON by upload or paste. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function importPage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Import dashboard')), message('info', 'This page is being built.')));
  return { title: 'Import dashboard' };
}
