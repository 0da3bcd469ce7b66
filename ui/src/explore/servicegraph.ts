/**
 * The service dependency graph from Jaeger's `/api/dependencies`: services as nodes laid out
 * in columns by call direction (callers left of callees), edges labelled with their call
 * counts, drawn as SVG; clicking a service searches its traces. A table lists every edge too.
 */
import { h, message, replace, svg } from '../lib/dom';
import { ApiError, qs, request } from '../lib/api';
import { check as checkHealth } from '../components/health';
import type { TimeRange } from '../lib/time';
import { formatDuration } from '../lib/time';
import { serviceColor } from './trace_model';

export interface Dependency {
  parent: string;
  child: string;
  callCount: number;
}

export function fetchDependencies(range: TimeRange, signal?: AbortSignal): Promise<Dependency[]> {
  return request<{ data: Dependency[] | null }>(
    '/api/dependencies' + qs({ endTs: Math.round(range.to), lookback: Math.max(1, Math.round(range.to - range.from)) }),
    { signal },
  ).then((e) => e.data ?? []);
}

interface Layout {
  layer: Map<string, number>;
  order: Map<string, number>;
  layers: string[][];
  back: Set<Dependency>;
}

/** Columns by longest call chain from the callers; edges closing a cycle are drawn as back edges. */
export function layoutGraph(deps: Dependency[]): Layout {
  const nodes = [...new Set(deps.flatMap((d) => [d.parent, d.child]))].sort();
  const out = new Map<string, Dependency[]>();
  const indeg = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const d of deps) {
    if (d.parent === d.child) continue;
    out.set(d.parent, [...(out.get(d.parent) ?? []), d]);
    indeg.set(d.child, (indeg.get(d.child) ?? 0) + 1);
  }
  // Find back edges with a DFS from callers (nodes nobody calls first, then the rest).
  const back = new Set<Dependency>(deps.filter((d) => d.parent === d.child));
  const state = new Map<string, 1 | 2>();
  const starts = [...nodes].sort((a, b) => (indeg.get(a) ?? 0) - (indeg.get(b) ?? 0) || a.localeCompare(b));
  for (const s of starts) {
    if (state.has(s)) continue;
    const stack: [string, number][] = [[s, 0]];
    state.set(s, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const edges = out.get(top[0]) ?? [];
      if (top[1] >= edges.length) {
        state.set(top[0], 2);
        stack.pop();
        continue;
      }
      const e = edges[top[1]++];
      const st = state.get(e.child);
      if (st === 1) back.add(e);
      else if (st === undefined) {
        state.set(e.child, 1);
        stack.push([e.child, 0]);
      }
    }
  }
  // Longest path layering over the acyclic rest.
  const layer = new Map<string, number>(nodes.map((n) => [n, 0]));
  const fwd = deps.filter((d) => !back.has(d));
  for (let i = 0; i < nodes.length; i++) {
    let changed = false;
    for (const d of fwd) {
      const want = (layer.get(d.parent) ?? 0) + 1;
      if ((layer.get(d.child) ?? 0) < want) {
        layer.set(d.child, want);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const layers: string[][] = [];
  for (const n of nodes) (layers[layer.get(n) ?? 0] ??= []).push(n);
  const order = new Map<string, number>();
  layers.forEach((col, li) => {
    if (li > 0) {
      // Barycentre of the callers' positions keeps edges short.
      const bary = (n: string) => {
        const ps = fwd.filter((d) => d.child === n).map((d) => order.get(d.parent) ?? 0);
        return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : 0;
      };
      col.sort((a, b) => bary(a) - bary(b) || a.localeCompare(b));
    }
    col.forEach((n, i) => order.set(n, i));
  });
  return { layer, order, layers: layers.map((l) => l ?? []), back };
}

export function serviceGraph(el: HTMLElement, onPick: (service: string) => void) {
  let abort: AbortController | undefined;
  async function load(range: TimeRange) {
    abort?.abort();
    const a = new AbortController();
    abort = a;
    if (!el.firstChild) replace(el, message('loading', 'Loading the service graph'));
    let deps: Dependency[];
    try {
      deps = await fetchDependencies(range, a.signal);
    } catch (e) {
      if (a.signal.aborted) return;
      if (e instanceof ApiError && e.unreachable) {
        void checkHealth();
        replace(el, message('error', 'pharos is not reachable — is the server running?', 'The graph reloads with the next refresh.'));
      } else replace(el, message('error', 'The service graph could not be loaded.', e instanceof Error ? e.message : String(e)));
      return;
    }
    if (a.signal.aborted) return;
    const rangeText = `the last ${formatDuration(range.to - range.from)}`;
    if (!deps.length) {
      replace(
        el,
        h(
          'div',
          { class: 'card', 'data-testid': 'sg-empty' },
          message('empty', `No calls between services in ${rangeText}.`, 'Edges appear when a span\'s parent belongs to another service (e.g. api → worker). Widen the time range if traces are older.'),
        ),
      );
      return;
    }
    draw(deps, rangeText);
  }

  function draw(deps: Dependency[], rangeText: string) {
    const lay = layoutGraph(deps);
    const NW = 168;
    const NH = 46;
    const CG = 150;
    const RG = 34;
    const PAD = 24;
    const rows = Math.max(...lay.layers.map((l) => l.length), 1);
    const width = PAD * 2 + lay.layers.length * NW + (lay.layers.length - 1) * CG;
    const height = PAD * 2 + rows * NH + (rows - 1) * RG + (lay.back.size ? 34 : 0);
    const pos = (n: string) => {
      const li = lay.layer.get(n) ?? 0;
      const col = lay.layers[li];
      const colH = col.length * NH + (col.length - 1) * RG;
      const top = PAD + (rows * NH + (rows - 1) * RG - colH) / 2;
      return { x: PAD + li * (NW + CG), y: top + (lay.order.get(n) ?? 0) * (NH + RG) };
    };
    const maxCalls = Math.max(...deps.map((d) => d.callCount), 1);
    const root = svg('svg', { width, height, class: 'sg-svg', role: 'img', 'aria-label': `Service graph: ${deps.length} edges` });
    root.append(
      svg(
        'defs',
        {},
        svg('marker', { id: 'sg-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 11, markerHeight: 11, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'sg-arrowhead' })),
      ),
    );
    const edgeLayer = svg('g', {});
    const labelLayer = svg('g', {});
    for (const d of deps) {
      const a = pos(d.parent);
      const b = pos(d.child);
      const sw = (1.2 + 3 * Math.sqrt(d.callCount / maxCalls)).toFixed(1);
      let path: string;
      let lx: number;
      let ly: number;
      if (d.parent === d.child) {
        path = `M ${a.x + NW - 30} ${a.y + NH} C ${a.x + NW - 20} ${a.y + NH + 34}, ${a.x + NW + 16} ${a.y + NH + 10}, ${a.x + NW} ${a.y + NH - 12}`;
        lx = a.x + NW + 6;
        ly = a.y + NH + 22;
      } else if (lay.back.has(d)) {
        // Against the layout direction: curve below the nodes.
        const x1 = a.x + NW / 2;
        const x2 = b.x + NW / 2;
        const yb = Math.max(a.y, b.y) + NH + 26;
        path = `M ${x1} ${a.y + NH} C ${x1} ${yb}, ${x2} ${yb}, ${x2} ${b.y + NH}`;
        lx = (x1 + x2) / 2;
        ly = yb - 4;
      } else {
        const x1 = a.x + NW;
        const y1 = a.y + NH / 2;
        const x2 = b.x;
        const y2 = b.y + NH / 2;
        const cx = (x2 - x1) / 2;
        path = `M ${x1} ${y1} C ${x1 + cx} ${y1}, ${x2 - cx} ${y2}, ${x2} ${y2}`;
        // Label at 62% along the curve: edges fanning out of one node keep their labels apart.
        const t = y1 === y2 ? 0.5 : 0.62;
        const bez = (a: number, b: number, c: number, d: number) => (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * d;
        lx = bez(x1, x1 + cx, x2 - cx, x2);
        ly = bez(y1, y1, y2, y2);
      }
      edgeLayer.append(
        svg('path', { d: path, class: 'sg-edge', 'stroke-width': sw, 'marker-end': 'url(#sg-arrow)' }, svg('title', {}, `${d.parent} → ${d.child}: ${d.callCount} calls`)),
      );
      const label = `${d.callCount} call${d.callCount === 1 ? '' : 's'}`;
      const lw = 12 + label.length * 6.6;
      labelLayer.append(
        svg(
          'g',
          { class: 'sg-edge-label', 'data-testid': 'sg-edge-label', 'data-parent': d.parent, 'data-child': d.child },
          svg('rect', { x: lx - lw / 2, y: ly - 10, width: lw, height: 18, rx: 9 }),
          svg('text', { x: lx, y: ly + 3, 'text-anchor': 'middle' }, label),
        ),
      );
    }
    root.append(edgeLayer);
    const callsIn = new Map<string, number>();
    const callsOut = new Map<string, number>();
    for (const d of deps) {
      callsIn.set(d.child, (callsIn.get(d.child) ?? 0) + d.callCount);
      callsOut.set(d.parent, (callsOut.get(d.parent) ?? 0) + d.callCount);
    }
    for (const n of lay.layer.keys()) {
      const p = pos(n);
      const name = n.length > 20 ? `${n.slice(0, 19)}…` : n;
      const g = svg(
        'g',
        { class: 'sg-node', tabindex: 0, role: 'button', 'data-testid': 'sg-node', 'data-service': n, transform: `translate(${p.x} ${p.y})` },
        svg('title', {}, `${n}\nin: ${callsIn.get(n) ?? 0} calls, out: ${callsOut.get(n) ?? 0} calls\nClick to search its traces`),
        svg('rect', { width: NW, height: NH, rx: 5, class: 'sg-node-box' }),
        svg('rect', { width: 5, height: NH, rx: 2, fill: serviceColor(n) }),
        svg('text', { x: 14, y: 19, class: 'sg-node-name' }, name),
        svg('text', { x: 14, y: 36, class: 'sg-node-sub' }, `in ${callsIn.get(n) ?? 0} · out ${callsOut.get(n) ?? 0} calls`),
      );
      g.addEventListener('click', () => onPick(n));
      g.addEventListener('keydown', (e) => {
        if ((e as KeyboardEvent).key === 'Enter') onPick(n);
      });
      root.append(g);
    }
    root.append(labelLayer);
    const table = h(
      'table',
      { class: 'data sg-table', 'data-testid': 'sg-edges' },
      h('thead', null, h('tr', null, h('th', null, 'Caller'), h('th', null, ''), h('th', null, 'Callee'), h('th', { class: 'num' }, 'Calls'))),
      h(
        'tbody',
        null,
        ...deps
          .slice()
          .sort((a, b) => b.callCount - a.callCount)
          .map((d) =>
            h(
              'tr',
              { 'data-testid': 'sg-edge', 'data-parent': d.parent, 'data-child': d.child, 'data-calls': String(d.callCount) },
              h('td', null, svcLink(d.parent)),
              h('td', { class: 'faint' }, '→'),
              h('td', null, svcLink(d.child)),
              h('td', { class: 'num' }, String(d.callCount)),
            ),
          ),
      ),
    );
    const services = lay.layer.size;
    replace(
      el,
      h(
        'div',
        { class: 'card sg-card' },
        h('div', { class: 'sg-head' }, h('strong', null, `${services} services, ${deps.length} call edge${deps.length === 1 ? '' : 's'}`), h('span', { class: 'dim' }, ` in ${rangeText} · callers on the left · click a service to search its traces`)),
        h('div', { class: 'sg-scroll' }, root),
      ),
      h('div', { class: 'card sg-table-card' }, table),
    );
  }

  function svcLink(s: string): HTMLElement {
    return h('button', { class: 'link-btn svc-link', onclick: () => onPick(s) }, h('span', { class: 'svc-dot', style: { background: serviceColor(s) } }), s);
  }

  return {
    load,
    dispose() {
      abort?.abort();
    },
  };
}
