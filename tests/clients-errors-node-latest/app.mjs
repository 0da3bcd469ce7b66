// A Node program with the newest official @sentry/node (11.x: OpenTelemetry inside, the v8+
// API: startSpan, logger, captureCheckIn), sending to the DSN in SENTRY_DSN. MODE picks what
// it sends:
//   main   user, tag, breadcrumb, captureMessage, one error thrown 50 times from one place, one
//          from another place, a span tree (transaction with a child), a structured log, a
//          cron check-in; prints "trace <id>", flushes, then throws an uncaught error
// It prints "flushed" after Sentry.flush.
import * as Sentry from '@sentry/node';

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  tracesSampleRate: 1.0,
  environment: process.env.NODE_ENV || 'test',
  release: 'crewai-api@2.0.0',
  enableLogs: true,
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
  Sentry.setUser({ id: 'user-7' });
  Sentry.setTag('component', 'checkout');
  Sentry.addBreadcrumb({ category: 'auth', message: 'user logged in', level: 'info' });
  Sentry.captureMessage('Payment gateway slow: 987 ms', 'warning');
  await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 50; i++) {
    try {
      chargeCard(5000 + i);
    } catch (e) {
      Sentry.captureException(e);
    }
    if (i % 10 === 9) await Sentry.flush(10000);
  }
  try {
    loadProfile({});
  } catch (e) {
    Sentry.captureException(e);
  }
  let traceId = '';
  await Sentry.startSpan({ name: 'POST /checkout', op: 'http.server' }, async (span) => {
    traceId = span.spanContext().traceId;
    await Sentry.startSpan({ name: 'SELECT * FROM orders', op: 'db.query' }, async () => {
      await new Promise((r) => setTimeout(r, 20));
    });
    try {
      throw new RangeError('quantity out of range');
    } catch (e) {
      // An error inside the span: its event carries the trace context.
      Sentry.captureException(e);
    }
  });
  console.log(`trace ${traceId}`);
  Sentry.logger.info('order placed', { order: 42 });
  Sentry.captureCheckIn({ monitorSlug: 'nightly-billing', status: 'ok' });
  await Sentry.flush(10000);
  console.log('flushed');
  setTimeout(() => {
    throw new Error('uncaught boom in modern worker');
  }, 10);
}

main();
