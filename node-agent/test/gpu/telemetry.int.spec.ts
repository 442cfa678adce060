/**
 * GPU detection against the real system: this machine's (missing) driver, nvidia-smi run as a
 * real child process (a script replaying recorded outputs), and the koffi binding calling a real
 * shared library compiled here from test/gpu/fake-nvml.c. The last one checks the binding's ABI
 * (struct layouts, out parameters, the INSUFFICIENT_SIZE protocol), not a real driver's
 * behaviour: that needs a machine with an NVIDIA GPU (see docs/agent-gpu-policy.md).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import koffi from 'koffi';
import { sampleNvidiaSmi } from '../../src/gpu/nvidia-smi';
import { GpuTelemetry, detectGpus } from '../../src/gpu/telemetry';
import type { GpuDetected } from '../../src/gpu/types';
import { FIXTURES, replay } from './replay';

const onPath = (command: string) => (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
const driverPresent = existsSync('/proc/driver/nvidia') || onPath('nvidia-smi') || onPath('nvidia-smi.exe');
const compiler = ['cc', 'gcc', 'clang'].find(onPath);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'weai-gpu-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * An executable `nvidia-smi` that replays a recorded machine. A wrapper per machine carries the
 * fixture folder (Jest's process.env is not the one child processes inherit), and keeps the test
 * independent of the fixture script's executable bit.
 */
function fakeSmi(machine: string): string {
  const path = join(work, `nvidia-smi-${machine}`);
  if (!existsSync(path)) {
    writeFileSync(path, `#!/bin/sh\nFAKE_NVIDIA_SMI_DIR='${join(FIXTURES, machine)}' exec sh '${join(FIXTURES, 'fake-nvidia-smi.sh')}' "$@"\n`);
    chmodSync(path, 0o755);
  }
  return path;
}

describe('this machine', () => {
  it('detectGpus() resolves, whatever the machine has', async () => {
    const detection = await detectGpus();
    expect(['gpu', 'cpu-only']).toContain(detection.mode);
  });

  (driverPresent ? it.skip : it)('without an NVIDIA driver: CPU-only, saying why', async () => {
    await expect(detectGpus()).resolves.toEqual({ mode: 'cpu-only', reason: 'no NVIDIA driver: libnvidia-ml.so.1 not found and nvidia-smi not on PATH' });
  });

  (driverPresent ? it : it.skip)('with an NVIDIA driver: at least one GPU', async () => {
    const detection = await detectGpus();
    expect(detection).toMatchObject({ mode: 'gpu' });
    expect((detection as GpuDetected).gpus.length).toBeGreaterThan(0);
  });

  (driverPresent ? it.skip : it)("with Windows' defaults, the reason names nvml.dll", async () => {
    await expect(detectGpus({ platform: 'win32', env: {} })).resolves.toEqual({ mode: 'cpu-only', reason: 'no NVIDIA driver: nvml.dll not found and nvidia-smi not on PATH' });
  });
});

describe('nvidia-smi as a child process', () => {
  it.each(['rtx3080-windows-game', 'dual-gpu-linux', 'laptop-power-na', 'legacy-driver-470', 'driver-error', 'no-devices'])(
    '%s: the real process gives what the replay gives',
    async (machine) => {
      const real = await sampleNvidiaSmi(fakeSmi(machine));
      expect(real).toEqual(await sampleNvidiaSmi('nvidia-smi', replay(machine)));
    },
  );

  it('is not found when the command does not exist', async () => {
    const missing = join(work, 'no-such-nvidia-smi');
    await expect(detectGpus({ nvmlLibraryPaths: [], nvidiaSmiCommands: [missing] })).resolves.toEqual({ mode: 'cpu-only', reason: `no NVIDIA driver: ${missing} not found` });
  });

  it('falls back to nvidia-smi when the NVML path is not a library, and says why', async () => {
    const notALibrary = join(FIXTURES, 'README.md');
    const detection = await detectGpus({ nvmlLibraryPaths: [notALibrary], nvidiaSmiCommands: [fakeSmi('dual-gpu-linux')] });
    expect(detection).toMatchObject({ mode: 'gpu', source: 'nvidia-smi' });
    expect((detection as GpuDetected).warnings[0]).toMatch(/^NVML unusable, using nvidia-smi: .*README\.md: /);
  });
});

(compiler ? describe : describe.skip)('NVML through koffi, against a compiled stand-in library', () => {
  const build = (name: string, defines: string[]) => {
    const out = join(work, name);
    execFileSync(compiler!, ['-shared', '-fPIC', '-O1', ...defines, '-o', out, join(__dirname, 'fake-nvml.c')]);
    return out;
  };
  let fake: string;
  let driverNotLoaded: string;
  let noV3: string;
  beforeAll(() => {
    fake = build('libnvidia-ml.so.1', []);
    driverNotLoaded = build('libnvidia-ml-unloaded.so', ['-DFAKE_DRIVER_NOT_LOADED']);
    noV3 = build('libnvidia-ml-r440.so', ['-DFAKE_NO_V3']);
  });
  const nvmlOnly = (path: string) => ({ nvmlLibraryPaths: [path], nvidiaSmiCommands: [] });

  it('reads every field of both GPUs, with NVML units converted (bytes → MiB, mW → W, 12040 → "12.4")', async () => {
    const detection = await detectGpus(nvmlOnly(fake));
    expect(detection).toMatchObject({ mode: 'gpu', source: 'nvml', system: { driverVersion: '550.54.14', cudaVersion: '12.4' } });
    const [rtx3080, rtx3060] = (detection as GpuDetected).gpus;
    expect({ ...rtx3080, processes: undefined }).toEqual({
      index: 0,
      name: 'NVIDIA GeForce RTX 3080',
      uuid: 'GPU-5f1c2a8e-77d4-3c1e-9b0a-2d6f4e8c1a93',
      vramTotalMb: 10240,
      vramFreeMb: 1502,
      utilizationPct: 97,
      temperatureC: 71,
      powerDrawW: 301.45,
      powerLimitW: 320,
      computeCapability: '8.6',
      processes: undefined,
    });
    expect(rtx3060).toMatchObject({ index: 1, name: 'NVIDIA GeForce RTX 3060', vramTotalMb: 12288, temperatureC: 45 });
  });

  it('merges compute and graphics processes, names them, and grows the buffer when NVML asks', async () => {
    const detection = (await detectGpus(nvmlOnly(fake))) as GpuDetected;
    const [first, second] = detection.gpus;
    expect(first!.processes).toEqual([
      { pid: 7001, usedMemoryMb: 2048, name: 'node', kind: 'compute' },
      { pid: 4242, usedMemoryMb: 1834, name: 'game.exe', kind: 'compute+graphics' },
      { pid: 4243, usedMemoryMb: 12, name: null, kind: 'compute' },
      { pid: 1368, usedMemoryMb: 256, name: 'Xorg', kind: 'graphics' },
    ]);
    // NVML_VALUE_NOT_AVAILABLE (as Windows WDDM reports per-process memory) is null, not 16 EiB.
    expect(second!.processes).toEqual([{ pid: 1368, usedMemoryMb: null, name: 'Xorg', kind: 'graphics' }]);
  });

  it('turns NVML_ERROR_NOT_SUPPORTED into null fields with warnings, keeping the GPU', async () => {
    const detection = (await detectGpus(nvmlOnly(fake))) as GpuDetected;
    expect(detection.gpus[1]).toMatchObject({ utilizationPct: null, powerDrawW: null, powerLimitW: null });
    expect(detection.warnings).toEqual(['GPU 1: utilization: Not Supported', 'GPU 1: power draw: Not Supported', 'GPU 1: power limit: Not Supported']);
  });

  it('pairs nvmlInit_v2 with nvmlShutdown', async () => {
    const keeper = koffi.load(fake); // keeps the library, and its counter, loaded across close()
    const initCount = keeper.func('int fake_nvml_init_count(void)');
    try {
      const telemetry = await GpuTelemetry.open(nvmlOnly(fake));
      expect(initCount()).toBe(1);
      expect(await telemetry.sample()).toMatchObject({ mode: 'gpu', source: 'nvml' });
      telemetry.close();
      telemetry.close();
      expect(initCount()).toBe(0);
      expect(await telemetry.sample()).toEqual({ mode: 'cpu-only', reason: 'GPU telemetry closed' });
    } finally {
      keeper.unload();
    }
  });

  it('reads processes through the v1 queries of drivers without the _v3 functions', async () => {
    const detection = (await detectGpus(nvmlOnly(noV3))) as GpuDetected;
    expect(detection.gpus[0]!.processes.map((p) => [p.pid, p.usedMemoryMb, p.kind])).toEqual([
      [7001, 2048, 'compute'],
      [4242, 1834, 'compute+graphics'],
      [4243, 12, 'compute'],
      [1368, 256, 'graphics'],
    ]);
  });

  it('reports a failing nvmlInit_v2 with nvmlErrorString, and falls back to nvidia-smi', async () => {
    await expect(detectGpus(nvmlOnly(driverNotLoaded))).resolves.toEqual({
      mode: 'cpu-only',
      reason: `NVIDIA driver not usable: ${driverNotLoaded}: nvmlInit_v2 failed: Driver Not Loaded (9)`,
    });
    const viaSmi = await detectGpus({ nvmlLibraryPaths: [driverNotLoaded], nvidiaSmiCommands: [fakeSmi('dual-gpu-linux')] });
    expect(viaSmi).toMatchObject({ mode: 'gpu', source: 'nvidia-smi', warnings: [`NVML unusable, using nvidia-smi: ${driverNotLoaded}: nvmlInit_v2 failed: Driver Not Loaded (9)`] });
  });

  it('names both failures when the driver is installed but broken', async () => {
    const detection = await detectGpus({ nvmlLibraryPaths: [driverNotLoaded], nvidiaSmiCommands: [fakeSmi('driver-error')] });
    expect(detection).toEqual({
      mode: 'cpu-only',
      reason:
        `NVIDIA driver not usable: ${driverNotLoaded}: nvmlInit_v2 failed: Driver Not Loaded (9); ` +
        "nvidia-smi-driver-error: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running. (exit 9)",
    });
  });
});
