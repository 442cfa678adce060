import { id } from 'ethers';
import { AuditAnchorClient, SegmentNotContiguousError, decodeRevert, deployAuditAnchor } from '../src';
import type { Evm } from './evm';

const root = (n: number): string => id(`segment-${n}`);

/** Specs of AuditAnchor; `chain` is the shared in-process EVM, started by the caller. */
export function describeAuditAnchor(chain: () => Evm): void {
  describe('AuditAnchor', () => {
    let evm: Evm;
    let operator: AuditAnchorClient;

    beforeAll(async () => {
      evm = chain();
      const deployed = await deployAuditAnchor(evm.accounts[0]!, { operator: await evm.accounts[1]!.getAddress(), firstPosition: 1n });
      operator = new AuditAnchorClient(deployed.address, evm.accounts[1]!);
    });

    it('starts with no segments, expecting the first position', async () => {
      expect(await operator.segmentCount()).toBe(0n);
      expect(await operator.nextPosition()).toBe(1n);
      await expect(operator.anchor({ fromPosition: 2n, toPosition: 5n, merkleRoot: root(0) })).rejects.toMatchObject({
        name: 'SegmentNotContiguousError',
        expectedFrom: 1n,
      });
    });

    it('appends contiguous segments and reads them back', async () => {
      const hash = await operator.anchor({ fromPosition: 1n, toPosition: 10n, merkleRoot: root(1) });
      const receipt = await evm.provider.getTransactionReceipt(hash);
      const anchored = receipt!.logs.map((l) => operator.contract.interface.parseLog(l)).find((l) => l?.name === 'Anchored');
      expect(anchored?.args.toArray()).toEqual([0n, 1n, 10n, root(1)]);

      await operator.anchor({ fromPosition: 11n, toPosition: 11n, merkleRoot: root(2) });

      expect(await operator.segmentCount()).toBe(2n);
      expect(await operator.segment(0n)).toEqual({ fromPosition: 1n, toPosition: 10n, merkleRoot: root(1) });
      expect(await operator.segment(1n)).toEqual({ fromPosition: 11n, toPosition: 11n, merkleRoot: root(2) });
      expect(await operator.nextPosition()).toBe(12n);
    });

    it.each([
      ['a gap', 13n, 20n, 12n],
      ['an overlap', 5n, 20n, 12n],
      ['a repeat of the last segment', 11n, 11n, 12n],
    ])('refuses %s', async (_what, fromPosition, toPosition, expectedFrom) => {
      const error = await operator.anchor({ fromPosition, toPosition, merkleRoot: root(3) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SegmentNotContiguousError);
      expect(error).toMatchObject({ expectedFrom });
      expect(await operator.segmentCount()).toBe(2n);
    });

    it('refuses a segment that ends before it starts', async () => {
      await expect(operator.anchor({ fromPosition: 12n, toPosition: 11n, merkleRoot: root(4) })).rejects.toMatchObject({ expectedFrom: null });
    });

    it('lets only operators anchor', async () => {
      const outsider = new AuditAnchorClient(await operator.contract.getAddress(), evm.accounts[2]!);
      const error = await outsider.anchor({ fromPosition: 12n, toPosition: 12n, merkleRoot: root(5) }).catch((e: unknown) => e);
      expect(decodeRevert(error, outsider.contract.interface)?.name).toBe('AccessControlUnauthorizedAccount');
      expect(await operator.segmentCount()).toBe(2n);
    });

    it('rejects reading past the last segment', async () => {
      await expect(operator.segment(2n)).rejects.toThrow();
    });
  });
}
