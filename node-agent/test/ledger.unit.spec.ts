import { ShardLedger } from '../src/worker';

describe('ShardLedger: which replicas of a shard a node takes', () => {
  it('given a shard running on this node, when another replica of it arrives, then it is refused whatever the item says', () => {
    const ledger = new ShardLedger();
    expect(ledger.begin('job-1.0')).toBe(true);
    expect(ledger.begin('job-1.0')).toBe(false);
    expect(ledger.begin('job-1.0', true)).toBe(false);
  });

  it('given a shard this node finished, when a first replica of it comes back, then it is left to other nodes', () => {
    const ledger = new ShardLedger();
    ledger.begin('job-1.0');
    ledger.end('job-1.0', true);
    expect(ledger.begin('job-1.0')).toBe(false);
  });

  it('given a shard this node finished, when the scheduler says it holds no result of this node (a verification replica), then the node may run it', () => {
    const ledger = new ShardLedger();
    ledger.begin('job-1.0');
    ledger.end('job-1.0', true);
    expect(ledger.begin('job-1.0', true)).toBe(true);
  });

  it('given a shard that stopped without finishing (its lease handed back), when it comes back, then the node may run it', () => {
    const ledger = new ShardLedger();
    ledger.begin('job-1.0');
    ledger.end('job-1.0', false);
    expect(ledger.begin('job-1.0')).toBe(true);
  });
});
