/**
 * The Variables tab of dashboard settings: the list (add, edit, duplicate, remove, reorder) and
 * the form of one variable with Grafana's fields per type (query, custom, constant, interval,
 * textbox, datasource) and a preview of the values the variable would offer, computed from
 * pharos' APIs the way Grafana's variable queries are (`label_values`, `label_names`,
 * `metrics`, `query_result`, regex, sort).
 */
import { h, replace, debounce } from '../../lib/dom';
import { promInstant, promLabelValues, promLabels, promSeries, lokiLabels, lokiLabelValues } from '../../lib/api';
import type { DashboardHost, TemplateVariable } from '../contract';
import { clone, listDatasources } from './model';
import { confirmDialog } from './dialog';

const TYPES: [string, string, string][] = [
  ['query', 'Query', 'Values from a data source query (label_values, metrics, query_result…)'],
  ['custom', 'Custom', 'A comma-separated list you write (a, b, c or key : value)'],
  ['constant', 'Constant', 'A hidden fixed value, for shared query parts'],
  ['textbox', 'Text box', 'Free text the viewer types'],
  ['interval', 'Interval', 'Time spans such as 1m,5m,1h (with auto)'],
  ['datasource', 'Data source', 'Pick a data source of one type'],
];

const SORTS: [number, string][] = [
  [0, 'Disabled'],
  [1, 'Alphabetical (asc)'],
  [2, 'Alphabetical (desc)'],
  [3, 'Numerical (asc)'],
  [4, 'Numerical (desc)'],
  [5, 'Alphabetical, case-insensitive (asc)'],
  [6, 'Alphabetical, case-insensitive (desc)'],
];

/** The query text of a variable (Grafana stores it as a string or as `{query}`). */
export function queryText(v: TemplateVariable): string {
  if (typeof v.query === 'string') return v.query;
  if (v.query && typeof v.query === 'object' && typeof v.query.query === 'string') return v.query.query;
  return v.definition ?? '';
}

function setQueryText(v: TemplateVariable, text: string) {
  if (v.query && typeof v.query === 'object') v.query = { ...v.query, query: text };
  else v.query = text;
  if (v.type === 'query') v.definition = text;
}

function dsType(v: TemplateVariable): string {
  const ds = v.datasource;
  if (ds && typeof ds === 'object' && typeof (ds as { type?: unknown }).type === 'string') return (ds as { type: string }).type;
  if (typeof ds === 'string' && /loki/i.test(ds)) return 'loki';
  return 'prometheus';
}

export function variablesEditor(host: DashboardHost, changed: () => void): { el: HTMLElement; destroy: () => void } {
  const el = h('div', { class: 'ed-vars' });
  let aborter: AbortController | undefined;
  const list = (): TemplateVariable[] => {
    host.model.templating = host.model.templating ?? { list: [] };
    host.model.templating.list = host.model.templating.list ?? [];
    return host.model.templating.list;
  };

  const showList = () => {
    aborter?.abort();
    const vars = list();
    const move = (i: number, d: number) => {
      const j = i + d;
      if (j < 0 || j >= vars.length) return;
      [vars[i], vars[j]] = [vars[j], vars[i]];
      changed();
      showList();
    };
    replace(
      el,
      h(
        'div',
        { class: 'toolbar ed-vars-head' },
        h('h2', null, 'Variables'),
        h('span', { class: 'spacer' }),
        h('button', { class: 'primary ed-var-add', onclick: () => addVariable() }, '+ New variable'),
      ),
      vars.length
        ? h(
            'table',
            { class: 'data ed-var-table' },
            h('thead', null, h('tr', null, h('th', null, 'Variable'), h('th', null, 'Type'), h('th', null, 'Definition'), h('th', null, ''))),
            h(
              'tbody',
              null,
              vars.map((v, i) =>
                h(
                  'tr',
                  { class: 'ed-var-row', dataset: { name: v.name } },
                  h('td', null, h('button', { class: 'link-btn ed-var-name mono', onclick: () => showForm(v) }, `$${v.name}`), v.label ? h('span', { class: 'faint' }, ` ${v.label}`) : null),
                  h('td', null, v.type),
                  h('td', { class: 'mono ed-var-def' }, definition(v)),
                  h(
                    'td',
                    { class: 'ed-var-actions' },
                    h('button', { class: 'small icon', title: 'Move up', 'aria-label': `Move ${v.name} up`, disabled: i === 0, onclick: () => move(i, -1) }, '↑'),
                    h('button', { class: 'small icon', title: 'Move down', 'aria-label': `Move ${v.name} down`, disabled: i === vars.length - 1, onclick: () => move(i, 1) }, '↓'),
                    h(
                      'button',
                      {
                        class: 'small',
                        title: 'Duplicate',
                        'aria-label': `Duplicate ${v.name}`,
                        onclick: () => {
                          const c = clone(v);
                          c.name = uniqueName(vars, `copy_of_${v.name}`);
                          vars.splice(i + 1, 0, c);
                          changed();
                          showList();
                        },
                      },
                      'Copy',
                    ),
                    h(
                      'button',
                      {
                        class: 'small icon danger ed-var-del',
                        title: 'Remove',
                        'aria-label': `Remove ${v.name}`,
                        onclick: async () => {
                          if (!(await confirmDialog('Remove variable', `Remove $${v.name}? Panels that use it will show it literally.`, 'Remove', true))) return;
                          vars.splice(vars.indexOf(v), 1);
                          changed();
                          showList();
                        },
                      },
                      '✕',
                    ),
                  ),
                ),
              ),
            ),
          )
        : h(
            'div',
            { class: 'msg msg-empty' },
            h('div', { class: 'msg-text' }, 'This dashboard has no variables.'),
            h('div', { class: 'dim' }, 'Variables make a dashboard interactive: a dropdown such as $job changes every query that uses it.'),
          ),
    );
  };

  const addVariable = () => {
    const vars = list();
    const v: TemplateVariable = {
      name: uniqueName(vars, 'query0'),
      type: 'query',
      label: '',
      hide: 0,
      datasource: { type: 'prometheus', uid: 'prometheus' },
      query: '',
      definition: '',
      regex: '',
      refresh: 1,
      sort: 0,
      multi: false,
      includeAll: false,
      current: {},
      options: [],
    };
    vars.push(v);
    changed();
    showForm(v);
  };

  const showForm = (v: TemplateVariable) => {
    const preview = h('div', { class: 'ed-var-preview' });
    const body = h('div', { class: 'ed-var-typed' });
    const runPreview = debounce(() => void doPreview(v, preview), 400);
    const touch = () => {
      changed();
      runPreview();
    };
    const input = (value: string, on: (s: string) => void, attrs: Record<string, unknown> = {}) => {
      const i = h('input', { type: 'text', value, ...attrs });
      i.addEventListener('input', () => {
        on(i.value);
        touch();
      });
      return i;
    };
    const check = (label: string, value: boolean, on: (b: boolean) => void, cls = '') => {
      const c = h('input', { type: 'checkbox', checked: value, class: cls });
      c.addEventListener('change', () => {
        on(c.checked);
        touch();
        renderTyped();
      });
      return h('label', { class: 'ed-check' }, c, ` ${label}`);
    };
    const select = (options: [string | number, string][], value: string | number, on: (s: string) => void, cls = '') => {
      const s = h('select', { class: cls }, options.map(([val, label]) => h('option', { value: String(val) }, label)));
      s.value = String(value);
      s.addEventListener('change', () => {
        on(s.value);
        touch();
      });
      return s;
    };
    const field = (label: string, control: HTMLElement, hint?: string) =>
      h('label', { class: 'field ed-field' }, h('span', { class: 'ed-label' }, label), control, hint ? h('span', { class: 'faint' }, hint) : null);

    const heading = h('span', { class: 'mono' }, `$${v.name}`);
    const nameErr = h('span', { class: 'error-inline' });
    const name = input(v.name, (s) => {
      const ok = /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(s) && !list().some((o) => o !== v && o.name === s);
      nameErr.textContent = ok ? '' : 'Letters, digits and _, not starting with a digit, unique on the dashboard.';
      if (ok) v.name = s;
      heading.textContent = `$${v.name}`;
    }, { class: 'mono ed-var-name-input' });

    const selectionOptions = () => [
      check('Multi-value', Boolean(v.multi), (b) => (v.multi = b), 'ed-var-multi'),
      check('Include All option', Boolean(v.includeAll), (b) => (v.includeAll = b), 'ed-var-all'),
      v.includeAll
        ? field('Custom all value', input(v.allValue ?? '', (s) => (v.allValue = s || null), { class: 'mono', placeholder: 'blank = every value joined as a regex, e.g. .*' }))
        : null,
    ];

    const renderTyped = () => {
      const q = queryText(v);
      switch (v.type) {
        case 'query':
          replace(
            body,
            field(
              'Data source',
              select(
                [
                  ['prometheus', 'Prometheus'],
                  ['loki', 'Loki'],
                ],
                dsType(v),
                (s) => (v.datasource = { type: s, uid: s }),
                'ed-var-ds',
              ),
            ),
            field(
              'Query',
              input(q, (s) => setQueryText(v, s), { class: 'mono ed-var-query', placeholder: 'label_values(up, job)' }),
              'label_values(metric, label) · label_values(label) · label_names() · metrics(regex) · query_result(expr)',
            ),
            field('Regex', input(v.regex ?? '', (s) => (v.regex = s), { class: 'mono ed-var-regex', placeholder: '/.*-(?<text>.*)/ — optional' }), 'Filters values; a capture group picks the part to show.'),
            h(
              'div',
              { class: 'ed-row2' },
              field('Sort', select(SORTS, v.sort ?? 0, (s) => (v.sort = Number(s)))),
              field(
                'Refresh',
                select(
                  [
                    [1, 'On dashboard load'],
                    [2, 'On time range change'],
                  ],
                  v.refresh === 2 ? 2 : 1,
                  (s) => (v.refresh = Number(s)),
                ),
              ),
            ),
            selectionOptions(),
          );
          break;
        case 'custom':
          replace(body, field('Values separated by comma', input(q, (s) => setQueryText(v, s), { class: 'mono ed-var-query', placeholder: '1, 10, mykey : myvalue' })), selectionOptions());
          break;
        case 'constant':
          replace(body, field('Value', input(q, (s) => setQueryText(v, s), { class: 'mono ed-var-query' }), 'Hidden from viewers; used in queries as $' + v.name));
          break;
        case 'textbox':
          replace(body, field('Default value', input(q, (s) => setQueryText(v, s), { class: 'mono ed-var-query' })));
          break;
        case 'interval':
          replace(
            body,
            field('Values', input(q || '1m,10m,30m,1h,6h,12h,1d', (s) => setQueryText(v, s), { class: 'mono ed-var-query' })),
            check('Auto option', Boolean(v.auto), (b) => (v.auto = b)),
            v.auto
              ? h(
                  'div',
                  { class: 'ed-row2' },
                  field('Step count', select([1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500].map((n) => [n, String(n)]), v.auto_count ?? 30, (s) => (v.auto_count = Number(s)))),
                  field('Min interval', input(v.auto_min ?? '10s', (s) => (v.auto_min = s), { class: 'mono' })),
                )
              : null,
          );
          break;
        case 'datasource':
          replace(
            body,
            field(
              'Type',
              select(
                [
                  ['prometheus', 'Prometheus'],
                  ['loki', 'Loki'],
                  ['elasticsearch', 'Elasticsearch'],
                  ['jaeger', 'Jaeger'],
                ],
                q || 'prometheus',
                (s) => setQueryText(v, s),
              ),
            ),
            field('Instance name filter', input(v.regex ?? '', (s) => (v.regex = s), { class: 'mono', placeholder: '/^prod/' })),
            selectionOptions(),
          );
          break;
        default:
          replace(body, h('p', { class: 'dim' }, `pharos has no form for "${v.type}" variables; edit them in the JSON model.`));
      }
    };

    const typeSel = select(
      TYPES.map(([t, label]) => [t, label]),
      v.type,
      (s) => {
        v.type = s;
        if (s === 'query' && !v.datasource) v.datasource = { type: 'prometheus', uid: 'prometheus' };
        if (s === 'interval' && !queryText(v)) setQueryText(v, '1m,10m,30m,1h,6h,12h,1d');
        if (s === 'constant') v.hide = 2;
        renderTyped();
      },
      'ed-var-type',
    );
    const typeHint = h('span', { class: 'faint' }, TYPES.find((t) => t[0] === v.type)?.[2] ?? '');
    typeSel.addEventListener('change', () => (typeHint.textContent = TYPES.find((t) => t[0] === v.type)?.[2] ?? ''));

    replace(
      el,
      h(
        'div',
        { class: 'ed-var-form' },
        h(
          'div',
          { class: 'toolbar' },
          h('button', { class: 'ed-var-back', onclick: showList }, '← Variables'),
          h('h2', null, 'Edit ', heading),
        ),
        h(
          'div',
          { class: 'ed-row2' },
          h('label', { class: 'field ed-field' }, h('span', { class: 'ed-label' }, 'Name'), name, nameErr),
          h('label', { class: 'field ed-field' }, h('span', { class: 'ed-label' }, 'Type'), typeSel, typeHint),
        ),
        h(
          'div',
          { class: 'ed-row2' },
          field('Label', input(v.label ?? '', (s) => (v.label = s), { placeholder: 'shown instead of the name' })),
          field(
            'Hide',
            select(
              [
                [0, 'Nothing (label and dropdown)'],
                [1, 'Label'],
                [2, 'Variable'],
              ],
              v.hide ?? 0,
              (s) => (v.hide = Number(s)),
            ),
          ),
        ),
        field('Description', input(String(v.description ?? ''), (s) => (v.description = s || undefined))),
        body,
        h('h3', null, 'Preview of values'),
        preview,
        h('div', { class: 'toolbar' }, h('button', { class: 'primary ed-var-done', onclick: showList }, 'Done'), h('button', { onclick: () => void doPreview(v, preview) }, 'Run query')),
      ),
    );
    renderTyped();
    void doPreview(v, preview);
  };

  const doPreview = async (v: TemplateVariable, out: HTMLElement) => {
    aborter?.abort();
    const my = new AbortController();
    aborter = my;
    replace(out, h('span', { class: 'faint' }, 'Loading values…'));
    try {
      const values = await previewValues(host, v);
      if (my.signal.aborted) return;
      const shown = values.slice(0, 60);
      replace(
        out,
        values.length
          ? [
              h('div', { class: 'faint ed-var-count' }, `${values.length} value${values.length === 1 ? '' : 's'}${v.includeAll ? ' + All' : ''}`),
              h('div', { class: 'ed-var-values' }, v.includeAll ? h('span', { class: 'label-chip' }, 'All') : null, shown.map((x) => h('span', { class: 'label-chip ed-var-value' }, x.text === x.value ? x.text : `${x.text} → ${x.value}`))),
              values.length > shown.length ? h('div', { class: 'faint' }, `… and ${values.length - shown.length} more`) : null,
            ]
          : h('div', { class: 'dim' }, 'No values. Check the query and the regex; the data may not exist yet.'),
      );
    } catch (e) {
      if (my.signal.aborted) return;
      replace(out, h('div', { class: 'error-inline' }, `The query failed: ${(e as Error).message}`));
    }
  };

  showList();
  return { el, destroy: () => aborter?.abort() };
}

function uniqueName(vars: TemplateVariable[], base: string): string {
  let name = base;
  for (let i = 1; vars.some((v) => v.name === name); i++) name = base.replace(/\d*$/, '') + i;
  return name;
}

function definition(v: TemplateVariable): string {
  const q = queryText(v);
  if (v.type === 'query') return v.definition || q;
  if (v.type === 'adhoc') return '(ad hoc filters)';
  return q;
}

/** The values a variable offers now (text and value), for the preview. */
export async function previewValues(host: DashboardHost, v: TemplateVariable): Promise<{ text: string; value: string }[]> {
  const q = host.interpolate(queryText(v)).trim();
  let raw: string[] = [];
  switch (v.type) {
    case 'custom':
      return splitCustom(q);
    case 'constant':
    case 'textbox':
      return q ? [{ text: q, value: q }] : [];
    case 'interval': {
      const list = q.split(',').map((s) => s.trim()).filter(Boolean).map((s) => ({ text: s, value: s }));
      return v.auto ? [{ text: 'auto', value: '$__auto_interval_' + v.name }, ...list] : list;
    }
    case 'datasource': {
      const ds = await listDatasources();
      raw = ds.filter((d) => d.type === (q || 'prometheus')).map((d) => d.name);
      break;
    }
    case 'query':
      raw = dsType(v) === 'loki' ? await lokiQueryValues(q) : await promQueryValues(q);
      break;
    default:
      return [];
  }
  return sortValues(applyRegex(raw, v.regex ? host.interpolate(v.regex) : ''), v.sort ?? 0);
}

function splitCustom(q: string): { text: string; value: string }[] {
  const out: { text: string; value: string }[] = [];
  for (const part of q.match(/(?:\\,|[^,])+/g) ?? []) {
    const p = part.replace(/\\,/g, ',').trim();
    if (!p) continue;
    const kv = p.match(/^(.+?)\s:\s(.+)$/);
    out.push(kv ? { text: kv[1].trim(), value: kv[2].trim() } : { text: p, value: p });
  }
  return out;
}

async function promQueryValues(q: string): Promise<string[]> {
  let m: RegExpMatchArray | null;
  if ((m = q.match(/^label_names\(\s*(.*?)\s*\)$/))) return promLabels(m[1] ? [m[1]] : undefined);
  if ((m = q.match(/^label_values\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/))) return promLabelValues(m[1]);
  if ((m = q.match(/^label_values\(\s*(.+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/))) {
    const series = await promSeries([m[1]]);
    return [...new Set(series.map((s) => s[m![2]]).filter((x): x is string => x !== undefined))];
  }
  if ((m = q.match(/^metrics\(\s*(.*?)\s*\)$/))) {
    const names = await promLabelValues('__name__');
    const re = m[1] ? new RegExp(m[1]) : undefined;
    return re ? names.filter((n) => re.test(n)) : names;
  }
  if ((m = q.match(/^query_result\(\s*([\s\S]+)\s*\)$/))) {
    const res = await promInstant(m[1], Date.now() / 1000);
    if (res.resultType === 'vector')
      return res.result.map((s) => {
        const { __name__, ...rest } = s.metric;
        const labels = Object.entries(rest).map(([k, val]) => `${k}="${val}"`).join(', ');
        return `${__name__ ?? ''}{${labels}} ${s.value[1]} ${Math.round(s.value[0] * 1000)}`;
      });
    if (res.resultType === 'scalar' || res.resultType === 'string') return [String(res.result[1])];
    return [];
  }
  if (!q) return [];
  // Any other text is taken as a series selector: its metric names.
  const series = await promSeries([q]);
  return [...new Set(series.map((s) => s.__name__).filter(Boolean))];
}

async function lokiQueryValues(q: string): Promise<string[]> {
  let m: RegExpMatchArray | null;
  if (/^label_names\(\s*\)$/.test(q) || !q) return lokiLabels();
  if ((m = q.match(/^label_values\(\s*(?:.*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/))) return lokiLabelValues(m[1]);
  return [];
}

/** Grafana's variable regex: `/re/flags` or bare; a group (`text`/`value` named, or the first) picks the part. */
function applyRegex(values: string[], regex: string): { text: string; value: string }[] {
  const uniq = [...new Set(values)];
  if (!regex) return uniq.map((x) => ({ text: x, value: x }));
  const m = regex.match(/^\/(.*)\/([gimsuy]*)$/s);
  let re: RegExp;
  try {
    re = m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(regex);
  } catch (e) {
    throw new Error(`invalid regex ${regex}: ${(e as Error).message}`);
  }
  const out: { text: string; value: string }[] = [];
  const seen = new Set<string>();
  for (const v of uniq) {
    const r = v.match(re);
    if (!r) continue;
    const g = r.groups;
    const value = g?.value ?? g?.text ?? r[1] ?? v;
    const text = g?.text ?? g?.value ?? r[1] ?? v;
    if (seen.has(value)) continue;
    seen.add(value);
    out.push({ text, value });
  }
  return out;
}

function sortValues(list: { text: string; value: string }[], sort: number): { text: string; value: string }[] {
  const num = (s: string) => {
    const m = s.match(/-?\d+(\.\d+)?/);
    return m ? Number(m[0]) : -Infinity;
  };
  const cmp: Record<number, (a: { text: string }, b: { text: string }) => number> = {
    1: (a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0),
    2: (a, b) => (a.text < b.text ? 1 : a.text > b.text ? -1 : 0),
    3: (a, b) => num(a.text) - num(b.text),
    4: (a, b) => num(b.text) - num(a.text),
    5: (a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase()),
    6: (a, b) => b.text.toLowerCase().localeCompare(a.text.toLowerCase()),
  };
  return cmp[sort] ? [...list].sort(cmp[sort]) : list;
}
