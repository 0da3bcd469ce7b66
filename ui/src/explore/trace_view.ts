/**
 * `/trace/:id`: one trace as Jaeger UI shows it — a header with the trace's numbers, a
 * mini-map that zooms the waterfall by dragging, the waterfall (collapsible span tree, service
 * colours, error and kind marks, critical path), span details (tags, resource, events,
 * references, self time), search within the trace, and the log lines that carry the trace's id.
 */
import './traces.css';
import { debounce, h, message, replace } from '../lib/dom';
import { ApiError, jaegerTrace, request, type Labels } from '../lib/api';
import { setQuery, type Page, type PageContext } from '../lib/router';
import { formatDateTime } from '../lib/time';
import { check as checkHealth } from '../components/health';
import { traceErrorsPanel } from '../errors/trace_errors';
import {
  buildTrace,
  criticalPath,
  formatMicros,
  sameTrace,
  serviceColor,
  tagText,
  tagValue,
  type CriticalSegment,
  type SpanNode,
  type Tag,
  type TraceModel,
} from './trace_model';

/** One line of `/api/traces/{id}/logs`. */
export interface TraceLogLine {
  timestamp: string; // ns
  line: string;
  labels: Labels;
  metadata: Labels;
}

const TRACE_KEYS = ['trace_id', 'traceId', 'traceID', 'trace.id'];
const SPAN_KEYS = ['span_id', 'spanId', 'spanID', 'span.id'];

export function fetchTraceLogs(id: string, signal?: AbortSignal): Promise<TraceLogLine[]> {
  return request<{ data: TraceLogLine[] | null }>(`/api/traces/${encodeURIComponent(id)}/logs`, { signal }).then((e) => e.data ?? []);
}

function lineSpanId(l: TraceLogLine): string | undefined {
  for (const k of SPAN_KEYS) {
    const v = l.metadata?.[k] ?? l.labels?.[k];
    if (v) return v.toLowerCase();
  }
  return undefined;
}

/** A LogQL query selecting the given lines: their common stream labels plus the trace id filter. */
export function logsQueryFor(lines: TraceLogLine[], traceId: string): string {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const reEsc = (v: string) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const first = lines[0]?.labels ?? {};
  const common = Object.keys(first)
    .filter((k) => !TRACE_KEYS.includes(k))
    .filter((k) => lines.every((l) => l.labels?.[k] === first[k]))
    .sort();
  let matchers: string[];
  if (common.length) matchers = common.map((k) => `${k}="${esc(first[k])}"`);
  else {
    const key = Object.keys(first).find((k) => lines.every((l) => l.labels?.[k] !== undefined));
    matchers = key ? [`${key}=~"${esc([...new Set(lines.map((l) => reEsc(l.labels[key])))].join('|'))}"`] : [];
  }
  const traceInLabels = lines.some((l) => TRACE_KEYS.some((k) => l.labels?.[k] !== undefined));
  const metaKey = TRACE_KEYS.find((k) => lines.some((l) => l.metadata?.[k] !== undefined)) ?? 'trace_id';
  const value = lines.map((l) => l.metadata?.[metaKey]).find((v) => v) ?? traceId;
  if (traceInLabels) {
    const k = TRACE_KEYS.find((key) => lines.some((l) => l.labels?.[key] !== undefined)) as string;
    const v = lines.map((l) => l.labels?.[k]).find((x) => x) ?? traceId;
    if (!matchers.some((m) => m.startsWith(`${k}=`))) matchers.push(`${k}="${esc(v)}"`);
    return `{${matchers.join(', ')}}`;
  }
  return `{${matchers.join(', ') || 'service_name=~".+"'}} | ${metaKey}="${esc(value)}"`;
}

export function traceViewPage(ctx: PageContext): Page {
  const id = (ctx.params.id ?? '').trim();
  const page = h('div', { class: 'page page-wide trace-page' });
  ctx.root.append(page);
  const abort = new AbortController();
  let view: TraceView | undefined;
  const backLink = () => h('a', { href: '/explore/traces', class: 'btn' }, '← Search traces');
  replace(page, message('loading', `Loading trace ${id}`));

  const load = async () => {
    try {
      const trace = await jaegerTrace(id);
      if (abort.signal.aborted) return;
      if (!trace || !trace.spans?.length) throw new ApiError('trace not found', 404);
      view = new TraceView(page, buildTrace(trace), id, ctx.query);
    } catch (e) {
      if (abort.signal.aborted) return;
      const err = e instanceof ApiError ? e : undefined;
      if (err?.status === 404) {
        replace(
          page,
          h('div', { class: 'page-header' }, h('h1', null, 'Trace not found')),
          h(
            'div',
            { class: 'card', 'data-testid': 'trace-not-found' },
            message('empty', `Trace ${id} not found.`, 'pharos has no span with this trace id: it may be older than the retention, mistyped, or not sent yet.'),
            h('div', { class: 'center-row' }, backLink()),
          ),
          traceErrorsPanel(id, abort.signal),
        );
      } else if (err?.unreachable) {
        void checkHealth();
        replace(
          page,
          h('div', { class: 'page-header' }, h('h1', null, 'Trace'), h('button', { onclick: () => void load() }, 'Retry')),
          message('error', 'pharos is not reachable — is the server running?', `Trace ${id} could not be loaded.`),
        );
      } else {
        replace(
          page,
          h('div', { class: 'page-header' }, h('h1', null, 'Trace')),
          h('div', { class: 'card' }, message('error', `Trace ${id} could not be loaded.`, e instanceof Error ? e.message : String(e)), h('div', { class: 'center-row' }, backLink())),
        );
      }
    }
  };
  void load();
  return {
    title: `Trace ${id.slice(0, 8)}`,
    unmount() {
      abort.abort();
      view?.dispose();
    },
    onQueryChange(q) {
      view?.applyQuery(q);
    },
  };
}

/** The rendered trace and its interactive state. */
/** From this many rows on, only the rows near the viewport are in the DOM. */
const VIRTUAL_MIN = 400;
/** `.span-row`'s height in traces.css. */
const ROW_HEIGHT = 28;
/** A span's details before they were drawn once. */
const DETAILS_ESTIMATE = 360;
/** Rows drawn above and below the visible ones. */
const OVERSCAN = 30;
/** Scrolling redraws once the visible rows are this close to an edge of the drawn ones. */
const EDGE = 8;

class TraceView {
  private collapsed = new Set<string>();
  private open = new Set<string>();
  private critical = false;
  private cpBySpan = new Map<string, CriticalSegment[]>();
  private find = '';
  private matches = new Set<string>();
  private win: [number, number] = [0, 1];
  private logs?: Promise<TraceLogLine[]>;
  private abort = new AbortController();
  private rowsEl = h('div', { class: 'wf-rows', 'data-testid': 'waterfall' });
  private rulerEl = h('div', { class: 'wf-ruler' });
  private minimap: HTMLElement;
  private findCount = h('span', { class: 'dim find-count', 'data-testid': 'find-count' });
  private cpBtn: HTMLButtonElement;
  private zoomReset: HTMLButtonElement;
  private logsPanel = h('div', { class: 'trace-logs', 'data-testid': 'trace-logs' });
  private rowEls = new Map<string, HTMLElement>();
  /** What the waterfall shows, in order: a span's row, then its details when open. */
  private items: { n: SpanNode; details: boolean }[] = [];
  private virtual = false;
  private offsets = new Float64Array(1);
  private detailHeights = new Map<string, number>();
  private rowCache = new Map<string, HTMLElement>();
  private detailCache = new Map<string, HTMLElement>();
  private win0 = -1;
  private win1 = -1;
  private unlistenScroll?: () => void;
  private statsPanel = h('div', { class: 'trace-stats-panel', 'data-testid': 'trace-stats' });
  private statsSort: { key: keyof OpStats; desc: boolean } = { key: 'self', desc: true };

  constructor(
    private el: HTMLElement,
    private m: TraceModel,
    private id: string,
    query: URLSearchParams,
  ) {
    for (const s of criticalPath(m)) this.cpBySpan.set(s.spanId, [...(this.cpBySpan.get(s.spanId) ?? []), s]);
    this.cpBtn = h('button', { 'aria-pressed': 'false', 'data-testid': 'critical-path', title: 'The chain of spans that determines how long the trace took', onclick: () => this.setCritical(!this.critical) }, 'Critical path');
    this.zoomReset = h('button', { class: 'small', hidden: true, onclick: () => this.setWindow([0, 1]) }, 'Reset zoom');
    this.minimap = this.buildMinimap();
    this.render();
    this.applyQuery(query);
  }

  dispose() {
    this.abort.abort();
    this.unlistenScroll?.();
  }

  applyQuery(q: URLSearchParams) {
    const cp = q.get('cp') === '1';
    if (cp !== this.critical) this.setCritical(cp, false);
    const find = q.get('uiFind') ?? '';
    if (find !== this.find) {
      const input = this.el.querySelector<HTMLInputElement>('[data-testid=trace-find]');
      if (input) input.value = find;
      this.setFind(find, false);
    }
    const span = q.get('span');
    if (span && this.m.byId.has(span) && !this.open.has(span)) {
      this.open.add(span);
      this.expandTo(span);
      this.drawRows();
      this.scrollToSpan(span);
    }
  }

  private render() {
    const m = this.m;
    const root = m.root;
    const startMs = m.start / 1000;
    const svcChips = [...m.services.entries()].map(([s, n]) =>
      h('span', { class: 'svc-chip', style: { borderLeftColor: serviceColor(s) } }, `${s} `, h('span', { class: 'dim' }, String(n))),
    );
    const stat = (label: string, value: string | Node, testid: string, cls = '') =>
      h('div', { class: `ts-stat ${cls}`, 'data-testid': testid }, h('div', { class: 'ts-label' }, label), h('div', { class: 'ts-value' }, value));
    const findInput = h('input', { type: 'search', placeholder: 'Find: operation, service, tag, id…', 'data-testid': 'trace-find', class: 'trace-find' });
    findInput.addEventListener('input', debounce(() => this.setFind(findInput.value), 150));
    findInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.setFind(findInput.value);
    });
    const warnings = m.warnings.length
      ? h('div', { class: 'trace-warnings', role: 'alert', 'data-testid': 'trace-warnings' }, ...m.warnings.map((w) => h('div', null, '⚠ ', w)))
      : null;
    replace(
      this.el,
      h(
        'div',
        { class: 'page-header trace-header' },
        h('a', { href: `/explore/traces?service=${encodeURIComponent(root.service)}`, class: 'btn small', title: 'Back to trace search' }, '← Search'),
        h(
          'h1',
          { 'data-testid': 'trace-title' },
          h('span', { class: 'svc-dot', style: { background: serviceColor(root.service) } }),
          h('span', { class: 'trace-title-text' }, h('span', { class: 'ti-service' }, root.service), `: ${root.span.operationName}`),
        ),
        h('span', { class: 'mono trace-id dim', title: 'Trace ID', 'data-testid': 'trace-id' }, m.traceID),
        h('a', { class: 'btn small', href: `/api/traces/${encodeURIComponent(this.id)}`, target: '_blank', 'data-native': '', title: 'The trace as Jaeger JSON' }, 'JSON'),
      ),
      h(
        'div',
        { class: 'trace-stats' },
        stat('Start', h('span', { title: formatDateTime(startMs, 'utc', true) + ' UTC' }, formatDateTime(startMs, 'browser', true)), 'stat-start'),
        stat('Duration', formatMicros(m.duration), 'stat-duration'),
        stat('Services', h('span', null, `${m.services.size} `, ...svcChips), 'stat-services', 'ts-wide'),
        stat('Depth', String(m.maxDepth + 1), 'stat-depth'),
        stat('Total spans', String(m.spans.length), 'stat-spans'),
        stat('Errors', String(m.errorCount), 'stat-errors', m.errorCount ? 'ts-error' : ''),
      ),
      warnings,
      traceErrorsPanel(m.traceID, this.abort.signal),
      h(
        'div',
        { class: 'toolbar trace-toolbar' },
        findInput,
        this.findCount,
        h('span', { class: 'spacer' }),
        h('button', { onclick: () => this.collapseAll(), 'data-testid': 'collapse-all' }, 'Collapse all'),
        h('button', { onclick: () => this.expandAll(), 'data-testid': 'expand-all' }, 'Expand all'),
        this.cpBtn,
        h('button', { 'data-testid': 'trace-stats-btn', title: 'Where the time went, by service and operation', onclick: () => this.toggleStats() }, 'Statistics'),
        h('button', { 'data-testid': 'trace-logs-btn', onclick: () => void this.showTraceLogs() }, 'Logs for this trace'),
      ),
      this.logsPanel,
      this.statsPanel,
      h(
        'div',
        { class: 'card wf-card' },
        h(
          'div',
          { class: 'wf-minimap-row' },
          h('div', { class: 'wf-name-col wf-help faint' }, h('div', null, 'Click a span for its details, ▾ folds its subtree.'), h('div', null, 'Drag across the mini-map to zoom.'), this.zoomReset),
          this.minimap,
        ),
        h('div', { class: 'wf-header' }, h('div', { class: 'wf-name-col' }, 'Service & operation'), this.rulerEl),
        this.rowsEl,
      ),
    );
    this.drawRows();
  }

  // ---- state changes ---------------------------------------------------------------------
  private setCritical(on: boolean, updateUrl = true) {
    this.critical = on;
    this.cpBtn.setAttribute('aria-pressed', String(on));
    this.cpBtn.classList.toggle('active', on);
    if (updateUrl) setQuery({ cp: on ? '1' : null });
    this.refreshMarks();
  }

  private setFind(text: string, updateUrl = true) {
    this.find = text.trim();
    this.matches = new Set();
    if (this.find) {
      const q = this.find.toLowerCase();
      for (const n of this.m.spans) if (spanText(n).includes(q)) this.matches.add(n.id);
    }
    let unfolded = false;
    for (const idm of this.matches) unfolded = this.expandTo(idm) || unfolded;
    this.findCount.textContent = this.find ? `${this.matches.size} of ${this.m.spans.length} spans match` : '';
    if (updateUrl) setQuery({ uiFind: this.find || null });
    if (unfolded) this.drawRows();
    else this.refreshMarks();
    this.drawMinimapMarks();
  }

  private collapseAll() {
    for (const n of this.m.spans) if (n.children.length) this.collapsed.add(n.id);
    this.drawRows();
  }

  private expandAll() {
    this.collapsed.clear();
    this.drawRows();
  }

  /** Unfolds the ancestors of a span; true when one was folded. */
  private expandTo(spanId: string): boolean {
    let changed = false;
    for (let p = this.m.byId.get(spanId)?.parent; p; p = p.parent) changed = this.collapsed.delete(p.id) || changed;
    return changed;
  }

  private setWindow(w: [number, number]) {
    this.win = w;
    this.zoomReset.hidden = w[0] === 0 && w[1] === 1;
    this.drawMinimapWindow();
    this.drawRows();
  }

  // ---- drawing ---------------------------------------------------------------------------
  private pct(us: number): number {
    const [a, b] = this.win;
    const d = this.m.duration || 1;
    return ((us / d - a) / (b - a)) * 100;
  }

  private drawRuler() {
    const [a, b] = this.win;
    const d = this.m.duration;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
      const us = (a + (b - a) * f) * d;
      return h('div', { class: `wf-tick${f === 1 ? ' last' : ''}`, style: { left: `${f * 100}%` } }, h('span', null, formatMicros(us)));
    });
    replace(this.rulerEl, ...ticks);
  }

  private visibleSpans(): SpanNode[] {
    // Spans are in depth-first order: a folded span hides the run of deeper spans after it.
    const out: SpanNode[] = [];
    let foldDepth = Infinity;
    for (const n of this.m.spans) {
      if (n.depth > foldDepth) continue;
      foldDepth = this.collapsed.has(n.id) ? n.depth : Infinity;
      out.push(n);
    }
    return out;
  }

  private drawRows() {
    this.drawRuler();
    this.items = [];
    let spans = 0;
    for (const n of this.visibleSpans()) {
      this.items.push({ n, details: false });
      spans++;
      if (this.open.has(n.id)) this.items.push({ n, details: true });
    }
    this.rowsEl.dataset.rows = String(spans);
    this.rowsEl.classList.toggle('cp-on', this.critical);
    this.virtual = this.items.length >= VIRTUAL_MIN;
    this.rowCache.clear();
    this.detailCache.clear();
    if (this.virtual) {
      this.listenScroll();
      this.computeOffsets();
      this.renderWindow(true);
      return;
    }
    this.rowEls.clear();
    const frag = document.createDocumentFragment();
    for (const it of this.items) frag.append(it.details ? this.details(it.n) : this.row(it.n));
    this.rowsEl.replaceChildren(frag);
    this.rowsEl.dataset.rendered = String(spans);
  }

  // ---- virtual rows: a long trace draws only the rows near the viewport -------------------

  private itemHeight(it: { n: SpanNode; details: boolean }): number {
    return it.details ? (this.detailHeights.get(it.n.id) ?? DETAILS_ESTIMATE) : ROW_HEIGHT;
  }

  private computeOffsets() {
    const off = new Float64Array(this.items.length + 1);
    for (let i = 0; i < this.items.length; i++) off[i + 1] = off[i] + this.itemHeight(this.items[i]);
    this.offsets = off;
  }

  private scroller(): HTMLElement {
    return (this.el.closest('#outlet') as HTMLElement | null) ?? (document.scrollingElement as HTMLElement);
  }

  /** The rows' box in scroll coordinates: [top of the visible area, its height], relative to the rows. */
  private viewport(): [number, number] {
    const sc = this.scroller();
    const scTop = sc === document.scrollingElement ? 0 : sc.getBoundingClientRect().top;
    const height = sc === document.scrollingElement ? window.innerHeight : sc.clientHeight;
    return [scTop - this.rowsEl.getBoundingClientRect().top, height];
  }

  private listenScroll() {
    if (this.unlistenScroll) return;
    const target: EventTarget = this.scroller() === document.scrollingElement ? window : this.scroller();
    let raf = 0;
    const on = () => {
      if (raf) return;
      raf = requestAnimationFrame(() => {
        raf = 0;
        if (this.virtual) this.renderWindow(false);
      });
    };
    target.addEventListener('scroll', on, { passive: true });
    window.addEventListener('resize', on);
    this.unlistenScroll = () => {
      target.removeEventListener('scroll', on);
      window.removeEventListener('resize', on);
      if (raf) cancelAnimationFrame(raf);
    };
  }

  /** First item whose bottom is below `y`. */
  private itemAt(y: number): number {
    let lo = 0;
    let hi = this.items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid + 1] <= y) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo);
  }

  private renderWindow(force: boolean) {
    const [top, height] = this.viewport();
    const visFirst = this.itemAt(Math.max(0, top));
    const visLast = this.itemAt(Math.max(0, top + height));
    // Redraw only when the visible rows come near an edge of the drawn ones.
    const end = this.items.length - 1;
    if (!force && this.win0 >= 0 && visFirst >= this.win0 && visLast <= this.win1 && (this.win0 === 0 || visFirst - this.win0 >= EDGE) && (this.win1 === end || this.win1 - visLast >= EDGE)) return;
    const first = Math.max(0, visFirst - OVERSCAN);
    const last = Math.min(end, visLast + OVERSCAN);
    if (!force && first === this.win0 && last === this.win1) return;
    this.win0 = first;
    this.win1 = last;
    this.rowEls.clear();
    const frag = document.createDocumentFragment();
    const total = this.offsets[this.items.length];
    frag.append(h('div', { class: 'wf-pad', style: { height: `${this.offsets[first]}px` } }));
    let spans = 0;
    const details: [string, HTMLElement][] = [];
    for (let i = first; i <= last; i++) {
      const it = this.items[i];
      if (it.details) {
        let d = this.detailCache.get(it.n.id);
        if (!d) {
          d = this.details(it.n);
          this.detailCache.set(it.n.id, d);
        }
        details.push([it.n.id, d]);
        frag.append(d);
      } else {
        // Rows drawn before (since the last change of folds or zoom) are reused.
        let r = this.rowCache.get(it.n.id);
        if (r) {
          this.rowEls.set(it.n.id, r);
          this.mark(r, it.n);
        } else {
          r = this.row(it.n);
          this.rowCache.set(it.n.id, r);
        }
        frag.append(r);
        spans++;
      }
    }
    frag.append(h('div', { class: 'wf-pad', style: { height: `${Math.max(0, total - this.offsets[last + 1])}px` } }));
    this.rowsEl.replaceChildren(frag);
    this.rowsEl.dataset.rendered = String(spans);
    // Details have no fixed height: measure the drawn ones once, so the offsets stay right.
    let changed = false;
    for (const [id, el] of details) {
      const hgt = el.offsetHeight;
      if (hgt && hgt !== this.detailHeights.get(id)) {
        this.detailHeights.set(id, hgt);
        changed = true;
      }
    }
    if (changed) {
      this.computeOffsets();
      (this.rowsEl.firstElementChild as HTMLElement).style.height = `${this.offsets[first]}px`;
      (this.rowsEl.lastElementChild as HTMLElement).style.height = `${Math.max(0, this.offsets[this.items.length] - this.offsets[last + 1])}px`;
    }
  }

  /** Scrolls a span's row into the middle of the view (drawing it first when virtual). */
  private scrollToSpan(spanId: string): HTMLElement | undefined {
    if (this.virtual) {
      const i = this.items.findIndex((it) => it.n.id === spanId && !it.details);
      if (i >= 0) {
        const [top, height] = this.viewport();
        const sc = this.scroller();
        sc.scrollTop += this.offsets[i] - top - height / 2 + ROW_HEIGHT / 2;
        this.renderWindow(true);
      }
    }
    const row = this.rowEls.get(spanId);
    row?.scrollIntoView({ block: 'nearest' });
    return row;
  }

  private row(n: SpanNode): HTMLElement {
    const color = serviceColor(n.service);
    const caret = n.children.length
      ? h(
          'button',
          {
            class: 'sr-caret',
            'aria-label': this.collapsed.has(n.id) ? `Expand ${n.children.length} child spans` : 'Collapse child spans',
            'aria-expanded': String(!this.collapsed.has(n.id)),
            'data-testid': 'span-caret',
            onclick: (e: Event) => {
              e.stopPropagation();
              if (this.collapsed.has(n.id)) this.collapsed.delete(n.id);
              else this.collapsed.add(n.id);
              this.drawRows();
            },
          },
          this.collapsed.has(n.id) ? '▸' : '▾',
        )
      : h('span', { class: 'sr-caret sr-leaf' });
    const hiddenCount = this.collapsed.has(n.id) ? countDescendants(n) : 0;
    const left = this.pct(n.offset);
    const width = Math.max((n.duration / (this.m.duration || 1)) * 100 / (this.win[1] - this.win[0]), 0.15);
    const bar = h('div', {
      class: 'sr-bar',
      style: { left: `${left}%`, width: `${width}%`, background: n.isError ? 'var(--error)' : color },
      title: `${formatMicros(n.duration)} starting at +${formatMicros(n.offset)}`,
    });
    // Duration label: right of the bar, else left of it, else inside it (a bar spanning the view).
    const labelLeft = left + width;
    const labelStyle =
      labelLeft <= 86
        ? { left: `calc(${labelLeft}% + 6px)` }
        : left >= 14
          ? { right: `calc(${100 - left}% + 6px)` }
          : { right: `calc(${Math.max(0, 100 - labelLeft)}% + 6px)` };
    const inside = labelLeft > 86 && left < 14;
    const label = h('span', { class: `sr-label${inside ? ' inside' : ''}`, style: labelStyle }, formatMicros(n.duration));
    const kind = n.kind && n.kind !== 'internal' ? h('span', { class: `sr-kind kind-${n.kind}`, title: `span kind: ${n.kind}` }, n.kind) : null;
    const row = h(
      'div',
      {
        class: `span-row${this.open.has(n.id) ? ' open' : ''}${n.isError ? ' error' : ''}`,
        role: 'row',
        tabindex: 0,
        'data-testid': 'span-row',
        'data-span-id': n.id,
        'data-depth': String(n.depth),
        'data-service': n.service,
        'data-operation': n.span.operationName,
        'data-error': String(n.isError),
        onclick: () => this.toggleDetails(n),
        onkeydown: (e: KeyboardEvent) => this.rowKey(e, n),
      },
      h(
        'div',
        { class: 'wf-name-col sr-name' },
        h('span', { class: 'sr-indent', style: { width: `${Math.min(n.depth, 30) * 14}px` } }),
        caret,
        h('span', { class: 'sr-svc-bar', style: { background: color } }),
        h(
          'span',
          { class: 'sr-text', title: `${n.service}: ${n.span.operationName}` },
          n.isError ? h('span', { class: 'sr-err', title: 'error' }, '!') : null,
          h('span', { class: 'sr-service' }, n.service),
          h('span', { class: 'sr-op' }, n.span.operationName),
        ),
        n.missingParent ? h('span', { class: 'badge badge-warning', title: `parent ${n.parentId} is not in this trace` }, 'invalid parent') : null,
        hiddenCount ? h('span', { class: 'sr-hidden-count', title: 'hidden child spans' }, `+${hiddenCount}`) : null,
        kind,
      ),
      h('div', { class: 'sr-timeline' }, bar, label),
    );
    this.rowEls.set(n.id, row);
    this.mark(row, n);
    return row;
  }

  /** Applies the critical-path and find marks to a drawn row (no rebuild). */
  private mark(row: HTMLElement, n: SpanNode) {
    const onCp = this.critical && this.cpBySpan.has(n.id);
    const isMatch = this.matches.has(n.id);
    row.classList.toggle('critical', onCp);
    row.classList.toggle('match', isMatch);
    row.classList.toggle('dimmed', this.find !== '' && !isMatch);
    row.dataset.critical = String(onCp);
    row.dataset.match = String(isMatch);
    const timeline = row.lastElementChild as HTMLElement;
    for (const old of timeline.querySelectorAll('.sr-cp')) old.remove();
    if (!onCp) return;
    const color = n.isError ? 'var(--error)' : serviceColor(n.service);
    for (const seg of this.cpBySpan.get(n.id) ?? []) {
      const l = this.pct(seg.start - this.m.start);
      const w = (((seg.end - seg.start) / (this.m.duration || 1)) * 100) / (this.win[1] - this.win[0]);
      timeline.insertBefore(
        h('div', {
          class: 'sr-cp',
          'data-testid': 'cp-segment',
          style: { left: `${l}%`, width: `${Math.max(w, 0.15)}%`, background: color },
          title: `on the critical path: ${formatMicros(seg.end - seg.start)} of this span's own time`,
        }),
        timeline.lastElementChild,
      );
    }
  }

  private refreshMarks() {
    this.rowsEl.classList.toggle('cp-on', this.critical);
    for (const [id, row] of this.rowEls) this.mark(row, this.m.byId.get(id) as SpanNode);
  }

  /** Keyboard: Enter/Space details, ↑/↓ previous/next span, ←/→ fold/unfold. */
  private rowKey(e: KeyboardEvent, n: SpanNode) {
    const focusRow = (id: string) => (this.rowEls.get(id) ?? this.scrollToSpan(id))?.focus();
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.toggleDetails(n);
      focusRow(n.id);
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const ids = this.items.filter((it) => !it.details).map((it) => it.n.id);
      const i = ids.indexOf(n.id) + (e.key === 'ArrowDown' ? 1 : -1);
      if (i >= 0 && i < ids.length) focusRow(ids[i]);
    } else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && n.children.length) {
      e.preventDefault();
      if (e.key === 'ArrowLeft') this.collapsed.add(n.id);
      else this.collapsed.delete(n.id);
      this.drawRows();
      focusRow(n.id);
    }
  }

  private toggleDetails(n: SpanNode) {
    if (this.open.has(n.id)) this.open.delete(n.id);
    else this.open.add(n.id);
    setQuery({ span: this.open.has(n.id) ? n.id : null });
    this.drawRows();
  }

  private jumpTo(spanId: string) {
    this.expandTo(spanId);
    this.open.add(spanId);
    this.drawRows();
    this.scrollToSpan(spanId)?.classList.add('flash');
  }

  private details(n: SpanNode): HTMLElement {
    const s = n.span;
    const status = String(tagValue(s.tags, 'otel.status_code') ?? (n.isError ? 'ERROR' : 'UNSET'));
    const statusMsg = tagValue(s.tags, 'otel.status_description');
    const selfPct = n.duration ? Math.round((n.selfTime / n.duration) * 100) : 100;
    const cpUs = (this.cpBySpan.get(n.id) ?? []).reduce((a, seg) => a + seg.end - seg.start, 0);
    const parentCell = n.parent
      ? h('button', { class: 'link-btn mono', onclick: () => this.jumpTo(n.parent!.id) }, `${n.parent.id} (${n.parent.service}: ${n.parent.span.operationName})`)
      : n.missingParent
        ? h('span', { class: 'mono warn-text' }, `${n.parentId} — not in this trace`)
        : h('span', { class: 'faint' }, '— (root span)');
    const kv: [string, Node | string][] = [
      ['Service', n.service],
      ['Operation', s.operationName],
      ['Duration', formatMicros(n.duration)],
      ['Start', `+${formatMicros(n.offset)} (${formatDateTime(n.start / 1000, 'browser', true)})`],
      ['Self time', `${formatMicros(n.selfTime)} (${selfPct}% of the span)`],
      ['Span ID', h('span', { class: 'mono' }, n.id)],
      ['Parent', parentCell],
      ['Kind', n.kind || 'unspecified'],
      ['Status', h('span', { class: n.isError ? 'err-text' : '' }, status, statusMsg ? ` — ${tagText(statusMsg)}` : '')],
    ];
    if (cpUs) kv.push(['On critical path', formatMicros(cpUs)]);
    const spanLogs = h('div', { class: 'span-logs' });
    const hiddenTags = new Set(['span.kind', 'otel.status_code', 'otel.status_description', 'error']);
    const tags = (s.tags ?? []).filter((t) => !hiddenTags.has(t.key));
    const refs = (s.references ?? []).filter((r) => !(r.refType === 'CHILD_OF' && r.spanID === n.parentId && sameTrace(r.traceID, s.traceID)));
    return h(
      'div',
      { class: 'span-details', 'data-testid': 'span-details', 'data-span-id': n.id, style: { borderLeftColor: serviceColor(n.service) } },
      h(
        'div',
        { class: 'sd-head' },
        h('strong', null, s.operationName),
        h('span', { class: 'dim' }, ` · ${n.service}`),
        n.isError ? h('span', { class: 'badge badge-error' }, 'error') : null,
        h('span', { class: 'spacer' }),
        h('button', { class: 'small', 'data-testid': 'span-logs-btn', onclick: () => void this.showSpanLogs(n, spanLogs) }, 'Logs for this span'),
        h('button', { class: 'small', onclick: () => this.toggleDetails(n) }, 'Close'),
      ),
      h('dl', { class: 'sd-kv' }, ...kv.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
      spanLogs,
      section('Tags', tags.length, tagTable(tags, 'span-tags')),
      section('Process', n.processTags.length + 1, tagTable([{ key: 'service.name', type: 'string', value: n.service }, ...n.processTags], 'process-tags')),
      (s.logs ?? []).length
        ? section(
            'Events',
            s.logs.length,
            h(
              'div',
              { class: 'sd-events', 'data-testid': 'span-events' },
              ...s.logs
                .slice()
                .sort((a, b) => a.timestamp - b.timestamp)
                .map((l) => {
                  const ev = l.fields.find((f) => f.key === 'event' || f.key === 'message');
                  const rest = l.fields.filter((f) => f !== ev);
                  return h(
                    'div',
                    { class: 'sd-event' },
                    h('span', { class: 'mono dim sd-event-time' }, `+${formatMicros(l.timestamp - n.start)}`),
                    h('span', { class: 'sd-event-name' }, ev ? tagText(ev.value) : 'event'),
                    rest.length ? tagTable(rest, 'event-fields') : null,
                  );
                }),
            ),
          )
        : null,
      refs.length
        ? section(
            'References',
            refs.length,
            h(
              'ul',
              { class: 'sd-refs', 'data-testid': 'span-refs' },
              ...refs.map((r) => {
                const inTrace = sameTrace(r.traceID, this.m.traceID) && this.m.byId.has(r.spanID);
                const target = inTrace
                  ? h('button', { class: 'link-btn mono', onclick: () => this.jumpTo(r.spanID) }, `span ${r.spanID} in this trace`)
                  : sameTrace(r.traceID, this.m.traceID)
                    ? h('span', { class: 'mono' }, `span ${r.spanID} (not in this trace)`)
                    : h('a', { href: `/trace/${encodeURIComponent(r.traceID)}?span=${encodeURIComponent(r.spanID)}`, class: 'mono' }, `trace ${r.traceID} · span ${r.spanID}`);
                return h('li', null, h('span', { class: 'badge badge-info' }, r.refType), ' ', target);
              }),
            ),
          )
        : null,
      s.warnings?.length ? section('Warnings', s.warnings.length, h('ul', null, ...s.warnings.map((w) => h('li', null, w)))) : null,
    );
  }

  // ---- statistics ------------------------------------------------------------------------
  private toggleStats() {
    if (this.statsPanel.firstChild) replace(this.statsPanel);
    else this.drawStats();
    this.el.querySelector('[data-testid=trace-stats-btn]')?.classList.toggle('active', !!this.statsPanel.firstChild);
  }

  private drawStats() {
    const rows = operationStats(this.m);
    const { key, desc } = this.statsSort;
    rows.sort((a, b) => {
      const x = a[key];
      const y = b[key];
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return desc ? -c : c;
    });
    const cols: [keyof OpStats, string, boolean][] = [
      ['service', 'Service', false],
      ['operation', 'Operation', false],
      ['count', 'Spans', true],
      ['errors', 'Errors', true],
      ['total', 'Total', true],
      ['avg', 'Avg', true],
      ['min', 'Min', true],
      ['max', 'Max', true],
      ['self', 'Self time', true],
      ['selfPct', 'Self % of trace', true],
    ];
    const fmt = (r: OpStats, k: keyof OpStats): string =>
      k === 'service' || k === 'operation' ? String(r[k]) : k === 'count' || k === 'errors' ? String(r[k]) : k === 'selfPct' ? `${r.selfPct.toFixed(1)}%` : formatMicros(r[k] as number);
    replace(
      this.statsPanel,
      h(
        'div',
        { class: 'card' },
        h('div', { class: 'tl-head' }, h('strong', null, 'Where the time went'), h('span', { class: 'dim' }, ` · self time = time in a span not covered by its children; click a column to sort`), h('span', { class: 'spacer' }), h('button', { class: 'small', onclick: () => this.toggleStats() }, 'Close')),
        h(
          'table',
          { class: 'data stats-table' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ...cols.map(([k, label, num]) =>
                h(
                  'th',
                  {
                    class: `${num ? 'num ' : ''}sortable`,
                    'aria-sort': k === key ? (desc ? 'descending' : 'ascending') : 'none',
                    onclick: () => {
                      this.statsSort = { key: k, desc: k === key ? !desc : num };
                      this.drawStats();
                    },
                  },
                  label,
                  k === key ? (desc ? ' ▾' : ' ▴') : '',
                ),
              ),
            ),
          ),
          h(
            'tbody',
            null,
            ...rows.map((r) =>
              h(
                'tr',
                { 'data-testid': 'stats-row', 'data-service': r.service, 'data-operation': r.operation, 'data-count': String(r.count), 'data-self-us': String(r.self) },
                ...cols.map(([k, , num]) =>
                  h(
                    'td',
                    { class: `${num ? 'num' : ''}${k === 'errors' && r.errors ? ' err-text' : ''}` },
                    k === 'service' ? h('span', { class: 'svc-dot', style: { background: serviceColor(r.service) } }) : null,
                    fmt(r, k),
                    k === 'selfPct' ? h('span', { class: 'pct-bar', style: { width: `${Math.min(100, r.selfPct)}%` } }) : null,
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  // ---- logs ------------------------------------------------------------------------------
  private getLogs(): Promise<TraceLogLine[]> {
    this.logs ??= fetchTraceLogs(this.id, this.abort.signal).catch((e) => {
      this.logs = undefined;
      throw e;
    });
    return this.logs;
  }

  private logsLink(lines: TraceLogLine[]): HTMLElement {
    const q = logsQueryFor(lines, this.m.traceID);
    const from = Math.floor(this.m.start / 1000) - 300_000;
    const to = Math.ceil(this.m.end / 1000) + 300_000;
    return h('a', { class: 'btn small', 'data-testid': 'logs-explore-link', href: `/explore/logs?${new URLSearchParams({ query: q, from: String(from), to: String(to) })}` }, 'Open in Logs Explore');
  }

  private async showTraceLogs() {
    if (this.logsPanel.firstChild && !this.logsPanel.querySelector('.msg-error')) {
      replace(this.logsPanel);
      return;
    }
    replace(this.logsPanel, h('div', { class: 'card' }, message('loading', 'Fetching the log lines of this trace')));
    try {
      const lines = await this.getLogs();
      if (!lines.length) {
        replace(
          this.logsPanel,
          h('div', { class: 'card' }, message('empty', `No log lines carry trace id ${this.m.traceID}.`, 'Searched 5 minutes either side of the trace. Lines are linked when their structured metadata (or a label) carries trace_id.')),
        );
        return;
      }
      replace(
        this.logsPanel,
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'tl-head' }, h('strong', null, `${lines.length} log line${lines.length === 1 ? '' : 's'} of this trace`), h('span', { class: 'spacer' }), this.logsLink(lines), h('button', { class: 'small', onclick: () => replace(this.logsPanel) }, 'Close')),
          this.logList(lines),
        ),
      );
    } catch (e) {
      replace(this.logsPanel, h('div', { class: 'card' }, message('error', 'The log lines of this trace could not be loaded.', errText(e))));
    }
  }

  private async showSpanLogs(n: SpanNode, into: HTMLElement) {
    replace(into, message('loading', 'Fetching log lines'));
    try {
      const all = await this.getLogs();
      const withSpan = all.filter((l) => lineSpanId(l) !== undefined);
      const mine = all.filter((l) => lineSpanId(l) === n.id.toLowerCase());
      let note: string;
      let lines: TraceLogLine[];
      if (mine.length) {
        lines = mine;
        note = `${mine.length} log line${mine.length === 1 ? '' : 's'} of this span`;
      } else if (!withSpan.length && all.length) {
        lines = all.filter((l) => {
          const t = Number(l.timestamp) / 1000;
          return t >= n.start && t <= n.end;
        });
        if (!lines.length) lines = all;
        note = `The trace's lines carry no span id; ${lines.length} line${lines.length === 1 ? '' : 's'} of the trace ${lines === all ? '' : 'within this span\'s time '}shown`;
      } else {
        replace(into, h('div', { class: 'card' }, message('empty', `No log lines carry span id ${n.id}.`, all.length ? `${all.length} lines belong to other spans of this trace: use "Logs for this trace".` : 'No line carries this trace id either.')));
        return;
      }
      replace(into, h('div', { class: 'card' }, h('div', { class: 'tl-head' }, h('strong', null, note), h('span', { class: 'spacer' }), this.logsLink(lines), h('button', { class: 'small', onclick: () => replace(into) }, 'Close')), this.logList(lines)));
    } catch (e) {
      replace(into, message('error', 'The log lines could not be loaded.', errText(e)));
    }
  }

  private logList(lines: TraceLogLine[]): HTMLElement {
    return h(
      'div',
      { class: 'tl-lines', 'data-testid': 'log-lines' },
      ...lines.map((l) => {
        const ms = Number(BigInt(l.timestamp) / 1_000_000n);
        const sid = lineSpanId(l);
        const span = sid ? this.m.spans.find((s) => s.id.toLowerCase() === sid) : undefined;
        const level = (l.labels?.level ?? l.metadata?.level ?? l.labels?.detected_level ?? '').toLowerCase();
        return h(
          'div',
          { class: `tl-line${level ? ` lvl-${level}` : ''}`, 'data-testid': 'log-line' },
          h('span', { class: 'mono dim tl-time' }, formatDateTime(ms, 'browser', true).slice(11)),
          span ? h('button', { class: 'link-btn tl-span', title: `span ${span.id}`, onclick: () => this.jumpTo(span.id) }, span.span.operationName) : null,
          h('span', { class: 'tl-text mono' }, l.line),
          h('span', { class: 'tl-labels' }, ...Object.entries(l.labels ?? {}).map(([k, v]) => h('span', { class: 'label-chip' }, `${k}=${v}`))),
        );
      }),
    );
  }

  // ---- mini-map --------------------------------------------------------------------------
  private mmCanvas = h('div', { class: 'mm-spans' });
  private mmWindow = h('div', { class: 'mm-window' });
  private mmSel = h('div', { class: 'mm-sel', hidden: true });
  private mmMarks = h('div', { class: 'mm-marks' });

  private buildMinimap(): HTMLElement {
    const m = this.m;
    const n = m.spans.length;
    const rowH = Math.max(1, Math.min(6, 48 / Math.max(1, n)));
    const step = Math.max(1, Math.ceil(n / 200)); // at most ~200 bars
    for (let i = 0; i < n; i += step) {
      const s = m.spans[i];
      this.mmCanvas.append(
        h('div', {
          class: 'mm-bar',
          style: {
            left: `${(s.offset / (m.duration || 1)) * 100}%`,
            width: `${Math.max(0.3, (s.duration / (m.duration || 1)) * 100)}%`,
            top: `${(i / n) * 48}px`,
            height: `${Math.max(1, rowH - 0.5)}px`,
            background: s.isError ? 'var(--error)' : serviceColor(s.service),
          },
        }),
      );
    }
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h('div', { class: `mm-tick${f === 1 ? ' last' : ''}`, style: { left: `${f * 100}%` } }, h('span', null, formatMicros(f * m.duration))));
    const el = h('div', { class: 'wf-minimap', 'data-testid': 'minimap', title: 'Drag to zoom the waterfall' }, h('div', { class: 'mm-ticks' }, ...ticks), this.mmCanvas, this.mmMarks, this.mmWindow, this.mmSel);
    let startX: number | undefined;
    const frac = (e: MouseEvent) => {
      const r = this.mmCanvas.getBoundingClientRect();
      return Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    };
    const move = (e: MouseEvent) => {
      if (startX === undefined) return;
      const a = Math.min(startX, frac(e));
      const b = Math.max(startX, frac(e));
      this.mmSel.hidden = false;
      this.mmSel.style.left = `${a * 100}%`;
      this.mmSel.style.width = `${(b - a) * 100}%`;
    };
    const up = (e: MouseEvent) => {
      document.removeEventListener('mousemove', move);
      document.removeEventListener('mouseup', up);
      if (startX === undefined) return;
      const a = Math.min(startX, frac(e));
      const b = Math.max(startX, frac(e));
      startX = undefined;
      this.mmSel.hidden = true;
      if (b - a > 0.005) this.setWindow([a, b]);
    };
    el.addEventListener('mousedown', (e) => {
      e.preventDefault();
      startX = frac(e);
      document.addEventListener('mousemove', move);
      document.addEventListener('mouseup', up);
    });
    this.drawMinimapWindow();
    return el;
  }

  private drawMinimapWindow() {
    const [a, b] = this.win;
    this.mmWindow.hidden = a === 0 && b === 1;
    this.mmWindow.style.left = `${a * 100}%`;
    this.mmWindow.style.width = `${(b - a) * 100}%`;
  }

  private drawMinimapMarks() {
    const m = this.m;
    replace(
      this.mmMarks,
      ...[...this.matches].slice(0, 500).map((sid) => {
        const s = m.byId.get(sid) as SpanNode;
        return h('div', { class: 'mm-mark', style: { left: `${(s.offset / (m.duration || 1)) * 100}%`, width: `${Math.max(0.4, (s.duration / (m.duration || 1)) * 100)}%` } });
      }),
    );
  }
}

export interface OpStats {
  service: string;
  operation: string;
  count: number;
  errors: number;
  total: number;
  avg: number;
  min: number;
  max: number;
  self: number;
  selfPct: number;
}

/** Per service and operation: span count, errors, durations and self time (Jaeger's trace statistics). */
export function operationStats(m: TraceModel): OpStats[] {
  const by = new Map<string, OpStats>();
  for (const n of m.spans) {
    const k = `${n.service}\u0000${n.span.operationName}`;
    let r = by.get(k);
    if (!r) {
      r = { service: n.service, operation: n.span.operationName, count: 0, errors: 0, total: 0, avg: 0, min: Infinity, max: 0, self: 0, selfPct: 0 };
      by.set(k, r);
    }
    r.count++;
    if (n.isError) r.errors++;
    r.total += n.duration;
    r.min = Math.min(r.min, n.duration);
    r.max = Math.max(r.max, n.duration);
    r.self += n.selfTime;
  }
  for (const r of by.values()) {
    r.avg = r.total / r.count;
    r.selfPct = m.duration ? (r.self / m.duration) * 100 : 0;
  }
  return [...by.values()];
}

function countDescendants(n: SpanNode): number {
  let c = 0;
  const stack = [...n.children];
  while (stack.length) {
    const x = stack.pop() as SpanNode;
    c++;
    stack.push(...x.children);
  }
  return c;
}

function spanText(n: SpanNode): string {
  const parts = [n.service, n.span.operationName, n.id, n.kind];
  for (const t of n.span.tags ?? []) parts.push(t.key, tagText(t.value));
  for (const t of n.processTags) parts.push(tagText(t.value));
  for (const l of n.span.logs ?? []) for (const f of l.fields) parts.push(tagText(f.value));
  return parts.join('\u0000').toLowerCase();
}

function tagTable(tags: Tag[], testid: string): HTMLElement {
  if (!tags.length) return h('div', { class: 'faint' }, 'none');
  return h(
    'table',
    { class: 'data sd-tags', 'data-testid': testid },
    h(
      'tbody',
      null,
      ...tags
        .slice()
        .sort((a, b) => a.key.localeCompare(b.key))
        .map((t) => h('tr', null, h('td', { class: 'mono sd-key' }, t.key), h('td', { class: 'mono sd-val' }, tagText(t.value)))),
    ),
  );
}

function section(title: string, count: number, body: HTMLElement): HTMLElement {
  const d = h('details', { class: 'sd-section', open: true }, h('summary', null, title, h('span', { class: 'faint' }, ` (${count})`)), body);
  return d;
}

function errText(e: unknown): string {
  if (e instanceof ApiError && e.unreachable) {
    void checkHealth();
    return 'pharos is not reachable — is the server running?';
  }
  return e instanceof Error ? e.message : String(e);
}
