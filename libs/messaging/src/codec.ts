import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import {
  EVENT_HEADERS,
  EventEnvelopeSchema,
  type EventEnvelope,
  type EventFamily,
  type WeaiEvent,
  eventSubject,
  scopeOf,
  upcast,
  validateEventData,
} from '@weai/contracts';
import type { RecordedEvent } from '@weai/eventstore';

/** A message that is not a valid WE-AI event; it is parked, never retried. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/** An event received from JetStream, validated against its contract. */
export interface ReceivedEvent {
  /** The event, upcast to the current schema version. */
  readonly event: WeaiEvent;
  /** Its stream, revision and position in the store it came from. */
  readonly envelope: EventEnvelope;
  /** JetStream stream sequence. */
  readonly streamSequence: number;
  /** How many times JetStream delivered it (1 = first time). */
  readonly deliveryCount: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The subject, body and headers the relay publishes for one recorded event. */
export function encodeEvent(family: EventFamily, recorded: RecordedEvent): { subject: string; body: Uint8Array; headers: MsgHdrs } {
  const event = { type: recorded.type, data: recorded.data, metadata: recorded.metadata } as WeaiEvent;
  const envelope: EventEnvelope = {
    type: recorded.type,
    schemaVersion: recorded.schemaVersion,
    streamId: recorded.streamId,
    revision: recorded.revision,
    position: recorded.position,
    data: recorded.data,
    metadata: recorded.metadata,
  };
  const h = natsHeaders();
  h.set(EVENT_HEADERS.position, String(recorded.position));
  h.set(EVENT_HEADERS.type, recorded.type);
  if (recorded.metadata.traceparent) h.set(EVENT_HEADERS.traceparent, recorded.metadata.traceparent);
  if (recorded.metadata.tracestate) h.set(EVENT_HEADERS.tracestate, recorded.metadata.tracestate);
  return { subject: eventSubject(family, scopeOf(event), recorded.type), body: encoder.encode(JSON.stringify(envelope)), headers: h };
}

/** Decodes and validates an event message, or throws MalformedMessageError saying why. */
export function decodeEvent(msg: Pick<JsMsg, 'data' | 'seq' | 'info'>): ReceivedEvent {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(msg.data));
  } catch {
    throw new MalformedMessageError(`message ${msg.seq} is not JSON`);
  }
  const parsed = EventEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new MalformedMessageError(`message ${msg.seq} is not an event envelope: ${issues}`);
  }
  const envelope = parsed.data;
  let event: WeaiEvent;
  try {
    event = validateEventData(envelope.type, upcast(envelope.type, envelope.schemaVersion, envelope.data), envelope.metadata);
  } catch (error) {
    throw new MalformedMessageError(`message ${msg.seq}: ${(error as Error).message}`);
  }
  return { event, envelope, streamSequence: msg.seq, deliveryCount: msg.info.deliveryCount };
}
