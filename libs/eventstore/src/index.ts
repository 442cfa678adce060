export * from './port';
export * from './append-rules';
export * from './catch-up';
export * from './command-handler';
export { openSqlEventStore, type SqlEventStoreConfig } from './sql/sql-event-store';
export { EsdbEventStore } from './esdb/esdb-event-store';
export { openEventStore, eventStoreConfigFromEnv, type EventStoreConfig } from './config';
export { openStoredLog, type StoredEventRow, type StoredLog } from './audit';
