import {
  EVENT_FAMILIES,
  EVENT_SUBJECT_PREFIX,
  type EventFamily,
  JOB_RPC,
  JOB_STATUS_BUCKET,
  NODE_RPC,
  OBJECT_BUCKET,
  PARKED_STREAM,
  RESOURCES_RPC,
  REWARDS_RPC,
  SECURITY_RPC,
  SHARDS_STREAM,
  type NatsPermissions,
  heartbeatSubject,
  inboxPrefixOf,
  jobRequestSubject,
  keyRequestSubject,
  ownerRequestSubject,
  partnerJobsDurable,
  shardSubject,
  streamOfFamily,
} from '@weai/contracts';
import { DomainError, assertNever } from '@weai/decider';

/**
 * The one table of who may do what on the bus. Pure: a principal in, the nats-server permissions
 * out. Everything not listed is denied by the server (allow lists only).
 *
 * JetStream is reached through request subjects, so the rules below name those:
 * `$JS.API.CONSUMER.CREATE.<stream>.<consumer>.<filter>` (nats.js 3 against a 2.9 server puts the
 * filter subject into the create subject, so a permission can pin the filter), pull requests
 * `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`, and acknowledgements
 * `$JS.ACK.<stream>.<consumer>.>`. Replies (pull deliveries, publish acks, request answers) come to
 * the principal's own inbox prefix, the only place it may subscribe.
 */

/** A principal the security service issues a NATS credential to. */
export type Principal =
  | { readonly role: 'node'; readonly principalId: string; readonly capabilityClasses: readonly string[] }
  | { readonly role: 'partner'; readonly principalId: string }
  | { readonly role: 'owner'; readonly principalId: string }
  | { readonly role: 'operator'; readonly principalId: string }
  | { readonly role: 'service'; readonly principalId: ServiceName };

/** The services that connect to the bus. */
export const SERVICE_NAMES = ['nodes', 'scheduler', 'rewards', 'security', 'resources', 'gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

const CAPABILITY_CLASS = /^[a-z0-9]+(\.[a-z0-9]+){0,7}$/;

/** The shared durable consumer of one capability class (as node-agent/src/worker.ts names it). */
export const shardDurable = (capabilityClass: string) => `shards-${capabilityClass.replace(/\./g, '_')}`;
/** The durable a partner reads its own job events through (defined in contracts, where the SDK finds it too). */
export { partnerJobsDurable };
/** The durable an owner reads its own rewards events through. */
export const ownerRewardsDurable = (ownerId: string) => `rewards-${ownerId}`;

const OBJECT_STREAM = `OBJ_${OBJECT_BUCKET}`;
const JOB_STATUS_STREAM = `KV_${JOB_STATUS_BUCKET}`;

/** Reading content-addressed objects: stream info, metadata lookups and the ordered consumer a get runs. */
const readObjects = [
  `$JS.API.STREAM.INFO.${OBJECT_STREAM}`,
  `$JS.API.STREAM.MSG.GET.${OBJECT_STREAM}`,
  `$JS.API.DIRECT.GET.${OBJECT_STREAM}.>`,
  `$JS.API.CONSUMER.CREATE.${OBJECT_STREAM}.>`,
  `$JS.API.CONSUMER.MSG.NEXT.${OBJECT_STREAM}.>`,
  `$JS.API.CONSUMER.DELETE.${OBJECT_STREAM}.>`,
  `$JS.API.CONSUMER.INFO.${OBJECT_STREAM}.>`,
];
/** Writing objects: chunks and metadata (gets are verified against the name, so a forged write is detected). */
const writeObjects = [`$O.${OBJECT_BUCKET}.C.>`, `$O.${OBJECT_BUCKET}.M.>`];
/** Reading the job-status bucket (cancelled jobs agents skip). */
const readJobStatus = [`$JS.API.STREAM.INFO.${JOB_STATUS_STREAM}`, `$JS.API.STREAM.MSG.GET.${JOB_STATUS_STREAM}`, `$JS.API.DIRECT.GET.${JOB_STATUS_STREAM}.>`];
/**
 * Watching the job-status bucket (node-agent/src/worker.ts: `kv.watch()`, an ordered push consumer
 * named `oc_<random>_<n>` by nats.js, delivering to the watcher's own inbox): creating it with the
 * bucket's filter only, and its info. The name cannot be pinned, so any consumer of this bucket may
 * be looked at; the bucket is readable by every node anyway.
 */
const watchJobStatus = [`$JS.API.CONSUMER.CREATE.${JOB_STATUS_STREAM}.*.$KV.${JOB_STATUS_BUCKET}.>`, `$JS.API.CONSUMER.INFO.${JOB_STATUS_STREAM}.*`];

/** Reading one durable consumer's messages, created with exactly one filter subject. */
function ownDurable(stream: string, durable: string, filter: string): string[] {
  return [
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.${filter}`,
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ];
}

/** What each service owns beyond its RPC subjects and its own family's events. */
const SERVICE_TABLE: Record<ServiceName, { family?: EventFamily; publish: readonly string[]; subscribe: readonly string[] }> = {
  nodes: { family: 'nodes', publish: [], subscribe: [] },
  // The scheduler answers the jobs requests (JOB_RPC: weai.rpc.jobs.*), named after its family.
  scheduler: { family: 'jobs', publish: ['weai.shard.>', ...writeObjects, `$KV.${JOB_STATUS_BUCKET}.>`, 'weai.rpc.resources.>', keyRequestSubject('scheduler')], subscribe: ['weai.rpc.jobs.>'] },
  rewards: { family: 'rewards', publish: [], subscribe: [] },
  // Answers to credential requests follow a reload, and nats-server 2.9.10 forgets a connection's
  // pending allow_responses grants when it reloads (observed: the reply is a Permissions Violation).
  // The security service writes the server's users anyway, so it may publish to any inbox.
  security: { family: 'security', publish: ['_INBOX.>'], subscribe: [] },
  resources: { publish: [], subscribe: [] },
  // The gateway reports HTTP refusals under its own reporter token only (SECURITY_REPORT_SUBJECTS),
  // and may ask security for node credentials only: enrolling a node key for an owner it
  // authenticated, revoking an owner's own node (never issue/revoke/list, which stay with operators).
  gateway: {
    publish: [
      'weai.rpc.jobs.>',
      'weai.rpc.nodes.>',
      'weai.rpc.rewards.>',
      'weai.rpc.resources.>',
      ...writeObjects,
      'weai.report.security.gateway.>',
      keyRequestSubject('gateway'),
      SECURITY_RPC.enrolNode,
      SECURITY_RPC.revokeNode,
      // Its own two KV buckets (services/gateway: object grants, used sign-in challenges).
      '$KV.weai-object-grants.>',
      '$KV.weai-gateway-challenges.>',
    ],
    subscribe: [],
  },
};

/**
 * JetStream management every service needs at boot (`ensureStreams`) and for its consumers.
 * Deliberately without STREAM.DELETE, STREAM.PURGE and STREAM.MSG.DELETE: no service may erase history.
 */
const SERVICE_JETSTREAM = [
  '$JS.API.INFO',
  '$JS.API.STREAM.NAMES',
  '$JS.API.STREAM.LIST',
  '$JS.API.STREAM.INFO.*',
  '$JS.API.STREAM.CREATE.*',
  '$JS.API.STREAM.UPDATE.*',
  '$JS.API.STREAM.MSG.GET.*',
  '$JS.API.DIRECT.GET.>',
  '$JS.API.CONSUMER.>',
  '$JS.ACK.>',
  'weai.parked.>',
];

/** Checks the ids that become subject tokens, so that no principal can smuggle a wildcard into its own grant. */
function checkPrincipal(principal: Principal): void {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(principal.principalId)) {
    throw new DomainError(`principal id ${JSON.stringify(principal.principalId)} must be 1-128 characters of [A-Za-z0-9_-]`, 'security.bad-principal');
  }
  if (principal.role === 'service' && !SERVICE_NAMES.includes(principal.principalId)) {
    throw new DomainError(`unknown service ${JSON.stringify(principal.principalId)}; one of ${SERVICE_NAMES.join(', ')}`, 'security.unknown-service');
  }
  if (principal.role === 'node') {
    const bad = principal.capabilityClasses.find((c) => !CAPABILITY_CLASS.test(c));
    if (bad !== undefined) throw new DomainError(`capability class ${JSON.stringify(bad)} is not a dotted class like cuda.sm86.vram8`, 'security.bad-capability');
    if (principal.capabilityClasses.length > 64) throw new DomainError('a node may hold at most 64 capability classes', 'security.bad-capability');
  }
}

const sorted = (subjects: readonly string[]) => [...new Set(subjects)].sort();

/**
 * The subject permissions of a principal; for a node, `ownerId` is the owner that enrolled it (its
 * balance is the one the node may read). Throws DomainError for an id or class that is not a plain token.
 */
export function permissionsFor(principal: Principal, ownerId?: string): NatsPermissions {
  checkPrincipal(principal);
  if (ownerId !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(ownerId)) throw new DomainError(`owner id ${JSON.stringify(ownerId)} must be 1-128 characters of [A-Za-z0-9_-]`, 'security.bad-principal');
  const inbox = `${inboxPrefixOf(principal.principalId)}.>`;
  const id = principal.principalId;
  switch (principal.role) {
    case 'node':
      return {
        publish: sorted([
          heartbeatSubject(id),
          // Its own results only: the subject ends with the node that reports (the scheduler checks
          // the node header against it), so a result cannot claim another node.
          `weai.result.*.*.*.${id}`,
          NODE_RPC.register,
          NODE_RPC.capabilities,
          // Its enrolling owner's balance only (the agent's status page); none without a recorded owner.
          ...(ownerId ? [ownerRequestSubject('balance', ownerId)] : []),
          // Data keys of the shards it leases (the security service checks the lease).
          keyRequestSubject(id),
          '$JS.API.INFO',
          ...principal.capabilityClasses.flatMap((c) => ownDurable(SHARDS_STREAM, shardDurable(c), shardSubject(c))),
          ...readObjects,
          ...writeObjects,
          ...readJobStatus,
          ...watchJobStatus,
        ]),
        subscribe: [inbox],
        allowResponses: false,
      };
    case 'partner':
      return {
        publish: sorted([
          // Requests about its own jobs only: the scheduler takes the partner from the subject.
          jobRequestSubject('submit', id),
          jobRequestSubject('cancel', id),
          jobRequestSubject('status', id),
          '$JS.API.INFO',
          ...ownDurable(streamOfFamily('jobs'), partnerJobsDurable(id), `${EVENT_SUBJECT_PREFIX}.jobs.${id}.>`),
          ...readObjects,
          ...writeObjects,
        ]),
        subscribe: [inbox],
        allowResponses: false,
      };
    case 'owner':
      return {
        publish: sorted([
          // Requests about its own account only: the rewards service takes the owner from the subject.
          ownerRequestSubject('balance', id),
          ownerRequestSubject('history', id),
          ownerRequestSubject('withdraw', id),
          '$JS.API.INFO',
          ...ownDurable(streamOfFamily('rewards'), ownerRewardsDurable(id), `${EVENT_SUBJECT_PREFIX}.rewards.${id}.>`),
        ]),
        subscribe: [inbox],
        allowResponses: false,
      };
    case 'operator':
      return {
        publish: sorted([
          // Every bus client asks JetStream for the account's API info when it connects
          // (connectBus: jetstreamManager); without it the `weai` CLI cannot connect at all.
          '$JS.API.INFO',
          // Auditing (`weai replay --stream`): the event streams and parked messages, read message
          // by message — never a consumer, which could drain a service's durable.
          ...[...EVENT_FAMILIES.map(streamOfFamily), PARKED_STREAM].flatMap((stream) => [`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.MSG.GET.${stream}`]),
          NODE_RPC.quarantine,
          NODE_RPC.release,
          NODE_RPC.list,
          NODE_RPC.stats,
          // Any partner's job status (support and audits).
          `${JOB_RPC.status}.*`,
          REWARDS_RPC.accounts,
          REWARDS_RPC.check,
          // Reads of the resources service's capacity index (`weai capacity`).
          RESOURCES_RPC.capacity,
          RESOURCES_RPC.match,
          SECURITY_RPC.issue,
          SECURITY_RPC.revoke,
          SECURITY_RPC.list,
        ]),
        subscribe: [inbox],
        allowResponses: false,
      };
    case 'service': {
      const own = SERVICE_TABLE[principal.principalId];
      return {
        publish: sorted([...SERVICE_JETSTREAM, ...(own.family ? [`${EVENT_SUBJECT_PREFIX}.${own.family}.>`] : []), ...own.publish]),
        subscribe: sorted([inbox, `weai.rpc.${id}.>`, ...own.subscribe]),
        allowResponses: true,
      };
    }
    default:
      return assertNever(principal, 'principal');
  }
}
