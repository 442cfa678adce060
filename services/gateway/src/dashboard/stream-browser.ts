import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { SHARDS_STREAM } from '@weai/contracts';
import { ApiError } from '../http/api-error';

/** A stream an operator may browse, as listed. */
export interface StreamSummary {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly messages: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** One message of a stream as the event browser shows it. */
export interface StreamEntry {
  readonly seq: number;
  readonly subject: string;
  readonly time: string;
  /** The headers that describe an event (type, position, id, park reason, trace). */
  readonly headers: Record<string, string>;
  /** The payload as JSON when it is JSON, else null (see `size`). */
  readonly data: unknown;
  readonly size: number;
}

/**
 * Streams whose payloads are partners' data (shard inputs, shard outputs) or the object store and
 * KV buckets: never shown, not even to operators. Everything else under `WEAI_` is the audit trail.
 */
const HIDDEN = new Set(['WEAI_SHARDS', 'WEAI_RESULTS']);
const SHOWN_HEADERS = ['Nats-Msg-Id', 'Weai-Position', 'Weai-Type', 'Weai-Park-Reason', 'traceparent'];
/** Work waiting per shard subject (capability class), and what each consumer of the work queue holds. */
export interface QueueDepths {
  readonly subjects: ReadonlyArray<{ subject: string; waiting: number }>;
  readonly consumers: ReadonlyArray<{ name: string; filter: string | null; pending: number; inProgress: number; redelivered: number }>;
}

/** Most messages one page reads. */
export const MAX_PAGE = 100;

/**
 * The operators' event browser: JetStream streams read by sequence with direct gets, so it needs
 * no consumer and leaves nothing behind on the server.
 */
export class StreamBrowser {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
  ) {}

  /** The shard work queue: messages waiting per capability class, and each consumer's backlog (counts only, no content). */
  async queues(): Promise<QueueDepths> {
    let info;
    try {
      info = await this.jsm.streams.info(SHARDS_STREAM, { subjects_filter: '>' });
    } catch {
      return { subjects: [], consumers: [] };
    }
    const subjects = Object.entries(info.state.subjects ?? {})
      .map(([subject, waiting]) => ({ subject, waiting }))
      .sort((a, b) => a.subject.localeCompare(b.subject));
    const consumers = [];
    for await (const c of this.jsm.consumers.list(SHARDS_STREAM)) {
      consumers.push({ name: c.name, filter: c.config.filter_subject ?? c.config.filter_subjects?.join(',') ?? null, pending: c.num_pending, inProgress: c.num_ack_pending, redelivered: c.num_redelivered });
    }
    return { subjects, consumers: consumers.sort((a, b) => a.name.localeCompare(b.name)) };
  }

  /** The sequence of the first message stored at or after `since`, or null when none is. */
  async firstSince(stream: string, since: Date): Promise<number | null> {
    if (!browsable(stream)) throw new ApiError(404, 'stream.not-found', `no stream ${stream} to browse`);
    let consumer;
    try {
      consumer = await this.js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() });
    } catch {
      throw new ApiError(404, 'stream.not-found', `no stream ${stream} to browse`);
    }
    try {
      return (await consumer.next({ expires: 1000 }))?.seq ?? null;
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  async list(): Promise<StreamSummary[]> {
    const out: StreamSummary[] = [];
    for await (const info of this.jsm.streams.list()) {
      if (!browsable(info.config.name)) continue;
      out.push({ name: info.config.name, subjects: info.config.subjects ?? [], messages: info.state.messages, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Messages `from`..`to` (inclusive, at most MAX_PAGE); sequences deleted or past the end are skipped. */
  async read(stream: string, from: number, to: number): Promise<{ stream: string; firstSeq: number; lastSeq: number; entries: StreamEntry[] }> {
    if (!browsable(stream)) throw new ApiError(404, 'stream.not-found', `no stream ${stream} to browse`);
    let state;
    try {
      state = (await this.jsm.streams.info(stream)).state;
    } catch {
      throw new ApiError(404, 'stream.not-found', `no stream ${stream} to browse`);
    }
    const last = Math.min(to, from + MAX_PAGE - 1, state.last_seq);
    const entries: StreamEntry[] = [];
    for (let seq = Math.max(from, state.first_seq); seq <= last; seq++) {
      const m = await this.jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m) entries.push(entryOf(m));
    }
    return { stream, firstSeq: state.first_seq, lastSeq: state.last_seq, entries };
  }
}

export function browsable(stream: string): boolean {
  return /^WEAI_[A-Z0-9_]{1,60}$/.test(stream) && !HIDDEN.has(stream);
}

function entryOf(m: StoredMsg): StreamEntry {
  const headers: Record<string, string> = {};
  for (const name of SHOWN_HEADERS) {
    const value = m.header?.get(name);
    if (value) headers[name] = value;
  }
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(m.data));
  } catch {
    data = null;
  }
  return { seq: m.seq, subject: m.subject, time: m.time.toISOString(), headers, data, size: m.data.length };
}
