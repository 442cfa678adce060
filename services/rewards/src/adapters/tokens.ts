/** DI token of the service's projection runners. */
export const PROJECTIONS = Symbol('PROJECTIONS');
