// Demo app for the trace e2e tests: the CrewAI monitoring guide's tracing setup (tracing.mjs) with an
// auto-instrumented HTTP server whose handler runs the CrewAI monitoring guide's processEmail / traceAsync.
// It sends RUN requests to itself (HTTP client span -> HTTP server span -> email.process), then
// flushes the exporter and prints `done N`.
//   RUN_ID      tag value put into email.id (`<RUN_ID>-<i>`)
//   OK=n FAIL=n requests that succeed / whose email.process throws
//   SLOW=n      how many of the OK requests take ~100 ms instead of ~10 ms
//   OK_MS=0     OK requests call the CrewAI monitoring guide's processEmail() unchanged (no sleep)
import { processEmail, traceAsync, sdk } from './tracing.mjs';
import { createRequire } from 'node:module';

// CommonJS require so the auto-instrumentation's http patch applies.
const require = createRequire(import.meta.url);
const http = require('http');

const runId = process.env.RUN_ID || 'run';
const ok = Number(process.env.OK || 1);
const fail = Number(process.env.FAIL || 0);
const slow = Number(process.env.SLOW || 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const email = { id: url.searchParams.get('id'), workflow: 'support', priority: 'high' };
  const attrs = { 'email.id': email.id, 'email.workflow': email.workflow, 'email.priority': email.priority };
  const ms = Number(url.searchParams.get('ms') || 0);
  try {
    if (url.pathname === '/fail') {
      await traceAsync('email.process', async () => {
        await sleep(ms);
        throw new Error('mailbox unavailable');
      }, attrs);
    } else if (ms === 0) {
      // The CrewAI monitoring guide's usage example, unchanged.
      await processEmail(email);
    } else {
      // The CrewAI monitoring guide's helper around work of a known duration (span metrics tests).
      await traceAsync('email.process', () => sleep(ms), attrs);
    }
    res.writeHead(200).end('ok');
  } catch (e) {
    res.writeHead(500).end(String(e.message));
  }
});

await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

function get(path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

let n = 0;
for (let i = 0; i < ok; i++) {
  await get(`/email?id=${runId}-${i}&ms=${process.env.OK_MS ?? (i < slow ? 100 : 10)}`);
  n++;
}
for (let i = 0; i < fail; i++) {
  await get(`/fail?id=${runId}-fail-${i}&ms=100`);
  n++;
}
server.close();
await sdk.shutdown();
console.log(`done ${n}`);
