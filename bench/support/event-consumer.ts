/**
 * The consumer side of the relay benchmark, in its own process as it is in the system (the
 * consumer of a family's events is another service): a durable pull consumer (`runDurableConsumer`,
 * `decodeEvent`, concurrency 1) that acks `count` events and checks they arrive in log order.
 *
 *   BENCH_NATS_URL=… BENCH_STREAM=WEAI_NODES BENCH_DURABLE=… BENCH_COUNT=50000 \
 *     node -r @swc-node/register bench/support/event-consumer.ts
 *
 * Prints `ready` once the consumer is set up and, after the last handled event,
 * `done {"outOfOrder":N,"cpuMicrosPerEvent":X}`; errors and parked messages go to stderr.
 */
import { connectBus, decodeEvent, runDurableConsumer } from '@weai/messaging';

async function main(): Promise<void> {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const url = env('BENCH_NATS_URL');
  const stream = env('BENCH_STREAM');
  const durable = env('BENCH_DURABLE');
  const count = Number(env('BENCH_COUNT'));
  const bus = await connectBus({ servers: url, name: `bench-consumer-${durable}` });
  let handled = 0;
  let lastPosition = 0;
  let outOfOrder = 0;
  let cpu: NodeJS.CpuUsage | undefined;
  let allHandled!: () => void;
  const finished = new Promise<void>((resolve) => (allHandled = resolve));
  const consumer = await runDurableConsumer({
    js: bus.js,
    jsm: bus.jsm,
    stream,
    durable,
    decode: decodeEvent,
    concurrency: 1,
    handler: async (received) => {
      cpu ??= process.cpuUsage();
      if (received.envelope.position <= lastPosition) outOfOrder++;
      lastPosition = received.envelope.position;
      if (++handled === count) allHandled();
    },
    onError: (error) => process.stderr.write(`consumer error: ${(error as Error).message}\n`),
    onParked: (_msg, reason) => process.stderr.write(`consumer parked a message: ${reason}\n`),
  });
  process.stdout.write('ready\n');
  await finished;
  const used = process.cpuUsage(cpu);
  const cpuMicrosPerEvent = Math.round(((used.user + used.system) / count) * 10) / 10;
  process.stdout.write(`done ${JSON.stringify({ outOfOrder, cpuMicrosPerEvent })}\n`);
  // The bench waits for the server to record the last acks, then stops this process.
  process.once('SIGTERM', () => {
    void consumer
      .stop()
      .then(() => bus.close())
      .finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
