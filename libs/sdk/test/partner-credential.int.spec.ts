/**
 * PartnerClient.connect with a partner credential: the settings are checked before connecting, and
 * errors name the option and the path, never the seed. (Real files; the connection itself is
 * exercised under TLS and nkey users in test/secure-network.e2e.spec.ts.)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { PartnerClient } from '../src';

describe('PartnerClient.connect: partner credential settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weai-partner-cred-'));
  const seed = new TextDecoder().decode(createUser().getSeed());
  // Nothing listens here: every refusal below must come before a connection is tried.
  const servers = 'tls://127.0.0.1:9';
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a seed file that does not exist, naming the option and the path', async () => {
    const missing = join(dir, 'absent.nk');
    await expect(PartnerClient.connect({ servers, partnerId: 'p1', nkeySeedFile: missing })).rejects.toThrow(`nkeySeedFile: cannot read ${missing} (ENOENT)`);
  });

  it('refuses a seed file others can read, without showing the seed', async () => {
    const open = join(dir, 'open.nk');
    writeFileSync(open, `${seed}\n`);
    chmodSync(open, 0o644);
    const error = await PartnerClient.connect({ servers, partnerId: 'p1', nkeySeedFile: open }).catch((e: Error) => e);
    expect((error as Error).message).toBe(`nkeySeedFile: ${open} must be readable by its owner only (chmod 600)`);
    expect((error as Error).message).not.toContain(seed);
  });

  it('refuses a file without a user seed, an unreadable CA file and a wildcard inbox prefix', async () => {
    const junk = join(dir, 'junk.nk');
    writeFileSync(junk, 'not a seed\n', { mode: 0o600 });
    await expect(PartnerClient.connect({ servers, partnerId: 'p1', nkeySeedFile: junk })).rejects.toThrow('nkeySeedFile: ' + junk + ' does not hold an nkey user seed');
    await expect(PartnerClient.connect({ servers, partnerId: 'p1', tlsCaFile: join(dir, 'absent.pem') })).rejects.toThrow('tlsCaFile: cannot read');
    await expect(PartnerClient.connect({ servers, partnerId: 'p1', inboxPrefix: '_INBOX.*' })).rejects.toThrow('inboxPrefix must be dot-separated tokens');
  });
});
