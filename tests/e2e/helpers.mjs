// Shared helpers of the end-to-end tests: start pharos, the prom-client demo app and Debian's
// Prometheus on ephemeral ports, and query their HTTP APIs.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PHAROS_BIN = process.env.PHAROS_BIN || path.join(ROOT, 'target/release/pharos');
export const CREWAI_GUIDE = process.env.CREWAI_GUIDE || path.join(ROOT, '..', 'shared', 'seed', 'monitoring-guide.md');

/** Every PromQL expression of the CrewAI monitoring guide: dashboard targets and alert rule exprs. */
export function guideExpressions() {
  const text = fs.readFileSync(CREWAI_GUIDE, 'utf8');
  const exprs = [];
  for (const m of text.matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)) exprs.push(JSON.parse(`"${m[1]}"`));
  for (const m of text.matchAll(/^\s+expr:\s*(.+)$/gm)) exprs.push(m[1].trim());
  return exprs;
}

/** The two JSON bodies of the CrewAI monitoring guide's "Log Analysis Queries" section, verbatim. */
export function guideEsQueries() {
  const text = fs.readFileSync(CREWAI_GUIDE, 'utf8');
  const section = text.slice(text.indexOf('### Log Analysis Queries'));
  const block = section.slice(section.indexOf('```'), section.indexOf('```', section.indexOf('```') + 3));
  const bodies = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < block.length; i++) {
    if (block[i] === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (block[i] === '}') {
      depth--;
      if (depth === 0) bodies.push(JSON.parse(block.slice(start, i + 1)));
    }
  }
  return bodies;
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Spawns a process and resolves when `pattern` matches its stdout/stderr; returns [child, match]. */
export function spawnUntil(cmd, args, pattern, opts = {}, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} did not print ${pattern} within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (d) => {
      output += d.toString();
      const m = output.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve([child, m]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code}:\n${output}`));
    });
  });
}

/** Runs `node script` with `env` added to its end (killed after `timeoutMs`); resolves to
 * {code, output} with stdout and stderr together. */
export function runNodeToExit(script, env = {}, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not exit:\n${output}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export async function startApp(env = {}) {
  const [child, m] = await spawnUntil('node', [path.join(ROOT, 'tests/clients/app.mjs')], /listening (\d+)/, {
    env: { ...process.env, ...env },
  });
  return { child, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` };
}

export async function startPharos(configText, configName = 'prometheus.yml') {
  const dir = tempDir('pharos-e2e-');
  const data = path.join(dir, 'data');
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', data];
  if (configText !== null) {
    const cfg = path.join(dir, configName);
    fs.writeFileSync(cfg, configText);
    args.push('--config', cfg);
  }
  // Up to the newline: stderr may arrive in pieces, cutting the port short.
  const [child, m] = await spawnUntil(PHAROS_BIN, args, /pharos: listening on (http:\/\/[0-9.:]+)\r?\n/);
  return { child, url: m[1], dir, data };
}

export function freePort() {
  return new Promise((resolve) => {
    import('node:net').then(({ createServer }) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
  });
}

export function hasPrometheus() {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function api(base, pathAndQuery, init) {
  const res = await fetch(base + pathAndQuery, init);
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** Instant query; returns the API body. `time` in seconds (optional). */
export async function query(base, expr, time) {
  const params = new URLSearchParams({ query: expr });
  if (time !== undefined) params.set('time', String(time));
  const { body } = await api(base, `/api/v1/query?${params}`);
  return body;
}

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function waitFor(fn, timeoutMs = 30000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

export function vectorValue(body, match = () => true) {
  const r = body?.data?.result?.find((s) => match(s.metric));
  return r ? Number(r.value[1]) : undefined;
}

/** An HTTP server recording JSON bodies posted to it (a webhook / Slack / PagerDuty receiver):
 * resolves to { srv, got: [{ path, body, at }], url }. */
export function recorder() {
  const got = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      let json;
      try { json = JSON.parse(body); } catch { json = body; }
      got.push({ path: req.url, body: json, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({ srv, got, url: `http://127.0.0.1:${srv.address().port}` }));
  });
}
