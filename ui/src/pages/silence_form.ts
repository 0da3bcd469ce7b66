/**
 * The silence editor (`/alerts/silences/new?matcher=alertname%3DX&…`, `?id=` to edit): matchers,
 * start, duration/end, creator (remembered), comment, a live preview of the alerts it would
 * silence, and `POST /api/v2/silences` in Alertmanager's JSON shape. Also the Alertmanager
 * types and matcher logic the alerts and silences tabs share.
 */
import './pages.css';
import { h, message, replace, debounce } from '../lib/dom';
import { ApiError, request, type Labels } from '../lib/api';
import { formatDateTime, formatDuration, parseDuration } from '../lib/time';
import { navigate } from '../lib/router';
import { failure, labelChips } from './status';

// ---- Alertmanager API v2 shapes ----------------------------------------------------------------

export interface AmMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

export interface Silence {
  id: string;
  matchers: AmMatcher[];
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

export interface AmAlert {
  labels: Labels;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  fingerprint: string;
  receivers?: { name: string }[];
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
  generatorURL?: string;
}

export const OPS = ['=', '!=', '=~', '!~'] as const;
export type Op = (typeof OPS)[number];

export function opOf(m: AmMatcher): Op {
  const eq = m.isEqual !== false;
  return m.isRegex ? (eq ? '=~' : '!~') : eq ? '=' : '!=';
}

export function matcherText(m: AmMatcher): string {
  return `${m.name}${opOf(m)}"${m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function toMatcher(name: string, op: Op, value: string): AmMatcher {
  return { name, value, isRegex: op === '=~' || op === '!~', isEqual: op === '=' || op === '=~' };
}

/** Parses `name=value`, `name!~"re"` (a URL `matcher` parameter or a filter token). */
export function parseMatcher(s: string): AmMatcher | undefined {
  const m = s.trim().match(/^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*)$/);
  if (!m) return undefined;
  let v = m[3].trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
  return toMatcher(m[1], m[2] as Op, v);
}

/** Alertmanager semantics: regexes are anchored, a missing label is the empty string. */
export function matches(m: AmMatcher, labels: Labels): boolean {
  const v = labels[m.name] ?? '';
  let hit: boolean;
  if (m.isRegex) {
    try {
      hit = new RegExp(`^(?:${m.value})$`).test(v);
    } catch {
      return false;
    }
  } else hit = v === m.value;
  return m.isEqual === false ? !hit : hit;
}

export function matchesAll(ms: AmMatcher[], labels: Labels): boolean {
  return ms.length > 0 && ms.every((m) => matches(m, labels));
}

export function fetchAmAlerts(): Promise<AmAlert[]> {
  return request<AmAlert[]>('/api/v2/alerts');
}

export function fetchSilences(): Promise<Silence[]> {
  return request<Silence[]>('/api/v2/silences');
}

/** Alertmanager's API answers errors as a bare JSON string; strip the quotes. */
export function amError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (msg.startsWith('"') && msg.endsWith('"')) {
    try {
      return JSON.parse(msg) as string;
    } catch {
      return msg;
    }
  }
  return msg;
}

/** `/alerts/silences/new` prefilled from labels. */
export function newSilenceHref(labels: Labels, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(labels)) p.append('matcher', `${k}=${v}`);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return `/alerts/silences/new?${p}`;
}

// ---- the form ----------------------------------------------------------------------------------

const CREATOR_KEY = 'pharos.silence.createdBy';

interface Row {
  name: HTMLInputElement;
  op: HTMLSelectElement;
  value: HTMLInputElement;
  el: HTMLElement;
}

function toLocalInput(ms: number): string {
  // "YYYY-MM-DD HH:MM:SS" in the browser's zone (readable, and parsed back by parseLocal).
  return formatDateTime(ms);
}

function parseLocal(s: string): number | undefined {
  const t = s.trim();
  if (!t) return undefined;
  if (t === 'now') return Date.now();
  const m = t.match(/^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/);
  if (m) return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0)).getTime();
  const p = Date.parse(t);
  return Number.isNaN(p) ? undefined : p;
}

/** Draws the silence form into `root`; returns a cleanup function. */
export function silenceForm(root: HTMLElement, query: URLSearchParams): () => void {
  const editId = query.get('id') ?? '';
  /** The edited silence's start as shown and as stored (ms precision), to send it back unchanged. */
  let origStart: { text: string; iso: string } | undefined;
  const rowsEl = h('div', { class: 'matcher-rows' });
  const rows: Row[] = [];
  const errors = h('div', { class: 'form-errors', role: 'alert' });
  const preview = h('div', { class: 'silence-preview' });
  let alerts: AmAlert[] | undefined;
  let alertsError: unknown;

  const now = Date.now();
  const start = h('input', { type: 'text', name: 'startsAt', value: toLocalInput(now), class: 'mono', 'aria-label': 'Start' });
  const duration = h('input', { type: 'text', name: 'duration', value: query.get('duration') ?? '2h', class: 'mono', 'aria-label': 'Duration', placeholder: '2h, 30m, 1d' });
  const end = h('input', { type: 'text', name: 'endsAt', value: '', class: 'mono', 'aria-label': 'End' });
  const creator = h('input', { type: 'text', name: 'createdBy', value: query.get('createdBy') ?? localStorage.getItem(CREATOR_KEY) ?? '', placeholder: 'your name or team', 'aria-label': 'Creator' });
  const comment = h('textarea', { name: 'comment', rows: 3, placeholder: 'Why is this silenced? Link the incident or ticket.', 'aria-label': 'Comment' }, query.get('comment') ?? '');
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'silence-submit' }, editId ? 'Update silence' : 'Create silence');

  const syncEnd = () => {
    const s = parseLocal(start.value);
    const d = parseDuration(duration.value);
    if (s !== undefined && d !== undefined) end.value = toLocalInput(s + d);
  };
  const syncDuration = () => {
    const s = parseLocal(start.value);
    const e = parseLocal(end.value);
    if (s !== undefined && e !== undefined && e > s) {
      // Seconds are noise in a long silence (the server moves a past start to its own now).
      const d = e - s > 600_000 ? Math.round((e - s) / 60_000) * 60_000 : e - s;
      duration.value = formatDuration(d);
    }
  };
  start.addEventListener('input', syncEnd);
  duration.addEventListener('input', syncEnd);
  end.addEventListener('input', syncDuration);
  syncEnd();

  const refreshPreview = debounce(drawPreview, 250);

  function addRow(m?: AmMatcher) {
    const name = h('input', { type: 'text', class: 'mono m-name', value: m?.name ?? '', placeholder: 'label', 'aria-label': 'Label name', oninput: refreshPreview });
    const op = h('select', { class: 'm-op', 'aria-label': 'Operator', onchange: refreshPreview }, OPS.map((o) => h('option', { value: o }, o)));
    op.value = m ? opOf(m) : '=';
    const value = h('input', { type: 'text', class: 'mono m-value', value: m?.value ?? '', placeholder: 'value', 'aria-label': 'Label value', oninput: refreshPreview });
    const row: Row = { name, op, value, el: h('div') };
    row.el = h('div', { class: 'matcher-row' }, name, op, value,
      h('button', {
        type: 'button',
        class: 'icon',
        title: 'Remove this matcher',
        'aria-label': 'Remove matcher',
        onclick: () => {
          rows.splice(rows.indexOf(row), 1);
          row.el.remove();
          if (!rows.length) addRow();
          refreshPreview();
        },
      }, '✕'));
    rows.push(row);
    rowsEl.append(row.el);
  }

  function currentMatchers(): AmMatcher[] {
    return rows.filter((r) => r.name.value.trim()).map((r) => toMatcher(r.name.value.trim(), r.op.value as Op, r.value.value));
  }

  function drawPreview() {
    const ms = currentMatchers();
    if (alertsError) {
      replace(preview, failure('the alerts for the preview', alertsError));
      return;
    }
    if (!alerts) {
      replace(preview, message('loading', 'Loading alerts'));
      return;
    }
    if (!ms.length) {
      replace(preview, message('empty', 'Add a matcher to see which alerts this silence would affect.'));
      return;
    }
    const hit = alerts.filter((a) => matchesAll(ms, a.labels));
    replace(preview,
      h('div', { class: 'preview-count', 'data-testid': 'preview-count' }, hit.length === 1 ? '1 alert matches now' : `${hit.length} alerts match now`),
      hit.length
        ? h('ul', { class: 'plain-list' }, hit.slice(0, 50).map((a) =>
            h('li', null,
              h('span', { class: `badge badge-${a.status.state === 'suppressed' ? 'suppressed' : 'firing'}` }, a.status.state === 'suppressed' ? 'silenced' : 'firing'),
              ' ', labelChips(a.labels)),
          ))
        : h('div', { class: 'dim' }, 'No current alert matches; the silence still applies to alerts that fire later.'),
    );
  }

  function validate(): { errors: string[]; body?: Record<string, unknown> } {
    const errs: string[] = [];
    const ms = currentMatchers();
    if (!ms.length) errs.push('Add at least one matcher (label name and value).');
    for (const m of ms) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m.name)) errs.push(`"${m.name}" is not a valid label name.`);
      if (m.isRegex) {
        try {
          new RegExp(m.value);
        } catch (e) {
          errs.push(`The regex for ${m.name} does not compile: ${(e as Error).message}`);
        }
      }
    }
    if (ms.length && ms.every((m) => matches(m, {}))) errs.push('At least one matcher must not match the empty string, or the silence would silence everything.');
    const s = parseLocal(start.value);
    const e = parseLocal(end.value);
    if (s === undefined) errs.push(`Cannot read the start time "${start.value}" (use YYYY-MM-DD HH:MM:SS).`);
    if (e === undefined) errs.push(`Cannot read the end time "${end.value}" (use YYYY-MM-DD HH:MM:SS or a duration).`);
    if (s !== undefined && e !== undefined && e <= s) errs.push('The end must be after the start.');
    if (e !== undefined && e <= Date.now()) errs.push('The end is in the past; the silence would expire at once.');
    if (!creator.value.trim()) errs.push('Say who creates the silence (creator).');
    if (!comment.value.trim()) errs.push('A comment is required: say why the alerts are silenced.');
    if (errs.length) return { errors: errs };
    return {
      errors: [],
      body: {
        ...(editId ? { id: editId } : {}),
        matchers: ms.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual !== false })),
        startsAt: origStart && origStart.text === start.value.trim() ? origStart.iso : new Date(s as number).toISOString(),
        endsAt: new Date(e as number).toISOString(),
        createdBy: creator.value.trim(),
        comment: comment.value.trim(),
      },
    };
  }

  const form = h('form', {
    class: 'silence-form card',
    novalidate: true,
    onsubmit: async (ev: Event) => {
      ev.preventDefault();
      const v = validate();
      if (v.errors.length) {
        replace(errors, h('ul', null, v.errors.map((e) => h('li', null, e))));
        return;
      }
      replace(errors);
      submit.disabled = true;
      submit.textContent = 'Saving…';
      try {
        const res = await request<{ silenceID: string }>('/api/v2/silences', { method: 'POST', body: v.body });
        localStorage.setItem(CREATOR_KEY, creator.value.trim());
        navigate(`/alerts/silences?highlight=${encodeURIComponent(res?.silenceID ?? '')}`);
      } catch (e) {
        replace(errors, h('div', null, e instanceof ApiError && e.unreachable ? 'pharos is not reachable; the silence was not saved. Try again when the server is back.' : `The server refused the silence: ${amError(e)}`));
        submit.disabled = false;
        submit.textContent = editId ? 'Update silence' : 'Create silence';
      }
    },
  },
    h('h2', null, editId ? 'Edit silence' : 'New silence'),
    editId ? h('div', { class: 'dim' }, `Editing ${editId}. Saving replaces it (Alertmanager expires the old one when the matchers change).`) : null,
    h('h3', null, 'Matchers'),
    h('div', { class: 'dim small' }, 'Alerts whose labels match all of these are silenced. =~ and !~ take anchored regular expressions.'),
    rowsEl,
    h('button', { type: 'button', class: 'small', onclick: () => { addRow(); refreshPreview(); } }, '+ Add matcher'),
    h('div', { class: 'form-grid' },
      h('label', { class: 'field' }, 'Start', start),
      h('label', { class: 'field' }, 'Duration', duration),
      h('label', { class: 'field' }, 'End', end),
    ),
    h('div', { class: 'form-grid' }, h('label', { class: 'field' }, 'Creator', creator)),
    h('label', { class: 'field' }, 'Comment (required)', comment),
    errors,
    h('div', { class: 'toolbar' }, submit, h('a', { class: 'btn', href: '/alerts/silences' }, 'Cancel')),
  );

  // Errors describe the last submit; once the user edits, re-check and show only what is still wrong.
  form.addEventListener('input', () => {
    if (!errors.childElementCount) return;
    const left = validate().errors;
    replace(errors, left.length ? h('ul', null, left.map((e) => h('li', null, e))) : null);
  });

  replace(root, h('div', { class: 'silence-layout' }, form, h('div', { class: 'card' }, h('h2', null, 'Affected alerts'), preview)));

  // Prefill: ?matcher=… (repeatable), or the silence being edited / recreated.
  const initial = query.getAll('matcher').map(parseMatcher).filter((m): m is AmMatcher => !!m);
  initial.forEach((m) => addRow(m));
  if (!initial.length && !editId) addRow();

  if (editId) {
    request<Silence>(`/api/v2/silence/${encodeURIComponent(editId)}`).then(
      (s) => {
        rows.splice(0).forEach((r) => r.el.remove());
        s.matchers.forEach((m) => addRow(m));
        // Keep the start: Alertmanager updates a silence in place only while its start is unchanged.
        start.value = toLocalInput(Date.parse(s.startsAt));
        origStart = { text: start.value, iso: s.startsAt };
        end.value = toLocalInput(Date.parse(s.endsAt));
        syncDuration();
        creator.value = s.createdBy;
        comment.value = s.comment;
        refreshPreview();
      },
      (e) => replace(errors, h('div', null, `Cannot load silence ${editId}: ${amError(e)}`)),
    );
  }

  fetchAmAlerts().then(
    (a) => {
      alerts = a;
      drawPreview();
    },
    (e) => {
      alertsError = e;
      drawPreview();
    },
  );
  drawPreview();
  return () => {};
}
