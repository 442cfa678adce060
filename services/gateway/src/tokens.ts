/** DI token of the GatewayConfig. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
/** DI token of the gateway's NATS/JetStream Bus. */
export const GATEWAY_BUS = Symbol('GATEWAY_BUS');
/** DI token of the ContentStore (the `weai-objects` bucket). */
export const CONTENT_STORE = Symbol('CONTENT_STORE');
/** DI token of the PartnerKeys. */
export const PARTNER_KEYS = Symbol('PARTNER_KEYS');
