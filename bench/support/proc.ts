/**
 * CPU time and memory of processes this bench started, read from Linux /proc, so what the control
 * plane and nats-server cost can be told apart from what the simulator costs.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux build that matters). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) and resident memory of one process. */
export interface ProcSample {
  readonly cpuSeconds: number;
  readonly rssBytes: number;
}

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Reads one process's CPU seconds and RSS; undefined where /proc does not have it (not Linux, exited). */
export function sampleProcess(pid: number | undefined): ProcSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const f = statFields(pid);
    // f[0] is field 3 of stat (the state): utime (field 14) is f[11], stime (field 15) f[12].
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    return { cpuSeconds: (utime + stime) / TICKS_PER_SECOND, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** The pid of this process's child whose command name is `comm` (e.g. "nats-server"), if /proc shows one. */
export function findChildPid(comm: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(statFields(Number(entry))[1]);
      if (name === comm && ppid === process.pid) return Number(entry);
    } catch {
      // The process went away while we looked.
    }
  }
  return undefined;
}
