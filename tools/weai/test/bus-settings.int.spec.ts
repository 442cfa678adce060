/**
 * How `weai` commands that use the bus take their connection settings (flags over variables), and
 * the errors an operator sees for a bad credential setting: exit 2 before anything is sent, naming
 * the flag or variable and the path, never the seed. (Real files; no server is needed to refuse.)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { capacity } from '../capacity';
import { EXIT, runCli } from '../cli';
import { nodeQuarantine } from '../nodes';
import { replay } from '../replay';

describe('weai: bus connection settings of an operator credential', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weai-cli-bus-'));
  const seed = new TextDecoder().decode(createUser().getSeed());
  const seedFile = (name: string, mode: number, content = seed) => {
    const path = join(dir, name);
    writeFileSync(path, `${content}\n`);
    chmodSync(path, mode);
    return path;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs a command with only `env` as its environment; returns the exit code and stderr. */
  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const err: string[] = [];
    const code = await runCli([capacity, replay, nodeQuarantine], argv, { env, stdout: () => undefined, stderr: (l) => err.push(l) });
    return { code, stderr: err.join('\n') };
  };

  it('given a seed file that does not exist, then it stops with exit 2 naming the flag and the path', async () => {
    const missing = join(dir, 'absent.nk');
    const got = await run(['capacity', '--nkey-seed-file', missing, '--inbox-prefix', '_INBOX.op1']);
    expect(got.code).toBe(EXIT.usage);
    expect(got.stderr).toContain(`--nkey-seed-file: cannot read ${missing} (ENOENT)`);
  });

  it('given the seed in a variable, then errors name the variable; a file others can read is refused and the seed never shown', async () => {
    const open = seedFile('open.nk', 0o644);
    const got = await run(['node', 'quarantine', 'n1', '--reason', 'r', '--by', 'op1'], { NATS_NKEY_SEED_FILE: open, NATS_INBOX_PREFIX: '_INBOX.op1' });
    expect(got.code).toBe(EXIT.usage);
    expect(got.stderr).toContain(`NATS_NKEY_SEED_FILE: ${open} must be readable by its owner only (chmod 600)`);
    expect(got.stderr).not.toContain(seed);
  });

  it('given a seed without an inbox prefix, then it says which prefix to give', async () => {
    const got = await run(['capacity', '--nkey-seed-file', seedFile('ok.nk', 0o600)]);
    expect(got.code).toBe(EXIT.usage);
    expect(got.stderr).toContain('--nkey-seed-file needs --inbox-prefix (or NATS_INBOX_PREFIX)');
  });

  it('given a file without a user seed, an unreadable CA or a wildcard prefix, then each is refused by name', async () => {
    const prefix = ['--inbox-prefix', '_INBOX.op1'];
    expect((await run(['capacity', '--nkey-seed-file', seedFile('junk.nk', 0o600, 'hello'), ...prefix])).stderr).toContain('does not hold an nkey user seed');
    const ca = await run(['replay', '--stream', 'WEAI_NODES', '--nats-ca', join(dir, 'absent.pem')]);
    expect(ca).toMatchObject({ code: EXIT.usage });
    expect(ca.stderr).toContain(`--nats-ca: cannot read ${join(dir, 'absent.pem')} (ENOENT)`);
    expect((await run(['capacity', '--nkey-seed-file', seedFile('ok2.nk', 0o600), '--inbox-prefix', '_INBOX.>'])).stderr).toContain('--inbox-prefix must be dot-separated tokens');
    expect((await run(['capacity', '--requires', 'cpu.*'])).code).toBe(EXIT.usage);
  });

  it('given a flag and its variable, then the flag wins', async () => {
    const got = await run(['capacity', '--nkey-seed-file', join(dir, 'flag.nk'), '--inbox-prefix', '_INBOX.op1'], { NATS_NKEY_SEED_FILE: join(dir, 'env.nk') });
    expect(got.stderr).toContain(`--nkey-seed-file: cannot read ${join(dir, 'flag.nk')}`);
    expect(got.stderr).not.toContain('env.nk');
  });
});
