/** One dashboard: variables, time controls, panels on Grafana's grid. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function dashboardPage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Dashboard')), message('info', 'This page is being built.')));
  return { title: 'Dashboard' };
}

export function newDashboardPage(ctx: PageContext): Page {
  return dashboardPage(ctx);
}
