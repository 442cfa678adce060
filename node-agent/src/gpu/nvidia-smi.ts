/**
 * The nvidia-smi fallback: three invocations, parsed by pure functions so that recorded outputs
 * can be replayed in unit tests.
 *
 * - `--query-gpu=…` gives the per-GPU numbers.
 * - `--query-compute-apps=…` gives compute processes keyed by GPU UUID, but never graphics ones:
 *   a game drawing with Direct3D or Vulkan is absent from it.
 * - Plain `nvidia-smi` prints the CUDA version in its header and a Processes table with every
 *   process type (C, G, C+G), so it is the only source that sees games.
 */
import { execFile } from 'node:child_process';
import { baseName } from './process-name';
import type { GpuDetected, GpuProcess, GpuProcessKind, GpuSample } from './types';

/** The fields asked of `--query-gpu`, in order. */
export const QUERY_GPU_FIELDS = [
  'index',
  'name',
  'uuid',
  'memory.total',
  'memory.free',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'compute_cap',
  'driver_version',
] as const;
/** Drivers before R510 do not know `compute_cap`; the query is retried without it. */
export const LEGACY_QUERY_GPU_FIELDS = QUERY_GPU_FIELDS.filter((f) => f !== 'compute_cap');
type QueryGpuField = (typeof QUERY_GPU_FIELDS)[number];

/** The arguments of each invocation, by the name the recorded fixtures use. */
export const NVIDIA_SMI_INVOCATIONS = {
  'query-gpu': [`--query-gpu=${QUERY_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
  'query-gpu-legacy': [`--query-gpu=${LEGACY_QUERY_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
  'query-compute-apps': ['--query-compute-apps=gpu_uuid,pid,used_memory', '--format=csv,noheader,nounits'],
  'nvidia-smi': [],
} as const satisfies Record<string, readonly string[]>;
/** One of the invocations above. */
export type NvidiaSmiInvocation = keyof typeof NVIDIA_SMI_INVOCATIONS;

/** What a finished (or failed to start) command produced. */
export interface CommandResult {
  /** Exit status; `null` when the process did not start or was killed. */
  readonly exitCode: number | null;
  /** Standard output, UTF-8. */
  readonly stdout: string;
  /** Standard error, UTF-8. */
  readonly stderr: string;
  /** Set when the command could not run: "not-found" for ENOENT, else the error message. */
  readonly spawnError?: string;
}

/** Runs a command without a shell. Injected so that tests can replay recordings. */
export type RunCommand = (command: string, args: readonly string[]) => Promise<CommandResult>;

/** nvidia-smi hangs when the driver is wedged; past this it is killed and counted as failed. */
export const NVIDIA_SMI_TIMEOUT_MS = 10_000;

/** The default {@link RunCommand}: `execFile`, no shell, a timeout, no console window on Windows. */
export const runCommand: RunCommand = (command, args) =>
  new Promise((resolve) => {
    execFile(command, [...args], { timeout: NVIDIA_SMI_TIMEOUT_MS, windowsHide: true, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve({ exitCode: 0, stdout, stderr });
      const e = error as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
      if (e.code === 'ENOENT') return resolve({ exitCode: null, stdout, stderr, spawnError: 'not-found' });
      if (typeof e.code === 'number') return resolve({ exitCode: e.code, stdout, stderr });
      const spawnError = e.killed ? `timed out after ${NVIDIA_SMI_TIMEOUT_MS / 1000} s` : e.message;
      return resolve({ exitCode: null, stdout, stderr, spawnError });
    });
  });

/** An output nvidia-smi should not have printed. */
export class NvidiaSmiParseError extends Error {
  override readonly name = 'NvidiaSmiParseError';
}

/** "[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", "[Insufficient Permissions]" → null. */
function value(raw: string): string | null {
  const v = raw.trim();
  return v === '' || v === 'N/A' || /^\[.*\]$/.test(v) ? null : v;
}

function number(raw: string, field: string, line: string): number | null {
  const v = value(raw);
  if (v === null) return null;
  if (!/^-?\d+(\.\d+)?$/.test(v)) throw new NvidiaSmiParseError(`${field} is not a number in "${line}"`);
  return Number(v);
}

/** The per-GPU part of a sample, before processes are attached. */
export type QueriedGpu = Omit<GpuSample, 'processes'>;

/**
 * Parses `--query-gpu=<fields> --format=csv,noheader,nounits`: one line per GPU, fields separated
 * by ", ". GPU names contain no commas (NVIDIA's marketing names never have), so a plain split is
 * exact; a line with the wrong field count is an error rather than a guess.
 */
export function parseQueryGpu(text: string, fields: readonly QueryGpuField[] = QUERY_GPU_FIELDS): { gpus: QueriedGpu[]; driverVersion: string } {
  const gpus: QueriedGpu[] = [];
  let driverVersion = '';
  for (const line of lines(text)) {
    const parts = line.split(',');
    if (parts.length !== fields.length) throw new NvidiaSmiParseError(`expected ${fields.length} fields, got ${parts.length}: "${line}"`);
    const at = (f: QueryGpuField): string => (fields.includes(f) ? parts[fields.indexOf(f)]! : '');
    const required = (f: QueryGpuField): number => {
      const n = number(at(f), f, line);
      if (n === null) throw new NvidiaSmiParseError(`${f} missing in "${line}"`);
      return n;
    };
    const name = value(at('name'));
    const uuid = value(at('uuid'));
    if (!name || !uuid) throw new NvidiaSmiParseError(`name or uuid missing in "${line}"`);
    gpus.push({
      index: required('index'),
      name,
      uuid,
      vramTotalMb: required('memory.total'),
      vramFreeMb: required('memory.free'),
      utilizationPct: number(at('utilization.gpu'), 'utilization.gpu', line),
      temperatureC: number(at('temperature.gpu'), 'temperature.gpu', line),
      powerDrawW: number(at('power.draw'), 'power.draw', line),
      powerLimitW: number(at('power.limit'), 'power.limit', line),
      computeCapability: value(at('compute_cap')),
    });
    driverVersion = value(at('driver_version')) ?? driverVersion;
  }
  if (gpus.length === 0) throw new NvidiaSmiParseError('no GPU in the --query-gpu output');
  return { gpus, driverVersion };
}

/** A line of `--query-compute-apps=gpu_uuid,pid,used_memory`. */
export interface ComputeApp {
  /** UUID of the GPU the process runs on. */
  readonly gpuUuid: string;
  /** Process id. */
  readonly pid: number;
  /** MiB, `null` when "[N/A]" (Windows WDDM). */
  readonly usedMemoryMb: number | null;
}

/** Parses `--query-compute-apps=gpu_uuid,pid,used_memory --format=csv,noheader,nounits`. */
export function parseComputeApps(text: string): ComputeApp[] {
  return lines(text)
    .filter((line) => !/no running processes found/i.test(line))
    .map((line) => {
      const [uuid, pid, used, ...rest] = line.split(',');
      if (uuid === undefined || pid === undefined || used === undefined || rest.length > 0) throw new NvidiaSmiParseError(`expected 3 fields: "${line}"`);
      const p = number(pid, 'pid', line);
      if (p === null) throw new NvidiaSmiParseError(`pid missing in "${line}"`);
      return { gpuUuid: uuid.trim(), pid: p, usedMemoryMb: number(used, 'used_memory', line) };
    });
}

/** A row of the Processes table of plain `nvidia-smi`. */
export interface TableProcess {
  /** Index of the GPU. */
  readonly gpuIndex: number;
  /** Process id. */
  readonly pid: number;
  /** From the Type column: C, G, C+G (M and M+C, MPS, count as compute). */
  readonly kind: GpuProcessKind;
  /** Executable name; nvidia-smi truncates long paths from the left ("...\bin\game.exe"). */
  readonly name: string;
  /** MiB, `null` for "N/A". */
  readonly usedMemoryMb: number | null;
}

/** What plain `nvidia-smi` adds: the CUDA version and every GPU process. */
export interface SmiTable {
  /** From "Driver Version: …", or null. */
  readonly driverVersion: string | null;
  /** From "CUDA Version: …", or null (shown as N/A by some drivers). */
  readonly cudaVersion: string | null;
  /** Rows of the Processes table. */
  readonly processes: TableProcess[];
}

// |    0   N/A  N/A      4242    C+G   ...\x64\game.exe      N/A      |   (R450+, with GI/CI columns)
// |    0      1234      G   /usr/lib/xorg/Xorg               35MiB |   (older drivers)
const PROCESS_ROW = /^\|\s*(\d+)\s+(?:(?:N\/A|\d+)\s+(?:N\/A|\d+)\s+)?(\d+)\s+(C\+G|M\+C|C|G|M)\s+(.*?)\s+(\d+)?(?:MiB|N\/A)\s*\|$/;

/** Parses the human-readable output of plain `nvidia-smi` (header and Processes table). */
export function parseSmiTable(text: string): SmiTable {
  const driver = /Driver Version:\s*([\d.]+)/.exec(text);
  const cuda = /CUDA Version:\s*([\d.]+)/.exec(text);
  const processes: TableProcess[] = [];
  const start = text.indexOf('Processes:');
  if (start >= 0) {
    for (const line of text.slice(start).split(/\r?\n/)) {
      const m = PROCESS_ROW.exec(line.trimEnd());
      if (!m) continue;
      processes.push({
        gpuIndex: Number(m[1]),
        pid: Number(m[2]),
        kind: kindOf(m[3]!),
        name: baseName(m[4]!.trim()),
        usedMemoryMb: m[5] === undefined ? null : Number(m[5]),
      });
    }
  }
  return { driverVersion: driver?.[1] ?? null, cudaVersion: cuda?.[1] ?? null, processes };
}

function kindOf(type: string): GpuProcessKind {
  if (type.includes('C') && type.includes('G')) return 'compute+graphics';
  return type.includes('G') ? 'graphics' : 'compute';
}

/**
 * Joins the three outputs into one sample. The table's rows win for name and kind (it is the only
 * source of graphics processes); compute-apps fills in processes the table truncated away and
 * exact memory figures.
 */
export function assembleSmiSample(query: { gpus: QueriedGpu[]; driverVersion: string }, apps: ComputeApp[], table: SmiTable | null, warnings: string[] = []): GpuDetected {
  const gpus = query.gpus.map((gpu): GpuSample => {
    const byPid = new Map<number, GpuProcess>();
    for (const row of table?.processes ?? []) {
      if (row.gpuIndex !== gpu.index) continue;
      byPid.set(row.pid, { pid: row.pid, usedMemoryMb: row.usedMemoryMb, name: row.name, kind: row.kind });
    }
    for (const app of apps) {
      if (app.gpuUuid !== gpu.uuid) continue;
      const row = byPid.get(app.pid);
      byPid.set(app.pid, {
        pid: app.pid,
        usedMemoryMb: app.usedMemoryMb ?? row?.usedMemoryMb ?? null,
        name: row?.name ?? null,
        kind: row?.kind ?? 'compute',
      });
    }
    return { ...gpu, processes: [...byPid.values()] };
  });
  return {
    mode: 'gpu',
    source: 'nvidia-smi',
    system: { driverVersion: query.driverVersion || table?.driverVersion || '', cudaVersion: table?.cudaVersion ?? null },
    gpus,
    warnings,
  };
}

/** The message nvidia-smi printed when it failed, on one line, e.g. "NVIDIA-SMI has failed because …". */
export function failureMessage(result: CommandResult): string {
  if (result.spawnError) return result.spawnError;
  const text = `${result.stdout}\n${result.stderr}`.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join(' ');
  return `${text || 'no output'} (exit ${result.exitCode ?? 'signal'})`;
}

/** The outcome of sampling through nvidia-smi. */
export type SmiOutcome =
  | { readonly kind: 'ok'; readonly sample: GpuDetected }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * Samples every GPU through `command`. The three invocations run in parallel; only the
 * `--query-gpu` one must succeed, the other two degrade to warnings.
 */
export async function sampleNvidiaSmi(command: string, run: RunCommand = runCommand): Promise<SmiOutcome> {
  try {
    return await sampleOnce(command, run);
  } catch (e) {
    // A runner that throws (rather than reporting a failed run) must not crash detection.
    return { kind: 'failed', reason: (e as Error).message };
  }
}

async function sampleOnce(command: string, run: RunCommand): Promise<SmiOutcome> {
  const invoke = (name: NvidiaSmiInvocation) => run(command, NVIDIA_SMI_INVOCATIONS[name]);
  const [gpuResult, appsResult, tableResult] = await Promise.all([invoke('query-gpu'), invoke('query-compute-apps'), invoke('nvidia-smi')]);
  if (gpuResult.spawnError === 'not-found') return { kind: 'not-found' };

  let fields: readonly QueryGpuField[] = QUERY_GPU_FIELDS;
  let queried = gpuResult;
  const warnings: string[] = [];
  if (queried.exitCode !== 0 && /compute_cap.*not a valid field/i.test(queried.stdout + queried.stderr)) {
    fields = LEGACY_QUERY_GPU_FIELDS;
    queried = await invoke('query-gpu-legacy');
    warnings.push('this driver does not know compute_cap (added around R510)');
  }
  if (queried.exitCode !== 0) return { kind: 'failed', reason: failureMessage(queried) };

  let query: ReturnType<typeof parseQueryGpu>;
  let apps: ComputeApp[] = [];
  let table: SmiTable | null = null;
  try {
    query = parseQueryGpu(queried.stdout, fields);
  } catch (e) {
    return { kind: 'failed', reason: `unexpected --query-gpu output: ${(e as Error).message}` };
  }
  try {
    if (appsResult.exitCode === 0) apps = parseComputeApps(appsResult.stdout);
    else warnings.push(`--query-compute-apps failed: ${failureMessage(appsResult)}`);
  } catch (e) {
    warnings.push(`unexpected --query-compute-apps output: ${(e as Error).message}`);
  }
  if (tableResult.exitCode === 0) table = parseSmiTable(tableResult.stdout);
  else warnings.push(`nvidia-smi (process table) failed: ${failureMessage(tableResult)}; graphics processes are not seen`);
  return { kind: 'ok', sample: assembleSmiSample(query, apps, table, warnings) };
}

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}
