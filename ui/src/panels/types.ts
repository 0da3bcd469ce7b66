/**
 * The contract between a dashboard (which runs a panel's queries) and a panel renderer (which
 * draws the results): Grafana's panel JSON in, data frames in, one DOM element out.
 */
import type { TimeRange, TimeZone } from '../lib/time';

/** A panel as Grafana's dashboard JSON describes it (only what pharos reads is typed). */
export interface GrafanaPanel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string } | string | null;
  targets?: GrafanaTarget[];
  fieldConfig?: { defaults?: FieldConfig; overrides?: FieldOverride[] };
  options?: Record<string, unknown>;
  interval?: string;
  maxDataPoints?: number;
  collapsed?: boolean;
  panels?: GrafanaPanel[];
  repeat?: string;
  transparent?: boolean;
  /** Legacy graph/singlestat options are read where they matter. */
  [legacy: string]: unknown;
}

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  query?: string;
  legendFormat?: string;
  interval?: string;
  instant?: boolean;
  range?: boolean;
  format?: 'time_series' | 'table' | 'heatmap' | string;
  /** Prometheus: also ask `/api/v1/query_exemplars` and draw the exemplars. */
  exemplar?: boolean;
  hide?: boolean;
  datasource?: { type?: string; uid?: string } | string | null;
  [other: string]: unknown;
}

export interface Threshold {
  value: number | null;
  color: string;
}

export interface FieldConfig {
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  displayName?: string;
  color?: { mode?: string; fixedColor?: string };
  thresholds?: { mode?: 'absolute' | 'percentage'; steps?: Threshold[] };
  mappings?: unknown[];
  custom?: Record<string, unknown>;
  [other: string]: unknown;
}

export interface FieldOverride {
  matcher: { id: string; options?: unknown };
  properties: { id: string; value?: unknown }[];
}

/** One series: its display name, labels and points (times in ms, values may be null for gaps). */
export interface Series {
  refId: string;
  name: string;
  labels: Record<string, string>;
  times: number[];
  values: (number | null)[];
}

/** A table result (instant queries with `format: table`, ES hits, trace lists). */
export interface TableData {
  refId: string;
  columns: { name: string; type?: 'time' | 'number' | 'string' }[];
  rows: unknown[][];
}

export interface LogRow {
  timeMs: number;
  line: string;
  labels: Record<string, string>;
  metadata?: Record<string, unknown>;
  refId: string;
}

export interface PanelData {
  series: Series[];
  tables: TableData[];
  logs: LogRow[];
  /** One message per failing target; the panel shows them instead of (or above) the data. */
  errors: string[];
  /** Non-fatal notes (Prometheus warnings/infos). */
  notices: string[];
  range: TimeRange;
  intervalMs: number;
  /** The dashboard's annotation events for this panel (drawn by time series panels). */
  annotations?: Annotation[];
  /** Exemplars of Prometheus targets with `exemplar: true` (drawn by time series panels). */
  exemplars?: Exemplar[];
}

/** One exemplar from `/api/v1/query_exemplars`: a sample of a series tied to a trace. */
export interface Exemplar {
  time: number;
  value: number;
  /** The exemplar's own labels (`trace_id`, `span_id`, …). */
  labels: Record<string, string>;
  /** The labels of the series it belongs to. */
  seriesLabels: Record<string, string>;
  refId: string;
}

/** A dashboard annotation: a point in time or a region, with text shown on hover. */
export interface Annotation {
  time: number;
  timeEnd?: number;
  title: string;
  text: string;
  tags: string[];
  color: string;
  /** The annotation query's name. */
  source: string;
  /** `filter.ids` of the query: only (or, with excludePanels, all but) these panels show it. */
  panelIds?: number[];
  excludePanels?: boolean;
  /** The stored annotation's id (built-in annotations from `/api/annotations`). */
  id?: number;
}

/** Shared crosshair: a panel publishes the hovered time, every other panel shows it. */
export interface CrosshairBus {
  publish(timeMs: number | null, source: unknown): void;
  subscribe(fn: (timeMs: number | null, source: unknown) => void): () => void;
}

export interface PanelContext {
  timeZone: TimeZone;
  crosshair: CrosshairBus;
  /** Drag-to-zoom on a time axis. */
  onZoom(fromMs: number, toMs: number): void;
  /** Interpolates dashboard variables in a string (text panels, links, titles). */
  interpolate(text: string): string;
  /** Ctrl/Cmd+click on a time axis chart: add an annotation at `timeMs` (a form near the pointer). */
  onAnnotate?(timeMs: number, clientX: number, clientY: number): void;
}

/** A mounted panel body. The dashboard calls `update` after each query run, `resize` on layout. */
export interface PanelRenderer {
  update(data: PanelData, panel: GrafanaPanel): void;
  /**
   * The annotations arrived after the data (`data.annotations` was undefined while they were
   * on their way): draw them alone. Without it the panel is drawn again with `update`.
   */
  annotate?(list: Annotation[]): void;
  resize(width: number, height: number): void;
  destroy(): void;
}

/** Creates a renderer for `panel.type` inside `el` (an empty element sized by the grid). */
export type PanelFactory = (el: HTMLElement, panel: GrafanaPanel, ctx: PanelContext) => PanelRenderer;
