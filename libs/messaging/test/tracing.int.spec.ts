import 'reflect-metadata';
import { Controller, Injectable, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Payload } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { WeaiEvent } from '@weai/contracts';
import { type Decided, withMetadata } from '@weai/eventstore';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';
import { type Bus, JetStreamServer, OnJetStreamEvents, OnRequest, connectBus, ensureStreams, requestJson } from '../src';
import { type TestNatsServer, startNatsServer } from '../src/testing/nats-server';
import { publishAsRelay } from '../src/testing/publish';
import { eventually } from '../src/testing/streams';
import { contextOfFields, currentTraceFields, extractTrace, inSpan, injectTrace, tracer } from '../src/tracing';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

@Injectable()
class Seen {
  readonly handled: Array<{ type: string; traceId: string | undefined; parentSpanId: string | undefined }> = [];
}

@Controller()
class TracedController {
  constructor(private readonly seen: Seen) {}

  /** Decides an event in the request's span, as a command handler does, and returns it. */
  @OnRequest('test.rpc.decide')
  decide(@Payload() body: { nodeId: string }): WeaiEvent {
    const decided = [{ type: 'NodeCameOnline', data: { nodeId: body.nodeId, at: '2026-11-25T10:00:00.000Z' } }] as Decided[];
    return withMetadata(decided, { commandId: `c-${body.nodeId}`, correlationId: 'corr-1', causationId: 'cause-1', now: '2026-11-25T10:00:00.000Z' })[0]!;
  }

  @OnJetStreamEvents({ durable: 'test-traced', types: ['NodeCameOnline'] })
  handle(@Payload() e: WeaiEvent) {
    const span = trace.getActiveSpan() as unknown as ReadableSpan | undefined;
    this.seen.handled.push({ type: e.type, traceId: span?.spanContext().traceId, parentSpanId: span ? parentOf(span) : undefined });
  }
}

@Module({ controllers: [TracedController], providers: [Seen] })
class TestModule {}

describe('trace context over NATS (request/reply, events, durable consumers)', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let app: INestMicroservice;

  beforeAll(async () => {
    provider.register();
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'tracing-test' });
    await ensureStreams(bus.jsm);
    app = await NestFactory.createMicroservice(TestModule, { strategy: new JetStreamServer(bus), logger: false });
    await app.listen();
  });
  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await nats?.stop();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('puts the active span in headers and metadata, and reads it back; adds nothing outside a span', async () => {
    expect(currentTraceFields()).toEqual({});
    const empty = natsHeaders();
    injectTrace(empty);
    expect(empty.keys()).toEqual([]);
    expect(extractTrace(undefined)).toBeUndefined();
    expect(contextOfFields({})).toBeUndefined();

    await inSpan('outer', { kind: SpanKind.INTERNAL }, async (span) => {
      const { traceId, spanId } = span.spanContext();
      const fields = currentTraceFields();
      expect(fields.traceparent).toBe(`00-${traceId}-${spanId}-01`);
      const h = natsHeaders();
      injectTrace(h);
      expect(h.get('traceparent')).toBe(fields.traceparent);
      expect(trace.getSpanContext(extractTrace(h)!)).toMatchObject({ traceId, spanId, isRemote: true });
      expect(trace.getSpanContext(contextOfFields(fields)!)).toMatchObject({ traceId, spanId });
      // A message without a context is not taken for part of the active trace.
      expect(extractTrace(natsHeaders())).toBeUndefined();
    });
  });

  it('follows one trace from a request through the responder, the event it decides and the consumer of that event', async () => {
    exporter.reset();
    let root!: { traceId: string; spanId: string };
    const event = await tracer().startActiveSpan('caller', async (span) => {
      root = span.spanContext();
      try {
        return await requestJson<WeaiEvent>(bus.nc, 'test.rpc.decide', { nodeId: 'traced-1' });
      } finally {
        span.end();
      }
    });
    const [client] = named('test.rpc.decide').filter((s) => s.kind === SpanKind.CLIENT);
    const [server] = named('test.rpc.decide').filter((s) => s.kind === SpanKind.SERVER);
    expect(client && server).toBeTruthy();
    expect(client!.spanContext().traceId).toBe(root.traceId);
    expect(parentOf(client!)).toBe(root.spanId);
    expect(server!.spanContext().traceId).toBe(root.traceId);
    expect(parentOf(server!)).toBe(client!.spanContext().spanId);
    // The event decided in the responder carries the responder's span.
    expect(event.metadata.traceparent).toBe(`00-${root.traceId}-${server!.spanContext().spanId}-01`);

    // The relay copies it into the headers; the consumer handles it in a child span. An event
    // without trace context is handled too, without a span.
    await publishAsRelay(bus, event);
    await publishAsRelay(bus, nodeCameOnline('untraced-1'));
    const seen = app.get(Seen);
    await eventually(async () => seen.handled.length >= 2, 'both events handled', 20_000);
    await eventually(async () => named('test-traced process').length > 0, 'the consumer span', 5000);
    const consumer = named('test-traced process')[0]!;
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(consumer.spanContext().traceId).toBe(root.traceId);
    expect(parentOf(consumer)).toBe(server!.spanContext().spanId);
    expect(consumer.attributes).toMatchObject({ 'messaging.consumer.group.name': 'test-traced', 'weai.event.type': 'NodeCameOnline' });
    expect(seen.handled[0]).toEqual({ type: 'NodeCameOnline', traceId: root.traceId, parentSpanId: server!.spanContext().spanId });
    expect(seen.handled[1]).toEqual({ type: 'NodeCameOnline', traceId: undefined, parentSpanId: undefined });
    expect(named('test-traced process')).toHaveLength(1);
  });

  it('starts a trace at the responder for a request that carries none', async () => {
    exporter.reset();
    const event = await requestJson<WeaiEvent>(bus.nc, 'test.rpc.decide', { nodeId: 'root-1' });
    const [server] = named('test.rpc.decide');
    expect(server!.kind).toBe(SpanKind.SERVER);
    expect(parentOf(server!)).toBeUndefined();
    expect(event.metadata.traceparent).toBe(`00-${server!.spanContext().traceId}-${server!.spanContext().spanId}-01`);
  });
});
