/**
 * `npm run agent:gpu-check` as a user runs it, on whatever this machine has: a clear error for a
 * bad flag, and a JSON summary on its last line that says what the agent would serve.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

function gpuCheck(...args: string[]) {
  const run = spawnSync(process.execPath, ['-r', '@swc-node/register', 'node-agent/src/gpu/check.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const lines = run.stdout.trim().split('\n');
  return { code: run.status, stderr: run.stderr, last: lines[lines.length - 1] ?? '' };
}

describe('agent:gpu-check', () => {
  it('refuses a --gpu-user that is not a process id, saying so, with exit code 2', () => {
    const { code, stderr } = gpuCheck('--gpu-user', 'game.exe');
    expect(code).toBe(2);
    expect(stderr).toContain('gpu-check: --gpu-user needs a process id, got "game.exe"');
  });

  it('ends with a JSON summary: the classes to serve, and why CUDA is or is not used', () => {
    const { code, last } = gpuCheck();
    const summary = JSON.parse(last) as { ok: boolean; enrolmentClasses: string[]; onnxRuntime: { executionProviders: string[]; cuda: { usable: boolean; reason?: string } } };
    expect(code).toBe(0);
    expect(summary.ok).toBe(true);
    expect(summary.enrolmentClasses).toContain('cpu.generic');
    expect(summary.onnxRuntime.executionProviders).toContain('cpu');
    expect(summary.onnxRuntime.cuda.usable || typeof summary.onnxRuntime.cuda.reason === 'string').toBe(true);
  }, 60_000);
});
