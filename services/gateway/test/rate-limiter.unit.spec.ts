import { RateLimiter } from '../src/auth/rate-limiter';

describe('rate limiter (token bucket per key)', () => {
  it('given a full bucket, when burst requests arrive at once, then all pass and the next is refused with the wait', () => {
    const limiter = new RateLimiter({ burst: 3, perSecond: 0.5 });
    for (let i = 0; i < 3; i++) expect(limiter.take('a', 0)).toEqual({ allowed: true });
    expect(limiter.take('a', 0)).toEqual({ allowed: false, retryAfterSeconds: 2 });
  });

  it('refills at the configured rate, never past the burst', () => {
    const limiter = new RateLimiter({ burst: 2, perSecond: 10 });
    limiter.take('a', 0);
    limiter.take('a', 0);
    expect(limiter.take('a', 50).allowed).toBe(false);
    expect(limiter.take('a', 100).allowed).toBe(true);
    expect(limiter.take('a', 100_000).allowed).toBe(true);
    expect(limiter.take('a', 100_000).allowed).toBe(true);
    expect(limiter.take('a', 100_000).allowed).toBe(false);
  });

  it('keeps one bucket per key: one identity exhausted does not slow another', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 1 });
    expect(limiter.take('partner:a', 0).allowed).toBe(true);
    expect(limiter.take('partner:a', 0).allowed).toBe(false);
    expect(limiter.take('partner:b', 0).allowed).toBe(true);
  });

  it('peek does not take a token', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 1 });
    expect(limiter.peek('a', 0).allowed).toBe(true);
    expect(limiter.peek('a', 0).allowed).toBe(true);
    limiter.take('a', 0);
    expect(limiter.peek('a', 0)).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills nothing when the clock steps back', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 1 });
    limiter.take('a', 10_000);
    expect(limiter.take('a', 0).allowed).toBe(false);
    expect(limiter.take('a', 11_000).allowed).toBe(true);
  });

  it('bounds its memory: past maxKeys, refilled buckets go first, then the oldest half', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 1 }, 4);
    for (const k of ['a', 'b', 'c', 'd']) limiter.take(k, 0);
    limiter.take('e', 0);
    expect(limiter.size).toBeLessThanOrEqual(4);
    for (const k of ['f', 'g', 'h']) limiter.take(k, 10_000);
    expect(limiter.size).toBeLessThanOrEqual(4);
    // A drained key still remembered is still refused.
    expect(limiter.take('h', 10_000).allowed).toBe(false);
  });
});
