/**
 * Replays a folder of recorded nvidia-smi outputs (test/fixtures/nvidia-smi/<machine>) as a
 * RunCommand, the way fake-nvidia-smi.sh does for a real child process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandResult, NVIDIA_SMI_INVOCATIONS, type NvidiaSmiInvocation, type RunCommand } from '../../src/gpu/nvidia-smi';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'nvidia-smi');

/** The recorded result of one invocation on one machine. */
export function recorded(machine: string, name: NvidiaSmiInvocation): CommandResult {
  const file = (ext: string) => join(FIXTURES, machine, `${name}.${ext}`);
  const read = (ext: string) => (existsSync(file(ext)) ? readFileSync(file(ext), 'utf8') : '');
  if (!existsSync(file('stdout'))) throw new Error(`fixture ${machine}/${name}.stdout is missing`);
  return { exitCode: existsSync(file('exit')) ? Number(read('exit').trim()) : 0, stdout: read('stdout'), stderr: read('stderr') };
}

/** The stdout of one recorded invocation. */
export function stdoutOf(machine: string, name: NvidiaSmiInvocation): string {
  return recorded(machine, name).stdout;
}

/** A RunCommand answering as `machine` did; records the calls it got. */
export function replay(machine: string): RunCommand & { calls: string[][] } {
  const calls: string[][] = [];
  const run = async (_command: string, args: readonly string[]): Promise<CommandResult> => {
    calls.push([...args]);
    const name = (Object.keys(NVIDIA_SMI_INVOCATIONS) as NvidiaSmiInvocation[]).find((n) => NVIDIA_SMI_INVOCATIONS[n].join(' ') === args.join(' '));
    if (!name) throw new Error(`unexpected nvidia-smi arguments: ${args.join(' ')}`);
    return recorded(machine, name);
  };
  return Object.assign(run, { calls });
}

/** A RunCommand for a machine without nvidia-smi. */
export const notInstalled: RunCommand = async () => ({ exitCode: null, stdout: '', stderr: '', spawnError: 'not-found' });
