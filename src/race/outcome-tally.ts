/**
 * The outcome histogram of one test run: each outcome id counted once per trial, graded the first
 * time it appears (outcomes.ts) and kept with that first trial as its sample; the report's
 * forbidden and interesting totals, and its first forbidden outcome with the command that replays
 * it. Outcomes of trials with a kill are counted apart from the same ids without one (their
 * grade can differ: `underFaults`).
 */
import type { RaceTest } from './define.ts';
import { grade } from './outcomes.ts';
import type { OutcomeRow, OutcomeSample, TestReport } from './test-report.ts';

export class OutcomeTally {
  readonly #test: RaceTest;
  readonly #report: TestReport;
  readonly #fileArg: string | undefined;
  readonly #started: number;
  readonly #rows = new Map<string, OutcomeRow>();

  /** `fileArg`: the file as printed replay commands name it; `started`: the run's first trial. */
  constructor(test: RaceTest, report: TestReport, fileArg: string | undefined, started: number) {
    this.#test = test;
    this.#report = report;
    this.#fileArg = fileArg;
    this.#started = started;
  }

  /** Count one trial's outcome `id`; `killed`: an actor of the trial was killed by a fault. */
  count(id: string, killed: boolean, sample: OutcomeSample): void {
    const report = this.#report;
    const key = `${killed ? 'K' : '-'}${id}`;
    let row = this.#rows.get(key);
    if (row === undefined) {
      const g = grade(this.#test, id, killed);
      row = {
        id: killed && !id.includes('killed') ? `${id} (with a kill)` : id,
        count: 0,
        expect: g.expect,
        ...(g.desc !== undefined ? { desc: g.desc } : {}),
        listed: g.listed,
        sample,
      };
      this.#rows.set(key, row);
    }
    row.count++;
    if (row.expect === 'forbidden') report.forbidden++;
    else if (row.expect === 'interesting') report.interesting++;
    if (row.expect === 'forbidden' && report.firstForbidden === undefined) {
      report.firstForbidden = {
        id,
        trial: sample.trial,
        afterMs: Math.round(performance.now() - this.#started),
        ...(sample.trace ? { trace: sample.trace, replay: this.#replayCommand(sample.trace) } : {}),
      };
    }
  }

  /** The rows, in the order the outcomes first appeared. */
  rows(): OutcomeRow[] {
    return [...this.#rows.values()];
  }

  #replayCommand(trace: string): string {
    const file = this.#fileArg ? `${shellQuote(this.#fileArg)} ` : '';
    return `atomvisor race ${file}--replay ${shellQuote(trace)}`;
  }
}

function shellQuote(text: string): string {
  return /^[\w./:@%+,=~-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
