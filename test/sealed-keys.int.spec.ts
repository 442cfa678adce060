/**
 * Data protection against the real things: a nats-server with TLS and nkey users, the security
 * service releasing data keys, the JetStream object store, and a real ShardWorker with ONNX
 * Runtime runner processes. The test plays the scheduler (a `scheduler` service credential).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { setSha256Backend } from '@nats-io/obj';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { JOB_STATUS_BUCKET, RESULTS_STREAM, RESULT_HEADERS, SHARDS_STREAM, WORK_HEADERS, jobKeyId, keyRequestSubject, objectKeyId, resultSubject, shardSubject } from '@weai/contracts';
import { ContentStore, DataKeyClient, ObjectIntegrityError, RpcError, isSealed, openPayload, requestJson, sealPayload, sealedKeyId } from '@weai/messaging';
import { decodeTensor, encodeTensor, sha256 } from '@weai/tensors';
import { ModelFiles, ShardExecutor } from '../node-agent/src/executor';
import { referenceMlp } from '../node-agent/src/onnx/reference-model';
import { ShardWorker } from '../node-agent/src/worker';
import { KeyRing } from '../services/security/src/application/key-ring';
import { toAuditStreamId } from '../services/security/src/application/audit.recorder';
import type { IssueRequestSchema } from '../services/security/src/application/credentials';
import { type SecuredBus, startSecuredBus } from '../services/security/test/support';
import { dataset, runLocally } from './support/reference';

type Issue = (typeof IssueRequestSchema)['_input'];

describe('sealed objects and key release (TLS + nkey users, real object store, real agent worker)', () => {
  let sb: SecuredBus;
  let ring: KeyRing;
  let scheduler: NatsConnection;
  let n1: NatsConnection;
  let n2: NatsConnection;
  let store: ContentStore;
  let keys: ReturnType<DataKeyClient['cached']>;
  let dir: string;
  const model = referenceMlp();
  const input = dataset(6, 64);
  const inputBytes = encodeTensor(input);
  const inputHash = sha256(inputBytes);
  let modelHash: string;
  let workItem: number;

  const connect = async (request: Issue) => sb.connectAs(await sb.commands.issue(request, new Date()));
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => 'released',
      (e: unknown) => (e instanceof RpcError ? `${e.code}: ${e.message}` : String(e)),
    );
  const audit = async (principalId: string) => (await sb.store.readStream(toAuditStreamId(principalId))).filter((e) => e.type.startsWith('Key'));
  const publishWork = async (js: JetStreamClient, jobId: string, cls: string, body: Uint8Array) => {
    const h = natsHeaders();
    for (const [k, v] of [
      [WORK_HEADERS.job, jobId],
      [WORK_HEADERS.shard, '0'],
      [WORK_HEADERS.replica, '0'],
      [WORK_HEADERS.attempt, '1'],
      [WORK_HEADERS.model, modelHash],
      [WORK_HEADERS.input, inputHash],
      [WORK_HEADERS.sealed, 'true'],
    ] as const)
      h.set(k, v);
    return (await js.publish(shardSubject(cls), body, { headers: h })).seq;
  };

  beforeAll(async () => {
    setSha256Backend('js'); // Jest's sandbox cannot load the native backend (see libs/messaging/src/objects.ts)
    ring = KeyRing.of(randomBytes(32));
    sb = await startSecuredBus({ keys: ring });
    scheduler = await connect({ credentialId: 'svc-scheduler', role: 'service', principalId: 'scheduler' });
    n1 = await connect({ credentialId: 'cred-n1', role: 'node', principalId: 'n1', capabilityClasses: ['cpu.avx2'] });
    n2 = await connect({ credentialId: 'cred-n2', role: 'node', principalId: 'n2', capabilityClasses: ['cuda.sm86'] });
    store = await ContentStore.open(jetstream(scheduler));
    keys = new DataKeyClient(scheduler, 'scheduler').cached();
    dir = mkdtempSync(join(tmpdir(), 'weai-sealed-'));
  });
  afterAll(async () => {
    await sb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores a sealed object as ciphertext under its plaintext address, opened only with its key', async () => {
    modelHash = await store.putSealed(model, (address) => keys(objectKeyId(address)));
    expect(modelHash).toBe(sha256(model));
    const raw = (await store.getRaw(modelHash))!;
    expect(isSealed(raw)).toBe(true);
    expect(sealedKeyId(raw)).toBe(objectKeyId(modelHash));
    expect(sha256(raw)).not.toBe(modelHash);
    expect(Buffer.from(raw).indexOf(Buffer.from(model.subarray(32, 96)))).toBe(-1);
    await expect(store.get(modelHash)).rejects.toThrow(ObjectIntegrityError);
    expect(Buffer.from((await store.getOpened(modelHash, keys))!).equals(Buffer.from(model))).toBe(true);
    // A service's sealing view seals puts under the object's own key and opens gets and inline payloads.
    const view = store.withKeys(keys);
    const other = encodeTensor(dataset(3, 64, 99));
    const otherHash = await view.put(other);
    expect(sealedKeyId((await store.getRaw(otherHash))!)).toBe(objectKeyId(otherHash));
    expect(Buffer.from((await view.get(otherHash))!).equals(Buffer.from(other))).toBe(true);
    const inline = await view.sealInline(other, otherHash);
    expect(isSealed(inline)).toBe(true);
    expect(Buffer.from(await view.openInline(inline, otherHash)).equals(Buffer.from(other))).toBe(true);
    expect(await store.openInline(inline, otherHash)).toBe(inline); // a view without keys leaves it as it came
    // A node reads the same raw bucket and sees only ciphertext; without a lease it gets no key.
    const asNode = await ContentStore.open(jetstream(n1));
    expect(Buffer.from((await asNode.getRaw(modelHash))!).equals(Buffer.from(raw))).toBe(true);
    expect(await refusal(asNode.getOpened(modelHash, (id) => new DataKeyClient(n1, 'n1').fetch([id]).then((m) => m.get(id)!)))).toMatch(/keys.refused: .*must name the work item/);
  });

  it('refuses a node of another class, and a node of the class before the item is handed out; records each refusal', async () => {
    const inputKey = await keys(objectKeyId(inputHash));
    workItem = await publishWork(jetstream(scheduler), 'job-s1', 'cpu.avx2', sealPayload(inputBytes, inputHash, inputKey));
    const wanted = [objectKeyId(modelHash), objectKeyId(inputHash), jobKeyId('job-s1')];
    expect(await refusal(new DataKeyClient(n2, 'n2').fetch(wanted, workItem))).toMatch(/keys.refused: .*class cpu.avx2, which this node may not pull/);
    expect(await refusal(new DataKeyClient(n1, 'n1').fetch(wanted, workItem))).toMatch(/keys.refused: .*not been handed to any node/);
    expect((await audit('n2')).map((e) => [e.type, (e.data as { workItem?: number }).workItem])).toEqual([['KeyRefused', workItem]]);
  });

  it('a node that leased the sealed shard gets its keys, runs it, and seals its output; the output is bit-identical to the reference', async () => {
    const models = new ModelFiles(await ContentStore.open(jetstream(n1)), join(dir, 'models'), { maxModelBytes: 8 * 1024 * 1024 });
    const executor = new ShardExecutor(models, { provider: 'cpu', maxRunners: 1 });
    const events: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const worker = new ShardWorker({
      js: jetstream(n1),
      jsm: await jetstreamManager(n1),
      objects: await ContentStore.open(jetstream(n1)),
      executor,
      nodeId: 'n1',
      classes: ['cpu.avx2'],
      slots: 1,
      keys: new DataKeyClient(n1, 'n1'),
      onEvent: (e) => {
        events.push(e.kind === 'failed' ? `failed: ${e.reason}` : e.kind);
        if (e.kind === 'completed' || e.kind === 'failed') done();
      },
    });
    try {
      await worker.start();
      await finished;
    } finally {
      await worker.stop();
      await executor.close();
      models.close();
    }
    expect(events).toEqual(['started', 'completed']);
    const result = await (await jetstreamManager(scheduler)).streams.getMessage(RESULTS_STREAM, { last_by_subj: resultSubject('job-s1', 0, 0, 'n1') });
    const outputHash = result!.header!.get(RESULT_HEADERS.output);
    expect(result!.header!.get(RESULT_HEADERS.sealed)).toBe('true');
    expect(isSealed(result!.data)).toBe(true);
    const output = openPayload(result!.data, outputHash, await keys(jobKeyId('job-s1')));
    expect(sha256(output)).toBe(outputHash);
    expect(Buffer.from(output).equals(Buffer.from(encodeTensor(runLocally(model, input, 6))))).toBe(true);
    expect(decodeTensor(output).dims).toEqual([6, 16]);

    const released = (await audit('n1')).filter((e) => e.type === 'KeyReleased');
    expect(released).toHaveLength(1);
    expect(released[0]!.data).toMatchObject({ role: 'node', lease: { jobId: 'job-s1', shard: 0, replica: 0, workItem } });
  });

  it('refuses the keys of an acknowledged work item and records it; no key ever appears in an event', async () => {
    const wanted = [objectKeyId(modelHash), objectKeyId(inputHash), jobKeyId('job-s1')];
    expect(await refusal(new DataKeyClient(n1, 'n1').fetch(wanted, workItem))).toMatch(/keys.refused: .*not in the queue/);
    const n1Events = await audit('n1');
    expect(n1Events.at(-1)).toMatchObject({ type: 'KeyRefused', data: { principalId: 'n1', workItem } });
    const all = JSON.stringify([...n1Events, ...(await audit('n2')), ...(await audit('scheduler'))]);
    for (const id of wanted) {
      const key = Buffer.from(ring.dataKey(id));
      expect(all).not.toContain(key.toString('base64'));
      expect(all).not.toContain(key.toString('hex'));
    }
  });

  it('refuses the keys of a shard whose job no longer wants results (job-status bucket), and records it', async () => {
    const status = await new Kvm(jetstream(scheduler)).create(JOB_STATUS_BUCKET, { history: 1 });
    await status.put('job-s2', 'cancelled');
    const seq = await publishWork(jetstream(scheduler), 'job-s2', 'cpu.avx2', sealPayload(inputBytes, inputHash, await keys(objectKeyId(inputHash))));
    const msg = await (await jetstream(n1).consumers.get(SHARDS_STREAM, 'shards-cpu_avx2')).next({ expires: 5000 });
    expect(msg?.info.streamSequence).toBe(seq);
    const wanted = [objectKeyId(modelHash), objectKeyId(inputHash), jobKeyId('job-s2')];
    expect(await refusal(new DataKeyClient(n1, 'n1').fetch(wanted, seq))).toMatch(/keys.refused: job job-s2 is cancelled/);
    msg!.term();
    expect((await audit('n1')).at(-1)).toMatchObject({ type: 'KeyRefused', data: { workItem: seq } });
  });

  it('a node cannot ask on another principal’s key subject (the server refuses the publish)', async () => {
    const asked = requestJson(n1, keyRequestSubject('scheduler'), { keyIds: [objectKeyId(modelHash)] }, 1500);
    expect(await refusal(asked)).toMatch(/permissions violation/i);
    expect((await audit('scheduler')).filter((e) => e.type === 'KeyReleased').every((e) => (e.data as { keyIds: string[] }).keyIds.length === 1)).toBe(true);
  });
});
