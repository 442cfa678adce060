import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EventFamily, WeaiEvent } from '@weai/contracts';
import type { RecordedEvent } from '@weai/eventstore';
import { type Bus, encodeEvent } from '@weai/messaging';
import type { SagaHooks } from '../src/application/withdrawal-saga';

/** The EVM child process (see fixtures/evm-child.ts). */
export interface EvmChild {
  readonly url: string;
  readonly chainId: string;
  stop(): Promise<void>;
}

/** Starts the in-process EVM of libs/chain in a child process, served over HTTP JSON-RPC. */
export async function startEvmChild(): Promise<EvmChild> {
  const child: ChildProcess = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'fixtures/evm-child.ts')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`EVM child exited with ${code}: ${stderr}`)));
  });
  const { url, chainId } = JSON.parse(line) as { url: string; chainId: string };
  return {
    url,
    chainId,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin?.end();
      await exited;
    },
  };
}

const positions = new Map<EventFamily, number>();

/**
 * Publishes an event to its family's stream as that family's relay would (the nodes service's,
 * the scheduler's), without their stores: store positions increase per family.
 */
export async function publishAs(bus: Bus, family: EventFamily, event: WeaiEvent, streamId = `test-${randomUUID()}`): Promise<RecordedEvent> {
  const position = (positions.get(family) ?? 0) + 1;
  positions.set(family, position);
  const recorded: RecordedEvent = { ...event, streamId, revision: 0, position, schemaVersion: 1, recordedAt: new Date().toISOString() };
  const { subject, body, headers } = encodeEvent(family, recorded);
  await bus.js.publish(subject, body, { headers, msgID: event.metadata.eventId });
  return recorded;
}

/** Metadata of an event published by another service. */
export const meta = () => {
  const eventId = randomUUID();
  return { eventId, correlationId: eventId, causationId: eventId, occurredAt: new Date().toISOString() };
};

/** The saga steps a test can crash at. */
export type CrashPoint = keyof SagaHooks;

/**
 * Hooks that "kill" the saga at `point`: from then on every hook throws, as nothing runs in a
 * dead process, until the test closes the app. Captures the signature and transaction it saw.
 */
export function crashAt(point: CrashPoint): { hooks: SagaHooks; crashed: Promise<void>; seen: { signature?: string; txHash?: string } } {
  let dead = false;
  let signal!: () => void;
  const crashed = new Promise<void>((r) => (signal = r));
  const seen: { signature?: string; txHash?: string } = {};
  const step = (at: CrashPoint) => {
    if (dead || at === point) {
      dead = true;
      signal();
      throw new Error(`simulated crash at ${point}`);
    }
  };
  return {
    crashed,
    seen,
    hooks: {
      beforeSign: () => step('beforeSign'),
      afterSign: (_w, signature) => {
        if (!dead) seen.signature = signature;
        step('afterSign');
      },
      afterSend: (_w, txHash) => {
        if (!dead) seen.txHash = txHash;
        step('afterSend');
      },
      afterConfirm: () => step('afterConfirm'),
    },
  };
}
