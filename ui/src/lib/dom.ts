/**
 * DOM building without HTML strings: `h()` creates elements whose text children become text
 * nodes, so label values, log lines and dashboard strings can never become markup. Nothing in
 * the UI assigns `innerHTML` from data (the one exception is sanitised Markdown in text panels).
 */

export type Child = Node | string | number | null | undefined | false | Child[];

export interface Props {
  class?: string;
  style?: Partial<CSSStyleDeclaration> | string;
  title?: string;
  dataset?: Record<string, string>;
  /** Any other attribute (`href`, `type`, `value`, `aria-*`, ...). Event handlers: `onclick` etc. */
  [attr: string]: unknown;
}

/** Creates an element; `props` sets attributes and `on*` listeners, `children` are appended as text or nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) applyProps(el, props);
  append(el, children);
  return el;
}

/** SVG element with attributes (for small icons and graphs drawn by hand). */
export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function applyProps(el: HTMLElement, props: Props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'style') {
      if (typeof value === 'string') el.setAttribute('style', value);
      else Object.assign(el.style, value);
    } else if (key === 'dataset') Object.assign(el.dataset, value as Record<string, string>);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key === 'value' && 'value' in el) (el as HTMLInputElement).value = String(value);
    else if (key === 'checked' && 'checked' in el) (el as HTMLInputElement).checked = Boolean(value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
}

/** Appends children (strings become text nodes; arrays are flattened; null/false skipped). */
export function append(parent: Node, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces every child of `el`. */
export function replace(el: Element, ...children: Child[]) {
  el.replaceChildren();
  append(el, children);
}

/** A message block for empty data, errors and loading, so no page is ever blank. */
export function message(kind: 'empty' | 'error' | 'loading' | 'info', text: string, detail?: string): HTMLElement {
  return h(
    'div',
    { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('div', { class: 'msg-text' }, text),
    detail ? h('div', { class: 'msg-detail' }, detail) : null,
  );
}

/** Debounces `fn` by `ms`. */
export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  return (...a: A) => {
    if (t) clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}
