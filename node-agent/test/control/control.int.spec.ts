/**
 * The local control endpoint over real HTTP on 127.0.0.1, and the CLI's client of it.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentNotRunningError, callAgent, readControlFile } from '../../src/control/client';
import { CONTROL_FILE, type ControlServer, startControlServer } from '../../src/control/server';
import type { AgentStatus } from '../../src/control/status';

const status = (paused: boolean): AgentStatus => ({
  nodeId: 'n1',
  payoutAddress: `0x${'ab'.repeat(20)}`,
  startedAt: '2024-06-11T21:00:00.000Z',
  pid: process.pid,
  network: { servers: ['nats://127.0.0.1:4222'], connected: true, heartbeats: 1 },
  configFile: null,
  logFile: null,
  paused,
  allowsWork: !paused,
  reason: paused ? 'paused by the owner' : "allowed: within the owner's schedule",
  telemetry: { mode: 'cpu-only', source: null, reason: 'no NVIDIA driver', warnings: [] },
  executionProviders: ['cpu'],
  capabilityClasses: ['cpu.generic'],
  benchmarkScore: 1,
  gpus: [],
  lanes: [],
  shards: { current: [], completed: 0, failed: 0, released: 0, computeSeconds: 0 },
  money: { currency: 'EUR', tariffPerKwh: '0.30 EUR', energyKwh: 0, electricityCost: '0.00 EUR', earnings: 'unknown', note: '' },
});

/** A raw request, with whatever Host header and token a caller chooses. */
function raw(url: string, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the control endpoint', () => {
  let dir: string;
  let server: ControlServer;
  let paused = false;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weai-control-'));
    server = await startControlServer({
      dir,
      port: 0,
      log: (l) => lines.push(l),
      handlers: {
        status: () => status(paused),
        pause: async () => ((paused = true), status(paused)),
        resume: async () => ((paused = false), status(paused)),
      },
    });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only, and leaves its address and a random token in a file only the owner can read', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const file = readControlFile(dir);
    expect(file).toEqual({ url: server.url, token: expect.stringMatching(/^[0-9a-f]{64}$/), pid: process.pid });
    expect(statSync(join(dir, CONTROL_FILE)).mode & 0o777).toBe(0o600);
  });

  it('pause and resume through the client, as the CLI does', async () => {
    expect((await callAgent(dir, 'GET', '/api/status')).paused).toBe(false);
    expect(await callAgent(dir, 'POST', '/api/pause')).toMatchObject({ paused: true, reason: 'paused by the owner' });
    expect((await callAgent(dir, 'GET', '/api/status')).paused).toBe(true);
    expect(await callAgent(dir, 'POST', '/api/resume')).toMatchObject({ paused: false, allowsWork: true });
  });

  it('serves the status page as HTML', async () => {
    const host = new URL(server.url).host;
    const page = await raw(server.url, 'GET', '/', { host });
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<!doctype html>/);
    expect(page.body).toContain('No usable NVIDIA GPU: no NVIDIA driver');
  });

  it('refuses pause without the token, or with another', async () => {
    const host = new URL(server.url).host;
    expect((await raw(server.url, 'POST', '/api/pause', { host })).status).toBe(401);
    expect((await raw(server.url, 'POST', '/api/pause', { host, authorization: `Bearer ${'0'.repeat(64)}` })).status).toBe(401);
    expect(paused).toBe(false);
  });

  it('refuses requests whose Host is not the loopback address (DNS rebinding)', async () => {
    const token = readControlFile(dir).token;
    const res = await raw(server.url, 'POST', '/api/pause', { host: 'evil.example:80', authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    expect((await raw(server.url, 'GET', '/api/status', { host: 'evil.example' })).status).toBe(403);
    expect(paused).toBe(false);
  });

  it('says what it offers for anything else', async () => {
    const res = await raw(server.url, 'GET', '/nope', { host: new URL(server.url).host });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'no GET /nope; try GET /, GET /api/status, GET /metrics, POST /api/pause, POST /api/resume' });
  });

  it('answers its Prometheus metrics, without a token', async () => {
    const res = await raw(server.url, 'GET', '/metrics', { host: new URL(server.url).host });
    expect(res.status).toBe(200);
    expect(res.body).toContain('# TYPE weai_agent_shards_total counter');
    expect(res.body).toContain('# TYPE weai_agent_shard_compute_seconds histogram');
    expect(res.body).toContain('process_cpu_seconds_total');
  });

  it('takes a free port when the one configured is taken, and says so', async () => {
    const port = Number(new URL(server.url).port);
    const other = mkdtempSync(join(tmpdir(), 'weai-control-'));
    const second = await startControlServer({ dir: other, port, log: (l) => lines.push(l), handlers: { status: () => status(false), pause: async () => status(true), resume: async () => status(false) } });
    try {
      expect(second.url).not.toBe(server.url);
      expect(lines).toContain(`status port ${port} is taken (another agent?); using a free port instead`);
    } finally {
      await second.close();
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('the client when no agent runs', () => {
  it('says so, and how to start one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weai-control-'));
    try {
      await expect(callAgent(dir, 'GET', '/api/status')).rejects.toThrow(new AgentNotRunningError(`the agent does not seem to be running: there is no ${join(dir, CONTROL_FILE)} (start it with: weai-agent start --dir ${dir})`));
      // A control file left by an agent that was killed.
      const server = await startControlServer({ dir, port: 0, log: () => undefined, handlers: { status: () => status(false), pause: async () => status(true), resume: async () => status(false) } });
      const left = readFileSync(join(dir, CONTROL_FILE), 'utf8');
      await server.close();
      writeFileSync(join(dir, CONTROL_FILE), left);
      await expect(callAgent(dir, 'GET', '/api/status')).rejects.toThrow(/^the agent \(pid \d+\) does not answer at http:\/\/127\.0\.0\.1:\d+\/ \(ECONNREFUSED\); is it running\?/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
