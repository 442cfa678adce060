export * from './nats';
export * from './codec';
export * from './relay';
export * from './parking';
export * from './consumer';
export * from './projection';
export * from './nest/jetstream.server';
export * from './rpc';
