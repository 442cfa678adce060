import { AckPolicy, type Consumer, DeliverPolicy } from '@nats-io/jetstream';
import {
  EVENT_SUBJECT_PREFIX,
  JOB_RPC,
  type EventOfType,
  type JobStatus,
  type SubmitJobRequest,
  type WeaiEvent,
  eventSubject,
  inboxPrefixOf,
  jobRequestSubject,
  partnerJobsDurable,
  streamOfFamily,
} from '@weai/contracts';
import { type Bus, ContentStore, busSecurity, connectBus, decodeEvent, isNotFound, requestJson } from '@weai/messaging';
import { type Tensor, decodeTensor, encodeTensor } from '@weai/tensors';

/** What a job asks for; ids and hashes are filled in by the client. */
export type JobRequest = Omit<SubmitJobRequest, 'partnerId' | 'jobId' | 'modelHash' | 'inputHash'> & {
  /** Chosen by the client so that retrying a submission never creates two jobs; a random one if absent. */
  readonly jobId?: string;
};

/** A finished job. */
export type JobOutcome =
  | { readonly status: 'completed'; readonly jobId: string; readonly outputHash: string }
  | { readonly status: 'failed' | 'cancelled'; readonly jobId: string; readonly reason: string };

/** How a partner connects; the three credential settings mirror a service's NATS_TLS_CA, NATS_NKEY_SEED_FILE, NATS_INBOX_PREFIX. */
export interface PartnerConnectOptions {
  readonly servers: string | string[];
  readonly partnerId: string;
  /** PEM file of the CA that signed the server certificate: TLS is then required and verified (`tls://` servers). */
  readonly tlsCaFile?: string;
  /** File holding the partner credential's nkey seed (`SU…`) the security service issued; must be readable by its owner only (0600). */
  readonly nkeySeedFile?: string;
  /** The credential's inbox prefix; with `nkeySeedFile` it defaults to `_INBOX.<partnerId>`, the only one a partner credential allows. */
  readonly inboxPrefix?: string;
  /**
   * Where `follow` reads job events. `ordered` (the default without `nkeySeedFile`): a fresh ordered
   * consumer per follow, replaying the partner's events from the start; a partner credential does not
   * allow it. `own-durable` (the default with `nkeySeedFile`): the partner's own durable consumer
   * `jobs-<partnerId>`, the one consumer a partner credential may create and pull from.
   */
  readonly events?: 'ordered' | 'own-durable';
}

/**
 * A partner's connection to WE-AI over NATS: objects go to the content-addressed object store,
 * commands to the scheduler, and progress comes from the partner's own job events
 * (`weai.evt.jobs.<partnerId>.>`), which is all the partner's credentials allow it to read.
 */
export class PartnerClient {
  private constructor(
    private readonly bus: Bus,
    private readonly objects: ContentStore,
    /** The partner this client acts for. */
    readonly partnerId: string,
    private readonly events: 'ordered' | 'own-durable',
  ) {}

  /**
   * Connects; with `nkeySeedFile` (and `tlsCaFile`) as the partner credential the security service
   * issued. A missing, unreadable or group/world-readable seed file, a file without a user seed and
   * an unreadable CA file are refused before connecting, naming the option and the path (never the seed).
   */
  static async connect(options: PartnerConnectOptions): Promise<PartnerClient> {
    const credential = busSecurity(
      {
        caFile: options.tlsCaFile,
        seedFile: options.nkeySeedFile,
        inboxPrefix: options.inboxPrefix ?? (options.nkeySeedFile ? inboxPrefixOf(options.partnerId) : undefined),
      },
      { caFile: 'tlsCaFile', seedFile: 'nkeySeedFile', inboxPrefix: 'inboxPrefix' },
    );
    const bus = await connectBus({ servers: options.servers, name: `weai-partner-${options.partnerId}`, ...credential });
    try {
      return new PartnerClient(bus, await ContentStore.open(bus.js), options.partnerId, options.events ?? (options.nkeySeedFile ? 'own-durable' : 'ordered'));
    } catch (error) {
      await bus.close().catch(() => undefined);
      throw error;
    }
  }

  /** Uploads a model (ONNX bytes); returns its SHA-256. */
  uploadModel(onnx: Uint8Array): Promise<string> {
    return this.objects.put(onnx);
  }

  /** Uploads a dataset: items along dimension 0. Returns its SHA-256. */
  uploadDataset(dataset: Tensor): Promise<string> {
    return this.objects.put(encodeTensor(dataset));
  }

  /** Submits a job on uploaded objects; resolves once the scheduler accepted it. */
  submit(modelHash: string, inputHash: string, job: JobRequest): Promise<JobStatus> {
    const jobId = job.jobId ?? `job-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    return requestJson<JobStatus>(this.bus.nc, jobRequestSubject('submit', this.partnerId), { ...job, jobId, partnerId: this.partnerId, modelHash, inputHash }, 60_000, JOB_RPC.submit);
  }

  status(jobId: string): Promise<JobStatus> {
    return requestJson<JobStatus>(this.bus.nc, jobRequestSubject('status', this.partnerId), { jobId, partnerId: this.partnerId }, undefined, JOB_RPC.status);
  }

  cancel(jobId: string, reason: string): Promise<JobStatus> {
    return requestJson<JobStatus>(this.bus.nc, jobRequestSubject('cancel', this.partnerId), { jobId, partnerId: this.partnerId, reason }, undefined, JOB_RPC.cancel);
  }

  /**
   * Follows a job through its events until it ends; `onEvent` sees each one (progress bars).
   * Events from the start of the job are replayed, so nothing is missed if the job ran ahead.
   *
   * The subscription is not the only source of the outcome: after `checkEveryMs` (default 15 s)
   * without an event, the scheduler is asked where the job stands, and an ended job resolves from
   * that answer. A subscription that a server fail-over left silent (its consumer on a server
   * that is catching up, say) therefore costs a delay, not a partner waiting forever; events it
   * did not deliver are not passed to `onEvent`. `signal` gives up on following (the job goes on).
   *
   * With `events: 'own-durable'` (a partner credential) the events come through the partner's own
   * durable consumer, which remembers what it delivered: a job that already ended resolves from the
   * scheduler's answer at once, each event is passed on once (an event of another job read on the
   * way is consumed, not kept for a later follow), and two follows at the same time share the
   * consumer's events, so one may resolve from the status check instead.
   */
  async follow(jobId: string, onEvent?: (event: WeaiEvent) => void, options: { signal?: AbortSignal; checkEveryMs?: number } = {}): Promise<JobOutcome> {
    options.signal?.throwIfAborted();
    const durable = this.events === 'own-durable';
    if (durable) {
      const ended = await this.status(jobId).then(outcomeOf, () => undefined);
      if (ended) return ended;
    }
    const consumer = durable
      ? await this.ownJobEvents()
      : await this.bus.js.consumers.get(streamOfFamily('jobs'), {
          deliver_policy: DeliverPolicy.All,
          filter_subjects: eventSubject('jobs', this.partnerId, '*'),
        });
    const messages = await consumer.consume();
    let outcome: JobOutcome | undefined;
    let failure: unknown;
    let lastEvent = performance.now();
    const checkEveryMs = options.checkEveryMs ?? 15_000;
    const stop = () => void messages.stop();
    options.signal?.addEventListener('abort', stop);
    const check = setInterval(() => {
      if (performance.now() - lastEvent < checkEveryMs) return;
      lastEvent = performance.now();
      this.status(jobId).then(
        (s) => {
          const ended = outcomeOf(s);
          if (ended && !outcome) {
            outcome = ended;
            stop();
          }
        },
        () => undefined, // the scheduler did not answer: the subscription, or the next check, will tell
      );
    }, Math.max(100, Math.min(checkEveryMs, 5_000)));
    try {
      for await (const m of messages) {
        lastEvent = performance.now();
        if (durable) m.ack();
        let event: WeaiEvent;
        try {
          event = decodeEvent(m).event;
        } catch (error) {
          failure = error;
          break;
        }
        if ((event.data as { jobId?: string }).jobId !== jobId) continue;
        onEvent?.(event);
        if (event.type === 'JobCompleted') outcome = { status: 'completed', jobId, outputHash: (event as EventOfType<'JobCompleted'>).data.outputHash };
        if (event.type === 'JobFailed' || event.type === 'JobCancelled') outcome = { status: event.type === 'JobFailed' ? 'failed' : 'cancelled', jobId, reason: event.data.reason };
        if (outcome) break;
      }
    } finally {
      clearInterval(check);
      options.signal?.removeEventListener('abort', stop);
      await messages.close();
    }
    if (failure) throw failure;
    if (outcome) return outcome;
    options.signal?.throwIfAborted();
    throw new Error('the event subscription ended before the job did');
  }

  /** The partner's own durable consumer of its job events, created on first use (the only one its credential allows). */
  private async ownJobEvents(): Promise<Consumer> {
    const stream = streamOfFamily('jobs');
    const name = partnerJobsDurable(this.partnerId);
    try {
      return await this.bus.js.consumers.get(stream, name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    await this.bus.jsm.consumers.add(stream, {
      durable_name: name,
      filter_subject: `${EVENT_SUBJECT_PREFIX}.jobs.${this.partnerId}.>`,
      deliver_policy: DeliverPolicy.All,
      ack_policy: AckPolicy.Explicit,
    });
    return this.bus.js.consumers.get(stream, name);
  }

  /** Downloads an object (the integrated output), verified against its hash. */
  async download(hash: string): Promise<Uint8Array> {
    const bytes = await this.objects.get(hash);
    if (!bytes) throw new Error(`object ${hash} does not exist`);
    return bytes;
  }

  /** Downloads and decodes a tensor. */
  async downloadTensor(hash: string): Promise<Tensor> {
    return decodeTensor(await this.download(hash));
  }

  async close(): Promise<void> {
    await this.bus.close();
  }
}

/** The outcome a status answer tells, for a job that ended. */
function outcomeOf(s: JobStatus): JobOutcome | undefined {
  if (s.status === 'completed' && s.outputHash) return { status: 'completed', jobId: s.jobId, outputHash: s.outputHash };
  if (s.status === 'failed' || s.status === 'cancelled') return { status: s.status, jobId: s.jobId, reason: s.reason ?? s.status };
  return undefined;
}
