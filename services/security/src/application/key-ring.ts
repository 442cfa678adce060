import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError, readSecretBytes } from '@weai/runtime';

const KEK_BYTES = 32;

/**
 * The key-encryption key (KEK) and the data keys derived from it.
 *
 * A data key is HKDF-SHA256(KEK, info = key id): `o1:<sha256>` for an object, `j1:<jobId>` for a
 * job's outputs. Derived rather than random-and-wrapped: objects are content addressed and shared
 * between jobs and partners, so the key has to follow the object, and a derived key needs no key
 * store that could be lost, rolled back or read (there is nothing at rest but the KEK). What this
 * gives up: one object's key cannot be destroyed alone (crypto-shredding) and a new KEK means
 * resealing; the `1` in the ids is the KEK generation for that day.
 */
export class KeyRing {
  private constructor(private readonly kek: Buffer) {}

  /** A ring over 32 bytes (tests). */
  static of(kek: Uint8Array): KeyRing {
    if (kek.byteLength !== KEK_BYTES) throw new ConfigError(`a key-encryption key is ${KEK_BYTES} bytes, not ${kek.byteLength}`);
    return new KeyRing(Buffer.from(kek));
  }

  /**
   * Reads the KEK from `path`: 32 raw bytes, or 64 hex characters. The file must be readable by its
   * owner only (0600 or 0400); anything else is refused, naming the variable.
   */
  static fromFile(path: string, variable = 'SECURITY_KEK_FILE'): KeyRing {
    const bytes = readSecretBytes(path, variable);
    const text = bytes.toString('ascii').trim();
    if (bytes.byteLength === KEK_BYTES) return new KeyRing(bytes);
    if (/^[0-9a-f]{64}$/i.test(text)) return new KeyRing(Buffer.from(text, 'hex'));
    throw new ConfigError(`${variable}: ${path} must hold 32 raw bytes or 64 hex characters`);
  }

  /**
   * The ring from `SECURITY_KEK_FILE`. When that is unset: with `NODE_ENV=production`, none (the
   * service then releases no keys, and says so); otherwise a development KEK kept at `devPath`
   * (generated 0600 on first use), with a warning: data sealed under it is only as safe as that file.
   */
  static fromEnv(env: NodeJS.ProcessEnv, devPath: string, warn: (message: string) => void): KeyRing | undefined {
    const file = env['SECURITY_KEK_FILE'];
    if (file) return KeyRing.fromFile(file);
    if (env['NODE_ENV'] === 'production') {
      warn('SECURITY_KEK_FILE is not set: no data keys are released (services with WEAI_SEALING=on cannot seal or open objects)');
      return undefined;
    }
    if (!existsSync(devPath)) {
      mkdirSync(dirname(devPath), { recursive: true, mode: 0o700 });
      writeFileSync(devPath, randomBytes(KEK_BYTES).toString('hex'), { mode: 0o600, flag: 'wx' });
    }
    warn(`SECURITY_KEK_FILE is not set: using the development key-encryption key ${devPath}; set SECURITY_KEK_FILE (a 0600 file of 32 random bytes) in production`);
    return KeyRing.fromFile(devPath, 'development KEK');
  }

  /** The data key named `keyId`. */
  dataKey(keyId: string): Uint8Array {
    return new Uint8Array(hkdfSync('sha256', this.kek, 'weai/data-key', keyId, 32));
  }
}
