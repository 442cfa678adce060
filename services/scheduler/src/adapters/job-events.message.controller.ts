import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import type { KV } from '@nats-io/kv';
import type { EventOfType } from '@weai/contracts';
import { JetStreamContext, OnJetStreamEvents } from '@weai/messaging';
import { Dispatcher } from '../application/dispatcher';
import { Integrator } from '../application/integration';
import { jobsFinished } from './metrics';
import { JOB_STATUS_KV } from './tokens';

/**
 * The scheduler's process managers, driven by its own events as JetStream delivers them. Each is
 * idempotent and none may give up: a NATS server failing over (seconds of "jetstream is not
 * enabled") outlasted the default five deliveries, and a parked ShardDispatched left its work
 * item unpublished and the job waiting for good. They retry (backoff up to 30 s) for hours instead.
 */
const KEEP_TRYING = 1000;
@Controller()
export class JobEventsMessageController {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly integrator: Integrator,
    @Inject(JOB_STATUS_KV) private readonly status: KV,
  ) {}

  @OnJetStreamEvents({ durable: 'scheduler-dispatch-job', types: ['JobPartitioned'], ackWaitMs: 60_000, maxDeliver: KEEP_TRYING })
  async partitioned(@Payload() e: EventOfType<'JobPartitioned'>) {
    await this.dispatcher.dispatchJob(e.data.jobId);
  }

  @OnJetStreamEvents({ durable: 'scheduler-dispatch-replica', types: ['ShardDispatched'], concurrency: 8, maxDeliver: KEEP_TRYING })
  async dispatched(@Payload() e: EventOfType<'ShardDispatched'>, @Ctx() ctx: JetStreamContext) {
    await this.dispatcher.publish([{ jobId: e.data.jobId, shardIndex: e.data.shardIndex, replica: e.data.replica, attempt: e.data.attempt }], undefined, ctx.received.envelope.revision);
  }

  /** The next part of a large job, as its first replicas come back (see Dispatcher.topUp). */
  @OnJetStreamEvents({ durable: 'scheduler-dispatch-more', types: ['ShardCompleted', 'ShardValidated', 'ShardFailed'], concurrency: 8, maxDeliver: KEEP_TRYING })
  async progressed(@Payload() e: EventOfType<'ShardCompleted'> | EventOfType<'ShardValidated'> | EventOfType<'ShardFailed'>, @Ctx() ctx: JetStreamContext) {
    await this.dispatcher.topUp(e.data.jobId, undefined, ctx.received.envelope.revision);
  }

  /**
   * The lease is extended while an integration runs, so the ack wait only bounds how long a
   * ShardValidated held by a replica that died waits before another replica gets it.
   */
  @OnJetStreamEvents({ durable: 'scheduler-integrate', types: ['ShardValidated'], concurrency: 16, ackWaitMs: 15_000, maxDeliver: KEEP_TRYING })
  async validated(@Payload() e: EventOfType<'ShardValidated'>, @Ctx() ctx: JetStreamContext) {
    await this.integrator.integrateIfDone(e.data.jobId, ctx.received.envelope.revision);
  }

  /** Agents watch this bucket to skip shards of jobs that no longer need them. */
  @OnJetStreamEvents({ durable: 'scheduler-job-status', types: ['JobCompleted', 'JobFailed', 'JobCancelled'], maxDeliver: KEEP_TRYING })
  async finished(@Payload() e: EventOfType<'JobCompleted'> | EventOfType<'JobFailed'> | EventOfType<'JobCancelled'>) {
    const status = e.type === 'JobCompleted' ? 'completed' : e.type === 'JobFailed' ? 'failed' : 'cancelled';
    await this.status.put(e.data.jobId, status);
    // Counted after the put: no job is missed; a redelivery after a lost ack may count one twice.
    jobsFinished.inc({ status });
  }
}
