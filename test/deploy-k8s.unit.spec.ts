/**
 * deploy/k8s checked offline: every manifest against the Kubernetes schemas and the KEDA CRDs
 * (deploy/k8s/validate.mjs, a child process because kubernetes-models ships ES modules only), and
 * what a schema cannot see: probes on declared ports, limits, references to ConfigMaps, Secrets and
 * volumes that exist, variables the code reads, and scaling rules on consumers and streams that exist.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { streamConfigs } from '@weai/messaging';
import { variablesReadByCode } from './deploy.helpers';

const ROOT = join(__dirname, '..');
const K8S = join(ROOT, 'deploy/k8s');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}
interface Container {
  name: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  volumes?: Array<{ name: string; secret?: { secretName: string; items?: Array<{ key: string }> }; emptyDir?: object }>;
}

const load = (file: string): K8sObject[] =>
  parseAllDocuments(readFileSync(join(K8S, file), 'utf8'))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
const manifests = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'nats-values.yaml' && f !== 'kustomization.yaml');
const all = manifests.flatMap((file) => load(file).map((o) => ({ file, o })));
const byKind = (kind: string) => all.filter(({ o }) => o.kind === kind).map(({ o }) => o);
const deployments = byKind('Deployment');
const configMaps = new Map(byKind('ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
const secrets = new Map(byKind('Secret').map((s) => [s.metadata.name, { ...(s.data ?? {}), ...(s.stringData ?? {}) }]));
const podOf = (d: K8sObject) => (d.spec as { template: { spec: PodSpec } }).template.spec;

describe('deploy/k8s (offline)', () => {
  it('every manifest is valid against the Kubernetes schemas and the KEDA CRDs', () => {
    const run = spawnSync(process.execPath, [join(K8S, 'validate.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { objects: unknown[]; errors: unknown[] };
    expect(result.errors).toEqual([]);
    expect(run.status).toBe(0);
    expect(result.objects.length).toBe(all.length);
  });

  it('the validator catches a broken manifest', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Deployment } from 'kubernetes-models/apps/v1';
         try { new Deployment({ metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'a', ports: [{ containerPort: 'http' }] }] } } } }).validate(); console.log('accepted'); }
         catch (e) { console.log('refused: ' + e.message); }`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(run.stdout).toMatch(/^refused: .*containerPort must be integer/);
  });

  it('runs every service as a Deployment of two or more replicas with probes on declared ports and resource limits', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['gateway', 'nodes', 'resources', 'rewards', 'scheduler']);
    for (const d of deployments) {
      const name = d.metadata.name;
      expect((d.spec as { replicas: number }).replicas).toBeGreaterThanOrEqual(2);
      const [c] = podOf(d).containers;
      expect(c!.args).toEqual([name]);
      expect(existsSync(join(ROOT, 'services', name, 'src/main.ts'))).toBe(true);
      const ports = new Set((c!.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
      for (const probe of [c!.readinessProbe, c!.livenessProbe]) {
        expect(probe).toBeDefined();
        const port = probe!.httpGet?.port ?? probe!.tcpSocket?.port;
        expect({ name, port, declared: ports.has(port as string) }).toEqual({ name, port, declared: true });
      }
      // NATS-only services: the health server of libs/runtime (WEAI_HEALTH_PORT); the gateway: its HTTP port.
      if (name === 'gateway') expect(c!.readinessProbe!.httpGet?.path).toBe('/healthz');
      else {
        expect(c!.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'health' });
        expect(c!.livenessProbe!.httpGet).toEqual({ path: '/livez', port: 'health' });
        expect(c!.ports).toEqual([{ name: 'health', containerPort: Number(configMaps.get('weai-config')!['WEAI_HEALTH_PORT']) }]);
      }
      expect(Object.keys(c!.resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(c!.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
      // A disruption budget keeps one replica of each up during node drains.
      expect(byKind('PodDisruptionBudget').map((p) => p.metadata.name)).toContain(name);
    }
  });

  it('references only ConfigMaps, Secrets, keys and volumes that exist, and variables the code reads', () => {
    const known = variablesReadByCode();
    for (const d of deployments) {
      const pod = podOf(d);
      const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
      for (const c of pod.containers) {
        const names: string[] = [];
        for (const from of c.envFrom ?? []) {
          const map = from.configMapRef ? configMaps.get(from.configMapRef.name) : undefined;
          expect({ deployment: d.metadata.name, configMap: from.configMapRef?.name, exists: !!map }).toEqual({ deployment: d.metadata.name, configMap: from.configMapRef?.name, exists: true });
          names.push(...Object.keys(map ?? {}));
        }
        for (const e of c.env ?? []) {
          names.push(e.name);
          const secretRef = e.valueFrom?.secretKeyRef;
          if (secretRef) expect({ secret: secretRef.name, key: secretRef.key, exists: secrets.get(secretRef.name)?.[secretRef.key] !== undefined }).toEqual({ secret: secretRef.name, key: secretRef.key, exists: true });
          const mapRef = e.valueFrom?.configMapKeyRef;
          if (mapRef) expect(configMaps.get(mapRef.name)?.[mapRef.key]).toBeDefined();
        }
        for (const variable of names) expect({ deployment: d.metadata.name, variable, read: known.has(variable) }).toEqual({ deployment: d.metadata.name, variable, read: true });
        for (const m of c.volumeMounts ?? []) {
          const v = volumes.get(m.name);
          expect({ mount: m.name, declared: !!v }).toEqual({ mount: m.name, declared: true });
          if (v?.secret) {
            expect(secrets.has(v.secret.secretName)).toBe(true);
            for (const item of v.secret.items ?? []) expect(secrets.get(v.secret.secretName)![item.key]).toBeDefined();
          }
        }
        // Files the environment names are mounted (secret files under /run/secrets).
        for (const e of c.env ?? []) {
          if (e.value?.startsWith('/run/secrets/')) expect({ variable: e.name, mounted: (c.volumeMounts ?? []).some((m) => e.value!.startsWith(`${m.mountPath}/`)) }).toEqual({ variable: e.name, mounted: true });
        }
      }
    }
    expect(configMaps.get('weai-config')).toMatchObject({ WEAI_STREAM_REPLICAS: '3', WEAI_LEADER_ELECTION: 'on' });
  });

  it('scales on the lag of consumers and streams that exist, through the NATS chart headless service', () => {
    const sources = ['services/scheduler/src', 'services/rewards/src', 'services/nodes/src']
      .flatMap((dir) => readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(ROOT, dir, f), 'utf8')))
      .join('\n');
    const streams = new Set(streamConfigs(3).map((s) => s.name));
    const values = parse(readFileSync(join(K8S, 'nats-values.yaml'), 'utf8')) as { config: { monitor: { port: number } } };
    const scaled = byKind('ScaledObject');
    expect(scaled.length).toBeGreaterThan(0);
    for (const so of scaled) {
      const spec = so.spec as { scaleTargetRef: { name: string }; minReplicaCount: number; triggers: Array<{ type: string; metadata: Record<string, string> }> };
      expect(deployments.map((d) => d.metadata.name)).toContain(spec.scaleTargetRef.name);
      expect(spec.minReplicaCount).toBeGreaterThanOrEqual(2);
      for (const t of spec.triggers) {
        expect(t.type).toBe('nats-jetstream');
        expect(streams.has(t.metadata['stream']!)).toBe(true);
        expect({ consumer: t.metadata['consumer'], inCode: sources.includes(`durable: '${t.metadata['consumer']}'`) }).toEqual({ consumer: t.metadata['consumer'], inCode: true });
        expect(t.metadata['natsServerMonitoringEndpoint']).toBe(`nats-headless.weai.svc.cluster.local:${values.config.monitor.port}`);
        expect(Number(t.metadata['lagThreshold'])).toBeGreaterThan(0);
      }
    }
  });

  it('runs NATS as a 3-server JetStream cluster with file storage through the official chart values', () => {
    const values = parse(readFileSync(join(K8S, 'nats-values.yaml'), 'utf8')) as {
      config: { cluster: { enabled: boolean; replicas: number }; jetstream: { enabled: boolean; fileStore: { enabled: boolean; pvc: { enabled: boolean } } }; monitor: { enabled: boolean } };
      service: { ports: { monitor: { enabled: boolean } } };
    };
    expect(values.config.cluster).toEqual({ enabled: true, replicas: 3 });
    expect(values.config.jetstream.enabled).toBe(true);
    expect(values.config.jetstream.fileStore.enabled).toBe(true);
    expect(values.config.jetstream.fileStore.pvc.enabled).toBe(true);
    expect(values.config.monitor.enabled).toBe(true);
    expect(Number(configMaps.get('weai-config')!['WEAI_STREAM_REPLICAS'])).toBeLessThanOrEqual(values.config.cluster.replicas);
  });

  it('kustomization.yaml applies every manifest but the secrets example', () => {
    const k = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { namespace: string; resources: string[] };
    expect(k.namespace).toBe('weai');
    expect([...k.resources].sort()).toEqual(manifests.filter((f) => f !== 'secrets.example.yaml').sort());
  });
});
