/**
 * The header control of an ad hoc filter variable: one chip per filter (`key op value`, × to
 * remove) and a "+" that opens a small form whose key and value suggestions come from the
 * label APIs (Prometheus' `/api/v1/labels` and `/api/v1/label/<key>/values`).
 */
import { promLabels, promLabelValues } from '../lib/api';
import { h } from '../lib/dom';
import { ADHOC_OPERATORS, filtersOf, type AdhocFilter } from './adhoc';
import type { TemplateVariable } from './contract';

let listSeq = 0;

/** The chips and the add form; `onChange` gets the new list of filters. */
export function adhocControl(v: TemplateVariable, range: { from: number; to: number }, onChange: (filters: AdhocFilter[]) => void): HTMLElement[] {
  const filters = filtersOf(v);
  const chips = filters.map((f, i) =>
    h(
      'span',
      { class: 'dash-adhoc-chip', 'data-testid': 'adhoc-filter' },
      h('span', { class: 'dash-adhoc-text' }, `${f.key} ${f.operator} ${f.value}`),
      h('button', { class: 'dash-adhoc-remove', title: 'Remove this filter', 'aria-label': `Remove filter ${f.key}`, onclick: () => onChange(filters.filter((_, j) => j !== i)) }, '×'),
    ),
  );
  const add = h('button', { class: 'dash-adhoc-add', title: 'Add a filter', 'aria-label': 'Add a filter', 'data-testid': 'adhoc-add' }, '+');
  add.addEventListener('click', () => openForm(add, range, (f) => onChange([...filters, f])));
  return [...chips, add];
}

function datalist(values: string[]): HTMLDataListElement {
  const id = `adhoc-list-${++listSeq}`;
  const el = h('datalist', { id }, ...values.slice(0, 1000).map((x) => h('option', { value: x }))) as HTMLDataListElement;
  return el;
}

function openForm(anchor: HTMLElement, range: { from: number; to: number }, onAdd: (f: AdhocFilter) => void) {
  document.querySelector('.dash-adhoc-form')?.remove();
  const startS = Math.floor(range.from / 1000);
  const endS = Math.ceil(range.to / 1000);
  const keys = datalist([]);
  const values = datalist([]);
  const key = h('input', { class: 'dash-adhoc-key', placeholder: 'label', list: keys.id, 'aria-label': 'Filter label', 'data-testid': 'adhoc-key', autocomplete: 'off' }) as HTMLInputElement;
  const op = h('select', { class: 'dash-adhoc-op', 'aria-label': 'Operator', 'data-testid': 'adhoc-op' }, ...ADHOC_OPERATORS.map((o) => h('option', { value: o }, o))) as HTMLSelectElement;
  const value = h('input', { class: 'dash-adhoc-value', placeholder: 'value', list: values.id, 'aria-label': 'Filter value', 'data-testid': 'adhoc-value', autocomplete: 'off' }) as HTMLInputElement;
  const error = h('div', { class: 'dash-adhoc-error', hidden: true });
  const ok = h('button', { class: 'primary small', type: 'submit', 'data-testid': 'adhoc-apply' }, 'Add filter');
  const form = h('form', { class: 'popover dash-adhoc-form' }, keys, values, key, op, value, ok, error) as HTMLFormElement;
  const close = () => {
    form.remove();
    document.removeEventListener('mousedown', outside, true);
  };
  const outside = (e: MouseEvent) => {
    if (!form.contains(e.target as Node) && e.target !== anchor) close();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const k = key.value.trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) {
      error.hidden = false;
      error.textContent = 'A label name is letters, digits and _ (not starting with a digit).';
      return;
    }
    close();
    onAdd({ key: k, operator: op.value, value: value.value });
  });
  form.addEventListener('keydown', (e) => e.key === 'Escape' && close());
  let loadedFor = '';
  const loadValues = () => {
    const k = key.value.trim();
    if (!k || k === loadedFor || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) return;
    loadedFor = k;
    promLabelValues(k, undefined, startS, endS)
      .then((vals) => values.replaceChildren(...vals.slice(0, 1000).map((x) => h('option', { value: x }))))
      .catch(() => values.replaceChildren());
  };
  key.addEventListener('change', loadValues);
  key.addEventListener('blur', loadValues);
  value.addEventListener('focus', loadValues);
  promLabels(undefined, startS, endS)
    .then((ks) => keys.replaceChildren(...ks.filter((k) => k !== '__name__').map((x) => h('option', { value: x }))))
    .catch(() => keys.replaceChildren());
  const r = anchor.getBoundingClientRect();
  form.style.top = `${r.bottom + window.scrollY + 4}px`;
  form.style.left = `${Math.max(8, r.left + window.scrollX)}px`;
  document.body.append(form);
  setTimeout(() => document.addEventListener('mousedown', outside, true));
  key.focus();
}
