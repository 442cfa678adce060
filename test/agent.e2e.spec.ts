import { randomUUID } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setSha256Backend } from '@nats-io/obj';
import { referenceChain } from '@weai/node-agent/src/onnx/reference-model';
import { DEFAULT_POLICY } from '@weai/node-agent/src/policy';
import { switchableNvidiaSmi } from '@weai/node-agent/test/fixtures/nvidia-smi/switchable';
import { PartnerClient } from '@weai/sdk';
import { encodeTensor, sha256 } from '@weai/tensors';
import { ofType } from './support/events';
import { LEASE_MS, type TestNetwork, startNetwork } from './support/control-plane';
import { type ManagedProcess, startTs } from './support/processes';
import { dataset, runLocally } from './support/reference';

/** The agent's own variables, unset: what the test passes is all the agent gets. */
const CLEAN_ENV = { NATS_URL: '', WEAI_AGENT_DIR: '', WEAI_PAYOUT_ADDRESS: '', WEAI_NVIDIA_SMI: '' };

/** Runs one `weai-agent` command to its end, as an owner types it. */
async function weaiAgent(args: string[]): Promise<{ code: number | null; output: string }> {
  const p = startTs(`weai-agent ${args[0]}`, 'node-agent/src/cli.ts', args, CLEAN_ENV);
  const code = await p.exited;
  return { code, output: p.output() };
}

/** The captured group of the first output line matching `pattern`, once it appears. */
async function lineOf(p: ManagedProcess, pattern: RegExp): Promise<RegExpExecArray> {
  await p.waitFor(pattern);
  return pattern.exec(p.output())!;
}

describe('the agent as a product for PC owners (e2e)', () => {
  let net: TestNetwork;
  let partner: PartnerClient;
  const running: ManagedProcess[] = [];

  beforeAll(async () => {
    // The object store's native SHA-256 (libs/messaging) loads node:crypto with a dynamic import,
    // which Jest's module sandbox refuses without --experimental-vm-modules; the partner client
    // uploads from this process, so it uses the JS backend (the same hashes).
    setSha256Backend('js');
    net = await startNetwork();
    await net.startService('nodes');
    await net.startService('scheduler');
    partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'partner-agent-e2e' });
  });
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const p of running) process.stderr.write(`--- ${p.name}\n${p.output().slice(-4000)}\n`);
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    await partner?.close();
    await net?.stop();
  });

  it('a game starting on the GPU takes the shard away from the agent within 1 s, and the job still completes exactly', async () => {
    // The owner's PC: a (fake) RTX 3080 at the desktop; ONNX Runtime has no CUDA here, so shards run on the CPU.
    const dir = join(net.dir, 'gamer');
    const smi = switchableNvidiaSmi(join(net.dir, 'fake-gpu'), 'rtx3080-windows-idle');
    const payout = `0x${'9a'.repeat(20)}`;
    expect((await weaiAgent(['init', '--dir', dir, '--payout', payout, '--nats', net.nats.url, '--status-port', '0', '--nvidia-smi', smi.command])).code).toBe(0);
    // The owner shortens the quiet period after a game from 120 s to 5 s (longer than the 3 s the
    // agent samples nvidia-smi at while it runs nothing, so the wait shows in the log).
    const configFile = join(dir, 'agent.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { policy: Record<string, unknown> };
    writeFileSync(configFile, JSON.stringify({ ...config, policy: { ...config.policy, quietPeriodSeconds: 5 } }));

    const gamer = startTs('gamer', 'node-agent/src/cli.ts', ['start', '--dir', dir, '--heartbeat-ms', '300', '--lease-ms', String(LEASE_MS), '--verbose'], CLEAN_ENV);
    running.push(gamer);
    const gamerId = (await lineOf(gamer, /registered as node (\S+)/))[1]!;
    await gamer.waitFor(/GPU telemetry through nvidia-smi: GPU 0 NVIDIA GeForce RTX 3080 \(10240 MiB, compute 8\.6\)/);
    await gamer.waitFor(/running on CPU only: /);
    await gamer.waitFor(/taking work on/);
    const caps = await net.nodes.until('the gamer reported its GPU', (events) => ofType(events, 'NodeCapabilitiesReported').find((e) => e.data.nodeId === gamerId));
    expect(caps.data.capabilities.executionProviders).toEqual(['cpu']);
    expect(caps.data.capabilities.gpus).toEqual([{ model: 'NVIDIA GeForce RTX 3080', vramMb: 10240, computeCapability: '8.6', driverVersion: '551.86', cudaVersion: '12.4' }]);
    const helper = await net.startAgent('helper', { slots: 1 });

    // A model slow enough to load (a few seconds) that the game lands inside the gamer's first shard.
    const model = referenceChain({ width: 1024, depth: 400 });
    const input = dataset(64, 1024, 13);
    const request = { jobId: `job-${randomUUID()}`, shardSize: 16, capability: 'cpu.generic', deadline: new Date(Date.now() + 3_600_000).toISOString(), redundancy: { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 } };
    const submitted = await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(input), request);
    const [, shard] = await lineOf(gamer, /shard \S+\/(\d+)\/\d+ started/);

    const gameStarted = performance.now();
    smi.show('rtx3080-windows-game');
    const released = await lineOf(gamer, /yielded: released (\d+) shard\(s\) of lane cpu (\d+) ms after the sample saw it: (.*)/);
    const yieldMs = performance.now() - gameStarted;
    expect(Number(released[1])).toBeGreaterThanOrEqual(1);
    expect(released[3]).toBe('steamwebhelper.exe (pid 9204) and game.exe (pid 4242) are using the GPU');
    expect(yieldMs).toBeLessThan(1000);
    expect(gamer.output()).toContain('policy: lane cpu yield-now (other-gpu-user): steamwebhelper.exe (pid 9204) and game.exe (pid 4242) are using the GPU');
    expect(gamer.output()).toMatch(new RegExp(`shard ${submitted.jobId}/${shard} released: `));
    process.stderr.write(`game seen and shard handed back ${yieldMs.toFixed(0)} ms after the fake nvidia-smi switched (${released[2]} ms after the sample saw it)\n`);
    await net.nodes.until('the gamer unavailable', (events) =>
      ofType(events, 'NodeBecameUnavailable').find((e) => e.data.nodeId === gamerId && e.data.reason === 'steamwebhelper.exe (pid 9204) and game.exe (pid 4242) are using the GPU'),
    );

    // The game ends; after the quiet period the gamer works again, and cross-checks the helper.
    smi.show('rtx3080-windows-idle');
    await gamer.waitFor(/policy: lane cpu stay-idle \(quiet-period\): waiting for 5 s without other GPU users/);
    await gamer.waitFor(/policy: lane cpu work \(allowed\): allowed: no one else on the GPU/);
    const outcome = await partner.follow(submitted.jobId);
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    const output = await partner.downloadTensor(outcome.outputHash);
    expect(sha256(encodeTensor(output))).toBe(sha256(encodeTensor(runLocally(model, input, 16))));
    const validated = ofType(net.jobs.events, 'ShardValidated').find((e) => e.data.jobId === submitted.jobId && e.data.shardIndex === Number(shard))!;
    expect(validated.data.accepted.map((a) => a.nodeId)).toContain(helper.nodeId);
  }, 180_000);

  it('init, start, status, pause, resume and logs, as an owner runs them', async () => {
    const dir = join(net.dir, 'owner');
    const payout = `0x${'0e'.repeat(20)}`;

    const refused = await weaiAgent(['init', '--dir', dir, '--payout', '0x1234', '--nats', net.nats.url]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('weai-agent: invalid settings:\n- payoutAddress must be a 0x-prefixed 20-byte hex address (got "0x1234")');

    const init = await weaiAgent(['init', '--dir', dir, '--payout', payout, '--nats', net.nats.url, '--status-port', '0']);
    expect(init.code).toBe(0);
    expect(init.output).toContain(`wrote ${join(dir, 'agent.json')}`);
    for (const file of ['agent.json', 'node.nk']) expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    const written = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { payoutAddress: string; policy: unknown };
    expect(written).toMatchObject({ payoutAddress: payout, nats: [net.nats.url], policy: DEFAULT_POLICY });
    const again = await weaiAgent(['init', '--dir', dir, '--payout', payout]);
    expect(again).toMatchObject({ code: 1, output: expect.stringContaining('already exists: edit it, or run init with --force to replace it') });

    const agent = startTs('owner-agent', 'node-agent/src/cli.ts', ['start', '--dir', dir, '--heartbeat-ms', '300'], CLEAN_ENV);
    running.push(agent);
    const nodeId = (await lineOf(agent, /registered as node (\S+)/))[1]!;
    const url = (await lineOf(agent, /status page: (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
    await net.nodes.until('the owner agent available', (events) => ofType(events, 'NodeBecameAvailable').some((e) => e.data.nodeId === nodeId));

    const status = await weaiAgent(['status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.output).toContain(`node ${nodeId} (pid ${agent.child.pid}`);
    expect(status.output).toMatch(/state: working: allowed: /);
    expect(status.output).toMatch(/lane cpu on the CPU: work \(allowed\)/);
    // This network runs no rewards service: earnings are unknown, and the owner is told why.
    expect(status.output).toMatch(/electricity: 0\.0000 kWh ≈ 0\.00 EUR at 0\.30 EUR\/kWh; earnings: unknown: the rewards service did not answer \(/);
    expect(status.output).toContain("Earnings are the owner's WEBI balance at the rewards service");
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`Node <code>${nodeId}</code>`);

    const paused = await weaiAgent(['pause', '--dir', dir]);
    expect(paused.output).toContain('paused: the agent handed back its work and takes none until "weai-agent resume"\nstate: paused: paused by the owner');
    await net.nodes.until('the owner agent unavailable', (events) => ofType(events, 'NodeBecameUnavailable').find((e) => e.data.nodeId === nodeId && e.data.reason === 'paused by the owner'));
    const json = JSON.parse((await weaiAgent(['status', '--dir', dir, '--json'])).output) as { paused: boolean; allowsWork: boolean; lanes: Array<{ action: string }> };
    expect(json).toMatchObject({ paused: true, allowsWork: false, lanes: [{ action: 'yield-now' }] });
    expect((JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { policy: { paused: boolean } }).policy.paused).toBe(true);

    expect((await weaiAgent(['resume', '--dir', dir])).output).toMatch(/^resumed\nstate: working: /);
    await net.nodes.until('the owner agent available again', (events) => ofType(events, 'NodeBecameAvailable').filter((e) => e.data.nodeId === nodeId).length === 2);
    expect((JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { policy: { paused: boolean } }).policy.paused).toBe(false);

    const logs = await weaiAgent(['logs', '--dir', dir, '-n', '3']);
    expect(logs.code).toBe(0);
    expect(logs.output).toMatch(/Z resumed by the owner\n/);
    expect(logs.output.trim().split('\n')).toHaveLength(3);

    await agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const gone = await weaiAgent(['status', '--dir', dir]);
    expect(gone).toMatchObject({ code: 1, output: expect.stringContaining('the agent does not seem to be running') });
  }, 120_000);
});
