// PostgreSQL: a pg pool of DB_POOL_MAX connections, every query counted and timed
// (database_queries_total, database_query_duration_seconds) and the pool's use exported for the
// guide's DatabaseConnectionPoolExhausted rule.
import { Pool, PoolClient } from 'pg';
import { dbQueries, dbQueryDuration, dbConnectionsActive, dbConnectionsMax } from './monitoring/metrics';

export const POOL_MAX = Number(process.env.DB_POOL_MAX || 10);
export const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: POOL_MAX, connectionTimeoutMillis: 5000 });
dbConnectionsMax.set(POOL_MAX);

export function updatePoolGauge() {
  dbConnectionsActive.set(pool.totalCount - pool.idleCount);
}

export async function query<T = any>(operation: string, table: string, sql: string, params: unknown[] = [], client?: PoolClient) {
  const end = dbQueryDuration.labels(operation, table).startTimer();
  dbQueries.labels(operation, table).inc();
  try {
    const res = await (client ?? pool).query(sql, params);
    return res.rows as T[];
  } finally {
    end();
    updatePoolGauge();
  }
}

export async function migrate() {
  await pool.query(`CREATE TABLE IF NOT EXISTS emails (
    id text PRIMARY KEY, workflow text NOT NULL, priority text NOT NULL, subject text,
    status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(`CREATE TABLE IF NOT EXISTS templates (workflow text PRIMARY KEY, body text NOT NULL)`);
  await pool.query(`INSERT INTO templates (workflow, body) VALUES
    ('support', 'Thanks for reaching out'), ('sales', 'Here is our offer'), ('billing', 'Your invoice')
    ON CONFLICT DO NOTHING`);
}
