import type { NatsConnection } from '@nats-io/transport-node';

/** A refused request: `code` says why (e.g. "auth.failed", "bad-request", "node.quarantined"). */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Sends a JSON request to a responder declared with `@OnRequest` and returns its value, or throws RpcError. */
export async function requestJson<T>(nc: NatsConnection, subject: string, body: unknown, timeoutMs = 5000): Promise<T> {
  let msg;
  try {
    msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: timeoutMs });
  } catch (error) {
    const m = (error as Error).message ?? String(error);
    throw new RpcError(/no responders/i.test(m) ? 'unavailable' : 'timeout', `${subject}: ${/no responders/i.test(m) ? 'no service is answering' : m}`);
  }
  const reply = msg.json<{ ok: true; value: T } | { ok: false; error: { code: string; message: string } }>();
  if (!reply.ok) throw new RpcError(reply.error.code, reply.error.message);
  return reply.value;
}
