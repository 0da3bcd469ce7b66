/** One trace: waterfall, span details, logs of a span. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function traceViewPage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Trace')), message('info', 'This page is being built.')));
  return { title: 'Trace' };
}
