import { type Decider, DomainError, assertNever, deepEqual } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import { type JobEvent, type JobSpec, type JobState, type ReplicaResult, type ShardState, evolveJob, initialJobState, shardCountOf } from './job';

type Meta = { readonly metadata: CommandMetadata };

/** A result as the results handler saw it; agreement and trust are worked out before deciding. */
export interface ResultReport {
  readonly shardIndex: number;
  readonly replica: number;
  readonly attempt: number;
  readonly nodeId: string;
  /** Earlier replicas of this shard reported by nodes of this node's owner (from the node directory). */
  readonly sameOwnerAs: readonly number[];
  readonly outputHash: string;
  readonly computeMs: number;
  /** Earlier replicas of this shard whose outputs agree with this one within the job's tolerance. */
  readonly agreesWith: readonly number[];
  /** Whether the node has a long enough record of valid results to be trusted alone. */
  readonly nodeTrusted: boolean;
  /** A uniform draw in [0, 1) for the spot check, drawn by the caller (domain code draws nothing). */
  readonly spotCheckDraw: number;
  /** The node is quarantined: its result is not used, and the replica is run again elsewhere. */
  readonly nodeQuarantined?: boolean;
}

export type JobCommand =
  | ({ type: 'SubmitJob'; data: { jobId: string; partnerId: string; spec: JobSpec; /** Drawn by the caller (domain code draws nothing): see JobSubmitted. */ leaseSecret?: string } } & Meta)
  | ({ type: 'RecordResult'; data: ResultReport } & Meta)
  | ({ type: 'RecordFailure'; data: { shardIndex: number; replica: number; attempt: number; nodeId?: string; reason: string; retryable: boolean } } & Meta)
  | ({ type: 'CompleteJob'; data: { outputHash: string } } & Meta)
  | ({ type: 'CancelJob'; data: { reason: string; by: string } } & Meta)
  | ({ type: 'FailJob'; data: { reason: string } } & Meta);

type Decided = Omit<JobEvent, 'metadata'>;

/** Attempts at one replica (lease expiries are retried by JetStream itself; these are failures reported by nodes). */
export const MAX_ATTEMPTS = 3;
/** Most replicas of one shard before it fails for lack of agreement. */
export const maxReplicas = (replicas: number) => Math.max(replicas + 2, 3);

type Running = Extract<JobState, { jobId: string }>;

function running(state: JobState): Running | undefined {
  return state.status === 'running' ? state : undefined;
}

function ref(s: Running, shardIndex: number) {
  return { jobId: s.jobId, partnerId: s.partnerId, shardIndex, shardId: `${s.jobId}-${shardIndex}` };
}

function failShard(s: Running, shardIndex: number, reason: string, extra: { replica: number; nodeId?: string }): Decided[] {
  return [
    { type: 'ShardFailed', data: { ...ref(s, shardIndex), replica: extra.replica, ...(extra.nodeId ? { nodeId: extra.nodeId } : {}), reason, retryable: false } },
    { type: 'JobFailed', data: { jobId: s.jobId, partnerId: s.partnerId, reason: `shard ${shardIndex} failed: ${reason}`.slice(0, 1024) } },
  ];
}

function decideResult(s: Running, r: ResultReport): Decided[] {
  const shard: ShardState | undefined = s.shards[r.shardIndex];
  if (!shard) throw new DomainError(`job ${s.jobId} has no shard ${r.shardIndex}`, 'job.no-such-shard');
  if (shard.phase !== 'pending') return [];
  // Only a replica the scheduler dispatched may report, and not an attempt it never made: results
  // are published on subjects any node may use, and a node of a second owner must not "confirm" a
  // result for a verification replica that does not exist yet (nor win it by guessing ahead).
  if (r.replica >= shard.replicas || r.attempt > (shard.attempts[r.replica] ?? 1)) return [];
  // A replica reported twice (a lease that expired on a slow node, then ran elsewhere): the first counts.
  if (shard.results.some((x) => x.replica === r.replica)) return [];
  const k = s.spec.redundancy.replicas;
  if (r.nodeQuarantined) return [{ type: 'ShardDispatched', data: { ...ref(s, r.shardIndex), replica: r.replica, attempt: (shard.attempts[r.replica] ?? 1) + 1 } }];
  if (shard.results.some((x) => r.sameOwnerAs.includes(x.replica) || x.nodeId === r.nodeId)) {
    // The same node or owner cannot confirm their own result: ask for another replica instead.
    // (Ignoring it would leave this replica without a result for good: its work item is done.)
    if (shard.replicas >= maxReplicas(k)) return failShard(s, r.shardIndex, 'no nodes of different owners took its replicas', { replica: r.replica });
    return [{ type: 'ShardDispatched', data: { ...ref(s, r.shardIndex), replica: shard.replicas, attempt: 1 } }];
  }
  const accepted = { nodeId: r.nodeId, computeMs: r.computeMs };
  if (k === 1 && shard.results.length === 0 && r.nodeTrusted && r.spotCheckDraw >= s.spec.redundancy.spotCheckRate) {
    return [{ type: 'ShardValidated', data: { ...ref(s, r.shardIndex), outputHash: r.outputHash, replica: r.replica, method: 'trusted', accepted: [accepted], rejectedNodeIds: [] } }];
  }
  const completed: Decided = {
    type: 'ShardCompleted',
    data: { ...ref(s, r.shardIndex), replica: r.replica, nodeId: r.nodeId, outputHash: r.outputHash, computeMs: r.computeMs, agreesWith: [...r.agreesWith] },
  };
  const group = shard.results.find((x) => r.agreesWith.includes(x.replica))?.group ?? shard.results.length;
  const results: ReplicaResult[] = [...shard.results, { ...r, group }];
  const sizes = new Map<number, ReplicaResult[]>();
  for (const x of results) sizes.set(x.group, [...(sizes.get(x.group) ?? []), x]);
  const best = [...sizes.values()].sort((a, b) => b.length - a.length)[0]!;
  const quorum = k === 1 ? 2 : Math.floor(k / 2) + 1;
  if (best.length >= quorum) {
    const winner = best[0]!;
    const losers = results.filter((x) => x.group !== winner.group);
    return [
      completed,
      {
        type: 'ShardValidated',
        data: {
          ...ref(s, r.shardIndex),
          outputHash: winner.outputHash,
          replica: winner.replica,
          method: k === 1 ? 'spot-check' : 'redundancy',
          accepted: best.map((x) => ({ nodeId: x.nodeId, computeMs: x.computeMs })),
          rejectedNodeIds: losers.map((x) => x.nodeId),
        },
      },
      ...losers.map(
        (x): Decided => ({ type: 'ShardResultRejected', data: { ...ref(s, r.shardIndex), nodeId: x.nodeId, reason: `output ${x.outputHash.slice(0, 12)} disagrees with ${best.length} other results` } }),
      ),
    ];
  }
  if (shard.replicas - results.length > 0) return [completed];
  if (shard.replicas >= maxReplicas(k)) return [completed, ...failShard(s, r.shardIndex, `no ${quorum} of ${results.length} results agree`, { replica: r.replica })];
  return [completed, { type: 'ShardDispatched', data: { ...ref(s, r.shardIndex), replica: shard.replicas, attempt: 1 } }];
}

export function decideJob(command: JobCommand, state: JobState): Decided[] {
  switch (command.type) {
    case 'SubmitJob': {
      const { jobId, partnerId, spec, leaseSecret } = command.data;
      if (state.status !== 'none') {
        if (state.partnerId === partnerId && deepEqual(state.spec, spec)) return [];
        throw new DomainError(`job id ${jobId} is already used by another job`, 'job.id-taken');
      }
      return [
        { type: 'JobSubmitted', data: { jobId, partnerId, ...spec, ...(leaseSecret ? { leaseSecret } : {}) } },
        { type: 'JobPartitioned', data: { jobId, partnerId, shardCount: shardCountOf(spec) } },
      ];
    }
    case 'RecordResult': {
      const s = running(state);
      return s ? decideResult(s, command.data) : [];
    }
    case 'RecordFailure': {
      const s = running(state);
      const f = command.data;
      const shard = s?.shards[f.shardIndex];
      if (!s || !shard || shard.phase !== 'pending') return [];
      // Only the attempt last dispatched may fail: an older one is stale, and a later attempt or a
      // replica never dispatched was nobody's work (one such report would otherwise fail the job).
      if (f.replica >= shard.replicas || f.attempt !== (shard.attempts[f.replica] ?? 1)) return [];
      const failed: Decided = { type: 'ShardFailed', data: { ...ref(s, f.shardIndex), replica: f.replica, ...(f.nodeId ? { nodeId: f.nodeId } : {}), reason: f.reason, retryable: true } };
      if (f.attempt < MAX_ATTEMPTS) return [failed, { type: 'ShardDispatched', data: { ...ref(s, f.shardIndex), replica: f.replica, attempt: f.attempt + 1 } }];
      return failShard(s, f.shardIndex, `${f.reason} (after ${f.attempt} attempts)`, f);
    }
    case 'CompleteJob': {
      if (state.status === 'completed') return [];
      const s = running(state);
      if (!s) throw new DomainError(`job is ${state.status}`, 'job.not-running');
      if (s.validated !== s.shards.length) throw new DomainError(`only ${s.validated} of ${s.shards.length} shards are validated`, 'job.incomplete');
      return [{ type: 'JobCompleted', data: { jobId: s.jobId, partnerId: s.partnerId, outputHash: command.data.outputHash, shardCount: s.shards.length } }];
    }
    case 'CancelJob': {
      if (state.status === 'cancelled') return [];
      const s = running(state);
      if (!s) throw new DomainError(state.status === 'none' ? 'no such job' : `job is already ${state.status}`, state.status === 'none' ? 'job.not-found' : 'job.finished');
      return [{ type: 'JobCancelled', data: { jobId: s.jobId, partnerId: s.partnerId, reason: command.data.reason, by: command.data.by } }];
    }
    case 'FailJob': {
      const s = running(state);
      return s ? [{ type: 'JobFailed', data: { jobId: s.jobId, partnerId: s.partnerId, reason: command.data.reason } }] : [];
    }
    default:
      return assertNever(command, 'job command');
  }
}

export const jobDecider: Decider<JobCommand, JobEvent, JobState> = {
  decide: (command, state) => decideJob(command, state) as JobEvent[],
  evolve: evolveJob,
  initialState: initialJobState,
};
