/** GPU telemetry: NVML through koffi, nvidia-smi as fallback, CPU-only otherwise. */
export { GpuTelemetry, detectGpus, defaultNvmlLibraryPaths, defaultNvidiaSmiCommands, type GpuTelemetryOptions } from './telemetry';
export { type CommandResult, type RunCommand, runCommand } from './nvidia-smi';
export type { CpuOnly, GpuDetected, GpuDetection, GpuProcess, GpuProcessKind, GpuSample, GpuSystemInfo, GpuTelemetrySource } from './types';
