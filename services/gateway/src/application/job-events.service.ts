import { DeliverPolicy } from '@nats-io/jetstream';
import { type BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { type WeaiEvent, eventSubject, streamOfFamily } from '@weai/contracts';
import { type Bus, MalformedMessageError, decodeEvent } from '@weai/messaging';
import { ApiError } from '../http/api-error';
import type { JobsService } from './jobs.service';
import type { ObjectGrants } from './object-grants';

/** One event of a job, with its JetStream sequence (the SSE event id a client resumes from). */
export interface JobEventMessage {
  readonly seq: number;
  readonly event: WeaiEvent;
}

/** A job's events as they are replayed and then arrive; `close` stops it at any time. */
export interface JobEventStream extends AsyncIterable<JobEventMessage> {
  close(): Promise<void>;
}

const TERMINAL = new Set<WeaiEvent['type']>(['JobCompleted', 'JobFailed', 'JobCancelled']);

/**
 * A job's events, read the way a partner may read them: an ordered consumer on the partner's own
 * subjects (`weai.evt.jobs.<partnerId>.*` in WEAI_JOBS), from the start or after a sequence.
 */
export class JobEventsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('JobEvents');
  /** Streams open now: ended at shutdown, or the HTTP server would wait for them forever. */
  private readonly open = new Set<JobEventStream>();

  constructor(
    private readonly bus: Bus,
    private readonly jobs: JobsService,
    private readonly grants: ObjectGrants,
  ) {}

  /** Opens the events of a job of this partner (404 otherwise); ends after the job does. */
  async openStream(partnerId: string, jobId: string, afterSeq?: number): Promise<JobEventStream> {
    await this.jobs.status(partnerId, jobId);
    let consumer;
    try {
      consumer = await this.bus.js.consumers.get(streamOfFamily('jobs'), {
        filter_subjects: eventSubject('jobs', partnerId, '*'),
        ...(afterSeq === undefined ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }),
      });
    } catch (error) {
      throw new ApiError(503, 'unavailable', `job events cannot be read now (${(error as Error).message}); try again shortly`, { 'retry-after': '5' });
    }
    const messages = await consumer.consume();
    const logger = this.logger;
    const grants = this.grants;
    async function* events(): AsyncGenerator<JobEventMessage> {
      for await (const m of messages) {
        let event: WeaiEvent;
        try {
          event = decodeEvent(m).event;
        } catch (error) {
          if (!(error instanceof MalformedMessageError)) throw error;
          logger.warn(`skipped ${error.message}`);
          continue;
        }
        if ((event.data as { jobId?: string }).jobId !== jobId) continue;
        // The partner may download the output by the hash this event tells it.
        if (event.type === 'JobCompleted') await grants.grant(partnerId, event.data.outputHash);
        yield { seq: m.seq, event };
        if (TERMINAL.has(event.type)) return;
      }
    }
    const iterator = events();
    let closing: Promise<void> | undefined;
    const stream: JobEventStream = {
      [Symbol.asyncIterator]: () => iterator,
      close: () =>
        (closing ??= (async () => {
          this.open.delete(stream);
          await messages.close();
          // An ordered consumer outlives its subscription by minutes unless it is deleted.
          await consumer.delete().catch(() => undefined);
        })()),
    };
    this.open.add(stream);
    return stream;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.open].map((s) => s.close()));
  }
}
