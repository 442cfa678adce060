import { describeAuditAnchor } from './anchor.cases';
import { describeChainConfig } from './config.cases';
import { type Evm, startEvm } from './evm';
import { describeWebiPayout } from './payout.cases';
import { describeWebiToken } from './token.cases';

// One spec file for every contract so that one EDR context serves them all (see evm.ts).
// Each suite deploys its own contracts on the shared chain.
let evm: Evm | undefined;
const chain = (): Evm => {
  if (!evm) throw new Error('the EVM starts in beforeAll');
  return evm;
};

beforeAll(async () => {
  evm = await startEvm();
});

describeWebiToken(chain);
describeWebiPayout(chain);
describeAuditAnchor(chain);
describeChainConfig(chain);
