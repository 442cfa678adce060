import 'reflect-metadata';
import { Controller, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import type { INestMicroservice } from '@nestjs/common';
import type { WeaiEvent } from '@weai/contracts';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';
import { type Bus, JetStreamContext, JetStreamServer, OnJetStreamEvents, connectBus, ensureStreams } from '../src';
import { type TestNatsServer, startNatsServer } from '../src/testing/nats-server';
import { publishAsRelay } from '../src/testing/publish';

@Injectable()
class Seen {
  readonly events: Array<{ type: string; nodeId: string; seq: number }> = [];
  private waiters: Array<[number, () => void]> = [];
  add(e: WeaiEvent, seq: number) {
    this.events.push({ type: e.type, nodeId: (e.data as { nodeId: string }).nodeId, seq });
    this.waiters.filter(([n]) => this.events.length >= n).forEach(([, r]) => r());
  }
  atLeast(n: number) {
    return new Promise<void>((r) => (this.events.length >= n ? r() : this.waiters.push([n, r])));
  }
}

@Controller()
class NodeLifecycleMessageController {
  constructor(private readonly seen: Seen) {}

  @OnJetStreamEvents({ durable: 'test-lifecycle', types: ['NodeCameOnline', 'NodeWentOffline'] })
  onLifecycle(@Payload() event: WeaiEvent, @Ctx() ctx: JetStreamContext) {
    this.seen.add(event, ctx.received.streamSequence);
  }
}

@Module({ controllers: [NodeLifecycleMessageController], providers: [Seen] })
class TestModule {}

describe('JetStreamServer (NestJS transport strategy)', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let app: INestMicroservice;

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'nest-test' });
    await ensureStreams(bus.jsm);
    app = await NestFactory.createMicroservice(TestModule, { strategy: new JetStreamServer(bus), logger: false });
    await app.listen();
  });
  afterAll(async () => {
    await app.close();
    await bus.close();
    await nats.stop();
  });

  it('hands validated events of the declared types to the decorated handler, through a durable consumer', async () => {
    await publishAsRelay(bus, nodeCameOnline('n1'));
    await publishAsRelay(bus, {
      type: 'NodeBecameAvailable',
      data: { nodeId: 'n1' },
      metadata: { ...nodeCameOnline('n1').metadata },
    });
    await publishAsRelay(bus, {
      type: 'NodeWentOffline',
      data: { nodeId: 'n1', lastSeenAt: '2026-11-25T10:00:00.000Z' },
      metadata: { ...nodeCameOnline('n1').metadata },
    });
    const seen = app.get(Seen);
    await seen.atLeast(2);
    expect(seen.events).toEqual([
      { type: 'NodeCameOnline', nodeId: 'n1', seq: 1 },
      { type: 'NodeWentOffline', nodeId: 'n1', seq: 3 },
    ]);
    const info = await bus.jsm.consumers.info('WEAI_NODES', 'test-lifecycle');
    expect(info.config.durable_name).toBe('test-lifecycle');
  });
});
