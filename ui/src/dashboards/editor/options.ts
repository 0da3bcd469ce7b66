/**
 * The options pane of the panel editor (right side): visualization picker, panel options, and
 * Grafana's field config — unit (searchable), decimals, min/max, colour scheme, thresholds,
 * legend, graph styles and stacking, stat/gauge/bar gauge/table/text/logs options — and
 * overrides by name or regex (display name, unit, colour, …). A search box filters the fields.
 * Every edit writes into the panel copy and asks for a redraw; the JSON keys are Grafana's.
 */
import { h, replace } from '../../lib/dom';
import type { GrafanaPanel } from '../../panels/types';
import { NAMED_COLORS, REDUCER_NAMES, resolveColor } from '../../lib/fieldconfig';
import { formatted } from '../../lib/units';
import { searchUnits, unitName } from './units';

export interface OptionsHooks {
  changed: () => void;
  typeChanged: () => void;
  /** Series names of the last query run (override matchers). */
  seriesNames: () => string[];
  variables: () => string[];
}

export const PANEL_TYPES: [string, string, string][] = [
  ['timeseries', 'Time series', '∿'],
  ['stat', 'Stat', '42'],
  ['gauge', 'Gauge', '◔'],
  ['bargauge', 'Bar gauge', '▤'],
  ['table', 'Table', '▦'],
  ['heatmap', 'Heatmap', '▩'],
  ['logs', 'Logs', '≡'],
  ['text', 'Text', 'T'],
  ['piechart', 'Pie chart', '◕'],
  ['state-timeline', 'State timeline', '▭'],
  ['barchart', 'Bar chart', '▥'],
  ['histogram', 'Histogram', '▁▃▅'],
  ['graph', 'Graph (old)', '⌇'],
];

type Obj = Record<string, unknown>;

function getPath(o: Obj, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Obj)[k];
  }
  return cur;
}

/** Sets `a.b.c`; `undefined` deletes the key (so unset options stay out of the JSON). */
function setPath(o: Obj, path: string, value: unknown) {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== 'object' || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Obj;
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

const CALCS = ['lastNotNull', 'last', 'firstNotNull', 'first', 'mean', 'max', 'min', 'sum', 'count', 'range', 'delta', 'median'];
const COLOR_NAMES = ['green', 'semi-dark-green', 'yellow', 'orange', 'red', 'dark-red', 'blue', 'purple', 'text', 'transparent'];

export function optionsPane(panel: GrafanaPanel, hooks: OptionsHooks): { el: HTMLElement } {
  const el = h('div', { class: 'ed-options' });
  const search = h('input', { type: 'search', class: 'ed-opt-search', placeholder: 'Search options', 'aria-label': 'Search options' });
  const body = h('div', { class: 'ed-opt-body' });
  const p = panel as Obj;
  const collapsed = new Set<string>(['Overrides']);

  const changed = () => hooks.changed();

  // ---- controls ------------------------------------------------------------------------------
  const row = (label: string, control: HTMLElement | (HTMLElement | null)[], hint?: string) =>
    h('div', { class: 'ed-opt', dataset: { search: `${label} ${hint ?? ''}`.toLowerCase() } }, h('div', { class: 'ed-opt-label' }, label), control, hint ? h('div', { class: 'faint ed-opt-hint' }, hint) : null);

  const text = (label: string, path: string, attrs: Obj = {}, hint?: string) => {
    const v = getPath(p, path);
    const i = h('input', { type: 'text', value: v === undefined || v === null ? '' : String(v), ...attrs });
    i.addEventListener('input', () => {
      setPath(p, path, i.value === '' ? undefined : i.value);
      changed();
    });
    return row(label, i, hint);
  };
  const number = (label: string, path: string, attrs: Obj = {}, hint?: string) => {
    const v = getPath(p, path);
    const i = h('input', { type: 'number', value: typeof v === 'number' ? String(v) : '', placeholder: 'auto', ...attrs });
    i.addEventListener('input', () => {
      const n = i.value === '' ? undefined : Number(i.value);
      setPath(p, path, n === undefined || Number.isNaN(n) ? undefined : n);
      changed();
    });
    return row(label, i, hint);
  };
  const bool = (label: string, path: string, def: boolean, hint?: string) => {
    const v = getPath(p, path);
    const c = h('input', { type: 'checkbox', checked: typeof v === 'boolean' ? v : def });
    const state = h('span', null, c.checked ? 'On' : 'Off');
    c.addEventListener('change', () => {
      setPath(p, path, c.checked);
      state.textContent = c.checked ? 'On' : 'Off';
      changed();
    });
    return row(label, h('label', { class: 'ed-switch' }, c, state), hint);
  };
  const radio = (label: string, path: string, options: [unknown, string][], def: unknown, then?: () => void) => {
    const cur = getPath(p, path) ?? def;
    const group = h('div', { class: 'ed-seg', role: 'radiogroup', 'aria-label': label });
    const draw = (sel: unknown) =>
      replace(
        group,
        options.map(([val, name]) =>
          h(
            'button',
            {
              class: val === sel ? 'active' : '',
              role: 'radio',
              'aria-checked': String(val === sel),
              onclick: () => {
                setPath(p, path, val);
                draw(val);
                changed();
                then?.();
              },
            },
            name,
          ),
        ),
      );
    draw(cur);
    return row(label, group);
  };
  const select = (label: string, path: string, options: [string, string][], def: string, hint?: string) => {
    const s = h('select', null, options.map(([v, n]) => h('option', { value: v }, n)));
    s.value = String(getPath(p, path) ?? def);
    s.addEventListener('change', () => {
      setPath(p, path, s.value);
      changed();
    });
    return row(label, s, hint);
  };
  const slider = (label: string, path: string, min: number, max: number, step: number, def: number) => {
    const v = getPath(p, path);
    const cur = typeof v === 'number' ? v : def;
    const out = h('span', { class: 'ed-slider-val mono' }, String(cur));
    const r = h('input', { type: 'range', min, max, step, value: String(cur) });
    r.addEventListener('input', () => {
      setPath(p, path, Number(r.value));
      out.textContent = r.value;
      changed();
    });
    return row(label, h('div', { class: 'ed-slider' }, r, out));
  };
  const calcs = (label: string, path: string, single: boolean) => {
    const cur = (getPath(p, path) as string[] | undefined) ?? (single ? ['lastNotNull'] : []);
    if (single) {
      const s = h('select', { class: 'ed-opt-calc' }, CALCS.map((c) => h('option', { value: c }, REDUCER_NAMES[c] ?? c)));
      s.value = cur[0] ?? 'lastNotNull';
      s.addEventListener('change', () => {
        setPath(p, path, [s.value]);
        changed();
      });
      return row(label, s, 'How a series becomes one value');
    }
    const box = h('div', { class: 'ed-calcs' });
    for (const c of ['lastNotNull', 'mean', 'max', 'min', 'sum', 'last', 'first', 'count']) {
      const cb = h('input', { type: 'checkbox', checked: cur.includes(c) });
      cb.addEventListener('change', () => {
        const now = new Set((getPath(p, path) as string[] | undefined) ?? []);
        if (cb.checked) now.add(c);
        else now.delete(c);
        setPath(p, path, CALCS.filter((x) => now.has(x)).concat(['last', 'first', 'count'].filter((x) => now.has(x) && !CALCS.includes(x))));
        changed();
      });
      box.append(h('label', { class: 'ed-check' }, cb, ` ${REDUCER_NAMES[c] ?? c}`));
    }
    return row(label, box);
  };

  // ---- sections -----------------------------------------------------------------------------
  const section = (title: string, ...content: (HTMLElement | null | false)[]) => {
    const items = content.filter((c): c is HTMLElement => Boolean(c));
    const head = h('button', { class: 'ed-sec-head', 'aria-expanded': String(!collapsed.has(title)) }, h('span', { class: 'ed-sec-caret' }, collapsed.has(title) ? '▸' : '▾'), title);
    const inner = h('div', { class: 'ed-sec-body', hidden: collapsed.has(title) }, items);
    head.addEventListener('click', () => {
      if (collapsed.has(title)) collapsed.delete(title);
      else collapsed.add(title);
      inner.hidden = collapsed.has(title);
      head.setAttribute('aria-expanded', String(!inner.hidden));
      (head.firstChild as HTMLElement).textContent = inner.hidden ? '▸' : '▾';
    });
    return h('section', { class: 'ed-sec', dataset: { title: title.toLowerCase() } }, head, inner);
  };

  const typePicker = () => {
    const cur = panel.type || 'timeseries';
    return h(
      'div',
      { class: 'ed-types', role: 'radiogroup', 'aria-label': 'Visualization' },
      PANEL_TYPES.map(([id, name, icon]) =>
        h(
          'button',
          {
            class: `ed-type ${id === cur ? 'active' : ''}`,
            dataset: { type: id },
            role: 'radio',
            'aria-checked': String(id === cur),
            title: name,
            onclick: () => {
              panel.type = id;
              render();
              hooks.typeChanged();
            },
          },
          h('span', { class: 'ed-type-icon', 'aria-hidden': 'true' }, icon),
          h('span', null, name),
        ),
      ),
    );
  };

  const unitPicker = () => {
    const path = 'fieldConfig.defaults.unit';
    const input = h('input', { type: 'text', class: 'ed-unit-input mono', value: String(getPath(p, path) ?? ''), placeholder: 'Search units: bytes, seconds, percent…', autocomplete: 'off', 'aria-label': 'Unit' });
    const name = h('div', { class: 'faint ed-unit-name' });
    const list = h('div', { class: 'ed-unit-list', hidden: true, role: 'listbox' });
    const showName = () => {
      const u = String(getPath(p, path) ?? '');
      name.textContent = u ? `${unitName(u)} · 1234.5 → ${formatted(1234.5, u)} · 0.25 → ${formatted(0.25, u)}` : 'No unit: plain numbers';
    };
    const pick = (id: string) => {
      setPath(p, path, id || undefined);
      input.value = id;
      list.hidden = true;
      list.parentElement?.classList.remove('ed-popover-open');
      showName();
      changed();
    };
    const fill = () => {
      const q = input.value;
      const hits = searchUnits(q === String(getPath(p, path) ?? '') ? '' : q);
      const groups = new Map<string, { id: string; name: string }[]>();
      for (const x of hits) groups.set(x.group, [...(groups.get(x.group) ?? []), x]);
      replace(
        list,
        q && !hits.some((x) => x.id === q) ? h('button', { class: 'ed-unit-opt', role: 'option', onmousedown: (e: Event) => { e.preventDefault(); pick(q); } }, `Use custom unit "${q}"`) : null,
        [...groups.entries()].map(([g, units]) => [
          h('div', { class: 'ed-unit-group' }, g),
          units.map((u) =>
            h('button', { class: 'ed-unit-opt', role: 'option', dataset: { unit: u.id }, onmousedown: (e: Event) => { e.preventDefault(); pick(u.id); } }, u.name, h('span', { class: 'faint mono' }, ` ${u.id}`)),
          ),
        ]),
        hits.length ? null : h('div', { class: 'faint ed-unit-group' }, 'No unit matches; Enter uses the text as a custom suffix unit.'),
      );
    };
    input.addEventListener('focus', () => {
      fill();
      list.hidden = false;
      list.parentElement?.classList.add('ed-popover-open');
    });
    input.addEventListener('input', () => {
      fill();
      list.hidden = false;
      list.parentElement?.classList.add('ed-popover-open');
    });
    input.addEventListener('blur', () => {
      list.hidden = true;
      list.parentElement?.classList.remove('ed-popover-open');
      const v = input.value.trim();
      if (v !== String(getPath(p, path) ?? '')) pick(v);
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        const first = list.querySelector('.ed-unit-opt[data-unit]') as HTMLElement | null;
        const exact = searchUnits('').find((u) => u.id === input.value.trim());
        pick(exact ? exact.id : first && input.value.trim() ? first.dataset.unit ?? input.value.trim() : input.value.trim());
        input.blur();
      } else if (e.key === 'Escape') {
        e.stopPropagation();
        input.value = String(getPath(p, path) ?? '');
        input.blur();
      }
    });
    showName();
    return row('Unit', h('div', { class: 'ed-unit' }, input, list, name));
  };

  const colorPicker = (value: string, on: (c: string) => void, label: string): HTMLElement => {
    const sw = h('span', { class: 'ed-swatch' });
    const sel = h('select', { class: 'ed-color-sel', 'aria-label': label }, COLOR_NAMES.map((c) => h('option', { value: c }, c)), h('option', { value: '#custom' }, 'custom…'));
    const hex = h('input', { type: 'color', class: 'ed-color-hex', 'aria-label': `${label} (custom)` });
    const show = (c: string) => {
      sw.style.background = resolveColor(c, 'transparent');
      if (COLOR_NAMES.includes(c)) {
        sel.value = c;
        hex.hidden = true;
      } else {
        if (c in NAMED_COLORS) sel.append(h('option', { value: c }, c));
        sel.value = c in NAMED_COLORS ? c : '#custom';
        const r = resolveColor(c, '#5794f2');
        hex.value = /^#[0-9a-f]{6}$/i.test(r) ? r : '#5794f2';
        hex.hidden = sel.value !== '#custom';
      }
    };
    sel.addEventListener('change', () => {
      if (sel.value === '#custom') {
        hex.hidden = false;
        on(hex.value);
        show(hex.value);
      } else {
        on(sel.value);
        show(sel.value);
      }
    });
    hex.addEventListener('input', () => {
      on(hex.value);
      sw.style.background = hex.value;
    });
    show(value);
    return h('span', { class: 'ed-color' }, sw, sel, hex);
  };

  const thresholds = () => {
    const path = 'fieldConfig.defaults.thresholds';
    const t = (getPath(p, path) as { mode?: string; steps?: { value: number | null; color: string }[] } | undefined) ?? {
      mode: 'absolute',
      steps: [
        { value: null, color: 'green' },
        { value: 80, color: 'red' },
      ],
    };
    const box = h('div', { class: 'ed-thresholds' });
    const save = () => {
      setPath(p, path, { mode: t.mode ?? 'absolute', steps: t.steps });
      changed();
    };
    const draw = () => {
      const steps = t.steps ?? [];
      // Grafana lists the highest step first; "Base" (value null) is always last.
      const order = steps.map((s, i) => ({ s, i })).sort((a, b) => (b.s.value ?? -Infinity) - (a.s.value ?? -Infinity));
      replace(
        box,
        h(
          'button',
          {
            class: 'small ed-th-add',
            onclick: () => {
              const max = steps.reduce((m, s) => (s.value !== null && s.value > m ? s.value : m), 0);
              const used = new Set(steps.map((x) => x.color));
              const color = ['red', 'orange', 'yellow', 'purple', 'blue', 'dark-red'].find((c) => !used.has(c)) ?? 'red';
              steps.push({ value: steps.length > 1 ? max + 10 : 80, color });
              t.steps = steps;
              save();
              draw();
            },
          },
          '+ Add threshold',
        ),
        order.map(({ s }) =>
          h(
            'div',
            { class: 'ed-th-step' },
            colorPicker(s.color, (c) => {
              s.color = c;
              save();
            }, 'Threshold colour'),
            s.value === null
              ? h('span', { class: 'ed-th-base' }, 'Base')
              : (() => {
                  const i = h('input', { type: 'number', class: 'ed-th-value', value: String(s.value), 'aria-label': 'Threshold value' });
                  i.addEventListener('change', () => {
                    const v = i.value === '' ? 0 : Number(i.value);
                    if (v === s.value || Number.isNaN(v)) return;
                    s.value = v;
                    save();
                    // Re-sorted after this event: redrawing inside it would remove the
                    // element that is firing it (its blur fires change again).
                    setTimeout(draw);
                  });
                  return i;
                })(),
            s.value === null
              ? null
              : h(
                  'button',
                  {
                    class: 'small icon ed-th-del',
                    title: 'Remove this threshold',
                    onclick: () => {
                      t.steps = steps.filter((x) => x !== s);
                      save();
                      draw();
                    },
                  },
                  '✕',
                ),
          ),
        ),
      );
    };
    draw();
    const mode = h('div', { class: 'ed-seg', role: 'radiogroup', 'aria-label': 'Thresholds mode' });
    const drawMode = () =>
      replace(
        mode,
        (
          [
            ['absolute', 'Absolute'],
            ['percentage', 'Percentage'],
          ] as [string, string][]
        ).map(([m, n]) =>
          h(
            'button',
            {
              class: (t.mode ?? 'absolute') === m ? 'active' : '',
              onclick: () => {
                t.mode = m;
                save();
                drawMode();
              },
            },
            n,
          ),
        ),
      );
    drawMode();
    return [row('Steps', box, 'Colour per value range; the base applies below every step'), row('Thresholds mode', mode, 'Percentage: relative to min/max')];
  };

  const overrides = () => {
    const list = (((p.fieldConfig as Obj | undefined)?.overrides as Obj[] | undefined) ?? []) as {
      matcher: { id: string; options?: unknown };
      properties: { id: string; value?: unknown }[];
    }[];
    const box = h('div', { class: 'ed-overrides' });
    const save = () => {
      setPath(p, 'fieldConfig.overrides', list);
      if (!p.fieldConfig || !(p.fieldConfig as Obj).defaults) setPath(p, 'fieldConfig.defaults', {});
      changed();
    };
    const PROPS: [string, string][] = [
      ['displayName', 'Display name'],
      ['unit', 'Unit'],
      ['color', 'Colour'],
      ['decimals', 'Decimals'],
      ['min', 'Min'],
      ['max', 'Max'],
      ['custom.fillOpacity', 'Fill opacity'],
      ['custom.lineWidth', 'Line width'],
      ['custom.axisPlacement', 'Axis placement'],
      ['custom.hideFrom', 'Hide in area'],
    ];
    const propEditor = (prop: { id: string; value?: unknown }): HTMLElement => {
      const setV = (v: unknown) => {
        prop.value = v;
        save();
      };
      switch (prop.id) {
        case 'color': {
          const c = (prop.value as { fixedColor?: string } | undefined)?.fixedColor ?? 'red';
          if (!prop.value) prop.value = { mode: 'fixed', fixedColor: c };
          return colorPicker(c, (x) => setV({ mode: 'fixed', fixedColor: x }), 'Override colour');
        }
        case 'decimals':
        case 'min':
        case 'max':
        case 'custom.fillOpacity':
        case 'custom.lineWidth': {
          const i = h('input', { type: 'number', class: 'ed-ov-value', value: typeof prop.value === 'number' ? String(prop.value) : '' });
          i.addEventListener('input', () => setV(i.value === '' ? undefined : Number(i.value)));
          return i;
        }
        case 'custom.axisPlacement': {
          const s = h('select', null, ['auto', 'left', 'right', 'hidden'].map((v) => h('option', { value: v }, v)));
          s.value = String(prop.value ?? 'auto');
          if (prop.value === undefined) prop.value = 'auto';
          s.addEventListener('change', () => setV(s.value));
          return s;
        }
        case 'custom.hideFrom': {
          const v = (prop.value as { legend?: boolean; tooltip?: boolean; viz?: boolean } | undefined) ?? { legend: false, tooltip: false, viz: false };
          prop.value = v;
          return h(
            'span',
            { class: 'ed-calcs' },
            (['legend', 'tooltip', 'viz'] as const).map((k) => {
              const cb = h('input', { type: 'checkbox', checked: Boolean(v[k]) });
              cb.addEventListener('change', () => {
                v[k] = cb.checked;
                setV(v);
              });
              return h('label', { class: 'ed-check' }, cb, ` ${k}`);
            }),
          );
        }
        default: {
          const i = h('input', { type: 'text', class: `ed-ov-value ${prop.id === 'unit' ? 'mono' : ''}`, value: prop.value === undefined ? '' : String(prop.value), placeholder: prop.id === 'unit' ? 'e.g. bytes, s, percent' : '' });
          i.addEventListener('input', () => setV(i.value === '' ? undefined : i.value));
          if (prop.id === 'unit') i.title = 'A Grafana unit id';
          return i;
        }
      }
    };
    const draw = () => {
      const names = hooks.seriesNames();
      replace(
        box,
        list.map((ov, oi) => {
          const matcher = h(
            'select',
            { class: 'ed-ov-matcher', 'aria-label': 'Match fields' },
            h('option', { value: 'byName' }, 'Fields with name'),
            h('option', { value: 'byRegexp' }, 'Fields with name matching regex'),
            h('option', { value: 'byFrameRefID' }, 'Fields returned by query'),
            h('option', { value: 'byType' }, 'Fields with type'),
          );
          matcher.value = ov.matcher.id;
          matcher.addEventListener('change', () => {
            ov.matcher = { id: matcher.value, options: '' };
            save();
            draw();
          });
          const dl = `ed-ov-names-${oi}`;
          const opt = h('input', { type: 'text', class: 'ed-ov-name mono', list: dl, value: String(ov.matcher.options ?? ''), placeholder: ov.matcher.id === 'byRegexp' ? '/5xx|error/' : ov.matcher.id === 'byFrameRefID' ? 'A' : 'series name' });
          opt.addEventListener('input', () => {
            ov.matcher.options = opt.value;
            save();
          });
          const addProp = h('select', { class: 'ed-ov-addprop', 'aria-label': 'Add override property' }, h('option', { value: '' }, '+ Add property'), PROPS.map(([id, n]) => h('option', { value: id }, n)));
          addProp.addEventListener('change', () => {
            if (!addProp.value) return;
            ov.properties.push({ id: addProp.value });
            save();
            draw();
          });
          return h(
            'div',
            { class: 'ed-ov card' },
            h(
              'div',
              { class: 'ed-ov-head' },
              h('strong', null, `Override ${oi + 1}`),
              h('span', { class: 'spacer' }),
              h('button', { class: 'small icon ed-ov-del', title: 'Remove override', onclick: () => { list.splice(oi, 1); save(); draw(); } }, '✕'),
            ),
            matcher,
            opt,
            h('datalist', { id: dl }, names.map((n) => h('option', { value: n }))),
            ov.properties.map((prop, pi) =>
              h(
                'div',
                { class: 'ed-ov-prop' },
                h('span', { class: 'ed-ov-prop-name' }, PROPS.find(([id]) => id === prop.id)?.[1] ?? prop.id),
                propEditor(prop),
                h('button', { class: 'small icon', title: 'Remove property', onclick: () => { ov.properties.splice(pi, 1); save(); draw(); } }, '✕'),
              ),
            ),
            addProp,
          );
        }),
        h(
          'button',
          {
            class: 'ed-ov-add',
            onclick: () => {
              list.push({ matcher: { id: 'byName', options: names[0] ?? '' }, properties: [] });
              save();
              draw();
            },
          },
          '+ Add field override',
        ),
      );
    };
    draw();
    return h('div', { class: 'ed-opt', dataset: { search: 'override display name unit colour color regex' } }, box);
  };

  // ---- per type -----------------------------------------------------------------------------
  const render = () => {
    const type = panel.type || 'timeseries';
    const isTS = type === 'timeseries' || type === 'graph';
    const reduceTypes = ['stat', 'gauge', 'bargauge', 'piechart'];
    const hasFields = !['text', 'logs'].includes(type);
    const vars = hooks.variables();
    const sections: (HTMLElement | null)[] = [
      section('Visualization', typePicker()),
      section(
        'Panel options',
        text('Title', 'title', { class: 'ed-opt-title' }),
        (() => {
          const ta = h('textarea', { rows: 2, class: 'ed-opt-desc', value: String(panel.description ?? '') });
          ta.style.fontFamily = 'inherit';
          ta.addEventListener('input', () => {
            setPath(p, 'description', ta.value || undefined);
            changed();
          });
          return row('Description', ta, 'Shown as the panel\'s (i) tooltip');
        })(),
        bool('Transparent background', 'transparent', false),
        vars.length ? select('Repeat by variable', 'repeat', [['', '— no repeat —'], ...vars.map((v): [string, string] => [v, `$${v}`])], '', 'One panel per selected value') : null,
      ),
      type === 'text'
        ? section(
            'Text',
            radio('Mode', 'options.mode', [['markdown', 'Markdown'], ['html', 'HTML'], ['code', 'Code']], 'markdown'),
            (() => {
              const ta = h('textarea', { rows: 10, class: 'ed-opt-content', value: String(getPath(p, 'options.content') ?? '') });
              ta.addEventListener('input', () => {
                setPath(p, 'options.content', ta.value);
                changed();
              });
              return row('Content', ta, 'HTML is sanitised: no scripts or event handlers run');
            })(),
          )
        : null,
      type === 'logs'
        ? section(
            'Logs',
            bool('Time', 'options.showTime', true),
            bool('Unique labels', 'options.showLabels', false),
            bool('Wrap lines', 'options.wrapLogMessage', false),
            bool('Enable log details', 'options.enableLogDetails', true),
            radio('Order', 'options.sortOrder', [['Descending', 'Newest first'], ['Ascending', 'Oldest first']], 'Descending'),
            select('Deduplication', 'options.dedupStrategy', [['none', 'None'], ['exact', 'Exact'], ['numbers', 'Numbers'], ['signature', 'Signature']], 'none'),
          )
        : null,
      isTS || type === 'piechart' || type === 'barchart' || type === 'state-timeline' || type === 'histogram'
        ? section(
            'Legend',
            bool('Visibility', 'options.legend.showLegend', true),
            radio('Mode', 'options.legend.displayMode', [['list', 'List'], ['table', 'Table'], ['hidden', 'Hidden']], 'list'),
            radio('Placement', 'options.legend.placement', [['bottom', 'Bottom'], ['right', 'Right']], 'bottom'),
            calcs('Values', 'options.legend.calcs', false),
          )
        : null,
      isTS || type === 'piechart' || type === 'barchart' || type === 'state-timeline'
        ? section('Tooltip', radio('Tooltip mode', 'options.tooltip.mode', [['single', 'Single'], ['multi', 'All'], ['none', 'Hidden']], 'single'))
        : null,
      isTS
        ? section(
            'Graph styles',
            radio('Style', 'fieldConfig.defaults.custom.drawStyle', [['line', 'Lines'], ['bars', 'Bars'], ['points', 'Points']], 'line'),
            radio('Line interpolation', 'fieldConfig.defaults.custom.lineInterpolation', [['linear', 'Linear'], ['smooth', 'Smooth'], ['stepBefore', 'Step before'], ['stepAfter', 'Step after']], 'linear'),
            slider('Line width', 'fieldConfig.defaults.custom.lineWidth', 0, 10, 1, 1),
            slider('Fill opacity', 'fieldConfig.defaults.custom.fillOpacity', 0, 100, 1, 0),
            radio('Gradient mode', 'fieldConfig.defaults.custom.gradientMode', [['none', 'None'], ['opacity', 'Opacity'], ['hue', 'Hue'], ['scheme', 'Scheme']], 'none'),
            radio('Show points', 'fieldConfig.defaults.custom.showPoints', [['auto', 'Auto'], ['always', 'Always'], ['never', 'Never']], 'auto'),
            slider('Point size', 'fieldConfig.defaults.custom.pointSize', 1, 20, 1, 5),
            radio('Stack series', 'fieldConfig.defaults.custom.stacking.mode', [['none', 'Off'], ['normal', 'Normal'], ['percent', '100%']], 'none'),
            radio('Connect null values', 'fieldConfig.defaults.custom.spanNulls', [[false, 'Never'], [true, 'Always']], false),
            radio('Axis placement', 'fieldConfig.defaults.custom.axisPlacement', [['auto', 'Auto'], ['left', 'Left'], ['right', 'Right'], ['hidden', 'Hidden']], 'auto'),
            text('Axis label', 'fieldConfig.defaults.custom.axisLabel'),
            radio('Scale', 'fieldConfig.defaults.custom.scaleDistribution.type', [['linear', 'Linear'], ['log', 'Logarithmic']], 'linear'),
            radio('Show thresholds', 'fieldConfig.defaults.custom.thresholdsStyle.mode', [['off', 'Off'], ['line', 'As lines'], ['area', 'As filled regions'], ['line+area', 'Both']], 'off'),
          )
        : null,
      reduceTypes.includes(type)
        ? section(
            'Value options',
            calcs('Calculation', 'options.reduceOptions.calcs', true),
            text('Fields', 'options.reduceOptions.fields', { placeholder: 'Numeric fields' }, 'Empty = every numeric field; /regex/ to pick'),
          )
        : null,
      type === 'stat'
        ? section(
            'Stat styles',
            radio('Orientation', 'options.orientation', [['auto', 'Auto'], ['horizontal', 'Horizontal'], ['vertical', 'Vertical']], 'auto'),
            radio('Text mode', 'options.textMode', [['auto', 'Auto'], ['value', 'Value'], ['value_and_name', 'Value and name'], ['name', 'Name'], ['none', 'None']], 'auto'),
            radio('Color mode', 'options.colorMode', [['value', 'Value'], ['background', 'Background gradient'], ['background_solid', 'Background solid'], ['none', 'None']], 'value'),
            radio('Graph mode', 'options.graphMode', [['area', 'Area'], ['none', 'None']], 'area'),
            radio('Text alignment', 'options.justifyMode', [['auto', 'Auto'], ['center', 'Center']], 'auto'),
          )
        : null,
      type === 'gauge'
        ? section('Gauge', bool('Show threshold labels', 'options.showThresholdLabels', false), bool('Show threshold markers', 'options.showThresholdMarkers', true))
        : null,
      type === 'bargauge'
        ? section(
            'Bar gauge',
            radio('Orientation', 'options.orientation', [['auto', 'Auto'], ['horizontal', 'Horizontal'], ['vertical', 'Vertical']], 'auto'),
            radio('Display mode', 'options.displayMode', [['gradient', 'Gradient'], ['lcd', 'Retro LCD'], ['basic', 'Basic']], 'gradient'),
            bool('Show unfilled area', 'options.showUnfilled', true),
          )
        : null,
      type === 'piechart' ? section('Pie chart', radio('Pie chart type', 'options.pieType', [['pie', 'Pie'], ['donut', 'Donut']], 'pie')) : null,
      type === 'table'
        ? section(
            'Table',
            bool('Show table header', 'options.showHeader', true),
            radio('Cell type', 'fieldConfig.defaults.custom.cellOptions.type', [['auto', 'Auto'], ['color-text', 'Colored text'], ['color-background', 'Colored background'], ['gauge', 'Gauge']], 'auto'),
            radio('Column alignment', 'fieldConfig.defaults.custom.align', [['auto', 'Auto'], ['left', 'Left'], ['center', 'Center'], ['right', 'Right']], 'auto'),
          )
        : null,
      type === 'state-timeline'
        ? section(
            'State timeline',
            bool('Merge equal consecutive values', 'options.mergeValues', true),
            radio('Show values', 'options.showValue', [['auto', 'Auto'], ['always', 'Always'], ['never', 'Never']], 'auto'),
            slider('Row height', 'options.rowHeight', 0, 1, 0.05, 0.9),
          )
        : null,
      hasFields
        ? section(
            'Standard options',
            unitPicker(),
            h('div', { class: 'ed-row2' }, number('Min', 'fieldConfig.defaults.min'), number('Max', 'fieldConfig.defaults.max')),
            number('Decimals', 'fieldConfig.defaults.decimals', { min: 0, max: 20, step: 1 }),
            text('Display name', 'fieldConfig.defaults.displayName', { placeholder: '${__field.labels.job}' }, 'Overrides the series name; ${__field.labels.x} inserts a label'),
            select(
              'Color scheme',
              'fieldConfig.defaults.color.mode',
              [
                ['palette-classic', 'Classic palette'],
                ['thresholds', 'From thresholds (by value)'],
                ['fixed', 'Single color'],
                ['continuous-GrYlRd', 'Green-Yellow-Red (by value)'],
                ['continuous-RdYlGr', 'Red-Yellow-Green (by value)'],
                ['continuous-BlPu', 'Blue-Purple (by value)'],
                ['continuous-greens', 'Greens (by value)'],
                ['continuous-blues', 'Blues (by value)'],
              ],
              isTS ? 'palette-classic' : 'thresholds',
            ),
            row('Fixed color', colorPicker(String(getPath(p, 'fieldConfig.defaults.color.fixedColor') ?? 'green'), (c) => { setPath(p, 'fieldConfig.defaults.color.fixedColor', c); changed(); }, 'Fixed colour'), 'Used by "Single color"'),
            text('No value', 'fieldConfig.defaults.noValue', { placeholder: 'No data' }, 'Shown when there is no value'),
          )
        : null,
      hasFields ? section('Thresholds', ...thresholds()) : null,
      hasFields ? section('Overrides', overrides()) : null,
    ];
    replace(body, sections);
    applySearch();
  };

  const applySearch = () => {
    const q = search.value.trim().toLowerCase();
    for (const sec of body.querySelectorAll<HTMLElement>('.ed-sec')) {
      let any = false;
      const inner = sec.querySelector<HTMLElement>('.ed-sec-body');
      for (const opt of sec.querySelectorAll<HTMLElement>('.ed-opt')) {
        const hit = !q || (opt.dataset.search ?? '').includes(q) || (sec.dataset.title ?? '').includes(q);
        opt.hidden = !hit;
        any ||= hit;
      }
      if (sec.dataset.title === 'visualization') any = !q || 'visualization type'.includes(q);
      sec.hidden = !any;
      if (q && inner) inner.hidden = false;
      else if (inner) inner.hidden = collapsed.has(sec.querySelector('.ed-sec-head')?.textContent?.slice(1) ?? '');
    }
  };
  search.addEventListener('input', applySearch);

  el.append(search, body);
  render();
  return { el };
}
