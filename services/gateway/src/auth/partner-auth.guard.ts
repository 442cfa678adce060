import type { IncomingMessage } from 'node:http';
import { type CanActivate, type ExecutionContext, Inject, Injectable, createParamDecorator } from '@nestjs/common';
import { ApiError } from '../http/api-error';
import { PARTNER_KEYS } from '../tokens';
import type { PartnerKeys } from './partner-keys';

/** Where the guard leaves the authenticated partner on the request. */
const PARTNER = Symbol('weai.partner');
type AuthenticatedRequest = IncomingMessage & { [PARTNER]?: string };

const CHALLENGE = { 'www-authenticate': 'Bearer realm="weai"' };

/**
 * `Authorization: Bearer <apiKey>` → the partner id, for every `/v1` route. The partner a request
 * acts for comes from here only, never from its body.
 */
@Injectable()
export class PartnerAuthGuard implements CanActivate {
  constructor(@Inject(PARTNER_KEYS) private readonly keys: PartnerKeys) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = req.headers.authorization;
    if (!header) throw new ApiError(401, 'unauthorized', 'missing Authorization header: send Authorization: Bearer <API key>', CHALLENGE);
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'the Authorization header must be Bearer <API key>', CHALLENGE);
    const partnerId = this.keys.identify(m[1]!);
    if (!partnerId) throw new ApiError(401, 'unauthorized', 'the API key is not valid', CHALLENGE);
    req[PARTNER] = partnerId;
    return true;
  }
}

/** The authenticated partner's id (set by PartnerAuthGuard). */
export const PartnerId = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const partnerId = ctx.switchToHttp().getRequest<AuthenticatedRequest>()[PARTNER];
  if (!partnerId) throw new ApiError(401, 'unauthorized', 'not authenticated');
  return partnerId;
});
