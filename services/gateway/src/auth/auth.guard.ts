import type { IncomingMessage } from 'node:http';
import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { GatewayConfig } from '../config';
import { ApiError } from '../http/api-error';
import { sourceAddress } from '../http/source';
import { AUTHENTICATOR, GATEWAY_CONFIG, RATE_LIMITERS } from '../tokens';
import type { Authenticator } from './authenticator';
import type { RateDecision, RateLimiter } from './rate-limiter';
import type { Principal, Role } from './tokens';

const ROLES = 'weai:roles';
/** The roles a controller or route is for; a route with none is public (sign-in) and throttled per source. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

/** Where the guard leaves the authenticated principal on the request. */
const PRINCIPAL = Symbol('weai.principal');
type AuthenticatedRequest = IncomingMessage & { [PRINCIPAL]?: Principal };

/** The principal the guard authenticated for this request, if any (for the audit of a refusal). */
export function principalOf(req: IncomingMessage): Principal | undefined {
  return (req as AuthenticatedRequest)[PRINCIPAL];
}

/** The two sets of buckets: per authenticated identity, and per source for sign-in and failed attempts. */
export interface RateLimiters {
  readonly identity: RateLimiter;
  readonly anonymous: RateLimiter;
}

/** A 429 is reported at most this often per throttled key: a flood is one signal, not a flood of events. */
const REPORT_THROTTLE_MS = 10_000;

const article = (role: string) => (/^[aeiou]/.test(role) ? `an ${role}` : `a ${role}`);

/**
 * Every `/v1` route: authenticates the caller (401), limits its rate (429 with Retry-After),
 * and checks its role against the route's (403). A source that keeps failing to authenticate is
 * throttled before its credentials are even looked at, so keys and tokens cannot be guessed at speed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly reported = new Map<string, number>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTHENTICATOR) private readonly auth: Authenticator,
    @Inject(RATE_LIMITERS) private readonly limiters: RateLimiters,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const now = new Date();
    const at = now.getTime();
    const sourceKey = `src:${sourceAddress(req, this.config.trustedProxyHops)}`;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, [ctx.getHandler(), ctx.getClass()]);
    if (!roles) {
      this.throttle(this.limiters.anonymous.take(sourceKey, at), sourceKey, at);
      return true;
    }
    this.throttle(this.limiters.anonymous.peek(sourceKey, at), sourceKey, at);
    let principal: Principal;
    try {
      principal = this.auth.authenticate(req.headers.authorization, now);
    } catch (error) {
      this.limiters.anonymous.take(sourceKey, at);
      throw error;
    }
    req[PRINCIPAL] = principal;
    const identityKey = `${principal.role}:${principal.id}`;
    this.throttle(this.limiters.identity.take(identityKey, at), identityKey, at);
    if (!roles.includes(principal.role)) {
      throw new ApiError(403, 'forbidden', `this route is for ${roles.map((r) => `${r}s`).join(' and ')} only; you are signed in as ${article(principal.role)}`);
    }
    return true;
  }

  private throttle(decision: RateDecision, key: string, at: number): void {
    if (decision.allowed) return;
    const error = new ApiError(429, 'rate-limited', `too many requests: try again in ${decision.retryAfterSeconds} s`, { 'retry-after': String(decision.retryAfterSeconds) });
    const last = this.reported.get(key);
    if (last !== undefined && at - last < REPORT_THROTTLE_MS) error.audited = false;
    else {
      if (this.reported.size > 10_000) this.reported.clear();
      this.reported.set(key, at);
    }
    throw error;
  }
}

/** The authenticated principal (set by AuthGuard). */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = principalOf(ctx.switchToHttp().getRequest<IncomingMessage>());
  if (!principal) throw new ApiError(401, 'unauthorized', 'not authenticated');
  return principal;
});

/** The authenticated partner's id (a route for partners only). */
export const PartnerId = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const principal = principalOf(ctx.switchToHttp().getRequest<IncomingMessage>());
  if (principal?.role !== 'partner') throw new ApiError(403, 'forbidden', 'this route is for partners only');
  return principal.id;
});
