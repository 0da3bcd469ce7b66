/**
 * Markdown and HTML for text panels, built as DOM nodes — never through innerHTML. Markdown
 * (headings, paragraphs, emphasis, code, lists, quotes, rules, tables, links, images) is parsed
 * here; HTML (a text panel in html mode, or an HTML block inside Markdown) is parsed by an inert
 * DOMParser and rebuilt keeping only an allowlist of tags and attributes: no script, no event
 * handlers, no style, links only http(s)/relative, images only same-origin or data:image.
 */

/** A link target that is safe to follow (http, https, mailto or relative), else null. */
export function safeHref(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const href = raw.trim();
  if (!href) return null;
  let url: URL;
  try {
    url = new URL(href, window.location.href);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'mailto:') return null;
  return href;
}

/** An image source that is safe: same-origin path (`/…`) or `data:image/…` (not svg). */
export function safeImageSrc(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const src = raw.trim();
  if (/^data:image\/(png|jpe?g|gif|webp|bmp);/i.test(src)) return src;
  if (!src.startsWith('/') || src.startsWith('//') || src.startsWith('/\\')) return null;
  try {
    const url = new URL(src, window.location.href);
    return url.origin === window.location.origin ? src : null;
  } catch {
    return null;
  }
}

// ---- HTML sanitising ------------------------------------------------------------------------

const ALLOWED_TAGS = new Set([
  'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'center', 'code', 'dd', 'del', 'details', 'div', 'dl', 'dt', 'em',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's', 'small',
  'span', 'strike', 'strong', 'sub', 'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul',
]);
/** Elements dropped with everything inside them. */
const DROP_WITH_CONTENT = new Set([
  'script', 'style', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'template', 'noscript', 'svg', 'math',
  'link', 'meta', 'base', 'form', 'input', 'button', 'select', 'textarea', 'title', 'head',
]);
const ALLOWED_ATTRS: Record<string, string[]> = {
  '*': ['title', 'align', 'lang', 'dir'],
  a: ['href'],
  img: ['src', 'alt', 'width', 'height'],
  td: ['colspan', 'rowspan'],
  th: ['colspan', 'rowspan', 'scope'],
  ol: ['start'],
  details: ['open'],
};

/** Rebuilds `node`'s children into `out`, keeping only allowed tags and attributes. */
function cleanInto(node: Node, out: Node) {
  for (const child of Array.from(node.childNodes)) {
    if (child.nodeType === Node.TEXT_NODE) {
      out.appendChild(document.createTextNode(child.textContent ?? ''));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE) continue;
    const src = child as Element;
    const tag = src.tagName.toLowerCase();
    if (DROP_WITH_CONTENT.has(tag)) continue;
    if (!ALLOWED_TAGS.has(tag)) {
      cleanInto(src, out);
      continue;
    }
    if (tag === 'img') {
      const safe = safeImageSrc(src.getAttribute('src'));
      if (!safe) {
        const alt = src.getAttribute('alt');
        if (alt) out.appendChild(document.createTextNode(alt));
        continue;
      }
    }
    const safeLink = tag === 'a' ? safeHref(src.getAttribute('href')) : null;
    const el = document.createElement(tag === 'a' && !safeLink ? 'span' : tag);
    for (const attr of Array.from(src.attributes)) {
      const name = attr.name.toLowerCase();
      if (!(ALLOWED_ATTRS['*'].includes(name) || ALLOWED_ATTRS[tag]?.includes(name))) continue;
      if (name === 'href') {
        const safe = safeHref(attr.value);
        if (!safe) continue;
        el.setAttribute('href', safe);
        el.setAttribute('rel', 'noopener noreferrer');
        if (/^https?:/i.test(safe)) el.setAttribute('target', '_blank');
        continue;
      }
      if (name === 'src') {
        const safe = safeImageSrc(attr.value);
        if (safe) el.setAttribute('src', safe);
        continue;
      }
      el.setAttribute(name, attr.value);
    }
    cleanInto(src, el);
    out.appendChild(el);
  }
}

/** Parses HTML inertly and returns a sanitised fragment. */
export function sanitizeHtml(html: string): DocumentFragment {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}</body>`, 'text/html');
  const frag = document.createDocumentFragment();
  cleanInto(doc.body, frag);
  return frag;
}

// ---- Markdown: inline -----------------------------------------------------------------------

function el(tag: string, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const c of children) e.append(c);
  return e;
}

/** Inline Markdown (code, emphasis, strike, links, images, autolinks, breaks) → nodes. */
export function renderInline(text: string): Node[] {
  const out: Node[] = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push(document.createTextNode(buf));
    buf = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    if (c === '\\' && i + 1 < text.length && /[\\`*_{}[\]()#+\-.!~|<>]/.test(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '\n') {
      // Two trailing spaces or a backslash make a hard break; otherwise a space.
      if (buf.endsWith('  ')) {
        buf = buf.replace(/ +$/, '');
        flush();
        out.push(document.createElement('br'));
      } else buf += ' ';
      i++;
      continue;
    }
    if (c === '`') {
      const m = /^(`+)([\s\S]*?[^`])\1(?!`)/.exec(rest);
      if (m) {
        flush();
        out.push(el('code', m[2].trim()));
        i += m[0].length;
        continue;
      }
    }
    if (c === '!' && text[i + 1] === '[') {
      const m = /^!\[([^\]]*)\]\(\s*<?((?:[^()\s>]|\([^()\s]*\))*)>?(?:\s+"([^"]*)")?\s*\)/.exec(rest);
      if (m) {
        flush();
        const src = safeImageSrc(m[2]);
        if (src) {
          const img = document.createElement('img');
          img.setAttribute('src', src);
          img.setAttribute('alt', m[1]);
          if (m[3]) img.setAttribute('title', m[3]);
          out.push(img);
        } else out.push(document.createTextNode(m[1]));
        i += m[0].length;
        continue;
      }
    }
    if (c === '[') {
      const m = /^\[((?:[^\]\\]|\\.|\[[^\]]*\])*)\]\(\s*<?((?:[^()\s>]|\([^()\s]*\))*)>?(?:\s+"([^"]*)")?\s*\)/.exec(rest);
      if (m) {
        flush();
        const href = safeHref(m[2]);
        const inner = renderInline(m[1]);
        if (href) {
          const a = el('a', ...inner);
          a.setAttribute('href', href);
          a.setAttribute('rel', 'noopener noreferrer');
          if (/^https?:/i.test(href)) a.setAttribute('target', '_blank');
          if (m[3]) a.setAttribute('title', m[3]);
          out.push(a);
        } else out.push(...inner);
        i += m[0].length;
        continue;
      }
    }
    if (c === '<') {
      const m = /^<((?:https?:\/\/|mailto:)[^>\s]+)>/.exec(rest);
      if (m) {
        flush();
        const href = safeHref(m[1]);
        const a = el('a', m[1]);
        if (href) {
          a.setAttribute('href', href);
          a.setAttribute('rel', 'noopener noreferrer');
          a.setAttribute('target', '_blank');
        }
        out.push(a);
        i += m[0].length;
        continue;
      }
      const br = /^<br\s*\/?>/i.exec(rest);
      if (br) {
        flush();
        out.push(document.createElement('br'));
        i += br[0].length;
        continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] === c) {
      const re = c === '*' ? /^\*\*(?=\S)([\s\S]*?\S)\*\*/ : /^__(?=\S)([\s\S]*?\S)__(?!\w)/;
      const m = re.exec(rest);
      if (m && !(c === '_' && /\w/.test(text[i - 1] ?? ''))) {
        flush();
        out.push(el('strong', ...renderInline(m[1])));
        i += m[0].length;
        continue;
      }
    }
    if (c === '*' || c === '_') {
      const re = c === '*' ? /^\*(?=\S)([\s\S]*?\S)\*(?!\*)/ : /^_(?=\S)([\s\S]*?\S)_(?!\w)/;
      const m = re.exec(rest);
      if (m && !(c === '_' && /\w/.test(text[i - 1] ?? ''))) {
        flush();
        out.push(el('em', ...renderInline(m[1])));
        i += m[0].length;
        continue;
      }
    }
    if (c === '~' && text[i + 1] === '~') {
      const m = /^~~(?=\S)([\s\S]*?\S)~~/.exec(rest);
      if (m) {
        flush();
        out.push(el('del', ...renderInline(m[1])));
        i += m[0].length;
        continue;
      }
    }
    if ((c === 'h' || c === 'H') && /^https?:\/\//i.test(rest) && !/[\w/]/.test(text[i - 1] ?? '')) {
      const m = /^https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/i.exec(rest);
      if (m) {
        flush();
        const a = el('a', m[0]);
        a.setAttribute('href', m[0]);
        a.setAttribute('rel', 'noopener noreferrer');
        a.setAttribute('target', '_blank');
        out.push(a);
        i += m[0].length;
        continue;
      }
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

// ---- Markdown: blocks -----------------------------------------------------------------------

const HR = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;
const HTML_BLOCK = /^ {0,3}<\/?([a-zA-Z][a-zA-Z0-9-]*)(\s|>|\/>|$)/;

function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (s[i] === '|') {
      cells.push(cur.trim());
      cur = '';
    } else cur += s[i];
  }
  cells.push(cur.trim());
  return cells;
}

/** Renders Markdown into a fragment of DOM nodes (HTML blocks sanitised). */
export function renderMarkdown(src: string): DocumentFragment {
  const lines = src.replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n');
  const frag = document.createDocumentFragment();
  renderBlocks(lines, frag);
  return frag;
}

function renderBlocks(lines: string[], out: Node) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i++;
      const code = el('code', body.join('\n'));
      if (m[2]) code.setAttribute('data-lang', m[2]);
      out.appendChild(el('pre', code));
      continue;
    }
    if ((m = HEADING.exec(line))) {
      out.appendChild(el(`h${m[1].length}`, ...renderInline(m[2] ?? '')));
      i++;
      continue;
    }
    if (HR.test(line)) {
      out.appendChild(document.createElement('hr'));
      i++;
      continue;
    }
    if (/^ {4,}\S/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^ {4,}/.test(lines[i]) || !lines[i].trim())) body.push(lines[i++].slice(4));
      while (body.length && !body[body.length - 1].trim()) body.pop();
      out.appendChild(el('pre', el('code', body.join('\n'))));
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && lines[i].trim() && (m = QUOTE.exec(lines[i]) ?? null)) {
        body.push(m[1]);
        i++;
      }
      const bq = document.createElement('blockquote');
      renderBlocks(body, bq);
      out.appendChild(bq);
      continue;
    }
    if (LIST_ITEM.test(line)) {
      i = renderList(lines, i, out);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const header = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : ''));
      i += 2;
      const table = document.createElement('table');
      const thead = el('thead', el('tr', ...header.map((c, k) => cellEl('th', c, aligns[k]))));
      const tbody = document.createElement('tbody');
      while (i < lines.length && lines[i].trim() && lines[i].includes('|')) {
        const cells = splitRow(lines[i]);
        tbody.appendChild(el('tr', ...header.map((_, k) => cellEl('td', cells[k] ?? '', aligns[k]))));
        i++;
      }
      table.append(thead, tbody);
      out.appendChild(table);
      continue;
    }
    if (HTML_BLOCK.test(line)) {
      const body: string[] = [];
      while (i < lines.length && lines[i].trim()) body.push(lines[i++]);
      out.appendChild(sanitizeHtml(body.join('\n')));
      continue;
    }
    // Paragraph (a setext heading when followed by === or ---).
    const body: string[] = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !(body.length && (HEADING.test(lines[i]) || FENCE.test(lines[i]) || QUOTE.test(lines[i]) || HR.test(lines[i]) || /^ {0,3}([-*+]|\d+[.)])\s+/.test(lines[i])))
    ) {
      if (body.length && /^ {0,3}(=+|-+)\s*$/.test(lines[i])) break;
      body.push(lines[i++]);
    }
    if (i < lines.length && /^ {0,3}(=+|-+)\s*$/.test(lines[i]) && body.length) {
      out.appendChild(el(lines[i].trim().startsWith('=') ? 'h1' : 'h2', ...renderInline(body.join('\n'))));
      i++;
      continue;
    }
    out.appendChild(el('p', ...renderInline(body.join('\n').replace(/\\$/gm, '  '))));
  }
}

function cellEl(tag: 'th' | 'td', text: string, align: string): HTMLElement {
  const c = el(tag, ...renderInline(text));
  if (align) c.style.textAlign = align;
  return c;
}

/** Renders a (possibly nested) list starting at `start`; returns the next line index. */
function renderList(lines: string[], start: number, out: Node): number {
  const first = LIST_ITEM.exec(lines[start])!;
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = document.createElement(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) list.setAttribute('start', String(parseInt(first[2], 10)));
  let i = start;
  while (i < lines.length) {
    const m = LIST_ITEM.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) {
      if (m && m[1].length < indent) break;
      if (!m) break;
      if (m[1].length === indent) break;
    }
    // Collect this item's lines: its text plus indented continuation and nested lists.
    const itemLines = [m![3]];
    i++;
    while (i < lines.length) {
      const l = lines[i];
      if (!l.trim()) {
        if (i + 1 < lines.length && /^\s+/.test(lines[i + 1]) && lines[i + 1].trim()) {
          itemLines.push('');
          i++;
          continue;
        }
        break;
      }
      const nm = LIST_ITEM.exec(l);
      if (nm && nm[1].length <= indent) break;
      if (!nm && !/^\s/.test(l)) {
        // Lazy continuation of the item's paragraph.
        itemLines.push(l);
        i++;
        continue;
      }
      itemLines.push(l.replace(new RegExp(`^ {0,${indent + 2}}`), ''));
      i++;
    }
    const li = document.createElement('li');
    let text = itemLines[0];
    const task = /^\[([ xX])\]\s+(.*)$/.exec(text);
    if (task) {
      li.append(task[1] === ' ' ? '☐ ' : '☑ ');
      text = task[2];
    }
    const restLines = itemLines.slice(1);
    const firstNested = restLines.findIndex((l) => LIST_ITEM.test(l) || !l.trim());
    const para = firstNested < 0 ? [text, ...restLines] : [text, ...restLines.slice(0, firstNested)];
    li.append(...renderInline(para.join('\n')));
    if (firstNested >= 0) renderBlocks(restLines.slice(firstNested), li);
    list.appendChild(li);
    while (i < lines.length && !lines[i].trim() && i + 1 < lines.length && LIST_ITEM.exec(lines[i + 1])?.[1].length === indent) i++;
  }
  out.appendChild(list);
  return i;
}
