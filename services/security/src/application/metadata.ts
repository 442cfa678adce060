import { randomUUID } from 'node:crypto';
import type { CommandMetadata } from '@weai/eventstore';

/** Command metadata; a stable `commandId` makes a redelivered request append nothing new. */
export function commandMetadata(now: Date, commandId: string = randomUUID()): CommandMetadata {
  return { commandId, causationId: commandId, correlationId: commandId, now: now.toISOString() };
}
