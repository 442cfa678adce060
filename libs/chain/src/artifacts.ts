import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The contracts this package ships, by artifact file name. */
export type ContractName = 'WebiToken' | 'WebiPayout' | 'AuditAnchor';

/** What `scripts/compile.ts` writes to `libs/chain/artifacts/<contractName>.json`. */
export interface ContractArtifact {
  /** Solidity contract name, e.g. `WebiPayout`. */
  readonly contractName: string;
  /** Source unit the contract is defined in, e.g. `contracts/WebiPayout.sol`. */
  readonly sourceName: string;
  /** solc version and the settings that influence the bytecode. */
  readonly compiler: {
    /** Full solc version string, e.g. `0.8.37+commit.f401782d.Emscripten.clang`. */
    readonly version: string;
    /** Optimizer and EVM target used. */
    readonly settings: { readonly optimizer: { readonly enabled: boolean; readonly runs: number }; readonly evmVersion: string };
  };
  /** The JSON ABI, as solc emits it. */
  readonly abi: readonly unknown[];
  /** Creation bytecode, 0x-prefixed (what a deployment sends). */
  readonly bytecode: string;
  /** Runtime bytecode, 0x-prefixed (what `eth_getCode` returns after deployment). */
  readonly deployedBytecode: string;
}

/** Folder holding the committed artifacts. */
export const ARTIFACTS_DIR = join(__dirname, '..', 'artifacts');

const cache = new Map<ContractName, ContractArtifact>();

/**
 * Reads a committed artifact. Throws, naming the build command, when it is missing or not an
 * artifact, rather than deploying empty bytecode.
 */
export function loadArtifact(name: ContractName): ContractArtifact {
  const cached = cache.get(name);
  if (cached) return cached;
  const file = join(ARTIFACTS_DIR, `${name}.json`);
  let parsed: Partial<ContractArtifact>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ContractArtifact>;
  } catch (cause) {
    throw new Error(`cannot read ${file}; run \`npm run build:contracts\``, { cause });
  }
  if (!Array.isArray(parsed.abi) || typeof parsed.bytecode !== 'string' || !parsed.bytecode.startsWith('0x')) {
    throw new Error(`${file} is not a contract artifact; run \`npm run build:contracts\``);
  }
  const artifact = parsed as ContractArtifact;
  cache.set(name, artifact);
  return artifact;
}
