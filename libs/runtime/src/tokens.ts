/** DI token of the service's EventStore. */
export const EVENT_STORE = Symbol('EVENT_STORE');
/** DI token of the service's NATS/JetStream Bus. */
export const BUS = Symbol('BUS');
/** DI token of the service's read-model TypeORM DataSource. */
export const READ_MODEL = Symbol('READ_MODEL');
/** DI token of the ServiceConfig. */
export const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');
/** DI token of the clock adapters use to stamp commands (domain code never reads it). */
export const CLOCK = Symbol('CLOCK');

/** The clock port: the only source of "now" for a service. */
export interface Clock {
  now(): Date;
}
