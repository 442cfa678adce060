import { type Decider, DeciderSpecification, DomainError, assertNever, fold } from '../src';

// A tiny decider used only to specify the specification helper itself.
type Cmd = { type: 'Open' } | { type: 'Close' };
type Evt = { type: 'Opened' } | { type: 'Closed' };
type State = { status: 'new' } | { status: 'open' } | { status: 'closed' };

const door: Decider<Cmd, Evt, State> = {
  initialState: () => ({ status: 'new' }),
  decide(cmd, state) {
    switch (cmd.type) {
      case 'Open':
        if (state.status === 'open') throw new DomainError('already open', 'door.open');
        return [{ type: 'Opened' }];
      case 'Close':
        if (state.status !== 'open') throw new DomainError('not open', 'door.not-open');
        return [{ type: 'Closed' }];
      default:
        return assertNever(cmd, 'command');
    }
  },
  evolve(_state, event) {
    switch (event.type) {
      case 'Opened':
        return { status: 'open' };
      case 'Closed':
        return { status: 'closed' };
      default:
        return assertNever(event, 'event');
    }
  },
};

const spec = DeciderSpecification.for(door);

describe('DeciderSpecification', () => {
  it('passes when the decided events are the expected ones', () => {
    spec.given([]).when({ type: 'Open' }).then([{ type: 'Opened' }]);
    spec.given([{ type: 'Opened' }]).when({ type: 'Close' }).then([{ type: 'Closed' }]);
  });

  it('passes when the expected error is thrown', () => {
    spec.given([{ type: 'Opened' }]).when({ type: 'Open' }).thenThrows(DomainError, /already open/);
    spec.given([]).when({ type: 'Close' }).thenThrows((e) => e instanceof DomainError && e.code === 'door.not-open');
  });

  it('fails when the events differ, showing both', () => {
    expect(() => spec.given([]).when({ type: 'Open' }).then([{ type: 'Closed' }])).toThrow(/expected events:[\s\S]*Closed[\s\S]*but got:[\s\S]*Opened/);
  });

  it('fails when an error was expected but events came', () => {
    expect(() => spec.given([]).when({ type: 'Open' }).thenThrows(DomainError)).toThrow(/expected an error but got events/);
  });

  it('fails when the error is of another kind or says something else', () => {
    expect(() => spec.given([{ type: 'Opened' }]).when({ type: 'Open' }).thenThrows(TypeError)).toThrow(/unexpected error/);
    expect(() => spec.given([{ type: 'Opened' }]).when({ type: 'Open' }).thenThrows(DomainError, /closed/)).toThrow(/does not match/);
  });

  it('folds events from the initial state', () => {
    expect(fold(door, [{ type: 'Opened' }, { type: 'Closed' }])).toEqual({ status: 'closed' });
  });
});
