/** The CLI's side of the control endpoint: finds the running agent through its control file. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROL_FILE, type ControlFile } from './server';
import type { AgentStatus } from './status';

/** The agent is not running, or cannot be reached. */
export class AgentNotRunningError extends Error {
  override readonly name = 'AgentNotRunningError';
}

/** Reads `<dir>/control.json`. */
export function readControlFile(dir: string): ControlFile {
  const path = join(dir, CONTROL_FILE);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ControlFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new AgentNotRunningError(`the agent does not seem to be running: there is no ${path} (start it with: weai-agent start --dir ${dir})`);
    throw new AgentNotRunningError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Asks the running agent: `GET /api/status`, `POST /api/pause`, `POST /api/resume`. */
export async function callAgent(dir: string, method: 'GET' | 'POST', path: '/api/status' | '/api/pause' | '/api/resume'): Promise<AgentStatus> {
  const control = readControlFile(dir);
  let res: Response;
  try {
    res = await fetch(new URL(path, control.url), { method, headers: { authorization: `Bearer ${control.token}` }, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new AgentNotRunningError(`the agent (pid ${control.pid}) does not answer at ${control.url} (${cause}); is it running? (weai-agent start --dir ${dir})`);
  }
  const body = (await res.json()) as AgentStatus | { error: string };
  if (!res.ok) throw new Error(`the agent refused ${method} ${path}: ${'error' in body ? body.error : res.status}`);
  return body as AgentStatus;
}
