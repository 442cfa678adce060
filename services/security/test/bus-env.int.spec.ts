import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { busSecurityFromEnv } from '@weai/messaging';

/** How a bus connection picks up TLS, its nkey and its inbox prefix from the environment (real files). */
describe('busSecurityFromEnv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weai-bus-env-'));
  const seed = new TextDecoder().decode(createUser().getSeed());
  const seedFile = (mode: number, content = seed) => {
    const path = join(dir, `seed-${mode.toString(8)}-${content.length}.nk`);
    writeFileSync(path, `${content}\n`);
    chmodSync(path, mode);
    return path;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('changes nothing when no variable is set', () => {
    expect(busSecurityFromEnv({})).toEqual({});
  });
  it('takes the CA, a 0600 seed file and the inbox prefix', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, 'not checked here');
    const options = busSecurityFromEnv({ NATS_TLS_CA: ca, NATS_NKEY_SEED_FILE: seedFile(0o600), NATS_INBOX_PREFIX: '_INBOX.n1' });
    expect(options.tls).toEqual({ caFile: ca });
    expect(typeof options.authenticator).toBe('function');
    expect(options.inboxPrefix).toBe('_INBOX.n1');
  });
  it('refuses a seed file others can read, naming the variable and never the seed', () => {
    const call = () => busSecurityFromEnv({ NATS_NKEY_SEED_FILE: seedFile(0o644) });
    expect(call).toThrow(/NATS_NKEY_SEED_FILE: .* must be readable by its owner only/);
    try {
      call();
    } catch (error) {
      expect((error as Error).message).not.toContain(seed);
    }
  });
  it('refuses a file that holds no user seed, a missing CA and a wildcard inbox prefix', () => {
    expect(() => busSecurityFromEnv({ NATS_NKEY_SEED_FILE: seedFile(0o600, 'hello') })).toThrow(/does not hold an nkey user seed/);
    expect(() => busSecurityFromEnv({ NATS_TLS_CA: join(dir, 'absent.pem') })).toThrow(/NATS_TLS_CA: cannot read/);
    expect(() => busSecurityFromEnv({ NATS_INBOX_PREFIX: '_INBOX.>' })).toThrow(/NATS_INBOX_PREFIX/);
  });
});
