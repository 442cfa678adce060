import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { type Authenticator, nkeyAuthenticator } from '@nats-io/transport-node';

/**
 * The node's Ed25519 identity (a NATS user nkey). The private seed never leaves the owner's
 * machine: it is created on first start in the agent's folder, readable by the owner only.
 */
export interface NodeIdentity {
  readonly publicKey: string;
  sign(data: Uint8Array): Uint8Array;
}

const SEED_FILE = 'node.nk';

/** Loads the identity from `dir`, creating it (mode 0600) on first start. */
export function loadOrCreateIdentity(dir: string): NodeIdentity & { created: boolean; authenticator: Authenticator } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, SEED_FILE);
  let kp: KeyPair;
  let created = false;
  if (existsSync(path)) {
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
      throw new Error(`${path} is readable by other users; run: chmod 600 ${path}`);
    }
    try {
      kp = fromSeed(new TextEncoder().encode(readFileSync(path, 'utf8').trim()));
    } catch {
      throw new Error(`${path} does not hold a valid node key; move it away to create a new identity (the node will register as a new node)`);
    }
  } else {
    kp = createUser();
    writeFileSync(path, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    created = true;
  }
  // The same key proves the node to nats-server (nkey auth) once its key is enrolled on the bus.
  return { publicKey: kp.getPublicKey(), sign: (data) => kp.sign(data), created, authenticator: nkeyAuthenticator(kp.getSeed()) };
}

/** Signs a JSON payload as the control plane expects (`SignedRequest`). */
export function signRequest(identity: NodeIdentity, payload: object): { publicKey: string; payload: string; signature: string } {
  const bytes = Buffer.from(JSON.stringify(payload), 'utf8');
  return { publicKey: identity.publicKey, payload: bytes.toString('base64'), signature: Buffer.from(identity.sign(bytes)).toString('base64') };
}
