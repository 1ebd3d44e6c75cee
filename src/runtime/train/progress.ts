/**
 * Progress of a long run: a cli-progress bar with loss and ETA on a terminal, plain lines otherwise.
 * The time per step leaves out the sample grids drawn between steps (sampled() is told how long
 * each took), so s/step is the training step alone; the sampling time is reported apart.
 */
import cliProgress from 'cli-progress';

export class Progress {
  private bar?: cliProgress.SingleBar;
  private readonly started = Date.now();
  private readonly every: number;
  /** Milliseconds spent drawing sample grids, and how many. */
  samplingMs = 0;
  grids = 0;

  constructor(
    private readonly total: number,
    private readonly start: number,
    tty: boolean,
    private readonly log: (s: string) => void,
  ) {
    this.every = Math.max(1, Math.floor((total - start) / 20));
    if (tty && total > start) {
      this.bar = new cliProgress.SingleBar(
        {
          format: 'train |{bar}| {value}/{total} steps | loss {loss} | {rate} s/step | ETA {eta_formatted}',
          hideCursor: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, start, { loss: '-', rate: '-' });
    }
  }

  /** Seconds per training step so far, sampling left out. */
  secondsPerStep(step: number): number {
    const done = step - this.start;
    return done > 0 ? (Date.now() - this.started - this.samplingMs) / 1000 / done : 0;
  }

  /** A sample grid took `ms` milliseconds. */
  sampled(ms: number): void {
    this.samplingMs += ms;
    this.grids++;
  }

  tick(step: number, loss: number): void {
    const done = step - this.start;
    const rate = this.secondsPerStep(step);
    if (this.bar) {
      this.bar.update(step, { loss: loss.toFixed(4), rate: rate.toFixed(2) });
    } else if (done % this.every === 0 || step === this.total) {
      const eta = Math.round(rate * (this.total - step));
      const sampling = this.grids
        ? `, sampling apart: ${this.grids} grid${this.grids === 1 ? '' : 's'} in ${(this.samplingMs / 1000).toFixed(1)} s`
        : '';
      this.log(
        `step ${step}/${this.total}  loss ${loss.toFixed(4)}  ${rate.toFixed(2)} s/step${sampling}  ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s`,
      );
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
