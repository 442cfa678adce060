/**
 * `weai replay` and `weai node quarantine|release` against a real network: nats-server, the nodes
 * service (its SQLite store and relay) and an agent, run as an operator would run them.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { streamOfFamily } from '@weai/contracts';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { type TestNetwork, startNetwork } from '../../../test/support/control-plane';
import { ofType } from '../../../test/support/events';

const ROOT = join(__dirname, '..', '..', '..');

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function weai(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools/weai/main.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('weai replay and weai node (int)', () => {
  let net: TestNetwork;
  let nodeId: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    net = await startNetwork();
    await net.startService('nodes');
    ({ nodeId } = await net.startAgent('cli-agent'));
    await net.nodes.until('the node online', (events) => ofType(events, 'NodeCameOnline').some((e) => e.data.nodeId === nodeId));
    env = { NATS_URL: net.nats.url, WEAI_DATA_DIR: join(net.dir, 'control-plane') };
  }, 120_000);
  afterAll(async () => {
    await net?.stop();
  });

  it('replays a JetStream stream by sequence to the terminal and to a file, with progress on stderr', async () => {
    const stream = streamOfFamily('nodes');
    const { state } = await net.bus.jsm.streams.info(stream);
    expect(state.last_seq).toBeGreaterThanOrEqual(3);
    const part = await weai(['replay', '--stream', stream, '--from', '2', '--to', '3'], env);
    expect(part).toMatchObject({ code: 0 });
    const got = lines(part.stdout);
    expect(got.map((l) => l['seq'])).toEqual([2, 3]);
    const stored = (await net.bus.jsm.streams.getMessage(stream, { seq: 2 }))!;
    expect(got[0]).toMatchObject({ subject: stored.subject, data: stored.json(), headers: { 'Weai-Type': stored.subject.split('.').pop() } });
    expect(part.stderr).toContain('replayed 2 of 2 (sequence 3)');

    const out = join(net.dir, 'nodes.ndjson');
    const all = await weai(['replay', '--stream', stream, '--out', out], env);
    expect(all).toMatchObject({ code: 0, stdout: '' });
    const written = lines(readFileSync(out, 'utf8'));
    expect(written.map((l) => l['seq'])).toEqual(Array.from({ length: written.length }, (_, i) => i + 1));
    expect(written.length).toBeGreaterThanOrEqual(state.last_seq);
    expect(all.stderr).toMatch(/wrote \d+ events to /);
    expect(await weai(['replay', '--stream', stream, '--from', '999999'], env)).toMatchObject({ code: 0, stdout: '' });
  });

  it("replays the nodes store's global log by position, the same events the relay forwarded", async () => {
    const result = await weai(['replay', '--log', 'nodes', '--from', '1', '--to', '2'], env);
    expect(result).toMatchObject({ code: 0 });
    const rows = lines(result.stdout);
    expect(rows.map((r) => r['position'])).toEqual([1, 2]);
    const first = (await net.bus.jsm.streams.getMessage(streamOfFamily('nodes'), { seq: 1 }))!.json<{ type: string; data: unknown; metadata: { eventId: string } }>();
    expect(rows[0]).toMatchObject({ type: first.type, data: first.data, metadata: { eventId: first.metadata.eventId } });
  });

  it('quarantines and releases a node over NATS, says when the nodes service refuses, and checks its flags', async () => {
    const quarantine = await weai(['node', 'quarantine', nodeId, '--reason', 'cli check', '--by', 'op-cli'], env);
    expect(quarantine).toMatchObject({ code: 0 });
    expect(quarantine.stdout).toContain('NodeQuarantined');
    await net.nodes.until('NodeQuarantined', (events) => ofType(events, 'NodeQuarantined').some((e) => e.data.nodeId === nodeId && e.data.by === 'op-cli' && e.data.reason === 'cli check'));
    const again = await weai(['node', 'quarantine', nodeId, '--reason', 'cli check'], { ...env, WEAI_OPERATOR_ID: 'op-cli' });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('node.quarantined');
    expect(await weai(['node', 'release', nodeId, '--reason', 'checked', '--by', 'op-cli'], env)).toMatchObject({ code: 0 });
    await net.nodes.until('NodeReleased', (events) => ofType(events, 'NodeReleased').some((e) => e.data.nodeId === nodeId && e.data.by === 'op-cli'));
    expect((await weai(['node', 'release', 'no-such-node', '--reason', 'x', '--by', 'op-cli'], env)).code).toBe(1);
    const usage = await weai(['node', 'quarantine', nodeId, '--by', 'op-cli'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--reason is required');
    expect((await weai(['node', 'quarantine', nodeId, 'extra', '--reason', 'x', '--by', 'op-cli'], env)).code).toBe(2);
    const down = await weai(['node', 'quarantine', nodeId, '--reason', 'x', '--by', 'op-cli'], { ...env, NATS_URL: `nats://127.0.0.1:${await freePort()}` });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('cannot connect to NATS');
  });

  it("rebuilds the nodes service's read model from zero, finds it identical to the live one, and names a row changed behind the service's back", async () => {
    const same = await weai(['projection', 'rebuild', '--service', 'nodes'], env);
    expect(same).toMatchObject({ code: 0 });
    expect(same.stdout).toMatch(/nodes_view: [1-9]\d* rows, identical/);
    expect(same.stdout).toContain('nodes: the rebuilt read model is identical to the live one');
    expect(same.stderr).toMatch(/nodes-view: WEAI_NODES replayed to sequence [1-9]\d* \(\d+ events applied\)/);

    const live = new Database(join(net.dir, 'control-plane', 'nodes-read.sqlite'));
    try {
      live.prepare('UPDATE nodes_view SET benchmark_score = 1 WHERE node_id = ?').run(nodeId);
    } finally {
      live.close();
    }
    const tampered = await weai(['projection', 'rebuild', '--service', 'nodes'], env);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain('nodes_view: 1 rows only in the live read model, 1 only in the rebuild');
    const liveLine = tampered.stdout.split('\n').find((l) => l.startsWith('  live    '))!;
    expect(liveLine).toContain('["benchmark_score",1]');
    expect(liveLine).toContain(`["node_id","${nodeId}"]`);
    expect((await weai(['projection', 'rebuild', '--service', 'nope'], env)).code).toBe(2);
  });
});
