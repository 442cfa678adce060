import { type Decider, fold } from './decider';

type ErrorCheck = (new (...args: never[]) => Error) | ((error: unknown) => boolean);

/**
 * given/when/then specifications for deciders, in the shape of Emmett's DeciderSpecification:
 *
 * ```ts
 * const spec = DeciderSpecification.for(jobDecider);
 * spec.given([submitted]).when(cancel).then([cancelled]);
 * spec.given([cancelled]).when(cancel).thenThrows(DomainError, /already cancelled/);
 * ```
 * `then` compares with Jest's `toEqual`-like deep equality and throws with both sides printed.
 */
export const DeciderSpecification = {
  for<C, E, S>(decider: Decider<C, E, S>) {
    return {
      given(events: readonly E[]) {
        return {
          when(command: C) {
            const run = () => decider.decide(command, fold(decider, events));
            return {
              then(expected: readonly E[]): void {
                const actual = run();
                if (!deepEqual(actual, expected)) {
                  throw new Error(`expected events:\n${show(expected)}\nbut got:\n${show(actual)}`);
                }
              },
              thenThrows(check?: ErrorCheck, message?: RegExp): void {
                let thrown: unknown;
                try {
                  const events = run();
                  throw new SpecNotThrown(events);
                } catch (error) {
                  if (error instanceof SpecNotThrown) {
                    throw new Error(`expected an error but got events:\n${show(error.events)}`, { cause: error });
                  }
                  thrown = error;
                }
                if (check && !matches(check, thrown)) throw new Error(`unexpected error: ${String(thrown)}`);
                if (message && !(thrown instanceof Error && message.test(thrown.message))) {
                  throw new Error(`error message ${JSON.stringify(String(thrown))} does not match ${message}`);
                }
              },
            };
          },
        };
      },
    };
  },
};

class SpecNotThrown {
  constructor(readonly events: readonly unknown[]) {}
}

function matches(check: ErrorCheck, error: unknown): boolean {
  if (check.prototype instanceof Error || check === Error) return error instanceof (check as new () => Error);
  return (check as (e: unknown) => boolean)(error);
}

function show(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Structural equality of plain data (events are plain JSON-like data). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
