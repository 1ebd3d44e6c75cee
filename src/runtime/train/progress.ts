/** Progress of a long run: a cli-progress bar with loss and ETA on a terminal, plain lines otherwise. */
import cliProgress from 'cli-progress';

export class Progress {
  private bar?: cliProgress.SingleBar;
  private readonly started = Date.now();
  private readonly every: number;

  constructor(
    private readonly total: number,
    private readonly start: number,
    tty: boolean,
    private readonly log: (s: string) => void,
  ) {
    this.every = Math.max(1, Math.floor((total - start) / 20));
    if (tty && total > start) {
      this.bar = new cliProgress.SingleBar(
        { format: 'train |{bar}| {value}/{total} steps | loss {loss} | {rate} s/step | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, start, { loss: '-', rate: '-' });
    }
  }

  tick(step: number, loss: number): void {
    const done = step - this.start;
    const secs = (Date.now() - this.started) / 1000;
    const rate = done > 0 ? secs / done : 0;
    if (this.bar) {
      this.bar.update(step, { loss: loss.toFixed(4), rate: rate.toFixed(2) });
    } else if (done % this.every === 0 || step === this.total) {
      const eta = Math.round(rate * (this.total - step));
      this.log(`step ${step}/${this.total}  loss ${loss.toFixed(4)}  ${rate.toFixed(2)} s/step  ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
