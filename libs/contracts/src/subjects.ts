/**
 * The NATS subject and stream scheme of WE-AI, in one place.
 *
 * | stream            | subjects                                   | retention  | written by                         |
 * |-------------------|--------------------------------------------|------------|------------------------------------|
 * | `WEAI_NODES`      | `weai.evt.nodes.<nodeId>.<Type>`           | limits     | the nodes service's relay only     |
 * | `WEAI_JOBS`       | `weai.evt.jobs.<partnerId>.<Type>`         | limits     | the scheduler's relay only         |
 * | `WEAI_REWARDS`    | `weai.evt.rewards.<ownerId>.<Type>`        | limits     | the rewards service's relay only   |
 * | `WEAI_SECURITY`   | `weai.evt.security.<principalId>.<Type>`   | limits     | the security service's relay only  |
 * | `WEAI_SHARDS`     | `weai.shard.<capability class>`            | work queue | the scheduler (shard leases)       |
 * | `WEAI_RESULTS`    | `weai.result.<jobId>.<shard>.<replica>.<nodeId>` | limits, 7 days | the agent that ran the shard  |
 * | `WEAI_TELEMETRY`  | `weai.hb.<nodeId>`                          | limits, 1 per subject, max age | each node, its own subject |
 *
 * Besides streams: the object store `weai-objects` (content-addressed data), the key-value bucket
 * `weai-job-status` (jobs agents should skip), and request subjects `weai.rpc.<service>.<verb>`
 * (core NATS request/reply: registration, job commands, operator commands, queries).
 * | `WEAI_PARKED`     | `weai.parked.<consumer>`                   | limits     | any consumer, for poison messages  |
 *
 * - One event family is owned by one bounded context, kept in that context's own event store, and
 *   forwarded by that context's relay to that family's stream. The stream is therefore a copy of one
 *   store's log in the store's order; the relay recovers its checkpoint from the last message of it.
 * - The scope token lets a subject permission grant a partner `weai.evt.jobs.<its id>.>` and
 *   nothing else, a node its own telemetry subject, an owner its own rewards.
 * - Capability classes are dotted (`cuda.sm86.vram8`, `cpu.avx2`); a node subscribes to every class
 *   it satisfies, so a 24 GB card also serves work that needs 8 GB.
 */
import type { EventFamily } from './event';

/** Prefix of every domain-event subject. */
export const EVENT_SUBJECT_PREFIX = 'weai.evt';

/** JetStream stream of one event family. */
export function streamOfFamily(family: EventFamily): string {
  return `WEAI_${family.toUpperCase()}`;
}

/** All subjects of one event family, for a stream's configuration. */
export function familySubjects(family: EventFamily): string {
  return `${EVENT_SUBJECT_PREFIX}.${family}.>`;
}

/** The subject one event is published on. */
export function eventSubject(family: EventFamily, scope: string, type: string): string {
  return `${EVENT_SUBJECT_PREFIX}.${family}.${scope}.${type}`;
}

/** Stream of shard work items (work-queue retention). */
export const SHARDS_STREAM = 'WEAI_SHARDS';
/** Subject of the work items for one capability class. */
export function shardSubject(capabilityClass: string): string {
  return `weai.shard.${capabilityClass}`;
}

/** Stream of node heartbeats: telemetry, kept out of the event store. */
export const TELEMETRY_STREAM = 'WEAI_TELEMETRY';
/** Subject of one node's heartbeats. */
export function heartbeatSubject(nodeId: string): string {
  return `weai.hb.${nodeId}`;
}

/** Stream where consumers park messages they cannot process, with the reason. */
export const PARKED_STREAM = 'WEAI_PARKED';
/** Subject of the messages parked by one durable consumer. */
export function parkedSubject(consumer: string): string {
  return `weai.parked.${consumer}`;
}

/** Headers set on every event message by the relay. */
export const EVENT_HEADERS = {
  /** JetStream de-duplication id: the event id. */
  msgId: 'Nats-Msg-Id',
  /** Position of the event in its store's global log. */
  position: 'Weai-Position',
  /** Event type, so consumers can filter without parsing. */
  type: 'Weai-Type',
  /** W3C trace context. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** Set on parked messages: why the consumer gave up. */
  parkReason: 'Weai-Park-Reason',
} as const;

/** Request subjects of the security service. */
export const SECURITY_RPC = {
  /** Credential administration: operators only. */
  issue: 'weai.rpc.security.issue',
  revoke: 'weai.rpc.security.revoke',
  list: 'weai.rpc.security.list',
  /** A node owner's enrolment of a node key (`NodeEnrolmentRequestSchema`): only the gateway may ask, for an owner it authenticated. */
  enrolNode: 'weai.rpc.security.nodes.enrol',
  /** A node owner's revocation of its own node's credential (`NodeRevocationSchema`): only the gateway may ask, for a node registered to the owner or one it enrolled. */
  revokeNode: 'weai.rpc.security.nodes.revoke',
} as const;

/**
 * Where a principal asks for data keys: the last token is the requester's own id, and its NATS
 * permissions allow it that one subject only, so the security service knows who asks.
 */
export function keyRequestSubject(principalId: string): string {
  return `weai.rpc.security.keys.${principalId}`;
}
/** The pattern the security service answers key requests on. */
export const KEY_REQUEST_PATTERN = 'weai.rpc.security.keys.*';

/**
 * The inbox prefix of one principal: its request replies and JetStream pull deliveries arrive
 * under `<prefix>.>`, and its NATS permissions let it subscribe there only, so one identity cannot
 * read another's replies. Pass it as the connection's `inboxPrefix`.
 */
export function inboxPrefixOf(principalId: string): string {
  return `_INBOX.${principalId}`;
}

/** Request subjects of the resources service (queries on its capacity index, queue group `resources`). */
export const RESOURCES_RPC = { capacity: 'weai.rpc.resources.capacity', match: 'weai.rpc.resources.match' } as const;

/**
 * The durable consumer a partner reads its own job events through (`weai.evt.jobs.<partner>.>` on
 * WEAI_JOBS): the only consumer of that stream a partner credential may create and pull from.
 */
export function partnerJobsDurable(partnerId: string): string {
  return `jobs-${partnerId}`;
}

/**
 * Security reports: what an edge service (the HTTP gateway) saw refused — AuthenticationFailed and
 * AccessDenied events, complete with metadata, that the security service appends to its own store
 * (the event id makes a re-sent report harmless). Stream `WEAI_SECURITY_REPORTS` (limits, 30 days)
 * holds them until then, so a report survives the security service being down. Reports carry
 * opaque ids and pseudonyms only, never an address, key or token.
 */
export const SECURITY_REPORTS_STREAM = 'WEAI_SECURITY_REPORTS';
/** Every security report subject, for the stream and its consumer. */
export const SECURITY_REPORT_SUBJECTS = 'weai.report.security.>';
/** Subject of one report: `weai.report.security.<reporter>.<Type>`; a reporter may publish under its own token only. */
export function securityReportSubject(reporter: string, type: 'AuthenticationFailed' | 'AccessDenied'): string {
  return `weai.report.security.${reporter}.${type}`;
}
