/**
 * Progress while the benchmark runs: which case, n of N, and an ETA from the cases' own estimates
 * corrected by how long the finished ones really took. On a TTY one line that rewrites itself;
 * otherwise (CI, a pipe) one plain line per case.
 */

export interface ProgressSink {
  start(total: number, estimateMs: number): void;
  caseStart(index: number, label: string, estimateMs: number): void;
  caseEnd(index: number, label: string, actualMs: number, estimateMs: number, ok: boolean): void;
  note(line: string): void;
  done(): void;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  const tty = stream.isTTY === true;
  let total = 0;
  let remainingEstimate = 0;
  let estimatedDone = 0;
  let actualDone = 0;
  let lineOpen = false;

  const eta = (currentEstimate: number): number => {
    // Scale the remaining estimates by how far off the finished cases' estimates were.
    const factor = estimatedDone > 0 ? actualDone / estimatedDone : 1;
    return (remainingEstimate + currentEstimate) * factor;
  };
  const clear = () => {
    if (tty && lineOpen) stream.write('\r\x1b[2K');
    lineOpen = false;
  };
  return {
    start(n, estimateMs) {
      total = n;
      remainingEstimate = estimateMs;
      stream.write(`${n} cases, estimated ${formatDuration(estimateMs)}\n`);
    },
    caseStart(index, label, estimateMs) {
      remainingEstimate -= estimateMs;
      const line = `[${index + 1}/${total}] ${label} — ETA ${formatDuration(eta(estimateMs))}`;
      if (tty) {
        clear();
        const width = stream.columns ?? 100;
        stream.write(line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line);
        lineOpen = true;
      } else {
        stream.write(`${line}\n`);
      }
    },
    caseEnd(index, label, actualMs, estimateMs, ok) {
      estimatedDone += estimateMs;
      actualDone += actualMs;
      if (!ok) {
        clear();
        stream.write(`[${index + 1}/${total}] ${label} FAILED after ${formatDuration(actualMs)}\n`);
      }
    },
    note(line) {
      clear();
      stream.write(`${line}\n`);
    },
    done() {
      clear();
    },
  };
}

/** A sink that prints nothing (tests, --quiet). */
export const silentProgress: ProgressSink = {
  start() {},
  caseStart() {},
  caseEnd() {},
  note() {},
  done() {},
};
