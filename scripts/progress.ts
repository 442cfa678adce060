/** A one-line progress bar on stderr (a plain line per 10% when stderr is not a terminal). */
export class ProgressBar {
  private done = 0;
  private lastDecile = -1;
  private readonly started = performance.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  tick(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
    this.render();
  }

  private render(): void {
    const ratio = this.total === 0 ? 1 : this.done / this.total;
    const secs = (performance.now() - this.started) / 1000;
    const rate = secs > 0 ? Math.round(this.done / secs) : 0;
    if (this.out.isTTY) {
      const width = 30;
      const filled = Math.round(ratio * width);
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} (${rate}/s)`);
      if (this.done === this.total) this.out.write('\n');
      return;
    }
    const decile = Math.floor(ratio * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.out.write(`${this.label}: ${this.done}/${this.total} (${Math.round(ratio * 100)}%, ${rate}/s)\n`);
    }
  }
}
