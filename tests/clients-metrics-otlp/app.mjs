// An app instrumented with the OpenTelemetry JS metrics SDK, exporting once over OTLP/HTTP to
// $OTLP_METRICS_URL with the JSON (PROTOCOL=json) or protobuf (PROTOCOL=proto) exporter:
// a counter, an up-down counter, an explicit-bucket histogram, an exponential histogram (via a
// View) and an observable gauge, with known values. Prints "exported" once the export succeeded.
import { metrics } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  AggregationTemporality,
  ExponentialHistogramAggregation,
  View,
} from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';

const url = process.env.OTLP_METRICS_URL;
const proto = process.env.PROTOCOL === 'proto';
const delta = process.env.TEMPORALITY === 'delta';
const Exporter = proto ? ProtoExporter : JsonExporter;
const exporter = new Exporter({
  url,
  compression: process.env.GZIP === '1' ? 'gzip' : 'none',
  temporalityPreference: delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
});
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60000 });
const provider = new MeterProvider({
  resource: new Resource({
    'service.name': process.env.SERVICE || 'otel-app',
    'service.namespace': 'shop',
    'service.instance.id': 'instance-1',
    'deployment.environment': 'test',
  }),
  readers: [reader],
  views: [new View({ instrumentName: 'app.payload.size', aggregation: new ExponentialHistogramAggregation(20) })],
});
metrics.setGlobalMeterProvider(provider);
const meter = metrics.getMeter('pharos-e2e', '1.0.0');

const requests = meter.createCounter('app.requests', { unit: '{request}', description: 'Requests handled' });
const inflight = meter.createUpDownCounter('app.inflight', { description: 'Requests in flight' });
const duration = meter.createHistogram('app.request.duration', {
  unit: 's',
  description: 'Request duration',
  advice: { explicitBucketBoundaries: [0.01, 0.1, 1] },
});
const payload = meter.createHistogram('app.payload.size', { unit: 'By', description: 'Payload size' });
meter
  .createObservableGauge('app.cpu.utilization', { unit: '1', description: 'CPU share' })
  .addCallback((r) => r.observe(0.25, { cpu: '0' }));

for (let i = 0; i < 10; i++) requests.add(1, { route: '/a' });
requests.add(3, { route: '/b' });
inflight.add(5);
inflight.add(-2);
// 4 under 10 ms, 3 in (0.01, 0.1], 2 in (0.1, 1], 1 above.
for (const v of [0.001, 0.002, 0.005, 0.008, 0.02, 0.05, 0.09, 0.2, 0.5, 2]) duration.record(v, { route: '/a' });
for (const v of [100, 200, 400, 800, 1600, 3200]) payload.record(v);

await provider.forceFlush();
await provider.shutdown();
console.log('exported');
