/**
 * Grafana's `nodeGraph` panel: nodes and edges as SVG — circles with a main stat inside and the
 * title under them, arrows with the edge's main stat — laid out in columns by call direction.
 * The graph comes from `nodes`/`edges` frames (Grafana's field names: id, title, subtitle,
 * mainstat, secondarystat, color / id, source, target, mainstat); with a trace source it is the
 * services of a trace-ID query's trace, or otherwise the service dependencies of the time range
 * from `/api/dependencies` (Jaeger's dependency graph, Tempo's service map).
 */
import { ApiError, jaegerTrace } from '../lib/api';
import { h, message, svg } from '../lib/dom';
import { resolveColor } from '../lib/fieldconfig';
import { buildTrace, serviceColor } from '../explore/trace_model';
import { fetchDependencies, layoutGraph, type Dependency } from '../explore/servicegraph';
import { errorStrip, showEmptyOrError } from './panelkit';
import { register } from './registry';
import { contentSize, ellipsize } from './svgchart';
import { framesOf, type Frame } from './transform';
import { traceIds } from './tracespanel';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';
import './morepanels.css';

export interface GraphNode {
  id: string;
  title: string;
  subtitle?: string;
  mainstat?: string;
  secondarystat?: string;
  color?: string;
}
export interface GraphEdge {
  source: string;
  target: string;
  mainstat?: string;
  weight: number;
}
export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Where the graph came from (shown under it). */
  note: string;
}

function col(f: Frame, ...names: string[]) {
  return f.columns.find((c) => names.includes(c.name.toLowerCase()));
}

function text(v: unknown): string | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  return typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v);
}

/** Nodes/edges frames in the data (Grafana's node graph data format), or null. */
export function graphFromFrames(data: PanelData): Graph | null {
  const frames = framesOf({ ...data, series: [] });
  const edgesF = frames.find((f) => col(f, 'source') && col(f, 'target'));
  const nodesF = frames.find((f) => f !== edgesF && col(f, 'id') && !col(f, 'source'));
  if (!edgesF && !nodesF) return null;
  const nodes: GraphNode[] = [];
  if (nodesF) {
    const id = col(nodesF, 'id')!;
    const title = col(nodesF, 'title');
    const sub = col(nodesF, 'subtitle');
    const main = col(nodesF, 'mainstat');
    const second = col(nodesF, 'secondarystat');
    const color = col(nodesF, 'color');
    id.values.forEach((v, i) =>
      nodes.push({ id: String(v), title: text(title?.values[i]) ?? String(v), subtitle: text(sub?.values[i]), mainstat: text(main?.values[i]), secondarystat: text(second?.values[i]), color: typeof color?.values[i] === 'string' ? (color.values[i] as string) : undefined }),
    );
  }
  const edges: GraphEdge[] = [];
  if (edgesF) {
    const s = col(edgesF, 'source')!;
    const t = col(edgesF, 'target')!;
    const main = col(edgesF, 'mainstat');
    s.values.forEach((v, i) => {
      const m = main?.values[i];
      edges.push({ source: String(v), target: String(t.values[i]), mainstat: text(m), weight: typeof m === 'number' ? m : 1 });
    });
  }
  for (const e of edges) for (const n of [e.source, e.target]) if (!nodes.some((x) => x.id === n)) nodes.push({ id: n, title: n });
  return { nodes, edges, note: '' };
}

/** The services of one trace: a node per service (span count), an edge per cross-service call. */
export function graphFromTrace(trace: Parameters<typeof buildTrace>[0]): Graph {
  const model = buildTrace(trace);
  const calls = new Map<string, number>();
  for (const n of model.spans) {
    if (!n.parent || n.parent.service === n.service) continue;
    const k = `${n.parent.service}\u0000${n.service}`;
    calls.set(k, (calls.get(k) ?? 0) + 1);
  }
  const nodes: GraphNode[] = [...model.services.entries()].map(([svc, count]) => ({ id: svc, title: svc, mainstat: String(count), secondarystat: count === 1 ? 'span' : 'spans', color: serviceColor(svc) }));
  const edges: GraphEdge[] = [...calls.entries()].map(([k, c]) => {
    const [source, target] = k.split('\u0000');
    return { source, target, mainstat: `${c} call${c === 1 ? '' : 's'}`, weight: c };
  });
  return { nodes, edges, note: `Services of trace ${trace.traceID.slice(0, 16)}` };
}

export function graphFromDependencies(deps: Dependency[], rangeText: string): Graph {
  const calls = new Map<string, number>();
  const out = new Map<string, number>();
  for (const d of deps) {
    calls.set(d.child, (calls.get(d.child) ?? 0) + d.callCount);
    out.set(d.parent, (out.get(d.parent) ?? 0) + d.callCount);
    if (!calls.has(d.parent)) calls.set(d.parent, 0);
  }
  // Inside the circle: calls received, or (for services nobody calls) calls made.
  const nodes = [...calls.entries()].map(([svc, c]) => {
    const made = out.get(svc) ?? 0;
    return { id: svc, title: svc, mainstat: String(c || made), secondarystat: c ? 'calls in' : 'calls out', color: serviceColor(svc) };
  });
  const edges = deps.map((d) => ({ source: d.parent, target: d.child, mainstat: `${d.callCount} call${d.callCount === 1 ? '' : 's'}`, weight: d.callCount }));
  return { nodes, edges, note: `Service dependencies over ${rangeText}` };
}

function isTraceSource(panel: GrafanaPanel, data: PanelData): boolean {
  const dsType = (d: unknown) => (d && typeof d === 'object' ? String((d as { type?: string }).type ?? '') : typeof d === 'string' ? d : '');
  const types = [dsType(panel.datasource), ...(panel.targets ?? []).map((t) => dsType(t.datasource))].map((t) => t.toLowerCase());
  return types.some((t) => /jaeger|tempo|zipkin/.test(t)) || traceIds(data).length > 0;
}

/** A trace-ID query (not a search or service map) names the one trace to graph. */
function singleTraceId(panel: GrafanaPanel): string | undefined {
  for (const t of panel.targets ?? []) {
    if (!t || t.hide) continue;
    const q = typeof t.query === 'string' ? t.query.trim() : '';
    if ((!t.queryType || t.queryType === 'traceId' || t.queryType === 'traceql') && /^[0-9a-f]{16,32}$/i.test(q)) return q;
  }
  return undefined;
}

const R = 28;

function drawGraph(el: HTMLElement, g: Graph, width: number, height: number, data: PanelData) {
  const deps: Dependency[] = g.edges.map((e) => ({ parent: e.source, child: e.target, callCount: e.weight }));
  const lay = layoutGraph(deps);
  const layers = lay.layers.map((l) => [...l]);
  // Nodes without edges go in the first column.
  for (const n of g.nodes) if (!lay.layer.has(n.id)) (layers[0] ??= []).push(n.id);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const rows = Math.max(1, ...layers.map((l) => l.length));
  const colW = 200;
  const rowH = 96;
  const W = Math.max(width, 40 + layers.length * colW);
  const noteH = 20;
  const H = Math.max(height - noteH - (data.errors.length ? 22 : 0), 40 + rows * rowH);
  const gx = (W - layers.length * colW) / 2;
  const pos = new Map<string, { x: number; y: number }>();
  layers.forEach((l, li) => {
    const top = (H - l.length * rowH) / 2;
    l.forEach((id, i) => pos.set(id, { x: gx + li * colW + colW / 2, y: top + i * rowH + rowH / 2 - 8 }));
  });
  const root = svg('svg', { class: 'ng-svg', width: '100%', height: Math.max(40, height - noteH - (data.errors.length ? 22 : 0)), viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'xMidYMid meet', role: 'img', 'aria-label': `Node graph: ${g.nodes.length} nodes, ${g.edges.length} edges` });
  root.appendChild(svg('defs', {}, svg('marker', { id: 'ng-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#9fa7b3' }))));
  const edgeG = svg('g', {});
  const labelG = svg('g', {});
  const maxW = Math.max(1, ...g.edges.map((e) => e.weight));
  for (const e of g.edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    if (!a || !b) continue;
    const sw = (1 + 2.5 * Math.sqrt(e.weight / maxW)).toFixed(1);
    let d: string;
    let lx: number;
    let ly: number;
    if (e.source === e.target) {
      d = `M${a.x + R * 0.7},${a.y - R * 0.7} C${a.x + R * 2.2},${a.y - R * 2.2} ${a.x + R * 2.6},${a.y} ${a.x + R},${a.y}`;
      lx = a.x + R * 2.2;
      ly = a.y - R;
    } else {
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy) || 1;
      const ux = dx / len;
      const uy = dy / len;
      const x1 = a.x + ux * R;
      const y1 = a.y + uy * R;
      const x2 = b.x - ux * (R + 2);
      const y2 = b.y - uy * (R + 2);
      // Back edges bend so they do not overlap their forward twin.
      const back = dx < 0 || g.edges.some((o) => o.source === e.target && o.target === e.source);
      const bend = back ? 28 : 0;
      const mx = (x1 + x2) / 2 - uy * bend;
      const my = (y1 + y2) / 2 + ux * bend;
      d = `M${x1.toFixed(1)},${y1.toFixed(1)} Q${mx.toFixed(1)},${my.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
      lx = (x1 + 2 * mx + x2) / 4;
      ly = (y1 + 2 * my + y2) / 4 - 6;
    }
    edgeG.appendChild(svg('path', { d, fill: 'none', stroke: '#6e7580', 'stroke-width': sw, 'marker-end': 'url(#ng-arrow)', class: 'ng-edge', 'data-source': e.source, 'data-target': e.target }, svg('title', {}, `${e.source} → ${e.target}${e.mainstat ? `: ${e.mainstat}` : ''}`)));
    if (e.mainstat) labelG.appendChild(svg('text', { x: lx, y: ly, 'text-anchor': 'middle', class: 'ng-edge-label' }, e.mainstat));
  }
  const nodeG = svg('g', {});
  for (const [id, p] of pos) {
    const n = byId.get(id) ?? { id, title: id };
    const color = n.color ? resolveColor(n.color) : serviceColor(id);
    const node = svg('g', { class: 'ng-node', 'data-id': id, transform: `translate(${p.x},${p.y})` }, svg('title', {}, [n.title, n.subtitle, n.mainstat, n.secondarystat].filter(Boolean).join('\n')));
    node.append(
      svg('circle', { r: R, fill: '#181b1f', stroke: color, 'stroke-width': 3 }),
      svg('text', { y: n.secondarystat ? -2 : 4, 'text-anchor': 'middle', class: 'ng-node-stat' }, ellipsize(n.mainstat ?? '', R * 2 - 6)),
      n.secondarystat ? svg('text', { y: 11, 'text-anchor': 'middle', class: 'ng-node-stat2' }, ellipsize(n.secondarystat, R * 2 - 8, 9.5)) : '',
      svg('text', { y: R + 16, 'text-anchor': 'middle', class: 'ng-node-name' }, ellipsize(n.title, colW - 16, 12)),
      n.subtitle ? svg('text', { y: R + 30, 'text-anchor': 'middle', class: 'ng-node-sub' }, ellipsize(n.subtitle, colW - 16)) : '',
    );
    nodeG.appendChild(node);
  }
  root.append(edgeG, nodeG, labelG);
  const strip = errorStrip(data);
  el.replaceChildren(...[strip, root, g.note ? h('div', { class: 'ng-note' }, g.note) : null].filter((x): x is HTMLElement | SVGElement => !!x));
  el.dataset.state = 'ok';
  el.dataset.seriesCount = String(g.nodes.length);
  el.dataset.nodeCount = String(g.nodes.length);
  el.dataset.edgeCount = String(g.edges.length);
  el.dataset.edges = g.edges.map((e) => `${e.source}→${e.target}`).join('\u001f');
}

function nodeGraphFactory(el: HTMLElement, _panel: GrafanaPanel, _ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');
  let size = { width: 0, height: 0 };
  let last: { g: Graph; data: PanelData } | null = null;
  let abort: AbortController | undefined;

  function show(g: Graph, data: PanelData) {
    last = { g, data };
    if (!g.nodes.length) {
      el.dataset.seriesCount = '0';
      el.dataset.state = 'empty';
      el.replaceChildren(message('empty', g.note ? `No calls between services: ${g.note.toLowerCase()}` : 'No data', 'Edges appear when a span\'s parent belongs to another service. Widen the time range if traces are older.'));
      return;
    }
    const { width, height } = contentSize(el, size.width, size.height);
    drawGraph(el, g, width, height, data);
  }

  async function remote(data: PanelData, panel: GrafanaPanel) {
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    if (!last) el.replaceChildren(message('loading', 'Loading the service graph…'));
    try {
      const id = singleTraceId(panel);
      let g: Graph;
      if (id) {
        const t = await jaegerTrace(id);
        if (!t) {
          el.dataset.seriesCount = '0';
          el.dataset.state = 'empty';
          el.replaceChildren(message('empty', `Trace ${id} was not found`));
          return;
        }
        g = graphFromTrace(t);
      } else {
        const deps = await fetchDependencies(data.range, ac.signal);
        const mins = Math.round((data.range.to - data.range.from) / 60000);
        g = graphFromDependencies(deps, mins >= 120 ? `the last ${Math.round(mins / 60)} h` : `the last ${mins} min`);
      }
      if (ac.signal.aborted) return;
      // The trace search the query layer ran for this target is not what the graph shows.
      show(g, { ...data, errors: [] });
    } catch (e) {
      if (ac.signal.aborted) return;
      const err = e as ApiError;
      el.dataset.seriesCount = '0';
      el.dataset.state = 'error';
      el.replaceChildren(message('error', 'The service graph could not be loaded', err.message));
    }
  }

  return {
    update(data, panel) {
      const g = graphFromFrames(data);
      if (g) {
        abort?.abort();
        show(g, data);
        return;
      }
      if (isTraceSource(panel, data)) {
        void remote(data, panel);
        return;
      }
      last = null;
      showEmptyOrError(el, data, false, 'No data: a node graph needs nodes/edges frames or a Jaeger/Tempo data source');
    },
    resize(width, height) {
      size = { width, height };
      if (last) show(last.g, last.data);
    },
    destroy() {
      abort?.abort();
      el.replaceChildren();
    },
  };
}

register(['nodeGraph'], nodeGraphFactory);
