import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, readSecretFile } from '../src/config';

describe('readSecretFile: private keys are read only from files nobody else may read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weai-secret-'));
  const file = join(dir, 'signer.key');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file only its owner may read', () => {
    writeFileSync(file, 'the-secret\n');
    chmodSync(file, 0o600);
    expect(readSecretFile(file, 'REWARDS_SIGNER_KEY')).toBe('the-secret\n');
  });

  it.each([0o640, 0o604, 0o644])('refuses mode %o, naming the variable and the path, never the content', (mode) => {
    writeFileSync(file, 'the-secret\n');
    chmodSync(file, mode);
    const attempt = () => readSecretFile(file, 'REWARDS_SIGNER_KEY');
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(`REWARDS_SIGNER_KEY: ${file} is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`);
  });

  it('says which file it cannot read', () => {
    expect(() => readSecretFile(join(dir, 'missing'), 'GATEWAY_TOKEN_KEY_FILE')).toThrow(`GATEWAY_TOKEN_KEY_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`);
  });
});
