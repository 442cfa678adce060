import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { SECURITY_REPORTS_STREAM, SECURITY_REPORT_SUBJECTS, type WeaiEvent } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { type Bus, MalformedMessageError, type RunningConsumer, isNotFound, runDurableConsumer } from '@weai/messaging';
import { BUS, EVENT_STORE } from '@weai/runtime';
import { DenialsRecorder, UnusableReportError, auditEventOfReport } from '../application/denials.recorder';

/** Same settings as the gateway's: whichever starts first creates the stream. */
async function ensureReportsStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(SECURITY_REPORTS_STREAM);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add({
      name: SECURITY_REPORTS_STREAM,
      subjects: [SECURITY_REPORT_SUBJECTS],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 30 * 24 * 3600 * 1_000_000_000,
      duplicate_window: 120 * 1_000_000_000,
    });
  }
}

/**
 * Appends the refusals edge services report on `weai.report.security.<reporter>.<Type>` (stream
 * WEAI_SECURITY_REPORTS) to the audit: one durable consumer shared by the service's replicas; a
 * report that is not a valid audit event is parked with the reason.
 * Register it in SecurityModule's `providers` (it builds its own DenialsRecorder on the EVENT_STORE).
 */
@Injectable()
export class DenialsMessageController implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Denials');
  private consumer: RunningConsumer | undefined;
  private readonly recorder: DenialsRecorder;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(EVENT_STORE) store: EventStore,
  ) {
    this.recorder = new DenialsRecorder(store);
  }

  async onApplicationBootstrap(): Promise<void> {
    await ensureReportsStream(this.bus.jsm);
    this.consumer = await runDurableConsumer<WeaiEvent>({
      js: this.bus.js,
      jsm: this.bus.jsm,
      stream: SECURITY_REPORTS_STREAM,
      durable: 'security-denial-reports',
      filterSubject: SECURITY_REPORT_SUBJECTS,
      decode: (msg: JsMsg) => {
        try {
          return auditEventOfReport(msg.data);
        } catch (error) {
          if (error instanceof UnusableReportError) throw new MalformedMessageError(`report ${msg.seq}: ${error.message}`);
          throw error;
        }
      },
      concurrency: 4,
      handler: (event) => this.recorder.record(event),
      onError: (error) => this.logger.error(`report not recorded: ${(error as Error).message}`),
      onParked: (msg, reason) => this.logger.warn(`report ${msg.seq} parked: ${reason}`),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
