import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { headers as natsHeaders } from '@nats-io/transport-node';
import fc from 'fast-check';
import {
  HeartbeatSchema,
  NODE_RPC,
  PARKED_STREAM,
  REWARDS_RPC,
  RESULTS_STREAM,
  RESULT_HEADERS,
  SHARDS_STREAM,
  WORK_HEADERS,
  heartbeatSubject,
  jobRequestSubject,
  ownerRequestSubject,
  resultSubject,
  shardSubject,
  streamOfFamily,
} from '@weai/contracts';
import { type StoredLog, openStoredLog } from '@weai/eventstore';
import { MalformedMessageError, PARK_HEADERS, type RpcError, decodeEvent, requestJson } from '@weai/messaging';
import { eventually, readWholeStream } from '@weai/messaging/src/testing/streams';
import { subjectMatches } from '@weai/messaging/src/testing/subjects';
import { signRequest } from '@weai/node-agent/src/identity';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { PartnerClient } from '@weai/sdk';
import { type PayoutChain, startPayoutChain } from './support/payout-chain';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { dataset } from './support/reference';

/**
 * Malformed and oversized input on the real subjects of the nodes, scheduler, rewards and
 * resources services, started as processes: every request is refused with a clear error (never
 * "internal", never a timeout), every bad event or result is parked by each consumer that sees it
 * (none is left to redeliver), bad heartbeats are dropped, no service writes an event, no process
 * exits, and afterwards each service still does its work. The security service's own handlers
 * are fuzzed in services/security/test/security.fuzz.int.spec.ts, the HTTP routes in
 * test/http-security.e2e.spec.ts.
 */
describe('message handlers under malformed input (e2e)', () => {
  let chain: PayoutChain;
  let net: TestNetwork;
  let partner: PartnerClient;
  const logs: Record<'nodes' | 'scheduler' | 'rewards', StoredLog> = {} as never;

  beforeAll(async () => {
    chain = await startPayoutChain('fuzz-e2e');
    net = await startNetwork({ ...chain.env, SCHEDULER_MAX_MODEL_BYTES: '2000000' });
    await Promise.all((['nodes', 'scheduler', 'rewards', 'resources'] as const).map((s) => net.startService(s)));
    for (const s of ['nodes', 'scheduler', 'rewards'] as const) logs[s] = await openStoredLog({ type: 'sqlite', path: join(net.dir, 'control-plane', `${s}.sqlite`) });
    partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'partner-fuzz' });
  });
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const [name, p] of net.services) process.stderr.write(`--- ${name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await partner?.close();
    for (const log of Object.values(logs)) await log.close();
    await net?.stop();
    await chain?.stop();
  });

  const enc = new TextEncoder();
  const json = (v: unknown) => enc.encode(JSON.stringify(v) ?? '');
  const HUGE = 'x'.repeat(900_000);
  const exited = () => [...net.services].filter(([, p]) => p.child.exitCode !== null || p.child.signalCode !== null).map(([name]) => name);
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const heads = async () => ({ nodes: await logs.nodes.headPosition(), scheduler: await logs.scheduler.headPosition(), rewards: await logs.rewards.headPosition() });

  /** Sends raw bytes and returns the refusal's code; fails on success, an internal error or no answer. */
  async function refused(subject: string, body: Uint8Array): Promise<string> {
    const reply = (await net.bus.nc.request(subject, body, { timeout: 10_000 })).json<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }>();
    if (reply.ok) throw new Error(`${subject} accepted ${new TextDecoder().decode(body.slice(0, 300))}: ${JSON.stringify(reply.value).slice(0, 300)}`);
    expect(reply.error!.code).not.toBe('internal');
    expect(reply.error!.message.length).toBeGreaterThan(0);
    return reply.error!.code;
  }

  /** A field value that is wrong for an id, a hash or a reason: wrong type, wildcard, oversized, empty. */
  const badValue = fc.oneof(
    fc.constantFrom<unknown>('', '>', '*', 'a.b', 'a b', 'x'.repeat(129), HUGE, null, 0, -1, 1.5, true, [], {}),
    fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[A-Za-z0-9_-]+$/.test(s)),
  );
  /** One field of `valid` replaced by a bad value, removed, or an extra field added. */
  const broken = (valid: Record<string, unknown>, fields: fc.Arbitrary<unknown> = badValue) =>
    fc.oneof(
      fc.record({ field: fc.constantFrom(...Object.keys(valid)), value: fields }).map(({ field, value }) => ({ ...valid, [field]: value })),
      fc.constantFrom(...Object.keys(valid)).map((field) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== field))),
      fc.constant({ ...valid, extra: 1 }),
    );
  const notAnObject = fc.anything().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v));

  describe('requests', () => {
    const key = () => {
      const kp = createUser();
      return { publicKey: kp.getPublicKey(), sign: (d: Uint8Array) => kp.sign(d) };
    };
    const signer = key();
    const now = () => new Date().toISOString();
    const payout = `0x${'ab'.repeat(20)}`;
    const signed = (payload: unknown) => signRequest(signer, payload as object);
    const registerBodies = fc.oneof(
      notAnObject,
      broken(signed({ kind: 'register', payoutAddress: payout, issuedAt: now() })),
      fc.constantFrom(
        { ...signed({ kind: 'register', payoutAddress: payout, issuedAt: now() }), publicKey: key().publicKey },
        { ...signed({ kind: 'register', payoutAddress: payout, issuedAt: now() }), signature: Buffer.from('x'.repeat(64)).toString('base64') },
        { ...signed({ kind: 'register', payoutAddress: payout, issuedAt: now() }), publicKey: `U${'A'.repeat(55)}` },
        { ...signed({ kind: 'register', payoutAddress: payout, issuedAt: now() }), payload: Buffer.from(HUGE.slice(0, 40_000)).toString('base64') },
      ),
      // Signed by the right key, but the signed payload is wrong.
      fc
        .oneof(
          broken({ kind: 'register', payoutAddress: payout, issuedAt: now() }),
          fc.constantFrom<unknown>(
            { kind: 'register', payoutAddress: payout, issuedAt: new Date(Date.now() - 3_600_000).toISOString() },
            { kind: 'register', payoutAddress: payout, issuedAt: new Date(Date.now() + 3_600_000).toISOString() },
            { kind: 'register', payoutAddress: payout, issuedAt: 'yesterday' },
            { kind: 'capabilities', payoutAddress: payout, issuedAt: now() },
            { kind: 'register', payoutAddress: '0x12', issuedAt: now() },
          ),
        )
        .map(signed),
      fc.constant({ publicKey: signer.publicKey, payload: Buffer.from('not json').toString('base64'), signature: Buffer.from(signer.sign(enc.encode('not json'))).toString('base64') }),
    );
    const capabilityBodies = fc.oneof(
      notAnObject,
      broken(signed({ kind: 'capabilities', nodeId: 'n1', capabilities: {}, issuedAt: now() })),
      fc.constantFrom<unknown>(
        { kind: 'capabilities', nodeId: 'someone-else', capabilities: {}, issuedAt: now() },
        { kind: 'capabilities', nodeId: '*', capabilities: { cpu: HUGE.slice(0, 30_000) }, issuedAt: now() },
        { kind: 'register', payoutAddress: payout, issuedAt: now() },
      ).map(signed),
    );
    const operator = { nodeId: 'n-unknown', reason: 'fuzz', operatorId: 'op-1' };
    const submission = {
      jobId: 'job-fuzz',
      partnerId: 'partner-fuzz',
      modelHash: 'a'.repeat(64),
      inputHash: 'b'.repeat(64),
      shardSize: 4,
      capability: 'cpu.generic',
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
      redundancy: { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 },
    };
    const badNumber = fc.constantFrom<unknown>(-1, 0, 1.5, null, '4', 1e9, 2 ** 53, -0.0001, 'NaN', [], {});
    const submitBodies = fc.oneof(
      notAnObject,
      broken(submission),
      fc.record({ field: fc.constantFrom('shardSize', 'redundancy'), value: badNumber }).map(({ field, value }) => ({ ...submission, [field]: value })),
      fc.record({ field: fc.constantFrom('replicas', 'spotCheckRate', 'tolerance'), value: badNumber }).map(({ field, value }) => ({ ...submission, redundancy: { ...submission.redundancy, [field]: value } })),
      fc.constantFrom<unknown>(
        { ...submission, modelHash: 'A'.repeat(64) },
        { ...submission, capability: 'cpu.*' },
        { ...submission, capability: 'CPU' },
        { ...submission, deadline: '2020-01-01T00:00:00.000Z' },
        { ...submission, deadline: 'soon' },
        { ...submission, inputName: HUGE },
        // Well formed, but the objects were never uploaded.
        submission,
      ),
    );
    const cancel = { jobId: 'job-unknown', partnerId: 'partner-fuzz', reason: 'fuzz' };
    const withdrawal = { ownerId: 'owner-fuzz', withdrawalId: 'w-1', amount: '1' };
    const badAmount = fc.oneof(
      fc.constantFrom<unknown>(-1, '-1', 1, 1.5, '1.5', 'NaN', null, '1e3', '0x10', '01', ' 1', '', '+1', 'Infinity', `1${'0'.repeat(80)}`, 2 ** 64, [], {}),
      fc.double().filter((d) => !Number.isInteger(d) || d < 0),
      fc.string({ maxLength: 12 }).filter((s) => !/^(0|[1-9][0-9]*)$/.test(s)),
    );
    const cases: Array<[string, fc.Arbitrary<unknown>, number]> = [
      [NODE_RPC.register, registerBodies, 80],
      [NODE_RPC.capabilities, capabilityBodies, 40],
      [NODE_RPC.quarantine, fc.oneof(notAnObject, broken(operator), fc.constant(operator)), 60],
      [NODE_RPC.release, fc.oneof(notAnObject, broken(operator), fc.constant(operator)), 40],
      [NODE_RPC.list, fc.oneof(notAnObject.filter((v) => v !== null), broken({ ownerId: 'o1' }).filter((b) => 'ownerId' in b && b['ownerId'] !== undefined)), 40],
      [jobRequestSubject('submit', 'partner-fuzz'), submitBodies, 80],
      [jobRequestSubject('cancel', 'partner-fuzz'), fc.oneof(notAnObject, broken(cancel), fc.constant(cancel)), 40],
      [jobRequestSubject('status', 'partner-fuzz'), fc.oneof(notAnObject, broken({ jobId: 'job-unknown', partnerId: 'partner-fuzz' }), fc.constant({ jobId: 'job-unknown', partnerId: 'partner-fuzz' })), 40],
      // Amounts: negative, fractional, NaN, hexadecimal, exponent, numbers instead of decimal strings, beyond uint256; unknown owners.
      [ownerRequestSubject('withdraw', withdrawal.ownerId), fc.oneof(notAnObject, broken(withdrawal), badAmount.map((amount) => ({ ...withdrawal, amount })), fc.constant(withdrawal), fc.constant({ ...withdrawal, amount: '0' })), 80],
      [ownerRequestSubject('balance', 'o1'), fc.oneof(notAnObject, broken({ ownerId: 'o1' }).filter((b) => 'ownerId' in b)), 40],
      [ownerRequestSubject('history', 'o1'), fc.oneof(notAnObject, broken({ ownerId: 'o1' }).filter((b) => 'ownerId' in b), badNumber.map((limit) => ({ ownerId: 'o1', limit }))), 40],
      ['weai.rpc.resources.match', fc.oneof(notAnObject, broken({ requires: 'cpu.generic' }), fc.constantFrom<unknown>({ requires: 'cpu.*' }, { requires: 'cpu' }, { requires: 'CUDA.sm75' })), 40],
    ];

    it.each(cases)('%s refuses every malformed body with a clear error and writes nothing', async (subject, bodies, numRuns) => {
      const before = await heads();
      await fc.assert(fc.asyncProperty(bodies, async (body) => void (await refused(subject, json(body)))), { numRuns, seed: 6 });
      expect(await heads()).toEqual(before);
      expect(exited()).toEqual([]);
    });

    it('every request subject refuses bytes that are not JSON, and the server refuses bodies over its 1 MiB limit', async () => {
      const before = await heads();
      const subjects = [...cases.map(([s]) => s), NODE_RPC.stats, REWARDS_RPC.accounts, REWARDS_RPC.check, 'weai.rpc.resources.capacity'];
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 512 }).filter((b) => {
          try {
            JSON.parse(new TextDecoder().decode(b));
            return false;
          } catch {
            return true;
          }
        }),
        fc.constantFrom(new Uint8Array(0), enc.encode('{"ownerId":'), enc.encode('\u0000\u0001'), new Uint8Array(900_000).fill(0x7b)),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...subjects), bytes, async (subject, b) => expect(await refused(subject, b)).toBe('bad-request')),
        { numRuns: 120, seed: 6 },
      );
      // Over max_payload: the server (through the client's check of its limit) refuses to carry it at all.
      const tooBig = json({ ...withdrawal, ownerId: 'x'.repeat(1_100_000) });
      for (const subject of [ownerRequestSubject('withdraw', withdrawal.ownerId), jobRequestSubject('submit', 'partner-fuzz'), NODE_RPC.register]) {
        await expect(net.bus.nc.request(subject, tooBig, { timeout: 5000 })).rejects.toThrow(/payload|exceed/i);
      }
      expect(await heads()).toEqual(before);
      expect(exited()).toEqual([]);
    });
  });

  describe('events, results and heartbeats', () => {
    const meta = () => {
      const eventId = randomUUID();
      return { eventId, correlationId: eventId, causationId: eventId, occurredAt: new Date().toISOString() };
    };
    const ref = { jobId: 'job-fuzz', partnerId: 'partner-fuzz', shardId: 'job-fuzz-0', shardIndex: 0 };
    /** A valid `data` of each type the services consume, for the generators to break. */
    const validData: Record<string, Record<string, unknown>> = {
      ShardResultRejected: { ...ref, nodeId: 'n-fuzz', reason: 'fuzz' },
      JobPartitioned: { jobId: 'job-fuzz', partnerId: 'partner-fuzz', shardCount: 1 },
      ShardDispatched: { ...ref, replica: 0, attempt: 1 },
      ShardValidated: { ...ref, outputHash: 'c'.repeat(64), replica: 0, method: 'redundancy', accepted: [{ nodeId: 'n-fuzz', computeMs: 1 }], rejectedNodeIds: [] },
      ShardFailed: { ...ref, replica: 0, reason: 'fuzz', retryable: true },
      JobCompleted: { jobId: 'job-fuzz', partnerId: 'partner-fuzz', outputHash: 'c'.repeat(64), shardCount: 1 },
      JobCancelled: { jobId: 'job-fuzz', partnerId: 'partner-fuzz', reason: 'fuzz', by: 'partner-fuzz' },
      ShardExploded: { ...ref },
      NodeRegistered: { nodeId: 'n-fuzz', publicKey: `U${'A'.repeat(55)}`, ownerId: 'o-fuzz', payoutAddress: `0x${'ab'.repeat(20)}` },
      WithdrawalRequested: { withdrawalId: 'w-fuzz', ownerId: 'o-fuzz', amount: '1', payoutAddress: `0x${'ab'.repeat(20)}`, nonce: '1', deadline: '1' },
    };
    const family: Record<string, 'jobs' | 'nodes' | 'rewards'> = { NodeRegistered: 'nodes', WithdrawalRequested: 'rewards' };
    const envelope = (type: string, data: unknown) => ({ type, schemaVersion: 1, streamId: 'job-fuzz', revision: 0, position: 1, data, metadata: meta() });
    const badNumbers = fc.constantFrom<unknown>(-1, 1.5, null, '1', 2 ** 53, Infinity, 'NaN', HUGE);
    /** Whether the services' codec takes the bytes for an event: those are not what this test sends. */
    const decodes = (bytes: Uint8Array) => {
      try {
        decodeEvent({ data: bytes, seq: 0, info: { deliveryCount: 1 } } as never);
        return true;
      } catch (error) {
        if (error instanceof MalformedMessageError) return false;
        throw error;
      }
    };
    const badEvent = (type: string) =>
      fc
        .oneof(
          fc.uint8Array({ maxLength: 256 }),
          notAnObject.map(json),
          // The envelope broken (a negative revision, a position of 0 or 1.5, no metadata…).
          broken(envelope(type, validData[type]), fc.oneof(badValue, badNumbers)).map(json),
          // The data broken: wrong types, missing or extra fields, negative or fractional numbers, wildcards, 900 KB strings.
          broken(validData[type]!, fc.oneof(badValue, badNumbers)).map((data) => json(envelope(type, data))),
          fc.constant(json({ ...envelope(type, validData[type]), schemaVersion: 99 })),
        )
        .filter((bytes) => !decodes(bytes));

    /** The durable consumers of a stream with their filters. */
    const durables = async (stream: string) => {
      const out: Array<{ name: string; filters: string[] }> = [];
      for await (const c of net.bus.jsm.consumers.list(stream)) {
        if (!c.config.durable_name) continue;
        out.push({ name: c.name, filters: c.config.filter_subjects ?? (c.config.filter_subject ? [c.config.filter_subject] : ['>']) });
      }
      return out;
    };
    /** The read models fed from each stream (ordered consumers: they park a copy and go on). */
    const projections: Record<string, string[]> = {
      [streamOfFamily('jobs')]: ['scheduler-nodes'],
      [streamOfFamily('nodes')]: ['nodes-view', 'scheduler-nodes', 'rewards-nodes', 'capacity-index'],
      [streamOfFamily('rewards')]: ['rewards-ledger'],
    };
    /** `stream:seq` → the consumers that parked it. */
    const parked = async () => {
      const out = new Map<string, Set<string>>();
      for (const m of await readWholeStream(net.bus.js, net.bus.jsm, PARKED_STREAM)) {
        const key = `${m.headers?.get(PARK_HEADERS.stream)}:${m.headers?.get(PARK_HEADERS.sequence)}`;
        out.set(key, (out.get(key) ?? new Set()).add(m.subject.slice('weai.parked.'.length)));
      }
      return out;
    };
    /** Resolves once every durable consumer of the streams has nothing left to deliver or to acknowledge. */
    const settled = async (streams: string[]) => {
      const busy = async () => {
        await pause(100);
        const out: string[] = [];
        for (const stream of streams) {
          for await (const c of net.bus.jsm.consumers.list(stream)) {
            if (c.config.durable_name && (c.num_pending > 0 || c.num_ack_pending > 0)) out.push(`${c.name}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}`);
          }
        }
        return out;
      };
      await eventually(async () => (await busy()).length === 0, 'the consumers to settle', 15_000).catch(async (error: Error) => {
        throw new Error(`${error.message}: ${(await busy()).join('; ')}\n${await net.describe()}`);
      });
    };

    it('parks every malformed event on each consumer that reads it, redelivers none, and writes nothing', async () => {
      const before = await heads();
      const sent: Array<{ stream: string; seq: number; subject: string }> = [];
      for (const type of Object.keys(validData)) {
        for (const bytes of fc.sample(badEvent(type), { numRuns: 10, seed: 6 })) {
          const subject = `weai.evt.${family[type] ?? 'jobs'}.fuzz.${type}`;
          const ack = await net.bus.js.publish(subject, bytes);
          sent.push({ stream: ack.stream, seq: ack.seq, subject });
        }
      }
      const expected = new Map<string, string[]>();
      for (const { stream, seq, subject } of sent) {
        const readers = (await durables(stream)).filter((d) => d.filters.some((f) => subjectMatches(f, subject))).map((d) => d.name);
        expected.set(`${stream}:${seq}`, [...readers, ...(projections[stream] ?? []).map((p) => `projection-${p}`)].sort());
      }
      const missing = async () => {
        await pause(250);
        const got = await parked();
        return [...expected].filter(([key, who]) => who.some((w) => !got.get(key)?.has(w)));
      };
      await eventually(async () => (await missing()).length === 0, 'every malformed event parked by each of its readers', 30_000).catch(async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify((await missing()).slice(0, 5))}`);
      });
      await settled([streamOfFamily('jobs'), streamOfFamily('rewards')]);
      expect([...expected.values()].every((who) => who.length > 0)).toBe(true);
      expect(await heads()).toEqual(before);
      expect(exited()).toEqual([]);
    });

    const valid = { job: 'job-fuzz', shard: '0', replica: '0', attempt: '1', node: 'n-fuzz', output: 'c'.repeat(64) } as const;
    type ResultHeaderValues = Partial<Record<keyof typeof valid, string>>;
    const resultMessage = (values: ResultHeaderValues, subject = resultSubject('job-fuzz', 0, 0, 'n-fuzz')) => {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(values)) if (v !== undefined) h.set(RESULT_HEADERS[k as keyof typeof valid], v);
      return { subject, headers: h };
    };

    it('parks every result whose headers are missing or malformed, and ignores results of unknown jobs, writing nothing', async () => {
      const before = await heads();
      const badInt = fc.constantFrom('', 'abc', '-1', '1.5', 'NaN', '-0.5', 'Infinity', '9007199254740993', '0x10', '1e3');
      const badId = fc.constantFrom('', '*', '>', 'a.b', 'a b', 'x'.repeat(129), 'job/1');
      const malformedHeaders = fc.oneof(
        fc.record({ field: fc.constantFrom('shard', 'replica', 'attempt'), value: badInt }).map(({ field, value }) => ({ ...valid, [field]: value })),
        fc.record({ field: fc.constantFrom('job', 'node'), value: badId }).map(({ field, value }) => ({ ...valid, [field]: value })),
        // A header left out.
        fc.constantFrom('job', 'shard', 'replica', 'attempt', 'node').map((field) => ({ ...valid, [field]: undefined })),
      );
      const sent: number[] = [];
      const publish = async (m: { subject: string; headers: ReturnType<typeof natsHeaders> | undefined }, body: Uint8Array = new Uint8Array(0)) =>
        (await net.bus.js.publish(m.subject, body, m.headers ? { headers: m.headers } : {})).seq;
      for (const values of fc.sample(malformedHeaders, { numRuns: 40, seed: 6 })) sent.push(await publish(resultMessage(values)));
      sent.push(await publish({ subject: resultSubject('job-fuzz', 0, 0, 'n-fuzz'), headers: undefined }, enc.encode('no headers at all')));
      // The headers name another result than the subject does.
      sent.push(await publish(resultMessage(valid, resultSubject('job-other', 0, 0, 'n-fuzz'))));
      // The headers name another node than the subject does.
      sent.push(await publish(resultMessage(valid, resultSubject('job-fuzz', 0, 0, 'n-other'))));
      sent.push(await publish(resultMessage({ ...valid, shard: '1' })));
      // Well formed but for no job: acknowledged, nothing recorded, whatever the output says.
      const unknownJob: Array<[ResultHeaderValues, Uint8Array]> = [
        [valid, enc.encode('not a tensor')],
        [{ ...valid, output: 'not-a-hash' }, new Uint8Array(900_000)],
        [{ ...valid, output: 'C'.repeat(64) }, new Uint8Array(0)],
        [{ ...valid, shard: '4294967296', replica: '7', attempt: '99' }, new Uint8Array(0)],
      ];
      const ignored: number[] = [];
      for (const [values, body] of unknownJob) ignored.push(await publish(resultMessage(values, resultSubject(values.job!, Number(values.shard), Number(values.replica), values.node!)), body));

      const parkedSeqs = async () => {
        await pause(250);
        const got = await parked();
        return sent.filter((seq) => !got.get(`${RESULTS_STREAM}:${seq}`)?.has('scheduler-results'));
      };
      await eventually(async () => (await parkedSeqs()).length === 0, 'every malformed result parked', 30_000).catch(async (error: Error) => {
        throw new Error(`${error.message}: not parked ${JSON.stringify(await parkedSeqs())}`);
      });
      await settled([RESULTS_STREAM]);
      const got = await parked();
      expect(ignored.filter((seq) => got.has(`${RESULTS_STREAM}:${seq}`))).toEqual([]);
      expect(await heads()).toEqual(before);
      expect(exited()).toEqual([]);
    });

    it('drops malformed heartbeats and heartbeats of unknown nodes without an event', async () => {
      const before = await heads();
      const stats = () => requestJson<{ heartbeats: number; malformed: number; unknownNodes: number }>(net.bus.nc, NODE_RPC.stats, {});
      const { malformed, heartbeats } = await stats();
      const valid = { nodeId: 'n-fuzz', sentAt: new Date().toISOString(), allowsWork: true, activeShards: 0, slots: 1, gpus: [] };
      const bad = fc.oneof(
        fc.uint8Array({ maxLength: 256 }),
        notAnObject.map(json),
        broken(valid, fc.oneof(badValue, badNumbers)),
        fc.constantFrom<unknown>(
          { ...valid, gpus: [{ uuid: 'g', utilizationPct: 101, vramFreeMb: -1, temperatureC: 500 }] },
          { ...valid, gpus: Array.from({ length: 17 }, () => ({ uuid: 'g', utilizationPct: 1, vramFreeMb: 1, temperatureC: 1 })) },
          { ...valid, reason: HUGE },
          { ...valid, nodeId: 'someone-else' },
        ),
      );
      // Each on a subject of its own (the stream keeps one heartbeat per subject), naming that subject's node.
      const samples = fc
        .sample(bad, { numRuns: 60, seed: 6 })
        .map((b, i) => [heartbeatSubject(`n-fuzz-${i}`), b instanceof Uint8Array ? b : json((b as { nodeId?: unknown }).nodeId === 'n-fuzz' ? { ...(b as object), nodeId: `n-fuzz-${i}` } : b)] as const)
        .filter(([subject, bytes]) => {
          try {
            const parsed = HeartbeatSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
            return !parsed.success || subject !== heartbeatSubject(parsed.data.nodeId);
          } catch {
            return true;
          }
        });
      for (const [subject, bytes] of samples) await net.bus.js.publish(subject, bytes);
      await net.bus.js.publish(heartbeatSubject('n-unknown'), json({ ...valid, nodeId: 'n-unknown' }));
      await eventually(async () => {
        const now = await stats();
        return now.malformed - malformed >= samples.length && now.heartbeats > heartbeats;
      }, 'the heartbeats counted', 10_000);
      expect((await stats()).malformed - malformed).toBe(samples.length);
      expect(await heads()).toEqual(before);
      expect(exited()).toEqual([]);
    });

    it('afterwards every service still works: a node registers and comes online, a job is dispatched and its results handled, the ledger and capacity answer', async () => {
      expect(exited()).toEqual([]);
      const kp = createUser();
      const node = { publicKey: kp.getPublicKey(), sign: (d: Uint8Array) => kp.sign(d) };
      const payout = `0x${'cd'.repeat(20)}`;
      const { nodeId, ownerId } = await requestJson<{ nodeId: string; ownerId: string }>(
        net.bus.nc,
        NODE_RPC.register,
        signRequest(node, { kind: 'register', payoutAddress: payout, issuedAt: new Date().toISOString() }),
      );
      await net.bus.js.publish(heartbeatSubject(nodeId), json({ nodeId, sentAt: new Date().toISOString(), allowsWork: true, activeShards: 0, slots: 1, gpus: [] }));
      // The nodes read model (fed past the parked garbage) shows it online.
      await eventually(async () => (await requestJson<Array<{ nodeId: string; online: boolean }>>(net.bus.nc, NODE_RPC.list, {})).some((n) => n.nodeId === nodeId && n.online), 'the node online', 15_000);
      // The rewards node directory learned its payout address: a withdrawal is refused for the balance, not the address.
      await eventually(
        async () =>
          requestJson(net.bus.nc, ownerRequestSubject('withdraw', ownerId), { ownerId, withdrawalId: 'w-1', amount: '1' }).then(
            () => false,
            (e: RpcError) => e.code === 'rewards.insufficient-balance',
          ),
        'the rewards node directory to know the owner',
        15_000,
      );
      expect(await requestJson<{ available: string }>(net.bus.nc, ownerRequestSubject('balance', ownerId), { ownerId })).toMatchObject({ available: '0' });
      expect(Array.isArray(await requestJson(net.bus.nc, 'weai.rpc.resources.capacity', {}))).toBe(true);

      // A job: submitted, partitioned, its first replica dispatched; a failure reported for it is handled.
      const jobId = `job-${randomUUID()}`;
      const deadline = new Date(Date.now() + 3_600_000).toISOString();
      const status = await partner.submit(await partner.uploadModel(referenceMlp()), await partner.uploadDataset(dataset(8, 64)), {
        jobId,
        shardSize: 8,
        capability: 'cpu.generic',
        deadline,
        redundancy: { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 },
      });
      expect(status).toMatchObject({ jobId, status: 'submitted', shardCount: 1 });
      await eventually(async () => (await net.bus.jsm.streams.info(SHARDS_STREAM)).state.messages > 0, 'the work item', 15_000);
      // The lease token of the work item, as the node that leased it reads it.
      const item = await net.bus.jsm.streams.getMessage(SHARDS_STREAM, { last_by_subj: shardSubject('cpu.generic') });
      const token = item!.header.get(WORK_HEADERS.leaseToken);
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      const fail = async (replica: number, attempt: number, leaseToken?: string) => {
        const failure = resultMessage({ job: jobId, shard: '0', replica: String(replica), attempt: String(attempt), node: nodeId }, resultSubject(jobId, 0, replica, nodeId));
        failure.headers.set(RESULT_HEADERS.error, 'fuzz: the model did not load');
        failure.headers.set(RESULT_HEADERS.retryable, 'true');
        if (leaseToken) failure.headers.set(RESULT_HEADERS.leaseToken, leaseToken);
        await net.bus.js.publish(failure.subject, new Uint8Array(0), { headers: failure.headers });
      };
      // Without the item's token (a node that did not lease it): refused, nothing recorded.
      const before = await logs.scheduler.headPosition();
      await fail(0, 1);
      await fail(0, 1, 'f'.repeat(64));
      await settled([RESULTS_STREAM]);
      expect(await logs.scheduler.headPosition()).toBe(before);
      await fail(0, 1, token);
      await net.jobs.until('the failure handled: a second attempt', (events) => events.some((e) => e.type === 'ShardDispatched' && e.data.jobId === jobId && e.data.attempt === 2), 15_000);
      // Failures of an attempt or a replica never dispatched are nobody's work: ignored (an attempt of 3 used to fail the job at once).
      const head = await logs.scheduler.headPosition();
      await fail(0, 3);
      await fail(1, 1);
      await settled([RESULTS_STREAM]);
      expect(await logs.scheduler.headPosition()).toBe(head);
      expect(await partner.status(jobId)).toMatchObject({ status: 'submitted', shardsFailed: 0 });
      await settled([streamOfFamily('jobs'), streamOfFamily('rewards'), RESULTS_STREAM]);
      expect(exited()).toEqual([]);
    });
  });
});
