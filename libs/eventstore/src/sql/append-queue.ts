import type { AppendRequest } from '../append-rules';
import type { AppendResult } from '../port';

/** One queued append and how to settle it. */
export interface QueuedAppend {
  readonly request: AppendRequest;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/**
 * Group commit: appends that arrive while a transaction is in flight are written together in the
 * next one, so N concurrent writers share one disk sync instead of paying one each. Each append is
 * still checked and settled on its own; if a whole batch fails, its appends are retried one by one
 * so that one bad append cannot fail the others.
 */
export class AppendQueue {
  private pending: QueuedAppend[] = [];
  private draining = false;

  constructor(
    /** Writes a batch in one transaction and settles each append in it; throws if the transaction failed. */
    private readonly writeBatch: (batch: readonly QueuedAppend[]) => Promise<void>,
    private readonly maxBatch = 256,
  ) {}

  enqueue(request: AppendRequest): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ request, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          await this.writeBatch(batch);
        } catch (batchError) {
          if (batch.length === 1) {
            batch[0]!.reject(batchError);
            continue;
          }
          for (const one of batch) {
            await this.writeBatch([one]).catch((error: unknown) => one.reject(error));
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
