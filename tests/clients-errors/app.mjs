// A Node program instrumented with the real @sentry/node, initialised as the CrewAI monitoring
// guide's "APM Integration" does (Http integration with tracing, Express integration, a DSN
// from SENTRY_DSN, environment from NODE_ENV), here with every transaction sampled. MODE picks
// what it sends:
//   main     breadcrumb + captureMessage, one error thrown 100 times from one place, one error
//            from another place, a transaction with a child span, then an uncaught error
//   burst    N captureException calls 50 ms apart (rate-limit and wrong-key tests)
// It prints "flushed" after Sentry.flush and exits.
import * as Sentry from '@sentry/node';
import express from 'express';

const app = express();
const mode = process.env.MODE || 'main';

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  integrations: [
    new Sentry.Integrations.Http({ tracing: true }),
    new Sentry.Integrations.Express({ app }),
  ],
  tracesSampleRate: Number(process.env.TRACES_SAMPLE_RATE || '1.0'),
  environment: process.env.NODE_ENV || 'test',
  release: 'crewai-api@1.2.3',
});

function chargeCard(order) {
  // The same line throws every time: one issue.
  throw new TypeError(`card declined for order ${order}`);
}

function loadProfile(user) {
  // A different place: a second issue.
  return user.profile.name;
}

async function main() {
  if (mode === 'burst') {
    const n = Number(process.env.N || '20');
    for (let i = 0; i < n; i++) {
      try {
        chargeCard(i);
      } catch (e) {
        Sentry.captureException(e);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await Sentry.flush(10000);
    console.log('flushed');
    return;
  }
  Sentry.setUser({ id: 'user-42' });
  Sentry.setTag('component', 'checkout');
  Sentry.addBreadcrumb({ category: 'auth', message: 'user logged in', level: 'info' });
  Sentry.captureMessage('Payment gateway slow: 1234 ms', 'warning');
  // Every throw below runs after an await, so all 100 share one call path (before the first
  // await, V8's stack would also hold the module's top-level frame).
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 100; i++) {
    try {
      chargeCard(1000 + i);
    } catch (e) {
      Sentry.captureException(e);
    }
    // The SDK's transport queues at most 30 requests and drops the rest (a client report
    // tells): let it drain as a real app's pace would.
    if (i % 10 === 9) await Sentry.flush(10000);
  }
  try {
    loadProfile({});
  } catch (e) {
    Sentry.captureException(e);
  }
  const tx = Sentry.startTransaction({ name: 'POST /checkout', op: 'http.server' });
  const span = tx.startChild({ op: 'db.query', description: 'SELECT * FROM orders' });
  await new Promise((r) => setTimeout(r, 20));
  span.finish();
  tx.finish();
  console.log(`trace ${tx.traceId}`);
  await Sentry.flush(10000);
  console.log('flushed');
  // Uncaught: the SDK's OnUncaughtException integration reports it, then exits with 1.
  setTimeout(() => {
    throw new Error('uncaught boom in worker');
  }, 10);
}

main();
