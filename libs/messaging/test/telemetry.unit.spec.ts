import { context, propagation, trace } from '@opentelemetry/api';
import { startTelemetry } from '../src/telemetry';

describe('startTelemetry: on only with an OTLP endpoint', () => {
  it('registers nothing without an endpoint, or when the SDK is disabled', async () => {
    for (const env of [{}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' }]) {
      const telemetry = startTelemetry('weai-test', env);
      expect(telemetry).toMatchObject({ enabled: false, serviceName: 'weai-test' });
      // The API stays the no-op one: spans record nothing.
      expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
      await telemetry.shutdown();
    }
  });

  it('is named by OTEL_SERVICE_NAME over the default', () => {
    expect(startTelemetry('weai-test', { OTEL_SERVICE_NAME: 'scheduler-eu-1' }).serviceName).toBe('scheduler-eu-1');
  });

  it('records spans once an endpoint is set, and stops on shutdown', async () => {
    const telemetry = startTelemetry('weai-test', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces' }, () => undefined);
    try {
      expect(telemetry.enabled).toBe(true);
      // Not ended, so nothing is exported: a unit test does no I/O.
      expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(true);
    } finally {
      await telemetry.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });
});
