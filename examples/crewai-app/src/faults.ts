// The fault switches the load script flips through POST /admin/faults/:name {"on": bool}.
export const faults = {
  /** POST /api/emails fails with a database error (HTTP 500, one Sentry issue). */
  errors: false,
  /** GET /api/reports runs a 2.5 s query (slow span, slow request log lines). */
  slow: false,
  /** The template cache is bypassed (cache misses). */
  cache_miss: false,
  /** Requests hold every pool connection (DatabaseConnectionPoolExhausted). */
  pool_exhaust: false,
  /** The usage meter reports 20x the vCPUs (cost over budget). */
  budget: false,
  /** The metrics listener is closed and /health answers 503 (target down). */
  down: false,
};
export type FaultName = keyof typeof faults;
