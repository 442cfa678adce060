import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromSeed } from '@nats-io/nkeys';
import { ConfigError } from '@weai/runtime';
import type { NkeyUser } from './domain/server-config';
import { permissionsFor } from './domain/permissions';

/** The security service's own settings, read once at boot. */
export interface SecurityConfig {
  /** File nats-server includes inside the application account (`SECURITY_NATS_USERS_FILE`). */
  readonly usersFile: string;
  /** nats-server's pid file, to signal a reload (`SECURITY_NATS_PID_FILE`). */
  readonly pidFile: string;
  /** nats-server's log file, followed for permission violations (`SECURITY_NATS_LOG_FILE`, optional). */
  readonly serverLog: string | undefined;
  /** Seed file of a system-account user, for auth-error advisories (`SECURITY_SYS_NKEY_SEED_FILE`, optional). */
  readonly systemSeedFile: string | undefined;
  /** The service's own bus user, always rendered so that it can connect (from `NATS_NKEY_SEED_FILE`). */
  readonly bootstrapUsers: readonly NkeyUser[];
  /** Where a development key-encryption key is kept when `SECURITY_KEK_FILE` is unset (`$WEAI_DATA_DIR/security-kek`). */
  readonly devKekFile: string;
  /** How often the users file is compared with the store (`SECURITY_RECONCILE_MS`, 1000–3600000; default 30000). */
  readonly reconcileMs: number;
}

/** Reads an nkey seed file (0600) and returns the key pair's seed bytes; errors never show the content. */
export function readSeedFile(path: string, variable: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!/^SU[A-Z2-7]{56}$/.test(text)) throw new ConfigError(`${variable}: ${path} does not hold an nkey user seed (SU…)`);
  return new TextEncoder().encode(text);
}

export function securityConfigFromEnv(env: NodeJS.ProcessEnv): SecurityConfig {
  const usersFile = env['SECURITY_NATS_USERS_FILE'];
  if (!usersFile) throw new ConfigError('SECURITY_NATS_USERS_FILE is required: the users file nats-server includes in the WEAI account');
  const pidFile = env['SECURITY_NATS_PID_FILE'];
  if (!pidFile) throw new ConfigError("SECURITY_NATS_PID_FILE is required: nats-server's pid_file, to signal reloads");
  const ownSeed = env['NATS_NKEY_SEED_FILE'];
  const bootstrapUsers: NkeyUser[] = ownSeed
    ? [{ publicNkey: fromSeed(readSeedFile(ownSeed, 'NATS_NKEY_SEED_FILE')).getPublicKey(), permissions: permissionsFor({ role: 'service', principalId: 'security' }), label: 'service:security:bootstrap' }]
    : [];
  const reconcile = env['SECURITY_RECONCILE_MS'] ?? '30000';
  const reconcileMs = Number(reconcile);
  if (!/^\d+$/.test(reconcile) || reconcileMs < 1000 || reconcileMs > 3_600_000) throw new ConfigError(`SECURITY_RECONCILE_MS must be a whole number of milliseconds from 1000 to 3600000, got ${JSON.stringify(reconcile)}`);
  return {
    usersFile,
    pidFile,
    reconcileMs,
    serverLog: env['SECURITY_NATS_LOG_FILE'] || undefined,
    systemSeedFile: env['SECURITY_SYS_NKEY_SEED_FILE'] || undefined,
    bootstrapUsers,
    devKekFile: join(env['WEAI_DATA_DIR'] ?? '.data', 'security-kek'),
  };
}
