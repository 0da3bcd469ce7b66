/** The dashboard list: search, tags, links to import and create. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function dashboardListPage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Dashboards')), message('info', 'This page is being built.')));
  return { title: 'Dashboards' };
}
