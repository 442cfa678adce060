import { LeaderElection, type Bus } from '@weai/messaging';
import { ConfigError } from './config';

/** DI token of the service's Leadership. */
export const LEADERSHIP = Symbol('LEADERSHIP');

/** Work that must run on one replica only (the relay, timers): started when elected, stopped when deposed. */
export interface LeaderTask {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** The leadership port services use; with election off every replica is leader (one replica, as before). */
export interface Leadership {
  /** Runs the task while this replica leads: at once if it does, else once elected. */
  whileLeader(task: LeaderTask): Promise<void>;
  /** Whether this replica leads now. */
  isLeader(): boolean;
  /** Fencing token of the current tenure (0 with election off), undefined when not leading. */
  term(): number | undefined;
  /** Stops every task and hands the lease over. */
  close(): Promise<void>;
}

/** Leader election settings: `WEAI_LEADER_ELECTION` (`on`/`off`, default off) and `WEAI_LEADER_TTL_MS` (default 10000). */
export interface LeadershipConfig {
  readonly enabled: boolean;
  readonly ttlMs: number;
}

/** Reads the leader election settings; fails fast naming the variable. */
export function leadershipConfigFromEnv(env: NodeJS.ProcessEnv): LeadershipConfig {
  const raw = (env['WEAI_LEADER_ELECTION'] ?? 'off').toLowerCase();
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(raw)) throw new ConfigError(`WEAI_LEADER_ELECTION must be on or off, got ${JSON.stringify(env['WEAI_LEADER_ELECTION'])}`);
  const ttlMs = Number(env['WEAI_LEADER_TTL_MS'] ?? 10_000);
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000) throw new ConfigError(`WEAI_LEADER_TTL_MS must be an integer of at least 1000, got ${JSON.stringify(env['WEAI_LEADER_TTL_MS'])}`);
  return { enabled: ['on', 'true', '1'].includes(raw), ttlMs };
}

/** Every replica leads: the behaviour of a single replica, and the default. */
export function soleLeadership(onError: (e: unknown) => void = () => undefined): Leadership {
  const tasks: LeaderTask[] = [];
  return {
    async whileLeader(task) {
      tasks.push(task);
      await task.start();
    },
    isLeader: () => true,
    term: () => 0,
    async close() {
      for (const task of tasks.splice(0).reverse()) await Promise.resolve(task.stop()).catch(onError);
    },
  };
}

/**
 * Leadership through a JetStream KV lease named after the service (`<service>`, bucket
 * `weai-leases`): one replica of the service runs its leader tasks; when it dies the lease expires
 * after `ttlMs` and another replica starts them; on shutdown it stops them and hands over at once.
 */
export async function electedLeadership(options: { bus: Bus; service: string; ttlMs: number; replicas: number; onError: (e: unknown) => void; onChange?: (message: string) => void }): Promise<Leadership> {
  const tasks: LeaderTask[] = [];
  const running = new Set<LeaderTask>();
  // Marked running before it starts, so an election and a registration at the same moment start it once.
  const startTask = async (task: LeaderTask) => {
    running.add(task);
    try {
      await task.start();
    } catch (error) {
      running.delete(task);
      throw error;
    }
  };
  const stopAll = async () => {
    for (const task of [...running].reverse()) {
      running.delete(task);
      await Promise.resolve(task.stop()).catch(options.onError);
    }
  };
  const election = new LeaderElection({
    js: options.bus.js,
    name: options.service,
    ttlMs: options.ttlMs,
    replicas: options.replicas,
    onElected: async (lease) => {
      options.onChange?.(`leader of ${options.service} (term ${lease.term}, ${election.candidateId})`);
      for (const task of tasks) if (!running.has(task)) await startTask(task);
    },
    onDeposed: async (lease, reason) => {
      options.onChange?.(`no longer leader of ${options.service} (term ${lease.term}): ${reason}`);
      await stopAll();
    },
    onError: options.onError,
  });
  await election.start();
  return {
    async whileLeader(task) {
      tasks.push(task);
      if (election.isLeader && !running.has(task)) await startTask(task);
    },
    isLeader: () => election.isLeader,
    term: () => election.term,
    async close() {
      await election.stop();
      await stopAll();
    },
  };
}
