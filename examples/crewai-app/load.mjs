#!/usr/bin/env node
// Load and fault script for the CrewAI example app: drives normal traffic (email intake, reads,
// reports, logins, WebSocket clients) and then injects one fault at a time through the app's
// switches, with normal traffic in between:
//   errors        error burst (POST /api/emails answers 500: HighErrorRate, one error issue)
//   slow          slow endpoint (GET /api/reports takes 2.5 s: HighResponseTime, slow span)
//   cache_miss    cache misses (the template cache is bypassed: CacheHitRateLow)
//   pool_exhaust  connection-pool exhaustion (every connection held: DatabaseConnectionPoolExhausted)
//   ws_drop       WebSocket drop (the server closes every client)
//   auth_storm    auth-failure storm (failed logins: AuthFailureStorm, suspicious-activity alerts)
//   budget        budget overrun (the cost meter reports 20x the vCPUs: CrewAIBudgetExceeded)
//   down          target going down (metrics listener closed, /health 503: CrewAIAppDown)
//
//   node load.mjs [--app http://127.0.0.1:3000] [--short] [--only errors,slow] [--hold SECONDS]
//                 [--warmup SECONDS] [--gap SECONDS]
//
// Each phase prints one JSON line {"phase", "start", "end"} (ms since the epoch), so a test or a
// person can line the faults up with what the monitoring shows. --short: 15 s of normal traffic,
// 12 s per fault (the auth storm at least 400 failed logins), 4 s between faults (for the e2e
// test); the default holds each fault two minutes longer than the `for:` of its rule (7 minutes
// for errors and pool_exhaust, 12 for slow and cache_miss, 6 for the rest), 1 minute apart.
import WebSocket from 'ws';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const APP = opt('app', process.env.APP_URL || 'http://127.0.0.1:3000');
const SHORT = args.includes('--short');
const WARMUP = Number(opt('warmup', SHORT ? 15 : 120));
// The default hold outlasts the `for:` of the fault's rule by two minutes: a rate over [5m] takes
// about 45 s to cross its threshold, then `for:` runs, then the next 15 s evaluation fires it. So
// 7 minutes for the error burst and the pool exhaustion (`for: 5m`), 12 for the slow endpoint and
// the cache misses (`for: 10m`), 6 for the rest (`for: 1m` or none; WebSocketConnectionDrop
// cannot fire). A full run with holds of a minute more than `for:` fired HighErrorRate 15 s and
// CacheHitRateLow 2 s before their fault ended.
const HOLD_SET = opt('hold', '');
const LONG_HOLD = { errors: 420, pool_exhaust: 420, slow: 720, cache_miss: 720 };
const holdOf = (name) => Number(HOLD_SET || (SHORT ? 12 : LONG_HOLD[name] ?? 360));
const GAP = Number(opt('gap', SHORT ? 4 : 60));
const ALL = ['errors', 'slow', 'cache_miss', 'pool_exhaust', 'ws_drop', 'auth_storm', 'budget', 'down'];
const only = opt('only', '');
const PHASES = only ? only.split(',') : ALL;
for (const p of PHASES) {
  if (!ALL.includes(p)) {
    console.error(`unknown phase ${p}; one of ${ALL.join(', ')}`);
    process.exit(2);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (a) => a[Math.floor(Math.random() * a.length)];
let running = true;
const counts = {};

async function call(method, path, body, headers = {}) {
  try {
    const res = await fetch(APP + path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const key = `${method} ${path.replace(/\/[0-9a-f-]{36}$/, '/:id')} ${res.status}`;
    counts[key] = (counts[key] || 0) + 1;
    return res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text();
  } catch (e) {
    counts[`${method} ${path} error`] = (counts[`${method} ${path} error`] || 0) + 1;
    return null;
  }
}

const fault = (name, on) => call('POST', `/admin/faults/${name}`, { on });

// Normal traffic: a few workers sending emails, reading back a hot set of 20 of them (an inbox
// people keep opening, so the email cache hits as it would in production: reading each new email
// once made the email cache's hit rate about 35% and CacheHitRateLow fire without any fault) and
// asking for reports.
const ids = [];
async function worker() {
  while (running) {
    const r = Math.random();
    if (r < 0.5) {
      const out = await call('POST', '/api/emails', {
        workflow: pick(['support', 'sales', 'billing']),
        priority: pick(['low', 'normal', 'high']),
        subject: 'Hello',
      }, { 'x-user-id': `user-${Math.floor(Math.random() * 20)}` });
      if (out?.id && ids.length < 20) ids.push(out.id);
    } else if (r < 0.9 && ids.length) {
      await call('GET', `/api/emails/${pick(ids)}`);
    } else if (r < 0.97) {
      await call('GET', '/api/reports');
    } else {
      await call('POST', '/api/login', { user: 'alice', password: 'correct-horse' });
    }
    await sleep(100);
  }
}

// WebSocket clients that ping every second and reconnect 5 s after being dropped.
const sockets = new Set();
function client(n) {
  if (!running) return;
  const ws = new WebSocket(`${APP.replace(/^http/, 'ws')}/ws${n % 2 ? '?token=t' : ''}`);
  sockets.add(ws);
  const timer = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'ping' })), 1000);
  ws.on('error', () => {});
  ws.on('close', () => {
    clearInterval(timer);
    sockets.delete(ws);
    setTimeout(() => client(n), 5000);
  });
}

// While a phase holds, `extra` runs in `n` parallel loops.
async function during(seconds, n, extra) {
  const until = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: n }, async () => {
    while (Date.now() < until) {
      await extra();
      await sleep(50);
    }
  }));
  const left = until - Date.now();
  if (left > 0) await sleep(left);
}

const INJECT = {
  errors: async () => {
    await fault('errors', true);
    await during(holdOf('errors'), 4, () => call('POST', '/api/emails', { workflow: 'support', priority: 'high' }));
    await fault('errors', false);
  },
  slow: async () => {
    await fault('slow', true);
    await during(holdOf('slow'), 6, () => call('GET', '/api/reports'));
    await fault('slow', false);
  },
  cache_miss: async () => {
    await fault('cache_miss', true);
    await during(holdOf('cache_miss'), 2, () => call('POST', '/api/emails', { workflow: pick(['support', 'sales']), priority: 'low' }));
    await fault('cache_miss', false);
  },
  pool_exhaust: async () => {
    await fault('pool_exhaust', true);
    await during(holdOf('pool_exhaust'), 12, () => call('POST', '/api/bulk'));
    await fault('pool_exhaust', false);
  },
  ws_drop: async () => {
    await sleep(1000);
    await call('POST', '/admin/ws-drop');
    await sleep(holdOf('ws_drop') * 1000);
  },
  auth_storm: async () => {
    // AuthFailureStorm needs more than 1 failure/s over 5 minutes (300+ in the window): a short
    // storm goes on past its hold until 400 logins have failed (a loaded machine answers slower).
    let failed = 0;
    const login = async () => {
      const r = await call('POST', '/api/login', { user: pick(['admin', 'root', 'bob']), password: 'guess' });
      if (r?.error) failed++;
    };
    await during(holdOf('auth_storm'), 4, login);
    const until = Date.now() + 120_000;
    while (SHORT && failed < 400 && Date.now() < until) await Promise.all([login(), login(), login(), login()]);
  },
  budget: async () => {
    await fault('budget', true);
    await sleep(holdOf('budget') * 1000);
    await fault('budget', false);
  },
  down: async () => {
    await fault('down', true);
    await sleep(holdOf('down') * 1000);
    await fault('down', false);
  },
};

async function phase(name, fn) {
  const start = Date.now();
  await fn();
  console.log(JSON.stringify({ phase: name, start, end: Date.now() }));
}

const workers = Array.from({ length: 4 }, worker);
for (let i = 0; i < 10; i++) client(i);
await phase('normal', () => sleep(WARMUP * 1000));
for (const name of PHASES) {
  await phase(name, INJECT[name]);
  await phase('normal', () => sleep(GAP * 1000));
}
running = false;
for (const ws of sockets) ws.close();
await Promise.all(workers);
console.log(JSON.stringify({ done: true, requests: counts }));
process.exit(0);
