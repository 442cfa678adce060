import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { SpanKind, activeTraceId, inSpan, injectTrace } from './tracing';

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

/**
 * Sends a JSON request to a responder declared with `@OnRequest` and returns its value, or throws
 * RpcError. `spanName` names its CLIENT span: the request without the principal token of a subject
 * such as `weai.rpc.jobs.submit.<partnerId>`, so that span names stay few.
 */
export async function requestJson<T>(nc: NatsConnection, subject: string, body: unknown, timeoutMs = 5000, spanName = subject): Promise<T> {
  // Inside a trace (an HTTP request in the gateway, a shard in an agent) the request is a CLIENT
  // span whose context travels in the `traceparent` header; outside one it is sent as before.
  if (activeTraceId() === undefined) return request<T>(nc, subject, body, timeoutMs);
  return inSpan(spanName, { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'nats', 'messaging.destination.name': subject } }, () => {
    const headers = natsHeaders();
    injectTrace(headers);
    return request<T>(nc, subject, body, timeoutMs, headers);
  });
}

async function request<T>(nc: NatsConnection, subject: string, body: unknown, timeoutMs: number, headers?: MsgHdrs): Promise<T> {
  let msg;
  try {
    msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: timeoutMs, ...(headers ? { headers } : {}) });
  } catch (error) {
    const m = (error as Error).message ?? String(error);
    throw new RpcError(/no responders/i.test(m) ? 'unavailable' : 'timeout', `${subject}: ${/no responders/i.test(m) ? 'no service is answering' : m}`);
  }
  const reply = msg.json<{ ok: true; value: T } | { ok: false; error: { code: string; message: string } }>();
  if (!reply.ok) throw new RpcError(reply.error.code, reply.error.message);
  return reply.value;
}
