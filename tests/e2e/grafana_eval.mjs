// Evaluates a Grafana dashboard JSON against pharos' Prometheus API the way Grafana's Prometheus
// data source would, without a browser: template variables resolved in order (label_values,
// query_result, metrics, custom, constant, interval; regex, sort, "All" as a regex alternation),
// $__interval / $__rate_interval / $__range substituted, every visible target run as a range (or
// instant) query. The result says, per panel, whether it would show data or "No data". Used by
// the community-dashboard tests.
import { api } from './helpers.mjs';

/** Every panel with targets, rows (old and new schema) flattened, in dashboard order. */
export function panelsOf(dash) {
  const d = dash.dashboard ?? dash;
  const out = [];
  const walk = (ps, row) => {
    for (const p of ps ?? []) {
      if (p.type === 'row') {
        walk(p.panels, p.title);
        continue;
      }
      if (p.panels) walk(p.panels, row);
      if (p.targets?.length) out.push({ ...p, row });
    }
  };
  walk(d.panels);
  for (const r of d.rows ?? []) walk(r.panels, r.title);
  return out;
}

const regexEscape = (s) => s.replace(/[\\^$*+?.()|{}[\]]/g, '\\$&');

/** Grafana's Prometheus formatting of a multi-value / All variable: (a|b) of escaped values. */
function formatValue(v) {
  if (Array.isArray(v)) return v.length === 1 ? regexEscape(v[0]) : `(${v.map(regexEscape).join('|')})`;
  return v;
}

/** Replaces $var, ${var}, ${var:fmt} and [[var]] (builtins included) in `text`. */
export function interpolate(text, vars) {
  const get = (name) => (Object.hasOwn(vars, name) ? formatValue(vars[name]) : undefined);
  return text
    .replace(/\$\{(\w+)(?::[^}]*)?\}/g, (m, n) => get(n) ?? m)
    .replace(/\[\[(\w+)(?::[^\]]*)?\]\]/g, (m, n) => get(n) ?? m)
    .replace(/\$(\w+)/g, (m, n) => get(n) ?? m);
}

const durText = (s) => (s % 60 === 0 ? `${s / 60}m` : `${s}s`);

function parseDur(text) {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(String(text ?? '').trim());
  if (!m) return undefined;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

/** The builtin variables for a panel over `rangeS` seconds (Grafana's defaults: a 15 s scrape
 * interval, at most ~1000 points, the panel's min interval). */
function builtins(panel, rangeS, scrapeS) {
  const minInterval = parseDur(panel?.interval) ?? scrapeS;
  const interval = Math.max(minInterval, Math.ceil(rangeS / 1000));
  const rate = Math.max(interval + scrapeS, 4 * scrapeS);
  return {
    __interval: durText(interval),
    __interval_ms: String(interval * 1000),
    __rate_interval: durText(rate),
    __rate_interval_ms: String(rate * 1000),
    __range: durText(rangeS),
    __range_s: String(rangeS),
    __range_ms: String(rangeS * 1000),
    __auto: durText(interval),
    intervalS: interval,
  };
}

function queryText(v) {
  if (typeof v.query === 'string') return v.query;
  return v.query?.query ?? v.definition ?? '';
}

function applyRegex(values, regex) {
  if (!regex) return values;
  const m = /^\/(.*)\/([gimsuy]*)$/.exec(regex);
  const re = m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(regex);
  const out = [];
  for (const val of values) {
    const r = re.exec(val);
    if (!r) continue;
    out.push(r.groups?.value ?? r.groups?.text ?? r[1] ?? r[0]);
  }
  return out;
}

function sortValues(values, sort) {
  const v = [...new Set(values)];
  const num = (s) => Number((/-?\d+(\.\d+)?/.exec(s) ?? ['NaN'])[0]);
  switch (sort) {
    case 1: return v.sort();
    case 2: return v.sort().reverse();
    case 3: return v.sort((a, b) => num(a) - num(b));
    case 4: return v.sort((a, b) => num(b) - num(a));
    case 5: return v.sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    case 6: return v.sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase()));
    default: return v;
  }
}

/** The options of a query variable, from pharos' API. */
async function variableOptions(base, q, start, end) {
  const span = `start=${start}&end=${end}`;
  let m;
  if ((m = /^\s*label_values\(\s*([a-zA-Z_]\w*)\s*\)\s*$/.exec(q))) {
    const { body } = await api(base, `/api/v1/label/${m[1]}/values?${span}`);
    return body.data ?? [];
  }
  if ((m = /^\s*label_values\(\s*(.+)\s*,\s*([a-zA-Z_]\w*)\s*\)\s*$/s.exec(q))) {
    const { body } = await api(base, `/api/v1/series?${span}&match[]=${encodeURIComponent(m[1])}`);
    return [...new Set((body.data ?? []).map((s) => s[m[2]]).filter((x) => x !== undefined))].sort();
  }
  if ((m = /^\s*metrics\((.*)\)\s*$/.exec(q))) {
    const { body } = await api(base, `/api/v1/label/__name__/values?${span}`);
    const re = new RegExp(m[1]);
    return (body.data ?? []).filter((n) => re.test(n));
  }
  if ((m = /^\s*query_result\((.*)\)\s*$/s.exec(q))) {
    const { body } = await api(base, `/api/v1/query?time=${end}&query=${encodeURIComponent(m[1])}`);
    return (body.data?.result ?? []).map((r) => {
      const { __name__: name, ...labels } = r.metric;
      const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
      return `${name ?? ''}{${l}} ${r.value?.[1]} ${Math.round((r.value?.[0] ?? 0) * 1000)}`;
    });
  }
  return [];
}

/**
 * Resolves the dashboard's template variables as Grafana does on load. `pin` fixes some
 * variables (name -> value) instead of Grafana's default choice (the saved current value when
 * it is an option, else the first option). Returns name -> string | string[] (an array when
 * "All" or several values are selected).
 */
export async function resolveVariables(base, dash, { pin = {}, rangeS = 600, scrapeS = 15, now = Date.now() / 1000 } = {}) {
  const d = dash.dashboard ?? dash;
  const start = Math.floor(now - rangeS);
  const end = Math.floor(now);
  const vars = { ...builtins(null, rangeS, scrapeS) };
  const options = {};
  for (const v of d.templating?.list ?? []) {
    if (Object.hasOwn(pin, v.name)) {
      vars[v.name] = pin[v.name];
      continue;
    }
    let opts;
    switch (v.type) {
      case 'datasource':
        vars[v.name] = 'pharos';
        continue;
      case 'constant':
      case 'textbox':
        vars[v.name] = v.current?.value ?? queryText(v);
        continue;
      case 'custom':
      case 'interval':
        opts = (v.options?.length ? v.options.map((o) => o.value) : queryText(v).split(',').map((s) => s.trim())).filter((x) => x !== '$__auto_interval');
        break;
      case 'query':
        opts = sortValues(applyRegex(await variableOptions(base, interpolate(queryText(v), vars), start, end), v.regex), v.sort);
        break;
      default:
        continue;
    }
    options[v.name] = opts;
    const cur = v.current?.value;
    const wantsAll = cur === '$__all' || (Array.isArray(cur) && cur.includes('$__all'));
    if (v.includeAll && (wantsAll || (!opts.length && v.type === 'query'))) {
      vars[v.name] = v.allValue ?? v.customAllValue ?? opts;
      if (Array.isArray(vars[v.name]) && !vars[v.name].length) vars[v.name] = '';
    } else if (Array.isArray(cur) && cur.length && cur.every((c) => opts.includes(c))) {
      vars[v.name] = cur;
    } else if (typeof cur === 'string' && opts.includes(cur)) {
      vars[v.name] = cur;
    } else {
      vars[v.name] = opts[0] ?? '';
    }
  }
  return { vars, options };
}

/** Whether a query answer holds at least one sample. */
function hasSamples(body) {
  const r = body?.data?.result;
  if (!Array.isArray(r)) return false;
  if (body.data.resultType === 'scalar') return true;
  return r.some((s) => (s.values?.length ?? 0) > 0 || s.value !== undefined || (s.histograms?.length ?? 0) > 0 || s.histogram !== undefined);
}

/**
 * Runs every panel of `dash` with `vars` over the last `rangeS` seconds. Returns
 * [{ title, row, type, hasData, queries: [{ expr, hasData, error }] }].
 */
export async function evaluatePanels(base, dash, vars, { rangeS = 600, scrapeS = 15, now = Date.now() / 1000 } = {}) {
  const out = [];
  for (const p of panelsOf(dash)) {
    const b = builtins(p, rangeS, scrapeS);
    const all = { ...vars, ...b };
    const queries = [];
    for (const t of p.targets) {
      if (t.hide || typeof t.expr !== 'string' || !t.expr.trim()) continue;
      const ds = t.datasource?.type ?? p.datasource?.type;
      if (ds && ds !== 'prometheus' && !String(ds).startsWith('$')) continue;
      const expr = interpolate(t.expr, all);
      const instant = t.instant === true && t.range !== true;
      const params = new URLSearchParams({ query: expr });
      let path;
      if (instant) {
        params.set('time', String(now));
        path = '/api/v1/query';
      } else {
        params.set('start', String(Math.floor(now - rangeS)));
        params.set('end', String(Math.floor(now)));
        params.set('step', String(Math.max(b.intervalS, parseDur(t.interval) ?? 0)));
        path = '/api/v1/query_range';
      }
      const { status, body } = await api(base, `${path}?${params}`);
      queries.push({ expr, hasData: status === 200 && hasSamples(body), error: status === 200 ? undefined : `${status} ${body?.error ?? body}` });
    }
    if (!queries.length) continue;
    out.push({ title: p.title, row: p.row, type: p.type, hasData: queries.some((q) => q.hasData), queries });
  }
  return out;
}
