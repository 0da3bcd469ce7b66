/** Home: what runs, what is healthy, ingest rates, links into every page. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function homePage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Home')), message('info', 'This page is being built.')));
  return { title: 'Home' };
}
