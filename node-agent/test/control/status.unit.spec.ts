import type { AgentStatus } from '../../src/control/status';
import { renderStatusHtml, renderStatusText } from '../../src/control/status';

const status: AgentStatus = {
  nodeId: 'n1234',
  payoutAddress: `0x${'ab'.repeat(20)}`,
  startedAt: '2024-06-11T21:00:00.000Z',
  pid: 4711,
  network: { servers: ['nats://127.0.0.1:4222'], connected: true, heartbeats: 12 },
  configFile: '/home/o/.weai-agent/agent.json',
  logFile: '/home/o/.weai-agent/agent.log',
  paused: false,
  allowsWork: false,
  reason: '<script>alert(1)</script>.exe (pid 4242) is using the GPU',
  telemetry: { mode: 'gpu', source: 'nvidia-smi', reason: null, warnings: [] },
  executionProviders: ['cpu'],
  capabilityClasses: ['cpu.avx2', 'cpu.generic'],
  benchmarkScore: 12.5,
  gpus: [
    {
      index: 0,
      name: 'NVIDIA GeForce RTX 3080',
      uuid: 'GPU-1',
      utilizationPct: 97,
      temperatureC: 71,
      powerDrawW: 301.45,
      powerLimitW: 320,
      vramTotalMb: 10240,
      vramFreeMb: 1502,
      policy: { action: 'yield-now', rule: 'other-gpu-user', reason: 'game.exe (pid 4242) is using the GPU' },
    },
  ],
  lanes: [{ id: 'cpu', device: 'the CPU', provider: 'cpu', classes: ['cpu.avx2', 'cpu.generic'], slots: 1, action: 'yield-now', rule: 'other-gpu-user', reason: 'game.exe (pid 4242) is using the GPU', activeShards: 0 }],
  shards: { current: [], completed: 7, failed: 1, released: 2, computeSeconds: 12.34 },
  money: { currency: 'EUR', tariffPerKwh: '0.30 EUR', energyKwh: 0.0123, electricityCost: '0.01 EUR', earnings: 'unknown', note: "Earnings are the owner's WEBI balance at the rewards service." },
};

describe('the status the owner sees', () => {
  it('as text: GPUs, the decision and why, shards, cost beside earnings', () => {
    const text = renderStatusText(status);
    expect(text).toContain('state: not taking work: <script>alert(1)</script>.exe (pid 4242) is using the GPU');
    expect(text).toContain('GPU 0 NVIDIA GeForce RTX 3080: 97 % busy, 71 °C, 301 W of 320 W, 1502 of 10240 MiB free — yield-now: game.exe (pid 4242) is using the GPU');
    expect(text).toContain('shards: 0 running, 7 done, 1 failed, 2 handed back; 12.3 s of compute');
    expect(text).toContain('electricity: 0.0123 kWh ≈ 0.01 EUR at 0.30 EUR/kWh; earnings: unknown');
  });

  it('as HTML: the same facts, with every value escaped', () => {
    const html = renderStatusHtml(status);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.exe (pid 4242) is using the GPU');
    expect(html).toContain('<b>Not taking work</b>');
    expect(html).toContain('Earnings: <b>unknown</b>');
    expect(html).toContain('<td>0 NVIDIA GeForce RTX 3080</td>');
  });

  it('says when the agent is paused', () => {
    expect(renderStatusText({ ...status, paused: true, reason: 'paused by the owner' })).toContain('state: PAUSED by the owner: paused by the owner');
    expect(renderStatusHtml({ ...status, paused: true })).toContain('<b>Paused by you</b>');
  });
});
