/**
 * Capability classes: the names shard subjects are keyed by (`weai.shard.<class>`).
 *
 * - `cuda.sm<NN>.vram<G>`: an NVIDIA GPU of compute capability at least NN/10 with at least G GiB.
 * - `cpu.avx2`, `cpu.generic`: CPU execution (every node has `cpu.generic`).
 *
 * A node advertises every class it satisfies, down the tiers: a card of sm86 with 24 GiB also
 * serves `cuda.sm75.vram8`. So a job names the least it needs and any node at or above takes it.
 */
import type { z } from 'zod';
import type { CapabilitiesSchema } from './events/nodes';

/** Compute-capability tiers, in tenths (sm86 = 8.6). */
export const SM_TIERS = [50, 60, 70, 75, 80, 86, 89, 90, 100, 120] as const;
/** VRAM tiers in GiB. */
export const VRAM_TIERS = [2, 4, 8, 12, 16, 24, 32, 48, 80] as const;

/** The capabilities a node reports, as in NodeCapabilitiesReported. */
export type Capabilities = z.infer<typeof CapabilitiesSchema>;

/** Every capability class the capabilities satisfy, most demanding first. */
export function capabilityClassesOf(caps: Pick<Capabilities, 'gpus' | 'executionProviders' | 'cpuFlags'>): string[] {
  const classes = new Set<string>();
  if (caps.executionProviders.includes('cuda')) {
    for (const gpu of caps.gpus) {
      const sm = Math.round(Number(gpu.computeCapability) * 10);
      const vramGib = gpu.vramMb / 1024;
      for (const s of [...SM_TIERS].reverse()) {
        if (s > sm) continue;
        for (const v of [...VRAM_TIERS].reverse()) if (v <= vramGib + 0.25) classes.add(`cuda.sm${s}.vram${v}`);
      }
    }
  }
  if (caps.cpuFlags.includes('avx2')) classes.add('cpu.avx2');
  classes.add('cpu.generic');
  return [...classes];
}

/** Whether a class name is one of the canonical ones a job may require. */
export function isCapabilityClass(name: string): boolean {
  const m = /^cuda\.sm(\d+)\.vram(\d+)$/.exec(name);
  if (m) return (SM_TIERS as readonly number[]).includes(Number(m[1])) && (VRAM_TIERS as readonly number[]).includes(Number(m[2]));
  return name === 'cpu.avx2' || name === 'cpu.generic';
}
