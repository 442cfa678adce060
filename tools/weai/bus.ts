import { type Bus, busSecurity, connectBus, natsServersFromEnv } from '@weai/messaging';
import { CannotRunError, type CliIo, type Flags, UsageError } from './cli';

/**
 * The flags of every command that talks to the bus; each overrides its environment variable.
 * An operator connects as its own credential: the seed the security service issued (role
 * operator), the CA of the server certificate, and the credential's inbox prefix.
 */
export const BUS_OPTIONS = {
  nats: { type: 'string' },
  'nats-ca': { type: 'string' },
  'nkey-seed-file': { type: 'string' },
  'inbox-prefix': { type: 'string' },
} as const;

/** The help text of BUS_OPTIONS, appended to each bus command's help. */
export const BUS_HELP = `Bus connection (each flag overrides its variable):
  --nats URL              NATS_URL             e.g. tls://nats.example:4443 (comma-separated servers)
  --nats-ca FILE          NATS_TLS_CA          PEM of the CA that signed the server certificate (TLS required)
  --nkey-seed-file FILE   NATS_NKEY_SEED_FILE  the operator credential's seed (SU…), readable by its owner only (0600)
  --inbox-prefix PREFIX   NATS_INBOX_PREFIX    the credential's inbox prefix, _INBOX.<operator id>; required with a seed`;

/** One setting: the flag if given, else the variable; errors name whichever was used. */
function setting(flags: Flags, io: CliIo, flag: keyof typeof BUS_OPTIONS, variable: string): { value: string | undefined; name: string } {
  const given = flags[flag];
  if (typeof given === 'string') {
    if (given === '') throw new UsageError(`--${flag} must not be empty`);
    return { value: given, name: `--${flag}` };
  }
  const fromEnv = io.env[variable];
  return { value: fromEnv === '' ? undefined : fromEnv, name: variable };
}

/**
 * Connects to the bus as the flags and `io.env` say (flags first). A missing, unreadable or
 * group/world-readable seed file, a seed without an inbox prefix, an unreadable CA file and a
 * wildcard prefix are usage errors (exit 2) naming the flag or variable; a server that refuses
 * or does not answer is CannotRunError (exit 3).
 */
export async function connectCliBus(flags: Flags, io: CliIo, name: string): Promise<Bus> {
  const servers = setting(flags, io, 'nats', 'NATS_URL');
  const ca = setting(flags, io, 'nats-ca', 'NATS_TLS_CA');
  const seed = setting(flags, io, 'nkey-seed-file', 'NATS_NKEY_SEED_FILE');
  const prefix = setting(flags, io, 'inbox-prefix', 'NATS_INBOX_PREFIX');
  if (seed.value && !prefix.value) {
    throw new UsageError(`${seed.name} needs --inbox-prefix (or NATS_INBOX_PREFIX): the inbox prefix the credential was issued with, _INBOX.<operator id>; no other is allowed to receive replies`);
  }
  let security;
  try {
    security = busSecurity({ caFile: ca.value, seedFile: seed.value, inboxPrefix: prefix.value }, { caFile: ca.name, seedFile: seed.name, inboxPrefix: prefix.name });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  try {
    return await connectBus({ servers: natsServersFromEnv({ NATS_URL: servers.value }), name, maxReconnectAttempts: 0, ...security });
  } catch (error) {
    throw new CannotRunError((error as Error).message);
  }
}
