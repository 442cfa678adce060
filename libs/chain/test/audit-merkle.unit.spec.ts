import fc from 'fast-check';
import { concat, keccak256, toUtf8Bytes } from 'ethers';
import { type AuditRecord, EMPTY_ROOT, encodeLeaf, leafHash, merkleRoot } from '../src/audit';

const record = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  position: 7,
  streamId: 'rewards-owner-o1',
  revision: 2,
  type: 'RewardAccrued',
  schemaVersion: 1,
  data: '{"amount":"10"}',
  metadata: '{"eventId":"e1"}',
  recordedAt: '2026-11-25T10:00:00.000Z',
  ...over,
});

const leaf = (i: number) => keccak256(toUtf8Bytes(`leaf-${i}`));
const node = (a: string, b: string) => keccak256(concat(['0x01', a, b]));

describe('audit leaf encoding', () => {
  it('given a record, when encoded, then the bytes are 0x00, u64 position, u32 revision, u32 schema version and length-prefixed UTF-8 strings', () => {
    const bytes = encodeLeaf(record({ streamId: 's', type: 'T', data: '{}', metadata: 'é', recordedAt: 'r' }));
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '00' + '0000000000000007' + '00000002' + '00000001' +
        '00000001' + '73' + '00000001' + '54' + '00000002' + '7b7d' + '00000002' + 'c3a9' + '00000001' + '72',
    );
  });

  it('given the same record, when hashed twice, then the leaf is the same keccak256 of the encoding', () => {
    expect(leafHash(record())).toBe(keccak256(encodeLeaf(record())));
    expect(leafHash(record())).toBe(leafHash({ ...record() }));
  });

  it.each<[string, Partial<AuditRecord>]>([
    ['position', { position: 8 }],
    ['stream', { streamId: 'rewards-owner-o2' }],
    ['revision', { revision: 3 }],
    ['type', { type: 'WithdrawalRequested' }],
    ['schema version', { schemaVersion: 2 }],
    ['data (one byte)', { data: '{"amount":"11"}' }],
    ['data (whitespace only)', { data: '{"amount": "10"}' }],
    ['metadata', { metadata: '{"eventId":"e2"}' }],
    ['recording time', { recordedAt: '2026-11-25T10:00:00.001Z' }],
  ])('given a record, when its %s changes, then its leaf changes', (_field, change) => {
    expect(leafHash(record(change))).not.toBe(leafHash(record()));
  });

  it('given two records whose strings only move a boundary, when hashed, then the leaves differ (length prefixes)', () => {
    expect(leafHash(record({ streamId: 'ab', type: 'c' }))).not.toBe(leafHash(record({ streamId: 'a', type: 'bc' })));
  });

  it('given a position that is not a safe integer or a revision past 32 bits, when encoded, then it throws', () => {
    expect(() => encodeLeaf(record({ position: 2 ** 53 }))).toThrow(RangeError);
    expect(() => encodeLeaf(record({ revision: 2 ** 32 }))).toThrow(RangeError);
  });
});

describe('audit Merkle root (RFC 6962 shape, keccak256)', () => {
  it('given no leaves, then the root is keccak256 of nothing', () => {
    expect(merkleRoot([])).toBe(EMPTY_ROOT);
    expect(EMPTY_ROOT).toBe(keccak256('0x'));
  });

  it('given one leaf, then the root is the leaf itself', () => {
    expect(merkleRoot([leaf(0)])).toBe(leaf(0));
  });

  it('given two, three and five leaves, then the tree splits at the largest power of two below n', () => {
    const [a, b, c, d, e] = [0, 1, 2, 3, 4].map(leaf) as [string, string, string, string, string];
    expect(merkleRoot([a, b])).toBe(node(a, b));
    expect(merkleRoot([a, b, c])).toBe(node(node(a, b), c));
    expect(merkleRoot([a, b, c, d, e])).toBe(node(node(node(a, b), node(c, d)), e));
  });

  it('given n leaves, when the last is duplicated, then the root differs (no Bitcoin-style padding)', () => {
    const leaves = [0, 1, 2].map(leaf);
    expect(merkleRoot([...leaves, leaves[2]!])).not.toBe(merkleRoot(leaves));
  });

  it('given any leaves, when one is altered, removed or two are swapped, then the root changes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 64 }), fc.nat(), fc.nat(), (n, i, j) => {
        const leaves = Array.from({ length: n }, (_, k) => leaf(k));
        const root = merkleRoot(leaves);
        const [x, y] = [i % n, j % n];
        const altered = leaves.map((l, k) => (k === x ? leaf(1000 + k) : l));
        const removed = leaves.filter((_, k) => k !== x);
        const swapped = [...leaves];
        [swapped[x], swapped[y]] = [swapped[y]!, swapped[x]!];
        expect(merkleRoot(altered)).not.toBe(root);
        expect(merkleRoot(removed)).not.toBe(root);
        if (x !== y) expect(merkleRoot(swapped)).not.toBe(root);
      }),
      { numRuns: 100 },
    );
  });

  it('given a leaf that is not 32 bytes, then it throws', () => {
    expect(() => merkleRoot(['0x1234'])).toThrow(RangeError);
  });
});
