import { cudaProviderLibraries, explainCudaFailure } from '../../src/onnx/cuda-provider';

const ORT_ANSWER = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';

describe('explainCudaFailure', () => {
  it('given an install without the CUDA provider, when CUDA fails, then it names the missing files and both ways to get them', () => {
    const reason = explainCudaFailure(ORT_ANSWER, cudaProviderLibraries('linux'), '/opt/agent/node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
    expect(reason).toContain("ONNX Runtime's CUDA provider is not installed (libonnxruntime_providers_shared.so, libonnxruntime_providers_cuda.so missing in /opt/agent/");
    expect(reason).toContain('node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12');
    expect(reason).toContain('deploy/agent/Dockerfile.cuda');
  });

  it('given the provider installed, when its CUDA libraries do not load, then it says which libraries it needs', () => {
    expect(explainCudaFailure(ORT_ANSWER, [], '/x')).toBe(
      `ONNX Runtime's CUDA provider did not load: ${ORT_ANSWER}. It needs the CUDA 12 runtime, cuBLAS and cuDNN 9 on the library path (LD_LIBRARY_PATH or PATH); the CUDA image has them`,
    );
  });

  it('given another failure (a GPU that CUDA refuses), then ONNX Runtime\'s words are kept as they are', () => {
    expect(explainCudaFailure('CUDA failure 100: no CUDA-capable device is detected', [], '/x')).toBe('CUDA failure 100: no CUDA-capable device is detected');
  });

  it('names the Windows DLLs on Windows', () => {
    expect(cudaProviderLibraries('win32')).toEqual(['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll']);
  });
});
