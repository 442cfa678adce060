import type { NatsConnection } from '@nats-io/transport-node';
import { type Capabilities, type Heartbeat, NODE_RPC, heartbeatSubject, ownerRequestSubject } from '@weai/contracts';
import { type NodeIdentity, signRequest } from './identity';

/** The control plane refused a request; `code` says why ("auth.failed", "node.payout-change", …). */
export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(nc: NatsConnection, subject: string, body: unknown): Promise<T> {
  let reply;
  try {
    reply = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: 10_000 });
  } catch (error) {
    throw new ControlPlaneError('unavailable', `the control plane did not answer on ${subject}: ${(error as Error).message}`);
  }
  const parsed = reply.json<{ ok: true; value: T } | { ok: false; error: { code: string; message: string } }>();
  if (!parsed.ok) throw new ControlPlaneError(parsed.error.code, parsed.error.message);
  return parsed.value;
}

/** The agent's side of the node protocol. */
export class ControlPlane {
  constructor(
    private readonly nc: NatsConnection,
    private readonly identity: NodeIdentity,
  ) {}

  /** Registers (or re-registers: same key, same node) and returns the node's id. */
  register(payoutAddress: string, now: Date): Promise<{ nodeId: string; ownerId: string }> {
    return request(this.nc, NODE_RPC.register, signRequest(this.identity, { kind: 'register', payoutAddress, issuedAt: now.toISOString() }));
  }

  /** Reports capabilities; the reply lists the capability classes the node serves. */
  reportCapabilities(nodeId: string, capabilities: Omit<Capabilities, 'capabilityClasses'>, now: Date): Promise<{ capabilityClasses: string[] }> {
    // The classes are derived by the control plane; the agent sends a placeholder the schema accepts.
    const payload = { kind: 'capabilities', nodeId, capabilities: { ...capabilities, capabilityClasses: ['cpu.generic'] }, issuedAt: now.toISOString() };
    return request(this.nc, NODE_RPC.capabilities, signRequest(this.identity, payload));
  }

  /** The owner's WEBI balance at the rewards service (base units, 10^-18 WEBI, as decimal strings). */
  balance(ownerId: string): Promise<{ available: string; inFlight: string }> {
    return request(this.nc, ownerRequestSubject('balance', ownerId), { ownerId });
  }

  /** Publishes one heartbeat (fire and forget: the telemetry stream keeps the last one per node). */
  heartbeat(hb: Heartbeat): void {
    this.nc.publish(heartbeatSubject(hb.nodeId), new TextEncoder().encode(JSON.stringify(hb)));
  }
}
