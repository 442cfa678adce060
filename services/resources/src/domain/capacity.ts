/**
 * The capacity index's pure rules: how one node counts towards each class it serves, and which
 * classes can run a shard that needs a given class.
 */

/** What the index remembers of one node. */
export interface NodeCapacity {
  readonly classes: readonly string[];
  readonly score: number;
  readonly online: boolean;
  readonly available: boolean;
  readonly quarantined: boolean;
}

/** Totals of one class. */
export interface ClassTotals {
  online: number;
  available: number;
  /** Sum of the benchmark scores of available nodes: the class's usable throughput. */
  availableScore: number;
}

/** The change a node's transition makes to each class's totals. */
export function capacityDelta(before: NodeCapacity | undefined, after: NodeCapacity): Map<string, ClassTotals> {
  const delta = new Map<string, ClassTotals>();
  const add = (n: NodeCapacity | undefined, sign: 1 | -1) => {
    if (!n) return;
    const usable = n.available && n.online && !n.quarantined;
    for (const c of n.classes) {
      const t = delta.get(c) ?? { online: 0, available: 0, availableScore: 0 };
      t.online += sign * (n.online ? 1 : 0);
      t.available += sign * (usable ? 1 : 0);
      t.availableScore += sign * (usable ? n.score : 0);
      delta.set(c, t);
    }
  };
  add(before, -1);
  add(after, 1);
  for (const [c, t] of delta) if (t.online === 0 && t.available === 0 && t.availableScore === 0) delta.delete(c);
  return delta;
}

/** Parses `cuda.sm<S>.vram<V>`; undefined for CPU classes. */
function cudaClass(name: string): { sm: number; vram: number } | undefined {
  const m = /^cuda\.sm(\d+)\.vram(\d+)$/.exec(name);
  return m ? { sm: Number(m[1]), vram: Number(m[2]) } : undefined;
}

/**
 * Whether a node advertising `offered` can run work that needs `required`. Nodes advertise every
 * class they satisfy, so this is equality for advertised classes; across classes it orders CUDA
 * tiers (more compute capability and memory serves less) and puts AVX2 above generic CPU.
 */
export function serves(offered: string, required: string): boolean {
  if (offered === required) return true;
  const o = cudaClass(offered);
  const r = cudaClass(required);
  if (o && r) return o.sm >= r.sm && o.vram >= r.vram;
  return required === 'cpu.generic' && offered === 'cpu.avx2';
}
