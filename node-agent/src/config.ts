/**
 * The agent's one config file, `<agent dir>/agent.json`: written by `weai-agent init` with the
 * safe defaults, read by `weai-agent start` (flags and environment override it). Validation
 * collects every problem and names each field, as the policy settings do.
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { EthAddress } from '@weai/contracts';
import { DEFAULT_POLICY, type OwnerSettings, validateSettings } from './policy/settings';

/** Everything an owner can set. Every field but `payoutAddress` has a default. */
export interface AgentFileConfig {
  /** Where the owner is paid: a 0x-prefixed 20-byte hex address. */
  readonly payoutAddress: string;
  /** NATS servers of the WE-AI network. */
  readonly nats: readonly string[];
  /**
   * PEM file of the CA that signed the network's server certificate (from the operator); TLS is
   * then required and the server verified against it. null: TLS only for `tls://` servers, verified
   * against the system's CAs.
   */
  readonly natsCa: string | null;
  /** CPU shards run at once. */
  readonly slots: number;
  /** Shards run at once on each GPU (with CUDA). */
  readonly gpuSlots: number;
  /** Heartbeat period, ms. */
  readonly heartbeatMs: number;
  /** Lease on a shard before it is given to another node, ms. */
  readonly leaseMs: number;
  /** How often the owner-first policy samples the GPUs and decides, ms (at most 500: the 1 s yield promise). */
  readonly policyIntervalMs: number;
  /** Port of the local status page and control endpoint on 127.0.0.1; 0 for any free port. */
  readonly statusPort: number;
  /** nvidia-smi to use instead of NVML and the one on the PATH (a path), or null for automatic detection. */
  readonly nvidiaSmi: string | null;
  /** A shard running longer is stopped and reported as failed (another node may retry it), seconds. */
  readonly shardTimeoutSeconds: number;
  /** Models larger than this are refused, MiB. */
  readonly maxModelMb: number;
  /** Power assumed for the CPU while it runs shards, W (the CPU reports none); for the cost estimate. */
  readonly cpuPowerW: number;
  /** The owner-first policy (see docs/agent-gpu-policy.md). */
  readonly policy: OwnerSettings;
}

/** The defaults `init` writes (everything but the payout address). */
export const DEFAULT_AGENT_CONFIG: Omit<AgentFileConfig, 'payoutAddress'> = {
  nats: ['nats://127.0.0.1:4222'],
  natsCa: null,
  slots: 1,
  gpuSlots: 1,
  heartbeatMs: 10_000,
  leaseMs: 15_000,
  policyIntervalMs: 250,
  statusPort: 47474,
  nvidiaSmi: null,
  shardTimeoutSeconds: 600,
  maxModelMb: 1024,
  cpuPowerW: 65,
  policy: DEFAULT_POLICY,
};

/** The config file's name in the agent folder. */
export const CONFIG_FILE = 'agent.json';

/** A config that {@link parseAgentConfig} refused, with every problem found. */
export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
  constructor(
    /** One message per bad field, e.g. `slots must be an integer from 1 to 64 (got 0)`. */
    readonly errors: readonly string[],
    where = 'agent config',
  ) {
    super(`invalid ${where}:\n- ${errors.join('\n- ')}`);
  }
}

type Validation = { readonly ok: true; readonly config: AgentFileConfig } | { readonly ok: false; readonly errors: readonly string[] };

const KEYS = ['payoutAddress', ...Object.keys(DEFAULT_AGENT_CONFIG)] as (keyof AgentFileConfig)[];
const shown = (v: unknown): string => JSON.stringify(v) ?? String(v);

/**
 * Checks a config as read from the file (with overrides applied). Missing fields take
 * {@link DEFAULT_AGENT_CONFIG}'s value, and missing policy settings the policy's defaults;
 * unknown fields are errors, so a typo never silently becomes a default.
 */
export function validateAgentConfig(raw: unknown): Validation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, errors: ['the config must be a JSON object'] };
  const input = raw as Record<string, unknown>;
  const errors: string[] = [];
  for (const key of Object.keys(input)) if (!(KEYS as string[]).includes(key)) errors.push(`unknown field "${key}"`);
  const get = (key: keyof AgentFileConfig): unknown => (key in input ? input[key] : (DEFAULT_AGENT_CONFIG as Record<string, unknown>)[key]);
  const int = (key: keyof AgentFileConfig, min: number, max: number, what = ''): void => {
    const v = get(key);
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) errors.push(`${key} must be an integer from ${min} to ${max}${what} (got ${shown(v)})`);
  };

  const payout = get('payoutAddress');
  if (payout === undefined) errors.push('payoutAddress is required: the 0x… address the owner is paid at');
  else if (!EthAddress.safeParse(payout).success) errors.push(`payoutAddress must be a 0x-prefixed 20-byte hex address (got ${shown(payout)})`);
  const nats = get('nats');
  if (!Array.isArray(nats) || nats.length === 0 || !nats.every((u) => typeof u === 'string' && /^(nats|tls|wss?):\/\/[^\s]+$/.test(u))) {
    errors.push(`nats must be a non-empty list of server URLs such as "nats://host:4222" (got ${shown(nats)})`);
  }
  const natsCa = get('natsCa');
  if (natsCa !== null && (typeof natsCa !== 'string' || natsCa.length === 0)) errors.push(`natsCa must be the path of the network's CA certificate (PEM), or null (got ${shown(natsCa)})`);
  int('slots', 1, 64);
  int('gpuSlots', 1, 16);
  int('heartbeatMs', 100, 60_000, ' ms');
  int('leaseMs', 500, 600_000, ' ms');
  int('policyIntervalMs', 50, 500, ' ms (the owner gets the GPU back within 1 s only when it is sampled at least every 500 ms)');
  int('statusPort', 0, 65_535, ' (0: any free port)');
  int('shardTimeoutSeconds', 1, 86_400, ' s');
  int('maxModelMb', 1, 65_536, ' MiB');
  const cpuPowerW = get('cpuPowerW');
  if (typeof cpuPowerW !== 'number' || !Number.isFinite(cpuPowerW) || cpuPowerW < 0 || cpuPowerW > 2000) errors.push(`cpuPowerW must be a number from 0 to 2000 W (got ${shown(cpuPowerW)})`);
  const smi = get('nvidiaSmi');
  if (smi !== null && (typeof smi !== 'string' || smi.length === 0)) errors.push(`nvidiaSmi must be the path of an nvidia-smi executable, or null for automatic detection (got ${shown(smi)})`);

  const policy = validateSettings(get('policy'));
  if (!policy.ok) errors.push(...policy.errors.map(policyError));
  if (errors.length || !policy.ok) return { ok: false, errors };
  return { ok: true, config: { ...(Object.fromEntries(KEYS.map((k) => [k, get(k)])) as unknown as AgentFileConfig), policy: policy.settings } };
}

function policyError(message: string): string {
  if (message === 'settings must be an object') return 'policy must be an object of owner settings';
  const unknown = /^unknown setting "(.*)"$/.exec(message);
  return unknown ? `unknown field "policy.${unknown[1]}"` : `policy.${message}`;
}

/** {@link validateAgentConfig}, throwing {@link AgentConfigError} (naming `where`, e.g. the file). */
export function parseAgentConfig(raw: unknown, where?: string): AgentFileConfig {
  const result = validateAgentConfig(raw);
  if (!result.ok) throw new AgentConfigError(result.errors, where);
  return result.config;
}

/** Reads a config file as raw JSON (validate after applying overrides). Throws with the path on a missing or malformed file. */
export function readAgentConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AgentConfigError([`cannot read it: ${(error as Error).message}`], path);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AgentConfigError([`not valid JSON: ${(error as Error).message}`], path);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AgentConfigError(['the config must be a JSON object'], path);
  return raw as Record<string, unknown>;
}

/** Writes a config file readable by the owner only. Refuses to replace one unless `overwrite`. */
export function writeAgentConfigFile(path: string, config: AgentFileConfig, overwrite = false): void {
  const text = `${JSON.stringify(config, null, 2)}\n`;
  if (!overwrite) {
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } else {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path);
  }
  chmodSync(path, 0o600);
}

/** Sets `policy.paused` in a config file, keeping everything else as it is (what `pause`/`resume` persist). */
export function persistPaused(path: string, paused: boolean): void {
  const raw = readAgentConfigFile(path);
  const policy = typeof raw['policy'] === 'object' && raw['policy'] !== null && !Array.isArray(raw['policy']) ? (raw['policy'] as Record<string, unknown>) : {};
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...raw, policy: { ...policy, paused } }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  chmodSync(path, 0o600);
}

/**
 * The config `start` runs with: the file's fields (if there is a file), overridden by `overrides`
 * (from flags and the environment, already mapped to field names). Validated as a whole, so an
 * error names the field whichever source set it.
 */
export function mergeAgentConfig(file: Record<string, unknown> | undefined, overrides: Record<string, unknown>, where?: string): AgentFileConfig {
  const set = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseAgentConfig({ ...(file ?? {}), ...set }, where);
}

/** The command-line options that set config fields (flag names without the dashes). */
export interface ConfigFlags {
  readonly payout?: string;
  readonly nats?: string;
  readonly 'nats-ca'?: string;
  readonly slots?: string;
  readonly 'gpu-slots'?: string;
  readonly 'heartbeat-ms'?: string;
  readonly 'lease-ms'?: string;
  readonly 'status-port'?: string;
  readonly 'nvidia-smi'?: string;
  readonly 'shard-timeout-s'?: string;
  readonly 'max-model-mb'?: string;
}

/** "12" → 12; anything else stays a string, so that validation shows it as it was given. */
const numeric = (v: string | undefined): number | string | undefined => (v === undefined ? undefined : /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v);

/**
 * Config fields set by flags or, failing a flag, by the environment (`NATS_URL`, `NATS_TLS_CA`,
 * `WEAI_PAYOUT_ADDRESS`, `WEAI_NVIDIA_SMI`; empty counts as unset); undefined where neither says
 * anything.
 */
export function overridesFrom(flags: ConfigFlags, env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const fromEnv = (name: string) => env[name] || undefined; // set but empty is unset
  const nats = flags.nats ?? fromEnv('NATS_URL');
  return {
    payoutAddress: flags.payout ?? fromEnv('WEAI_PAYOUT_ADDRESS'),
    nats: nats?.split(',').map((u) => u.trim()),
    natsCa: flags['nats-ca'] ?? fromEnv('NATS_TLS_CA'),
    slots: numeric(flags.slots),
    gpuSlots: numeric(flags['gpu-slots']),
    heartbeatMs: numeric(flags['heartbeat-ms']),
    leaseMs: numeric(flags['lease-ms']),
    statusPort: numeric(flags['status-port']),
    nvidiaSmi: flags['nvidia-smi'] ?? fromEnv('WEAI_NVIDIA_SMI'),
    shardTimeoutSeconds: numeric(flags['shard-timeout-s']),
    maxModelMb: numeric(flags['max-model-mb']),
  };
}
