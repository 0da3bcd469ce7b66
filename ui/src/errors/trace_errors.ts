/**
 * "Errors in this trace" for the trace view: the error events whose trace context names the
 * trace, each linking to its issue (`/errors/<issue>?event=<id>`). Draws nothing while there are
 * none, so traces without errors (or a server without error tracking) look as before.
 */
import './errors.css';
import { h, replace } from '../lib/dom';
import { formatDateTime } from '../lib/time';
import { fetchTraceErrors, levelBadge, toMs } from './api';

/** An element that fills itself with the trace's error events once they are loaded. */
export function traceErrorsPanel(traceId: string, signal?: AbortSignal): HTMLElement {
  const el = h('div', { class: 'card trace-errors', 'data-testid': 'trace-errors', hidden: true });
  void fetchTraceErrors(traceId, signal)
    .then((events) => {
      if (!events.length || signal?.aborted) return;
      events.sort((a, b) => toMs(a.timestamp) - toMs(b.timestamp));
      replace(
        el,
        h('strong', null, `${events.length} error${events.length === 1 ? '' : 's'} in this trace`),
        h(
          'ul',
          null,
          ...events.map((e) =>
            h(
              'li',
              { 'data-testid': 'trace-error' },
              levelBadge(e.level),
              h('a', { href: `/errors/${encodeURIComponent(e.issue_id)}?event=${encodeURIComponent(e.event_id)}`, 'data-testid': 'trace-error-link' }, e.title || e.event_id),
              h('span', { class: 'faint mono small' }, formatDateTime(toMs(e.timestamp), 'browser', true).slice(11)),
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
