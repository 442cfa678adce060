import {
  EVENT_CATALOGUE,
  EventSchemaError,
  NodeCameOnline,
  type WeaiEvent,
  eventSubject,
  familyOf,
  scopeOf,
  streamOfFamily,
  upcast,
  upcastWith,
  validateEvent,
} from '../src';

const metadata = {
  eventId: '7d9f8c52-4c1f-4a53-9d0b-3c3f0e6f1a10',
  correlationId: 'req-1',
  causationId: 'req-1',
  occurredAt: '2026-11-25T10:00:00.000Z',
};

describe('event catalogue', () => {
  it('gives every event a unique, past-tense type name and a family', () => {
    const types = EVENT_CATALOGUE.map((d) => d.type);
    expect(new Set(types).size).toBe(types.length);
    for (const t of types) expect(t).toMatch(/^[A-Z][A-Za-z]+(ed|Online|Offline|Available|Unavailable|Denied|Recorded)$/);
    expect(familyOf('JobSubmitted')).toBe('jobs');
    expect(familyOf('NodeQuarantined')).toBe('nodes');
    expect(familyOf('WithdrawalSettled')).toBe('rewards');
    expect(familyOf('AccessDenied')).toBe('security');
  });

  it('accepts a valid event and returns it parsed', () => {
    const event = { type: 'NodeCameOnline', data: { nodeId: 'n-1', at: '2026-11-25T10:00:00.000Z' }, metadata };
    expect(validateEvent(event)).toEqual(event);
  });

  it('names every field that breaks the contract', () => {
    const bad = { type: 'NodeCameOnline', data: { nodeId: 'n 1', extra: true }, metadata: { ...metadata, eventId: 'x' } };
    expect(() => validateEvent(bad)).toThrow(EventSchemaError);
    try {
      validateEvent(bad);
    } catch (e) {
      const issues = (e as EventSchemaError).issues.join('\n');
      expect(issues).toMatch(/data\.nodeId/);
      expect(issues).toMatch(/data\.at/);
      expect(issues).toMatch(/extra/);
      expect(issues).toMatch(/metadata\.eventId/);
    }
  });

  it('refuses unknown types and non-objects', () => {
    expect(() => validateEvent({ type: 'NodeExploded', data: {}, metadata })).toThrow(/unknown event type/);
    expect(() => validateEvent('NodeCameOnline')).toThrow(/not an object/);
    expect(() => validateEvent({ data: {}, metadata })).toThrow(/type must be a string/);
  });

  it('keeps money as integer strings: no floats, no negatives', () => {
    const accrued = (amount: string) => ({
      type: 'RewardAccrued',
      data: { ownerId: 'o', nodeId: 'n', jobId: 'j', shardId: 's', amount, platformFee: '0' },
      metadata,
    });
    expect(() => validateEvent(accrued('1000000000000000000000'))).not.toThrow();
    for (const bad of ['1.5', '-1', '01', '1e3', '']) expect(() => validateEvent(accrued(bad))).toThrow(/data\.amount/);
  });

  it('scopes subjects by the party that may read them', () => {
    const event = { type: 'JobCompleted', data: { jobId: 'j1', partnerId: 'p7', outputHash: 'a'.repeat(64), shardCount: 3 }, metadata } as WeaiEvent;
    expect(scopeOf(event)).toBe('p7');
    expect(eventSubject('jobs', scopeOf(event), event.type)).toBe('weai.evt.jobs.p7.JobCompleted');
    expect(streamOfFamily('jobs')).toBe('WEAI_JOBS');
  });
});

describe('upcasting', () => {
  // A hypothetical third version of NodeCameOnline: v2 renamed `at` to `since`, v3 added `source`.
  const v3 = {
    type: 'NodeCameOnline',
    version: 3,
    upcasters: [
      { from: 1, up: (d: unknown) => { const { at, ...rest } = d as { at: string }; return { ...rest, since: at }; } },
      { from: 2, up: (d: unknown) => ({ ...(d as object), source: 'heartbeat' }) },
    ],
  };

  it('given a v1 payload, when read by v3 code, then it is brought up step by step', () => {
    expect(upcastWith(v3, 1, { nodeId: 'n', at: 't' })).toEqual({ nodeId: 'n', since: 't', source: 'heartbeat' });
    expect(upcastWith(v3, 3, { nodeId: 'n', since: 't', source: 'x' })).toEqual({ nodeId: 'n', since: 't', source: 'x' });
  });

  it('refuses versions it does not know', () => {
    expect(() => upcastWith(v3, 4, {})).toThrow(/schema version 4 is not between 1 and 3/);
    expect(() => upcastWith({ ...v3, upcasters: [] }, 1, {})).toThrow(/no upcaster from version 1/);
    expect(() => upcast('NodeCameOnline', 0, {})).toThrow(EventSchemaError);
    expect(upcast('NodeCameOnline', NodeCameOnline.version, { a: 1 })).toEqual({ a: 1 });
  });
});
