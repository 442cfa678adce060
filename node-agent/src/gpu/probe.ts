/**
 * Prints what GPU detection sees, as JSON, to check it on a real machine:
 *
 *   node -r @swc-node/register node-agent/src/gpu/probe.ts [--nvml PATH]... [--nvidia-smi CMD]... [--record DIR]
 *
 * It prints the automatic detection, then each back end alone (NVML only, nvidia-smi only) with
 * how long one sample took, so the two can be compared field by field. `--record DIR` also saves
 * the raw output of every nvidia-smi invocation as DIR/<name>.stdout, .stderr and .exit: the
 * layout of node-agent/test/fixtures/nvidia-smi/, ready to become a fixture.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NVIDIA_SMI_INVOCATIONS, type NvidiaSmiInvocation, runCommand } from './nvidia-smi';
import { GpuTelemetry, type GpuTelemetryOptions, defaultNvidiaSmiCommands, defaultNvmlLibraryPaths } from './telemetry';

interface ProbeArgs {
  readonly nvml: string[];
  readonly nvidiaSmi: string[];
  readonly record: string | null;
}

function parseArgs(argv: readonly string[]): ProbeArgs {
  const args: { nvml: string[]; nvidiaSmi: string[]; record: string | null } = { nvml: [], nvidiaSmi: [], record: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = argv[i + 1];
    if (next === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--nvml') args.nvml.push(next);
    else if (flag === '--nvidia-smi') args.nvidiaSmi.push(next);
    else if (flag === '--record') args.record = next;
    else throw new Error(`unknown argument ${flag}; usage: probe.ts [--nvml PATH]... [--nvidia-smi CMD]... [--record DIR]`);
    i++;
  }
  return args;
}

async function timed(options: GpuTelemetryOptions): Promise<unknown> {
  const t0 = performance.now();
  const telemetry = await GpuTelemetry.open(options);
  const openMs = performance.now() - t0;
  const t1 = performance.now();
  const sample = await telemetry.sample();
  const sampleMs = performance.now() - t1;
  telemetry.close();
  return { openMs: Math.round(openMs), sampleMs: Math.round(sampleMs), sample };
}

/** Runs the probe; returns the report it printed. */
export async function probe(argv: readonly string[]): Promise<unknown> {
  const args = parseArgs(argv);
  const nvmlLibraryPaths = args.nvml.length ? args.nvml : defaultNvmlLibraryPaths();
  const nvidiaSmiCommands = args.nvidiaSmi.length ? args.nvidiaSmi : defaultNvidiaSmiCommands();
  const report = {
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    auto: await timed({ nvmlLibraryPaths, nvidiaSmiCommands }),
    nvmlOnly: await timed({ nvmlLibraryPaths, nvidiaSmiCommands: [] }),
    nvidiaSmiOnly: await timed({ nvmlLibraryPaths: [], nvidiaSmiCommands }),
    recorded: args.record ? await record(args.record, nvidiaSmiCommands) : null,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** Saves the raw output of each invocation of the first nvidia-smi that runs. */
async function record(dir: string, commands: readonly string[]): Promise<{ command: string; dir: string } | { error: string }> {
  for (const command of commands) {
    const first = await runCommand(command, NVIDIA_SMI_INVOCATIONS['query-gpu']);
    if (first.spawnError === 'not-found') continue;
    mkdirSync(dir, { recursive: true });
    for (const name of Object.keys(NVIDIA_SMI_INVOCATIONS) as NvidiaSmiInvocation[]) {
      const result = name === 'query-gpu' ? first : await runCommand(command, NVIDIA_SMI_INVOCATIONS[name]);
      writeFileSync(join(dir, `${name}.stdout`), result.stdout);
      if (result.stderr) writeFileSync(join(dir, `${name}.stderr`), result.stderr);
      writeFileSync(join(dir, `${name}.exit`), `${result.exitCode ?? result.spawnError ?? 'null'}\n`);
    }
    return { command, dir };
  }
  return { error: `none of ${commands.join(', ')} found` };
}

if (require.main === module) {
  probe(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`probe failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
