export * from './partner';
export * from './http';
