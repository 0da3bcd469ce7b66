// The CrewAI monitoring guide's logger (monitoring-guide.md, "Structured Logging"): winston with the Console, two
// File transports and winston-elasticsearch configured exactly as in the CrewAI monitoring guide, pointed at pharos
// through ELASTICSEARCH_URL. It logs the CrewAI monitoring guide's request and error messages for the requests
// given as JSON in REQUESTS ([{method,url,status,duration}]) and ERRORS ([message]), flushes the
// Elasticsearch transport and prints "done <n>".
import winston from 'winston';
import { ElasticsearchTransport } from 'winston-elasticsearch';

const esTransportOpts = {
  level: 'info',
  clientOpts: { node: process.env.ELASTICSEARCH_URL },
  index: 'crewai-logs'
};

export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL || 'info',
  format: winston.format.combine(
    winston.format.timestamp(),
    winston.format.errors({ stack: true }),
    winston.format.json()
  ),
  defaultMeta: {
    service: 'crewai-api',
    environment: process.env.NODE_ENV,
    version: process.env.APP_VERSION
  },
  transports: [
    new winston.transports.Console({
      format: winston.format.combine(
        winston.format.colorize(),
        winston.format.simple()
      )
    }),
    new winston.transports.File({
      filename: 'logs/error.log',
      level: 'error'
    }),
    new winston.transports.File({
      filename: 'logs/combined.log'
    }),
    new ElasticsearchTransport(esTransportOpts)
  ]
});

// The CrewAI monitoring guide's requestLogger body, for a finished request.
function logRequest(req) {
  logger.info('HTTP Request', {
    method: req.method,
    url: req.url,
    status: req.status,
    duration: req.duration,
    ip: '127.0.0.1',
    userAgent: 'e2e',
    requestId: req.requestId,
    userId: undefined
  });
}

// The CrewAI monitoring guide's logError.
function logError(error, context) {
  logger.error('Application Error', {
    message: error.message,
    stack: error.stack,
    ...context
  });
}

const requests = JSON.parse(process.env.REQUESTS || '[]');
const errors = JSON.parse(process.env.ERRORS || '[]');
for (const r of requests) logRequest(r);
for (const m of errors) logError(new Error(m), { component: 'e2e' });

const es = logger.transports.find((t) => t.name === 'elasticsearch');
let warnings = 0;
es.on('warning', (e) => {
  warnings += 1;
  console.error('es transport warning:', e && e.message);
});
// Wait until the transport connected (health check + index template) and flushed everything.
const deadline = Date.now() + 30000;
while (Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 200));
  if (es.bulkWriter.esConnection && es.bulkWriter.bulk.length === 0) {
    await es.flush();
    if (es.bulkWriter.bulk.length === 0) break;
  }
}
// A write started by the transport's own timer may still be in flight.
await new Promise((r) => setTimeout(r, 1000));
const left = es.bulkWriter.bulk.length;
console.log(`done ${requests.length + errors.length} left=${left} warnings=${warnings}`);
process.exit(left === 0 ? 0 : 1);
