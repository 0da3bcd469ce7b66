/**
 * Model plumbing shared by the editor and the import page: JSON parsing with line/column
 * errors, Grafana's export form (2-space JSON, every key kept), in-place replacement of a model
 * or panel (so the dashboard page keeps its references), panel ids, downloads and the
 * Grafana HTTP API calls for saving.
 */
import { request, ApiError } from '../../lib/api';
import type { DashboardMeta, DashboardModel } from '../contract';
import type { GrafanaPanel } from '../../panels/types';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class JsonError extends Error {
  line: number;
  column: number;
  constructor(message: string, line: number, column: number) {
    super(line > 0 ? `line ${line}, column ${column}: ${message}` : message);
    this.line = line;
    this.column = column;
  }
}

/** `JSON.parse` whose error names the line and column (1-based) where parsing stopped. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const raw = (e as Error).message;
    let pos: number | undefined;
    const lc = raw.match(/\(line (\d+) column (\d+)\)/);
    const p = raw.match(/at position (\d+)/);
    if (p) pos = Number(p[1]);
    let line = 0;
    let column = 0;
    if (pos !== undefined) {
      const before = text.slice(0, pos);
      line = before.split('\n').length;
      column = pos - before.lastIndexOf('\n');
    } else if (lc) {
      line = Number(lc[1]);
      column = Number(lc[2]);
    } else if (/Unexpected end of JSON input/.test(raw)) {
      const lines = text.split('\n');
      line = lines.length;
      column = lines[lines.length - 1].length + 1;
    }
    const msg = raw
      .replace(/^JSON\.parse: /, '')
      .replace(/\s*\(line \d+ column \d+\)/, '')
      .replace(/\s*in JSON at position \d+/, '')
      .replace(/, "[^"]*"\.\.\. is not valid JSON$/, '')
      .trim();
    throw new JsonError(msg || 'invalid JSON', line, column);
  }
}

/** Grafana's export: the model as 2-space indented JSON, keys in their order, nothing dropped. */
export function exportJson(model: DashboardModel): string {
  return JSON.stringify(model, null, 2);
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Replaces every key of `target` with those of `source` (same object identity). */
export function replaceInPlace(target: Record<string, unknown>, source: Record<string, unknown>) {
  for (const k of Object.keys(target)) if (!(k in source)) delete target[k];
  Object.assign(target, source);
}

/** Every panel of the dashboard, rows' collapsed children included. */
export function allPanels(model: DashboardModel): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  for (const p of model.panels ?? []) {
    out.push(p);
    for (const c of p.panels ?? []) out.push(c);
  }
  return out;
}

export function nextPanelId(model: DashboardModel): number {
  return allPanels(model).reduce((m, p) => Math.max(m, typeof p.id === 'number' ? p.id : 0), 0) + 1;
}

/** Inserts `panel` at the top of the grid, pushing every top-level panel down by its height. */
export function insertAtTop(model: DashboardModel, panel: GrafanaPanel) {
  const h = panel.gridPos?.h ?? 8;
  model.panels = model.panels ?? [];
  for (const p of model.panels) if (p.gridPos) p.gridPos = { ...p.gridPos, y: p.gridPos.y + h };
  model.panels.unshift(panel);
}

/** Removes `panel` wherever it sits (top level or inside a row). */
export function removePanel(model: DashboardModel, panel: GrafanaPanel) {
  const i = model.panels.indexOf(panel);
  if (i >= 0) {
    model.panels.splice(i, 1);
    return;
  }
  for (const p of model.panels) {
    const j = p.panels?.indexOf(panel) ?? -1;
    if (j >= 0) p.panels?.splice(j, 1);
  }
}

/** Grafana's slug of a title (`CrewAI App` → `crewai-app`). */
export function slugify(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'dashboard'
  );
}

/** A file name for a downloaded dashboard: the title, safe for every file system. */
export function fileName(title: string): string {
  const base = title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').trim() || 'dashboard';
  return `${base}.json`;
}

/** Offers `text` as a file download. */
export function download(name: string, text: string, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Copies text; falls back to a hidden textarea where the Clipboard API is not allowed. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

// ---- Grafana's dashboard API -----------------------------------------------------------------

export interface SaveResponse {
  id: number;
  uid: string;
  url: string;
  status: string;
  version: number;
  slug: string;
}

/** `POST /api/dashboards/db`. Throws ApiError; `status` 412 carries Grafana's reason in `reason`. */
export async function saveDashboard(
  dashboard: DashboardModel,
  opts: { overwrite?: boolean; message?: string; folderUid?: string },
): Promise<SaveResponse> {
  try {
    return await request<SaveResponse>('/api/dashboards/db', {
      method: 'POST',
      body: { dashboard, overwrite: opts.overwrite ?? false, message: opts.message ?? '', folderUid: opts.folderUid },
    });
  } catch (e) {
    throw await withReason(e);
  }
}

export class SaveError extends ApiError {
  /** Grafana's `status` on 412: `version-mismatch`, `name-exists`, … */
  reason: string;
  constructor(message: string, status: number, reason: string) {
    super(message, status);
    this.reason = reason;
  }
}

async function withReason(e: unknown): Promise<unknown> {
  if (!(e instanceof ApiError)) return e;
  let reason = '';
  if (e.status === 412) reason = /changed by someone else/i.test(e.message) ? 'version-mismatch' : /same name|already exists/i.test(e.message) ? 'name-exists' : 'precondition';
  if (e.status === 400 && /provisioned/i.test(e.message)) reason = 'provisioned';
  return new SaveError(e.message, e.status, reason);
}

export interface DashboardFull {
  dashboard: DashboardModel;
  meta: DashboardMeta;
}

export function getDashboard(uid: string): Promise<DashboardFull> {
  return request<DashboardFull>(`/api/dashboards/uid/${encodeURIComponent(uid)}`);
}

/** The dashboard with `uid`, or undefined when there is none (404). */
export async function findDashboard(uid: string): Promise<DashboardFull | undefined> {
  try {
    return await getDashboard(uid);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

export interface GrafanaDatasource {
  id: number;
  uid: string;
  name: string;
  type: string;
  typeName?: string;
  isDefault?: boolean;
}

/** pharos' built-in data sources (`/api/datasources`), or a fixed list while that API is missing. */
export async function listDatasources(): Promise<GrafanaDatasource[]> {
  try {
    const list = await request<GrafanaDatasource[]>('/api/datasources');
    if (Array.isArray(list) && list.length) return list;
  } catch (e) {
    if (!(e instanceof ApiError) || e.unreachable) throw e;
  }
  return FALLBACK_DATASOURCES;
}

export const FALLBACK_DATASOURCES: GrafanaDatasource[] = [
  { id: 1, uid: 'prometheus', name: 'Prometheus', type: 'prometheus', isDefault: true },
  { id: 2, uid: 'loki', name: 'Loki', type: 'loki' },
  { id: 3, uid: 'elasticsearch', name: 'Elasticsearch', type: 'elasticsearch' },
  { id: 4, uid: 'jaeger', name: 'Jaeger', type: 'jaeger' },
];
