import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, decodeTensor, encodeTensor, float32Tensor } from '@weai/tensors';
import { ROOT } from './processes';

/** A deterministic float32 dataset of `items` × `width` (values in [-1, 1)). */
export function dataset(items: number, width: number, seed = 7): Tensor {
  let s = seed >>> 0;
  const values = Array.from({ length: items * width }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 31 - 1;
  });
  return float32Tensor([items, width], values);
}

/** The model run over the dataset in one plain node process, shard by shard (the batches the network runs). */
export function runLocally(model: Uint8Array, input: Tensor, shardSize: number): Tensor {
  const dir = mkdtempSync(join(tmpdir(), 'weai-ref-'));
  try {
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, 'input.weat'), encodeTensor(input));
    execFileSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'test/support/run-model.ts'), join(dir, 'model.onnx'), join(dir, 'input.weat'), String(shardSize), join(dir, 'out.weat')], { cwd: ROOT });
    return decodeTensor(readFileSync(join(dir, 'out.weat')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
