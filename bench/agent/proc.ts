/** CPU time and resident memory of a process, from Linux's /proc. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks: number | undefined;
function clockTicks(): number {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticks;
}

export interface ProcStats {
  /** User + system CPU seconds of the process itself. */
  readonly cpuSeconds: number;
  /** User + system CPU seconds of its children that have exited (nvidia-smi runs, runner processes). */
  readonly childCpuSeconds: number;
  /** Resident set size, MiB. */
  readonly rssMb: number;
}

export function procStats(pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3; utime, stime, cutime, cstime are fields 14-17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = (n: number) => Number(fields[n - 3]);
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuSeconds: (at(14) + at(15)) / clockTicks(), childCpuSeconds: (at(16) + at(17)) / clockTicks(), rssMb: rssKb / 1024 };
}

/** Live children of a process (the agent's runner processes). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
