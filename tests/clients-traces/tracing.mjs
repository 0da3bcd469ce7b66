// The CrewAI monitoring guide's src/monitoring/tracing.ts ("Distributed Tracing" in monitoring-guide.md) as
// written, with only the TypeScript type annotations removed so Node runs it directly.
// One addition: TRACE_EXPORTER picks the exporter the CrewAI monitoring guide lists as alternatives (Jaeger is
// the CrewAI monitoring guide's; OTLP/HTTP, OTLP/gRPC and Zipkin read their documented env vars
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_ZIPKIN_ENDPOINT).
import { NodeSDK } from '@opentelemetry/sdk-node';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { JaegerExporter } from '@opentelemetry/exporter-jaeger';
import { OTLPTraceExporter as OTLPHttpExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { Resource } from '@opentelemetry/resources';
import { SemanticResourceAttributes } from '@opentelemetry/semantic-conventions';

const jaegerExporter = new JaegerExporter({
  endpoint: process.env.JAEGER_ENDPOINT || 'http://localhost:14268/api/traces',
});

const exporters = {
  jaeger: () => jaegerExporter,
  'otlp-http': () => new OTLPHttpExporter(),
  'otlp-grpc': () => new OTLPGrpcExporter(),
  zipkin: () => new ZipkinExporter(),
};

const sdk = new NodeSDK({
  resource: new Resource({
    [SemanticResourceAttributes.SERVICE_NAME]: 'crewai-api',
    [SemanticResourceAttributes.SERVICE_VERSION]: process.env.APP_VERSION,
  }),
  traceExporter: exporters[process.env.TRACE_EXPORTER || 'jaeger'](),
  instrumentations: [
    getNodeAutoInstrumentations({
      '@opentelemetry/instrumentation-fs': {
        enabled: false,
      },
    }),
  ],
});

sdk.start();

// Manual tracing
import { trace, context, SpanStatusCode } from '@opentelemetry/api';

const tracer = trace.getTracer('crewai-api');

export function traceAsync(
  name,
  fn,
  attributes
) {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      if (attributes) {
        span.setAttributes(attributes);
      }
      
      const result = await fn();
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error.message,
      });
      span.recordException(error);
      throw error;
    } finally {
      span.end();
    }
  });
}

// Usage example
export async function processEmail(email) {
  return traceAsync('email.process', async () => {
    const span = trace.getActiveSpan();
    span?.setAttributes({
      'email.id': email.id,
      'email.workflow': email.workflow,
      'email.priority': email.priority,
    });
    
    // Process email...
  });
}

export { sdk, context };
