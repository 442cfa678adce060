import { EventPattern, MessagePattern, Server, BaseRpcContext, type CustomTransportStrategy } from '@nestjs/microservices';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { type Observable, lastValueFrom, throwError } from 'rxjs';
import { EVENT_SUBJECT_PREFIX, type EventFamily, type WeaiEventType, familyOf, streamOfFamily } from '@weai/contracts';
import { type ReceivedEvent, decodeEvent } from '../codec';
import { type RunningConsumer, runDurableConsumer } from '../consumer';
import type { Bus } from '../nats';
import { ROOT_CONTEXT, SpanKind, activeTraceId, extractTrace, inSpan, traceIdOf } from '../tracing';

/** How one `@OnJetStreamEvents` handler consumes. */
export interface JetStreamHandlerOptions {
  /** Durable consumer name, unique per handler; replicas of a service share it. */
  readonly durable: string;
  /** Event types handled; all must belong to one family. Others on the family's stream are acknowledged and skipped. */
  readonly types: readonly WeaiEventType[];
  /** Deliveries before a failing event is parked; default 5. */
  readonly maxDeliver?: number;
  /** Lease per delivery, extended while the handler runs; default 30 s. */
  readonly ackWaitMs?: number;
  /** Events handled at once; default 1 (in stream order). */
  readonly concurrency?: number;
}

/** The context a handler can take with `@Ctx()`: the raw message and the decoded event. */
export class JetStreamContext extends BaseRpcContext<[JsMsg, ReceivedEvent]> {
  get message(): JsMsg {
    return this.args[0];
  }
  get received(): ReceivedEvent {
    return this.args[1];
  }
}

/**
 * Marks a controller method as the handler of some event types, consumed from JetStream through
 * a durable pull consumer. The method gets the validated event as `@Payload()`.
 */
export function OnJetStreamEvents(options: JetStreamHandlerOptions): MethodDecorator {
  const families = new Set(options.types.map((t) => familyOf(t)));
  if (families.size !== 1) throw new Error(`handler ${options.durable}: event types must belong to one family`);
  return EventPattern(options.durable, { jetstream: options }) as MethodDecorator;
}

/**
 * Lets errors reach the transport unchanged, so that a coded error (a domain rule, a failed
 * authentication) is answered with its code instead of Nest's generic "Internal server error".
 * Registered globally by the service runtime.
 */
@Catch()
export class PassThroughRpcErrors implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/** Marks a controller method as the responder to requests on a core NATS subject (queue group per service). */
export function OnRequest(subject: string, options: { queue?: string } = {}): MethodDecorator {
  return MessagePattern(subject, { rpc: { subject, queue: options.queue } }) as MethodDecorator;
}

/** The context of a request handler: the raw request message. */
export class RequestContext extends BaseRpcContext<[Msg]> {
  get message(): Msg {
    return this.args[0];
  }
}

/**
 * The principal a request is about, for requests sent to `<request>.<principalId>`: the subject's
 * last token. NATS permissions let a partner or an owner publish only to its own, so the subject,
 * not the body, says whose data the request may touch; a body naming another principal (`named`)
 * is refused as a bad request.
 */
export function requestPrincipal(ctx: RequestContext, named: string): string {
  const principal = subjectPrincipal(ctx);
  if (principal !== named) throw Object.assign(new Error(`the request names ${JSON.stringify(named)} but was sent on ${ctx.message.subject}`), { code: 'bad-request' });
  return principal;
}

/** The last token of a request's subject: the principal of `<request>.<principalId>` subjects. */
export function subjectPrincipal(ctx: RequestContext): string {
  const subject = ctx.message.subject;
  return subject.slice(subject.lastIndexOf('.') + 1);
}

/** An error whose `code` is meant for the requester (DomainError, authentication failures, bad input). */
interface CodedError {
  readonly code: string;
  readonly message: string;
}

function toReplyError(error: unknown): CodedError {
  const e = error as { code?: unknown; name?: string; message?: string };
  if (typeof e?.code === 'string') return { code: e.code, message: e.message ?? String(error) };
  if (e?.name === 'ZodError' || e?.name === 'EventSchemaError') return { code: 'bad-request', message: e.message ?? 'bad request' };
  return { code: 'internal', message: 'internal error' };
}

/**
 * ` correlationId=… traceId=…` of an event message, for the log line of a failure (rare: the
 * message is decoded again only then). Empty when the message is no event.
 */
function correlation(msg: JsMsg): string {
  try {
    const { metadata } = decodeEvent(msg).event;
    const traceId = traceIdOf(metadata.traceparent);
    return ` correlationId=${metadata.correlationId}${traceId ? ` traceId=${traceId}` : ''}`;
  } catch {
    return '';
  }
}

/**
 * A NestJS transport strategy for JetStream: Nest's own NATS transport speaks core NATS only.
 * Each handler becomes a durable consumer (explicit acks, in-progress acks, parking).
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  private readonly consumers: RunningConsumer[] = [];
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly bus: Bus) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      for (const [pattern, handler] of this.messageHandlers) {
        const rpc = (handler.extras as { rpc?: { subject: string; queue?: string } } | undefined)?.rpc;
        if (rpc) {
          this.subscriptions.push(this.respond(rpc.subject, rpc.queue ?? 'weai', handler));
          continue;
        }
        const options = (handler.extras as { jetstream?: JetStreamHandlerOptions } | undefined)?.jetstream;
        if (!options) continue;
        const family = familyOf(options.types[0]!) as EventFamily;
        const only = options.types.length === 1 ? options.types[0] : undefined;
        const consumer = await runDurableConsumer<ReceivedEvent>({
          js: this.bus.js,
          jsm: this.bus.jsm,
          stream: streamOfFamily(family),
          durable: options.durable,
          filterSubject: `${EVENT_SUBJECT_PREFIX}.${family}.*.${only ?? '*'}`,
          decode: decodeEvent,
          maxDeliver: options.maxDeliver,
          ackWaitMs: options.ackWaitMs,
          concurrency: options.concurrency,
          skip: (received) => !options.types.includes(received.event.type),
          handler: async (received, msg) => {
            const result = await handler(received.event, new JetStreamContext([msg, received]));
            await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
          },
          onError: (error, msg) => this.logger.error(`${pattern}: ${(error as Error).message ?? String(error)}${correlation(msg)}`),
          onParked: (msg, reason) => this.logger.warn(`${pattern}: parked message ${msg.seq}: ${reason}${correlation(msg)}`),
        });
        this.consumers.push(consumer);
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /**
   * Answers requests: the body is JSON, the reply `{ ok: true, value }` or `{ ok: false, error: { code, message } }`.
   * Errors without a code are logged and answered as "internal error", so nothing internal leaks.
   */
  private respond(subject: string, queue: string, handler: (data: unknown, ctx: RequestContext) => unknown): Subscription {
    const encoder = new TextEncoder();
    return this.bus.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) return;
        void (async () => {
          let reply: unknown;
          let traceId: string | undefined;
          try {
            let body: unknown;
            try {
              body = msg.json();
            } catch {
              throw Object.assign(new Error('request body is not JSON'), { code: 'bad-request' });
            }
            // Every request is handled in a SERVER span: the child of the requester's span when the
            // request carries one, else the root of a new trace (a partner's SDK submitting a job).
            const parent = extractTrace(msg.headers);
            const attributes = { 'rpc.system': 'nats', 'messaging.destination.name': subject };
            // Named after the request, without the principal token of `<request>.*` patterns: few span names.
            const value = await inSpan(subject.replace(/\.\*$/, ''), { kind: SpanKind.SERVER, attributes, parent: parent ?? ROOT_CONTEXT }, async () => {
              traceId = activeTraceId();
              return lastValueFrom(this.transformToObservable(await handler(body, new RequestContext([msg]))), { defaultValue: undefined });
            });
            reply = { ok: true, value: value ?? null };
          } catch (error) {
            const coded = toReplyError(error);
            if (coded.code === 'internal') this.logger.error(`${subject}: ${(error as Error)?.stack ?? String(error)}${traceId ? ` traceId=${traceId}` : ''}`);
            reply = { ok: false, error: coded };
          }
          if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
        })();
      },
    });
  }

  async close(): Promise<void> {
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
    await Promise.all(this.consumers.splice(0).map((c) => c.stop()));
  }

  on(): void {
    // JetStream connection events are handled by the Bus owner.
  }

  unwrap<T>(): T {
    return this.bus as T;
  }
}
