// pharos' shipped security rules with the real client: the CrewAI monitoring guide's
// SecurityMonitor logging through winston + winston-loki (tests/clients-logs/security_logger.mjs)
// into pharos. 10 suspicious-activity events of one user do not alert, the 11th does (one alert,
// for that user), a security violation alerts at once; both arrive at a webhook through the
// built-in Alertmanager with severity critical.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, PHAROS_BIN, tempDir, spawnUntil, waitFor, api, recorder, sleep } from './helpers.mjs';

const APP = path.join(ROOT, 'tests/clients-logs/security_logger.mjs');
let hook;
let pharos;
let url;

before(async () => {
  hook = await recorder();
  const dir = tempDir('pharos-security-');
  fs.writeFileSync(path.join(dir, 'am.yml'), `route:
  receiver: hook
  group_by: [alertname, userId, subtype]
  group_wait: 200ms
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: '${hook.url}/hook'
`);
  fs.writeFileSync(path.join(dir, 'pharos.yml'), 'alertmanager_config: am.yml\nsecurity:\n  evaluation_interval: 1s\n');
  const [child, m] = await spawnUntil(PHAROS_BIN, ['serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'),
    '--config', path.join(dir, 'pharos.yml')], /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/);
  pharos = child;
  url = m[1];
});
after(() => {
  pharos?.kill('SIGKILL');
  hook?.srv.close();
});

async function log(env) {
  const [child] = await spawnUntil('node', [APP], /done \d+/, { env: { ...process.env, LOKI_URL: url, ...env } }, 60000);
  child.kill();
}

const firing = async (name) => (await api(url, '/api/v1/alerts')).body.data.alerts
  .filter((a) => a.labels.alertname === name && a.state === 'firing');
const hooked = (name) => hook.got.flatMap((g) => g.body.alerts || []).filter((a) => a.labels.alertname === name);

test('11 suspicious events of one user alert once, 10 do not; a violation alerts at once', { timeout: 120000 }, async () => {
  await log({ SUSPICIOUS: '10', USER_ID: 'u1' });
  await log({ SUSPICIOUS: '10', USER_ID: 'u2' });
  // Failed logins after them: once they are counted, an evaluation has seen all 20 lines.
  await log({ AUTH_FAILURES: '3', USER_ID: 'u3' });
  await waitFor(async () => {
    const r = (await api(url, '/api/v1/query?query=security:auth_failures:count1m')).body.data.result;
    return r.length === 1 && r[0].metric.reason === 'invalid_password' && r[0].value[1] === '3';
  }, 30000, 'auth failures counted');
  await sleep(2500);
  assert.deepEqual(await firing('SuspiciousActivityThresholdExceeded'), []);
  assert.deepEqual(hooked('SuspiciousActivityThresholdExceeded'), []);

  await log({ SUSPICIOUS: '1', USER_ID: 'u1' });
  await waitFor(async () => hooked('SuspiciousActivityThresholdExceeded').length > 0, 30000, 'suspicious activity at the webhook');
  const alerts = await firing('SuspiciousActivityThresholdExceeded');
  assert.equal(alerts.length, 1, JSON.stringify(alerts));
  assert.equal(alerts[0].labels.userId, 'u1');
  assert.equal(alerts[0].labels.activity, 'rapid_requests');
  assert.equal(alerts[0].labels.severity, 'critical');
  for (const a of hooked('SuspiciousActivityThresholdExceeded')) {
    assert.equal(a.labels.userId, 'u1');
    assert.equal(a.labels.severity, 'critical');
  }

  await log({ VIOLATIONS: '1', VIOLATION_TYPE: 'sql_injection' });
  await waitFor(async () => hooked('SecurityViolation').length > 0, 30000, 'security violation at the webhook');
  const v = hooked('SecurityViolation')[0];
  assert.equal(v.labels.subtype, 'sql_injection');
  assert.equal(v.labels.severity, 'critical');
  assert.equal(v.status, 'firing');
});
