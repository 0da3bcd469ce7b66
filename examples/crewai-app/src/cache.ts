// Redis: the template cache in front of PostgreSQL (cache_hits_total / cache_misses_total) and the
// counters SecurityMonitor keeps.
import Redis from 'ioredis';
import { cacheHits, cacheMisses } from './monitoring/metrics';
import { faults } from './faults';

export const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });

/** Reads `key` from the cache, else loads it with `load` and caches it for a minute. */
export async function cached(cacheType: string, key: string, load: () => Promise<string>): Promise<string> {
  // The "cache misses" fault bypasses the cache: every read goes to the database.
  const hit = faults.cache_miss ? null : await redis.get(key);
  if (hit !== null) {
    cacheHits.labels(cacheType).inc();
    return hit;
  }
  cacheMisses.labels(cacheType).inc();
  const value = await load();
  await redis.set(key, value, 'EX', 60);
  return value;
}
