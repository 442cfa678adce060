import { closeSync, existsSync, openSync, readFileSync, readSync, unwatchFile, watchFile } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startTelemetry } from '@weai/messaging/src/telemetry';
import { startAgent } from './agent';
import { type AgentFileConfig, CONFIG_FILE, DEFAULT_AGENT_CONFIG, mergeAgentConfig, overridesFrom, readAgentConfigFile, writeAgentConfigFile } from './config';
import { callAgent } from './control/client';
import { renderStatusText } from './control/status';
import { loadOrCreateIdentity } from './identity';
import { enrolmentClasses, systemFromDetection } from './capabilities';
import { isAuthRefusal, refusalMessage } from './bus';
import { GpuTelemetry } from './gpu/telemetry';
import { nodeIdOf } from '@weai/contracts';

const USAGE = `usage: weai-agent <command> [options]

commands:
  init     create the node key and the config file <dir>/${CONFIG_FILE} (needs --payout); prints the
           node's public key and capability classes, which its owner enrols at the gateway
  start    run the agent (reads <dir>/${CONFIG_FILE} when it exists; options override it)
  status   what the running agent does: GPUs, policy decision, shards, electricity cost
  pause    hand back all work now and take none until resume (saved in the config file)
  resume   take work again
  logs     print the end of the agent's log (-f: keep following it)

options:
  --dir DIR           the agent's folder: key, config, log (env WEAI_AGENT_DIR; default ~/.weai-agent)
  --config FILE       config file (default <dir>/${CONFIG_FILE})
  --payout 0xADDRESS  where the owner is paid (env WEAI_PAYOUT_ADDRESS)
  --nats URL[,URL]    servers of the WE-AI network (env NATS_URL; default ${DEFAULT_AGENT_CONFIG.nats.join(',')})
  --nats-ca FILE      the network's CA certificate (PEM): TLS required, server verified against it (env NATS_TLS_CA)
  --gateway URL       init: enrol the node key at this gateway now (with --owner-token)
  --owner-token T     init: the owner's sign-in token from the gateway (env WEAI_OWNER_TOKEN)
  --slots N           CPU shards at once (default ${DEFAULT_AGENT_CONFIG.slots})
  --gpu-slots N       shards at once per GPU with CUDA (default ${DEFAULT_AGENT_CONFIG.gpuSlots})
  --heartbeat-ms N    heartbeat period (default ${DEFAULT_AGENT_CONFIG.heartbeatMs})
  --lease-ms N        lease on a shard before it is given to another node (default ${DEFAULT_AGENT_CONFIG.leaseMs})
  --status-port N     local status page on 127.0.0.1 (0: any free port; default ${DEFAULT_AGENT_CONFIG.statusPort})
  --nvidia-smi PATH   use this nvidia-smi for GPU telemetry instead of NVML (env WEAI_NVIDIA_SMI)
  --shard-timeout-s N stop a shard after N seconds (default ${DEFAULT_AGENT_CONFIG.shardTimeoutSeconds})
  --max-model-mb N    refuse larger models (default ${DEFAULT_AGENT_CONFIG.maxModelMb})
  --force             init: replace an existing config file
  --json              status: print JSON
  -n N                logs: lines to print (default 50)
  -f, --follow        logs: keep printing new lines
  --verbose           log every shard

See docs/agent.md.`;

const OPTIONS = {
  dir: { type: 'string' },
  config: { type: 'string' },
  payout: { type: 'string' },
  nats: { type: 'string' },
  'nats-ca': { type: 'string' },
  gateway: { type: 'string' },
  'owner-token': { type: 'string' },
  slots: { type: 'string' },
  'gpu-slots': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'lease-ms': { type: 'string' },
  'status-port': { type: 'string' },
  'nvidia-smi': { type: 'string' },
  'shard-timeout-s': { type: 'string' },
  'max-model-mb': { type: 'string' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  n: { type: 'string', short: 'n' },
  follow: { type: 'boolean', short: 'f' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function agentDir(values: Values): string {
  return resolve(values.dir ?? (process.env['WEAI_AGENT_DIR'] || join(homedir(), '.weai-agent')));
}

/** Enrols the node key at the gateway as its owner (`POST /v1/owner/nodes`); returns the gateway's answer. */
async function enrol(gateway: string, token: string, publicKey: string, capabilityClasses: string[]): Promise<{ nodeId: string; capabilityClasses: string[] }> {
  const url = new URL('/v1/owner/nodes', gateway);
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ publicKey, capabilityClasses }) });
  const body = (await response.json().catch(() => ({}))) as { nodeId: string; capabilityClasses: string[]; error?: { message?: string } };
  if (!response.ok) {
    throw new Error(
      `the gateway at ${url.origin} refused the enrolment (${response.status}): ${body.error?.message ?? response.statusText}. ` +
        'The node key and the config file are written: run init again with --force and a fresh --owner-token, or enrol the key by hand (docs/agent.md "Enrolment")',
    );
  }
  return body;
}

async function init(values: Values): Promise<void> {
  const dir = agentDir(values);
  const path = resolve(values.config ?? join(dir, CONFIG_FILE));
  const overrides = overridesFrom(values, process.env);
  if (overrides['payoutAddress'] === undefined) throw new Error('init needs the address you are paid at: weai-agent init --payout 0x…');
  const merged = mergeAgentConfig({}, overrides, 'settings');
  const config = { ...merged, natsCa: merged.natsCa && resolve(merged.natsCa) };
  const token = values['owner-token'] ?? (process.env['WEAI_OWNER_TOKEN'] || undefined);
  if (values.gateway && !token) throw new Error('--gateway needs the owner\'s sign-in token: --owner-token (or WEAI_OWNER_TOKEN); see docs/agent.md "Enrolment"');
  if (existsSync(path) && !values.force) throw new Error(`${path} already exists: edit it, or run init with --force to replace it`);
  const identity = loadOrCreateIdentity(dir);
  writeAgentConfigFile(path, config, values.force ?? false);
  const telemetry = await GpuTelemetry.open(config.nvidiaSmi ? { nvmlLibraryPaths: [], nvidiaSmiCommands: [config.nvidiaSmi] } : {});
  const classes = enrolmentClasses(systemFromDetection(telemetry.detection));
  await telemetry.close();
  const enrolment = `{"publicKey":"${identity.publicKey}","capabilityClasses":${JSON.stringify(classes)}}`;
  const enrolled = values.gateway && token ? await enrol(values.gateway, token, identity.publicKey, classes) : undefined;
  const out = [
    `${identity.created ? 'created the node key' : 'kept the existing node key'} in ${join(dir, 'node.nk')} (readable by you only; it is this node's identity: back it up)`,
    `wrote ${path} (readable by you only): payout ${config.payoutAddress}, network ${config.nats.join(',')}, ${config.slots} CPU slot(s), status page port ${config.statusPort}`,
    `the owner-first policy uses the safe defaults (see "policy" in the file and docs/agent.md); set "tariffPerKwh" and "currency" to your electricity price`,
    `node key ${identity.publicKey} (node id ${nodeIdOf(identity.publicKey)}); capability classes ${classes.join(', ')}`,
    enrolled
      ? `enrolled at ${values.gateway}: node ${enrolled.nodeId} may pull ${enrolled.capabilityClasses.join(', ')}`
      : `on a network that requires enrolment, the owner enrols this key once: sign in at the gateway, then POST /v1/owner/nodes ${enrolment} (or run init again with --gateway URL --owner-token T --force); see docs/agent.md`,
    `start the agent with: weai-agent start --dir ${dir}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

async function start(values: Values): Promise<void> {
  const dir = agentDir(values);
  const path = resolve(values.config ?? join(dir, CONFIG_FILE));
  const hasFile = existsSync(path);
  if (values.config && !hasFile) throw new Error(`no config file at ${path}`);
  const overrides = overridesFrom(values, process.env);
  if (!hasFile && overrides['payoutAddress'] === undefined) {
    throw new Error(`no config file at ${path}: run "weai-agent init --dir ${dir} --payout 0x…" first, or pass --payout`);
  }
  const config: AgentFileConfig = mergeAgentConfig(hasFile ? readAgentConfigFile(path) : undefined, overrides, hasFile ? path : 'options');
  const logFile = join(dir, 'agent.log');
  // Before the agent connects, so that its work is traced from the first shard (OTEL_* variables; off by default).
  const telemetry = startTelemetry('weai-agent');
  const agent = await startAgent({
    natsServers: [...config.nats],
    ...(config.natsCa ? { natsCa: resolve(config.natsCa) } : {}),
    dataDir: dir,
    payoutAddress: config.payoutAddress,
    heartbeatMs: config.heartbeatMs,
    slots: config.slots,
    gpuSlots: config.gpuSlots,
    leaseMs: config.leaseMs,
    policy: config.policy,
    policyIntervalMs: config.policyIntervalMs,
    statusPort: config.statusPort,
    shardTimeoutMs: config.shardTimeoutSeconds * 1000,
    maxModelBytes: config.maxModelMb * 1024 * 1024,
    cpuPowerW: config.cpuPowerW,
    ...(config.nvidiaSmi ? { gpu: { nvmlLibraryPaths: [], nvidiaSmiCommands: [config.nvidiaSmi] } } : {}),
    ...(hasFile ? { configFile: path } : {}),
    logFile,
    verbose: values.verbose ?? false,
  });
  // Whatever a bad shard or a broken connection throws where nobody awaits it, the agent goes on.
  process.on('unhandledRejection', (error) => process.stderr.write(`weai-agent: unexpected error (continuing): ${String((error as Error)?.stack ?? error)}\n`));
  const shutdown = () => {
    void agent
      .stop()
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  // Revoked while running: the server cuts the connection and refuses the reconnects; say so and stop.
  void agent.nc.closed().then((error) => {
    if (!error) return;
    const publicKey = loadOrCreateIdentity(dir).publicKey;
    process.stderr.write(`weai-agent: ${isAuthRefusal(error) ? refusalMessage(publicKey, config.nats, error.message) : `lost the WE-AI network: ${error.message}`}\n`);
    // Stopping hands back leases over a connection that is gone: bounded, the exit code is what matters.
    void Promise.race([agent.stop(), new Promise((r) => setTimeout(r, 5000))]).finally(() => process.exit(1));
  });
}

async function status(values: Values): Promise<void> {
  const s = await callAgent(agentDir(values), 'GET', '/api/status');
  process.stdout.write(`${values.json ? JSON.stringify(s, null, 2) : renderStatusText(s)}\n`);
}

async function pauseOrResume(values: Values, pause: boolean): Promise<void> {
  const s = await callAgent(agentDir(values), 'POST', pause ? '/api/pause' : '/api/resume');
  const head = pause ? 'paused: the agent handed back its work and takes none until "weai-agent resume"' : 'resumed';
  process.stdout.write(`${head}\nstate: ${s.paused ? 'paused' : s.allowsWork ? 'working' : 'not taking work'}: ${s.reason}\n`);
}

async function logs(values: Values): Promise<void> {
  const file = join(agentDir(values), 'agent.log');
  if (!existsSync(file)) throw new Error(`no log at ${file} yet (the agent writes it once started)`);
  const count = Number(values.n ?? 50);
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`-n must be a whole number (got ${JSON.stringify(values.n)})`);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (count > 0) process.stdout.write(`${lines.slice(-count).join('\n')}\n`);
  if (!values.follow) return;
  let offset = Buffer.byteLength(text);
  await new Promise<void>((done) => {
    watchFile(file, { interval: 500 }, (cur) => {
      if (cur.size < offset) offset = 0; // rotated
      if (cur.size === offset) return;
      const fd = openSync(file, 'r');
      try {
        const buf = Buffer.alloc(cur.size - offset);
        readSync(fd, buf, 0, buf.length, offset);
        offset = cur.size;
        process.stdout.write(buf);
      } finally {
        closeSync(fd);
      }
    });
    process.once('SIGINT', () => {
      unwatchFile(file);
      done();
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [command] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  switch (command) {
    case 'init':
      return init(values);
    case 'start':
      return start(values);
    case 'status':
      return status(values);
    case 'pause':
      return pauseOrResume(values, true);
    case 'resume':
      return pauseOrResume(values, false);
    case 'logs':
      return logs(values);
    default:
      throw new Error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`weai-agent: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
