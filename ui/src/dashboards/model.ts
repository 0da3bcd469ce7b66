/**
 * Reads any Grafana dashboard JSON into the model the page works on: the API-wrapped
 * `{"dashboard": {...}}` or bare form, legacy `rows` (schemaVersion < 16) turned into panels on
 * the 24-column grid, missing ids and gridPos filled. Unknown keys are kept so an export
 * round-trips; legacy panel types (`graph`, `singlestat`, …) are translated only for drawing
 * (`panelForRenderer`), never in the saved model.
 */
import type { DashboardModel } from './contract';
import type { FieldConfig, GrafanaPanel, Threshold } from '../panels/types';
import { isSupported } from '../panels/registry';

export const GRID_COLUMNS = 24;
export const GRID_CELL_HEIGHT = 30;
export const GRID_CELL_VMARGIN = 8;
const DEFAULT_ROW_HEIGHT = 250;
const MIN_PANEL_HEIGHT = GRID_CELL_HEIGHT * 3;
const DEFAULT_PANEL_SPAN = 4;

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A deep copy through JSON (dashboards are plain JSON). */
export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The dashboard object inside an import/API document (`{dashboard, meta}`, `{dashboard}` or bare). */
export function unwrapDashboard(json: unknown): Json {
  if (!isObj(json)) throw new Error('a dashboard must be a JSON object');
  if (isObj(json.dashboard)) return json.dashboard;
  return json;
}

/** Normalises a dashboard in place-safe fashion (works on a copy) and returns the model. */
export function normalizeDashboard(json: unknown): DashboardModel {
  const d = clone(unwrapDashboard(json));
  if (typeof d.title !== 'string') d.title = d.title === undefined ? 'New dashboard' : String(d.title);
  if (!Array.isArray(d.panels)) d.panels = [];
  if (Array.isArray(d.rows)) {
    upgradeRows(d);
  }
  inlineLibraryPanels(d);
  const model = d as DashboardModel;
  if (!isObj(model.templating) || !Array.isArray((model.templating as Json).list)) model.templating = { list: [] };
  model.templating!.list = model.templating!.list.filter((v) => isObj(v) && typeof v.name === 'string');
  if (!isObj(model.time) || typeof model.time.from !== 'string') model.time = { from: 'now-6h', to: 'now' };
  fillPanels(model);
  return model;
}

/**
 * Library panels of a dashboard exported for sharing: a panel is only `{id, gridPos,
 * libraryPanel: {uid, name}}` and its model sits in `__elements[uid].model`. pharos keeps no
 * library of its own, so the model is put in place (keeping the panel's id, position and
 * reference), as Grafana shows it; a reference with no model keeps its name as the title.
 */
function inlineLibraryPanels(d: Json) {
  const elements = isObj(d.__elements) ? d.__elements : {};
  const fill = (p: unknown): unknown => {
    if (!isObj(p)) return p;
    if (Array.isArray(p.panels)) p.panels = p.panels.map(fill);
    const ref = isObj(p.libraryPanel) ? p.libraryPanel : undefined;
    if (!ref) return p;
    const el = typeof ref.uid === 'string' ? elements[ref.uid] : undefined;
    const model = isObj(el) && isObj(el.model) ? el.model : undefined;
    const out: Json = model ? { ...clone(model), id: p.id ?? model.id, gridPos: p.gridPos ?? model.gridPos, libraryPanel: ref } : { ...p };
    if (typeof out.title !== 'string' && typeof ref.name === 'string') out.title = ref.name;
    if (!model && typeof out.type !== 'string') out.type = 'text';
    if (!model && out.type === 'text' && !isObj(out.options)) out.options = { mode: 'markdown', content: `Library panel "${String(ref.name ?? ref.uid ?? '')}" is not part of this dashboard's JSON.` };
    return out;
  };
  if (Array.isArray(d.panels)) d.panels = d.panels.map(fill);
}

/** A new, empty dashboard (`/dashboards/new`). */
export function emptyDashboard(): DashboardModel {
  return {
    title: 'New dashboard',
    tags: [],
    timezone: 'browser',
    editable: true,
    graphTooltip: 0,
    panels: [],
    refresh: '',
    schemaVersion: 39,
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [] },
    annotations: { list: [] },
    version: 0,
  };
}

/** Every panel including those inside collapsed rows (depth-first, row before its children). */
export function allPanels(model: DashboardModel): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  for (const p of model.panels) {
    out.push(p);
    if (p.type === 'row' && Array.isArray(p.panels)) out.push(...p.panels);
  }
  return out;
}

/** The next free panel id. */
export function nextPanelId(model: DashboardModel): number {
  let max = 0;
  for (const p of allPanels(model)) if (typeof p.id === 'number' && p.id > max) max = p.id;
  return max + 1;
}

/** Sorts panels top-to-bottom, left-to-right, as Grafana does on load. */
export function sortPanels(panels: GrafanaPanel[]) {
  panels.sort((a, b) => (a.gridPos!.y - b.gridPos!.y) || (a.gridPos!.x - b.gridPos!.x));
}

function fillPanels(model: DashboardModel) {
  const seen = new Set<number>();
  let next = nextPanelId(model);
  const fix = (p: GrafanaPanel, fallbackY: number) => {
    if (typeof p.id !== 'number' || seen.has(p.id)) p.id = next++;
    seen.add(p.id);
    const g = p.gridPos;
    if (!isObj(g)) {
      p.gridPos = p.type === 'row' ? { x: 0, y: fallbackY, w: GRID_COLUMNS, h: 1 } : { x: 0, y: fallbackY, w: 12, h: 8 };
    } else {
      const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : d);
      g.w = Math.min(GRID_COLUMNS, Math.max(1, num(g.w, 12)));
      g.h = Math.max(1, num(g.h, 8));
      g.x = Math.min(GRID_COLUMNS - g.w, Math.max(0, num(g.x, 0)));
      g.y = Math.max(0, num(g.y, fallbackY));
    }
    if (!Array.isArray(p.targets) && p.targets !== undefined) p.targets = [];
  };
  let y = 0;
  model.panels = model.panels.filter(isObj) as GrafanaPanel[];
  for (const p of model.panels) {
    fix(p, y);
    y = Math.max(y, p.gridPos!.y + p.gridPos!.h);
    if (p.type === 'row') {
      if (Array.isArray(p.panels)) {
        p.panels = p.panels.filter(isObj) as GrafanaPanel[];
        for (const c of p.panels) fix(c, p.gridPos!.y + 1);
      } else if (p.collapsed) p.panels = [];
    }
  }
  sortPanels(model.panels);
}

function gridHeight(height: unknown): number {
  let px = typeof height === 'string' ? parseInt(height.replace('px', ''), 10) : typeof height === 'number' ? height : DEFAULT_ROW_HEIGHT;
  if (!Number.isFinite(px)) px = DEFAULT_ROW_HEIGHT;
  if (px < MIN_PANEL_HEIGHT) px = MIN_PANEL_HEIGHT;
  return Math.ceil(px / (GRID_CELL_HEIGHT + GRID_CELL_VMARGIN));
}

/** Grafana's upgradeToGridLayout (schemaVersion 16): rows of spans → panels with gridPos. */
function upgradeRows(d: Json) {
  const rows = (d.rows as unknown[]).filter(isObj);
  delete d.rows;
  const panels = d.panels as GrafanaPanel[];
  let nextId = 1;
  for (const r of rows) for (const p of (Array.isArray(r.panels) ? r.panels : []) as Json[]) if (typeof p.id === 'number') nextId = Math.max(nextId, p.id + 1);
  for (const p of panels) if (typeof p.id === 'number') nextId = Math.max(nextId, p.id + 1);
  const showRows = rows.some((r) => r.collapse || r.showTitle || r.repeat);
  let y = panels.reduce((m, p) => Math.max(m, (p.gridPos?.y ?? 0) + (p.gridPos?.h ?? 0)), 0);
  for (const row of rows) {
    if (row.repeatIteration) continue;
    const rowH = gridHeight(row.height);
    let rowPanel: GrafanaPanel | undefined;
    if (showRows) {
      rowPanel = {
        id: nextId++,
        type: 'row',
        title: typeof row.title === 'string' ? row.title : '',
        collapsed: Boolean(row.collapse),
        panels: [],
        gridPos: { x: 0, y, w: GRID_COLUMNS, h: 1 },
      };
      if (typeof row.repeat === 'string' && row.repeat) rowPanel.repeat = row.repeat;
      y++;
    }
    // Pack the row's panels left to right, wrapping at 24 columns (Grafana's RowArea).
    let x = 0;
    let lineY = y;
    let lineH = 0;
    let bottom = y;
    for (const p of (Array.isArray(row.panels) ? row.panels : []).filter(isObj) as GrafanaPanel[]) {
      const span = typeof p.span === 'number' ? p.span : DEFAULT_PANEL_SPAN;
      const w = Math.max(1, Math.min(GRID_COLUMNS, Math.floor(span) * (GRID_COLUMNS / 12)));
      const ph = p.height !== undefined ? gridHeight(p.height) : rowH;
      if (x + w > GRID_COLUMNS) {
        x = 0;
        lineY += lineH;
        lineH = 0;
      }
      p.gridPos = { x, y: lineY, w, h: ph };
      x += w;
      lineH = Math.max(lineH, ph);
      bottom = Math.max(bottom, lineY + ph);
      delete p.span;
      if (rowPanel && rowPanel.collapsed) rowPanel.panels!.push(p);
      else panels.push(p);
    }
    if (rowPanel) panels.push(rowPanel);
    if (!(rowPanel && rowPanel.collapsed)) y = Math.max(bottom, y);
  }
  d.panels = panels;
}

// ---- drawing legacy panel types -------------------------------------------------------------

const LEGACY_TYPES: Record<string, string> = {
  graph: 'timeseries',
  singlestat: 'stat',
  'grafana-singlestat-panel': 'stat',
  'table-old': 'table',
  'grafana-piechart-panel': 'piechart',
  'natel-discrete-panel': 'state-timeline',
};

const SINGLESTAT_CALCS: Record<string, string> = {
  avg: 'mean',
  current: 'lastNotNull',
  max: 'max',
  min: 'min',
  total: 'sum',
  first: 'firstNotNull',
  delta: 'delta',
  diff: 'diff',
  range: 'range',
  name: 'lastNotNull',
  last_time: 'lastNotNull',
};

/**
 * The panel as the renderer should see it: no type → timeseries, legacy graph/singlestat mapped
 * to timeseries/stat with their options translated (unit, decimals, thresholds, stacking, fill,
 * legend, aliasColors, value maps), unless a renderer for the legacy type is registered.
 */
export function panelForRenderer(panel: GrafanaPanel): GrafanaPanel {
  const type = panel.type || 'timeseries';
  if (!panel.type) return { ...panel, type };
  if (type === 'graph') {
    const other = graphByXAxis(panel);
    if (other) return other;
  }
  if (isSupported(type) || !(type in LEGACY_TYPES)) return panel;
  const p: GrafanaPanel = { ...panel, type: LEGACY_TYPES[type] };
  const fieldConfig = { defaults: { ...(panel.fieldConfig?.defaults ?? {}) } as FieldConfig, overrides: [...(panel.fieldConfig?.overrides ?? [])] };
  const defaults = fieldConfig.defaults;
  const custom: Record<string, unknown> = { ...(defaults.custom ?? {}) };
  const options: Record<string, unknown> = { ...(panel.options ?? {}) };
  if (type === 'graph') {
    const yaxes = Array.isArray(panel.yaxes) ? (panel.yaxes as Json[]) : [];
    const y0 = yaxes[0];
    if (y0) {
      if (typeof y0.format === 'string' && defaults.unit === undefined) defaults.unit = y0.format;
      const min = num(y0.min);
      const max = num(y0.max);
      if (min !== undefined) defaults.min = min;
      if (max !== undefined) defaults.max = max;
      if (typeof y0.decimals === 'number') defaults.decimals = y0.decimals;
    }
    if (typeof panel.decimals === 'number') defaults.decimals = panel.decimals;
    if (typeof panel.fill === 'number') custom.fillOpacity = panel.fill * 10;
    if (typeof panel.linewidth === 'number') custom.lineWidth = panel.linewidth;
    if (panel.stack) custom.stacking = { mode: panel.percentage ? 'percent' : 'normal', group: 'A' };
    if (panel.bars && !panel.lines) custom.drawStyle = 'bars';
    else if (panel.points && !panel.lines) custom.drawStyle = 'points';
    else custom.drawStyle = 'line';
    if (panel.steppedLine) custom.lineInterpolation = 'stepAfter';
    if (panel.nullPointMode === 'connected') custom.spanNulls = true;
    const legend = panel.legend as Json | undefined;
    if (legend && isObj(legend)) {
      const calcs: string[] = [];
      for (const [k, c] of [['min', 'min'], ['max', 'max'], ['avg', 'mean'], ['current', 'lastNotNull'], ['total', 'sum']] as const) if (legend[k]) calcs.push(c);
      options.legend = {
        showLegend: legend.show !== false,
        displayMode: legend.alignAsTable ? 'table' : 'list',
        placement: legend.rightSide ? 'right' : 'bottom',
        calcs,
      };
    }
    options.tooltip = { mode: (panel.tooltip as Json | undefined)?.shared === false ? 'single' : 'multi', sort: 'none' };
    if (isObj(panel.aliasColors)) {
      for (const [name, color] of Object.entries(panel.aliasColors)) {
        if (typeof color !== 'string') continue;
        fieldConfig.overrides.push({ matcher: { id: 'byName', options: name }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }] });
      }
    }
    for (const so of (Array.isArray(panel.seriesOverrides) ? panel.seriesOverrides : []) as Json[]) {
      if (!isObj(so) || typeof so.alias !== 'string') continue;
      const m = so.alias.match(/^\/(.*)\/([gimsuy]*)$/);
      const matcher = m ? { id: 'byRegexp', options: so.alias } : { id: 'byName', options: so.alias };
      const props: { id: string; value?: unknown }[] = [];
      if (typeof so.color === 'string') props.push({ id: 'color', value: { mode: 'fixed', fixedColor: so.color } });
      if (typeof so.fill === 'number') props.push({ id: 'custom.fillOpacity', value: so.fill * 10 });
      if (typeof so.linewidth === 'number') props.push({ id: 'custom.lineWidth', value: so.linewidth });
      if (so.bars === true) props.push({ id: 'custom.drawStyle', value: 'bars' });
      if (so.transform === 'negative-Y') props.push({ id: 'custom.transform', value: 'negative-Y' });
      if (so.yaxis === 2) {
        props.push({ id: 'custom.axisPlacement', value: 'right' });
        const y1 = yaxes[1];
        if (y1 && typeof y1.format === 'string') props.push({ id: 'unit', value: y1.format });
      }
      if (props.length) fieldConfig.overrides.push({ matcher, properties: props });
    }
    const th = legacyGraphThresholds(panel.thresholds);
    if (th) {
      defaults.thresholds = th;
      custom.thresholdsStyle = { mode: 'line' };
    }
  } else if (type === 'singlestat' || type === 'grafana-singlestat-panel') {
    if (typeof panel.format === 'string' && defaults.unit === undefined) defaults.unit = panel.format;
    if (typeof panel.decimals === 'number') defaults.decimals = panel.decimals;
    const colors = Array.isArray(panel.colors) ? (panel.colors as unknown[]).filter((c): c is string => typeof c === 'string') : [];
    const cuts = typeof panel.thresholds === 'string' ? panel.thresholds.split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n)) : [];
    if (cuts.length && colors.length) {
      const steps: Threshold[] = [{ value: null, color: colors[0] }];
      cuts.forEach((c, i) => steps.push({ value: c, color: colors[Math.min(i + 1, colors.length - 1)] }));
      defaults.thresholds = { mode: 'absolute', steps };
      defaults.color = { mode: 'thresholds' };
    } else if (!defaults.color) {
      defaults.color = { mode: 'fixed', fixedColor: 'text' };
    }
    const gauge = panel.gauge as Json | undefined;
    if (gauge && gauge.show) {
      p.type = 'gauge';
      const mn = num(gauge.minValue);
      const mx = num(gauge.maxValue);
      if (mn !== undefined) defaults.min = mn;
      if (mx !== undefined) defaults.max = mx;
    }
    options.reduceOptions = { calcs: [SINGLESTAT_CALCS[String(panel.valueName ?? 'avg')] ?? 'mean'], fields: '', values: false };
    options.colorMode = panel.colorBackground ? 'background' : panel.colorValue ? 'value' : 'none';
    options.graphMode = (panel.sparkline as Json | undefined)?.show ? 'area' : 'none';
    options.textMode = 'auto';
    options.justifyMode = 'auto';
    const mappings: unknown[] = [];
    for (const vm of (Array.isArray(panel.valueMaps) ? panel.valueMaps : []) as Json[]) {
      if (!isObj(vm) || vm.value === undefined) continue;
      if (vm.value === 'null') mappings.push({ type: 'special', options: { match: 'null', result: { text: String(vm.text ?? '') } } });
      else mappings.push({ type: 'value', options: { [String(vm.value)]: { text: String(vm.text ?? '') } } });
    }
    for (const rm of (Array.isArray(panel.rangeMaps) ? panel.rangeMaps : []) as Json[]) {
      if (!isObj(rm)) continue;
      mappings.push({ type: 'range', options: { from: num(rm.from) ?? null, to: num(rm.to) ?? null, result: { text: String(rm.text ?? '') } } });
    }
    if (mappings.length) defaults.mappings = mappings;
    if (typeof panel.prefix === 'string' || typeof panel.postfix === 'string') {
      options.text = {};
      p.legacyPrefix = panel.prefix;
      p.legacyPostfix = panel.postfix;
    }
  } else if (type === 'table-old') {
    options.showHeader = true;
  }
  if (Object.keys(custom).length) defaults.custom = custom;
  p.fieldConfig = fieldConfig;
  p.options = options;
  return p;
}

/**
 * A legacy graph whose x axis is not time, drawn as Grafana's auto-migration does
 * (`getPanelPluginToMigrateTo`): `xaxis.mode: "series"` → a bar chart of each series reduced by
 * `xaxis.values` (a bar gauge when the legend showed values), `"histogram"` → a histogram.
 */
function graphByXAxis(panel: GrafanaPanel): GrafanaPanel | undefined {
  const xaxis = isObj(panel.xaxis) ? panel.xaxis : undefined;
  const mode = xaxis?.mode;
  if (mode !== 'series' && mode !== 'histogram') return undefined;
  const y0 = (Array.isArray(panel.yaxes) ? (panel.yaxes as Json[]) : [])[0];
  const defaults: FieldConfig = { ...(panel.fieldConfig?.defaults ?? {}) };
  if (y0 && typeof y0.format === 'string' && defaults.unit === undefined) defaults.unit = y0.format;
  if (typeof panel.decimals === 'number') defaults.decimals = panel.decimals;
  const fieldConfig = { defaults, overrides: [...(panel.fieldConfig?.overrides ?? [])] };
  if (mode === 'histogram') {
    const buckets = num(xaxis?.buckets);
    return { ...panel, type: 'histogram', fieldConfig, options: { combine: true, ...(buckets ? { bucketCount: buckets } : {}), legend: { showLegend: false, displayMode: 'list', placement: 'bottom', calcs: [] } } };
  }
  const values = Array.isArray(xaxis?.values) ? (xaxis!.values as unknown[]).filter((v): v is string => typeof v === 'string') : [];
  const calcs = values.length ? values : ['sum'];
  defaults.color = { mode: 'palette-classic' };
  const legend = isObj(panel.legend) ? panel.legend : undefined;
  if (legend?.values) {
    return { ...panel, type: 'bargauge', fieldConfig, options: { reduceOptions: { calcs, values: false, fields: '' }, orientation: 'horizontal', displayMode: 'basic', showUnfilled: true } };
  }
  const transformations = [...(Array.isArray(panel.transformations) ? panel.transformations : []), { id: 'reduce', options: { reducers: calcs } }];
  return { ...panel, type: 'barchart', fieldConfig, transformations, options: { orientation: 'auto', showValue: 'auto', legend: { showLegend: false, displayMode: 'list', placement: 'bottom', calcs: [] } } };
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function legacyGraphThresholds(t: unknown): FieldConfig['thresholds'] | undefined {
  if (!Array.isArray(t) || !t.length) return undefined;
  const steps: Threshold[] = [{ value: null, color: 'transparent' }];
  for (const th of t as Json[]) {
    const v = num(th.value);
    if (v === undefined) continue;
    const color = th.colorMode === 'critical' ? 'red' : th.colorMode === 'warning' ? 'orange' : th.colorMode === 'ok' ? 'green' : typeof th.lineColor === 'string' ? th.lineColor : 'red';
    steps.push({ value: v, color });
  }
  return steps.length > 1 ? { mode: 'absolute', steps } : undefined;
}

/** Grafana's slug of a title (`CrewAI Application Dashboard` → `crewai-application-dashboard`). */
export function slugify(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '');
}
