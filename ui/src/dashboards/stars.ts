/**
 * The star toggle of a dashboard (Grafana's `POST`/`DELETE /api/user/stars/dashboard/uid/:uid`),
 * used in the dashboard list and the dashboard header.
 */
import { request } from '../lib/api';
import { h } from '../lib/dom';

export function starButton(uid: string, starred: boolean, onChange?: (starred: boolean) => void): HTMLButtonElement {
  const btn = h('button', { class: 'link-btn dash-star', 'data-testid': 'star', type: 'button' }) as HTMLButtonElement;
  const draw = () => {
    btn.textContent = starred ? '★' : '☆';
    btn.title = starred ? 'Unstar this dashboard' : 'Star this dashboard';
    btn.setAttribute('aria-pressed', String(starred));
    btn.classList.toggle('starred', starred);
  };
  btn.addEventListener('click', async (e) => {
    e.preventDefault();
    e.stopPropagation();
    const want = !starred;
    btn.disabled = true;
    try {
      await request(`/api/user/stars/dashboard/uid/${encodeURIComponent(uid)}`, { method: want ? 'POST' : 'DELETE' });
      starred = want;
      draw();
      onChange?.(starred);
    } catch (err) {
      btn.title = `Could not ${want ? 'star' : 'unstar'}: ${(err as Error).message}`;
    } finally {
      btn.disabled = false;
    }
  });
  draw();
  return btn;
}
