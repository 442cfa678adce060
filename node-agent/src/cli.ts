import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAgent } from './agent';

const USAGE = `usage: weai-agent start [--nats URL] [--dir DIR] [--payout 0xADDRESS] [--heartbeat-ms N] [--slots N] [--lease-ms N] [--verbose]

  --nats          NATS servers of the WE-AI network (env NATS_URL; default nats://127.0.0.1:4222)
  --dir           where the node key and state live (env WEAI_AGENT_DIR; default ~/.weai-agent)
  --payout        address the owner is paid at (env WEAI_PAYOUT_ADDRESS)
  --heartbeat-ms  heartbeat period (default 10000)
  --slots         shards run at once (default 1)
  --lease-ms      lease on a shard before it is given to another node (default 15000)
  --verbose       log every shard`;

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      nats: { type: 'string' },
      dir: { type: 'string' },
      payout: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      slots: { type: 'string' },
      'lease-ms': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command !== 'start') throw new Error(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  const payout = values.payout ?? process.env['WEAI_PAYOUT_ADDRESS'];
  if (!payout) throw new Error('a payout address is needed: --payout 0x… or WEAI_PAYOUT_ADDRESS');
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new Error(`--${name} must be an integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const agent = await startAgent({
    natsServers: (values.nats ?? process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222').split(','),
    dataDir: values.dir ?? process.env['WEAI_AGENT_DIR'] ?? join(homedir(), '.weai-agent'),
    payoutAddress: payout,
    heartbeatMs: num('heartbeat-ms', values['heartbeat-ms']),
    slots: num('slots', values.slots),
    leaseMs: num('lease-ms', values['lease-ms']),
    verbose: values.verbose ?? false,
  });
  const shutdown = () => {
    void agent.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`weai-agent: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
