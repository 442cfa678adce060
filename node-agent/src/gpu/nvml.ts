/**
 * NVML (the library behind nvidia-smi) bound directly with koffi. Struct layouts follow nvml.h;
 * koffi lays them out with the C alignment rules, so `nvmlProcessInfo_t` is 24 bytes on every
 * 64-bit platform (pid, 4 bytes padding, usedGpuMemory, gpuInstanceId, computeInstanceId).
 *
 * Types are anonymous on purpose: koffi keeps named types in one process-wide registry, and a
 * second definition of the same name (another module instance, a test runner) would throw.
 * Handles are opaque pointers, which koffi 3 passes around as BigInt.
 */
import { createRequire } from 'node:module';
import type { LibraryHandle, TypeObject } from 'koffi';
import { baseName } from './process-name';
import type { GpuDetected, GpuProcess, GpuProcessKind, GpuSample } from './types';

const NVML_SUCCESS = 0;
const NVML_ERROR_INSUFFICIENT_SIZE = 7;
const NVML_TEMPERATURE_GPU = 0;
/** nvml.h: NVML_VALUE_NOT_AVAILABLE, `(unsigned long long)-1`; Windows WDDM reports it per process. */
const NVML_VALUE_NOT_AVAILABLE = 0xffff_ffff_ffff_ffffn;
/** NVML_DEVICE_NAME_V2_BUFFER_SIZE, NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE. */
const NAME_BUFFER = 96;
const UUID_BUFFER = 96;
const DRIVER_BUFFER = 80;
const PROCESS_NAME_BUFFER = 1024;
const MIB = 1024 * 1024;
/** Processes may start between the count query and the fill; retry this many times, with slack. */
const PROCESS_QUERY_ATTEMPTS = 5;
const PROCESS_SLACK = 8;

type Koffi = typeof import('koffi');
type Fn = ReturnType<LibraryHandle['func']>;
type TypeSpec = string | TypeObject | ReturnType<Koffi['out']>;

/** The koffi module and the nvml.h types, defined once per process. */
interface Bindings {
  readonly koffi: Koffi;
  readonly device: TypeObject;
  readonly memory: TypeObject;
  readonly utilization: TypeObject;
  /** nvmlProcessInfo_t as taken by the _v2 and _v3 process queries. */
  readonly processInfoV3: TypeObject;
  /** nvmlProcessInfo_v1_t, taken by the unversioned queries of drivers older than R450. */
  readonly processInfoV1: TypeObject;
}

let bindings: Bindings | Error | undefined;

/**
 * koffi is loaded on first use, not on import: its native part throws when it is missing for this
 * platform, and that must turn into "no NVML" rather than an agent that cannot start.
 */
function loadBindings(): Bindings | Error {
  if (bindings === undefined) {
    try {
      const koffi = createRequire(__filename)('koffi') as Koffi;
      const uint = 'unsigned int';
      const ull = 'unsigned long long';
      bindings = {
        koffi,
        device: koffi.pointer(koffi.opaque()),
        memory: koffi.struct({ total: ull, free: ull, used: ull }),
        utilization: koffi.struct({ gpu: uint, memory: uint }),
        processInfoV3: koffi.struct({ pid: uint, usedGpuMemory: ull, gpuInstanceId: uint, computeInstanceId: uint }),
        processInfoV1: koffi.struct({ pid: uint, usedGpuMemory: ull }),
      };
    } catch (e) {
      bindings = e as Error;
    }
  }
  return bindings;
}

/** An NVML call that did not return NVML_SUCCESS. */
export class NvmlError extends Error {
  constructor(
    /** The NVML function that failed. */
    readonly fn: string,
    /** Its nvmlReturn_t. */
    readonly code: number,
    /** nvmlErrorString of the code. */
    readonly description: string,
  ) {
    super(`${fn} failed: ${description} (${code})`);
    this.name = 'NvmlError';
  }
}

/** Why NVML could not be opened. `notFound` separates "no driver" from "a driver that fails". */
export interface NvmlOpenFailure {
  readonly ok: false;
  /** True when no candidate library file could be loaded at all. */
  readonly notFound: boolean;
  /** What went wrong, naming the library and the NVML error. */
  readonly reason: string;
}

/** The result of {@link openNvml}. */
export type NvmlOpenResult = { readonly ok: true; readonly nvml: Nvml } | NvmlOpenFailure;

interface ProcessQuery {
  readonly fn: Fn;
  readonly struct: TypeObject;
}

/** Whether koffi's load error means "no such library" rather than "a library that is broken". */
function isNotFound(message: string): boolean {
  return /cannot open shared object file|No such file|could not be found|cannot find the (module|file)/i.test(message);
}

/**
 * Loads the first library of `libraryPaths` that exists and initialises NVML with it. Never
 * throws: a missing library, a missing symbol or a failing nvmlInit_v2 come back as a failure.
 */
export function openNvml(libraryPaths: readonly string[]): NvmlOpenResult {
  const b = loadBindings();
  if (b instanceof Error) return { ok: false, notFound: false, reason: `koffi cannot be loaded: ${b.message}` };
  const notFound: string[] = [];
  for (const path of libraryPaths) {
    let lib: LibraryHandle;
    try {
      lib = b.koffi.load(path);
    } catch (e) {
      const message = (e as Error).message;
      if (isNotFound(message)) {
        notFound.push(path);
        continue;
      }
      return { ok: false, notFound: false, reason: `${path}: ${message}` };
    }
    try {
      const nvml = new Nvml(b, lib, path);
      const failure = nvml.init();
      if (failure) {
        lib.unload();
        return { ok: false, notFound: false, reason: `${path}: ${failure.message}` };
      }
      return { ok: true, nvml };
    } catch (e) {
      lib.unload();
      return { ok: false, notFound: false, reason: `${path}: ${(e as Error).message}` };
    }
  }
  return { ok: false, notFound: true, reason: `${notFound.join(', ') || 'no NVML library'} not found` };
}

/** The functions every supported driver has (R418+); a library without one is not NVML. */
function bindRequired({ koffi, device, memory }: Bindings, lib: LibraryHandle) {
  const f = (name: string, args: TypeSpec[]): Fn => lib.func(name, 'int', args);
  const uint = 'unsigned int';
  return {
    errorString: lib.func('nvmlErrorString', 'const char *', ['int']),
    nvmlInit_v2: f('nvmlInit_v2', []),
    nvmlShutdown: f('nvmlShutdown', []),
    nvmlSystemGetDriverVersion: f('nvmlSystemGetDriverVersion', ['char *', uint]),
    nvmlDeviceGetCount_v2: f('nvmlDeviceGetCount_v2', [koffi.out(koffi.pointer(uint))]),
    nvmlDeviceGetHandleByIndex_v2: f('nvmlDeviceGetHandleByIndex_v2', [uint, koffi.out(koffi.pointer(device))]),
    nvmlDeviceGetName: f('nvmlDeviceGetName', [device, 'char *', uint]),
    nvmlDeviceGetUUID: f('nvmlDeviceGetUUID', [device, 'char *', uint]),
    nvmlDeviceGetMemoryInfo: f('nvmlDeviceGetMemoryInfo', [device, koffi.out(koffi.pointer(memory))]),
  };
}

/**
 * Functions a driver or a card may lack: each is `undefined` when the symbol is missing, and the
 * reading it gives is then `null`. Newer versions are preferred, older ones are the fallback.
 */
function bindOptional({ koffi, device, utilization, processInfoV3, processInfoV1 }: Bindings, lib: LibraryHandle) {
  const uint = 'unsigned int';
  const outUint = koffi.out(koffi.pointer(uint));
  const outInt = koffi.out(koffi.pointer('int'));
  const maybe = (name: string, args: TypeSpec[]): Fn | undefined => {
    try {
      return lib.func(name, 'int', args);
    } catch {
      return undefined;
    }
  };
  // _v3 and _v2 take nvmlProcessInfo_t (24 bytes); drivers before R450 only have the v1 query.
  const processes = (kind: 'Compute' | 'Graphics'): ProcessQuery | undefined => {
    const counted = koffi.inout(koffi.pointer(uint));
    for (const [suffix, struct] of [['_v3', processInfoV3], ['_v2', processInfoV3], ['', processInfoV1]] as const) {
      const fn = maybe(`nvmlDeviceGet${kind}RunningProcesses${suffix}`, [device, counted, 'void *']);
      if (fn) return { fn, struct };
    }
    return undefined;
  };
  return {
    cudaVersion: maybe('nvmlSystemGetCudaDriverVersion_v2', [outInt]) ?? maybe('nvmlSystemGetCudaDriverVersion', [outInt]),
    utilization: maybe('nvmlDeviceGetUtilizationRates', [device, koffi.out(koffi.pointer(utilization))]),
    temperature: maybe('nvmlDeviceGetTemperature', [device, 'int', outUint]),
    power: maybe('nvmlDeviceGetPowerUsage', [device, outUint]),
    powerLimit: maybe('nvmlDeviceGetEnforcedPowerLimit', [device, outUint]) ?? maybe('nvmlDeviceGetPowerManagementLimit', [device, outUint]),
    computeCapability: maybe('nvmlDeviceGetCudaComputeCapability', [device, outInt, outInt]),
    processName: maybe('nvmlSystemGetProcessName', [uint, 'char *', uint]),
    computeProcesses: processes('Compute'),
    graphicsProcesses: processes('Graphics'),
  };
}

/** An initialised NVML session. Call {@link Nvml.close} once done; sampling after it throws. */
export class Nvml {
  private readonly fns: ReturnType<typeof bindRequired>;
  private readonly optional: ReturnType<typeof bindOptional>;
  private open = false;

  /** @internal Use {@link openNvml}. Throws when a required symbol is missing. */
  constructor(
    private readonly b: Bindings,
    private readonly lib: LibraryHandle,
    /** The library file that answered. */
    readonly path: string,
  ) {
    this.fns = bindRequired(b, lib);
    this.optional = bindOptional(b, lib);
  }

  /** @internal nvmlInit_v2; the error when it fails. */
  init(): NvmlError | undefined {
    const code = this.fns.nvmlInit_v2() as number;
    if (code !== NVML_SUCCESS) return this.error('nvmlInit_v2', code);
    this.open = true;
    return undefined;
  }

  /** nvmlShutdown and unload the library. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.fns.nvmlShutdown();
    this.lib.unload();
  }

  /**
   * Reads every GPU. Throws {@link NvmlError} when the driver cannot even list the GPUs; a GPU
   * that fails is left out with a warning, and a field a GPU does not support is `null`.
   */
  sample(): GpuDetected {
    if (!this.open) throw new Error('NVML session is closed');
    const warnings: string[] = [];
    const driverVersion = this.readString('nvmlSystemGetDriverVersion', DRIVER_BUFFER);
    const count = [0];
    this.check('nvmlDeviceGetCount_v2', this.fns.nvmlDeviceGetCount_v2(count) as number);
    const gpus: GpuSample[] = [];
    for (let index = 0; index < count[0]!; index++) {
      try {
        gpus.push(this.sampleDevice(index, warnings));
      } catch (e) {
        warnings.push(`GPU ${index} left out: ${(e as Error).message}`);
      }
    }
    return {
      mode: 'gpu',
      source: 'nvml',
      system: { driverVersion, cudaVersion: this.cudaVersion(warnings) },
      gpus,
      warnings,
    };
  }

  private sampleDevice(index: number, warnings: string[]): GpuSample {
    const handle: unknown[] = [null];
    this.check('nvmlDeviceGetHandleByIndex_v2', this.fns.nvmlDeviceGetHandleByIndex_v2(index, handle) as number);
    const device = handle[0];
    const memory: { total?: number | bigint; free?: number | bigint } = {};
    this.check('nvmlDeviceGetMemoryInfo', this.fns.nvmlDeviceGetMemoryInfo(device, memory) as number);
    // Each optional reading degrades to null on its own: a laptop without power telemetry is
    // still a usable GPU.
    const read = <T>(what: string, fn: Fn | undefined, call: (fn: Fn) => [number, T]): T | null => {
      if (!fn) {
        warnings.push(`GPU ${index}: ${what}: not in this NVML`);
        return null;
      }
      const [code, value] = call(fn);
      if (code === NVML_SUCCESS) return value;
      warnings.push(`GPU ${index}: ${what}: ${this.describe(code)}`);
      return null;
    };
    const o = this.optional;
    const utilization = read('utilization', o.utilization, (fn) => {
      const u: { gpu?: number } = {};
      return [fn(device, u) as number, u.gpu ?? 0];
    });
    const temperature = read('temperature', o.temperature, (fn) => {
      const t = [0];
      return [fn(device, NVML_TEMPERATURE_GPU, t) as number, t[0]!];
    });
    const powerMw = read('power draw', o.power, (fn) => {
      const p = [0];
      return [fn(device, p) as number, p[0]!];
    });
    const limitMw = read('power limit', o.powerLimit, (fn) => {
      const p = [0];
      return [fn(device, p) as number, p[0]!];
    });
    const computeCapability = read('compute capability', o.computeCapability, (fn) => {
      const major = [0];
      const minor = [0];
      return [fn(device, major, minor) as number, `${major[0]}.${minor[0]}`];
    });
    return {
      index,
      name: this.readString('nvmlDeviceGetName', NAME_BUFFER, device),
      uuid: this.readString('nvmlDeviceGetUUID', UUID_BUFFER, device),
      vramTotalMb: toMib(memory.total ?? 0) ?? 0,
      vramFreeMb: toMib(memory.free ?? 0) ?? 0,
      utilizationPct: utilization,
      temperatureC: temperature,
      powerDrawW: powerMw === null ? null : powerMw / 1000,
      powerLimitW: limitMw === null ? null : limitMw / 1000,
      computeCapability,
      processes: this.processes(index, device, warnings),
    };
  }

  /** Compute and graphics processes merged by pid: a process in both lists is "compute+graphics". */
  private processes(index: number, device: unknown, warnings: string[]): GpuProcess[] {
    const byPid = new Map<number, { usedMemoryMb: number | null; compute: boolean; graphics: boolean }>();
    for (const [kind, query] of [['compute', this.optional.computeProcesses], ['graphics', this.optional.graphicsProcesses]] as const) {
      if (!query) {
        warnings.push(`GPU ${index}: ${kind} processes: not in this NVML`);
        continue;
      }
      let infos: { pid: number; usedGpuMemory: number | bigint }[];
      try {
        infos = this.queryProcesses(query, device);
      } catch (e) {
        warnings.push(`GPU ${index}: ${kind} processes: ${(e as Error).message}`);
        continue;
      }
      for (const info of infos) {
        const seen = byPid.get(info.pid) ?? { usedMemoryMb: null, compute: false, graphics: false };
        const used = toMib(info.usedGpuMemory);
        seen.usedMemoryMb = used === null ? seen.usedMemoryMb : Math.max(used, seen.usedMemoryMb ?? 0);
        seen[kind] = true;
        byPid.set(info.pid, seen);
      }
    }
    return [...byPid].map(([pid, p]) => {
      const kind: GpuProcessKind = p.compute && p.graphics ? 'compute+graphics' : p.compute ? 'compute' : 'graphics';
      return { pid, usedMemoryMb: p.usedMemoryMb, name: this.processName(pid), kind };
    });
  }

  /** The NVML size protocol: ask, grow the buffer to the count it answers, ask again. */
  private queryProcesses(query: ProcessQuery, device: unknown): { pid: number; usedGpuMemory: number | bigint }[] {
    let capacity = 0;
    let buffer: Buffer | null = null;
    for (let attempt = 0; attempt < PROCESS_QUERY_ATTEMPTS; attempt++) {
      const count = [capacity];
      const code = query.fn(device, count, buffer) as number;
      if (code === NVML_SUCCESS) {
        const n = count[0]!;
        return n === 0 || !buffer ? [] : (this.b.koffi.decode(buffer, query.struct, n) as { pid: number; usedGpuMemory: number | bigint }[]);
      }
      if (code !== NVML_ERROR_INSUFFICIENT_SIZE) throw this.error('process query', code);
      capacity = count[0]! + PROCESS_SLACK;
      buffer = Buffer.alloc(capacity * this.b.koffi.sizeof(query.struct));
    }
    throw this.error('process query', NVML_ERROR_INSUFFICIENT_SIZE);
  }

  private processName(pid: number): string | null {
    const fn = this.optional.processName;
    if (!fn) return null;
    const buffer = Buffer.alloc(PROCESS_NAME_BUFFER);
    if ((fn(pid, buffer, buffer.length) as number) !== NVML_SUCCESS) return null;
    return baseName(this.b.koffi.decode(buffer, 'char', -1) as string);
  }

  private cudaVersion(warnings: string[]): string | null {
    const fn = this.optional.cudaVersion;
    if (!fn) return null;
    const version = [0];
    const code = fn(version) as number;
    if (code !== NVML_SUCCESS) {
      warnings.push(`CUDA driver version: ${this.describe(code)}`);
      return null;
    }
    // nvml.h: NVML_CUDA_DRIVER_VERSION_MAJOR(v) = v / 1000, MINOR(v) = (v % 1000) / 10.
    return `${Math.floor(version[0]! / 1000)}.${Math.floor((version[0]! % 1000) / 10)}`;
  }

  private readString(fn: 'nvmlSystemGetDriverVersion' | 'nvmlDeviceGetName' | 'nvmlDeviceGetUUID', size: number, device?: unknown): string {
    const buffer = Buffer.alloc(size);
    const code = (device === undefined ? this.fns[fn](buffer, size) : this.fns[fn](device, buffer, size)) as number;
    this.check(fn, code);
    return this.b.koffi.decode(buffer, 'char', -1) as string;
  }

  private check(fn: string, code: number): void {
    if (code !== NVML_SUCCESS) throw this.error(fn, code);
  }

  private error(fn: string, code: number): NvmlError {
    return new NvmlError(fn, code, this.describe(code));
  }

  private describe(code: number): string {
    return (this.fns.errorString(code) as string | null) ?? `NVML error ${code}`;
  }
}

/** Bytes (number, or bigint above 2^53) to whole MiB; NVML_VALUE_NOT_AVAILABLE to null. */
function toMib(bytes: number | bigint): number | null {
  if (typeof bytes === 'bigint') return bytes === NVML_VALUE_NOT_AVAILABLE ? null : Number(bytes / BigInt(MIB));
  return Math.floor(bytes / MIB);
}
