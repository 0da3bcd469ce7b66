/**
 * The dashboard browser (`/dashboards`): Grafana's `/api/search` listed by folder (General
 * first, then each folder of `/api/folders`, empty ones too), with a search box that filters as
 * you type, tag chips, sort order, provisioned badges with their file, links to each dashboard,
 * "New dashboard" / "Import" / "New folder", folder rename and delete, moving a dashboard to
 * another folder, and delete behind an in-page confirmation. The search state lives in the URL
 * (`?query=&tag=&sort=`).
 */
import { starButton } from './stars';
import { h, message, replace, debounce } from '../lib/dom';
import { request, qs, ApiError } from '../lib/api';
import { setQuery, type Page, type PageContext } from '../lib/router';
import { confirmDialog } from './editor/dialog';
import { confirmDeleteFolder, createFolder, folderNameDialog, listFolders, moveDialog, renameFolder, type Folder } from './folders';
import { getDashboard } from './editor/model';
import './editor/editor.css';

interface SearchHit {
  id: number;
  uid: string;
  title: string;
  url: string;
  slug?: string;
  type: string;
  tags: string[];
  folderTitle?: string;
  folderUid?: string;
  provisioned?: boolean;
  isStarred?: boolean;
}

interface TagCount {
  term: string;
  count: number;
}

type Sort = 'alpha-asc' | 'alpha-desc' | 'updated';

const SORTS: [Sort, string][] = [
  ['alpha-asc', 'Name A–Z'],
  ['alpha-desc', 'Name Z–A'],
  ['updated', 'Recently updated'],
];

/** Per-dashboard details the search API does not carry (update time, provisioning file). */
interface Details {
  updated?: string;
  file?: string;
}

export function dashboardListPage(ctx: PageContext): Page {
  let queryText = ctx.query.get('query') ?? '';
  let tags = ctx.query.getAll('tag');
  let starredOnly = ctx.query.get('starred') === 'true';
  let sort: Sort = (ctx.query.get('sort') as Sort) || 'alpha-asc';
  if (!SORTS.some(([s]) => s === sort)) sort = 'alpha-asc';
  const details = new Map<string, Details>();
  let folders: Folder[] = [];
  /** Folders the user folded (by uid; `""` is General). */
  const folded = new Set<string>();
  let seq = 0;
  let alive = true;

  const search = h('input', {
    type: 'search',
    class: 'dl-search',
    placeholder: 'Search dashboards by name',
    'aria-label': 'Search dashboards',
    value: queryText,
  });
  const sortSel = h(
    'select',
    { 'aria-label': 'Sort', class: 'dl-sort' },
    SORTS.map(([v, label]) => h('option', { value: v, selected: v === sort }, label)),
  );
  sortSel.value = sort;
  const starredBox = h('input', { type: 'checkbox', checked: starredOnly, 'data-testid': 'dl-starred' }) as HTMLInputElement;
  const starredFilter = h('label', { class: 'dl-starred-filter', title: 'Only starred dashboards' }, starredBox, ' ★ Starred');
  const tagBar = h('div', { class: 'dl-tags', 'aria-label': 'Tags' });
  const activeBar = h('div', { class: 'dl-active' });
  const results = h('div', { class: 'dl-results' }, message('loading', 'Loading dashboards'));
  const count = h('span', { class: 'faint dl-count' });

  ctx.root.append(
    h(
      'div',
      { class: 'page dl-page' },
      h(
        'div',
        { class: 'page-header' },
        h('h1', null, 'Dashboards'),
        h('button', { class: 'btn', 'data-testid': 'new-folder', onclick: () => void newFolder() }, '+ New folder'),
        h('a', { class: 'btn', href: '/dashboards/import' }, '⇪ Import'),
        h('a', { class: 'btn primary', href: '/dashboards/new' }, '+ New dashboard'),
      ),
      h('div', { class: 'toolbar dl-toolbar' }, search, starredFilter, sortSel, count),
      activeBar,
      tagBar,
      results,
    ),
  );

  const syncUrl = () => setQuery({ query: queryText || null, tag: tags.length ? tags : null, sort: sort === 'alpha-asc' ? null : sort, starred: starredOnly ? 'true' : null });

  const toggleTag = (t: string) => {
    tags = tags.includes(t) ? tags.filter((x) => x !== t) : [...tags, t];
    syncUrl();
    void load();
  };

  const renderActive = () => {
    if (!tags.length) {
      activeBar.replaceChildren();
      return;
    }
    replace(
      activeBar,
      h('span', { class: 'faint' }, 'Filtered by tag:'),
      tags.map((t) =>
        h('button', { class: 'tag-chip active', title: `Remove the filter on ${t}`, onclick: () => toggleTag(t) }, t, h('span', { 'aria-hidden': 'true' }, ' ✕')),
      ),
      h(
        'button',
        {
          class: 'link-btn',
          onclick: () => {
            tags = [];
            syncUrl();
            void load();
          },
        },
        'Clear',
      ),
    );
  };

  const loadTags = async () => {
    try {
      const list = await request<TagCount[]>('/api/dashboards/tags');
      if (!alive) return;
      if (!Array.isArray(list) || !list.length) {
        tagBar.replaceChildren();
        return;
      }
      replace(
        tagBar,
        h('span', { class: 'faint' }, 'Tags:'),
        list.map((t) =>
          h(
            'button',
            { class: `tag-chip ${tags.includes(t.term) ? 'active' : ''}`, title: `Show dashboards tagged ${t.term}`, onclick: () => toggleTag(t.term) },
            t.term,
            h('span', { class: 'tag-count' }, String(t.count)),
          ),
        ),
      );
    } catch {
      tagBar.replaceChildren();
    }
  };

  const sortHits = (hits: SearchHit[]) => {
    const byName = (a: SearchHit, b: SearchHit) => a.title.localeCompare(b.title, undefined, { sensitivity: 'base' });
    if (sort === 'alpha-desc') hits.sort((a, b) => byName(b, a));
    else if (sort === 'updated')
      hits.sort((a, b) => (details.get(b.uid)?.updated ?? '').localeCompare(details.get(a.uid)?.updated ?? '') || byName(a, b));
    else hits.sort(byName);
  };

  /** Fetches the meta of the dashboards that need it (sorting by update time, provisioned files). */
  const loadDetails = async (hits: SearchHit[], all: boolean) => {
    const need = hits.filter((x) => !details.has(x.uid) && (all || x.provisioned));
    await Promise.all(
      need.map(async (x) => {
        try {
          const { meta } = await getDashboard(x.uid);
          details.set(x.uid, { updated: meta.updated, file: meta.provisionedExternalId || undefined });
        } catch {
          details.set(x.uid, {});
        }
      }),
    );
  };

  const row = (x: SearchHit) => {
    const d = details.get(x.uid);
    const href = x.url && x.url.startsWith('/') ? x.url : `/d/${encodeURIComponent(x.uid)}/${x.slug ?? ''}`;
    const del = h(
      'button',
      {
        class: 'small icon dl-delete',
        title: x.provisioned ? 'Provisioned from a file: remove or edit the file to delete it' : `Delete ${x.title}`,
        'aria-label': `Delete ${x.title}`,
        disabled: x.provisioned ? true : undefined,
        onclick: () => void remove(x),
      },
      'Delete',
    );
    return h(
      'tr',
      { class: 'dl-row', dataset: { uid: x.uid } },
      h(
        'td',
        { class: 'dl-title-cell' },
        starButton(x.uid, Boolean(x.isStarred)),
        h('a', { href, class: 'dl-title' }, x.title),
        x.provisioned
          ? h(
              'div',
              { class: 'dl-prov' },
              h('span', { class: 'badge badge-info', title: 'Loaded from a provisioning folder' }, 'provisioned'),
              d?.file ? h('span', { class: 'mono faint dl-file', title: d.file }, d.file) : null,
            )
          : null,
      ),
      h(
        'td',
        { class: 'dl-tag-cell' },
        (x.tags ?? []).map((t) =>
          h('button', { class: `tag-chip small ${tags.includes(t) ? 'active' : ''}`, title: `Filter by ${t}`, onclick: () => toggleTag(t) }, t),
        ),
      ),
      h('td', { class: 'faint dl-updated' }, sort === 'updated' && d?.updated ? formatUpdated(d.updated) : ''),
      h(
        'td',
        { class: 'dl-actions' },
        h(
          'button',
          {
            class: 'small dl-move',
            title: x.provisioned ? 'Provisioned from a file: its folder is the file\'s' : `Move ${x.title} to another folder`,
            'aria-label': `Move ${x.title}`,
            disabled: x.provisioned ? true : undefined,
            onclick: () => void move(x),
          },
          'Move',
        ),
        del,
      ),
    );
  };

  /** Runs a folder change; its failure is shown above the list. */
  const folderAction = async (what: string, f: () => Promise<boolean>) => {
    try {
      if (await f()) await load();
    } catch (e) {
      results.prepend(message('error', `Could not ${what}`, (e as Error).message));
    }
  };
  const newFolder = () => folderAction('create the folder', () => folderNameDialog('New folder', '', 'Create', (name) => createFolder(name)));
  const rename = (f: Folder) => folderAction(`rename "${f.title}"`, () => folderNameDialog('Rename folder', f.title, 'Rename', (name) => renameFolder(f.uid, name)));
  const removeFolder = (f: Folder, count: number) => folderAction(`delete "${f.title}"`, () => confirmDeleteFolder(f, count));
  const move = (x: SearchHit) => folderAction(`move "${x.title}"`, () => moveDialog(x.uid, x.title, x.folderUid ?? '', folders));

  /** One folder: a header row (fold, name, count, rename/delete) and its dashboards. */
  const group = (f: Folder | undefined, hits: SearchHit[]) => {
    const uid = f?.uid ?? '';
    const isFolded = folded.has(uid);
    const toggle = () => {
      if (folded.has(uid)) folded.delete(uid);
      else folded.add(uid);
      void load();
    };
    return h(
      'tbody',
      { class: 'dl-group', dataset: { folderUid: uid }, 'data-testid': 'dl-folder' },
      h(
        'tr',
        { class: 'dl-folder-row' },
        h(
          'th',
          { colspan: 4 },
          h(
            'button',
            { class: 'link-btn dl-folder-toggle', 'aria-expanded': String(!isFolded), title: isFolded ? 'Show its dashboards' : 'Hide its dashboards', onclick: toggle },
            h('span', { class: 'dl-caret', 'aria-hidden': 'true' }, isFolded ? '▸ ' : '▾ '),
            h('span', { class: 'dl-folder-title', 'data-testid': 'dl-folder-title' }, f?.title ?? 'General'),
          ),
          h('span', { class: 'faint dl-folder-count' }, ` ${hits.length} dashboard${hits.length === 1 ? '' : 's'}`),
          f
            ? h(
                'span',
                { class: 'dl-folder-actions' },
                h('button', { class: 'small', 'data-testid': 'folder-rename', 'aria-label': `Rename folder ${f.title}`, onclick: () => void rename(f) }, 'Rename'),
                h('button', { class: 'small dl-delete', 'data-testid': 'folder-delete', 'aria-label': `Delete folder ${f.title}`, onclick: () => void removeFolder(f, hits.length) }, 'Delete'),
              )
            : null,
        ),
      ),
      isFolded ? null : hits.length ? hits.map(row) : h('tr', { class: 'dl-folder-empty' }, h('td', { colspan: 4, class: 'faint' }, 'No dashboards in this folder yet: use Move on a dashboard, or pick this folder when saving one.')),
    );
  };

  const remove = async (x: SearchHit) => {
    const ok = await confirmDialog(
      'Delete dashboard',
      [h('p', null, 'Delete ', h('strong', null, x.title), '?'), h('p', { class: 'faint' }, 'This cannot be undone; export it first to keep a copy.')],
      'Delete',
      true,
    );
    if (!ok) return;
    try {
      await request(`/api/dashboards/uid/${encodeURIComponent(x.uid)}`, { method: 'DELETE' });
      void loadTags();
      await load();
    } catch (e) {
      results.prepend(message('error', `Could not delete "${x.title}"`, (e as Error).message));
    }
  };

  const load = async () => {
    const my = ++seq;
    renderActive();
    const params = new URLSearchParams(qs({ type: 'dash-db', query: queryText }).slice(1));
    for (const t of tags) params.append('tag', t);
    if (starredOnly) params.set('starred', 'true');
    let hits: SearchHit[];
    try {
      const [found, fl] = await Promise.all([request<SearchHit[]>(`/api/search?${params}`), listFolders().catch(() => folders)]);
      hits = found;
      folders = [...fl].sort((a, b) => a.title.localeCompare(b.title, undefined, { sensitivity: 'base' }));
      if (!Array.isArray(hits)) hits = [];
      hits = hits.filter((x) => !x.type || x.type === 'dash-db');
      await loadDetails(hits, sort === 'updated');
    } catch (e) {
      if (my !== seq || !alive) return;
      const err = e as ApiError;
      replace(
        results,
        err.status === 404
          ? message('error', 'This pharos has no dashboard API (/api/search answered 404).', 'Upgrade pharos; dashboards need /api/search and /api/dashboards.')
          : message('error', err.unreachable ? 'pharos is not reachable — is the server running?' : 'Could not list dashboards', err.unreachable ? undefined : err.message),
      );
      count.textContent = '';
      return;
    }
    if (my !== seq || !alive) return;
    sortHits(hits);
    count.textContent = `${hits.length} dashboard${hits.length === 1 ? '' : 's'}`;
    const filtered = Boolean(queryText || tags.length || starredOnly);
    // A dashboard in a folder the folder list does not have (yet) still gets its group.
    for (const x of hits) {
      if (x.folderUid && !folders.some((f) => f.uid === x.folderUid)) folders.push({ id: -1, uid: x.folderUid, title: x.folderTitle || x.folderUid });
    }
    if (!hits.length && (filtered || !folders.length)) {
      if (starredOnly && !queryText && !tags.length) replace(results, message('empty', 'No starred dashboards yet.', 'Star a dashboard with ☆ in its list row or its header.'));
      else if (queryText || tags.length || starredOnly) {
        replace(
          results,
          message('empty', 'No dashboard matches this search.', `${queryText ? `name contains "${queryText}"` : ''}${queryText && tags.length ? ' and ' : ''}${tags.length ? `tagged ${tags.join(', ')}` : ''}`),
        );
      } else {
        replace(results, emptyState());
      }
      return;
    }
    replace(
      results,
      h(
        'table',
        { class: 'data dl-table' },
        h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Tags'), h('th', null, sort === 'updated' ? 'Updated' : ''), h('th', null, ''))),
        // General first, then every folder; while filtering only the folders with a match.
        [undefined, ...folders]
          .map((f) => ({ f, inside: hits.filter((x) => (x.folderUid ?? '') === (f?.uid ?? '')) }))
          .filter(({ f, inside }) => inside.length || (!filtered && f))
          .map(({ f, inside }) => group(f, inside)),
      ),
    );
  };

  const onInput = debounce(() => {
    queryText = search.value.trim();
    syncUrl();
    void load();
  }, 150);
  search.addEventListener('input', onInput);
  starredBox.addEventListener('change', () => {
    starredOnly = starredBox.checked;
    syncUrl();
    void load();
  });
  sortSel.addEventListener('change', () => {
    sort = sortSel.value as Sort;
    syncUrl();
    void load();
  });

  void loadTags();
  void load();
  queueMicrotask(() => search.focus());

  return {
    title: 'Dashboards',
    unmount() {
      alive = false;
    },
    onQueryChange(q) {
      queryText = q.get('query') ?? '';
      tags = q.getAll('tag');
      sort = (q.get('sort') as Sort) || 'alpha-asc';
      search.value = queryText;
      sortSel.value = sort;
      void loadTags();
      void load();
    },
  };
}

function emptyState(): HTMLElement {
  return h(
    'div',
    { class: 'msg msg-empty dl-empty' },
    h('div', { class: 'msg-text' }, 'No dashboards yet.'),
    h(
      'div',
      { class: 'dl-empty-ways' },
      h(
        'div',
        { class: 'card' },
        h('h3', null, 'Import Grafana JSON'),
        h('p', { class: 'dim' }, 'Upload or paste a dashboard exported from Grafana or grafana.com (bare or {"dashboard": …}).'),
        h('a', { class: 'btn primary', href: '/dashboards/import' }, 'Import dashboard'),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', null, 'Provision from a folder'),
        h('p', { class: 'dim' }, 'Point pharos at a folder of dashboard JSON files; edits to the files show up here.'),
        h('pre', { class: 'dl-yml' }, 'dashboards:\n  path: ./dashboards'),
        h('p', { class: 'faint' }, 'in pharos.yml'),
      ),
      h(
        'div',
        { class: 'card' },
        h('h3', null, 'Start from scratch'),
        h('p', { class: 'dim' }, 'Create an empty dashboard and add panels with live previews.'),
        h('a', { class: 'btn', href: '/dashboards/new' }, 'New dashboard'),
      ),
    ),
  );
}

function formatUpdated(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 10);
}
