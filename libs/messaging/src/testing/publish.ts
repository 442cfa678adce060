import { randomUUID } from 'node:crypto';
import type { WeaiEvent } from '@weai/contracts';
import type { RecordedEvent } from '@weai/eventstore';
import { encodeEvent } from '../codec';
import type { Bus } from '../nats';

let position = 0;

/** Publishes an event to its family stream as the relay would, without a store (consumer tests). */
export async function publishAsRelay(bus: Bus, event: WeaiEvent, streamId = `test-${randomUUID()}`): Promise<RecordedEvent> {
  const recorded: RecordedEvent = { ...event, streamId, revision: 0, position: ++position, schemaVersion: 1, recordedAt: new Date().toISOString() };
  const { subject, body, headers } = encodeEvent('nodes', recorded);
  await bus.js.publish(subject, body, { headers, msgID: event.metadata.eventId });
  return recorded;
}
