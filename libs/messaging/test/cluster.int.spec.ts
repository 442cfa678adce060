import type { JsMsg } from '@nats-io/jetstream';
import { RESULTS_STREAM, SHARDS_STREAM } from '@weai/contracts';
import { type Bus, LeaderElection, connectBus, ensureStreams, runDurableConsumer, streamConfigs } from '../src';
import { startNatsCluster, type TestNatsCluster, waitForJetStreamCluster } from '../src/testing/nats-cluster';
import { eventually } from '../src/testing/streams';

const N = 3000;

describe('3-node JetStream cluster (real nats-servers on loopback)', () => {
  let cluster: TestNatsCluster;
  const buses: Bus[] = [];
  // Every client starts on the first server, so killing it forces each one to move.
  const bus = async (name: string) => {
    const b = await connectBus({ servers: cluster.servers, noRandomize: true, name, reconnectTimeWait: 100 });
    buses.push(b);
    return b;
  };

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
  });
  afterAll(async () => {
    for (const b of buses) await b.nc.close().catch(() => undefined);
    await cluster.stop();
  });

  it('creates every stream R3 (a leader and two followers), idempotently', async () => {
    const { jsm } = await bus('streams');
    await ensureStreams(jsm, 3);
    for (const { name } of streamConfigs(3)) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas?.length).toBe(2); // a leader and two followers
    }
    await ensureStreams(jsm, 3); // idempotent
  });

  it('a publisher and a durable consumer lose nothing and apply nothing twice while a server is killed mid-stream', async () => {
    const publisher = await bus('publisher');
    const consumerBus = await bus('consumer');
    await ensureStreams(publisher.jsm, 3);
    expect(publisher.nc.info?.port).toBe(cluster.nodes[0]!.port);

    // The consumer applies idempotently, by message id (as every WE-AI consumer does by position).
    const applied = new Set<string>();
    let redelivered = 0;
    const consumer = await runDurableConsumer<JsMsg>({
      js: consumerBus.js,
      jsm: consumerBus.jsm,
      stream: RESULTS_STREAM,
      durable: 'cluster-test',
      filterSubject: 'weai.result.cluster.>',
      decode: (m) => m,
      handler: async (m) => {
        const id = m.headers?.get('Nats-Msg-Id') ?? '';
        if (applied.has(id)) redelivered++;
        else applied.add(id);
      },
      concurrency: 16,
      ackWaitMs: 2000,
    });

    const consumerInfo = await consumerBus.jsm.consumers.info(RESULTS_STREAM, 'cluster-test');
    expect(consumerInfo.cluster?.replicas?.length).toBe(2); // the durable consumer inherits R3

    // Publishes with the message id as `Nats-Msg-Id`, 32 at a time, each retried until acknowledged:
    // a publish whose acknowledgement was lost in the fail-over is dropped as a duplicate by the stream.
    let failures = 0;
    let duplicatesDropped = 0;
    const publishOne = async (i: number) => {
      for (;;) {
        try {
          const ack = await publisher.js.publish(`weai.result.cluster.${i % 50}.${i}`, new TextEncoder().encode(String(i)), { msgID: `m-${i}`, timeout: 2000 });
          if (ack.duplicate) duplicatesDropped++;
          return;
        } catch {
          failures++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const killAt = Math.floor(N / 3);
    let killedAt = 0;
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        if (i === killAt) {
          killedAt = performance.now();
          await cluster.nodes[0]!.kill();
        }
        await publishOne(i);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 32 }, worker));
    const published = performance.now();
    await eventually(async () => applied.size >= N, `every message applied (${applied.size}/${N})`, 60_000);
    await consumer.stop();

    expect(publisher.nc.info?.port).not.toBe(cluster.nodes[0]!.port);
    expect(consumerBus.nc.info?.port).not.toBe(cluster.nodes[0]!.port);
    expect(applied.size).toBe(N);
    for (let i = 0; i < N; i++) expect(applied.has(`m-${i}`)).toBe(true);
    const subjects = await publisher.jsm.streams.info(RESULTS_STREAM, { subjects_filter: 'weai.result.cluster.>' });
    expect(subjects.state.messages).toBe(N); // no publish stored twice
    process.stdout.write(
      `cluster: ${N} messages, server killed after ${killAt}; publish ${(N / ((published - started) / 1000)).toFixed(0)} msg/s overall, ` +
        `${failures} publish attempts failed and were retried, ${duplicatesDropped} dropped as duplicates, ${redelivered} redeliveries skipped, ` +
        `all applied ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill\n`,
    );
    expect(SHARDS_STREAM).toBeDefined();
  });

  it('a second replica started under load takes a share of the work of a durable consumer', async () => {
    // On the whole cluster again: with one of three servers down, nats-server 2.9 intermittently
    // times out creating consumers on R3 streams, which is not what this test is about.
    await cluster.nodes[0]!.restart();
    await waitForJetStreamCluster(cluster.servers);
    const publisher = await bus('split-publisher');
    const M = 2000;
    const applied = new Map<string, string>();
    let twice = 0;
    const replica = async (name: string) =>
      runDurableConsumer<JsMsg>({
        js: (await bus(name)).js,
        jsm: publisher.jsm,
        stream: RESULTS_STREAM,
        durable: 'split-test',
        filterSubject: 'weai.result.split.>',
        decode: (m) => m,
        handler: async (m) => {
          const id = m.headers?.get('Nats-Msg-Id') ?? '';
          if (applied.has(id)) twice++;
          else applied.set(id, name);
          await new Promise((r) => setTimeout(r, 2)); // some work per message, so a backlog builds
        },
        concurrency: 4,
      });
    const first = await replica('first');
    for (let i = 0; i < M; i++) void publisher.js.publish(`weai.result.split.${i}`, new Uint8Array(8), { msgID: `s-${i}` });
    await publisher.nc.flush();
    await eventually(async () => applied.size >= M / 10, 'the first replica to be under way', 30_000);
    const second = await replica('second');
    await eventually(async () => applied.size >= M, `all applied (${applied.size}/${M})`, 60_000);
    await Promise.all([first.stop(), second.stop()]);
    const share = [...applied.values()].filter((n) => n === 'second').length;
    process.stdout.write(`work split: first ${M - share}, second ${share} of ${M} (second joined after ${M / 10}); ${twice} applied twice\n`);
    expect(share).toBeGreaterThan(M / 10);
    expect(twice).toBe(0);
  });

  it('a leader lease on an R3 bucket survives the loss of a server', async () => {
    if (!cluster.nodes[0]!.running) await cluster.nodes[0]!.restart();
    await waitForJetStreamCluster(cluster.servers);
    const b = await bus('leader');
    // A TTL long enough to ride out the stream-leader election that the loss of a server can start
    // (seconds on 2.9); a shorter lease would rightly depose itself while renewals cannot commit.
    const a = new LeaderElection({ js: b.js, name: 'cluster-lease', ttlMs: 10_000, replicas: 3, bucket: 'weai-leases-cluster' });
    await a.start();
    try {
      expect(a.isLeader).toBe(true);
      const term = a.term!;
      await cluster.nodes[1]!.kill();
      // Renewals (every 2 s) go on through the two servers left (the bucket keeps a quorum of its three replicas).
      await new Promise((r) => setTimeout(r, 5000));
      expect(a.isCurrent(term)).toBe(true);
      await eventually(async () => a.verify(term), 'the lease to be confirmed by the cluster', 5000);
    } finally {
      await a.stop();
    }
  });
});
