/**
 * A private WE-AI network for the jobs benchmark, started the way test/support/control-plane.ts
 * starts it: a private nats-server, the nodes and scheduler services and the agents as child
 * processes (`node -r @swc-node/register <entry>`, through test/support/processes.ts).
 *
 * Differences from the e2e harness, all for measuring rather than testing: agents are not started
 * with `--verbose` (a log line per shard is work the agent would not do in production), the
 * services keep their default timings (no FAST_ENV), no process decodes every event of the jobs
 * and nodes streams in the background, and a stop is graceful (SIGTERM, then SIGKILL after 10 s)
 * so that CPU profiles (`--cpu-prof`, written on exit) are not lost.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Bus, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { type ManagedProcess, startTs } from '../../test/support/processes';
import { log } from './util';

export interface BenchAgent {
  readonly name: string;
  readonly nodeId: string;
  readonly slots: number;
  readonly process: ManagedProcess;
}

export interface NetworkOptions {
  /** Write a V8 CPU profile of every service and agent process into this folder (on exit). */
  readonly cpuProfDir?: string;
  /** Agent heartbeat period. */
  readonly heartbeatMs?: number;
}

/** CPU time (user + system) of one process so far, in seconds; undefined once it is gone. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted after "pid (comm)": 12 and 13 here.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The pid of the nats-server listening on `port` (it is not exposed by the test helper). */
function findNatsServerPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('nats-server') && cmd.includes('-p') && cmd[cmd.indexOf('-p') + 1] === String(port)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Stops a child: SIGTERM, and SIGKILL if it has not exited after `graceMs`. */
export async function stopProcess(p: ManagedProcess, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = await Promise.race([p.exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
  clearTimeout(timer);
  if (killed) {
    log(`  ${p.name} did not exit within ${graceMs / 1000} s of SIGTERM; killing it`);
    await p.kill('SIGKILL');
  }
}

export class BenchNetwork {
  readonly services = new Map<string, ManagedProcess>();
  readonly agents: BenchAgent[] = [];
  /** Agents stopped on purpose (their output is kept for failure reports). */
  private readonly stopped: ManagedProcess[] = [];
  private agentCount = 0;
  private natsPid: number | undefined;

  private constructor(
    readonly nats: TestNatsServer,
    readonly bus: Bus,
    readonly dir: string,
    private readonly options: NetworkOptions,
  ) {
    this.natsPid = findNatsServerPid(nats.port);
  }

  /** Starts nats-server (JetStream in a temporary folder) and makes the streams. */
  static async start(options: NetworkOptions = {}): Promise<BenchNetwork> {
    const nats = await startNatsServer();
    let bus: Bus | undefined;
    try {
      bus = await connectBus({ servers: nats.url, name: 'weai-bench-jobs' });
      await ensureStreams(bus.jsm);
      const dir = mkdtempSync(join(tmpdir(), 'weai-bench-jobs-'));
      if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });
      return new BenchNetwork(nats, bus, dir, options);
    } catch (error) {
      await bus?.close().catch(() => undefined);
      await nats.stop();
      throw error;
    }
  }

  private childEnv(name: string): NodeJS.ProcessEnv {
    const prof = this.options.cpuProfDir;
    if (!prof) return {};
    // Node 20 refuses --cpu-prof in NODE_OPTIONS; a preloaded hook profiles through the inspector.
    const hook = join(__dirname, 'cpu-prof-hook.js');
    if (/\s/.test(hook)) throw new Error(`cannot profile: the path ${JSON.stringify(hook)} contains spaces (it goes into NODE_OPTIONS)`);
    return { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --require ${hook}`.trim(), WEAI_CPU_PROF_DIR: join(prof, name) };
  }

  /** Starts a service process and waits until it says it is ready. */
  async startService(name: 'nodes' | 'scheduler'): Promise<ManagedProcess> {
    const env = { NATS_URL: this.nats.url, WEAI_DATA_DIR: join(this.dir, 'control-plane'), ...this.childEnv(name) };
    const p = startTs(name, `services/${name}/src/main.ts`, [], env);
    this.services.set(name, p);
    await p.waitFor(new RegExp(`${name} service ready`), 120_000);
    return p;
  }

  /** Starts an agent (its own key folder and payout address, so its own owner); resolves once it takes work. */
  async startAgent(name: string, slots: number): Promise<BenchAgent> {
    const n = ++this.agentCount;
    const payout = `0x${(0xb0 + n).toString(16).padStart(2, '0').repeat(20)}`;
    const args = ['start', '--nats', this.nats.url, '--dir', join(this.dir, name), '--payout', payout, '--heartbeat-ms', String(this.options.heartbeatMs ?? 1000), '--slots', String(slots)];
    const p = startTs(name, 'node-agent/src/cli.ts', args, this.childEnv(name));
    const line = await p.waitFor(/registered as node (\S+)/, 120_000);
    await p.waitFor(/taking work on/, 120_000);
    const agent = { name, nodeId: line.split(' ').pop()!, slots, process: p };
    this.agents.push(agent);
    return agent;
  }

  async stopAgent(agent: BenchAgent): Promise<void> {
    await stopProcess(agent.process);
    this.agents.splice(this.agents.indexOf(agent), 1);
    this.stopped.push(agent.process);
  }

  /** CPU seconds so far of each process of the network, by name (this process is "bench"). */
  cpuSeconds(): Record<string, number> {
    const out: Record<string, number> = {};
    const own = process.cpuUsage();
    out['bench'] = (own.user + own.system) / 1e6;
    const nats = processCpuSeconds(this.natsPid);
    if (nats !== undefined) out['nats-server'] = nats;
    for (const [name, p] of this.services) {
      const s = processCpuSeconds(p.child.pid);
      if (s !== undefined) out[name] = s;
    }
    for (const a of this.agents) {
      const s = processCpuSeconds(a.process.child.pid);
      if (s !== undefined) out[a.name] = s;
    }
    return out;
  }

  /** The last lines each process printed, for a failure report. */
  logTails(lines = 25): string {
    const procs = [...this.services.values(), ...this.agents.map((a) => a.process), ...this.stopped];
    return procs.map((p) => `--- ${p.name} (last ${lines} lines)\n${p.output().trimEnd().split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  /** Stops every process (agents first), closes the connection and removes the folders. */
  async stop(): Promise<void> {
    await Promise.all(this.agents.splice(0).map((a) => stopProcess(a.process)));
    await Promise.all([...this.services.values()].map((p) => stopProcess(p)));
    this.services.clear();
    await this.bus.close().catch(() => undefined);
    await this.nats.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** CPU used by each process between two `cpuSeconds()` readings, in seconds and in cores over `wallS`. */
export function cpuBetween(before: Record<string, number>, after: Record<string, number>, wallS: number): Record<string, { cpu_s: number; cores: number }> {
  const out: Record<string, { cpu_s: number; cores: number }> = {};
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (start === undefined) continue;
    const cpu = end - start;
    out[name] = { cpu_s: Math.round(cpu * 100) / 100, cores: wallS > 0 ? Math.round((cpu / wallS) * 100) / 100 : 0 };
  }
  return out;
}
