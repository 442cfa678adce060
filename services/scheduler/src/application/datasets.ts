import type { ContentStore } from '@weai/messaging';
import { type Tensor, decodeTensor } from '@weai/tensors';

/**
 * Datasets by content hash, decoded once and kept while jobs use them (a few, recently used):
 * dispatching 10,000 shards slices one decoded dataset instead of fetching it 10,000 times.
 */
export class DatasetCache {
  private readonly entries = new Map<string, Promise<Tensor>>();

  constructor(
    private readonly objects: ContentStore,
    private readonly capacity = 4,
  ) {}

  /** Keeps a dataset already fetched and decoded (by the submission check) for dispatch. */
  remember(hash: string, dataset: Tensor): void {
    if (this.entries.has(hash)) return;
    this.entries.set(hash, Promise.resolve(dataset));
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get(hash: string): Promise<Tensor> {
    let entry = this.entries.get(hash);
    if (entry) {
      this.entries.delete(hash);
      this.entries.set(hash, entry);
      return entry;
    }
    entry = this.objects.get(hash).then((bytes) => {
      if (!bytes) throw new Error(`dataset ${hash} is no longer in the object store`);
      return decodeTensor(bytes);
    });
    entry.catch(() => this.entries.delete(hash));
    this.entries.set(hash, entry);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return entry;
  }
}
