/** Alerts: rules with state, firing/pending alerts, silences, the notification log. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function alertsPage(ctx: PageContext): Page {
  ctx.root.append(h('div', { class: 'page' }, h('div', { class: 'page-header' }, h('h1', null, 'Alerts')), message('info', 'This page is being built.')));
  return { title: 'Alerts' };
}
