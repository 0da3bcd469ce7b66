/**
 * Grafana's `candlestick` panel: open/high/low/close per time from the fields the options name
 * (`options.fields.open` …) or fields called open/high/low/close; with only a close (one series)
 * each candle opens at the previous close. Up candles green, down red (`options.colors`), wicks
 * for high/low, and volume bars under them when a volume field exists (`mode` candles+volume).
 * SVG over a time axis, with the dashboard's annotations; the body carries `data-series-count`,
 * `data-bar-count` (candles) and `data-annotation-count`.
 */
import { h, svg } from '../lib/dom';
import { resolveColor } from '../lib/fieldconfig';
import { formatTick } from './chart';
import { errorStrip, opts, showEmptyOrError, redrawingRenderer, type PanelSize } from './panelkit';
import { register } from './registry';
import { annotationMarks, attachTooltip, type Box, contentSize, fmt, labelWidth, niceDomain, niceTicks, scale, tickLabel, xAxis, yAxis } from './svgchart';
import { framesOf, timeToMs, type Column } from './transform';
import type { GrafanaPanel, PanelContext, PanelData, PanelRenderer } from './types';

interface Candle {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v?: number;
}

export function candles(data: PanelData, panel: GrafanaPanel): Candle[] {
  const o = opts(panel);
  const named = (o.fields ?? {}) as Record<string, string | undefined>;
  let frames = framesOf(data);
  if (!data.tables.length && data.series.length > 1) {
    // Series named open/high/low/close (legendFormat) join on time.
    const joined = frames.flatMap((f) => f.columns.filter((c) => c.type === 'number').map((c) => ({ c, t: f.columns[0] })));
    const times = [...new Set(joined.flatMap((j) => j.t.values as number[]))].sort((a, b) => a - b);
    const cols: Column[] = [{ name: 'Time', type: 'time', values: times }];
    for (const j of joined) {
      const at = new Map((j.t.values as number[]).map((t, i) => [t, j.c.values[i]]));
      cols.push({ ...j.c, values: times.map((t) => at.get(t) ?? null) });
    }
    frames = [{ name: 'joined', refId: 'A', columns: cols }];
  }
  const f = frames.find((fr) => fr.columns.some((c) => c.type === 'time') && fr.columns.some((c) => c.type === 'number'));
  if (!f) return [];
  const time = f.columns.find((c) => c.type === 'time')!;
  const nums = f.columns.filter((c) => c.type === 'number');
  const pick = (key: string) => nums.find((c) => c.name === named[key]) ?? nums.find((c) => c.name.toLowerCase() === key);
  const close = pick('close') ?? nums[nums.length > 1 && !pick('open') ? 0 : nums.length - 1];
  const open = pick('open');
  const high = pick('high');
  const low = pick('low');
  const volume = pick('volume');
  const out: Candle[] = [];
  let prev: number | null = null;
  time.values.forEach((tv, i) => {
    const c = close?.values[i];
    if (typeof c !== 'number' || !Number.isFinite(c)) return;
    const ov = open?.values[i];
    const oo = typeof ov === 'number' ? ov : prev ?? c;
    const hv = high?.values[i];
    const lv = low?.values[i];
    const vv = volume?.values[i];
    out.push({ t: timeToMs(tv), o: oo, c, h: typeof hv === 'number' ? hv : Math.max(oo, c), l: typeof lv === 'number' ? lv : Math.min(oo, c), v: typeof vv === 'number' ? vv : undefined });
    prev = c;
  });
  return out.sort((a, b) => a.t - b.t);
}

function candleFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');

  function draw(data: PanelData, panel: GrafanaPanel, size: PanelSize) {
    const list = candles(data, panel);
    if (showEmptyOrError(el, data, list.length > 0)) return;
    const o = opts(panel);
    const colors = (o.colors ?? {}) as { up?: string; down?: string };
    const up = resolveColor(colors.up ?? 'green');
    const down = resolveColor(colors.down ?? 'red');
    const mode = String(o.mode ?? 'candles+volume');
    const withVolume = mode !== 'candles' && list.some((c) => c.v !== undefined);
    const cfg = panel.fieldConfig?.defaults ?? {};
    const { width: W, height: H } = contentSize(el, size.width, size.height);
    const strip = errorStrip(data);
    const w = Math.max(60, W);
    const hgt = Math.max(40, H - (strip ? 22 : 0));
    const lo = Math.min(...list.map((c) => c.l));
    const hi = Math.max(...list.map((c) => c.h));
    const [y0, y1] = niceDomain(lo, hi, false);
    const yTicks = niceTicks(y0, y1, Math.max(2, Math.floor(hgt / 45)));
    const box: Box = { left: labelWidth(yTicks.map((t) => tickLabel(t, cfg.unit, cfg.decimals))) + 14, top: 8, width: 0, height: 0 };
    box.width = Math.max(20, w - box.left - 12);
    const volH = withVolume ? Math.min(60, (hgt - 30) * 0.2) : 0;
    box.height = Math.max(20, hgt - 30 - volH);
    const t0 = data.range?.from ?? list[0].t;
    const t1 = data.range?.to ?? list[list.length - 1].t;
    const sx = scale(t0, t1, box.left, box.left + box.width);
    const sy = scale(y0, y1, box.top + box.height, box.top);
    const root = svg('svg', { class: 'mp-svg', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': 'Candlestick chart' });
    const grid = svg('g', {});
    root.appendChild(grid);
    yAxis(grid, box, yTicks, sy, (v) => tickLabel(v, cfg.unit, cfg.decimals));
    const span = t1 - t0;
    // Time ticks on round clock steps (10s, 1m, 5m, 1h, 1d …).
    const steps = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800].map((x) => x * 1000);
    const want = span / Math.max(2, Math.floor(box.width / 90));
    const tStep = steps.find((x) => x >= want) ?? steps[steps.length - 1];
    const tTicks: number[] = [];
    for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) tTicks.push(t);
    const timeBox = { ...box, height: box.height + volH };
    xAxis(grid, timeBox, tTicks, sx, (v) => formatTick(v, tStep, span, ctx.timeZone));
    let step = Infinity;
    for (let i = 1; i < list.length; i++) step = Math.min(step, list[i].t - list[i - 1].t);
    const bw = Math.max(1, Math.min(24, (Number.isFinite(step) ? Math.abs(sx(t0 + step) - sx(t0)) : 8) * 0.7));
    const g = svg('g', {});
    const maxV = Math.max(1, ...list.map((c) => c.v ?? 0));
    for (const c of list) {
      const x = sx(c.t);
      const color = c.c >= c.o ? up : down;
      const tip = `${new Date(c.t).toISOString().replace('T', ' ').slice(0, 19)}\nopen ${fmt(c.o, cfg.unit, cfg.decimals)} · close ${fmt(c.c, cfg.unit, cfg.decimals)}\nhigh ${fmt(c.h, cfg.unit, cfg.decimals)} · low ${fmt(c.l, cfg.unit, cfg.decimals)}${c.v !== undefined ? `\nvolume ${fmt(c.v, 'short')}` : ''}`;
      const cg = svg('g', { class: 'mp-candle', 'data-tip': tip });
      cg.appendChild(svg('line', { x1: x, x2: x, y1: sy(c.h), y2: sy(c.l), stroke: color, 'stroke-width': 1 }));
      const top = sy(Math.max(c.o, c.c));
      cg.appendChild(svg('rect', { x: x - bw / 2, y: top, width: bw, height: Math.max(1, sy(Math.min(c.o, c.c)) - top), fill: color, stroke: color }));
      if (withVolume && c.v !== undefined) {
        const vh = (c.v / maxV) * (volH - 4);
        cg.appendChild(svg('rect', { x: x - bw / 2, y: box.top + box.height + volH - vh, width: bw, height: Math.max(0, vh), fill: color, 'fill-opacity': 0.4 }));
      }
      g.appendChild(cg);
    }
    root.appendChild(g);
    const ann = annotationMarks(data.annotations, t0, t1, sx, box.top, box.top + box.height + volH, ctx.timeZone);
    root.appendChild(ann.g);
    const plot = h('div', { class: 'mp-plot' }, root);
    el.replaceChildren(...[strip, h('div', { class: 'mp-wrap' }, plot)].filter((e): e is HTMLElement => !!e));
    attachTooltip(plot, root);
    el.dataset.state = 'ok';
    el.dataset.seriesCount = withVolume ? '2' : '1';
    el.dataset.barCount = String(list.length);
    if (data.annotations) el.dataset.annotationCount = String(ann.count);
  }

  const view = redrawingRenderer(el, draw);
  return view.renderer;
}

register(['candlestick'], candleFactory);
