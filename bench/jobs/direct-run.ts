/**
 * The direct baseline of the efficiency measurement, in a plain node process of its own: the cls
 * model run with onnxruntime-node over the benchmark's dataset, batch by batch (the batches the
 * network runs as shards), with the agent executor's session options (CPU, one intra-op thread,
 * all graph optimizations). One untimed pass first, then `reps` timed passes.
 *
 *   node -r @swc-node/register bench/jobs/direct-run.ts MODEL.onnx ITEMS BATCH REPS
 *
 * The last stdout line is JSON: { passes_s: [...], batch_ms: [...], output_sha256 }.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { type Tensor, concatItems, encodeTensor, sha256, sliceItems } from '@weai/tensors';
import { clsDataset } from './cls-model';

async function main(): Promise<void> {
  const [modelPath, itemsArg, batchArg, repsArg] = process.argv.slice(2);
  const items = Number(itemsArg);
  const batch = Number(batchArg);
  const reps = Number(repsArg);
  if (!modelPath || ![items, batch, reps].every((n) => Number.isSafeInteger(n) && n > 0)) throw new Error('usage: direct-run.ts MODEL.onnx ITEMS BATCH REPS');
  const input = clsDataset(items);
  const session = await ort.InferenceSession.create(readFileSync(modelPath), { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const pass = async (batchMs?: number[]): Promise<Tensor> => {
    const parts: Tensor[] = [];
    for (let start = 0; start < items; start += batch) {
      const t0 = performance.now();
      const slice = sliceItems(input, start, Math.min(items, start + batch));
      // As the executor does: a copy of the bytes into a fresh Float32Array.
      const feed = new ort.Tensor('float32', new Float32Array(new Uint8Array(slice.data).buffer), [...slice.dims]);
      const out = (await session.run({ [inputName]: feed }, [outputName]))[outputName] as ort.Tensor;
      const data = out.data as Float32Array;
      parts.push({ dtype: 'float32', dims: [...out.dims], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
      batchMs?.push(performance.now() - t0);
    }
    return concatItems(parts);
  };
  const output = await pass();
  const passes: number[] = [];
  const batchMs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await pass(batchMs);
    passes.push((performance.now() - t0) / 1000);
  }
  await session.release();
  process.stdout.write(`${JSON.stringify({ passes_s: passes, batch_ms: batchMs, output_sha256: sha256(encodeTensor(output)) })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`direct-run: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
