import type { CommandResult, RunCommand } from '../../src/gpu/nvidia-smi';
import { GpuTelemetry, defaultNvidiaSmiCommands, defaultNvmlLibraryPaths, detectGpus } from '../../src/gpu/telemetry';
import { notInstalled, replay } from './replay';

// NVML is switched off here (nvmlLibraryPaths: []) so nothing is loaded; the NVML back end runs
// against a compiled stand-in library in telemetry.int.spec.ts.
const smiOnly = (runCommand: RunCommand, nvidiaSmiCommands = ['nvidia-smi']) => ({ nvmlLibraryPaths: [], nvidiaSmiCommands, runCommand });

describe('detectGpus through nvidia-smi', () => {
  it('detects the recorded RTX 3080 box', async () => {
    const detection = await detectGpus(smiOnly(replay('rtx3080-windows-game')));
    expect(detection).toMatchObject({ mode: 'gpu', source: 'nvidia-smi', gpus: [{ name: 'NVIDIA GeForce RTX 3080', computeCapability: '8.6' }] });
  });

  it('is CPU-only, naming what is missing, when nvidia-smi is not installed', async () => {
    expect(await detectGpus(smiOnly(notInstalled))).toEqual({ mode: 'cpu-only', reason: 'no NVIDIA driver: nvidia-smi not on PATH' });
    expect(await detectGpus(smiOnly(notInstalled, ['/opt/nvidia/nvidia-smi']))).toEqual({ mode: 'cpu-only', reason: 'no NVIDIA driver: /opt/nvidia/nvidia-smi not found' });
  });

  it('is CPU-only with the driver message when the driver is broken', async () => {
    expect(await detectGpus(smiOnly(replay('driver-error')))).toEqual({
      mode: 'cpu-only',
      reason: "NVIDIA driver not usable: nvidia-smi: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running. (exit 9)",
    });
  });

  it('tries the next command only when one is not installed, not when one fails', async () => {
    const seen: string[] = [];
    const run: RunCommand = async (command, args) => {
      seen.push(command);
      return command === 'nvidia-smi' ? notInstalled(command, args) : replay('dual-gpu-linux')(command, args);
    };
    const detection = await detectGpus(smiOnly(run, ['nvidia-smi', 'C:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe']));
    expect(detection).toMatchObject({ mode: 'gpu', gpus: [{ index: 0 }, { index: 1 }] });
    expect(new Set(seen)).toEqual(new Set(['nvidia-smi', 'C:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe']));
  });

  it('says detection is disabled when given nothing to try', async () => {
    expect(await detectGpus({ nvmlLibraryPaths: [], nvidiaSmiCommands: [] })).toEqual({
      mode: 'cpu-only',
      reason: 'GPU detection disabled: no NVML library and no nvidia-smi command configured',
    });
  });

  it('never throws, even when the command runner does', async () => {
    const exploding: RunCommand = async () => {
      throw new Error('boom');
    };
    await expect(detectGpus(smiOnly(exploding))).resolves.toEqual({ mode: 'cpu-only', reason: 'NVIDIA driver not usable: nvidia-smi: boom' });
  });
});

describe('GpuTelemetry sampling', () => {
  it('samples again on each call and reports a driver failure as cpu-only, then recovers', async () => {
    let machine = 'dual-gpu-linux';
    const run: RunCommand = (command, args): Promise<CommandResult> => replay(machine)(command, args);
    const telemetry = await GpuTelemetry.open(smiOnly(run));
    expect(telemetry.detection.mode).toBe('gpu');

    machine = 'driver-error';
    expect(await telemetry.sample()).toEqual({ mode: 'cpu-only', reason: expect.stringMatching(/^nvidia-smi sample failed: NVIDIA-SMI has failed/) });

    machine = 'dual-gpu-linux';
    expect(await telemetry.sample()).toMatchObject({ mode: 'gpu', gpus: [{ index: 0 }, { index: 1 }] });

    telemetry.close();
    expect(await telemetry.sample()).toEqual({ mode: 'cpu-only', reason: 'GPU telemetry closed' });
  });
});

describe('default locations', () => {
  it('Linux: the driver soname, then WSL2', () => {
    expect(defaultNvmlLibraryPaths('linux', {})).toEqual(['libnvidia-ml.so.1', '/usr/lib/wsl/lib/libnvidia-ml.so.1']);
    expect(defaultNvidiaSmiCommands('linux', {})).toEqual(['nvidia-smi']);
  });

  it('Windows: the DLL search path, System32, then the NVSMI folder', () => {
    const env = { SystemRoot: 'D:\\Windows', ProgramFiles: 'D:\\Program Files' };
    expect(defaultNvmlLibraryPaths('win32', env)).toEqual(['nvml.dll', 'D:\\Windows\\System32\\nvml.dll', 'D:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvml.dll']);
    expect(defaultNvidiaSmiCommands('win32', env)).toEqual(['nvidia-smi', 'D:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe']);
    expect(defaultNvmlLibraryPaths('win32', {})[1]).toBe('C:\\Windows\\System32\\nvml.dll');
  });
});
