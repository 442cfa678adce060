import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet, type JsonRpcProvider } from 'ethers';
import {
  AuditAnchorClient,
  type AuditLogSource,
  type ChainConfig,
  FileLeafManifests,
  RangeNotAnchoredError,
  anchorPending,
  chainConfigFromEnv,
  connectChain,
  verifyRange,
} from '@weai/chain';
import { eventStoreConfigFromEnv, openStoredLog } from '@weai/eventstore';
import { CannotRunError, type Command, EXIT, type Flags, UsageError, positiveInt, stringFlag } from './cli';

const LOG_NAME = /^[a-z][a-z0-9-]{0,62}$/;

const ENVIRONMENT = `environment:
  EVENT_STORE_URL       the log's store: sqlite:<path> or postgres://… (default sqlite:<WEAI_DATA_DIR>/<log>.sqlite)
  WEAI_DATA_DIR         default .data
  CHAIN_RPC_URL, CHAIN_ID   the chain (docs/chain.md)
  AUDIT_ANCHOR_ADDRESS  the log's AuditAnchor contract (one per log)
  AUDIT_LEAVES_DIR      the leaf manifests (default <WEAI_DATA_DIR>/audit-leaves/<log>)`;

/** What both commands need: the log's store, the chain and the log's anchor contract. */
interface AuditContext {
  readonly log: AuditLogSource;
  readonly provider: JsonRpcProvider;
  readonly anchorAddress: string;
  readonly manifests: FileLeafManifests;
  close(): Promise<void>;
}

async function openContext(flags: Flags, env: NodeJS.ProcessEnv): Promise<AuditContext> {
  const name = stringFlag(flags, 'log', LOG_NAME, "the log's bounded context, e.g. rewards");
  const dataDir = env['WEAI_DATA_DIR'] ?? '.data';
  let chain: ChainConfig;
  let storeConfig;
  try {
    chain = chainConfigFromEnv(env);
    storeConfig = eventStoreConfigFromEnv(env, join(dataDir, `${name}.sqlite`));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!chain.auditAnchorAddress) throw new UsageError('AUDIT_ANCHOR_ADDRESS is required: the AuditAnchor contract of this log');
  let provider: JsonRpcProvider;
  try {
    provider = await connectChain(chain, { pollingIntervalMs: 500 });
  } catch (error) {
    throw new CannotRunError(`the chain is not reachable: ${(error as Error).message}`);
  }
  if ((await provider.getCode(chain.auditAnchorAddress)) === '0x') {
    provider.destroy();
    throw new UsageError(`AUDIT_ANCHOR_ADDRESS ${chain.auditAnchorAddress} holds no contract on chain ${chain.chainId}`);
  }
  let log: AuditLogSource;
  try {
    log = await openStoredLog(storeConfig);
  } catch (error) {
    provider.destroy();
    throw new CannotRunError((error as Error).message);
  }
  return {
    log,
    provider,
    anchorAddress: chain.auditAnchorAddress,
    manifests: new FileLeafManifests(env['AUDIT_LEAVES_DIR'] || join(dataDir, 'audit-leaves', name)),
    close: async () => {
      await log.close();
      provider.destroy();
    },
  };
}

/** Reads the operator's key from the file `AUDIT_OPERATOR_KEY` names; errors never show the content. */
function operatorKey(env: NodeJS.ProcessEnv): string {
  const path = env['AUDIT_OPERATOR_KEY'];
  if (!path) throw new UsageError('AUDIT_OPERATOR_KEY is required: the path of a file holding the key of an account with OPERATOR_ROLE');
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new UsageError(`AUDIT_OPERATOR_KEY: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`AUDIT_OPERATOR_KEY: ${path} does not hold a 32-byte hex private key`);
  return text.startsWith('0x') ? text : `0x${text}`;
}

export const auditAnchor: Command = {
  path: ['audit', 'anchor'],
  summary: "anchor the log's next segments (Merkle roots) on chain, from where the chain says",
  help: `usage: weai audit anchor --log <name> [--segment-size N] [--watch SECONDS]

Anchors every event after the last anchored position (read from the AuditAnchor contract) up to
the head of the log, in segments of at most N events (default 1000), one transaction each, and
writes each segment's leaves to AUDIT_LEAVES_DIR first. Safe to stop at any moment and to rerun:
the contract refuses gaps and overlaps. With --watch it repeats every SECONDS until interrupted.

  AUDIT_OPERATOR_KEY    path of a file holding the key of an account with OPERATOR_ROLE
${ENVIRONMENT}`,
  options: { log: { type: 'string' }, 'segment-size': { type: 'string' }, watch: { type: 'string' } },
  async run(flags, io) {
    const segmentSize = positiveInt(flags, 'segment-size', 1000);
    const watch = flags['watch'] === undefined ? undefined : positiveInt(flags, 'watch');
    const key = operatorKey(io.env);
    const ctx = await openContext(flags, io.env);
    let stop = false;
    const onSignal = () => (stop = true);
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    try {
      const client = new AuditAnchorClient(ctx.anchorAddress, new Wallet(key, ctx.provider));
      do {
        const segments = await anchorPending(ctx.log, client, {
          segmentSize,
          manifests: ctx.manifests,
          onAnchored: (s, events, tx) => io.stderr(`anchored ${s.fromPosition}..${s.toPosition} (${events} events) root ${s.merkleRoot} tx ${tx}`),
        });
        io.stdout(`anchored ${segments.length} segments; next position ${await client.nextPosition()}`);
        for (let waited = 0; watch !== undefined && !stop && waited < watch * 1000; waited += 200) await new Promise((r) => setTimeout(r, 200));
      } while (watch !== undefined && !stop);
      return EXIT.ok;
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      await ctx.close();
    }
  },
};

export const auditVerify: Command = {
  path: ['audit', 'verify'],
  summary: 'recompute the anchored roots over positions P..Q and name the first event that does not match',
  help: `usage: weai audit verify --log <name> --from P --to Q

Re-reads every anchored segment overlapping P..Q from the store, recomputes its Merkle root and
compares it with the root on chain. Prints "verified N events in K segments" (exit 0) or the
first event that does not match: position, stream and type (exit 1). Progress on stderr.
${ENVIRONMENT}`,
  options: { log: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
  async run(flags, io) {
    const from = positiveInt(flags, 'from');
    const to = positiveInt(flags, 'to');
    if (to < from) throw new UsageError(`--to (${to}) must not be below --from (${from})`);
    stringFlag(flags, 'log', LOG_NAME, "the log's bounded context, e.g. rewards");
    const ctx = await openContext(flags, io.env);
    try {
      const client = new AuditAnchorClient(ctx.anchorAddress, ctx.provider);
      let checked = 0;
      let lastReport = Date.now();
      const report = await verifyRange(ctx.log, client, BigInt(from), BigInt(to), {
        manifests: ctx.manifests,
        onSegment: (_i, s, events) => {
          checked += events;
          if (Date.now() - lastReport >= 1000) {
            lastReport = Date.now();
            io.stderr(`verified ${checked} events, up to position ${s.toPosition} of ${to}`);
          }
        },
      }).catch((error: unknown) => {
        throw error instanceof RangeNotAnchoredError ? new CannotRunError(error.message) : error;
      });
      if (report.ok) {
        io.stdout(`verified ${report.events} events in ${report.segments} segments (positions ${report.fromPosition}..${report.toPosition}, covering ${from}..${to})`);
        return EXIT.ok;
      }
      const m = report.mismatch;
      const where = `segment ${m.segmentIndex} (${m.segment.fromPosition}..${m.segment.toPosition})`;
      if ('kind' in m) {
        const what = m.kind === 'missing' ? `anchored event at position ${m.position} is missing from the store` : `event at position ${m.position} (stream ${m.streamId}, type ${m.type}) ${m.kind === 'altered' ? 'does not match the anchored one' : 'was not anchored (inserted)'}`;
        io.stdout(`MISMATCH: ${what}, in ${where}; ${report.events} events in ${report.segments} segments before it verified`);
      } else {
        io.stdout(`MISMATCH: ${where} recomputes to root ${m.actualRoot}, the chain holds ${m.segment.merkleRoot}; cannot name the event: ${m.reason}`);
      }
      return EXIT.mismatch;
    } finally {
      await ctx.close();
    }
  },
};
