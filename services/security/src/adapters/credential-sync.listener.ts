import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type ConsumerMessages, DeliverPolicy } from '@nats-io/jetstream';
import { EVENT_SUBJECT_PREFIX, streamOfFamily } from '@weai/contracts';
import type { Bus } from '@weai/messaging';
import type { NatsConfigWriter } from '../application/nats-config';

/** The credential events: each changes which users a nats-server must know. */
const CREDENTIAL_EVENTS = new Set(['CredentialIssued', 'CredentialPermissionsChanged', 'CredentialRevoked']);

/** How often a replica compares its server's users with the store anyway (an event missed in an outage). */
export const DEFAULT_RECONCILE_MS = 30_000;

/**
 * Keeps this replica's nats-server in step with credentials that any replica issued or revoked.
 *
 * nats-server reads its users from a file and takes them on a reload signal, one server at a time
 * (2.9 has no cluster-wide reload). On a cluster the security service therefore runs one replica
 * beside each server — a sidecar sharing its config folder and pid namespace — and every replica
 * renders the users of its own server. The replica that handles an issue or revoke request applies
 * it to its server before it answers; the others learn of it from the credential events the relay
 * publishes on WEAI_SECURITY and apply it to theirs, reloading only when their file changes. A
 * reconciliation with the store every `reconcileMs` covers events missed while disconnected.
 */
export class CredentialSync implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('CredentialSync');
  private messages: ConsumerMessages | undefined;
  private pump: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A sync running, and whether another was asked for meanwhile (bursts of events coalesce). */
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly writer: NatsConfigWriter,
    private readonly reconcileMs = DEFAULT_RECONCILE_MS,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const consumer = await this.bus.js.consumers.get(streamOfFamily('security'), {
      filter_subjects: `${EVENT_SUBJECT_PREFIX}.security.>`,
      deliver_policy: DeliverPolicy.New,
    });
    const messages = await consumer.consume();
    this.messages = messages;
    this.pump = (async () => {
      for await (const m of messages) {
        if (CREDENTIAL_EVENTS.has(m.subject.slice(m.subject.lastIndexOf('.') + 1))) this.request();
      }
    })().catch((error: unknown) => this.logger.warn(`credential events: ${(error as Error).message}; reconciling every ${this.reconcileMs} ms`));
    this.timer = setInterval(() => this.request(), this.reconcileMs);
    this.timer.unref();
    // Anything issued between this replica's boot render and its subscription.
    this.request();
  }

  /** Brings the server's users up to date: now, or once more after the sync in flight. */
  private request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.writer
      .apply({ onlyIfChanged: true })
      .then(
        () => undefined,
        (error: unknown) => this.logger.error(`users not applied to this replica's nats-server: ${(error as Error).message}`),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.messages?.close().catch(() => undefined);
    await this.pump;
    await this.running;
  }
}
