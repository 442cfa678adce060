import { ContentStore } from '../objects';
import { type Bus, connectBus, ensureStreams } from '../nats';
import { type TestNatsServer, startNatsServer } from './nats-server';

/** A nats-server of the test's own, with the streams and the object store. */
export interface TestBus {
  readonly nats: TestNatsServer;
  readonly bus: Bus;
  readonly objects: ContentStore;
  stop(): Promise<void>;
}

/** Starts a nats-server with JetStream, connects (`name`), and creates the streams and the object store. */
export async function startTestBus(name: string): Promise<TestBus> {
  const nats = await startNatsServer();
  const bus = await connectBus({ servers: nats.url, name });
  await ensureStreams(bus.jsm);
  const objects = await ContentStore.open(bus.js);
  return {
    nats,
    bus,
    objects,
    async stop() {
      await bus.close();
      await nats.stop();
    },
  };
}
