// Driver of bench/errors.sh: sends error envelopes to pharos and times the issue list query.
// Usage: node bench/errors_bench.mjs <base-url> <events> <concurrency>
const [base, eventsArg, concArg] = process.argv.slice(2);
const EVENTS = Number(eventsArg || 100000);
const CONC = Number(concArg || 32);
const KEY = '0123456789abcdef0123456789abcdef';
const url = `${base}/api/1/envelope/?sentry_key=${KEY}&sentry_version=7`;

function envelope(n) {
  const place = n % 200;
  const id = n.toString(16).padStart(32, '0');
  const ev = {
    event_id: id,
    timestamp: Date.now() / 1000,
    platform: 'node',
    level: n % 10 === 0 ? 'warning' : 'error',
    release: `1.${n % 5}.0`,
    environment: n % 3 ? 'production' : 'staging',
    user: { id: `u${n % 1000}` },
    tags: { region: `r${n % 4}` },
    exception: {
      values: [{
        type: `Error${place % 7}`,
        value: `failure ${n} in handler ${place}`,
        stacktrace: { frames: [
          { function: 'main', filename: '/app/index.js', lineno: 1, in_app: true },
          { function: `handler${place}`, filename: `/app/routes/r${place}.js`, lineno: 10 + (n % 50), in_app: true },
          { function: 'emit', filename: 'node:events', lineno: 517, in_app: false },
        ] },
      }],
    },
    breadcrumbs: [{ category: 'http', message: `GET /api/${place}`, timestamp: Date.now() / 1000 }],
  };
  const payload = JSON.stringify(ev);
  return `{"event_id":"${id}"}\n{"type":"event","length":${Buffer.byteLength(payload)}}\n${payload}\n`;
}

let next = 0;
let failed = 0;
async function sender() {
  for (;;) {
    const n = next++;
    if (n >= EVENTS) return;
    const r = await fetch(url, { method: 'POST', body: envelope(n) });
    if (r.status !== 200) failed++;
    await r.arrayBuffer();
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: CONC }, sender));
const secs = (performance.now() - t0) / 1000;
console.log(`ingest: ${EVENTS} events in ${secs.toFixed(1)} s = ${Math.round(EVENTS / secs)} events/s (grouping + fsync before each 200, ${CONC} senders, ${failed} failed)`);

const queries = [
  '/api/pharos/v1/errors/issues?status=all&sort=last_seen&limit=50',
  '/api/pharos/v1/errors/issues?status=all&sort=count&limit=50',
  '/api/pharos/v1/errors/issues?status=all&sort=users&limit=50&environment=production',
  '/api/pharos/v1/errors/issues?status=all&query=handler1&limit=50',
];
for (const q of queries) {
  const times = [];
  let total = 0;
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    const r = await fetch(base + q);
    const body = await r.json();
    times.push(performance.now() - s);
    total = body.total;
  }
  times.sort((a, b) => a - b);
  const p = (x) => times[Math.min(times.length - 1, Math.floor(x * times.length))].toFixed(2);
  console.log(`issue list ${q.split('?')[1]}: ${total} issues, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`);
}
