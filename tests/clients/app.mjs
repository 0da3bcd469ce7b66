// A demo application exposing the CrewAI monitoring guide's metrics with the real prom-client library.
// It records a deterministic workload once per tick and stops after TICKS ticks, so tests know
// exactly what was recorded. Prints "listening <port>" on stdout; GET /stats returns the totals.
import http from 'node:http';
import { register, Counter, Histogram, Gauge, Summary } from 'prom-client';

const TICKS = Number(process.env.TICKS || 12);
const TICK_MS = Number(process.env.TICK_MS || 1000);

const httpRequestsTotal = new Counter({ name: 'http_requests_total', help: 'Total number of HTTP requests', labelNames: ['method', 'route', 'status'] });
const httpRequestDuration = new Histogram({ name: 'http_request_duration_seconds', help: 'Duration of HTTP requests in seconds', labelNames: ['method', 'route', 'status'], buckets: [0.1, 0.5, 1, 2, 5] });
const emailsProcessed = new Counter({ name: 'emails_processed_total', help: 'Total number of emails processed', labelNames: ['workflow', 'priority', 'status'] });
const emailProcessingDuration = new Summary({ name: 'email_processing_duration_seconds', help: 'Time taken to process emails', labelNames: ['workflow', 'priority'], percentiles: [0.5, 0.9, 0.95, 0.99] });
const websocketConnections = new Gauge({ name: 'websocket_connections_active', help: 'Number of active WebSocket connections', labelNames: ['authenticated'] });
const agentUtilization = new Gauge({ name: 'agent_utilization', help: 'Agent utilization percentage', labelNames: ['agent'] });
const cacheHits = new Counter({ name: 'cache_hits_total', help: 'Total cache hits', labelNames: ['cache_type'] });
const cacheMisses = new Counter({ name: 'cache_misses_total', help: 'Total cache misses', labelNames: ['cache_type'] });
const dbQueryDuration = new Histogram({ name: 'database_query_duration_seconds', help: 'Database query duration', labelNames: ['operation', 'table'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1] });

const stats = { ticks: 0, firstTickMs: null, lastTickMs: null, get200: 0, post500: 0, emails: 0 };

function tick() {
  const now = Date.now();
  stats.firstTickMs ??= now;
  stats.lastTickMs = now;
  stats.ticks++;
  // Per tick: 3 GET /api 200 with durations in three buckets, 1 POST /api 500 taking 1.5s.
  for (const d of [0.05, 0.3, 0.7]) {
    httpRequestsTotal.labels('GET', '/api', '200').inc();
    httpRequestDuration.labels('GET', '/api', '200').observe(d);
  }
  httpRequestsTotal.labels('POST', '/api', '500').inc();
  httpRequestDuration.labels('POST', '/api', '500').observe(1.5);
  stats.get200 += 3;
  stats.post500 += 1;
  emailsProcessed.labels('triage', 'high', 'ok').inc(2);
  emailProcessingDuration.labels('triage', 'high').observe(0.2 * stats.ticks);
  stats.emails += 2;
  websocketConnections.labels('true').set(40 + stats.ticks);
  agentUtilization.labels('planner').set(75);
  cacheHits.labels('redis').inc(9);
  cacheMisses.labels('redis').inc(1);
  dbQueryDuration.labels('select', 'emails').observe(0.004);
}

const timer = setInterval(() => {
  if (stats.ticks >= TICKS) { clearInterval(timer); return; }
  tick();
}, TICK_MS);

const server = http.createServer(async (req, res) => {
  if (req.url === '/metrics') {
    res.setHeader('Content-Type', register.contentType);
    res.end(await register.metrics());
  } else if (req.url === '/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(stats));
  } else {
    res.statusCode = 404;
    res.end('not found');
  }
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
