// The CrewAI monitoring guide's winston logger (monitoring-guide.md, "Structured Logging":
// timestamp + errors + json format, defaultMeta) with a winston-loki transport pointed at pharos
// (LOKI_URL). `json` makes winston-loki send JSON instead of its default protobuf+snappy. The
// transport gets winston's json format, so every line is the JSON record.
import winston from 'winston';
import LokiTransport from 'winston-loki';

export function guideLogger({ labels, json, defaultMeta }) {
  const loki = new LokiTransport({
    host: process.env.LOKI_URL,
    labels,
    json,
    batching: false,
    // With a format of its own, winston-loki sends the formatted JSON line (info[MESSAGE]).
    format: winston.format.json(),
    replaceTimestamp: false,
    onConnectionError: (err) => { console.error('loki error', err); process.exitCode = 1; },
  });
  const logger = winston.createLogger({
    level: 'info',
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json()
    ),
    defaultMeta,
    transports: [loki],
  });
  return { logger, loki };
}
