import type { Bus } from '@weai/messaging';
import { SAMPLES_PER_NODE, TelemetryReadModel, type TelemetrySample } from '../src/dashboard/telemetry.read-model';

const heartbeat = (nodeId: string, utilizationPct: number) =>
  new TextEncoder().encode(
    JSON.stringify({ nodeId, sentAt: '2026-11-26T10:00:00.000Z', allowsWork: true, activeShards: 0, slots: 2, gpus: [{ uuid: 'GPU-1', utilizationPct, vramFreeMb: 100, temperatureC: 50 }] }),
  );

describe('TelemetryReadModel', () => {
  const model = () => new TelemetryReadModel({} as Bus);

  it('keeps the newest samples of each node, oldest first, and tells listeners of each', () => {
    const m = model();
    const seen: TelemetrySample[] = [];
    const stop = m.onSample((s) => seen.push(s));
    for (let i = 0; i < SAMPLES_PER_NODE + 5; i++) m.accept('weai.hb.n1', heartbeat('n1', i % 100), 1_764_150_000_000 + i);
    stop();
    m.accept('weai.hb.n1', heartbeat('n1', 1), 1_764_160_000_000);
    const { n1, n2 } = m.samplesOf(['n1', 'n2']);
    expect(n1).toHaveLength(SAMPLES_PER_NODE);
    expect(n1![0]!.at).toBe(new Date(1_764_150_000_000 + 6).toISOString());
    expect(n1!.at(-1)).toMatchObject({ nodeId: 'n1', allowsWork: true, reason: null, gpus: [{ uuid: 'GPU-1', utilizationPct: 1, powerDrawW: null }] });
    expect(n2).toEqual([]);
    expect(seen).toHaveLength(SAMPLES_PER_NODE + 5);
  });

  it("ignores what is not a valid heartbeat of its subject's node", () => {
    const m = model();
    m.accept('weai.hb.n2', heartbeat('n1', 5), 0);
    m.accept('weai.hb.n1', new TextEncoder().encode('not json'), 0);
    m.accept('weai.hb.n1', new TextEncoder().encode(JSON.stringify({ nodeId: 'n1' })), 0);
    m.accept('weai.hb.n1', heartbeat('n1', 500), 0);
    expect(m.samplesOf(['n1', 'n2'])).toEqual({ n1: [], n2: [] });
  });
});
