// The built-in Alertmanager end to end, with the CrewAI monitoring guide's alertmanager/config.yml routing tree:
// fake Slack and PagerDuty receivers on 127.0.0.1, alerts posted to /api/v2/alerts (by hand and
// by a real Debian Prometheus evaluating rules), routing compared with `amtool config routes
// test`, grouping, resolved notifications, silences (also created with amtool) and a kill -9
// restart that must not cause duplicate notifications.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  ROOT, PHAROS_BIN, tempDir, spawnUntil, sleep, waitFor, api, freePort, hasPrometheus, recorder } from './helpers.mjs';

const GUIDE_AM = fs.readFileSync(path.join(ROOT, 'examples/alertmanager/config.yml'), 'utf8');

function hasAmtool() {
  try {
    execFileSync('amtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let slack;
let pd;
let dir;
let amPath;
let pharos;
let pharosUrl;
let amCompatPort;

/** The CrewAI monitoring guide's config with short timers and a local PagerDuty URL; the routing tree is untouched. */
function testConfig() {
  let t = GUIDE_AM
    .replace('group_wait: 10s', 'group_wait: 1s')
    .replace('group_interval: 10s', 'group_interval: 2s');
  t = t.replace(
    "      - service_key: '${PAGERDUTY_SERVICE_KEY}'",
    `      - service_key: '\${PAGERDUTY_SERVICE_KEY}'\n        url: '${pd.url}/v1'`,
  );
  return t;
}

async function startPharos() {
  const [child, m] = await spawnUntil(PHAROS_BIN, [
    'serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'),
    '--config', path.join(dir, 'pharos.yml'),
  ], /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/, {
    env: { ...process.env, SLACK_WEBHOOK_URL: `${slack.url}/hook`, PAGERDUTY_SERVICE_KEY: 'pd-test-key' },
  });
  pharos = child;
  pharosUrl = m[1];
}

async function post(alerts) {
  const r = await api(pharosUrl, '/api/v2/alerts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

before(async () => {
  slack = await recorder();
  pd = await recorder();
  dir = tempDir('pharos-am-');
  amPath = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(amPath, testConfig());
  amCompatPort = await freePort();
  // Also serve the API on an Alertmanager-style compatibility listener.
  fs.writeFileSync(path.join(dir, 'pharos.yml'), `alertmanager_config: ${amPath}\nlisteners:\n  alertmanager: 127.0.0.1:${amCompatPort}\n`);
  await startPharos();
});

after(() => {
  pharos?.kill('SIGKILL');
  slack?.srv.close();
  pd?.srv.close();
});

const LABEL_SETS = [
  ['severity=critical'],
  ['severity=warning'],
  [],
  ['severity=info'],
  ['alertname=HighErrorRate', 'severity=critical', 'service=api'],
  ['alertname=Foo', 'severity=warning', 'cluster=c1'],
  ['severity=Critical'],
];

test('pharos check routes agrees with amtool config routes test on the CrewAI monitoring guide tree', { skip: !hasAmtool() && 'amtool missing' }, () => {
  const env = { ...process.env, SLACK_WEBHOOK_URL: 'https://hooks.example/x', PAGERDUTY_SERVICE_KEY: 'k' };
  const guide = path.join(ROOT, 'examples/alertmanager/config.yml');
  // amtool does not expand ${VAR}; give it the expanded text.
  const expanded = path.join(dir, 'amtool.yml');
  fs.writeFileSync(expanded, GUIDE_AM.replace('${SLACK_WEBHOOK_URL}', 'https://hooks.example/x').replace('${PAGERDUTY_SERVICE_KEY}', 'k'));
  for (const labels of LABEL_SETS) {
    const want = execFileSync('amtool', ['config', 'routes', 'test', `--config.file=${expanded}`, ...labels], { env }).toString().trim();
    const got = execFileSync(PHAROS_BIN, ['check', 'routes', '--config', guide, ...labels], { env }).toString().trim();
    assert.equal(got, want, `labels ${labels.join(' ')}`);
  }
  // The tree views too (amtool prints a config-file warning on stderr; compare stdout only).
  const show = execFileSync('amtool', ['config', 'routes', 'show', `--config.file=${expanded}`], { env, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const ours = execFileSync(PHAROS_BIN, ['check', 'routes', '--config', guide, '--tree'], { env }).toString();
  assert.equal(ours, show);
  const testTree = execFileSync('amtool', ['config', 'routes', 'test', '--tree', `--config.file=${expanded}`, 'severity=critical'], { env, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const oursTree = execFileSync(PHAROS_BIN, ['check', 'routes', '--config', guide, '--tree', 'severity=critical'], { env }).toString();
  assert.equal(oursTree, testTree);
});

test('the CrewAI monitoring guide config loads with the env vars and fails clearly without', () => {
  const guide = path.join(ROOT, 'examples/alertmanager/config.yml');
  const ok = execFileSync(PHAROS_BIN, ['check', 'config', guide], {
    env: { ...process.env, SLACK_WEBHOOK_URL: 'https://hooks.example/x', PAGERDUTY_SERVICE_KEY: 'k' },
  }).toString();
  assert.match(ok, /SUCCESS/);
  // The CrewAI monitoring guide's warning text uses .Annotations at the notification level: flagged, not fatal.
  assert.match(ok, /WARNING: .*receiver "slack": slack_configs\[0\]\.text .*can't evaluate field Annotations/);
  const env = { ...process.env };
  delete env.SLACK_WEBHOOK_URL;
  delete env.PAGERDUTY_SERVICE_KEY;
  let out = '';
  try {
    execFileSync(PHAROS_BIN, ['check', 'config', guide], { env });
    assert.fail('check config should fail without the env vars');
  } catch (e) {
    out = e.stdout.toString();
  }
  assert.match(out, /config\.yml:4:\d+: environment variable "SLACK_WEBHOOK_URL" is referenced but not set/);
});

test('critical, warning and unlabelled alerts reach the CrewAI monitoring guide receivers, grouped and rendered', async () => {
  const now = new Date().toISOString();
  await post([
    { labels: { alertname: 'HighErrorRate', severity: 'critical', service: 'api', cluster: 'c1', instance: 'a' },
      annotations: { summary: 'High error rate detected', description: 'Error rate is 7% for /api' }, startsAt: now },
    { labels: { alertname: 'HighErrorRate', severity: 'critical', service: 'api', cluster: 'c1', instance: 'b' },
      annotations: { summary: 'High error rate detected', description: 'Error rate is 9% for /api' }, startsAt: now },
    { labels: { alertname: 'HighResponseTime', severity: 'warning', service: 'api', cluster: 'c1' },
      annotations: { summary: 'High response time detected', description: '95th percentile response time is 3s' } },
    { labels: { alertname: 'Unlabelled', service: 'worker' },
      annotations: { summary: 'Something odd', description: 'no severity label' } },
  ]);
  await waitFor(() => pd.got.length >= 1 && slack.got.length >= 2, 20000, 'notifications');
  await sleep(2500);
  // PagerDuty (Events v1): exactly one trigger for the critical group of two alerts.
  assert.equal(pd.got.length, 1, JSON.stringify(pd.got));
  const ev = pd.got[0].body;
  assert.equal(pd.got[0].path, '/v1');
  assert.equal(ev.service_key, 'pd-test-key');
  assert.equal(ev.event_type, 'trigger');
  assert.equal(ev.description, 'HighErrorRate');
  assert.match(ev.incident_key, /^[0-9a-f]{64}$/);
  assert.equal(ev.details.num_firing, '2');
  // Slack: the warning went to #warnings, the unlabelled one to #alerts; critical went nowhere
  // else (continue: true, but no sibling matches).
  assert.equal(slack.got.length, 2, JSON.stringify(slack.got));
  const byChannel = Object.fromEntries(slack.got.map((g) => [g.body.channel, g.body]));
  const warn = byChannel['#warnings'];
  assert.ok(warn, 'warning notification');
  assert.equal(warn.attachments[0].title, 'CrewAI Warning');
  assert.equal(warn.attachments[0].color, 'warning');
  // The CrewAI monitoring guide's warning text uses .Annotations at the top level, which Alertmanager's data does
  // not have: the field renders as an error string instead of dropping the notification.
  assert.match(warn.attachments[0].text, /error expanding template/);
  const def = byChannel['#alerts'];
  assert.ok(def, 'default notification');
  assert.equal(def.attachments[0].title, 'CrewAI Alert');
  assert.equal(def.attachments[0].text, 'Something odd\\nno severity label');
  assert.equal(def.attachments[0].color, 'danger');
  assert.equal(def.username, 'Alertmanager');
  assert.match(def.attachments[0].title_link, /\/#\/alerts\?receiver=default$/);

  // API views.
  const alerts = (await api(pharosUrl, '/api/v2/alerts')).body;
  assert.equal(alerts.length, 4);
  const crit = alerts.find((a) => a.labels.instance === 'a');
  assert.deepEqual(crit.receivers, [{ name: 'pagerduty' }]);
  assert.equal(crit.status.state, 'active');
  const groups = (await api(pharosUrl, '/api/v2/alerts/groups')).body;
  const critGroup = groups.find((g) => g.receiver.name === 'pagerduty');
  assert.deepEqual(critGroup.labels, { alertname: 'HighErrorRate', cluster: 'c1', service: 'api' });
  assert.equal(critGroup.alerts.length, 2);
  const filtered = (await api(pharosUrl, '/api/v2/alerts?filter=' + encodeURIComponent('severity=~"warn.*"'))).body;
  assert.equal(filtered.length, 1);
  assert.equal((await api(pharosUrl, '/api/v2/alerts?filter=' + encodeURIComponent('a=~"("'))).status, 400);
  const rec = (await api(pharosUrl, '/api/v2/receivers')).body.map((r) => r.name).sort();
  assert.deepEqual(rec, ['default', 'pagerduty', 'slack']);
  const st = (await api(pharosUrl, '/api/v2/status')).body;
  assert.equal(st.cluster.status, 'disabled');
  assert.match(st.config.original, /\$\{PAGERDUTY_SERVICE_KEY\}/);
});

test('a restart in the middle causes no duplicate notification', async () => {
  const before = { pd: pd.got.length, slack: slack.got.length };
  pharos.kill('SIGKILL');
  await sleep(200);
  await startPharos();
  // Prometheus re-sends its firing alerts after the restart; the notification log remembers.
  await post([
    { labels: { alertname: 'HighErrorRate', severity: 'critical', service: 'api', cluster: 'c1', instance: 'a' },
      annotations: { summary: 'High error rate detected', description: 'Error rate is 7% for /api' } },
    { labels: { alertname: 'HighErrorRate', severity: 'critical', service: 'api', cluster: 'c1', instance: 'b' },
      annotations: { summary: 'High error rate detected', description: 'Error rate is 9% for /api' } },
    { labels: { alertname: 'HighResponseTime', severity: 'warning', service: 'api', cluster: 'c1' },
      annotations: { summary: 'High response time detected', description: '95th percentile response time is 3s' } },
    { labels: { alertname: 'Unlabelled', service: 'worker' },
      annotations: { summary: 'Something odd', description: 'no severity label' } },
  ]);
  await sleep(4500);
  assert.equal(pd.got.length, before.pd, JSON.stringify(pd.got.slice(before.pd)));
  assert.equal(slack.got.length, before.slack, JSON.stringify(slack.got.slice(before.slack)));
});

test('resolved notifications arrive (PagerDuty sends resolved by default, Slack does not)', async () => {
  const before = { pd: pd.got.length, slack: slack.got.length };
  const ended = new Date().toISOString();
  await post([
    { labels: { alertname: 'HighErrorRate', severity: 'critical', service: 'api', cluster: 'c1', instance: 'a' }, endsAt: ended },
    { labels: { alertname: 'HighErrorRate', severity: 'critical', service: 'api', cluster: 'c1', instance: 'b' }, endsAt: ended },
    { labels: { alertname: 'HighResponseTime', severity: 'warning', service: 'api', cluster: 'c1' }, endsAt: ended },
  ]);
  await waitFor(() => pd.got.length > before.pd, 15000, 'resolve event');
  await sleep(2500);
  assert.equal(pd.got.length, before.pd + 1);
  const ev = pd.got.at(-1).body;
  assert.equal(ev.event_type, 'resolve');
  assert.equal(ev.incident_key, pd.got[0].body.incident_key);
  assert.equal(slack.got.length, before.slack, 'slack send_resolved defaults to false');
});

test('a silence stops delivery; silences survive a restart', async () => {
  const before = { pd: pd.got.length };
  const now = Date.now();
  const r = await api(pharosUrl, '/api/v2/silences', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      matchers: [{ name: 'alertname', value: 'DatabaseConnection.*', isRegex: true, isEqual: true }],
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 3600e3).toISOString(),
      createdBy: 'e2e',
      comment: 'maintenance',
    }),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const id = r.body.silenceID;
  assert.match(id, /^[0-9a-f-]{36}$/);
  await post([{ labels: { alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', service: 'db' },
    annotations: { summary: 'Database connection pool nearly exhausted' } }]);
  await sleep(3500);
  assert.equal(pd.got.length, before.pd, 'silenced alert must not be delivered');
  const listed = (await api(pharosUrl, '/api/v2/alerts?silenced=false')).body;
  assert.ok(!listed.some((a) => a.labels.alertname === 'DatabaseConnectionPoolExhausted'));
  const all = (await api(pharosUrl, '/api/v2/alerts')).body;
  const s = all.find((a) => a.labels.alertname === 'DatabaseConnectionPoolExhausted');
  assert.equal(s.status.state, 'suppressed');
  assert.deepEqual(s.status.silencedBy, [id]);
  // Restart: the silence is still there and still mutes.
  pharos.kill('SIGKILL');
  await sleep(200);
  await startPharos();
  const got = await api(pharosUrl, `/api/v2/silence/${id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.status.state, 'active');
  await post([{ labels: { alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', service: 'db' } }]);
  await sleep(3000);
  assert.equal(pd.got.length, before.pd);
  // Expire it: the alert is delivered.
  assert.equal((await api(pharosUrl, `/api/v2/silence/${id}`, { method: 'DELETE' })).status, 200);
  assert.equal((await api(pharosUrl, '/api/v2/silence/00000000-0000-4000-8000-000000000000', { method: 'DELETE' })).status, 404);
  await post([{ labels: { alertname: 'DatabaseConnectionPoolExhausted', severity: 'critical', service: 'db' } }]);
  await waitFor(() => pd.got.length > before.pd, 15000, 'delivery after expiry');
  assert.equal(pd.got.at(-1).body.description, 'DatabaseConnectionPoolExhausted');
  // Bad silences are 400s.
  const bad = await api(pharosUrl, '/api/v2/silences', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ matchers: [{ name: 'a', value: '.*', isRegex: true }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 1000).toISOString(), createdBy: 'x', comment: 'y' }),
  });
  assert.equal(bad.status, 400);
});

test('amtool talks to pharos (silence add/query/expire, alert query, config show)', { skip: !hasAmtool() && 'amtool missing' }, () => {
  const am = ['--alertmanager.url', pharosUrl];
  const id = execFileSync('amtool', [...am, 'silence', 'add', 'alertname=Foo', 'severity=~"warn.*"', '--comment=from amtool', '--author=e2e', '--duration=1h']).toString().trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  const q = execFileSync('amtool', [...am, 'silence', 'query', '-o', 'json']).toString();
  assert.ok(JSON.parse(q).some((s) => s.id === id && s.comment === 'from amtool'));
  execFileSync('amtool', [...am, 'silence', 'expire', id]);
  const a = execFileSync('amtool', [...am, 'alert', 'query', '-o', 'json']).toString();
  assert.ok(Array.isArray(JSON.parse(a)));
  // The compatibility listener (Alertmanager's own port in production) answers the same.
  const viaCompat = execFileSync('amtool', ['--alertmanager.url', `http://127.0.0.1:${amCompatPort}`, 'silence', 'query', '--expired', '-o', 'json']).toString();
  assert.ok(JSON.parse(viaCompat).some((s) => s.id === id));
  const show = execFileSync('amtool', [...am, 'config', 'show']).toString();
  assert.match(show, /receiver: 'default'|receiver: default/);
});

test('a real Prometheus sends its alerts to pharos and they are routed the same way', { skip: !hasPrometheus() && 'prometheus missing' }, async () => {
  const before = { pd: pd.got.length, slack: slack.got.length };
  const pdir = tempDir('pharos-am-prom-');
  // The CrewAI monitoring guide's alert names and labels, with expressions that fire at once.
  fs.writeFileSync(path.join(pdir, 'rules.yml'), `groups:
  - name: application
    rules:
      - alert: HighErrorRate
        expr: vector(1)
        labels:
          severity: critical
          service: api
        annotations:
          summary: High error rate detected
      - alert: CacheHitRateLow
        expr: vector(1)
        labels:
          severity: warning
        annotations:
          summary: Cache hit rate below threshold
      - alert: PromWatchdog
        expr: vector(1)
        annotations:
          summary: Prometheus is alive
          description: watchdog
`);
  const host = pharosUrl.replace('http://', '');
  fs.writeFileSync(path.join(pdir, 'prometheus.yml'), `global:
  evaluation_interval: 1s
rule_files: ['rules.yml']
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['${host}']
`);
  const port = await freePort();
  const [prom] = await spawnUntil('prometheus', [
    `--config.file=${path.join(pdir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(pdir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // Re-send firing alerts every second, so alerts evaluated before the Alertmanager target
    // was discovered arrive without waiting a minute.
    '--rules.alert.resend-delay=1s',
  ], /Server is ready to receive web requests/, {}, 60000);
  try {
    await waitFor(() => {
      const s = slack.got.slice(before.slack);
      return pd.got.length > before.pd && s.some((g) => g.body.channel === '#warnings') && s.some((g) => g.body.channel === '#alerts');
    }, 30000, 'notifications from Prometheus alerts');
    await sleep(2000);
    const newPd = pd.got.slice(before.pd);
    assert.equal(newPd.length, 1, JSON.stringify(newPd));
    assert.equal(newPd[0].body.description, 'HighErrorRate');
    const newSlack = slack.got.slice(before.slack);
    assert.equal(newSlack.length, 2, JSON.stringify(newSlack));
    const alerts = (await api(pharosUrl, '/api/v2/alerts?filter=' + encodeURIComponent('alertname=~"HighErrorRate|CacheHitRateLow|PromWatchdog"'))).body;
    const recv = Object.fromEntries(alerts.map((a) => [a.labels.alertname, a.receivers.map((r) => r.name).join(',')]));
    assert.deepEqual(recv, { HighErrorRate: 'pagerduty', CacheHitRateLow: 'slack', PromWatchdog: 'default' });
    assert.match(alerts[0].generatorURL, /^http:\/\//);
  } finally {
    prom.kill('SIGKILL');
  }
});

test("pharos' own rules engine hands its alerts to the built-in Alertmanager in process", async () => {
  const before = { pd: pd.got.length, slack: slack.got.length };
  const rdir = tempDir('pharos-am-rules-');
  fs.writeFileSync(path.join(rdir, 'rules.yml'), `groups:
  - name: application
    interval: 1s
    rules:
      - alert: HighErrorRate
        expr: vector(1)
        labels:
          severity: critical
          service: rules-engine
        annotations:
          summary: High error rate detected
      - alert: CacheHitRateLow
        expr: vector(1)
        labels:
          severity: warning
          service: rules-engine
        annotations:
          summary: Cache hit rate below threshold
      - alert: RulesWatchdog
        expr: vector(1)
        labels:
          service: rules-engine
        annotations:
          summary: rules engine is alive
          description: watchdog
`);
  fs.writeFileSync(path.join(rdir, 'prometheus.yml'), "global:\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\n");
  fs.writeFileSync(path.join(rdir, 'pharos.yml'), `prometheus_config: prometheus.yml\nalertmanager_config: ${amPath}\n`);
  const [child] = await spawnUntil(PHAROS_BIN, [
    'serve', '--listen', '127.0.0.1:0', '--data', path.join(rdir, 'data'),
    '--config', path.join(rdir, 'pharos.yml'),
  ], /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/, {
    env: { ...process.env, SLACK_WEBHOOK_URL: `${slack.url}/hook`, PAGERDUTY_SERVICE_KEY: 'pd-test-key' },
  });
  try {
    await waitFor(() => {
      const s = slack.got.slice(before.slack);
      return pd.got.length > before.pd && s.some((g) => g.body.channel === '#warnings') && s.some((g) => g.body.channel === '#alerts');
    }, 30000, 'notifications from the rules engine');
    await sleep(2000);
    const newPd = pd.got.slice(before.pd);
    assert.equal(newPd.length, 1, JSON.stringify(newPd));
    assert.equal(newPd[0].body.description, 'HighErrorRate');
    const newSlack = slack.got.slice(before.slack);
    assert.equal(newSlack.length, 2, JSON.stringify(newSlack));
    const def = newSlack.find((g) => g.body.channel === '#alerts').body;
    assert.equal(def.attachments[0].text, 'rules engine is alive\\nwatchdog');
  } finally {
    child.kill('SIGKILL');
  }
});
