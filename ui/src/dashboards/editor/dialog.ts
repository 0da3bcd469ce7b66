/**
 * In-page dialogs for the dashboard editor, list and import pages: a modal with a title, a body
 * and action buttons (Esc and the backdrop close it), and `confirmDialog` — our own confirm, so
 * no page ever opens `window.confirm`.
 */
import { h, type Child } from '../../lib/dom';

export interface Dialog {
  /** The dialog element (the body is inside it). */
  el: HTMLElement;
  body: HTMLElement;
  footer: HTMLElement;
  close(): void;
}

export interface DialogOptions {
  title: string;
  body?: Child;
  /** Extra class on the dialog (width variants). */
  className?: string;
  onClose?: () => void;
}

const open: Dialog[] = [];

/** Opens a modal dialog; the caller fills `footer` with its buttons. */
export function openDialog(opts: DialogOptions): Dialog {
  const body = h('div', { class: 'dlg-body' }, opts.body);
  const footer = h('div', { class: 'dlg-footer' });
  const el = h(
    'div',
    { class: `dialog ${opts.className ?? ''}`, role: 'dialog', 'aria-modal': 'true', 'aria-label': opts.title },
    h(
      'div',
      { class: 'dlg-head' },
      h('h2', null, opts.title),
      h('button', { class: 'icon dlg-x', title: 'Close (Esc)', 'aria-label': 'Close', onclick: () => dlg.close() }, '✕'),
    ),
    body,
    footer,
  );
  const backdrop = h('div', { class: 'dialog-backdrop' }, el);
  backdrop.addEventListener('mousedown', (e) => {
    if (e.target === backdrop) dlg.close();
  });
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && open[open.length - 1] === dlg) {
      e.stopPropagation();
      e.preventDefault();
      dlg.close();
    }
  };
  let closed = false;
  const dlg: Dialog = {
    el,
    body,
    footer,
    close() {
      if (closed) return;
      closed = true;
      document.removeEventListener('keydown', onKey, true);
      backdrop.remove();
      open.splice(open.indexOf(dlg), 1);
      opts.onClose?.();
    },
  };
  document.addEventListener('keydown', onKey, true);
  open.push(dlg);
  document.body.append(backdrop);
  queueMicrotask(() => (el.querySelector('input, textarea, select, button.primary') as HTMLElement | null)?.focus());
  return dlg;
}

/** True while any editor dialog is open (so page-level Esc handlers leave it alone). */
export function dialogOpen(): boolean {
  return open.length > 0;
}

/** Asks a yes/no question in the page; resolves true when the user confirms. */
export function confirmDialog(title: string, text: Child, confirmLabel: string, danger = false): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const dlg = openDialog({ title, body: h('div', { class: 'dlg-text' }, text), className: 'dialog-small', onClose: () => resolve(answer) });
    dlg.footer.append(
      h('button', { onclick: () => dlg.close() }, 'Cancel'),
      h(
        'button',
        {
          class: danger ? 'danger primary-danger' : 'primary',
          onclick: () => {
            answer = true;
            dlg.close();
          },
        },
        confirmLabel,
      ),
    );
  });
}
