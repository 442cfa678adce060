/**
 * Trace context across NATS: W3C `traceparent`/`tracestate` in message headers and in event
 * metadata, and the spans the messaging adapters open around the work a message causes.
 *
 * Everything here goes through `@opentelemetry/api` only. Until a process starts telemetry
 * (`startTelemetry`, when an OTLP endpoint is configured) the API is a no-op: nothing is
 * injected or extracted, no span is recorded, and these helpers cost a few function calls.
 */
import { type Attributes, type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type TextMapGetter, type TextMapSetter, context, propagation, trace } from '@opentelemetry/api';
import type { MsgHdrs } from '@nats-io/transport-node';

export { ROOT_CONTEXT, SpanKind };

/** The tracer of WE-AI's own spans (one instrumentation scope for all of them). */
export function tracer() {
  return trace.getTracer('weai');
}

/** The W3C trace-context fields, as event metadata and headers carry them. */
export interface TraceFields {
  /** W3C `traceparent`. */
  readonly traceparent?: string;
  /** W3C `tracestate`. */
  readonly tracestate?: string;
}

const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (h) => (h ? h.keys() : []),
  get: (h, key) => h?.get(key) || undefined,
};
const headerSetter: TextMapSetter<MsgHdrs> = { set: (h, key, value) => h.set(key, value) };
const fieldsGetter: TextMapGetter<TraceFields> = {
  keys: (f) => Object.keys(f),
  get: (f, key) => (key === 'traceparent' ? f.traceparent : key === 'tracestate' ? f.tracestate : undefined),
};

/** Writes the trace context of `ctx` (default: the active one) into NATS headers; nothing when there is none. */
export function injectTrace(headers: MsgHdrs, ctx: Context = context.active()): void {
  if (!trace.getSpanContext(ctx)) return;
  propagation.inject(ctx, headers, headerSetter);
}

/**
 * The trace context a message carries, or undefined when it carries none (or telemetry is off).
 * Read onto the root context, never the active one, so a message without a context is never taken
 * for part of whatever trace happens to be active where it is handled.
 */
export function extractTrace(headers: MsgHdrs | undefined): Context | undefined {
  if (!headers) return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** The trace context of an event's metadata, or undefined when it has none. */
export function contextOfFields(fields: TraceFields): Context | undefined {
  if (!fields.traceparent) return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, fields, fieldsGetter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** The active trace context as metadata fields (`{}` when there is none), for commands and events. */
export function currentTraceFields(ctx: Context = context.active()): TraceFields {
  if (!trace.getSpanContext(ctx)) return {};
  const carrier: { traceparent?: string; tracestate?: string } = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent, ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}) } : {};
}

/** The trace id in a `traceparent`, for log lines. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.split('-')[1];
}

/** The trace id of the active span, if any, for log lines. */
export function activeTraceId(): string | undefined {
  return trace.getSpanContext(context.active())?.traceId;
}

/** Marks the active span (if any) as failed, for work that fails without throwing (a failure reported as a result). */
export function markActiveSpanFailed(reason: string): void {
  trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: reason });
}

/** How `inSpan` starts its span. */
export interface SpanOptions {
  /** SERVER for a request handled, CLIENT for one sent, CONSUMER for a message handled. */
  readonly kind: SpanKind;
  /** The parent; default the active context. */
  readonly parent?: Context;
  /** Attributes set at the start (OpenTelemetry semantic conventions where one fits, `weai.*` else). */
  readonly attributes?: Attributes;
}

/**
 * Runs `work` inside a new span (the active one while it runs, so what it sends carries it on),
 * records a thrown error on it and ends it when `work` settles.
 */
export async function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind, ...(options.attributes ? { attributes: options.attributes } : {}) }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
    throw error;
  } finally {
    span.end();
  }
}
