export const CONTENT_STORE = Symbol('CONTENT_STORE');
export const JOB_STATUS_KV = Symbol('JOB_STATUS_KV');
