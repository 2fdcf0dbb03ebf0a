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
  let ticker: NodeJS.Timeout | undefined;

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
      const started = performance.now();
      const render = () => {
        const left = Math.max(0, eta(estimateMs) - (performance.now() - started));
        const head = `[${index + 1}/${total}] `;
        const tail = ` — ETA ${formatDuration(left)}`;
        if (!tty) return `${head}${label}${tail}`;
        // Shorten the label, never the counter or the ETA, to fit one terminal line.
        const room = Math.max(10, (stream.columns ?? 100) - 1 - head.length - tail.length);
        return `${head}${label.length > room ? `${label.slice(0, room - 1)}…` : label}${tail}`;
      };
      if (tty) {
        clear();
        stream.write(render());
        lineOpen = true;
        clearInterval(ticker);
        ticker = setInterval(() => {
          stream.write(`\r\x1b[2K${render()}`);
        }, 1_000);
        ticker.unref();
      } else {
        stream.write(`${render()}\n`);
      }
    },
    caseEnd(index, label, actualMs, estimateMs, ok) {
      clearInterval(ticker);
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
      clearInterval(ticker);
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
