import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Where a command writes: results on stdout, progress and errors on stderr. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

/** Parsed flags: `--name value` strings and `--flag` booleans. */
export type Flags = Record<string, string | boolean | undefined>;

/**
 * One operator command. New commands (`weai replay`, `weai projection rebuild`, …) are a new
 * entry in the table of main.ts: a path of words, a summary, its flags and a `run`.
 */
export interface Command {
  /** The words that name it, e.g. ['audit', 'verify']. */
  readonly path: readonly string[];
  /** One line for `weai --help`. */
  readonly summary: string;
  /** The full help text of the command. */
  readonly help: string;
  /** Names of its positional arguments, in order (`weai node quarantine <node>`); each is passed in `flags` under its name. */
  readonly args?: readonly string[];
  /** Its flags, as node:util parseArgs takes them (`--help` is added). */
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Runs it; resolves to the exit code. Throw a UsageError for bad input (exit 2). */
  run(flags: Flags, io: CliIo): Promise<number>;
}

/** Bad flags or configuration: exit 2, nothing changed. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation could not be carried out (store or chain unreachable, range not anchored): exit 3. */
export class CannotRunError extends Error {
  override readonly name = 'CannotRunError';
}

export const EXIT = { ok: 0, mismatch: 1, usage: 2, cannotRun: 3 } as const;

/** A positive integer flag (decimal, no sign, no exponent). */
export function positiveInt(flags: Flags, name: string, fallback?: number): number {
  const value = flags[name];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw new UsageError(`--${name} is required`);
  if (!/^[1-9][0-9]*$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A required string flag matching `pattern`. */
export function stringFlag(flags: Flags, name: string, pattern: RegExp, what: string): string {
  const value = flags[name];
  if (typeof value !== 'string') throw new UsageError(`--${name} is required (${what})`);
  if (!pattern.test(value)) throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(value)}`);
  return value;
}

function helpOf(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return [
    'usage: weai <command> [flags]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    "'weai <command> --help' describes a command. Exit codes: 0 ok, 1 verification failed or the service refused, 2 bad flags or configuration, 3 could not run.",
  ].join('\n');
}

/** Finds the command named by the leading words of argv, parses its flags and runs it. */
export async function runCli(commands: readonly Command[], argv: readonly string[], io: CliIo): Promise<number> {
  const command = [...commands].sort((a, b) => b.path.length - a.path.length).find((c) => c.path.every((w, i) => argv[i] === w));
  if (!command) {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout(helpOf(commands));
      return argv.length === 0 ? EXIT.usage : EXIT.ok;
    }
    io.stderr(`weai: unknown command ${JSON.stringify(argv.filter((a) => !a.startsWith('-')).join(' '))}\n\n${helpOf(commands)}`);
    return EXIT.usage;
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv.slice(command.path.length),
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.stdout(command.help);
      return EXIT.ok;
    }
    const names = command.args ?? [];
    if (positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`);
    const args = Object.fromEntries(positionals.map((p, i) => [names[i]!, p]));
    return await command.run({ ...(values as Flags), ...args }, io);
  } catch (error) {
    const e = error as Error & { code?: string };
    const usage = error instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS') === true;
    io.stderr(`weai ${command.path.join(' ')}: ${e.message}${usage ? `\n\n${command.help}` : ''}`);
    return usage ? EXIT.usage : EXIT.cannotRun;
  }
}
