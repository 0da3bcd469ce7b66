/**
 * Query history of Explore, kept in the browser's localStorage per language: the last 100 queries
 * run (starred ones are never dropped), shown as a drawer where a click puts the query back and
 * runs it, and a star keeps it.
 */
import { h, replace } from '../lib/dom';
import type { Language } from './editor';

export interface HistoryEntry {
  query: string;
  /** Last run, ms since the epoch. */
  at: number;
  starred?: boolean;
}

const MAX = 100;
const key = (lang: Language) => `pharos.explore.history.${lang}`;

export function loadHistory(lang: Language): HistoryEntry[] {
  try {
    const raw = JSON.parse(localStorage.getItem(key(lang)) ?? '[]') as unknown;
    if (!Array.isArray(raw)) return [];
    return raw.filter((e): e is HistoryEntry => !!e && typeof e.query === 'string' && typeof e.at === 'number');
  } catch {
    return [];
  }
}

function save(lang: Language, entries: HistoryEntry[]) {
  try {
    localStorage.setItem(key(lang), JSON.stringify(entries));
  } catch {
    /* storage full or disabled: history is a convenience */
  }
}

/** Records a run: moves the query to the top, keeps its star, drops the oldest unstarred beyond 100. */
export function addHistory(lang: Language, query: string) {
  const q = query.trim();
  if (!q) return;
  const entries = loadHistory(lang);
  const old = entries.find((e) => e.query === q);
  const rest = entries.filter((e) => e.query !== q);
  rest.unshift({ query: q, at: Date.now(), starred: old?.starred });
  while (rest.length > MAX) {
    const idx = rest.map((e) => !e.starred).lastIndexOf(true);
    if (idx < 0) break;
    rest.splice(idx, 1);
  }
  save(lang, rest);
}

export function toggleStar(lang: Language, query: string) {
  const entries = loadHistory(lang);
  for (const e of entries) if (e.query === query) e.starred = !e.starred;
  save(lang, entries);
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/**
 * The history drawer: a search box, the starred-only switch and the list. `onPick` gets the query
 * of a clicked entry. Call `refresh()` after a run to show it.
 */
export function historyDrawer(lang: Language, onPick: (query: string) => void): { el: HTMLElement; refresh(): void } {
  const search = h('input', { type: 'search', placeholder: 'Search history', class: 'hist-search', 'aria-label': 'Search query history' });
  const starredOnly = h('input', { type: 'checkbox' });
  const list = h('ul', { class: 'hist-list', 'data-testid': 'history-list' });
  const refresh = () => {
    const needle = search.value.trim().toLowerCase();
    const entries = loadHistory(lang).filter((e) => (!starredOnly.checked || e.starred) && (!needle || e.query.toLowerCase().includes(needle)));
    // Starred first, then most recent.
    entries.sort((a, b) => Number(!!b.starred) - Number(!!a.starred) || b.at - a.at);
    if (!entries.length) {
      replace(list, h('li', { class: 'hist-empty' }, needle || starredOnly.checked ? 'No query matches.' : 'Queries you run appear here.'));
      return;
    }
    replace(
      list,
      ...entries.map((e) =>
        h(
          'li',
          { class: 'hist-item' },
          h(
            'button',
            {
              class: `hist-star${e.starred ? ' on' : ''}`,
              title: e.starred ? 'Unstar' : 'Star (kept forever)',
              'aria-pressed': String(!!e.starred),
              onclick: () => {
                toggleStar(lang, e.query);
                refresh();
              },
            },
            e.starred ? '★' : '☆',
          ),
          h(
            'button',
            { class: 'hist-query', title: 'Run this query', onclick: () => onPick(e.query) },
            h('code', null, e.query),
            h('span', { class: 'faint hist-when' }, ago(e.at)),
          ),
        ),
      ),
    );
  };
  search.addEventListener('input', refresh);
  starredOnly.addEventListener('change', refresh);
  const el = h(
    'aside',
    { class: 'hist card', 'data-testid': 'history' },
    h('div', { class: 'hist-head' }, h('strong', null, 'Query history'), search, h('label', { class: 'hist-starred' }, starredOnly, 'Starred')),
    list,
  );
  refresh();
  return { el, refresh };
}
