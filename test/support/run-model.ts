/**
 * Runs an ONNX model over a WEAT dataset in this one process, shard by shard, and writes the
 * output as WEAT: the single-process reference a job's integrated output must equal.
 * (A separate process, because ONNX Runtime's typed-array checks fail across Jest's realms.)
 *
 *   node -r @swc-node/register test/support/run-model.ts MODEL.onnx INPUT.weat SHARD_SIZE OUTPUT.weat
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { type Tensor, concatItems, decodeTensor, encodeTensor, sliceItems } from '@weai/tensors';

async function main(): Promise<void> {
  const [modelPath, inputPath, shardSizeArg, outPath] = process.argv.slice(2) as [string, string, string, string];
  const input = decodeTensor(readFileSync(inputPath));
  const shardSize = Number(shardSizeArg);
  const session = await ort.InferenceSession.create(readFileSync(modelPath), { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const parts: Tensor[] = [];
  for (let start = 0; start < input.dims[0]!; start += shardSize) {
    const slice = sliceItems(input, start, Math.min(input.dims[0]!, start + shardSize));
    const feed = new ort.Tensor('float32', new Float32Array(new Uint8Array(slice.data).buffer), [...slice.dims]);
    const out = (await session.run({ [session.inputNames[0]!]: feed }))[session.outputNames[0]!] as ort.Tensor;
    const data = out.data as Float32Array;
    parts.push({ dtype: 'float32', dims: [...out.dims], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
  await session.release();
  writeFileSync(outPath, encodeTensor(concatItems(parts)));
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
