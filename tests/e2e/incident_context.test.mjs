// Incident context end to end, on the release binary, with the parts the other incident tests do
// not reach: a configured join (`incident.service_labels: [component]`, so the default `job` no
// longer joins), a down target of the service, a restart of the service
// (`process_start_time_seconds` changing inside the window) and a config reload (SIGHUP) listed
// as events, the error issue of the service's project — and the link to the page in the Slack
// (button), PagerDuty v1 (`details.incident_url`) and v2 (`links`) notifications, at the
// configured `external_url`, each opening the page's data for its alert.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { PHAROS_BIN, spawnUntil, tempDir, freePort, recorder, api, waitFor } from './helpers.mjs';

const KEY = 'abcdef0123456789abcdef0123456789';
let pharos, hooks, app, dir, closedPort;
// The scraped app's process start: two hours ago, then "now" after a simulated restart.
let processStart = Date.now() / 1000 - 7200;
let restartedAt;

before(async () => {
  hooks = await recorder();
  app = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`# TYPE checkout_errors_total counter\ncheckout_errors_total 5\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ${processStart}\n`);
  });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  closedPort = await freePort();
  dir = tempDir('pharos-incident-ctx-');
  const w = (name, text) => fs.writeFileSync(path.join(dir, name), text);
  w('rules.yml', `groups:
  - name: checkout
    rules:
      - alert: CheckoutErrors
        expr: checkout_errors_total > 0
        labels: {severity: critical}
        annotations: {summary: checkout is failing}
      - alert: CheckoutDegraded
        expr: checkout_errors_total > 0
        labels: {severity: warning}
        annotations: {summary: checkout is degraded}
`);
  w('prometheus.yml', `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: ['127.0.0.1:${app.address().port}', '127.0.0.1:${closedPort}']
        labels: {component: checkout}
`);
  w('alertmanager.yml', `route:
  receiver: slack
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 2s
  routes:
    - matchers: ['severity="critical"']
      receiver: pagerduty
receivers:
  - name: slack
    slack_configs:
      - api_url: '${hooks.url}/slack'
        channel: '#warnings'
  - name: pagerduty
    pagerduty_configs:
      - service_key: v1-key
        url: '${hooks.url}/pd-v1'
      - routing_key: v2-key
        url: '${hooks.url}/pd-v2'
`);
  w('pharos.yml', `prometheus_config: prometheus.yml
alertmanager_config: alertmanager.yml
external_url: https://pharos.example.com/oncall/
incident:
  service_labels: [component]
collectors: {self: {enabled: false}, host: {enabled: false}}
security: {enabled: false}
errors:
  projects:
    - {id: 1, name: checkout, keys: [${KEY}]}
`);
  const [child, m] = await spawnUntil(PHAROS_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'), '--config', path.join(dir, 'pharos.yml')],
    /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/);
  pharos = { child, url: m[1] };
  const base = pharos.url;
  const now = Date.now();
  const ns = (ms) => String(ms * 1_000_000);
  // Logs: the service's (component=checkout) and a line of job "shop" only, which the default
  // join (service, service_name, app, job) would take and `service_labels: [component]` must not.
  const push = await fetch(`${base}/loki/api/v1/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ streams: [
      { stream: { component: 'checkout', level: 'error' }, values: [[ns(now - 20_000), 'card payment declined by gateway']] },
      { stream: { component: 'checkout', level: 'info' }, values: [[ns(now - 25_000), 'GET /cart 200']] },
      { stream: { job: 'shop', level: 'error' }, values: [[ns(now - 20_000), 'a job-only line the configured join leaves out']] },
    ] }),
  });
  assert.ok(push.ok, `loki push ${push.status}`);
  // Traces: a failed one of service "checkout" and one of service "shop".
  const span = (traceId, service, name) => ({ traceId, id: traceId.slice(16), name, timestamp: (now - 22_000) * 1000, duration: 1_200_000, localEndpoint: { serviceName: service }, tags: { error: 'gateway said no' } });
  const zr = await fetch(`${base}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify([span('000000000000000000000000000c4e01', 'checkout', 'POST /pay'), span('0000000000000000000000000005b0b1', 'shop', 'GET /other')]) });
  assert.ok(zr.ok, `zipkin push ${zr.status}`);
  // An error event of project "checkout".
  const er = await fetch(`${base}/api/1/store/?sentry_key=${KEY}`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event_id: 'c4ec4ec4ec4ec4ec4ec4ec4ec4ec4e01', level: 'error', platform: 'node', exception: { values: [{ type: 'CardDeclined', value: 'card payment declined by gateway' }] } }) });
  assert.equal(er.status, 200, await er.text());
});

after(() => {
  pharos?.child.kill('SIGKILL');
  app?.close();
  hooks?.srv.close();
});

const payloads = (p) => hooks.got.filter((g) => g.path === p).map((g) => g.body);

test('Slack, PagerDuty v1 and v2 notifications carry the incident link at external_url', async () => {
  await waitFor(() => payloads('/slack').length && payloads('/pd-v1').length && payloads('/pd-v2').length, 30000, 'the three notifications');
  const slack = payloads('/slack')[0];
  const button = slack.attachments[0].actions.find((a) => a.text === 'Incident context');
  assert.ok(button, JSON.stringify(slack));
  assert.match(button.url, /^https:\/\/pharos\.example\.com\/oncall\/incident\?alertname=CheckoutDegraded&/);
  const v1 = payloads('/pd-v1')[0];
  assert.equal(v1.service_key, 'v1-key');
  assert.match(v1.details.incident_url, /^https:\/\/pharos\.example\.com\/oncall\/incident\?alertname=CheckoutErrors&/);
  const v2 = payloads('/pd-v2')[0];
  assert.equal(v2.routing_key, 'v2-key');
  const link = v2.links.find((l) => l.text === 'Incident context');
  assert.equal(link.href, v1.details.incident_url);
  for (const u of [button.url, link.href]) {
    assert.match(u, /[?&]component=checkout(&|$)/);
    assert.match(u, /[?&]__start=\d+/);
  }
});

test('the incident page data: configured join, logs, traces, issue, down target, restart and reload', async () => {
  await waitFor(() => payloads('/pd-v1').length, 30000, 'the PagerDuty notification');
  const link = payloads('/pd-v1')[0].details.incident_url;
  const query = link.split('?')[1];
  // A restart of the service inside the window, and a config reload.
  restartedAt = Date.now();
  processStart = restartedAt / 1000;
  pharos.child.kill('SIGHUP');
  const v = await waitFor(async () => {
    const { status, body } = await api(pharos.url, `/api/pharos/v1/incident?${query}`);
    assert.equal(status, 200, JSON.stringify(body));
    const kinds = body.events.map((e) => e.kind);
    return kinds.includes('restart') && kinds.includes('config_reload') && body.targets.downNow.length ? body : null;
  }, 30000, 'a restart and a reload among the incident events');
  console.log(`incident: join ${JSON.stringify(v.join.labels)}, ${v.logs.lines.length} lines, ${v.traces.failed.length} failed traces, ${v.errors.issues.length} issues, events ${JSON.stringify(v.events)}`);
  assert.equal(v.alert.state, 'firing');
  assert.deepEqual(v.join.labels, [{ name: 'component', value: 'checkout' }]);
  assert.deepEqual(v.join.serviceLabels, ['component']);
  // Logs: the component's lines, errors first; not the job-only line.
  const lines = v.logs.lines.map((l) => l.line);
  assert.equal(lines[0], 'card payment declined by gateway');
  assert.ok(lines.includes('GET /cart 200'), JSON.stringify(lines));
  assert.ok(!lines.some((l) => l.includes('job-only')), JSON.stringify(lines));
  // Traces: service "checkout" only.
  assert.deepEqual(v.traces.failed.map((t) => t.traceID), ['000000000000000000000000000c4e01']);
  // The project named like the service, first and marked.
  assert.equal(v.errors.issues[0].sameService, true, JSON.stringify(v.errors));
  assert.match(JSON.stringify(v.errors.issues[0]), /CardDeclined/);
  // The target that does not answer, of the same service, down now and in the window.
  const down = v.targets.downNow.find((t) => t.labels.instance === `127.0.0.1:${closedPort}`);
  assert.ok(down, JSON.stringify(v.targets));
  assert.equal(down.sameService, true);
  assert.ok(down.lastError, 'the scrape error');
  assert.ok(v.targets.downInWindow.some((t) => t.labels.instance === `127.0.0.1:${closedPort}` && t.sameService), JSON.stringify(v.targets.downInWindow));
  assert.ok(!v.targets.downNow.some((t) => t.labels.instance === `127.0.0.1:${app.address().port}`), 'the live target is not down');
  // Events: the restart at the new process start (not the one two hours ago, outside the window)
  // and the reload, each inside the window.
  const restarts = v.events.filter((e) => e.kind === 'restart');
  assert.equal(restarts.length, 1, JSON.stringify(restarts));
  assert.ok(Math.abs(restarts[0].time - restartedAt) < 1000, `${restarts[0].time} vs ${restartedAt}`);
  assert.match(restarts[0].text, /shop/);
  const reload = v.events.find((e) => e.kind === 'config_reload');
  assert.ok(reload.time >= restartedAt - 1000 && reload.time <= Date.now(), JSON.stringify(reload));
  for (const e of v.events) assert.ok(e.time >= v.window.from && e.time <= v.window.to, JSON.stringify(e));
});
