// The CrewAI email-processing service: Express + WebSocket on PORT, prom-client metrics on
// METRICS_PORT (the guide's `app:9090` target), backed by Redis and PostgreSQL, instrumented with
// the guide's monitoring modules. Tracing is imported first so auto-instrumentation patches
// http/express/pg/ioredis before they load.
import { sdk } from './monitoring/tracing';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import * as Sentry from '@sentry/node';
import { trace } from '@opentelemetry/api';
import { WebSocketServer, WebSocket } from 'ws';
import {
  getMetrics, httpRequestsTotal, httpRequestDuration, emailsProcessed, emailProcessingDuration,
  websocketConnections, websocketMessages, agentTasks, agentUtilization, emailQueueSize,
} from './monitoring/metrics';
import { register } from 'prom-client';
import { logger, requestLogger, logError } from './monitoring/logger';
import { initApm, perfMonitor } from './monitoring/apm';
import { processEmail, traceAsync } from './monitoring/tracing';
import { SecurityMonitor } from './monitoring/security';
import { CostMonitor } from './monitoring/costs';
import { redis, cached } from './cache';
import { pool, query, migrate, updatePoolGauge, POOL_MAX } from './db';
import { faults, FaultName } from './faults';

const PORT = Number(process.env.PORT || 3000);
const METRICS_PORT = Number(process.env.METRICS_PORT || 9090);
const AGENTS = ['classifier', 'responder', 'summarizer'];
const security = new SecurityMonitor();
const costs = new CostMonitor();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const app = express();
initApm(app);
app.use(Sentry.Handlers.requestHandler());
app.use(express.json());

// Sentry's error events carry the OpenTelemetry trace id of their request (contexts.trace), so
// pharos links an error issue to the request's trace. Without this, @sentry/node 7 invents a
// trace id of its own that no span has.
app.use((_req, _res, next) => {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (ctx) Sentry.getCurrentScope().setPropagationContext({ traceId: ctx.traceId, spanId: ctx.spanId, sampled: true });
  next();
});

// Request id and user (the guide's requestLogger logs req.id and req.user?.id).
app.use((req, _res, next) => {
  (req as any).id = req.get('x-request-id') || randomUUID();
  const user = req.get('x-user-id');
  if (user) (req as any).user = { id: user };
  next();
});
app.use(requestLogger as any);

// The guide's request metrics: http_requests_total and http_request_duration_seconds.
app.use((req, res, next) => {
  const end = httpRequestDuration.startTimer();
  res.on('finish', () => {
    const route = req.route ? req.baseUrl + req.route.path : 'unmatched';
    const labels = { method: req.method, route, status: String(res.statusCode) };
    httpRequestsTotal.inc(labels);
    end(labels);
  });
  next();
});

app.get('/health', async (_req, res) => {
  if (faults.down) return res.status(503).json({ status: 'down' });
  try {
    await redis.ping();
    await pool.query('SELECT 1');
    res.json({ status: 'ok' });
  } catch (e) {
    res.status(503).json({ status: 'error', error: (e as Error).message });
  }
});

let queued = 0;
const busy: Record<string, number> = Object.fromEntries(AGENTS.map((a) => [a, 0]));

async function runAgent<T>(agent: string, fn: () => Promise<T>): Promise<T> {
  busy[agent]++;
  try {
    const r = await traceAsync(`agent.${agent}`, fn, { 'agent.name': agent });
    agentTasks.labels(agent, 'success').inc();
    return r;
  } catch (e) {
    agentTasks.labels(agent, 'failure').inc();
    throw e;
  } finally {
    busy[agent]--;
  }
}

// Email intake: classify (template from the cache or PostgreSQL), store, respond.
app.post('/api/emails', async (req, res, next) => {
  const email = {
    id: randomUUID(),
    workflow: String(req.body?.workflow || 'support'),
    priority: String(req.body?.priority || 'normal'),
  };
  queued++;
  emailQueueSize.set(queued);
  const end = emailProcessingDuration.labels(email.workflow, email.priority).startTimer();
  try {
    await processEmail(email, async () => {
      const template = await runAgent('classifier', () =>
        cached('template', `template:${email.workflow}`, async () => {
          const rows = await query<{ body: string }>('select', 'templates', 'SELECT body FROM templates WHERE workflow = $1', [email.workflow]);
          return rows[0]?.body ?? 'default';
        }));
      if (faults.errors) {
        // The error burst: a database failure while saving (one Sentry issue, 500s, error logs).
        throw new Error('connection terminated unexpectedly while saving email');
      }
      await runAgent('responder', () =>
        query('insert', 'emails', 'INSERT INTO emails (id, workflow, priority, subject, status) VALUES ($1, $2, $3, $4, $5)',
          [email.id, email.workflow, email.priority, String(req.body?.subject || ''), 'processed']));
      return template;
    });
    emailsProcessed.labels(email.workflow, email.priority, 'processed').inc();
    broadcast({ type: 'email.processed', id: email.id, workflow: email.workflow });
    res.status(201).json({ id: email.id, status: 'processed' });
  } catch (e) {
    emailsProcessed.labels(email.workflow, email.priority, 'failed').inc();
    logError(e as Error, { emailId: email.id, workflow: email.workflow, route: '/api/emails' });
    next(e);
  } finally {
    end();
    queued--;
    emailQueueSize.set(queued);
  }
});

app.get('/api/emails/:id', async (req, res, next) => {
  try {
    const body = await cached('email', `email:${req.params.id}`, async () => {
      const rows = await query('select', 'emails', 'SELECT * FROM emails WHERE id = $1', [req.params.id]);
      return JSON.stringify(rows[0] ?? null);
    });
    const email = JSON.parse(body);
    if (!email) return res.status(404).json({ error: 'not found' });
    res.json(email);
  } catch (e) {
    next(e);
  }
});

// A report over the stored emails; slow under the "slow" fault (a 1.5 s query in its own span).
app.get('/api/reports', async (_req, res, next) => {
  try {
    const rows = await perfMonitor.measureAsync('report.generate', () =>
      traceAsync('report.generate', async () => {
        if (faults.slow) await query('select', 'emails', 'SELECT pg_sleep(2.5)');
        return query('select', 'emails', 'SELECT workflow, count(*)::int AS n FROM emails GROUP BY workflow');
      }));
    res.json({ workflows: rows });
  } catch (e) {
    next(e);
  }
});

// Login: wrong passwords are logged by the guide's SecurityMonitor; more than 10 failures of
// one user within an hour become suspicious activity.
app.post('/api/login', async (req, res) => {
  const user = String(req.body?.user || 'anonymous');
  if (req.body?.password === 'correct-horse') return res.json({ token: randomUUID() });
  security.logAuthFailure(user, 'invalid_password', req.ip || '');
  security.logSuspiciousActivity(user, 'repeated_login_failure', { ip: req.ip });
  res.status(401).json({ error: 'invalid credentials' });
});

// Pool exhaustion: every request of this kind holds a connection for 3 s while the fault is on.
app.post('/api/bulk', async (_req, res, next) => {
  if (!faults.pool_exhaust) return res.json({ held: 0 });
  let client;
  try {
    client = await pool.connect();
    updatePoolGauge();
    await query('select', 'emails', 'SELECT pg_sleep(3)', [], client);
    res.json({ held: 1 });
  } catch (e) {
    next(e);
  } finally {
    client?.release();
    updatePoolGauge();
  }
});

app.get('/admin/faults', (_req, res) => res.json(faults));
app.post('/admin/faults/:name', async (req, res) => {
  const name = req.params.name as FaultName;
  if (!(name in faults)) return res.status(400).json({ error: `unknown fault ${name}; one of ${Object.keys(faults).join(', ')}` });
  faults[name] = Boolean(req.body?.on);
  logger.warn('Fault switched', { fault: name, on: faults[name] });
  if (name === 'down') await (faults.down ? closeMetrics() : openMetrics());
  if (name === 'budget') await costs.trackResourceUsage();
  res.json(faults);
});
// The WebSocket drop: the server closes every client connection at once.
app.post('/admin/ws-drop', (_req, res) => {
  const n = wss.clients.size;
  for (const ws of wss.clients) ws.terminate();
  res.json({ dropped: n });
});

app.use(Sentry.Handlers.errorHandler());
app.use((err: Error, req: express.Request, res: express.Response, _next: express.NextFunction) => {
  res.status(500).json({ error: err.message, requestId: (req as any).id });
});

const server = http.createServer(app);
const wss = new WebSocketServer({ server, path: '/ws' });

function broadcast(msg: object) {
  const text = JSON.stringify(msg);
  for (const ws of wss.clients) {
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(text);
      websocketMessages.labels('out', (msg as any).type).inc();
    }
  }
}

wss.on('connection', (ws, req) => {
  const authenticated = new URL(req.url || '/', 'http://x').searchParams.has('token') ? 'true' : 'false';
  websocketConnections.labels(authenticated).inc();
  ws.on('message', (data) => {
    let type = 'unknown';
    try { type = JSON.parse(String(data)).type || 'unknown'; } catch { /* counted as unknown */ }
    websocketMessages.labels('in', type).inc();
    if (type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong' }));
      websocketMessages.labels('out', 'pong').inc();
    }
  });
  ws.on('close', () => websocketConnections.labels(authenticated).dec());
});

// Metrics on their own port, as the guide's prometheus.yml scrapes app:9090.
const metricsServer = http.createServer(async (req, res) => {
  if (req.url?.startsWith('/metrics')) {
    res.writeHead(200, { 'content-type': register.contentType });
    res.end(await getMetrics());
  } else {
    res.writeHead(404).end();
  }
});
let metricsOpen = false;
function openMetrics() {
  return new Promise<void>((resolve) => {
    if (metricsOpen) return resolve();
    metricsServer.listen(METRICS_PORT, process.env.HOST || '0.0.0.0', () => { metricsOpen = true; resolve(); });
  });
}
function closeMetrics() {
  return new Promise<void>((resolve) => {
    if (!metricsOpen) return resolve();
    metricsOpen = false;
    metricsServer.close(() => resolve());
    metricsServer.closeAllConnections();
  });
}

setInterval(() => {
  for (const a of AGENTS) agentUtilization.labels(a).set(Math.min(100, busy[a] * 25 + Math.random() * 10));
  updatePoolGauge();
}, 1000).unref();
setInterval(() => { costs.trackResourceUsage().catch((e) => logError(e)); }, Number(process.env.COST_INTERVAL_MS || 15000)).unref();

async function main() {
  await migrate();
  await costs.trackResourceUsage();
  await openMetrics();
  const metricsAddr = metricsServer.address() as { port: number };
  server.listen(PORT, process.env.HOST || '0.0.0.0', () => {
    const a = server.address() as { port: number };
    logger.info('crewai-app listening', { port: a.port, metricsPort: metricsAddr.port, poolMax: POOL_MAX });
    console.log(`crewai-app listening ${a.port} metrics ${metricsAddr.port}`);
  });
}

async function shutdown() {
  await sdk.shutdown().catch(() => undefined);
  await Sentry.close(2000).catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

main().catch((e) => {
  console.error('crewai-app failed to start:', e);
  process.exit(1);
});
