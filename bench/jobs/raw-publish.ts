/**
 * Raw JetStream async publish rate, pipelined: the yardstick the job pipeline is compared with.
 * The same measurement as bench/eventstore.bench.ts (`raw_jetstream_publish_per_s`, whose helper
 * is not exported): envelope-sized messages to a scratch file-backed stream, at most 256
 * unacknowledged, refilled by halves (once 256 are in flight, wait for the oldest 128).
 */
import { performance } from 'node:perf_hooks';
import { RetentionPolicy, StorageType, type PubAck } from '@nats-io/jetstream';
import type { RecordedEvent } from '@weai/eventstore';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';
import { type Bus, encodeEvent } from '@weai/messaging';
import { fmt, log, secondsSince } from './util';

const RAW_STREAM = 'BENCH_JOBS_RAW';
export const RAW_IN_FLIGHT = 256;

/** Size in bytes of the body the relay publishes for a NodeCameOnline event (as bench:eventstore uses). */
export function envelopeSize(): number {
  const event = nodeCameOnline('bench-node-00000000');
  const recorded: RecordedEvent = { ...event, streamId: 'bench-node-00000000', revision: 12, position: 123_456, schemaVersion: 1, recordedAt: new Date().toISOString() };
  return encodeEvent('nodes', recorded).body.length;
}

export interface RawPublishResult {
  readonly rate: number;
  readonly messages: number;
  readonly bytes: number;
  readonly cpuMicrosPerMsg: number;
}

/** Publishes `count` messages (after 1,000 untimed) and returns messages/s. */
export async function rawPublish(bus: Bus, count: number): Promise<RawPublishResult> {
  const size = envelopeSize();
  await bus.jsm.streams.add({ name: RAW_STREAM, subjects: ['bench.jobsraw.>'], storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: 120 * 1_000_000_000 });
  try {
    const payload = new Uint8Array(size).fill(0x78);
    const publishAll = async (n: number) => {
      const window: Array<Promise<PubAck>> = [];
      for (let i = 0; i < n; i++) {
        window.push(bus.js.publish('bench.jobsraw.node.NodeCameOnline', payload));
        if (window.length >= RAW_IN_FLIGHT) await window.splice(0, RAW_IN_FLIGHT / 2).at(-1);
      }
      await Promise.all(window);
    };
    const warmup = 1000;
    await publishAll(warmup);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await publishAll(count);
    const secs = secondsSince(started);
    const used = process.cpuUsage(cpu);
    const { state } = await bus.jsm.streams.info(RAW_STREAM);
    if (state.messages !== count + warmup) throw new Error(`${RAW_STREAM} holds ${state.messages} messages, expected ${count + warmup}`);
    const rate = count / secs;
    const cpuMicrosPerMsg = Math.round(((used.user + used.system) / count) * 10) / 10;
    log(`raw JetStream publish: ${fmt(rate)} msgs/s (${fmt(count)} messages of ${size} bytes, at most ${RAW_IN_FLIGHT} in flight, refilled by halves; ${cpuMicrosPerMsg} µs CPU per message here)`);
    return { rate, messages: count, bytes: size, cpuMicrosPerMsg };
  } finally {
    await bus.jsm.streams.delete(RAW_STREAM).catch(() => undefined);
  }
}
