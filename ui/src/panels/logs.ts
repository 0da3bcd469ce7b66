/**
 * The logs panel (Grafana `logs`): the panel's log lines newest first (or `options.sortOrder`),
 * with time, a level colour bar, optional labels, wrapping and Grafana's dedup strategies —
 * every line rendered as text, so a line holding HTML shows as that HTML's source.
 */
import { h } from '../lib/dom';
import { formatDateTime } from '../lib/time';
import { errorStrip, opts, showEmptyOrError } from './panelkit';
import { register } from './registry';
import type { GrafanaPanel, LogRow, PanelContext, PanelData, PanelRenderer } from './types';

const LEVELS: [RegExp, string][] = [
  [/^(crit|critical|fatal|panic|emerg|alert)$/i, 'critical'],
  [/^(err|error|eror)$/i, 'error'],
  [/^(warn|warning)$/i, 'warn'],
  [/^(info|information|notice|informational)$/i, 'info'],
  [/^(debug|dbug)$/i, 'debug'],
  [/^(trace)$/i, 'trace'],
];

/** A log row's level: from labels/metadata (level, severity, detected_level) or the line itself. */
export function logLevel(row: LogRow): string {
  const from = row.labels.level ?? row.labels.severity ?? row.labels.detected_level ?? row.labels.lvl ?? (row.metadata?.level as string | undefined);
  const norm = (s: string) => LEVELS.find(([re]) => re.test(s))?.[1];
  if (from) return norm(String(from)) ?? 'unknown';
  const m = /(?:level|lvl|severity)["']?\s*[=:]\s*["']?(\w+)/i.exec(row.line) ?? /\b(CRITICAL|FATAL|PANIC|ERROR|ERR|WARN|WARNING|INFO|DEBUG|TRACE)\b/.exec(row.line);
  return (m && norm(m[1])) || 'unknown';
}

function dedupKey(line: string, strategy: string): string {
  if (strategy === 'numbers') return line.replace(/\d+(\.\d+)?/g, '0');
  if (strategy === 'signature') return line.replace(/\w+/g, 'w').replace(/\s+/g, ' ');
  return line;
}

function logsFactory(el: HTMLElement, _panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');
  function draw(data: PanelData, panel: GrafanaPanel) {
    const rows = data.logs ?? [];
    if (showEmptyOrError(el, data, rows.length > 0, 'No log lines in this time range')) return;
    const o = opts(panel);
    const asc = String(o.sortOrder ?? 'Descending') === 'Ascending';
    const sorted = [...rows].sort((a, b) => (asc ? a.timeMs - b.timeMs : b.timeMs - a.timeMs));
    const strategy = String(o.dedupStrategy ?? 'none');
    const shown: { row: LogRow; dup: number }[] = [];
    for (const r of sorted) {
      const prev = shown[shown.length - 1];
      if (strategy !== 'none' && prev && dedupKey(prev.row.line, strategy) === dedupKey(r.line, strategy)) prev.dup++;
      else shown.push({ row: r, dup: 1 });
    }
    const showTime = o.showTime !== false;
    const showLabels = o.showLabels === true;
    // Labels every row shares are noise; show only the ones that differ (unless showCommonLabels).
    const common: Record<string, string> = {};
    if (showLabels && !o.showCommonLabels && rows.length > 1) {
      for (const [k, v] of Object.entries(rows[0].labels)) if (rows.every((r) => r.labels[k] === v)) common[k] = v;
    }
    const list = h('div', { class: `vp-logs ${o.wrapLogMessage ? 'wrap' : ''}`, role: 'log' });
    const max = 2000;
    for (const { row, dup } of shown.slice(0, max)) {
      const level = logLevel(row);
      let line = row.line;
      if (o.prettifyLogMessage && /^\s*[{[]/.test(line)) {
        try {
          line = JSON.stringify(JSON.parse(line), null, 2);
        } catch {
          /* not JSON */
        }
      }
      const labels = showLabels
        ? Object.entries(row.labels)
            .filter(([k]) => !(k in common))
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : '';
      list.appendChild(
        h(
          'div',
          { class: `vp-log lvl-${level}`, dataset: { level } },
          dup > 1 ? h('span', { class: 'vp-log-dup', title: `${dup} duplicate lines` }, `${dup}×`) : null,
          showTime ? h('span', { class: 'vp-log-time' }, formatDateTime(row.timeMs, ctx.timeZone, true)) : null,
          labels ? h('span', { class: 'vp-log-labels', title: labels }, labels) : null,
          h('span', { class: 'vp-log-line', title: o.wrapLogMessage ? undefined : row.line.slice(0, 2000) }, line),
        ),
      );
    }
    if (shown.length > max) list.appendChild(h('div', { class: 'faint', style: 'padding:4px 8px' }, `${shown.length - max} more lines not shown — open the query in Explore for all of them`));
    el.replaceChildren(...[errorStrip(data), list].filter((x): x is HTMLElement => !!x));
    el.dataset.state = 'ok';
    el.dataset.seriesCount = String(new Set(rows.map((r) => JSON.stringify(r.labels))).size);
    el.dataset.lines = String(shown.length);
    el.dataset.value = shown[0]?.row.line ?? '';
  }
  return {
    update: draw,
    resize() {},
    destroy() {
      el.replaceChildren();
    },
  };
}

register(['logs'], logsFactory);
