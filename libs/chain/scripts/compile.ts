/**
 * Compiles libs/chain/contracts with solc-js (the `solc` npm package: the compiler is WebAssembly
 * inside the package, so nothing is downloaded) and writes one artifact per contract to
 * libs/chain/artifacts. The artifacts are committed; `artifacts.int.spec.ts` recompiles and fails
 * when they differ from the sources.
 *
 * Run: `node -r @swc-node/register libs/chain/scripts/compile.ts`
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import solc from 'solc';
import type { ContractArtifact } from '../src/artifacts';

const chainRoot = join(__dirname, '..');
const contractsDir = join(chainRoot, 'contracts');
/** Where the committed artifacts live. */
export const artifactsDir = join(chainRoot, 'artifacts');

/**
 * Fixed settings, so every machine produces the same bytes. `cancun` runs on Ethereum mainnet and
 * the major L2s; a later default of a newer solc must not change the output silently.
 */
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
} as const;

interface SolcContractOutput {
  abi: unknown[];
  evm: { bytecode: { object: string }; deployedBytecode: { object: string } };
}
interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string }[];
  contracts?: Record<string, Record<string, SolcContractOutput>>;
}

/** Resolves `@openzeppelin/...` (and any other package import) from node_modules. */
function findImport(path: string): { contents: string } | { error: string } {
  try {
    return { contents: readFileSync(require.resolve(path, { paths: [chainRoot] }), 'utf8') };
  } catch {
    return { error: `not found: ${path}` };
  }
}

/** Compiles every `contracts/*.sol` and returns the artifacts of the contracts defined there. */
export function compileContracts(): ContractArtifact[] {
  const files = readdirSync(contractsDir).filter((f) => f.endsWith('.sol')).sort();
  const sources = Object.fromEntries(
    files.map((f) => [`contracts/${f}`, { content: readFileSync(join(contractsDir, f), 'utf8') }]),
  );
  const input = JSON.stringify({ language: 'Solidity', sources, settings });
  const compile = solc.compile as (input: string, callbacks: { import: typeof findImport }) => string;
  const output = JSON.parse(compile(input, { import: findImport })) as SolcOutput;

  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  // Warnings fail the build too: they are cheap to fix now and easy to miss later.
  const warnings = (output.errors ?? []).filter((e) => e.severity === 'warning');
  if (warnings.length > 0) throw new Error(`solc warnings:\n${warnings.map((e) => e.formattedMessage).join('\n')}`);

  const version = solc.version() as string;
  return Object.keys(sources).flatMap((sourceName) =>
    Object.entries(output.contracts?.[sourceName] ?? {}).map(([contractName, c]) => ({
      contractName,
      sourceName,
      compiler: { version, settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion } },
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    })),
  );
}

/** The exact text written for an artifact (stable key order, trailing newline). */
export function serializeArtifact(artifact: ContractArtifact): string {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

function main(): void {
  const started = process.hrtime.bigint();
  const artifacts = compileContracts();
  mkdirSync(artifactsDir, { recursive: true });
  const written = new Set(artifacts.map((a) => `${a.contractName}.json`));
  // An artifact whose contract was deleted or renamed must not linger and still be loadable.
  for (const old of readdirSync(artifactsDir)) if (old.endsWith('.json') && !written.has(old)) rmSync(join(artifactsDir, old));
  for (const artifact of artifacts) writeFileSync(join(artifactsDir, `${artifact.contractName}.json`), serializeArtifact(artifact));
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
  console.log(`compiled ${artifacts.map((a) => a.contractName).join(', ')} with solc ${solc.version()} in ${ms} ms`);
}

if (require.main === module) main();
