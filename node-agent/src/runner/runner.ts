/**
 * A shard-runner process: ONNX Runtime outside the agent's own process. onnxruntime-node runs a
 * session synchronously on the calling thread, so a shard run in the agent would stop its policy
 * loop, heartbeats and status page for as long as the shard takes; here it blocks only this
 * process, which the agent can kill at once when the owner wants the GPU back or a shard overruns
 * its time limit. A model that crashes ONNX Runtime takes only this process down.
 *
 * Started by the agent (`executor.ts`) through `entry.js`; one request at a time over IPC.
 */
import * as ort from 'onnxruntime-node';
import { type DType, type Tensor, decodeTensor } from '@weai/tensors';
import { benchmarkScore, cudaUsable } from '../onnx/benchmark';
import type { RunnerReply, RunnerRequest, RunnerSetup } from './protocol';

class RunError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const FROM_ORT: Partial<Record<string, DType>> = { float32: 'float32', float64: 'float64', int32: 'int32', int64: 'int64', uint8: 'uint8' };

function toOrt(t: Tensor): ort.Tensor {
  const buf = new Uint8Array(t.data).buffer; // a copy: aligned for the typed array
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
      throw new RunError(`unsupported input type ${String(never)}`, false);
    }
  }
}

function fromOrt(t: ort.Tensor): Tensor {
  const dtype = FROM_ORT[t.type];
  if (!dtype) throw new RunError(`model output of type ${t.type} is not supported`, false);
  const data = t.data as ArrayBufferView;
  return { dtype, dims: [...t.dims], data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0]!;

const setup = JSON.parse(process.env['WEAI_RUNNER'] ?? '{}') as Partial<RunnerSetup>;
const provider = setup.provider ?? 'cpu';
const maxModels = setup.maxModels ?? 4;
const sessions = new Map<string, ort.InferenceSession>();

async function session(hash: string, path: string): Promise<ort.InferenceSession> {
  const found = sessions.get(hash);
  if (found) {
    sessions.delete(hash); // most recently used last
    sessions.set(hash, found);
    return found;
  }
  let created: ort.InferenceSession;
  try {
    created = await ort.InferenceSession.create(path, { executionProviders: [provider], intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  } catch (error) {
    throw new RunError(`model does not load: ${firstLine(error)}`, false);
  }
  sessions.set(hash, created);
  while (sessions.size > maxModels) {
    const [oldest, s] = sessions.entries().next().value!;
    sessions.delete(oldest);
    await s.release().catch(() => undefined);
  }
  return created;
}

async function run(req: Extract<RunnerRequest, { kind: 'run' }>): Promise<Tensor> {
  const s = await session(req.modelHash, req.modelPath);
  let input: Tensor;
  try {
    input = decodeTensor(req.input);
  } catch (error) {
    throw new RunError(`shard input is malformed: ${firstLine(error)}`, false);
  }
  const inputName = req.inputName ?? s.inputNames[0]!;
  const outputName = req.outputName ?? s.outputNames[0]!;
  let result: ort.InferenceSession.OnnxValueMapType;
  try {
    result = await s.run({ [inputName]: toOrt(input) }, [outputName]);
  } catch (error) {
    throw new RunError(`model failed on this shard: ${firstLine(error)}`, false);
  }
  return fromOrt(result[outputName] as ort.Tensor);
}

async function answer(req: RunnerRequest): Promise<RunnerReply> {
  try {
    switch (req.kind) {
      case 'run':
        return { kind: 'run', id: req.id, ok: true, output: await run(req) };
      case 'probe': {
        const cuda = req.tryCuda ? await cudaUsable() : { usable: false, reason: 'no NVIDIA GPU found' };
        return { kind: 'probe', id: req.id, ok: true, cuda, score: await benchmarkScore(cuda.usable ? 'cuda' : 'cpu') };
      }
      default: {
        const never: never = req;
        throw new RunError(`unknown request ${JSON.stringify(never)}`, false);
      }
    }
  } catch (error) {
    return { kind: 'error', id: req.id, ok: false, message: firstLine(error), retryable: error instanceof RunError ? error.retryable : true };
  }
}

// One request at a time: ONNX Runtime blocks this thread while it runs anyway.
let queue = Promise.resolve();
process.on('message', (req: RunnerRequest) => {
  queue = queue.then(async () => {
    const reply = await answer(req);
    process.send?.(reply);
  });
});
// The agent went away: nothing left to do.
process.on('disconnect', () => process.exit(0));
