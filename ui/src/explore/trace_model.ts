/**
 * Turns a trace in Jaeger's JSON shape into the model the trace pages draw: a span tree in
 * display order (children by start time), depth, self time, error and kind per span, the
 * services involved, spans whose parent is missing (Jaeger's "invalid parent"), and the
 * critical path (the chain of span segments that determines the trace's duration). Also the
 * formatting of µs durations and the per-service colours shared by search and trace view.
 */
import type { JaegerSpan, JaegerTrace } from '../lib/api';

export type Tag = { key: string; type: string; value: unknown };

export interface SpanNode {
  span: JaegerSpan;
  id: string;
  /** CHILD_OF parent span id when the span names one (even if it is missing from the trace). */
  parentId?: string;
  parent?: SpanNode;
  children: SpanNode[];
  service: string;
  processTags: Tag[];
  depth: number;
  /** µs since the trace's start. */
  offset: number;
  start: number;
  duration: number;
  end: number;
  /** Duration not covered by any child (µs). */
  selfTime: number;
  isError: boolean;
  kind: string;
  /** The parent named by the span is not part of the trace. */
  missingParent: boolean;
  /** Row index in tree order. */
  index: number;
}

export interface TraceModel {
  traceID: string;
  spans: SpanNode[]; // tree order (depth-first)
  byId: Map<string, SpanNode>;
  roots: SpanNode[];
  root: SpanNode;
  start: number; // µs
  end: number; // µs
  duration: number; // µs
  /** Service name → number of spans, in order of first appearance in the tree. */
  services: Map<string, number>;
  maxDepth: number;
  errorCount: number;
  /** Spans naming a parent that is not in the trace. */
  orphans: SpanNode[];
  warnings: string[];
}

export function tagValue(tags: Tag[] | undefined, key: string): unknown {
  return tags?.find((t) => t.key === key)?.value;
}

/** A span is an error when Jaeger would mark it (`error=true`) or its OTel status is ERROR. */
export function spanIsError(span: JaegerSpan): boolean {
  const e = tagValue(span.tags, 'error');
  if (e === true || e === 'true') return true;
  const s = tagValue(span.tags, 'otel.status_code');
  return typeof s === 'string' && s.toUpperCase() === 'ERROR';
}

/** Builds the span tree of a trace. */
export function buildTrace(trace: JaegerTrace): TraceModel {
  const byId = new Map<string, SpanNode>();
  const nodes: SpanNode[] = [];
  for (const span of trace.spans ?? []) {
    const proc = trace.processes?.[span.processID];
    // The parent: the CHILD_OF reference, else a FOLLOWS_FROM within the same trace (as Jaeger UI).
    const ref =
      span.references?.find((r) => r.refType === 'CHILD_OF') ??
      span.references?.find((r) => sameTrace(r.traceID, span.traceID));
    const parentId = ref && ref.spanID !== span.spanID ? ref.spanID : undefined;
    const node: SpanNode = {
      span,
      id: span.spanID,
      parentId,
      children: [],
      service: proc?.serviceName ?? span.processID ?? 'unknown',
      processTags: proc?.tags ?? [],
      depth: 0,
      offset: 0,
      start: span.startTime,
      duration: Math.max(0, span.duration),
      end: span.startTime + Math.max(0, span.duration),
      selfTime: 0,
      isError: spanIsError(span),
      kind: String(tagValue(span.tags, 'span.kind') ?? ''),
      missingParent: false,
      index: 0,
    };
    if (byId.has(node.id)) continue; // duplicate span ids: keep the first
    byId.set(node.id, node);
    nodes.push(node);
  }
  const roots: SpanNode[] = [];
  const orphans: SpanNode[] = [];
  for (const n of nodes) {
    const p = n.parentId ? byId.get(n.parentId) : undefined;
    if (p && p !== n && !isAncestor(n, p)) {
      n.parent = p;
      p.children.push(n);
    } else {
      if (n.parentId && n.parentId !== n.id && !p) {
        n.missingParent = true;
        orphans.push(n);
      }
      roots.push(n);
    }
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.start - b.start || a.span.operationName.localeCompare(b.span.operationName);
  roots.sort((a, b) => Number(a.missingParent) - Number(b.missingParent) || byStart(a, b));
  let start = nodes.length ? Infinity : 0;
  let end = nodes.length ? -Infinity : 0;
  for (const n of nodes) {
    if (n.start < start) start = n.start;
    if (n.end > end) end = n.end;
  }
  const spans: SpanNode[] = [];
  const services = new Map<string, number>();
  let maxDepth = 0;
  let errorCount = 0;
  // Iterative depth-first walk (deep traces must not overflow the stack).
  const stack: SpanNode[] = [...roots].reverse();
  for (const r of roots) r.depth = 0;
  while (stack.length) {
    const n = stack.pop() as SpanNode;
    n.index = spans.length;
    n.offset = n.start - start;
    spans.push(n);
    services.set(n.service, (services.get(n.service) ?? 0) + 1);
    maxDepth = Math.max(maxDepth, n.depth);
    if (n.isError) errorCount++;
    n.children.sort(byStart);
    for (let i = n.children.length - 1; i >= 0; i--) {
      n.children[i].depth = n.depth + 1;
      stack.push(n.children[i]);
    }
    n.selfTime = selfTime(n);
  }
  const warnings = [...(trace.warnings ?? [])];
  if (orphans.length) {
    warnings.push(
      `${orphans.length} span${orphans.length === 1 ? '' : 's'} reference${orphans.length === 1 ? 's' : ''} a parent span that is not in this trace (invalid parent); shown as root${orphans.length === 1 ? '' : 's'}.`,
    );
  }
  const root = roots[0];
  return {
    traceID: trace.traceID,
    spans,
    byId,
    roots,
    root,
    start,
    end,
    duration: end - start,
    services,
    maxDepth,
    errorCount,
    orphans,
    warnings,
  };
}

/** Trace ids compare without leading zeros (Jaeger shortens 128-bit ids whose high half is 0). */
export function sameTrace(a: string, b: string): boolean {
  return a.replace(/^0+/, '').toLowerCase() === b.replace(/^0+/, '').toLowerCase();
}

function isAncestor(candidate: SpanNode, of: SpanNode): boolean {
  // Guards against reference cycles: is `candidate` already an ancestor of `of`?
  let p: SpanNode | undefined = of;
  for (let i = 0; p && i < 10_000; i++, p = p.parent) if (p === candidate) return true;
  return false;
}

/** The part of a span's duration not covered by its children (children clipped to the span). */
export function selfTime(n: SpanNode): number {
  const iv = n.children
    .map((c) => [Math.max(c.start, n.start), Math.min(c.end, n.end)] as [number, number])
    .filter(([a, b]) => b > a)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let curA = -Infinity;
  let curB = -Infinity;
  for (const [a, b] of iv) {
    if (a > curB) {
      if (curB > curA) covered += curB - curA;
      curA = a;
      curB = b;
    } else curB = Math.max(curB, b);
  }
  if (curB > curA) covered += curB - curA;
  return Math.max(0, n.duration - covered);
}

export interface CriticalSegment {
  spanId: string;
  /** µs, absolute. */
  start: number;
  end: number;
}

/**
 * The critical path from the root: walking back from the root's end, the child that finished
 * last before the current point is on the path (recursively), the time between it and the
 * current point is the parent's own; children are clipped to their parent (ones starting after
 * the parent ended are ignored), as Jaeger UI does.
 */
export function criticalPath(model: TraceModel): CriticalSegment[] {
  const out: CriticalSegment[] = [];
  if (!model.root) return out;
  const walk = (n: SpanNode, from: number, to: number, depth: number) => {
    // [from, to] is the window of n that matters (n clipped to its parent).
    const kids = n.children
      .filter((c) => c.start < to && c.end > from)
      .map((c) => ({ c, s: Math.max(c.start, from), e: Math.min(c.end, to) }))
      .sort((a, b) => b.e - a.e);
    let cur = to;
    for (const k of kids) {
      if (k.e > cur) continue; // overlaps the part already on the path
      if (cur > k.e) out.push({ spanId: n.id, start: k.e, end: cur });
      if (depth < 5000) walk(k.c, k.s, k.e, depth + 1);
      cur = k.s;
      if (cur <= from) break;
    }
    if (cur > from) out.push({ spanId: n.id, start: from, end: cur });
  };
  walk(model.root, model.root.start, model.root.end, 0);
  return out.sort((a, b) => a.start - b.start);
}

/** `850µs`, `12.35ms`, `1.24s`, `2m 3s` from µs. */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return '–';
  if (us === 0) return '0';
  if (us < 1000) return `${Math.round(us)}µs`;
  const ms = us / 1000;
  if (ms < 1000) return `${trim(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${trim(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s - m * 60)}s`;
  const hrs = Math.floor(m / 60);
  return `${hrs}h ${m - hrs * 60}m`;
}

function trim(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1).replace(/\.0$/, '') : n.toFixed(2).replace(/\.?0+$/, '');
}

/** Converts a Jaeger/Go duration input (`100ms`, `1.2s`, `500us`) to itself when valid, else undefined. */
export function validGoDuration(s: string): boolean {
  return /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s.trim());
}

// Colours readable on the dark theme, ordered so that neighbours differ in hue; reds are left
// out (red means error).
const PALETTE = [
  '#5794f2', '#73bf69', '#b877d9', '#ff9830', '#6ed0e0', '#fade2a', '#d683ce', '#96d98d',
  '#8ab8ff', '#ffb357', '#3ea7b3', '#ca95e5', '#c8f2c2', '#e0b400', '#a9a9f5', '#cbb8a9',
];
const assigned = new Map<string, string>();

/**
 * A colour per service: services get the palette in the order they are first drawn, and keep
 * their colour for the session (search list, trace view and service graph agree).
 */
export function serviceColor(service: string): string {
  const got = assigned.get(service);
  if (got) return got;
  const c = PALETTE[assigned.size % PALETTE.length];
  assigned.set(service, c);
  return c;
}

/** Renders a tag value as text (objects as JSON). */
export function tagText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Summary of a trace for the search list (without building rows). */
export interface TraceSummary {
  traceID: string;
  rootService: string;
  rootOperation: string;
  start: number; // µs
  duration: number; // µs
  spanCount: number;
  errorCount: number;
  services: Map<string, number>;
  orphanCount: number;
}

export function summarize(trace: JaegerTrace): TraceSummary {
  const m = buildTrace(trace);
  return {
    traceID: trace.traceID,
    rootService: m.root?.service ?? '?',
    rootOperation: m.root?.span.operationName ?? '(no spans)',
    start: m.start,
    duration: m.duration,
    spanCount: m.spans.length,
    errorCount: m.errorCount,
    services: m.services,
    orphanCount: m.orphans.length,
  };
}
