/**
 * Checks the agent's GPU paths on a real NVIDIA machine, end to end, and says what failed:
 *
 *   npm run agent:gpu-check -- [--expect-gpu] [--gpu-user PID] [--record DIR]
 *
 * 1. Detection through NVML (koffi), as the agent does at start, compared with nvidia-smi.
 * 2. `--gpu-user PID`: another program (a game, a training run) holds the GPU; the telemetry must
 *    list it and the owner policy must answer `yield-now`: the agent never competes with its owner.
 * 3. Whether ONNX Runtime's CUDA execution provider loads. When it does, the reference MLP runs on
 *    CUDA and on the CPU and the outputs are compared; when it does not, the reason the agent
 *    reports and the capability classes it then serves (CPU ones).
 *
 * The last line is one JSON object (the summary); the exit code is 1 when an expectation failed:
 * `--expect-gpu` and no GPU through NVML, or `--gpu-user` and no yield.
 */
import * as ort from 'onnxruntime-node';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { detectCapabilities, enrolmentClasses, systemFromDetection } from '../capabilities';
import { benchmarkScore, cudaUsable } from '../onnx/benchmark';
import { referenceMlp } from '../onnx/reference-model';
import { DEFAULT_POLICY, INITIAL_POLICY_STATE, decideGpuAction } from '../policy';
import { probe } from './probe';
import { GpuTelemetry, defaultNvmlLibraryPaths } from './telemetry';
import type { GpuDetection, GpuSample } from './types';

const USAGE = 'usage: gpu-check [--expect-gpu] [--gpu-user PID] [--record DIR] [--wait-s N]';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Samples through NVML until `pid` shows on a GPU (a process needs a moment to create its context). */
async function sampleWithProcess(pid: number, waitMs: number): Promise<GpuSample | { error: string }> {
  const telemetry = await GpuTelemetry.open({ nvmlLibraryPaths: defaultNvmlLibraryPaths(), nvidiaSmiCommands: [] });
  try {
    const deadline = Date.now() + waitMs;
    let last = 'no sample';
    while (Date.now() < deadline) {
      const sample = await telemetry.sample();
      if (sample.mode !== 'gpu') return { error: sample.reason };
      const gpu = sample.gpus.find((g) => g.processes.some((p) => p.pid === pid));
      if (gpu) return gpu;
      last = JSON.stringify(sample.gpus.map((g) => g.processes));
      await new Promise((r) => setTimeout(r, 500));
    }
    return { error: `pid ${pid} not seen on any GPU in ${waitMs} ms; processes: ${last}` };
  } finally {
    telemetry.close();
  }
}

/** The reference MLP on CUDA and on the CPU, same input: the largest difference and each time. */
async function compareProviders(): Promise<Record<string, unknown>> {
  const model = referenceMlp();
  const batch = 256;
  const input = new ort.Tensor('float32', Float32Array.from({ length: batch * 64 }, (_, i) => Math.sin(i) / 2), [batch, 64]);
  const run = async (provider: 'cuda' | 'cpu'): Promise<{ out: Float32Array; ms: number }> => {
    const session = await ort.InferenceSession.create(model, { executionProviders: [provider] });
    try {
      await session.run({ input });
      const t0 = performance.now();
      const reps = 50;
      let out: Float32Array | undefined;
      for (let i = 0; i < reps; i++) out = (await session.run({ input })).output!.data as Float32Array;
      return { out: out!, ms: (performance.now() - t0) / reps };
    } finally {
      await session.release();
    }
  };
  const cuda = await run('cuda');
  const cpu = await run('cpu');
  let maxAbsDiff = 0;
  for (let i = 0; i < cpu.out.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(cpu.out[i]! - cuda.out[i]!));
  return { batch, maxAbsDiff, cudaMsPerRun: +cuda.ms.toFixed(3), cpuMsPerRun: +cpu.ms.toFixed(3) };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { 'expect-gpu': { type: 'boolean' }, 'gpu-user': { type: 'string' }, record: { type: 'string' }, 'wait-s': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const gpuUser = values['gpu-user'] === undefined ? null : Number(values['gpu-user']);
  if (gpuUser !== null && !(Number.isInteger(gpuUser) && gpuUser > 0)) throw new Error(`--gpu-user needs a process id, got ${JSON.stringify(values['gpu-user'])}\n${USAGE}`);
  const waitS = values['wait-s'] === undefined ? 30 : Number(values['wait-s']);
  if (!(waitS > 0)) throw new Error(`--wait-s needs a positive number of seconds\n${USAGE}`);
  const failures: string[] = [];

  log('== 1. detection (NVML first, nvidia-smi as the fallback), each back end alone');
  const report = (await probe(values.record ? ['--record', values.record] : [])) as { auto: { sample: GpuDetection } };
  const nvml = await GpuTelemetry.open({ nvmlLibraryPaths: defaultNvmlLibraryPaths(), nvidiaSmiCommands: [] });
  const nvmlDetection = nvml.detection;
  nvml.close();
  if (values['expect-gpu'] && nvmlDetection.mode !== 'gpu') failures.push(`no GPU through NVML: ${nvmlDetection.reason}`);
  const detection = report.auto.sample;
  const system = systemFromDetection(detection);

  let policy: Record<string, unknown> | null = null;
  if (gpuUser !== null) {
    log(`== 2. another program (pid ${gpuUser}) uses the GPU: the policy must yield`);
    const gpu = await sampleWithProcess(gpuUser, waitS * 1000);
    if ('error' in gpu) {
      failures.push(gpu.error);
      policy = { error: gpu.error };
    } else {
      const now = Date.now();
      const at = new Date(now);
      const decision = decideGpuAction({
        now,
        localTime: { weekday: at.getDay(), minuteOfDay: at.getHours() * 60 + at.getMinutes() },
        gpu,
        agentPids: new Set([process.pid]),
        settings: DEFAULT_POLICY,
        fullScreenApp: null,
        secondsSinceInput: null,
        state: INITIAL_POLICY_STATE,
        nextShard: null,
      });
      policy = { gpu: gpu.name, utilizationPct: gpu.utilizationPct, powerDrawW: gpu.powerDrawW, processes: gpu.processes, action: decision.action, rule: decision.rule, reason: decision.reason };
      if (decision.action !== 'yield-now') failures.push(`policy answered ${decision.action} (${decision.reason}) while pid ${gpuUser} used the GPU`);
    }
    log(JSON.stringify(policy));
  }

  log('== 3. ONNX Runtime on CUDA');
  const cuda = system.gpus.length > 0 ? await cudaUsable() : { usable: false, reason: 'no NVIDIA GPU found' };
  log(JSON.stringify(cuda));
  const providers = cuda.usable ? await compareProviders() : null;
  if (providers) log(JSON.stringify(providers));
  const { capabilities, cudaProblem } = await detectCapabilities(system, async (tryCuda) => ({
    cuda: tryCuda ? cuda : { usable: false, reason: 'no NVIDIA GPU found' },
    score: await benchmarkScore(cuda.usable ? 'cuda' : 'cpu'),
  }));

  const summary = {
    ok: failures.length === 0,
    failures,
    detection: detection.mode === 'gpu' ? { source: detection.source, system: detection.system, gpus: detection.gpus.map((g) => ({ name: g.name, vramTotalMb: g.vramTotalMb, computeCapability: g.computeCapability, powerLimitW: g.powerLimitW })), warnings: detection.warnings } : detection,
    nvml: nvmlDetection.mode === 'gpu' ? 'ok' : nvmlDetection.reason,
    enrolmentClasses: enrolmentClasses(system),
    policyWithOtherGpuUser: policy,
    onnxRuntime: { version: ort.env.versions.common, cuda, providers, cudaProblem: cudaProblem ?? null, executionProviders: capabilities.executionProviders, benchmarkScore: capabilities.benchmarkScore },
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`gpu-check: ${(e as Error).message}\n`);
    process.exitCode = 2;
  },
);
