/**
 * Entry point of pharos' web UI: the frame (navigation, the banner shown while the server is
 * unreachable) and the table of pages. Each page lives in its own module and is loaded when
 * first opened.
 */
import './styles.css';
import { h } from './lib/dom';
import { route, startRouter } from './lib/router';
import { startHealthBanner } from './components/health';

route('/', async () => (await import('./pages/home')).homePage);
route('/dashboards', async () => (await import('./dashboards/list')).dashboardListPage);
route('/dashboards/new', async () => (await import('./dashboards/view')).newDashboardPage);
route('/dashboards/import', async () => (await import('./dashboards/import')).importPage);
route('/dashboards/:uid/:slug?', async () => (await import('./dashboards/view')).dashboardPage);
route('/d/:uid/:slug?', async () => (await import('./dashboards/view')).dashboardPage);
route('/explore', async () => (await import('./explore/metrics')).metricsExplorePage);
route('/explore/metrics', async () => (await import('./explore/metrics')).metricsExplorePage);
route('/explore/logs', async () => (await import('./explore/logs')).logsExplorePage);
route('/explore/traces', async () => (await import('./explore/traces')).tracesExplorePage);
route('/trace/:id', async () => (await import('./explore/trace_view')).traceViewPage);
route('/errors', async () => (await import('./errors/list')).errorsListPage);
route('/errors/:id', async () => (await import('./errors/detail')).errorIssuePage);
route('/alerts', async () => (await import('./pages/alerts')).alertsPage);
route('/alerts/:tab', async () => (await import('./pages/alerts')).alertsPage);
route('/alerts/silences/new', async () => (await import('./pages/alerts')).alertsPage);
route('/incident', async () => (await import('./pages/incident')).incidentPage);
route('/targets', async () => (await import('./pages/status')).targetsPage);
route('/uptime', async () => (await import('./uptime/uptime')).uptimePage);
route('/status', async () => (await import('./pages/status')).statusPage);
route('/status/:tab', async () => (await import('./pages/status')).statusPage);

const NAV: { href: string; label: string; icon: string; match: RegExp }[] = [
  { href: '/', label: 'Home', icon: '⌂', match: /^\/$/ },
  { href: '/dashboards', label: 'Dashboards', icon: '▦', match: /^\/(dashboards|d)(\/|$)/ },
  { href: '/explore/metrics', label: 'Metrics', icon: '∿', match: /^\/explore(\/metrics)?$/ },
  { href: '/explore/logs', label: 'Logs', icon: '≡', match: /^\/explore\/logs/ },
  { href: '/explore/traces', label: 'Traces', icon: '⋔', match: /^\/(explore\/traces|trace\/)/ },
  { href: '/errors', label: 'Errors', icon: '⚠', match: /^\/errors/ },
  { href: '/alerts', label: 'Alerts', icon: '⚑', match: /^\/alerts/ },
  { href: '/targets', label: 'Targets', icon: '◎', match: /^\/targets/ },
  { href: '/uptime', label: 'Uptime', icon: '↑', match: /^\/uptime/ },
  { href: '/status', label: 'Status', icon: '⚙', match: /^\/status/ },
];

function frame(): { outlet: HTMLElement; setActive: (path: string) => void } {
  const links = NAV.map((n) =>
    h('a', { href: n.href, class: 'nav-item', title: n.label }, h('span', { class: 'nav-icon', 'aria-hidden': 'true' }, n.icon), h('span', { class: 'nav-label' }, n.label)),
  );
  const outlet = h('main', { id: 'outlet' });
  const banner = h('div', { id: 'banner' });
  const app = document.getElementById('app') as HTMLElement;
  app.replaceChildren(
    h('nav', { id: 'nav', 'aria-label': 'Main' }, h('a', { href: '/', class: 'brand', title: 'pharos home' }, 'pharos'), ...links),
    h('div', { id: 'content' }, banner, outlet),
  );
  startHealthBanner(banner);
  return {
    outlet,
    setActive: (path) => links.forEach((a, i) => a.classList.toggle('active', NAV[i].match.test(path))),
  };
}

const { outlet, setActive } = frame();
startRouter(outlet, setActive);
