import { readFileSync } from 'node:fs';
import { type Capabilities, capabilityClassesOf } from '@weai/contracts';
import type { GpuDetection } from './gpu/types';
import { probeRuntime } from './executor';

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

/**
 * The capability report's view of a detection: GPUs whose compute capability the driver did not
 * give are left out (no CUDA class can be derived for them).
 */
export function systemFromDetection(detection: GpuDetection): DetectedSystem {
  if (detection.mode === 'cpu-only') return { gpus: [], driverVersion: '', cudaVersion: '' };
  return {
    gpus: detection.gpus.flatMap((g) => (g.computeCapability === null ? [] : [{ name: g.name, vramTotalMb: g.vramTotalMb, computeCapability: g.computeCapability }])),
    driverVersion: detection.system.driverVersion,
    cudaVersion: detection.system.cudaVersion ?? '',
  };
}

/** Measures CUDA and the benchmark score; by default in a runner process ({@link probeRuntime}). */
export type RuntimeProbe = (tryCuda: boolean) => Promise<{ cuda: { usable: boolean; reason?: string }; score: number }>;

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
 * The capability classes to enrol a node key with, known without running anything: the classes of
 * its CPU and of every GPU found, as if CUDA works. The classes the node will actually serve (the
 * control plane's derivation after the runtime probe) are a subset, so the credential covers them
 * all; a GPU whose CUDA turns out unusable leaves classes granted but unused.
 */
export function enrolmentClasses(system: DetectedSystem): string[] {
  const gpus = system.gpus.map((g) => ({ model: g.name, vramMb: g.vramTotalMb, computeCapability: g.computeCapability, driverVersion: system.driverVersion, cudaVersion: system.cudaVersion }));
  return capabilityClassesOf({ gpus, executionProviders: gpus.length > 0 ? ['cuda', 'cpu'] : ['cpu'], cpuFlags: cpuFlags() });
}

/**
 * Measures what this node can run. CUDA is reported only when ONNX Runtime actually created a
 * CUDA session; a machine without an NVIDIA GPU, or whose ONNX Runtime has no CUDA, reports its
 * GPUs (what the telemetry found) but only the `cpu` execution provider.
 */
export async function detectCapabilities(system: DetectedSystem, probe: RuntimeProbe = probeRuntime): Promise<{ capabilities: Omit<Capabilities, 'capabilityClasses'>; cudaProblem?: string }> {
  const { cuda, score } = await probe(system.gpus.length > 0);
  return {
    capabilities: {
      os: osFamily(),
      cpuFlags: cpuFlags(),
      gpus: system.gpus.slice(0, 16).map((g) => ({
        model: g.name.slice(0, 128),
        vramMb: g.vramTotalMb,
        computeCapability: g.computeCapability,
        driverVersion: system.driverVersion.slice(0, 32),
        cudaVersion: system.cudaVersion.slice(0, 32),
      })),
      executionProviders: cuda.usable ? ['cuda', 'cpu'] : ['cpu'],
      benchmarkScore: score,
    },
    ...(cuda.usable ? {} : { cudaProblem: cuda.reason }),
  };
}
