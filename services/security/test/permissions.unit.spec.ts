import { DomainError } from '@weai/decider';
import { subjectMatches } from '@weai/messaging/src/testing/subjects';
import { SERVICE_NAMES, permissionsFor } from '../src/domain/permissions';

const may = (allow: readonly string[], subject: string) => allow.some((p) => subjectMatches(p, subject));

describe('permissions (the one table of who may do what on the bus)', () => {
  describe('given a node enrolled by owner o1', () => {
    const p = permissionsFor({ role: 'node', principalId: 'n1', capabilityClasses: ['cpu.avx2'] }, 'o1');
    it('then it reads that owner’s balance only (its status page), and nobody’s history or withdrawals', () => {
      expect(may(p.publish, 'weai.rpc.rewards.balance.o1')).toBe(true);
      expect(may(p.publish, 'weai.rpc.rewards.balance.o2')).toBe(false);
      expect(may(p.publish, 'weai.rpc.rewards.history.o1')).toBe(false);
      expect(may(p.publish, 'weai.rpc.rewards.withdraw.o1')).toBe(false);
    });
    it('then an owner id that is not a plain token is refused', () => {
      expect(() => permissionsFor({ role: 'node', principalId: 'n1', capabilityClasses: [] }, 'o1.>')).toThrow(/owner id/);
    });
  });

  describe('given a node n1 serving cpu.avx2', () => {
    const p = permissionsFor({ role: 'node', principalId: 'n1', capabilityClasses: ['cpu.avx2'] });
    it('then it publishes its own heartbeats and no other node’s', () => {
      expect(may(p.publish, 'weai.hb.n1')).toBe(true);
      expect(may(p.publish, 'weai.hb.n2')).toBe(false);
    });
    it('then it publishes results in its own name only (the subject ends with the reporting node)', () => {
      expect(may(p.publish, 'weai.result.j1.0.1.n1')).toBe(true);
      expect(may(p.publish, 'weai.result.j1.0.1.n2')).toBe(false);
      expect(may(p.publish, 'weai.result.j1.0.1')).toBe(false);
    });
    it('then it pulls and acks only the shared consumer of its classes, created with its class filter only', () => {
      expect(may(p.publish, '$JS.API.CONSUMER.MSG.NEXT.WEAI_SHARDS.shards-cpu_avx2')).toBe(true);
      expect(may(p.publish, '$JS.ACK.WEAI_SHARDS.shards-cpu_avx2.1.5.5.1700000000.0')).toBe(true);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_SHARDS.shards-cpu_avx2.weai.shard.cpu.avx2')).toBe(true);
      expect(may(p.publish, '$JS.API.CONSUMER.MSG.NEXT.WEAI_SHARDS.shards-cuda_sm86_vram8')).toBe(false);
      expect(may(p.publish, '$JS.ACK.WEAI_SHARDS.shards-cuda_sm86_vram8.1.5.5.1700000000.0')).toBe(false);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_SHARDS.shards-cpu_avx2.weai.shard.>')).toBe(false);
    });
    it('then it may watch the job-status bucket with the bucket filter only, and pull from no consumer of it', () => {
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.KV_weai-job-status.oc_Ab12_1.$KV.weai-job-status.>')).toBe(true);
      expect(may(p.publish, '$JS.API.CONSUMER.INFO.KV_weai-job-status.oc_Ab12_1')).toBe(true);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.KV_weai-job-status.oc_Ab12_1')).toBe(false);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.KV_weai-object-grants.oc_Ab12_1.$KV.weai-object-grants.>')).toBe(false);
      expect(may(p.publish, '$JS.API.CONSUMER.MSG.NEXT.KV_weai-job-status.oc_Ab12_1')).toBe(false);
      expect(may(p.publish, '$JS.API.CONSUMER.DELETE.KV_weai-job-status.oc_Ab12_1')).toBe(false);
      expect(may(p.publish, '$KV.weai-job-status.j1')).toBe(false);
    });
    it('then it cannot publish work, events or touch streams', () => {
      for (const s of ['weai.shard.cpu.avx2', 'weai.evt.nodes.n1.NodeRegistered', '$JS.API.STREAM.DELETE.WEAI_JOBS', '$JS.API.STREAM.PURGE.WEAI_SHARDS', 'weai.rpc.nodes.quarantine']) {
        expect(may(p.publish, s)).toBe(false);
      }
    });
    it('then it reads replies only under its own inbox prefix and answers no requests', () => {
      expect(p.subscribe).toEqual(['_INBOX.n1.>']);
      expect(may(p.subscribe, '_INBOX.n2.abc')).toBe(false);
      expect(may(p.subscribe, 'weai.hb.n2')).toBe(false);
      expect(p.allowResponses).toBe(false);
    });
  });

  describe('given a partner p1', () => {
    const p = permissionsFor({ role: 'partner', principalId: 'p1' });
    it('then it reads its own jobs’ events through its own consumer only', () => {
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_JOBS.jobs-p1.weai.evt.jobs.p1.>')).toBe(true);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_JOBS.jobs-p1.weai.evt.jobs.p2.>')).toBe(false);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_JOBS.jobs-p1.weai.evt.jobs.>')).toBe(false);
      expect(may(p.publish, '$JS.API.CONSUMER.MSG.NEXT.WEAI_JOBS.jobs-p2')).toBe(false);
      expect(may(p.publish, '$JS.API.CONSUMER.MSG.NEXT.WEAI_JOBS.rewards-accrual')).toBe(false);
      expect(may(p.subscribe, 'weai.evt.jobs.p2.JobSubmitted')).toBe(false);
    });
    it('then it submits, follows and cancels its own jobs only: the scheduler takes the partner from the subject', () => {
      for (const request of ['submit', 'status', 'cancel']) {
        expect(may(p.publish, `weai.rpc.jobs.${request}.p1`)).toBe(true);
        expect(may(p.publish, `weai.rpc.jobs.${request}.p2`)).toBe(false);
        expect(may(p.publish, `weai.rpc.jobs.${request}`)).toBe(false);
      }
    });
    it('then it cannot publish shards or results', () => {
      expect(may(p.publish, 'weai.shard.cpu.avx2')).toBe(false);
      expect(may(p.publish, 'weai.result.j1.0.0')).toBe(false);
    });
  });

  describe('given an owner o1', () => {
    const p = permissionsFor({ role: 'owner', principalId: 'o1' });
    it('then it reads its own rewards only and may withdraw', () => {
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_REWARDS.rewards-o1.weai.evt.rewards.o1.>')).toBe(true);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_REWARDS.rewards-o1.weai.evt.rewards.o2.>')).toBe(false);
      for (const request of ['withdraw', 'balance', 'history']) {
        expect(may(p.publish, `weai.rpc.rewards.${request}.o1`)).toBe(true);
        expect(may(p.publish, `weai.rpc.rewards.${request}.o2`)).toBe(false);
        expect(may(p.publish, `weai.rpc.rewards.${request}`)).toBe(false);
      }
      expect(may(p.publish, 'weai.rpc.rewards.accounts')).toBe(false);
    });
  });

  describe('given an operator', () => {
    const p = permissionsFor({ role: 'operator', principalId: 'alice' });
    it('then it reads any partner’s job status, and submits or cancels for none', () => {
      expect(may(p.publish, 'weai.rpc.jobs.status.p1')).toBe(true);
      expect(may(p.publish, 'weai.rpc.jobs.submit.p1')).toBe(false);
      expect(may(p.publish, 'weai.rpc.jobs.cancel.p1')).toBe(false);
    });
    it('then it may quarantine nodes and administer credentials, and writes to no stream', () => {
      expect(may(p.publish, 'weai.rpc.nodes.quarantine')).toBe(true);
      expect(may(p.publish, 'weai.rpc.security.revoke')).toBe(true);
      expect(may(p.publish, '$JS.API.CONSUMER.CREATE.WEAI_JOBS.x')).toBe(false);
      expect(may(p.publish, 'weai.evt.nodes.n1.NodeReleased')).toBe(false);
    });
    it('then its CLI connects (JetStream API info) and reads capacity from the resources service', () => {
      expect(may(p.publish, '$JS.API.INFO')).toBe(true);
      expect(may(p.publish, 'weai.rpc.resources.capacity')).toBe(true);
      expect(may(p.publish, 'weai.rpc.resources.match')).toBe(true);
      expect(may(p.subscribe, '_INBOX.alice.x1')).toBe(true);
      expect(may(p.subscribe, '_INBOX.bob.x1')).toBe(false);
    });
    it('then it audits the event streams and parked messages one message at a time, and creates no consumer and reads no data stream', () => {
      for (const stream of ['WEAI_NODES', 'WEAI_JOBS', 'WEAI_REWARDS', 'WEAI_SECURITY', 'WEAI_PARKED']) {
        expect(may(p.publish, `$JS.API.STREAM.INFO.${stream}`)).toBe(true);
        expect(may(p.publish, `$JS.API.STREAM.MSG.GET.${stream}`)).toBe(true);
        expect(may(p.publish, `$JS.API.CONSUMER.CREATE.${stream}.oc_1`)).toBe(false);
        expect(may(p.publish, `$JS.API.CONSUMER.MSG.NEXT.${stream}.x`)).toBe(false);
      }
      for (const stream of ['WEAI_RESULTS', 'WEAI_SHARDS', 'OBJ_weai-objects']) expect(may(p.publish, `$JS.API.STREAM.MSG.GET.${stream}`)).toBe(false);
    });
  });

  describe('given a service', () => {
    it.each(SERVICE_NAMES)('then %s answers its own requests, writes at most its own family, and may not erase streams', (name) => {
      const p = permissionsFor({ role: 'service', principalId: name });
      expect(may(p.subscribe, `weai.rpc.${name}.anything`)).toBe(true);
      expect(p.allowResponses).toBe(true);
      const others = ['nodes', 'jobs', 'rewards', 'security'].filter((f) => ({ nodes: 'nodes', scheduler: 'jobs', rewards: 'rewards', security: 'security' } as Record<string, string>)[name] !== f);
      for (const family of others) expect(may(p.publish, `weai.evt.${family}.x.SomethingHappened`)).toBe(false);
      for (const s of ['$JS.API.STREAM.DELETE.WEAI_JOBS', '$JS.API.STREAM.PURGE.WEAI_JOBS', '$JS.API.STREAM.MSG.DELETE.WEAI_JOBS', 'weai.hb.n1']) expect(may(p.publish, s)).toBe(false);
    });
    it('then only the gateway reports HTTP refusals, under its own reporter token', () => {
      const gateway = permissionsFor({ role: 'service', principalId: 'gateway' }).publish;
      expect(may(gateway, 'weai.report.security.gateway.AccessDenied')).toBe(true);
      expect(may(gateway, 'weai.report.security.nodes.AccessDenied')).toBe(false);
      expect(may(permissionsFor({ role: 'service', principalId: 'nodes' }).publish, 'weai.report.security.gateway.AccessDenied')).toBe(false);
    });
    it('then the gateway may enrol and revoke node keys but not issue, revoke or list credentials; nobody else may enrol', () => {
      const gateway = permissionsFor({ role: 'service', principalId: 'gateway' }).publish;
      expect(may(gateway, 'weai.rpc.security.nodes.enrol')).toBe(true);
      expect(may(gateway, 'weai.rpc.security.nodes.revoke')).toBe(true);
      for (const s of ['weai.rpc.security.issue', 'weai.rpc.security.revoke', 'weai.rpc.security.list', 'weai.rpc.security.keys.scheduler']) expect(may(gateway, s)).toBe(false);
      for (const name of SERVICE_NAMES.filter((n) => n !== 'gateway' && n !== 'security')) expect(may(permissionsFor({ role: 'service', principalId: name }).publish, 'weai.rpc.security.nodes.enrol')).toBe(false);
      expect(may(permissionsFor({ role: 'node', principalId: 'n1', capabilityClasses: ['cpu.generic'] }).publish, 'weai.rpc.security.nodes.enrol')).toBe(false);
      expect(may(permissionsFor({ role: 'operator', principalId: 'op' }).publish, 'weai.rpc.security.nodes.enrol')).toBe(false);
    });
    it('then only the scheduler publishes shard work', () => {
      expect(may(permissionsFor({ role: 'service', principalId: 'scheduler' }).publish, 'weai.shard.cpu.avx2')).toBe(true);
      expect(may(permissionsFor({ role: 'service', principalId: 'nodes' }).publish, 'weai.shard.cpu.avx2')).toBe(false);
    });
  });

  describe('when an id or class would smuggle a wildcard into a grant', () => {
    it.each([
      { role: 'partner' as const, principalId: '>' },
      { role: 'partner' as const, principalId: 'p1.>' },
      { role: 'owner' as const, principalId: '*' },
      { role: 'node' as const, principalId: 'n1', capabilityClasses: ['>'] },
      { role: 'node' as const, principalId: 'n1', capabilityClasses: ['cpu.*'] },
      { role: 'service' as const, principalId: 'mallory' as never },
    ])('then %j is refused', (principal) => {
      expect(() => permissionsFor(principal as never)).toThrow(DomainError);
    });
  });
});
