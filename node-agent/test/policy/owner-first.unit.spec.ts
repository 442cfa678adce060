/** The policy on recorded nvidia-smi outputs: telemetry as the agent would sample it. */
import { assembleSmiSample, parseComputeApps, parseQueryGpu, parseSmiTable } from '../../src/gpu/nvidia-smi';
import type { GpuDetected } from '../../src/gpu/types';
import { DESKTOP_PROCESS_NAMES, decideGpuAction } from '../../src/policy';
import { stdoutOf } from '../gpu/replay';
import { given } from './given';

function recordedSample(machine: string): GpuDetected {
  return assembleSmiSample(parseQueryGpu(stdoutOf(machine, 'query-gpu')), parseComputeApps(stdoutOf(machine, 'query-compute-apps')), parseSmiTable(stdoutOf(machine, 'nvidia-smi')));
}

describe('owner first, on recorded machines', () => {
  it('RTX 3080 with a game: yield now, naming the game', () => {
    const gpu = recordedSample('rtx3080-windows-game').gpus[0]!;
    const decision = decideGpuAction(given({ gpu, settings: { ignoredProcessNames: [...DESKTOP_PROCESS_NAMES, 'steamwebhelper.exe'] } }));
    expect(decision).toMatchObject({ action: 'yield-now', rule: 'other-gpu-user', reason: 'game.exe (pid 4242) is using the GPU' });
  });

  it("RTX 3080: with the defaults, Steam's web helper counts as a GPU user too", () => {
    const gpu = recordedSample('rtx3080-windows-game').gpus[0]!;
    expect(decideGpuAction(given({ gpu })).reason).toBe('steamwebhelper.exe (pid 9204) and game.exe (pid 4242) are using the GPU');
  });

  it("dual GPU: the agent's worker and the desktop on GPU 0 → work; the owner's python3 on GPU 1 → yield", () => {
    const [gpu0, gpu1] = recordedSample('dual-gpu-linux').gpus;
    // The 4090 draws 412 W of its 450 W while the agent works: over the 360 W cap, so no new shard.
    expect(decideGpuAction(given({ gpu: gpu0!, agentPids: new Set([7001]) }))).toMatchObject({ action: 'stay-idle', rule: 'power-over-cap' });
    expect(decideGpuAction(given({ gpu: gpu0!, agentPids: new Set([7001]), settings: { powerCapShareOfLimit: 1 } }))).toMatchObject({ action: 'work', rule: 'allowed' });
    expect(decideGpuAction(given({ gpu: gpu1!, agentPids: new Set([7001]) }))).toMatchObject({ action: 'yield-now', reason: 'python3 (pid 31337) is using the GPU' });
  });

  it('laptop without power figures: works on the shard’s own power estimate, not otherwise', () => {
    const gpu = recordedSample('laptop-power-na').gpus[0]!;
    expect(decideGpuAction(given({ gpu, nextShard: { expectedVramMb: 1024, expectedPowerW: 80 } }))).toMatchObject({ action: 'work' });
    expect(decideGpuAction(given({ gpu, nextShard: { expectedVramMb: 1024 } }))).toMatchObject({ action: 'stay-idle', rule: 'cost-unknown' });
  });
});
