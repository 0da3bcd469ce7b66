/**
 * The time controls shared by dashboards and Explore: a range picker (Grafana's quick ranges,
 * absolute/relative from–to, time zone), zoom out, and an auto-refresh picker. The caller owns
 * the state (usually in the URL) and is told of every change.
 */
import { h } from '../lib/dom';
import { describeRange, parseTime, QUICK_RANGES, RawTimeRange, TimeZone } from '../lib/time';

export interface TimeControlsState {
  range: RawTimeRange;
  timeZone: TimeZone;
  /** Auto-refresh interval as Grafana writes it (`30s`), or '' for off. */
  refresh: string;
}

export const REFRESH_CHOICES = ['', '5s', '10s', '30s', '1m', '5m', '15m', '30m', '1h'];

export interface TimeControls {
  el: HTMLElement;
  set(state: TimeControlsState): void;
}

/** Builds the controls; `onChange` gets the whole new state, `onRefresh` a manual refresh click. */
export function timeControls(
  initial: TimeControlsState,
  onChange: (s: TimeControlsState) => void,
  onRefresh: () => void,
): TimeControls {
  let state = { ...initial };
  const rangeBtn = h('button', { class: 'time-range-btn', 'aria-haspopup': 'dialog', 'data-testid': 'time-range' });
  const refreshSel = h(
    'select',
    { class: 'refresh-select', title: 'Auto-refresh', 'data-testid': 'refresh-interval' },
    ...REFRESH_CHOICES.map((r) => h('option', { value: r }, r || 'Off')),
  );
  const render = () => {
    rangeBtn.textContent = `◷ ${describeRange(state.range, state.timeZone)}${state.timeZone === 'utc' ? ' UTC' : ''}`;
    refreshSel.value = REFRESH_CHOICES.includes(state.refresh) ? state.refresh : '';
  };
  refreshSel.addEventListener('change', () => {
    state = { ...state, refresh: refreshSel.value };
    onChange(state);
  });
  const zoomOut = h('button', {
    class: 'icon',
    title: 'Zoom out (time range × 2)',
    onclick: () => {
      const now = Date.now();
      const from = parseTime(state.range.from, false, now, state.timeZone);
      const to = parseTime(state.range.to, true, now, state.timeZone);
      if (from === undefined || to === undefined) return;
      const span = to - from;
      const newTo = state.range.to === 'now' ? 'now' : String(Math.min(now, to + span / 2));
      state = { ...state, range: { from: String(Math.round(from - span / 2)), to: newTo } };
      render();
      onChange(state);
    },
  }, '⊖');
  let pop: HTMLElement | undefined;
  const close = () => {
    pop?.remove();
    pop = undefined;
    document.removeEventListener('mousedown', outside);
  };
  const outside = (e: MouseEvent) => {
    if (pop && !pop.contains(e.target as Node) && e.target !== rangeBtn) close();
  };
  rangeBtn.addEventListener('click', () => {
    if (pop) return close();
    const fromIn = h('input', { value: state.range.from, 'data-testid': 'time-from', size: 22 });
    const toIn = h('input', { value: state.range.to, 'data-testid': 'time-to', size: 22 });
    const err = h('div', { class: 'error-inline' });
    const tzSel = h(
      'select',
      { 'data-testid': 'time-zone' },
      h('option', { value: 'browser' }, `Browser time (${Intl.DateTimeFormat().resolvedOptions().timeZone})`),
      h('option', { value: 'utc' }, 'UTC'),
    );
    tzSel.value = state.timeZone;
    const apply = (range: RawTimeRange) => {
      const now = Date.now();
      const tz = tzSel.value as TimeZone;
      const f = parseTime(range.from, false, now, tz);
      const t = parseTime(range.to, true, now, tz);
      if (f === undefined) return void (err.textContent = `Cannot read "${range.from}". Use now-6h, an ISO date or epoch ms.`);
      if (t === undefined) return void (err.textContent = `Cannot read "${range.to}".`);
      if (f >= t) return void (err.textContent = 'From must be before To.');
      state = { ...state, range, timeZone: tz };
      close();
      render();
      onChange(state);
    };
    pop = h(
      'div',
      { class: 'popover time-popover', role: 'dialog' },
      h(
        'div',
        { class: 'time-pop-cols' },
        h(
          'div',
          { class: 'time-abs' },
          h('h3', null, 'Time range'),
          h('label', { class: 'field' }, 'From', fromIn),
          h('label', { class: 'field' }, 'To', toIn),
          h('label', { class: 'field' }, 'Time zone', tzSel),
          err,
          h('button', { class: 'primary', 'data-testid': 'time-apply', onclick: () => apply({ from: fromIn.value.trim(), to: toIn.value.trim() }) }, 'Apply time range'),
        ),
        h(
          'div',
          { class: 'time-quick' },
          ...QUICK_RANGES.map((q) => h('button', { class: 'link-btn', onclick: () => apply({ from: q.from, to: q.to }) }, q.label)),
        ),
      ),
    );
    const r = rangeBtn.getBoundingClientRect();
    pop.style.top = `${r.bottom + window.scrollY + 4}px`;
    pop.style.left = `${Math.max(8, r.right - 460)}px`;
    document.body.append(pop);
    setTimeout(() => document.addEventListener('mousedown', outside));
  });
  render();
  const el = h(
    'div',
    { class: 'time-controls toolbar' },
    rangeBtn,
    zoomOut,
    h('button', { class: 'icon', title: 'Refresh now', 'data-testid': 'refresh-now', onclick: onRefresh }, '⟳'),
    refreshSel,
  );
  return {
    el,
    set(s) {
      state = { ...s };
      render();
    },
  };
}
