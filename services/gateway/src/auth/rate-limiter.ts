import type { RateLimit } from '../config';

/** Whether a request may go ahead, and if not, after how many seconds one token will be there. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  /** Milliseconds (the caller's clock) of the last refill. */
  at: number;
}

/**
 * Token buckets, one per key (an identity, or a pseudonymised source): `burst` requests at once,
 * refilled at `perSecond`. Time is passed in, so the limiter is a pure state machine. Buckets
 * live in this process: each replica limits on its own (see docs/http-security.md). Full buckets
 * carry no information and are dropped when the map grows past `maxKeys`, so a flood of new
 * keys costs bounded memory.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes one token from `key`'s bucket at `nowMs`. */
  take(key: string, nowMs: number): RateDecision {
    const bucket = this.refill(key, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.perSecond)) };
  }

  /** Whether `key` has a token left, without taking one. */
  peek(key: string, nowMs: number): RateDecision {
    const bucket = this.refill(key, nowMs);
    return bucket.tokens >= 1 ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.perSecond)) };
  }

  /** Keys tracked now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, nowMs: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.sweep(nowMs);
      bucket = { tokens: this.limit.burst, at: nowMs };
      this.buckets.set(key, bucket);
      return bucket;
    }
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, nowMs - bucket.at) / 1000;
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + elapsed * this.limit.perSecond);
    bucket.at = Math.max(bucket.at, nowMs);
    return bucket;
  }

  /** Drops the buckets that have refilled; if none has, the half created first. */
  private sweep(nowMs: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (Math.max(0, nowMs - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(key);
    }
    if (this.buckets.size < this.maxKeys) return;
    let drop = Math.ceil(this.buckets.size / 2);
    for (const key of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}
