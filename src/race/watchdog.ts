/**
 * The watchdog over a batch: it notices when the actor threads make no progress for the test's
 * timeoutMs, and says which trial is stuck and who holds it up. Progress is read from the run's
 * control buffer — explore: the step counter every scheduling point bumps; stress: the start line
 * and each actor's finished-trial counter — so it needs nothing from the threads themselves.
 */
import { ExploreControl, ExploreWord, StressWord, snapshotOf } from './control.ts';
import type { RaceTest } from './define.ts';
import { describeOps } from './judge.ts';
import { RealAtomics as RA } from './real-atomics.ts';

/** The watchdog's finding: the batch stopped making progress. */
export class Stuck {
  readonly detail: string;
  /** The stuck trial's index in its batch. */
  readonly index: number;
  constructor(detail: string, index: number) {
    this.detail = detail;
    this.index = index;
  }
}

export class Watchdog {
  readonly #test: RaceTest;
  readonly #n: number;
  readonly #control: ExploreControl | Int32Array;

  /** `control`: the explore control buffer's views, or the stress control words. */
  constructor(test: RaceTest, control: ExploreControl | Int32Array) {
    this.#test = test;
    this.#n = test.actors.length;
    this.#control = control;
  }

  /**
   * Watch a batch of `batchSize` trials until `stop()`: `stuck` resolves when the threads make no
   * progress for the test's timeoutMs while none has failed (`failed.error` unset).
   */
  watch(batchSize: number, failed: { error?: Error }): { stuck: Promise<Stuck>; stop(): void } {
    const timeoutMs = this.#test.timeoutMs;
    let last = this.#progress();
    let lastChange = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<Stuck>((resolve) => {
      timer = setInterval(
        () => {
          const p = this.#progress();
          const now = performance.now();
          if (p !== last || failed.error !== undefined) {
            last = p;
            lastChange = now;
          } else if (now - lastChange > timeoutMs) {
            resolve(this.#whereStuck(batchSize));
          }
        },
        Math.max(10, Math.min(100, timeoutMs / 4)),
      );
    });
    return { stuck, stop: () => clearInterval(timer) };
  }

  /** A number that changes while the actor threads make progress. */
  #progress(): number {
    const control = this.#control;
    if (control instanceof ExploreControl) return RA.load(control.i32, ExploreWord.PROGRESS);
    let sum = RA.load(control, StressWord.ARRIVED);
    for (let t = 0; t < this.#n; t++) sum += RA.load(control, StressWord.TRIALS_DONE + t);
    return sum;
  }

  /** Which trial is stuck, and who holds it up. */
  #whereStuck(batchSize: number): Stuck {
    const n = this.#n;
    const control = this.#control;
    const after = `${this.#test.timeoutMs} ms without progress`;
    if (control instanceof ExploreControl) {
      const turn = RA.load(control.i32, ExploreWord.TURN);
      const snap = snapshotOf(control, n, 0);
      return new Stuck(
        `${after}: actor ${turn} holds the schedule and makes no Atomics call (an endless loop, or a blocking call the harness cannot see)${
          turn >= 0 ? `; ${describeOps(snap, n, 'all')}` : ''
        }`,
        Math.max(0, control.i32[ExploreWord.TRIAL]!),
      );
    }
    const done: number[] = [];
    for (let t = 0; t < n; t++) done.push(RA.load(control, StressWord.TRIALS_DONE + t));
    const index = Math.min(...done);
    const stuck = done.map((d, t) => (d === index ? t : -1)).filter((t) => t >= 0);
    return new Stuck(
      `${after}: actor${stuck.length > 1 ? 's' : ''} ${stuck.join(', ')} did not return from trial ${index} of a batch of ${batchSize}`,
      index,
    );
  }
}
