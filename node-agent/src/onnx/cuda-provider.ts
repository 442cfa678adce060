import { dirname, join } from 'node:path';

/**
 * ONNX Runtime's CUDA execution provider is two libraries that onnxruntime-node loads from the
 * folder of its native binding at the first CUDA session. Its npm install script downloads them
 * (from outside the npm registry, CUDA 12 builds for Linux x64 and Windows x64); an install with
 * `ONNXRUNTIME_NODE_INSTALL_CUDA=skip`, or one whose download failed, has the CPU provider only.
 */
export function cudaProviderLibraries(platform: NodeJS.Platform = process.platform): string[] {
  return platform === 'win32' ? ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'] : ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
}

/** The folder onnxruntime-node loads its native libraries from (`bin/napi-v6/<platform>/<arch>`). */
export function onnxRuntimeBindingDir(): string {
  const entry = require.resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * Turns ONNX Runtime's answer to a CUDA session ("OrtSessionOptionsAppendExecutionProvider_Cuda:
 * Failed to load shared library") into what the owner can do about it.
 *
 * @param message the first line of ONNX Runtime's error
 * @param missing the provider libraries missing from the binding folder
 */
export function explainCudaFailure(message: string, missing: readonly string[], bindingDir: string): string {
  if (missing.length > 0) {
    return (
      `ONNX Runtime's CUDA provider is not installed (${missing.join(', ')} missing in ${bindingDir}): onnxruntime-node was installed ` +
      'with ONNXRUNTIME_NODE_INSTALL_CUDA=skip or its download failed. Fetch it once with ' +
      '`node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12` (CUDA 12 and cuDNN 9 needed), or run the CUDA image (deploy/agent/Dockerfile.cuda); the agent serves CPU work meanwhile'
    );
  }
  if (/load shared library|cannot open shared object|LoadLibrary|error 126/i.test(message)) {
    return `ONNX Runtime's CUDA provider did not load: ${message}. It needs the CUDA 12 runtime, cuBLAS and cuDNN 9 on the library path (LD_LIBRARY_PATH or PATH); the CUDA image has them`;
  }
  return message;
}
