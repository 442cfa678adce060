import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { RESULTS_STREAM, RESULT_HEADERS } from '@weai/contracts';
import { type Bus, ProjectionRunner, type RunningConsumer, runDurableConsumer, traceIdOf } from '@weai/messaging';
import { BUS, READ_MODEL } from '@weai/runtime';
import type { DataSource } from 'typeorm';
import { nodeDirectoryProjection } from '../application/node-directory';
import { ResultHandler, resultHeaders } from '../application/results';

/** ` jobId=… traceId=…` of a result, for its log lines: the job is what a result correlates with. */
function correlation(msg: JsMsg): string {
  const traceId = traceIdOf(msg.headers?.get('traceparent') || undefined);
  return ` jobId=${msg.headers?.get(RESULT_HEADERS.job) || '?'}${traceId ? ` traceId=${traceId}` : ''}`;
}

/** Consumes results (competing with other scheduler replicas) and keeps the node directory. */
@Injectable()
export class ResultsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private consumer: RunningConsumer | undefined;
  private readonly directory: ProjectionRunner;
  private readonly logger = new Logger('Results');

  constructor(
    private readonly handler: ResultHandler,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(READ_MODEL) readModel: DataSource,
  ) {
    this.directory = new ProjectionRunner({ dataSource: readModel, js: bus.js, projection: nodeDirectoryProjection });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.directory.start();
    this.consumer = await runDurableConsumer<JsMsg>({
      js: this.bus.js,
      jsm: this.bus.jsm,
      stream: RESULTS_STREAM,
      durable: 'scheduler-results',
      decode: (msg) => {
        resultHeaders(msg);
        return msg;
      },
      handler: (msg) => this.handler.handle(msg),
      concurrency: 32,
      maxDeliver: 8,
      // Handlers extend their lease while they run, so a short one only shortens recovery after a crash.
      ackWaitMs: 10_000,
      onError: (e, msg) => this.logger.warn(`result: ${(e as Error).message}${correlation(msg)}`),
      onParked: (msg, reason) => this.logger.warn(`parked result ${msg.seq}: ${reason}${correlation(msg)}`),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
    await this.directory.stop();
  }
}
