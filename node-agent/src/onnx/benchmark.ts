import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cudaProviderLibraries, explainCudaFailure, onnxRuntimeBindingDir } from './cuda-provider';
import { referenceMlp } from './reference-model';

/**
 * The node's benchmark score: reference-MLP items per millisecond on the given execution
 * provider, measured over about `durationMs` after a warm-up. Higher is faster; the reward
 * policy divides work by it so that fast and slow nodes earn the same per unit of work.
 */
export async function benchmarkScore(provider: 'cpu' | 'cuda' = 'cpu', durationMs = 300): Promise<number> {
  const session = await ort.InferenceSession.create(referenceMlp(), { executionProviders: [provider], intraOpNumThreads: 1 });
  try {
    const batch = 32;
    const input = new ort.Tensor('float32', new Float32Array(batch * 64).fill(0.25), [batch, 64]);
    for (let i = 0; i < 5; i++) await session.run({ input });
    let items = 0;
    const start = performance.now();
    while (performance.now() - start < durationMs) {
      await session.run({ input });
      items += batch;
    }
    const perMs = items / (performance.now() - start);
    return Math.max(0.01, Math.round(perMs * 100) / 100);
  } finally {
    await session.release();
  }
}

/**
 * Whether ONNX Runtime can create a session on CUDA here (an NVIDIA GPU, its driver, ONNX Runtime's
 * CUDA provider and the CUDA libraries); when not, why, in words the owner can act on.
 */
export async function cudaUsable(): Promise<{ usable: boolean; reason?: string }> {
  try {
    const session = await ort.InferenceSession.create(referenceMlp({ inputs: 4, hidden: 4, outputs: 4 }), { executionProviders: ['cuda'] });
    await session.release();
    return { usable: true };
  } catch (error) {
    const dir = onnxRuntimeBindingDir();
    const missing = cudaProviderLibraries().filter((name) => !existsSync(join(dir, name)));
    return { usable: false, reason: explainCudaFailure((error as Error).message.split('\n')[0]!, missing, dir) };
  }
}
