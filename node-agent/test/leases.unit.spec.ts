import { MAX_LEASES, leasesSpent } from '../src/worker';

describe('leasesSpent: when a work item counts as leased too often', () => {
  const leaseMs = 15_000;

  it('given more deliveries than MAX_LEASES over as many whole leases (nodes that died with it), then it is spent', () => {
    expect(leasesSpent(MAX_LEASES + 1, MAX_LEASES * leaseMs, leaseMs)).toBe(true);
  });

  it('given as many deliveries but most of them quick refusals (a verification replica waiting for the one node that may run it), then it is not spent', () => {
    expect(leasesSpent(MAX_LEASES + 30, 25_000, leaseMs)).toBe(false);
  });

  it('given an old item delivered only a few times (it waited in the queue), then it is not spent', () => {
    expect(leasesSpent(3, 3_600_000, leaseMs)).toBe(false);
  });
});
