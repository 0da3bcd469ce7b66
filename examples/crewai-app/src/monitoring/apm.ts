// src/monitoring/apm.ts
import * as Sentry from "@sentry/node";
import { ProfilingIntegration } from "@sentry/profiling-node";
// FIX 7: httpRequestDuration is used below but never imported.
import { httpRequestDuration } from './metrics';
import type { Express } from 'express';

// FIX 8: Sentry.init needs the Express `app`, which this module never has: the app calls initApm(app).
export function initApm(app: Express) {

// Sentry initialization
Sentry.init({
  dsn: process.env.SENTRY_DSN,
  integrations: [
    new Sentry.Integrations.Http({ tracing: true }),
    new Sentry.Integrations.Express({ app }),
    new ProfilingIntegration(),
  ],
  tracesSampleRate: 0.1,
  profilesSampleRate: 0.1,
  environment: process.env.NODE_ENV,
});
}

// Custom performance monitoring
export class PerformanceMonitor {
  private measurements: Map<string, number[]> = new Map();
  
  measure<T>(name: string, fn: () => T): T {
    const start = performance.now();
    
    try {
      const result = fn();
      this.recordMeasurement(name, performance.now() - start);
      return result;
    } catch (error) {
      this.recordMeasurement(name, performance.now() - start, true);
      throw error;
    }
  }
  
  async measureAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    
    try {
      const result = await fn();
      this.recordMeasurement(name, performance.now() - start);
      return result;
    } catch (error) {
      this.recordMeasurement(name, performance.now() - start, true);
      throw error;
    }
  }
  
  private recordMeasurement(name: string, duration: number, error = false) {
    if (!this.measurements.has(name)) {
      this.measurements.set(name, []);
    }
    
    this.measurements.get(name)!.push(duration);
    
    // Send to metrics
    // FIX 9: the histogram has three label names (method, route, status); prom-client throws
    // "Invalid number of arguments" for two values. The measurement goes in as method "perf".
    if (error) {
      httpRequestDuration.labels('perf', name, 'error').observe(duration / 1000);
    } else {
      httpRequestDuration.labels('perf', name, 'success').observe(duration / 1000);
    }
    
    // Send to APM
    Sentry.addBreadcrumb({
      message: `Performance: ${name}`,
      data: { duration, error },
      level: error ? 'error' : 'info',
    });
  }
  
  getStats(name: string) {
    const measurements = this.measurements.get(name) || [];
    if (measurements.length === 0) return null;
    
    const sorted = measurements.sort((a, b) => a - b);
    
    return {
      count: measurements.length,
      mean: measurements.reduce((a, b) => a + b, 0) / measurements.length,
      median: sorted[Math.floor(sorted.length / 2)],
      p95: sorted[Math.floor(sorted.length * 0.95)],
      p99: sorted[Math.floor(sorted.length * 0.99)],
      min: sorted[0],
      max: sorted[sorted.length - 1],
    };
  }
}

export const perfMonitor = new PerformanceMonitor();
