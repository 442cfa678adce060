import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { eventSubject, streamOfFamily } from '@weai/contracts';
import { type Bus, type ReceivedEvent, type RunningConsumer, decodeEvent, runDurableConsumer } from '@weai/messaging';
import { BUS } from '@weai/runtime';
import { ObjectGrants } from '../application/object-grants';

/**
 * Grants each job's output to its partner from the scheduler's `JobCompleted` events: one durable
 * consumer shared by every replica, so a partner that never asked for the status still can
 * download the output by its hash (an answer or event stream that shows the hash grants it too).
 */
@Injectable()
export class ObjectGrantsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ObjectGrants');
  private consumer: RunningConsumer | undefined;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    private readonly grants: ObjectGrants,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = await runDurableConsumer<ReceivedEvent>({
      js: this.bus.js,
      jsm: this.bus.jsm,
      stream: streamOfFamily('jobs'),
      durable: 'gateway-output-grants',
      filterSubject: eventSubject('jobs', '*', 'JobCompleted'),
      decode: decodeEvent,
      concurrency: 4,
      handler: async ({ event }) => {
        if (event.type === 'JobCompleted') await this.grants.grant(event.data.partnerId, event.data.outputHash);
      },
      onError: (error) => this.logger.warn(`output grant not recorded yet: ${(error as Error).message}`),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
