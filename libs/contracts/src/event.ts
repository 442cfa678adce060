import type { z } from 'zod';
import type { EventMetadata } from './metadata';

/** The bounded contexts that own event families; each family is one store, one relay and one stream. */
export const EVENT_FAMILIES = ['nodes', 'jobs', 'rewards', 'security'] as const;
/** A family of events owned by one bounded context. */
export type EventFamily = (typeof EVENT_FAMILIES)[number];

/** A domain event as stored and published: a past-tense `type`, its `data`, and metadata. */
export type DomainEvent<Type extends string = string, Data = unknown> = Readonly<{
  /** Stable type name; never derived from a class or file name. */
  type: Type;
  /** The payload, validated by the type's schema. */
  data: Readonly<Data>;
  /** Ids, time and trace context. */
  metadata: EventMetadata;
}>;

/** An upcaster turns the payload of version `from` into the payload of version `from + 1`. */
export type Upcaster = Readonly<{ from: number; up: (data: unknown) => unknown }>;

/** The definition of one event type: its name, family, current schema version and schema. */
export type EventDefinition<Type extends string, Schema extends z.ZodType> = Readonly<{
  /** Stable type name stored with every event. */
  type: Type;
  /** Family, and therefore the stream and subjects the event travels on. */
  family: EventFamily;
  /** Current schema version; stored events of older versions are upcast on read. */
  version: number;
  /** Runtime schema of the current version's payload. */
  schema: Schema;
  /**
   * The subject token that scopes the event (a node id, a partner id, an owner id), so that
   * permissions can grant one party only its own events.
   */
  scope: (data: z.infer<Schema>) => string;
  /** Upcasters from each older version to the next, in order. */
  upcasters: readonly Upcaster[];
}>;

/** Defines an event type. */
export function defineEvent<const Type extends string, Schema extends z.ZodType>(def: {
  type: Type;
  family: EventFamily;
  version?: number;
  schema: Schema;
  scope: (data: z.infer<Schema>) => string;
  upcasters?: readonly Upcaster[];
}): EventDefinition<Type, Schema> {
  return { version: 1, upcasters: [], ...def };
}

/** The event type an event definition describes. */
export type EventOf<D> = D extends EventDefinition<infer T, infer S> ? DomainEvent<T, z.infer<S>> : never;
