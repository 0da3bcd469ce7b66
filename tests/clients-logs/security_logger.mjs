// The CrewAI monitoring guide's SecurityMonitor logging through its winston logger (timestamp +
// errors + json, defaultMeta service) with a winston-loki transport pointed at pharos (LOKI_URL):
// SUSPICIOUS suspicious_activity events of USER_ID (activity ACTIVITY), AUTH_FAILURES failed
// logins, and VIOLATIONS security violations (type VIOLATION_TYPE). Prints "done <n>".
import { guideLogger } from './guide_logger.mjs';

const { logger, loki } = guideLogger({
  labels: { app: 'crewai-api' },
  json: true,
  defaultMeta: { service: 'crewai-api', environment: 'test' },
});

// The guide's SecurityMonitor methods, as written there (without the Redis counter and the
// direct alert: pharos' shipped rules do that part from these lines).
class SecurityMonitor {
  logAuthFailure(userId, reason, ip) {
    logger.warn('Authentication failure', { event: 'auth_failure', userId, reason, ip, timestamp: new Date().toISOString() });
  }
  logSuspiciousActivity(userId, activity, details) {
    logger.warn('Suspicious activity detected', { event: 'suspicious_activity', userId, activity, details, timestamp: new Date().toISOString() });
  }
  logSecurityViolation(type, details) {
    logger.error('Security violation', { event: 'security_violation', type, details, timestamp: new Date().toISOString() });
  }
}

const m = new SecurityMonitor();
const n = (k) => Number(process.env[k] || 0);
let sent = 0;
// Each attempt from another address: identical lines logged in the same millisecond are one
// entry to Loki (and to pharos), which would make the count depend on timing.
for (let i = 0; i < n('AUTH_FAILURES'); i++, sent++) m.logAuthFailure(process.env.USER_ID || 'u1', 'invalid_password', `203.0.113.${i + 1}`);
for (let i = 0; i < n('SUSPICIOUS'); i++, sent++) {
  m.logSuspiciousActivity(process.env.USER_ID || 'u1', process.env.ACTIVITY || 'rapid_requests', { path: `/api/crews/${i}` });
}
for (let i = 0; i < n('VIOLATIONS'); i++, sent++) m.logSecurityViolation(process.env.VIOLATION_TYPE || 'sql_injection', { query: '1; DROP TABLE crews' });
await new Promise((r) => setTimeout(r, 1500));
await loki.flush?.();
console.log(`done ${sent}`);
process.exit(process.exitCode || 0);
