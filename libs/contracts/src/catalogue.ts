import type { z } from 'zod';
import type { DomainEvent, EventDefinition, EventFamily, EventOf } from './event';
import { NODE_EVENTS } from './events/nodes';
import { JOB_EVENTS } from './events/jobs';
import { REWARD_EVENTS } from './events/rewards';
import { SECURITY_EVENTS } from './events/security';
import { type EventMetadata, EventMetadataSchema, ID_PATTERN } from './metadata';

/** Every integration event of WE-AI. */
export const EVENT_CATALOGUE = [...NODE_EVENTS, ...JOB_EVENTS, ...REWARD_EVENTS, ...SECURITY_EVENTS] as const;

type Catalogue = (typeof EVENT_CATALOGUE)[number];

/** Union of every event of WE-AI. */
export type WeaiEvent = EventOf<Catalogue>;
/** Events of each family. */
export type NodesFamilyEvent = EventOf<(typeof NODE_EVENTS)[number]>;
export type JobsFamilyEvent = EventOf<(typeof JOB_EVENTS)[number]>;
export type RewardsFamilyEvent = EventOf<(typeof REWARD_EVENTS)[number]>;
export type SecurityFamilyEvent = EventOf<(typeof SECURITY_EVENTS)[number]>;

/** Every event type name. */
export type WeaiEventType = WeaiEvent['type'];
/** The event with the given type name. */
export type EventOfType<T extends WeaiEventType> = Extract<WeaiEvent, { type: T }>;

type AnyDefinition = EventDefinition<string, z.ZodType>;
const byType = new Map<string, AnyDefinition>(EVENT_CATALOGUE.map((d) => [d.type, d as AnyDefinition]));
if (byType.size !== EVENT_CATALOGUE.length) throw new Error('EVENT_CATALOGUE has two events with one type name');

/** Raised when an event does not match its contract; nothing was written or applied. */
export class EventSchemaError extends Error {
  override readonly name = 'EventSchemaError';
  constructor(
    readonly eventType: string,
    readonly issues: readonly string[],
  ) {
    super(`event ${JSON.stringify(eventType)} does not match its contract: ${issues.join('; ')}`);
  }
}

function describe(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

/** The definition of an event type, or an EventSchemaError naming the unknown type. */
export function definitionOf(type: string): AnyDefinition {
  const def = byType.get(type);
  if (!def) throw new EventSchemaError(type, ['unknown event type']);
  return def;
}

/** True when `type` names an event of the catalogue. */
export function isKnownEventType(type: string): type is WeaiEventType {
  return byType.has(type);
}

/** The current schema version of an event type. */
export function schemaVersionOf(type: string): number {
  return definitionOf(type).version;
}

/** The family (and so the stream) an event type belongs to. */
export function familyOf(type: string): EventFamily {
  return definitionOf(type).family;
}

/** The subject scope token of an event (a node, partner, owner or principal id). */
export function scopeOf(event: WeaiEvent): string {
  const scope = definitionOf(event.type).scope(event.data);
  if (!ID_PATTERN.test(scope)) throw new EventSchemaError(event.type, [`scope ${JSON.stringify(scope)} is not an id`]);
  return scope;
}

/**
 * Validates an event against its contract: a known type, data matching the current schema, complete
 * metadata. Returns the parsed event or throws an EventSchemaError that names every problem.
 */
export function validateEvent(event: unknown): WeaiEvent {
  if (typeof event !== 'object' || event === null) throw new EventSchemaError('(none)', ['event is not an object']);
  const { type, data, metadata } = event as Record<string, unknown>;
  if (typeof type !== 'string') throw new EventSchemaError('(none)', ['type must be a string']);
  const def = definitionOf(type);
  const issues: string[] = [];
  const parsedData = def.schema.safeParse(data);
  if (!parsedData.success) issues.push(...describe(parsedData.error).map((m) => `data.${m}`));
  const parsedMeta = EventMetadataSchema.safeParse(metadata);
  if (!parsedMeta.success) issues.push(...describe(parsedMeta.error).map((m) => `metadata.${m}`));
  if (issues.length > 0 || !parsedData.success || !parsedMeta.success) throw new EventSchemaError(type, issues);
  return { type, data: parsedData.data, metadata: parsedMeta.data } as WeaiEvent;
}

/**
 * Validates only the payload of an event whose metadata was already validated (by the envelope
 * schema of a bus message): one schema pass per event on the hot path of every consumer.
 */
export function validateEventData(type: string, data: unknown, metadata: EventMetadata): WeaiEvent {
  const def = definitionOf(type);
  const parsed = def.schema.safeParse(data);
  if (!parsed.success) throw new EventSchemaError(type, describe(parsed.error).map((m) => `data.${m}`));
  return { type, data: parsed.data, metadata } as WeaiEvent;
}

/**
 * Brings a stored payload of an older schema version up to the current one.
 * Old events are never rewritten: they are upcast every time they are read.
 */
export function upcast(type: string, version: number, data: unknown): unknown {
  return upcastWith(definitionOf(type), version, data);
}

/** Upcasts a payload with one definition's upcasters (exported for tests of new versions). */
export function upcastWith(def: Pick<AnyDefinition, 'type' | 'version' | 'upcasters'>, version: number, data: unknown): unknown {
  if (!Number.isInteger(version) || version < 1 || version > def.version) {
    throw new EventSchemaError(def.type, [`schema version ${version} is not between 1 and ${def.version}`]);
  }
  let current = data;
  for (let v = version; v < def.version; v++) {
    const step = def.upcasters.find((u) => u.from === v);
    if (!step) throw new EventSchemaError(def.type, [`no upcaster from version ${v}`]);
    current = step.up(current);
  }
  return current;
}

/** Narrows a DomainEvent to one of the catalogue's types. */
export function isEventOfType<T extends WeaiEventType>(event: DomainEvent, type: T): event is EventOfType<T> {
  return event.type === type;
}
