import { createHash, randomUUID } from 'node:crypto';
import type { CommandMetadata } from '@weai/eventstore';

/**
 * Command metadata stamped by an adapter. A command that must happen once per cause (an accrual
 * per validated result, a settlement per withdrawal) gets its id from `key`, so deciding it again
 * after a crash or a redelivery yields the same event ids and the store keeps one copy.
 */
export function commandMetadata(now: Date, options: { key?: string; causationId?: string; correlationId?: string } = {}): CommandMetadata {
  const commandId = options.key ? createHash('sha256').update(`weai.rewards:${options.key}`).digest('hex').slice(0, 32) : randomUUID();
  const causationId = (options.causationId ?? commandId).slice(0, 128);
  return { commandId, causationId, correlationId: (options.correlationId ?? causationId).slice(0, 128), now: now.toISOString() };
}
