/** DI token of the service's projection runners. */
export const PROJECTIONS = Symbol('PROJECTIONS');
/** DI token of the number of rejected results after which a node is quarantined. */
export const QUARANTINE_AFTER = Symbol('QUARANTINE_AFTER');
