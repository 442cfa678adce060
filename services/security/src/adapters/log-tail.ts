import { open, stat } from 'node:fs/promises';

/** One complete line of a growing file, with where it started. */
export interface TailLine {
  readonly line: string;
  /** `<inode>:<byte offset>`: unique per line of one file, stable across re-reads. */
  readonly sourceId: string;
}

/**
 * Follows a log file from its current end (lines written while nobody followed are not replayed),
 * handing over complete lines; a file that shrinks (rotation, truncation) is read again from its start.
 */
export class LogTail {
  private offset = -1;
  private ino = 0;
  private partial = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly onLine: (line: TailLine) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    private readonly pollMs = 200,
  ) {}

  async start(): Promise<void> {
    const s = await stat(this.path).catch(() => undefined);
    this.offset = s?.size ?? 0;
    this.ino = s?.ino ?? 0;
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.poll()).catch(this.onError);
    }, this.pollMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async poll(): Promise<void> {
    const s = await stat(this.path).catch(() => undefined);
    if (!s) return;
    if (s.ino !== this.ino || s.size < this.offset) {
      this.ino = s.ino;
      this.offset = 0;
      this.partial = Buffer.alloc(0);
    }
    if (s.size === this.offset) return;
    const file = await open(this.path, 'r');
    try {
      const length = Math.min(s.size - this.offset, 1 << 20);
      const chunk = Buffer.alloc(length);
      const { bytesRead } = await file.read(chunk, 0, length, this.offset);
      let data = Buffer.concat([this.partial, chunk.subarray(0, bytesRead)]);
      let start = this.offset - this.partial.length;
      this.offset += bytesRead;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
        await this.onLine({ line: data.subarray(0, nl).toString('utf8'), sourceId: `${this.ino}:${start}` });
        start += nl + 1;
        data = data.subarray(nl + 1);
      }
      // A line longer than 64 KiB is no log line of nats-server's; drop it rather than grow forever.
      this.partial = data.length > 65_536 ? Buffer.alloc(0) : Buffer.from(data);
    } finally {
      await file.close();
    }
  }
}
