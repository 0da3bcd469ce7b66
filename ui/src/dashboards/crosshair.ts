/**
 * The shared crosshair of a dashboard (Grafana's `graphTooltip`): a panel publishes the time under
 * the mouse, every other panel draws a vertical line there. With `graphTooltip: 0` nothing is
 * shared (each panel only shows its own hover).
 */
import type { CrosshairBus } from '../panels/types';

type Listener = (timeMs: number | null, source: unknown) => void;

/** Grafana's modes: 0 default (not shared), 1 shared crosshair, 2 shared tooltip. */
export class DashboardCrosshair implements CrosshairBus {
  private listeners = new Set<Listener>();
  private last: number | null = null;
  private frame = 0;
  private pending: { t: number | null; source: unknown } | null = null;

  constructor(public mode = 0) {}

  get shared(): boolean {
    return this.mode >= 1;
  }

  publish(timeMs: number | null, source: unknown): void {
    if (!this.shared) return;
    // Coalesce mouse moves into one broadcast per animation frame: 20 panels redrawing on every
    // mousemove would stutter.
    this.pending = { t: timeMs, source };
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const p = this.pending;
      this.pending = null;
      if (!p || p.t === this.last) return;
      this.last = p.t;
      for (const fn of [...this.listeners]) {
        try {
          fn(p.t, p.source);
        } catch {
          /* one panel's failure must not stop the others */
        }
      }
    });
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.listeners.clear();
  }
}
