/**
 * `weai`: the operators' command line (`npm run weai -- <command>`). Each command is one entry
 * of COMMANDS; `weai --help` lists them.
 */
import { auditAnchor, auditVerify } from './audit';
import { capacity } from './capacity';
import { type Command, runCli } from './cli';
import { nodeQuarantine, nodeRelease } from './nodes';
import { projectionRebuild } from './projection';
import { replay } from './replay';

const COMMANDS: readonly Command[] = [auditAnchor, auditVerify, replay, nodeQuarantine, nodeRelease, capacity, projectionRebuild];

runCli(COMMANDS, process.argv.slice(2), {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
}).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`weai: ${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 3;
  },
);
