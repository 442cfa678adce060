export * from './config';
export * from './tokens';
export * from './event-sourcing.module';
export * from './bootstrap';
export * from './boot-wait';
export * from './leadership';
export * from './metrics';
export { startTelemetry, type Telemetry } from '@weai/messaging';
