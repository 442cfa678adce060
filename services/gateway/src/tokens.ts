/** DI token of the GatewayConfig. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
/** DI token of the gateway's NATS/JetStream Bus. */
export const GATEWAY_BUS = Symbol('GATEWAY_BUS');
/** DI token of the ContentStore (the `weai-objects` bucket). */
export const CONTENT_STORE = Symbol('CONTENT_STORE');
/** DI token of the PartnerKeys. */
export const PARTNER_KEYS = Symbol('PARTNER_KEYS');
/** DI token of the Authenticator. */
export const AUTHENTICATOR = Symbol('AUTHENTICATOR');
/** DI token of the RateLimiters. */
export const RATE_LIMITERS = Symbol('RATE_LIMITERS');
/** DI token of the TokenService. */
export const TOKEN_SERVICE = Symbol('TOKEN_SERVICE');
/** DI token of the DenialReporter. */
export const DENIALS = Symbol('DENIALS');
/** DI token of the KV bucket of object grants. */
export const GRANTS_KV = Symbol('GRANTS_KV');
/** DI token of the KV bucket of used owner challenges. */
export const CHALLENGES_KV = Symbol('CHALLENGES_KV');
/** DI token of the OwnerSignIn. */
export const OWNER_SIGN_IN = Symbol('OWNER_SIGN_IN');
/** DI token of the gateway's read-model DataSource (its projections). */
export const GATEWAY_READ_MODEL = Symbol('GATEWAY_READ_MODEL');
/** DI token of the gateway's projection runners. */
export const PROJECTION_RUNNERS = Symbol('PROJECTION_RUNNERS');
