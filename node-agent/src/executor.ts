import * as ort from 'onnxruntime-node';
import type { ContentStore } from '@weai/messaging';
import { type DType, type Tensor, decodeTensor } from '@weai/tensors';

/** A shard this node cannot run; `retryable` is false when no other node could either (a bad model, a wrong shape). */
export class ShardError extends Error {
  override readonly name = 'ShardError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const FROM_ORT: Partial<Record<string, DType>> = { float32: 'float32', float64: 'float64', int32: 'int32', int64: 'int64', uint8: 'uint8' };

function toOrt(t: Tensor): ort.Tensor {
  const buf = new Uint8Array(t.data).buffer; // a copy: the view may be a pooled Buffer of any offset
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
      throw new ShardError(`unsupported input type ${String(never)}`, false);
    }
  }
}

function fromOrt(t: ort.Tensor): Tensor {
  const dtype = FROM_ORT[t.type];
  if (!dtype) throw new ShardError(`model output of type ${t.type} is not supported`, false);
  const data = t.data as ArrayBufferView;
  return { dtype, dims: [...t.dims], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Runs shards with ONNX Runtime. Models are fetched once from the object store (verified against
 * their hash) and their sessions kept, a few at a time; CUDA is used where it loads.
 */
export class ShardExecutor {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(
    private readonly objects: ContentStore,
    private readonly options: { provider: 'cuda' | 'cpu'; maxModels?: number; maxModelBytes?: number },
  ) {}

  private session(modelHash: string): Promise<ort.InferenceSession> {
    let s = this.sessions.get(modelHash);
    if (s) return s;
    s = (async () => {
      const bytes = await this.objects.get(modelHash).catch((e: unknown) => {
        throw new ShardError(`model ${modelHash.slice(0, 12)} could not be fetched: ${(e as Error).message}`, true);
      });
      if (!bytes) throw new ShardError(`model ${modelHash.slice(0, 12)} is not in the object store`, false);
      if (bytes.byteLength > (this.options.maxModelBytes ?? 1024 ** 3)) throw new ShardError(`model is ${bytes.byteLength} bytes, above this node's limit`, false);
      try {
        return await ort.InferenceSession.create(bytes, { executionProviders: [this.options.provider], intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
      } catch (error) {
        throw new ShardError(`model does not load: ${String((error as Error).message).split('\n')[0]}`, false);
      }
    })();
    s.catch(() => this.sessions.delete(modelHash));
    this.sessions.set(modelHash, s);
    while (this.sessions.size > (this.options.maxModels ?? 4)) {
      const [oldest, entry] = this.sessions.entries().next().value!;
      this.sessions.delete(oldest);
      void entry.then((x) => x.release()).catch(() => undefined);
    }
    return s;
  }

  /** Runs one shard: WEAT input bytes in, WEAT output tensor out. */
  async run(modelHash: string, inputBytes: Uint8Array, names: { input?: string; output?: string }): Promise<Tensor> {
    const session = await this.session(modelHash);
    let input: Tensor;
    try {
      input = decodeTensor(inputBytes);
    } catch (error) {
      throw new ShardError(`shard input is malformed: ${(error as Error).message}`, false);
    }
    const inputName = names.input ?? session.inputNames[0]!;
    const outputName = names.output ?? session.outputNames[0]!;
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await session.run({ [inputName]: toOrt(input) }, [outputName]);
    } catch (error) {
      throw new ShardError(`model failed on this shard: ${String((error as Error).message).split('\n')[0]}`, false);
    }
    return fromOrt(result[outputName] as ort.Tensor);
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.then((x) => x.release()).catch(() => undefined)));
  }
}
