/**
 * Starts OpenTelemetry tracing for one process (a service or a node agent).
 *
 * It lives here rather than in `@weai/runtime` because the node agent starts it too and the agent
 * carries only contracts, tensors and messaging (no NestJS; see deploy/agent/Dockerfile);
 * `@weai/runtime` re-exports it for the services.
 */
import { diag, DiagLogLevel } from '@opentelemetry/api';

/** A process's telemetry: on when an OTLP endpoint is configured. */
export interface Telemetry {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  /** The `service.name` spans are exported under. */
  readonly serviceName: string;
  /** Exports the spans still queued and stops; call on shutdown. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set
 * (and `OTEL_SDK_DISABLED` is not `true`): a NodeTracerProvider with W3C trace-context
 * propagation, AsyncLocalStorage context, and a BatchSpanProcessor sending OTLP/HTTP JSON to that
 * endpoint (the exporter reads the headers, timeout and compression variables itself). Spans are
 * named by `OTEL_SERVICE_NAME`, else `defaultName`; sampling follows `OTEL_TRACES_SAMPLER`
 * (default: parent-based, always on).
 *
 * Otherwise nothing is registered and the OpenTelemetry API stays a no-op: no context is
 * propagated through this process and no span costs anything.
 */
export function startTelemetry(defaultName: string, env: NodeJS.ProcessEnv = process.env, onError: (message: string) => void = (m) => process.stderr.write(`telemetry: ${m}\n`)): Telemetry {
  const serviceName = env['OTEL_SERVICE_NAME'] || defaultName;
  const tracesEndpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if ((!tracesEndpoint && !endpoint) || env['OTEL_SDK_DISABLED'] === 'true') return { enabled: false, serviceName, shutdown: async () => undefined };
  // As the OTLP specification says: the signal-specific URL as given, the base URL with /v1/traces.
  const url = tracesEndpoint || `${endpoint!.replace(/\/+$/, '')}/v1/traces`;
  // Export failures (the collector is down) are reported once per message, not per batch (at most
  // 100 different ones), and never thrown.
  const seen = new Set<string>();
  const report = (m: string) => {
    if (seen.has(m) || seen.size >= 100) return;
    seen.add(m);
    onError(m);
  };
  diag.setLogger(
    {
      error: report,
      warn: report,
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  // The SDK is loaded only when tracing is on: it costs some 100 ms of module loading at boot, which
  // a process without an endpoint (and every user of this package's other modules) should not pay.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { BatchSpanProcessor, NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.namespace': 'weai', 'process.pid': process.pid }),
    // Spans are queued and sent in batches off the hot path; a full queue drops spans, never blocks.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: Number(env['OTEL_BSP_SCHEDULE_DELAY']) || 1000 })],
  });
  provider.register();
  return {
    enabled: true,
    serviceName,
    async shutdown() {
      await provider.shutdown().catch((error: unknown) => onError(`flushing spans failed: ${(error as Error).message}`));
    },
  };
}
