import { readFileSync } from 'node:fs';
import type { Capabilities } from '@weai/contracts';
import { benchmarkScore, cudaUsable } from './onnx/benchmark';

/** A GPU as the capability report needs it (the GPU telemetry module supplies these). */
export interface DetectedGpu {
  name: string;
  vramTotalMb: number;
  computeCapability: string;
}

/** What the agent found about its machine, for the capability report. */
export interface DetectedSystem {
  gpus: DetectedGpu[];
  driverVersion: string;
  cudaVersion: string;
}

function cpuFlags(): string[] {
  if (process.platform !== 'linux') return [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    const flags = new Set((line?.split(':')[1] ?? '').trim().split(/\s+/));
    return ['avx', 'avx2', 'avx512f', 'fma', 'f16c'].filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

function osFamily(): Capabilities['os'] {
  if (process.platform === 'win32') return 'windows';
  if (process.platform === 'darwin') return 'darwin';
  return 'linux';
}

/**
 * Measures what this node can run. CUDA is reported only when ONNX Runtime actually created a
 * CUDA session; a machine without an NVIDIA GPU reports itself honestly as CPU-only.
 */
export async function detectCapabilities(system: DetectedSystem): Promise<{ capabilities: Omit<Capabilities, 'capabilityClasses'>; cudaProblem?: string }> {
  const cuda = system.gpus.length > 0 ? await cudaUsable() : { usable: false, reason: 'no NVIDIA GPU found' };
  const provider = cuda.usable ? 'cuda' : 'cpu';
  return {
    capabilities: {
      os: osFamily(),
      cpuFlags: cpuFlags(),
      gpus: system.gpus.map((g) => ({
        model: g.name.slice(0, 128),
        vramMb: g.vramTotalMb,
        computeCapability: g.computeCapability,
        driverVersion: system.driverVersion.slice(0, 32),
        cudaVersion: system.cudaVersion.slice(0, 32),
      })),
      executionProviders: cuda.usable ? ['cuda', 'cpu'] : ['cpu'],
      benchmarkScore: await benchmarkScore(provider),
    },
    ...(cuda.usable ? {} : { cudaProblem: cuda.reason }),
  };
}
