import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS_DIR } from '../src';
import { compileContracts, serializeArtifact } from '../scripts/compile';

const REBUILD = 'artifacts are stale: run `npm run build:contracts` and commit libs/chain/artifacts';

describe('committed contract artifacts', () => {
  it('are exactly what solc-js builds from contracts/ now', () => {
    const built = compileContracts();
    const committed = readdirSync(ARTIFACTS_DIR).filter((f) => f.endsWith('.json')).sort();

    expect({ files: committed, hint: REBUILD }).toEqual({ files: built.map((a) => `${a.contractName}.json`).sort(), hint: REBUILD });
    for (const artifact of built) {
      const text = readFileSync(join(ARTIFACTS_DIR, `${artifact.contractName}.json`), 'utf8');
      // Compared as text, hint attached, so the failure says what to do rather than dumping bytecode.
      expect({ contract: artifact.contractName, upToDate: text === serializeArtifact(artifact), hint: REBUILD }).toEqual({
        contract: artifact.contractName,
        upToDate: true,
        hint: REBUILD,
      });
    }
  }, 120_000);
});
