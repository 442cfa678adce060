import { appendFileSync, renameSync, statSync } from 'node:fs';

/** The agent's log file is renamed to `<file>.1` when it passes this size (one old file is kept). */
export const LOG_ROTATE_BYTES = 5 * 1024 * 1024;

/**
 * A log that prints each line (as before: tests and the demo read the output) and appends it, with
 * a timestamp, to the agent's log file for `weai-agent logs`. A log file that cannot be written
 * never stops the agent.
 */
export function createLog(options: { file?: string; print?: (line: string) => void }): (line: string) => void {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const file = options.file;
  let size = -1;
  let broken = false;
  return (line: string) => {
    print(line);
    if (!file || broken) return;
    try {
      if (size < 0) size = statSize(file);
      if (size > LOG_ROTATE_BYTES) {
        renameSync(file, `${file}.1`);
        size = 0;
      }
      const text = `${new Date().toISOString()} ${line}\n`;
      appendFileSync(file, text, { mode: 0o600 });
      size += Buffer.byteLength(text);
    } catch (error) {
      broken = true;
      print(`cannot write the log file ${file}: ${(error as Error).message}`);
    }
  };
}

function statSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
