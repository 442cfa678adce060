import { onnx } from 'onnx-proto';

/** Deterministic pseudo-random floats in [-0.5, 0.5): the same model bytes on every machine. */
function weights(count: number, seed: number): number[] {
  const out = new Array<number>(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function tensor(name: string, dims: number[], seed: number): onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, floatData: weights(dims.reduce((a, b) => a * b, 1), seed) };
}

function valueInfo(name: string, dims: Array<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

/**
 * A small MLP (Gemm → Relu → Gemm), `input [batch, inputs]` → `output [batch, outputs]`, with
 * fixed weights. It is the reference model of the node benchmark score, and a cheap model for
 * tests and benchmarks of the job pipeline.
 */
export function referenceMlp(options: { inputs?: number; hidden?: number; outputs?: number } = {}): Uint8Array {
  const inputs = options.inputs ?? 64;
  const hidden = options.hidden ?? 128;
  const outputs = options.outputs ?? 16;
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'weai',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: `weai-mlp-${inputs}-${hidden}-${outputs}`,
      input: [valueInfo('input', ['batch', inputs])],
      output: [valueInfo('output', ['batch', outputs])],
      initializer: [tensor('w1', [inputs, hidden], 1), tensor('b1', [hidden], 2), tensor('w2', [hidden, outputs], 3), tensor('b2', [outputs], 4)],
      node: [
        { opType: 'Gemm', input: ['input', 'w1', 'b1'], output: ['h'], name: 'gemm1' },
        { opType: 'Relu', input: ['h'], output: ['hr'], name: 'relu' },
        { opType: 'Gemm', input: ['hr', 'w2', 'b2'], output: ['output'], name: 'gemm2' },
      ],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

/** A model that returns its input (`Identity`): shards of it measure the pipeline, not the math. */
export function identityModel(width = 4): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'weai',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'weai-identity',
      input: [valueInfo('input', ['batch', width])],
      output: [valueInfo('output', ['batch', width])],
      node: [{ opType: 'Identity', input: ['input'], output: ['output'], name: 'id' }],
    },
  }).finish();
}

/**
 * A deliberately slow model: `depth` × (MatMul by one shared `width`×`width` matrix → Tanh), then
 * a MatMul down to `outputs`. One weight matrix serves every layer, so the file stays small
 * (`width`² floats) while a shard takes as long as a test needs a shard to take: about
 * `batch` × `width`² × `depth` × 2 floating-point operations. Tanh keeps the values in (-1, 1).
 */
export function referenceChain(options: { width?: number; depth?: number; outputs?: number } = {}): Uint8Array {
  const width = options.width ?? 256;
  const depth = options.depth ?? 100;
  const outputs = options.outputs ?? 16;
  // Scaled so that a layer neither saturates Tanh nor fades to zero.
  const w: onnx.ITensorProto = { name: 'w', dims: [width, width], dataType: FLOAT, floatData: weights(width * width, 5).map((v) => (v * 3.4) / Math.sqrt(width)) };
  const node: onnx.INodeProto[] = [];
  let x = 'input';
  for (let i = 0; i < depth; i++) {
    node.push({ opType: 'MatMul', input: [x, 'w'], output: [`m${i}`], name: `matmul${i}` });
    node.push({ opType: 'Tanh', input: [`m${i}`], output: [`t${i}`], name: `tanh${i}` });
    x = `t${i}`;
  }
  node.push({ opType: 'MatMul', input: [x, 'out'], output: ['output'], name: 'matmul-out' });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'weai',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: `weai-chain-${width}-${depth}-${outputs}`,
      input: [valueInfo('input', ['batch', width])],
      output: [valueInfo('output', ['batch', outputs])],
      initializer: [w, tensor('out', [width, outputs], 6)],
      node,
    },
  }).finish();
}
