import { closeSync, existsSync, openSync, readFileSync, readSync, unwatchFile, watchFile } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startAgent } from './agent';
import { type AgentFileConfig, CONFIG_FILE, DEFAULT_AGENT_CONFIG, mergeAgentConfig, overridesFrom, readAgentConfigFile, writeAgentConfigFile } from './config';
import { callAgent } from './control/client';
import { renderStatusText } from './control/status';
import { loadOrCreateIdentity } from './identity';

const USAGE = `usage: weai-agent <command> [options]

commands:
  init     create the node key and the config file <dir>/${CONFIG_FILE} (needs --payout)
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

function init(values: Values): void {
  const dir = agentDir(values);
  const path = resolve(values.config ?? join(dir, CONFIG_FILE));
  const overrides = overridesFrom(values, process.env);
  if (overrides['payoutAddress'] === undefined) throw new Error('init needs the address you are paid at: weai-agent init --payout 0x…');
  const config = mergeAgentConfig({}, overrides, 'settings');
  if (existsSync(path) && !values.force) throw new Error(`${path} already exists: edit it, or run init with --force to replace it`);
  const identity = loadOrCreateIdentity(dir);
  writeAgentConfigFile(path, config, values.force ?? false);
  const out = [
    `${identity.created ? 'created the node key' : 'kept the existing node key'} in ${join(dir, 'node.nk')} (readable by you only; it is this node's identity: back it up)`,
    `wrote ${path} (readable by you only): payout ${config.payoutAddress}, network ${config.nats.join(',')}, ${config.slots} CPU slot(s), status page port ${config.statusPort}`,
    `the owner-first policy uses the safe defaults (see "policy" in the file and docs/agent.md); set "tariffPerKwh" and "currency" to your electricity price`,
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
  const agent = await startAgent({
    natsServers: [...config.nats],
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
    void agent.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
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
