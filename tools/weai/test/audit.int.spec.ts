/**
 * `weai audit`: anchoring a real SQLite store's log on the in-process EVM (in a child process,
 * reached over HTTP JSON-RPC as production reaches a node), verifying it, and tampering with one
 * stored row behind the store's back.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type JsonRpcProvider, Wallet, parseEther } from 'ethers';
import {
  AuditAnchorClient,
  FileLeafManifests,
  RangeNotAnchoredError,
  anchorPending,
  connectChain,
  deployAuditAnchor,
  merkleRoot,
  leafHash,
  verifyRange,
} from '@weai/chain';
import { type EventStore, type StoredLog, openSqlEventStore, openStoredLog } from '@weai/eventstore';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';
import { type EvmChild, startEvmChild } from '../../../services/rewards/test/support';

const ROOT = join(__dirname, '..', '..', '..');

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `weai <args>` as an operator would, in a child process. */
function weai(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools/weai/main.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe('weai audit: anchoring and verifying an event log', () => {
  let evm: EvmChild;
  let provider: JsonRpcProvider;
  let dir: string;
  let storePath: string;
  let store: EventStore;
  let log: StoredLog;
  let operator: Wallet;
  let anchor: AuditAnchorClient;
  let manifests: FileLeafManifests;
  let env: NodeJS.ProcessEnv;

  const append = async (n: number) => {
    for (let i = 0; i < n; i++) await store.append(`node-${i % 3}`, [nodeCameOnline(`node-${i % 3}`)], 'any');
  };

  beforeAll(async () => {
    evm = await startEvmChild();
    provider = await connectChain({ rpcUrl: evm.url, chainId: BigInt(evm.chainId) }, { pollingIntervalMs: 50 });
    operator = new Wallet(Wallet.createRandom().privateKey, provider);
    const funder = await provider.getSigner(0);
    await (await funder.sendTransaction({ to: operator.address, value: parseEther('10') })).wait();
    const deployed = await deployAuditAnchor(operator);
    anchor = new AuditAnchorClient(deployed.address, operator);
    dir = mkdtempSync(join(tmpdir(), 'weai-audit-'));
    storePath = join(dir, 'rewards.sqlite');
    store = await openSqlEventStore({ type: 'sqlite', path: storePath });
    log = await openStoredLog({ type: 'sqlite', path: storePath });
    manifests = new FileLeafManifests(join(dir, 'leaves'));
    writeFileSync(join(dir, 'operator.key'), operator.privateKey);
    env = {
      EVENT_STORE_URL: `sqlite:${storePath}`,
      CHAIN_RPC_URL: evm.url,
      CHAIN_ID: evm.chainId,
      AUDIT_ANCHOR_ADDRESS: deployed.address,
      AUDIT_LEAVES_DIR: join(dir, 'leaves'),
      AUDIT_OPERATOR_KEY: join(dir, 'operator.key'),
    };
  });

  afterAll(async () => {
    await log?.close();
    await store?.close();
    provider?.destroy();
    await evm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('anchors the log in segments from where the chain says, and resumes there without gap or overlap', async () => {
    await append(10);
    const first = await anchorPending(log, anchor, { segmentSize: 4, manifests });
    expect(first.map((s) => [s.fromPosition, s.toPosition])).toEqual([[1n, 4n], [5n, 8n], [9n, 10n]]);
    const rows = await log.readAfter(0, 100);
    expect(await anchor.segment(1n)).toEqual({ fromPosition: 5n, toPosition: 8n, merkleRoot: merkleRoot(rows.slice(4, 8).map(leafHash)) });

    expect(await anchorPending(log, anchor, { segmentSize: 4, manifests })).toEqual([]);

    // A run that crashed after its transaction was mined left a segment this run knows nothing of.
    await append(5);
    const crashed = { fromPosition: 11n, toPosition: 12n, merkleRoot: merkleRoot((await log.readAfter(10, 2)).map(leafHash)) };
    await provider.waitForTransaction(await anchor.anchor(crashed));
    const resumed = await anchorPending(log, anchor, { segmentSize: 4, manifests });
    expect(resumed.map((s) => [s.fromPosition, s.toPosition])).toEqual([[13n, 15n]]);
    expect(await anchor.segmentCount()).toBe(5n);
  });

  it('verifies any anchored range and refuses one that is not anchored', async () => {
    expect(await verifyRange(log, anchor, 1n, 15n, { manifests })).toEqual({ ok: true, events: 15, segments: 5, fromPosition: 1n, toPosition: 15n });
    expect(await verifyRange(log, anchor, 6n, 6n)).toEqual({ ok: true, events: 4, segments: 1, fromPosition: 5n, toPosition: 8n });
    await expect(verifyRange(log, anchor, 14n, 16n)).rejects.toBeInstanceOf(RangeNotAnchoredError);
  });

  it('anchors from the command line (weai audit anchor), crash-safe by construction', async () => {
    await append(3);
    const run = await weai(['audit', 'anchor', '--log', 'rewards', '--segment-size', '2'], env);
    expect(run).toMatchObject({ code: 0 });
    expect(run.stdout).toContain('anchored 2 segments; next position 19');
    expect(await anchor.nextPosition()).toBe(19n);
  });

  it('says "verified N events in K segments" from the command line, and refuses bad flags and unanchored ranges', async () => {
    const ok = await weai(['audit', 'verify', '--log', 'rewards', '--from', '1', '--to', '18'], env);
    expect(ok.stdout).toContain('verified 18 events in 7 segments');
    expect(ok.code).toBe(0);

    const bad = await weai(['audit', 'verify', '--log', 'rewards', '--from', '5', '--to', '2'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--to (2) must not be below --from (5)');

    const beyond = await weai(['audit', 'verify', '--log', 'rewards', '--from', '1', '--to', '99'], env);
    expect(beyond.code).toBe(3);
    expect(beyond.stderr).toContain('positions 1..99 are not all anchored: the anchored log is 1..18');
  });

  it('two anchoring runs at once (two operators) tile the log exactly once between them', async () => {
    const deployed = await deployAuditAnchor(operator);
    const second = new Wallet(Wallet.createRandom().privateKey, provider);
    await (await (await provider.getSigner(0)).sendTransaction({ to: second.address, value: parseEther('1') })).wait();
    const mine = new AuditAnchorClient(deployed.address, operator);
    await (await mine.contract.getFunction('grantRole').send(await mine.contract.getFunction('OPERATOR_ROLE').staticCall(), second.address)).wait();
    const theirs = new AuditAnchorClient(deployed.address, second);
    const runs = await Promise.all([anchorPending(log, mine, { segmentSize: 3 }), anchorPending(log, theirs, { segmentSize: 3 })]);
    const count = await mine.segmentCount();
    expect(runs[0].length + runs[1].length).toBe(Number(count));
    const segments = await Promise.all(Array.from({ length: Number(count) }, (_, i) => mine.segment(BigInt(i))));
    segments.forEach((seg, i) => expect(seg.fromPosition).toBe(i === 0 ? 1n : segments[i - 1]!.toPosition + 1n));
    expect(segments.at(-1)!.toPosition).toBe(BigInt(await log.headPosition()));
    expect(await verifyRange(log, mine, 1n, BigInt(await log.headPosition()))).toMatchObject({ ok: true, events: await log.headPosition() });
  });

  it('names the one event whose stored row was rewritten, and exits non-zero', async () => {
    const db = new Database(storePath);
    try {
      const row = db.prepare('SELECT stream_id, type, data FROM weai_events WHERE position = 6').get() as { stream_id: string; type: string; data: string };
      db.prepare('UPDATE weai_events SET data = ? WHERE position = 6').run(row.data.replace('node-', 'nodf-'));

      const report = await verifyRange(log, anchor, 1n, 18n, { manifests });
      expect(report).toMatchObject({ ok: false, events: 4, segments: 1, mismatch: { kind: 'altered', position: 6, streamId: row.stream_id, type: 'NodeCameOnline' } });

      const cli = await weai(['audit', 'verify', '--log', 'rewards', '--from', '3', '--to', '18'], env);
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain(`MISMATCH: event at position 6 (stream ${row.stream_id}, type NodeCameOnline) does not match the anchored one, in segment 1 (5..8)`);

      // Without the leaves the segment is still caught, only not the event.
      const bare = await verifyRange(log, anchor, 5n, 8n);
      expect(bare).toMatchObject({ ok: false, mismatch: { segmentIndex: 1n, reason: 'no leaf manifest for this segment' } });

      // Restored byte for byte, it verifies again; a deleted row is named as missing.
      db.prepare('UPDATE weai_events SET data = ? WHERE position = 6').run(row.data);
      expect(await verifyRange(log, anchor, 1n, 18n, { manifests })).toMatchObject({ ok: true });
      db.prepare('DELETE FROM weai_events WHERE position = 14').run();
      expect(await verifyRange(log, anchor, 1n, 18n, { manifests })).toMatchObject({ ok: false, mismatch: { kind: 'missing', position: 14, segmentIndex: 4n } });
    } finally {
      db.close();
    }
  });
});
