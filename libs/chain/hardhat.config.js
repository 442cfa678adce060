/**
 * Hardhat serves only as the in-process EVM (EDR, a native module in node_modules) of the
 * integration specs; test/evm.ts loads this file through HARDHAT_CONFIG. Contracts are compiled
 * by scripts/compile.ts with solc-js. `hardhat compile` is refused because it would download a
 * native solc, which the build must never do.
 */
const { task } = require('hardhat/config');
const { TASK_COMPILE } = require('hardhat/builtin-tasks/task-names');

task(TASK_COMPILE, 'Refused: contracts are compiled by scripts/compile.ts (solc-js)', async () => {
  throw new Error('compile with `npm run build:contracts` (solc-js); hardhat compile would download solc');
});

module.exports = {
  // Only to name the version scripts/compile.ts uses; Hardhat never compiles here (see above).
  solidity: '0.8.37',
  networks: {
    hardhat: {
      chainId: 31337,
      // The EVM version the artifacts target (scripts/compile.ts).
      hardfork: 'cancun',
      // Like a real node: a reverting transaction is mined with status 0, not refused on send.
      throwOnTransactionFailures: false,
    },
  },
};
