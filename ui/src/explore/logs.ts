/** Explore for LogQL: log list, volume histogram, live tail. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function logsExplorePage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Explore logs')), message('info', 'This page is being built.')));
  return { title: 'Explore logs' };
}
