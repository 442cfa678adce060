import type { GpuSample } from '../src/gpu/types';
import { planLanes } from '../src/lanes';
import { idleGpu } from './policy/given';

const big: GpuSample = { ...idleGpu, index: 0, uuid: 'GPU-big', name: 'RTX 4090', vramTotalMb: 24564, computeCapability: '8.9' };
const small: GpuSample = { ...idleGpu, index: 1, uuid: 'GPU-small', name: 'RTX 3060', vramTotalMb: 12288, computeCapability: '8.6' };
const nodeClasses = ['cuda.sm89.vram24', 'cuda.sm89.vram16', 'cuda.sm86.vram24', 'cuda.sm86.vram12', 'cuda.sm86.vram8', 'cpu.avx2', 'cpu.generic'];

describe('planLanes', () => {
  it('a CPU-only node: one CPU lane with the CPU classes', () => {
    expect(planLanes({ classes: ['cpu.avx2', 'cpu.generic'], gpus: [], cudaUsable: false, slots: 2, gpuSlots: 1 })).toEqual([
      { id: 'cpu', gpu: null, provider: 'cpu', classes: ['cpu.avx2', 'cpu.generic'], slots: 2 },
    ]);
  });

  it('GPUs without CUDA in ONNX Runtime: still only the CPU lane', () => {
    expect(planLanes({ classes: ['cpu.generic'], gpus: [big], cudaUsable: false, slots: 1, gpuSlots: 1 }).map((l) => l.id)).toEqual(['cpu']);
  });

  it('with CUDA: a lane per GPU, each serving only the classes that GPU satisfies', () => {
    const lanes = planLanes({ classes: nodeClasses, gpus: [big, small], cudaUsable: true, slots: 1, gpuSlots: 2 });
    expect(lanes.map((l) => [l.id, l.provider, l.gpu?.uuid ?? null, l.classes, l.slots])).toEqual([
      ['gpu0', 'cuda', 'GPU-big', ['cuda.sm89.vram24', 'cuda.sm89.vram16', 'cuda.sm86.vram24', 'cuda.sm86.vram12', 'cuda.sm86.vram8'], 2],
      ['gpu1', 'cuda', 'GPU-small', ['cuda.sm86.vram12', 'cuda.sm86.vram8'], 2],
      ['cpu', 'cpu', null, ['cpu.avx2', 'cpu.generic'], 1],
    ]);
  });

  it('a GPU whose compute capability is unknown gets no lane', () => {
    expect(planLanes({ classes: nodeClasses, gpus: [{ ...small, computeCapability: null }], cudaUsable: true, slots: 1, gpuSlots: 1 }).map((l) => l.id)).toEqual(['cpu']);
  });
});
