/** Messages between the agent and its shard-runner processes (Node IPC, advanced serialization). */
import type { Tensor } from '@weai/tensors';

/** How a runner process is set up (in its environment, `WEAI_RUNNER`, as JSON). */
export interface RunnerSetup {
  /** ONNX Runtime execution provider. A CUDA runner sees only its own GPU (`CUDA_VISIBLE_DEVICES`). */
  readonly provider: 'cuda' | 'cpu';
  /** Sessions kept loaded, most recently used first. */
  readonly maxModels: number;
}

/** Asks a runner to do something; `id` pairs the reply. */
export type RunnerRequest =
  | {
      readonly kind: 'run';
      readonly id: number;
      /** SHA-256 of the model: its session is kept under this name. */
      readonly modelHash: string;
      /** The model file (verified against its hash by the agent). */
      readonly modelPath: string;
      /** The shard input, a WEAT tensor. */
      readonly input: Uint8Array;
      readonly inputName?: string;
      readonly outputName?: string;
    }
  | {
      /** Measures the node: whether CUDA works here, and the benchmark score on the provider used. */
      readonly kind: 'probe';
      readonly id: number;
      readonly tryCuda: boolean;
    };

/** A runner's answer. */
export type RunnerReply =
  | { readonly kind: 'run'; readonly id: number; readonly ok: true; readonly output: Tensor }
  | { readonly kind: 'probe'; readonly id: number; readonly ok: true; readonly cuda: { usable: boolean; reason?: string }; readonly score: number }
  | { readonly kind: 'error'; readonly id: number; readonly ok: false; readonly message: string; readonly retryable: boolean };
