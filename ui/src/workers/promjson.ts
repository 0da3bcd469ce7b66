/**
 * A Web Worker that turns a Prometheus API answer (the body's bytes) into JSON off the main
 * thread: a range query's matrix comes back as packed numbers (lib/prom_matrix.ts), transferred
 * without a copy, so the page only draws. Built by build.mjs as `promjson.js`.
 */
import { matrixPoints, packPoints, type PackedPoints } from '../lib/prom_matrix';

interface Job {
  id: number;
  body: ArrayBuffer;
  stepMs: number;
}

interface WorkerScope {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

scope.onmessage = (e) => {
  const { id, body, stepMs } = e.data;
  try {
    const env = JSON.parse(new TextDecoder().decode(body));
    const data = env?.data;
    if (env?.status !== 'success' || data?.resultType !== 'matrix' || !Array.isArray(data.result)) {
      scope.postMessage({ id, env });
      return;
    }
    const transfer: Transferable[] = [];
    const result = (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((s) => {
      const packed: PackedPoints = packPoints(matrixPoints(Array.isArray(s.values) ? s.values : [], stepMs));
      transfer.push(packed.times.buffer, packed.values.buffer);
      return { metric: s.metric ?? {}, packed };
    });
    scope.postMessage({ id, env: { ...env, data: { resultType: 'matrix', result } } }, transfer);
  } catch (err) {
    scope.postMessage({ id, error: (err as Error).message || String(err) });
  }
};
