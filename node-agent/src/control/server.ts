/**
 * The agent's local control endpoint and status page, on 127.0.0.1 only. Reading the status needs
 * nothing; pausing and resuming need the token the agent writes at every start to
 * `<agent dir>/control.json` (mode 0600, so only the owner's account can read it). The Host header
 * must name the loopback address, so a web page cannot reach the endpoint by DNS rebinding; and a
 * page cannot send the token header cross-origin without a preflight the server never grants.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { agentMetrics } from '../metrics';
import { type AgentStatus, renderStatusHtml } from './status';

/** The file through which `weai-agent status|pause|resume` find the running agent. */
export const CONTROL_FILE = 'control.json';

/** What the control file holds. */
export interface ControlFile {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** Bearer token for the POST endpoints. */
  readonly token: string;
  /** The agent's process id. */
  readonly pid: number;
}

/** What the endpoint can do. */
export interface ControlHandlers {
  status(): AgentStatus;
  pause(): Promise<AgentStatus>;
  resume(): Promise<AgentStatus>;
}

/** A running control endpoint. */
export interface ControlServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the endpoint on 127.0.0.1:`port` (any free port when it is taken or 0) and writes the control file. */
export async function startControlServer(options: { dir: string; port: number; handlers: ControlHandlers; log: (line: string) => void }): Promise<ControlServer> {
  const token = randomBytes(32).toString('hex');
  let port = 0;
  const server = createServer((req, res) => {
    handle(req, res, token, port, options.handlers).catch((error: unknown) => reply(res, 500, { error: (error as Error).message }));
  });
  try {
    await listen(server, options.port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || options.port === 0) throw error;
    options.log(`status port ${options.port} is taken (another agent?); using a free port instead`);
    await listen(server, 0);
  }
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  const path = join(options.dir, CONTROL_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ url, token, pid: process.pid } satisfies ControlFile)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return {
    url,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      try {
        if ((JSON.parse(readFileSync(path, 'utf8')) as ControlFile).token === token) rmSync(path, { force: true });
      } catch {
        // already gone, or another agent's now
      }
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, token: string, port: number, handlers: ControlHandlers): Promise<void> {
  const host = req.headers.host ?? '';
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return reply(res, 403, { error: `host ${JSON.stringify(host)} is not allowed: use http://127.0.0.1:${port}/` });
  const path = (req.url ?? '/').split('?')[0];
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'GET /':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(renderStatusHtml(handlers.status()));
      return;
    case 'GET /api/status':
      return reply(res, 200, handlers.status());
    case 'GET /metrics': {
      // Prometheus text format, for a scraper on the same machine (the page is loopback only).
      const { body, contentType } = await agentMetrics();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    case 'POST /api/pause':
    case 'POST /api/resume': {
      if (!authorized(req.headers.authorization, token)) return reply(res, 401, { error: `a valid token is needed (Authorization: Bearer <token from ${CONTROL_FILE}>)` });
      req.resume();
      return reply(res, 200, path === '/api/pause' ? await handlers.pause() : await handlers.resume());
    }
    default:
      return reply(res, 404, { error: `no ${route}; try GET /, GET /api/status, GET /metrics, POST /api/pause, POST /api/resume` });
  }
}

function authorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer ([0-9a-f]{64})$/.exec(header ?? '')?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}
