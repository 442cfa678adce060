/**
 * What the agent knows about the machine's NVIDIA GPUs at one moment. Both back ends (NVML through
 * koffi, and the nvidia-smi fallback) produce exactly these shapes, so the policy never needs to
 * know which one answered.
 */

/** How a process uses a GPU, as NVML and nvidia-smi classify it. */
export type GpuProcessKind = 'compute' | 'graphics' | 'compute+graphics';

/** A process that holds a context on a GPU. */
export interface GpuProcess {
  /** Operating-system process id (host namespace). */
  readonly pid: number;
  /**
   * GPU memory the process uses, in MiB; `null` where the driver does not account memory per
   * process (Windows under WDDM reports "N/A" for every process).
   */
  readonly usedMemoryMb: number | null;
  /** Executable name without its directory (e.g. "game.exe", "Xorg"), or `null` when unknown. */
  readonly name: string | null;
  /** Compute (CUDA/OpenCL), graphics (Direct3D/OpenGL/Vulkan) or both. */
  readonly kind: GpuProcessKind;
}

/** One GPU, sampled once. Fields the driver cannot report on this card are `null`. */
export interface GpuSample {
  /** Index as NVML and nvidia-smi number the GPUs (0-based, PCI bus order by default). */
  readonly index: number;
  /** Marketing name, e.g. "NVIDIA GeForce RTX 3080". */
  readonly name: string;
  /** Stable identifier, e.g. "GPU-5f1c2a8e-…"; survives reboots and re-ordering. */
  readonly uuid: string;
  /** Total memory in MiB. */
  readonly vramTotalMb: number;
  /** Free memory in MiB. */
  readonly vramFreeMb: number;
  /** GPU busy percentage over the driver's last sample period (0–100). */
  readonly utilizationPct: number | null;
  /** Core temperature in °C. */
  readonly temperatureC: number | null;
  /** Board power draw in W (laptop GPUs often report none). */
  readonly powerDrawW: number | null;
  /** Power limit the driver enforces now, in W. */
  readonly powerLimitW: number | null;
  /** CUDA compute capability as "major.minor", e.g. "8.6". */
  readonly computeCapability: string | null;
  /** Every process holding a context on this GPU, the agent's own workers included. */
  readonly processes: readonly GpuProcess[];
}

/** Driver facts shared by every GPU of the machine. */
export interface GpuSystemInfo {
  /** NVIDIA driver version, e.g. "551.86". */
  readonly driverVersion: string;
  /** Highest CUDA version the driver supports, e.g. "12.4"; `null` when not reported. */
  readonly cudaVersion: string | null;
}

/** Which back end produced a sample. */
export type GpuTelemetrySource = 'nvml' | 'nvidia-smi';

/** The machine has at least one usable NVIDIA GPU. */
export interface GpuDetected {
  /** Discriminant. */
  readonly mode: 'gpu';
  /** Where the numbers came from. */
  readonly source: GpuTelemetrySource;
  /** Driver facts. */
  readonly system: GpuSystemInfo;
  /** Every GPU that answered, by index. */
  readonly gpus: readonly GpuSample[];
  /**
   * Things that went wrong without making the sample useless, e.g. "GPU 1: power draw: Not
   * Supported" or why NVML was skipped in favour of nvidia-smi.
   */
  readonly warnings: readonly string[];
}

/** No usable NVIDIA GPU: the agent runs on the CPU only, and says why. */
export interface CpuOnly {
  /** Discriminant. */
  readonly mode: 'cpu-only';
  /** Human-readable cause, e.g. "no NVIDIA driver: libnvidia-ml.so.1 not found and nvidia-smi not on PATH". */
  readonly reason: string;
}

/** The result of a detection or of one telemetry sample. Never thrown: failures are `cpu-only`. */
export type GpuDetection = GpuDetected | CpuOnly;
