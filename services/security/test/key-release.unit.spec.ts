import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobKeyId, objectKeyId } from '@weai/contracts';
import { KeyRing } from '../src/application/key-ring';
import { type StoredWorkItem, decideKeyRelease } from '../src/domain/key-release';
import { permissionsFor } from '../src/domain/permissions';
import type { ActiveCredential } from '../src/domain/registry';

const model = 'a'.repeat(64);
const input = 'b'.repeat(64);
const node = (id: string, classes: string[]): ActiveCredential => ({
  credentialId: `c-${id}`,
  principalId: id,
  role: 'node',
  publicNkey: 'U'.padEnd(56, 'A'),
  permissions: permissionsFor({ role: 'node', principalId: id, capabilityClasses: classes }),
});
const item = (over: Partial<StoredWorkItem> = {}): StoredWorkItem => {
  const headers: Record<string, string> = { 'Weai-Job': 'job1', 'Weai-Shard': '3', 'Weai-Replica': '0', 'Weai-Model': model, 'Weai-Input': input };
  return { seq: 7, subject: 'weai.shard.cpu.avx2', header: (n) => headers[n], deliveredUpTo: 7, ...over };
};
const wanted = [objectKeyId(model), objectKeyId(input), jobKeyId('job1')];

describe('key release (who gets which data keys)', () => {
  it('given a node of the class holding a delivered work item, then it gets the keys the item names', () => {
    const d = decideKeyRelease('n1', [node('n1', ['cpu.avx2'])], wanted, 7, item());
    expect(d).toEqual({ released: true, role: 'node', keyIds: wanted, lease: { jobId: 'job1', shard: 3, replica: 0, workItem: 7 } });
  });
  it('given the work item is gone (acknowledged), then it is refused', () => {
    expect(decideKeyRelease('n1', [node('n1', ['cpu.avx2'])], wanted, 7, undefined)).toMatchObject({ released: false, reason: expect.stringMatching(/not in the queue/) });
  });
  it('given a node of another class, then it is refused', () => {
    expect(decideKeyRelease('n2', [node('n2', ['cuda.sm86'])], wanted, 7, item())).toMatchObject({ released: false, reason: expect.stringMatching(/may not pull/) });
  });
  it('given an item not delivered yet, a key the item does not name, no work item or no node credential, then it is refused', () => {
    const creds = [node('n1', ['cpu.avx2'])];
    expect(decideKeyRelease('n1', creds, wanted, 7, item({ deliveredUpTo: 6 }))).toMatchObject({ released: false });
    expect(decideKeyRelease('n1', creds, [objectKeyId('c'.repeat(64))], 7, item())).toMatchObject({ released: false, reason: expect.stringMatching(/does not name/) });
    expect(decideKeyRelease('n1', creds, wanted, undefined, undefined)).toMatchObject({ released: false });
    expect(decideKeyRelease('n1', [], wanted, 7, item())).toMatchObject({ released: false, reason: expect.stringMatching(/not a registered node/) });
  });
  it('given the job no longer wants results, then it is refused', () => {
    expect(decideKeyRelease('n1', [node('n1', ['cpu.avx2'])], wanted, 7, item({ jobClosed: 'cancelled' }))).toMatchObject({ released: false, reason: 'job job1 is cancelled: its shards get no keys' });
  });
  it('given the scheduler, then it gets any key; given a node credential named like it, then not', () => {
    expect(decideKeyRelease('scheduler', [], wanted, undefined, undefined)).toMatchObject({ released: true, role: 'service' });
    expect(decideKeyRelease('scheduler', [node('scheduler', ['cpu.avx2'])], wanted, undefined, undefined)).toMatchObject({ released: false });
  });
});

describe('key ring', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weai-kek-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('derives a distinct, stable 32-byte key per key id', () => {
    const ring = KeyRing.of(randomBytes(32));
    expect(ring.dataKey('j1:a')).toHaveLength(32);
    expect(Buffer.from(ring.dataKey('j1:a')).equals(Buffer.from(ring.dataKey('j1:a')))).toBe(true);
    expect(Buffer.from(ring.dataKey('j1:a')).equals(Buffer.from(ring.dataKey('j1:b')))).toBe(false);
  });
  it('refuses a KEK file readable by group or others, and one of the wrong size', () => {
    const open = join(dir, 'open');
    writeFileSync(open, randomBytes(32));
    chmodSync(open, 0o644);
    expect(() => KeyRing.fromFile(open)).toThrow(/SECURITY_KEK_FILE: .* readable by group or others/);
    const short = join(dir, 'short');
    writeFileSync(short, randomBytes(16), { mode: 0o600 });
    expect(() => KeyRing.fromFile(short)).toThrow(/32 raw bytes/);
  });
  it('generates a 0600 development KEK once, with a warning, and reads it back', () => {
    const warnings: string[] = [];
    const a = KeyRing.fromEnv({}, join(dir, 'dev', 'kek'), (m) => warnings.push(m));
    const b = KeyRing.fromEnv({}, join(dir, 'dev', 'kek'), (m) => warnings.push(m));
    expect(Buffer.from(a!.dataKey('j1:x')).equals(Buffer.from(b!.dataKey('j1:x')))).toBe(true);
    expect(warnings[0]).toMatch(/SECURITY_KEK_FILE is not set/);
  });
  it('in production, without SECURITY_KEK_FILE, releases no keys rather than making one up', () => {
    const warnings: string[] = [];
    expect(KeyRing.fromEnv({ NODE_ENV: 'production' }, join(dir, 'prod', 'kek'), (m) => warnings.push(m))).toBeUndefined();
    expect(warnings[0]).toMatch(/no data keys are released/);
  });
});
