import { randomUUID } from 'node:crypto';
import { type AppendRequest, IdempotencyConflictError, WrongExpectedRevisionError, decideAppend, deterministicEventId } from '../src';
import { someEvents } from '../src/testing/fixtures';

const request = (expected: AppendRequest['expected'], events = someEvents(2)): AppendRequest => ({ streamId: 's', events, expected });
const ids = (req: AppendRequest) => req.events.map((e) => e.metadata.eventId);

describe('decideAppend', () => {
  it('given a new stream, when appending with no_stream, then it writes from revision 0', () => {
    expect(decideAppend(request('no_stream'), -1, new Map())).toEqual({ kind: 'write', firstRevision: 0 });
  });

  it('given a stream at revision 4, when appending expecting 4, then it writes from 5', () => {
    expect(decideAppend(request(4), 4, new Map())).toEqual({ kind: 'write', firstRevision: 5 });
  });

  it('given a stream at revision 4, when appending expecting 3, then it refuses with the actual revision', () => {
    expect(() => decideAppend(request(3), 4, new Map())).toThrow(WrongExpectedRevisionError);
    expect(() => decideAppend(request('no_stream'), 0, new Map())).toThrow(/is at revision 0/);
    expect(() => decideAppend(request('stream_exists'), -1, new Map())).toThrow(/\(none\)/);
  });

  it('given the same events already stored in order, when re-sent, then it answers as the first time without writing', () => {
    const req = request('no_stream');
    const stored = new Map(ids(req).map((id, i) => [id, { streamId: 's', revision: 7 + i, position: 40 + i }]));
    expect(decideAppend(req, 8, stored)).toEqual({ kind: 'already-written', result: { nextExpectedRevision: 8, position: 41 } });
  });

  it('given only some ids stored, or stored elsewhere, then it refuses as a conflict', () => {
    const req = request('any');
    const [first, second] = ids(req) as [string, string];
    expect(() => decideAppend(req, 3, new Map([[first, { streamId: 's', revision: 3, position: 9 }]]))).toThrow(IdempotencyConflictError);
    const elsewhere = new Map([
      [first, { streamId: 'other', revision: 0, position: 1 }],
      [second, { streamId: 'other', revision: 1, position: 2 }],
    ]);
    expect(() => decideAppend(req, 3, elsewhere)).toThrow(/not as this append in this stream/);
  });
});

describe('deterministicEventId', () => {
  it('derives the same UUID from the same command and index, and different ones otherwise', () => {
    const cmd = randomUUID();
    expect(deterministicEventId(cmd, 0)).toBe(deterministicEventId(cmd, 0));
    expect(deterministicEventId(cmd, 0)).not.toBe(deterministicEventId(cmd, 1));
    expect(deterministicEventId(cmd, 0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
