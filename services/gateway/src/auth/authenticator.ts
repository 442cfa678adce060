import { ApiError } from '../http/api-error';
import type { ApiKeys } from './partner-keys';
import { type Principal, TokenError, type TokenService } from './tokens';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="weai"' };

/** A 401: missing, malformed, forged or expired credentials; `claimedId` feeds the audit only. */
export class AuthenticationError extends ApiError {
  constructor(
    message: string,
    readonly claimedId?: string,
  ) {
    super(401, 'unauthorized', message, CHALLENGE);
  }
}

/**
 * `Authorization: Bearer <credential>` → the principal. The credential is a partner's or an
 * operator's API key, or an access token this gateway issued (any role). A token for an id whose
 * API key has since been removed from the configuration is refused: removing a key revokes the
 * tokens it was exchanged for.
 */
export class Authenticator {
  constructor(
    private readonly partners: ApiKeys,
    private readonly operators: ApiKeys,
    private readonly tokens: TokenService,
  ) {}

  authenticate(header: string | undefined, now: Date): Principal {
    if (!header) throw new AuthenticationError('missing Authorization header: send Authorization: Bearer <API key or token>');
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) throw new AuthenticationError('the Authorization header must be Bearer <API key or token>');
    const credential = m[1]!;
    const partnerId = this.partners.identify(credential);
    if (partnerId) return { role: 'partner', id: partnerId, via: 'api-key' };
    const operatorId = this.operators.identify(credential);
    if (operatorId) return { role: 'operator', id: operatorId, via: 'api-key' };
    if (!credential.includes('.')) throw new AuthenticationError('the API key is not valid');
    let principal: Principal;
    try {
      principal = this.tokens.verify(credential, now);
    } catch (error) {
      if (error instanceof TokenError) throw new AuthenticationError(error.message, error.claimedSubject);
      throw error;
    }
    if ((principal.role === 'partner' && !this.partners.knows(principal.id)) || (principal.role === 'operator' && !this.operators.knows(principal.id))) {
      throw new AuthenticationError(`the token's ${principal.role} is no longer allowed in`, principal.id);
    }
    return principal;
  }
}
