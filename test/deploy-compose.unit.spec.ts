/**
 * docker-compose.yml checked offline (no Docker engine here): every service has an image or a
 * build whose Dockerfile exists, every volume, secret, network and depends_on target is declared,
 * and the environment given to WE-AI's own processes is read by their code and passes their
 * validation (serviceConfigFromEnv and friends), so a renamed variable breaks CI, not a user's deploy.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type EventFamily } from '@weai/contracts';
import { healthPortFromEnv, leadershipConfigFromEnv, serviceConfigFromEnv } from '@weai/runtime';
import { variablesReadByCode } from './deploy.helpers';

const ROOT = join(__dirname, '..');

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: Array<string | { type?: string; source?: string; target: string }>;
  secrets?: Array<string | { source: string }>;
  networks?: string[] | Record<string, unknown>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: string[];
  profiles?: string[];
  deploy?: { replicas?: number; resources?: { limits?: Record<string, unknown> } };
  healthcheck?: { test: string[] };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string }>;
  networks?: Record<string, unknown>;
}

const envOf = (s: ComposeService): Record<string, string> => {
  if (Array.isArray(s.environment)) return Object.fromEntries(s.environment.map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
};


/** Compose's `${VAR:-default}` interpolation, with the defaults (what a user without a .env gets). */
const interpolate = (value: string) => value.replace(/\$\{([A-Z0-9_]+):-([^}]*)\}/g, (_, __, d: string) => d);

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);
const weaiServices = services.filter(([, s]) => s.image === 'weai-services:dev');
const FAMILIES: Record<string, EventFamily | undefined> = { nodes: 'nodes', scheduler: 'jobs', resources: undefined, rewards: 'rewards', security: 'security' };

describe('docker-compose.yml (offline)', () => {
  it('gives every service an image or a build whose context and Dockerfile exist', () => {
    for (const [name, s] of services) {
      expect({ name, ok: !!(s.image || s.build) }).toEqual({ name, ok: true });
      if (s.build) {
        const build = typeof s.build === 'string' ? { context: s.build } : s.build;
        expect(existsSync(join(ROOT, build.context ?? '.'))).toBe(true);
        expect({ name, dockerfile: existsSync(join(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile')) }).toEqual({ name, dockerfile: true });
      }
    }
  });

  it('declares every named volume, secret and network it uses; bind-mounted files exist', () => {
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) expect({ name, source, exists: existsSync(join(ROOT, source)) }).toEqual({ name, source, exists: true });
        else expect({ name, volume: source, declared: source in (compose.volumes ?? {}) }).toEqual({ name, volume: source, declared: true });
      }
      for (const secret of s.secrets ?? []) {
        const id = typeof secret === 'string' ? secret : secret.source;
        expect({ name, secret: id, declared: id in (compose.secrets ?? {}) }).toEqual({ name, secret: id, declared: true });
      }
      const networks = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});
      for (const n of networks) expect({ name, network: n, declared: n in (compose.networks ?? {}) }).toEqual({ name, network: n, declared: true });
    }
    // Secret files are created by the user (never committed): they must live where git ignores them.
    for (const [id, secret] of Object.entries(compose.secrets ?? {})) {
      expect({ id, file: secret.file }).toEqual({ id, file: expect.stringMatching(/^\.\/deploy\/secrets\/[a-z_]+\.txt$/) });
    }
  });

  it('points every depends_on at a service of the file', () => {
    for (const [name, s] of services) {
      const targets = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const t of targets) expect({ name, dependsOn: t, exists: t in compose.services }).toEqual({ name, dependsOn: t, exists: true });
    }
  });

  it('runs a 3-node NATS cluster routed to itself, and every client is given all three servers', () => {
    const nats = services.filter(([, s]) => s.image?.startsWith('nats:'));
    expect(nats.map(([n]) => n)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    const arg = (s: ComposeService, flag: string) => s.command![s.command!.indexOf(flag) + 1];
    expect(new Set(nats.map(([, s]) => arg(s, '-n'))).size).toBe(3);
    for (const [, s] of nats) {
      expect(arg(s, '--cluster_name')).toBe('weai');
      expect(s.command).toContain('-js');
      for (const [peer] of nats) expect(arg(s, '--routes')).toContain(`nats-route://${peer}:6222`);
    }
    for (const [name, s] of services) {
      const url = envOf(s)['NATS_URL'];
      if (url === undefined) continue;
      expect({ name, url }).toEqual({ name, url: 'nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222' });
    }
  });

  it('runs two replicas of every service, each with a health check, resource limits and the service as its command', () => {
    const expected = ['nodes', 'scheduler', 'resources', 'rewards', 'gateway'];
    expect(weaiServices.map(([n]) => n).sort()).toEqual([...expected].sort());
    for (const [name, s] of weaiServices) {
      expect({ name, replicas: s.deploy?.replicas }).toEqual({ name, replicas: 2 });
      expect(s.healthcheck?.test.join(' ')).toMatch(/127\.0\.0\.1:808[01]\/(readyz|healthz)/);
      expect(s.deploy?.resources?.limits).toBeDefined();
      expect(s.command).toEqual([name]);
      expect(existsSync(join(ROOT, 'services', name, 'src/main.ts'))).toBe(true);
    }
    const script = readFileSync(join(ROOT, 'deploy/services/weai-service.sh'), 'utf8');
    for (const name of expected) expect(script).toContain(name);
    // The gateway is reached through one published port.
    expect(compose.services['gateway-lb']?.ports).toEqual(['8080:8080']);
    expect(compose.services['agent-cpu']).toBeDefined();
    expect(compose.services['agent-gpu']?.profiles).toEqual(['gpu']);
    for (const o of ['otel-collector', 'jaeger', 'prometheus', 'eventstoredb', 'postgres']) expect(compose.services[o]).toBeDefined();
  });

  it("gives WE-AI's processes only variables their code reads, and values their own validation accepts", () => {
    const known = variablesReadByCode();
    for (const [name, s] of [...weaiServices, ['agent-cpu', compose.services['agent-cpu']!] as const, ['agent-gpu', compose.services['agent-gpu']!] as const]) {
      for (const variable of Object.keys(envOf(s))) expect({ name, variable, read: known.has(variable) }).toEqual({ name, variable, read: true });
    }
    for (const [name, s] of weaiServices) {
      if (name === 'gateway') continue;
      const env = Object.fromEntries(Object.entries(envOf(s)).map(([k, v]) => [k, interpolate(v)]));
      const config = serviceConfigFromEnv(env, name, FAMILIES[name]);
      expect(config.natsServers).toHaveLength(3);
      expect(config.streamReplicas).toBe(3);
      expect(leadershipConfigFromEnv(env).enabled).toBe(true);
      expect(healthPortFromEnv(env)).toBe(8081);
      // Two replicas share the event store: never a file inside one container.
      if (FAMILIES[name]) expect({ name, store: config.eventStore.type }).toEqual({ name, store: expect.stringMatching(/^(postgres|eventstoredb)$/) });
    }
  });

  it('documents every variable it interpolates in deploy/compose.env.example', () => {
    const example = readFileSync(join(ROOT, 'deploy/compose.env.example'), 'utf8');
    const raw = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    for (const m of raw.matchAll(/\$\{([A-Z0-9_]+)/g)) expect({ variable: m[1], documented: new RegExp(`^${m[1]}=`, 'm').test(example) }).toEqual({ variable: m[1], documented: true });
  });

  it('the services image copies what exists and starts the service named by the command', () => {
    const dockerfile = readFileSync(join(ROOT, 'deploy/services/Dockerfile'), 'utf8');
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) if (m[1] !== '.') expect({ copy: m[1], exists: existsSync(join(ROOT, m[1]!)) }).toEqual({ copy: m[1], exists: true });
    expect(dockerfile).toMatch(/ENTRYPOINT \["weai-service"\]/);
    expect(statSync(join(ROOT, 'deploy/services/weai-service.sh')).mode & 0o111).not.toBe(0);
  });
});
