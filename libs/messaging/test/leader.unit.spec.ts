import { FOLLOWER, type LeaseInput, type LeaseState, stepLease } from '../src/leader';

const timing = { ttlMs: 1000, marginMs: 200 };
const run = (inputs: LeaseInput[], from: LeaseState = FOLLOWER) => {
  let state = from;
  const changes: string[] = [];
  for (const input of inputs) {
    const step = stepLease(state, input, timing);
    state = step.state;
    if (step.change) changes.push(step.change.kind === 'elected' ? `elected ${step.change.term}` : `deposed ${step.change.term}: ${step.change.reason}`);
  }
  return { state, changes };
};

describe('lease state machine', () => {
  it('elects on an acquired key, the term being its revision, valid until sentAt + ttl - margin', () => {
    const { state, changes } = run([{ type: 'acquired', revision: 7, sentAt: 100, at: 110 }]);
    expect(state).toEqual({ role: 'leader', term: 7, revision: 7, validUntil: 900 });
    expect(changes).toEqual(['elected 7']);
  });

  it('refuses an acquisition whose answer came after the lease would already be over', () => {
    expect(run([{ type: 'acquired', revision: 7, sentAt: 0, at: 800 }]).state).toEqual(FOLLOWER);
  });

  it('keeps the term across renewals and extends validity from when each renewal was sent', () => {
    const { state, changes } = run([
      { type: 'acquired', revision: 7, sentAt: 0, at: 5 },
      { type: 'renewed', revision: 9, sentAt: 300, at: 310 },
      { type: 'tick', at: 1000 },
      { type: 'renewed', revision: 12, sentAt: 1050, at: 1060 },
    ]);
    expect(state).toEqual({ role: 'leader', term: 7, revision: 12, validUntil: 1850 });
    expect(changes).toEqual(['elected 7']);
  });

  it('deposes itself when no renewal succeeded within ttl - margin, before the server frees the key', () => {
    const { state, changes } = run([
      { type: 'acquired', revision: 7, sentAt: 0, at: 5 },
      { type: 'tick', at: 799 },
      { type: 'tick', at: 800 },
    ]);
    expect(state).toEqual(FOLLOWER);
    expect(changes).toEqual(['elected 7', 'deposed 7: lease not renewed within 800 ms']);
  });

  it('a renewal answered after the deadline does not resurrect the tenure', () => {
    const { state, changes } = run([
      { type: 'acquired', revision: 7, sentAt: 0, at: 5 },
      { type: 'renewed', revision: 8, sentAt: 700, at: 820 },
    ]);
    expect(state).toEqual(FOLLOWER);
    expect(changes).toEqual(['elected 7', 'deposed 7: lease not renewed within 800 ms']);
  });

  it('deposes at once when the revision moved (another holder, or the key expired)', () => {
    const { state, changes } = run([
      { type: 'acquired', revision: 7, sentAt: 0, at: 5 },
      { type: 'refused', at: 100 },
    ]);
    expect(state).toEqual(FOLLOWER);
    expect(changes).toEqual(['elected 7', 'deposed 7: the lease was taken over (its revision moved)']);
  });

  it('releases on request, and a follower ignores renewals, refusals, ticks and releases', () => {
    expect(run([{ type: 'acquired', revision: 3, sentAt: 0, at: 1 }, { type: 'released', at: 2 }]).changes).toEqual(['elected 3', 'deposed 3: released']);
    expect(
      run([
        { type: 'renewed', revision: 4, sentAt: 0, at: 1 },
        { type: 'refused', at: 2 },
        { type: 'tick', at: 3 },
        { type: 'released', at: 4 },
      ]),
    ).toEqual({ state: FOLLOWER, changes: [] });
  });

  it('a new tenure after losing one has a larger term', () => {
    const { changes } = run([
      { type: 'acquired', revision: 7, sentAt: 0, at: 5 },
      { type: 'tick', at: 900 },
      { type: 'acquired', revision: 15, sentAt: 2000, at: 2005 },
    ]);
    expect(changes).toEqual(['elected 7', 'deposed 7: lease not renewed within 800 ms', 'elected 15']);
  });
});
