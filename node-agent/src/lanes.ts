/**
 * How a node's work is split into lanes: one worker per device, each with its own capability
 * classes, slots, ONNX Runtime execution provider and policy decision. Pure.
 */
import { capabilityClassesOf } from '@weai/contracts';
import type { GpuSample } from './gpu/types';

/** One lane: a worker, its executor and its place in the policy. */
export interface LanePlan {
  /** "cpu", "gpu0", "gpu1", … */
  readonly id: string;
  /** The GPU of a CUDA lane; `null` for the CPU lane. */
  readonly gpu: { readonly index: number; readonly uuid: string; readonly name: string } | null;
  readonly provider: 'cpu' | 'cuda';
  /** Capability classes it takes work from, most demanding first. */
  readonly classes: readonly string[];
  readonly slots: number;
}

/**
 * The lanes of a node. Every node has a CPU lane for the `cpu.*` classes the control plane gave
 * it. Where ONNX Runtime can use CUDA, each GPU with a known compute capability gets a lane for
 * the `cuda.*` classes that GPU satisfies (a 24 GiB card and an 8 GiB card of one node serve
 * different classes), so a game on one GPU stops only that GPU's lane.
 */
export function planLanes(input: {
  /** Classes the control plane derived from the capability report. */
  readonly classes: readonly string[];
  /** GPUs detected at start. */
  readonly gpus: readonly GpuSample[];
  readonly cudaUsable: boolean;
  /** Slots of the CPU lane. */
  readonly slots: number;
  /** Slots of each GPU lane. */
  readonly gpuSlots: number;
}): LanePlan[] {
  const lanes: LanePlan[] = [];
  if (input.cudaUsable) {
    for (const gpu of input.gpus) {
      if (gpu.computeCapability === null) continue;
      const asReported = { model: gpu.name, vramMb: gpu.vramTotalMb, computeCapability: gpu.computeCapability, driverVersion: '', cudaVersion: '' };
      const own = capabilityClassesOf({ gpus: [asReported], executionProviders: ['cuda'], cpuFlags: [] });
      const classes = input.classes.filter((c) => c.startsWith('cuda.') && own.includes(c));
      if (classes.length) lanes.push({ id: `gpu${gpu.index}`, gpu: { index: gpu.index, uuid: gpu.uuid, name: gpu.name }, provider: 'cuda', classes, slots: input.gpuSlots });
    }
  }
  const cpu = input.classes.filter((c) => c.startsWith('cpu.'));
  if (cpu.length) lanes.push({ id: 'cpu', gpu: null, provider: 'cpu', classes: cpu, slots: input.slots });
  return lanes;
}
