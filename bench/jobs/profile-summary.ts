/**
 * Where each profiled process spent its CPU: reads the V8 `.cpuprofile` files that `--cpu-prof`
 * wrote (one folder per process) and prints, on stderr, the self time by package or source folder
 * and the hottest functions. Also usable alone:
 *
 *   node -r @swc-node/register bench/jobs/profile-summary.ts DIR
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../../test/support/processes';
import { log } from './util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, a folder of the repository, or V8's own buckets. */
function place(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (path.startsWith('node:')) return 'node:internal';
  const rel = relative(ROOT, path);
  if (!rel.startsWith('..')) return rel.split('/').slice(0, rel.startsWith('libs') || rel.startsWith('services') ? 3 : 2).join('/');
  return path;
}

/** Self time by place and by function of one profile, in ms. */
export function summariseProfile(file: string, top = 15): { totalMs: number; byPlace: Array<[string, number]>; byFunction: Array<[string, number]> } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    total += us;
    const where = place(url, functionName);
    byPlace.set(where, (byPlace.get(where) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${url ? `${where}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]): [string, number] => [k, Math.round(v / 100) / 10]);
  return { totalMs: Math.round(total / 1000), byPlace: sorted(byPlace), byFunction: sorted(byFunction) };
}

/** Prints a summary of every profile under `dir` (one sub-folder per process). */
export function summariseProfiles(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const sub = join(dir, name);
    if (!statSync(sub).isDirectory()) continue;
    for (const file of readdirSync(sub).filter((f) => f.endsWith('.cpuprofile'))) {
      const s = summariseProfile(join(sub, file));
      log(`\n--- CPU profile of ${name} (${join(name, file)}): ${s.totalMs} ms busy`);
      log(`  by package/folder: ${s.byPlace.map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
      log('  hottest functions (self time):');
      for (const [fn, ms] of s.byFunction) log(`    ${String(ms).padStart(8)} ms  ${fn}`);
    }
  }
  log(`\nprofiles kept in ${dir} (open them in Chrome DevTools → Performance, or speedscope)`);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: profile-summary.ts DIR\n');
    process.exit(2);
  }
  summariseProfiles(dir);
}
