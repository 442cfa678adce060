import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

/** Every variable name WE-AI code reads from the environment, found in the sources. */
export function variablesReadByCode(): Set<string> {
  const names = new Set<string>();
  const patterns = [
    /env\[['"]([A-Z][A-Z0-9_]*)['"]\]/g,
    /env\.([A-Z][A-Z0-9_]*)\b/g,
    /fromEnv\(['"]([A-Z][A-Z0-9_]*)['"]/g,
    /\(env, ['"]([A-Z][A-Z0-9_]*)['"]/g,
    /\$\{([A-Z][A-Z0-9_]*)(?::-[^}]*)?\}/g, // shell scripts
  ];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      if (entry === 'node_modules' || entry === 'test' || entry.startsWith('.')) continue;
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|js|sh)$/.test(entry)) {
        const text = readFileSync(path, 'utf8');
        for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
      }
    }
  };
  for (const dir of ['libs', 'services', 'node-agent/src', 'deploy/services']) walk(join(ROOT, dir));
  return names;
}
