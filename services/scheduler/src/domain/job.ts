import type { JobsFamilyEvent, SubmitJobRequest } from '@weai/contracts';
import { assertNever } from '@weai/decider';

/** Events of the job aggregate: the whole jobs family. */
export type JobEvent = JobsFamilyEvent;

/** One replica's result, as recorded. */
export interface ReplicaResult {
  readonly replica: number;
  readonly nodeId: string;
  readonly outputHash: string;
  readonly computeMs: number;
  /** Results that agree within tolerance share a group. */
  readonly group: number;
}

export type ShardState =
  | { readonly phase: 'pending'; readonly replicas: number; readonly results: readonly ReplicaResult[]; readonly attempts: Readonly<Record<number, number>> }
  | { readonly phase: 'validated'; readonly outputHash: string; readonly acceptedReplica: number; /** The node whose result of that replica was accepted (its result's subject names it). */ readonly acceptedNodeId: string }
  | { readonly phase: 'failed'; readonly reason: string };

/** What a job asks for, as submitted. */
export type JobSpec = Omit<SubmitJobRequest, 'jobId' | 'partnerId'> & { readonly itemCount: number };

export type JobState =
  | { readonly status: 'none' }
  | {
      readonly status: 'running' | 'completed' | 'failed' | 'cancelled';
      readonly jobId: string;
      readonly partnerId: string;
      readonly spec: JobSpec;
      readonly shards: readonly ShardState[];
      readonly validated: number;
      readonly outputHash?: string;
      readonly reason?: string;
      /** The secret work items' lease tokens derive from; absent in jobs submitted before there were tokens. */
      readonly leaseSecret?: string;
    };

/** Stream id of one job. */
export const toJobStreamId = (jobId: string) => `job-${jobId}`;

export const initialJobState = (): JobState => ({ status: 'none' });

/** Items of shard `index`: `[start, end)`. */
export function shardRange(spec: Pick<JobSpec, 'itemCount' | 'shardSize'>, index: number): [number, number] {
  const start = index * spec.shardSize;
  return [start, Math.min(spec.itemCount, start + spec.shardSize)];
}

export function shardCountOf(spec: Pick<JobSpec, 'itemCount' | 'shardSize'>): number {
  return Math.ceil(spec.itemCount / spec.shardSize);
}

function withShard(state: Extract<JobState, { jobId: string }>, index: number, f: (s: ShardState) => ShardState): JobState {
  const shards = state.shards.slice();
  const before = shards[index];
  if (!before) return state;
  const after = f(before);
  shards[index] = after;
  const validated = state.validated + (after.phase === 'validated' && before.phase !== 'validated' ? 1 : 0);
  return { ...state, shards, validated };
}

export function evolveJob(state: JobState, event: JobEvent): JobState {
  if (event.type === 'JobSubmitted') {
    const { jobId, partnerId, leaseSecret, ...spec } = event.data;
    return { status: 'running', jobId, partnerId, spec, shards: [], validated: 0, ...(leaseSecret ? { leaseSecret } : {}) };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'JobPartitioned':
      return {
        ...state,
        shards: Array.from({ length: event.data.shardCount }, () => ({ phase: 'pending' as const, replicas: state.spec.redundancy.replicas, results: [], attempts: {} })),
      };
    case 'ShardDispatched':
      return withShard(state, event.data.shardIndex, (s) =>
        s.phase !== 'pending'
          ? s
          : { ...s, replicas: Math.max(s.replicas, event.data.replica + 1), attempts: { ...s.attempts, [event.data.replica]: event.data.attempt } },
      );
    case 'ShardCompleted':
      return withShard(state, event.data.shardIndex, (s) => {
        if (s.phase !== 'pending') return s;
        const { replica, nodeId, outputHash, computeMs, agreesWith } = event.data;
        const group = s.results.find((r) => agreesWith.includes(r.replica))?.group ?? s.results.length;
        return { ...s, results: [...s.results, { replica, nodeId, outputHash, computeMs, group }] };
      });
    case 'ShardValidated':
      // The accepted replica's node comes first in `accepted` (the winner of the agreeing group).
      return withShard(state, event.data.shardIndex, () => ({ phase: 'validated', outputHash: event.data.outputHash, acceptedReplica: event.data.replica, acceptedNodeId: event.data.accepted[0]?.nodeId ?? '' }));
    case 'ShardResultRejected':
      return state;
    case 'ShardFailed':
      return event.data.retryable ? state : withShard(state, event.data.shardIndex, () => ({ phase: 'failed', reason: event.data.reason }));
    case 'JobCompleted':
      return { ...state, status: 'completed', outputHash: event.data.outputHash };
    case 'JobFailed':
      return { ...state, status: 'failed', reason: event.data.reason };
    case 'JobCancelled':
      return { ...state, status: 'cancelled', reason: event.data.reason };
    default:
      return assertNever(event, 'job event');
  }
}
