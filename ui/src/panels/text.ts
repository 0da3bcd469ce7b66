/**
 * The text panel (Grafana `text`): `options.content` (or the pre-7 `content`) with dashboard
 * variables interpolated, shown as Markdown, sanitised HTML or code — all built as DOM nodes by
 * lib/markdown.ts, so dashboard JSON cannot run script.
 */
import { h } from '../lib/dom';
import { renderMarkdown, sanitizeHtml } from '../lib/markdown';
import { opts } from './panelkit';
import { register } from './registry';
import type { GrafanaPanel, PanelContext, PanelRenderer } from './types';

function textFactory(el: HTMLElement, panel: GrafanaPanel, ctx: PanelContext): PanelRenderer {
  el.classList.add('vp-body');
  function draw(p: GrafanaPanel) {
    const o = opts(p);
    const mode = String(o.mode ?? p.mode ?? 'markdown');
    const raw = String(o.content ?? p.content ?? '');
    let content = raw;
    try {
      content = ctx.interpolate(raw);
    } catch {
      content = raw;
    }
    const box = h('div', { class: `vp-text vp-text-${mode}` });
    if (!content.trim()) box.appendChild(h('div', { class: 'vp-nodata' }, 'This text panel is empty'));
    else if (mode === 'html') box.appendChild(sanitizeHtml(content));
    else if (mode === 'code') box.appendChild(h('pre', null, h('code', null, content)));
    else box.appendChild(renderMarkdown(content));
    el.replaceChildren(box);
    el.dataset.state = 'ok';
    el.dataset.mode = mode;
    el.dataset.seriesCount = '0';
  }
  draw(panel);
  return {
    update(_data, p) {
      draw(p);
    },
    resize() {},
    destroy() {
      el.replaceChildren();
    },
  };
}

register(['text'], textFactory);
