// Home, Alerts (alerts, rules, silences, notifications), Targets and Status against a pharos
// filled by the test: a prom-client app scraped, a down target, firing alerts, logs and traces,
// and an Alertmanager webhook receiver served by this test. The central check: a silence
// created in the UI appears in /api/v2/silences, suppresses the alert and stops its
// notifications while another alert keeps notifying; expiring it in the UI ends it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  startFilledPharos,
  startPharos,
  pushLogs,
  sendTrace,
  launchBrowser,
  newPage,
  openUi,
  SCREENSHOT_DIR,
  assertNoPageErrors,
  stop,
  waitFor,
  api,
  tempDir,
} from './helpers.mjs';

let pharos, app, browser, hook;
/** Webhook bodies received: { at, alertnames: Set, status }. */
const received = [];

/** A tiny Alertmanager webhook receiver. */
function startHook() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        try {
          const j = JSON.parse(body);
          received.push({ at: Date.now(), status: j.status, alertnames: new Set((j.alerts ?? []).filter((a) => a.status === 'firing').map((a) => a.labels.alertname)) });
        } catch {
          /* not JSON: ignore */
        }
        res.end('ok');
      });
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

const count = (name, since = 0) => received.filter((r) => r.at >= since && r.alertnames.has(name)).length;

/** Full-height screenshot: the app scrolls inside #outlet, so grow the viewport to the content first. */
async function shot(page, name) {
  const height = await page.evaluate(() => {
    const o = document.querySelector('#outlet');
    return Math.ceil((o?.scrollHeight ?? 900) + (document.querySelector('#banner')?.getBoundingClientRect().height ?? 0));
  });
  const vp = page.viewportSize();
  await page.setViewportSize({ width: vp.width, height: Math.min(4000, Math.max(900, height)) });
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
  await page.setViewportSize(vp);
}

const text = (page, sel) => page.locator(sel).first().innerText();

before(async () => {
  hook = await startHook();
  const dir = tempDir('pharos-ui-am-');
  const am = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(
    am,
    [
      'route:',
      '  receiver: hook',
      '  group_by: [alertname]',
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 2s',
      'receivers:',
      '  - name: hook',
      '    webhook_configs:',
      `      - url: http://127.0.0.1:${hook.address().port}/hook`,
      '        send_resolved: false',
    ].join('\n'),
  );
  // A LogQL rule group (Loki ruler format) beside the PromQL one.
  const logRules = path.join(dir, 'log-rules.yml');
  fs.writeFileSync(
    logRules,
    [
      'groups:',
      '  - name: log-errors',
      '    rules:',
      '      - alert: ApiLogErrors',
      '        expr: sum(count_over_time({app="api"} |= "error" [5m])) > 0',
      '        labels: { severity: info }',
      '        annotations: { summary: "the api logs errors" }',
    ].join('\n'),
  );
  ({ pharos, app } = await startFilledPharos({ extraPharosYml: `alertmanager_config: ${am}\nlogs:\n  rule_files:\n    - ${logRules}` }));
  await pushLogs(pharos.url, [
    { labels: { app: 'api', level: 'error' }, line: 'level=error msg="db timeout"' },
    { labels: { app: 'api', level: 'info' }, line: 'level=info msg="ok"' },
  ]);
  await sendTrace(pharos.url);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  stop(pharos, app);
  hook?.close();
});

test('home: targets up/down with the down error, firing alerts, a non-zero samples/s', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/');
  // Targets: 1 of 2 up, the down one named with its error.
  await page.waitForFunction(() => /1 \/ 2/.test(document.querySelector('[data-testid=targets-up]')?.textContent ?? ''), null, { timeout: 20000 });
  assert.match(await text(page, '[data-testid=targets-down]'), /^1 down/);
  const down = await text(page, '[data-testid=down-targets]');
  assert.match(down, /missing-service/);
  assert.match(down, /127\.0\.0\.1:1/);
  // Firing alerts: at least one, by severity.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=firing-count]')?.textContent) >= 1, null, { timeout: 20000 });
  // The LogQL alert may fire first; the PromQL ones follow within an evaluation or two and the
  // page refreshes every 10 s.
  await page.waitForFunction(() => /TargetDown|HighErrorRate/.test(document.querySelector('[data-testid=firing-alerts]')?.textContent ?? ''), null, { timeout: 40000 }).catch(() => {});
  const firing = await text(page, '[data-testid=firing-alerts]');
  assert.match(firing, /TargetDown|HighErrorRate/);
  // Ingest rate from two polls: samples/s > 0 (the app is scraped every second).
  await page.waitForFunction(() => /^[\d.]+[kMG]?\/s$/.test(document.querySelector('[data-testid=rate-samples]')?.textContent ?? ''), null, { timeout: 20000 });
  const rate = await text(page, '[data-testid=rate-samples]');
  const n = parseFloat(rate) * ({ k: 1e3, M: 1e6, G: 1e9 }[rate.replace(/[\d.]/g, '')[0]] ?? 1);
  assert.ok(n > 0, `samples/s = ${rate}`);
  // Links into every page.
  const hrefs = await page.$$eval('#outlet a', (as) => as.map((a) => a.getAttribute('href')));
  for (const p of ['/explore/metrics', '/explore/logs', '/explore/traces', '/dashboards', '/alerts', '/targets', '/status']) assert.ok(hrefs.includes(p), `home links to ${p}`);
  assert.equal(await page.locator('[data-testid=getting-started]').count(), 0, 'no getting-started card on a busy server');
  await shot(page, 'home');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('targets: both jobs, health, the down target error text, filter, link to its series', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/targets');
  await page.waitForSelector('section[data-pool="missing-service"] tr.target');
  assert.equal(await page.locator('section.pool').count(), 2);
  assert.match(await page.locator('section[data-pool="crewai-app"] tr.target .badge').innerText(), /^up$/i);
  const downRow = page.locator('section[data-pool="missing-service"] tr.target');
  assert.match(await downRow.locator('.badge').innerText(), /down/i);
  assert.match(await downRow.locator('.error-cell').innerText(), /127\.0\.0\.1:1.*(refused|error)/is);
  const series = await downRow.locator('a', { hasText: 'Show series' }).getAttribute('href');
  assert.equal(decodeURIComponent(series), '/explore/metrics?query=up{instance="127.0.0.1:1",job="missing-service"}');
  // Discovered labels (before relabeling) on demand.
  await downRow.locator('button', { hasText: 'discovered labels' }).click();
  assert.match(await page.locator('section[data-pool="missing-service"] .discovered').innerText(), /__address__="127\.0\.0\.1:1"/);
  await shot(page, 'targets');
  // Unhealthy only: one pool left.
  await page.click('button[data-health=unhealthy]');
  await page.waitForFunction(() => document.querySelectorAll('section.pool').length === 1);
  assert.equal(await page.locator('section.pool').getAttribute('data-pool'), 'missing-service');
  assert.match(page.url(), /health=unhealthy/);
  // Collapsing a pool hides its rows.
  await page.click('section[data-pool="missing-service"] button.pool-head');
  assert.equal(await page.locator('section[data-pool="missing-service"] tr.target').count(), 0);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('alerts: HighErrorRate firing with its summary; Show query opens the rule in Explore', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/alerts');
  const group = page.locator('section.alert-group[data-alertname="HighErrorRate"]');
  await group.waitFor({ timeout: 20000 });
  await page.waitForSelector('section.alert-group[data-alertname="HighErrorRate"].state-firing', { timeout: 20000 });
  const inst = group.locator('.alert-instance[data-state=firing]');
  assert.equal(await inst.count(), 1);
  assert.equal(await inst.locator('.summary').innerText(), 'API answers 5xx');
  assert.match(await inst.locator('.description').innerText(), /^Error rate is [\d.e+-]+$/);
  assert.match(await inst.innerText(), /service="api"/);
  const q = await group.locator('[data-action=show-query]').getAttribute('href');
  assert.equal(new URL(q, pharos.url).searchParams.get('query'), 'sum(rate(http_requests_total{status=~"5.."}[1m])) > 0');
  assert.ok(q.startsWith('/explore/metrics?'));
  // Filter by matcher: severity=critical leaves TargetDown only.
  await page.fill('input[aria-label="Filter alerts"]', 'severity=critical');
  await page.waitForFunction(() => [...document.querySelectorAll('section.alert-group')].map((s) => s.dataset.alertname).join() === 'TargetDown');
  await page.fill('input[aria-label="Filter alerts"]', '');
  await page.waitForSelector('section.alert-group[data-alertname="HighErrorRate"]');
  // The LogQL alert fires from the pushed error line; its query opens Explore for logs.
  const logAlert = page.locator('section.alert-group[data-alertname="ApiLogErrors"]');
  await logAlert.waitFor({ timeout: 20000 });
  assert.ok((await logAlert.locator('[data-action=show-query]').getAttribute('href')).startsWith('/explore/logs?query='));
  assert.match(await logAlert.locator('.group-src').innerText(), /^LogQL/);
  await shot(page, 'alerts');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('alerts sent by another Prometheus show too, and their HTML renders as text', async () => {
  const xss = '<img src=x onerror=alert(1)>';
  const res = await fetch(pharos.url + '/api/v2/alerts', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify([{ labels: { alertname: 'External', team: xss }, annotations: { summary: xss, runbook: 'https://example.com/rb' }, generatorURL: 'http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1' }]),
  });
  assert.equal(res.status, 200);
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/alerts');
  const g = page.locator('section.alert-group[data-alertname="External"]');
  await g.waitFor({ timeout: 15000 });
  assert.equal(await g.locator('.summary').innerText(), xss);
  assert.match(await g.innerText(), /team="<img src=x onerror=alert\(1\)>"/);
  assert.equal(await page.locator('#outlet img').count(), 0, 'no injected element');
  assert.equal(new URL(await g.locator('[data-action=show-query]').getAttribute('href'), pharos.url).searchParams.get('query'), 'up == 0');
  assert.equal(await g.locator('dl.annotations a[href="https://example.com/rb"]').count(), 1);
  // Home counts it with the rule alerts, as text too.
  await openUi(page, pharos.url, '/');
  await page.waitForSelector('[data-testid=firing-alerts] li[data-alertname="External"]', { timeout: 15000 });
  assert.equal(await text(page, '[data-testid=firing-alerts] li[data-alertname="External"] .dim'), xss);
  assert.equal(await page.locator('#outlet img').count(), 0, 'no injected element on home');
  assert.deepEqual(page.pharosDialogs, []);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('rules: the 3 rules with health ok, queries linked to Explore', async () => {
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/alerts/rules');
  await page.waitForSelector('section.rule-group[data-group="ui-test"] tr.rule');
  await page.waitForFunction(() => [...document.querySelectorAll('tr.rule')].every((r) => r.dataset.health === 'ok'), null, { timeout: 20000 });
  const rules = await page.$$eval('section.rule-group[data-group="ui-test"] tr.rule', (rs) => rs.map((r) => [r.dataset.rule, r.dataset.health]));
  assert.deepEqual(rules, [['HighErrorRate', 'ok'], ['TargetDown', 'ok'], ['job:http_requests:rate1m', 'ok']]);
  assert.equal(await text(page, 'section.rule-group[data-group="ui-test"] .rule-group-head .badge'), 'PROMQL');
  // The LogQL group: marked as such, its query opens Explore for logs.
  const lg = page.locator('section.rule-group[data-group="log-errors"]');
  assert.equal(await lg.locator('.rule-group-head .badge').innerText(), 'LOGQL');
  const lhref = await lg.locator('a.query-link').getAttribute('href');
  assert.ok(lhref.startsWith('/explore/logs?'), lhref);
  assert.equal(new URL(lhref, pharos.url).searchParams.get('query'), 'sum(count_over_time({app="api"} |= "error" [5m])) > 0');
  const href = await page.locator('tr.rule[data-rule="job:http_requests:rate1m"] a.query-link').getAttribute('href');
  assert.equal(new URL(href, pharos.url).searchParams.get('query'), 'sum by (job) (rate(http_requests_total[1m]))');
  assert.match(await text(page, 'tr.rule[data-rule="TargetDown"]'), /firing/i);
  await shot(page, 'alerts-rules');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('a silence created in the UI is stored, suppresses the alert, stops its notifications, and expires from the UI', async () => {
  // Both alerts notify before the silence.
  await waitFor(() => count('HighErrorRate') >= 1 && count('TargetDown') >= 1, 30000, 'webhook notifications for both alerts');
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/alerts');
  const group = page.locator('section.alert-group[data-alertname="HighErrorRate"]');
  await group.locator('[data-action=silence]').first().click();
  await page.waitForURL(/\/alerts\/silences\/new\?/);
  // Prefilled with the alert's labels; the preview finds the alert.
  await page.waitForFunction(() => document.querySelector('[data-testid=preview-count]')?.textContent === '1 alert matches now', null, { timeout: 10000 });
  const rows = await page.$$eval('.matcher-row', (rs) => rs.map((r) => [r.querySelector('.m-name').value, r.querySelector('.m-op').value, r.querySelector('.m-value').value]));
  assert.deepEqual(rows.sort(), [['alertname', '=', 'HighErrorRate'], ['service', '=', 'api'], ['severity', '=', 'warning']]);
  // The comment is required: submitting without it shows why.
  await page.fill('input[name=createdBy]', 'on-call');
  await page.click('[data-testid=silence-submit]');
  assert.match(await text(page, '.form-errors'), /comment is required/i);
  await page.fill('textarea[name=comment]', 'deploying a fix <b>now</b>');
  await page.fill('input[name=duration]', '1h');
  await shot(page, 'silence-form');
  await page.click('[data-testid=silence-submit]');
  await page.waitForURL(/\/alerts\/silences\?highlight=/);
  const id = new URL(page.url()).searchParams.get('highlight');
  assert.ok(id, 'the new silence id is in the URL');

  // Stored with the right matchers.
  const { body: silences } = await api(pharos.url, '/api/v2/silences');
  const s = silences.find((x) => x.id === id);
  assert.ok(s, `silence ${id} in /api/v2/silences`);
  assert.equal(s.status.state, 'active');
  assert.equal(s.createdBy, 'on-call');
  assert.equal(s.comment, 'deploying a fix <b>now</b>');
  const ms = s.matchers.map((m) => `${m.name}${m.isEqual === false ? '!' : '='}${m.isRegex ? '~' : ''}${m.value}`).sort();
  assert.deepEqual(ms, ['alertname=HighErrorRate', 'service=api', 'severity=warning']);
  const hours = (Date.parse(s.endsAt) - Date.parse(s.startsAt)) / 3.6e6;
  assert.ok(Math.abs(hours - 1) < 0.01, `1h long, got ${hours}h`);

  // The alert is suppressed by it.
  await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/v2/alerts');
    const a = body.find((x) => x.labels.alertname === 'HighErrorRate');
    return a?.status.state === 'suppressed' && a.status.silencedBy.includes(id);
  }, 15000, 'HighErrorRate suppressed');
  // Notifications stop for it while TargetDown keeps notifying (repeat_interval 2s).
  const t0 = Date.now() + 1500; // a notification already in flight may still land
  await waitFor(() => count('TargetDown', t0) >= 2, 30000, 'TargetDown repeats after the silence');
  assert.equal(count('HighErrorRate', t0), 0, 'no HighErrorRate notification while silenced');

  // The silences tab lists it as active with one affected alert; the comment renders as text.
  await page.waitForSelector(`[data-section=active] [data-silence-id="${id}"]`);
  const card = page.locator(`[data-silence-id="${id}"]`);
  assert.match(await card.locator('[data-testid=affected]').innerText(), /^1 alert affected$/);
  assert.equal(await card.locator('.comment').innerText(), 'deploying a fix <b>now</b>');
  assert.equal(await card.locator('.comment b').count(), 0);
  await shot(page, 'silences');

  // The alerts tab shows the instance as silenced.
  await openUi(page, pharos.url, '/alerts');
  await page.waitForSelector('section.alert-group[data-alertname="HighErrorRate"] .alert-instance[data-am-state=suppressed]', { timeout: 15000 });
  assert.match(await text(page, 'section.alert-group[data-alertname="HighErrorRate"] .alert-instance'), /silenced/i);

  // Edit loads the stored silence into the form.
  await openUi(page, pharos.url, '/alerts/silences');
  await page.click(`[data-silence-id="${id}"] [data-action=edit]`);
  await page.waitForURL(/\/alerts\/silences\/new\?id=/);
  await page.waitForFunction(() => document.querySelector('textarea[name=comment]')?.value === 'deploying a fix <b>now</b>');
  assert.equal(await page.locator('.matcher-row').count(), 3);
  assert.equal(await page.inputValue('input[name=createdBy]'), 'on-call');
  assert.equal(await page.inputValue('input[name=duration]'), '1h');
  assert.match(await text(page, '.silence-form h2'), /Edit silence/);
  await page.fill('input[name=duration]', '2h');
  await page.click('[data-testid=silence-submit]');
  await page.waitForURL(/\/alerts\/silences\?highlight=/);
  assert.equal(new URL(page.url()).searchParams.get('highlight'), id, 'updated in place, same id');
  const { body: edited } = await api(pharos.url, `/api/v2/silence/${id}`);
  assert.equal(edited.status.state, 'active');
  assert.equal(edited.startsAt, s.startsAt);
  const h2 = (Date.parse(edited.endsAt) - Date.parse(edited.startsAt)) / 3.6e6;
  assert.ok(Math.abs(h2 - 2) < 0.01, `2h long after the edit, got ${h2}h`);

  // Expire it from the UI (two clicks, no browser dialog).
  await openUi(page, pharos.url, '/alerts/silences');
  await page.click(`[data-silence-id="${id}"] [data-action=expire]`);
  await page.click(`[data-silence-id="${id}"] [data-action=confirm-expire]`);
  await page.waitForSelector(`[data-section=expired] [data-silence-id="${id}"]`, { timeout: 10000 });
  const { body: after } = await api(pharos.url, `/api/v2/silence/${id}`);
  assert.equal(after.status.state, 'expired');
  await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/v2/alerts');
    return body.find((x) => x.labels.alertname === 'HighErrorRate')?.status.state === 'active';
  }, 15000, 'HighErrorRate active again');
  // Recreate prefills the form from the expired silence.
  await page.click(`[data-silence-id="${id}"] [data-action=recreate]`);
  await page.waitForURL(/\/alerts\/silences\/new\?/);
  await page.waitForSelector('.matcher-row');
  assert.equal(await page.locator('.matcher-row').count(), 3);
  assert.equal(await page.inputValue('textarea[name=comment]'), 'deploying a fix <b>now</b>');
  assert.deepEqual(page.pharosDialogs, []);
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('notifications: the log of what was sent (or a clear message without the endpoint)', async () => {
  await waitFor(() => count('TargetDown') >= 1, 30000, 'a notification');
  const page = await newPage(browser);
  await openUi(page, pharos.url, '/alerts/notifications');
  const { status } = await api(pharos.url, '/api/pharos/v1/notifications');
  if (status === 200) {
    await page.waitForSelector('table.notif-table tr[data-receiver=hook]', { timeout: 15000 });
    const rows = await page.locator('table.notif-table tr[data-receiver=hook]').count();
    assert.ok(rows >= 1);
    assert.match(await text(page, 'table.notif-table tr[data-receiver=hook]'), /webhook/);
    assert.match(await text(page, 'table.notif-table tbody'), /TargetDown/);
  } else {
    await page.waitForSelector('.msg');
    assert.match(await text(page, '.alerts-body .msg'), /notification log is not available/);
  }
  await shot(page, 'notifications');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('status: runtime and build, the config with copy, TSDB top metrics and store stats', async () => {
  const page = await newPage(browser, { permissions: ['clipboard-read', 'clipboard-write'] });
  await openUi(page, pharos.url, '/status');
  await page.waitForSelector('[data-testid=uptime]');
  assert.match(await text(page, '.status-grid'), /pharos version/);
  await shot(page, 'status');

  await openUi(page, pharos.url, '/status/config');
  await page.waitForSelector('[data-testid=config-yaml]');
  const yaml = await text(page, '[data-testid=config-yaml]');
  assert.match(yaml, /job_name: crewai-app/);
  assert.match(yaml, /job_name: missing-service/);
  await page.click('button:has-text("Copy")');
  await page.waitForSelector('button:has-text("Copied")');
  assert.equal((await page.evaluate(() => navigator.clipboard.readText())).trim(), yaml.trim());

  await openUi(page, pharos.url, '/status/stores');
  await page.waitForSelector('[data-testid=top-metrics] tbody tr');
  const { body } = await api(pharos.url, '/api/v1/status/tsdb');
  const top = body.data.seriesCountByMetricName;
  const shown = await page.$$eval('[data-testid=top-metrics] tbody tr', (rs) => rs.map((r) => [r.querySelector('td').textContent, Number(r.querySelectorAll('td')[1].textContent)]));
  assert.equal(shown.length, top.length);
  assert.ok(shown.length >= 5, `top metrics: ${shown.length}`);
  assert.ok(shown.some(([n]) => n === 'http_request_duration_seconds_bucket'));
  assert.ok(Number(await text(page, '[data-testid=tsdb-series]')) > 10);
  const stores = await api(pharos.url, '/api/pharos/v1/stores');
  if (stores.status === 200) {
    await page.waitForSelector('[data-testid=log-streams]');
    assert.ok(Number(await text(page, '[data-testid=log-streams]')) >= 2);
    assert.ok(Number(await text(page, '[data-testid=trace-services]')) >= 2);
  } else {
    assert.match(await text(page, '.status-body'), /not available on this server/);
  }
  await shot(page, 'status-stores');
  assertNoPageErrors(page, assert);
  await page.context().close();
});

test('an empty system: getting-started card with this server\'s URLs; empty states; a stopped server', async () => {
  // Empty: also without the built-in collectors (which fill a fresh pharos with its own and the host's
  // series) and the shipped security rule set (which loads an alerting group).
  const empty = await startPharos('collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n', 'pharos.yml');
  const page = await newPage(browser);
  try {
    await openUi(page, empty.url, '/');
    await page.waitForSelector('[data-testid=getting-started]', { timeout: 15000 });
    const gs = await text(page, '[data-testid=getting-started]');
    assert.ok(gs.includes(`${empty.url}/loki/api/v1/push`), 'Loki push URL of this server');
    assert.ok(gs.includes(`${empty.url}/v1/traces`), 'OTLP URL');
    assert.ok(gs.includes(`${empty.url}/api/v1/write`), 'remote_write URL');
    assert.ok(gs.includes(`targets: ['${new URL(empty.url).host}']`), 'Alertmanager target');
    await shot(page, 'home-empty');

    for (const [p, re] of [
      ['/targets', /No scrape targets are configured/],
      ['/alerts', /No alerting rules are loaded/],
      ['/alerts/rules', /No rule groups are loaded/],
      ['/alerts/silences', /No silences yet/],
    ]) {
      await openUi(page, empty.url, p);
      await page.waitForFunction((r) => new RegExp(r).test(document.querySelector('#outlet')?.innerText ?? ''), re.source, { timeout: 10000 });
    }
    // A query error shows the server's message: an invalid silence refused by the API.
    await openUi(page, empty.url, '/alerts/silences/new?matcher=alertname%3D~%22(%22');
    await page.fill('input[name=createdBy]', 'me');
    await page.fill('textarea[name=comment]', 'x');
    await page.click('[data-testid=silence-submit]');
    assert.match(await text(page, '.form-errors'), /regex for alertname does not compile/i);
    // One the browser accepts but the server refuses (no lookahead in its regex engine): the server's message is shown.
    await page.fill('.matcher-row .m-value', '(?=x)y');
    await page.click('[data-testid=silence-submit]');
    await page.waitForFunction(() => /server refused/.test(document.querySelector('.form-errors')?.textContent ?? ''), null, { timeout: 10000 });
    const refused = await text(page, '.form-errors');
    assert.match(refused, /^The server refused the silence: [^"]/);
    assert.equal((await api(empty.url, '/api/v2/silences')).body.length, 0);

    // Stop the server: the targets page keeps its message, says the refresh failed, the banner shows.
    await openUi(page, empty.url, '/targets');
    await page.waitForSelector('.freshness:not(:empty)');
    stop(empty);
    await page.waitForFunction(() => /Refresh failed/.test(document.querySelector('.freshness')?.textContent ?? ''), null, { timeout: 20000 });
    assert.match(await text(page, '#outlet'), /No scrape targets are configured/);
    await page.waitForFunction(() => /not reachable/.test(document.querySelector('#banner')?.textContent ?? ''), null, { timeout: 20000 });
    // A page opened while the server is down says so instead of spinning.
    await page.click('#nav a[href="/alerts"]');
    await page.waitForFunction(() => /pharos is not reachable/.test(document.querySelector('.alerts-body')?.innerText ?? ''), null, { timeout: 10000 });
    await page.click('#nav a[href="/"]');
    await page.waitForFunction(() => /not reachable/.test(document.querySelector('.home-stats')?.innerText ?? ''), null, { timeout: 10000 });
    await shot(page, 'home-stopped');
    assertNoPageErrors(page, assert);
  } finally {
    stop(empty);
    await page.context().close();
  }
});
