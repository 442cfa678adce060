import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { type NkeyUser, renderNkeyUsers } from '../domain/server-config';
import type { RegistryReader } from './registry.reader';

/** Where the rendered users go and how to make nats-server read them again. */
export interface NatsConfigTarget {
  /** The file nats-server includes inside the application account. */
  readonly usersFile: string;
  /** nats-server's `pid_file`; the pid is read on every reload, so a restarted server is found. */
  readonly pidFile: string;
  /** Users that are not issued by the service but must always be present (the security service's own key). */
  readonly bootstrapUsers: readonly NkeyUser[];
  /**
   * nats-server's `log_file`. When set, `apply` waits until the server logs that the reload is done
   * (or why it failed): a client that connects before that is refused, and a failed reload would
   * leave a revoked user connected. Without it, `apply` returns once the signal is sent.
   */
  readonly serverLog?: string | undefined;
  /** How long to wait for that confirmation; default 10 s. */
  readonly reloadTimeoutMs?: number;
}

/** nats-server did not take the new users: the reload failed or was not confirmed in time. */
export class ReloadError extends Error {
  override readonly name = 'ReloadError';
}

/**
 * Renders the active credentials into nats-server's users file and signals a reload (SIGHUP, what
 * `nats-server --signal reload=<pid>` sends). Deployment assumption: the security service runs on the
 * NATS host, or shares the config folder and pid namespace with it (a sidecar); on a cluster, one
 * replica beside each server, kept in step by `CredentialSync`
 * (adapters/credential-sync.listener.ts).
 */
export class NatsConfigWriter {
  constructor(
    private readonly registry: RegistryReader,
    private readonly target: NatsConfigTarget,
  ) {}

  /**
   * Writes the file (atomically, 0600) and reloads the server; returns how many users it holds.
   * `onlyIfChanged`: leave the file and the server alone when the file already holds exactly these
   * users (a replica catching up with a change it made itself). A request that recorded a change
   * always reloads: a crash between the append and the reload heals when the request is retried.
   */
  async apply(options: { onlyIfChanged?: boolean } = {}): Promise<number> {
    // One reload at a time, so that each waits for its own confirmation line.
    const run = this.queue.then(() => this.applyNow(options.onlyIfChanged ?? false));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private queue: Promise<unknown> = Promise.resolve();

  private async applyNow(onlyIfChanged: boolean): Promise<number> {
    const { active } = await this.registry.current();
    const users: NkeyUser[] = [
      ...this.target.bootstrapUsers,
      ...[...active.values()].map((c) => ({ publicNkey: c.publicNkey, permissions: c.permissions, label: `${c.role}:${c.principalId}:${c.credentialId}` })),
    ];
    const rendered = renderNkeyUsers(users);
    if (onlyIfChanged && this.current() === rendered) return users.length;
    const tmp = `${this.target.usersFile}.${process.pid}.tmp`;
    writeFileSync(tmp, rendered, { mode: 0o600 });
    renameSync(tmp, this.target.usersFile);
    const logOffset = this.logSize();
    this.reload();
    if (logOffset !== undefined) await this.confirmReload(logOffset);
    return users.length;
  }

  /** The users file as it is now; `undefined` when it cannot be read. */
  private current(): string | undefined {
    try {
      return readFileSync(this.target.usersFile, 'utf8');
    } catch {
      return undefined;
    }
  }

  private logSize(): number | undefined {
    if (!this.target.serverLog) return undefined;
    try {
      return statSync(this.target.serverLog).size;
    } catch {
      return 0;
    }
  }

  /** Waits for nats-server's own word that the reload is done, reading its log from before the signal. */
  private async confirmReload(from: number): Promise<void> {
    const deadline = Date.now() + (this.target.reloadTimeoutMs ?? 10_000);
    let text = '';
    let offset = from;
    while (Date.now() < deadline) {
      const file = await open(this.target.serverLog!, 'r').catch(() => undefined);
      if (file) {
        try {
          const buffer = Buffer.alloc(64 * 1024);
          const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
          offset += bytesRead;
          text = (text + buffer.subarray(0, bytesRead).toString('utf8')).slice(-128 * 1024);
        } finally {
          await file.close();
        }
      }
      const failed = /Failed to reload server configuration: (.*)/.exec(text);
      if (failed) throw new ReloadError(`nats-server refused the new users: ${failed[1]!.slice(0, 300)}`);
      if (text.includes('Reloaded server configuration')) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new ReloadError(`nats-server did not confirm the reload within ${this.target.reloadTimeoutMs ?? 10_000} ms (log ${this.target.serverLog})`);
  }

  private reload(): void {
    let pid: number;
    try {
      pid = Number(readFileSync(this.target.pidFile, 'utf8').trim());
    } catch (error) {
      throw new Error(`cannot read the nats-server pid file ${this.target.pidFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error(`${this.target.pidFile} does not hold a process id`);
    process.kill(pid, 'SIGHUP');
  }
}
