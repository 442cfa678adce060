import {
  LEGACY_QUERY_GPU_FIELDS,
  NvidiaSmiParseError,
  assembleSmiSample,
  parseComputeApps,
  parseQueryGpu,
  parseSmiTable,
  sampleNvidiaSmi,
} from '../../src/gpu/nvidia-smi';
import type { GpuDetected } from '../../src/gpu/types';
import { notInstalled, replay, stdoutOf } from './replay';

describe('nvidia-smi --query-gpu', () => {
  it('reads a Windows RTX 3080 under load (CRLF line ends)', () => {
    expect(parseQueryGpu(stdoutOf('rtx3080-windows-game', 'query-gpu'))).toEqual({
      driverVersion: '551.86',
      gpus: [
        {
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
        },
      ],
    });
  });

  it('reads every GPU of a dual-GPU box, in index order', () => {
    const { gpus } = parseQueryGpu(stdoutOf('dual-gpu-linux', 'query-gpu'));
    expect(gpus.map((g) => [g.index, g.name, g.vramTotalMb, g.computeCapability, g.powerLimitW])).toEqual([
      [0, 'NVIDIA GeForce RTX 4090', 24564, '8.9', 450],
      [1, 'NVIDIA GeForce RTX 3060', 12288, '8.6', 170],
    ]);
  });

  it('turns "[N/A]" power fields into null, keeping the rest', () => {
    const [gpu] = parseQueryGpu(stdoutOf('laptop-power-na', 'query-gpu')).gpus;
    expect(gpu).toMatchObject({ name: 'NVIDIA GeForce RTX 3060 Laptop GPU', powerDrawW: null, powerLimitW: null, temperatureC: 48, vramTotalMb: 6144 });
  });

  it('reads the legacy query (no compute_cap) with a null compute capability', () => {
    const [gpu] = parseQueryGpu(stdoutOf('legacy-driver-470', 'query-gpu-legacy'), LEGACY_QUERY_GPU_FIELDS).gpus;
    expect(gpu).toMatchObject({ name: 'NVIDIA GeForce GTX 1080 Ti', computeCapability: null, powerDrawW: 14.56 });
  });

  it.each([
    ['[Not Supported]', null],
    ['[Unknown Error]', null],
    ['[Insufficient Permissions]', null],
    ['N/A', null],
    ['42', 42],
  ])('reads utilization %s as %p', (raw, expected) => {
    const line = `0, NVIDIA GeForce RTX 3080, GPU-x, 10240, 1502, ${raw}, 71, 301.45, 320.00, 8.6, 551.86`;
    expect(parseQueryGpu(line).gpus[0]!.utilizationPct).toBe(expected);
  });

  it.each([
    ['a line with a field missing', '0, NVIDIA GeForce RTX 3080, GPU-x, 10240, 1502, 97, 71, 301.45, 320.00, 8.6', /expected 11 fields, got 10/],
    ['a number that is not one', '0, NVIDIA GeForce RTX 3080, GPU-x, 10240 MiB, 1502, 97, 71, 301.45, 320.00, 8.6, 551.86', /memory.total is not a number/],
    ['a missing total memory', '0, NVIDIA GeForce RTX 3080, GPU-x, [N/A], 1502, 97, 71, 301.45, 320.00, 8.6, 551.86', /memory.total missing/],
    ['no GPU at all', '\n', /no GPU/],
    ['the driver error text', stdoutOf('driver-error', 'query-gpu'), /expected 11 fields/],
  ])('refuses %s rather than guessing', (_what, text, message) => {
    expect(() => parseQueryGpu(text)).toThrow(NvidiaSmiParseError);
    expect(() => parseQueryGpu(text)).toThrow(message);
  });
});

describe('nvidia-smi --query-compute-apps', () => {
  it('keys compute processes by GPU UUID, with "[N/A]" memory (WDDM) as null', () => {
    expect(parseComputeApps(stdoutOf('rtx3080-windows-game', 'query-compute-apps'))).toEqual([
      { gpuUuid: 'GPU-5f1c2a8e-77d4-3c1e-9b0a-2d6f4e8c1a93', pid: 4242, usedMemoryMb: null },
    ]);
    expect(parseComputeApps(stdoutOf('dual-gpu-linux', 'query-compute-apps'))).toEqual([
      { gpuUuid: 'GPU-3b2f6c1d-9e84-4a51-b7c2-5d0e8f1a2b3c', pid: 7001, usedMemoryMb: 3072 },
      { gpuUuid: 'GPU-a1e0c7d4-2f36-4b89-9c15-7e6d3b2a1f08', pid: 31337, usedMemoryMb: 5120 },
    ]);
  });

  it('reads an empty answer as no processes', () => {
    expect(parseComputeApps(stdoutOf('laptop-power-na', 'query-compute-apps'))).toEqual([]);
    expect(parseComputeApps('No running processes found\n')).toEqual([]);
  });
});

describe('plain nvidia-smi', () => {
  it('finds the CUDA version and every process type, game included (R550 layout, CRLF)', () => {
    const table = parseSmiTable(stdoutOf('rtx3080-windows-game', 'nvidia-smi'));
    expect(table.cudaVersion).toBe('12.4');
    expect(table.driverVersion).toBe('551.86');
    expect(table.processes.map((p) => p.name)).toEqual(['dwm.exe', 'explorer.exe', 'StartMenuExperienceHost.exe', 'SearchHost.exe', 'steamwebhelper.exe', 'game.exe']);
    expect(table.processes.at(-1)).toEqual({ gpuIndex: 0, pid: 4242, kind: 'compute+graphics', name: 'game.exe', usedMemoryMb: null });
  });

  it('assigns processes to their GPU and reads MiB (dual GPU)', () => {
    const table = parseSmiTable(stdoutOf('dual-gpu-linux', 'nvidia-smi'));
    expect(table.processes).toEqual([
      { gpuIndex: 0, pid: 1357, kind: 'graphics', name: 'Xorg', usedMemoryMb: 412 },
      { gpuIndex: 0, pid: 1689, kind: 'graphics', name: 'gnome-shell', usedMemoryMb: 97 },
      { gpuIndex: 0, pid: 7001, kind: 'compute', name: 'node', usedMemoryMb: 3072 },
      { gpuIndex: 1, pid: 31337, kind: 'compute', name: 'python3', usedMemoryMb: 5120 },
    ]);
  });

  it('reads the R535 (89 columns) and R470 (79 columns) layouts', () => {
    expect(parseSmiTable(stdoutOf('laptop-power-na', 'nvidia-smi'))).toEqual({
      driverVersion: '535.161.07',
      cudaVersion: '12.2',
      processes: [{ gpuIndex: 0, pid: 2214, kind: 'graphics', name: 'Xorg', usedMemoryMb: 4 }],
    });
    const legacy = parseSmiTable(stdoutOf('legacy-driver-470', 'nvidia-smi'));
    expect(legacy.cudaVersion).toBe('11.4');
    // Chrome's GPU process shows its truncated command line; the name is as good as nvidia-smi's.
    expect(legacy.processes.map((p) => [p.pid, p.name, p.usedMemoryMb])).toEqual([
      [1123, 'Xorg', 35],
      [1402, 'gnome-shell', 52],
      [2931, '...AAAAAAAAA= --shared-files', 236],
    ]);
  });

  it('reads rows of drivers without the GI/CI columns', () => {
    const text = '| Processes:                                                       GPU Memory |\n|    0      1234      G   /usr/lib/xorg/Xorg                            35MiB |\n';
    expect(parseSmiTable(text).processes).toEqual([{ gpuIndex: 0, pid: 1234, kind: 'graphics', name: 'Xorg', usedMemoryMb: 35 }]);
  });

  it('answers no processes for "No running processes found" and null versions for other text', () => {
    expect(parseSmiTable('| Processes: |\n|  No running processes found   |\n')).toEqual({ driverVersion: null, cudaVersion: null, processes: [] });
  });
});

describe('one sample from the three outputs', () => {
  it('joins the table (names, graphics processes) and compute-apps (UUID keyed) per GPU', () => {
    const m = 'dual-gpu-linux';
    const sample = assembleSmiSample(parseQueryGpu(stdoutOf(m, 'query-gpu')), parseComputeApps(stdoutOf(m, 'query-compute-apps')), parseSmiTable(stdoutOf(m, 'nvidia-smi')));
    expect(sample.system).toEqual({ driverVersion: '550.54.14', cudaVersion: '12.4' });
    expect(sample.gpus.map((g) => g.processes.map((p) => `${p.name}:${p.pid}:${p.kind}:${p.usedMemoryMb}`))).toEqual([
      ['Xorg:1357:graphics:412', 'gnome-shell:1689:graphics:97', 'node:7001:compute:3072'],
      ['python3:31337:compute:5120'],
    ]);
  });

  it('keeps a compute process that only --query-compute-apps saw', () => {
    const query = parseQueryGpu(stdoutOf('dual-gpu-linux', 'query-gpu'));
    const sample = assembleSmiSample(query, [{ gpuUuid: query.gpus[1]!.uuid, pid: 555, usedMemoryMb: 100 }], null);
    expect(sample.gpus[1]!.processes).toEqual([{ pid: 555, usedMemoryMb: 100, name: null, kind: 'compute' }]);
    expect(sample.system.cudaVersion).toBeNull();
  });
});

describe('sampleNvidiaSmi, replaying recorded machines', () => {
  it('samples the RTX 3080 box with the game as a GPU process', async () => {
    const outcome = await sampleNvidiaSmi('nvidia-smi', replay('rtx3080-windows-game'));
    expect(outcome.kind).toBe('ok');
    const sample = (outcome as { sample: GpuDetected }).sample;
    expect(sample).toMatchObject({ mode: 'gpu', source: 'nvidia-smi', system: { driverVersion: '551.86', cudaVersion: '12.4' }, warnings: [] });
    expect(sample.gpus[0]!.processes).toContainEqual({ pid: 4242, usedMemoryMb: null, name: 'game.exe', kind: 'compute+graphics' });
    expect(sample.gpus[0]!.processes).toHaveLength(6);
  });

  it('samples a real H100 (driver R580, captured on a GPU machine) with a torch program at full load', async () => {
    const outcome = await sampleNvidiaSmi('nvidia-smi', replay('h100-linux-580-busy'));
    expect(outcome).toEqual({
      kind: 'ok',
      sample: {
        mode: 'gpu',
        source: 'nvidia-smi',
        system: { driverVersion: '580.159.04', cudaVersion: '13.0' },
        gpus: [
          {
            index: 0,
            name: 'NVIDIA H100 80GB HBM3',
            uuid: 'GPU-6d443e6c-c53f-5b22-81b6-cc9b0e2178b3',
            vramTotalMb: 81559,
            vramFreeMb: 79685,
            utilizationPct: 100,
            temperatureC: 60,
            powerDrawW: 686.1,
            powerLimitW: 700,
            computeCapability: '9.0',
            processes: [{ pid: 458, usedMemoryMb: 1386, name: 'python3', kind: 'compute' }],
          },
        ],
        warnings: [],
      },
    });
  });

  it('retries without compute_cap on a driver older than R510, and says so', async () => {
    const run = replay('legacy-driver-470');
    const outcome = await sampleNvidiaSmi('nvidia-smi', run);
    expect(outcome).toMatchObject({ kind: 'ok', sample: { warnings: ['this driver does not know compute_cap (added around R510)'] } });
    expect(run.calls.filter((args) => args[0]?.startsWith('--query-gpu='))).toHaveLength(2);
  });

  it.each([
    ['driver-error', "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running. (exit 9)"],
    ['no-devices', 'No devices were found (exit 6)'],
  ])('reports %s with the message nvidia-smi printed', async (machine, reason) => {
    expect(await sampleNvidiaSmi('nvidia-smi', replay(machine))).toEqual({ kind: 'failed', reason });
  });

  it('says not-found when nvidia-smi is not installed', async () => {
    expect(await sampleNvidiaSmi('nvidia-smi', notInstalled)).toEqual({ kind: 'not-found' });
  });

  it('still samples when the process table fails, warning that graphics processes are unseen', async () => {
    const base = replay('dual-gpu-linux');
    const run = async (command: string, args: readonly string[]) => (args.length === 0 ? { exitCode: 15, stdout: 'Unable to determine the device handle for GPU0000:05:00.0: Unknown Error', stderr: '' } : base(command, args));
    const outcome = await sampleNvidiaSmi('nvidia-smi', run);
    expect(outcome).toMatchObject({ kind: 'ok', sample: { system: { cudaVersion: null } } });
    expect((outcome as { sample: GpuDetected }).sample.warnings).toEqual([expect.stringMatching(/^nvidia-smi \(process table\) failed: Unable to determine.*graphics processes are not seen$/)]);
  });
});
