import { DeciderSpecification, DomainError } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import type { JobEvent, JobSpec } from '../src/domain/job';
import { type JobCommand, type ResultReport, jobDecider } from '../src/domain/job.decide';

const metadata: CommandMetadata = { commandId: 'c', correlationId: 'c', causationId: 'c', now: '2026-11-25T10:00:00.000Z' };
const em = { eventId: '00000000-0000-4000-8000-000000000000', correlationId: 'c', causationId: 'c', occurredAt: metadata.now };
const ev = (type: JobEvent['type'], data: object) => ({ type, data, metadata: em }) as JobEvent;
const out = (type: JobEvent['type'], data: object) => ({ type, data }) as unknown as JobEvent;
const cmd = (c: Omit<JobCommand, 'metadata'>) => ({ ...c, metadata }) as JobCommand;

const H = (c: string) => c.repeat(64);
const spec = (replicas = 1, spotCheckRate = 0.1): JobSpec => ({
  modelHash: H('a'),
  inputHash: H('b'),
  itemCount: 10,
  shardSize: 4,
  capability: 'cpu.generic',
  deadline: '2026-11-26T10:00:00.000Z',
  redundancy: { replicas, spotCheckRate, tolerance: 1e-4 },
});
const ids = { jobId: 'j1', partnerId: 'p1' };
const shard0 = { ...ids, shardIndex: 0, shardId: 'j1-0' };
const started = (replicas = 1) => {
  const { itemCount: _i, ...rest } = spec(replicas);
  return [ev('JobSubmitted', { ...ids, ...rest, itemCount: 10 }), ev('JobPartitioned', { ...ids, shardCount: 3 })];
};
const result = (over: Partial<ResultReport>): ResultReport => ({
  shardIndex: 0,
  replica: 0,
  attempt: 1,
  nodeId: 'n1',
  sameOwnerAs: [],
  outputHash: H('1'),
  computeMs: 5,
  agreesWith: [],
  nodeTrusted: false,
  spotCheckDraw: 0.5,
  ...over,
});
const completedEvt = (r: ResultReport) =>
  ev('ShardCompleted', { ...shard0, replica: r.replica, nodeId: r.nodeId, outputHash: r.outputHash, computeMs: r.computeMs, agreesWith: r.agreesWith });
const completedOut = (r: ResultReport) =>
  out('ShardCompleted', { ...shard0, replica: r.replica, nodeId: r.nodeId, outputHash: r.outputHash, computeMs: r.computeMs, agreesWith: r.agreesWith });

const spec_ = DeciderSpecification.for(jobDecider);

describe('job decider', () => {
  describe('submission', () => {
    it('partitions a job into ceil(items / shard size) shards', () => {
      const { itemCount: _i, ...rest } = spec();
      spec_.given([]).when(cmd({ type: 'SubmitJob', data: { ...ids, spec: spec() } })).then([
        out('JobSubmitted', { ...ids, ...rest, itemCount: 10 }),
        out('JobPartitioned', { ...ids, shardCount: 3 }),
      ]);
    });
    it('takes a retried submission as the same job, and refuses another job under its id', () => {
      spec_.given(started()).when(cmd({ type: 'SubmitJob', data: { ...ids, spec: spec() } })).then([]);
      spec_.given(started()).when(cmd({ type: 'SubmitJob', data: { ...ids, spec: { ...spec(), shardSize: 2 } } })).thenThrows(DomainError, /already used/);
    });
  });

  describe('validation', () => {
    it('accepts a trusted node alone when the spot check does not pick it', () => {
      spec_.given(started()).when(cmd({ type: 'RecordResult', data: result({ nodeTrusted: true, spotCheckDraw: 0.5 }) })).then([
        out('ShardValidated', { ...shard0, outputHash: H('1'), replica: 0, method: 'trusted', accepted: [{ nodeId: 'n1', computeMs: 5 }], rejectedNodeIds: [] }),
      ]);
    });

    it('checks an untrusted node, or a spot-checked trusted one, with a second replica', () => {
      const r = result({});
      spec_.given(started()).when(cmd({ type: 'RecordResult', data: r })).then([completedOut(r), out('ShardDispatched', { ...shard0, replica: 1, attempt: 1 })]);
      const spotted = result({ nodeTrusted: true, spotCheckDraw: 0.05 });
      spec_.given(started()).when(cmd({ type: 'RecordResult', data: spotted })).then([completedOut(spotted), out('ShardDispatched', { ...shard0, replica: 1, attempt: 1 })]);
    });

    it('validates when the second replica of another owner agrees', () => {
      const first = result({});
      const second = result({ replica: 1, nodeId: 'n2', outputHash: H('2'), agreesWith: [0], computeMs: 7 });
      spec_.given([...started(), completedEvt(first), ev('ShardDispatched', { ...shard0, replica: 1, attempt: 1 })]).when(cmd({ type: 'RecordResult', data: second })).then([
        completedOut(second),
        out('ShardValidated', {
          ...shard0,
          outputHash: H('1'),
          replica: 0,
          method: 'spot-check',
          accepted: [
            { nodeId: 'n1', computeMs: 5 },
            { nodeId: 'n2', computeMs: 7 },
          ],
          rejectedNodeIds: [],
        }),
      ]);
    });

    it('ignores a result of a replica never dispatched or of an attempt never made: another owner cannot confirm a result uninvited', () => {
      const first = result({});
      const colluder = result({ replica: 1, nodeId: 'n9', agreesWith: [0] });
      // Replica 1 does not exist before the first result asks for it, nor before it is dispatched.
      spec_.given(started()).when(cmd({ type: 'RecordResult', data: colluder })).then([]);
      spec_.given([...started(), ev('ShardCompleted', { ...shard0, replica: 0, nodeId: 'n1', outputHash: H('1'), computeMs: 5, agreesWith: [] })]).when(cmd({ type: 'RecordResult', data: result({ replica: 2, nodeId: 'n9', agreesWith: [0] }) })).then([]);
      // An attempt ahead of the one dispatched.
      spec_.given(started()).when(cmd({ type: 'RecordResult', data: result({ attempt: 2 }) })).then([]);
      // Once dispatched, replica 1 reports (whoever leased its work item).
      spec_.given([...started(), completedEvt(first), ev('ShardDispatched', { ...shard0, replica: 1, attempt: 1 })]).when(cmd({ type: 'RecordResult', data: colluder })).then([
        completedOut(colluder),
        out('ShardValidated', { ...shard0, outputHash: H('1'), replica: 0, method: 'spot-check', accepted: [{ nodeId: 'n1', computeMs: 5 }, { nodeId: 'n9', computeMs: 5 }], rejectedNodeIds: [] }),
      ]);
    });

    it('catches a cheater: on disagreement a third replica decides, and the odd one out is rejected', () => {
      const honest = result({});
      const cheat = result({ replica: 1, nodeId: 'cheat', outputHash: H('9') });
      const given = [...started(), completedEvt(honest), ev('ShardDispatched', { ...shard0, replica: 1, attempt: 1 })];
      spec_.given(given).when(cmd({ type: 'RecordResult', data: cheat })).then([completedOut(cheat), out('ShardDispatched', { ...shard0, replica: 2, attempt: 1 })]);
      const third = result({ replica: 2, nodeId: 'n3', agreesWith: [0] });
      spec_.given([...given, completedEvt(cheat), ev('ShardDispatched', { ...shard0, replica: 2, attempt: 1 })]).when(cmd({ type: 'RecordResult', data: third })).then([
        completedOut(third),
        out('ShardValidated', {
          ...shard0,
          outputHash: H('1'),
          replica: 0,
          method: 'spot-check',
          accepted: [
            { nodeId: 'n1', computeMs: 5 },
            { nodeId: 'n3', computeMs: 5 },
          ],
          rejectedNodeIds: ['cheat'],
        }),
        out('ShardResultRejected', { ...shard0, nodeId: 'cheat', reason: `output ${'9'.repeat(12)} disagrees with 2 other results` }),
      ]);
    });

    it('with three replicas, waits for a majority', () => {
      const a = result({});
      spec_.given(started(3)).when(cmd({ type: 'RecordResult', data: a })).then([completedOut(a)]);
    });

    it('does not let one owner confirm their own result, and ignores a replica reported twice', () => {
      const given = [...started(), completedEvt(result({})), ev('ShardDispatched', { ...shard0, replica: 1, attempt: 1 })];
      spec_.given(given).when(cmd({ type: 'RecordResult', data: result({ replica: 1, nodeId: 'n2', sameOwnerAs: [0] }) })).then([
        out('ShardDispatched', { ...shard0, replica: 2, attempt: 1 }),
      ]);
      // The first replica again, from another node whose lease had expired: the first result counts.
      spec_.given(given).when(cmd({ type: 'RecordResult', data: result({ nodeId: 'n3' }) })).then([]);
    });

    it('asks for another replica when a node reports a second replica of a shard (ignoring it would leave that replica without a result for good)', () => {
      const given = [...started(), completedEvt(result({})), ev('ShardDispatched', { ...shard0, replica: 1, attempt: 1 })];
      spec_.given(given).when(cmd({ type: 'RecordResult', data: result({ replica: 1 }) })).then([out('ShardDispatched', { ...shard0, replica: 2, attempt: 1 })]);
      // Within the replica limit: a third time, the shard and the job fail with the reason.
      const third = [...given, ev('ShardDispatched', { ...shard0, replica: 2, attempt: 1 })];
      spec_.given(third).when(cmd({ type: 'RecordResult', data: result({ replica: 2 }) })).then([
        out('ShardFailed', { ...shard0, replica: 2, reason: 'no nodes of different owners took its replicas', retryable: false }),
        out('JobFailed', { ...ids, reason: 'shard 0 failed: no nodes of different owners took its replicas' }),
      ]);
    });

    it('does not use a quarantined node\'s result: the replica runs again elsewhere', () => {
      spec_.given(started()).when(cmd({ type: 'RecordResult', data: result({ nodeQuarantined: true, nodeTrusted: true }) })).then([
        out('ShardDispatched', { ...shard0, replica: 0, attempt: 2 }),
      ]);
    });

    it('fails the shard and the job when no majority appears within the replica limit', () => {
      const rs = [0, 1, 2].map((i) => result({ replica: i, nodeId: `n${i}`, outputHash: H(String(i + 1)) }));
      const given = [
        ...started(),
        completedEvt(rs[0]!),
        ev('ShardDispatched', { ...shard0, replica: 1, attempt: 1 }),
        completedEvt(rs[1]!),
        ev('ShardDispatched', { ...shard0, replica: 2, attempt: 1 }),
      ];
      spec_.given(given).when(cmd({ type: 'RecordResult', data: rs[2]! })).then([
        completedOut(rs[2]!),
        out('ShardFailed', { ...shard0, replica: 2, reason: 'no 2 of 3 results agree', retryable: false }),
        out('JobFailed', { ...ids, reason: 'shard 0 failed: no 2 of 3 results agree' }),
      ]);
    });
  });

  describe('failures, completion, cancellation', () => {
    it('runs a failed shard again, then fails it and the job after bounded attempts', () => {
      const f = { shardIndex: 1, replica: 0, nodeId: 'n1', reason: 'model does not load', retryable: false };
      const s1 = { ...ids, shardIndex: 1, shardId: 'j1-1' };
      spec_.given(started()).when(cmd({ type: 'RecordFailure', data: { ...f, attempt: 1 } })).then([
        out('ShardFailed', { ...s1, replica: 0, nodeId: 'n1', reason: 'model does not load', retryable: true }),
        out('ShardDispatched', { ...s1, replica: 0, attempt: 2 }),
      ]);
      const third = [...started(), ev('ShardDispatched', { ...s1, replica: 0, attempt: 2 }), ev('ShardDispatched', { ...s1, replica: 0, attempt: 3 })];
      spec_.given(third).when(cmd({ type: 'RecordFailure', data: { ...f, attempt: 3 } })).then([
        out('ShardFailed', { ...s1, replica: 0, nodeId: 'n1', reason: 'model does not load (after 3 attempts)', retryable: false }),
        out('JobFailed', { ...ids, reason: 'shard 1 failed: model does not load (after 3 attempts)' }),
      ]);
    });

    it('ignores a failure of an attempt or a replica that was never dispatched, and a stale one', () => {
      const f = { shardIndex: 1, nodeId: 'n1', reason: 'forged', retryable: false };
      const s1 = { ...ids, shardIndex: 1, shardId: 'j1-1' };
      spec_.given(started()).when(cmd({ type: 'RecordFailure', data: { ...f, replica: 0, attempt: 3 } })).then([]);
      spec_.given(started()).when(cmd({ type: 'RecordFailure', data: { ...f, replica: 1, attempt: 1 } })).then([]);
      spec_.given([...started(), ev('ShardDispatched', { ...s1, replica: 0, attempt: 2 })]).when(cmd({ type: 'RecordFailure', data: { ...f, replica: 0, attempt: 1 } })).then([]);
    });

    it('completes only when every shard is validated', () => {
      spec_.given(started()).when(cmd({ type: 'CompleteJob', data: { outputHash: H('f') } })).thenThrows(DomainError, /only 0 of 3/);
      const validated = [0, 1, 2].map((i) =>
        ev('ShardValidated', { ...ids, shardIndex: i, shardId: `j1-${i}`, outputHash: H('1'), replica: 0, method: 'trusted', accepted: [{ nodeId: 'n1', computeMs: 1 }], rejectedNodeIds: [] }),
      );
      spec_.given([...started(), ...validated]).when(cmd({ type: 'CompleteJob', data: { outputHash: H('f') } })).then([
        out('JobCompleted', { ...ids, outputHash: H('f'), shardCount: 3 }),
      ]);
    });

    it('cancels a running job once; a finished job cannot be cancelled; late results are ignored', () => {
      const cancel = cmd({ type: 'CancelJob', data: { reason: 'not needed', by: 'p1' } });
      spec_.given(started()).when(cancel).then([out('JobCancelled', { ...ids, reason: 'not needed', by: 'p1' })]);
      const cancelled = [...started(), ev('JobCancelled', { ...ids, reason: 'x', by: 'p1' })];
      spec_.given(cancelled).when(cancel).then([]);
      spec_.given(cancelled).when(cmd({ type: 'RecordResult', data: result({}) })).then([]);
      spec_.given([...started(), ev('JobFailed', { ...ids, reason: 'x' })]).when(cancel).thenThrows(DomainError, /already failed/);
    });
  });
});
