/**
 * The real onnxruntime-node asked for a CUDA session. Installs here skip the CUDA provider
 * (ONNXRUNTIME_NODE_INSTALL_CUDA=skip, as the README says), so the agent must say that, not
 * ONNX Runtime's "Failed to load shared library". Where the provider is installed (a GPU machine
 * that ran the install script) the first case does not apply and is skipped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cudaUsable } from '../../src/onnx/benchmark';
import { cudaProviderLibraries, onnxRuntimeBindingDir } from '../../src/onnx/cuda-provider';

const providerInstalled = cudaProviderLibraries().every((name) => existsSync(join(onnxRuntimeBindingDir(), name)));

describe('cudaUsable against the installed onnxruntime-node', () => {
  it('finds the folder onnxruntime-node loads its libraries from', () => {
    expect(existsSync(join(onnxRuntimeBindingDir(), 'onnxruntime_binding.node'))).toBe(true);
  });

  (providerInstalled ? it.skip : it)('without the CUDA provider: not usable, saying it is not installed and how to install it', async () => {
    const cuda = await cudaUsable();
    expect(cuda.usable).toBe(false);
    expect(cuda.reason).toMatch(/^ONNX Runtime's CUDA provider is not installed \(libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so missing in .*onnxruntime-node.*\): .*onnxruntime-node\/script\/install --onnxruntime-node-install=cuda12/);
  });
});
