import { statSync } from 'node:fs';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { inboxPrefixOf, nodeIdOf } from '@weai/contracts';
import type { loadOrCreateIdentity } from './identity';

type Identity = Pick<ReturnType<typeof loadOrCreateIdentity>, 'publicKey' | 'authenticator'>;

/** How the agent reaches the network. */
export interface NodeBusOptions {
  readonly servers: readonly string[];
  /** PEM of the CA that signed the servers' certificate: TLS is then required and verified against it. */
  readonly caFile?: string;
}

/** The network refused this node's key: not enrolled, or its credential was revoked. */
export class NodeRefusedError extends Error {
  override readonly name = 'NodeRefusedError';
}

/** Whether nats-server refused the connection's credentials (rather than being unreachable). */
export function isAuthRefusal(error: unknown): boolean {
  const e = error as { name?: string; message?: string; code?: string } | undefined;
  return e?.name === 'AuthorizationError' || /authorization violation|authentication/i.test(`${e?.message ?? ''} ${e?.code ?? ''}`);
}

/** Whether nats-server refused a subject to the connection (a permissions violation). */
export function isPermissionRefusal(error: unknown): boolean {
  const e = error as { name?: string; message?: string } | undefined;
  return e?.name === 'PermissionViolationError' || /permissions violation/i.test(e?.message ?? '');
}

/** What to tell the owner when the node's credential does not cover the classes it serves. */
export function classesRefusalMessage(publicKey: string, classes: readonly string[], detail: string): string {
  return (
    `this node's credential does not cover all of its capability classes (${classes.join(', ')}; the network refused: ${detail}). ` +
    `Its owner enrols the key again with them: POST /v1/owner/nodes {"publicKey":"${publicKey}","capabilityClasses":${JSON.stringify(classes)}} (see docs/agent.md "Enrolment"), then starts the agent again.`
  );
}

/** What to tell the owner when the network refuses the node's key. */
export function refusalMessage(publicKey: string, servers: readonly string[], detail: string): string {
  return (
    `the WE-AI network at ${servers.join(',')} refused this node's key ${publicKey} (${detail}): ` +
    'the key is not enrolled yet, or its credential was revoked. ' +
    'To enrol it, its owner signs in at the gateway and sends POST /v1/owner/nodes ' +
    `{"publicKey":"${publicKey}","capabilityClasses":[…]} (the classes "weai-agent init" prints; see docs/agent.md "Enrolment"), then starts the agent again. ` +
    'A revoked node cannot come back with the same key: move node.nk away, run "weai-agent init" again and enrol the new key.'
  );
}

/**
 * Connects the node to the bus as itself: nkey authentication with the node key (the server signs
 * a nonce challenge; a server without authentication ignores it), replies under the node's own
 * inbox prefix `_INBOX.<node id>` (the only subject its credential may subscribe to), and TLS
 * verified against `caFile` when given. A refusal of the key becomes a {@link NodeRefusedError}
 * that says what the owner should do.
 */
export async function connectNode(identity: Identity, options: NodeBusOptions): Promise<NatsConnection> {
  if (options.caFile !== undefined) {
    try {
      statSync(options.caFile);
    } catch (error) {
      throw new Error(`natsCa: cannot read the network's CA certificate at ${options.caFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
  }
  try {
    return await connect({
      servers: [...options.servers],
      name: 'weai-agent',
      authenticator: identity.authenticator,
      inboxPrefix: inboxPrefixOf(nodeIdOf(identity.publicKey)),
      ...(options.caFile !== undefined ? { tls: { caFile: options.caFile } } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      noAsyncTraces: true,
    });
  } catch (error) {
    if (isAuthRefusal(error)) throw new NodeRefusedError(refusalMessage(identity.publicKey, options.servers, (error as Error).message), { cause: error });
    throw new Error(`cannot reach the WE-AI network at ${options.servers.join(',')}: ${(error as Error).message}`, { cause: error });
  }
}
