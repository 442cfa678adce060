export * from './leaf';
export * from './merkle';
export * from './log';
export * from './manifest';
export * from './anchoring';
export * from './verify';
