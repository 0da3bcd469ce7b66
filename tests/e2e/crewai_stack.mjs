// The CrewAI example app's whole stack for a test (examples/crewai-app): throwaway Redis and
// PostgreSQL (Debian's packages), pharos running a copy of the example's pharos.yml, the app
// itself under tsx, and load.mjs. Shared by tests/e2e/crewai_app.test.mjs and the on-call browser
// walk tests/ui/crewai_oncall.test.mjs.
//
// Test-only changes to the example's configs (made on copies, see rewrite()): ephemeral ports and
// 127.0.0.1 addresses; the host collector off; the guide's PagerDuty receiver gets a `url:`
// pointing at the fake PagerDuty (Slack already comes from SLACK_WEBHOOK_URL). With `fast` (the
// default): scrape/evaluation/probe interval 2s and every `for:` of the rule files 0s (the guide's
// are 5–15m); without it the example's own 15s intervals and `for:` durations.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, PHAROS_BIN, spawnUntil, freePort, tempDir, recorder } from './helpers.mjs';
import { missingServices, startRedis, startPostgres } from './services.mjs';

export const EXAMPLE = path.join(ROOT, 'examples/crewai-app');
const TSX = path.join(EXAMPLE, 'node_modules/.bin/tsx');
/** The Sentry key of the example's errors project (pharos.yml). */
export const SENTRY_KEY = 'c0ffee00c0ffee00c0ffee00c0ffee01';

/** Why the stack cannot run here, or false. */
export const crewaiSkip = () =>
  missingServices() || (!fs.existsSync(TSX) && 'examples/crewai-app has no node_modules (.ci/run install runs npm ci there)');

/** Copies examples/{crewai-app,prometheus,alertmanager,loki,dashboards} into `dir` with the test changes. */
function rewrite(dir, { appPort, metricsPort, redis, pg, hooks, fast }) {
  const src = path.join(ROOT, 'examples');
  const copy = (rel, edit = (t) => t) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), edit(fs.readFileSync(path.join(src, rel), 'utf8')));
  };
  const fastFor = (t) => (fast ? t.replace(/^(\s+)for: \S+$/gm, '$1for: 0s') : t);
  const interval = (t) => (fast ? t.replace(/interval: 15s/g, 'interval: 2s') : t);
  copy('crewai-app/pharos.yml', (t) => interval(t)
    .replace(/0\.0\.0\.0:\d+/g, '127.0.0.1:0')
    .replace('host: {enabled: true, rootfs: /}', 'host: {enabled: false}')
    .replace('redis://redis:6379/0', redis.url)
    .replace('postgres://crewai@postgres:5432/crewai', `postgres://postgres@127.0.0.1:${pg.port}/postgres`)
    .replace('http://app:3000/health', `http://127.0.0.1:${appPort}/health`));
  copy('crewai-app/prometheus.yml', (t) => interval(t)
    .replace('app:9090', `127.0.0.1:${metricsPort}`));
  copy('crewai-app/alerts/pharos.yml', fastFor);
  copy('prometheus/alerts/application.yml', fastFor);
  // The PagerDuty receiver uses Events API v1 (service_key), whose endpoint only a receiver's own
  // `url` overrides (global.pagerduty_url is v2's, as in Alertmanager).
  copy('alertmanager/config.yml', (t) => t.replace(/^(\s+)- service_key: (.*)$/m, `$1- service_key: $2\n$1  url: '${hooks.url}/pagerduty'`));
  copy('loki/config.yml');
  copy('dashboards/crewai.json');
  return path.join(dir, 'crewai-app/pharos.yml');
}

/**
 * Starts Redis, PostgreSQL, a fake Slack/PagerDuty receiver (`hooks`), pharos with the example's
 * config (`fast`: see the header) and the app. Returns { redis, pg, hooks, pharos: {child, url}, app: {child, url}, dir,
 * env (pharos' environment), stop() }.
 */
export async function startCrewaiStack({ fast = true, costIntervalMs = 2000 } = {}) {
  const s = {};
  s.stop = () => {
    s.app?.child.kill('SIGTERM');
    s.pharos?.child.kill('SIGKILL');
    s.redis?.stop();
    s.pg?.stop();
    s.hooks?.srv.close();
  };
  try {
    s.hooks = await recorder();
    s.redis = await startRedis();
    s.pg = await startPostgres();
    const appPort = await freePort();
    const metricsPort = await freePort();
    s.dir = tempDir('crewai-e2e-');
    const config = rewrite(s.dir, { appPort, metricsPort, redis: s.redis, pg: s.pg, hooks: s.hooks, fast });
    s.env = { ...process.env, SLACK_WEBHOOK_URL: `${s.hooks.url}/slack`, PAGERDUTY_SERVICE_KEY: 'test-service-key', POSTGRES_PASSWORD: 's3cret' };
    const [child, m] = await spawnUntil(PHAROS_BIN, ['serve', '--config', config, '--listen', '127.0.0.1:0', '--data', path.join(s.dir, 'data'), '--loki-listen', '127.0.0.1:0'],
      /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/, { env: s.env });
    s.pharos = { child, url: m[1] };
    const [appChild] = await spawnUntil(TSX, ['src/index.ts'], /crewai-app listening (\d+)/, {
      cwd: EXAMPLE,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(appPort),
        METRICS_PORT: String(metricsPort),
        NODE_ENV: 'test',
        APP_VERSION: '1.0.0',
        REDIS_URL: s.redis.url,
        DATABASE_URL: s.pg.url,
        ELASTICSEARCH_URL: s.pharos.url,
        LOKI_URL: s.pharos.url,
        JAEGER_ENDPOINT: `${s.pharos.url}/api/traces`,
        SENTRY_DSN: `http://${SENTRY_KEY}@${s.pharos.url.replace('http://', '')}/1`,
        ALERTMANAGER_URL: s.pharos.url,
        COST_INTERVAL_MS: String(costIntervalMs),
        OTEL_BSP_SCHEDULE_DELAY: '1000',
      },
    }, 60000);
    s.app = { child: appChild, url: `http://127.0.0.1:${appPort}` };
  } catch (e) {
    s.stop();
    throw e;
  }
  return s;
}

/**
 * Runs load.mjs against the app with `args` (e.g. ['--short']); resolves to { phases: [{phase,
 * start, end}], requests: {"<method> <path> <status>": count} } once it has finished.
 */
export function runLoad(appUrl, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [path.join(EXAMPLE, 'load.mjs'), ...args, '--app', appUrl], { cwd: EXAMPLE, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load.mjs exited ${code}:\n${out}`));
      const phases = [];
      let requests;
      for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
        const j = JSON.parse(line);
        if (j.phase) phases.push(j);
        if (j.done) requests = j.requests;
      }
      resolve({ phases, requests });
    });
  });
}
