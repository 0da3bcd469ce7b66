// The CrewAI monitoring guide's winston logger (monitoring-guide.md, "Structured Logging": timestamp + errors +
// json format, defaultMeta service/environment/version) with a winston-loki transport pointed
// at pharos (LOKI_URL). LOKI_JSON=1 makes winston-loki send JSON, otherwise it sends its default
// protobuf+snappy. The transport gets winston's json format, so every line is the JSON record. Logs the CrewAI monitoring guide's request and error messages tagged with RUN_ID, then prints
// "done <n>".
import { guideLogger } from './guide_logger.mjs';

const runId = process.env.RUN_ID || 'run';
const { logger, loki } = guideLogger({
  labels: { app: 'crewai-api', run: runId },
  json: process.env.LOKI_JSON === '1',
  defaultMeta: { service: 'crewai-api', environment: 'test', version: '1.2.3' },
});

const n = Number(process.env.N || 5);
for (let i = 0; i < n; i++) {
  logger.info('HTTP Request', {
    method: 'GET', url: `/api/items/${i}`, status: 200, duration: 100 * i,
    ip: '127.0.0.1', userAgent: 'test', requestId: `${runId}-${i}`,
  });
}
const err = new Error('database timeout');
logger.error('Application Error', { message: err.message, stack: err.stack, requestId: `${runId}-err` });
await new Promise((r) => setTimeout(r, 1500));
await loki.flush?.();
console.log(`done ${n + 1}`);
process.exit(process.exitCode || 0);
