import type { WeaiEvent } from '@weai/contracts';
import { type EventStore, deterministicEventId } from '@weai/eventstore';
import { type Observation, auditEventOf } from '../domain/audit';
import type { RegistryReader } from './registry.reader';

/** Stream of the audit events about one principal. */
export const toAuditStreamId = (principalId: string) => `audit-${principalId}`;

/** Appends AuthenticationFailed and AccessDenied events for what the server reported. */
export class AuditRecorder {
  constructor(
    private readonly store: EventStore,
    private readonly registry: RegistryReader,
  ) {}

  /**
   * Records one observation. `sourceId` names where it came from (advisory id, log file offset): the
   * event id derives from it, so seeing the same advisory or line again records nothing new.
   */
  async record(observation: Observation, sourceId: string, now: Date): Promise<WeaiEvent> {
    const { principalOfNkey } = await this.registry.current();
    const decided = auditEventOf(observation, principalOfNkey);
    const id = deterministicEventId(`audit:${sourceId}`, 0);
    const event = { ...decided, metadata: { eventId: id, correlationId: id, causationId: id, occurredAt: now.toISOString() } } as WeaiEvent;
    await this.store.append(toAuditStreamId(decided.data.principalId), [event], 'any');
    return event;
  }
}
