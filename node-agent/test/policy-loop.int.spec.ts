/**
 * The policy loop driving lanes from real telemetry: GpuTelemetry runs a switchable fake
 * nvidia-smi as a real child process, and the test turns the desktop into a game while it runs.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpuTelemetry } from '../src/gpu/telemetry';
import { type LaneControl, PolicyLoop } from '../src/policy-loop';
import { DEFAULT_POLICY, type OwnerSettings } from '../src/policy';
import { NVIDIA_SMI_FIXTURES, type SwitchableNvidiaSmi, switchableNvidiaSmi } from './fixtures/nvidia-smi/switchable';

/** A lane that records what it is told, with one shard running while it works. */
class RecordingLane implements LaneControl {
  readonly calls: Array<{ call: string; reason?: string; at: number }> = [];
  private running = 0;
  private waiters: Array<() => void> = [];
  release(reason: string): number {
    const n = this.running;
    this.running = 0;
    this.record('release', reason);
    return n;
  }
  hold(reason: string): void {
    this.record('hold', reason);
  }
  resume(): void {
    this.running = 1;
    this.record('resume');
  }
  activeShards(): number {
    return this.running;
  }
  /** Resolves with the first call of `kind` after call number `from`. */
  next(kind: string, from = 0, timeoutMs = 15_000): Promise<{ call: string; reason?: string; at: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${kind} within ${timeoutMs} ms; calls: ${JSON.stringify(this.calls.slice(from))}`)), timeoutMs);
      const check = () => {
        const found = this.calls.slice(from).find((c) => c.call === kind);
        if (!found) return void this.waiters.push(check);
        clearTimeout(timer);
        resolve(found);
      };
      check();
    });
  }
  private record(call: string, reason?: string): void {
    this.calls.push({ call, ...(reason === undefined ? {} : { reason }), at: performance.now() });
    this.waiters.splice(0).forEach((w) => w());
  }
}

describe('PolicyLoop with a fake nvidia-smi as a real process', () => {
  let dir: string;
  let smi: SwitchableNvidiaSmi;
  let telemetry: GpuTelemetry;
  const loops: PolicyLoop[] = [];
  const start = (lane: RecordingLane, settings: () => OwnerSettings, agentPids = new Set([process.pid])) => {
    const loop = new PolicyLoop({ telemetry, lanes: [{ spec: { id: 'cpu', gpuUuid: null }, control: lane }], settings, agentPids: () => agentPids, busy: () => lane.activeShards() > 0 });
    loops.push(loop);
    loop.start();
    return loop;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weai-loop-'));
    smi = switchableNvidiaSmi(dir, 'rtx3080-windows-idle');
    telemetry = await GpuTelemetry.open({ nvmlLibraryPaths: [], nvidiaSmiCommands: [smi.command] });
    expect(telemetry.detection).toMatchObject({ mode: 'gpu', source: 'nvidia-smi', gpus: [{ name: 'NVIDIA GeForce RTX 3080', processes: expect.any(Array) }] });
  });
  afterEach(async () => {
    const stopping = loops.splice(0);
    stopping.forEach((l) => l.stop());
    await Promise.all(stopping.map((l) => l.settled()));
    smi.show('rtx3080-windows-idle');
  });
  afterAll(() => {
    telemetry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands the leases back within 1 s of a game appearing, then waits out the quiet period before working again', async () => {
    const lane = new RecordingLane();
    // A quiet period longer than the 1 s the loop samples at while nothing runs, so it shows.
    const loop = start(lane, () => ({ ...DEFAULT_POLICY, quietPeriodSeconds: 3 }));
    await lane.next('resume');
    const from = lane.calls.length;
    const switched = performance.now();
    smi.show('rtx3080-windows-game');
    const released = await lane.next('release', from);
    expect(released.reason).toBe('steamwebhelper.exe (pid 9204) and game.exe (pid 4242) are using the GPU');
    expect(released.at - switched).toBeLessThan(1000);
    expect(loop.last?.step.gpus[0]?.decision.rule).toBe('other-gpu-user');

    const gone = lane.calls.length;
    smi.show('rtx3080-windows-idle');
    expect((await lane.next('hold', gone)).reason).toMatch(/^waiting for 3 s without other GPU users: steamwebhelper\.exe \(pid 9204\) and game\.exe \(pid 4242\) seen [0-2] s ago/);
    await lane.next('resume', gone);
  });

  it('a shard that starts while the loop samples slowly gets a fresh sample at once', async () => {
    const lane = new RecordingLane();
    let running = false;
    const loop = new PolicyLoop({
      telemetry,
      lanes: [{ spec: { id: 'cpu', gpuUuid: null }, control: lane }],
      settings: () => DEFAULT_POLICY,
      agentPids: () => new Set([process.pid]),
      idleIntervalMs: 60_000,
      busy: () => running,
    });
    loops.push(loop);
    loop.start();
    await lane.next('resume');
    smi.show('rtx3080-windows-game'); // not seen: the next slow tick is a minute away
    await new Promise((r) => setTimeout(r, 300)); // past the 250 ms since the last tick
    const from = lane.calls.length;
    const startedAt = performance.now();
    running = true; // a shard starts (the agent nudges the loop on its "started" event)
    loop.nudge();
    const released = await lane.next('release', from);
    expect(released.at - startedAt).toBeLessThan(500);
  });

  it("the agent's own processes on the GPU are not the owner's", async () => {
    smi.show('rtx3080-windows-game');
    const lane = new RecordingLane();
    const loop = start(lane, () => DEFAULT_POLICY, new Set([process.pid, 4242, 9204]));
    await lane.next('resume');
    expect(loop.last?.step.lanes[0]).toMatchObject({ action: 'work', rule: 'allowed' });
  });

  it('the owner pause is applied on the next tick', async () => {
    let settings = DEFAULT_POLICY;
    const lane = new RecordingLane();
    const loop = start(lane, () => settings);
    await lane.next('resume');
    settings = { ...settings, paused: true };
    const step = await loop.tick();
    expect(step.lanes[0]).toMatchObject({ action: 'yield-now', reason: 'paused by the owner' });
    expect(lane.calls.at(-1)).toMatchObject({ call: 'release', reason: 'paused by the owner' });
  });

  it('a telemetry that stops answering counts as blind: no new work', async () => {
    const stalling = join(dir, 'stalling-nvidia-smi');
    writeFileSync(stalling, `#!/bin/sh\n[ -f '${join(dir, 'stall')}' ] && sleep 3\nFAKE_NVIDIA_SMI_DIR='${join(NVIDIA_SMI_FIXTURES, 'rtx3080-windows-idle')}' exec sh '${join(NVIDIA_SMI_FIXTURES, 'fake-nvidia-smi.sh')}' "$@"\n`);
    chmodSync(stalling, 0o755);
    const slow = await GpuTelemetry.open({ nvmlLibraryPaths: [], nvidiaSmiCommands: [stalling] });
    const lane = new RecordingLane();
    const loop = new PolicyLoop({ telemetry: slow, lanes: [{ spec: { id: 'cpu', gpuUuid: null }, control: lane }], settings: () => DEFAULT_POLICY, agentPids: () => new Set(), sampleTimeoutMs: 300 });
    try {
      expect((await loop.tick()).lanes[0]?.action).toBe('work');
      writeFileSync(join(dir, 'stall'), '');
      const started = performance.now();
      const step = await loop.tick();
      expect(performance.now() - started).toBeLessThan(1000);
      expect(step.lanes[0]).toEqual({ laneId: 'cpu', action: 'stay-idle', rule: 'gpu-unavailable', reason: 'cannot see whether the owner uses the GPU: GPU telemetry did not answer within 300 ms' });
      expect(lane.calls.at(-1)?.call).toBe('hold');
    } finally {
      rmSync(join(dir, 'stall'), { force: true });
      await loop.settled();
      slow.close();
    }
  });
});
