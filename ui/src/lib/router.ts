/**
 * Client-side routing with the History API: a path pattern per page (`/d/:uid/:slug?`), links
 * handled without a reload, and the query string as the page's shareable state (`?from=now-6h`).
 * The server answers every UI path with index.html, so deep links work on reload.
 */

export interface PageContext {
  /** The element the page draws into (emptied before mount). */
  root: HTMLElement;
  /** Path parameters (`:uid` → `params.uid`). */
  params: Record<string, string>;
  /** The query string at mount time; later changes arrive through `Page.onQueryChange`. */
  query: URLSearchParams;
}

export interface Page {
  /** Document title (without the " · pharos" suffix). */
  title: string;
  /** Called before the page is replaced: stop timers, sockets, observers. */
  unmount?(): void;
  /** The query string changed while the path stayed (back/forward, `setQuery`). */
  onQueryChange?(query: URLSearchParams): void;
}

export type PageFactory = (ctx: PageContext) => Page | Promise<Page>;

interface Route {
  pattern: string;
  regex: RegExp;
  keys: string[];
  load: () => Promise<PageFactory>;
}

const routes: Route[] = [];
let current: { route: Route; path: string; page?: Page } | undefined;
let outlet: HTMLElement;
let onNavigate: (path: string) => void = () => {};

/** Registers a page; `load` may import lazily. Patterns: `/d/:uid`, optional `/:slug?`, rest `*`. */
export function route(pattern: string, load: () => Promise<PageFactory> | PageFactory) {
  const keys: string[] = [];
  const src = pattern
    .split('/')
    .map((seg) => {
      if (seg === '*') {
        keys.push('rest');
        return '(?:/(.*))?';
      }
      const m = seg.match(/^:(\w+)(\?)?$/);
      if (!m) return seg ? `/${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` : '';
      keys.push(m[1]);
      return m[2] ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  routes.push({ pattern, regex: new RegExp(`^${src || '/'}/?$`), keys, load: async () => load() });
}

/** Starts routing into `el`; `navigated` is told every new path (for the nav's active item). */
export function startRouter(el: HTMLElement, navigated: (path: string) => void) {
  outlet = el;
  onNavigate = navigated;
  window.addEventListener('popstate', () => void render());
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest?.('a');
    if (!a || a.target === '_blank' || a.hasAttribute('download') || a.dataset.native !== undefined) return;
    const href = a.getAttribute('href');
    if (!href || href.startsWith('#')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !isUiPath(url.pathname)) return;
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  void render();
}

/** True when a path belongs to a UI page (others are API URLs opened as documents). */
export function isUiPath(path: string): boolean {
  return routes.some((r) => r.regex.test(path));
}

/** Goes to a UI path (pushes history unless `replace`). */
export function navigate(to: string, replace = false) {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  void render();
}

/** Rewrites the query string of the current page (its state) without remounting it. */
export function setQuery(update: Record<string, string | string[] | null | undefined>, push = false) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(update)) {
    q.delete(k);
    if (v === null || v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, item);
  }
  const s = q.toString();
  const url = location.pathname + (s ? `?${s}` : '') + location.hash;
  if (url === location.pathname + location.search + location.hash) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

async function render() {
  const path = location.pathname;
  const query = new URLSearchParams(location.search);
  let match: RegExpMatchArray | null = null;
  const r = routes.find((rt) => (match = path.match(rt.regex)));
  onNavigate(path);
  if (current && r && current.route === r && current.path === path && current.page?.onQueryChange) {
    current.page.onQueryChange(query);
    return;
  }
  current?.page?.unmount?.();
  outlet.replaceChildren();
  if (!r || !match) {
    current = undefined;
    const { notFoundPage } = await import('../pages/notfound');
    const page = notFoundPage({ root: outlet, params: {}, query });
    document.title = `${page.title} · pharos`;
    return;
  }
  const params: Record<string, string> = {};
  r.keys.forEach((k, i) => {
    const v = (match as RegExpMatchArray)[i + 1];
    if (v !== undefined) params[k] = decodeURIComponent(v);
  });
  const entry: { route: Route; path: string; page?: Page } = { route: r, path };
  current = entry;
  try {
    const factory = await r.load();
    const page = await factory({ root: outlet, params, query });
    if (current !== entry) {
      page.unmount?.();
      return;
    }
    entry.page = page;
    document.title = `${page.title} · pharos`;
  } catch (e) {
    const { errorPage } = await import('../pages/notfound');
    outlet.replaceChildren(errorPage(e));
  }
}
