import { createHash, randomUUID } from 'node:crypto';
import type { CommandMetadata } from '@weai/eventstore';
import { currentTraceFields } from '@weai/messaging';

/**
 * Command metadata stamped by an adapter. A command caused by a message gets a command id
 * derived from what caused it, so handling a redelivered message decides the same events with
 * the same ids and the store keeps one copy. It carries the trace context of the span it is made
 * in (none outside one), taken here because the job repository decides queued commands together.
 */
export function commandMetadata(now: Date, causationId?: string, correlationId?: string): CommandMetadata {
  const commandId = causationId ? createHash('sha256').update(causationId).digest('hex').slice(0, 32) : randomUUID();
  const { traceparent, tracestate } = currentTraceFields();
  return { commandId, causationId: (causationId ?? commandId).slice(0, 128), correlationId: (correlationId ?? causationId ?? commandId).slice(0, 128), now: now.toISOString(), traceparent, tracestate };
}
