/**
 * The banner at the top of every page while pharos cannot be reached: pages keep what they
 * drew, and the banner says since when the data may be stale. Checks `/-/healthy` every 10 s
 * and right after any failed request.
 */
import { formatDateTime } from '../lib/time';

let bannerEl: HTMLElement | undefined;
let downSince: number | undefined;

export function startHealthBanner(el: HTMLElement) {
  bannerEl = el;
  void check();
  setInterval(() => void check(), 10_000);
}

/** Re-checks now (pages call this when a request failed as unreachable). */
export async function check() {
  try {
    const res = await fetch('/-/healthy', { cache: 'no-store' });
    setDown(!res.ok);
  } catch {
    setDown(true);
  }
}

function setDown(down: boolean) {
  if (!bannerEl) return;
  if (down) {
    downSince ??= Date.now();
    bannerEl.className = 'banner banner-error';
    bannerEl.setAttribute('role', 'alert');
    bannerEl.textContent = `pharos is not reachable (since ${formatDateTime(downSince)}). What you see may be stale; pages retry on their own.`;
  } else {
    downSince = undefined;
    bannerEl.className = '';
    bannerEl.textContent = '';
  }
}
