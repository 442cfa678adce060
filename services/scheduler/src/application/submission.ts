import * as ort from 'onnxruntime-node';
import { type SubmitJobRequest, SubmitJobRequestSchema, isCapabilityClass } from '@weai/contracts';
import { DomainError } from '@weai/decider';
import type { ContentStore } from '@weai/messaging';
import { type Tensor, TensorFormatError, decodeTensor, sliceItems } from '@weai/tensors';
import type { JobSpec } from '../domain/job';

/** Limits on what a partner may submit. */
export interface SubmissionLimits {
  readonly maxModelBytes: number;
  readonly maxInputBytes: number;
  readonly maxShards: number;
}

export const DEFAULT_LIMITS: SubmissionLimits = { maxModelBytes: 512 * 1024 * 1024, maxInputBytes: 1024 * 1024 * 1024, maxShards: 100_000 };

/** A job the scheduler refuses, with the reason for the partner. */
export class JobRejectedError extends DomainError {
  override readonly name = 'JobRejectedError';
  constructor(message: string) {
    super(message, 'job.rejected');
  }
}

/** An ONNX Runtime tensor over WEAT bytes (copied, so alignment is never a problem). */
export function toOrtTensor(t: Tensor): ort.Tensor {
  // A copy: the bytes may be a view into a pooled Buffer, at any offset.
  const buf = new Uint8Array(t.data).buffer;
  const dims = [...t.dims];
  switch (t.dtype) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(buf), dims);
    case 'float64':
      return new ort.Tensor('float64', new Float64Array(buf), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(buf), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(buf), dims);
    case 'uint8':
      return new ort.Tensor('uint8', new Uint8Array(buf), dims);
    default: {
      const never: never = t.dtype;
      throw new TensorFormatError(`unsupported dtype ${String(never)}`);
    }
  }
}

/**
 * Checks a submission before anything is recorded: the request's fields, the objects it names
 * (present, within limits), the dataset (a valid WEAT tensor), and the model against the data —
 * it must load in ONNX Runtime and run on the first item with the named input, so a bad model or
 * a wrong shape is refused now, with ONNX Runtime's own words, not later on every node.
 */
export async function checkSubmission(body: unknown, objects: ContentStore, now: Date, limits = DEFAULT_LIMITS): Promise<{ request: SubmitJobRequest; spec: JobSpec; dataset: Tensor }> {
  const parsed = SubmitJobRequestSchema.safeParse(body);
  if (!parsed.success) throw new JobRejectedError(`invalid job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const request = parsed.data;
  if (!isCapabilityClass(request.capability)) throw new JobRejectedError(`capability ${request.capability} is not a capability class (e.g. cpu.generic, cuda.sm75.vram8)`);
  if (Date.parse(request.deadline) <= now.getTime()) throw new JobRejectedError(`deadline ${request.deadline} has passed`);

  const modelSize = await objects.size(request.modelHash);
  if (modelSize === undefined) throw new JobRejectedError(`model ${request.modelHash} is not in the object store: upload it first`);
  if (modelSize > limits.maxModelBytes) throw new JobRejectedError(`model is ${modelSize} bytes, more than the ${limits.maxModelBytes} allowed`);
  const inputSize = await objects.size(request.inputHash);
  if (inputSize === undefined) throw new JobRejectedError(`input ${request.inputHash} is not in the object store: upload it first`);
  if (inputSize > limits.maxInputBytes) throw new JobRejectedError(`input is ${inputSize} bytes, more than the ${limits.maxInputBytes} allowed`);

  let dataset: Tensor;
  try {
    dataset = decodeTensor((await objects.get(request.inputHash))!);
  } catch (error) {
    if (error instanceof TensorFormatError) throw new JobRejectedError(`input is not a WEAT tensor: ${error.message}`);
    throw error;
  }
  const itemCount = dataset.dims[0]!;
  if (itemCount < 1) throw new JobRejectedError('input holds no items');
  const shards = Math.ceil(itemCount / request.shardSize);
  if (shards > limits.maxShards) throw new JobRejectedError(`${shards} shards is more than the ${limits.maxShards} allowed: use a larger shard size`);

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create((await objects.get(request.modelHash))!, { intraOpNumThreads: 1 });
  } catch (error) {
    throw new JobRejectedError(`model does not load in ONNX Runtime: ${firstLine(error)}`);
  }
  try {
    const inputName = request.inputName ?? session.inputNames[0];
    const outputName = request.outputName ?? session.outputNames[0];
    if (!inputName || !session.inputNames.includes(inputName)) throw new JobRejectedError(`model has no input ${inputName}; its inputs: ${session.inputNames.join(', ')}`);
    if (!outputName || !session.outputNames.includes(outputName)) throw new JobRejectedError(`model has no output ${outputName}; its outputs: ${session.outputNames.join(', ')}`);
    if (session.inputNames.length > 1) throw new JobRejectedError(`model needs ${session.inputNames.length} inputs; WE-AI jobs feed one (${session.inputNames.join(', ')})`);
    try {
      await session.run({ [inputName]: toOrtTensor(sliceItems(dataset, 0, 1)) }, [outputName]);
    } catch (error) {
      throw new JobRejectedError(`model does not run on the input (${dataset.dtype}[${dataset.dims.join(',')}], one item ${dataset.dtype}[1,${dataset.dims.slice(1).join(',')}]): ${firstLine(error)}`);
    }
    const { jobId: _j, partnerId: _p, ...rest } = request;
    return { request, spec: { ...rest, itemCount }, dataset };
  } finally {
    await session.release();
  }
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!.slice(0, 400);
}
