// src/monitoring/logger.ts
import winston from 'winston';
import { ElasticsearchTransport } from 'winston-elasticsearch';
// FIX 2: the middleware's types are Express's; the guide never imports them.
import type { Request, Response, NextFunction } from 'express';
// FIX 3: the guide names Loki as the log store, but its logger has no Loki transport.
import LokiTransport from 'winston-loki';

const esTransportOpts = {
  level: 'info',
  clientOpts: { node: process.env.ELASTICSEARCH_URL },
  index: 'crewai-logs',
  // FIX 4: the guide's Kibana queries read `service`, `duration` and `level` at the top of each
  // document; winston-elasticsearch's default transformer nests them under `fields` and writes
  // `severity`. This transformer keeps the metadata at the top level.
  transformer: (logData: any) => ({
    '@timestamp': logData.timestamp || new Date().toISOString(),
    message: logData.message,
    level: logData.level,
    ...logData.meta
  })
};

export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL || 'info',
  format: winston.format.combine(
    winston.format.timestamp(),
    winston.format.errors({ stack: true }),
    winston.format.json()
  ),
  defaultMeta: {
    service: 'crewai-api',
    environment: process.env.NODE_ENV,
    version: process.env.APP_VERSION
  },
  transports: [
    new winston.transports.Console({
      format: winston.format.combine(
        winston.format.colorize(),
        winston.format.simple()
      )
    }),
    new winston.transports.File({ 
      filename: 'logs/error.log', 
      level: 'error' 
    }),
    new winston.transports.File({ 
      filename: 'logs/combined.log' 
    }),
    new ElasticsearchTransport(esTransportOpts),
    // FIX 3 (continued): JSON lines to Loki, labelled app="crewai-api" (winston-loki adds level).
    new LokiTransport({
      host: process.env.LOKI_URL || 'http://localhost:3100',
      labels: { app: 'crewai-api' },
      json: true,
      format: winston.format.json(),
      replaceTimestamp: false,
      interval: 1,
      onConnectionError: (err: unknown) => console.error('loki transport error', err)
    })
  ]
});

// Request logging middleware
export function requestLogger(req: Request, res: Response, next: NextFunction) {
  const start = Date.now();
  
  res.on('finish', () => {
    const duration = Date.now() - start;
    
    logger.info('HTTP Request', {
      method: req.method,
      url: req.url,
      status: res.statusCode,
      duration,
      ip: req.ip,
      userAgent: req.get('user-agent'),
      // FIX 5: Express has no req.id / req.user; the app's auth middleware sets them (any-cast for tsc).
      requestId: (req as any).id,
      userId: (req as any).user?.id
    });
  });
  
  next();
}

// Error logging
export function logError(error: Error, context?: any) {
  logger.error('Application Error', {
    message: error.message,
    stack: error.stack,
    ...context
  });
}
