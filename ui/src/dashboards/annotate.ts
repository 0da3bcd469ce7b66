/**
 * The "Add annotation" form Grafana opens on Ctrl/Cmd+click in a time series panel: text and
 * tags at the clicked time, saved through `POST /api/annotations` on this dashboard and panel.
 */
import { h } from '../lib/dom';
import { request } from '../lib/api';
import { formatDateTime, type TimeZone } from '../lib/time';

export interface AnnotateTarget {
  timeMs: number;
  clientX: number;
  clientY: number;
  timeZone: TimeZone;
  dashboardUid?: string;
  panelId?: number;
  /** Called after the annotation is stored (the dashboard re-runs its annotations). */
  onSaved(): void;
}

/** Comma- or space-separated tags of the form, trimmed, without repeats. */
export function parseTags(s: string): string[] {
  return [...new Set(s.split(/[,\s]+/).map((t) => t.trim()).filter(Boolean))];
}

/** Opens the form near the pointer (one at a time; Escape or Cancel closes it). */
export function openAnnotateForm(t: AnnotateTarget): HTMLElement {
  document.querySelector('.dash-annotate')?.remove();
  const text = h('textarea', { rows: 3, placeholder: 'Description', 'aria-label': 'Annotation text', 'data-testid': 'annotate-text' }) as HTMLTextAreaElement;
  const tags = h('input', { type: 'text', placeholder: 'tags, comma separated', 'aria-label': 'Annotation tags', 'data-testid': 'annotate-tags' }) as HTMLInputElement;
  const err = h('div', { class: 'dash-annotate-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'annotate-save' }, 'Save') as HTMLButtonElement;
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const form = h(
    'form',
    { class: 'popover dash-annotate', 'data-testid': 'annotate-form' },
    h('div', { class: 'dash-annotate-title' }, 'Add annotation'),
    h('div', { class: 'faint' }, formatDateTime(t.timeMs, t.timeZone)),
    text,
    tags,
    err,
    h('div', { class: 'dash-annotate-actions' }, cancel, save),
  ) as HTMLFormElement;
  const close = () => form.remove();
  cancel.addEventListener('click', close);
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!text.value.trim()) {
      err.textContent = 'Write a description first.';
      return;
    }
    save.disabled = true;
    const body: Record<string, unknown> = { time: t.timeMs, timeEnd: t.timeMs, text: text.value, tags: parseTags(tags.value) };
    if (t.dashboardUid) body.dashboardUID = t.dashboardUid;
    if (t.panelId !== undefined) body.panelId = t.panelId;
    request('/api/annotations', { method: 'POST', body })
      .then(() => {
        close();
        t.onSaved();
      })
      .catch((e: Error) => {
        save.disabled = false;
        err.textContent = e.message;
      });
  });
  form.style.position = 'fixed';
  form.style.left = `${Math.max(8, Math.min(window.innerWidth - 300, t.clientX))}px`;
  form.style.top = `${Math.max(8, Math.min(window.innerHeight - 220, t.clientY + 8))}px`;
  document.body.append(form);
  text.focus();
  return form;
}
