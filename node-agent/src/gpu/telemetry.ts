/**
 * GPU detection and sampling: NVML first, nvidia-smi second, CPU-only last. Nothing here throws;
 * every failure becomes `{ mode: 'cpu-only', reason }`.
 */
import { posix, win32 } from 'node:path';
import { type Nvml, openNvml } from './nvml';
import { type RunCommand, runCommand, sampleNvidiaSmi } from './nvidia-smi';
import type { GpuDetection } from './types';

/** Where to look for the driver. Every field is optional; the defaults suit the platform. */
export interface GpuTelemetryOptions {
  /** NVML libraries to try, in order; `[]` skips NVML. Default: {@link defaultNvmlLibraryPaths}. */
  readonly nvmlLibraryPaths?: readonly string[];
  /** nvidia-smi commands to try, in order; `[]` skips it. Default: {@link defaultNvidiaSmiCommands}. */
  readonly nvidiaSmiCommands?: readonly string[];
  /** How nvidia-smi is run; replaced in tests to replay recorded outputs. */
  readonly runCommand?: RunCommand;
  /** The platform whose defaults apply. Default: `process.platform`. */
  readonly platform?: NodeJS.Platform;
  /** Environment for the Windows defaults (`SystemRoot`, `ProgramFiles`). Default: `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * NVML libraries to try. Linux: the soname the driver installs (found through the loader's path),
 * then WSL2's location, which is not always on that path. Windows: the DLL search path (which
 * includes System32, where current drivers put nvml.dll), then the two places drivers have used.
 */
export function defaultNvmlLibraryPaths(platform: NodeJS.Platform = process.platform, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  if (platform === 'win32') {
    return [
      'nvml.dll',
      win32.join(env.SystemRoot ?? 'C:\\Windows', 'System32', 'nvml.dll'),
      win32.join(env.ProgramFiles ?? 'C:\\Program Files', 'NVIDIA Corporation', 'NVSMI', 'nvml.dll'),
    ];
  }
  return ['libnvidia-ml.so.1', '/usr/lib/wsl/lib/libnvidia-ml.so.1'];
}

/** nvidia-smi commands to try: the PATH first, then (Windows) the NVSMI folder of older drivers. */
export function defaultNvidiaSmiCommands(platform: NodeJS.Platform = process.platform, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  if (platform === 'win32') return ['nvidia-smi', win32.join(env.ProgramFiles ?? 'C:\\Program Files', 'NVIDIA Corporation', 'NVSMI', 'nvidia-smi.exe')];
  return ['nvidia-smi'];
}

type Backend = { readonly kind: 'nvml'; readonly nvml: Nvml } | { readonly kind: 'nvidia-smi'; readonly command: string; readonly run: RunCommand } | { readonly kind: 'none' };

/**
 * A live view of the GPUs. Open once, sample as often as the policy needs (every ~500 ms keeps
 * the 1 s yield promise), close on exit.
 *
 * ```ts
 * const telemetry = await GpuTelemetry.open();
 * const now = await telemetry.sample(); // GpuDetection
 * telemetry.close();
 * ```
 */
export class GpuTelemetry {
  private constructor(
    private backend: Backend,
    private first: GpuDetection,
  ) {}

  /** The first sample, taken while choosing the back end (`cpu-only` once closed). */
  get detection(): GpuDetection {
    return this.first;
  }

  /** Chooses a back end (NVML, else nvidia-smi) and takes the first sample. Never throws. */
  static async open(options: GpuTelemetryOptions = {}): Promise<GpuTelemetry> {
    try {
      return await GpuTelemetry.choose(options);
    } catch (e) {
      return new GpuTelemetry({ kind: 'none' }, { mode: 'cpu-only', reason: `GPU detection failed: ${(e as Error).message}` });
    }
  }

  private static async choose(options: GpuTelemetryOptions): Promise<GpuTelemetry> {
    const platform = options.platform ?? process.platform;
    const env = options.env ?? process.env;
    const libraries = options.nvmlLibraryPaths ?? defaultNvmlLibraryPaths(platform, env);
    const commands = options.nvidiaSmiCommands ?? defaultNvidiaSmiCommands(platform, env);
    const run = options.runCommand ?? runCommand;

    let nvmlFailure: { notFound: boolean; reason: string } = { notFound: true, reason: 'NVML not tried' };
    if (libraries.length > 0) {
      const opened = openNvml(libraries);
      if (opened.ok) {
        try {
          const sample = opened.nvml.sample();
          if (sample.gpus.length > 0) return new GpuTelemetry({ kind: 'nvml', nvml: opened.nvml }, sample);
          nvmlFailure = { notFound: false, reason: `NVML lists no usable GPU${sample.warnings.length ? ` (${sample.warnings.join('; ')})` : ''}` };
        } catch (e) {
          nvmlFailure = { notFound: false, reason: (e as Error).message };
        }
        opened.nvml.close();
      } else {
        nvmlFailure = opened;
      }
    }

    let smiFailure: { notFound: boolean; reason: string } = { notFound: true, reason: 'nvidia-smi not tried' };
    for (const command of commands) {
      const outcome = await sampleNvidiaSmi(command, run);
      if (outcome.kind === 'not-found') continue;
      if (outcome.kind === 'failed') {
        smiFailure = { notFound: false, reason: `${baseNameOf(command)}: ${outcome.reason}` };
        break;
      }
      const warnings = nvmlFailure.notFound ? outcome.sample.warnings : [`NVML unusable, using nvidia-smi: ${nvmlFailure.reason}`, ...outcome.sample.warnings];
      return new GpuTelemetry({ kind: 'nvidia-smi', command, run }, { ...outcome.sample, warnings });
    }

    return new GpuTelemetry({ kind: 'none' }, { mode: 'cpu-only', reason: cpuOnlyReason(libraries, commands, nvmlFailure, smiFailure) });
  }

  /**
   * A fresh sample from the chosen back end. A failure (driver reset, GPU lost) answers
   * `cpu-only` with the reason; the next call tries again, so the caller should yield the GPU
   * and keep sampling.
   */
  async sample(): Promise<GpuDetection> {
    const backend = this.backend;
    switch (backend.kind) {
      case 'nvml':
        try {
          const sample = backend.nvml.sample();
          return sample.gpus.length > 0 ? sample : { mode: 'cpu-only', reason: `NVML lists no usable GPU (${sample.warnings.join('; ')})` };
        } catch (e) {
          return { mode: 'cpu-only', reason: `NVML sample failed: ${(e as Error).message}` };
        }
      case 'nvidia-smi': {
        const outcome = await sampleNvidiaSmi(backend.command, backend.run);
        switch (outcome.kind) {
          case 'ok':
            return outcome.sample;
          case 'not-found':
            return { mode: 'cpu-only', reason: `${backend.command} is gone` };
          case 'failed':
            return { mode: 'cpu-only', reason: `nvidia-smi sample failed: ${outcome.reason}` };
          default:
            return assertNever(outcome);
        }
      }
      case 'none':
        return this.detection;
      default:
        return assertNever(backend);
    }
  }

  /** Releases NVML (nvmlShutdown). Later samples answer `cpu-only`. Idempotent. */
  close(): void {
    if (this.backend.kind === 'nvml') this.backend.nvml.close();
    this.backend = { kind: 'none' };
    this.first = { mode: 'cpu-only', reason: 'GPU telemetry closed' };
  }
}

/** Detects the GPUs once: open, sample, close. Never throws. */
export async function detectGpus(options: GpuTelemetryOptions = {}): Promise<GpuDetection> {
  const telemetry = await GpuTelemetry.open(options);
  const detection = telemetry.detection;
  telemetry.close();
  return detection;
}

function cpuOnlyReason(libraries: readonly string[], commands: readonly string[], nvml: { notFound: boolean; reason: string }, smi: { notFound: boolean; reason: string }): string {
  if (libraries.length === 0 && commands.length === 0) return 'GPU detection disabled: no NVML library and no nvidia-smi command configured';
  const library = libraries[0] ? `${baseNameOf(libraries[0])} not found` : null;
  const command = commands[0];
  const smiMissing = command === undefined ? null : /[\\/]/.test(command) ? `${command} not found` : `${command} not on PATH`;
  if (nvml.notFound && smi.notFound) return `no NVIDIA driver: ${[library, smiMissing].filter(Boolean).join(' and ')}`;
  const parts = [nvml.notFound ? library : nvml.reason, smi.notFound ? smiMissing : smi.reason].filter(Boolean);
  return `NVIDIA driver not usable: ${parts.join('; ')}`;
}

function baseNameOf(path: string): string {
  return path.includes('\\') ? win32.basename(path) : posix.basename(path);
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
