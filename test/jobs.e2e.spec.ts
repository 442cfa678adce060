import { randomUUID } from 'node:crypto';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { PartnerClient } from '@weai/sdk';
import { encodeTensor, sha256 } from '@weai/tensors';
import { ofType } from './support/events';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { dataset, runLocally } from './support/reference';

const deadline = () => new Date(Date.now() + 3_600_000).toISOString();
const redundancy = { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 };

describe('the main job (e2e): partner → scheduler → agents → validated, integrated output', () => {
  let net: TestNetwork;
  let partner: PartnerClient;
  const model = referenceMlp();

  beforeAll(async () => {
    net = await startNetwork();
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
    const status = await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(input), {
      jobId,
      shardSize: 4,
      capability: 'cpu.generic',
      deadline: deadline(),
      redundancy,
    });
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
});
