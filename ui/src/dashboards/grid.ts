/**
 * Grafana's dashboard grid: 24 columns, rows of 30 px + 8 px margins, panels floating up
 * (gravity), collapsible rows, `repeat` of rows and panels by a multi-value variable, and in edit
 * mode drag-to-move (by the panel header) and a corner handle to resize, the layout re-flowing
 * while dragging like Grafana's.
 */
import type { GrafanaPanel } from '../panels/types';
import type { DashboardModel } from './contract';
import { GRID_CELL_HEIGHT, GRID_CELL_VMARGIN, GRID_COLUMNS } from './model';
import type { ScopedVars, Variables } from './variables';

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LayoutItem extends GridPos {
  /** Stable key across layouts (panel id, plus the repeat value for repeats). */
  key: string;
  /** The panel as drawn (a repeat instance is a copy of its source with `scopedVars`). */
  panel: GrafanaPanel;
  /** The panel object of the model (what edits change). */
  source: GrafanaPanel;
  /** A repeat instance other than the first (not draggable, not saved). */
  clone: boolean;
  scopedVars?: ScopedVars;
  isRow: boolean;
  /** For a collapsed row: how many panels it holds. */
  hidden?: number;
}

interface Candidate extends GridPos {
  prio: number;
  order: number;
  item: Omit<LayoutItem, keyof GridPos>;
}

const EPS = 1e-6;
const overlaps = (a: GridPos, b: GridPos) => a.x < b.x + b.w - EPS && b.x < a.x + a.w - EPS && a.y < b.y + b.h && b.y < a.y + a.h;

/** Push-down placement then upward compaction (react-grid-layout's vertical compaction). */
function place(cands: Candidate[]): Candidate[] {
  const sorted = [...cands].sort((a, b) => a.y - b.y || a.prio - b.prio || a.order - b.order || a.x - b.x);
  const placed: Candidate[] = [];
  for (const c of sorted) {
    const p = { ...c };
    for (;;) {
      const hit = placed.find((q) => overlaps(p, q));
      if (!hit) break;
      p.y = hit.y + hit.h;
    }
    placed.push(p);
  }
  placed.sort((a, b) => a.y - b.y || a.x - b.x);
  const out: Candidate[] = [];
  for (const c of placed) {
    const p = { ...c };
    while (p.y > 0 && !out.some((q) => overlaps({ ...p, y: p.y - 1 }, q))) p.y--;
    out.push(p);
  }
  return out;
}

export interface LayoutOptions {
  /** Positions to use instead of `gridPos` (drag preview). */
  positionOf?: (p: GrafanaPanel) => GridPos | undefined;
  /** The panel being dragged: wins ties (others move out of its way). */
  moved?: GrafanaPanel;
  /** Show only this panel id (`?viewPanel=`). */
  viewPanel?: number;
}

/** Lays out the dashboard's panels (repeats expanded, collapsed rows folded) on the grid. */
export function computeLayout(model: DashboardModel, vars: Variables, opts: LayoutOptions = {}): LayoutItem[] {
  const pos = (p: GrafanaPanel): GridPos => opts.positionOf?.(p) ?? p.gridPos ?? { x: 0, y: 0, w: 12, h: 8 };
  const sorted = model.panels.map((p, i) => ({ p, i })).sort((a, b) => pos(a.p).y - pos(b.p).y || pos(a.p).x - pos(b.p).x || (a.p === opts.moved ? -1 : b.p === opts.moved ? 1 : a.i - b.i));
  const groups: { row?: GrafanaPanel; children: GrafanaPanel[] }[] = [{ children: [] }];
  for (const { p } of sorted) {
    if (p.type === 'row') groups.push({ row: p, children: [] });
    else groups[groups.length - 1].children.push(p);
  }
  const repeatValues = (name: string): { value: string; text: string }[] => {
    const v = vars.get(name);
    if (!v) return [];
    return vars.values(name).map((value) => ({ value, text: v.options?.find((o) => o.value === value)?.text ?? value }));
  };
  const items: LayoutItem[] = [];
  let cursor = 0;
  for (const g of groups) {
    const instances: (ScopedVars | undefined)[] = [undefined];
    let rowValues: { value: string; text: string }[] = [];
    if (g.row?.repeat) {
      rowValues = repeatValues(g.row.repeat);
      if (rowValues.length) instances.splice(0, 1, ...rowValues.map((rv) => ({ [g.row!.repeat!]: { text: rv.text, value: rv.value } })));
    }
    instances.forEach((scoped, ri) => {
      const rowKeySuffix = g.row?.repeat && rowValues.length ? `@${rowValues[ri].value}` : '';
      if (g.row) {
        const rowPanel = scoped ? { ...g.row, scopedVars: scoped } : g.row;
        items.push({
          key: `row-${g.row.id}${rowKeySuffix}`,
          panel: rowPanel,
          source: g.row,
          clone: ri > 0,
          scopedVars: scoped,
          isRow: true,
          hidden: g.row.collapsed ? (g.row.panels ?? []).length : undefined,
          x: 0,
          y: cursor,
          w: GRID_COLUMNS,
          h: 1,
        });
        cursor += 1;
      }
      const base = g.row ? pos(g.row).y + 1 : 0;
      const cands: Candidate[] = [];
      let order = 0;
      for (const child of g.children) {
        const gp = pos(child);
        const relY = Math.max(0, gp.y - base);
        const prio = child === opts.moved ? 0 : 1;
        const values = child.repeat ? repeatValues(child.repeat) : [];
        if (!child.repeat || values.length === 0) {
          cands.push({ ...gp, y: relY, prio, order: order++, item: { key: `p-${child.id}${rowKeySuffix}`, panel: scoped ? { ...child, scopedVars: scoped } : child, source: child, clone: ri > 0, scopedVars: scoped, isRow: false } });
          continue;
        }
        const vertical = child.repeatDirection === 'v';
        const maxPerRow = typeof child.maxPerRow === 'number' && child.maxPerRow > 0 ? child.maxPerRow : 4;
        const w = vertical ? gp.w : Math.max(GRID_COLUMNS / values.length, GRID_COLUMNS / maxPerRow);
        let x = vertical ? gp.x : 0;
        let y = relY;
        values.forEach((rv, k) => {
          const sv: ScopedVars = { ...(scoped ?? {}), [child.repeat!]: { text: rv.text, value: rv.value } };
          cands.push({
            x,
            y,
            w,
            h: gp.h,
            prio,
            order: order++,
            item: { key: `p-${child.id}${rowKeySuffix}@${rv.value}`, panel: { ...child, scopedVars: sv }, source: child, clone: ri > 0 || k > 0, scopedVars: sv, isRow: false },
          });
          if (vertical) y += gp.h;
          else {
            x += w;
            if (x + w > GRID_COLUMNS + EPS) {
              x = 0;
              y += gp.h;
            }
          }
        });
      }
      let bottom = cursor;
      for (const c of place(cands)) {
        items.push({ ...c.item, x: c.x, y: c.y + cursor, w: c.w, h: c.h });
        bottom = Math.max(bottom, c.y + cursor + c.h);
      }
      cursor = bottom;
    });
  }
  if (opts.viewPanel !== undefined) return items.filter((it) => !it.isRow && it.source.id === opts.viewPanel).slice(0, 1);
  return items;
}

/** Writes a layout's positions back into the model (after a drag or resize). */
export function commitLayout(model: DashboardModel, items: LayoutItem[]) {
  for (const it of items) {
    if (it.clone) continue;
    const gp = it.source.gridPos ?? (it.source.gridPos = { x: 0, y: 0, w: 12, h: 8 });
    gp.y = it.y;
    if (!it.isRow && !it.source.repeat) {
      gp.x = it.x;
      gp.w = it.w;
      gp.h = it.h;
    } else if (!it.isRow) gp.h = it.h;
  }
  model.panels.sort((a, b) => a.gridPos!.y - b.gridPos!.y || a.gridPos!.x - b.gridPos!.x);
}

/** Collapses or expands a row as Grafana does (children move into / out of `row.panels`). */
export function toggleRow(model: DashboardModel, row: GrafanaPanel) {
  const idx = model.panels.indexOf(row);
  if (idx < 0) return;
  if (!row.collapsed) {
    const children: GrafanaPanel[] = [];
    for (let i = idx + 1; i < model.panels.length && model.panels[i].type !== 'row'; i++) children.push(model.panels[i]);
    model.panels.splice(idx + 1, children.length);
    row.panels = children;
    row.collapsed = true;
    return;
  }
  const inner = row.panels ?? [];
  const rowY = row.gridPos!.y;
  const firstY = inner.length ? Math.min(...inner.map((p) => p.gridPos?.y ?? rowY + 1)) : rowY + 1;
  const yOffset = firstY - (rowY + 1);
  let yMax = rowY;
  for (const p of inner) {
    p.gridPos ??= { x: 0, y: rowY + 1, w: 12, h: 8 };
    p.gridPos.y -= yOffset;
    yMax = Math.max(yMax, p.gridPos.y + p.gridPos.h);
  }
  model.panels.splice(idx + 1, 0, ...inner);
  const push = yMax - rowY - 1;
  for (const p of model.panels.slice(idx + 1 + inner.length)) p.gridPos!.y += push;
  row.panels = [];
  row.collapsed = false;
}

// ---- DOM -------------------------------------------------------------------------------------

/** A mounted grid cell (panel frame or row header). */
export interface GridCell {
  el: HTMLElement;
  update(item: LayoutItem): void;
  resize(width: number, height: number): void;
  destroy(): void;
}

export interface GridCallbacks {
  create(item: LayoutItem): GridCell;
  /** Layout with `panel` at `pos` (drag preview). */
  preview(panel: GrafanaPanel, pos: GridPos): LayoutItem[];
  /** The drag/resize ended with this layout. */
  commit(items: LayoutItem[]): void;
}

const ROW_PX = GRID_CELL_HEIGHT + GRID_CELL_VMARGIN;
const HMARGIN = 8;

export class GridView {
  readonly el: HTMLElement;
  private cells = new Map<string, { cell: GridCell; item: LayoutItem; w: number; h: number }>();
  private items: LayoutItem[] = [];
  private observer: ResizeObserver;
  private width = 0;
  private editing = false;
  private fill = false;
  private placeholder: HTMLElement;

  constructor(private cb: GridCallbacks) {
    this.el = document.createElement('div');
    this.el.className = 'dash-grid';
    this.placeholder = document.createElement('div');
    this.placeholder.className = 'dash-drop-placeholder';
    this.observer = new ResizeObserver(() => {
      const w = this.el.clientWidth;
      if (w && Math.abs(w - this.width) > 0.5) {
        this.width = w;
        this.position();
      }
    });
    this.observer.observe(this.el);
    this.el.addEventListener('pointerdown', (e) => this.onPointerDown(e));
  }

  /** `fill`: one panel filling the visible height (view mode). */
  setItems(items: LayoutItem[], fill = false) {
    this.items = items;
    this.fill = fill;
    const keep = new Set(items.map((i) => i.key));
    for (const [key, c] of this.cells) {
      if (!keep.has(key)) {
        c.cell.destroy();
        c.cell.el.remove();
        this.cells.delete(key);
      }
    }
    for (const it of items) {
      const have = this.cells.get(it.key);
      if (have) {
        have.item = it;
        have.cell.update(it);
      } else {
        const cell = this.cb.create(it);
        cell.el.classList.add('dash-cell');
        cell.el.dataset.key = it.key;
        this.el.append(cell.el);
        this.cells.set(it.key, { cell, item: it, w: 0, h: 0 });
      }
    }
    this.width = this.el.clientWidth || this.width;
    this.position();
  }

  get layout(): LayoutItem[] {
    return this.items;
  }

  setEditing(on: boolean) {
    this.editing = on;
    this.el.classList.toggle('editing', on);
  }

  private colWidth(): number {
    return (this.width - HMARGIN * (GRID_COLUMNS - 1)) / GRID_COLUMNS;
  }

  /** Pixel box of a grid position. */
  box(p: GridPos): { left: number; top: number; width: number; height: number } {
    const cw = this.colWidth();
    return {
      left: p.x * (cw + HMARGIN),
      top: p.y * ROW_PX,
      width: p.w * cw + (p.w - 1) * HMARGIN,
      height: p.h * GRID_CELL_HEIGHT + (p.h - 1) * GRID_CELL_VMARGIN,
    };
  }

  private position(except?: string) {
    if (!this.width) return;
    let bottom = 0;
    for (const it of this.items) {
      const c = this.cells.get(it.key);
      if (!c) continue;
      let b = this.box(it);
      if (this.fill) {
        const top = this.el.getBoundingClientRect().top;
        b = { left: 0, top: 0, width: this.width, height: Math.max(300, window.innerHeight - top - 16) };
      }
      bottom = Math.max(bottom, b.top + b.height);
      if (it.key === except) continue;
      const s = c.cell.el.style;
      s.left = `${b.left}px`;
      s.top = `${b.top}px`;
      s.width = `${b.width}px`;
      s.height = `${b.height}px`;
      const w = Math.round(b.width);
      const h = Math.round(b.height);
      if (w !== c.w || h !== c.h) {
        c.w = w;
        c.h = h;
        c.cell.resize(w, h);
      }
    }
    this.el.style.height = `${bottom}px`;
  }

  // ---- drag and resize (edit mode) ----

  private onPointerDown(e: PointerEvent) {
    if (!this.editing || e.button !== 0) return;
    const target = e.target as HTMLElement;
    const resize = target.closest('.dash-resize-handle');
    const handle = target.closest('[data-drag-handle]');
    if (!resize && !handle) return;
    if (!resize && target.closest('button, a, input, select, .dash-panel-menu')) return;
    const cellEl = target.closest('.dash-cell') as HTMLElement | null;
    const entry = cellEl && this.cells.get(cellEl.dataset.key ?? '');
    if (!entry || entry.item.clone || entry.item.isRow) return;
    e.preventDefault();
    const item = entry.item;
    const start = { x: e.clientX, y: e.clientY };
    const startBox = this.box(item);
    const el = entry.cell.el;
    el.classList.add('dragging');
    el.setPointerCapture?.(e.pointerId);
    this.el.append(this.placeholder);
    let last: LayoutItem[] = this.items;
    let lastPos: GridPos = { x: item.x, y: item.y, w: item.w, h: item.h };
    const cw = this.colWidth();
    const move = (ev: PointerEvent) => {
      const dx = ev.clientX - start.x;
      const dy = ev.clientY - start.y;
      let pos: GridPos;
      if (resize) {
        const wpx = Math.max(cw, startBox.width + dx);
        const hpx = Math.max(GRID_CELL_HEIGHT, startBox.height + dy);
        el.style.width = `${wpx}px`;
        el.style.height = `${hpx}px`;
        const w = Math.min(GRID_COLUMNS - item.x, Math.max(1, Math.round((wpx + HMARGIN) / (cw + HMARGIN))));
        const h = Math.max(2, Math.round((hpx + GRID_CELL_VMARGIN) / ROW_PX));
        pos = { x: item.x, y: item.y, w, h };
      } else {
        const left = startBox.left + dx;
        const top = Math.max(0, startBox.top + dy);
        el.style.left = `${left}px`;
        el.style.top = `${top}px`;
        const x = Math.min(GRID_COLUMNS - item.w, Math.max(0, Math.round(left / (cw + HMARGIN))));
        const y = Math.max(0, Math.round(top / ROW_PX));
        pos = { x, y, w: item.w, h: item.h };
      }
      if (pos.x === lastPos.x && pos.y === lastPos.y && pos.w === lastPos.w && pos.h === lastPos.h) return;
      lastPos = pos;
      last = this.cb.preview(item.source, pos);
      this.items = last;
      for (const it of last) {
        const c = this.cells.get(it.key);
        if (c) c.item = it;
      }
      const mine = last.find((i) => i.source === item.source && !i.clone);
      if (mine) {
        const b = this.box(mine);
        Object.assign(this.placeholder.style, { left: `${b.left}px`, top: `${b.top}px`, width: `${b.width}px`, height: `${b.height}px` });
      }
      this.position(item.key);
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      el.classList.remove('dragging');
      this.placeholder.remove();
      this.cb.commit(last);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  }

  destroy() {
    this.observer.disconnect();
    for (const c of this.cells.values()) c.cell.destroy();
    this.cells.clear();
    this.el.replaceChildren();
  }
}
