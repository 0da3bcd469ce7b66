/** The page for a UI path nobody registered, and the fallback when a page fails to start. */
import { h, message } from '../lib/dom';
import type { Page, PageContext } from '../lib/router';

export function notFoundPage(ctx: PageContext): Page {
  ctx.root.append(
    h('div', { class: 'page' }, message('empty', `Nothing lives at ${location.pathname}.`, 'Use the menu on the left to find dashboards, Explore, alerts and status.')),
  );
  return { title: 'Not found' };
}

export function errorPage(e: unknown): HTMLElement {
  return h('div', { class: 'page' }, message('error', 'This page failed to load.', e instanceof Error ? e.message : String(e)));
}
