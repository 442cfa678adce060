import { randomUUID } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import { JOB_STATUS_BUCKET, type KeyReply, KeyRequestSchema, SHARDS_STREAM, WORK_HEADERS, type WeaiEvent } from '@weai/contracts';
import { DomainError } from '@weai/decider';
import type { EventStore } from '@weai/eventstore';
import { type StoredWorkItem, decideKeyRelease } from '../domain/key-release';
import { shardDurable } from '../domain/permissions';
import type { KeyRing } from './key-ring';
import type { RegistryReader } from './registry.reader';
import { toAuditStreamId } from './audit.recorder';

/**
 * Answers key requests: decides with domain/key-release, records a KeyReleased or KeyRefused
 * event (key ids only) in the requester's audit stream, and only then hands the keys over.
 */
export class KeyRelease {
  constructor(
    private readonly ring: KeyRing,
    private readonly registry: RegistryReader,
    private readonly jsm: JetStreamManager,
    private readonly store: EventStore,
  ) {}

  async request(requester: string, body: unknown, now: Date): Promise<KeyReply> {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(requester)) throw new DomainError('bad requester id', 'bad-request');
    const request = KeyRequestSchema.parse(body);
    const credentials = [...(await this.registry.current()).active.values()].filter((c) => c.principalId === requester);
    const item = request.workItem === undefined ? undefined : await this.workItem(request.workItem);
    const decision = decideKeyRelease(requester, credentials, request.keyIds, request.workItem, item);
    if (!decision.released) {
      await this.record(requester, now, {
        type: 'KeyRefused',
        data: { principalId: requester, keyIds: request.keyIds, ...(request.workItem !== undefined ? { workItem: request.workItem } : {}), reason: decision.reason },
      });
      throw new DomainError(`keys refused: ${decision.reason}`, 'keys.refused');
    }
    await this.record(requester, now, {
      type: 'KeyReleased',
      data: { principalId: requester, role: decision.role, keyIds: [...decision.keyIds], ...(decision.lease ? { lease: decision.lease } : {}) },
    });
    return { keys: decision.keyIds.map((id) => ({ id, key: Buffer.from(this.ring.dataKey(id)).toString('base64') })) };
  }

  /** The work item at `seq` and how far its class's consumer has delivered; undefined once gone. */
  private async workItem(seq: number): Promise<StoredWorkItem | undefined> {
    const msg = await this.jsm.streams.getMessage(SHARDS_STREAM, { seq }).catch(() => null);
    if (!msg) return undefined;
    const cls = msg.subject.startsWith('weai.shard.') ? msg.subject.slice('weai.shard.'.length) : '';
    const consumer = cls ? await this.jsm.consumers.info(SHARDS_STREAM, shardDurable(cls)).catch(() => null) : null;
    return {
      seq: msg.seq,
      subject: msg.subject,
      header: (name) => msg.header?.get(name) || undefined,
      deliveredUpTo: consumer?.delivered.stream_seq,
      jobClosed: await this.jobClosed(msg.header?.get(WORK_HEADERS.job) ?? ''),
    };
  }

  /** The job-status bucket's entry for a job (set by the scheduler when it stops wanting results), if any. */
  private async jobClosed(jobId: string): Promise<string | undefined> {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(jobId)) return undefined;
    // Only "there is none" means open; any other failure refuses (through the error reply).
    const entry = await this.jsm.streams.getMessage(`KV_${JOB_STATUS_BUCKET}`, { last_by_subj: `$KV.${JOB_STATUS_BUCKET}.${jobId}` }).catch((error: unknown) => {
      if (/no message found|stream not found/i.test((error as Error).message ?? '')) return null;
      throw error;
    });
    if (!entry) return undefined;
    const op = entry.header?.get('KV-Operation');
    if (op === 'DEL' || op === 'PURGE') return undefined;
    return entry.string().slice(0, 64) || 'closed';
  }

  private async record(principalId: string, now: Date, event: Pick<WeaiEvent, 'type' | 'data'>): Promise<void> {
    const id = randomUUID();
    const full = { ...event, metadata: { eventId: id, correlationId: id, causationId: id, occurredAt: now.toISOString() } } as WeaiEvent;
    await this.store.append(toAuditStreamId(principalId), [full], 'any');
  }
}
