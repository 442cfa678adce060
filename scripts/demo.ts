/**
 * The main job of WE-AI, on one machine: a partner's batch inference job split into shards, run
 * by two local agents with ONNX Runtime, validated, integrated, and checked against the same
 * model run in this one process.
 *
 *   npm run demo        (DEMO_ITEMS, DEMO_SHARD_SIZE to change the size)
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { PartnerClient } from '@weai/sdk';
import { type Tensor, concatItems, encodeTensor, float32Tensor, sha256, sliceItems, toFloat64Array } from '@weai/tensors';
import { startLocal, type LocalProcess } from './local-network';
import { localNats } from './nats-local';
import { paddleOcrModel } from './ocr-model';
import { ProgressBar } from './progress';

const log = (line: string) => process.stdout.write(`${line}\n`);

function intFromEnv(name: string, fallback: number, max: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new Error(`${name} must be an integer from 1 to ${max}`);
  return v;
}

/** Synthetic text lines, 48×320, normalised as PaddleOCR expects: dark glyph-like blocks on white. */
function textLines(count: number): Tensor {
  const [h, w] = [48, 320];
  const values = new Float32Array(count * 3 * h * w).fill(1);
  let seed = 42;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let n = 0; n < count; n++) {
    for (let x = 8; x < w - 16; ) {
      const glyph = 8 + Math.floor(rand() * 14);
      const top = 10 + Math.floor(rand() * 6);
      const bottom = 32 + Math.floor(rand() * 6);
      for (let c = 0; c < 3; c++) for (let y = top; y < bottom; y++) for (let dx = 0; dx < glyph - 3; dx++) if (rand() > 0.25) values[((n * 3 + c) * h + y) * w + x + dx] = -1;
      x += glyph + Math.floor(rand() * 6);
    }
  }
  return float32Tensor([count, 3, h, w], values);
}

/** The same model over the same inputs in this one process, shard by shard, as the agents ran it. */
async function runHere(model: Uint8Array, input: Tensor, shardSize: number): Promise<Tensor> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const parts: Tensor[] = [];
  for (let start = 0; start < input.dims[0]!; start += shardSize) {
    const slice = sliceItems(input, start, Math.min(input.dims[0]!, start + shardSize));
    const out = (await session.run({ x: new ort.Tensor('float32', new Float32Array(new Uint8Array(slice.data).buffer), [...slice.dims]) }))[session.outputNames[0]!] as ort.Tensor;
    const data = out.data as Float32Array;
    parts.push({ dtype: 'float32', dims: [...out.dims], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
  await session.release();
  return concatItems(parts);
}

async function main(): Promise<void> {
  const items = intFromEnv('DEMO_ITEMS', 32, 10_000);
  const shardSize = intFromEnv('DEMO_SHARD_SIZE', 2, items);
  const dir = resolve('.data', 'demo', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const nats = await localNats(log);
  const running: LocalProcess[] = [];
  let partner: PartnerClient | undefined;
  const shutdown = async () => {
    await partner?.close();
    await Promise.all(running.map((p) => p.stop()));
    await nats.stop();
  };
  process.once('SIGINT', () => void shutdown().then(() => process.exit(130)));
  try {
    const env = { NATS_URL: nats.url, WEAI_DATA_DIR: join(dir, 'control-plane') };
    log(`control plane: nodes and scheduler services on SQLite under ${join(dir, 'control-plane')} (logs in ${dir})`);
    const services = ['nodes', 'scheduler'].map((name) => startLocal(name, `services/${name}/src/main.ts`, [], env, dir));
    running.push(...services);
    await Promise.all(services.map((s) => s.waitFor(/service ready/)));
    const agents = ['agent-1', 'agent-2'].map((name, i) =>
      startLocal(name, 'node-agent/src/cli.ts', ['start', '--nats', nats.url, '--dir', join(dir, name), '--payout', `0x${String(i + 1).repeat(40)}`, '--slots', '1'], {}, dir),
    );
    running.push(...agents);
    for (const a of agents) log(`${a.name}: ${(await a.waitFor(/registered as node \S+/)).replace('registered as ', '')}, ${(await a.waitFor(/capabilities: .*/)).replace('capabilities: ', '')}`);
    await Promise.all(agents.map((a) => a.waitFor(/taking work/)));

    const model = paddleOcrModel();
    const input = textLines(items);
    partner = await PartnerClient.connect({ servers: nats.url, partnerId: 'demo-partner' });
    log(`\npartner: PaddleOCR v4 text recognition (${(model.bytes.byteLength / 1e6).toFixed(1)} MB) over ${items} text lines [${input.dims.join(', ')}], ${shardSize} per shard`);
    const modelHash = await partner.uploadModel(model.bytes);
    const inputHash = await partner.uploadDataset(input);
    const submitted = await partner.submit(modelHash, inputHash, {
      jobId: `demo-${randomUUID()}`,
      shardSize,
      capability: 'cpu.generic',
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
      redundancy: { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-4 },
    });
    log(`job ${submitted.jobId}: ${submitted.shardCount} shards (new nodes are checked by a second node until they have 10 valid results)`);
    const bar = new ProgressBar('shards validated', submitted.shardCount, process.stdout);
    const started = performance.now();
    const outcome = await partner.follow(submitted.jobId, (e) => e.type === 'ShardValidated' && bar.tick());
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    const seconds = (performance.now() - started) / 1000;
    const output = await partner.downloadTensor(outcome.outputHash);
    const outPath = join(dir, 'output.weat');
    writeFileSync(outPath, encodeTensor(output));
    log(`\nintegrated output: ${outPath} (float32[${output.dims.join(', ')}], sha256 ${outcome.outputHash}) in ${seconds.toFixed(1)} s`);

    const expected = await runHere(model.bytes, input, shardSize);
    const a = toFloat64Array(output);
    const b = toFloat64Array(expected);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    const identical = sha256(encodeTensor(expected)) === outcome.outputHash;
    log(`check against one process: ${identical ? 'bit-identical' : `max difference ${maxDiff.toExponential(2)}`} (${a.length} values)`);
    if (!identical && !(a.length === b.length && maxDiff <= 1e-4)) throw new Error('the integrated output differs from the single-process output');
    log('demo finished: the network computed exactly what one process computes.');
  } finally {
    await shutdown();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
