/**
 * What the dashboard page (view.ts) offers the editor (editor/*.ts): the live dashboard model
 * and the calls that re-render it. The editor never reaches into the view's internals; the
 * view never knows about editor dialogs.
 */
import type { GrafanaPanel, PanelData } from '../panels/types';

/** Grafana's dashboard JSON (only what pharos reads is typed; everything else is kept). */
export interface DashboardModel {
  uid?: string;
  id?: number | null;
  title: string;
  tags?: string[];
  timezone?: string;
  refresh?: string | false;
  time?: { from: string; to: string };
  panels: GrafanaPanel[];
  templating?: { list: TemplateVariable[] };
  annotations?: unknown;
  links?: unknown[];
  schemaVersion?: number;
  version?: number;
  graphTooltip?: number;
  [other: string]: unknown;
}

export interface TemplateVariable {
  name: string;
  type: 'query' | 'custom' | 'constant' | 'interval' | 'textbox' | 'datasource' | 'adhoc' | string;
  label?: string;
  hide?: number;
  query?: string | { query?: string; qryType?: number; [k: string]: unknown };
  definition?: string;
  regex?: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { text?: string | string[]; value?: string | string[]; selected?: boolean };
  options?: { text: string; value: string; selected?: boolean }[];
  refresh?: number;
  sort?: number;
  auto?: boolean;
  auto_count?: number;
  auto_min?: string;
  datasource?: unknown;
  [other: string]: unknown;
}

/** Grafana's `meta` from `GET /api/dashboards/uid/<uid>`. */
export interface DashboardMeta {
  slug?: string;
  url?: string;
  canSave?: boolean;
  canEdit?: boolean;
  provisioned?: boolean;
  provisionedExternalId?: string;
  version?: number;
  updated?: string;
  created?: string;
  folderTitle?: string;
  [other: string]: unknown;
}

export interface DashboardHost {
  /** The dashboard being shown; the editor mutates it and then calls `changed()`. */
  readonly model: DashboardModel;
  readonly meta: DashboardMeta;
  /** True for a dashboard not saved yet (`/dashboards/new`). */
  readonly isNew: boolean;
  /** The page's toolbar: the editor appends its buttons here. */
  readonly toolbar: HTMLElement;
  /** Whether the page is in edit mode (drag/resize on the grid, panel menus show Edit/Remove). */
  readonly editing: boolean;
  setEditing(on: boolean): void;
  /** Re-lays out the grid and re-runs queries after the model changed (variables re-read too). */
  changed(opts?: { requery?: boolean }): void;
  /** Marks the model as saved (after a successful POST /api/dashboards/db) with the new meta. */
  saved(model: DashboardModel, meta: DashboardMeta): void;
  /** True when the model differs from the last saved one. */
  readonly dirty: boolean;
  /** Runs one panel's targets with the current time range and variables (live preview). */
  runPanel(panel: GrafanaPanel, signal?: AbortSignal): Promise<PanelData>;
  /** Interpolates variables in text the way the panels see it. */
  interpolate(text: string): string;
  /** Called by the view when a panel menu asks for "Edit" (set by the editor). */
  onEditPanel?: (panel: GrafanaPanel) => void;
}
