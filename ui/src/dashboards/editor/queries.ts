/**
 * The Queries tab of the panel editor: the panel's data source (Prometheus, Loki,
 * Elasticsearch, Jaeger, or mixed per query), max data points and min interval, and one card per
 * target with the fields Grafana's query editors have for that source (PromQL/LogQL expression,
 * legend, min step, instant/range, format, hide) plus add, duplicate, remove and refId.
 */
import { h, replace } from '../../lib/dom';
import type { DashboardHost } from '../contract';
import type { GrafanaPanel, GrafanaTarget } from '../../panels/types';
import { clone } from './model';

const SOURCES: [string, string][] = [
  ['prometheus', 'Prometheus'],
  ['loki', 'Loki'],
  ['elasticsearch', 'Elasticsearch'],
  ['jaeger', 'Jaeger'],
];
const MIXED = '-- Mixed --';

type DsRef = { type?: string; uid?: string };

function dsOf(v: unknown): DsRef | undefined {
  if (v && typeof v === 'object') return v as DsRef;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    for (const [t] of SOURCES) if (s.includes(t)) return { type: t, uid: t };
    if (s.includes('tempo')) return { type: 'tempo', uid: 'jaeger' };
    return { type: 'prometheus', uid: v };
  }
  return undefined;
}

/** The data source type a target runs against (its own, else the panel's, else Prometheus). */
export function targetSource(panel: GrafanaPanel, t: GrafanaTarget): string {
  const own = dsOf(t.datasource);
  const p = dsOf(panel.datasource);
  const type = own?.type && own.type !== 'datasource' ? own.type : p?.type && p.type !== 'datasource' && p.uid !== MIXED ? p.type : 'prometheus';
  return type === 'tempo' ? 'jaeger' : type;
}

function nextRefId(targets: GrafanaTarget[]): string {
  const used = new Set(targets.map((t) => t.refId));
  for (let i = 0; ; i++) {
    let id = '';
    let n = i;
    do {
      id = String.fromCharCode(65 + (n % 26)) + id;
      n = Math.floor(n / 26) - 1;
    } while (n >= 0);
    if (!used.has(id)) return id;
  }
}

export interface QueriesHooks {
  /** A query text changed: re-run the preview (debounced by the caller). */
  queriesChanged: () => void;
  /** Run now (Shift+Enter, added/removed targets). */
  runNow: () => void;
}

export function queriesTab(host: DashboardHost, panel: GrafanaPanel, hooks: QueriesHooks): { el: HTMLElement; refresh: () => void } {
  const el = h('div', { class: 'ed-queries' });
  panel.targets = panel.targets ?? [];

  const panelSource = (): string => {
    const d = dsOf(panel.datasource);
    if (d?.uid === MIXED || d?.type === 'mixed') return MIXED;
    return d?.type && d.type !== 'datasource' ? (d.type === 'tempo' ? 'jaeger' : d.type) : targetSource(panel, panel.targets?.[0] ?? {});
  };

  const render = () => {
    const targets = panel.targets ?? [];
    const src = panelSource();
    const dsSel = h(
      'select',
      { class: 'ed-q-ds', 'aria-label': 'Data source' },
      SOURCES.map(([v, label]) => h('option', { value: v }, label)),
      h('option', { value: MIXED }, 'Mixed (per query)'),
    );
    dsSel.value = SOURCES.some(([v]) => v === src) ? src : src === MIXED ? MIXED : 'prometheus';
    dsSel.addEventListener('change', () => {
      const v = dsSel.value;
      if (v === MIXED) panel.datasource = { type: 'datasource', uid: MIXED };
      else {
        panel.datasource = { type: v, uid: v };
        for (const t of panel.targets ?? []) t.datasource = { type: v, uid: v };
      }
      render();
      hooks.runNow();
    });
    const maxDp = h('input', { type: 'number', min: 1, class: 'ed-q-maxdp', placeholder: 'auto', value: panel.maxDataPoints ?? '' });
    maxDp.addEventListener('change', () => {
      const n = Number(maxDp.value);
      if (maxDp.value && n > 0) panel.maxDataPoints = n;
      else delete panel.maxDataPoints;
      hooks.runNow();
    });
    const minInt = h('input', { type: 'text', class: 'ed-q-minint mono', placeholder: 'e.g. 15s', value: panel.interval ?? '' });
    minInt.addEventListener('change', () => {
      if (minInt.value.trim()) panel.interval = minInt.value.trim();
      else delete panel.interval;
      hooks.runNow();
    });

    replace(
      el,
      h(
        'div',
        { class: 'ed-q-head' },
        h('label', { class: 'ed-inline' }, h('span', { class: 'faint' }, 'Data source'), dsSel),
        h('label', { class: 'ed-inline', title: 'Grafana\'s "Max data points": the step is chosen so a query returns at most this many points' }, h('span', { class: 'faint' }, 'Max data points'), maxDp),
        h('label', { class: 'ed-inline', title: 'Lower bound of $__interval (Grafana\'s "Min interval")' }, h('span', { class: 'faint' }, 'Min interval'), minInt),
        h('span', { class: 'faint ed-q-note' }, 'Every query runs on pharos itself.'),
      ),
      targets.map((t, i) => card(t, i, src)),
      h(
        'button',
        {
          class: 'ed-q-add',
          onclick: () => {
            const type = src === MIXED ? targetSource(panel, targets[targets.length - 1] ?? {}) : src;
            targets.push({ refId: nextRefId(targets), datasource: { type, uid: type }, expr: '' });
            panel.targets = targets;
            render();
            (el.querySelectorAll('.ed-q-expr')[targets.length - 1] as HTMLTextAreaElement | undefined)?.focus();
          },
        },
        '+ Add query',
      ),
    );
  };

  const card = (t: GrafanaTarget, i: number, panelSrc: string): HTMLElement => {
    const targets = panel.targets ?? [];
    const src = targetSource(panel, t);
    const changed = () => hooks.queriesChanged();
    const text = (value: string, on: (s: string) => void, attrs: Record<string, unknown>) => {
      const inp = h('input', { type: 'text', value, ...attrs });
      inp.addEventListener('input', () => {
        on(inp.value);
        changed();
      });
      return inp;
    };
    const setOpt = (key: string, value: unknown) => {
      if (value === '' || value === undefined || value === null) delete t[key];
      else t[key] = value;
    };

    const refId = text(t.refId ?? '', (s) => (t.refId = s || undefined), { class: 'ed-q-refid mono', 'aria-label': 'Query name (refId)', size: 3 });
    const exprKey = src === 'elasticsearch' || src === 'jaeger' ? 'query' : 'expr';
    const exprVal = String((t[exprKey] as string | undefined) ?? (exprKey === 'expr' ? t.query ?? '' : t.expr ?? '') ?? '');
    const expr = h('textarea', {
      class: 'ed-q-expr',
      rows: Math.min(8, Math.max(2, exprVal.split('\n').length)),
      spellcheck: 'false',
      value: exprVal,
      'aria-label': `Query ${t.refId ?? ''}`,
      placeholder:
        src === 'loki'
          ? 'LogQL, e.g. {app="api"} |= "error"  or  sum by (level) (count_over_time({app="api"}[5m]))'
          : src === 'elasticsearch'
            ? 'Lucene query, e.g. level:error AND service:api (empty = all documents)'
            : src === 'jaeger'
              ? 'Trace ID, or leave empty and fill service/operation below to search'
              : 'PromQL, e.g. sum by (job) (rate(http_requests_total[$__rate_interval]))',
    });
    expr.addEventListener('input', () => {
      setOpt(exprKey, expr.value);
      expr.rows = Math.min(12, Math.max(2, expr.value.split('\n').length));
      changed();
    });
    expr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.shiftKey || e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        hooks.runNow();
      }
    });

    const hideBtn = h(
      'button',
      {
        class: `small ed-q-hide ${t.hide ? 'active' : ''}`,
        title: t.hide ? 'Hidden: the query does not run. Click to show' : 'Hide this query from the panel',
        'aria-pressed': String(Boolean(t.hide)),
        onclick: () => {
          if (t.hide) delete t.hide;
          else t.hide = true;
          render();
          hooks.runNow();
        },
      },
      t.hide ? 'Show' : 'Hide',
    );
    const ownDs = h('select', { class: 'ed-q-tds', 'aria-label': 'Data source of this query' }, SOURCES.map(([v, label]) => h('option', { value: v }, label)));
    ownDs.value = src;
    ownDs.addEventListener('change', () => {
      t.datasource = { type: ownDs.value, uid: ownDs.value };
      render();
      hooks.runNow();
    });

    const fields: HTMLElement[] = [];
    const field = (label: string, control: HTMLElement, title?: string) => h('label', { class: 'ed-inline', title }, h('span', { class: 'faint' }, label), control);
    if (src === 'prometheus' || src === 'loki') {
      fields.push(
        field('Legend', text(t.legendFormat ?? '', (s) => setOpt('legendFormat', s), { class: 'ed-q-legend mono', placeholder: '{{label}} — auto', size: 18 }), 'Series name: {{label}} inserts a label value; empty = the labels'),
        field('Min step', text(t.interval ?? '', (s) => setOpt('interval', s), { class: 'ed-q-interval mono', placeholder: 'auto', size: 6 }), 'Lower bound of the step for this query'),
      );
      const type = h(
        'select',
        { class: 'ed-q-type' },
        h('option', { value: 'range' }, 'Range'),
        h('option', { value: 'instant' }, 'Instant'),
        src === 'prometheus' ? h('option', { value: 'both' }, 'Both') : null,
      );
      type.value = t.instant && t.range ? 'both' : t.instant ? 'instant' : 'range';
      type.addEventListener('change', () => {
        if (type.value === 'instant') {
          t.instant = true;
          t.range = false;
        } else if (type.value === 'both') {
          t.instant = true;
          t.range = true;
        } else {
          t.range = true;
          t.instant = false;
        }
        hooks.runNow();
      });
      fields.push(field('Type', type));
      if (src === 'prometheus') {
        const fmt = h('select', { class: 'ed-q-format' }, h('option', { value: 'time_series' }, 'Time series'), h('option', { value: 'table' }, 'Table'), h('option', { value: 'heatmap' }, 'Heatmap'));
        fmt.value = t.format ?? 'time_series';
        fmt.addEventListener('change', () => {
          setOpt('format', fmt.value === 'time_series' ? (t.format ? 'time_series' : '') : fmt.value);
          hooks.runNow();
        });
        fields.push(field('Format', fmt));
      } else {
        fields.push(field('Line limit', text(t.maxLines === undefined ? '' : String(t.maxLines), (s) => setOpt('maxLines', s ? Number(s) : ''), { class: 'mono', placeholder: '1000', size: 5 })));
      }
    } else if (src === 'elasticsearch') {
      fields.push(field('Alias', text(String(t.alias ?? ''), (s) => setOpt('alias', s), { class: 'mono', placeholder: 'auto', size: 14 })));
      fields.push(field('Time field', text(String(t.timeField ?? ''), (s) => setOpt('timeField', s), { class: 'mono', placeholder: '@timestamp', size: 12 })));
      fields.push(h('span', { class: 'faint' }, 'metrics and bucketAggs are kept from the JSON'));
    } else if (src === 'jaeger') {
      fields.push(field('Service', text(String(t.service ?? ''), (s) => setOpt('service', s), { class: 'mono', size: 12 })));
      fields.push(field('Operation', text(String(t.operation ?? ''), (s) => setOpt('operation', s), { class: 'mono', size: 12 })));
      fields.push(field('Tags', text(String(t.tags ?? ''), (s) => setOpt('tags', s), { class: 'mono', placeholder: 'http.status_code=500', size: 16 })));
      fields.push(field('Limit', text(String(t.limit ?? ''), (s) => setOpt('limit', s ? Number(s) : ''), { class: 'mono', placeholder: '20', size: 4 })));
    }

    return h(
      'div',
      { class: `ed-q-card ${t.hide ? 'hidden-target' : ''}`, dataset: { refid: t.refId ?? '' } },
      h(
        'div',
        { class: 'ed-q-card-head' },
        refId,
        panelSrc === MIXED ? ownDs : h('span', { class: 'faint' }, `(${SOURCES.find(([v]) => v === src)?.[1] ?? src})`),
        t.hide ? h('span', { class: 'badge badge-expired' }, 'hidden — not run') : null,
        h('span', { class: 'spacer' }),
        hideBtn,
        h(
          'button',
          {
            class: 'small ed-q-dup',
            title: 'Duplicate query',
            onclick: () => {
              const c = clone(t);
              c.refId = nextRefId(targets);
              targets.splice(i + 1, 0, c);
              render();
              hooks.runNow();
            },
          },
          'Duplicate',
        ),
        h(
          'button',
          {
            class: 'small icon danger ed-q-remove',
            title: 'Remove query',
            'aria-label': `Remove query ${t.refId ?? ''}`,
            onclick: () => {
              targets.splice(targets.indexOf(t), 1);
              render();
              hooks.runNow();
            },
          },
          '✕',
        ),
      ),
      expr,
      h('div', { class: 'ed-q-fields' }, fields),
    );
  };

  render();
  return { el, refresh: render };
}
