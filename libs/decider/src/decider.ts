/**
 * A decider: the pure heart of an aggregate. `decide` turns a command and the current state into
 * the events that record what happened (or throws a domain error); `evolve` folds an event into
 * state. No I/O, no clock, no random ids: time and ids arrive on the command.
 */
export interface Decider<Command, Event, State> {
  /** Returns the events a command produces in the given state, or throws a domain error. */
  decide(command: Command, state: State): readonly Event[];
  /** Applies one event to the state. */
  evolve(state: State, event: Event): State;
  /** The state of an aggregate that has no events yet. */
  initialState(): State;
}

/** Folds events into state, from the decider's initial state. */
export function fold<C, E, S>(decider: Decider<C, E, S>, events: Iterable<E>, from: S = decider.initialState()): S {
  let state = from;
  for (const event of events) state = decider.evolve(state, event);
  return state;
}

/** A rule a domain rejected a command for; the message is meant for the caller. */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  constructor(
    message: string,
    /** Stable machine-readable code, e.g. "job.already-cancelled". */
    readonly code: string,
  ) {
    super(message);
  }
}

/** Exhaustiveness check for `switch` statements over tagged unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
