#!/usr/bin/env node
// Validates every Kubernetes manifest in this folder offline against the Kubernetes schemas
// (kubernetes-models) and the KEDA CRDs (@kubernetes-models/keda); no cluster needed.
//   node deploy/k8s/validate.mjs      → one JSON line: { objects: [{ file, kind, name }], errors: [...] }; exit 1 on any error
// ES module because kubernetes-models ships ES modules only (test/deploy-k8s.unit.spec.ts runs it as a child).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { parseAllDocuments } from 'yaml';

const dir = dirname(fileURLToPath(import.meta.url));
// Not Kubernetes objects: Helm values and kustomize's own file (checked by the spec).
const NOT_OBJECTS = new Set(['nats-values.yaml', 'kustomization.yaml']);

/** The module that models an apiVersion: core `v1`, `apps/v1`, `policy/v1`, KEDA's `keda.sh/v1alpha1`… */
function modelModule(apiVersion) {
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

const objects = [];
const errors = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') && !NOT_OBJECTS.has(f)).sort()) {
  // Kubernetes reads YAML 1.1 (0400 is octal there, decimal in 1.2): refuse the ambiguity.
  const text = readFileSync(join(dir, file), 'utf8');
  if (/:\s+0[0-7]+\b/.test(text)) errors.push({ file, error: 'a number with a leading zero reads differently in YAML 1.1 and 1.2: write it in decimal' });
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      errors.push({ file, error: doc.errors.map((e) => e.message).join('; ') });
      continue;
    }
    const object = doc.toJS();
    if (object === null) continue;
    const where = { file, kind: object.kind, name: object.metadata?.name };
    if (!object.apiVersion || !object.kind) {
      errors.push({ ...where, error: 'apiVersion and kind are required' });
      continue;
    }
    let Model;
    try {
      Model = (await import(modelModule(object.apiVersion)))[object.kind];
    } catch {
      Model = undefined;
    }
    if (typeof Model !== 'function') {
      errors.push({ ...where, error: `no schema for ${object.apiVersion} ${object.kind}` });
      continue;
    }
    try {
      new Model(object).validate();
      objects.push(where);
    } catch (error) {
      errors.push({ ...where, error: error.message });
    }
  }
}
process.stdout.write(`${JSON.stringify({ objects, errors })}\n`);
process.exit(errors.length > 0 ? 1 : 0);
