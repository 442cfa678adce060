import { z } from 'zod';
import { defineEvent } from '../event';
import { Id, Timestamp } from '../metadata';

/** A GPU as the agent detected it. */
export const GpuSchema = z
  .object({
    /** Marketing name reported by the driver, e.g. "NVIDIA GeForce RTX 3080". */
    model: z.string().min(1).max(128),
    /** Total memory in MiB. */
    vramMb: z.number().int().nonnegative(),
    /** CUDA compute capability, e.g. "8.6". */
    computeCapability: z.string().regex(/^\d+\.\d+$/),
    /** NVIDIA driver version. */
    driverVersion: z.string().max(32),
    /** Highest CUDA version the driver supports. */
    cudaVersion: z.string().max(32),
  })
  .strict();

/** What a node can run. */
export const CapabilitiesSchema = z
  .object({
    /** Operating system family. */
    os: z.enum(['linux', 'windows', 'darwin']),
    /** CPU instruction-set flags that matter for inference, e.g. ["avx2"]. */
    cpuFlags: z.array(z.string().max(32)).max(64),
    /** GPUs found; empty for a CPU-only node. */
    gpus: z.array(GpuSchema).max(16),
    /** ONNX Runtime execution providers that actually loaded; "cpu" is always present. */
    executionProviders: z.array(z.enum(['cuda', 'cpu'])).min(1),
    /** Reference-model throughput, higher is faster; the unit is fixed by the reference model. */
    benchmarkScore: z.number().positive().finite(),
    /** Capability classes derived from the above, e.g. ["cuda.sm86.vram8", "cpu.avx2"]. */
    capabilityClasses: z.array(z.string().regex(/^[a-z0-9]+(\.[a-z0-9]+)*$/)).min(1).max(64),
  })
  .strict();

const scope = (d: { nodeId: string }) => d.nodeId;
const family = 'nodes' as const;

export const NodeRegistered = defineEvent({
  type: 'NodeRegistered',
  family,
  schema: z
    .object({
      /** Opaque node id, derived from the node's public key. */
      nodeId: Id,
      /** The node's Ed25519 public key (NATS nkey, "U..." form). */
      publicKey: z.string().regex(/^U[A-Z2-7]{55}$/),
      /** Opaque id of the owner account that is paid for this node's work. */
      ownerId: Id,
      /**
       * On-chain address the owner is paid at. A chain address is a pseudonym that every payout
       * publishes anyway; no name, e-mail or IP ever enters an event.
       */
      payoutAddress: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    })
    .strict(),
  scope,
});

export const NodeCapabilitiesReported = defineEvent({
  type: 'NodeCapabilitiesReported',
  family,
  schema: z.object({ nodeId: Id, capabilities: CapabilitiesSchema }).strict(),
  scope,
});

export const NodeCameOnline = defineEvent({
  type: 'NodeCameOnline',
  family,
  schema: z.object({ nodeId: Id, at: Timestamp }).strict(),
  scope,
});

export const NodeWentOffline = defineEvent({
  type: 'NodeWentOffline',
  family,
  schema: z.object({ nodeId: Id, lastSeenAt: Timestamp }).strict(),
  scope,
});

export const NodeBecameAvailable = defineEvent({
  type: 'NodeBecameAvailable',
  family,
  schema: z.object({ nodeId: Id }).strict(),
  scope,
});

export const NodeBecameUnavailable = defineEvent({
  type: 'NodeBecameUnavailable',
  family,
  schema: z.object({ nodeId: Id, reason: z.string().min(1).max(256) }).strict(),
  scope,
});

export const NodeQuarantined = defineEvent({
  type: 'NodeQuarantined',
  family,
  schema: z.object({ nodeId: Id, reason: z.string().min(1).max(512), by: Id }).strict(),
  scope,
});

export const NodeReleased = defineEvent({
  type: 'NodeReleased',
  family,
  schema: z.object({ nodeId: Id, reason: z.string().min(1).max(512), by: Id }).strict(),
  scope,
});

export const NodeStrikeRecorded = defineEvent({
  type: 'NodeStrikeRecorded',
  family,
  schema: z
    .object({
      nodeId: Id,
      /** Why: a result of this node was rejected by validation. */
      reason: z.string().min(1).max(512),
      /** The shard whose result was rejected. */
      shardId: Id,
      /** Strikes so far, this one included. */
      strikes: z.number().int().positive(),
    })
    .strict(),
  scope,
});

export const NODE_EVENTS = [
  NodeRegistered,
  NodeCapabilitiesReported,
  NodeCameOnline,
  NodeWentOffline,
  NodeBecameAvailable,
  NodeBecameUnavailable,
  NodeQuarantined,
  NodeReleased,
  NodeStrikeRecorded,
] as const;
