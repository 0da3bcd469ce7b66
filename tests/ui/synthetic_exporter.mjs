// A stand-in for the exporters behind community dashboards: reads the PromQL of dashboards
// (targets and variable queries), guesses the metrics they select and serves them in the
// Prometheus text format, so the panels draw series (units, overrides, legends, thresholds,
// transformations, heatmap buckets) instead of only "No data". Guessing is deliberately simple:
// a name followed by `{` or `[` (or the first argument of label_values) is a metric; the
// matchers with literal values, the `by (...)`/`without` labels and the `{{label}}`s of the
// legend become its labels. `_bucket` metrics get `le` buckets, `_total`/`_count`/`_sum`/
// `_seconds_total` ones grow like counters, the others move like gauges; each has two series
// (one for `_info` metrics, which dashboards join on).
import http from 'node:http';

const NOT_METRICS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'le',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'predict_linear', 'histogram_quantile', 'label_replace', 'label_join',
  'sort', 'sort_desc', 'abs', 'absent', 'absent_over_time', 'ceil', 'floor', 'round', 'clamp', 'clamp_min', 'clamp_max', 'exp', 'ln',
  'log2', 'log10', 'sqrt', 'scalar', 'vector', 'time', 'timestamp', 'changes', 'resets', 'label_values', 'label_names', 'metrics',
  'query_result', 'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'last_over_time',
  'quantile_over_time', 'stddev_over_time', 'present_over_time', 'holt_winters', 'day_of_week', 'hour', 'minute', 'month', 'year',
  'days_in_month', 'day_of_month', 'sgn', 'histogram_count', 'histogram_sum', 'histogram_fraction', 'histogram_avg', 'nan', 'inf',
]);

const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Every PromQL string of a dashboard (panel targets, also inside rows, and variable queries). */
export function dashboardExprs(dash) {
  const out = [];
  const legends = [];
  const walk = (panels) => {
    for (const p of Array.isArray(panels) ? panels : []) {
      if (!p || typeof p !== 'object') continue;
      for (const t of Array.isArray(p.targets) ? p.targets : []) {
        if (t && typeof t.expr === 'string') out.push(t.expr);
        if (t && typeof t.legendFormat === 'string') legends.push([t.expr ?? '', t.legendFormat]);
      }
      walk(p.panels);
    }
  };
  walk(dash.panels);
  for (const r of Array.isArray(dash.rows) ? dash.rows : []) walk(r?.panels);
  for (const v of Array.isArray(dash.templating?.list) ? dash.templating.list : []) {
    const q = typeof v?.query === 'string' ? v.query : typeof v?.query?.query === 'string' ? v.query.query : '';
    if (v?.type === 'query' && q) out.push(q);
  }
  return { exprs: out, legends };
}

/** metric name → { labels: Map<label, Set<value>> } guessed from `exprs`. */
export function guessMetrics(exprs, legends = []) {
  const metrics = new Map();
  const ownLabel = (k) => IDENT.test(k) && !['job', 'instance', '__name__', 'le', 'quantile'].includes(k);
  const add = (name, labels = []) => {
    if (!IDENT.test(name) || NOT_METRICS.has(name) || name.startsWith('__') || !name.includes('_')) return;
    if (!metrics.has(name)) metrics.set(name, new Map());
    const m = metrics.get(name);
    for (const [k, v] of labels) {
      if (!ownLabel(k)) continue;
      if (!m.has(k)) m.set(k, new Set());
      if (v !== undefined && m.get(k).size < 3) m.get(k).add(v);
    }
  };
  for (const raw of exprs) {
    // Variables stand for values we do not know: a literal that still matches them.
    const expr = raw.replace(/\$\{[^}]*\}|\$\w+|\[\[\w+\]\]/g, 'VAR');
    const grouping = [];
    for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of m[1].split(',')) if (l.trim()) grouping.push([l.trim(), undefined]);
    for (const m of expr.matchAll(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*,\s*([a-zA-Z_]\w*)\s*\)/g)) add(m[1], [[m[3], undefined]]);
    for (const m of expr.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\}|\[)/g)) {
      const labels = [...grouping];
      if (m[3]) {
        for (const mm of m[3].matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
          const [, k, op, v] = mm;
          if (op === '=') labels.push([k, v === 'VAR' ? undefined : v]);
          else if (op === '=~') {
            const first = v.split('|')[0];
            labels.push([k, /^[\w.:/-]+$/.test(first) && first !== 'VAR' ? first : undefined]);
          } else labels.push([k, undefined]);
        }
      }
      add(m[1], labels);
    }
  }
  for (const [expr, legend] of legends) {
    const names = [...String(legend).matchAll(/\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g)].map((m) => m[1]);
    for (const [name, labels] of metrics) if (String(expr).includes(name)) for (const l of names) if (!labels.has(l) && ownLabel(l)) labels.set(l, new Set());
  }
  return metrics;
}

const esc = (v) => String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** The exposition text of `metrics` at `t` seconds since start. */
export function exposition(metrics, t) {
  const lines = [];
  let i = 0;
  for (const [name, labels] of metrics) {
    i++;
    // Two series per metric: label values from the dashboards where known, "a"/"b" otherwise.
    // One series for `_info` metrics: dashboards join them with `* on (instance) group_left`.
    const combos = (name.endsWith('_info') ? [0] : [0, 1]).map((n) => [...labels].map(([k, vals]) => [k, [...vals][n] ?? [...vals][0] ?? (n ? 'b' : 'a')]));
    const seen = new Set();
    for (const [n, combo] of combos.entries()) {
      const base = combo.map(([k, v]) => `${k}="${esc(v)}"`);
      const key = base.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      const grow = (1 + ((i + n) % 7)) * t;
      if (name.endsWith('_bucket')) {
        let cum = 0;
        for (const [j, le] of ['0.005', '0.05', '0.5', '1', '5', '+Inf'].entries()) {
          cum += Math.round(grow * (j + 1));
          lines.push(`${name}{${[...base, `le="${le}"`].join(',')}} ${cum}`);
        }
      } else if (/_(total|count|sum|seconds_total|bytes_total)$/.test(name)) {
        lines.push(`${name}${base.length ? `{${base.join(',')}}` : ''} ${grow}`);
      } else {
        const v = 50 + 40 * Math.sin(t / 20 + i + n);
        lines.push(`${name}${base.length ? `{${base.join(',')}}` : ''} ${v.toFixed(3)}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

/** Serves the guessed metrics of `dashboards` at http://127.0.0.1:<port>/metrics; returns { url, close, count }. */
export async function startSyntheticExporter(dashboards) {
  const exprs = [];
  const legends = [];
  for (const d of dashboards) {
    const r = dashboardExprs(d);
    exprs.push(...r.exprs);
    legends.push(...r.legends);
  }
  const metrics = guessMetrics(exprs, legends);
  const started = Date.now();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(exposition(metrics, (Date.now() - started) / 1000));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, count: metrics.size, close: () => server.close() };
}
