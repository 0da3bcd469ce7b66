// Shared helpers of the browser tests: start pharos filled with data (a prom-client app
// scraped, logs pushed, traces sent, an alert firing), drive Debian's Chromium with
// playwright-core, and save a screenshot of every page to target/ui-screenshots/.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, startPharos, startApp, waitFor, api, sleep, tempDir, spawnUntil, PHAROS_BIN } from '../e2e/helpers.mjs';

export { ROOT, startPharos, startApp, waitFor, api, sleep, tempDir, spawnUntil, PHAROS_BIN };

/** Where every test saves its screenshots (named in the README). */
export const SCREENSHOT_DIR = process.env.UI_SCREENSHOT_DIR || path.join(ROOT, 'target', 'ui-screenshots');

const CHROMIUM = process.env.CHROMIUM_BIN || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

/** Launches headless Chromium (Debian's) with the flags this closed network needs. */
export async function launchBrowser() {
  if (!CHROMIUM) throw new Error('chromium not found: `.ci/run install` installs Debian\'s chromium package');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A new page that fails the test on uncaught page errors and on any dialog (alert/confirm
 * opened by injected script): `page.pharosErrors` collects them; call `assertNoPageErrors`.
 */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, ...opts });
  const page = await context.newPage();
  page.pharosErrors = [];
  page.pharosDialogs = [];
  page.on('pageerror', (e) => page.pharosErrors.push(String(e?.stack || e)));
  page.on('dialog', async (d) => {
    page.pharosDialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  return page;
}

export function assertNoPageErrors(page, assert) {
  assert.deepEqual(page.pharosErrors, [], `uncaught errors in the page:\n${page.pharosErrors.join('\n')}`);
}

/** Saves a full-page screenshot as `<name>.png`; returns its path. */
export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A prometheus.yml scraping the prom-client app every `interval`, with an alert that fires. */
export function promConfig(appUrl, { interval = '1s', ruleFile } = {}) {
  const host = new URL(appUrl).host;
  return [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    ruleFile ? `rule_files:\n  - ${ruleFile}` : '',
    'scrape_configs:',
    '  - job_name: crewai-app',
    '    static_configs:',
    `      - targets: ['${host}']`,
    '        labels: { env: test }',
    '  - job_name: missing-service',
    '    static_configs:',
    "      - targets: ['127.0.0.1:1']",
  ].join('\n');
}

/** Rule file with one alert that fires at once (for the alerts and home pages). */
export const FIRING_RULES = `groups:
  - name: ui-test
    rules:
      - alert: HighErrorRate
        expr: sum(rate(http_requests_total{status=~"5.."}[1m])) > 0
        labels: { severity: warning, service: api }
        annotations:
          summary: "API answers 5xx"
          description: "Error rate is {{ $value }}"
      - alert: TargetDown
        expr: up == 0
        labels: { severity: critical }
        annotations: { summary: "{{ $labels.job }} is down" }
      - record: job:http_requests:rate1m
        expr: sum by (job) (rate(http_requests_total[1m]))
`;

/**
 * Starts the prom-client app and pharos scraping it with FIRING_RULES, waits until samples are
 * queryable; returns { pharos, app, dir }. `extraPharosYml` is appended to a pharos.yml.
 */
export async function startFilledPharos({ extraPharosYml = '', appEnv = {} } = {}) {
  const app = await startApp({ TICKS: '100000', TICK_MS: '500', ...appEnv });
  const dir = tempDir('pharos-ui-');
  fs.writeFileSync(path.join(dir, 'rules.yml'), FIRING_RULES);
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), promConfig(app.url, { ruleFile: path.join(dir, 'rules.yml') }));
  // Built-in collectors off: the pages count exactly the targets and series of this config.
  const yml = [`prometheus_config: ${path.join(dir, 'prometheus.yml')}`, 'collectors: {self: {enabled: false}, host: {enabled: false}}', extraPharosYml].join('\n');
  const pharos = await startPharos(yml, 'pharos.yml');
  await waitFor(async () => {
    const { body } = await api(pharos.url, '/api/v1/query?query=' + encodeURIComponent('http_requests_total'));
    return body?.data?.result?.length > 0;
  }, 30000, 'scraped samples');
  return { pharos, app, dir };
}

/** Pushes log lines to Loki's push API: `lines` = [{labels, line, tsMs?, metadata?}]. */
export async function pushLogs(base, lines) {
  const streams = new Map();
  for (const l of lines) {
    const key = JSON.stringify(l.labels);
    if (!streams.has(key)) streams.set(key, { stream: l.labels, values: [] });
    const v = [`${l.tsMs ?? Date.now()}000000`, l.line];
    if (l.metadata) v.push(l.metadata);
    streams.get(key).values.push(v);
  }
  const res = await fetch(`${base}/loki/api/v1/push`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ streams: [...streams.values()] }),
  });
  if (res.status !== 204 && res.status !== 200) throw new Error(`push failed: ${res.status} ${await res.text()}`);
}

const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');

/**
 * Sends one trace over OTLP/HTTP JSON: a root span `GET /api/emails` in service `api` with a
 * child `db.query` in `api` and a grandchild `email.process` in service `worker`.
 * Returns { traceId, spanIds }.
 */
export async function sendTrace(base, { error = false, startMs = Date.now() - 2000 } = {}) {
  const traceId = hex(16);
  const [root, child, grandchild] = [hex(8), hex(8), hex(8)];
  const ns = (ms) => `${Math.round(ms)}000000`;
  const span = (spanId, parent, name, start, dur, attrs = [], status = {}) => ({
    traceId,
    spanId,
    parentSpanId: parent,
    name,
    kind: 2,
    startTimeUnixNano: ns(startMs + start),
    endTimeUnixNano: ns(startMs + start + dur),
    attributes: attrs.map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: v } : { stringValue: String(v) } })),
    status,
  });
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
        scopeSpans: [
          {
            scope: { name: 'ui-test' },
            spans: [
              span(root, '', 'GET /api/emails', 0, 120, [['http.method', 'GET'], ['http.status_code', error ? 500 : 200]], error ? { code: 2, message: 'boom' } : {}),
              span(child, root, 'db.query', 10, 40, [['db.system', 'postgresql'], ['db.statement', 'SELECT * FROM emails']]),
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'worker' } }] },
        scopeSpans: [{ scope: { name: 'ui-test' }, spans: [span(grandchild, child, 'email.process', 55, 50, [['email.priority', 'high']])] }],
      },
    ],
  };
  const res = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`trace push failed: ${res.status} ${await res.text()}`);
  return { traceId, spanIds: [root, child, grandchild] };
}

/** Opens `path` on pharos in `page` and waits for the UI frame. */
export async function openUi(page, base, p) {
  await page.goto(base + p, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#nav');
}

export function stop(...children) {
  for (const c of children) {
    try {
      (c?.child ?? c)?.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Kills pharos (SIGKILL, as a crash would) and starts it again on the same data directory and
 * config; returns the new { child, url, dir, data } (the port changes).
 */
export async function restartPharos(pharos, configName = 'pharos.yml') {
  const exited = new Promise((r) => (pharos.child.exitCode !== null ? r() : pharos.child.once('exit', r)));
  pharos.child.kill('SIGKILL');
  await exited;
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', pharos.data];
  const cfg = path.join(pharos.dir, configName);
  if (fs.existsSync(cfg)) args.push('--config', cfg);
  const [child, m] = await spawnUntil(PHAROS_BIN, args, /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/);
  return { ...pharos, child, url: m[1] };
}

// ---- remote write (Prometheus' protobuf + snappy, both encoded by hand) ----------------------

function varint(n) {
  const out = [];
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const field = (no, wt) => varint((no << 3) | wt);
const bytesField = (no, buf) => Buffer.concat([field(no, 2), varint(buf.length), buf]);

/** Snappy's block format with literals only (valid, just not compressed). */
function snappy(buf) {
  const parts = [varint(buf.length)];
  for (let i = 0; i < buf.length; i += 65536) {
    const chunk = buf.subarray(i, i + 65536);
    const n = chunk.length - 1;
    parts.push(Buffer.from([62 << 2, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]), chunk);
  }
  return Buffer.concat(parts);
}

/** POSTs series [{labels, samples: [[ms, value]], exemplars?: [[ms, value, labels]]}] to /api/v1/write. */
export async function remoteWrite(base, series) {
  const labelFields = (labels) => Object.keys(labels).sort().map((k) => bytesField(1, Buffer.concat([bytesField(1, Buffer.from(k)), bytesField(2, Buffer.from(labels[k]))])));
  const double = (v) => {
    const d = Buffer.alloc(8);
    d.writeDoubleLE(v);
    return d;
  };
  const ts = series.map(({ labels, samples, exemplars = [] }) => {
    const l = labelFields(labels);
    const s = samples.map(([ms, v]) => bytesField(2, Buffer.concat([field(1, 1), double(v), field(2, 0), varint(ms)])));
    const e = exemplars.map(([ms, v, el]) => bytesField(3, Buffer.concat([...labelFields(el), field(2, 1), double(v), field(3, 0), varint(ms)])));
    return bytesField(1, Buffer.concat([...l, ...s, ...e]));
  });
  const res = await fetch(`${base}/api/v1/write`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
    body: snappy(Buffer.concat(ts)),
  });
  if (res.status >= 300) throw new Error(`remote write: ${res.status} ${await res.text()}`);
}
