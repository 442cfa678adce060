import { Controller, Get, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthGuard, CurrentPrincipal, Roles } from '../auth/auth.guard';
import type { OwnerSignIn } from '../auth/owner-sign-in';
import type { Principal, TokenService } from '../auth/tokens';
import { ApiError } from '../http/api-error';
import { JsonBody } from '../http/body';
import { ERROR_RESPONSE, OwnerChallengeBody, OwnerChallengeResponse, OwnerTokenBody, TokenResponse, openApiSchema } from '../http/schemas';
import { OWNER_SIGN_IN, TOKEN_SERVICE } from '../tokens';

const TOO_MANY = { status: 429, description: 'too many attempts from this source; retry after Retry-After seconds', ...ERROR_RESPONSE };

/** Access tokens: partners and operators exchange their API key; owners sign a challenge with their payout address. */
@ApiTags('auth')
@UseGuards(AuthGuard)
@Controller()
export class AuthHttpController {
  constructor(
    @Inject(TOKEN_SERVICE) private readonly tokens: TokenService,
    @Inject(OWNER_SIGN_IN) private readonly owners: OwnerSignIn,
  ) {}

  @Post('v1/auth/token')
  @HttpCode(200)
  @Roles('partner', 'operator')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Exchange a partner or operator API key for a short-lived access token' })
  @ApiResponse({ status: 200, schema: openApiSchema(TokenResponse) })
  @ApiResponse({ status: 401, description: 'missing or wrong API key', ...ERROR_RESPONSE })
  @ApiResponse({ status: 403, description: 'a token cannot be exchanged for another: send the API key', ...ERROR_RESPONSE })
  @ApiResponse(TOO_MANY)
  exchange(@CurrentPrincipal() principal: Principal) {
    // A token that could buy a fresh token would never expire.
    if (principal.via !== 'api-key') throw new ApiError(403, 'forbidden', 'send the API key, not a token: tokens are not renewed with tokens');
    return this.issue(principal);
  }

  @Post('v1/auth/owner/challenge')
  @HttpCode(200)
  @ApiOperation({ summary: 'A one-time message for a node owner to sign with the key of its payout address (EIP-191 personal_sign)' })
  @ApiBody({ schema: openApiSchema(OwnerChallengeBody) })
  @ApiResponse({ status: 200, schema: openApiSchema(OwnerChallengeResponse) })
  @ApiResponse({ status: 400, description: 'not an address', ...ERROR_RESPONSE })
  @ApiResponse(TOO_MANY)
  challenge(@JsonBody(OwnerChallengeBody) body: OwnerChallengeBody) {
    return this.owners.challenge(body.address, new Date());
  }

  @Post('v1/auth/owner/token')
  @HttpCode(200)
  @ApiOperation({ summary: "A node owner's access token, for the signed challenge; each challenge works once" })
  @ApiBody({ schema: openApiSchema(OwnerTokenBody) })
  @ApiResponse({ status: 200, schema: openApiSchema(TokenResponse) })
  @ApiResponse({ status: 400, description: 'malformed body', ...ERROR_RESPONSE })
  @ApiResponse({ status: 401, description: 'the challenge is not ours, expired or used, or the signature is not the address key\'s', ...ERROR_RESPONSE })
  @ApiResponse(TOO_MANY)
  async ownerToken(@JsonBody(OwnerTokenBody) body: OwnerTokenBody) {
    const ownerId = await this.owners.verify(body.challenge, body.signature, new Date());
    return this.issue({ role: 'owner', id: ownerId });
  }

  @Get('.well-known/jwks.json')
  @ApiOperation({ summary: "The public key tokens are signed with (Ed25519, alg EdDSA), for anyone verifying the gateway's tokens" })
  @ApiResponse({ status: 200, description: 'a JSON Web Key Set' })
  jwks() {
    return this.tokens.jwks();
  }

  private issue(principal: Principal) {
    const { token, expiresAt } = this.tokens.issue(principal, new Date());
    return { token, tokenType: 'Bearer', expiresAt: expiresAt.toISOString(), role: principal.role, subject: principal.id };
  }
}
