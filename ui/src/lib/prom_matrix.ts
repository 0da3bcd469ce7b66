/**
 * The samples of one Prometheus range series as numbers, shared by the main thread and the
 * answer-parsing worker (workers/promjson.ts): times in ms, values (null where the text is not
 * a finite number), and a null after a gap of more than 1.5 steps (Grafana draws a gap there).
 */

export interface MatrixPoints {
  times: number[];
  values: (number | null)[];
}

/** `values` of a matrix series (`[[seconds, "value"], …]`) as times and numbers. */
export function matrixPoints(samples: [number, string][], stepMs: number): MatrixPoints {
  const times: number[] = [];
  const values: (number | null)[] = [];
  let prev: number | undefined;
  for (const [ts, v] of samples) {
    const tm = Math.round(ts * 1000);
    if (prev !== undefined && tm - prev > stepMs * 1.5) {
      times.push(prev + stepMs);
      values.push(null);
    }
    times.push(tm);
    const n = Number(v);
    values.push(Number.isFinite(n) ? n : null);
    prev = tm;
  }
  return { times, values };
}

/** Points packed for a transfer between threads (null as NaN). */
export interface PackedPoints {
  times: Float64Array;
  values: Float64Array;
}

export function packPoints(p: MatrixPoints): PackedPoints {
  const values = new Float64Array(p.values.length);
  for (let i = 0; i < values.length; i++) values[i] = p.values[i] ?? NaN;
  return { times: Float64Array.from(p.times), values };
}

export function unpackPoints(p: PackedPoints): MatrixPoints {
  const times: number[] = Array.from(p.times);
  const values: (number | null)[] = new Array(p.values.length);
  for (let i = 0; i < values.length; i++) {
    const v = p.values[i];
    values[i] = v === v ? v : null;
  }
  return { times, values };
}
