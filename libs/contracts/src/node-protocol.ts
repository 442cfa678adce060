/**
 * What agents send the control plane, outside the event log:
 * - signed requests (register, report capabilities) on `weai.rpc.nodes.*`, answered by the nodes service;
 * - heartbeats on `weai.hb.<nodeId>`: high-volume telemetry, kept by the WEAI_TELEMETRY stream
 *   (one per node, limited age), never in the event store.
 */
import { z } from 'zod';
import { CapabilitiesSchema } from './events/nodes';
import { isCapabilityClass } from './capabilities';
import { Id, Timestamp } from './metadata';

/** Request subjects of the nodes service (core NATS request/reply, queue group `nodes`). */
export const NODE_RPC = {
  register: 'weai.rpc.nodes.register',
  capabilities: 'weai.rpc.nodes.capabilities',
  quarantine: 'weai.rpc.nodes.quarantine',
  release: 'weai.rpc.nodes.release',
  list: 'weai.rpc.nodes.list',
  stats: 'weai.rpc.nodes.stats',
} as const;

/** An Ethereum address, checksummed or not. */
export const EthAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address');

/** The payload a node signs to register: who pays, and when it was signed (replays expire). */
export const RegisterPayloadSchema = z
  .object({
    kind: z.literal('register'),
    /** Where the owner's rewards are paid. */
    payoutAddress: EthAddress,
    /** When the agent signed it; the service refuses stale requests. */
    issuedAt: Timestamp,
  })
  .strict();

/** The payload a node signs to report its capabilities. */
export const CapabilitiesPayloadSchema = z
  .object({ kind: z.literal('capabilities'), nodeId: Id, capabilities: CapabilitiesSchema, issuedAt: Timestamp })
  .strict();

/** A request signed with the node's Ed25519 (nkey) private key. */
export const SignedRequestSchema = z
  .object({
    /** The node's public nkey ("U…"). */
    publicKey: z.string().regex(/^U[A-Z2-7]{55}$/, 'must be a NATS user public nkey'),
    /** The signed bytes: the JSON payload, base64. */
    payload: z.string().max(64 * 1024),
    /** Ed25519 signature of the payload bytes, base64. */
    signature: z.string().max(256),
  })
  .strict();
export type SignedRequest = z.infer<typeof SignedRequestSchema>;

/** The reply to every node RPC. */
export type RpcReply<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

/** One heartbeat: live telemetry from a node. */
export const HeartbeatSchema = z
  .object({
    nodeId: Id,
    /** Agent clock when sent (informational; liveness uses the receiver's clock). */
    sentAt: Timestamp,
    /** Whether the owner's policy lets the node take work right now. */
    allowsWork: z.boolean(),
    /** Why not, when it does not (e.g. "game.exe is using the GPU"). */
    reason: z.string().max(256).optional(),
    /** Shards being run now. */
    activeShards: z.number().int().nonnegative().max(64),
    /** Shards it can run at once. */
    slots: z.number().int().positive().max(64),
    gpus: z
      .array(
        z
          .object({
            uuid: z.string().max(64),
            utilizationPct: z.number().min(0).max(100),
            vramFreeMb: z.number().nonnegative(),
            temperatureC: z.number().min(-50).max(150),
            powerDrawW: z.number().nonnegative().optional(),
          })
          .strict(),
      )
      .max(16),
  })
  .strict();
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/**
 * Enrolment of a node's key on the bus (`SECURITY_RPC.enrolNode`, gateway → security): the owner,
 * authenticated by the gateway, asks for a node credential for the public key its agent printed.
 * The node id, credential id and inbox prefix all derive from the key (`nodeIdOf`).
 */
export const NodeEnrolmentSchema = z
  .object({
    /** The node's public nkey ("U…"), as `weai-agent init` prints it; the seed never leaves the node. */
    publicKey: z.string().regex(/^U[A-Z2-7]{55}$/, 'must be a NATS user public nkey (U…)'),
    /** The capability classes whose shards the node may pull (what `weai-agent init` prints). */
    capabilityClasses: z
      .array(z.string().refine(isCapabilityClass, 'must be a capability class such as cpu.generic or cuda.sm86.vram8'))
      .min(1)
      .max(64),
  })
  .strict();
export type NodeEnrolment = z.infer<typeof NodeEnrolmentSchema>;

/** What the gateway sends on `SECURITY_RPC.enrolNode`: the owner's enrolment and who that owner is. */
export const NodeEnrolmentRequestSchema = NodeEnrolmentSchema.extend({
  /** The owner the gateway authenticated (its opaque id, never the payout address): recorded on the credential. */
  ownerId: Id,
}).strict();
export type NodeEnrolmentRequest = z.infer<typeof NodeEnrolmentRequestSchema>;

/** Revocation of an enrolled node's credential (`SECURITY_RPC.revokeNode`, gateway → security). */
export const NodeRevocationSchema = z
  .object({
    /** The node whose credential is revoked (`nodeIdOf` its key). */
    nodeId: Id,
    /** Why, for the record (`CredentialRevoked.reason`), e.g. "machine stolen". */
    reason: z.string().min(1).max(512),
    /**
     * The owner asking, when the gateway did not find the node registered to it: the credential is
     * revoked only if this owner enrolled it, and otherwise refused as unknown (`credential.unknown`),
     * so another owner's node id is never confirmed. Absent: the gateway checked the ownership itself.
     */
    ownerId: Id.optional(),
  })
  .strict();
export type NodeRevocation = z.infer<typeof NodeRevocationSchema>;

/** The answer to an enrolment: where the node's replies arrive and what it may pull. No secret: the node holds its seed. */
export interface EnrolledNode {
  /** The id the node registers as: `nodeIdOf(publicKey)`. */
  readonly nodeId: string;
  /** The node's bus credential, `node-<nodeId>` (what operators revoke). */
  readonly credentialId: string;
  /** The enrolled public nkey. */
  readonly publicKey: string;
  /** Where the node's replies must arrive: `_INBOX.<nodeId>` (the agent uses it). */
  readonly inboxPrefix: string;
  /** The classes whose shards the credential lets the node pull, sorted. */
  readonly capabilityClasses: readonly string[];
}
