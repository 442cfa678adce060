import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { RpcError } from '@weai/messaging';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { type JobRequest, PartnerClient } from '@weai/sdk';
import { type Tensor, encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { ofType } from './support/events';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { startTs } from './support/processes';
import { dataset, runLocally } from './support/reference';

const deadline = () => new Date(Date.now() + 3_600_000).toISOString();
const redundancy = { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 };
const job = (over: Partial<JobRequest> = {}): JobRequest => ({ jobId: `job-${randomUUID()}`, shardSize: 4, capability: 'cpu.generic', deadline: deadline(), redundancy, ...over });
const same = (a: Tensor, b: Tensor) => sha256(encodeTensor(a)) === sha256(encodeTensor(b));

/** Submits, follows to the end, and returns the integrated output (throws with the reason if the job did not complete). */
async function runJob(partner: PartnerClient, model: Uint8Array, input: Tensor, request: JobRequest): Promise<Tensor> {
  const submitted = await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(input), request);
  const outcome = await partner.follow(submitted.jobId);
  if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
  return partner.downloadTensor(outcome.outputHash);
}

describe('the main job (e2e): partner → scheduler → agents → validated, integrated output', () => {
  let net: TestNetwork;
  let partner: PartnerClient;
  const model = referenceMlp();

  beforeAll(async () => {
    net = await startNetwork({ SCHEDULER_MAX_MODEL_BYTES: '2000000', SCHEDULER_MAX_SHARDS: '2000' });
    await net.startService('nodes');
    await net.startService('scheduler');
    partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'partner-1' });
  });
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const [name, p] of net.services) process.stderr.write(`--- ${name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await partner?.close();
    await net?.stop();
  });

  it('runs a job of 100 shards over three agents and gives exactly the single-process output', async () => {
    await Promise.all(['a1', 'a2', 'a3'].map((n) => net.startAgent(n)));
    const input = dataset(400, 64);
    const jobId = `job-${randomUUID()}`;
    const status = await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(input), job({ jobId }));
    expect(status).toMatchObject({ jobId, shardCount: 100 });
    const outcome = await partner.follow(jobId);
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    const output = await partner.downloadTensor(outcome.outputHash);
    const expected = runLocally(model, input, 4);
    expect(output.dims).toEqual([400, 16]);
    expect(sha256(encodeTensor(output))).toBe(sha256(encodeTensor(expected)));
    const validated = ofType(net.jobs.events, 'ShardValidated').filter((e) => e.data.jobId === jobId);
    expect(new Set(validated.map((e) => e.data.shardIndex)).size).toBe(100);
    expect(validated).toHaveLength(100);
    const workers = new Set(validated.flatMap((e) => e.data.accepted.map((a) => a.nodeId)));
    expect(workers.size).toBe(3);
  });

  it('catches a cheating agent: its results are not used and it ends quarantined', async () => {
    const cheater = startTs('cheater', 'test/support/cheating-agent.ts', [net.nats.url, join(net.dir, 'cheater'), `0x${'c4'.repeat(20)}`], {});
    const cheaterId = (await cheater.waitFor(/registered as node (\S+)/)).split(' ').pop()!;
    await cheater.waitFor(/taking work on/);
    try {
      const input = dataset(240, 64, 11);
      const output = await runJob(partner, model, input, job());
      expect(same(output, runLocally(model, input, 4))).toBe(true);
      const rejected = ofType(net.jobs.events, 'ShardResultRejected').filter((e) => e.data.nodeId === cheaterId);
      expect(rejected.length).toBeGreaterThanOrEqual(1);
      expect(ofType(net.jobs.events, 'ShardValidated').some((e) => e.data.accepted.some((a) => a.nodeId === cheaterId))).toBe(false);
      await net.nodes.until('the cheater quarantined', (events) => ofType(events, 'NodeQuarantined').find((e) => e.data.nodeId === cheaterId), 30_000);
    } finally {
      await cheater.kill('SIGKILL');
    }
  });

  it('refuses malformed jobs with a clear error and records nothing', async () => {
    const input = dataset(8, 64);
    const inputHash = await partner.uploadDataset(input);
    const modelHash = await partner.uploadModel(model);
    const refused = async (modelH: string, inputH: string, request: JobRequest) => {
      const error = await partner.submit(modelH, inputH, request).then(
        () => undefined,
        (e: unknown) => e as RpcError,
      );
      expect(error).toBeInstanceOf(RpcError);
      expect(ofType(net.jobs.events, 'JobSubmitted').some((e) => e.data.jobId === request.jobId)).toBe(false);
      return error!.message;
    };
    const garbage = await partner.uploadModel(new TextEncoder().encode('this is not an ONNX model'));
    expect(await refused(garbage, inputHash, job())).toMatch(/model does not load in ONNX Runtime/);
    const wrongShape = await partner.uploadDataset(float32Tensor([8, 32], new Array(256).fill(0.5)));
    expect(await refused(modelHash, wrongShape, job())).toMatch(/model does not run on the input \(float32\[8,32\]/);
    const tooBig = await partner.uploadModel(referenceMlp({ inputs: 64, hidden: 8192, outputs: 16 }));
    expect(await refused(tooBig, inputHash, job())).toMatch(/more than the 2000000 allowed/);
    expect(await refused(modelHash, await partner.uploadDataset(dataset(3000, 64)), job({ shardSize: 1 }))).toMatch(/3000 shards is more than the 2000 allowed/);
    expect(await refused('0'.repeat(64), inputHash, job())).toMatch(/is not in the object store/);
    expect(await refused(modelHash, inputHash, job({ capability: 'quantum.qpu' }))).toMatch(/not a capability class/);
    expect(await refused(modelHash, inputHash, job({ deadline: '2020-01-01T00:00:00.000Z' }))).toMatch(/deadline .* has passed/);
    expect(await refused(modelHash, await partner.uploadModel(new TextEncoder().encode('WEAT?')), job())).toMatch(/input is not a WEAT tensor|model does not load/);
  });
});

describe('the main job survives failures (e2e)', () => {
  let net: TestNetwork;
  let partner: PartnerClient;
  const model = referenceMlp();

  beforeEach(async () => {
    net = await startNetwork();
    await net.startService('nodes');
    await net.startService('scheduler');
    partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'partner-2' });
  });
  afterEach(async () => {
    await partner?.close();
    await net?.stop();
  });

  it('fails a job whose deadline passes, with the reason', async () => {
    const submitted = await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(dataset(8, 64)), job({ deadline: new Date(Date.now() + 2000).toISOString() }));
    const outcome = await partner.follow(submitted.jobId);
    expect(outcome).toMatchObject({ status: 'failed', reason: expect.stringMatching(/deadline .* passed with 0 of 2 shards validated/) });
  });

  it('runs a shard elsewhere when its agent is killed mid-shard', async () => {
    // A model slow enough (a few hundred ms a shard) that the kill lands inside one.
    const slow = referenceMlp({ inputs: 256, hidden: 4096, outputs: 16 });
    const input = dataset(64, 256, 3);
    const victim = await net.startAgent('victim', { slots: 1 });
    const request = job({ shardSize: 16 });
    const submitted = await partner.submit(await partner.uploadModel(slow), await partner.uploadDataset(input), request);
    const started = await victim.process.waitFor(/shard \S+\/(\d+)\/(\d+) started/);
    await victim.process.kill('SIGKILL');
    const [, shard] = /\/(\d+)\/\d+ started/.exec(started)!;
    await Promise.all(['helper-1', 'helper-2'].map((n) => net.startAgent(n)));
    const outcome = await partner.follow(submitted.jobId);
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    expect(same(await partner.downloadTensor(outcome.outputHash), runLocally(slow, input, 16))).toBe(true);
    const validated = ofType(net.jobs.events, 'ShardValidated').find((e) => e.data.jobId === submitted.jobId && e.data.shardIndex === Number(shard))!;
    expect(validated.data.accepted.map((a) => a.nodeId)).not.toContain(victim.nodeId);
  });

  it('completes a job across a scheduler crash, with nothing run twice into the result', async () => {
    await Promise.all(['b1', 'b2', 'b3'].map((n) => net.startAgent(n)));
    const input = dataset(400, 64, 5);
    const submitted = await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(input), job());
    await net.jobs.until('20 shards validated', (events) => ofType(events, 'ShardValidated').filter((e) => e.data.jobId === submitted.jobId).length >= 20);
    await net.services.get('scheduler')!.kill('SIGKILL');
    await net.startService('scheduler');
    const outcome = await partner.follow(submitted.jobId);
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    expect(same(await partner.downloadTensor(outcome.outputHash), runLocally(model, input, 4))).toBe(true);
    const validated = ofType(net.jobs.events, 'ShardValidated').filter((e) => e.data.jobId === submitted.jobId).map((e) => e.data.shardIndex);
    expect(validated.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(ofType(net.jobs.events, 'JobCompleted').filter((e) => e.data.jobId === submitted.jobId)).toHaveLength(1);
  });
});
