import { capacityDelta, serves } from '../src/domain/capacity';

const node = { classes: ['cuda.sm86.vram8', 'cpu.generic'], score: 50, online: true, available: true, quarantined: false };

describe('capacity rules', () => {
  it('given a new available node, then each of its classes gains it', () => {
    expect(capacityDelta(undefined, node)).toEqual(
      new Map([
        ['cuda.sm86.vram8', { online: 1, available: 1, availableScore: 50 }],
        ['cpu.generic', { online: 1, available: 1, availableScore: 50 }],
      ]),
    );
  });

  it('given an available node, when it is quarantined, then it stays online but is no longer available', () => {
    expect(capacityDelta(node, { ...node, quarantined: true }).get('cpu.generic')).toEqual({ online: 0, available: -1, availableScore: -50 });
  });

  it('given no change, then no class changes', () => {
    expect(capacityDelta(node, { ...node }).size).toBe(0);
  });

  it('lets bigger cards serve smaller needs, never the reverse', () => {
    expect(serves('cuda.sm86.vram24', 'cuda.sm75.vram8')).toBe(true);
    expect(serves('cuda.sm75.vram8', 'cuda.sm86.vram8')).toBe(false);
    expect(serves('cuda.sm86.vram8', 'cuda.sm86.vram16')).toBe(false);
    expect(serves('cpu.avx2', 'cpu.generic')).toBe(true);
    expect(serves('cpu.generic', 'cpu.avx2')).toBe(false);
  });
});
