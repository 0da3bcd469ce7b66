/**
 * Parses Prometheus range-query answers, large ones off the main thread: the body's bytes go to
 * a Web Worker (workers/promjson.ts, served as /ui/promjson.js) which parses the JSON and turns
 * each series' samples into numbers; the page gets them back as typed arrays and only draws.
 * Smaller answers, and all of them where no worker can start, are parsed here.
 */
import { matrixPoints, unpackPoints, type MatrixPoints, type PackedPoints } from './prom_matrix';

/** A matrix series with its samples already as numbers. */
export interface PointsSeries {
  metric: Record<string, string>;
  points: MatrixPoints;
}

/** The Prometheus envelope, a matrix result carrying `points` instead of `values`. */
export interface PointsEnvelope {
  status: 'success' | 'error';
  data: { resultType: string; result: unknown };
  warnings?: string[];
  infos?: string[];
  error?: string;
}

interface Waiting {
  resolve(env: PointsEnvelope): void;
  reject(e: Error): void;
  /** Parses here instead (the worker could not run). */
  here(): void;
}

/**
 * Answers from this size on go to the worker. Measured on the 20 panels × 50 series bench (2
 * shared cores, load 10-13): 9.6 MB answers (15 s step) drew all 20 panels in 11-13 s through
 * the worker against 12-21 s here; 1.2 MB ones (Grafana's step) were slower through it (first
 * screen 3.3-3.9 s against 1.8-2.3 s): the hop and the extra thread cost more than the parse.
 */
const WORKER_MIN_BYTES = 4_000_000;

let worker: Worker | null | undefined;
let nextId = 0;
const waiting = new Map<number, Waiting>();

function startWorker(): Worker | null {
  if (worker !== undefined) return worker;
  try {
    // Same version query as the bundle (assets are cached as immutable).
    const bundle = new URL(import.meta.url);
    const w = new Worker(new URL(`promjson.js${bundle.search}`, bundle));
    w.onmessage = (e: MessageEvent<{ id: number; env?: PointsEnvelope; error?: string }>) => {
      const job = waiting.get(e.data.id);
      if (!job) return;
      waiting.delete(e.data.id);
      if (e.data.error !== undefined) job.reject(new Error(e.data.error));
      else job.resolve(unpack(e.data.env as PointsEnvelope));
    };
    w.onerror = (e) => {
      e.preventDefault();
      worker = null;
      w.terminate();
      const jobs = [...waiting.values()];
      waiting.clear();
      for (const j of jobs) j.here();
    };
    worker = w;
  } catch {
    worker = null;
  }
  return worker;
}

/** The answer to a range query (`body`: its bytes) with the samples as numbers; `stepMs` places gaps. */
export function parseRangeAnswer(body: ArrayBuffer, stepMs: number): Promise<PointsEnvelope> {
  if (body.byteLength < WORKER_MIN_BYTES) return Promise.resolve().then(() => parseHere(body, stepMs));
  const w = startWorker();
  if (!w) return Promise.resolve(parseHere(body, stepMs));
  return new Promise((resolve, reject) => {
    const id = ++nextId;
    const here = () => {
      try {
        resolve(parseHere(body, stepMs));
      } catch (e) {
        reject(e as Error);
      }
    };
    waiting.set(id, { resolve, reject, here });
    // A copy (not a transfer): the bytes stay here in case the worker fails.
    w.postMessage({ id, body, stepMs });
  });
}

function parseHere(body: ArrayBuffer, stepMs: number): PointsEnvelope {
  const t0 = performance.now();
  const env = JSON.parse(new TextDecoder().decode(body)) as PointsEnvelope;
  performance.measure('pharos:json-parse', { start: t0, detail: body.byteLength });
  if (env?.status === 'success' && env.data?.resultType === 'matrix' && Array.isArray(env.data.result))
    env.data.result = (env.data.result as { metric?: Record<string, string>; values?: [number, string][] }[]).map((s) => ({
      metric: s.metric ?? {},
      points: matrixPoints(Array.isArray(s.values) ? s.values : [], stepMs),
    }));
  return env;
}

function unpack(env: PointsEnvelope): PointsEnvelope {
  if (env?.status !== 'success' || env.data?.resultType !== 'matrix' || !Array.isArray(env.data.result)) return env;
  const t0 = performance.now();
  env.data.result = (env.data.result as { metric: Record<string, string>; packed: PackedPoints }[]).map((s) => ({ metric: s.metric, points: unpackPoints(s.packed) }));
  performance.measure('pharos:json-unpack', { start: t0 });
  return env;
}
