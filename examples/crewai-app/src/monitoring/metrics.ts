// src/monitoring/metrics.ts
import { register, Counter, Histogram, Gauge, Summary } from 'prom-client';

// Request metrics
export const httpRequestsTotal = new Counter({
  name: 'http_requests_total',
  help: 'Total number of HTTP requests',
  labelNames: ['method', 'route', 'status']
});

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Duration of HTTP requests in seconds',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.1, 0.5, 1, 2, 5]
});

// Business metrics
export const emailsProcessed = new Counter({
  name: 'emails_processed_total',
  help: 'Total number of emails processed',
  labelNames: ['workflow', 'priority', 'status']
});

export const emailProcessingDuration = new Summary({
  name: 'email_processing_duration_seconds',
  help: 'Time taken to process emails',
  labelNames: ['workflow', 'priority'],
  percentiles: [0.5, 0.9, 0.95, 0.99]
});

// WebSocket metrics
export const websocketConnections = new Gauge({
  name: 'websocket_connections_active',
  help: 'Number of active WebSocket connections',
  labelNames: ['authenticated']
});

export const websocketMessages = new Counter({
  name: 'websocket_messages_total',
  help: 'Total WebSocket messages',
  labelNames: ['direction', 'type']
});

// Agent metrics
export const agentTasks = new Counter({
  name: 'agent_tasks_total',
  help: 'Total agent tasks',
  labelNames: ['agent', 'status']
});

export const agentUtilization = new Gauge({
  name: 'agent_utilization',
  help: 'Agent utilization percentage',
  labelNames: ['agent']
});

// Cache metrics
export const cacheHits = new Counter({
  name: 'cache_hits_total',
  help: 'Total cache hits',
  labelNames: ['cache_type']
});

export const cacheMisses = new Counter({
  name: 'cache_misses_total',
  help: 'Total cache misses',
  labelNames: ['cache_type']
});

// Database metrics
export const dbQueries = new Counter({
  name: 'database_queries_total',
  help: 'Total database queries',
  labelNames: ['operation', 'table']
});

export const dbQueryDuration = new Histogram({
  name: 'database_query_duration_seconds',
  help: 'Database query duration',
  labelNames: ['operation', 'table'],
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1]
});

// Export all metrics
export function getMetrics() {
  return register.metrics();
}

// FIX 1: metrics the guide uses but never defines — the alert rules read email_queue_size,
// database_connections_active and database_connections_max; SecurityMonitor increments
// authFailures and CostMonitor sets cloudCosts.
export const emailQueueSize = new Gauge({
  name: 'email_queue_size',
  help: 'Emails waiting to be processed'
});

export const dbConnectionsActive = new Gauge({
  name: 'database_connections_active',
  help: 'Database connections checked out of the pool'
});

export const dbConnectionsMax = new Gauge({
  name: 'database_connections_max',
  help: 'Size of the database connection pool'
});

export const authFailures = new Counter({
  name: 'auth_failures_total',
  help: 'Failed authentication attempts',
  labelNames: ['reason']
});

export const cloudCosts = new Gauge({
  name: 'cloud_costs',
  help: 'Estimated daily cloud cost in USD',
  labelNames: ['resource']
});
