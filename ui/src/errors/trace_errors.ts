/**
 * "Errors in this trace" for the trace view: the error events whose trace context names the
 * trace, grouped by issue, each linking to the issue at its newest event in the trace. Draws nothing while there are
 * none, so traces without errors (or a server without error tracking) look as before.
 */
import './errors.css';
import { h, replace } from '../lib/dom';
import { formatDateTime } from '../lib/time';
import { fetchTraceErrors, levelBadge, toMs, type TraceError } from './api';

/** An element that fills itself with the trace's error events once they are loaded. */
export function traceErrorsPanel(traceId: string, signal?: AbortSignal): HTMLElement {
  const el = h('div', { class: 'card trace-errors', 'data-testid': 'trace-errors', hidden: true });
  void fetchTraceErrors(traceId, signal)
    .then((events) => {
      if (!events.length || signal?.aborted) return;
      // One line per issue (an error retried in a loop is one problem), newest event linked.
      const byIssue = new Map<string, TraceError[]>();
      for (const e of events) byIssue.set(e.issue_id, [...(byIssue.get(e.issue_id) ?? []), e]);
      const groups = [...byIssue.values()].map((g) => g.sort((a, b) => toMs(b.timestamp) - toMs(a.timestamp)));
      groups.sort((a, b) => toMs(a[0].timestamp) - toMs(b[0].timestamp));
      const time = (e: TraceError) => formatDateTime(toMs(e.timestamp), 'browser', true).slice(11);
      replace(
        el,
        h('strong', null, `${events.length} error event${events.length === 1 ? '' : 's'} in this trace`, groups.length > 1 ? ` (${groups.length} issues)` : ''),
        h(
          'ul',
          null,
          ...groups.map((g) =>
            h(
              'li',
              { 'data-testid': 'trace-error', 'data-issue-id': g[0].issue_id, 'data-events': String(g.length) },
              levelBadge(g[0].level),
              h('a', { href: `/errors/${encodeURIComponent(g[0].issue_id)}?event=${encodeURIComponent(g[0].event_id)}`, 'data-testid': 'trace-error-link' }, g[0].title || g[0].event_id),
              g.length > 1 ? h('span', { class: 'tag', title: 'events of this issue in the trace' }, `×${g.length}`) : null,
              h('span', { class: 'faint mono small' }, g.length > 1 ? `${time(g[g.length - 1])} – ${time(g[0])}` : time(g[0])),
            ),
          ),
        ),
      );
      el.hidden = false;
    })
    .catch(() => {
      /* no error store on this server, or it failed: the trace view stays as it is */
    });
  return el;
}
