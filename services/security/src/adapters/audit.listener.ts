import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { CLOCK, type Clock } from '@weai/runtime';
import { AuditRecorder } from '../application/audit.recorder';
import { UnusableObservationError, parseAuthErrorAdvisory, parseLogLine } from '../domain/audit';
import { LogTail } from './log-tail';
import { AUDIT_SOURCES, type AuditSources } from './tokens';

/** Subject of nats-server's auth-error advisories (system account only). */
export const AUTH_ERROR_ADVISORIES = '$SYS.SERVER.*.CLIENT.AUTH.ERR';

/**
 * Turns what nats-server reports of refused access into audit events: auth-error advisories from a
 * system-account connection, permission violations and TLS failures from the server's log file.
 */
@Injectable()
export class AuditListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private subscription: Subscription | undefined;
  private pump: Promise<void> | undefined;
  private tail: LogTail | undefined;

  constructor(
    private readonly recorder: AuditRecorder,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDIT_SOURCES) private readonly sources: AuditSources,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.sources.system) this.listenToAdvisories(this.sources.system);
    if (this.sources.serverLog) {
      this.tail = new LogTail(this.sources.serverLog, async ({ line, sourceId }) => {
        const observation = parseLogLine(line);
        if (observation) await this.recorder.record(observation, `log:${sourceId}`, this.clock.now());
      }, (e) => this.logger.warn(`server log: ${(e as Error).message}`));
      await this.tail.start();
    }
  }

  private listenToAdvisories(nc: NatsConnection): void {
    const sub = nc.subscribe(AUTH_ERROR_ADVISORIES);
    this.subscription = sub;
    this.pump = (async () => {
      for await (const msg of sub) {
        try {
          const observation = parseAuthErrorAdvisory(msg.data);
          const id = (msg.json() as { id?: unknown }).id;
          await this.recorder.record(observation, `advisory:${typeof id === 'string' ? id : msg.sid}`, this.clock.now());
        } catch (error) {
          if (error instanceof UnusableObservationError) this.logger.warn(`advisory ignored: ${error.message}`);
          else this.logger.error(`advisory not recorded: ${(error as Error).message}`);
        }
      }
    })();
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.pump;
    await this.tail?.stop();
  }
}
