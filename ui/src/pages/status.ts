/** Status: config, store statistics, build info. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function statusPage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Status')), message('info', 'This page is being built.')));
  return { title: 'Status' };
}

export function targetsPage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Targets')), message('info', 'This page is being built.')));
  return { title: 'Targets' };
}
